"""Input validation at the public boundary of :mod:`ebm_jax.sparse`.

Shape and dtype checks always run (they are static). Value checks (λ ≥ 0,
finite inputs, a non-zero dictionary) run only when the value is concrete,
i.e. when the public function is called outside of ``jax.jit``; inside a trace
they are skipped, so nothing here ever forces a host sync in a hot loop.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np


def _is_concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


def as_float_array(a, name: str, ndim: int | None = None) -> jax.Array:
    """``a`` as a floating jax array; TypeError for non-floating / non-numeric, ValueError for ndim."""
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}")
    try:
        arr = jnp.asarray(a)
    except TypeError as e:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}") from e
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        if jnp.issubdtype(arr.dtype, jnp.integer) or arr.dtype == jnp.bool_:
            arr = arr.astype(jnp.float32)
        else:
            raise TypeError(f"{name} must be a real floating array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if _is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def check_x_D(x, D) -> tuple[jax.Array, jax.Array]:
    """Validate ``x`` (batch, n) and ``D`` (n, k); returns both in a common float dtype."""
    x = as_float_array(x, "x", ndim=2)
    D = as_float_array(D, "D", ndim=2)
    if x.shape[0] < 1:
        raise ValueError(f"x must hold at least one example, got shape {x.shape}")
    if x.shape[1] != D.shape[0]:
        raise ValueError(
            f"shape mismatch: x has {x.shape[1]} features (x.shape={x.shape}) but D has "
            f"{D.shape[0]} rows (D.shape={D.shape}); D must be (n, k) with atoms as columns"
        )
    if D.shape[1] < 1:
        raise ValueError(f"D must hold at least one atom, got shape {D.shape}")
    if _is_concrete(D) and not bool(jnp.any(D != 0)):
        raise ValueError("D is the zero dictionary: the lasso step 1/L is undefined")
    dtype = jnp.result_type(x.dtype, D.dtype)
    return x.astype(dtype), D.astype(dtype)


def check_lam(lam, batch: int, dtype) -> jax.Array:
    """λ as a scalar or one per example -> an array broadcastable to (batch, 1)."""
    lam = as_float_array(lam, "lam").astype(dtype)
    if lam.ndim == 0:
        out = lam.reshape(1, 1)
    elif lam.shape in ((batch,), (batch, 1)):
        out = lam.reshape(batch, 1)
    else:
        raise ValueError(f"lam must be a scalar or have shape ({batch},) (one per example), got {lam.shape}")
    if _is_concrete(out) and bool(jnp.any(out < 0)):
        raise ValueError(f"lam must be >= 0, got min {float(jnp.min(out))}")
    return out


def check_num_iters(num_iters, name: str = "num_iters", allow_none: bool = False) -> int | None:
    if num_iters is None and allow_none:
        return None
    if isinstance(num_iters, bool) or not isinstance(num_iters, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(num_iters).__name__}")
    if int(num_iters) < 1:
        raise ValueError(f"{name} must be >= 1, got {num_iters}")
    return int(num_iters)


def check_step(step) -> float | jax.Array | None:
    if step is None:
        return None
    if isinstance(step, numbers.Real) and not isinstance(step, bool):
        if not np.isfinite(step) or step <= 0:
            raise ValueError(f"step must be a finite positive number, got {step}")
        return float(step)
    arr = as_float_array(step, "step")
    if arr.ndim != 0:
        raise ValueError(f"step must be a scalar, got shape {arr.shape}")
    if _is_concrete(arr) and not bool(arr > 0):
        raise ValueError(f"step must be positive, got {float(arr)}")
    return arr


def check_z0(z0, batch: int, k: int, dtype) -> jax.Array | None:
    if z0 is None:
        return None
    z0 = as_float_array(z0, "z0", ndim=2).astype(dtype)
    if z0.shape != (batch, k):
        raise ValueError(f"z0 (warm start) must have shape ({batch}, {k}), got {z0.shape}")
    return z0
