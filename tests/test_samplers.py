"""Samplers: exact-oracle checks for AIS, Gibbs, MH, CD-k / PCD, and bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.models.rbm import RBMParams, free_energy, hidden_probs
from ebm_jax.samplers import (
    NonFiniteChainError,
    ais_log_partition,
    beta_schedule,
    cd_k,
    exact_log_partition,
    make_rwmh_kernel,
    pcd,
    rbm_gibbs_kernel,
    run_chain,
    sample_chains,
    validate_betas,
)


def _random_rbm(seed, V, H, w_scale=0.5):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    return RBMParams(w_scale * jax.random.normal(k1, (V, H)), 0.5 * jax.random.normal(k2, (V,)) - 0.5,
                     0.3 * jax.random.normal(k3, (H,)))


def _brute_log_z(W, b, c):
    W, b, c = (np.asarray(a, np.float64) for a in (W, b, c))
    V, H = W.shape
    vs = np.array(list(itertools.product([0, 1], repeat=V)), np.float64)
    hs = np.array(list(itertools.product([0, 1], repeat=H)), np.float64)
    neg_e = (vs @ b)[:, None] + (hs @ c)[None, :] + vs @ W @ hs.T
    m = neg_e.max()
    return m + np.log(np.exp(neg_e - m).sum())


def test_exact_log_partition_matches_brute_force_joint_enumeration():
    p = _random_rbm(0, 6, 5, w_scale=1.0)
    want = _brute_log_z(*p)
    assert abs(exact_log_partition(*p) - want) < 1e-4
    # enumerating the other layer (transpose) gives the same number
    assert abs(exact_log_partition(p.W.T, p.b_hid, p.b_vis) - want) < 1e-4


@pytest.mark.parametrize("V,H,w_scale", [(100, 20, 0.3), (20, 60, 0.4)])
def test_ais_matches_exact_log_z(V, H, w_scale):
    p = _random_rbm(1, V, H, w_scale)
    exact = exact_log_partition(*p)
    data = np.asarray(jax.random.bernoulli(jax.random.PRNGKey(9), 0.3, (500, V)), np.float32)
    log_z, std = ais_log_partition(jax.random.PRNGKey(2), *p, num_betas=2000, num_runs=200, data=data)
    assert 0 < std < 0.1
    assert abs(log_z - exact) < max(0.05, 4 * std), (log_z, exact, std)


def test_ais_spread_shrinks_with_more_betas():
    p = _random_rbm(3, 40, 16, 0.5)
    _, std_few = ais_log_partition(jax.random.PRNGKey(0), *p, num_betas=50, num_runs=200)
    _, std_many = ais_log_partition(jax.random.PRNGKey(0), *p, num_betas=2000, num_runs=200)
    assert std_many < std_few / 2


def test_beta_schedules_are_valid_and_bad_schedules_rejected():
    for kind in ("sm08", "linear", "sigmoid"):
        b = validate_betas(beta_schedule(1000, kind))
        assert b[0] == 0 and b[-1] == 1 and len(b) == 1000
    p = _random_rbm(0, 8, 4)
    for bad, msg in [([0.0, 0.5, 0.4, 1.0], "increasing"), ([0.1, 0.5, 1.0], "start at 0"),
                     ([0.0, 0.5, 0.9], "end at 1"), ([0.0, np.nan, 1.0], "NaN"), ([[0.0, 1.0]], "1-D")]:
        with pytest.raises(ValueError, match=msg):
            ais_log_partition(jax.random.PRNGKey(0), *p, betas=bad)
    with pytest.raises(ValueError, match="num_betas"):
        beta_schedule(1)
    with pytest.raises(ValueError, match="num_runs"):
        ais_log_partition(jax.random.PRNGKey(0), *p, num_betas=10, num_runs=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ais_log_partition(jax.random.PRNGKey(0), *p, num_betas=10, data=np.full((3, 8), 2.0))
    with pytest.raises(ValueError, match="max_units"):
        exact_log_partition(jnp.zeros((30, 30)), jnp.zeros(30), jnp.zeros(30))
    with pytest.raises(ValueError, match="b_vis"):
        exact_log_partition(jnp.zeros((5, 3)), jnp.zeros(4), jnp.zeros(3))


def test_ais_raises_on_nan_parameters():
    p = _random_rbm(0, 8, 4)
    with pytest.raises(FloatingPointError):
        ais_log_partition(jax.random.PRNGKey(0), p.W.at[0, 0].set(jnp.nan), p.b_vis, p.b_hid, num_betas=20)


def test_gibbs_chain_reaches_exact_rbm_distribution():
    p = _random_rbm(4, 4, 3, w_scale=1.0)
    log_z = exact_log_partition(*p)
    states = jnp.array(list(itertools.product([0, 1], repeat=4)), jnp.float32)
    exact = np.exp(np.asarray(-free_energy(p, states)) - log_z)
    assert abs(exact.sum() - 1) < 1e-5
    x0 = jnp.zeros((4000, 4))
    x = sample_chains(rbm_gibbs_kernel, jax.random.PRNGKey(0), x0, p, 50)
    idx = np.asarray(x @ (2 ** jnp.arange(3, -1, -1.0))).astype(int)
    emp = np.bincount(idx, minlength=16) / len(idx)
    assert 0.5 * np.abs(emp - exact).sum() < 0.03


def test_mh_chain_reaches_1d_double_well_distribution():
    def energy(params, x):
        return params * (x[..., 0] ** 2 - 1.0) ** 2

    kernel = make_rwmh_kernel(energy, step_size=0.8)
    x = sample_chains(kernel, jax.random.PRNGKey(0), jnp.zeros((4000, 1)), 2.0, 200)
    grid = np.linspace(-3, 3, 601)
    dens = np.exp(-2.0 * (grid ** 2 - 1) ** 2)
    edges = np.linspace(-2.5, 2.5, 21)
    exact = np.array([dens[(grid >= lo) & (grid < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    exact /= exact.sum()
    emp = np.histogram(np.asarray(x[:, 0]), bins=edges)[0] / len(x)
    assert 0.5 * np.abs(emp - exact).sum() < 0.04
    assert abs(float(np.mean(np.asarray(x) > 0)) - 0.5) < 0.04  # both wells visited


def test_mh_rejects_proposals_with_nan_energy():
    def energy(params, x):
        return jnp.where(x[..., 0] > 0.5, jnp.nan, 0.0)  # flat below 0.5, NaN above

    x = sample_chains(make_rwmh_kernel(energy, 0.3), jax.random.PRNGKey(0), jnp.zeros((500, 1)), None, 100)
    assert float(x.max()) <= 0.5 and float(x.min()) < -1.0


def test_run_chain_snapshots_end_at_final_state():
    p = _random_rbm(0, 6, 3)
    x0 = jnp.zeros((5, 6))
    x, snaps = run_chain(rbm_gibbs_kernel, jax.random.PRNGKey(1), x0, p, 6, num_saved=3)
    assert snaps.shape == (3, 5, 6)
    np.testing.assert_array_equal(snaps[-1], x)
    np.testing.assert_array_equal(run_chain(rbm_gibbs_kernel, jax.random.PRNGKey(1), x0, p, 6), x)


def test_cd_k_gradient_is_the_rbm_statistics_difference():
    p = _random_rbm(5, 10, 7)
    v = jax.random.bernoulli(jax.random.PRNGKey(1), 0.4, (32, 10)).astype(jnp.float32)
    loss, grads, v_neg = cd_k(jax.random.PRNGKey(2), p, v, energy_fn=free_energy, kernel=rbm_gibbs_kernel, k=3)
    h_pos, h_neg = hidden_probs(p, v), hidden_probs(p, v_neg)
    want_W = -(v.T @ h_pos - v_neg.T @ h_neg) / 32
    np.testing.assert_allclose(grads.W, want_W, atol=1e-5)
    np.testing.assert_allclose(grads.b_vis, -(v.mean(0) - v_neg.mean(0)), atol=1e-5)
    np.testing.assert_allclose(grads.b_hid, -(h_pos.mean(0) - h_neg.mean(0)), atol=1e-5)
    np.testing.assert_allclose(loss, free_energy(p, v).mean() - free_energy(p, v_neg).mean(), rtol=1e-5)
    assert not np.array_equal(np.asarray(v_neg), np.asarray(v))


def test_pcd_advances_persistent_chains_of_any_count():
    p = _random_rbm(6, 10, 7)
    v = jnp.ones((16, 10))
    chains = jnp.zeros((40, 10))
    _, grads, new = pcd(jax.random.PRNGKey(0), p, v, chains, energy_fn=free_energy, kernel=rbm_gibbs_kernel, k=2)
    assert new.shape == (40, 10) and not np.array_equal(np.asarray(new), np.asarray(chains))
    want = run_chain(rbm_gibbs_kernel, jax.random.PRNGKey(0), chains, p, 2)
    np.testing.assert_array_equal(new, want)
    assert grads.W.shape == (10, 7)
    with pytest.raises(ValueError, match="chains"):
        pcd(jax.random.PRNGKey(0), p, v, jnp.zeros((4, 9)), energy_fn=free_energy, kernel=rbm_gibbs_kernel)


def test_return_energies_are_the_two_mean_energies_of_the_same_step():
    p = _random_rbm(7, 10, 7)
    v = jax.random.bernoulli(jax.random.PRNGKey(3), 0.4, (16, 10)).astype(jnp.float32)
    chains = jnp.zeros((24, 10))
    for est, args in ((cd_k, (v,)), (pcd, (v, chains))):
        loss, grads, x_neg, (e_data, e_neg) = est(jax.random.PRNGKey(4), p, *args, energy_fn=free_energy,
                                                  kernel=rbm_gibbs_kernel, k=2, return_energies=True)
        np.testing.assert_allclose(e_data, free_energy(p, v).mean(), rtol=1e-6)
        np.testing.assert_allclose(e_neg, free_energy(p, x_neg).mean(), rtol=1e-6)
        np.testing.assert_allclose(loss, e_data - e_neg, rtol=1e-6)
        # same draw and gradient as without the flag
        loss2, grads2, x_neg2 = est(jax.random.PRNGKey(4), p, *args, energy_fn=free_energy,
                                    kernel=rbm_gibbs_kernel, k=2)
        np.testing.assert_array_equal(x_neg, x_neg2)
        np.testing.assert_allclose(grads.W, grads2.W, rtol=1e-6)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_rejected(k):
    p = _random_rbm(0, 4, 3)
    v = jnp.ones((2, 4))
    with pytest.raises(ValueError, match="k"):
        cd_k(jax.random.PRNGKey(0), p, v, energy_fn=free_energy, kernel=rbm_gibbs_kernel, k=k)
    with pytest.raises(ValueError, match="k"):
        pcd(jax.random.PRNGKey(0), p, v, v, energy_fn=free_energy, kernel=rbm_gibbs_kernel, k=k)


def test_chains_that_produce_nan_raise():
    def bad_kernel(key, x, params):
        return x * params  # params = nan poisons every chain

    with pytest.raises(NonFiniteChainError, match="NaN"):
        sample_chains(bad_kernel, jax.random.PRNGKey(0), jnp.ones((3, 2)), jnp.nan, 2)
    with pytest.raises(ValueError, match="x0"):
        sample_chains(bad_kernel, jax.random.PRNGKey(0), jnp.full((3, 2), jnp.nan), 1.0, 2)
    with pytest.raises(ValueError, match="step_size"):
        make_rwmh_kernel(lambda p, x: x.sum(-1), step_size=0.0)
