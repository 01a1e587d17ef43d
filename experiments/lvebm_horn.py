r"""The course's conditional latent-variable EBM: the horn (week 15, 2020 edition).

    python -m experiments.lvebm_horn --workdir runs/lvebm_horn [--config.num_epochs=60 ...]

Data ``y = [ρ₁(x) cos θ + ε, ρ₂(x) sin θ + ε]``, ``x ~ U(0, 1)``; energy
``E(x, y, z) = ‖y − g(f(x), z)‖²`` with the predictor ``f`` an MLP 1 → 8 → 8 → 2
and ``g(f(x), z) = [f₁(x) cos z, f₂(x) sin z]``, trained with the energy loss at
zero temperature (ž by grid search over ``[0, 2π)`` in steps of π/24). Beside it,
the same MLP trained as a plain regression ``‖y − f(x)‖²``, which can only give
``E[y | x]`` (near 0, inside the ellipse). Writes:

    results.json             semi-axis error of f, held-out free energy, how far samples and the regression lie
                             from the true manifold
    horn_manifold.png        the learned manifold for x on a grid, against the data (3-D and projected)
    conditional_samples.png  several ž per x give several plausible y; the regression gives one point off the data
    loss_curves.png

``--config.num_seeds=S`` trains S replicas of both models in one vmapped program
(:mod:`ebm_jax.train.seeds`) on the one data set drawn from ``seed``: replica
``i`` has the initialization, data order and step keys of seed ``seed + i``
(replica 0 does the single run's computation; the vmapped kernels round
differently, by about 1e-5 after a few steps, which the grid search's argmin
can amplify over training). ``results.json`` then holds ``<name>_seed<i>``,
``<name>_mean`` and ``<name>_std``; the figures show replica 0.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import cli, lvebm, viz
from ebm_jax.eval import lvebm as lv_eval
from ebm_jax.methods import lvebm as method
from ebm_jax.train import fit_seeds, seeds, write_config, write_results
from experiments.configs import lvebm_horn as horn_config


def _fit(config, workdir, states, step, data, rngs, desc):
    """Train one state per replica (one vmapped program when there are several).

    Returns ``([params of each replica], history)``.
    """
    kwargs = dict(batch_size=config.batch_size, num_epochs=config.num_epochs, workdir=workdir,
                  log_every_steps=config.log_every_steps,
                  checkpoint_every_steps=config.checkpoint_every_steps or None, desc=desc)
    states, history = fit_seeds(states, step, data, rngs=rngs, **kwargs)
    return [state.params for state in states], history


def _numbers(config, model, params, regression_params, untrained, x_test, y_test, z_grid, samples_key) -> dict:
    """The results of one replica: the semi-axis error, held-out free energies, distances to the manifold."""
    xs_dense = jnp.linspace(0, 1, 101)[:, None]
    radii = jnp.abs(model.predict(params, xs_dense))
    truth = lvebm.rho(xs_dense)
    rel_err = jnp.linalg.norm(radii - truth, axis=-1) / jnp.linalg.norm(truth, axis=-1)
    f_test = lvebm.free_energy(model.energy, params, x_test, y_test, lvebm.uniform_z_grid(425))
    reg_pred = model.predict(regression_params, x_test)
    z_samples = jax.random.uniform(samples_key, (config.num_heldout, 1), maxval=2 * jnp.pi)
    lv_samples = jax.vmap(lambda xi, zi: model.decode(params, xi, zi))(x_test, z_samples)
    return {
        "semi_axes_mean_rel_error": float(jnp.mean(rel_err)),
        "semi_axes_max_rel_error": float(jnp.max(rel_err)),
        "heldout_free_energy": float(jnp.mean(f_test)),
        "heldout_free_energy_noise_floor": config.noise_std ** 2,  # σ²: the noise across a perfect manifold
        "heldout_free_energy_untrained": float(jnp.mean(lvebm.free_energy(model.energy, untrained, x_test, y_test,
                                                                          z_grid))),
        "regression_heldout_mse": float(jnp.mean(jnp.sum(jnp.square(y_test - reg_pred), -1))),
        "regression_sq_distance_to_manifold": float(np.mean(lv_eval.distance_to_horn(x_test, reg_pred))),
        "lvebm_samples_sq_distance_to_manifold": float(np.mean(lv_eval.distance_to_horn(x_test, lv_samples))),
        "lvebm_samples_spread": float(jnp.mean(jnp.linalg.norm(lv_samples - jnp.mean(lv_samples, 0), axis=-1))),
    }


def train_and_evaluate(config, workdir: str) -> dict:
    horn_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.key(config.seed)
    model = lvebm.LatentEBM(decoder="ellipse", conditional=True, predictor_hidden=tuple(config.predictor_hidden))
    x, y, _ = lvebm.sample_horn(jax.random.fold_in(key, 0), config.num_train, noise_std=config.noise_std)
    x_test, y_test, _ = lvebm.sample_horn(jax.random.fold_in(key, 1), config.num_heldout, noise_std=config.noise_std)
    data = method.check_data(model, {"x": x, "y": y})
    z_grid = lvebm.uniform_z_grid(config.z_grid_size)
    total_steps = config.num_epochs * (config.num_train // config.batch_size)

    def create(k):
        return method.create_state(jax.random.fold_in(k, 2), model, learning_rate=config.learning_rate,
                                   schedule=config.lr_schedule, total_steps=total_steps)

    # Replica i: the initialization, data order and step keys of seed + i (the data always come from seed).
    keys = [jax.random.key(config.seed + i) for i in range(config.num_seeds)]
    states = [create(k) for k in keys]
    all_untrained = [s.params for s in states]
    all_params, history = _fit(config, workdir / "lvebm", states, method.make_train_step(model, z_grid=z_grid),
                               data, [jax.random.fold_in(k, 3) for k in keys], "horn LV-EBM")
    # the baseline: the same predictor regressing y on x (its output is E[y | x])
    all_regression, reg_history = _fit(config, workdir / "regression", [create(k) for k in keys],
                                       method.make_regression_step(model), data,
                                       [jax.random.fold_in(k, 4) for k in keys], "horn regression")
    per_seed = [_numbers(config, model, p, r, u, x_test, y_test, z_grid, jax.random.fold_in(k, 5))
                for p, r, u, k in zip(all_params, all_regression, all_untrained, keys)]
    results = {"num_train": config.num_train, "num_seeds": config.num_seeds,
               **(per_seed[0] if config.num_seeds == 1 else seeds.summarize(per_seed))}
    params, regression_params, samples_key = all_params[0], all_regression[0], jax.random.fold_in(key, 5)

    # ---- figures
    xs = np.linspace(0, 1, config.num_x_plot, dtype=np.float32)
    z_line = lvebm.uniform_z_grid(200, endpoint=True)

    def curve(p, xj):
        return np.asarray(jax.vmap(lambda z: model.decode(p, jnp.array([xj]), z))(z_line))

    viz.save_horn(workdir / "horn_manifold.png", np.asarray(x[:, 0]), np.asarray(y), xs,
               np.stack([curve(params, xj) for xj in xs]),
               title="Learned manifold g(f(x), z) of the horn (energy loss, zero temperature)")
    panels = []
    for j, xj in enumerate(config.sample_x):
        near = np.asarray(y_test)[np.abs(np.asarray(x_test[:, 0]) - xj) < 0.03]
        z = jax.random.uniform(jax.random.fold_in(samples_key, j), (config.samples_per_x, 1), maxval=2 * jnp.pi)
        samples = np.asarray(jax.vmap(lambda zi: model.decode(params, jnp.array([xj]), zi))(z))
        panels.append((xj, near.reshape(-1, 2), samples, curve(params, xj),
                       np.asarray(model.predict(regression_params, jnp.array([xj])))))
    viz.save_conditional_samples(workdir / "conditional_samples.png", panels,
                              title="Multimodal completions: y = g(f(x), z) for several z vs regression E[y | x]")
    viz.save_curves(workdir / "loss_curves.png",
                    {name: ([r["step"] for r in h if "loss" in r], [r["loss"] for r in h if "loss" in r])
                     for name, h in (("LV-EBM free energy F∞", history), ("regression MSE", reg_history))},
                    ylabel="training loss", logy=True, title="Horn: LV-EBM vs regression")
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
