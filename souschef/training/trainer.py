"""``train(config)``: data -> packed rows -> transformers ``Trainer`` -> model directory.

transformers' Trainer runs the loop so that ``torchrun`` and ``accelerate launch``
(DDP, FSDP) work unchanged; this module decides what goes in: answer-only labels,
packed rows, a cosine schedule with warm-up, evaluation on the validation split,
checkpoints in ``OUT.checkpoints`` and, only when CUDA is present, bf16, TF32,
``torch.compile``, fused AdamW (SDPA is transformers' default attention everywhere);
the ``TrainingArguments`` that say so are built in ``arguments``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipe_schema import Recipe, UsageError, format_prompt

from .arguments import device_name, expected_warnings, training_arguments
from .artifacts import check_target, checkpoint_dir, clear_staging, run_record, save_model_dir
from .config import MAX_DEFAULT_SEQ_LEN, TrainConfig
from .data import (
    DataError,
    Example,
    LoadReport,
    default_data_files,
    load_examples,
    mix_offdomain,
    split_examples,
)
from .resume import TOKENIZER_DIR, find_checkpoint, prepare_checkpoints, run_identity

logger = logging.getLogger("souschef.training")


@dataclass
class TrainResult:
    """What a finished run produced.

    Attributes
    ----------
    output_dir
        The model directory (``save_pretrained`` model and tokenizer, ``souschef.json``,
        ``README.md``).
    train_loss
        Mean training loss over the last logging window.
    val_loss, initial_val_loss
        Validation loss after and before training (``None`` without a validation split).
    steps
        Optimizer steps taken in total (including those before a resume).
    tokens_per_second
        Training tokens (padding excluded) per second of step time, in this process
        times the number of processes.
    report
        The data load report: bad records and notes, per-file counts.
    """

    output_dir: Path
    train_loss: float | None
    val_loss: float | None
    initial_val_loss: float | None
    steps: int
    tokens_per_second: float
    train_examples: int
    val_examples: int
    windowed: int
    report: LoadReport = field(repr=False)


def train(config: TrainConfig, callbacks: list[Any] | None = None) -> TrainResult:
    """Train a model as ``config`` says and save it to ``config.out``.

    Parameters
    ----------
    config
        The run (see ``TrainConfig``'s field help).
    callbacks
        Extra ``transformers.TrainerCallback``s (progress hooks, early stopping).

    Raises
    ------
    UsageError, InputFileError, ModelLoadError
        Bad settings, unreadable files, a base model that cannot be loaded (exit 2).
    DataError
        Bad records under ``on_bad_record="fail"``, or no usable example (exit 1).
    ImportError
        ``lora=True`` without peft installed, or the train extra (scikit-learn, wordfreq:
        the guard's) missing.
    """
    from generation.guard.data import require_guard_libraries

    require_guard_libraries()
    if config.lora:
        from .model import require_peft

        require_peft()
    out = Path(config.out).expanduser()
    base = None if config.from_scratch else config.base  # a hub name resolves to no file here
    check_target(out, {"data": config.data or default_data_files(), "val_data": config.val_data,
                       "base": base})
    report = load_examples(config.data, config.on_bad_record)
    if config.data and config.mix_offdomain and report.examples:  # the user's data must stand alone
        mix_offdomain(report)
    for bad in report.bad_records:
        logger.warning("skipped %s", bad)
    for note in report.notes:
        logger.info("%s", note)
    if config.val_data:  # a validation set of its own: train on every example
        val_report = load_examples(config.val_data, config.on_bad_record)
        for bad in val_report.bad_records:
            logger.warning("skipped %s", bad)
        train_examples, val_examples = report.examples, val_report.examples
    else:
        train_examples, val_examples = split_examples(report.examples, config.eval_fraction)
    if not train_examples:
        raise DataError(
            "no usable training examples in " + ", ".join(f.path for f in report.files), report.bad_records
        )
    if not any(isinstance(e.answer, Recipe) for e in train_examples):
        logger.warning("training on 0 recipes (all %d training examples are replies): the model will not "
                       "learn to write a recipe", len(train_examples))

    import torch
    from accelerate import PartialState

    # Joins the process group under torchrun. Without cpu=True accelerate does not count CPU
    # processes as distributed, and every process would think it is the main one.
    state = PartialState(cpu=not torch.cuda.is_available())
    ckpt = checkpoint_dir(out)
    identity = run_identity(config, report)
    last = find_checkpoint(config, ckpt, identity)
    try:
        with state.main_process_first():
            if state.is_main_process:
                clear_staging(out)  # what a run killed while publishing left beside OUT
                prepare_checkpoints(ckpt, identity, last)
            built = _build_model(config, train_examples, ckpt / TOKENIZER_DIR, state.is_main_process)
        return _train_and_save(config, state, built, train_examples, val_examples, report, last, callbacks)
    except BaseException:
        # Nothing to resume from: leave no directory behind. Checkpoints stay for resume=True.
        if state.is_main_process and ckpt.is_dir() and not any(ckpt.glob("checkpoint-*")):
            shutil.rmtree(ckpt, ignore_errors=True)
        raise


def _train_and_save(
    config: TrainConfig,
    state: Any,
    built: Built,
    train_examples: list[Example],
    val_examples: list[Example],
    report: LoadReport,
    last: Path | None,
    callbacks: list[Any] | None,
) -> TrainResult:
    """Pack, train with transformers' Trainer, evaluate, and publish the model directory."""
    import torch

    model, tokenizer = built.model, built.tokenizer
    out, ckpt = Path(config.out).expanduser(), checkpoint_dir(Path(config.out).expanduser())
    context = getattr(model.config, "n_positions", None) or getattr(
        model.config, "max_position_embeddings", None
    )
    if config.seq_len is None:  # resolved here, after the run's identity recorded the request
        config.seq_len = min(context or MAX_DEFAULT_SEQ_LEN, MAX_DEFAULT_SEQ_LEN)
    config.batch_size, config.grad_accum = config.resolved_batch()
    if context and config.seq_len > context:
        raise UsageError(f"seq_len: {config.seq_len} is longer than the model's context of {context} tokens")

    from .packing import PackedCollator, packed_rows, single_rows, tokenize_examples

    train_items, windowed = tokenize_examples(train_examples, tokenizer, config.seq_len, built.prompt_format)
    val_items, val_windowed = tokenize_examples(val_examples, tokenizer, config.seq_len, built.prompt_format)
    train_rows = packed_rows(train_items, config.seq_len, config.seed)
    val_rows = single_rows(val_items)  # unpacked: validation sees each example alone
    cuda = torch.cuda.is_available()
    world = state.num_processes
    total_steps = config.max_steps or math.ceil(
        config.epochs
        * math.ceil(math.ceil(len(train_rows) / (config.batch_size * world)) / config.grad_accum)
    )
    args = training_arguments(
        config, ckpt, total_steps, has_eval=bool(val_rows), cuda=cuda, world=world, resuming=last is not None
    )
    # Filler = EOS (see packing); static shapes under torch.compile.
    collator = PackedCollator(
        tokenizer.eos_token_id, config.mask_packed, pad_to=config.seq_len if cuda else None
    )

    from transformers import PrinterCallback, ProgressCallback, Trainer

    from .callbacks import NothingLeftToTrain, StderrProgress, StepTimer, StopAtLastStep

    timer = StepTimer()
    # Trainer sets model.config.use_cache = args.use_cache (False). That matters: with a
    # cache, transformers skips the packed-sequence mask and packed examples attend across.
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=val_rows or None,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[StderrProgress(), timer, StopAtLastStep(), *(callbacks or [])],
    )
    trainer.remove_callback(ProgressCallback)  # writes its logs to stdout
    trainer.remove_callback(PrinterCallback)
    logger.info(
        "training on %d examples (%d rows of %d tokens), validating on %d; %d steps on %d %s process(es)",
        len(train_items),
        len(train_rows),
        config.seq_len,
        len(val_items),
        total_steps,
        world,
        "CUDA" if cuda else "CPU",
    )
    with expected_warnings():
        try:
            trainer.train(resume_from_checkpoint=str(last) if last else None)
        except NothingLeftToTrain:  # resumed from the last step's checkpoint, now loaded: done
            trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)
        val_loss = _final_eval(trainer) if val_rows else None

    history = trainer.state.log_history
    evals = [{"step": h["step"], "loss": h["eval_loss"]} for h in history if "eval_loss" in h]
    train_losses = [h["loss"] for h in history if "loss" in h]
    tokens_per_row = sum(len(r["input_ids"]) for r in train_rows) / len(train_rows)
    step_tokens = tokens_per_row * config.batch_size * config.grad_accum * world
    seconds = sum(timer.durations)
    results = {
        "train_loss": train_losses[-1] if train_losses else None,
        "val_loss": val_loss,
        "initial_val_loss": evals[0]["loss"] if evals and evals[0]["step"] == 0 else None,
        "eval_history": evals,
        "steps": trainer.state.global_step,
        "tokens_per_second": step_tokens * len(timer.durations) / seconds if seconds else 0.0,
        "median_step_seconds": statistics.median(timer.durations) if timer.durations else None,
        "parameters": sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()),
        "world_size": world,
        "device": device_name(cuda, args),
    }
    data = {
        "files": [vars(f) for f in report.files],
        "loaded": report.loaded,
        "skipped": report.skipped,
        "duplicates": report.duplicates,
        "train_examples": len(train_examples),
        "validation_examples": len(val_examples),
        "windowed": windowed + val_windowed,
        "train_rows": len(train_rows),
    }
    resolved = {**config.to_dict(), "lr": config.resolved_lr(), "steps": total_steps}
    trainer.accelerator.wait_for_everyone()
    if state.is_main_process:
        from generation.guard.data import guard_for_examples, guard_summary

        logger.info("training the domain guard on the shipped guard data and this run's prompts and recipes")
        started = time.perf_counter()
        reader = None
        if not config.from_scratch:  # a pretrained base knows the world: its guard reads it
            from generation.guard.view import ViewReader
            from recipe_schema import prompt_text

            def prompt_ids(prompt: str) -> list[int]:
                return list(tokenizer(prompt_text(prompt, tokenizer, built.prompt_format))["input_ids"])

            reader = ViewReader(trainer.model, prompt_ids)
        guard = guard_for_examples(report.examples, reader)  # shipped data + this run's prompts and recipes
        logger.info("domain guard: threshold %.3f, %d features (%.0f s)", guard.threshold,
                    len(guard.features), time.perf_counter() - started)
        results["guard"] = guard_summary(guard)
        record = run_record(resolved, data, results)
        record.update(prompt_format=built.prompt_format, base_identity=built.base_identity)
        save_model_dir(trainer.model, tokenizer, out, record, guard, lora=config.lora, merge=config.merge,
                       base=config.base)
        shutil.rmtree(ckpt, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(
        output_dir=out,
        train_loss=results["train_loss"],
        val_loss=val_loss,
        initial_val_loss=results["initial_val_loss"],
        steps=results["steps"],
        tokens_per_second=results["tokens_per_second"],
        train_examples=len(train_examples),
        val_examples=len(val_examples),
        windowed=windowed + val_windowed,
        report=report,
    )


def _final_eval(trainer: Any) -> float:
    """The validation loss at the last step (reusing the evaluation that just ran, if any)."""
    last = [h for h in trainer.state.log_history if "eval_loss" in h]
    if last and last[-1]["step"] == trainer.state.global_step:
        return float(last[-1]["eval_loss"])
    return float(trainer.evaluate()["eval_loss"])


@dataclass
class Built:
    """The model a run trains, its tokenizer, and what the saved model must record of them."""

    model: Any
    tokenizer: Any
    prompt_format: str         # recipe_schema.PLAIN or CHAT_TEMPLATE
    base_identity: str | None  # generation.loading.model_identity of the pretrained base, as loaded


def _build_model(config: TrainConfig, examples: list[Any], tokenizer_dir: Path, main: bool) -> Built:
    """Model and tokenizer; the tokenizer is made once (main process, first start) and reused."""
    from transformers import AutoTokenizer

    from generation.loading import model_identity
    from recipe_schema import PLAIN, default_prompt_format

    from .model import apply_lora, from_scratch, load_base, prepare_for_training

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir)) if tokenizer_dir.is_dir() else None
    if config.from_scratch:
        texts = (format_prompt(e.prompt) + e.answer_text for e in examples)
        model, tokenizer = from_scratch(config.from_scratch, texts, tokenizer=tokenizer, seed=config.seed)
        built = Built(model, tokenizer, PLAIN, None)
    else:
        model, tokenizer = load_base(config.base, tokenizer=tokenizer)
        # An adapter fits only the weights it was trained on: the loader checks this identity.
        identity = model_identity(model, tokenizer)
        prepare_for_training(model, tokenizer, pad_vocabulary=not config.lora)
        built = Built(model, tokenizer, default_prompt_format(tokenizer), identity)
    if main and not tokenizer_dir.is_dir():  # whole or not at all: a resume loads it
        staged = Path(tempfile.mkdtemp(prefix=f".{tokenizer_dir.name}.", suffix=".tmp",
                                       dir=tokenizer_dir.parent))
        tokenizer.save_pretrained(str(staged))
        os.replace(staged, tokenizer_dir)
    if config.lora:
        built.model = apply_lora(built.model)
    return built
