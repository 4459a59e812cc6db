"""What transformers' Trainer is told: a run's ``TrainingArguments``, and the warnings expected.

Cut from ``trainer`` (which runs the loop) because this is a concept of its own, the one
the throughput benchmark (``bench/train_throughput.py``) shares with ``train``: the
schedule, evaluation and checkpoint cadence, and the device features a GPU turns on
(bf16 where supported, TF32, ``torch.compile``, fused AdamW). torch and transformers are
imported inside the functions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import TrainConfig


def training_arguments(
    config: TrainConfig,
    output_dir: Path,
    total_steps: int,
    has_eval: bool,
    cuda: bool,
    world: int,
    resuming: bool = False,
) -> Any:
    """The ``TrainingArguments`` for a run: schedule, evaluation, checkpoints, device features."""
    from transformers import TrainingArguments

    eval_steps = config.eval_steps or max(1, math.ceil(total_steps / 10))
    bf16 = cuda and bf16_supported()
    batch_size, grad_accum = config.resolved_batch()
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.resolved_lr(),
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a fraction of the steps in 5.x
        weight_decay=0.01,
        max_grad_norm=1.0,
        logging_steps=config.logging_steps or max(1, total_steps // 50),
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps,
        eval_on_start=has_eval and not resuming,  # a resumed run has its step-0 loss in its history
        prediction_loss_only=True,
        save_strategy="steps",
        save_steps=config.save_steps or eval_steps,
        save_total_limit=2,  # the newest survives a crash while the next one is written
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        tf32=True if cuda else None,
        torch_compile=cuda,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda,
        ddp_backend=None if cuda or world == 1 else "gloo",
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=cuda,
        remove_unused_columns=False,  # position_ids must reach the model
        label_names=["labels"],
        report_to="none",
        disable_tqdm=False,
        log_level="warning",
    )


@contextmanager
def expected_warnings() -> Iterator[None]:
    """Silence warnings the libraries raise on purpose in this exact setup.

    Kept to the narrowest messages: anything else still surfaces (and fails the tests,
    which turn warnings into errors).
    """
    with warnings.catch_warnings():
        # peft, checkpointing a LoRA model whose embeddings grew by the pad token: it saves them, rightly.
        warnings.filterwarnings(
            "ignore", message=r"Setting `save_embedding_layers` to `True`", category=UserWarning
        )
        yield


def bf16_supported() -> bool:
    """Whether this CUDA device computes in bfloat16."""
    import torch

    return bool(torch.cuda.is_bf16_supported())


def device_name(cuda: bool, args: Any) -> str:
    """The device a run trained on, as its record says it (``CPU (2 threads, fp32)``)."""
    import torch

    if cuda:
        return f"{torch.cuda.get_device_name()} ({'bf16' if args.bf16 else 'fp32'}, compiled)"
    return f"CPU ({torch.get_num_threads()} threads, fp32)"
