r"""LISTA vs ISTA vs FISTA on held-out MNIST digits (Gregor & LeCun, 2010).

    python -m experiments.lista --workdir runs/lista [--config.layers='(1,2,5)' ...]

1. Learn a dictionary D (784 x k) on the training digits; λ from the config
   (``WORKDIR/dictionary``, resumable).
2. Optimal codes z* of the training and held-out digits (working-set FISTA, relative
   duality gap ``target_tol``).
3. For T in ``layers``, train a LISTA with T layers (initialised from ISTA, so that
   before training it is exactly T ISTA steps) for each objective: ``supervised``
   (regress z*, the paper's setting) and ``unsupervised`` (minimise the lasso energy),
   each in ``WORKDIR/<objective>_T<T>`` (checkpoints, resume).
   ("tied" part). The "layerwise" part trains one network of ``layerwise.num_layers``
   untied layers (``layerwise.kind``: "untied", "lfista" = untied + learned per-atom momentum, or
   "alista"; optional support selection), grown layer by layer (``layerwise.layer_epochs``; 0 skips)
   and then trained jointly (``layerwise.finetune_epochs``) in ``WORKDIR/layerwise``; each prefix
   of it is the T-layer network (keys ``layerwise/T<t>/...``). With
   ``layerwise.recipe="staged"`` the network is instead trained as LISTA-CPSS /
   ALISTA's ``utils/train.py`` does (:func:`ebm_jax.methods.lista.train_staged`,
   ``layerwise.staged``): batches of random training digits, the last
   ``staged.num_val`` training digits as the fixed validation set, per new layer a
   stage on it alone and stages on all layers so far, each ended by the validation
   error (checkpoints in ``WORKDIR/staged``; keys ``staged/T<t>/...``).
4. On held-out digits: the code prediction error ``Σ‖z − z*‖² / Σ‖z*‖²`` and the
   relative energy gap ``(ΣE(z) − ΣF)/ΣF`` of ISTA and FISTA after every iteration
   (1..max_iters) and of each LISTA; the equivalence "LISTA with T layers reaches the
   error of ISTA/FISTA after K iterations" (smallest K whose error is at most LISTA's).

Writes ``lista_vs_ista.png`` (both metrics vs iterations/layers, log-log) and the table
as ``results.json`` (keys ``<objective>/T<T>/...``). Published anchor: Gregor & LeCun
report LISTA with a few layers matching ISTA run for roughly 20x more iterations
(``paper_ista_iters_per_lista_layer_approx``).
"""

from __future__ import annotations

import functools
import pathlib
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax import cli  # noqa: E402
from ebm_jax.data import load_mnist, to_float  # noqa: E402
from ebm_jax.methods.dictionary import learn_dictionary  # noqa: E402
from ebm_jax.methods.lista import sample_rows, staged_results, train_layerwise, train_lista, train_staged  # noqa: E402
from ebm_jax.sparse import fista, lasso_objective, working_set_lasso  # noqa: E402
from ebm_jax.sparse.evaluation import code_error, first_reaching, relative_energy_gap, solver_curves  # noqa: E402
from ebm_jax.sparse.lista import make_context, make_lista, support_counts, unrolled_apply  # noqa: E402
from ebm_jax.train import write_config, write_results  # noqa: E402
from experiments.configs import lista as lista_config  # noqa: E402

PAPER_RATIO = 20.0


def load_digits(config):
    xtr = jnp.asarray(to_float(load_mnist("train")[0][: config.num_train]))
    xte = jnp.asarray(to_float(load_mnist("test")[0][: config.num_test]))
    return xtr, xte


def solve_in_chunks(solve, x, D, lam, tol, chunk: int = 10000):
    """``solve`` on ``chunk`` digits at a time (bounded memory): the codes, and the worst chunk's relative gap."""
    results = [solve(x[i:i + chunk], D, lam, tol=tol) for i in range(0, x.shape[0], chunk)]
    return jnp.concatenate([r.codes for r in results]), max(float(r.info.rel_gap) for r in results)


