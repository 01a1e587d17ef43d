r"""Evaluation of latent-variable EBMs: how shaped is a free energy, and the horn's measures.

* :func:`low_energy_fraction`: the *volume of low energy*, the fraction of a
  dense grid of ``y`` whose free energy is within ``ε`` of the data's
  (``F(y) ≤ median_data F + ε``). A well-shaped energy is low only near the
  data manifold (a thin band: a small fraction); a collapsed one is low
  everywhere (a fraction near 1).
* :func:`contrast`: ``median_grid F − median_data F``, how far the typical
  point of the box sits above the data.
* :func:`distance_to_horn`: squared distance of points to the horn manifold.
* :func:`model_free_energy`: F∞ by gradient inference with the energy the
  model trained on (the noise-averaged :class:`~ebm_jax.lvebm.NoisyEnergy` for
  ``noise_l2``, proximal steps for ``l1``); :func:`horn_shape` measures, at a
  few slices ``x``, the volume of low energy over the box
  ``[−s ρ₁(x), s ρ₁(x)] × [−s ρ₂(x), s ρ₂(x)]`` with ``ε = (ε_rel · mean ρ(x))²``
  (a band of about ``ε_rel`` of the radius around the data's free energy).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, precision
from ebm_jax.data import lvebm as lv_data
from ebm_jax.lvebm.energies import LatentEBM, NoisyEnergy
from ebm_jax.lvebm.inference import gradient_inference


def low_energy_fraction(f_grid, f_data, epsilon) -> float:
    """Fraction of ``f_grid`` ``(G,)`` with ``F ≤ median(f_data) + epsilon``; ``epsilon >= 0``."""
    epsilon = checks.nonnegative_float(epsilon, "epsilon")
    f_grid = np.asarray(checks.float_array(f_grid, "f_grid", ndim=1))
    f_data = np.asarray(checks.float_array(f_data, "f_data", ndim=1))
    return float(np.mean(f_grid <= np.median(f_data) + epsilon))


def contrast(f_grid, f_data) -> float:
    """``median(f_grid) − median(f_data)``: how much higher the box is than the data."""
    f_grid = checks.float_array(f_grid, "f_grid", ndim=1)
    f_data = checks.float_array(f_data, "f_data", ndim=1)
    return float(jnp.median(f_grid) - jnp.median(f_data))


def distance_to_horn(x, y, *, num_z: int = 2048) -> np.ndarray:
    """Squared distance of ``y`` ``(B, 2)`` to the true horn's ellipse at ``x`` ``(B, 1)``: ``(B,)``.

    ``min_θ ‖y − ρ(x) ∘ [cos θ, sin θ]‖²`` over ``num_z`` angles (exact to ``O((ρ π / num_z)²)``):
    how far a prediction or a sample lies from the data manifold.
    """
    x = checks.float_array(x, "x", ndim=2)
    y = checks.float_array(y, "y", ndim=2)
    checks.check_shape(x, "x", (None, 1))
    checks.check_shape(y, "y", (None, 2))
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of examples, got {x.shape[0]} and {y.shape[0]}")
    num_z = checks.positive_int(num_z, "num_z")
    theta = jnp.linspace(0, 2 * jnp.pi, num_z, endpoint=False)
    circle = jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)                     # (Z, 2)
    points = lv_data.rho(x)[:, None, :] * circle[None]                              # (B, Z, 2)
    return np.asarray(jnp.min(jnp.sum(jnp.square(y[:, None, :] - points), -1), -1))


@precision.highest
def model_free_energy(model: LatentEBM, params, x, y, starts, *, num_steps: int = 100,
                      learning_rate: float = 0.1, noise_draws: int = 8) -> jax.Array:
    """F∞(x, y) ``(B,)`` by gradient inference from ``starts`` ``(S, latent_dim)``."""
    checks.instance(model, "model", LatentEBM, "LatentEBM")
    model.check_params(params)
    starts = checks.float_array(starts, "starts", ndim=2)
    checks.check_shape(starts, "starts", (None, model.latent_dim))
    noise_draws = checks.positive_int(noise_draws, "noise_draws")
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
    checks.instance(model, "model", LatentEBM, "LatentEBM")
    if not model.conditional or model.x_dim != 1 or model.y_dim != 2:
        raise ValueError(f"horn_shape needs a model of the horn: conditional with x_dim 1 and y_dim 2, got "
                         f"model with conditional={model.conditional}, x_dim={model.x_dim}, y_dim={model.y_dim}")
    model.check_params(params)
    key = checks.prng_key(key)
    if isinstance(x_values, (str, bytes)) or not hasattr(x_values, "__len__") or len(x_values) == 0:
        raise ValueError(f"x_values must be a non-empty sequence of slices x in [0, 1], got {x_values!r}")
    x_values = [checks.real(xv, f"x_values[{i}]", ge=0, le=1) for i, xv in enumerate(x_values)]
    if extra is not None:
        if not isinstance(extra, (tuple, list)) or len(extra) != 2:
            raise TypeError(f"extra must be a pair (x (E, 1), y (E, 2)) or None, got {type(extra).__name__}")
        extra = (checks.float_array(extra[0], "extra[0] (x)", ndim=2),
                 checks.float_array(extra[1], "extra[1] (y)", ndim=2))
        checks.check_shape(extra[0], "extra[0] (x)", (None, 1))
        checks.check_shape(extra[1], "extra[1] (y)", (extra[0].shape[0], 2))
    num_steps = checks.positive_int(num_steps, "num_steps")
    learning_rate = checks.positive_float(learning_rate, "learning_rate")
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
        volumes.append(low_energy_fraction(f_grid, f_data, (epsilon_rel * float(r.mean())) ** 2))
        contrasts.append(contrast(f_grid, f_data))
        axis1 = np.linspace(-box_scale * r[0], box_scale * r[0], grid_size)
        axis2 = np.linspace(-box_scale * r[1], box_scale * r[1], grid_size)
        maps.append((xv, axis1, axis2, f_grid.reshape(grid_size, grid_size), yd))
    return {"volume": float(np.mean(volumes)), "contrast": float(np.mean(contrasts)),
            "volume_per_x": volumes, "maps": maps,
            "extra_free_energy": f_all[offset:] if extra is not None else None}
