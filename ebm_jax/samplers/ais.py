r"""Annealed importance sampling (Neal 2001) over any tempered target and its sampler.

A tempered target is a path of unnormalised densities ``p*_β``, ``0 = β_0 <
β_1 < ... < β_K = 1``, from a base ``p_0`` that can be sampled exactly and
whose ``log Z_0`` is known, to the model ``p*_1``. Each of ``M`` runs draws
``x_1 ~ p_0`` and accumulates

    log w = sum_{k=1..K} [log p*_{β_k}(x_k) - log p*_{β_{k-1}}(x_k)],   x_{k+1} ~ T_{β_k}(x_k)

where ``T_β`` is any sampler leaving ``p_β`` invariant. Then ``log Ẑ_1 = log Z_0 +
log mean_m w_m`` (a stochastic lower bound in expectation: ``E[log Ẑ] <= log Z``),
with the delta-method standard deviation ``std(w) / (mean(w) sqrt(M))``. The sum
over steps is Kahan-compensated. The RBM's target (block Gibbs at inverse
temperature β, from a base-rate model) is :data:`ebm_jax.models.rbm.TEMPERED_TARGET`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.samplers.base import SamplingAlgorithm

SCHEDULES = ("sm08", "linear", "sigmoid")
#: Largest AIS schedule; Salakhutdinov & Murray used 14,500 (it runs in interruptible pieces).
MAX_NUM_BETAS = 10_000_000


class TemperedTarget(NamedTuple):
    """A path ``p*_β`` from a tractable base to a model; every function takes the target's ``params``.

    * ``sample_base(key, params) -> x``: one exact draw from ``p_0``;
    * ``log_z_base(params) -> scalar``: ``log Z_0``;
    * ``log_weight_increment(params, x, beta_prev, beta) -> scalar``:
      ``log p*_β(x) - log p*_β'(x)`` for one ``x`` (a target may compute it more
      stably than as a difference);
    * ``transition``: a sampler whose ``init(x, (params, β))`` / ``step(key, state, (params, β))``
      leave ``p_β`` invariant.
    """

    sample_base: Callable[[jax.Array, Any], jax.Array]
    log_z_base: Callable[[Any], jax.Array]
    log_weight_increment: Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]
    transition: SamplingAlgorithm


class AISResult(NamedTuple):
    """``log_z`` and its delta-method ``log_z_std`` (Python floats), the ``(M,)`` ``log_weights`` (numpy,
    float64, including ``log Z_0``) and the transitions' mean ``acceptance_rate``."""

    log_z: float
    log_z_std: float
    log_weights: np.ndarray
    acceptance_rate: float


def beta_schedule(num_betas: int, kind: str = "sm08") -> np.ndarray:
    """An increasing schedule ``β_0 = 0 < ... < β_{K} = 1`` of ``num_betas`` points.

    * ``"sm08"``: Salakhutdinov & Murray's spacing: 500/14,500 of the points on
      ``[0, 0.5)``, 4,000/14,500 on ``[0.5, 0.9)``, 10,000/14,500 on ``[0.9, 1]``;
    * ``"linear"``: uniform spacing;
    * ``"sigmoid"``: ``σ(t)`` for ``t`` uniform on ``[-4, 4]``, rescaled to ``[0, 1]``.
    """
    num_betas = checks.integer(num_betas, "num_betas", ge=2, le=MAX_NUM_BETAS)
    checks.one_of(kind, "kind", SCHEDULES)
    if kind == "linear":
        betas = np.linspace(0.0, 1.0, num_betas)
    elif kind == "sigmoid":
        s = 1 / (1 + np.exp(-np.linspace(-4.0, 4.0, num_betas)))
        betas = (s - s[0]) / (s[-1] - s[0])
    elif num_betas < 8:
        betas = np.linspace(0.0, 1.0, num_betas)
    else:
        n1 = max(2, int(round(num_betas * 500 / 14500)))
        n2 = max(2, int(round(num_betas * 4000 / 14500)))
        n3 = num_betas - n1 - n2
        betas = np.concatenate([np.linspace(0.0, 0.5, n1, endpoint=False),
                                np.linspace(0.5, 0.9, n2, endpoint=False),
                                np.linspace(0.9, 1.0, n3)])
    return betas.astype(np.float64)


def validate_betas(betas) -> np.ndarray:
    """Raise ``ValueError`` unless ``betas`` is 1-D, finite, strictly increasing from 0 to 1."""
    b = np.asarray(checks.array(betas, "betas", dtype="float"), np.float64)
    if b.ndim != 1 or b.size < 2:
        raise ValueError(f"betas must be a 1-D schedule with at least 2 points, got shape {b.shape}")
    if b.size > MAX_NUM_BETAS:
        raise ValueError(f"betas has {b.size} points, more than the bound of {MAX_NUM_BETAS}")
    if not np.isfinite(b).all():
        raise ValueError("betas contains NaN or infinite values")
    if b[0] != 0.0 or b[-1] != 1.0:
        raise ValueError(f"betas must start at 0 and end at 1, got betas[0]={b[0]}, betas[-1]={b[-1]}")
    if not (np.diff(b) > 0).all():
        i = int(np.argmin(np.diff(b) > 0))
        raise ValueError(f"betas must be strictly increasing, but betas[{i}]={b[i]} >= betas[{i + 1}]={b[i + 1]}")
    return b


