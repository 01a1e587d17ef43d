"""Bernoulli RBM: exact conditionals / free energy, sklearn agreement, its Gibbs sampler, exact and AIS
log Z, CD-k / PCD training (ebm_jax.methods.rbm), bad input."""

import itertools
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.methods import rbm as rbm_method
from ebm_jax.models import rbm
from ebm_jax.models.rbm import GIBBS, exact_log_partition
from ebm_jax.samplers import cd_k, pcd, run_chain
from ebm_jax.train import NonFiniteLossError, fit
from ebm_jax.train.optim import make_optimizer


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
    st = rbm_method.RBMTrainState.create(_params(V=V, H=H), make_optimizer("sgd", 0.1),
                                         jnp.zeros((5, V)) if method == "pcd" else None)
    step = rbm_method.make_train_step(method, k, binarize=False)
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
    state = rbm_method.RBMTrainState.create(jax.tree.map(jnp.copy, p0), make_optimizer("sgd", 0.1, momentum=0.5),
                                            chains)  # fit donates

    def exact_ll(p):
        return float(jnp.mean(-rbm.free_energy(p, jnp.asarray(x))) - exact_log_partition(p))

    state, hist = fit(state, rbm_method.make_train_step(method, k, binarize=False), jnp.asarray(x), batch_size=32,
                      num_epochs=15, rng=jax.random.PRNGKey(1), workdir=None, log_every_steps=1000)
    before, after = exact_ll(p0), exact_ll(state.params)
    # data entropy is about 1 bit + 12 * H(0.05) ≈ 2.7 nats; an untrained model is at ~ -8.3
    assert after > before + 3.0, (before, after)
    assert after > -4.5


def test_pcd_chains_are_checkpointed_and_resumed(tmp_path):
    x = jnp.asarray(_toy_data(256))
    p0 = rbm.init_rbm(jax.random.PRNGKey(0), 12, 8, data_mean=x.mean(0))
    make = lambda: rbm_method.RBMTrainState.create(jax.tree.map(jnp.copy, p0), make_optimizer("sgd", 0.1),  # noqa: E731
                                                   jnp.zeros((16, 12)))
    kw = dict(batch_size=32, num_epochs=2, rng=jax.random.PRNGKey(3), log_every_steps=4)
    step = rbm_method.make_train_step("pcd", 2, binarize=False)
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
    state = rbm_method.RBMTrainState.create(p, make_optimizer("sgd", 0.1))
    with pytest.raises(NonFiniteLossError):
        fit(state, rbm_method.make_train_step("cd", 1, binarize=False), x, batch_size=32, num_epochs=1,
            rng=jax.random.PRNGKey(0))


def _brute_log_z(params):
    W, b, c = (np.asarray(a, np.float64) for a in params)
    V, H = W.shape
    vs = np.array(list(itertools.product([0, 1], repeat=V)), np.float64)
    hs = np.array(list(itertools.product([0, 1], repeat=H)), np.float64)
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ W @ hs.T
    m = neg_e.max()
    return m + np.log(np.exp(neg_e - m).sum())


def _random_rbm(seed, V, H, w_scale=0.5):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    return rbm.RBMParams(w_scale * jax.random.normal(k1, (V, H)), 0.5 * jax.random.normal(k2, (V,)) - 0.5,
                         0.3 * jax.random.normal(k3, (H,)))


def test_exact_log_partition_matches_brute_force_joint_enumeration():
    p = _random_rbm(0, 6, 5, w_scale=1.0)
    want = _brute_log_z(p)
    assert abs(exact_log_partition(p) - want) < 1e-4
    # enumerating the other layer (transpose) gives the same number
    assert abs(exact_log_partition(rbm.RBMParams(p.W.T, p.b_hid, p.b_vis)) - want) < 1e-4


@pytest.mark.parametrize("chunk_size", [1, 3, 5, 7, 16, 100, np.int64(6)])
def test_exact_log_partition_counts_every_state_for_any_chunk_size(chunk_size):
    """A 6x4 RBM, chunk sizes that do not divide 2^4: every state is counted."""
    p = _random_rbm(2, 6, 4, w_scale=1.0)
    assert abs(exact_log_partition(p, chunk_size=chunk_size) - _brute_log_z(p)) < 1e-4


