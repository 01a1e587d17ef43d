r"""A continuous EBM (small MLP energy) on 2-D toy data, trained with CD-k and PCD on MH chains.

    python -m experiments.ebm_toy2d --workdir runs/ebm_toy2d [--config.datasets=rings ...]

For each dataset (rings, two moons, mixture of Gaussians) and method (CD-k from the
data, PCD with persistent chains in the train state), trains in
``WORKDIR/<dataset>_<method>`` and writes:

    energy_<dataset>.png   energy landscapes over training (rows: methods) with data (white)
                           and negative samples (red), plus long MH chains from noise
    results.json           per run: spurious_frac (fraction of grid cells far from the data
                           whose energy is below the 95th percentile of the data's energy),
                           long-chain samples' off-data fraction, mean distance to data and
                           total-variation distance to the data on a 16x16 histogram (mode weights),
                           the energy gap far-from-data minus data, the one-step MH acceptance rate of the negatives
    metrics.jsonl          (per run directory) loss, E(data), E(negatives) over training

The lecture's claim being measured: CD's short chains started at the data never
visit regions far from it, so low-energy "spurious" regions can survive there;
PCD's chains wander into them and push their energy up.
"""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from ebm_jax.data.toy2d import TOY2D, TOY2D_BOX, distance_to_data, grid_2d, sample_toy2d  # noqa: E402
from ebm_jax.methods import energy_mlp as ebm_method  # noqa: E402
from ebm_jax.models.energy_mlp import EnergyMLP, energy_fn_of  # noqa: E402
from ebm_jax.samplers import run_chain, rwmh, sample_chains  # noqa: E402
from ebm_jax.train.optim import make_optimizer  # noqa: E402
from ebm_jax.train import fit, write_config, write_results  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(__file__).parent / "configs" / "ebm_toy2d.py"), "Experiment config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumed when it holds checkpoints).")

PLOT_BOX = (-4.0, 4.0)  # grid for landscapes and "far from data" cells: wider than the data's box
ANCHOR = "none published; lecture's qualitative claim: PCD removes CD's spurious low-energy regions"


def _split(s: str) -> list[str]:
    return [t.strip() for t in s.split(",") if t.strip()]


def parse_method(name: str, default_k: int) -> tuple[str, int]:
    """``"cd"`` / ``"pcd"`` (k = config.k) or with an explicit k: ``"cd1"``, ``"pcd10"``."""
    m = re.fullmatch(r"(p?cd)(\d*)", name)
    if not m or (m.group(2) and int(m.group(2)) < 1):
        raise ValueError(f"config.methods entries must be cd, pcd, cd<k> or pcd<k> with k >= 1, got {name!r}")
    return m.group(1), int(m.group(2)) if m.group(2) else default_k


def validate_config(config):
    datasets, methods = _split(config.datasets), _split(config.methods)
    if not datasets or any(d not in TOY2D for d in datasets):
        raise ValueError(f"config.datasets must be a comma list from {TOY2D}, got {config.datasets!r}")
    if not methods:
        raise ValueError("config.methods is empty")
    for m in methods:
        parse_method(m, config.k)
    for key in ("num_data", "batch_size", "num_epochs", "k", "pcd_num_chains", "grid_size", "long_chain_num",
                "log_every_steps"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"config.{key} must be a positive integer, got {config[key]!r}")
    for key in ("learning_rate", "step_size", "far_distance", "offdata_distance"):
        if not config[key] > 0:
            raise ValueError(f"config.{key} must be positive, got {config[key]!r}")
    if config.alpha < 0 or config.prior_scale < 0:
        raise ValueError("config.alpha and config.prior_scale must be >= 0")
    snaps = sorted({int(s) for s in _split(config.snapshot_epochs)} | {config.num_epochs})
    if snaps[0] < 1 or snaps[-1] > config.num_epochs:
        raise ValueError(f"config.snapshot_epochs must lie in [1, num_epochs], got {config.snapshot_epochs!r}")
    return datasets, methods, snaps


