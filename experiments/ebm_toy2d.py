r"""A continuous EBM (small MLP energy) on 2-D toy data, trained with CD-k and PCD on MH chains.

    python -m experiments.ebm_toy2d --workdir runs/ebm_toy2d [--config.datasets="('rings',)" ...]

For each dataset (rings, two moons, mixture of Gaussians) and method (CD-k from the
data, PCD with persistent chains in the train state), trains in
``WORKDIR/<dataset>_<method>`` (rerunning resumes) and writes:

    energy_<dataset>.png   energy landscapes over training (rows: methods) with data (white)
                           and negative samples (red), plus long MH chains from noise
    spurious_frac.png      the spurious low-energy fraction over training
    results.json           per run, of the final model: spurious_frac (fraction of grid cells far
                           from the data whose energy is below the 95th percentile of the data's
                           energy), e_far_minus_data, the long-chain samples' off-data fraction, mean
                           distance to the data and total-variation distance to the data on a 16x16
                           histogram, the MH acceptance rate of the negatives' chains, and the mean
                           energy of the data and of the negatives
    metrics.jsonl          (per run directory) loss, E(data), E(negatives), acceptance over training

``--config.num_seeds=S`` trains seeds ``seed, ..., seed + S - 1`` of each (dataset, method) together, in
one vmapped program (``fit(num_seeds=S)``, :mod:`ebm_jax.train.seeds`): replica ``s`` has every key of
the single run with ``seed + s``, its data set included (the replicas' data sets are stacked and each
replica trains on its own), and does that run's computation up to float reassociation in the batched
kernels (an MH accept near its threshold can flip, and the runs then drift apart slowly).
``results.json`` then holds ``<dataset>_<method>_<name>_seed<s>``, ``..._mean`` and ``..._std``; the
landscape figures show replica 0, the spurious-fraction curves the mean over seeds.

The lecture's claim being measured: CD's short chains started at the data never
visit regions far from it, so low-energy "spurious" regions can survive there;
PCD's chains wander into them and push their energy up.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from ebm_jax import cli, viz
from ebm_jax.data.toy2d import TOY2D_BOX, distance_to_data, grid_2d, sample_toy2d
from ebm_jax.eval import landscape
from ebm_jax.methods import energy_mlp as ebm_method
from ebm_jax.models.energy_mlp import EnergyMLP, energy_fn_of
from ebm_jax.samplers import parse_method, run_chain, rwmh, sample_chains
from ebm_jax.train import fit, seeds, write_config, write_results
from ebm_jax.train.optim import make_optimizer
from experiments.configs import ebm_toy2d as ebm_toy2d_config

PLOT_BOX = (-4.0, 4.0)  # grid for landscapes and "far from data" cells: wider than the data's box
ANCHOR = "none published; lecture's qualitative claim: PCD removes CD's spurious low-energy regions"


class _Replica(struct.PyTreeNode):
    """One replica of a batched run: its train state and its column of the stacked ``(N, S, 2)`` data."""

    inner: ebm_method.EBMTrainState
    column: jax.Array

    @property
    def step(self):
        return self.inner.step


def _on_own_column(step_fn):
    """``step_fn`` on the replica's own data: the batch ``(B, S, 2)`` holds every replica's points at the
    replica's indices; column ``state.column`` is its data set (so each replica trains on its seed's data)."""
    def step(state: _Replica, batch, key):
        inner, metrics = step_fn(state.inner, jnp.take(batch, state.column, axis=1), key)
        return state.replace(inner=inner), metrics

    return step


def train_run(config, method_name: str, datas, keys, workdir: pathlib.Path, snaps) -> dict:
    """Train one energy per replica in ``workdir`` (resuming), evaluate each.

    ``datas[s]`` and ``keys[s]`` are replica ``s``'s data and key; with several, the replicas train
    together (``fit(num_seeds=S)``), replica ``s`` doing the computation of the run with ``datas[s]`` and
    ``keys[s]`` alone. Returns ``{"results": [numbers of each replica], "snapshots", "samples" (replica
    0's), "axis", "curve" (the spurious fraction per epoch, mean over replicas)}``.
    """
    method, k = parse_method(method_name)
    model = EnergyMLP(hidden=tuple(config.hidden), prior_scale=config.prior_scale)
    energy = energy_fn_of(model)
    sampler = rwmh(energy, config.step_size)
    num_seeds = len(keys)
    split = [jax.random.split(key, 4) for key in keys]   # kinit, kchain, kfit, kneg of each replica
    tx = make_optimizer("adam", config.learning_rate, b1=0.5)

    def create(kinit, kchain):
        chains = (jax.random.uniform(kchain, (config.pcd_num_chains, 2), minval=TOY2D_BOX[0],
                                     maxval=TOY2D_BOX[1]) if method == "pcd" else None)
        return ebm_method.create_state(kinit, model, tx, dim=2, chains=chains)

    states = [create(s[0], s[1]) for s in split]
    axis, grid = grid_2d(config.grid_size, PLOT_BOX)
    datas = [np.asarray(d) for d in datas]
    fars = [distance_to_data(grid, d) > config.far_distance for d in datas]
    grid_j, datas_j = jnp.asarray(grid), [jnp.asarray(d) for d in datas]
    steps_per_epoch = len(datas[0]) // config.batch_size
    snapshot_dir = workdir / "snapshots"

    @jax.jit
    def eval_arrays(params, chains, data, kneg):
        """Energies on the grid and the data; the negatives the next update would draw (k MH steps from
        a data batch for CD, from the persistent chains for PCD), their energy and mean MH acceptance."""
        start = chains if chains is not None else data[: config.batch_size]
        out = run_chain(sampler, kneg, start, params, k)
        neg = out.state.position
        return energy(params, grid_j), energy(params, data), neg, out.state.energy, jnp.mean(
            out.info.acceptance_rate)

    def evaluate(state, s: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """Replica ``s``'s numbers, grid energies and negatives (``state``: its plain train state)."""
        e_grid, e_data, neg, e_neg, accept = (np.asarray(a) for a in eval_arrays(state.params, state.chains,
                                                                                 datas_j[s], split[s][3]))
        numbers = {"spurious_frac": landscape.low_energy_fraction(e_grid, e_data, fars[s]),
                   "e_far_minus_data": landscape.energy_gap(e_grid, e_data, fars[s]), "accept_rate": float(accept),
                   "e_data": float(e_data.mean()), "e_neg": float(e_neg.mean())}
        return numbers, e_grid, neg

    def replicas(state) -> list:
        """The plain train state of each replica (``state`` as ``fit`` holds it)."""
        return [state] if num_seeds == 1 else [seeds.unstack(state.inner, s) for s in range(num_seeds)]

    def eval_fn(state):
        evaluated = [evaluate(r, s) for s, r in enumerate(replicas(state))]
        epoch = int(np.asarray(state.step).reshape(-1)[0]) // steps_per_epoch
        if epoch in snaps:  # kept on disk: a resumed run draws the same figure (replica 0's)
            snapshot_dir.mkdir(parents=True, exist_ok=True)
            np.savez(snapshot_dir / f"epoch_{epoch}.npz", energy=evaluated[0][1], negatives=evaluated[0][2])
        if num_seeds == 1:
            return evaluated[0][0]
        return {name: np.array([e[0][name] for e in evaluated]) for name in evaluated[0][0]}  # one per seed

    step_fn = ebm_method.make_train_step(model, method, k, config.step_size, config.alpha)
    kwargs = dict(batch_size=config.batch_size, num_epochs=config.num_epochs, workdir=workdir,
                  log_every_steps=config.log_every_steps, eval_fn=eval_fn, desc=workdir.name)
    if num_seeds == 1:
        state, history = fit(states[0], step_fn, datas_j[0], rng=split[0][2], **kwargs)
    else:  # replica s trains on column s of the stacked data
        stacked = seeds.stack([_Replica(inner=st, column=jnp.int32(s)) for s, st in enumerate(states)])
        state, history = fit(stacked, _on_own_column(step_fn), jnp.stack(datas_j, axis=1),
                             rng=jnp.stack([s[2] for s in split]), num_seeds=num_seeds, **kwargs)
    results, samples = [], []
    for s, final_state in enumerate(replicas(state)):
        final, _, _ = evaluate(final_state, s)   # the final model's numbers, whatever was logged
        x0 = jax.random.uniform(jax.random.fold_in(keys[s], 7), (config.long_chain_num, 2), minval=TOY2D_BOX[0],
                                maxval=TOY2D_BOX[1])
        samples.append(np.asarray(sample_chains(sampler, jax.random.fold_in(keys[s], 8), x0, final_state.params,
                                                config.long_chain_steps).state.position))
        off = landscape.off_data_statistics(distance_to_data(samples[s], datas[s]), config.offdata_distance)
        results.append({
            "spurious_frac": final["spurious_frac"], "e_far_minus_data": final["e_far_minus_data"],
            "longchain_offdata_frac": off["offdata_frac"], "longchain_mean_dist": off["mean_dist"],
            "longchain_tv_vs_data_16x16": landscape.histogram_tv_distance(samples[s], datas[s], PLOT_BOX, 16),
            "mh_accept_rate": final["accept_rate"], "e_data": final["e_data"], "e_neg": final["e_neg"]})
    snapshots = {}
    for epoch in snaps:
        with np.load(snapshot_dir / f"epoch_{epoch}.npz") as f:
            snapshots[epoch] = (f["energy"].reshape(len(axis), len(axis)), f["negatives"])
    curve = [(h["epoch"], h["spurious_frac"]) for h in history if "spurious_frac" in h]
    return {"results": results, "snapshots": snapshots, "samples": samples[0], "axis": axis, "curve": curve}


def plot_dataset(path, dataset, runs, data, axis, snaps):
    import matplotlib.pyplot as plt

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


def train_and_evaluate(config, workdir: str) -> dict:
    """Train every (dataset, method) pair, evaluate, write results and figures; returns the results."""
    ebm_toy2d_config.validate(config)
    snaps = ebm_toy2d_config.snapshot_epochs(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    # Replica s: every key (data, initialization, chains, batches) of the single run with seed + s.
    keys = [jax.random.PRNGKey(config.seed + s) for s in range(config.num_seeds)]
    results = {"anchor": ANCHOR, "step_size": config.step_size, "num_epochs": config.num_epochs,
               "num_seeds": config.num_seeds}
    curves = {}
    for i, dataset in enumerate(config.datasets):
        datas = [np.asarray(sample_toy2d(jax.random.fold_in(key, 100 + i), dataset, config.num_data))
                 for key in keys]
        runs = {}
        for j, method in enumerate(config.methods):
            run = train_run(config, method, datas, [jax.random.fold_in(key, 10 * i + j) for key in keys],
                            workdir / f"{dataset}_{method}", snaps)
            runs[method] = (run["snapshots"], run["samples"])
            numbers = run["results"][0] if config.num_seeds == 1 else seeds.summarize(run["results"])
            results.update({f"{dataset}_{method}_{k}": v for k, v in numbers.items()})
            if run["curve"]:
                curves[f"{dataset} {method}"] = tuple(zip(*run["curve"]))
            write_results(workdir, results)
        plot_dataset(workdir / f"energy_{dataset}.png", dataset, runs, datas[0], run["axis"], snaps)
    title = "far-from-data grid cells with energy below data's 95th pct"
    if config.num_seeds > 1:
        title += f" (mean of {config.num_seeds} seeds)"
    viz.save_curves(workdir / "spurious_frac.png", curves, xlabel="epoch", ylabel="spurious low-energy fraction",
                    title=title)
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