@pytest.mark.parametrize("V,H,w_scale", [(100, 20, 0.3), (20, 60, 0.4)])
def test_ais_matches_exact_log_z(V, H, w_scale):
    p = _random_rbm(1, V, H, w_scale)
    exact = exact_log_partition(p)
    data = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(9), 0.3, (500, V)), np.float32)
    res = rbm.ais_log_partition(jax.random.PRNGKey(2), p, num_betas=2000, num_runs=200, data=data)
    assert 0 < res.log_z_std < 0.1
    assert abs(res.log_z - exact) < max(0.05, 4 * res.log_z_std), (res.log_z, exact, res.log_z_std)
    assert res.acceptance_rate == 1.0 and res.log_weights.shape == (200,)


def test_ais_spread_shrinks_with_more_betas():
    p = _random_rbm(3, 40, 16, 0.5)
    few = rbm.ais_log_partition(jax.random.PRNGKey(0), p, num_betas=50, num_runs=200)
    many = rbm.ais_log_partition(jax.random.PRNGKey(0), p, num_betas=2000, num_runs=200)
    assert many.log_z_std < few.log_z_std / 2


def test_ais_raises_on_nan_parameters():
    p = _random_rbm(0, 8, 4)
    with pytest.raises(FloatingPointError):
        rbm.ais_log_partition(jax.random.PRNGKey(0), p._replace(W=p.W.at[0, 0].set(jnp.nan)), num_betas=20)


def test_gibbs_chain_reaches_exact_rbm_distribution():
    p = _random_rbm(4, 4, 3, w_scale=1.0)
    log_z = exact_log_partition(p)
    states = jnp.array(list(itertools.product([0, 1], repeat=4)), jnp.float32)
    exact = np.exp(np.asarray(-rbm.free_energy(p, states)) - log_z)
    assert abs(exact.sum() - 1) < 1e-5
    out = rbm.sample_gibbs(jax.random.PRNGKey(0), p, jnp.zeros((4000, 4)), 50)
    idx = np.asarray(out.state.position @ (2 ** jnp.arange(3, -1, -1.0))).astype(int)
    emp = np.bincount(idx, minlength=16) / len(idx)
    assert 0.5 * np.abs(emp - exact).sum() < 0.03
    assert float(np.mean(out.info.acceptance_rate)) == 1.0


def test_cd_k_gradient_is_the_rbm_statistics_difference():
    p = _random_rbm(5, 10, 7)
    v = jax.random.bernoulli(jax.random.PRNGKey(1), 0.4, (32, 10)).astype(jnp.float32)
    res = cd_k(jax.random.PRNGKey(2), p, v, energy_fn=rbm.free_energy, algorithm=GIBBS, k=3)
    v_neg = res.negatives
    h_pos, h_neg = rbm.hidden_probs(p, v), rbm.hidden_probs(p, v_neg)
    np.testing.assert_allclose(res.grads.W, -(v.T @ h_pos - v_neg.T @ h_neg) / 32, atol=1e-5)
    np.testing.assert_allclose(res.grads.b_vis, -(v.mean(0) - v_neg.mean(0)), atol=1e-5)
    np.testing.assert_allclose(res.grads.b_hid, -(h_pos.mean(0) - h_neg.mean(0)), atol=1e-5)
    np.testing.assert_allclose(res.loss, rbm.free_energy(p, v).mean() - rbm.free_energy(p, v_neg).mean(), rtol=1e-5)
    np.testing.assert_allclose(res.info.energy_data, rbm.free_energy(p, v).mean(), rtol=1e-6)
    np.testing.assert_allclose(res.info.energy_neg, rbm.free_energy(p, v_neg).mean(), rtol=1e-6)
    assert not np.array_equal(np.asarray(v_neg), np.asarray(v))


def test_pcd_advances_persistent_chains_of_any_count():
    p = _random_rbm(6, 10, 7)
    v = jnp.ones((16, 10))
    chains = jnp.zeros((40, 10))
    res = pcd(jax.random.PRNGKey(0), p, v, chains, energy_fn=rbm.free_energy, algorithm=GIBBS, k=2)
    assert res.negatives.shape == (40, 10) and not np.array_equal(np.asarray(res.negatives), np.asarray(chains))
    np.testing.assert_array_equal(res.negatives, run_chain(GIBBS, jax.random.PRNGKey(0), chains, p, 2).state.position)
    assert res.grads.W.shape == (10, 7)


