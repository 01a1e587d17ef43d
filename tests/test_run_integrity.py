"""Runs that cannot silently go wrong: verified checkpoints, config fingerprint, torn metrics, interrupts.

Each test trains the small linear problem of ``tests/test_train_loop.py`` for a
few steps; the fault-injection test runs a tiny experiment through the command
line, as a user would.
"""

import json
import logging
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import optax
import pytest
from flax.training import train_state

from ebm_jax import cli
from ebm_jax.train import (CheckpointCorruptError, Checkpointer, CheckpointMismatchError, ConfigChangedError,
                           MetricWriter, NonFiniteLossError, TrainingInterrupted, fit, interrupt, loop,
                           write_config)
from ebm_jax.train.checkpoint import DIGEST_FILE
from ebm_jax.train.workdir import ALLOW_CONFIG_CHANGE_ENV, read_jsonl
from tests.test_train_loop import _linear_problem, _state, _step

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = _linear_problem(n=256)  # 8 steps per epoch of 32
KW = dict(batch_size=32, num_epochs=2, rng=jax.random.key(7), checkpoint_every_steps=4, log_every_steps=1)


def _records(workdir):
    return [{k: v for k, v in r.items() if k != "steps_per_second"} for r in read_jsonl(workdir / "metrics.jsonl")]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A run that never stopped: final state and metric records."""
    workdir = tmp_path_factory.mktemp("straight")
    state, _ = fit(_state(), _step, DATA, workdir=workdir, **KW)
    return state, _records(workdir)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run stopped at step 12 of 16 (checkpoints 8 and 12 kept); tests damage copies of it."""
    workdir = tmp_path_factory.mktemp("stopped")
    fit(_state(), _step, DATA, workdir=workdir, max_steps=12, **KW)
    return workdir


def _copy(stopped, tmp_path):
    shutil.copytree(stopped, tmp_path, dirs_exist_ok=True)
    return Checkpointer(tmp_path)


def _damage(path: pathlib.Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    elif how == "empty":
        data = bytearray()
    elif how == "truncate":
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))


def _largest_file(step_dir: pathlib.Path) -> pathlib.Path:
    return max((p for p in step_dir.rglob("*") if p.is_file() and p.name != DIGEST_FILE),
               key=lambda p: p.stat().st_size)


# --- checkpoints -------------------------------------------------------------------------------------------

def test_save_writes_a_digest_that_verifies(tmp_path, stopped):
    ckpt = _copy(stopped, tmp_path)
    assert ckpt.all_steps() == [8, 12]
    for step in (8, 12):
        assert (tmp_path / "checkpoints" / str(step) / DIGEST_FILE).exists()
        assert ckpt.verify(step) is None


@pytest.mark.parametrize("how", ["flip", "empty", "truncate"])
def test_damaged_newest_checkpoint_falls_back_to_the_older_one(tmp_path, stopped, straight, caplog, how):
    ckpt = _copy(stopped, tmp_path)
    _damage(_largest_file(tmp_path / "checkpoints" / "12"), how)
    assert "does not match its sha256" in ckpt.verify(12)
    with caplog.at_level(logging.WARNING, logger="ebm_jax.train.checkpoint"):
        resumed, _ = fit(_state(), _step, DATA, workdir=tmp_path, **KW)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "checkpoint step 12 is corrupt" in warnings[0] and "resumed from step 8" in warnings[0]
    assert (tmp_path / "checkpoints" / "12.corrupt").is_dir()  # moved aside, kept for inspection
    chex.assert_trees_all_equal(resumed.params, straight[0].params)  # a correct resume from step 8
    assert _records(tmp_path) == straight[1]


def test_no_intact_checkpoint_is_a_one_line_error_and_renames_nothing(tmp_path, stopped):
    ckpt = _copy(stopped, tmp_path)
    for step in ckpt.all_steps():
        _damage(_largest_file(tmp_path / "checkpoints" / str(step)), "empty")
    with pytest.raises(CheckpointCorruptError, match=r"no intact checkpoint .*step 12: .*step 8: .*Delete") as e:
        fit(_state(), _step, DATA, workdir=tmp_path, **KW)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["12", "8"]


def test_checkpoint_without_digest_restores_unverified(tmp_path, stopped, caplog):
    ckpt = _copy(stopped, tmp_path)
    (tmp_path / "checkpoints" / "12" / DIGEST_FILE).unlink()  # as written before digests existed
    with caplog.at_level(logging.WARNING, logger="ebm_jax.train.checkpoint"):
        state = ckpt.restore(_state())
    assert int(state.step) == 12 and "has no digest" in caplog.text


