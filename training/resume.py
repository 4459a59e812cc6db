"""What a run's checkpoints belong to, and which one a resumed run continues from.

Checkpoints live in ``OUT.checkpoints`` (``artifacts.checkpoint_dir``) with two files
of ours beside transformers' ``checkpoint-N`` directories: ``run.json``, the settings
and data hashes the checkpoints were made with, and ``tokenizer/``, the tokenizer
every process and every resume loads (so a from-scratch run never retrains it).
Resuming is refused when what changes the weights changed; starting afresh over an
unfinished run's checkpoints is refused too, so no work is thrown away by accident.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from recipe_schema import UsageError

from .config import TrainConfig
from .data import LoadReport

logger = logging.getLogger("souschef.training")

RUN_FILE = "run.json"
TOKENIZER_DIR = "tokenizer"


def run_identity(config: TrainConfig, report: LoadReport) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed: the settings that shape the weights, the data."""
    # Evaluating, checkpointing and logging more or less often does not change the weights.
    free = ("out", "resume", "data", "val_data", "eval_steps", "save_steps", "logging_steps")
    settings = {k: v for k, v in config.to_dict().items() if k not in free}
    return {"config": settings, "data_sha256": sorted(f.sha256 for f in report.files)}


def find_checkpoint(config: TrainConfig, ckpt: Path, identity: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from, or ``None`` to start fresh; refuses mismatched runs.

    Read-only, so that every process of a distributed run reaches the same answer.
    """
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(ckpt)) if ckpt.is_dir() else None
    if last is None:
        if config.resume:
            logger.warning("resume: no checkpoint in %s; starting from the beginning", ckpt)
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
    return Path(last)
