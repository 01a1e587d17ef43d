"""SimCLR / MoCo / PIRL: conv equivalence, queue and EMA semantics, memory bank, checkpoint resume."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ebm_jax.data.augment import AugmentConfig
from ebm_jax.models.ssl import Conv3x3, SSLNet
from ebm_jax import losses
from ebm_jax.checks import ConfigError
from ebm_jax.methods import ssl
from ebm_jax.train import Checkpointer, fit

SMALL = dict(widths=(4, 8, 8), rep_dim=16, proj_hidden=16, proj_dim=8)  # the smoke configs' model: one init compile
AUG = AugmentConfig(elastic_alpha=0.5)
ROOT = pathlib.Path(__file__).resolve().parents[1]


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


def _hand_keys(model, params_k, batch, key):
    """Both views' L2-normalized keys from the key encoder, computed outside the step."""
    @jax.jit  # one program instead of hundreds of op-by-op dispatches (each a compile of its own)
    def keys(params_k, images, key):
        xa, xb = ssl._views(key, images, AUG)
        _, ka = model.apply({"params": params_k}, xa)
        _, kb = model.apply({"params": params_k}, xb)
        return losses.l2_normalize(ka), losses.l2_normalize(kb)

    return tuple(np.asarray(k) for k in keys(params_k, batch["image"], key))


