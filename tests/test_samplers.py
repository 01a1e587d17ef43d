"""Samplers that know no model: random-walk MH (against blackjax and exact densities), chains,
CD-k / PCD and AIS over any sampler, and bad input. The RBM's own samplers: tests/test_rbm.py."""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.samplers import (
    MAX_K,
    MAX_STEPS_PER_CALL,
    NonFiniteChainError,
    SamplingAlgorithm,
    TemperedTarget,
    ais,
    beta_schedule,
    cd_k,
    parse_method,
    pcd,
    run_chain,
    rwmh,
    sample_chains,
    validate_betas,
)


def double_well(params, x):
    return params * (x[..., 0] ** 2 - 1.0) ** 2


def _double_well_histogram_tv(x, a=2.0):
    grid = np.linspace(-3, 3, 601)
    dens = np.exp(-a * (grid ** 2 - 1) ** 2)
    edges = np.linspace(-2.5, 2.5, 21)
    exact = np.array([dens[(grid >= lo) & (grid < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    exact /= exact.sum()
    emp = np.histogram(np.asarray(x[:, 0]), bins=edges)[0] / len(x)
    return 0.5 * np.abs(emp - exact).sum()


def test_mh_chain_reaches_1d_double_well_distribution():
    out = sample_chains(rwmh(double_well, step_size=0.8), jax.random.PRNGKey(0), jnp.zeros((4000, 1)), 2.0, 200)
    x = out.state.position
    assert _double_well_histogram_tv(x) < 0.04
    assert abs(float(np.mean(np.asarray(x) > 0)) - 0.5) < 0.04  # both wells visited
    rate = np.asarray(out.info.acceptance_rate)
    assert rate.shape == (4000,) and 0.2 < rate.mean() < 0.9
    np.testing.assert_allclose(np.asarray(out.state.energy), np.asarray(double_well(2.0, x)), rtol=1e-5, atol=1e-6)


def test_rwmh_matches_blackjax_step_for_step():
    """Same key per step -> the same proposals and the same accept/reject decisions as blackjax."""
    blackjax = pytest.importorskip("blackjax")
    a, sigma, num_steps = 2.0, 0.8, 300
    ours = rwmh(double_well, sigma)
    theirs = blackjax.additive_step_random_walk.normal_random_walk(lambda x: -double_well(a, x), jnp.array([sigma]))
    x0 = jnp.array([0.3])

    def chain(step, state):
        def body(s, t):
            s, info = step(jax.random.fold_in(jax.random.PRNGKey(5), t), s)
            return s, (s.position, info.is_accepted, info.acceptance_rate)
        return jax.lax.scan(body, state, jnp.arange(num_steps))[1]

    pos_o, acc_o, rate_o = jax.jit(lambda: chain(lambda k, s: ours.step(k, s, a), ours.init(x0, a)))()
    pos_t, acc_t, rate_t = jax.jit(lambda: chain(theirs.step, theirs.init(x0)))()
    agree = np.mean(np.asarray(acc_o) == np.asarray(acc_t))
    assert agree >= 0.99, agree               # decisions may differ only where u ~ p_accept in the last bit
    first = int(np.argmin(np.asarray(acc_o) == np.asarray(acc_t))) if agree < 1 else num_steps
    np.testing.assert_allclose(np.asarray(pos_o)[:first], np.asarray(pos_t)[:first], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(rate_o)[:first], np.asarray(rate_t)[:first], rtol=1e-4, atol=1e-6)
    assert 0.2 < float(np.mean(acc_o)) < 0.95


def test_rwmh_evaluates_the_energy_once_per_step():
    calls = []

    def counting_energy(params, x):
        calls.append(1)  # traced once per call site
        return double_well(params, x)

    sampler = rwmh(counting_energy, 0.5)
    state = sampler.init(jnp.zeros(1), 2.0)
    calls.clear()
    jax.make_jaxpr(lambda s: sampler.step(jax.random.PRNGKey(0), s, 2.0))(state)
    assert len(calls) == 1


def test_mh_rejects_proposals_with_nan_energy():
    def energy(params, x):
        return jnp.where(x[..., 0] > 0.5, jnp.nan, 0.0)  # flat below 0.5, NaN above

    out = sample_chains(rwmh(energy, 0.3), jax.random.PRNGKey(0), jnp.zeros((500, 1)), None, 100)
    x = out.state.position
    assert float(x.max()) <= 0.5 and float(x.min()) < -1.0
    assert not np.isnan(np.asarray(out.state.energy)).any()


def test_chunked_sampling_equals_one_call_and_snapshots_end_at_final_state():
    sampler = rwmh(double_well, 0.5)
    x0 = jax.random.normal(jax.random.PRNGKey(1), (7, 1))
    one = run_chain(sampler, jax.random.PRNGKey(2), x0, 2.0, 12, num_saved=3)
    chunked = sample_chains(sampler, jax.random.PRNGKey(2), x0, 2.0, 12, num_saved=3, chunk_steps=5)
    np.testing.assert_allclose(chunked.state.position, one.state.position, rtol=1e-6)
    np.testing.assert_allclose(chunked.snapshots, one.snapshots, rtol=1e-6)
    np.testing.assert_allclose(chunked.info.acceptance_rate, one.info.acceptance_rate, rtol=1e-5)
    assert one.snapshots.shape == (3, 7, 1)
    np.testing.assert_array_equal(one.snapshots[-1], one.state.position)
    zero = sample_chains(sampler, jax.random.PRNGKey(2), x0, 2.0, 0)
    np.testing.assert_array_equal(zero.state.position, x0)


class _BitState(NamedTuple):
    position: jax.Array


class _BitInfo(NamedTuple):
    acceptance_rate: jax.Array


def _toy_gibbs():
    """Exact sampler of independent bits with P(x_i = 1) = sigmoid(params_i) (ignores the current state)."""
    def step(key, state, params):
        x = jax.random.bernoulli(key, jax.nn.sigmoid(params)).astype(state.position.dtype)
        return _BitState(x), _BitInfo(jnp.ones(()))

    return SamplingAlgorithm(lambda x, params: _BitState(x), step)


def _bit_energy(params, x):
    return -(x @ params)


def test_cd_k_and_pcd_give_the_contrastive_gradient_for_any_sampler():
    params = jnp.array([0.5, -1.0, 2.0])
    x = jnp.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    sampler = _toy_gibbs()
    res = cd_k(jax.random.PRNGKey(0), params, x, energy_fn=_bit_energy, algorithm=sampler, k=2)
    neg = res.negatives
    np.testing.assert_allclose(res.grads, -(x.mean(0) - neg.mean(0)), rtol=1e-6)
    np.testing.assert_allclose(res.loss, _bit_energy(params, x).mean() - _bit_energy(params, neg).mean(), rtol=1e-6)
    np.testing.assert_allclose(res.info.energy_data, _bit_energy(params, x).mean(), rtol=1e-6)
    np.testing.assert_allclose(res.info.energy_neg, _bit_energy(params, neg).mean(), rtol=1e-6)
    assert float(res.info.acceptance_rate) == 1.0
    chains = jnp.zeros((5, 3))
    res = pcd(jax.random.PRNGKey(1), params, x, chains, energy_fn=_bit_energy, algorithm=sampler, k=3)
    assert res.negatives.shape == (5, 3)
    np.testing.assert_array_equal(res.negatives,
                                  run_chain(sampler, jax.random.PRNGKey(1), chains, params, 3).state.position)
    with pytest.raises(ValueError, match="chains"):
        pcd(jax.random.PRNGKey(0), params, x, jnp.zeros((4, 2)), energy_fn=_bit_energy, algorithm=sampler)


def _gaussian_target():
    """p*_β(x) = exp(-(1 - β) x²/2 - β x²/(2 s²)) for scalar x, params = s; exact sampler at every β."""
    def prec(s, beta):
        return (1 - beta) + beta / s ** 2

    def step(key, state, params_beta):
        s, beta = params_beta
        return _BitState(jax.random.normal(key, ()) / jnp.sqrt(prec(s, beta))), _BitInfo(jnp.ones(()))

    return TemperedTarget(
        sample_base=lambda key, s: jax.random.normal(key, ()),
        log_z_base=lambda s: 0.5 * np.log(2 * np.pi),
        log_weight_increment=lambda s, x, b0, b1: -0.5 * x ** 2 * (prec(s, b1) - prec(s, b0)),
        transition=SamplingAlgorithm(lambda x, params_beta: _BitState(x), step))


def test_generic_ais_matches_a_gaussian_normalizer():
    s = 3.0
    res = ais(jax.random.PRNGKey(0), _gaussian_target(), s, beta_schedule(200, "linear"), 500)
    exact = 0.5 * np.log(2 * np.pi * s ** 2)
    assert abs(res.log_z - exact) < max(0.02, 4 * res.log_z_std), (res.log_z, exact, res.log_z_std)
    assert res.log_weights.shape == (500,) and res.acceptance_rate == 1.0
    # the schedule in interruptible pieces gives the same weights as one call
    pieces = ais(jax.random.PRNGKey(0), _gaussian_target(), s, beta_schedule(200, "linear"), 500, chunk_size=7)
    np.testing.assert_allclose(pieces.log_weights, res.log_weights, rtol=1e-6)


@pytest.mark.parametrize("name,want", [("cd1", ("cd", 1)), ("pcd10", ("pcd", 10)), ("cd25", ("cd", 25))])
def test_parse_method(name, want):
    assert parse_method(name) == want


@pytest.mark.parametrize("bad", ["cd", "pcd0", "cd-1", "CD1", "rbm1", " cd1", 1, None, f"cd{MAX_K + 1}"])
def test_parse_method_rejects(bad):
    with pytest.raises(ValueError):
        parse_method(bad)


BAD_K = [(0, ValueError, "k"), (-1, ValueError, "k"), (1.5, TypeError, "k"), (True, TypeError, "k"),
         (10 ** 9, ValueError, str(MAX_K)), ("3", TypeError, "k")]


@pytest.mark.parametrize("k,error,match", BAD_K)
def test_bad_k_rejected_before_anything_runs(k, error, match):
    params, x = jnp.zeros(3), jnp.ones((2, 3))
    with pytest.raises(error, match=match):
        cd_k(jax.random.PRNGKey(0), params, x, energy_fn=_bit_energy, algorithm=_toy_gibbs(), k=k)
    with pytest.raises(error, match=match):
        pcd(jax.random.PRNGKey(0), params, x, x, energy_fn=_bit_energy, algorithm=_toy_gibbs(), k=k)


def test_numpy_scalars_accepted():
    """numpy scalars give the same results as the Python numbers they stand for."""
    params, x = jnp.zeros(3), jnp.ones((2, 3))
    kw = dict(energy_fn=_bit_energy, algorithm=_toy_gibbs())
    chex.assert_trees_all_equal(cd_k(jax.random.PRNGKey(0), params, x, k=np.int64(2), **kw),
                                cd_k(jax.random.PRNGKey(0), params, x, k=2, **kw))

    def chains(step_size, num_steps, chunk_steps):
        return sample_chains(rwmh(double_well, step_size), jax.random.PRNGKey(0), jnp.zeros((2, 1)), 2.0,
                             num_steps, chunk_steps=chunk_steps)

    chex.assert_trees_all_equal(chains(np.float32(0.5), np.int64(3), np.int32(2)), chains(0.5, 3, 2))
    np.testing.assert_array_equal(beta_schedule(np.int64(10)), beta_schedule(10))


BAD_CHAINS = [
    (dict(num_steps=-1), ValueError, "num_steps"),
    (dict(num_steps=2.0), TypeError, "num_steps"),
    (dict(num_steps=6, num_saved=4), ValueError, "multiple"),
    (dict(num_steps=4, chunk_steps=0), ValueError, "chunk_steps"),
    (dict(num_steps=4, chunk_steps=MAX_STEPS_PER_CALL + 1), ValueError, str(MAX_STEPS_PER_CALL)),
    (dict(num_steps=4, x0=jnp.full((3, 1), jnp.nan)), ValueError, "x0"),
    (dict(num_steps=4, x0=jnp.zeros((0, 1))), ValueError, "x0"),
    (dict(num_steps=4, x0="abc"), TypeError, "x0"),
]


@pytest.mark.parametrize("kwargs,error,match", BAD_CHAINS)
def test_bad_chain_arguments_rejected(kwargs, error, match):
    kwargs = {"x0": jnp.zeros((3, 1)), **kwargs}
    x0 = kwargs.pop("x0")
    with pytest.raises(error, match=match):
        sample_chains(rwmh(double_well, 0.5), jax.random.PRNGKey(0), x0, 2.0, **kwargs)


def test_run_chain_refuses_an_uninterruptible_length():
    with pytest.raises(ValueError, match="sample_chains"):
        run_chain(rwmh(double_well, 0.5), jax.random.PRNGKey(0), jnp.zeros((2, 1)), 2.0, 10 ** 9)


@pytest.mark.parametrize("step_size,error", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                             (float("inf"), ValueError), ("0.1", TypeError)])
def test_bad_step_size_rejected(step_size, error):
    with pytest.raises(error, match="step_size"):
        rwmh(double_well, step_size)


def test_chains_that_produce_nan_raise():
    poison = SamplingAlgorithm(lambda x, p: _BitState(x), lambda k, s, p: (_BitState(s.position * p), _BitInfo(jnp.ones(()))))
    with pytest.raises(NonFiniteChainError, match="NaN"):
        sample_chains(poison, jax.random.PRNGKey(0), jnp.ones((3, 2)), jnp.nan, 2)


def test_beta_schedules_are_valid_and_bad_schedules_rejected():
    for kind in ("sm08", "linear", "sigmoid"):
        b = validate_betas(beta_schedule(1000, kind))
        assert b[0] == 0 and b[-1] == 1 and len(b) == 1000
    for bad, msg in [([0.0, 0.5, 0.4, 1.0], "increasing"), ([0.1, 0.5, 1.0], "start at 0"),
                     ([0.0, 0.5, 0.9], "end at 1"), ([0.0, np.nan, 1.0], "NaN"), ([[0.0, 1.0]], "1-D")]:
        with pytest.raises(ValueError, match=msg):
            ais(jax.random.PRNGKey(0), _gaussian_target(), 2.0, bad, 4)
    with pytest.raises(ValueError, match="num_betas"):
        beta_schedule(1)
    with pytest.raises(ValueError, match="num_betas"):
        beta_schedule(10 ** 9)
    with pytest.raises(ValueError, match="kind"):
        beta_schedule(10, "cosine")
    with pytest.raises(ValueError, match="num_runs"):
        ais(jax.random.PRNGKey(0), _gaussian_target(), 2.0, beta_schedule(10), 0)
    with pytest.raises(ValueError, match="chunk_size"):
        ais(jax.random.PRNGKey(0), _gaussian_target(), 2.0, beta_schedule(10), 4, chunk_size=0)
