"""Orbax checkpoints of a training-state pytree, keyed by global step, verified on restore.

Layout under ``workdir/checkpoints``::

    <step>/                     an Orbax checkpoint (written synchronously)
    <step>/ebm_jax_sha256.json  sha256 of every other file of <step>/, written after Orbax commits
    <step>.corrupt/             a checkpoint whose files no longer match their digest, moved aside

:meth:`Checkpointer.restore` checks the digest before Orbax reads anything, so a
flipped, emptied or truncated file never reaches tensorstore; it restores the
newest intact checkpoint, moving newer corrupt ones aside with a one-line
warning each, and raises :class:`CheckpointCorruptError` (one line, nothing
renamed) when no checkpoint is intact. Partial ``*.orbax-checkpoint-tmp-*``
directories of an interrupted save are removed when the checkpointer opens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import shutil

import jax
import orbax.checkpoint as ocp

from ebm_jax import checks

log = logging.getLogger(__name__)

DIGEST_FILE = "ebm_jax_sha256.json"
CORRUPT_SUFFIX = ".corrupt"
TMP_MARKER = ".orbax-checkpoint-tmp"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message is one line saying why and what to do."""


class CheckpointCorruptError(CheckpointError):
    """No checkpoint in the directory is intact."""


class CheckpointMismatchError(CheckpointError):
    """An intact checkpoint holds a state of another structure than the one asked for."""


