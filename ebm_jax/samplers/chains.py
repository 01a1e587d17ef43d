"""Many chains at once: ``lax.scan`` over steps, ``vmap`` over chains.

:func:`run_chain` is the traceable core (use it inside a jitted train step);
:func:`sample_chains` is the public, validated entry point that checks the
chains stayed finite (one host sync per call, never per step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax.samplers.kernels import Kernel


class NonFiniteChainError(FloatingPointError):
    """Raised when MCMC chains produce NaN or infinite states."""


def run_chain(kernel: Kernel, key: jax.Array, x0: jax.Array, params, num_steps: int,
              *, num_saved: int = 0):
    """Run ``num_steps`` transitions of ``kernel`` on every chain.

    Args:
      kernel: ``(key, x, params) -> x`` for one chain.
      key: PRNG key; step ``t`` uses ``fold_in(key, t)`` split over chains.
      x0: ``(C, ...)`` initial states of ``C`` chains.
      params: kernel parameters (shared by all chains).
      num_steps: number of transitions (static, ``>= 0``).
      num_saved: if ``> 0``, also return ``num_saved`` evenly spaced snapshots
        ``(num_saved, C, ...)`` (the last one is the final state).

    Returns:
      ``x_T (C, ...)``, or ``(x_T, snapshots)`` when ``num_saved > 0``.
    """
    num_chains = x0.shape[0]
    step = jax.vmap(kernel, in_axes=(0, 0, None))

    def body(x, t):
        keys = jax.random.split(jax.random.fold_in(key, t), num_chains)
        return step(keys, x, params), None

    if num_saved <= 0:
        x, _ = jax.lax.scan(body, x0, jnp.arange(num_steps))
        return x
    if num_steps % num_saved:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of num_saved ({num_saved})")
    every = num_steps // num_saved

    def outer(x, s):
        x, _ = jax.lax.scan(body, x, s * every + jnp.arange(every))
        return x, x

    x, snaps = jax.lax.scan(outer, x0, jnp.arange(num_saved))
    return x, snaps


def check_finite(x, name: str = "chains") -> None:
    """Raise :class:`NonFiniteChainError` if concrete ``x`` holds NaN/inf."""
    arr = np.asarray(jax.device_get(x))
    if not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr.reshape(arr.shape[0], -1))).any(axis=1).sum()) if arr.ndim else 1
        raise NonFiniteChainError(
            f"{name}: {n_bad} chain(s) produced NaN or infinite states; check the energy / "
            "parameters (a diverging energy or a NaN parameter) and the step size")


def sample_chains(kernel: Kernel, key: jax.Array, x0, params, num_steps: int, *, num_saved: int = 0):
    """Validated, jitted :func:`run_chain`; raises if the chains end non-finite.

    Raises:
      ValueError: ``num_steps < 0``, ``x0`` not ``(C, ...)`` with ``C >= 1``, or ``x0`` non-finite.
      NonFiniteChainError: a chain produced NaN/inf.
    """
    if not isinstance(num_steps, (int, np.integer)) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}")
    if not isinstance(num_saved, (int, np.integer)) or num_saved < 0:
        raise ValueError(f"num_saved must be a non-negative integer, got {num_saved!r}")
    x0 = jnp.asarray(x0)
    if x0.ndim < 1 or x0.shape[0] < 1:
        raise ValueError(f"x0 must have shape (num_chains, ...) with num_chains >= 1, got {x0.shape}")
    if not bool(jnp.all(jnp.isfinite(x0))):
        raise ValueError("x0 contains NaN or infinite values")
    out = _run_jit(kernel, key, x0, params, num_steps, num_saved)
    check_finite(out[0] if num_saved else out)
    if num_saved:
        check_finite(out[1], "chain snapshots")
    return out


_run_chain_jit = jax.jit(run_chain, static_argnums=(0, 4), static_argnames="num_saved")


def _run_jit(kernel, key, x0, params, num_steps, num_saved):
    return _run_chain_jit(kernel, key, x0, params, num_steps, num_saved=num_saved)
