"""The inputs of a suite run: held-out recipes, prompt sets, the baselines' training recipes.

Paths a ``SuiteConfig`` leaves ``None`` are the sets souschef ships. Held-out and
training recipes are read by the training loaders (any format ``souschef train``
reads); prompt sets are JSONL ``{"prompt", "topic"}``, with ``"dish"`` where a prompt
names one (for the ``on_topic_dish`` metric). A held-out record that is not a usable
recipe is named on the ``souschef.evaluation`` logger as ``FILE:LINE: why``; a prompt
file's bad line stops the run before any generation.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipe_schema import DataError, InputFileError, Recipe, read_bytes, to_compact_json
from recipe_schema.limits import MAX_PROMPT_CHARS, too_long

from .config import SuiteConfig

logger = logging.getLogger("souschef.evaluation")


@dataclass
class Sets:
    """The evaluation inputs, loaded and capped."""

    heldout: list[Recipe]
    offdomain: list[dict[str, Any]]
    indomain: list[dict[str, Any]]
    train: list[Recipe]
    files: dict[str, dict[str, Any]]
    seen_topics: set[str]


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_recipes(paths: list[str]) -> list[Recipe]:
    """Recipes from any recipe file (``postprocess.records``: recipe objects or exchanges).

    A record that is not a usable recipe is left out and named on the ``souschef.evaluation``
    logger as ``FILE:LINE: why`` (the CLI prints it on stderr), never dropped in silence.
    """
    from postprocess.formats import file_format
    from postprocess.records import BadRecord, read_file

    for path in paths:
        file_format(path)  # unknown extensions fail before anything is read
    bad: list[BadRecord] = []
    recipes, seen = [], set()
    for path in paths:
        for _, converted in read_file(path, read_bytes(path)):
            if isinstance(converted, BadRecord):
                bad.append(converted)
            elif isinstance(converted.answer, Recipe):
                key = to_compact_json(converted.answer)
                if key not in seen:
                    seen.add(key)
                    recipes.append(converted.answer)
    for record in bad:  # after every file is read, as the training loader reports them
        logger.warning("skipped %s", record)
    return recipes


def _load_prompts(path: str, default_topic: str) -> list[dict[str, Any]]:
    """JSONL lines with ``prompt`` (and ``topic``, and ``dish`` where the prompt names one:
    a name or a list of names); a bad line names FILE:LINE."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, getattr(e, "strerror", None) or str(e)) from None
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            prompt = record["prompt"]
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError("prompt must be a non-empty string")
            if len(prompt) > MAX_PROMPT_CHARS:  # refused here, not halfway through the run
                raise ValueError(f"prompt is {too_long(len(prompt), MAX_PROMPT_CHARS)}")
            dish = record.get("dish")
            names = [dish] if isinstance(dish, str) else dish
            if dish is not None and not (isinstance(names, list) and names
                                         and all(isinstance(d, str) and d.strip() for d in names)):
                raise ValueError("dish must be a non-empty string or list of strings")
        except (ValueError, KeyError, TypeError) as e:
            reason = f"missing key {e}" if isinstance(e, KeyError) else str(e).splitlines()[0]
            raise DataError(f"{path}:{number}: {reason}") from None
        row = {"prompt": prompt, "topic": str(record.get("topic") or default_topic)}
        prompts.append(row if dish is None else {**row, "dish": dish})
    if not prompts:
        raise DataError(f"{path}: no prompts")
    return prompts


def load_sets(config: SuiteConfig) -> Sets:
    """Load every input of the sets ``config`` runs (given or shipped), capped at ``config.limit``."""
    from souschef import corpus
    shipped = {"heldout": corpus.HELDOUT, "offdomain": corpus.EVAL_OFFDOMAIN,
               "indomain": corpus.EVAL_INDOMAIN}
    paths = {name: getattr(config, name) or str(corpus.path(shipped[name])) for name in config.sets}
    heldout = "heldout" in config.sets
    train_paths = (config.train or [str(corpus.path(corpus.RECIPES))]) if heldout else []
    for path in [*paths.values(), *train_paths]:
        if not Path(path).is_file():
            raise InputFileError(path, "no such file")
    cap = slice(None, config.limit)
    recipes = _load_recipes([paths["heldout"]]) if heldout else []
    if heldout and not recipes:
        raise DataError(f"{paths['heldout']}: no held-out recipes")
    sets = Sets(
        heldout=recipes[cap],
        offdomain=_load_prompts(paths["offdomain"], "unknown")[cap] if "offdomain" in paths else [],
        indomain=_load_prompts(paths["indomain"], "cooking")[cap] if "indomain" in paths else [],
        train=_load_recipes(train_paths) if train_paths else [],
        files={},
        seen_topics=_training_topics(),
    )
    counts = {"heldout": len(sets.heldout), "offdomain": len(sets.offdomain), "indomain": len(sets.indomain)}
    for name, path in paths.items():
        sets.files[name] = {"path": path, "sha256": _sha256(path), "records": counts[name]}
    if train_paths:
        sets.files["train"] = {"paths": train_paths, "sha256": [_sha256(p) for p in train_paths],
                               "records": len(sets.train)}
    return sets


def _training_topics() -> set[str]:
    """Off-domain topics of the shipped exchanges and guard prompts (what guard and model saw)."""
    from souschef import corpus
    topics = {row.get("topic", "") for name in (corpus.EXCHANGES, corpus.GUARD_OFFDOMAIN)
              for row in corpus.rows(name)}
    return topics - {"", "cooking"}


__all__ = ["Sets", "load_sets"]
