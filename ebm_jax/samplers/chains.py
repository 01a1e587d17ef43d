"""Many chains at once: ``vmap`` over chains, ``lax.scan`` over steps.

:func:`run_chain` is the traceable core (use it inside a jitted train step);
:func:`sample_chains` is the public, validated entry point: it runs long chains
as a sequence of compiled pieces of at most ``chunk_steps`` steps (so Ctrl-C
stops it between pieces and no single call runs for hours) and checks that the
chains stayed finite (one host sync per piece, never per step).

Randomness: step ``t`` of chain ``c`` uses ``split(fold_in(key, t), C)[c]``, so
a chain run in pieces equals the same chain run in one call.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks
from ebm_jax.samplers.base import SamplingAlgorithm, check_algorithm

#: Most steps one compiled call may run; longer chains go through :func:`sample_chains` (chunked).
MAX_STEPS_PER_CALL = 100_000


class NonFiniteChainError(FloatingPointError):
    """Raised when MCMC chains produce NaN or infinite states."""


class ChainResult(NamedTuple):
    """``state``: the final states (leaves ``(C, ...)``, ``state.position`` the samples);
    ``info``: each info field averaged over the steps, per chain (``(C,)``; ``info.acceptance_rate``);
    ``snapshots``: ``(num_saved, C, ...)`` evenly spaced positions (the last is the final one) or ``None``."""

    state: Any
    info: Any
    snapshots: jax.Array | None = None


def check_num_steps(num_steps, name: str = "num_steps", *, ge: int = 0, bound: int = MAX_STEPS_PER_CALL) -> int:
    """``num_steps`` as an ``int`` in ``[ge, bound]``, else an error naming the bound."""
    num_steps = checks.integer(num_steps, name, ge=ge)
    if num_steps > bound:
        raise ValueError(f"{name} = {num_steps} exceeds the bound of {bound} steps per compiled call "
                         "(it would run uninterruptibly for a long time); run long chains with "
                         "ebm_jax.samplers.sample_chains, which runs them in interruptible pieces")
    return num_steps


def init_chains(algorithm: SamplingAlgorithm, positions: jax.Array, params):
    """``vmap(algorithm.init)`` over the leading (chain) axis of ``positions``."""
    check_algorithm(algorithm)
    positions = checks.float_array(positions, "positions", min_ndim=1)
    return jax.vmap(algorithm.init, in_axes=(0, None))(positions, params)


def _as_state(algorithm, x0, params):
    return x0 if hasattr(x0, "position") else init_chains(algorithm, x0, params)


def _float_tree(info):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), info)


def run_chain(algorithm: SamplingAlgorithm, key: jax.Array, x0, params, num_steps: int, *,
              num_saved: int = 0, start=0) -> ChainResult:
    """Run ``num_steps`` transitions of ``algorithm`` on every chain (traceable).

    Args:
      algorithm: a :class:`~ebm_jax.samplers.base.SamplingAlgorithm` for one chain.
      key: PRNG key; step ``t`` uses ``fold_in(key, start + t)`` split over chains.
      x0: ``(C, ...)`` initial positions of ``C`` chains (``init``-ed under ``params``), or
        a batched state from a previous call (its cached values are reused).
      params: the energy's parameters, shared by all chains.
      num_steps: number of transitions (static, ``0 <= num_steps <=`` :data:`MAX_STEPS_PER_CALL`).
      num_saved: if ``> 0``, also keep ``num_saved`` evenly spaced position snapshots.
      start: index of the first step (for chains run in pieces).

    Returns:
      :class:`ChainResult` ``(state, info, snapshots)``.
    """
    num_steps = check_num_steps(num_steps)
    num_saved = checks.integer(num_saved, "num_saved", ge=0)
    _check_saved(num_saved, num_steps)
    check_algorithm(algorithm)
    key = checks.prng_key(key)
    if not hasattr(x0, "position"):
        x0 = checks.float_array(x0, "x0", min_ndim=1)
    state = _as_state(algorithm, x0, params)
    num_chains = jax.tree.leaves(state)[0].shape[0]
    step = jax.vmap(algorithm.step, in_axes=(0, 0, None))
    info_shape = jax.eval_shape(lambda s: step(jax.random.split(key, num_chains), s, params)[1], state)
    zero_info = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), info_shape)

    def body(carry, t):
        state, info_sum = carry
        keys = jax.random.split(jax.random.fold_in(key, t), num_chains)
        state, info = step(keys, state, params)
        return (state, jax.tree.map(jnp.add, info_sum, _float_tree(info))), None

    def mean(info_sum):
        return jax.tree.map(lambda s: s / max(num_steps, 1), info_sum)

    if num_saved <= 0:
        (state, info_sum), _ = jax.lax.scan(body, (state, zero_info), start + jnp.arange(num_steps))
        return ChainResult(state, mean(info_sum), None)
    if num_steps % num_saved:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of num_saved ({num_saved})")
    every = num_steps // num_saved

    def outer(carry, s):
        carry, _ = jax.lax.scan(body, carry, start + s * every + jnp.arange(every))
        return carry, carry[0].position

    (state, info_sum), snaps = jax.lax.scan(outer, (state, zero_info), jnp.arange(num_saved))
    return ChainResult(state, mean(info_sum), snaps)


def _check_saved(num_saved: int, num_steps: int) -> None:
    if num_saved > num_steps:
        raise ValueError(f"num_saved ({num_saved}) must be <= num_steps ({num_steps}): each snapshot needs a step")
    if num_saved and num_steps % num_saved:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of num_saved ({num_saved})")


def check_finite(x, name: str = "chains") -> None:
    """Raise :class:`NonFiniteChainError` if concrete ``x`` holds NaN/inf."""
    arr = np.asarray(jax.device_get(x))
    if not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr.reshape(arr.shape[0], -1))).any(axis=1).sum()) if arr.ndim else 1
        raise NonFiniteChainError(
            f"{name}: {n_bad} chain(s) produced NaN or infinite states; check the energy / "
            "parameters (a diverging energy or a NaN parameter) and the step size")


_run_chain_jit = jax.jit(run_chain, static_argnums=(0, 4), static_argnames="num_saved")


def sample_chains(algorithm: SamplingAlgorithm, key: jax.Array, x0, params, num_steps: int, *,
                  num_saved: int = 0, chunk_steps: int = 1000) -> ChainResult:
    """Validated :func:`run_chain` in compiled pieces of at most ``chunk_steps`` steps.

    Gives the same chains as one :func:`run_chain` call (same keys per step);
    between pieces Ctrl-C interrupts it and the chains are checked to be finite.

    Raises:
      ValueError: bad ``num_steps``, ``num_saved``, ``chunk_steps`` or ``x0``
        (not ``(C, ...)`` with ``C >= 1``, or non-finite).
      TypeError: the same arguments, of a wrong type.
      NonFiniteChainError: a chain produced NaN/inf.
    """
    num_steps = checks.integer(num_steps, "num_steps", ge=0)
    num_saved = checks.integer(num_saved, "num_saved", ge=0)
    chunk_steps = check_num_steps(chunk_steps, "chunk_steps", ge=1)
    _check_saved(num_saved, num_steps)
    check_algorithm(algorithm)
    key = checks.prng_key(key)
    x0 = checks.float_array(x0, "x0", min_ndim=1)
    every = num_steps // num_saved if num_saved else num_steps
    state, info_sum, snaps, done = x0, None, [], 0
    for _ in range(max(num_saved, 1)):
        remaining = every
        while True:  # at least one call, so that a 0-step chain still returns a state
            n = min(chunk_steps, remaining)
            out = _run_chain_jit(algorithm, key, state, params, n, start=done)
            check_finite(out.state.position)
            weighted = jax.tree.map(lambda a: a * n, out.info)
            info_sum = weighted if info_sum is None else jax.tree.map(jnp.add, info_sum, weighted)
            state, done, remaining = out.state, done + n, remaining - n
            if remaining == 0:
                break
        if num_saved:
            snaps.append(state.position)
    info = jax.tree.map(lambda a: a / max(num_steps, 1), info_sum)
    return ChainResult(state, info, jnp.stack(snaps) if num_saved else None)
