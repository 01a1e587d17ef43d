"""Bernoulli RBM: exact conditionals / free energy, sklearn agreement, training, bad input."""

import itertools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.models import rbm
from ebm_jax.samplers import exact_log_partition
from ebm_jax.train import NonFiniteLossError, fit


def _params(seed=0, V=5, H=4, s=1.0):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    return rbm.RBMParams(s * jax.random.normal(k1, (V, H)), jax.random.normal(k2, (V,)), jax.random.normal(k3, (H,)))


def test_free_energy_and_conditionals_match_enumeration():
    p = _params()
    V, H = p.W.shape
    hs = jnp.array(list(itertools.product([0, 1], repeat=H)), jnp.float32)
    v = jnp.array([[1, 0, 1, 1, 0], [0, 0, 0, 1, 1]], jnp.float32)
    for x in v:
        e = rbm.energy(p, jnp.broadcast_to(x, (len(hs), V)), hs)      # (2^H,)
        np.testing.assert_allclose(rbm.free_energy(p, x), -jax.nn.logsumexp(-e), rtol=1e-5)
        post = jax.nn.softmax(-e)
        np.testing.assert_allclose(rbm.hidden_probs(p, x), post @ hs, atol=1e-5)
    # p(v | h) by enumerating v
    vs = jnp.array(list(itertools.product([0, 1], repeat=V)), jnp.float32)
    h = jnp.array([1, 0, 1, 1], jnp.float32)
    post_v = jax.nn.softmax(-rbm.energy(p, vs, jnp.broadcast_to(h, (len(vs), H))))
    np.testing.assert_allclose(rbm.visible_probs(p, h), post_v @ vs, atol=1e-5)


def test_matches_sklearn_bernoulli_rbm():
    from sklearn.neural_network import BernoulliRBM

    p = _params(1, V=12, H=6)
    v = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(2), 0.5, (50, 12)), np.float64)
    sk = BernoulliRBM(n_components=6, random_state=0)
    sk.components_ = np.asarray(p.W.T, np.float64)
    sk.intercept_visible_ = np.asarray(p.b_vis, np.float64)
    sk.intercept_hidden_ = np.asarray(p.b_hid, np.float64)
    sk.random_state_ = np.random.RandomState(0)
    np.testing.assert_allclose(rbm.free_energy(p, jnp.asarray(v, jnp.float32)), sk._free_energy(v), rtol=1e-5)
    np.testing.assert_allclose(rbm.hidden_probs(p, jnp.asarray(v, jnp.float32)), sk.transform(v), atol=1e-6)
    sk.random_state = 7
    want = sk.score_samples(v)
    idx = np.random.RandomState(7).randint(0, 12, 50)
    got = rbm.pseudo_log_likelihood(None, p, jnp.asarray(v, jnp.float32), flip_index=idx)
    np.testing.assert_allclose(got, want, rtol=1e-4)


@pytest.mark.parametrize("method,k", [("pcd", 1), ("cd", 1), ("cd", 3)])
def test_train_step_does_only_the_gradients_matrix_products(method, k):
    """A Gibbs sweep's 2 products (written once: the chain is a scan) + one forward and one
    backward on [data; negatives]; the free-energy metrics reuse the loss's forward pass."""
    V, H = 20, 7
    st = rbm.RBMTrainState.create(_params(V=V, H=H), rbm.make_optimizer(0.1),
                                  jnp.zeros((5, V)) if method == "pcd" else None)
    step = rbm.make_train_step(method, k, binarize=False)
    hlo = jax.jit(step).lower(st, jnp.zeros((4, V)), jax.random.PRNGKey(0)).as_text()
    dots = [line for line in hlo.splitlines() if "dot_general" in line]
    matmuls = [d for d in dots if len(re.findall(r"tensor<\d+x\d+xf32>", d.split(":")[-1].split("->")[0])) == 2]
    assert len(matmuls) == 4, matmuls


def _toy_data(n=512, V=12, seed=0):
    rng = np.random.default_rng(seed)
    protos = np.array([[1] * 6 + [0] * 6, [0] * 6 + [1] * 6], np.float32)
    x = protos[rng.integers(0, 2, n)]
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype(np.float32)


