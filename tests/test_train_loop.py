"""The training loop: resume bit-identical, device-count invariance, non-finite stop, bad input."""

import json
import os
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training import train_state

from ebm_jax.train import NonFiniteLossError, fit, loop
from ebm_jax.train.checkpoint import Checkpointer


def _linear_problem(n=512, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal((d,)).astype(np.float32)
    y = (x @ w + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return {"x": x, "y": y}


def _state(d=8, lr=0.05):
    params = {"w": jnp.zeros((d,)), "b": jnp.zeros(())}
    return train_state.TrainState.create(apply_fn=None, params=params, tx=optax.adam(lr))


def _step(state, batch, key):
    def loss_fn(p):
        noise = 0.01 * jax.random.normal(key, batch["y"].shape)  # uses the step key
        return jnp.mean((batch["x"] @ p["w"] + p["b"] - batch["y"] + noise) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), {"loss": loss}


def test_fit_learns_and_logs(tmp_path):
    data = _linear_problem()
    state, history = fit(_state(), _step, data, batch_size=32, num_epochs=3, rng=jax.random.key(0),
                         workdir=tmp_path, log_every_steps=4)
    assert int(state.step) == 3 * 16
    losses = [r["loss"] for r in history if "loss" in r]
    assert losses[-1] < 0.2 * losses[0]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(4, 49, 4))
    assert Checkpointer(tmp_path).latest_step() == 48


def test_resumed_run_is_bit_identical(tmp_path):
    data = _linear_problem(n=256)  # 8 steps per epoch
    kwargs = dict(batch_size=32, num_epochs=3, rng=jax.random.key(7), checkpoint_every_steps=3, log_every_steps=1)
    straight, _ = fit(_state(), _step, data, workdir=tmp_path / "straight", **kwargs)
    # Stop at step 11 (mid-epoch, off the checkpoint grid), as if killed after a line for step 13 was
    # logged but before its checkpoint; then rerun with the same workdir.
    fit(_state(), _step, data, workdir=tmp_path / "resumed", max_steps=11, **kwargs)
    with (tmp_path / "resumed" / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 13, "loss": 1.0}) + "\n")
    resumed, _ = fit(_state(), _step, data, workdir=tmp_path / "resumed", **kwargs)
    assert int(resumed.step) == int(straight.step) == 24
    chex.assert_trees_all_equal(straight.params, resumed.params)  # bit-identical, not merely close
    chex.assert_trees_all_equal(straight.opt_state, resumed.opt_state)

    def records(run):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_second"} for line in lines]

    assert records("resumed") == records("straight")  # the stale line was dropped on resume


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path):
    def exploding_step(state, batch, key):
        state, metrics = _step(state, batch, key)
        loss = jnp.where(state.step >= 20, jnp.nan, metrics["loss"])
        return state, {"loss": loss}

    with pytest.raises(NonFiniteLossError, match=r"step 20 .*checkpoint \(step 16\)"):
        fit(_state(), exploding_step, _linear_problem(), batch_size=32, num_epochs=3, rng=jax.random.key(0),
            workdir=tmp_path, checkpoint_every_steps=8)
    assert Checkpointer(tmp_path).latest_step() == 16


@pytest.mark.parametrize(
    "data, batch_size, num_epochs, match",
    [
        ({"x": np.zeros((0, 3), np.float32)}, 1, 1, "empty"),
        ({"x": np.zeros((10, 3), np.float32)}, 11, 1, "larger than the data"),
        ({"x": np.zeros((10, 3), np.float32)}, 0, 1, "batch_size"),
        ({"x": np.zeros((10, 3), np.float32)}, 2, 0, "num_epochs"),
        ({"x": np.zeros((10, 3), np.float32), "y": np.zeros(9)}, 2, 1, "leading"),
        ({"x": np.full((10, 3), np.nan, np.float32)}, 2, 1, "NaN"),
    ],
)
def test_bad_arguments_fail_before_compiling(data, batch_size, num_epochs, match):
    def never_called(state, batch, key):
        raise AssertionError("step_fn traced despite bad arguments")

    with pytest.raises(ValueError, match=match):
        fit(_state(), never_called, data, batch_size=batch_size, num_epochs=num_epochs, rng=jax.random.key(0))


_DEVICE_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_num_cpu_devices", int(sys.argv[1]))
    sys.path.insert(0, sys.argv[2])
    import numpy as np
    from tests.test_train_loop import _linear_problem, _state, _step
    from ebm_jax.methods import vae as vae_method
    from ebm_jax.models import vae
    from ebm_jax.train import fit
    assert len(jax.devices()) == int(sys.argv[1])
    curves = {}
    _, history = fit(_state(), _step, _linear_problem(), batch_size=32, num_epochs=2, rng=jax.random.key(3),
                     log_every_steps=1)
    curves["linear"] = [r["loss"] for r in history]
    # A small VAE with dynamic binarization, with keys of each implementation the experiments offer.
    model = vae.Autoencoder(latent_dim=4, hidden_dims=(32,))
    x = np.random.default_rng(0).random((256, 784)).astype(np.float32)
    for impl in ("threefry2x32", "rbg"):
        state = vae_method.create_state(jax.random.key(0), model, 1e-3)
        _, history = fit(state, vae_method.make_train_step(model), x, batch_size=32, num_epochs=2,
                         rng=jax.random.key(3, impl=impl), log_every_steps=1)
        curves["vae_" + impl] = [r["loss"] for r in history]
    print(json.dumps(curves))
""")


def _curves_on(num_devices):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _DEVICE_SCRIPT, str(num_devices), root], capture_output=True,
                         text=True, env=env, cwd=root, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_one_and_four_devices_give_the_same_loss_curves():
    one, four = _curves_on(1), _curves_on(4)
    assert set(one) == set(four) == {"linear", "vae_threefry2x32", "vae_rbg"}
    for problem, steps in (("linear", 32), ("vae_threefry2x32", 16), ("vae_rbg", 16)):
        assert len(one[problem]) == steps
        np.testing.assert_allclose(one[problem], four[problem], rtol=1e-5, atol=1e-6, err_msg=problem)


def test_data_mesh_spans_devices():
    mesh = loop.data_mesh()
    assert mesh.axis_names == ("data",) and mesh.devices.size == len(jax.devices())
