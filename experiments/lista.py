r"""LISTA vs ISTA vs FISTA on held-out MNIST digits (Gregor & LeCun, 2010).

    python -m experiments.lista --workdir runs/lista [--config.layers=1,2,5 ...]

1. Learn a dictionary D (784 x k) on the training digits; λ from the config.
2. Optimal codes z* of the training and held-out digits (working-set FISTA, relative
   duality gap ``target_tol``).
3. For T in ``layers``, train a LISTA with T layers (initialised from ISTA, so that
   before training it is exactly T ISTA steps) for each objective: ``supervised``
   (regress z*, the paper's setting) and ``unsupervised`` (minimise the lasso energy).
4. On held-out digits: the code prediction error ``Σ‖z − z*‖² / Σ‖z*‖²`` and the
   relative energy gap ``(ΣE(z) − ΣF)/ΣF`` of ISTA and FISTA after every iteration
   (1..max_iters) and of each LISTA; the equivalence "LISTA with T layers reaches the
   error of ISTA/FISTA after K iterations" (smallest K whose error is at most LISTA's).

Writes ``lista_vs_ista.png`` (both metrics vs iterations/layers, log-log), the table as
``results.json`` (keys ``<objective>/T<T>/...``) and ``metrics.jsonl`` (training loss
per epoch). Published anchor: Gregor & LeCun report LISTA with a few layers matching
ISTA run for roughly 20x more iterations (``paper_ista_iters_per_lista_layer_approx``).
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
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from ebm_jax.data import load_mnist, to_float  # noqa: E402
from ebm_jax.sparse import fista, ista, lasso_objective, working_set_lasso  # noqa: E402
from ebm_jax.sparse.dictionary import learn_dictionary  # noqa: E402
from ebm_jax.sparse.lista import make_lista, train_lista  # noqa: E402
from ebm_jax.train.workdir import MetricWriter, write_config, write_results  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(__file__).parent / "configs" / "lista.py"), "Experiment config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory.")

OBJECTIVES = ("supervised", "unsupervised")
PAPER_RATIO = 20.0


def parse_ints(spec: str, name: str) -> list[int]:
    vals = [int(s) for s in spec.split(",") if s.strip()]
    if not vals or min(vals) < 1:
        raise ValueError(f"config.{name} must be a comma-separated list of positive ints, got {spec!r}")
    return vals


def first_reaching(curve: np.ndarray, level: float):
    """Smallest 1-based iteration count whose value is <= level, or None."""
    hit = np.flatnonzero(curve <= level)
    return int(hit[0]) + 1 if len(hit) else None


def main(argv):
    del argv
    config = _CONFIG.value
    workdir = _WORKDIR.value
    if not workdir:
        raise app.UsageError("--workdir is required")
    layers = parse_ints(config.layers, "layers")
    objectives = [s.strip() for s in config.objectives.split(",") if s.strip()]
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"config.objectives: unknown objective {o!r}; choose from {OBJECTIVES}")
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    write_config(wd, config)
    writer = MetricWriter(wd)
    lam = float(config.lam)

    xtr = jnp.asarray(to_float(load_mnist("train")[0][: config.num_train]))
    xte = jnp.asarray(to_float(load_mnist("test")[0][: config.num_test]))
    t0 = time.time()
    state, _ = learn_dictionary(xtr, config.num_atoms, lam, num_epochs=config.dict_epochs,
                                batch_size=config.dict_batch_size, seed=config.seed, init="gaussian")
    D = state.D
    logging.info("dictionary learned in %.1fs", time.time() - t0)
    ws = min(config.num_atoms, config.working_set_size)
    ztr, _, gtr = working_set_lasso(xtr, D, lam, tol=config.target_tol, working_set_size=ws, return_info=True)
    zte, _, gte = working_set_lasso(xte, D, lam, tol=config.target_tol, working_set_size=ws, return_info=True)
    F = float(jnp.sum(lasso_objective(xte, D, zte, lam)))
    zz = float(jnp.sum(zte ** 2))
    results = {"device": jax.devices()[0].platform, "lam": lam, "num_atoms": config.num_atoms,
               "num_train": int(xtr.shape[0]), "num_test": int(xte.shape[0]),
               "target_rel_gap_train": float(gtr), "target_rel_gap_test": float(gte),
               "mean_nonzeros_zstar": float(jnp.mean(jnp.sum(zte != 0, -1))),
               "paper_ista_iters_per_lista_layer_approx": PAPER_RATIO}

    curves = {}
    for name, solver in (("ISTA", ista), ("FISTA", fista)):
        _, objs, dists = solver(xte, D, lam, num_iters=config.max_iters, return_objective=True, z_ref=zte)
        curves[name] = {"code_error": np.asarray(jnp.sum(dists, -1)) / zz,
                        "rel_energy": np.maximum(np.asarray(jnp.sum(objs, -1)) - F, 0.0) / F}
    lista = {o: {} for o in objectives}
    for obj in objectives:
        for T in layers:
            module, params = make_lista(D, lam, T, tied=config.tied)
            t1 = time.time()
            fit = train_lista(module, params, xtr, ztr, objective=obj, num_epochs=config.num_epochs,
                              batch_size=config.batch_size, learning_rate=config.learning_rate, seed=config.seed)
            z = module.apply({"params": fit.params}, xte)
            err = float(jnp.sum((z - zte) ** 2)) / zz
            rel_e = max(float(jnp.sum(lasso_objective(xte, D, z, lam))) - F, 0.0) / F
            lista[obj][T] = (err, rel_e)
            writer.write_many([{"step": e + 1, f"{obj}/T{T}/train_loss": float(v)} for e, v in enumerate(fit.losses)])
            row = {"code_error": err, "rel_energy": rel_e, "train_seconds": time.time() - t1,
                   "ista_code_error_same_iters": float(curves["ISTA"]["code_error"][T - 1]),
                   "fista_code_error_same_iters": float(curves["FISTA"]["code_error"][T - 1])}
            for name in ("ISTA", "FISTA"):
                for metric in ("code_error", "rel_energy"):
                    k = first_reaching(curves[name][metric], lista[obj][T][0 if metric == "code_error" else 1])
                    row[f"{name.lower()}_iters_to_match_{metric}"] = k if k is not None else f">{config.max_iters}"
            for key, v in row.items():
                results[f"{obj}/T{T}/{key}"] = v
            logging.info("%s T=%d: %s", obj, T, row)
            write_results(wd, results)

    # figure: both metrics vs iterations / layers
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    its = np.arange(1, config.max_iters + 1)
    for ax, metric, label in ((axes[0], "code_error", "code prediction error  Σ|z-z*|²/Σ|z*|²"),
                              (axes[1], "rel_energy", "relative energy gap  (E(z)-F)/F")):
        for name, style in (("ISTA", "-"), ("FISTA", "--")):
            ax.plot(its, np.maximum(curves[name][metric], 1e-7), style, label=name)  # float32 floor
        for obj, marker in zip(objectives, ("o", "s")):
            Ts = sorted(lista[obj])
            vals = [max(lista[obj][T][0 if metric == "code_error" else 1], 1e-12) for T in Ts]
            ax.plot(Ts, vals, marker=marker, ls=":", label=f"LISTA ({obj}, {'tied' if config.tied else 'untied'})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("iterations (ISTA/FISTA) or layers T (LISTA)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"MNIST test digits, k={config.num_atoms} learned atoms, lambda={lam}")
    fig.tight_layout()
    fig.savefig(wd / "lista_vs_ista.png", dpi=110)
    plt.close(fig)
    write_results(wd, results)
    logging.info("results: %s", results)


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
