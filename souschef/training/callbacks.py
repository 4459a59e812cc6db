"""Trainer callbacks: progress on stderr, the time spent in optimizer steps, and no step too many.

transformers' own ``ProgressCallback`` writes its log lines with ``tqdm.write``, which
goes to stdout; souschef keeps stdout for machine-readable output, so the run uses
this progress bar instead (stderr, main process only) and logs through ``logging``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger("souschef.training")


class StderrProgress(TrainerCallback):
    """A step progress bar on stderr with the latest losses, and log records per log step."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=state.max_steps,
                initial=state.global_step,
                desc="training",
                unit="step",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        shown = {k: round(v, 4) for k, v in logs.items() if k in ("loss", "eval_loss", "learning_rate")}
        if self.bar is not None and shown:
            self.bar.set_postfix(shown, refresh=False)
        logger.info("step %d: %s", state.global_step, {k: v for k, v in logs.items() if k != "total_flos"})

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StepTimer(TrainerCallback):
    """Wall time inside optimizer steps (forward, backward, update), without eval and saving.

    Attributes
    ----------
    durations
        Seconds of each step run in this process, in order.
    """

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()  # kernels run asynchronously: wait, or the step looks free
        self.durations.append(time.perf_counter() - self._start)


class NothingLeftToTrain(Exception):
    """Leaves transformers' loop before a step past the run's last one (see ``StopAtLastStep``)."""


class StopAtLastStep(TrainerCallback):
    """Stop a run resumed from the checkpoint of its last step before it takes one step more.

    transformers (5.x) fast-forwards the data to the checkpoint, then trains one batch before
    it compares the step with ``max_steps``: ``souschef.json`` recorded 31 steps of a 30-step
    run and another training loss. ``train`` catches the exception; the checkpoint's weights,
    already loaded, are the result.
    """

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.max_steps and state.global_step >= state.max_steps:
            raise NothingLeftToTrain
