r"""Latent inference and free energies, batched and jitted.

For an energy ``E(x, y, z)`` acting on one example (``energy(params, x, y, z)
-> scalar``, e.g. :meth:`ebm_jax.lvebm.LatentEBM.energy`)::

    ž(y)   = argmin_z E(x, y, z)                                  (inference)
    F∞(y)  = min_z E(x, y, z) = E(x, y, ž)                        (zero-temperature free energy)
    F_β(y) = −(1/β) log (1/|Z|) Σ_{z ∈ Z} exp(−β E(x, y, z))      (relaxed free energy, a softmin)

``F_β`` decreases to ``F∞`` as ``β → ∞`` (``F∞ ≤ F_β ≤ F∞ + log(|Z|)/β``)
and tends to the mean energy over the grid as ``β → 0``
(``F_β = mean E − (β/2) Var E + O(β²)``).

Three ways to find ``ž``:

* :func:`grid_inference`: exhaustive search over a grid ``Z`` (``(K, d)``),
  one compiled computation ``vmap`` over samples × grid: energies ``(B, K)``,
  then ``min``/``argmin`` and ``logsumexp``. Exact on the grid; the only way
  to get ``F_β``.
* :func:`gradient_inference`: gradient descent on ``z`` with an optax
  optimizer from ``S`` starts per example (``vmap`` over samples × starts,
  ``lax.scan`` over steps); keeps the start with the lowest final energy. With
  ``l1_weight > 0`` each step is a proximal-gradient (ISTA) step: a gradient
  step on the smooth part, then :func:`ebm_jax.sparse.soft_threshold`.
* :func:`lasso_inference`: a linear decoder with the L1 regularizer is sparse
  coding; ``ž`` comes from the sparse solver :func:`ebm_jax.sparse.fista`.

Every public function checks its arguments (``y`` width, finiteness, an empty
or non-finite grid, ``β > 0``, ...) before anything is compiled.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ebm_jax import checks
from ebm_jax.train.optim import OPTIMIZERS, make_optimizer

Energy = Callable[[object, jax.Array, jax.Array, jax.Array], jax.Array]


class Inference(NamedTuple):
    """``z``: the inferred latents ž ``(B, d)``; ``free_energy``: ``(B,)``
    (F∞, or F_β where a β was given); ``energies``: ``E(y_b, z_k)`` on the
    grid ``(B, K)`` for grid inference, the final energies of the starts
    ``(B, S)`` for gradient inference."""

    z: jax.Array
    free_energy: jax.Array
    energies: jax.Array | None = None


# ---------------------------------------------------------------------------- argument checks


def check_batch(x, y, *, y_dim: int | None = None, conditional: bool | None = None):
    """``(x, y)`` as float arrays: ``y`` ``(B, y_dim)`` finite and non-empty; ``x`` ``(B, ·)`` or ``None``."""
    y = checks.float_array(y, "y", ndim=2)
    if y_dim is not None and y.shape[1] != y_dim:
        raise ValueError(f"y must have shape (batch, {y_dim}), got {y.shape}")
    if conditional and x is None:
        raise ValueError("x is required for a conditional model (got None)")
    if x is not None:
        x = checks.float_array(x, "x", ndim=2)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must hold the same number of examples, got {x.shape[0]} and {y.shape[0]}")
        if conditional is False:
            x = None
    return x, y


def check_z_grid(z_grid, latent_dim: int | None = None) -> jax.Array:
    """A non-empty, finite grid of latents ``(K, d)`` (a 1-D grid is read as ``(K, 1)``)."""
    z_grid = checks.array(z_grid, "z_grid", ndim=(1, 2), dtype="float")
    if z_grid.ndim == 1:
        z_grid = z_grid[:, None]
    if z_grid.shape[0] == 0 or z_grid.shape[1] == 0:
        raise ValueError(f"z_grid is empty (shape {z_grid.shape}); give at least one latent")
    checks.check_finite(z_grid, "z_grid")
    if latent_dim is not None and z_grid.shape[1] != latent_dim:
        raise ValueError(f"z_grid must have shape (K, {latent_dim}) (latent_dim={latent_dim}), got {z_grid.shape}")
    return z_grid


def check_beta(beta) -> float | None:
    """``None`` (zero temperature) or a finite ``β > 0``."""
    return None if beta is None else checks.positive_float(beta, "beta")


def _model_dims(energy) -> dict:
    """``y_dim``, ``latent_dim``, ``conditional`` of the model an energy belongs to (bound method), if any."""
    owner = getattr(energy, "__self__", None) or getattr(energy, "model", None)
    if owner is None or not hasattr(owner, "y_dim"):
        return {}
    return {"y_dim": owner.y_dim, "latent_dim": owner.latent_dim, "conditional": owner.conditional}


# ---------------------------------------------------------------------------- free energies


def softmin_free_energy(energies: jax.Array, beta, axis: int = -1) -> jax.Array:
    """``F_β = −(1/β) [logsumexp(−β E) − log K]`` over ``axis`` (``K`` entries); ``β > 0``."""
    if checks.is_concrete(beta):
        beta = check_beta(beta)
        if beta is None:
            raise TypeError("beta must be a number > 0 for the soft minimum (use min over the axis for β = ∞)")
    energies = checks.float_array(energies, "energies", min_ndim=1)
    axis = checks.integer(axis, "axis", ge=-energies.ndim, lt=energies.ndim)
    k = energies.shape[axis]
    return -(jax.nn.logsumexp(-beta * energies, axis=axis) - jnp.log(k)) / beta


@functools.partial(jax.jit, static_argnames="energy")
def _grid_energies(energy: Energy, params, x, y, z_grid):
    def one_example(xi, yi):
        return jax.vmap(lambda z: energy(params, xi, yi, z))(z_grid)

    return jax.vmap(one_example)(x, y)


def grid_energies(energy: Energy, params, x, y, z_grid) -> jax.Array:
    """``E(x_b, y_b, z_k)`` for every example and grid point: ``(B, K)``.

    ``x`` ``(B, x_dim)`` or ``None`` (unconditional), ``y`` ``(B, y_dim)``,
    ``z_grid`` ``(K, d)``. One compiled ``vmap`` over samples × grid; parts of
    the energy that do not depend on the sample (an unconditional decoder's
    ``g(z_k)``) are computed once per grid point.
    """
    dims = _model_dims(energy)
    x, y = check_batch(x, y, y_dim=dims.get("y_dim"), conditional=dims.get("conditional"))
    z_grid = check_z_grid(z_grid, dims.get("latent_dim"))
    return _grid_energies(energy, params, x, y, z_grid)


def first_argmin(e: jax.Array, e_min: jax.Array) -> jax.Array:
    """The first index of the minimum along the last axis, given the minimum ``e_min``.

    ``min(where(e <= e_min, k, K))``: two plain reductions that XLA fuses with the
    energy; ``jnp.argmin`` (a variadic reduce) is about 10x slower on CPU here.
    """
    k = e.shape[-1]
    return jnp.min(jnp.where(e <= e_min[..., None], jnp.arange(k, dtype=jnp.int32), k), axis=-1)


@functools.partial(jax.jit, static_argnames=("energy", "zero_temperature", "return_energies"))
def _grid_inference(energy, params, x, y, z_grid, beta, *, zero_temperature, return_energies=False):
    e = _grid_energies(energy, params, x, y, z_grid)
    e_min = jnp.min(e, axis=-1)
    idx = first_argmin(e, e_min)
    f = e_min if zero_temperature else softmin_free_energy(e, beta)
    return Inference(z_grid[idx], f, e if return_energies else None)


def grid_inference(energy: Energy, params, x, y, z_grid, *, beta=None, return_energies: bool = False) -> Inference:
    """Exhaustive search over ``z_grid``: ž = argmin, and F∞ (``beta=None``) or F_β.

    Args:
      energy: ``energy(params, x, y, z) -> scalar`` for one example.
      params: its parameters.
      x: ``(B, x_dim)`` or ``None`` for an unconditional energy.
      y: ``(B, y_dim)``, finite.
      z_grid: ``(K, d)`` (or ``(K,)``), non-empty and finite.
      beta: ``None`` for the zero-temperature F∞; else the inverse temperature ``β > 0``.
      return_energies: also return the ``(B, K)`` energies (else they are never stored).
    Returns:
      :class:`Inference` with ``z`` ``(B, d)``, ``free_energy`` ``(B,)``, ``energies`` ``(B, K)`` or None.
    """
    dims = _model_dims(energy)
    beta = check_beta(beta)
    x, y = check_batch(x, y, y_dim=dims.get("y_dim"), conditional=dims.get("conditional"))
    z_grid = check_z_grid(z_grid, dims.get("latent_dim"))
    return _grid_inference(energy, params, x, y, z_grid, 1.0 if beta is None else beta,
                           zero_temperature=beta is None, return_energies=checks.boolean(return_energies, "return_energies"))


def free_energy(energy: Energy, params, x, y, z_grid, *, beta=None) -> jax.Array:
    """F∞ (``beta=None``) or F_β on ``z_grid``: ``(B,)``. See :func:`grid_inference`."""
    return grid_inference(energy, params, x, y, z_grid, beta=beta).free_energy


# ---------------------------------------------------------------------------- gradient descent on z


def _descend(energy, final_energy, params, x, y, z_init, *, num_steps, optimizer, learning_rate, l1_weight):
    """Traceable core of :func:`gradient_inference` (also used inside train steps).

    One optimizer runs on all latents ``(B, S, d)`` at once, on the gradient of
    ``Σ_{b,s} E(x_b, y_b, z_bs)``: the terms are independent, so each latent
    gets its own gradient, and Adam's statistics are elementwise, so this is
    the same as one optimizer per example and start (about 4x faster on CPU
    than vmapping per-example optimizer states).
    """
    from ebm_jax.sparse import soft_threshold  # the L1 prox of the sparse solvers

    tx = make_optimizer(optimizer, learning_rate)
    batch = y.shape[0]
    z0 = jnp.broadcast_to(z_init, (batch, *z_init.shape[-2:])) if z_init.ndim == 2 else z_init

    def energies(fn, p, z):  # (B, S)
        return jax.vmap(lambda xi, yi, zi: jax.vmap(lambda zs: fn(p, xi, yi, zs))(zi))(x, y, z)

    grad_z = jax.grad(lambda z: jnp.sum(energies(energy, params, z)))

    def body(carry, _):
        z, opt_state = carry
        updates, opt_state = tx.update(grad_z(z), opt_state, z)
        z = optax.apply_updates(z, updates)
        if l1_weight:
            z = soft_threshold(z, learning_rate * l1_weight)
        return (z, opt_state), None

    (z, _), _ = jax.lax.scan(body, (z0, tx.init(z0)), None, length=num_steps)
    e = energies(final_energy, params, z)
    e_min = jnp.min(e, axis=-1)
    best = first_argmin(e, e_min)
    return Inference(jnp.take_along_axis(z, best[:, None, None], axis=1)[:, 0], e_min, e)


_descend_jit = jax.jit(_descend, static_argnames=("energy", "final_energy", "num_steps", "optimizer",
                                                  "learning_rate", "l1_weight"))


def gradient_inference(energy: Energy, params, x, y, z_init, *, num_steps: int = 100, learning_rate: float = 0.1,
                       optimizer: str = "adam", l1_weight: float = 0.0,
                       final_energy: Energy | None = None) -> Inference:
    """Gradient descent on ``z`` from several starts per example; keeps the best start.

    Args:
      energy: ``energy(params, x, y, z) -> scalar`` for one example; with
        ``l1_weight > 0`` its smooth part only (e.g. :meth:`LatentEBM.smooth_energy`).
      params: its parameters (not differentiated).
      x: ``(B, x_dim)`` or ``None``; y: ``(B, y_dim)``.
      z_init: starts, ``(S, d)`` shared by every example or ``(B, S, d)``.
      num_steps: optimizer steps.
      learning_rate: step size (> 0).
      optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (:func:`ebm_jax.train.optim.make_optimizer`).
      l1_weight: ``λ >= 0`` of a ``λ‖z‖₁`` term handled by its prox after each
        step (proximal gradient: needs ``optimizer="sgd"``).
      final_energy: the energy that ranks the starts and gives ``free_energy``
        (default ``energy``; with ``l1_weight`` the full energy, e.g. :meth:`LatentEBM.energy`).
    Returns:
      :class:`Inference` with ``z`` ``(B, d)``, ``free_energy`` ``(B,)`` = F∞
      estimate (an upper bound on the true minimum), ``energies`` ``(B, S)``.
    """
    dims = _model_dims(final_energy or energy)
    x, y = check_batch(x, y, y_dim=dims.get("y_dim"), conditional=dims.get("conditional"))
    z_init = checks.array(z_init, "z_init", ndim=(2, 3), dtype="float")
    if z_init.size == 0:
        raise ValueError(f"z_init is empty (shape {z_init.shape}); give at least one start")
    checks.check_finite(z_init, "z_init")
    if z_init.ndim == 3 and z_init.shape[0] != y.shape[0]:
        raise ValueError(f"z_init of shape (B, S, d) must have B = {y.shape[0]} (the batch), got {z_init.shape}")
    if dims and z_init.shape[-1] != dims["latent_dim"]:
        raise ValueError(f"z_init must end in latent_dim={dims['latent_dim']}, got shape {z_init.shape}")
    num_steps = checks.positive_int(num_steps, "num_steps")
    learning_rate = checks.positive_float(learning_rate, "learning_rate")
    checks.one_of(optimizer, "optimizer", OPTIMIZERS)
    l1_weight = checks.nonnegative_float(l1_weight, "l1_weight")
    if l1_weight and optimizer != "sgd":
        raise ValueError(f"l1_weight > 0 uses proximal gradient steps: optimizer must be 'sgd', got {optimizer!r}")
    return _descend_jit(energy, final_energy or energy, params, x, y, z_init, num_steps=num_steps,
                        optimizer=optimizer, learning_rate=learning_rate, l1_weight=l1_weight)


def random_starts(key: jax.Array, num_starts: int, latent_dim: int, *, low: float = 0.0,
                  high: float = 2 * jnp.pi, batch: int | None = None) -> jax.Array:
    """Uniform starts in ``[low, high)^d``: ``(S, d)``, or ``(B, S, d)`` when ``batch`` is given."""
    num_starts = checks.positive_int(num_starts, "num_starts")
    latent_dim = checks.positive_int(latent_dim, "latent_dim")
    shape = (num_starts, latent_dim) if batch is None else (checks.positive_int(batch, "batch"), num_starts, latent_dim)
    key = checks.prng_key(key)
    low = checks.real(low, "low")
    high = checks.real(high, "high", gt=low)
    return jax.random.uniform(key, shape, minval=low, maxval=high)


# ---------------------------------------------------------------------------- sparse coding


def lasso_inference(model, params, y, *, tol: float | None = None, num_iters: int = 10_000) -> Inference:
    """ž and F∞ for a linear decoder with the L1 regularizer, by the sparse solver.

    ``E(y, z) = ‖y − D z‖² + λ‖z‖₁ = 2 [½‖y − D z‖² + (λ/2)‖z‖₁]``, so ž is the
    lasso solution with ``λ/2``: :func:`ebm_jax.sparse.fista` solves it to a
    relative duality gap of ``tol`` (None: the dtype's default, 1e-4 in float32).
    """
    from ebm_jax import sparse
    from ebm_jax.lvebm.energies import LatentEBM
    from ebm_jax.sparse import validation

    checks.instance(model, "model", LatentEBM, "LatentEBM")

    if model.decoder != "linear" or model.regularizer.kind != "l1":
        raise ValueError(f"lasso_inference needs decoder='linear' and the 'l1' regularizer, "
                         f"got decoder={model.decoder!r}, regularizer={model.regularizer.kind!r}")
    _, y = check_batch(None, y, y_dim=model.y_dim)
    tol = validation.check_tol(tol, y.dtype)
    num_iters = checks.positive_int(num_iters, "num_iters")
    result = sparse.fista(y, params["D"], model.regularizer.weight / 2, tol=tol, num_iters=num_iters, restart=True)
    z = getattr(result, "codes", result)
    f = jax.vmap(lambda yi, zi: model.energy(params, None, yi, zi))(y, z)
    return Inference(z, f, None)