def test_partial_tmp_directories_are_removed(tmp_path, stopped):
    _copy(stopped, tmp_path)
    tmp = tmp_path / "checkpoints" / "16.orbax-checkpoint-tmp-1700000000"
    (tmp / "default").mkdir(parents=True)
    (tmp / "default" / "half_written").write_bytes(b"\0" * 10)
    ckpt = Checkpointer(tmp_path)
    ckpt.close()
    assert not tmp.exists() and ckpt.all_steps() == [8, 12]


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path, stopped):
    _copy(stopped, tmp_path)
    with pytest.raises(CheckpointMismatchError, match=r"step 12 .*/w' has shape \(8,\).*\(5,\).*new workdir"):
        fit(_state(d=5), _step, _linear_problem(n=256, d=5), workdir=tmp_path, **KW)
    assert Checkpointer(tmp_path).all_steps() == [8, 12]  # an intact checkpoint is never moved aside


# --- config fingerprint ------------------------------------------------------------------------------------

def _run_state(workdir):
    (workdir / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')


def test_changed_config_is_refused_before_anything_is_written(tmp_path):
    write_config(tmp_path, {"learning_rate": 0.1, "model": {"width": 8}, "num_epochs": 2})
    _run_state(tmp_path)
    before = (tmp_path / "config.json").read_text()
    with pytest.raises(ConfigChangedError) as e:
        write_config(tmp_path, {"learning_rate": 0.2, "model": {"width": 8}, "num_epochs": 2, "seed": 1})
    message = str(e.value)
    assert "\n" not in message
    assert "learning_rate: 0.1 -> 0.2" in message and "seed: null -> 1" in message and "width" not in message
    assert "new --workdir" in message and "--allow_config_change=learning_rate,seed" in message
    assert (tmp_path / "config.json").read_text() == before


def test_allowed_change_is_recorded(tmp_path, monkeypatch):
    write_config(tmp_path, {"learning_rate": 0.1, "num_epochs": 2, "log_every_steps": 10})
    _run_state(tmp_path)
    write_config(tmp_path, {"learning_rate": 0.1, "num_epochs": 4, "log_every_steps": 10}, allow_changes=["num_epochs"])
    monkeypatch.setenv(ALLOW_CONFIG_CHANGE_ENV, "log_every_steps, num_epochs")
    write_config(tmp_path, {"learning_rate": 0.1, "num_epochs": 4, "log_every_steps": 5})
    assert json.loads((tmp_path / "config.json").read_text())["log_every_steps"] == 5
    changes = read_jsonl(tmp_path / "config_changes.jsonl")
    assert [c["changed"] for c in changes] == [{"num_epochs": [2, 4]}, {"log_every_steps": [10, 5]}]
    with pytest.raises(ConfigChangedError, match="learning_rate"):
        write_config(tmp_path, {"learning_rate": 0.3, "num_epochs": 4, "log_every_steps": 5})


def test_same_config_and_empty_workdir_are_accepted(tmp_path):
    config = {"learning_rate": 0.1, "sizes": (1, 2)}
    write_config(tmp_path, config)
    _run_state(tmp_path)
    write_config(tmp_path, config)  # tuples come back as lists: still the same config
    fresh = tmp_path / "fresh"
    write_config(fresh, config)
    write_config(fresh, {"learning_rate": 0.5})  # nothing was trained yet: the new config replaces it
    assert json.loads((fresh / "config.json").read_text()) == {"learning_rate": 0.5}


# --- metrics.jsonl -----------------------------------------------------------------------------------------

def test_torn_last_metrics_line_is_dropped_and_the_run_resumes(tmp_path, stopped, straight):
    _copy(stopped, tmp_path)
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 13, "epoch": 2, "lo')  # killed during a write
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")][-1] == 12
    resumed, history = fit(_state(), _step, DATA, workdir=tmp_path, **KW)
    chex.assert_trees_all_equal(resumed.params, straight[0].params)
    assert _records(tmp_path) == straight[1]


def test_metric_writer_starts_a_fresh_line_after_a_torn_one(tmp_path, caplog):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "lo')
    with caplog.at_level(logging.WARNING):
        writer = MetricWriter(tmp_path)
    assert "torn last line" in caplog.text
    writer.write(2, {"loss": 0.5})
    assert writer.read() == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}]


def test_a_garbled_middle_line_is_skipped_with_its_line_number(tmp_path, caplog):
    (tmp_path / "m.jsonl").write_text('{"step": 1}\n\x00\x00garbage\n[1, 2]\n{"step": 2}\n')
    with caplog.at_level(logging.WARNING):
        assert read_jsonl(tmp_path / "m.jsonl") == [{"step": 1}, {"step": 2}]
    assert "m.jsonl:2:" in caplog.text and "m.jsonl:3:" in caplog.text


