r"""Learned ISTA that keeps improving with depth: the synthetic problem of LISTA-CPSS / ALISTA.

    python -m experiments.lista_synthetic --workdir runs/lista_synthetic [--config.kind=untied ...]

Chen et al. 2018 ("Theoretical linear convergence of unfolded ISTA and its practical
weights and thresholds") and Liu et al. 2019 ("ALISTA: analytic weights are as good
as learned weights in LISTA"): A (250, 500) Gaussian with unit columns, codes with a
Bernoulli(0.1) support and N(0, 1) values, noiseless measurements (or SNR ``snr_db``).
We train an unrolled network of ``num_layers`` layers (``kind="alista"``: the analytic
weight matrix and a learned step and threshold per layer; ``"untied"``: LISTA with
its own S and thresholds per layer) with support selection, layer by layer and then
jointly (``ebm_jax.methods.lista.train_layerwise``; checkpoints in ``WORKDIR/train``),
and report the held-out NMSE in dB against the true codes after every layer, beside
ISTA and FISTA (λ = ``lam``) after the same number of iterations and the published
curves.

``--config.recipe=staged`` trains instead as the authors' ``utils/train.py``
does (:func:`ebm_jax.methods.lista.train_staged`, ``config.staged``): fresh
problems every batch, a fixed validation set of ``staged.num_val`` problems,
per new layer a stage on that layer alone then stages on all layers at
decreasing rates, each ended by the validation NMSE (checkpoints in
``WORKDIR/staged``); ``results.json`` then also holds each stage's steps and
validation NMSE (``staged/T<t>/...``).

``ours/T<t>/fista_iters_to_match`` is the number of FISTA iterations (λ =
``lam``, from z = 0, up to ``match_iters``) whose NMSE against the true codes first
reaches ours after t layers (``">match_iters"`` if none does: FISTA converges to
the lasso solution, whose shrinkage bias floors its NMSE at
``fista/lowest_nmse_db``).

Writes ``results.json`` (``ours/T<t>/nmse_db``, ``ista/T<t>/nmse_db``,
``fista/T<t>/nmse_db``, the anchors) and ``nmse_vs_layers.png``.
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax import cli  # noqa: E402
from ebm_jax.methods.lista import staged_results, train_layerwise, train_staged  # noqa: E402
from ebm_jax.sparse import fista, ista  # noqa: E402
from ebm_jax.sparse.evaluation import first_reaching  # noqa: E402
from ebm_jax.sparse.lista import make_context, support_counts, unrolled_apply  # noqa: E402
from ebm_jax.sparse.synthetic import gaussian_dictionary, measure, nmse_db, sparse_codes  # noqa: E402
from ebm_jax.train import write_config, write_results  # noqa: E402
from experiments.configs import lista_synthetic as lista_synthetic_config  # noqa: E402

# Published anchors, noiseless problem, NMSE (dB) after 16 layers. APPROXIMATE: read from
# memory of the papers' figures (Chen et al. 2018, Fig. 3(a); Liu et al. 2019, Fig. 1),
# not checked against the PDFs; the curves themselves are not tabulated there.
ANCHORS_T16_DB_APPROX = {
    "lista_cpss_chen2018": -70.0,
    "alista_liu2019": -70.0,
    "lista_untied_chen2018": -40.0,
}


def make_problem(config):
    key = jax.random.PRNGKey(config.seed)
    k_A, k_train, k_test, k_noise = jax.random.split(key, 4)
    A = gaussian_dictionary(k_A, config.num_measurements, config.num_atoms)
    snr = None if config.noiseless else config.snr_db
    z_train = sparse_codes(k_train, config.num_train, config.num_atoms, config.p_nonzero)
    z_test = sparse_codes(k_test, config.num_test, config.num_atoms, config.p_nonzero)
    k1, k2 = jax.random.split(k_noise)
    return A, measure(k1, A, z_train, snr), z_train, measure(k2, A, z_test, snr), z_test


def make_sampler(config):
    """``(data, key) -> {"x", "z"}``: a fresh batch of problems on ``data["A"]`` (the authors' training input)."""
    snr = None if config.noiseless else config.snr_db
    batch_size, num_atoms, p = config.staged.batch_size, config.num_atoms, config.p_nonzero

    def sample(data, key):
        k_z, k_noise = jax.random.split(key)
        z = sparse_codes(k_z, batch_size, num_atoms, p)
        return {"x": measure(k_noise, data["A"], z, snr), "z": z}

    return sample


def validation_set(config, A):
    """The fixed validation problems of the staged recipe (their own key: disjoint from train and test draws)."""
    k_z, k_noise = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(config.seed), 1_000_003))
    z = sparse_codes(k_z, config.staged.num_val, config.num_atoms, config.p_nonzero)
    return measure(k_noise, A, z, None if config.noiseless else config.snr_db), z


