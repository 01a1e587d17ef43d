"""Input checks of :mod:`ebm_jax.sparse`, built on the shared :mod:`ebm_jax.checks`.

Shape and dtype checks always run; value checks (λ ≥ 0, finite inputs, a
non-zero dictionary) run only on concrete arrays, so nothing here forces a host
sync inside ``jax.jit``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks


def check_nonzero_dictionary(D) -> None:
    """ValueError for a concrete all-zero dictionary (its Lipschitz step 1/L is undefined)."""
    if checks.is_concrete(D) and not bool(jnp.any(D != 0)):
        raise ValueError("D is the zero dictionary: the lasso step 1/L is undefined")


def check_x_D(x, D) -> tuple[jax.Array, jax.Array]:
    """Validate ``x`` (batch, n) and ``D`` (n, k); returns both in a common float dtype."""
    x = checks.float_array(x, "x", ndim=2)
    D = checks.float_array(D, "D", ndim=2)
    if x.shape[1] != D.shape[0]:
        raise ValueError(
            f"shape mismatch: x has {x.shape[1]} features (x.shape={x.shape}) but D has "
            f"{D.shape[0]} rows (D.shape={D.shape}); D must be (n, k) with atoms as columns"
        )
    check_nonzero_dictionary(D)
    dtype = jnp.result_type(x.dtype, D.dtype)
    return x.astype(dtype), D.astype(dtype)


def check_lam(lam, batch: int, dtype, *, unit: str = "example") -> jax.Array:
    """λ ≥ 0 as a scalar or one per ``unit`` (example, image) -> an array of shape (batch, 1)."""
    lam = checks.float_array(lam, "lam").astype(dtype)
    if lam.ndim == 0:
        out = lam.reshape(1, 1)
    elif lam.shape in ((batch,), (batch, 1)):
        out = lam.reshape(batch, 1)
    else:
        raise ValueError(f"lam must be a scalar or have shape ({batch},) (one per {unit}), got shape {lam.shape}")
    if checks.is_concrete(out) and bool(jnp.any(out < 0)):
        raise ValueError(f"lam must be >= 0, got min {float(jnp.min(out))}")
    return jnp.broadcast_to(out, (batch, 1))


def check_step(step):
    """A positive step (a Python float, or a concrete-or-traced scalar array), or None."""
    if step is None:
        return None
    if isinstance(step, (int, float, np.number)) and not isinstance(step, bool):
        return checks.positive_float(step, "step")
    arr = checks.float_array(step, "step", ndim=0)
    if checks.is_concrete(arr) and not bool(arr > 0):
        raise ValueError(f"step must be a finite number > 0, got {float(arr)}")
    return arr


def check_tol(tol) -> float:
    return checks.nonnegative_float(tol, "tol")


def check_codes(z, name: str, shape: tuple[int, ...], dtype, *, what: str = "") -> jax.Array:
    """Codes (a warm start, a reference) of ``shape`` ((batch, k), or (batch, K, H, W) for
    convolutional codes): float, finite, the right shape; ``what`` says what the shape matches."""
    z = checks.float_array(z, name, ndim=len(shape)).astype(dtype)
    if z.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{what}, got {z.shape}")
    return z