def directory_digest(step_dir: str | os.PathLike) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``step_dir`` except the digest file itself."""
    step_dir = checks.directory(step_dir, "step_dir", must_exist=True)
    digest = {}
    for path in sorted(p for p in step_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(step_dir).as_posix()
        if rel == DIGEST_FILE:
            continue
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest[rel] = h.hexdigest()
    return digest


def _first_line(error: BaseException, limit: int = 200) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(error).__name__}: {line[:limit]}"


def _stored_shape(x) -> tuple:
    """The shape Orbax stores for ``x`` (a typed PRNG key is stored as its key data)."""
    if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
        return tuple(jax.eval_shape(jax.random.key_data, x).shape)
    return tuple(getattr(x, "shape", ()))


def _path_name(path) -> str:
    parts = []
    for k in path:
        for attr in ("name", "key", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


class Checkpointer:
    """Save / restore a state pytree under ``workdir/checkpoints/<step>``.

    Keeps the ``max_to_keep`` newest checkpoints. Saving is synchronous so that
    a checkpoint on disk is always complete when ``save`` returns; its digest
    is written right after.
    """

    def __init__(self, workdir: str | os.PathLike, max_to_keep: int = 2):
        max_to_keep = checks.positive_int(max_to_keep, "max_to_keep")
        workdir = checks.directory(workdir, "workdir").absolute()
        self.directory = checks.directory(workdir / "checkpoints", "workdir")  # not a file named checkpoints
        self._remove_partial_saves()
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, item_handlers=ocp.StandardCheckpointHandler(),
                                              options=options)

    def _remove_partial_saves(self) -> None:
        """Delete Orbax's temporary directories left by a save that was killed before it committed."""
        if self.directory.is_dir() and jax.process_index() == 0:
            for path in sorted(self.directory.iterdir()):
                if TMP_MARKER in path.name:
                    shutil.rmtree(path, ignore_errors=True)
                    log.warning("removed %s: a save interrupted before it completed", path)
        _sync("ebm_jax_checkpoint_tmp_cleanup")

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def _saved_step(self, step) -> int:
        """``step`` as an int if a checkpoint of that step exists, else a ValueError naming ``step``."""
        step = checks.nonnegative_int(step, "step")
        if step not in self.all_steps():
            raise ValueError(f"step {step} has no checkpoint in {self.directory} (saved steps: {self.all_steps()})")
        return step

    def save(self, step: int, state) -> None:
        """Save ``state`` (a non-empty pytree of arrays) as checkpoint ``step``, then its digest."""
        step = checks.nonnegative_int(step, "step")
        checks.array_tree(state, "state")
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()
        if jax.process_index() == 0:
            step_dir = self.directory / str(step)
            tmp = step_dir / (DIGEST_FILE + ".tmp")
            tmp.write_text(json.dumps({"sha256": directory_digest(step_dir)}, indent=1, sort_keys=True))
            os.replace(tmp, step_dir / DIGEST_FILE)

    def verify(self, step: int) -> str | None:
        """Why checkpoint ``step`` is not intact (one phrase), ``"no digest"``, or ``None`` if it is."""
        step_dir = self.directory / str(self._saved_step(step))
        try:
            expected = json.loads((step_dir / DIGEST_FILE).read_text())["sha256"]
        except FileNotFoundError:
            return "no digest"
        except (ValueError, KeyError, TypeError) as e:
            return f"its digest file is unreadable ({type(e).__name__})"
        actual = directory_digest(step_dir)
        for name in sorted(set(expected) | set(actual)):
            if name not in actual:
                return f"{name} is missing"
            if name not in expected:
                return f"{name} was not part of the checkpoint"
            if actual[name] != expected[name]:
                return f"{name} does not match its sha256"
        return None

    def _aside_path(self, step: int) -> pathlib.Path:
        """Where a corrupt ``step`` goes: ``<step>.corrupt``, or ``<step>.corrupt-<i>`` if that is taken."""
        target, i = self.directory / f"{step}{CORRUPT_SUFFIX}", 1
        while target.exists():
            i += 1
            target = self.directory / f"{step}{CORRUPT_SUFFIX}-{i}"
        return target

    def _mismatch(self, step: int, state_like) -> str | None:
        """The first difference between checkpoint ``step``'s tree and ``state_like`` (None: none found)."""
        try:
            saved = self._manager.item_metadata(step)
            saved = {_path_name(p): tuple(getattr(m, "shape", ()) or ())
                     for p, m in jax.tree_util.tree_flatten_with_path(saved)[0]}
        except Exception:  # noqa: BLE001 - no metadata: nothing to compare
            return None
        wanted = {_path_name(p): _stored_shape(x) for p, x in jax.tree_util.tree_flatten_with_path(state_like)[0]}
        if not saved:
            return None
        for name in sorted(set(saved) | set(wanted)):
            if name not in wanted:
                return f"the checkpoint has {name!r}, which this run's state lacks"
            if name not in saved:
                return f"this run's state has {name!r}, which the checkpoint lacks"
            if saved[name] != wanted[name]:
                return f"{name!r} has shape {saved[name]} in the checkpoint and {wanted[name]} in this run"
        return None

    def _restore_step(self, step: int, state_like):
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def restore(self, state_like, step: int | None = None):
        """Restore into the structure, shapes, dtypes and shardings of ``state_like``.

        With ``step=None``, the newest intact checkpoint: newer ones that fail
        their digest are moved aside to ``<step>.corrupt`` with a one-line
        warning. With an explicit ``step``, that checkpoint or an error.

        Raises:
          CheckpointCorruptError: no checkpoint is intact (nothing is renamed then).
          CheckpointMismatchError: the intact checkpoint holds another structure.
          FileNotFoundError: there is no checkpoint at all.
        """
        checks.array_tree(state_like, "state_like")
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        candidates = [self._saved_step(step)] if step is not None else sorted(steps, reverse=True)
        bad = []  # (step, reason)
        for s in candidates:
            reason = self.verify(s)
            if reason not in (None, "no digest"):
                bad.append((s, reason))
                continue
            mismatch = self._mismatch(s, state_like)
            if mismatch is not None:
                raise CheckpointMismatchError(
                    f"checkpoint step {s} in {self.directory} does not fit this run's state: {mismatch}. "
                    "It belongs to a run with another model or config; use a new workdir.")
            try:
                state = self._restore_step(s, state_like)
            except Exception as e:  # noqa: BLE001 - reported in one line below
                if reason is None:
                    # The files are as written (or the tree differs): not corruption, the caller's state differs.
                    raise CheckpointMismatchError(
                        f"checkpoint step {s} in {self.directory} does not fit this run's state: "
                        f"{_first_line(e)}. It belongs to a run with another model or config; "
                        "use a new workdir.") from None
                bad.append((s, f"Orbax could not read it ({_first_line(e, 120)})"))
                continue
            if reason == "no digest" and jax.process_index() == 0:
                log.warning("checkpoint step %d in %s has no digest (written by an older version, or killed "
                            "before the digest); restored unverified", s, self.directory)
            targets = [self._aside_path(b) for b, _ in bad]  # named by every process before any rename
            _sync("ebm_jax_checkpoint_move_aside")  # every process verified before the renames
            for (b, why), target in zip(bad, targets):
                if jax.process_index() == 0:
                    os.replace(self.directory / str(b), target)
                    log.warning("checkpoint step %d is corrupt (%s); moved it to %s and resumed from step %d",
                                b, why, target.name, s)
            if bad:
                _sync("ebm_jax_checkpoint_moved_aside")
                self._manager.reload()
            return state
        listed = "; ".join(f"step {b}: {why}" for b, why in bad)
        raise CheckpointCorruptError(
            f"no intact checkpoint in {self.directory} ({listed}). Delete that directory to train from "
            "scratch, or use a new workdir.")

    def close(self) -> None:
        self._manager.close()
