r"""Evaluating a trained latent-variable EBM on the horn: free energies on a dense grid and on held-out data.

:func:`model_free_energy` is F∞ by gradient inference with the energy the
model trained on (the noise-averaged :class:`~ebm_jax.lvebm.NoisyEnergy` for
``noise_l2``, proximal steps for ``l1``). :func:`horn_shape` measures, at a
few slices ``x``, the volume of low energy
(:func:`~ebm_jax.lvebm.metrics.low_energy_fraction`) over the box
``[−s ρ₁(x), s ρ₁(x)] × [−s ρ₂(x), s ρ₂(x)]`` with ``ε = (ε_rel · mean ρ(x))²``
(a band of about ``ε_rel`` of the radius around the data's free energy).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.lvebm import data as lv_data
from ebm_jax.lvebm import metrics
from ebm_jax.lvebm.energies import LatentEBM, NoisyEnergy
from ebm_jax.lvebm.inference import gradient_inference


@precision.highest
def model_free_energy(model: LatentEBM, params, x, y, starts, *, num_steps: int = 100,
                      learning_rate: float = 0.1, noise_draws: int = 8) -> jax.Array:
    """F∞(x, y) ``(B,)`` by gradient inference from ``starts`` ``(S, latent_dim)``."""
    reg = model.regularizer
    energy = NoisyEnergy(model, num_draws=noise_draws) if reg.noisy else model.energy
    if reg.l1_weight:
        return gradient_inference(model.smooth_energy, params, x, y, starts, num_steps=num_steps,
                                  learning_rate=learning_rate / 2, optimizer="sgd", l1_weight=reg.l1_weight,
                                  final_energy=energy).free_energy
    return gradient_inference(energy, params, x, y, starts, num_steps=num_steps,
                              learning_rate=learning_rate).free_energy


@precision.highest
def horn_shape(model: LatentEBM, params, key: jax.Array, *, x_values=(0.1, 0.25, 0.4), grid_size: int = 25,
               box_scale: float = 1.5, epsilon_rel: float = 0.1, num_data: int = 200, num_starts: int = 4,
               z_range: float = 2.0, num_steps: int = 60, learning_rate: float = 0.1, extra=None) -> dict:
    """Volume of low energy and contrast at each slice ``x`` (and their means); the maps for figures.

    All free energies (every slice's grid and data, and ``extra = (x, y)`` if
    given) come from one batched gradient-inference call.

    Returns ``{"volume": mean fraction, "contrast": mean (median grid F − median data F),
    "volume_per_x": [...], "maps": [(x, y1 (G,), y2 (G,), F (G, G), data (P, 2))...],
    "extra_free_energy": F of ``extra`` (or None)}``.
    """
    grid_size = checks.integer(grid_size, "grid_size", ge=2)
    box_scale = checks.positive_float(box_scale, "box_scale")
    epsilon_rel = checks.positive_float(epsilon_rel, "epsilon_rel")
    z_range = checks.positive_float(z_range, "z_range")
    num_data = checks.positive_int(num_data, "num_data")
    k_start, k_data = jax.random.split(key)
    starts = jax.random.uniform(k_start, (checks.positive_int(num_starts, "num_starts"), model.latent_dim),
                                minval=-z_range, maxval=z_range)
    xs, ys, slices = [], [], []
    for i, xv in enumerate(x_values):
        xv = checks.real(xv, f"x_values[{i}]", ge=0, le=1)
        r = np.asarray(lv_data.rho(jnp.array([xv])))
        points = lv_data.box_grid(grid_size, box_scale * r)
        _, yd, _ = lv_data.sample_horn(jax.random.fold_in(k_data, i), num_data, x=xv)
        xs.append(np.full((len(points) + num_data, 1), xv, np.float32))
        ys.append(np.concatenate([points, np.asarray(yd)]))
        slices.append((xv, r, np.asarray(yd)))
    if extra is not None:
        xs.append(np.asarray(extra[0], np.float32))
        ys.append(np.asarray(extra[1], np.float32))
    f_all = np.asarray(model_free_energy(model, params, np.concatenate(xs), np.concatenate(ys), starts,
                                         num_steps=num_steps, learning_rate=learning_rate))
    volumes, contrasts, maps = [], [], []
    offset, g = 0, grid_size * grid_size
    for xv, r, yd in slices:
        f_grid, f_data = f_all[offset:offset + g], f_all[offset + g:offset + g + num_data]
        offset += g + num_data
        volumes.append(metrics.low_energy_fraction(f_grid, f_data, (epsilon_rel * float(r.mean())) ** 2))
        contrasts.append(metrics.contrast(f_grid, f_data))
        axis1 = np.linspace(-box_scale * r[0], box_scale * r[0], grid_size)
        axis2 = np.linspace(-box_scale * r[1], box_scale * r[1], grid_size)
        maps.append((xv, axis1, axis2, f_grid.reshape(grid_size, grid_size), yd))
    return {"volume": float(np.mean(volumes)), "contrast": float(np.mean(contrasts)),
            "volume_per_x": volumes, "maps": maps,
            "extra_free_energy": f_all[offset:] if extra is not None else None}
