r"""Regularizers ``R(z)`` of the latent: the energy is ``E(x, y, z) = ‖y − g(f(x), z)‖² + λ R(z)``.

Without a regularizer a latent as wide as (or wider than) ``y`` lets the
decoder reach every ``y``: ``F(y) = min_z E`` is zero everywhere and the
energy is flat (collapse). Each kind below limits the information the latent
can carry, so that only a thin region of ``y`` gets low energy:

* ``"none"``: ``R = 0``.
* ``"l1"``: ``R(z) = ‖z‖₁`` (sparsity, the proxy for a small effective
  dimension). With a linear decoder ``g(z) = D z`` this is sparse coding,
  ``E = ‖y − D z‖² + λ‖z‖₁`` (twice the lasso energy ``½‖y − Dz‖² + (λ/2)‖z‖₁``).
* ``"limited_dim"``: only the first ``max_dim`` coordinates of ``z`` reach
  the decoder (``R = 0``; the constraint is the regularizer).
* ``"noise_l2"``: the VAE's view: the decoder sees ``z + σ ε``, ``ε ~ N(0, I)``,
  and ``R(z) = ‖z‖²`` bounds the code. With a Gaussian posterior of fixed
  variance σ² the VAE's KL term is ``½‖μ‖²`` plus a constant, i.e. this ``λ R``
  with ``λ = ½``; the noise makes nearby codes decode alike, so a bounded code
  can only tile a bounded number of distinguishable outputs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ebm_jax import checks

REGULARIZERS = ("none", "l1", "limited_dim", "noise_l2")


def _sum_last(v):
    """Sum over the last axis, written out when it is short (XLA:CPU reduces a short minor axis slowly)."""
    if v.shape[-1] <= 8:
        return sum(v[..., i] for i in range(v.shape[-1]))
    return jnp.sum(v, axis=-1)


@dataclasses.dataclass(frozen=True)
class Regularizer:
    """``R(z)`` and how it acts on the latent.

    Attributes:
      kind: one of :data:`REGULARIZERS`.
      weight: ``λ >= 0`` (``l1``: of ``‖z‖₁``; ``noise_l2``: of ``‖z‖²``).
      max_dim: ``limited_dim`` only: how many leading coordinates of ``z`` the decoder sees.
      noise_std: ``noise_l2`` only: ``σ >= 0`` of the noise added to ``z``.
    """

    kind: str = "none"
    weight: float = 0.0
    max_dim: int = 1
    noise_std: float = 0.0

    def __post_init__(self):
        checks.one_of(self.kind, "kind (the regularizer)", REGULARIZERS)
        object.__setattr__(self, "weight", checks.nonnegative_float(self.weight, "reg_weight"))
        object.__setattr__(self, "max_dim", checks.positive_int(self.max_dim, "max_dim"))
        object.__setattr__(self, "noise_std", checks.nonnegative_float(self.noise_std, "noise_std"))

    @property
    def l1_weight(self) -> float:
        """λ of the non-smooth ``λ‖z‖₁`` term (0 unless ``kind == "l1"``)."""
        return self.weight if self.kind == "l1" else 0.0

    @property
    def noisy(self) -> bool:
        return self.kind == "noise_l2" and self.noise_std > 0

    def penalty(self, z: jax.Array) -> jax.Array:
        """``λ R(z)`` for one latent ``z`` ``(d,)`` (or batched ``(..., d)`` -> ``(...)``)."""
        if self.kind == "l1":
            return self.weight * _sum_last(jnp.abs(z))
        if self.kind == "noise_l2":
            return self.weight * _sum_last(jnp.square(z))
        return jnp.zeros(z.shape[:-1], z.dtype)

    def smooth_penalty(self, z: jax.Array) -> jax.Array:
        """The differentiable part of ``λ R(z)`` (all of it except the L1 term)."""
        return jnp.zeros(z.shape[:-1], z.dtype) if self.kind == "l1" else self.penalty(z)

    def restrict(self, z: jax.Array) -> jax.Array:
        """The latent the decoder sees: ``z`` with coordinates beyond ``max_dim`` zeroed (``limited_dim``)."""
        if self.kind != "limited_dim" or z.shape[-1] <= self.max_dim:
            return z
        mask = jnp.arange(z.shape[-1]) < self.max_dim
        return jnp.where(mask, z, 0.0)
