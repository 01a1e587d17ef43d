"""Small K, trained longer: convolutional sparse coding (+ PSD encoder) filters for K = 1, 2, 4.

Issue 12 (the lecture's filter figure, Kavukcuoglu et al. 2010: K = 1 a centre-surround, K = 2
horizontal + vertical edges, K = 4 more orientations). The reference run (README.md, first sections)
trained each K for 200 steps on 800 Gaussian-high-pass tiles and got neither. This script trains the
same model (``ebm_jax.methods.conv_sparse.learn_conv_dictionary``, same λ, filter size, batch,
learning rate, cosine schedule, FISTA iterations and one-layer encoder as
``experiments/configs/conv_sparse_coding.py``) much longer, on more tiles, with two preprocessings:

* ``hp``:  image − Gaussian blur (σ = 4 px), exactly the reference run's input;
* ``lcn``: local contrast normalisation (Jarrett et al. 2009 / Kavukcuoglu et al. 2010 style): the
  same subtractive step (image − Gaussian blur σ = 4), then divided by max(c, local std) with the local
  std a Gaussian-weighted (σ = 4) RMS of the subtractive output and c its mean over the image; then
  rescaled by one global factor so that all training pixels have the same std as the ``hp`` data
  (so λ = 0.1 weighs sparsity against reconstruction the same way in both).

Commands (from the repository root; CPU, one core):

    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false taskset -c 0 \
        .venv/bin/python results/conv_sparse_coding/small_k_study.py
    XLA_FLAGS=--xla_cpu_multi_thread_eigen=false taskset -c 0 \
        .venv/bin/python results/conv_sparse_coding/small_k_study.py --steps 20000 --ks 1,2 \
        --extra_seeds "" --no_reference_row --out results/conv_sparse_coding/small_k/steps20000

The first (defaults: 4000 steps = 4 epochs of 8000 tiles per run, i.e. 20x the reference run's
steps; rows ``hp_ref200`` (the reference setting, 200 steps on 800 tiles), ``hp``, ``lcn``, and seeds 1
and 2 for K = 1, 2) took 5 min 12 s wall on one core of the shared 2-core machine; the second
(20000 steps, 100x, K = 1, 2, seed 0) about 5 min. ``--steps 20 --num_crops 160 --extra_seeds 1``
is a smoke test (under a minute). Each writes ``small_k.json`` (all numbers, and the filters) and
``small_k_filters.png`` (8-bit grey; each filter scaled symmetrically, mid-grey = 0) into ``--out``.
``--preps lcn2`` (LCN with a σ = 2 window) is there too but not in these results.

Numbers per (preprocessing, K):

* held-out (central 192×192 of camera, barbara, monarch, same preprocessing): relative recon error and
  non-zeros per pixel of the solver's codes (λ = 0.1, gap 1e-3 or 200 iterations);
* per filter: dominant orientation (degrees, of the gradient, from the structure tensor,
  ``ebm_jax.eval.filters.orientations``: 0° = vertical edge, 90° = horizontal edge) and orientedness
  (0 isotropic … 1 a perfect edge);
* K = 1 (and every filter): *radial fraction* = ‖radial mean of f about its energy centroid‖² / ‖f‖²
  (1: perfectly rotation-symmetric), correlation of f with its 90°-rotated, left-right and up-down
  flipped copies (about the window centre, and maximised over shifts, since a filter need not sit in
  the middle), and centre vs surround: mean of f within radius 1.5 px of the centroid vs in the ring
  2.5–4.5 px (opposite signs = centre-surround);
* K = 2: the angle difference of the two dominant orientations (90° for an H/V pair) and each one's
  distance to the nearest of 0°/90°.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LAM, FILTER, CROP, BATCH, LR, ITERS, LOWPASS = 0.1, 9, 32, 8, 0.02, 20, 4.0
TRAIN = ("skimage:astronaut", "skimage:coffee", "skimage:chelsea", "skimage:rocket",
         "sporco:kodim23", "sporco:sail", "sporco:tulips")
TEST = ("skimage:camera", "sporco:barbara", "sporco:monarch")


def lcn(img: np.ndarray, sigma: float = LOWPASS) -> np.ndarray:
    """Subtractive (− Gaussian blur) then divisive (÷ max(mean local std, local std)) normalisation."""
    from scipy.ndimage import gaussian_filter
    img = np.asarray(img, np.float64)
    v = img - gaussian_filter(img, sigma, mode="reflect")
    local_std = np.sqrt(gaussian_filter(v * v, sigma, mode="reflect"))
    return (v / np.maximum(local_std.mean(), local_std)).astype(np.float32)


def preprocess(kind, train, test):
    from ebm_jax.data.natural_images import highpass
    hp_train = [highpass(im, LOWPASS)[1] for im in train]
    hp_test = highpass(test, LOWPASS)[1]
    if kind == "hp":
        return hp_train, hp_test
    sigma = {"lcn": LOWPASS, "lcn2": 2.0}[kind]
    target = np.sqrt(np.mean(np.concatenate([h.ravel() ** 2 for h in hp_train])))
    tr = [lcn(im, sigma) for im in train]
    scale = target / np.sqrt(np.mean(np.concatenate([t.ravel() ** 2 for t in tr])))
    return [t * scale for t in tr], np.stack([lcn(im, sigma) for im in test]) * scale


def _corr(a, b):
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def _max_shift_corr(a, b):
    from scipy.signal import correlate2d
    c = correlate2d(a, b, mode="full")
    return float(np.max(c) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def symmetry(f: np.ndarray) -> dict:
    """Radial symmetry and centre-vs-surround of one filter (h, w)."""
    f = np.asarray(f, np.float64)
    h, w = f.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    e = f * f
    cy, cx = float(np.sum(e * yy) / e.sum()), float(np.sum(e * xx) / e.sum())
    r = np.hypot(yy - cy, xx - cx)
    rb = np.round(r * 2) / 2  # half-pixel radial bins
    radial = np.zeros_like(f)
    for v in np.unique(rb):
        m = rb == v
        radial[m] = f[m].mean()
    centre, ring = f[r <= 1.5], f[(r >= 2.5) & (r <= 4.5)]
    copies = {"rot90": np.rot90(f), "fliplr": f[:, ::-1], "flipud": f[::-1, :]}
    return {"centroid_yx": [cy, cx], "radial_fraction": float(np.sum(radial ** 2) / np.sum(f * f)),
            **{f"corr_{k}": _corr(f, g) for k, g in copies.items()},
            **{f"corr_{k}_best_shift": _max_shift_corr(f, g) for k, g in copies.items()},
            "centre_mean": float(centre.mean()), "surround_mean": float(ring.mean()),
            "centre_surround_opposite": bool(centre.mean() * ring.mean() < 0)}


def analyse(D) -> dict:
    from ebm_jax.eval.filters import orientations, shift_coherence
    D = np.asarray(D, np.float64)
    angle, oriented = orientations(D)
    out = {"angle_deg": [float(a) for a in angle], "orientedness": [float(o) for o in oriented],
           "filters": [symmetry(f) for f in D]}
    if len(D) == 2:
        d = abs(angle[0] - angle[1]) % 180.0
        out["angle_diff_deg"] = float(min(d, 180.0 - d))
        out["dist_to_HV_deg"] = [float(min(a % 90.0, 90.0 - a % 90.0)) for a in angle]
    if len(D) > 1:
        out["shift_coherence_mean"] = shift_coherence(D)["mean"]
    return out


def figure(runs, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    names = list(runs)
    Ks = sorted({K for n in names for K in runs[n]})
    ncol = sum(Ks)
    fig, axes = plt.subplots(len(names), ncol, figsize=(1.1 * ncol, 1.35 * len(names)), squeeze=False)
    for i, n in enumerate(names):
        col = 0
        for K in Ks:
            if K not in runs[n]:
                for k in range(K):
                    axes[i, col].axis("off")
                    col += 1
                continue
            D, info = runs[n][K]
            for k in range(K):
                ax = axes[i, col]
                m = np.abs(D[k]).max()
                ax.imshow(D[k], cmap="gray", vmin=-m, vmax=m, interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                title = f"K={K}: {info['angle_deg'][k]:.0f}°/{info['orientedness'][k]:.2f}"
                ax.set_title(title, fontsize=6)
                if col == 0:
                    ax.set_ylabel(n, fontsize=7)
                col += 1
    fig.suptitle("decoder filters (title: gradient angle / orientedness)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    Image.open(path).convert("L").save(path, optimize=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=4000, help="training steps per (preprocessing, K)")
    p.add_argument("--num_crops", type=int, default=8000, help="training tiles (32x32)")
    p.add_argument("--ks", default="1,2,4")
    p.add_argument("--preps", default="hp,lcn")
    p.add_argument("--no_reference_row", dest="reference_row", action="store_false",
                   help="skip the hp row at the reference run's 200 steps")
    p.add_argument("--extra_seeds", default="1,2", help="more seeds, for K <= 2 only (stability of the shapes)")
    p.add_argument("--out", default=str(HERE / "small_k"))
    args = p.parse_args()

    import jax
    from ebm_jax.data.natural_images import center_crop, load_images, random_crops
    from ebm_jax.methods import conv_sparse

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = load_images(TRAIN)
    test = np.stack([center_crop(im, 192) for im in load_images(TEST)])
    Ks = [int(k) for k in args.ks.split(",")]
    epochs = max(1, round(args.steps * BATCH / args.num_crops))
    results = {"config": {"steps_requested": args.steps, "num_crops": args.num_crops, "epochs": epochs,
                          "steps": epochs * (args.num_crops // BATCH), "lam": LAM, "filter_size": FILTER,
                          "crop_size": CROP, "batch_size": BATCH, "learning_rate": LR, "schedule": "cosine",
                          "inference_iters": ITERS, "encoder_layers": 1, "lowpass_sigma": LOWPASS,
                          "train_images": TRAIN, "test_images": TEST, "platform": jax.devices()[0].platform,
                          "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")},
               "runs": {}}
    runs = {}
    jobs = []  # (row, preprocessing, K, seed, tiles, epochs)
    if args.reference_row:  # the reference run's setting (800 tiles, 2 epochs = 200 steps), for comparison
        jobs += [("hp_ref200", "hp", K, 0, 800, 2) for K in Ks]
    for prep in args.preps.split(","):
        jobs += [(prep, prep, K, 0, args.num_crops, epochs) for K in Ks]
    for seed in [int(s) for s in args.extra_seeds.split(",") if s]:
        for prep in args.preps.split(","):
            jobs += [(f"{prep}_seed{seed}", prep, K, seed, args.num_crops, epochs) for K in Ks if K <= 2]
    data = {}
    for row, prep, K, seed, ntiles, ep in jobs:
        if (prep, ntiles) not in data:
            tr, te = preprocess(prep, train, test)
            data[prep, ntiles] = (random_crops(tr, ntiles, CROP, seed=0), te)
        tiles, te = data[prep, ntiles]
        t0 = time.time()
        state, hist = conv_sparse.learn_conv_dictionary(
            tiles, K, FILTER, LAM, num_epochs=ep, batch_size=BATCH, learning_rate=LR, schedule="cosine",
            inference_iters=ITERS, encoder_layers=1, boundary="zero", seed=seed, desc=f"{row} K={K}",
            log_every_steps=100)
        secs = time.time() - t0
        D = np.asarray(state.params["D"])
        ev = conv_sparse.evaluate(state.params, te, LAM, boundary="zero", tol=1e-3, max_iters=200, encoder_layers=1)
        info = analyse(D)
        losses = [h.get("loss") for h in hist if "loss" in h]
        res = {"preprocessing": prep, "K": K, "seed": seed, "tiles": ntiles, "steps": ep * (ntiles // BATCH),
               "train_seconds": secs,
               "test": {"recon": ev["solver_rel_recon_error"], "nnz_per_px": K * ev["solver_frac_nonzero"],
                        "energy_per_px": ev["solver_energy"], "rel_gap": ev["solver_rel_gap"],
                        "encoder_recon": ev.get("encoder_rel_recon_error"),
                        "encoder_code_error": ev.get("encoder_rel_code_error")},
               "loss_first_last": [losses[0], losses[-1]] if losses else None,
               "filters_D": D.round(5).tolist(), **info}
        results["runs"][f"{row}_K{K}"] = res
        runs.setdefault(row, {})[K] = (D, info)
        print(f"{row} K={K}: {secs:.0f}s recon {res['test']['recon']:.3f} energy {1e3 * res['test']['energy_per_px']:.3f}"
              f" angles {[round(a) for a in info['angle_deg']]} orientedness {[round(o, 2) for o in info['orientedness']]}"
              f" radial {[round(f['radial_fraction'], 2) for f in info['filters']]}", flush=True)
        (out / "small_k.json").write_text(json.dumps(results, indent=1))
    figure(runs, out / "small_k_filters.png")


if __name__ == "__main__":
    main()
