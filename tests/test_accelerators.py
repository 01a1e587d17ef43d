"""What an accelerator machine would do, tested where none is: the install plan `make` prints, the GPUs a
launcher or SLURM gives each process, a batch that does not divide over the devices, the compilation cache."""

import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys

import pytest

from ebm_jax import cli, launch
from ebm_jax.train import distributed

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _fake_nvidia_smi(tmp_path, driver="580.65.06", gpus=8):
    """A stand-in nvidia-smi on PATH that lists ``gpus`` H100s with the given driver."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    listing = "\\n".join(f"GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{i:04d})" for i in range(gpus))
    smi.write_text(f'#!/bin/sh\ncase "$1" in\n  -L) printf "{listing}\\n";;\n'
                   f'  --query-gpu=driver_version) echo {driver};;\nesac\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _make_plan(tmp_path, target="run", path_prefix=None, **env):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    full_env = {k: v for k, v in os.environ.items() if k not in ("ACCEL", "ACCEL_FORCE", "MAKEFLAGS", "MAKELEVEL")}
    full_env.update(env)
    full_env["NVIDIA_SMI"] = env.get("NVIDIA_SMI", "nvidia-smi")
    if path_prefix is not None:
        full_env["PATH"] = f"{path_prefix}{os.pathsep}{full_env['PATH']}"
    else:  # no GPU: make sure no real nvidia-smi answers
        full_env["NVIDIA_SMI"] = str(tmp_path / "no-nvidia-smi")
    return subprocess.run(["make", "-n", "--no-print-directory", target, "VENV=.venv"], capture_output=True,
                          text=True, cwd=ROOT, env=full_env)


@pytest.mark.parametrize("driver, extra", [("580.65.06", "cuda13"), ("535.183.01", "cuda12")])
def test_make_n_run_on_a_gpu_machine_installs_the_cuda_build(tmp_path, driver, extra):
    plan = _make_plan(tmp_path, path_prefix=_fake_nvidia_smi(tmp_path, driver))
    assert plan.returncode == 0, plan.stderr
    assert f"pip install -q -e '.[test,{extra}]'" in plan.stdout
    assert "experiments.vae_mnist" in plan.stdout


def test_make_n_run_without_an_accelerator_installs_the_cpu_build(tmp_path):
    plan = _make_plan(tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "pip install -q -e '.[test]'" in plan.stdout and "cuda" not in plan.stdout


def test_accel_overrides_the_detection(tmp_path):
    gpu = _fake_nvidia_smi(tmp_path)
    assert "'.[test]'" in _make_plan(tmp_path, path_prefix=gpu, ACCEL="cpu").stdout
    assert "'.[test,cuda12]'" in _make_plan(tmp_path, path_prefix=gpu, ACCEL="cuda12").stdout
    forced = _make_plan(tmp_path, ACCEL="cuda13", ACCEL_FORCE="1")
    assert forced.returncode == 0 and "'.[test,cuda13]'" in forced.stdout


@pytest.mark.parametrize("accel, words", [
    ("cuda13", "lists no NVIDIA GPU here; set ACCEL_FORCE=1"),
    ("tpu", "no TPU device"),
    ("rocm", "unknown ACCEL=rocm (use one of: auto, cpu, cuda12, cuda13, tpu)"),
])
def test_bad_accel_values_are_one_clear_line(tmp_path, accel, words):
    plan = _make_plan(tmp_path, ACCEL=accel)
    assert plan.returncode != 0 and plan.stdout == ""
    assert words in plan.stderr and len(plan.stderr.strip().splitlines()) == 1, plan.stderr


def test_visible_gpus_come_from_cuda_visible_devices_or_nvidia_smi(tmp_path):
    smi = str(_fake_nvidia_smi(tmp_path, gpus=4) / "nvidia-smi")
    assert distributed.visible_gpus({}, smi=smi) == ["0", "1", "2", "3"]
    assert distributed.visible_gpus({"CUDA_VISIBLE_DEVICES": "3,5"}, smi=smi) == ["3", "5"]
    assert distributed.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, smi=smi) is None
    assert distributed.visible_gpus({}, smi=str(tmp_path / "absent")) is None


EIGHT = ",".join(map(str, range(8)))


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_TASKS_PER_NODE": "1(x2)", "SLURM_LOCALID": "0", "CUDA_VISIBLE_DEVICES": EIGHT}, list(range(8))),
    ({"SLURM_TASKS_PER_NODE": "8(x2)", "SLURM_LOCALID": "5", "CUDA_VISIBLE_DEVICES": EIGHT}, [5]),
    ({"SLURM_NTASKS_PER_NODE": "2", "SLURM_LOCALID": "1", "CUDA_VISIBLE_DEVICES": EIGHT}, [4, 5, 6, 7]),
    ({"SLURM_TASKS_PER_NODE": "8", "SLURM_LOCALID": "5", "SLURM_GPUS_PER_TASK": "1", "CUDA_VISIBLE_DEVICES": "5"},
     [0]),
    ({"SLURM_TASKS_PER_NODE": "1", "SLURM_LOCALID": "0"}, None),  # no GPU: JAX's own choice
])
def test_each_slurm_task_gets_its_share_of_the_node_gpus(env, expected):
    env = {"SLURM_JOB_ID": "7", **env}
    gpus = distributed.visible_gpus(env) if "CUDA_VISIBLE_DEVICES" in env else []
    assert distributed.slurm_local_device_ids(env, gpus) == expected


def test_slurm_tasks_that_do_not_divide_the_gpus_are_refused():
    env = {"SLURM_JOB_ID": "7", "SLURM_TASKS_PER_NODE": "3", "SLURM_LOCALID": "0", "CUDA_VISIBLE_DEVICES": EIGHT}
    with pytest.raises(ValueError, match="3 tasks on this node, which see 8 GPUs"):
        distributed.slurm_local_device_ids(env)


def test_jax_alone_would_give_a_one_task_node_a_single_gpu():
    """The reason for slurm_local_device_ids: JAX's SLURM detection sets local_device_ids=[SLURM_LOCALID]."""
    from jax._src.clusters import cluster

    source = pathlib.Path(cluster.__file__).read_text()
    assert "local_device_ids = [pid]" in source


