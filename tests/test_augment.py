"""Batched augmentations: exactness of the resampler, ranges, keys, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.data import augment as A

AUG = jax.jit(A.augment, static_argnames="config")

IDENTITY = A.AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), max_rotation=0.0, max_shear=0.0,
                           elastic_alpha=0.0, erase_prob=0.0, noise_std=0.0)


def _images(b=6, h=28, w=28, seed=0):
    return jax.random.uniform(jax.random.key(seed), (b, h, w))


def test_identity_config_returns_input():
    x = _images()
    np.testing.assert_allclose(AUG(jax.random.key(1), x, config=IDENTITY), x, atol=1e-5)


def test_bilinear_resample_integer_shift_and_half_pixel():
    x = _images(2, 8, 8)
    v, u = np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij")
    sy = jnp.asarray(np.broadcast_to((v + 1).reshape(-1), (2, 64)))
    sx = jnp.asarray(np.broadcast_to((u - 2).reshape(-1), (2, 64)))
    out = A.bilinear_resample(x, sy, sx)
    expected = np.zeros((2, 8, 8), np.float32)
    expected[:, :7, 2:] = np.asarray(x)[:, 1:, :6]  # out[i, j] = x[i + 1, j - 2], zero outside
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # Half-pixel shift along x averages horizontal neighbours.
    out = A.bilinear_resample(x, jnp.asarray(np.broadcast_to(v.reshape(-1), (2, 64))),
                              jnp.asarray(np.broadcast_to((u + 0.5).reshape(-1), (2, 64))))
    np.testing.assert_allclose(out[:, :, :7], 0.5 * (x[:, :, :7] + x[:, :, 1:]), atol=1e-6)


def test_rotation_by_90_degrees_matches_rot90():
    x = _images(1, 9, 9)
    cfg = A.AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), max_rotation=0.0, max_shear=0.0)
    mats = A.affine_matrices(jax.random.key(0), 1, 9, 9, cfg)
    mats = mats.at[0, :2, :2].set(jnp.array([[0.0, -1.0], [1.0, 0.0]]))  # 90° rotation
    v, u = A._output_grid(9, 9)
    src = jnp.einsum("bij,jk->bik", mats, jnp.stack([v, u, jnp.ones_like(v)]))
    out = A.bilinear_resample(x, src[:, 0], src[:, 1])
    # out[v, u] = x[c - u, c + v]: a 90° rotation of the grid.
    ref = np.rot90(np.asarray(x[0]), k=-1)
    assert np.allclose(out[0], ref, atol=1e-5) or np.allclose(out[0], np.rot90(np.asarray(x[0])), atol=1e-5)


def test_augment_range_shape_keys_and_variety():
    x = _images(6)
    f = AUG
    y1, y2, y3 = f(jax.random.key(0), x), f(jax.random.key(0), x), f(jax.random.key(1), x)
    assert y1.shape == x.shape and float(y1.min()) >= 0.0 and float(y1.max()) <= 1.0
    np.testing.assert_array_equal(y1, y2)
    assert float(jnp.abs(y1 - y3).mean()) > 1e-3
    # Different examples get different transforms: the same image repeated gets different views.
    rep = jnp.broadcast_to(x[:1], (6, 28, 28))
    views = f(jax.random.key(2), rep)
    assert float(jnp.abs(views[0] - views[1]).mean()) > 1e-3


def test_random_erasing_area():
    x = jnp.ones((64, 28, 28))
    y = jax.jit(A.random_erasing, static_argnames=("prob", "scale"))(jax.random.key(0), x, prob=1.0, scale=(0.05, 0.1))
    frac = 1.0 - np.asarray(y).reshape(64, -1).mean(1)
    assert np.all(frac > 0.01) and np.all(frac < 0.2)
    np.testing.assert_array_equal(A.random_erasing(jax.random.key(0), x, prob=0.0), x)


def test_jigsaw_is_a_permutation_of_tiles():
    x = _images(5)
    tiles, perm = A.jigsaw(jax.random.key(3), x, grid=2)
    assert tiles.shape == (5, 4, 14, 14)
    orig = np.asarray(x).reshape(5, 2, 14, 2, 14).transpose(0, 1, 3, 2, 4).reshape(5, 4, 14, 14)
    for b in range(5):
        np.testing.assert_allclose(tiles[b], orig[b][np.asarray(perm[b])], atol=1e-6)
        assert sorted(np.asarray(perm[b]).tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="grid"):
        A.jigsaw(jax.random.key(0), x, grid=3)


def test_bad_input():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        A.augment(key, 255.0 * _images())
    with pytest.raises(ValueError, match="batch, height, width"):
        A.augment(key, _images()[0])
    with pytest.raises(TypeError, match="floating"):
        A.augment(key, jnp.zeros((2, 28, 28), jnp.uint8))
    with pytest.raises(ValueError, match="crop_scale"):
        A.augment(key, _images(), A.AugmentConfig(crop_scale=(0.0, 1.0)))
    with pytest.raises(ValueError, match="erase_prob"):
        A.augment(key, _images(), A.AugmentConfig(erase_prob=1.5))
