"""Multi-process training with real processes: ``jax.distributed`` on 127.0.0.1 with gloo CPU collectives.

2 processes x 2 CPU devices against 1 process x 4 devices; a 2-process run killed
and resumed against a straight one; processes that disagree; a coordinator that
cannot be reached. The worker program is ``tests/_distributed_worker.py``.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from ebm_jax import launch
from ebm_jax.train import distributed

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKER = "tests._distributed_worker"


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBM_JAX_")}
    return {**env, "JAX_PLATFORMS": "cpu", **extra}


def _launch(mode, outdir, num_processes=2, devices_per_process=2, timeout=240):
    cmd = [sys.executable, "-m", "ebm_jax.launch", f"--num_processes={num_processes}",
           f"--devices_per_process={devices_per_process}", "--timeout=120", "--", WORKER, mode, str(outdir)]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


def _single(mode, outdir, devices=4):
    flags = f"--xla_force_host_platform_device_count={devices}"
    subprocess.run([sys.executable, "-m", WORKER, mode, str(outdir)], cwd=ROOT, env=_env(XLA_FLAGS=flags),
                   capture_output=True, text=True, check=True, timeout=240)
    return json.loads((outdir / f"{mode}.json").read_text())


def _read(outdir, mode, proc):
    path = outdir / f"{mode}.json"
    assert path.exists(), f"the launch wrote no {path.name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
    """Launch 1: checks, a straight run, a run stopped at step 11, then every process dies. Launch 2: resume."""
    outdir = tmp_path_factory.mktemp("killed")
    first = _launch("first", outdir)
    assert first.returncode != 0  # the processes died (os._exit(17)), like a killed job
    before = _read(outdir, "first", first)
    second = _launch("resume", outdir)
    assert second.returncode == 0, second.stderr[-5000:]
    return before, _read(outdir, "resume", second), outdir


def test_two_processes_give_the_loss_curves_of_one_process_with_four_devices(killed_then_resumed, tmp_path):
    one = _single("curves", tmp_path)
    two = killed_then_resumed[0]
    assert (one["process_count"], one["device_count"]) == (1, 4)
    assert (two["process_count"], two["device_count"]) == (2, 4)
    for problem, steps in (("linear", 32), ("vae", 16), ("linear_seeds", 16)):
        assert len(one[problem]) == len(two[problem]) == steps
        # The tolerance of test_train_loop's one-vs-four-devices test.
        np.testing.assert_allclose(two[problem], one[problem], rtol=1e-5, atol=1e-6, err_msg=problem)


def test_killed_and_resumed_two_process_run_ends_identical_to_a_straight_one(killed_then_resumed):
    before, after, outdir = killed_then_resumed
    assert before["process_count"] == 2
    assert before["straight_step"] == after["resumed_step"] == 24
    assert after["resumed_params"] == before["straight_params"]  # bit-identical (floats survive JSON exactly)

    def records(run):
        lines = (outdir / run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_second"} for line in lines]

    assert records("resumed") == records("straight")  # written once (process 0), truncated on resume


def test_processes_that_disagree_fail_clearly(killed_then_resumed):
    before, _, _ = killed_then_resumed
    message = before["mismatch_error"]
    assert "2 processes disagree on the arguments of fit" in message and "data shapes" in message
    assert "[[0], [1]]" in message
    assert "batch_size (30) must be divisible by the number of devices (4 (2 processes" in before["batch_error"]


def test_mismatched_config_fails_in_the_cli(tmp_path):
    """The command line's config is compared across processes before anything trains."""
    script = (
        "import sys, jax\n"
        "from ebm_jax import cli\n"
        "from ebm_jax.train import distributed\n"
        "distributed.initialize_from_environment()\n"
        "sys.argv += [f'--config.seed={jax.process_index()}']\n"
        f"cli.main(lambda config, workdir: {{}}, {str(ROOT / 'experiments' / 'vae_mnist.py')!r})\n")
    (tmp_path / "mismatch.py").write_text(script)
    env = _env(PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "ebm_jax.launch", "--num_processes=2", "--devices_per_process=1", "--timeout=120",
           "--", "mismatch", "--workdir", str(tmp_path / "wd")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "processes disagree on the command line: config.seed (this is process" in proc.stderr
    assert "[[0], [1]]" in proc.stderr


def test_unreachable_coordinator_fails_within_the_timeout():
    port = launch.free_port()  # nothing listens there
    start = time.monotonic()
    with pytest.raises(distributed.CoordinatorUnreachableError, match=rf"127.0.0.1:{port} did not answer within 1 s"):
        distributed.initialize(f"127.0.0.1:{port}", 2, 1, initialization_timeout=1)
    assert time.monotonic() - start < 5
    with pytest.raises(distributed.CoordinatorUnreachableError, match="did not answer"):
        distributed.wait_for_coordinator("no-such-host.invalid:1234", timeout=0.5)
    assert not distributed.is_initialized()


def test_coordinator_without_its_peers_exits_in_bounded_time(tmp_path):
    """Process 0 of 2 alone: jax.distributed gives up after the timeout instead of hanging."""
    env = _env(**{distributed.ENV_COORDINATOR: f"127.0.0.1:{launch.free_port()}",
                  distributed.ENV_NUM_PROCESSES: "2", distributed.ENV_PROCESS_ID: "0",
                  distributed.ENV_TIMEOUT: "2"})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", WORKER, "curves", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "DEADLINE_EXCEEDED" in proc.stderr or "Deadline" in proc.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("kwargs, match", [
    (dict(coordinator_address="127.0.0.1", num_processes=2, process_id=1), "host:port"),
    (dict(coordinator_address="127.0.0.1:1234", num_processes=0, process_id=0), "num_processes"),
    (dict(coordinator_address="127.0.0.1:1234", num_processes=2, process_id=2), "process_id"),
    (dict(coordinator_address="127.0.0.1:1234", num_processes=2, process_id=1, initialization_timeout=0),
     "initialization_timeout"),
])
def test_initialize_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        distributed.initialize(**kwargs)
    assert not distributed.is_initialized()


def test_launcher_rejects_bad_arguments(capsys):
    for argv, match in ((["--num_processes=0", "--", "experiments.vae_mnist"], "num_processes"),
                        (["--num_processes=2", "--devices_per_process=0", "--", "m"], "devices_per_process"),
                        (["--num_processes=2"], "after '--'")):
        with pytest.raises(SystemExit) as e:
            launch.main(argv)
        assert e.value.code == 2
        assert match in capsys.readouterr().err


def test_child_environment_names_the_coordinator_and_the_device_count():
    env = launch.child_env(1, 3, "127.0.0.1:999", 2, 30.0, base={"XLA_FLAGS": "--xla_foo=1"})
    assert env[distributed.ENV_COORDINATOR] == "127.0.0.1:999"
    assert (env[distributed.ENV_NUM_PROCESSES], env[distributed.ENV_PROCESS_ID]) == ("3", "1")
    assert env["XLA_FLAGS"] == "--xla_foo=1 --xla_force_host_platform_device_count=2"
    assert env["JAX_PLATFORMS"] == "cpu"


def test_one_process_is_the_main_process_and_writes(tmp_path):
    from ebm_jax.train import write_json

    assert distributed.process_count() == 1 and distributed.is_main_process()
    distributed.assert_same_across_processes("anything", {"x": 1})  # a no-op with one process
    write_json(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