def test_launcher_gives_each_process_its_own_gpus():
    blocks = launch.assign_gpus(4, 2, [str(i) for i in range(8)])
    assert blocks == [["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"]]
    envs = [launch.child_env(i, 4, "127.0.0.1:1234", None, 30.0, base={}, gpus=b) for i, b in enumerate(blocks)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0,1", "2,3", "4,5", "6,7"]
    assert [e["EBM_JAX_PROCESS_ID"] for e in envs] == ["0", "1", "2", "3"]
    assert "CUDA_VISIBLE_DEVICES" not in launch.child_env(0, 1, "127.0.0.1:1", 2, 30.0, base={})


@pytest.mark.parametrize("num, per, gpus, match", [
    (2, 4, ["0", "1", "2", "3"], "needs 8 GPUs, but 4 are visible"),
    (1, 1, None, "needs 1 GPUs, but 0 are visible"),
    (2, 0, ["0", "1"], "gpus_per_process must be an integer >= 1"),
])
def test_launcher_refuses_more_gpus_than_are_visible(num, per, gpus, match):
    with pytest.raises(ValueError, match=match):
        launch.assign_gpus(num, per, gpus)


def test_launcher_refuses_a_bool_where_a_count_goes():
    with pytest.raises(TypeError, match="gpus_per_process must be an integer, got bool"):
        launch.assign_gpus(2, True, ["0", "1"])


def test_launcher_command_line_refuses_gpus_it_does_not_have(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}
    proc = subprocess.run([sys.executable, "-m", "ebm_jax.launch", "--num_processes", "2", "--gpus_per_process", "1",
                           "--", "experiments.vae_mnist", "--workdir", str(tmp_path)], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert proc.returncode == 2
    assert "needs 2 GPUs, but 1 are visible here (CUDA_VISIBLE_DEVICES)" in proc.stderr
    both = subprocess.run([sys.executable, "-m", "ebm_jax.launch", "--num_processes", "1", "--gpus_per_process", "1",
                           "--devices_per_process", "2", "--", "experiments.vae_mnist"], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert both.returncode == 2 and "not both" in both.stderr


_BATCH_SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp, numpy as np, optax
from flax.training import train_state
from ebm_jax.train import loop
rng = np.random.default_rng(0)
data = {"x": rng.standard_normal((200, 5)).astype(np.float32), "y": rng.standard_normal((200, 2)).astype(np.float32)}
def step_fn(state, batch, key):
    loss, g = jax.value_and_grad(lambda p: jnp.mean((batch["x"] @ p["w"] - batch["y"]) ** 2))(state.params)
    return state.apply_gradients(grads=g), {"loss": loss}
state = train_state.TrainState.create(apply_fn=None, params={"w": jnp.zeros((5, 2))}, tx=optax.sgd(0.1))
mesh = loop.batch_mesh(100)
_, history = loop.fit(state, step_fn, data, batch_size=100, num_epochs=2, rng=jax.random.key(0), log_every_steps=1)
print(json.dumps({"devices": len(jax.devices()), "mesh": int(mesh.devices.size),
                  "losses": [r["loss"] for r in history]}))
"""


def _batch_run(num_devices):
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={num_devices}"}
    return subprocess.run([sys.executable, "-c", _BATCH_SCRIPT], capture_output=True, text=True, env=env, cwd=ROOT,
                          check=True)


def test_a_batch_that_does_not_divide_over_the_devices_runs_on_as_many_as_divide_it():
    eight, one = _batch_run(8), _batch_run(1)
    got, ref = json.loads(eight.stdout.splitlines()[-1]), json.loads(one.stdout.splitlines()[-1])
    assert got["devices"] == 8 and got["mesh"] == 5 and ref["mesh"] == 1
    assert "batch_size 100 does not divide over 8 devices: training on 5 of them" in eight.stderr
    assert "does not divide" not in one.stderr
    assert len(got["losses"]) == 4
    assert got["losses"] == pytest.approx(ref["losses"], rel=1e-5)


def test_compilation_cache_is_on_by_default_and_can_be_turned_off(tmp_path):
    assert cli.compilation_cache_dir({"HOME": "/h", "XDG_CACHE_HOME": "/c"}) == pathlib.Path("/c/ebm_jax/xla")
    assert cli.compilation_cache_dir({"EBM_JAX_COMPILATION_CACHE_DIR": "/x"}) == pathlib.Path("/x")
    assert cli.compilation_cache_dir({"JAX_COMPILATION_CACHE_DIR": "/j", "EBM_JAX_COMPILATION_CACHE_DIR": "/x"}) \
        == pathlib.Path("/j")
    for off in ("0", "false", "off"):
        assert cli.compilation_cache_dir({"EBM_JAX_COMPILATION_CACHE": off}) is None


def test_a_command_line_run_fills_the_compilation_cache_and_prints_its_backend(tmp_path):
    cache = tmp_path / "xla"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_PERSISTENT_CACHE")}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.update(EBM_JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-m", "experiments.lista_synthetic", "--workdir", str(tmp_path / "run"),
                           "--config=experiments/configs/lista_synthetic.py:smoke"], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ebm_jax: backend cpu, 1 x cpu; training matmul default, solvers and evaluation "
                                  "highest; jax ")
    assert any(cache.iterdir()), "nothing was cached"
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["env.backend"] == "cpu" and results["env.device_count"] == 1
    assert results["env.jax"] == __import__("jax").__version__


@pytest.mark.parametrize("name", ["simclr", "moco", "pirl", "conv_sparse_coding", "vae_mnist"])
def test_accelerator_sized_config_variants_pass_their_rules(name):
    config_file = ROOT / "experiments" / "configs" / f"{name}.py"
    default, gpu = cli.load_config(config_file), cli.load_config(config_file, "gpu")
    cli.validate_config(gpu, config_file)
    assert gpu != default  # it changes something
    assert (gpu.get("batch_size", 0) > default.get("batch_size", 0) or gpu.get("num_seeds", 1) > 1)


def test_gpu_check_dry_run_plan_is_complete():
    """The prepared GPU check names every step the accelerator run needs (its execution: .ci/run)."""
    text = (ROOT / "scripts" / "gpu_check.sh").read_text()
    for step in ("backend", "smoke", "tests", "precision", "bench_vae", "bench_rbm", "bench_ssl", "bench_lasso",
                 "bench_conv_sparse", "bench_seeds", "report"):
        assert f" {step} " in text or f"step {step}" in text, step
    usage = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True)
    assert usage.returncode == 2 and "--out DIR is required" in usage.stderr
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--out", "/tmp/x", "--mnist", "/nope"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--mnist /nope does not exist" in bad.stderr
