"""2-D toy data and the MLP energy trained by CD / PCD on MH chains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.data.toy2d import TOY2D, distance_to_data, grid_2d, sample_toy2d
from ebm_jax.methods.energy_mlp import create_state, make_train_step
from ebm_jax.models.energy_mlp import EnergyMLP, energy_fn_of
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer


def test_toy_samplers_shapes_and_geometry():
    for name in TOY2D:
        x = sample_toy2d(jax.random.PRNGKey(0), name, 500)
        assert x.shape == (500, 2) and x.dtype == jnp.float32
        assert np.abs(np.asarray(x)).max() < 3.5
    r = np.linalg.norm(np.asarray(sample_toy2d(jax.random.PRNGKey(1), "rings", 2000, noise=0.0)), axis=1)
    assert np.allclose(np.minimum(np.abs(r - 1.0), np.abs(r - 2.2)), 0, atol=1e-5)
    g = np.asarray(sample_toy2d(jax.random.PRNGKey(2), "gaussians", 4000, noise=0.0))
    assert len(np.unique(np.round(g, 4), axis=0)) == 8


def test_toy_bad_input():
    with pytest.raises(ValueError, match="name"):
        sample_toy2d(jax.random.PRNGKey(0), "spirals", 10)
    with pytest.raises(ValueError, match="n must"):
        sample_toy2d(jax.random.PRNGKey(0), "rings", 0)
    with pytest.raises(ValueError, match="noise"):
        sample_toy2d(jax.random.PRNGKey(0), "rings", 5, noise=-1.0)


def test_distance_to_data_matches_brute_force():
    rng = np.random.default_rng(0)
    p, d = rng.normal(size=(37, 2)), rng.normal(size=(53, 2))
    want = np.sqrt(((p[:, None] - d[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(distance_to_data(p, d, chunk=5), want, rtol=1e-5)
    axis, grid = grid_2d(7, (-1.0, 1.0))
    assert grid.shape == (49, 2) and axis[0] == -1 and axis[-1] == 1


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_ebm_learns_low_energy_on_data(method):
    data = 0.3 * jax.random.normal(jax.random.PRNGKey(0), (1024, 2)) + jnp.array([1.0, -1.0])
    model = EnergyMLP(hidden=(32, 32), prior_scale=3.0)
    chains = jax.random.uniform(jax.random.PRNGKey(1), (256, 2), minval=-3, maxval=3) if method == "pcd" else None
    state = create_state(jax.random.PRNGKey(2), model, make_optimizer("adam", 3e-3, b1=0.5), dim=2, chains=chains)
    assert "params" not in state.params  # the plain parameter tree
    state, hist = fit(state, make_train_step(model, method, 5, 0.3, alpha=0.01), data, batch_size=128,
                      num_epochs=25, rng=jax.random.PRNGKey(3), log_every_steps=50)
    e = energy_fn_of(model)(state.params, jnp.array([[1.0, -1.0], [-1.5, 1.5], [2.5, 2.5]]))
    assert e[0] + 1.0 < e[1] and e[0] + 1.0 < e[2], e
    if method == "pcd":
        assert state.chains.shape == (256, 2)
        assert float(jnp.mean(jnp.linalg.norm(state.chains - jnp.array([1.0, -1.0]), axis=1))) < 1.0
    assert 0.2 < hist[-1]["accept_rate"] <= 1


BAD_STEP = [
    (dict(k=0), ValueError, "k"),
    (dict(k=10 ** 9), ValueError, "10000"),
    (dict(k=1.5), TypeError, "k"),
    (dict(method="nce"), ValueError, "method"),
    (dict(step_size=-0.1), ValueError, "step_size"),
    (dict(step_size=float("nan")), ValueError, "step_size"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(alpha=float("inf")), ValueError, "alpha"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_STEP)
def test_ebm_step_bad_input(kwargs, error, match):
    args = {"method": "cd", "k": 1, "step_size": 0.1, "alpha": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        make_train_step(EnergyMLP(hidden=(4,)), **args)


def test_ebm_state_bad_input_and_numpy_scalars():
    model = EnergyMLP(hidden=(4,))
    tx = make_optimizer("adam", 1e-3)
    state = create_state(jax.random.PRNGKey(0), model, tx, dim=2)
    with pytest.raises(ValueError, match="chains"):
        make_train_step(model, "pcd", 1, 0.1)(state, jnp.zeros((4, 2)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="chains"):
        create_state(jax.random.PRNGKey(0), model, tx, dim=2, chains=jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="chains"):
        create_state(jax.random.PRNGKey(0), model, tx, dim=2, chains=jnp.full((4, 2), jnp.nan))
    with pytest.raises(ValueError, match="dim"):
        create_state(jax.random.PRNGKey(0), model, tx, dim=0)
    make_train_step(model, "pcd", np.int64(3), np.float32(0.1), np.float32(0.01))