def per_iteration_nmse_db(solver, x, A, lam, z_ref, num_iters):
    trace = solver(x, A, lam, num_iters=num_iters, trace=True, z_ref=z_ref).info.trace["sq_dist"]
    return [float(10.0 * jnp.log10(jnp.sum(trace[t]) / jnp.sum(z_ref ** 2))) for t in range(num_iters)]


def write_figure(path, config, ours, baselines):
    T = len(ours)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    layers = np.arange(1, T + 1)
    how = "staged (LISTA-CPSS recipe)" if config.recipe == "staged" else "layer-wise"
    ax.plot(layers, ours, "o-", label=f"ours: {config.kind} + support selection, {how}")
    for name, curve in baselines.items():
        ax.plot(layers, curve, "--", label=f"{name} (lambda={config.lam})")
    if config.noiseless and T >= 16:
        for name, value in ANCHORS_T16_DB_APPROX.items():
            ax.plot([16], [value], "x", ms=9, label=f"published {name} at 16 (approx.)")
    ax.set_xlabel("layers T (iterations for ISTA/FISTA)")
    ax.set_ylabel("held-out NMSE (dB)")
    snr = "noiseless" if config.noiseless else f"SNR {config.snr_db} dB"
    ax.set_title(f"A {config.num_measurements}x{config.num_atoms}, p={config.p_nonzero}, {snr}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_and_evaluate(config, workdir: str) -> dict:
    """Problem, layer-wise training, per-layer NMSE beside ISTA/FISTA and the anchors; returns results."""
    lista_synthetic_config.validate(config)
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    write_config(wd, config)
    A, x_train, z_train, x_test, z_test = make_problem(config)
    ctx = make_context(A, config.lam, config.kind)
    T = config.num_layers
    num_pass = support_counts(T, config.num_atoms, config.support_percent, config.support_max_percent)
    t0 = time.time()
    staged = None
    if config.recipe == "staged":
        st = config.staged
        x_val, z_val = validation_set(config, A)
        staged = train_staged(ctx, make_sampler(config), {"A": A}, x_val, z_val, T, num_pass=num_pass,
                              learning_rate=st.learning_rate, stage_lr_factors=tuple(st.stage_lr_factors),
                              layer_lr_decay=st.layer_lr_decay, val_every=st.val_every, patience=st.patience,
                              max_stage_steps=st.max_stage_steps, seed=config.seed, workdir=wd / "staged")
        params = staged.params
    else:
        params, stage_losses = train_layerwise(
            ctx, x_train, z_train, T, num_pass=num_pass, layer_epochs=config.layer_epochs,
            finetune_epochs=config.finetune_epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
            finetune_lr=config.finetune_lr, finetune_loss=config.finetune_loss, seed=config.seed, workdir=wd / "train")
    train_seconds = time.time() - t0
    _, zs = unrolled_apply(ctx, params, x_test, num_pass, return_all=True)
    ours = [nmse_db(zs[t], z_test) for t in range(T)]
    fista_long = per_iteration_nmse_db(fista, x_test, A, config.lam, z_test, max(T, config.match_iters))
    baselines = {"ISTA": per_iteration_nmse_db(ista, x_test, A, config.lam, z_test, T), "FISTA": fista_long[:T]}
    results = {"device": jax.devices()[0].platform, "kind": config.kind, "recipe": config.recipe, "num_layers": T,
               "noiseless": int(config.noiseless), "train_seconds": train_seconds,
               "support_pass_counts": ",".join(map(str, num_pass)),
               "ours_improves_every_layer": int(all(b < a for a, b in zip(ours, ours[1:])))}
    results["fista/lowest_nmse_db"] = float(min(fista_long))
    results["match_iters"] = len(fista_long)
    for t in range(T):
        results[f"ours/T{t + 1}/nmse_db"] = ours[t]
        k = first_reaching(fista_long, ours[t])  # FISTA iterations (from z = 0) to reach our NMSE
        results[f"ours/T{t + 1}/fista_iters_to_match"] = k if k is not None else f">{len(fista_long)}"
        for name, curve in baselines.items():
            results[f"{name.lower()}/T{t + 1}/nmse_db"] = curve[t]
    if config.kind == "alista":
        for t, p in enumerate(params):
            results[f"ours/T{t + 1}/gamma"] = float(p["gamma"])
            results[f"ours/T{t + 1}/theta"] = float(p["theta"])
    if staged is not None:
        results.update(staged_results(staged))
    for name, value in ANCHORS_T16_DB_APPROX.items():
        results[f"anchor_T16_db_approx/{name}"] = value
    write_figure(wd / "nmse_vs_layers.png", config, ours, baselines)
    write_results(wd, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