def optimal_codes(config, workdir: pathlib.Path, xtr, xte):
    """The dictionary (learned on the first ``dict_num_train`` digits, resumable) and the optimal codes of both
    sets with their certificates (the worst chunk's relative duality gap)."""
    state, _ = learn_dictionary(xtr[: config.dict_num_train], config.num_atoms, config.lam, num_epochs=config.dict_epochs,
                                batch_size=config.dict_batch_size, seed=config.seed, init="gaussian",
                                workdir=workdir / "dictionary")
    D = state.D
    if config.zstar_solver == "working_set":
        ws = min(config.num_atoms, config.working_set_size)
        solve = functools.partial(working_set_lasso, working_set_size=ws)
    else:
        solve = functools.partial(fista, restart=True, polish=True)
    return D, solve_in_chunks(solve, xtr, D, config.lam, config.target_tol), \
        solve_in_chunks(solve, xte, D, config.lam, config.target_tol)


def write_figure(path, config, curves, lista, layerwise=None):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    its = np.arange(1, config.max_iters + 1)
    for ax, metric, label in ((axes[0], "code_error", "code prediction error  Σ|z-z*|²/Σ|z*|²"),
                              (axes[1], "rel_energy", "relative energy gap  (E(z)-F)/F")):
        for name, style in (("ISTA", "-"), ("FISTA", "--")):
            ax.plot(its, np.maximum(curves[name][metric], 1e-7), style, label=name)  # float32 floor
        for obj, marker in zip(lista, ("o", "s")):
            Ts = sorted(lista[obj])
            ax.plot(Ts, [max(lista[obj][T][metric], 1e-12) for T in Ts], marker=marker, ls=":",
                    label=f"LISTA ({obj}, {'tied' if config.tied else 'untied'})")
        if layerwise:
            cfg = config.layerwise
            how = ("layer-wise + joint" if cfg.finetune_epochs else "layer-wise") if cfg.layer_epochs else "joint"
            how = "staged (LISTA-CPSS recipe)" if cfg.recipe == "staged" else how
            ss = " + support selection" if cfg.support_percent > 0 and cfg.support_max_percent > 0 else ""
            ax.plot(np.arange(1, len(layerwise) + 1), [max(r[metric], 1e-12) for r in layerwise], "^-",
                    label=f"LISTA {cfg.kind}{ss}, {how}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("iterations (ISTA/FISTA) or layers T (LISTA)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"MNIST test digits, k={config.num_atoms} learned atoms, lambda={config.lam}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def match_row(curves, errors: dict, T: int, max_iters: int) -> dict:
    """ISTA/FISTA errors after T iterations and the iterations they need to reach ``errors``."""
    row = {"ista_code_error_same_iters": float(curves["ISTA"]["code_error"][min(T, max_iters) - 1]),
           "fista_code_error_same_iters": float(curves["FISTA"]["code_error"][min(T, max_iters) - 1])}
    for name in ("ISTA", "FISTA"):
        for metric in ("code_error", "rel_energy"):
            k = first_reaching(curves[name][metric], errors[metric])
            row[f"{name.lower()}_iters_to_match_{metric}"] = k if k is not None else f">{max_iters}"
    return row


def train_layerwise_part(config, wd, D, xtr, ztr, xte, zte, F, curves, results):
    """One deep unrolled LISTA (untied / learned FISTA / ALISTA), grown layer by layer and/or trained jointly;
    per-layer held-out numbers."""
    cfg = config.layerwise
    ctx = make_context(D, config.lam, cfg.kind)
    num_pass = support_counts(cfg.num_layers, D.shape[1], cfg.support_percent, cfg.support_max_percent)
    t0 = time.time()
    if cfg.recipe == "staged":
        st = cfg.staged
        n_fit = xtr.shape[0] - st.num_val
        fit = train_staged(ctx, functools.partial(sample_rows, batch_size=st.batch_size),
                           {"x": xtr[:n_fit], "z": ztr[:n_fit]}, xtr[n_fit:], ztr[n_fit:], cfg.num_layers,
                           num_pass=num_pass, learning_rate=st.learning_rate,
                           stage_lr_factors=tuple(st.stage_lr_factors), layer_lr_decay=st.layer_lr_decay,
                           val_every=st.val_every, patience=st.patience, max_stage_steps=st.max_stage_steps,
                           seed=config.seed, workdir=wd / "staged")
        params = fit.params
        results.update(staged_results(fit))
        results["layerwise/recipe"] = "staged"
    else:
        params, _ = train_layerwise(ctx, xtr, ztr, cfg.num_layers, num_pass=num_pass, layer_epochs=cfg.layer_epochs,
                                    finetune_epochs=cfg.finetune_epochs, batch_size=cfg.batch_size,
                                    learning_rate=cfg.learning_rate, finetune_lr=cfg.finetune_lr,
                                    finetune_loss=cfg.finetune_loss, seed=config.seed, workdir=wd / "layerwise")
    results["layerwise/train_seconds"] = time.time() - t0
    _, zs = unrolled_apply(ctx, params, xte, num_pass, return_all=True)
    rows = []
    for t in range(cfg.num_layers):
        errors = {"code_error": code_error(zs[t], zte), "rel_energy": relative_energy_gap(xte, D, zs[t], config.lam, F)}
        rows.append(errors)
        for key, v in {**errors, **match_row(curves, errors, t + 1, config.max_iters)}.items():
            results[f"layerwise/T{t + 1}/{key}"] = v
    errs = [r["code_error"] for r in rows]
    results["layerwise/improves_every_layer"] = int(all(b < a for a, b in zip(errs, errs[1:])))
    results["layerwise/support_pass_counts"] = ",".join(map(str, num_pass))
    results["layerwise/target_code_error_T16"] = 0.01
    return rows


def train_and_evaluate(config, workdir: str) -> dict:
    """Dictionary, optimal codes, LISTA for every (objective, T), curves and figure; returns results."""
    lista_config.validate(config)
    wd = pathlib.Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    write_config(wd, config)
    lam = float(config.lam)
    xtr, xte = load_digits(config)
    D, (ztr, gap_train), (zte, gap_test) = optimal_codes(config, wd, xtr, xte)
    F = float(jnp.sum(lasso_objective(xte, D, zte, lam)))
    results = {"device": jax.devices()[0].platform, "lam": lam, "num_atoms": config.num_atoms,
               "num_train": int(xtr.shape[0]), "dict_num_train": int(min(config.dict_num_train, xtr.shape[0])),
               "num_test": int(xte.shape[0]), "target_rel_gap_train": gap_train, "target_rel_gap_test": gap_test,
               "mean_nonzeros_zstar": float(jnp.mean(jnp.sum(zte != 0, -1))),
               "paper_ista_iters_per_lista_layer_approx": PAPER_RATIO}

    curves = solver_curves(xte, D, lam, zte, config.max_iters)
    lista = {o: {} for o in config.objectives} if "tied" in config.parts else {}
    for obj in lista:
        for T in config.layers:
            module, params = make_lista(D, lam, T, tied=config.tied)
            t1 = time.time()
            fit = train_lista(module, params, xtr, ztr, objective=obj, num_epochs=config.num_epochs,
                              batch_size=config.batch_size, learning_rate=config.learning_rate, seed=config.seed,
                              workdir=wd / f"{obj}_T{T}", desc=f"LISTA {obj} T={T}")
            z = module.apply({"params": fit.params}, xte)
            lista[obj][T] = {"code_error": code_error(z, zte), "rel_energy": relative_energy_gap(xte, D, z, lam, F)}
            row = {**lista[obj][T], "train_seconds": time.time() - t1,
                   **match_row(curves, lista[obj][T], T, config.max_iters)}
            for key, v in row.items():
                results[f"{obj}/T{T}/{key}"] = v
    layerwise = None
    if "layerwise" in config.parts:
        layerwise = train_layerwise_part(config, wd, D, xtr, ztr, xte, zte, F, curves, results)
    write_figure(wd / "lista_vs_ista.png", config, curves, lista, layerwise)
    write_results(wd, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
