r"""Bernoulli RBM on binarized MNIST trained with CD-1, CD-k and PCD; AIS test log-likelihood.

    python -m experiments.rbm_mnist --workdir runs/rbm_mnist [--config.methods="('cd1','pcd1')" ...]

Each method trains in ``WORKDIR/<method>`` (checkpoints, metrics.jsonl; rerunning
resumes). Training uses dynamic binarization (a fresh Bernoulli draw per batch);
every likelihood is on the *fixed-seed* binarization of the test set
(``binarize_fixed(x, seed=0)``). Writes:

    results.json         AIS vs exact log Z on a 20-hidden RBM (``ais_check_*``); per method:
                         AIS log Z (+ spread), test / train log-likelihood,
                         pseudo-log-likelihood, free energies of data vs long-chain samples,
                         beside Salakhutdinov & Murray (2008)'s numbers
    filters_<m>.png      the first 100 hidden units' weights
    samples_long.png     10,000-sweep Gibbs chains from noise, one row block per method
    free_energy.png      mean free energy of data vs negative / long-chain samples over training

``--config.num_seeds=S`` trains seeds ``seed .. seed + S - 1`` of each method
together (one vmapped program, :mod:`ebm_jax.train.seeds`); seed ``s`` uses
the keys of the single run with ``--config.seed=s``. Every number of a method
is then reported as ``<method>_<name>_seed<i>``, ``_mean`` and ``_std``
(figures: the first seed).
"""

from __future__ import annotations

import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks, cli, viz
from ebm_jax.data import binarize_fixed, load_mnist_train_test, to_float
from ebm_jax.eval.samples import sample_energy_statistics
from ebm_jax.methods import rbm as rbm_method
from ebm_jax.models import rbm
from ebm_jax.samplers import parse_method, run_chain
from ebm_jax.train import fit, fit_seeds, seeds, write_config, write_results
from ebm_jax.train.optim import make_optimizer
from experiments.configs import rbm_mnist as rbm_mnist_config

# Salakhutdinov & Murray (2008), Table 2: MNIST, 500 hidden units, AIS estimate of
# the average test log-probability (nats), trained with CD-T for T = 1, 3, 25.
SM08_TEST_LL = {"cd1": -125.53, "cd3": -105.50, "cd25": -86.34}
SM08_TRAIN_LL = {"cd1": -122.86, "cd3": -102.81, "cd25": -83.10}


def load_data(config):
    xtr, _, xte, _ = load_mnist_train_test(source=config.data_source, num_train=config.num_train_examples,
                                           num_test=config.num_test_examples)
    x_train = to_float(xtr)                       # [0, 1]; binarized per batch in the train step
    x_test = binarize_fixed(to_float(xte))        # fixed-seed binarization (evaluation)
    rbm.validate_unit_interval(x_train, "training images")
    rbm.validate_binary(x_test, "test images")
    if config.batch_size > len(x_train):
        raise checks.ConfigError(f"config.batch_size ({config.batch_size}) exceeds the training set ({len(x_train)})")
    return x_train, x_test


def make_eval_fn(config, x_eval, base_p, key):
    """Per-epoch: mean free energy of test data vs samples after ``eval_chain_steps`` sweeps from noise."""
    n_chains = 100
    x0 = jax.random.bernoulli(key, base_p, (n_chains, x_eval.shape[1])).astype(jnp.float32)

    @jax.jit
    def evaluate(params):
        out = {"fe_test": jnp.mean(rbm.free_energy(params, x_eval)),
               "pll_test": jnp.mean(rbm.pseudo_log_likelihood(key, params, x_eval))}
        if config.eval_chain_steps:
            xs = run_chain(rbm.GIBBS, key, x0, params, config.eval_chain_steps).state.position
            out["fe_chain"] = jnp.mean(rbm.free_energy(params, xs))
        return out

    return lambda state: evaluate(state.params)