@pytest.mark.parametrize("symmetric", [True, False])
def test_moco_step_updates_queue_and_momentum_encoder(symmetric):
    model = SSLNet(**SMALL)
    state = ssl.create_moco_state(model, optax.adam(1e-3), jax.random.key(0), queue_size=32, batch_size=8,
                                  symmetric=symmetric)
    step = jax.jit(ssl.make_moco_step(AUG, temperature=0.2, momentum=0.9, symmetric=symmetric))
    batch = jax.tree.map(lambda a: a[:8], _data())
    new, metrics = step(state, batch, jax.random.key(1))
    assert np.isfinite(metrics["loss"]) and int(new.step) == 1
    # the queue, by hand: the keys of the pre-step key encoder written at row 0 (both views when symmetric)
    ka, kb = _hand_keys(model, state.params_k, batch, jax.random.key(1))
    enqueued = np.concatenate([ka, kb]) if symmetric else kb
    n = len(enqueued)
    assert int(new.queue_ptr) == n
    np.testing.assert_allclose(new.queue[:n], enqueued, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(new.queue[n:], state.queue[n:])  # untouched rows
    # θ_k ← 0.9 θ_k + 0.1 θ_q(new)
    for k_old, k_new, q_new in zip(jax.tree.leaves(state.params_k), jax.tree.leaves(new.params_k),
                                   jax.tree.leaves(new.params)):
        np.testing.assert_allclose(k_new, 0.9 * k_old + 0.1 * q_new, rtol=1e-5, atol=1e-6)


def test_moco_queue_must_be_multiple_of_the_keys_per_step():
    with pytest.raises(ValueError, match="queue_size"):
        ssl.create_moco_state(SSLNet(**SMALL), optax.adam(1e-3), jax.random.key(0), queue_size=20, batch_size=8)
    with pytest.raises(ValueError, match="16 keys"):  # a symmetric step enqueues both views' 2 x 8 keys
        ssl.create_moco_state(SSLNet(**SMALL), optax.adam(1e-3), jax.random.key(0), queue_size=24, batch_size=8)
    ssl.create_moco_state(SSLNet(**SMALL), optax.adam(1e-3), jax.random.key(0), queue_size=24, batch_size=8,
                          symmetric=False)


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
    assert int(half.step) == 2 and int(half.queue_ptr) == 0  # 2 steps of 2 x 8 keys wrapped a queue of 16
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


def _ssl_config(method="simclr", **changes):
    from ebm_jax import cli

    config = cli.load_config(ROOT / "experiments" / "configs" / f"{method}.py", "smoke")
    for key, value in changes.items():
        target = config.aug if key.startswith("aug.") else config
        with target.ignore_type():  # a comma string where a tuple belongs, as a hand-edited config may hold
            target[key.removeprefix("aug.")] = value
    return config


@pytest.mark.parametrize("method", ssl.METHODS)
def test_configs_pass_their_rules(method):
    from ebm_jax import cli
    from experiments.configs import _ssl as ssl_config

    for variant in (None, "smoke"):
        config = cli.load_config(ROOT / "experiments" / "configs" / f"{method}.py", variant)
        ssl_config.validate(config, method)
        config.learning_rate = -config.learning_rate  # the same config with one bad value is refused
        with pytest.raises(ConfigError, match="config.learning_rate"):
            ssl_config.validate(config, method)


@pytest.mark.parametrize("changes,match", [
    (dict(learning_rate=-1.0), "config.learning_rate"),
    (dict(learning_rate=float("inf")), "config.learning_rate"),
    (dict(label_counts=(5, 10)), "sup_steps"),
    (dict(batch_size=1), "config.batch_size"),
    (dict(widths="4,8,8"), "config.widths must be a tuple"),
    (dict(method="moco"), "config.method"),
    (dict(**{"aug.crop_scale_min": 0.0}), "config.aug.crop_scale_min"),
    (dict(batch_size=512), "exceeds config.num_train_examples"),
    (dict(label_counts=(30,), sup_steps=(4,)), "label_counts"),
])
def test_bad_config_is_refused_before_anything_runs(tmp_path, changes, match):
    """ConfigError before data, checkpoints or pretraining: the workdir stays empty."""
    from ebm_jax.checks import ConfigError
    from experiments import simclr

    workdir = tmp_path / "run"
    with pytest.raises(ConfigError, match=match):
        simclr.train_and_evaluate(_ssl_config(**changes), str(workdir))
    assert not workdir.exists() or not any(workdir.iterdir())


def test_moco_queue_and_data_dependent_label_counts_are_refused_before_training(tmp_path):
    from ebm_jax.checks import ConfigError
    from experiments import moco, simclr
    from tests.conftest import mnist_cache_available

    with pytest.raises(ConfigError, match="queue_size"):
        moco.train_and_evaluate(_ssl_config("moco", queue_size=48), str(tmp_path / "moco"))
    if not mnist_cache_available():
        pytest.skip("run scripts/prepare_data.py first")
    # 10 classes x 20 labels fit in 256 examples, but the first 256 MNIST digits hold fewer than 20 of some digit.
    with pytest.raises(ConfigError, match="smallest class"):
        simclr.train_and_evaluate(_ssl_config(label_counts=(20,)), str(tmp_path / "simclr"))
    assert not (tmp_path / "simclr").exists()


def test_create_state_checks_the_learning_rate_and_method():
    model = SSLNet(**SMALL)
    with pytest.raises(ValueError, match="learning_rate"):
        ssl.create_state(jax.random.key(0), "simclr", model, -1.0, total_steps=10)
    with pytest.raises(ValueError, match="learning_rate"):
        ssl.create_state(jax.random.key(0), "simclr", model, float("nan"), total_steps=10)
    with pytest.raises(ValueError, match="method"):
        ssl.create_state(jax.random.key(0), "byol", model, 1e-3, total_steps=10)
    with pytest.raises(ValueError, match="batch_size"):
        ssl.create_state(jax.random.key(0), "moco", model, 1e-3, total_steps=10)
    with pytest.raises(ValueError, match="temperature"):
        ssl.make_train_step("simclr", AUG, temperature=-0.5)


def test_create_state_matches_the_per_method_builders():
    """The generic entry builds AdamW with warm-up + cosine through make_optimizer, as the per-method builders do."""
    model = SSLNet(**SMALL)
    total = 50
    tx = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 2e-3, min(100, total // 10 + 1), total),
                     weight_decay=1e-4)
    old = ssl.create_moco_state(model, tx, jax.random.key(3), queue_size=16, batch_size=8)
    new = ssl.create_state(jax.random.key(3), "moco", model, 2e-3, total_steps=total, weight_decay=1e-4,
                           batch_size=8, queue_size=16)
    np.testing.assert_array_equal(old.queue, new.queue)
    for a, b in zip(jax.tree.leaves(old.params), jax.tree.leaves(new.params)):
        np.testing.assert_array_equal(a, b)
    params, grads = {"w": jnp.linspace(-1.0, 1.0, 5)}, {"w": jnp.linspace(0.5, -0.2, 5)}
    p_old, p_new, s_old, s_new = params, params, tx.init(params), new.tx.init(params)
    for _ in range(8):  # the same updates, warm-up and weight decay included
        u_old, s_old = tx.update(grads, s_old, p_old)
        u_new, s_new = new.tx.update(grads, s_new, p_new)
        p_old, p_new = optax.apply_updates(p_old, u_old), optax.apply_updates(p_new, u_new)
    np.testing.assert_array_equal(p_old["w"], p_new["w"])
    from ebm_jax.methods.ssl import warmup_steps_for

    assert warmup_steps_for(1) == 0 and warmup_steps_for(1170) == 100


def test_linear_probe_fits_separable_features():
    from ebm_jax.eval import probe

    y = np.repeat(np.arange(10), 8)
    f = np.random.default_rng(0).standard_normal((80, 6)).astype(np.float32) * 0.1 + np.eye(10, 6)[y] * 3
    f[y >= 6, :] += np.arange(6) * (y[y >= 6, None] - 5)   # the 4 classes beyond the 6 axes, apart
    out = probe.linear_probe(f, y, f, y, l2=1e-4, max_iter=50)
    assert out["train_accuracy"] == out["test_accuracy"] > 0.95


def test_label_efficiency_runs_the_probe_per_count_and_seed(monkeypatch):
    from ebm_jax.eval import probe

    y = np.repeat(np.arange(10), 8)
    f = np.arange(80, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    probed = []

    def fake_probe(xtr, ytr, xte, yte, *, l2, max_iter):
        probed.append((len(xtr), np.bincount(ytr, minlength=10).tolist(), l2, max_iter))
        return {"train_accuracy": 1.0, "test_accuracy": 0.25 * len(probed)}

    monkeypatch.setattr(probe, "linear_probe", fake_probe)
    calls = []
    curves = probe.label_efficiency(f, y, f, y, label_counts=(2, 4), num_seeds=3, l2=1e-2, max_iter=5,
                                    supervised=lambda idx, k, s: calls.append((len(idx), k, s)) or 0.5)
    assert [p[:1] for p in probed] == [(20,)] * 3 + [(40,)] * 3
    assert all(p[1] == [k] * 10 and p[2:] == (1e-2, 5) for p, k in zip(probed, [2, 2, 2, 4, 4, 4]))
    assert curves["probe"] == {2: [0.25, 0.5, 0.75], 4: [1.0, 1.25, 1.5]}
    assert calls == [(20, 2, 0), (20, 2, 1), (20, 2, 2), (40, 4, 0), (40, 4, 1), (40, 4, 2)]
    assert curves["supervised"] == {2: [0.5] * 3, 4: [0.5] * 3}
    # the seeds draw different subsets; the same seed the same subset
    assert not np.array_equal(probe.per_class_subset(y, 2, probe.subset_seed(0, 2)),
                              probe.per_class_subset(y, 2, probe.subset_seed(1, 2)))
    with pytest.raises(ValueError, match="smallest class"):
        probe.label_efficiency(f, y, f, y, label_counts=(9,), num_seeds=1, l2=1e-2, max_iter=5)


def test_pirl_loss_pushes_network_outputs_away_from_negatives():
    """Regression: the network's outputs must be the InfoNCE queries.

    With the bank row as the query, the negatives enter only the softmax normaliser,
    which rescales each row's gradient but never turns it; as queries, the outputs
    are pushed away from the negatives, so other negatives give other directions.
    """
    from ebm_jax.methods.ssl import pirl_loss

    key_z, key_m, key_n, key_o = jax.random.split(jax.random.key(0), 4)
    z = jax.random.normal(key_z, (4, 8))
    m = jax.random.normal(key_m, (4, 8))
    loss = lambda z, negs: pirl_loss(z, z, m, negs, lam=0.5, temperature=0.2)  # noqa: E731
    g1 = jax.grad(loss)(z, jax.random.normal(key_n, (6, 8)))
    g2 = jax.grad(loss)(z, jax.random.normal(key_o, (6, 8)))
    cosine = jnp.sum(g1 * g2, axis=1) / (jnp.linalg.norm(g1, axis=1) * jnp.linalg.norm(g2, axis=1))
    assert float(jnp.min(cosine)) < 0.95, cosine