class AISCarry(NamedTuple):
    """What one AIS run carries from step to step: the position, the Kahan-compensated log-weight sum
    and its compensation, and the summed acceptance rate (averaged over runs)."""

    position: jax.Array
    log_w: jax.Array
    compensation: jax.Array
    acceptance_sum: jax.Array


def ais_init(key: jax.Array, target: TemperedTarget, params, num_runs: int) -> AISCarry:
    """Draw the ``num_runs`` base samples (run ``m`` with ``split(k0, M)[m]``, ``k0 = split(key)[0]``)."""
    k0, _ = jax.random.split(key)
    x = jax.vmap(target.sample_base, in_axes=(0, None))(jax.random.split(k0, num_runs), params)
    zeros = jnp.zeros((num_runs,), jnp.result_type(float))
    return AISCarry(x, zeros, zeros, jnp.zeros((), zeros.dtype))


def ais_steps(key: jax.Array, target: TemperedTarget, params, carry: AISCarry, betas: jax.Array, start=0
              ) -> AISCarry:
    """The AIS steps along ``betas`` (``len(betas) - 1`` transitions) from ``carry`` (traceable).

    Step ``t`` (counting from ``start``) uses ``split(fold_in(kscan, t), M)``, ``kscan = split(key)[1]``,
    so a schedule run in pieces gives the same weights as one call.
    """
    _, kscan = jax.random.split(key)
    num_runs = carry.log_w.shape[0]
    increment = jax.vmap(target.log_weight_increment, in_axes=(None, 0, None, None))
    init = jax.vmap(target.transition.init, in_axes=(0, None))
    step = jax.vmap(target.transition.step, in_axes=(0, 0, None))

    def body(carry, inp):
        t, beta_prev, beta = inp
        y = increment(params, carry.position, beta_prev, beta).astype(carry.log_w.dtype) - carry.compensation
        total = carry.log_w + y                        # Kahan-compensated log_w += increment
        compensation = (total - carry.log_w) - y
        keys = jax.random.split(jax.random.fold_in(kscan, t), num_runs)
        state, info = step(keys, init(carry.position, (params, beta)), (params, beta))
        return AISCarry(state.position, total, compensation,
                        carry.acceptance_sum + jnp.mean(info.acceptance_rate)), None

    steps = start + jnp.arange(betas.shape[0] - 1)
    carry, _ = jax.lax.scan(body, carry, (steps, betas[:-1], betas[1:]))
    return carry


_ais_init_jit = jax.jit(ais_init, static_argnames=("target", "num_runs"))
_ais_steps_jit = jax.jit(ais_steps, static_argnames="target")


def log_mean_exp_with_std(log_w: np.ndarray) -> tuple[float, float]:
    """``log mean exp(log_w)`` and the delta-method std of it, ``std(w) / (mean(w) sqrt(M))``."""
    log_w = np.asarray(checks.float_array(log_w, "log_w", ndim=1), np.float64)
    m = log_w.max()
    r = np.exp(log_w - m)
    return float(m + np.log(r.mean())), float(r.std() / (r.mean() * np.sqrt(len(r))))


@precision.highest
def ais(key: jax.Array, target: TemperedTarget, params, betas, num_runs: int, *, chunk_size: int = 2000
        ) -> AISResult:
    """Estimate ``log Z`` of ``p*_1`` by AIS along ``betas`` with ``num_runs`` parallel runs.

    The schedule runs in compiled pieces of ``chunk_size`` transitions (the same weights as one
    call): Ctrl-C stops it between pieces, and no single call runs for hours.

    Raises:
      ValueError: a bad schedule, ``num_runs`` or ``chunk_size``.
      FloatingPointError: non-finite log-weights (NaN/inf parameters).
    """
    key = checks.prng_key(key)
    checks.instance(target, "target", TemperedTarget)
    num_runs = checks.positive_int(num_runs, "num_runs")
    chunk_size = checks.positive_int(chunk_size, "chunk_size")
    betas = jnp.asarray(validate_betas(betas), jnp.result_type(float))
    carry = _ais_init_jit(key, target, params, num_runs=num_runs)
    num_steps = betas.shape[0] - 1
    for start in range(0, num_steps, chunk_size):
        carry = _ais_steps_jit(key, target, params, carry, betas[start: start + chunk_size + 1], start)
    log_w = np.asarray(jax.device_get(carry.log_w), np.float64) + float(target.log_z_base(params))
    if not np.isfinite(log_w).all():
        raise FloatingPointError("AIS log-weights are not finite; check the parameters for NaN/inf")
    log_z, log_z_std = log_mean_exp_with_std(log_w)
    return AISResult(log_z, log_z_std, log_w, float(carry.acceptance_sum) / num_steps)
