"""Corruptions and the denoising autoencoder."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.data.corruptions import corrupt
from ebm_jax.methods import dae as dae_method
from ebm_jax.models import dae
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer


def test_corruption_statistics():
    key = jax.random.PRNGKey(0)
    x = jnp.full((200, 500), 0.5)
    g = np.asarray(corrupt(key, x, "gaussian", 0.3)) - 0.5
    assert abs(g.mean()) < 0.005 and abs(g.std() - 0.3) < 0.005
    m = np.asarray(corrupt(key, x, "masking", 0.25))
    assert set(np.unique(m)) <= {0.0, 0.5} and abs((m == 0).mean() - 0.25) < 0.01
    s = np.asarray(corrupt(key, x, "salt_and_pepper", 0.4))
    assert abs((s == 0).mean() - 0.2) < 0.01 and abs((s == 1).mean() - 0.2) < 0.01 and abs((s == 0.5).mean() - 0.6) < 0.01


@pytest.mark.parametrize("kind,level", [("gaussian", 0.0), ("masking", 1.5), ("salt_and_pepper", -0.1),
                                        ("blur", 0.1)])
def test_bad_corruption_rejected(kind, level):
    with pytest.raises(ValueError):
        corrupt(jax.random.PRNGKey(0), jnp.zeros(3), kind, level)
    with pytest.raises(ValueError):
        dae_method.make_train_step(dae.DAE(out_dim=3), kind, level)


def test_reconstruction_energy_formula_and_loss_choice():
    model = dae.DAE(hidden=(8,), latent=4, out_dim=3)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))["params"]
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    r = model.apply({"params": params}, x)
    np.testing.assert_allclose(dae.reconstruction_energy(model, params, x, "mse"), ((x - r) ** 2).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(dae.reconstruct(model, params, x, "bce"), jax.nn.sigmoid(r), rtol=1e-6)
    with pytest.raises(ValueError, match="loss"):
        dae_method.make_train_step(model, "gaussian", 0.1, loss="l1")


def test_dae_learns_to_denoise_a_line():
    """Points on the line y = x; the trained DAE maps noisy points back towards the line."""
    t = jax.random.uniform(jax.random.PRNGKey(0), (1024,), minval=-1, maxval=1)
    data = jnp.stack([t, t], axis=-1)
    model = dae.DAE(hidden=(64,), latent=16, out_dim=2)
    state = dae_method.create_state(jax.random.PRNGKey(1), model, make_optimizer("adam", 3e-3), dim=2)
    state, hist = fit(state, dae_method.make_train_step(model, "gaussian", 0.2, "mse"), data, batch_size=128,
                      num_epochs=40, rng=jax.random.PRNGKey(2), log_every_steps=40)
    noisy = corrupt(jax.random.PRNGKey(3), data[:256], "gaussian", 0.2)
    out = dae.reconstruct(model, state.params, noisy, "mse")
    off_line = lambda z: float(jnp.mean(jnp.abs(z[:, 0] - z[:, 1])))  # noqa: E731
    assert off_line(out) < 0.4 * off_line(noisy)
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_dae_numpy_scalars_and_bad_input():
    model = dae.DAE(hidden=(8,), latent=4, out_dim=3)
    dae_method.make_train_step(model, "gaussian", np.float32(0.2), "mse")
    dae_method.make_train_step(model, "masking", np.float64(0.5))
    with pytest.raises(ValueError, match="dim"):
        dae_method.create_state(jax.random.PRNGKey(0), model, make_optimizer("adam", 1e-3), dim=0)
    with pytest.raises(ValueError, match="level"):
        dae_method.make_train_step(model, "gaussian", float("nan"))
    with pytest.raises(TypeError, match="level"):
        dae_method.make_train_step(model, "gaussian", "0.1")
