r"""The course's unconditional latent-variable EBM on the ellipse (week 15, 2020 edition).

    python -m experiments.lvebm_ellipse --workdir runs/lvebm_ellipse [--config.beta_warm=0.5 ...]

24 points of the ellipse with semi-axes (2, 1.5) (``x = 0`` of the horn, noise
1/20), the decoder ``g(z) = [w₁ cos z, w₂ sin z]``, ``E(y, z) = ‖y − g(z)‖²``,
``z`` on ``[0, 2π)`` in steps of π/24. Inference figures use the decoder at the
true semi-axes ``w = (2, 1.5)``; training starts from ``w = (1, 1)``. Writes:

    results.json          trained w (zero temperature and warm), free energies, grid-vs-gradient |ΔF∞|
    energy_curves.png     E_i(z) of the 24 samples with ž marked
    inferred_latents.png  the data joined to g(ž), coloured by ž
    free_energy_map.png   F∞ on a dense (y1, y2) grid with its gradient arrows (∂F/∂y = 2 (y − g(ž)))
    beta_maps.png         cold vs warm F_β and their cross-section at y1 = 0
    trained_manifold.png  untrained vs trained decoders (zero temperature, warm, MLP) against the data
    loss_curves.png       the training losses
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import cli, lvebm, viz
from ebm_jax.data import lvebm as lvebm_data
from ebm_jax.methods import lvebm as method
from ebm_jax.train import fit, write_config, write_results
from experiments.configs import lvebm_ellipse as ellipse_config

TRUE_RADII = (2.0, 1.5)


def train(config, workdir: pathlib.Path, model, y, *, beta, num_steps, learning_rate, key):
    """Full-batch training with the energy loss at zero temperature (``beta=None``) or warm ``β``."""
    state = method.create_state(jax.random.fold_in(key, 0), model, learning_rate=learning_rate,
                                radii=tuple(config.init_radii))
    step = method.make_train_step(model, loss="energy", z_grid=lvebm.uniform_z_grid(config.z_grid_size), beta=beta)
    state, history = fit(state, step, {"y": y}, batch_size=len(y), num_epochs=num_steps,
                         rng=jax.random.fold_in(key, 1), workdir=workdir, log_every_steps=config.log_every_steps,
                         checkpoint_every_steps=max(num_steps // 2, 1), desc=workdir.name)
    return state.params, history


def manifold_curve(model, params, num: int = 400) -> np.ndarray:
    z = lvebm.uniform_z_grid(num, endpoint=True)
    return np.asarray(jax.vmap(lambda zi: model.decode(params, None, zi))(z))


def train_and_evaluate(config, workdir: str) -> dict:
    ellipse_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.key(config.seed)
    y = np.asarray(lvebm.sample_ellipse(jax.random.fold_in(key, 0), config.num_samples, noise_std=config.noise_std))
    heldout = lvebm.sample_ellipse(jax.random.fold_in(key, 1), config.num_heldout, noise_std=config.noise_std)
    data = method.check_data(lvebm.LatentEBM(), {"y": y})
    model = lvebm.LatentEBM()
    z_grid = lvebm.uniform_z_grid(config.z_grid_size)
    true_params = {"w": jnp.asarray(TRUE_RADII)}

    # ---- inference with the fixed decoder at the true semi-axes
    inference = lvebm.grid_inference(model.energy, true_params, None, data["y"], z_grid, return_energies=True)
    viz.save_energy_curves(workdir / "energy_curves.png", np.asarray(z_grid[:, 0]), np.asarray(inference.energies),
                        np.asarray(inference.z[:, 0]),
                        title="E_i(z) = ‖y_i − g(z)‖² of the 24 samples; dots: ž = argmin (grid π/24)")
    recon = np.asarray(jax.vmap(lambda z: model.decode(true_params, None, z))(inference.z))
    viz.save_inferred_latents(workdir / "inferred_latents.png", y, recon, np.asarray(inference.z[:, 0]),
                           manifold_curve(model, true_params), title="ž of each sample and its g(ž)")
    dense = lvebm.uniform_z_grid(config.dense_grid_size)
    f_dense = lvebm.grid_inference(model.energy, true_params, None, data["y"], dense).free_energy
    starts = lvebm.uniform_z_grid(config.gradient_starts)
    f_grad = lvebm.gradient_inference(model.energy, true_params, None, data["y"], starts,
                                      num_steps=config.gradient_steps,
                                      learning_rate=config.gradient_learning_rate).free_energy

    # ---- free-energy maps on a dense (y1, y2) grid
    n, ext = config.map_grid_size, config.map_extent
    axis = np.linspace(-ext, ext, n, dtype=np.float32)
    points = lvebm_data.box_grid(n, (ext, ext))
    maps = {}
    f_inf = lvebm.grid_inference(model.energy, true_params, None, points, dense)
    maps["F∞ (zero temperature)"] = np.asarray(f_inf.free_energy).reshape(n, n)
    arrow_idx = np.ravel_multi_index(np.meshgrid(np.arange(0, n, max(n // 12, 1)), np.arange(0, n, max(n // 12, 1))),
                                     (n, n)).ravel()
    grad_f = 2 * (points - np.asarray(jax.vmap(lambda z: model.decode(true_params, None, z))(f_inf.z)))
    viz.save_free_energy_maps(workdir / "free_energy_map.png", axis, axis, {"F∞(y) = min_z E(y, z)": maps[
        "F∞ (zero temperature)"]}, data=y, arrows=(points[arrow_idx], -grad_f[arrow_idx]),
                           title="F∞; arrows: −∂F∞/∂y")
    beta_maps = {}
    for name, beta in (("cold", config.beta_cold), ("warm", config.beta_warm)):
        beta_maps[f"F_β, {name} β = {beta:g}"] = np.asarray(
            lvebm.free_energy(model.energy, true_params, None, points, z_grid, beta=beta)).reshape(n, n)
    column = n // 2  # y1 = 0
    cross = {"F∞": maps["F∞ (zero temperature)"][:, column],
             **{k.split(",")[1].strip(): v[:, column] for k, v in beta_maps.items()}}
    viz.save_free_energy_maps(workdir / "beta_maps.png", axis, axis, beta_maps, data=y, cross_section=cross,
                           title="Relaxed free energy F_β: cold (sharp peak inside) vs warm (one parabola)")
    warm_cross = beta_maps[f"F_β, warm β = {config.beta_warm:g}"][:, column]
    cold_cross = beta_maps[f"F_β, cold β = {config.beta_cold:g}"][:, column]

    # ---- training: zero temperature vs warm, from w = init_radii
    untrained = model.init(key, radii=tuple(config.init_radii))
    cold, hist_cold = train(config, workdir / "train_cold", model, y, beta=None, num_steps=config.num_steps,
                            learning_rate=config.learning_rate, key=jax.random.fold_in(key, 2))
    warm, hist_warm = train(config, workdir / "train_warm", model, y, beta=config.beta_train_warm,
                            num_steps=config.num_steps, learning_rate=config.learning_rate,
                            key=jax.random.fold_in(key, 3))
    curves = {"untrained g, w = " + str(tuple(config.init_radii)): manifold_curve(model, untrained),
              "trained, zero temperature": manifold_curve(model, cold),
              f"trained, warm β = {config.beta_train_warm:g}": manifold_curve(model, warm)}
    histories = {"zero temperature": hist_cold, f"warm β = {config.beta_train_warm:g}": hist_warm}

    def heldout_f(m, p):
        return float(jnp.mean(lvebm.free_energy(m.energy, p, None, heldout, dense)))

    results = {
        "num_samples": config.num_samples,
        "z_grid_points": config.z_grid_size,
        "true_w1": TRUE_RADII[0], "true_w2": TRUE_RADII[1],
        "inference_mean_free_energy_data": float(jnp.mean(inference.free_energy)),
        "grid_vs_gradient_max_abs_diff": float(jnp.max(jnp.abs(f_dense - f_grad))),
        "grid_vs_gradient_dense_grid_points": config.dense_grid_size,
        "free_energy_at_origin_zero_temp": float(maps["F∞ (zero temperature)"][n // 2, n // 2]),
        "free_energy_at_origin_exact": 2.25,  # squared distance from (0, 0) to the ellipse: 1.5²
        "cold_cross_section_peak_at_origin": float(cold_cross[n // 2] - cold_cross.min()),
        "warm_cross_section_argmin_y2": float(axis[int(np.argmin(warm_cross))]),
        "trained_cold_w1": float(abs(cold["w"][0])), "trained_cold_w2": float(abs(cold["w"][1])),
        "trained_warm_w1": float(abs(warm["w"][0])), "trained_warm_w2": float(abs(warm["w"][1])),
        "heldout_free_energy_untrained": heldout_f(model, untrained),
        "heldout_free_energy_cold": heldout_f(model, cold),
        "heldout_free_energy_warm": heldout_f(model, warm),
        "heldout_free_energy_true_w": heldout_f(model, true_params),
    }
    if config.train_mlp_decoder:
        mlp_model = lvebm.LatentEBM(decoder="mlp", decoder_hidden=tuple(config.mlp_hidden), activation="tanh")
        mlp, hist_mlp = train(config, workdir / "train_mlp", mlp_model, y, beta=None,
                              num_steps=config.mlp_num_steps, learning_rate=config.mlp_learning_rate,
                              key=jax.random.fold_in(key, 4))
        curves["MLP decoder g(z), untrained"] = manifold_curve(mlp_model, mlp_model.init(jax.random.fold_in(
            jax.random.fold_in(key, 4), 0)))
        curves["MLP decoder g(z), trained (zero temperature)"] = manifold_curve(mlp_model, mlp)
        histories["MLP decoder"] = hist_mlp
        results["heldout_free_energy_mlp"] = heldout_f(mlp_model, mlp)
    viz.save_manifolds(workdir / "trained_manifold.png", y, curves,
                    title="Decoders before and after training (energy loss)")
    viz.save_curves(workdir / "loss_curves.png",
                    {k: ([r["step"] for r in h if "loss" in r], [r["loss"] for r in h if "loss" in r])
                     for k, h in histories.items()}, ylabel="mean free energy of the data", logy=True,
                    title="Training with the energy loss")
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
