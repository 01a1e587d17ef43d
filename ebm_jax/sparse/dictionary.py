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

An epoch is one jitted ``lax.scan`` over minibatches of device-resident data.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax.sparse import _checks
from ebm_jax.sparse.lasso import _duality_gap, _objective, _power_iteration, _scan_solver, fista

UPDATES = ("bcd", "pgd")


class DictState(NamedTuple):
    D: jax.Array  # (n, k) unit-norm atoms
    A: jax.Array  # (k, k) running Σ z zᵀ / b
    B: jax.Array  # (n, k) running Σ x zᵀ / b
    step: jax.Array  # () number of minibatches seen


def normalize_atoms(D: jax.Array) -> jax.Array:
    """Columns of D (n, k) scaled to unit ℓ2 norm (zero columns stay zero)."""
    norms = jnp.linalg.norm(D, axis=0, keepdims=True)
    return D / jnp.where(norms > 0, norms, 1.0)


INITS = ("data", "gaussian")


def init_dictionary(key, x, num_atoms: int, init: str = "data") -> DictState:
    """Unit-norm initial atoms: ``"data"``, distinct random examples of x (N, n);
    ``"gaussian"``, i.i.d. normal atoms."""
    x = _checks.as_float_array(x, "x", ndim=2)
    num_atoms = _checks.check_num_iters(num_atoms, "num_atoms")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
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


@functools.partial(jax.jit, static_argnames=("batch_size", "inference_iters", "update", "nonneg", "nonneg_atoms"))
def dictionary_epoch(state: DictState, x, lam, key, *, batch_size: int, inference_iters: int,
                     update: str = "bcd", forget: float = 0.5, nonneg: bool = False, nonneg_atoms: bool = False):
    """One pass over x (N, n) in minibatches; returns (state, per-batch mean energy (num_batches,))."""
    N = x.shape[0]
    nb = N // batch_size
    perm = jax.random.permutation(key, N)[: nb * batch_size].reshape(nb, batch_size)
    lam2 = jnp.reshape(jnp.asarray(lam, x.dtype), (1, 1))
    lam2 = jnp.broadcast_to(lam2, (batch_size, 1))

    def step(state, inp):
        idx, bkey = inp
        xb = x[idx]
        D = state.D
        eta = 1.0 / (_power_iteration(D, 30) * 1.01)
        z0 = jnp.zeros((batch_size, D.shape[1]), x.dtype)
        Z, _ = _scan_solver(xb, D, lam2, eta, z0, None, num_iters=inference_iters, momentum=True, restart=True,
                            nonneg=nonneg, gram=True, record=False)
        energy = jnp.mean(_objective(xb, D, Z, lam2))
        A = forget * state.A + Z.T @ Z / batch_size
        B = forget * state.B + xb.T @ Z / batch_size
        if update == "bcd":
            D = _bcd_sweep(D, A, B, xb, bkey, nonneg_atoms)
        else:
            C = Z.T @ Z / batch_size
            Lc = jnp.maximum(jnp.linalg.eigvalsh(C)[-1], jnp.finfo(x.dtype).tiny)
            grad = (D @ C - xb.T @ Z / batch_size)
            D = D - grad / Lc
            D = normalize_atoms(jnp.maximum(D, 0.0) if nonneg_atoms else D)
        return DictState(D, A, B, state.step + 1), energy

    keys = jax.random.split(key, nb)
    return jax.lax.scan(step, state, (perm, keys))


def learn_dictionary(x, num_atoms: int, lam: float, *, num_epochs: int = 5, batch_size: int = 256,
                     inference_iters: int = 50, update: str = "bcd", forget: float = 0.5, init: str = "data",
                     nonneg: bool = False, nonneg_atoms: bool = False, seed: int = 0,
                     callback=None) -> tuple[DictState, np.ndarray]:
    """Learn D (n, num_atoms) on x (N, n). Returns (state, per-batch energies (epochs·batches,)).

    ``callback(epoch, state, energies)`` is called after every epoch (for logging).
    """
    x = _checks.as_float_array(x, "x", ndim=2)
    lam = float(_checks.check_lam(lam, 1, x.dtype)[0, 0])
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    batch_size = min(_checks.check_num_iters(batch_size, "batch_size"), x.shape[0])
    num_epochs = _checks.check_num_iters(num_epochs, "num_epochs")
    inference_iters = _checks.check_num_iters(inference_iters, "inference_iters")
    if not 0.0 <= forget <= 1.0:
        raise ValueError(f"forget must be in [0, 1], got {forget}")
    key = jax.random.PRNGKey(seed)
    state = init_dictionary(jax.random.fold_in(key, 2**31 - 1), x, num_atoms, init)
    history = []
    for e in range(num_epochs):
        state, energies = dictionary_epoch(state, x, lam, jax.random.fold_in(key, e), batch_size=batch_size,
                                           inference_iters=inference_iters, update=update, forget=forget,
                                           nonneg=bool(nonneg), nonneg_atoms=bool(nonneg_atoms))
        history.append(np.asarray(energies))
        if callback is not None:
            callback(e, state, history[-1])
    return state, np.concatenate(history)


def evaluate_dictionary(x, D, lam, *, tol: float = 1e-4, nonneg: bool = False) -> dict:
    """Codes x (N, n) on D (n, k) with FISTA (relative gap ``tol``) and reports
    ``energy`` (mean free energy), ``rel_recon_error`` (Σ‖x − Dz‖²/Σ‖x‖²),
    ``mse`` (per pixel), ``mean_nonzeros`` (per example) and ``frac_nonzero``."""
    x, D = _checks.check_x_D(x, D)
    z = fista(x, D, lam, tol=tol, restart=True, polish=True, nonneg=nonneg)
    r = x - z @ D.T
    lam2 = jnp.broadcast_to(_checks.check_lam(lam, x.shape[0], x.dtype), (x.shape[0], 1))
    primal, gap = _duality_gap(x, D, z, lam2, nonneg)
    nnz = jnp.sum(z != 0, axis=-1)
    return {
        "energy": float(jnp.mean(primal)),
        "rel_gap": float(jnp.sum(gap) / jnp.sum(primal)),
        "rel_recon_error": float(jnp.sum(r * r) / jnp.sum(x * x)),
        "mse": float(jnp.mean(r * r)),
        "mean_nonzeros": float(jnp.mean(nnz)),
        "frac_nonzero": float(jnp.mean(nnz) / D.shape[1]),
    }
