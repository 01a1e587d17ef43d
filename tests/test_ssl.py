"""SimCLR / MoCo / PIRL: conv equivalence, queue and EMA semantics, memory bank, checkpoint resume."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ebm_jax.data.augment import AugmentConfig
from ebm_jax.models.ssl import Conv3x3, SSLNet
from ebm_jax import ssl
from ebm_jax.train import Checkpointer, fit

SMALL = dict(widths=(4, 8, 8), rep_dim=16, proj_hidden=16, proj_dim=8, tile_dim=8)
AUG = AugmentConfig(elastic_alpha=0.5)


@pytest.mark.parametrize("hw,cin", [(28, 1), (14, 3), (7, 5)])
def test_im2col_conv_matches_xla(hw, cin):
    x = jax.random.normal(jax.random.key(0), (2, hw, hw, cin))
    p = Conv3x3(6, 2, "xla").init(jax.random.key(1), x)
    a = Conv3x3(6, 2, "xla").apply(p, x)
    b = Conv3x3(6, 2, "im2col").apply(p, x)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_enqueue_ring_buffer_and_ema():
    q = jnp.zeros((6, 2))
    q, ptr = ssl.enqueue(q, jnp.int32(0), jnp.ones((2, 2)))
    q, ptr = ssl.enqueue(q, ptr, 2 * jnp.ones((2, 2)))
    q, ptr = ssl.enqueue(q, ptr, 3 * jnp.ones((2, 2)))
    q, ptr = ssl.enqueue(q, ptr, 4 * jnp.ones((2, 2)))  # wraps: overwrites the oldest batch
    np.testing.assert_array_equal(q[:, 0], [4, 4, 2, 2, 3, 3])
    assert int(ptr) == 2
    with pytest.raises(ValueError, match="multiple"):
        ssl.enqueue(jnp.zeros((5, 2)), jnp.int32(0), jnp.ones((2, 2)))
    out = ssl.ema_update({"a": jnp.array(1.0)}, {"a": jnp.array(3.0)}, 0.75)
    np.testing.assert_allclose(out["a"], 1.5)


def _data(n=16):
    x = jax.random.uniform(jax.random.key(0), (n, 28, 28))
    return {"image": x, "index": jnp.arange(n, dtype=jnp.int32)}


def test_moco_step_updates_queue_and_momentum_encoder():
    model = SSLNet(**SMALL)
    state = ssl.create_moco_state(model, optax.adam(1e-3), jax.random.key(0), queue_size=16, batch_size=8)
    step = jax.jit(ssl.make_moco_step(AUG, temperature=0.2, momentum=0.9))
    batch = jax.tree.map(lambda a: a[:8], _data())
    new, metrics = step(state, batch, jax.random.key(1))
    assert np.isfinite(metrics["loss"]) and int(new.step) == 1
    assert int(new.queue_ptr) == 8
    np.testing.assert_array_equal(new.queue[8:], state.queue[8:])  # untouched rows
    assert not np.allclose(new.queue[:8], state.queue[:8])
    np.testing.assert_allclose(np.linalg.norm(new.queue[:8], axis=1), 1.0, rtol=1e-5)
    # θ_k ← 0.9 θ_k + 0.1 θ_q(new)
    for k_old, k_new, q_new in zip(jax.tree.leaves(state.params_k), jax.tree.leaves(new.params_k),
                                   jax.tree.leaves(new.params)):
        np.testing.assert_allclose(k_new, 0.9 * k_old + 0.1 * q_new, rtol=1e-5, atol=1e-6)


def test_moco_queue_must_be_multiple_of_batch():
    with pytest.raises(ValueError, match="queue_size"):
        ssl.create_moco_state(SSLNet(**SMALL), optax.adam(1e-3), jax.random.key(0), queue_size=20, batch_size=8)


def test_pirl_step_updates_only_batch_rows_of_bank():
    model = SSLNet(**SMALL)
    state = ssl.create_pirl_state(model, optax.adam(1e-3), jax.random.key(0), num_examples=16)
    step = jax.jit(ssl.make_pirl_step(AUG, num_negatives=8))
    data = _data()
    rows = jnp.array([1, 5, 9, 12], jnp.int32)
    batch = {"image": data["image"][rows], "index": rows}
    new, metrics = step(state, batch, jax.random.key(1))
    assert np.isfinite(metrics["loss"])
    changed = np.flatnonzero(np.any(np.asarray(new.bank) != np.asarray(state.bank), axis=1))
    np.testing.assert_array_equal(changed, [1, 5, 9, 12])
    np.testing.assert_allclose(np.linalg.norm(new.bank, axis=1), 1.0, rtol=1e-5)


def test_moco_fit_resume_restores_queue(tmp_path):
    """MoCo trains through the shared loop; its queue and pointer survive a checkpoint/resume."""
    model = SSLNet(**SMALL)
    data = _data(16)
    def state():  # fit donates its state: a fresh one per call
        return ssl.create_moco_state(model, optax.adam(3e-3), jax.random.key(0), queue_size=16, batch_size=8)
    step = ssl.make_moco_step(AUG, momentum=0.9)
    kw = dict(batch_size=8, num_epochs=2, rng=jax.random.key(5), log_every_steps=1)
    half, _ = fit(state(), step, data, workdir=tmp_path, max_steps=2, **kw)
    assert int(half.step) == 2 and int(half.queue_ptr) == 0  # 2 batches of 8 wrapped a queue of 16
    ckpt = Checkpointer(tmp_path)
    restored = ckpt.restore(state())
    ckpt.close()
    assert int(restored.step) == 2
    np.testing.assert_array_equal(restored.queue, half.queue)
    for a, b in zip(jax.tree.leaves(restored.params_k), jax.tree.leaves(half.params_k)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(restored.queue, state().queue)


def test_step_builders_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="temperature"):
        ssl.make_simclr_step(AUG, temperature=0.0)
    with pytest.raises(ValueError, match="momentum"):
        ssl.make_moco_step(AUG, momentum=1.0)
    with pytest.raises(ValueError, match="num_negatives"):
        ssl.make_pirl_step(AUG, num_negatives=0)


def test_experiment_build_rejects_bad_config():
    from experiments.configs.simclr import get_config
    from ebm_jax.ssl.experiment import build

    c = get_config()
    c.method = "byol"
    with pytest.raises(ValueError, match="config.method"):
        build(c, 100)
    c = get_config()
    c.batch_size = 1
    with pytest.raises(ValueError, match="batch_size"):
        build(c, 100)
    c = get_config()
    c.aug.crop_scale_min = 0.0
    with pytest.raises(ValueError, match="crop_scale"):
        build(c, 1000)
    c = get_config()
    with pytest.raises(ValueError, match="exceeds"):
        build(c, 100)


def test_pirl_loss_pushes_network_outputs_away_from_negatives():
    """Regression: the network's outputs must be the InfoNCE queries.

    With the bank row as the query, the negatives enter only the softmax normaliser,
    which rescales each row's gradient but never turns it; as queries, the outputs
    are pushed away from the negatives, so other negatives give other directions.
    """
    from ebm_jax.ssl.steps import pirl_loss

    key_z, key_m, key_n, key_o = jax.random.split(jax.random.key(0), 4)
    z = jax.random.normal(key_z, (4, 8))
    m = jax.random.normal(key_m, (4, 8))
    loss = lambda z, negs: pirl_loss(z, z, m, negs, lam=0.5, temperature=0.2)  # noqa: E731
    g1 = jax.grad(loss)(z, jax.random.normal(key_n, (6, 8)))
    g2 = jax.grad(loss)(z, jax.random.normal(key_o, (6, 8)))
    cosine = jnp.sum(g1 * g2, axis=1) / (jnp.linalg.norm(g1, axis=1) * jnp.linalg.norm(g2, axis=1))
    assert float(jnp.min(cosine)) < 0.95, cosine
