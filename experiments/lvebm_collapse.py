r"""The collapse the lecture warns of, measured: dim(z) × regularizer, with seeds' spread.

    python -m experiments.lvebm_collapse --workdir runs/lvebm_collapse [--config.num_seeds=3 ...]

A neural decoder ``g = MLP([f(x), z])`` (tanh, predictor ``f`` 1 → 8 → 8 → 4)
on the horn's narrow end (``x ~ U(0, 0.5)``, semi-axes 1.5 to 4.8), trained
with the energy loss alone (no contrastive term) and ž by gradient descent,
for ``dim(z) ∈ {1, 2, 8, 32}`` and each regularizer: none, L1 (``λ‖z‖₁``),
limited dimension (the decoder sees only ``z₁``), noise + L2 (``z + σε``,
``λ‖z‖²``). For each run: the **volume of low energy** (the fraction of a
dense grid around the ellipse of ``x`` whose free energy is within ``ε`` of
the data's, averaged over three slices ``x``; :mod:`ebm_jax.eval.lvebm`)
and the **held-out free energy**. A latent with ``dim(z) ≥ dim(y) = 2`` and no
regularizer reaches every ``y``: ``F ≈ 0`` everywhere, volume near 1.

The ``num_seeds`` model seeds ``seed, ..., seed + num_seeds - 1`` (initialization, batch order, inference
starts) of each (dim(z), regularizer) cell train together in one vmapped program (``fit(num_seeds=S)``,
:mod:`ebm_jax.train.seeds`) on the one data set drawn from ``data_seed``; replica ``i`` does the
computation of the one-seed run ``--config.seed=<seed + i> --config.num_seeds=1`` up to float
reassociation in the batched kernels, and is evaluated alone.

Writes ``results.json`` (``volume_d{d}_{reg}_seed{i}`` for each seed, ``..._mean`` and ``..._std``, the
sample standard deviation over seeds; the same for ``heldout_free_energy_...`` and ``contrast_...``),
``collapse.png`` (both against dim(z), error bars: std over seeds), ``collapse_maps.png`` (the free
energy at x = eval_x[1] for each regularizer at the largest dim(z), seed ``seed``).
"""

from __future__ import annotations

import pathlib

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax import cli, lvebm  # noqa: E402
from ebm_jax.eval import lvebm as lv_eval  # noqa: E402
from ebm_jax.methods import lvebm as method  # noqa: E402
from ebm_jax.train import fit_seeds, seeds, write_config, write_results  # noqa: E402
from experiments.configs import lvebm_collapse as collapse_config  # noqa: E402


def make_model(config, dim: int, kind: str) -> lvebm.LatentEBM:
    weight = {"l1": config.l1_weight, "noise_l2": config.l2_weight}.get(kind, 0.0)
    reg = lvebm.Regularizer(kind, weight=weight, max_dim=config.limited_max_dim,
                            noise_std=config.noise_std if kind == "noise_l2" else 0.0)
    return lvebm.LatentEBM(decoder="mlp", conditional=True, latent_dim=dim, predictor_hidden=tuple(
        config.predictor_hidden), predictor_dim=config.predictor_dim, decoder_hidden=tuple(config.decoder_hidden),
        activation="tanh", unit_latent_weights=True, regularizer=reg)


def run_cell(config, workdir: pathlib.Path, dim: int, kind: str, data, heldout) -> list[dict]:
    """Train the seeds of one (dim(z), regularizer) cell, together when there are several; evaluate each.

    Replica ``i`` has the model seed ``config.seed + i`` (initialization, batch order, inference starts and
    evaluation key: ``key(seed + i)`` folded with 0, 1, 2, as in the one-seed run); the data are shared.
    """
    model = make_model(config, dim, kind)
    keys = [jax.random.key(config.seed + i) for i in range(config.num_seeds)]
    states = [method.create_state(jax.random.fold_in(key, 0), model, learning_rate=config.learning_rate)
              for key in keys]
    rngs = [jax.random.fold_in(key, 1) for key in keys]
    step = method.make_train_step(model, inference="gradient", num_starts=config.num_starts,
                                  inference_steps=config.inference_steps, inference_lr=config.inference_lr,
                                  z_low=-config.z_range, z_high=config.z_range)
    kwargs = dict(batch_size=config.batch_size, num_epochs=config.num_epochs, workdir=workdir,
                  log_every_steps=config.log_every_steps,
                  checkpoint_every_steps=config.checkpoint_every_steps or None, desc=workdir.name)
    final, _ = fit_seeds(states, step, data, rngs=rngs, **kwargs)
    all_params = [state.params for state in final]
    out = []
    for key, params in zip(keys, all_params):
        shape = lv_eval.horn_shape(model, params, jax.random.fold_in(key, 2), x_values=tuple(config.eval_x),
                                    grid_size=config.eval_grid_size, box_scale=config.box_scale,
                                    epsilon_rel=config.epsilon_rel, num_starts=config.eval_starts,
                                    z_range=config.z_range, num_steps=config.eval_steps,
                                    extra=(heldout["x"], heldout["y"]))
        out.append({"volume": shape["volume"], "contrast": shape["contrast"],
                    "heldout_free_energy": float(np.mean(shape["extra_free_energy"])), "maps": shape["maps"]})
    return out


