"""Convolutional dictionary learning and the jointly trained encoder, through ebm_jax.train.fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.methods import conv_sparse
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer


def _images(n=16, size=16, K=3, seed=0):
    """Images synthesised from 3 random 5x5 filters with sparse codes (a known dictionary)."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, 5, 5))
    D /= np.linalg.norm(D.reshape(K, -1), axis=1)[:, None, None]
    z = rng.standard_normal((n, K, size, size)) * (rng.random((n, K, size, size)) < 0.05)
    from ebm_jax.sparse.conv_ops import reconstruct
    return np.asarray(reconstruct(jnp.asarray(z, jnp.float32), jnp.asarray(D, jnp.float32))), D


@pytest.mark.parametrize("encoder_layers", [0, 2])
def test_training_lowers_the_energy_keeps_unit_filters_and_the_encoder_learns(encoder_layers):
    x, _ = _images()
    lam = 0.05
    state = conv_sparse.create_state(jax.random.key(0), make_optimizer("adam", 1e-2), num_filters=3,
                                     filter_size=5, image_shape=(16, 16), lam=lam, encoder_layers=encoder_layers,
                                     images=x)
    before = conv_sparse.evaluate(state.params, x, lam, encoder_layers=encoder_layers)
    step = conv_sparse.make_train_step(lam, inference_iters=20, encoder_layers=encoder_layers)
    state, history = fit(state, step, x, batch_size=4, num_epochs=8, rng=jax.random.key(1), log_every_steps=1)
    after = conv_sparse.evaluate(state.params, x, lam, encoder_layers=encoder_layers)
    assert after["solver_energy"] < 0.95 * before["solver_energy"]
    norms = np.linalg.norm(np.asarray(state.params["D"]).reshape(3, -1), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    ev = conv_sparse.evaluate(state.params, x[:4], lam, encoder_layers=encoder_layers)
    assert ev["solver_rel_recon_error"] < 0.5 and 0 < ev["solver_frac_nonzero"] < 0.5
    if encoder_layers:
        assert after["encoder_rel_code_error"] < before["encoder_rel_code_error"]
        assert ev["encoder_energy"] >= ev["solver_energy"] * (1 - 1e-3)  # the solver's codes are (near) optimal


def test_learn_conv_dictionary_refuses_a_batch_larger_than_the_tiles():
    with pytest.raises(ValueError, match=r"batch_size \(5\) is larger than the data \(4 examples\)"):
        conv_sparse.learn_conv_dictionary(np.zeros((4, 16, 16), np.float32), 2, 3, 0.1, batch_size=5)


@pytest.mark.parametrize("encoder_layers", [0, 1])
def test_evaluate_stays_finite_when_the_codes_are_all_zero(encoder_layers):
    """λ above every ‖Dᵀs‖_∞: z* = 0, and the relative code error is a number, not 0/0."""
    x, _ = _images(n=4)
    lam = 1e3
    state = conv_sparse.create_state(jax.random.key(0), make_optimizer("adam", 1e-2), num_filters=3,
                                     filter_size=5, image_shape=(16, 16), lam=lam, encoder_layers=encoder_layers,
                                     images=x)
    ev = conv_sparse.evaluate(state.params, x, lam, boundary="zero", encoder_layers=encoder_layers, max_iters=20)
    assert ev["solver_frac_nonzero"] == 0.0
    assert all(np.isfinite(v) for v in ev.values()), ev
    if encoder_layers:
        assert ev["encoder_frac_nonzero"] == 0.0 and ev["encoder_rel_code_error"] == 0.0


def test_create_state_rejects_bad_settings():
    tx = make_optimizer("adam", 1e-3)
    with pytest.raises(ValueError, match="filter_size"):
        conv_sparse.create_state(jax.random.key(0), tx, num_filters=2, filter_size=9, image_shape=(8, 8), lam=0.1)
    with pytest.raises(ValueError, match="num_filters"):
        conv_sparse.create_state(jax.random.key(0), tx, num_filters=0, filter_size=3, image_shape=(8, 8), lam=0.1)
    with pytest.raises(ValueError, match="lam"):
        conv_sparse.make_train_step(-1.0)


def _natural_tiles(n=48, size=24):
    """High-pass tiles of generated images (edges, discs, gratings), on the experiment's scale."""
    from ebm_jax.data import natural_images as ni
    from ebm_jax.data.natural_images import highpass, random_crops
    high = [highpass(im, 4.0)[1] for im in ni.synthetic_images(3, 64, seed=0)]
    return random_crops(high, n, size, seed=0)


def test_scale_encoder_updates_scales_only_the_encoder_by_its_relative_size():
    params = {"D": jnp.full((2, 3, 3), 0.5), "encoder": {"encoder": jnp.full((2, 3, 3), 0.05),
                                                         "threshold": jnp.full((2,), 0.005),
                                                         "gain": jnp.ones((2,))}}
    updates = jax.tree.map(jnp.ones_like, params)
    tx = conv_sparse.scale_encoder_updates()
    out, _ = tx.update(updates, tx.init(params), params)
    np.testing.assert_allclose(out["D"], 1.0)
    np.testing.assert_allclose(out["encoder"]["encoder"], 0.1, rtol=1e-6)
    np.testing.assert_allclose(out["encoder"]["threshold"], 0.01, rtol=1e-6)
    np.testing.assert_allclose(out["encoder"]["gain"], 1.0)  # capped at max_scale = 1


def test_one_pass_encoder_beats_zero_codes_initialised_and_trained():
    """The one-pass encoder starts as one ISTA step (closer to z* than zero codes: a prox-gradient
    step is non-expansive towards its fixed point) and training with the filters' learning rate
    must not throw that away (it did: Adam's steps of the filters' size wiped out encoder parameters
    ~1/L smaller, and the codes ended farther from z* than zero codes)."""
    x = _natural_tiles()
    lam = 0.1
    state = conv_sparse.create_state(jax.random.key(0), make_optimizer("adam", 0.02), num_filters=8,
                                     filter_size=5, image_shape=x.shape[1:], lam=lam, encoder_layers=1,
                                     boundary="zero", images=x)
    init = conv_sparse.evaluate(state.params, x, lam, boundary="zero", encoder_layers=1, max_iters=300)
    assert init["encoder_rel_code_error"] < 1.0
    state, _ = conv_sparse.learn_conv_dictionary(x, 8, 5, lam, num_epochs=4, batch_size=8, learning_rate=0.02,
                                                 schedule="cosine", encoder_layers=1, boundary="zero",
                                                 log_every_steps=100)
    ev = conv_sparse.evaluate(state.params, x, lam, boundary="zero", encoder_layers=1, max_iters=300)
    assert ev["encoder_rel_code_error"] < 0.9  # zero codes: 1; 0.93 before the fix
    assert ev["encoder_rel_recon_error"] < 0.5  # zero codes: 1; 0.82 before the fix
