r"""Filters learned by convolutional sparse coding (with a one-pass encoder) vs patch-based sparse
coding on natural images, for K = 1, 2, 4, ..., 64, and Gaussian denoising against BM3D.

    python -m experiments.conv_sparse_coding --workdir runs/conv_sparse_coding [--config.num_filters='(1,8,64)' ...]

Data: grey natural images that ship with scikit-image and SPORCO (``config.train_images``;
``config.test_images`` are held out), each split by a Gaussian low-pass (``lowpass_sigma``) into
low + high; the models see the high-pass part only.

For each K in ``num_filters``:

* convolutional dictionary learning of K ``filter_size``² filters with a jointly trained one-pass
  convolutional encoder (predictive sparse decomposition, Kavukcuoglu et al. 2010) on random
  ``crop_size``² training tiles, by :func:`ebm_jax.methods.conv_sparse.learn_conv_dictionary`
  (``WORKDIR/conv_K<K>``, resumable);
* patch-based dictionary learning of K atoms on ``filter_size``² patches of the same high-pass
  images (``WORKDIR/patch_K<K>``), same λ;
* on the held-out test crops (clean, high-pass): relative reconstruction error Σ‖Dz − s‖²/Σ‖s‖² and
  non-zeros per pixel of the solver's codes (conv), of the encoder's codes, and of the patch codes on
  non-overlapping patches; and the filter diversity of each bank (:mod:`ebm_jax.eval.filters`:
  coherence at zero shift and over shifts, orientation entropy over 8 bins).

Denoising (``config.denoise``): the test crops plus Gaussian noise σ ∈ ``sigmas`` (of 255), denoised
by conv sparse coding (λ = c σ/255), the one-pass encoder (thresholds × c σ/255/λ), patch-based
sparse coding (every overlapping patch, averaged; λ = c σ/255), each with c picked per σ on noisy
training tiles (never the test images), and BM3D with the true σ; PSNR and wall time of each.
Published anchor: BM3D on BSD68 at σ = 25: 28.57 dB (a different image set; ours is run here).

Figures: ``filters.png`` (per K: decoder filters, encoder filters, patch atoms, with each one's
reconstruction error, sparsity and shift coherence), ``denoise.png`` (one test image at each σ).
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np

from ebm_jax import cli, viz
from ebm_jax.data.natural_images import highpass, load_images, random_crops, tile_patches
from ebm_jax.eval import denoising
from ebm_jax.eval.filters import filter_diversity
from ebm_jax.methods import conv_sparse
from ebm_jax.methods.dictionary import learn_dictionary
from ebm_jax.sparse.dictionary import evaluate_dictionary
from ebm_jax.train import write_config, write_results
from experiments.configs import conv_sparse_coding as conv_sparse_coding_config

BM3D_BSD68_SIGMA25 = 28.57  # dB, Dabov et al. 2007 as tabulated by Zhang et al. 2017 (DnCNN, Table 2)


def load_data(config):
    """High-pass training tiles and patches, the clean test crops and a few clean tuning tiles."""
    train = load_images(config.train_images)
    test = np.stack(load_images(config.test_images, crop=config.test_crop))
    train_high = [highpass(im, config.lowpass_sigma)[1] for im in train]
    tiles = random_crops(train_high, config.num_crops, config.crop_size, seed=config.seed)
    patches = random_crops(train_high, config.patch.num_patches, config.filter_size,
                           seed=config.seed + 1).reshape(config.patch.num_patches, -1)
    tune = random_crops(train, config.denoise.tune_images, config.denoise.tune_crop, seed=config.seed + 2)
    return tiles, patches, test, tune


def run_k(K, config, workdir, tiles, patches, test_high, results):
    """Train (or resume) the conv model and the patch dictionary with K filters; evaluate both."""
    t0 = time.time()
    state, _ = conv_sparse.learn_conv_dictionary(
        tiles, K, config.filter_size, config.lam, num_epochs=config.num_epochs, batch_size=config.batch_size,
        learning_rate=config.learning_rate, schedule=config.lr_schedule, inference_iters=config.inference_iters,
        encoder_layers=config.encoder_layers, encoder_weight=config.encoder_weight,
        encoder_lr_scaling=config.encoder_lr_scaling, boundary=config.boundary, seed=config.seed, workdir=workdir / f"conv_K{K}", desc=f"conv K={K}")
    results[f"K{K}/conv/train_seconds"] = time.time() - t0
    t0 = time.time()
    pstate, _ = learn_dictionary(patches, K, config.lam, num_epochs=config.patch.num_epochs,
                                 batch_size=min(config.patch.batch_size, len(patches)),
                                 inference_iters=config.patch.inference_iters, init="data", seed=config.seed,
                                 workdir=workdir / f"patch_K{K}", desc=f"patch K={K}")
    results[f"K{K}/patch/train_seconds"] = time.time() - t0

    params = jax.device_get(state.params)
    p = config.filter_size
    ev = conv_sparse.evaluate(params, test_high, config.lam, boundary=config.boundary, tol=config.eval_tol,
                              encoder_layers=config.encoder_layers, max_iters=config.eval_max_iters)
    for who in ("solver", "encoder"):
        name = "conv" if who == "solver" else "encoder"
        results[f"K{K}/{name}/rel_recon_error"] = ev[f"{who}_rel_recon_error"]
        results[f"K{K}/{name}/nonzeros_per_pixel"] = ev[f"{who}_frac_nonzero"] * K
        results[f"K{K}/{name}/energy_per_pixel"] = ev[f"{who}_energy"]
    results[f"K{K}/conv/rel_gap"] = ev["solver_rel_gap"]
    results[f"K{K}/encoder/rel_code_error"] = ev["encoder_rel_code_error"]
    D_patch = np.asarray(pstate.D)  # (p², K)
    pe = evaluate_dictionary(tile_patches(test_high, p), D_patch, config.lam, tol=config.eval_tol)
    results[f"K{K}/patch/rel_recon_error"] = pe["rel_recon_error"]
    results[f"K{K}/patch/nonzeros_per_pixel"] = pe["mean_nonzeros"] / (p * p)
    results[f"K{K}/patch/energy_per_pixel"] = pe["energy"] / (p * p)
    banks = {"conv": np.asarray(params["D"]), "encoder": np.asarray(params["encoder"]["encoder"]),
             "patch": D_patch.T.reshape(K, p, p)}
    for name, bank in banks.items():
        for key, value in filter_diversity(bank).items():
            results[f"K{K}/{name}/{key}"] = value
    return params, banks


def denoise_all(config, params, D_patch, test, tune, results):
    """Every configured denoiser at every σ; returns {σ: {method: denoised test images}}."""
    d, p = config.denoise, config.filter_size
    common = {"lowpass_sigma": config.lowpass_sigma}
    conv_args = {**common, "boundary": config.boundary, "tol": d.tol, "max_iters": d.max_iters}
    methods = list(d.methods)
    if "bm3d" in methods and not denoising.bm3d_available():
        if not d.skip_missing:
            raise ImportError("BM3D needs the package 'bm3d': pip install bm3d "
                              "(or leave it out: --config.denoise.methods='(\"conv\",\"encoder\",\"patch\")')")
        methods.remove("bm3d")
        results["denoise/bm3d_status"] = "skipped: the bm3d package is not installed"
    D = params["D"] if params is not None else None

    def make(method, sigma):
        s = sigma / 255.0
        if method == "conv":
            return lambda y, c: denoising.conv_denoise(y, D, c * s, **conv_args)
        if method == "encoder":  # thresholds scaled as λ: from config.lam to c σ/255
            return lambda y, c: denoising.encoder_denoise(y, params["encoder"], D, num_layers=config.encoder_layers,
                                                          threshold_scale=c * s / config.lam,
                                                          boundary=config.boundary, **common)
        if method == "patch":
            return lambda y, c: denoising.patch_denoise(y, D_patch, c * s, patch_size=p, tol=d.tol, **common)
        return lambda y, c: denoising.bm3d_denoise(y, sigma)

    outputs = {}
    for i, sigma in enumerate(d.sigmas):
        tag = f"denoise/sigma{sigma:g}"
        noisy = denoising.add_noise(test, sigma, seed=config.seed + 1000 + i)
        noisy_tune = denoising.add_noise(tune, sigma, seed=config.seed + 2000 + i)
        results[f"{tag}/noisy/psnr"] = denoising.mean_psnr(test, noisy)
        outputs[sigma] = {"clean": test, "noisy": noisy}
        for method in methods:
            fn = make(method, sigma)
            if method != "bm3d":
                c, scores = denoising.select_parameter(fn, tune, noisy_tune, d.lam_factors)
                results[f"{tag}/{method}/factor"] = c
                results[f"{tag}/{method}/tune_psnr"] = scores[c]
            else:
                c = 1.0
            out, seconds = denoising.timed(lambda: fn(noisy, c))
            results[f"{tag}/{method}/psnr"] = denoising.mean_psnr(test, out)
            results[f"{tag}/{method}/seconds"] = seconds
            outputs[sigma][method] = out
    return outputs


def save_filter_figure(path, rows, config):
    """One row per K: decoder filters, encoder filters, patch atoms (each filter scaled to ±max|d|)."""
    import matplotlib.pyplot as plt

    cols = (("conv", "conv decoder"), ("encoder", "conv encoder (1 pass)"), ("patch", "patch atoms"))
    ncols = 8  # the same cell size in every row: K < 8 leaves the rest of the row blank
    heights = [int(np.ceil(K / ncols)) + 0.6 for K, _, _ in rows]
    fig, axes = plt.subplots(len(rows), 3, figsize=(12, 0.5 * sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for r, (K, banks, numbers) in enumerate(rows):
        for c, (name, label) in enumerate(cols):
            bank = banks[name]
            scale = np.maximum(np.abs(bank).max(axis=(1, 2), keepdims=True), 1e-12)
            grid = viz.image_grid(0.5 + 0.5 * bank / scale, ncols=ncols, pad_value=1.0)
            ax = axes[r, c]
            ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.axis("off")
            ax.set_title(f"K={K} {label}: {numbers[name]}", fontsize=8)
    fig.suptitle(f"{config.filter_size}x{config.filter_size} filters, lambda={config.lam:g} "
                 "(recon = rel. error on held-out images, nnz = non-zeros per pixel, sc = mean shift coherence)",
                 fontsize=8)
    fig.tight_layout()
    viz.save_figure(fig, path, dpi=90)


def save_denoise_figure(path, outputs):
    import matplotlib.pyplot as plt

    sigmas = list(outputs)
    names = list(outputs[sigmas[0]])
    fig, axes = plt.subplots(len(sigmas), len(names), figsize=(2.1 * len(names), 2.3 * len(sigmas)),
                             squeeze=False)
    for r, sigma in enumerate(sigmas):
        clean = outputs[sigma]["clean"][:1]
        for c, name in enumerate(names):
            img = outputs[sigma][name][:1]
            ax = axes[r, c]
            ax.imshow(img[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = name if name == "clean" else f"{name} {denoising.mean_psnr(clean, img):.2f} dB"
            ax.set_title(f"sigma={sigma:g}: {label}", fontsize=7)
    fig.tight_layout()
    viz.save_figure(fig, path, dpi=90)


def train_and_evaluate(config, workdir: str) -> dict:
    """The K sweep, the denoising comparison and the figures; returns the results dict."""
    conv_sparse_coding_config.validate(config)
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_config(workdir, config)
    tiles, patches, test, tune = load_data(config)
    _, test_high = highpass(test, config.lowpass_sigma)
    results = {"device": jax.devices()[0].platform, "train_images": ",".join(config.train_images),
               "test_images": ",".join(config.test_images), "num_test_pixels": int(test.size)}
    rows, models = [], {}
    for K in config.num_filters:
        params, banks = run_k(K, config, workdir, tiles, patches, test_high, results)
        models[K] = (params, banks["patch"].reshape(K, -1).T)
        numbers = {name: (f"recon {results[f'K{K}/{name}/rel_recon_error']:.3f}, "
                          f"nnz {results[f'K{K}/{name}/nonzeros_per_pixel']:.3f}, "
                          f"sc {results[f'K{K}/{name}/shift_coherence_mean']:.2f}")
                   for name in ("conv", "patch")}
        numbers["encoder"] = (f"recon {results[f'K{K}/encoder/rel_recon_error']:.3f}, "
                              f"nnz {results[f'K{K}/encoder/nonzeros_per_pixel']:.3f}")
        rows.append((K, banks, numbers))
        write_results(workdir, results)
    save_filter_figure(workdir / "filters.png", rows, config)
    if config.denoise.methods:
        params, D_patch = models.get(config.denoise.num_filters, (None, None))
        outputs = denoise_all(config, params, D_patch, test, tune, results)
        results["denoise/bm3d_bsd68_sigma25_published_psnr"] = BM3D_BSD68_SIGMA25
        save_denoise_figure(workdir / "denoise.png", outputs)
    write_results(workdir, results)
    return results


if __name__ == "__main__":
    cli.main(train_and_evaluate, __file__)