def train_run(config, dataset, method_name, data, key, workdir, snaps):
    method, k = parse_method(method_name, config.k)
    model = EnergyMLP(hidden=tuple(config.hidden), prior_scale=config.prior_scale)
    energy = energy_fn_of(model)
    sampler = rwmh(energy, config.step_size)
    kinit, kchain, kfit, kneg = jax.random.split(key, 4)
    chains = (jax.random.uniform(kchain, (config.pcd_num_chains, 2), minval=TOY2D_BOX[0], maxval=TOY2D_BOX[1])
              if method == "pcd" else None)
    state = ebm_method.create_state(kinit, model, make_optimizer("adam", config.learning_rate, b1=0.5), dim=2,
                                    chains=chains)
    axis, grid = grid_2d(config.grid_size, PLOT_BOX)
    far = distance_to_data(grid, np.asarray(data)) > config.far_distance
    grid_j, data_j = jnp.asarray(grid), jnp.asarray(data)
    steps_per_epoch = len(data) // config.batch_size
    snapshots = {}

    @jax.jit
    def eval_arrays(params, chains):
        e_grid = energy(params, grid_j)
        e_data = energy(params, data_j)
        start = chains if chains is not None else data_j[: config.batch_size]
        out = run_chain(sampler, kneg, start, params, k)
        neg = chains if chains is not None else out.state.position
        return e_grid, e_data, neg, jnp.mean(out.info.acceptance_rate)

    def eval_fn(state):
        epoch = int(state.step) // steps_per_epoch
        e_grid, e_data, neg, accept = (np.asarray(a) for a in eval_arrays(state.params, state.chains))
        tau = np.percentile(e_data, 95)
        if epoch in snaps:
            snapshots[epoch] = (e_grid.reshape(len(axis), len(axis)), neg)
        return {"spurious_frac": float(np.mean(e_grid[far] < tau)),
                "e_far_minus_data": float(np.mean(e_grid[far]) - np.mean(e_data)), "accept_rate": float(accept)}

    state, history = fit(state, ebm_method.make_train_step(model, method, k, config.step_size, config.alpha), data_j,
                         batch_size=config.batch_size, num_epochs=config.num_epochs, rng=kfit, workdir=workdir,
                         log_every_steps=config.log_every_steps, eval_fn=eval_fn, desc=f"{dataset}/{method_name}")
    if config.num_epochs not in snapshots:  # resumed run: evaluate the final state
        eval_fn(state)
    x0 = jax.random.uniform(jax.random.fold_in(key, 7), (config.long_chain_num, 2), minval=TOY2D_BOX[0],
                            maxval=TOY2D_BOX[1])
    samples = np.asarray(sample_chains(sampler, jax.random.fold_in(key, 8), x0, state.params,
                                       config.long_chain_steps).state.position)
    dist = distance_to_data(samples, np.asarray(data))
    edges = np.linspace(PLOT_BOX[0], PLOT_BOX[1], 17)
    h_s = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])[0].ravel()
    h_d = np.histogram2d(np.asarray(data)[:, 0], np.asarray(data)[:, 1], bins=[edges, edges])[0].ravel()
    tv = 0.5 * np.abs(h_s / max(h_s.sum(), 1) - h_d / h_d.sum()).sum()
    last = [h for h in history if "e_neg" in h][-1]
    final = [h for h in history if "spurious_frac" in h][-1]
    result = {"spurious_frac": final["spurious_frac"], "e_far_minus_data": final["e_far_minus_data"],
              "longchain_offdata_frac": float(np.mean(dist > config.offdata_distance)),
              "longchain_mean_dist": float(dist.mean()), "longchain_tv_vs_data_16x16": float(tv),
              "mh_accept_rate": final["accept_rate"],
              "e_data": last["e_data"], "e_neg": last["e_neg"]}
    curve = [(h["epoch"], h["spurious_frac"]) for h in history if "spurious_frac" in h]
    return result, snapshots, samples, axis, curve


def plot_dataset(path, dataset, runs, data, axis, snaps):
    methods = list(runs)
    ncols = len(snaps) + 1
    fig, axes = plt.subplots(len(methods), ncols, figsize=(3 * ncols, 3 * len(methods)), squeeze=False)
    ext = (axis[0], axis[-1], axis[0], axis[-1])
    sub = np.asarray(data)[:1000]
    for r, m in enumerate(methods):
        snapshots, samples = runs[m]
        for c, ep in enumerate(snaps):
            ax = axes[r, c]
            e, neg = snapshots[ep]
            ax.imshow(np.clip(e - np.percentile(e, 1), 0, np.percentile(e - np.percentile(e, 1), 95)), origin="lower",
                      extent=ext, cmap="viridis")
            ax.scatter(sub[:, 0], sub[:, 1], s=0.5, c="white", alpha=0.5)
            ax.scatter(neg[:300, 0], neg[:300, 1], s=1.5, c="red")
            ax.set_xlim(ext[:2])
            ax.set_ylim(ext[2:])
            ax.set_title(f"{m.upper()} epoch {ep}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[r, -1]
        e, _ = snapshots[snaps[-1]]
        ax.imshow(np.exp(-(e - e.min())), origin="lower", extent=ext, cmap="magma")
        ax.scatter(samples[:, 0], samples[:, 1], s=1.5, c="cyan")
        ax.set_xlim(ext[:2])
        ax.set_ylim(ext[2:])
        ax.set_title(f"{m.upper()}: exp(-E), long MH chains", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{dataset}: energy (dark = low), data (white), negatives (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv):
    del argv
    config = _CONFIG.value
    datasets, methods, snaps = validate_config(config)
    workdir = pathlib.Path(_WORKDIR.value or "runs/ebm_toy2d")
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    key = jax.random.PRNGKey(config.seed)
    results = {"anchor": ANCHOR, "k": config.k, "step_size": config.step_size, "num_epochs": config.num_epochs}
    curves = {}
    for i, dataset in enumerate(datasets):
        data = sample_toy2d(jax.random.fold_in(key, 100 + i), dataset, config.num_data)
        runs = {}
        for j, method in enumerate(methods):
            res, snapshots, samples, axis, curve = train_run(config, dataset, method, data,
                                                             jax.random.fold_in(key, 10 * i + j),
                                                             workdir / f"{dataset}_{method}", snaps)
            runs[method] = (snapshots, samples)
            results.update({f"{dataset}_{method}_{k}": v for k, v in res.items()})
            curves[f"{dataset} {method}"] = tuple(zip(*curve))
            logging.info("%s %s: %s", dataset, method, res)
            write_results(workdir, results)
        plot_dataset(workdir / f"energy_{dataset}.png", dataset, runs, data, axis, snaps)
    from ebm_jax import viz
    viz.save_curves(workdir / "spurious_frac.png", curves, xlabel="epoch", ylabel="spurious low-energy fraction",
                    title="far-from-data grid cells with energy below data's 95th pct")
    write_results(workdir, results)
    print(results)


if __name__ == "__main__":
    app.run(main)
