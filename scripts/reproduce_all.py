"""Regenerate the reference results under ``results/`` and write ``REPORT.md``.

    python scripts/reproduce_all.py                 # run every experiment, then write REPORT.md
    python scripts/reproduce_all.py --only vae_mnist
    python scripts/reproduce_all.py --report-only   # just rebuild REPORT.md from results/

Each entry of :data:`EXPERIMENTS` runs ``python -m experiments.<module> --workdir
runs/reproduce/<name> <args>``; its ``results.json`` and PNG figures are copied to
``results/<name>/`` with a ``COMMAND`` file holding the exact command line.

``REPORT.md`` is one page: per lecture topic (:data:`TOPICS`) a table of headline
numbers beside the published anchors, each read from the results file its last
column cites, the key figure and links to the results pages; then the benchmark
ratios (:data:`BENCHMARKS`) and what is missed (:data:`MISSED`). Details stay in
``results/<name>/README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import shlex
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name -> (experiment module, extra arguments)
EXPERIMENTS: dict[str, tuple[str, list[str]]] = {
    "vae_mnist": ("vae_mnist", []),
    "vae_mnist_2d": ("vae_mnist", ["--config.latent_dim=2", "--config.eval_importance_samples=1000"]),
    "vae_mnist_course": ("vae_mnist", ["--config=experiments/configs/vae_mnist.py:course"]),
    "vae_mnist_long": ("vae_mnist", ["--config.hidden_dims=(200,200)", "--config.latent_dim=50",
                                     "--config.num_epochs=100", "--config.batch_size=100",
                                     "--config.learning_rate=1e-3", "--config.compare_with_ae=False"]),
    "vae_mnist_iwae_k5": ("vae_mnist", ["--config.hidden_dims=(200,200)", "--config.latent_dim=50",
                                        "--config.num_epochs=30", "--config.batch_size=100", "--config.iwae_k=5",
                                        "--config.compare_with_ae=False"]),
    "sparse_coding": ("sparse_coding", []),
    "lista": ("lista", ["--config.num_train=10000", "--config.parts=('tied',)"]),  # the defaults of its time
    "lista_layerwise": ("lista", ["--config.parts=('layerwise',)"]),
    "lista_synthetic": ("lista_synthetic", []),
    "lista_synthetic_staged": ("lista_synthetic", ["--config.recipe=staged", "--config.support_max_percent=13.0",
                                                   "--config.staged.val_every=25", "--config.staged.patience=50",
                                                   "--config.staged.max_stage_steps=100"]),
    "lista_staged": ("lista", ["--config.parts=('layerwise',)", "--config.layerwise.recipe=staged",
                               "--config.layerwise.staged.val_every=25", "--config.layerwise.staged.patience=400",
                               "--config.layerwise.staged.max_stage_steps=1500"]),
    "rbm_mnist": ("rbm_mnist", []),
    "rbm_mnist_long": ("rbm_mnist", ["--config.num_epochs=100", "--config.momentum=0.9"]),
    "ebm_toy2d": ("ebm_toy2d", []),
    "dae": ("dae", []),
    "simclr": ("simclr", []),
    "moco": ("moco", []),
    "pirl": ("pirl", []),
    "lvebm_ellipse": ("lvebm_ellipse", []),
    "lvebm_horn": ("lvebm_horn", []),
    "lvebm_collapse": ("lvebm_collapse", []),
    "conv_sparse_coding": ("conv_sparse_coding", []),
}


def run_experiment(name: str) -> None:
    module, extra = EXPERIMENTS[name]
    workdir = ROOT / "runs" / "reproduce" / name
    cmd = [sys.executable, "-m", f"experiments.{module}", f"--workdir={workdir.relative_to(ROOT)}", *extra]
    print("$", shlex.join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    out = ROOT / "results" / name
    out.mkdir(parents=True, exist_ok=True)
    for path in [workdir / "results.json", *sorted(workdir.glob("*.png"))]:
        shutil.copy(path, out / path.name)
    (out / "COMMAND").write_text("python " + shlex.join(cmd[1:]) + "\n")


@dataclasses.dataclass(frozen=True)
class Cell:
    """A number read from ``results/<path>`` at ``key`` (``a/b`` also walks nested objects)."""

    key: str
    digits: int = 2
    scale: float = 1.0
    prefix: str = ""
    suffix: str = ""


@dataclasses.dataclass(frozen=True)
class Row:
    """One table row: ``label``, our number, and the published anchor (a cited number, or text)."""

    label: str
    path: str  # relative to results/
    ours: Cell
    anchor: Cell | str = "—"
    anchor_note: str = ""


@dataclasses.dataclass(frozen=True)
class Topic:
    title: str
    summary: str
    rows: tuple[Row, ...]
    figures: tuple[str, ...]  # relative to results/
    pages: tuple[str, ...]  # results/<name>/ directories
    api: tuple[str, ...]  # modules of ebm_jax
    command: str = ""


def _pct(key, digits=2, **kw):
    return Cell(key, digits, scale=100.0, suffix="%", **kw)


TOPICS: tuple[Topic, ...] = (
    Topic("The practicum: VAE vs a classic autoencoder on MNIST",
          "Binarized MNIST (dynamic binarization for training, one fixed-seed binarization of the 10,000 "
          "test digits for every number); nats per test image. The VAE's random codes decode to digits, "
          "the autoencoder's do not.",
          (Row("VAE 784-400-20, 20 epochs: test −ELBO", "vae_mnist/results.json", Cell("test_neg_elbo"),
               Cell("anchor_neg_elbo_target", 0, prefix="≤ "), "target"),
           Row("VAE 784-400-20: −log p(x), importance sampling k = 5000", "vae_mnist/results.json",
               Cell("test_nll_is")),
           Row("classic AE, same trunk: test reconstruction", "vae_mnist/results.json", Cell("ae_test_recon"),
               "no likelihood"),
           Row("VAE 784-400-2 (latent-space figure): test −ELBO", "vae_mnist_2d/results.json",
               Cell("test_neg_elbo")),
           Row("VAE 784-200-200-50, 100 epochs: −log p(x), k = 5000", "vae_mnist_long/results.json",
               Cell("test_nll_is"), Cell("anchor_burda_vae_nll"), "Burda et al. 2015, VAE, 3,280 epochs"),
           Row("IWAE bound k = 5, 784-200-200-50, 30 epochs: −log p(x)", "vae_mnist_iwae_k5/results.json",
               Cell("test_nll_is"), Cell("anchor_burda_iwae50_nll"), "Burda et al. 2015, IWAE k = 50")),
          ("vae_mnist/samples.png", "vae_mnist_2d/latent_space.png"),
          ("vae_mnist", "vae_mnist_2d", "vae_mnist_long", "vae_mnist_iwae_k5", "vae_mnist_course"),
          ("ebm_jax.methods.vae", "ebm_jax.models.vae", "ebm_jax.eval.likelihood", "ebm_jax.losses"),
          "python -m experiments.vae_mnist --workdir runs/vae_mnist"),
    Topic("Contrastive divergence and persistent CD",
          "A Bernoulli RBM with 500 hidden units on binarized MNIST, trained by CD-k and PCD-1; test "
          "log-likelihood by annealed importance sampling (14,500 β, 100 runs). On 2-D toy data, an MLP "
          "energy trained on Metropolis–Hastings chains: long chains from CD-1 wander off the data, "
          "PCD's stay on it.",
          (Row("RBM, CD-1, 100 epochs: test log-likelihood (nats)", "rbm_mnist_long/results.json",
               Cell("cd1_test_ll"), Cell("cd1_test_ll_anchor"), "Salakhutdinov & Murray 2008"),
           Row("RBM, CD-3, 100 epochs", "rbm_mnist_long/results.json", Cell("cd3_test_ll"),
               Cell("cd3_test_ll_anchor"), "Salakhutdinov & Murray 2008"),
           Row("RBM, CD-25, 100 epochs", "rbm_mnist_long/results.json", Cell("cd25_test_ll"),
               Cell("cd25_test_ll_anchor"), "Salakhutdinov & Murray 2008"),
           Row("RBM, PCD-1, 100 epochs (AIS with 58,000 β)", "rbm_mnist_long/results_ais58k.json",
               Cell("pcd1_test_ll")),
           Row("AIS log Z of a 20-hidden RBM vs exact enumeration", "rbm_mnist/results.json",
               Cell("ais_check_ais_log_z", 3), Cell("ais_check_exact_log_z", 3), "exact"),
           Row("2-D rings, CD-1: long-chain samples off the data", "ebm_toy2d/results.json",
               _pct("rings_cd1_longchain_offdata_frac", 1)),
           Row("2-D rings, PCD-10: long-chain samples off the data", "ebm_toy2d/results.json",
               _pct("rings_pcd10_longchain_offdata_frac", 1))),
          ("rbm_mnist_long/samples_long.png", "ebm_toy2d/energy_rings.png"),
          ("rbm_mnist_long", "rbm_mnist", "ebm_toy2d"),
          ("ebm_jax.methods.rbm", "ebm_jax.models.rbm", "ebm_jax.samplers", "ebm_jax.methods.energy_mlp",
           "ebm_jax.eval.landscape"),
          "python -m experiments.rbm_mnist --workdir runs/rbm_mnist_long --config.num_epochs=100 "
          "--config.momentum=0.9"),
    Topic("Denoising autoencoders",
          "An MLP denoising autoencoder on MNIST, one per corruption; test mean squared error of the "
          "corrupted and the denoised images. The outputs are smoother than the clean digits, as the "
          "lecture says.",
          (Row("Gaussian noise σ = 0.5: corrupted test MSE", "dae/results.json",
               Cell("gaussian0.5_test_mse_corrupted", 3)),
           Row("Gaussian noise σ = 0.5: denoised test MSE", "dae/results.json",
               Cell("gaussian0.5_test_mse_denoised", 3)),
           Row("masking 50%: denoised test MSE", "dae/results.json", Cell("masking0.5_test_mse_denoised", 3)),
           Row("salt and pepper 30%: denoised test MSE", "dae/results.json",
               Cell("salt_and_pepper0.3_test_mse_denoised", 3)),
           Row("sharpness of the denoised images / the clean ones (Gaussian)", "dae/results.json",
               Cell("gaussian0.5_sharpness_ratio_vs_clean"), "the lecture: blurry outputs")),
          ("dae/denoising_gaussian0.5.png",),
          ("dae",),
          ("ebm_jax.methods.dae", "ebm_jax.models.dae", "ebm_jax.data.corruptions", "ebm_jax.eval.images"),
          "python -m experiments.dae --workdir runs/dae"),
    Topic("Contrastive self-supervised learning: SimCLR, MoCo v2, PIRL",
          "A small CNN pretrained for 5 epochs on the 60,000 MNIST training images without labels, then "
          "a linear probe on its frozen representation; test accuracy.",
          (Row("SimCLR: linear probe accuracy", "simclr/results.json", _pct("linear_probe_accuracy"),
               _pct("linear_probe_target", 0, prefix="≥ "), "target"),
           Row("MoCo v2: linear probe accuracy", "moco/results.json", _pct("linear_probe_accuracy"),
               _pct("linear_probe_target", 0, prefix="≥ "), "target"),
           Row("PIRL: linear probe accuracy", "pirl/results.json", _pct("linear_probe_accuracy"),
               _pct("linear_probe_target", 0, prefix="≥ "), "target"),
           Row("logistic regression on raw pixels", "simclr/results.json", _pct("raw_pixel_logreg_accuracy"),
               _pct("raw_pixel_logreg_anchor", 0, prefix="≈ ")),
           Row("the same CNN trained supervised", "simclr/results.json", _pct("supervised_cnn_full_accuracy")),
           Row("10 labels per class: SimCLR probe (mean of 3 seeds)", "simclr/results.json",
               _pct("probe_10_per_class_mean", 1)),
           Row("10 labels per class: supervised CNN (mean of 3 seeds)", "simclr/results.json",
               _pct("supervised_10_per_class_mean", 1))),
          ("simclr/label_efficiency.png",),
          ("simclr", "moco", "pirl"),
          ("ebm_jax.methods.ssl", "ebm_jax.models.ssl", "ebm_jax.eval.probe", "ebm_jax.data.augment",
           "ebm_jax.losses"),
          "python -m experiments.simclr --workdir runs/simclr"),
    Topic("Sparse coding: ISTA, FISTA, LISTA and dictionary learning",
          "Lasso codes of MNIST digits over a learned 256-atom dictionary; learned ISTA (LISTA) unrolls "
          "T iterations into layers and is measured by how many ISTA/FISTA iterations match its code "
          "error; on the ALISTA compressed-sensing problem, by NMSE.",
          (Row("LISTA, T = 1 layer: ISTA iterations that match it", "lista/results.json",
               Cell("supervised/T1/ista_iters_to_match_code_error", 0),
               Cell("paper_ista_iters_per_lista_layer_approx", 0, prefix="≈ "), "Gregor & LeCun 2010, approx."),
           Row("LISTA, T = 1 layer: FISTA iterations that match it", "lista/results.json",
               Cell("supervised/T1/fista_iters_to_match_code_error", 0)),
           Row("learned FISTA, 16 layers: MNIST held-out code error", "lista_layerwise/results.json",
               Cell("layerwise/T16/code_error", 4), "target ≤ 0.01"),
           Row("the same network trained in stages (LISTA-CPSS / ALISTA recipe)", "lista_staged/results.json",
               Cell("layerwise/T16/code_error", 4), "target ≤ 0.01"),
           Row("learned ISTA, ALISTA problem, T = 16: NMSE (dB)", "lista_synthetic/results.json",
               Cell("ours/T16/nmse_db", 1), Cell("anchor_T16_db_approx/alista_liu2019", 0, prefix="≈ "),
               "ALISTA, Liu et al. 2019, read from the figures"),
           Row("the same, 10x the training problems, p_max 13%", "lista_synthetic/results_40k_pmax13.json",
               Cell("ours/T16/nmse_db", 1)),
           Row("the same, trained in stages on fresh problems per batch", "lista_synthetic_staged/results.json",
               Cell("ours/T16/nmse_db", 1)),
           Row("FISTA, 16 iterations, same problem: NMSE (dB)", "lista_synthetic/results.json",
               Cell("fista/T16/nmse_db", 1)),
           Row("dictionary learning, MNIST: relative reconstruction error", "sparse_coding/results.json",
               Cell("mnist/rel_recon_error", 3)),
           Row("dictionary learning, MNIST: mean non-zeros per code", "sparse_coding/results.json",
               Cell("mnist/mean_nonzeros", 1))),
          ("lista_synthetic/nmse_vs_layers.png", "sparse_coding/atoms_mnist.png"),
          ("lista", "lista_layerwise", "lista_staged", "lista_synthetic", "lista_synthetic_staged", "sparse_coding"),
          ("ebm_jax.sparse.lasso", "ebm_jax.sparse.working_set", "ebm_jax.sparse.lista", "ebm_jax.methods.lista",
           "ebm_jax.sparse.dictionary", "ebm_jax.methods.dictionary"),
          "python -m experiments.lista --workdir runs/lista"),
    Topic("Convolutional sparse coding",
          "9×9 filters learned on natural images by convolutional sparse coding and by patch-based "
          "sparse coding; shift coherence near 1 means every filter is a shifted copy of another. "
          "Denoising PSNR on camera, barbara and monarch at 192².",
          (Row("K = 16 filters: mean shift coherence, convolutional", "conv_sparse_coding/results.json",
               Cell("K16/conv/shift_coherence_mean")),
           Row("K = 16 filters: mean shift coherence, patch-based", "conv_sparse_coding/results.json",
               Cell("K16/patch/shift_coherence_mean")),
           Row("denoising σ = 25: convolutional sparse coding, PSNR (dB)", "conv_sparse_coding/results.json",
               Cell("denoise/sigma25/conv/psnr")),
           Row("denoising σ = 25: patch-based sparse coding", "conv_sparse_coding/results.json",
               Cell("denoise/sigma25/patch/psnr")),
           Row("denoising σ = 25: one-pass encoder", "conv_sparse_coding/results.json",
               Cell("denoise/sigma25/encoder/psnr")),
           Row("denoising σ = 25: BM3D on the same images", "conv_sparse_coding/results.json",
               Cell("denoise/sigma25/bm3d/psnr"), Cell("denoise/bm3d_bsd68_sigma25_published_psnr"),
               "BM3D on BSD68 (other images)")),
          ("conv_sparse_coding/filters.png",),
          ("conv_sparse_coding", "conv_sparse_bench"),
          ("ebm_jax.sparse.conv", "ebm_jax.sparse.conv_lista", "ebm_jax.methods.conv_sparse",
           "ebm_jax.eval.filters", "ebm_jax.eval.denoising"),
          "python -m experiments.conv_sparse_coding --workdir runs/conv_sparse_coding"),
    Topic("Regularized latent-variable EBMs: the ellipse, the horn and collapse",
          "E(x, y, z) = ‖y − g(f(x), z)‖² + λR(z), with inference ž = argmin_z E and free energy "
          "F∞(y) = min_z E. Without a regularizer, a latent of dimension ≥ dim(y) = 2 makes the "
          "energy flat (a large volume of low energy); limiting the latent restores the shape.",
          (Row("ellipse: F∞ at the origin", "lvebm_ellipse/results.json",
               Cell("free_energy_at_origin_zero_temp", 5), Cell("free_energy_at_origin_exact", 2), "1.5², exact"),
           Row("ellipse: trained semi-axis w₁ (energy loss, zero temperature)", "lvebm_ellipse/results.json",
               Cell("trained_cold_w1", 3), Cell("true_w1", 1), "the data's"),
           Row("ellipse: trained semi-axis w₂", "lvebm_ellipse/results.json", Cell("trained_cold_w2", 3),
               Cell("true_w2", 1), "the data's"),
           Row("horn: held-out F∞", "lvebm_horn/results.json", Cell("heldout_free_energy", 4),
               Cell("heldout_free_energy_noise_floor", 4), "noise floor σ²"),
           Row("horn: squared distance of LV-EBM samples to the true ellipse", "lvebm_horn/results.json",
               Cell("lvebm_samples_sq_distance_to_manifold", 3)),
           Row("horn: the same for regression to the conditional mean", "lvebm_horn/results.json",
               Cell("regression_sq_distance_to_manifold", 1)),
           Row("collapse, dim(z) = 32, no regularizer: volume of low energy", "lvebm_collapse/results.json",
               Cell("volume_d32_none_mean")),
           Row("collapse, dim(z) = 32, L1", "lvebm_collapse/results.json", Cell("volume_d32_l1_mean")),
           Row("collapse, dim(z) = 32, limited dimension", "lvebm_collapse/results.json",
               Cell("volume_d32_limited_dim_mean")),
           Row("collapse, dim(z) = 32, noise + L2", "lvebm_collapse/results.json",
               Cell("volume_d32_noise_l2_mean"))),
          ("lvebm_collapse/collapse.png", "lvebm_horn/conditional_samples.png"),
          ("lvebm_ellipse", "lvebm_horn", "lvebm_collapse", "lvebm_bench"),
          ("ebm_jax.lvebm.energies", "ebm_jax.lvebm.inference", "ebm_jax.lvebm.regularizers",
           "ebm_jax.eval.lvebm", "ebm_jax.methods.lvebm"),
          "python -m experiments.lvebm_collapse --workdir runs/lvebm_collapse"),
)


@dataclasses.dataclass(frozen=True)
class Bench:
    label: str
    path: str
    ratio: Cell
    threads: str | None  # key of the thread count, or None where the file has none
    target: str = "—"


def _x(key):
    return Cell(key, 2, suffix="x")


BENCHMARKS: tuple[Bench, ...] = (
    Bench("VAE epoch vs PyTorch (`bench_vae.py --quick`)", "bench/bench_vae.json", _x("ratio"), "machine/threads"),
    Bench("VAE epoch vs PyTorch, one core", "bench/bench_vae_1thread.json", _x("ratio"), "machine/threads"),
    Bench("RBM PCD-1 epoch vs scikit-learn `BernoulliRBM` (`bench_rbm.py --quick`)", "bench/bench_rbm.json",
          _x("ratio"), "machine/threads"),
    Bench("RBM epoch: fraction of its own matrix products' speed", "bench/bench_rbm.json",
          Cell("ceiling/fraction/median"), "machine/threads", "≥ 0.85"),
    Bench("VAE epoch, one core: fraction of its own matrix products' speed", "bench/bench_vae_1thread.json",
          Cell("ceiling_fraction"), "machine/threads", "≥ 0.85"),
    Bench("SimCLR step vs PyTorch (`bench_ssl.py --quick`), run 1", "bench/bench_ssl.json", _x("ratio"),
          "machine/threads", "≥ 1x"),
    Bench("SimCLR step vs PyTorch, run 2", "bench/bench_ssl_quiet_run1.json", _x("ratio"), "machine/threads",
          "≥ 1x"),
    Bench("VAE to test −ELBO ≤ 100 vs PyTorch (`bench_time_to_quality.py`)", "bench/bench_time_to_quality.json",
          _x("vae/ratio"), "threads"),
    Bench("RBM to pseudo-LL ≥ −100 vs scikit-learn", "bench/bench_time_to_quality.json", _x("rbm/ratio"),
          "threads"),
    Bench("8 seeds in one program vs one after another: horn (`bench_seeds.py`)", "bench/bench_seeds.json",
          _x("ratio_by_model/horn"), "threads", "≥ 3x"),
    Bench("the same: 2-D toy EBM", "bench/bench_seeds.json", _x("ratio_by_model/toy2d"), "threads", "≥ 3x"),
    Bench("the same: VAE", "bench/bench_seeds.vae.json", _x("ratio"), "threads", "≥ 1x"),
    Bench("the same: RBM", "bench/bench_seeds.rbm.json", _x("ratio"), "threads", "≥ 1x"),
    Bench("LV-EBM grid inference F∞ vs PyTorch (`bench_lvebm.py`)", "lvebm_bench/bench_lvebm.json",
          _x("cases/grid_F_inf/ratio"), None, "≥ 2x"),
    Bench("LV-EBM gradient inference vs PyTorch", "lvebm_bench/bench_lvebm.json", _x("cases/gradient/ratio"),
          None, "≥ 2x"),
    Bench("convolutional sparse coding to 1e-3 vs SPORCO `ConvBPDN` (`bench_conv_sparse.py`)",
          "conv_sparse_bench/bench_conv_sparse.json", _x("ratio"), "threads", "≥ 5x"),
    Bench("the same, a batch of 16 images", "conv_sparse_bench/bench_conv_sparse.json", _x("batch_ratio"),
          "threads", "≥ 8x"),
)

# What the reference runs do not reach, said plainly (details in the results pages). Each ``{name}``
# is filled with the number that ``name`` cites: ``(path under results/, Cell)``.
MISSED: tuple[tuple[str, dict[str, tuple[str, Cell]]], ...] = (
    ("No GPU or TPU numbers: every reference run and benchmark ran on a CPU ({cpu}).", {}),
    ("VAE likelihood: 100 epochs of the 784-200-200-50 VAE reach {ours} nats, above Burda et al.'s {anchor} "
     "(3,280 epochs); the IWAE run uses k = 5 instead of the paper's k = 50.",
     {"ours": ("vae_mnist_long/results.json", Cell("test_nll_is")),
      "anchor": ("vae_mnist_long/results.json", Cell("anchor_burda_vae_nll"))}),
    ("LISTA: 16 layers reach a held-out code error of {t16} on MNIST, not the 0.01 aimed for; on the ALISTA "
     "problem 16 layers reach {syn} dB (10x the training problems), against about {anchor} dB published.",
     {"t16": ("lista_layerwise/results.json", Cell("layerwise/T16/code_error", 4)),
      "syn": ("lista_synthetic/results_40k_pmax13.json", Cell("ours/T16/nmse_db", 1)),
      "anchor": ("lista_synthetic/results.json", Cell("anchor_T16_db_approx/alista_liu2019", 0))}),
    ("Convolutional sparse coding denoises to {conv} dB at σ = 25 where BM3D reaches {bm3d} dB on the same "
     "images; no centre-surround filter appears at K = 1.",
     {"conv": ("conv_sparse_coding/results.json", Cell("denoise/sigma25/conv/psnr")),
      "bm3d": ("conv_sparse_coding/results.json", Cell("denoise/sigma25/bm3d/psnr"))}),
    ("VAE step, one core: {frac} of the speed of its own matrix products replayed alone (target 0.85).",
     {"frac": ("bench/bench_vae_1thread.json", Cell("ceiling_fraction"))}),
    ("SimCLR step: {run1} and {run2} PyTorch's speed in two runs, short of the ≥ 1x target in the first.",
     {"run1": ("bench/bench_ssl.json", _x("ratio")), "run2": ("bench/bench_ssl_quiet_run1.json", _x("ratio"))}),
    ("Many seeds in one program (8 seeds, one core): {horn} for the horn, {toy} for the 2-D EBM, {vae} for the "
     "VAE and {rbm} for the RBM (targets ≥ 3x for small models, ≥ 1x for the VAE and the RBM).",
     {"horn": ("bench/bench_seeds.json", _x("ratio_by_model/horn")),
      "toy": ("bench/bench_seeds.json", _x("ratio_by_model/toy2d")),
      "vae": ("bench/bench_seeds.vae.json", _x("ratio")), "rbm": ("bench/bench_seeds.rbm.json", _x("ratio"))}),
    ("Convolutional sparse coding: {one} SPORCO's ADMM (target 5x), {batch} for a batch (target 8x).",
     {"one": ("conv_sparse_bench/bench_conv_sparse.json", _x("ratio")),
      "batch": ("conv_sparse_bench/bench_conv_sparse.json", _x("batch_ratio"))}),
    ("LV-EBM gradient inference: {grad} PyTorch (target 2x).",
     {"grad": ("lvebm_bench/bench_lvebm.json", _x("cases/gradient/ratio"))}),
    ("PCD-1's AIS estimate of log Z does not converge with 14,500 β; its likelihood is reported with 58,000 β.",
     {}),
)


def missed_lines() -> list[str]:
    lines = []
    for text, cited in MISSED:
        values = {name: format_cell(_load(path), cell) for name, (path, cell) in cited.items()}
        if "{cpu}" in text:
            values["cpu"] = _load("bench/bench_vae.json")["machine"]["cpu"]
        lines.append(text.format(**values))
    return lines


def lookup(obj, key: str):
    """``obj[key]``, where ``key`` may walk nested objects with ``/`` (``"cases/gradient/ratio"``)."""
    if key in obj:
        return obj[key]
    parts = key.split("/")
    for i in range(len(parts) - 1, 0, -1):
        head = "/".join(parts[:i])
        if head in obj and isinstance(obj[head], dict):
            return lookup(obj[head], "/".join(parts[i:]))
    raise KeyError(key)


def format_cell(results: dict, cell: Cell) -> str:
    value = float(lookup(results, cell.key)) * cell.scale
    text = f"{value:.{cell.digits}f}".replace("-", "−")
    return f"{cell.prefix}{text}{cell.suffix}"


def _load(path: str) -> dict:
    return json.loads((ROOT / "results" / path).read_text())


def _source(path: str, cited: list[tuple[str, str]]) -> str:
    keys = ", ".join(f"{column} `{key}`" for column, key in cited)
    return f"[`{path}`](results/{path}): {keys}"


def topic_table(topic: Topic, link_prefix: str = "") -> list[str]:
    """The topic's rows as a Markdown table: | result | ours | anchor | source |."""
    lines = ["| result | ours | anchor | source |", "|---|---|---|---|"]
    for row in topic.rows:
        results = _load(row.path)
        cited = [("ours", row.ours.key)]
        if isinstance(row.anchor, Cell):
            anchor = format_cell(results, row.anchor) + (f" ({row.anchor_note})" if row.anchor_note else "")
            cited.append(("anchor", row.anchor.key))
        else:
            anchor = row.anchor
        source = _source(row.path, cited).replace("](results/", f"]({link_prefix}results/")
        lines.append(f"| {row.label} | {format_cell(results, row.ours)} | {anchor} | {source} |")
    return lines


