r"""Training losses of latent-variable EBMs, on free energies ``F(y)``.

With ``F⁺ = F(x, y)`` of the data and ``F⁻ = F(x, ŷ)`` of contrastive samples ``ŷ``:

* energy loss:  ``L = F⁺`` (pull the data's free energy down; collapses without
  a regularizer or a contrastive term);
* hinge:        ``L = (m − [F⁻ − F⁺])⁺``;
* log loss:     ``L = log(1 + exp[F⁺ − F⁻])`` (a soft hinge).

The hinge and the log loss are :func:`ebm_jax.losses.hinge_loss` and
:func:`ebm_jax.losses.log_loss` (per example, averaged over ``K`` contrastive
samples); this module names them for free energies and adds the energy loss.
"""

from __future__ import annotations

import jax

from ebm_jax import checks
from ebm_jax import losses as _losses

LOSSES = ("energy", "hinge", "log")


def _check_free_energies(f_pos, f_neg=None, *, contrastive: bool = True):
    """``f_pos`` ``(B,)`` and (``contrastive``) ``f_neg`` ``(B,)`` or ``(B, K)``: float, non-empty,
    finite where concrete."""
    f_pos = checks.float_array(f_pos, "f_pos", ndim=1)
    if contrastive:
        f_neg = checks.float_array(f_neg, "f_neg", ndim=(1, 2))
        if f_neg.shape[0] != f_pos.shape[0]:
            raise ValueError(f"f_neg must be (batch,) or (batch, K) with batch={f_pos.shape[0]} (f_pos's), "
                             f"got shape {f_neg.shape}")
    return f_pos, f_neg


def energy_loss(f_pos: jax.Array) -> jax.Array:
    """``L = F(y)`` per example: ``(B,) -> (B,)``."""
    f_pos, _ = _check_free_energies(f_pos, contrastive=False)
    return f_pos


def hinge_loss(f_pos: jax.Array, f_neg: jax.Array, margin: float = 1.0) -> jax.Array:
    """``(m − [F(ŷ) − F(y)])⁺`` per example; ``f_neg`` ``(B,)`` or ``(B, K)``; ``margin >= 0``."""
    f_pos, f_neg = _check_free_energies(f_pos, f_neg)
    margin = checks.real_or_traced(margin, "margin", ge=0)
    return _losses.hinge_loss(f_pos, f_neg, margin)


def log_loss(f_pos: jax.Array, f_neg: jax.Array) -> jax.Array:
    """``log(1 + exp[F(y) − F(ŷ)])`` per example; ``f_neg`` ``(B,)`` or ``(B, K)``."""
    f_pos, f_neg = _check_free_energies(f_pos, f_neg)
    return _losses.log_loss(f_pos, f_neg)


def lvebm_loss(name: str, f_pos: jax.Array, f_neg: jax.Array | None = None, *, margin: float = 1.0) -> jax.Array:
    """The loss ``name`` (one of :data:`LOSSES`), per example."""
    checks.one_of(name, "name (the loss)", LOSSES)
    if name == "energy":
        return energy_loss(f_pos)
    if f_neg is None:
        raise ValueError(f"loss {name!r} needs the contrastive samples' free energies f_neg")
    return hinge_loss(f_pos, f_neg, margin) if name == "hinge" else log_loss(f_pos, f_neg)