# --- fit: the caller's state, non-finite states, interrupts, chunk length ------------------------------------

def test_fit_does_not_consume_the_callers_state(tmp_path):
    state = jax.device_put(_state())  # committed to the device: a buffer fit could donate
    first, _ = fit(state, _step, DATA, **KW)
    again, _ = fit(state, _step, DATA, **KW)  # a retry with the same state works
    chex.assert_trees_all_equal(first.params, again.params)
    assert float(state.params["b"]) == 0.0

    def nan_step(s, batch, key):
        s, m = _step(s, batch, key)
        return s, {"loss": m["loss"] * jnp.nan}

    with pytest.raises(NonFiniteLossError):
        fit(state, nan_step, DATA, **KW)
    chex.assert_trees_all_equal(state.params, _state().params)  # still readable (not deleted) after fit raised


def test_infinite_learning_rate_saves_no_checkpoint_full_of_inf(tmp_path):
    state = train_state.TrainState.create(apply_fn=None, params={"w": jnp.zeros((8,)), "b": jnp.zeros(())},
                                          tx=optax.sgd(jnp.inf))
    # Step 1's loss is computed before the update, so it is finite while the new parameters are not.
    with pytest.raises(NonFiniteLossError, match=r"state .*NaN/inf by step 1 .*no checkpoint was written"):
        fit(state, _step, DATA, workdir=tmp_path, **{**KW, "checkpoint_every_steps": 1})
    assert Checkpointer(tmp_path).all_steps() == []


def _interrupt_at_epoch(epoch, times=1):
    def eval_fn(state):
        if int(state.step) == 8 * epoch:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return {}

    return eval_fn


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler during the test, whatever the test process inherited.

    (A test run started in the background of a script inherits SIGINT ignored.)
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_stops_after_the_chunk_with_a_checkpoint(tmp_path, straight):
    kw = {**KW, "num_epochs": 3}
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 8 of 24: a checkpoint of step 8") as e:
        fit(_state(), _step, DATA, workdir=tmp_path, eval_fn=_interrupt_at_epoch(1), **kw)
    assert int(e.value.state.step) == 8 and Checkpointer(tmp_path).latest_step() == 8
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler was put back
    resumed, _ = fit(_state(), _step, DATA, workdir=tmp_path, **KW)
    chex.assert_trees_all_equal(resumed.params, straight[0].params)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_second_ctrl_c_stops_at_once():
    with pytest.raises(KeyboardInterrupt) as e:
        fit(_state(), _step, DATA, eval_fn=_interrupt_at_epoch(1, times=2), **KW)
    assert not isinstance(e.value, TrainingInterrupted)


@pytest.mark.parametrize("chunk, length, seconds, limit, expected", [
    (469, 64, 1.0, 300.0, 469),      # fast steps: unchanged
    (469, 64, 64.0, 300.0, 256),     # 1 s per step: the largest power of two under 300 steps
    (469, 64, 6400.0, 300.0, 2),     # 100 s per step
    (469, 64, 1e6, 300.0, 1),        # a step longer than the limit: one step per chunk
    (100, 64, 64.0, None, 100),      # no limit
])
def test_capped_chunk(chunk, length, seconds, limit, expected):
    assert interrupt.capped_chunk(chunk, length, seconds, limit) == expected


def test_slow_chunks_are_shortened_without_changing_the_result(monkeypatch, straight):
    lengths = []
    make = loop._make_run_chunk

    def recording(*args):
        run = make(*args)

        def run_chunk(state, data, perm, start, length, step_key, *, capacity):
            lengths.append(int(length))
            return run(state, data, perm, start, length, step_key, capacity=capacity)

        return run_chunk

    monkeypatch.setattr(loop, "_make_run_chunk", recording)
    monkeypatch.setattr(interrupt, "PROBE_STEPS", 2)
    state, _ = fit(_state(), _step, DATA, max_chunk_seconds=1e-9, **{**KW, "checkpoint_every_steps": None})
    assert lengths[0] == 2 and set(lengths[1:]) == {1}
    chex.assert_trees_all_equal(state.params, straight[0].params)


# --- the whole story, through the command line --------------------------------------------------------------