def test_sgd_momentum_weight_decay_on_W_and_linear_decay_are_the_old_rbm_optimizer():
    """make_optimizer with the RBM's mask gives the numbers of the hand-built optax chain it replaced."""
    import optax

    p = _random_rbm(7, 10, 6)
    grads = _random_rbm(8, 10, 6)
    old = optax.chain(optax.masked(optax.add_decayed_weights(1e-2), rbm.RBMParams(True, False, False)),
                      optax.sgd(optax.linear_schedule(0.05, 0.0, 20), momentum=0.9))
    new = make_optimizer("sgd", 0.05, momentum=0.9, weight_decay=1e-2, decay_mask=rbm_method.WEIGHT_DECAY_MASK,
                         schedule="linear", total_steps=20)
    so, sn, po, pn = old.init(p), new.init(p), p, p
    for _ in range(5):
        uo, so = old.update(grads, so, po)
        un, sn = new.update(grads, sn, pn)
        po, pn = optax.apply_updates(po, uo), optax.apply_updates(pn, un)
    for a, b in zip(po, pn):
        np.testing.assert_array_equal(a, b)


BAD_INPUTS = [
    # (callable, error, match)
    (lambda: rbm.validate_binary(np.array([[0.0, 0.5, 1.0]]), "data"), ValueError, "binary"),
    (lambda: rbm.validate_binary(np.array([[0.0, np.nan]]), "data"), ValueError, "binary"),
    (lambda: rbm.pseudo_log_likelihood(jax.random.PRNGKey(0), _params(), jnp.full((2, 5), 0.3)), ValueError, "binary"),
    (lambda: rbm.log_likelihood(_params(), jnp.full((2, 5), 0.3), 1.0), ValueError, "binary"),
    (lambda: rbm.log_likelihood(_params(), jnp.ones((2, 4)), 1.0), ValueError, r"\(\.\.\., 5\)"),
    (lambda: rbm.validate_unit_interval(np.array([[0.0, 1.5]]), "images"), ValueError, r"\[0, 1\]"),
    (lambda: rbm.sample_gibbs(jax.random.PRNGKey(0), _params(), jnp.full((3, 5), 0.5), 2), ValueError, "binary"),
    (lambda: rbm.sample_gibbs(jax.random.PRNGKey(0), _params(), jnp.full((3, 5), jnp.nan), 2), ValueError, "v0"),
    (lambda: rbm.gibbs_init(jnp.array([0.0, 2.0, 1.0, 0.0, 0.0]), _params()), ValueError, "binary"),
    (lambda: rbm_method.RBMTrainState.create(_params(), make_optimizer("sgd", 0.1), jnp.full((2, 5), jnp.nan)),
     ValueError, "chains"),
    (lambda: rbm_method.RBMTrainState.create(_params(), make_optimizer("sgd", 0.1), jnp.full((2, 5), 0.5)),
     ValueError, "binary"),
    (lambda: rbm_method.RBMTrainState.create(_params(), make_optimizer("sgd", 0.1), jnp.zeros((2, 4))),
     ValueError, "chains"),
    (lambda: rbm_method.make_train_step("cd", 0), ValueError, "k"),
    (lambda: rbm_method.make_train_step("cd", -2), ValueError, "k"),
    (lambda: rbm_method.make_train_step("cd", 2.0), TypeError, "k"),
    (lambda: rbm_method.make_train_step("cd", 10 ** 9), ValueError, "10000"),
    (lambda: rbm_method.make_train_step("pcdd", 1), ValueError, "method"),
    (lambda: make_optimizer("sgd", 0.0), ValueError, "learning_rate"),
    (lambda: make_optimizer("sgd", float("nan")), ValueError, "learning_rate"),
    (lambda: make_optimizer("sgd", float("inf")), ValueError, "learning_rate"),
    (lambda: make_optimizer("sgd", -1.0), ValueError, "learning_rate"),
    (lambda: make_optimizer("sgd", 0.1, momentum=1.0), ValueError, "momentum"),
    (lambda: make_optimizer("sgd", 0.1, momentum=-0.1), ValueError, "momentum"),
    (lambda: make_optimizer("sgd", 0.1, weight_decay=float("nan")), ValueError, "weight_decay"),
    (lambda: make_optimizer("sgd", 0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (lambda: rbm.validate_params((jnp.zeros((4, 3)), jnp.zeros(4), jnp.zeros(2))), ValueError, "b_hid"),
    (lambda: rbm.validate_params((jnp.zeros((4, 3), jnp.int32), jnp.zeros(4), jnp.zeros(3))), TypeError, "W"),
    (lambda: rbm.validate_params(jnp.zeros((4, 3))), TypeError, "params"),
    (lambda: rbm.init_rbm(jax.random.PRNGKey(0), 0, 3), ValueError, "num_visible"),
    (lambda: rbm.init_rbm(jax.random.PRNGKey(0), 4, 3, data_mean=jnp.full(4, 1.5)), ValueError, "data_mean"),
    (lambda: exact_log_partition(rbm.RBMParams(jnp.zeros((30, 30)), jnp.zeros(30), jnp.zeros(30))),
     ValueError, "max_units"),
    (lambda: exact_log_partition(rbm.RBMParams(jnp.zeros((5, 3)), jnp.zeros(4), jnp.zeros(3))), ValueError, "b_vis"),
    (lambda: exact_log_partition(_params(), chunk_size=0), ValueError, "chunk_size"),
    (lambda: exact_log_partition(_params(), chunk_size=2.5), TypeError, "chunk_size"),
    (lambda: rbm.ais_log_partition(jax.random.PRNGKey(0), _params(), num_betas=10, num_runs=0), ValueError, "num_runs"),
    (lambda: rbm.ais_log_partition(jax.random.PRNGKey(0), _params(), num_betas=10, data=np.full((3, 5), 2.0)),
     ValueError, r"\[0, 1\]"),
    (lambda: rbm.ais_log_partition(jax.random.PRNGKey(0), _params(), betas=[0.0, 0.6, 0.5, 1.0]),
     ValueError, "increasing"),
    (lambda: rbm.ais_log_partition(jax.random.PRNGKey(0), _params(), num_betas=10 ** 9), ValueError, "num_betas"),
]


@pytest.mark.parametrize("fn,error,match", BAD_INPUTS, ids=[str(i) for i in range(len(BAD_INPUTS))])
def test_bad_input_rejected(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


def test_numpy_scalars_accepted():
    """numpy scalars give the same results as the Python numbers they stand for."""
    p = _params()
    key = jax.random.PRNGKey(0)

    def one_step(k, lr, momentum, weight_decay):
        state = rbm_method.RBMTrainState.create(p, make_optimizer("sgd", lr, momentum=momentum,
                                                                 weight_decay=weight_decay))
        state, metrics = rbm_method.make_train_step("cd", k)(state, jnp.full((2, 5), 0.5), key)
        return state.params, state.opt_state, metrics

    chex.assert_trees_all_equal(one_step(np.int64(2), np.float32(0.1), np.float32(0.5), np.float64(1e-4)),
                                one_step(2, 0.1, 0.5, 1e-4))
    chex.assert_trees_all_equal(rbm.init_rbm(key, np.int64(5), np.int32(4), scale=np.float32(0.01)),
                                rbm.init_rbm(key, 5, 4, scale=0.01))
    assert exact_log_partition(p, chunk_size=np.int64(3)) == exact_log_partition(p, chunk_size=3)
    chex.assert_trees_all_equal(rbm.ais_log_partition(key, p, num_betas=np.int64(10), num_runs=np.int64(4)),
                                rbm.ais_log_partition(key, p, num_betas=10, num_runs=4))
    chex.assert_trees_all_equal(rbm.sample_gibbs(key, p, jnp.zeros((2, 5)), np.int64(3)),
                                rbm.sample_gibbs(key, p, jnp.zeros((2, 5)), 3))


def test_pcd_without_chains_is_refused():
    state = rbm_method.RBMTrainState.create(_params(), make_optimizer("sgd", 0.1))
    with pytest.raises(ValueError, match="persistent chains"):
        rbm_method.make_train_step("pcd", 1)(state, jnp.ones((2, 5)), jax.random.PRNGKey(0))


def test_create_state_matches_init_rbm():
    key = jax.random.PRNGKey(3)
    state = rbm_method.create_state(key, make_optimizer("sgd", 0.1), num_visible=6, num_hidden=4,
                                    data_mean=jnp.full(6, 0.2), chains=jnp.zeros((3, 6)))
    want = rbm.init_rbm(key, 6, 4, data_mean=jnp.full(6, 0.2))
    for a, b in zip(state.params, want):
        np.testing.assert_array_equal(a, b)
    assert state.chains.shape == (3, 6) and int(state.step) == 0
