"""Orbax checkpoints of a training-state pytree, keyed by global step."""

from __future__ import annotations

import os
import pathlib

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Save / restore a state pytree under ``workdir/checkpoints/<step>``.

    Keeps the ``max_to_keep`` newest checkpoints. Saving is synchronous so that
    a checkpoint on disk is always complete when ``save`` returns.
    """

    def __init__(self, workdir: str | os.PathLike, max_to_keep: int = 2):
        self.directory = pathlib.Path(workdir).absolute() / "checkpoints"
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state) -> None:
        self._manager.save(int(step), args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()

    def restore(self, state_like, step: int | None = None):
        """Restore into the structure, shapes, dtypes and shardings of ``state_like``."""
        step = self.latest_step() if step is None else step
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        self._manager.close()
