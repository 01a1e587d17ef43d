"""Contrastive / energy-based losses against optax and hand-computed cases."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ebm_jax import losses


def _pairs(n=6, d=5, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.normal(k1, (n, d)), jax.random.normal(k2, (n, d))


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_optax(temperature):
    za, zb = _pairs()
    labels = jnp.concatenate([jnp.arange(6), jnp.arange(6)])
    ref = optax.losses.ntxent(jnp.concatenate([za, zb]), labels, temperature)
    np.testing.assert_allclose(losses.nt_xent(za, zb, temperature), ref, rtol=1e-5, atol=1e-6)


def test_nt_xent_hand_computed_two_pairs():
    # Orthogonal unit vectors: positives identical, negatives orthogonal.
    za = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    zb = jnp.array([[2.0, 0.0], [0.0, 3.0]])  # scale must not matter (cosine)
    t = 0.5
    # Anchor 0: positive s=1/t, negatives: anchor 1 and 3 at s=0 -> 2N-2 = 2 negatives.
    expected = -1 / t + math.log(math.exp(1 / t) + 2.0)
    np.testing.assert_allclose(losses.nt_xent(za, zb, t), expected, rtol=1e-6)


def test_nt_xent_symmetric_and_grad_finite():
    za, zb = _pairs()
    np.testing.assert_allclose(losses.nt_xent(za, zb, 0.3), losses.nt_xent(zb, za, 0.3), rtol=1e-6)
    g = jax.grad(lambda a: losses.nt_xent(a, zb, 0.3))(za)
    assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0


def test_nt_xent_bad_input():
    za, zb = _pairs(n=1)
    with pytest.raises(ValueError, match="at least 2"):
        losses.nt_xent(za, zb, 0.5)
    za, zb = _pairs()
    with pytest.raises(ValueError, match="temperature"):
        losses.nt_xent(za, zb, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        losses.nt_xent(za, zb, -1.0)
    with pytest.raises(ValueError, match="same shape"):
        losses.nt_xent(za, zb[:, :3], 0.5)


def test_info_nce_hand_computed_and_reduces_to_cross_entropy():
    q = jnp.array([[1.0, 0.0]])
    pos = jnp.array([[1.0, 0.0]])
    neg = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    t = 0.2
    expected = -5.0 + math.log(math.exp(5.0) + math.exp(0.0) + math.exp(-5.0))
    np.testing.assert_allclose(losses.info_nce(q, pos, neg, t), expected, rtol=1e-4)
    # Per-query negatives (B, K, D) give the same as shared ones when identical.
    q, p = _pairs(4, 3)
    n = jax.random.normal(jax.random.key(3), (7, 3))
    shared = losses.info_nce(q, p, n, 0.5)
    per = losses.info_nce(q, p, jnp.broadcast_to(n, (4, 7, 3)), 0.5)
    np.testing.assert_allclose(shared, per, rtol=1e-6)
    # Equals softmax cross-entropy with the positive as class 0.
    qn, pn, nn = (losses.l2_normalize(x) for x in (q, p, n))
    logits = jnp.concatenate([jnp.sum(qn * pn, -1, keepdims=True), qn @ nn.T], -1) / 0.5
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.zeros(4, jnp.int32)).mean()
    np.testing.assert_allclose(shared, ce, rtol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(q, p, n, 0.0)
    with pytest.raises(ValueError, match="negatives"):
        losses.info_nce(q, p, n[:, :2], 0.5)


def test_energy_losses_hand_computed():
    e_pos = jnp.array([0.5, 2.0])
    e_neg = jnp.array([1.0, 1.0])
    np.testing.assert_allclose(losses.hinge_loss(e_pos, e_neg, 1.0), [0.5, 2.0])
    np.testing.assert_allclose(losses.square_square_loss(e_pos, e_neg, 1.5), [0.25 + 0.25, 4.0 + 0.25])
    np.testing.assert_allclose(losses.log_loss(e_pos, e_neg),
                               [math.log1p(math.exp(-0.5)), math.log1p(math.exp(1.0))], rtol=1e-6)
    # NLL: E_pos + log(exp(-E_pos) + exp(-E_neg)) for beta = 1.
    np.testing.assert_allclose(
        losses.nll_loss(e_pos, e_neg),
        [0.5 + math.log(math.exp(-0.5) + math.exp(-1.0)), 2.0 + math.log(math.exp(-2.0) + math.exp(-1.0))],
        rtol=1e-6)
    # K negatives: the hinge averages over them.
    np.testing.assert_allclose(losses.hinge_loss(jnp.array([0.0]), jnp.array([[0.5, 3.0]]), 1.0), [0.25])


def test_nll_with_cosine_energy_is_info_nce():
    q, p = _pairs(4, 3, seed=1)
    n = jax.random.normal(jax.random.key(5), (6, 3))
    t = 0.3
    qn, pn, nn = (losses.l2_normalize(x) for x in (q, p, n))
    e_pos = -jnp.sum(qn * pn, -1) / t
    e_neg = -(qn @ nn.T) / t
    np.testing.assert_allclose(losses.nll_loss(e_pos, e_neg).mean(), losses.info_nce(q, p, n, t), rtol=1e-5)


def test_energy_losses_bad_input():
    with pytest.raises(ValueError, match="margin"):
        losses.hinge_loss(jnp.zeros(2), jnp.zeros(2), -1.0)
    with pytest.raises(ValueError, match="e_neg"):
        losses.log_loss(jnp.zeros(2), jnp.zeros(3))
    with pytest.raises(ValueError, match="beta"):
        losses.nll_loss(jnp.zeros(2), jnp.zeros(2), 0.0)


@pytest.mark.parametrize("scale", [1e-30, 1e20, 1e30])
def test_nt_xent_and_info_nce_depend_on_direction_only(scale):
    # ‖x‖² of 1e20-sized float32 rows overflows and of 1e-30 rows underflows; neither may change the loss.
    za, zb = _pairs()
    np.testing.assert_allclose(losses.nt_xent(za * scale, zb * scale, 0.5), losses.nt_xent(za, zb, 0.5), rtol=1e-5)
    g = jax.grad(lambda a: losses.nt_xent(a, zb, 0.5))(za * scale)
    assert bool(jnp.all(jnp.isfinite(g)))
    q, p = _pairs(4, 5, seed=1)
    negs = jax.random.normal(jax.random.key(2), (7, 5))
    np.testing.assert_allclose(losses.info_nce(q * scale, p * scale, negs * scale, 0.2),
                               losses.info_nce(q, p, negs, 0.2), rtol=1e-5)


def test_l2_normalize_keeps_zero_rows_zero():
    x = jnp.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(losses.l2_normalize(x), [[0.0, 0.0], [0.6, 0.8]], atol=1e-7)