def bench_table() -> list[str]:
    lines = ["| benchmark | ours vs peer, by median | threads | target | source |", "|---|---|---|---|---|"]
    for bench in BENCHMARKS:
        results = _load(bench.path)
        cited = [("ours", bench.ratio.key)]
        threads = "—"
        if bench.threads is not None:
            threads = str(int(lookup(results, bench.threads)))
            cited.append(("threads", bench.threads))
        lines.append(f"| {bench.label} | {format_cell(results, bench.ratio)} | {threads} | {bench.target} | "
                     f"{_source(bench.path, cited)} |")
    return lines


def _machine() -> str:
    machine = _load("bench/bench_vae.json")["machine"]
    versions = machine.get("versions", {})
    return (f"{machine['cpu']}, {machine['logical_cores']} logical cores, CPU only; Python {machine['python']}, "
            f"jax {versions.get('jax')}, PyTorch {versions.get('torch')}, scikit-learn {versions.get('scikit-learn')}")


def write_report(path: pathlib.Path) -> None:
    lines = ["# ebm_jax: results at a glance", "",
             "Each table gives the headline numbers beside the published anchors, read from the results file "
             "cited in its last column. The commands, every other number and all figures are in each "
             "`results/<name>/README.md`. Generated by `python scripts/reproduce_all.py --report-only`.", ""]
    lines += ["## Contents", ""]
    lines += [f"- [{topic.title}](#{_anchor(topic.title)})" for topic in TOPICS]
    lines += ["- [Benchmarks](#benchmarks)", "- [What is missed](#what-is-missed)", ""]
    for topic in TOPICS:
        lines += [f"## {topic.title}", "", topic.summary, ""]
        lines += topic_table(topic) + [""]
        lines += [" ".join(f"![{fig}](results/{fig})" for fig in topic.figures), ""]
        pages = ", ".join(f"[`{name}`](results/{name}/README.md)" if (ROOT / "results" / name / "README.md").exists()
                          else f"[`{name}`](results/{name}/)" for name in topic.pages)
        lines += [f"Results pages: {pages}. Library: " + ", ".join(f"`{m}`" for m in topic.api) + ".", ""]
        if topic.command:
            lines += ["```bash", topic.command, "```", ""]
    lines += ["## Benchmarks", "",
              "Ratios are the peer's median time over ours (ours faster when > 1), from one process per side "
              "pinned to the same cores; the full tables, with best times, quartiles and the machine's load, "
              "are in [`results/bench/README.md`](results/bench/README.md). Machine: " + _machine() + ".", ""]
    lines += bench_table() + [""]
    lines += ["## What is missed", ""] + [f"- {item}" for item in missed_lines()] + [""]
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(EXPERIMENTS), help="run only these (repeatable)")
    parser.add_argument("--report-only", action="store_true", help="skip the runs; rebuild REPORT.md")
    args = parser.parse_args(argv)
    if not args.report_only:
        for name in args.only or EXPERIMENTS:
            run_experiment(name)
    write_report(ROOT / "REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
