r"""Minibatch dictionary learning with unit-norm atoms.

Minimises over D (n, k) with ‖d_j‖ = 1 the average free energy
``(1/N) Σ_i min_z ½‖x_i − D z‖² + λ‖z‖₁`` by alternating, per minibatch X (b, n):

1. inference: Z = FISTA(X, D, λ) with a fixed number of iterations (Z: (b, k));
2. dictionary update, either

   * ``"bcd"`` (Mairal et al. 2010, online dictionary learning): sufficient statistics
     ``A ← β A + ZᵀZ/b`` (k, k), ``B ← β B + XᵀZ/b`` (n, k); one block-coordinate
     sweep ``d_j ← d_j + (B_j − D A_j)/A_jj`` then ``d_j ← d_j/‖d_j‖``; an atom that
     no code in the window uses (A_jj ≈ 0) is re-drawn from the minibatch;
   * ``"pgd"``: one projected gradient step on ½‖X − Z Dᵀ‖²/b with step
     1/λ_max(ZᵀZ/b), then column normalisation.

Options: ``nonneg`` (codes z ≥ 0) and ``nonneg_atoms`` (atoms ≥ 0, projected
before normalisation): the parts-based variant that turns digits into strokes.

:func:`dictionary_step` is one minibatch; :mod:`ebm_jax.methods.dictionary`
trains it with :func:`ebm_jax.train.fit` (checkpoints, resume).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.sparse import validation
from ebm_jax.sparse.lasso import fista, prox_grad_scan
from ebm_jax.sparse.prox import certified_lipschitz, objective

UPDATES = ("bcd", "pgd")


class DictState(NamedTuple):
    D: jax.Array  # (n, k) unit-norm atoms
    A: jax.Array  # (k, k) running Σ z zᵀ / b
    B: jax.Array  # (n, k) running Σ x zᵀ / b
    step: jax.Array  # () number of minibatches seen


def normalize_atoms(D: jax.Array) -> jax.Array:
    """Columns of D (n, k) scaled to unit ℓ2 norm (zero columns stay zero)."""
    D = checks.float_array(D, "D", ndim=2)
    norms = jnp.linalg.norm(D, axis=0, keepdims=True)
    return D / jnp.where(norms > 0, norms, 1.0)


INITS = ("data", "gaussian")


def init_dictionary(key, x, num_atoms: int, init: str = "data") -> DictState:
    """Unit-norm initial atoms: ``"data"``, distinct random examples of x (N, n);
    ``"gaussian"``, i.i.d. normal atoms."""
    x = checks.float_array(x, "x", ndim=2)
    num_atoms = checks.positive_int(num_atoms, "num_atoms")
    checks.one_of(init, "init", INITS)
    noise = jax.random.normal(key, (x.shape[1], num_atoms), x.dtype)
    if init == "gaussian":
        D = normalize_atoms(noise)
    else:
        if num_atoms > x.shape[0]:
            raise ValueError(f"num_atoms={num_atoms} exceeds the number of examples {x.shape[0]}")
        idx = jax.random.choice(key, x.shape[0], (num_atoms,), replace=False)
        D = normalize_atoms(x[idx].T + 1e-6 * noise)
    n, k = D.shape
    return DictState(D, jnp.zeros((k, k), x.dtype), jnp.zeros((n, k), x.dtype), jnp.asarray(0, jnp.int32))


def _bcd_sweep(D, A, B, xb, key, nonneg_atoms):
    k = D.shape[1]
    tiny = 1e-6 * jnp.maximum(jnp.trace(A) / k, jnp.finfo(D.dtype).tiny)
    picks = jax.random.randint(key, (k,), 0, xb.shape[0])

    def body(j, D):
        a_jj = A[j, j]
        u = D[:, j] + (B[:, j] - D @ A[:, j]) / jnp.where(a_jj > tiny, a_jj, 1.0)
        fresh = xb[picks[j]]
        u = jnp.where(a_jj > tiny, u, fresh)
        if nonneg_atoms:
            u = jnp.maximum(u, 0.0)
        nrm = jnp.linalg.norm(u)
        u = jnp.where(nrm > 0, u / jnp.where(nrm > 0, nrm, 1.0), D[:, j])
        return D.at[:, j].set(u)

    return jax.lax.fori_loop(0, k, body, D)


def dictionary_step(state: DictState, xb, key, lam, *, inference_iters: int, update: str = "bcd",
                    forget: float = 0.5, nonneg: bool = False, nonneg_atoms: bool = False):
    """One minibatch of dictionary learning (a traceable kernel): ``(state, mean energy)``.

    xb (b, n); codes by ``inference_iters`` FISTA steps with restart from 0 (step
    1/L, ``L`` from 30 power iterations certified by
    :func:`~ebm_jax.sparse.prox.certified_lipschitz`), then the ``update`` of D
    (module docstring).
    """
    b = xb.shape[0]
    lam2 = jnp.broadcast_to(jnp.reshape(jnp.asarray(lam, xb.dtype), (1, 1)), (b, 1))
    D = state.D
    eta = 1.0 / certified_lipschitz(D, 30, 1.01)
    z0 = jnp.zeros((b, D.shape[1]), xb.dtype)
    Z, _, _ = prox_grad_scan(xb, D, lam2, eta, z0, num_iters=inference_iters, momentum=True, restart=True,
                             nonneg=nonneg, gram=True, record=False)
    energy = jnp.mean(objective(xb, D, Z, lam2))
    A = forget * state.A + Z.T @ Z / b
    B = forget * state.B + xb.T @ Z / b
    if update == "bcd":
        D = _bcd_sweep(D, A, B, xb, key, nonneg_atoms)
    else:
        C = Z.T @ Z / b
        Lc = jnp.maximum(jnp.linalg.eigvalsh(C)[-1], jnp.finfo(xb.dtype).tiny)
        grad = (D @ C - xb.T @ Z / b)
        D = D - grad / Lc
        D = normalize_atoms(jnp.maximum(D, 0.0) if nonneg_atoms else D)
    return DictState(D, A, B, state.step + 1), energy


@precision.highest
def evaluate_dictionary(x, D, lam, *, tol: float = 1e-4, nonneg: bool = False) -> dict:
    """Codes x (N, n) on D (n, k) with FISTA (relative gap ``tol``) and reports
    ``energy`` (mean free energy), ``rel_recon_error`` (Σ‖x − Dz‖²/Σ‖x‖²),
    ``mse`` (per pixel), ``mean_nonzeros`` (per example) and ``frac_nonzero``."""
    x, D = validation.check_x_D(x, D)
    if checks.is_concrete(x) and not np.any(np.asarray(x) != 0):
        raise ValueError("x is all zeros: the relative reconstruction error Σ‖x − Dz‖²/Σ‖x‖² is undefined")
    z, info = fista(x, D, lam, tol=tol, restart=True, polish=True, nonneg=nonneg)
    r = x - z @ D.T
    nnz = jnp.sum(z != 0, axis=-1)
    return {
        "energy": float(jnp.mean(info.objective)),
        "rel_gap": float(info.rel_gap),
        "rel_recon_error": float(jnp.sum(r * r) / jnp.sum(x * x)),
        "mse": float(jnp.mean(r * r)),
        "mean_nonzeros": float(jnp.mean(nnz)),
        "frac_nonzero": float(jnp.mean(nnz) / D.shape[1]),
    }