_EXPERIMENT = textwrap.dedent('''
    """A linear regression run through ebm_jax.cli, for the fault-injection test."""
    import jax
    from ebm_jax import cli
    from ebm_jax.train import fit, write_config, write_results
    from tests.test_train_loop import _linear_problem, _state, _step


    def train_and_evaluate(config, workdir):
        write_config(workdir, config)
        state, _ = fit(_state(lr=config.learning_rate), _step, _linear_problem(n=256), batch_size=32,
                       num_epochs=config.num_epochs, rng=jax.random.key(config.seed), workdir=workdir,
                       checkpoint_every_steps=4, log_every_steps=1)
        results = {"b": float(state.params["b"]), "step": int(state.step)}
        write_results(workdir, results)
        return results


    if __name__ == "__main__":
        cli.main(train_and_evaluate, __file__)
''')

_CONFIG = textwrap.dedent('''
    import ml_collections


    def get_config(variant=None):
        return ml_collections.ConfigDict({"learning_rate": 0.05, "num_epochs": 2, "seed": 7})
''')


def test_fault_injection_through_the_command_line(tmp_path, straight):
    (tmp_path / "exp" / "configs").mkdir(parents=True)
    (tmp_path / "exp" / "linear.py").write_text(_EXPERIMENT)
    (tmp_path / "exp" / "configs" / "linear.py").write_text(_CONFIG)
    workdir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    env.pop(ALLOW_CONFIG_CHANGE_ENV, None)

    def run(*args):
        return subprocess.run([sys.executable, str(tmp_path / "exp" / "linear.py"), f"--workdir={workdir}", *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)

    first = run()  # 16 steps; checkpoints 12 and 16 kept
    assert first.returncode == 0, first.stderr
    _damage(_largest_file(workdir / "checkpoints" / "16"), "flip")
    with (workdir / "metrics.jsonl").open("a") as f:
        f.write('{"step": 17, "lo')

    changed = run("--config.learning_rate=0.5")
    assert changed.returncode == 2
    assert changed.stderr.strip() == changed.stderr.strip().splitlines()[-1]  # one line, no traceback
    assert "learning_rate: 0.05 -> 0.5" in changed.stderr and "--allow_config_change=learning_rate" in changed.stderr
    typo = cli.check_allowed_changes(["--allow_config_change=num_epoch"], tmp_path / "exp" / "configs" / "linear.py")
    assert "num_epoch;" in typo and "did you mean config.num_epochs" in typo  # the closest key

    extended = run("--config.num_epochs=3", "--allow_config_change=num_epochs")
    assert extended.returncode == 0, extended.stderr
    assert "checkpoint step 16 is corrupt" in extended.stderr and "resumed from step 12" in extended.stderr
    assert "tensorstore" not in extended.stderr.lower() and "Traceback" not in extended.stderr
    assert json.loads((workdir / "results.json").read_text())["step"] == 24
    assert (workdir / "checkpoints" / "16.corrupt").is_dir()
    assert [r["step"] for r in read_jsonl(workdir / "metrics.jsonl")] == list(range(1, 25))
    # The first 16 steps equal the straight run's: the resume from step 12 redid steps 13-16 identically.
    assert _records(workdir)[:16] == straight[1]
    assert read_jsonl(workdir / "config_changes.jsonl")[0]["changed"] == {"num_epochs": [2, 3]}

    for step_dir in (workdir / "checkpoints").iterdir():  # now damage every checkpoint left
        if step_dir.name.isdigit():
            _damage(_largest_file(step_dir), "truncate")
    broken = run("--config.num_epochs=4", "--allow_config_change=num_epochs")
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines()[-1].startswith("error: no intact checkpoint in ")
    assert "Traceback" not in broken.stderr and "tensorstore" not in broken.stderr.lower()


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        state, _ = fit(_state(), _step, DATA, eval_fn=_interrupt_at_epoch(1), **KW)
        assert int(state.step) == 16  # the raised SIGINT was ignored: the run went to the end
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_each_start_records_its_environment_and_config_json_holds_only_the_config(tmp_path):
    """environment.jsonl gets one line per start or resumption; config.json, the run's fingerprint, has no
    environment fields, so a workdir written before they existed resumes as before."""
    import ml_collections

    from ebm_jax.train.workdir import read_json, write_config

    config = ml_collections.ConfigDict({"learning_rate": 0.1, "num_epochs": 2})
    write_config(tmp_path, config)
    (tmp_path / "environment.jsonl").unlink()          # a workdir from before the environment was recorded
    write_config(tmp_path, config)
    write_config(tmp_path, config)
    lines = read_jsonl(tmp_path / "environment.jsonl")
    assert len(lines) == 2
    for line in lines:
        assert line["env.jax"] == jax.__version__ and line["env.backend"] == jax.default_backend()
        assert line["env.device_count"] == jax.device_count() and "time" in line
    assert read_json(tmp_path / "config.json") == {"learning_rate": 0.1, "num_epochs": 2}
