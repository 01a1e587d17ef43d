"""Training progress: a tqdm bar in a terminal, log lines everywhere else.

In a terminal (``stream.isatty()``) :class:`Progress` draws the usual tqdm bar.
When the stream is not a terminal (a batch job under SLURM, ``make run > log``),
a bar would be switched off and show nothing, so one line per chunk is printed
instead, at most one every ``min_interval`` seconds (the last chunk always)::

    train: step 1200/9380 (12.8%), epoch 2.56/20, loss 104.3, 412.5 steps/s, 0:00:19 left

``steps/s`` is measured since the previous line (compilation, checkpoints and
evaluation included) and ``left`` is the remaining steps at that rate.
"""

from __future__ import annotations

import datetime
import sys
import time
from typing import Callable, TextIO

from tqdm.auto import tqdm

from ebm_jax import checks

# At most one progress line every this many seconds when the output is not a terminal.
LOG_EVERY_SECONDS = 10.0


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _format_seconds(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


class Progress:
    """Progress of ``total`` steps, starting at ``initial``.

    Args:
      total: the step at which training stops.
      initial: the step training starts from (a resumed run counts those done; past ``total``: done).
      steps_per_epoch: steps in one epoch, to show the epoch.
      num_epochs: epochs in the whole run.
      desc: the label in front of the bar or line.
      enabled: ``False`` shows nothing (processes other than 0).
      stream: where to write (default ``sys.stderr``, read when constructed).
      min_interval: seconds between two lines when ``stream`` is not a terminal.
      clock: a monotonic clock in seconds (a fake one in tests).
    """

    def __init__(self, total: int, initial: int, *, steps_per_epoch: int, num_epochs: int, desc: str = "train",
                 enabled: bool = True, stream: TextIO | None = None, min_interval: float = LOG_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        total = checks.positive_int(total, "total")
        initial = checks.nonnegative_int(initial, "initial")
        steps_per_epoch = checks.positive_int(steps_per_epoch, "steps_per_epoch")
        num_epochs = checks.positive_int(num_epochs, "num_epochs")
        desc = checks.string(desc, "desc", nonempty=False)
        enabled = checks.boolean(enabled, "enabled")
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"stream must be a text stream with a write method, got {type(stream).__name__}")
        min_interval = checks.nonnegative_float(min_interval, "min_interval")
        checks.function(clock, "clock")
        self.total, self.step = total, min(initial, total)  # a run resumed past total shows as done
        self.steps_per_epoch, self.num_epochs, self.desc = steps_per_epoch, num_epochs, desc
        self.stream = sys.stderr if stream is None else stream
        self.min_interval, self.clock = min_interval, clock
        self.enabled = enabled
        self.terminal = enabled and _is_terminal(self.stream)
        self.bar = (tqdm(total=total, initial=self.step, desc=desc, unit="step", dynamic_ncols=True, file=self.stream)
                    if self.terminal else None)
        self._last_time, self._last_step, self._printed = self.clock(), self.step, False

    def update(self, step: int, loss_key: str, loss: float) -> None:
        """Training reached ``step`` (from the last step to ``total``); ``loss`` is the mean loss of the last chunk."""
        step = checks.integer(step, "step", ge=self.step, le=self.total)
        loss_key = checks.string(loss_key, "loss_key")
        loss = checks.real(loss, "loss", finite=False, allow_nan=True)  # shown as it is
        done, self.step = step - self.step, step
        epoch = step / self.steps_per_epoch
        if self.bar is not None:
            self.bar.update(done)
            self.bar.set_postfix({loss_key: f"{loss:.4g}", "epoch": f"{epoch:.2f}"})
            return
        if not self.enabled:
            return
        now = self.clock()
        elapsed = now - self._last_time
        if self._printed and elapsed < self.min_interval and step < self.total:
            return
        rate = (step - self._last_step) / elapsed if elapsed > 0 else float("inf")
        left = (self.total - step) / rate if rate > 0 else float("inf")
        left_text = _format_seconds(left) if left != float("inf") else "?"
        self.stream.write(f"{self.desc}: step {step}/{self.total} ({100 * step / self.total:.1f}%), "
                          f"epoch {epoch:.2f}/{self.num_epochs}, {loss_key} {loss:.4g}, {rate:.1f} steps/s, "
                          f"{left_text} left\n")
        self.stream.flush()
        self._last_time, self._last_step, self._printed = now, step, True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
