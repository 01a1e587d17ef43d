"""Filter-diversity metrics, the natural-image loader and the denoisers of ebm_jax.eval.denoising."""

import numpy as np
import pytest

from ebm_jax.data import natural_images as ni
from ebm_jax.eval import denoising, filters


def _edge(angle_deg, size=9, shift=0.0):
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    t = np.radians(angle_deg)
    return np.tanh(2 * ((xx - shift) * np.cos(t) + yy * np.sin(t)))


# ---------------------------------------------------------------------------- filters


def test_coherence_zero_shift_and_over_shifts():
    D = np.zeros((2, 3, 3))
    D[0, 0, 0] = D[1, 1, 1] = 1  # two deltas: orthogonal at zero shift, equal up to a shift
    assert filters.mutual_coherence(D) == {"max": 0.0, "mean": 0.0}
    assert filters.shift_coherence(D)["max"] == pytest.approx(1.0)
    assert filters.mutual_coherence(np.stack([D[0], -2 * D[0]]))["max"] == pytest.approx(1.0)
    assert filters.mutual_coherence(D[:1]) == {"max": 0.0, "mean": 0.0}


def _line(angle_deg, size=9, shift=0):
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    t = np.radians(angle_deg)
    return np.exp(-((xx - shift) * np.cos(t) + yy * np.sin(t)) ** 2)


def test_shifted_copies_are_told_apart_from_different_filters():
    shifted = np.stack([_line(0, shift=s) for s in (-2, 0, 2)])
    different = np.stack([_line(a) - _line(a).mean() for a in (0, 60, 120)])
    assert filters.shift_coherence(shifted)["mean"] > 0.9
    assert filters.shift_coherence(different)["mean"] < filters.shift_coherence(shifted)["mean"] - 0.2


def test_cross_correlations_match_a_direct_sum():
    rng = np.random.default_rng(0)
    D = rng.standard_normal((3, 4, 5))
    C = filters.cross_correlations(D)
    U = D / np.linalg.norm(D.reshape(3, -1), axis=1)[:, None, None]
    # shift (1, -2): sum_a U0[a] U1[a - s] over the overlap, wrapped into the (2h-1, 2w-1) grid
    direct = sum(U[0, i, j] * U[1, i - 1, j + 2] for i in range(1, 4) for j in range(0, 3))
    assert C[0, 1, 1, -2] == pytest.approx(abs(direct))


def test_orientations_and_spread():
    angles, oriented = filters.orientations(np.stack([_edge(a) for a in (0, 45, 90, 135)]))
    np.testing.assert_allclose(angles, [0, 45, 90, 135], atol=3)
    assert np.all(oriented > 0.8)
    yy, xx = np.mgrid[-4:5, -4:5]
    blob = np.exp(-(xx ** 2 + yy ** 2) / 4.0) - 0.5 * np.exp(-(xx ** 2 + yy ** 2) / 12.0)
    assert filters.orientations(blob[None])[1][0] < 0.1  # centre-surround: no orientation
    eight = np.stack([_edge(a) for a in np.arange(8) * 22.5])
    spread = filters.orientation_spread(eight)
    assert spread["entropy_bits"] == pytest.approx(3.0) and spread["bins_used"] == 8
    assert spread["circular_variance"] == pytest.approx(1.0, abs=0.05)
    same = filters.orientation_spread(np.stack([_edge(0, shift=s) for s in (-1, 0, 1)]))
    assert same["entropy_bits"] == 0.0 and same["circular_variance"] < 0.01
    d = filters.filter_diversity(eight)
    assert d["orientation_bins_used"] == 8 and d["frac_oriented"] == 1.0


def test_filter_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="zero filter"):
        filters.shift_coherence(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="shape"):
        filters.mutual_coherence(np.ones((3, 3)))
    with pytest.raises(ValueError, match="num_bins"):
        filters.orientation_spread(np.ones((2, 3, 3)), num_bins=1)


# ---------------------------------------------------------------------------- images


def test_sklearn_images_load_grey_and_highpass_splits():
    img = ni.load_image("sklearn:china")
    assert img.dtype == np.float32 and img.ndim == 2 and 0 <= img.min() and img.max() <= 1
    low, high = ni.highpass(img[None, :64, :64], 2.0)
    np.testing.assert_allclose(low + high, img[None, :64, :64], atol=1e-6)
    assert abs(float(high.mean())) < 0.02
    crops = ni.random_crops([img], 5, 16, seed=0)
    assert crops.shape == (5, 16, 16)
    np.testing.assert_array_equal(crops, ni.random_crops([img], 5, 16, seed=0))
    tiles = ni.tile_patches(np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6), 2)
    assert tiles.shape == (2 * 2 * 3, 4)
    np.testing.assert_array_equal(tiles[1], [2, 3, 8, 9])
    assert ni.center_crop(img, 10).shape == (10, 10)


