r"""Dictionary learning (sparse coding) on MNIST digits and natural-image patches.

    python -m experiments.sparse_coding --workdir runs/sparse_coding [--config.mnist.lam=0.2 ...]

Learns D (n, k) with unit-norm atoms by minibatch alternating minimisation of
Σ_i ½‖x_i − D z_i‖² + λ‖z_i‖₁ (FISTA inference, block-coordinate dictionary
update), then codes held-out data with FISTA to a relative duality gap
``eval_tol`` and reports, per dataset: the relative reconstruction error
Σ‖x − Dz‖²/Σ‖x‖², the mean number of non-zeros per example, the mean free
energy, and the same numbers for the initial (random) dictionary as a baseline.
Figures: ``atoms_<dataset>.png`` (the learned atoms: strokes for digits,
oriented edges for whitened patches), ``energy_<dataset>.png`` (training
energy per minibatch), ``recon_mnist.png`` (test digits and reconstructions).
No published number is reproduced exactly here (the lecture shows figures only).
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np
from absl import app, flags, logging
from ml_collections import config_flags

from ebm_jax import viz
from ebm_jax.data import load_mnist, to_float
from ebm_jax.data.patches import extract_patches
from ebm_jax.sparse import fista
from ebm_jax.sparse.dictionary import evaluate_dictionary, init_dictionary, learn_dictionary
from ebm_jax.train.workdir import MetricWriter, write_config, write_results

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(__file__).parent / "configs" / "sparse_coding.py"), "Experiment config.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory.")

DATASETS = ("mnist", "patches")


def load_data(name, cfg, seed):
    if name == "mnist":
        xtr = to_float(load_mnist("train")[0][: cfg.num_train])
        xte = to_float(load_mnist("test")[0][: cfg.num_test])
        return xtr, xte
    p = extract_patches(cfg.num_train + cfg.num_test, cfg.patch_size, seed=seed, whiten=cfg.whiten)
    return p[: cfg.num_train], p[cfg.num_train:]


def run_one(name, cfg, config, workdir, writer, results):
    xtr, xte = load_data(name, cfg, config.seed)
    logging.info("%s: train %s test %s", name, xtr.shape, xte.shape)
    t0 = time.time()
    offset = {"mnist": 0, "patches": 100000}[name]

    def callback(epoch, state, energies):
        writer.write(offset + epoch + 1, {f"{name}/train_energy": float(np.mean(energies))})
        logging.info("%s epoch %d: mean training energy %.4f", name, epoch + 1, float(np.mean(energies)))

    state, energies = learn_dictionary(
        xtr, cfg.num_atoms, cfg.lam, num_epochs=cfg.num_epochs, batch_size=config.batch_size,
        inference_iters=config.inference_iters, update=config.dict_update, forget=config.forget, init=cfg.init,
        nonneg=cfg.nonneg, nonneg_atoms=cfg.nonneg, seed=config.seed, callback=callback)
    train_s = time.time() - t0
    D = np.asarray(state.D)
    stats = evaluate_dictionary(xte, D, cfg.lam, tol=config.eval_tol, nonneg=cfg.nonneg)
    D0 = np.asarray(init_dictionary(jax.random.PRNGKey(config.seed), xtr, cfg.num_atoms, cfg.init).D)
    base = evaluate_dictionary(xte, D0, cfg.lam, tol=config.eval_tol, nonneg=cfg.nonneg)
    for k, v in stats.items():
        results[f"{name}/{k}"] = v
    for k in ("rel_recon_error", "mean_nonzeros", "energy"):
        results[f"{name}/init_dictionary_{k}"] = base[k]
    results[f"{name}/num_atoms"] = cfg.num_atoms
    results[f"{name}/lam"] = cfg.lam
    results[f"{name}/train_seconds"] = train_s
    results[f"{name}/num_train"] = int(xtr.shape[0])
    results[f"{name}/num_test"] = int(xte.shape[0])
    logging.info("%s: %s (init dictionary: %s)", name, stats, base)

    side = int(round(np.sqrt(D.shape[0])))
    # order atoms by usage on the test set so the figure shows the used ones first
    z = np.asarray(fista(xte[:1000], D, cfg.lam, tol=config.eval_tol, restart=True, polish=True,
                         nonneg=cfg.nonneg))
    order = np.argsort(-np.mean(z != 0, axis=0))
    n_show = min(cfg.num_atoms, 100 if name == "mnist" else 128)
    atoms = D.T[order[:n_show]].reshape(-1, side, side)
    if side < 16:  # upsample small patches so that the PNG is legible
        atoms = np.kron(atoms, np.ones((1, 4, 4), atoms.dtype))
    viz.save_image_grid(pathlib.Path(workdir) / f"atoms_{name}.png", atoms, normalize=True,
                        title=f"{name}: {n_show} most used of {cfg.num_atoms} atoms, lambda={cfg.lam}")
    viz.save_curves(pathlib.Path(workdir) / f"energy_{name}.png",
                    {"minibatch energy": (np.arange(len(energies)), energies)},
                    xlabel="minibatch", ylabel="mean 0.5|x-Dz|^2 + lam|z|_1", title=f"{name} dictionary learning")
    if name == "mnist":
        rec = np.clip(z[:12] @ D.T, 0, 1).reshape(-1, side, side)
        viz.save_rows(pathlib.Path(workdir) / "recon_mnist.png",
                      {"test": xte[:12].reshape(-1, side, side), "D z": rec},
                      title=f"reconstructions, mean non-zeros {stats['mean_nonzeros']:.1f}")


def main(argv):
    del argv
    config = _CONFIG.value
    workdir = _WORKDIR.value
    if not workdir:
        raise app.UsageError("--workdir is required")
    names = [s.strip() for s in config.datasets.split(",") if s.strip()]
    for n in names:
        if n not in DATASETS:
            raise ValueError(f"config.datasets: unknown dataset {n!r}; choose from {DATASETS}")
    pathlib.Path(workdir).mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    writer = MetricWriter(workdir)
    results = {"device": jax.devices()[0].platform, "dict_update": config.dict_update}
    for n in names:
        run_one(n, config[n], config, workdir, writer, results)
        write_results(workdir, results)
    logging.info("results: %s", results)


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
