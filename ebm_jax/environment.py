"""What a run ran on: package versions, backend, devices, processes, and the code's git commit.

:func:`describe` returns it as a flat dict of strings and numbers;
:func:`ebm_jax.train.write_results` adds it to ``results.json`` under ``env.*``
keys, :func:`ebm_jax.train.write_config` appends it to ``environment.jsonl`` (one
line per start or resumption of the run), and the command line prints
:func:`summary_line` once at the start, so a number can be traced to the code
and the stack that made it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import pathlib
import platform
import subprocess
from collections.abc import Mapping
from typing import Any

import jax

from ebm_jax import checks

#: The distributions whose versions a run records.
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "ml-collections")

_REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_state(root: str | os.PathLike | None = None) -> tuple[str, bool] | None:
    """``(commit, dirty)`` of the checkout holding ``ebm_jax`` (or ``root``, an existing directory); None
    outside a git checkout. A ``root`` that is not an existing directory is an error naming it
    (:func:`ebm_jax.checks.directory`)."""
    if root is not None:
        root = str(checks.directory(root, "root", must_exist=True))
    return _git_state(root)


@functools.lru_cache(maxsize=1)
def _git_state(root: str | None) -> tuple[str, bool] | None:
    root = pathlib.Path(root) if root is not None else _REPO_ROOT
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit, bool(status.strip())


def describe() -> dict[str, Any]:
    """The run's environment as flat ``{name: str | int}`` (every key prefixed ``env.``).

    Keys: ``env.python``, ``env.<package>`` for :data:`PACKAGES`, ``env.backend``
    (``cpu``, ``gpu``, ``tpu``), ``env.device_kind``, ``env.device_count`` (all
    processes), ``env.local_device_count``, ``env.process_count``, and, from a
    git checkout, ``env.git_commit`` and ``env.git_dirty`` (1 if tracked files
    differ from the commit).
    """
    devices = jax.devices()
    env: dict[str, Any] = {"env.python": platform.python_version()}
    env.update({f"env.{name}": _version(name) for name in PACKAGES})
    env.update({
        "env.backend": jax.default_backend(),
        "env.device_kind": devices[0].device_kind,
        "env.device_count": jax.device_count(),
        "env.local_device_count": jax.local_device_count(),
        "env.process_count": jax.process_count(),
    })
    git = git_state()
    if git is not None:
        env["env.git_commit"], env["env.git_dirty"] = git[0], int(git[1])
    return env


#: The keys of :func:`describe` that :func:`summary_line` prints.
_SUMMARY_KEYS = ("env.backend", "env.device_count", "env.device_kind", "env.process_count", "env.jax")


def summary_line(env: dict[str, Any] | None = None, matmul_precision: str | None = None) -> str:
    """One line for a log: backend, devices, processes, precision policy, jax version.

    ``env`` is what :func:`describe` returns (by default, it is called); ``matmul_precision`` is None or
    one of :data:`ebm_jax.precision.TRAINING_CHOICES`.
    """
    from ebm_jax import precision

    if matmul_precision is not None:
        precision.check_matmul_precision(matmul_precision, "matmul_precision")
    if env is None:
        env = describe()
    elif not isinstance(env, Mapping):
        raise TypeError(f"env must be the mapping environment.describe() returns, got {type(env).__name__}")
    else:
        missing = [key for key in _SUMMARY_KEYS if key not in env]
        if missing:
            raise ValueError(f"env lacks {missing}: pass the mapping environment.describe() returns")
    processes = env["env.process_count"]
    return (f"ebm_jax: backend {env['env.backend']}, {env['env.device_count']} x {env['env.device_kind']}"
            f"{f' over {processes} processes' if processes > 1 else ''}; {precision.describe(matmul_precision)}; "
            f"jax {env['env.jax']}")