@pytest.mark.parametrize("method,k", [("cd", 1), ("pcd", 1)])
def test_training_raises_exact_log_likelihood(method, k, tmp_path):
    x = _toy_data()
    p0 = rbm.init_rbm(jax.random.PRNGKey(0), 12, 8, scale=0.01, data_mean=x.mean(0))
    chains = jnp.asarray(x[:64]) if method == "pcd" else None
    state = rbm.RBMTrainState.create(jax.tree.map(jnp.copy, p0), rbm.make_optimizer(0.1, momentum=0.5), chains)  # fit donates

    def exact_ll(p):
        return float(jnp.mean(-rbm.free_energy(p, jnp.asarray(x))) - exact_log_partition(*p))

    state, hist = fit(state, rbm.make_train_step(method, k, binarize=False), jnp.asarray(x), batch_size=32,
                      num_epochs=15, rng=jax.random.PRNGKey(1), workdir=None, log_every_steps=1000)
    before, after = exact_ll(p0), exact_ll(state.params)
    # data entropy is about 1 bit + 12 * H(0.05) ≈ 2.7 nats; an untrained model is at ~ -8.3
    assert after > before + 3.0, (before, after)
    assert after > -4.5


def test_pcd_chains_are_checkpointed_and_resumed(tmp_path):
    x = jnp.asarray(_toy_data(256))
    p0 = rbm.init_rbm(jax.random.PRNGKey(0), 12, 8, data_mean=x.mean(0))
    make = lambda: rbm.RBMTrainState.create(jax.tree.map(jnp.copy, p0), rbm.make_optimizer(0.1), jnp.zeros((16, 12)))  # noqa: E731
    kw = dict(batch_size=32, num_epochs=2, rng=jax.random.PRNGKey(3), log_every_steps=4)
    step = rbm.make_train_step("pcd", 2, binarize=False)
    straight, _ = fit(make(), step, x, workdir=tmp_path / "a", **kw)
    fit(make(), step, x, workdir=tmp_path / "b", max_steps=5, **kw)
    resumed, _ = fit(make(), step, x, workdir=tmp_path / "b", **kw)
    assert int(resumed.step) == 16
    assert not np.array_equal(np.asarray(straight.chains), np.zeros((16, 12)))
    np.testing.assert_array_equal(resumed.chains, straight.chains)
    np.testing.assert_allclose(resumed.params.W, straight.params.W, rtol=1e-6)


def test_nan_parameters_stop_training_loudly():
    x = jnp.asarray(_toy_data(64))
    p = rbm.init_rbm(jax.random.PRNGKey(0), 12, 8)
    p = p._replace(W=p.W.at[0, 0].set(jnp.nan))
    state = rbm.RBMTrainState.create(p, rbm.make_optimizer(0.1))
    with pytest.raises(NonFiniteLossError):
        fit(state, rbm.make_train_step("cd", 1, binarize=False), x, batch_size=32, num_epochs=1,
            rng=jax.random.PRNGKey(0))


def test_bad_input_rejected():
    with pytest.raises(ValueError, match="binary"):
        rbm.validate_binary(np.array([[0.0, 0.5, 1.0]]), "data")
    rbm.validate_binary(np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="binary"):
        rbm.pseudo_log_likelihood(jax.random.PRNGKey(0), _params(), jnp.full((2, 5), 0.3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbm.validate_unit_interval(np.array([[0.0, 1.5]]), "images")
    for k in (0, -2, 2.0):
        with pytest.raises(ValueError, match="k must be"):
            rbm.make_train_step("cd", k)
    with pytest.raises(ValueError, match="method"):
        rbm.make_train_step("pcdd", 1)
    with pytest.raises(ValueError, match="learning_rate"):
        rbm.make_optimizer(0.0)
    with pytest.raises(ValueError, match="b_hid"):
        rbm.validate_params(jnp.zeros((4, 3)), jnp.zeros(4), jnp.zeros(2))
    with pytest.raises(TypeError, match="W"):
        rbm.validate_params(jnp.zeros((4, 3), jnp.int32), jnp.zeros(4), jnp.zeros(3))
    state = rbm.RBMTrainState.create(_params(), rbm.make_optimizer(0.1))
    with pytest.raises(ValueError, match="persistent chains"):
        rbm.make_train_step("pcd", 1)(state, jnp.ones((2, 5)), jax.random.PRNGKey(0))
