"""Energy-landscape, sample and image metrics (ebm_jax.eval.landscape / samples / images) against hand counts."""

import math

import numpy as np
import pytest

from ebm_jax.eval import images, landscape
from ebm_jax.eval.samples import sample_energy_statistics


def test_low_energy_fraction_counts_masked_points_below_the_data_percentile():
    e_data = np.arange(101.0)                         # 95th percentile = 95
    e_points = np.array([10.0, 94.0, 96.0, 5000.0, 1.0])
    mask = np.array([True, True, True, True, False])  # the last point is near the data: ignored
    assert landscape.low_energy_fraction(e_points, e_data, mask) == 0.5
    assert landscape.low_energy_fraction(e_points, e_data, mask, factor=10.0) == 0.75     # below 950
    assert landscape.low_energy_fraction(e_points, e_data, mask, percentile=50) == 0.25   # below 50
    assert math.isnan(landscape.low_energy_fraction(e_points, e_data, np.zeros(5, bool)))


def test_energy_gap_and_energy_by_distance():
    e = np.array([1.0, 2.0, 3.0, 10.0])
    assert landscape.energy_gap(e, np.array([0.0, 2.0]), np.array([False, False, True, True])) == 5.5
    d = np.array([0.5, 1.5, 1.7, 20.0])
    got = landscape.energy_by_distance(e, d, (0.0, 1.0, 2.0, 3.0, np.inf))
    assert got == {(0.0, 1.0): 1.0, (1.0, 2.0): 2.5, (3.0, np.inf): 10.0}   # empty [2, 3) left out


def test_histogram_tv_distance():
    data = np.array([[0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [-0.5, -0.5]])
    assert landscape.histogram_tv_distance(data, data, (-1.0, 1.0), 2) == 0.0
    assert landscape.histogram_tv_distance(np.array([[0.5, -0.5]]), data, (-1.0, 1.0), 2) == 1.0
    # half the samples on one data mode: TV = 0.5 * (|1 - 0.5| + |0 - 0.5|) = 0.5
    assert landscape.histogram_tv_distance(np.array([[0.5, 0.5]]), data, (-1.0, 1.0), 2) == 0.5
    # samples outside the box are not counted; the rest are normalised among themselves
    assert landscape.histogram_tv_distance(np.array([[0.5, 0.5], [0.5, 0.5], [9.0, 9.0]]), data[:2], (-1, 1), 2) == 0


def test_off_data_statistics():
    got = landscape.off_data_statistics(np.array([0.1, 0.2, 0.5, 1.0]), 0.3)
    assert got == {"offdata_frac": 0.5, "mean_dist": 0.45}


def test_sample_energy_statistics():
    got = sample_energy_statistics(np.array([-10.0, 0.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert got == {"e_samples_mean": 0.25, "e_data_mean": 2.0, "e_samples_minus_data": -1.75,
                   "frac_below_data_median": 0.5}


def test_image_metrics():
    x = np.zeros((2, 4, 4))
    x[:, :, 2:] = 1.0                                   # a vertical edge: column differences of 1 in 1 of 3 places
    assert images.sharpness(x, (4, 4)) == pytest.approx(0 + 1 / 3)
    assert images.sharpness(x.reshape(2, 16), (4, 4)) == pytest.approx(1 / 3)
    assert images.grey_fraction(np.array([0.0, 0.05, 0.5, 0.95, 1.0, 0.3])) == pytest.approx(2 / 6)
    assert images.mse(np.ones(4), np.zeros(4)) == 1.0
    assert images.psnr(0.01) == pytest.approx(20.0)
    assert images.psnr(0.0) == float("inf")


BAD = [
    (lambda: landscape.low_energy_fraction([1.0, 2.0], [1.0], [True]), ValueError, "mask"),
    (lambda: landscape.low_energy_fraction([1.0], [], [True]), ValueError, "e_data"),
    (lambda: landscape.low_energy_fraction([np.nan], [1.0], [True]), ValueError, "e_points"),
    (lambda: landscape.low_energy_fraction([1.0], [1.0], [True], percentile=101), ValueError, "percentile"),
    (lambda: landscape.low_energy_fraction([1.0], [1.0], [True], factor=0.0), ValueError, "factor"),
    (lambda: landscape.energy_by_distance([1.0], [1.0], (2.0, 1.0)), ValueError, "edges"),
    (lambda: landscape.histogram_tv_distance(np.zeros((3, 3)), np.zeros((3, 2)), (0, 1)), ValueError, "samples"),
    (lambda: landscape.histogram_tv_distance(np.zeros((3, 2)), np.zeros((3, 2)), (1, 0)), ValueError, "box"),
    (lambda: landscape.histogram_tv_distance(np.zeros((3, 2)), np.zeros((3, 2)), (0, 1), bins=0), ValueError,
     "bins"),
    (lambda: landscape.off_data_statistics([0.1], 0.0), ValueError, "threshold"),
    (lambda: sample_energy_statistics([], [1.0]), ValueError, "e_samples"),
    (lambda: sample_energy_statistics([1.0], [np.nan]), ValueError, "e_data"),
    (lambda: images.sharpness(np.zeros((2, 10)), (4, 4)), ValueError, "x"),
    (lambda: images.mse(np.zeros(3), np.zeros(4)), ValueError, "shape"),
    (lambda: images.psnr(-1.0), ValueError, "mse_value"),
    (lambda: images.grey_fraction(np.zeros(3), 0.9, 0.1), ValueError, "low"),
]


@pytest.mark.parametrize("fn,error,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_rejected(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


def test_numpy_scalars_accepted():
    """numpy scalars give the same results as the Python numbers they stand for."""
    e_grid, e_data, far = [0.5, 1.0, 3.0, 9.0], [1.0, 2.0, 4.0], [True, True, False, True]
    assert (landscape.low_energy_fraction(e_grid, e_data, far, percentile=np.float32(90), factor=np.int64(2))
            == landscape.low_energy_fraction(e_grid, e_data, far, percentile=90, factor=2))
    a, b = np.array([[0.1, 0.2], [0.5, -0.3], [0.9, 0.9]]), np.array([[0.1, 0.1], [-0.5, 0.3], [0.2, 0.7]])
    tv = landscape.histogram_tv_distance(a, b, (np.float32(-1), np.float64(1)), bins=np.int64(4))
    assert tv == landscape.histogram_tv_distance(a, b, (-1.0, 1.0), bins=4) and tv > 0
    assert images.psnr(np.float32(0.1), peak=np.float64(1.0)) == pytest.approx(10.0)