def train_one(config, method, x_train, x_test, keys, workdir):
    """Train one RBM per key (one vmapped program when there are several); returns
    ``([params of each seed], history, seconds)``."""
    kind, k = parse_method(method)
    steps = config.num_epochs * (len(x_train) // config.batch_size)
    base_p = jnp.asarray(x_train.mean(0))
    tx = make_optimizer("sgd", config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay,
                        decay_mask=rbm_method.WEIGHT_DECAY_MASK, schedule="linear" if config.lr_decay else "constant",
                        total_steps=steps)
    x_eval = jnp.asarray(x_test[: config.eval_num_examples])
    states, rngs, eval_fns = [], [], []
    for key in keys:
        kinit, kchain, kfit, keval = jax.random.split(key, 4)
        chains = (jax.random.bernoulli(kchain, base_p, (config.pcd_num_chains, x_train.shape[1])).astype(jnp.float32)
                  if kind == "pcd" else None)
        states.append(rbm_method.create_state(kinit, tx, num_visible=x_train.shape[1], num_hidden=config.num_hidden,
                                              data_mean=base_p, chains=chains))
        rngs.append(kfit)
        eval_fns.append(make_eval_fn(config, x_eval, base_p, keval))
    def eval_fn(states):
        return [f(state) for f, state in zip(eval_fns, states)]

    t0 = time.perf_counter()
    states, history = fit_seeds(states, rbm_method.make_train_step(kind, k), jnp.asarray(x_train), rngs=rngs,
                                batch_size=config.batch_size, num_epochs=config.num_epochs, workdir=workdir,
                                checkpoint_every_steps=config.checkpoint_every_steps or None,
                                log_every_steps=config.log_every_steps, eval_fn=eval_fn, desc=method)
    return [state.params for state in states], history, time.perf_counter() - t0


def ais_check(config, x_train, key, workdir) -> dict:
    """AIS vs exact log Z on an RBM small enough to enumerate (``ais_check_hidden`` units, trained by PCD-1)."""
    H = config.ais_check_hidden
    kinit, kchain, kfit, kais = jax.random.split(key, 4)
    base_p = jnp.asarray(x_train.mean(0))
    chains = jax.random.bernoulli(kchain, base_p, (config.pcd_num_chains, x_train.shape[1])).astype(jnp.float32)
    state = rbm_method.create_state(kinit, make_optimizer("sgd", config.learning_rate, momentum=config.momentum),
                                    num_visible=x_train.shape[1], num_hidden=H, data_mean=base_p, chains=chains)
    state, _ = fit(state, rbm_method.make_train_step("pcd", 1), jnp.asarray(x_train), batch_size=config.batch_size,
                   num_epochs=config.ais_check_epochs, rng=kfit, workdir=workdir,
                   log_every_steps=config.log_every_steps, desc=f"ais_check ({H} hidden)")
    exact = rbm.exact_log_partition(state.params)
    ais = rbm.ais_log_partition(kais, state.params, num_betas=config.ais_num_betas, num_runs=config.ais_num_runs,
                                schedule=config.ais_schedule, data=x_train)
    return {"ais_check_hidden": H, "ais_check_exact_log_z": exact, "ais_check_ais_log_z": ais.log_z,
            "ais_check_ais_log_z_std": ais.log_z_std, "ais_check_error": ais.log_z - exact}


def evaluate_method(config, method, params, x_train, x_test, train_eval, key, workdir, figures=True):
    """AIS log Z, test/train log-likelihood, pseudo-LL and long-chain statistics of one trained RBM.

    Returns ``(numbers, mean images of the long chains' p(v | h) or None)``.
    """
    ais = rbm.ais_log_partition(jax.random.fold_in(key, 1), params, num_betas=config.ais_num_betas,
                                num_runs=config.ais_num_runs, schedule=config.ais_schedule, data=x_train)
    fe_test = np.asarray(rbm.free_energy(params, jnp.asarray(x_test)))
    fe_train = np.asarray(rbm.free_energy(params, train_eval))
    r = {"test_ll": float(-fe_test.mean() - ais.log_z), "train_ll": float(-fe_train.mean() - ais.log_z),
         "log_z": ais.log_z, "log_z_std": ais.log_z_std,
         "test_pll": float(jnp.mean(rbm.pseudo_log_likelihood(jax.random.fold_in(key, 2), params,
                                                              jnp.asarray(x_test)))),
         "test_ll_anchor": SM08_TEST_LL.get(method, "n/a"), "train_ll_anchor": SM08_TRAIN_LL.get(method, "n/a")}
    if not config.long_chain_steps:
        return r, None
    x0 = jax.random.bernoulli(jax.random.fold_in(key, 3), 0.5,
                              (config.long_chain_num, x_train.shape[1])).astype(jnp.float32)
    xs = rbm.sample_gibbs(jax.random.fold_in(key, 4), params, x0, config.long_chain_steps).state.position
    mean_img = np.asarray(rbm.visible_probs(params, rbm.hidden_probs(params, xs)))
    stats = sample_energy_statistics(rbm.free_energy(params, xs), fe_test)
    r.update({"fe_test_mean": stats["e_data_mean"], "fe_longchain_mean": stats["e_samples_mean"],
              "fe_longchain_minus_test": stats["e_samples_minus_data"],
              "longchain_frac_below_test_median_fe": stats["frac_below_data_median"],
              "longchain_mean_pixel": float(np.asarray(xs).mean())})
    if figures:
        viz.save_image_grid(workdir / f"samples_long_{method}.png", mean_img,
                            title=f"{method}: p(v|h) after {config.long_chain_steps} Gibbs sweeps from noise")
    return r, mean_img


def train_and_evaluate(config, workdir: str) -> dict:
    """Train every method (resuming), evaluate, write results and figures; returns the results."""
    rbm_mnist_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    x_train, x_test = load_data(config)
    key = jax.random.PRNGKey(config.seed)
    results = {"binarization_train": "dynamic", "binarization_eval": "fixed (binarize_fixed seed 0)",
               "num_hidden": config.num_hidden, "num_epochs": config.num_epochs,
               "ais_num_betas": config.ais_num_betas, "ais_num_runs": config.ais_num_runs,
               "anchor_source": "Salakhutdinov & Murray 2008, Table 2 (500 hidden, CD1/CD3/CD25)"}
    if config.ais_check_hidden:
        results.update(ais_check(config, x_train, jax.random.fold_in(key, 1000), workdir / "ais_check"))
        write_results(workdir, results)
    samples_rows, fe_curves, fe_eval_curves = {}, {}, {}
    train_eval = jnp.asarray(binarize_fixed(x_train[:10000], seed=1))
    results["num_seeds"] = config.num_seeds
    # Seed s of method i: the keys of the single run with --config.seed=s (seeds seed .. seed + num_seeds - 1).
    seed_keys = [key] + [jax.random.PRNGKey(config.seed + s) for s in range(1, config.num_seeds)]
    for i, method in enumerate(config.methods):
        mkeys = [jax.random.fold_in(k, i) for k in seed_keys]
        all_params, history, seconds = train_one(config, method, x_train, x_test, mkeys, workdir / method)
        per_seed = [evaluate_method(config, method, p, x_train, x_test, train_eval, mk, workdir, figures=s == 0)
                    for s, (p, mk) in enumerate(zip(all_params, mkeys))]
        p, mean_img = all_params[0], per_seed[0][1]
        r = dict(per_seed[0][0])
        if config.num_seeds > 1:
            anchors = {name: r[name] for name in ("test_ll_anchor", "train_ll_anchor")}
            r = {**seeds.summarize([{k: v for k, v in numbers.items() if k not in anchors}
                                    for numbers, _ in per_seed]), **anchors}
        r["train_seconds"] = seconds
        if mean_img is not None:
            samples_rows[method] = mean_img[:20]
        viz.save_image_grid(workdir / f"filters_{method}.png", np.asarray(p.W[:, :100].T), normalize=True,
                            title=f"{method}: first 100 filters")
        results.update({f"{method}_{k}": v for k, v in r.items()})
        steps = [h for h in history if "fe_data" in h]
        fe_curves[f"{method} data"] = ([h["step"] for h in steps], [h["fe_data"] for h in steps])
        fe_curves[f"{method} negatives"] = ([h["step"] for h in steps], [h["fe_neg"] for h in steps])
        evals = [h for h in history if "fe_chain" in h]
        if evals:
            fe_eval_curves[f"{method} test data"] = ([h["step"] for h in evals], [h["fe_test"] for h in evals])
            fe_eval_curves[f"{method} chain samples"] = ([h["step"] for h in evals], [h["fe_chain"] for h in evals])
        write_results(workdir, results)
    if samples_rows:
        viz.save_rows(workdir / "samples_long.png", samples_rows,
                      title=f"p(v|h) after {config.long_chain_steps} Gibbs sweeps from noise")
    viz.save_curves(workdir / "free_energy.png", fe_curves, ylabel="mean free energy F(v)",
                    title="training batch vs negative samples (CD: k sweeps from data; PCD: persistent)")
    if fe_eval_curves:
        viz.save_curves(workdir / "free_energy_chains.png", fe_eval_curves, ylabel="mean free energy F(v)",
                        title=f"test data vs {config.eval_chain_steps}-sweep chains from noise (per epoch)")
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