def test_loader_errors_name_the_problem():
    with pytest.raises(ValueError, match="source"):
        ni.load_image("camera")
    with pytest.raises(ValueError, match="unknown image source"):
        ni.load_image("foo:camera")
    with pytest.raises(ValueError, match="no sample image"):
        ni.load_image("sklearn:nothing")
    for bad in [(1.0, 0.0), (0.3, np.nan, 0.1), (-0.1, 0.6, 0.5)]:
        with pytest.raises(ValueError, match="grey_weights"):
            ni.load_image("sklearn:china", grey_weights=bad)


def test_patches_and_whole_images_share_one_grey_conversion():
    from sklearn.datasets import load_sample_image

    from ebm_jax.data.patches import load_grey_images

    rgb = load_sample_image("china.jpg").astype(np.float64) / 255
    np.testing.assert_allclose(load_grey_images()[0], rgb @ np.array(ni.REC601), atol=1e-6)
    np.testing.assert_allclose(ni.load_image("sklearn:china"), rgb @ np.array(ni.REC709), atol=1e-6)


@pytest.mark.parametrize("spec", ["skimage:camera", "skimage:astronaut", "sporco:barbara"])
def test_packaged_images_or_a_clear_error(spec):
    source = spec.split(":")[0]
    if not ni.package_available(source):
        with pytest.raises(ImportError, match="pip install"):
            ni.load_image(spec)
        return
    img = ni.load_image(spec)
    assert img.ndim == 2 and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1 and img.std() > 0.05


# ---------------------------------------------------------------------------- denoising


def test_denoisers_beat_the_noise_on_a_simple_image():
    clean = np.stack(ni.synthetic_images(1, 32, seed=0))
    noisy = denoising.add_noise(clean, 25, seed=0)
    assert denoising.mean_psnr(clean, noisy) == pytest.approx(20.2, abs=0.5)
    # a delta filter with a large λ just keeps the low-pass part: smoother than the noise
    D = np.zeros((1, 3, 3), np.float32)
    D[0, 0, 0] = 1
    conv = denoising.conv_denoise(noisy, D, 0.2, lowpass_sigma=1.0, max_iters=50)
    assert conv.shape == clean.shape and conv.min() >= 0 and conv.max() <= 1
    assert denoising.mean_psnr(clean, conv) > denoising.mean_psnr(clean, noisy)
    # pixel atoms: every patch is shrunk pixel by pixel, so the average is the delta filter's answer
    patch = denoising.patch_denoise(noisy, np.eye(4, dtype=np.float32), 0.2, patch_size=2, lowpass_sigma=1.0)
    np.testing.assert_allclose(patch, conv, atol=1e-4)
    encoder = {"encoder": D, "decoder": D, "threshold": np.array([0.2], np.float32),
               "gain": np.ones(1, np.float32)}
    enc = denoising.encoder_denoise(noisy, encoder, D, num_layers=1, lowpass_sigma=1.0)
    np.testing.assert_allclose(enc, conv, atol=1e-5)  # a delta dictionary: one shrinkage is the exact solution
    best, scores = denoising.select_parameter(
        lambda y, lam: denoising.conv_denoise(y, D, lam, lowpass_sigma=1.0, max_iters=20), clean, noisy,
        [0.0, 0.2])
    assert best == 0.2 and scores[0.2] > scores[0.0]
    with pytest.raises(ValueError, match="patch_size"):
        denoising.patch_denoise(noisy, np.eye(9, 2, dtype=np.float32), 0.1, patch_size=2, lowpass_sigma=1.0)
    with pytest.raises(ValueError, match="images"):
        denoising.add_noise(np.zeros((4, 4)), 25)


def test_bm3d_or_a_clear_error():
    clean = np.stack(ni.synthetic_images(1, 32, seed=1))
    noisy = denoising.add_noise(clean, 25, seed=0)
    if not denoising.bm3d_available():
        with pytest.raises(ImportError, match="pip install bm3d"):
            denoising.bm3d_denoise(noisy, 25)
        return
    out = denoising.bm3d_denoise(noisy, 25)
    assert denoising.mean_psnr(clean, out) > denoising.mean_psnr(clean, noisy) + 3
