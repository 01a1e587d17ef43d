"""Stop a training loop between compiled chunks on Ctrl-C, and bound how long one chunk runs.

A compiled XLA call cannot be interrupted: Python runs its signal handlers only
when the call returns. So :func:`fit` (1) turns the first Ctrl-C (SIGINT) into a
request, honoured after the running chunk with a checkpoint saved
(:class:`TrainingInterrupted`); a second Ctrl-C raises ``KeyboardInterrupt`` at
once; and (2) shortens its chunks so that none runs longer than
``max_chunk_seconds`` (:func:`capped_chunk`), which bounds how long Ctrl-C waits.
With several processes, every process takes the same decisions (:func:`agree`).
"""

from __future__ import annotations

import signal
import sys
import threading

import jax
import numpy as np

from ebm_jax import checks

# The first chunk of a run is at most this many steps: its time tells how long a step takes
# before a long chunk is compiled.
PROBE_STEPS = 64


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C between two chunks; ``state`` is where it stopped."""

    def __init__(self, message: str, state=None, step: int | None = None):
        super().__init__(message)
        self.state, self.step = state, step

    def __str__(self) -> str:
        return self.args[0]


class InterruptRequest:
    """Context manager: while active, the first SIGINT sets ``requested`` instead of raising.

    Only the main thread can install signal handlers; elsewhere it does nothing
    (Ctrl-C then behaves as usual). A process that ignores SIGINT (started with
    ``nohup`` or as a background job of a script) keeps ignoring it.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, _signum, _frame):
        if self.requested:  # the second Ctrl-C: stop now, whatever is lost
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: stopping after the running chunk, with a checkpoint (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN):
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *_exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


def capped_chunk(chunk: int, length: int, run_seconds: float, max_chunk_seconds: float | None) -> int:
    """``chunk``, shortened to a power of two so that a chunk runs at most about ``max_chunk_seconds``.

    ``run_seconds`` is how long the last chunk of ``length`` steps ran (without
    compiling). Never lengthens ``chunk``. ``max_chunk_seconds=None``: no cap.
    """
    chunk = checks.positive_int(chunk, "chunk")
    length = checks.nonnegative_int(length, "length")
    run_seconds = checks.nonnegative_float(run_seconds, "run_seconds")
    max_chunk_seconds = checks.positive_float(max_chunk_seconds, "max_chunk_seconds", allow_none=True)
    if max_chunk_seconds is None or length < 1 or run_seconds <= 0:
        return chunk
    fits = int(max_chunk_seconds * length / run_seconds)
    if fits >= chunk:
        return chunk
    return 1 << max(0, fits.bit_length() - 1) if fits >= 1 else 1


def agree(interrupted: bool, chunk: int) -> tuple[bool, int]:
    """With several processes: stop if any process was interrupted; use the shortest chunk."""
    interrupted = checks.boolean(interrupted, "interrupted")
    chunk = checks.positive_int(chunk, "chunk")
    if jax.process_count() == 1:
        return interrupted, chunk
    from jax.experimental import multihost_utils

    votes = np.asarray(multihost_utils.process_allgather(np.array([int(interrupted), chunk], np.int32)))
    votes = votes.reshape(-1, 2)
    return bool(votes[:, 0].max()), int(votes[:, 1].min())
