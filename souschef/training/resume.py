"""What a run's checkpoints belong to, and which one a resumed run continues from.

Checkpoints live in ``OUT.checkpoints`` (``artifacts.checkpoint_dir``) with two files
of ours beside transformers' ``checkpoint-N`` directories: ``run.json``, the settings
and data hashes the checkpoints were made with, and ``tokenizer/``, the tokenizer
every process and every resume loads (so a from-scratch run never retrains it).
Resuming is refused when what changes the weights changed; starting afresh over an
unfinished run's checkpoints is refused too, so no work is thrown away by accident.

A run killed while transformers writes ``checkpoint-N`` leaves it empty or half written
(transformers writes in place, weights first and ``trainer_state.json`` nearly last).
``checkpoint_problem`` tells a complete checkpoint from such a one by reading each
file's own length: a safetensors header and the tensors it announces, the central
directory at the end of each ``torch.save`` zip, the trainer state's JSON. A resume
skips incomplete checkpoints with a one-line notice and continues from the newest
complete one (or from the beginning, when there is none).
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path
from typing import Any

from recipe_schema import InputFileError, UsageError, atomic_write

from .config import TrainConfig
from .data import LoadReport

logger = logging.getLogger("souschef.training")

RUN_FILE = "run.json"
TOKENIZER_DIR = "tokenizer"
TRAINER_STATE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME


def run_identity(config: TrainConfig, report: LoadReport) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed: the settings that shape the weights, the data."""
    # Evaluating, checkpointing and logging more or less often does not change the weights.
    free = ("out", "resume", "data", "val_data", "eval_steps", "save_steps", "logging_steps")
    settings = {k: v for k, v in config.to_dict().items() if k not in free}
    return {"config": settings, "data_sha256": sorted(f.sha256 for f in report.files)}


def checkpoints(ckpt: Path) -> list[Path]:
    """The ``checkpoint-N`` directories in ``ckpt``, newest (highest N) first."""
    found = [p for p in ckpt.glob("checkpoint-*") if p.is_dir() and p.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]), reverse=True)


def checkpoint_problem(path: Path) -> str | None:
    """Why ``checkpoint-N`` cannot be resumed from (a write cut short), or ``None`` when complete.

    >>> checkpoint_problem(Path("/nonexistent/checkpoint-8"))
    'no trainer_state.json'
    """
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {TRAINER_STATE}"
    except (OSError, ValueError):
        return f"{TRAINER_STATE} is cut short"
    if not isinstance(state, dict) or f"checkpoint-{state.get('global_step')}" != path.name:
        return f"{TRAINER_STATE} is not of this step"
    index = path / "model.safetensors.index.json"
    if index.is_file():  # a model saved in shards
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            return f"{index.name} is cut short"
        weights = [path / name for name in shards]
    else:
        weights = [p for p in (path / "model.safetensors", path / "adapter_model.safetensors") if p.exists()]
    if not weights:
        return "no model weights"
    for file in weights:
        if not _safetensors_complete(file):
            return f"{file.name} is cut short"
    rng = sorted(path.glob("rng_state*.pth"))
    for name in ("optimizer.pt", "scheduler.pt", *(p.name for p in rng)):
        if not zipfile.is_zipfile(path / name):  # torch.save writes a zip whose directory comes last
            return f"{name} is missing or cut short"
    if not rng:
        return "no rng_state.pth"
    return None


def _safetensors_complete(path: Path) -> bool:
    """The file holds the whole header and every tensor its header announces."""
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            header_len = int.from_bytes(f.read(8), "little")
            if size < 8 + header_len:
                return False
            header = json.loads(f.read(header_len))
        ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
        return size == 8 + header_len + max(ends, default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False


def find_checkpoint(config: TrainConfig, ckpt: Path, identity: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from, or ``None`` to start fresh; refuses mismatched runs.

    Incomplete checkpoints (a run killed while writing one) are passed over with a
    notice. Read-only, so that every process of a distributed run reaches the same
    answer; ``prepare_checkpoints`` removes them.
    """
    last, skipped = None, []
    for path in checkpoints(ckpt) if ckpt.is_dir() else []:
        problem = checkpoint_problem(path)
        if problem is None:
            last = path
            break
        skipped.append(f"{path.name} ({problem})")
    if skipped and (last is None or config.resume):
        logger.warning("skipping %s: incomplete, as a run killed while writing a checkpoint leaves it",
                       ", ".join(skipped))
    if last is None:
        if config.resume or skipped:
            logger.warning("resume: no complete checkpoint in %s; starting from the beginning", ckpt)
        return None
    if not config.resume:
        raise UsageError(
            f"out: {ckpt} holds checkpoints of an unfinished run; resume it (resume=True, --resume) "
            "or delete that directory"
        )
    try:
        saved = json.loads((ckpt / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    changed = sorted(
        k
        for k in {*saved.get("config", {}), *identity["config"]}
        if saved.get("config", {}).get(k) != identity["config"].get(k)
    )
    if saved.get("data_sha256") != identity["data_sha256"]:
        changed.append("data")
    if changed:
        raise UsageError(f"resume: {ckpt} was made with different settings ({', '.join(changed)})")
    logger.info("resume: continuing from %s", last)
    return last


def prepare_checkpoints(ckpt: Path, identity: dict[str, Any], last: Path | None) -> None:
    """Ready ``OUT.checkpoints`` for a run (the main process does it, before the others read it).

    A fresh run (``last`` is ``None``) gets an empty directory holding its ``run.json``;
    a resumed one loses the checkpoints newer than ``last``, which ``find_checkpoint``
    found incomplete and transformers would otherwise count among the newest.
    """
    if last is not None:
        step = int(last.name.split("-", 1)[1])
        for path in checkpoints(ckpt):
            if int(path.name.split("-", 1)[1]) > step:
                shutil.rmtree(path, ignore_errors=True)
        return
    shutil.rmtree(ckpt, ignore_errors=True)  # leftovers of a run that never completed a checkpoint
    try:
        ckpt.mkdir(parents=True)
    except OSError as e:
        raise InputFileError(str(ckpt), e.strerror or str(e)) from None
    atomic_write(ckpt / RUN_FILE, json.dumps(identity, indent=2))