def cell_dir(config, dim: int, kind: str) -> str:
    """``d{dim}_{kind}_s{seed}`` (one seed) or ``d{dim}_{kind}_s{seed}-{last seed}`` (several)."""
    last = config.seed + config.num_seeds - 1
    return f"d{dim}_{kind}_s{config.seed}" + (f"-{last}" if last != config.seed else "")


def plot(workdir: pathlib.Path, config, results: dict, maps: dict) -> None:
    dims = list(config.latent_dims)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind in config.regularizers:
        for ax, metric in zip(axes, ("volume", "heldout_free_energy")):
            mean = [results[f"{metric}_d{d}_{kind}_mean"] for d in dims]
            std = [results[f"{metric}_d{d}_{kind}_std"] for d in dims]
            ax.errorbar(dims, mean, yerr=std, marker="o", capsize=3, label=kind)
    axes[0].set_ylabel("volume of low energy (fraction of the box)")
    axes[1].set_ylabel("held-out free energy (mean F∞)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_xlabel("dim(z)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    fig.suptitle("Collapse: an unregularized latent with dim(z) ≥ 2 makes F flat (≈ 0 everywhere); "
                 f"mean ± std over {config.num_seeds} seed(s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(workdir / "collapse.png", dpi=80)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.6), squeeze=False)
    for ax, (name, (xv, a1, a2, f, yd)) in zip(axes[0], maps.items()):
        im = ax.pcolormesh(a1, a2, f, shading="auto", cmap="coolwarm")
        fig.colorbar(im, ax=ax)
        ax.plot(yd[:, 0], yd[:, 1], ".", ms=2, color="k")
        ax.set_aspect("equal")
        ax.set_title(f"{name}, x = {xv:g}", fontsize=9)
    fig.suptitle("Free energy F∞(x, y) over the box (black: data at this x)", fontsize=10)
    fig.tight_layout()
    fig.savefig(workdir / "collapse_maps.png", dpi=80)
    plt.close(fig)


def train_and_evaluate(config, workdir: str) -> dict:
    collapse_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.key(config.data_seed)
    x, y, _ = lvebm.sample_horn(jax.random.fold_in(key, 0), config.num_train, noise_std=config.noise_std_data,
                                x_max=config.x_max)
    xh, yh, _ = lvebm.sample_horn(jax.random.fold_in(key, 1), config.num_heldout, noise_std=config.noise_std_data,
                                  x_max=config.x_max)
    probe = make_model(config, 1, "none")
    data = method.check_data(probe, {"x": x, "y": y})
    heldout = method.check_data(probe, {"x": xh, "y": yh})

    table, maps = {}, {}
    top = max(config.latent_dims)
    for dim in config.latent_dims:
        for kind in config.regularizers:
            table[(dim, kind)] = run_cell(config, workdir / cell_dir(config, dim, kind), dim, kind, data, heldout)
            if dim == top or (dim == min(config.latent_dims) and kind == "none"):   # replica 0's maps
                first = table[(dim, kind)][0]["maps"]
                maps[f"dim(z)={dim}, {kind}"] = first[min(1, len(first) - 1)]

    results = {"num_runs": len(table) * config.num_seeds, "seeds": config.num_seeds, "num_seeds": config.num_seeds,
               "x_max": config.x_max, "epsilon_rel": config.epsilon_rel}
    for dim in config.latent_dims:
        for kind in config.regularizers:
            for metric in ("volume", "heldout_free_energy", "contrast"):
                per_seed = seeds.summarize({f"{metric}_d{dim}_{kind}": [r[metric] for r in table[(dim, kind)]]})
                results.update(per_seed)
    plot(workdir, config, results, maps)
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
