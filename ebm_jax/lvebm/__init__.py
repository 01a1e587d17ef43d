r"""Regularized latent-variable EBMs: ``E(x, y, z) = ‖y − g(f(x), z)‖² + λ R(z)``.

A latent ``z`` explains what ``x`` leaves open about ``y`` (the course's
horn: ``x`` fixes the size of an ellipse, ``z`` the angle on it). Inference
minimises it away, ``ž = argmin_z E``, leaving the free energy
``F∞(y) = E(y, ž)`` (or marginalises it, ``F_β = −(1/β) log mean_z exp(−βE)``),
which should be low on the data manifold and higher elsewhere. A latent that
can carry too much information makes ``F`` zero everywhere (collapse); the
regularizer ``R`` limits it (:mod:`~ebm_jax.lvebm.regularizers`).

Two models elsewhere in this library are instances of ``E + λR``:

* **sparse coding** (:mod:`ebm_jax.sparse`): ``½‖y − D z‖² + λ‖z‖₁``, a linear
  decoder with the L1 regularizer (``LatentEBM(decoder="linear",
  regularizer=Regularizer("l1", λ))`` is twice it with ``λ/2``);
  :func:`~ebm_jax.lvebm.inference.lasso_inference` infers ž with the sparse
  solver FISTA, and gradient inference with L1 uses its prox
  (:func:`ebm_jax.sparse.soft_threshold`);
* the **VAE** (:mod:`ebm_jax.models.vae`): a decoder fed ``z + σε`` with the
  KL term bounding ``‖z‖²`` (the ``"noise_l2"`` regularizer, here with a fixed
  σ and ž from inference instead of an encoder).

Data: :mod:`ebm_jax.data.lvebm` (the course's ellipse and horn, latent grids). Modules:
:mod:`~ebm_jax.lvebm.energies` (:class:`LatentEBM`: decoders, predictor,
energies), :mod:`~ebm_jax.lvebm.regularizers`, :mod:`~ebm_jax.lvebm.inference`
(grid and gradient inference, F∞ and F_β), :mod:`~ebm_jax.lvebm.losses`
(energy, hinge, log loss). Evaluation (volume of low energy, contrast, distance
to the horn, the horn's shape): :mod:`ebm_jax.eval.lvebm`. Figures: :mod:`ebm_jax.viz`.
Training: :mod:`ebm_jax.methods.lvebm` with :func:`ebm_jax.train.fit`.
"""

from ebm_jax.data.lvebm import course_z_grid, rho, sample_ellipse, sample_horn, uniform_z_grid
from ebm_jax.lvebm.energies import LatentEBM, NoisyEnergy, mlp_apply, mlp_init
from ebm_jax.lvebm.inference import (
    Inference,
    free_energy,
    gradient_inference,
    grid_energies,
    grid_inference,
    lasso_inference,
    random_starts,
    softmin_free_energy,
)
from ebm_jax.lvebm.losses import energy_loss, hinge_loss, log_loss, lvebm_loss
from ebm_jax.lvebm.regularizers import REGULARIZERS, Regularizer

__all__ = [
    "REGULARIZERS",
    "Inference",
    "LatentEBM",
    "NoisyEnergy",
    "Regularizer",
    "course_z_grid",
    "energy_loss",
    "free_energy",
    "gradient_inference",
    "grid_energies",
    "grid_inference",
    "hinge_loss",
    "lasso_inference",
    "log_loss",
    "lvebm_loss",
    "mlp_apply",
    "mlp_init",
    "random_starts",
    "rho",
    "sample_ellipse",
    "sample_horn",
    "softmin_free_energy",
    "uniform_z_grid",
]
