"""Every experiment's smoke config, end to end: results, figures, and a rerun that resumes.

An experiment is a module ``experiments/<name>.py`` with
``train_and_evaluate(config, workdir)`` and a config module
``experiments/configs/<name>.py`` whose ``get_config("smoke")`` runs in seconds.
"""

import importlib
import json
import math
import pathlib

import jax
import pytest

from ebm_jax import cli, environment
from tests.conftest import mnist_cache_available

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py")
                     if not p.stem.startswith("_") and (ROOT / "experiments" / "configs" / p.name).exists())
# Experiments that read MNIST skip where the cache is absent (the cache build has its own tests).
NEEDS_MNIST = {"vae_mnist", "rbm_mnist", "dae", "simclr", "moco", "pirl", "lista", "sparse_coding"}
TIMING_WORDS = ("seconds", "time", "per_second", "wall_s")


def test_every_experiment_has_the_shape():
    for name in EXPERIMENTS:
        module = importlib.import_module(f"experiments.{name}")
        assert callable(getattr(module, "train_and_evaluate", None)), f"experiments.{name} lacks train_and_evaluate"
        config = cli.load_config(ROOT / "experiments" / "configs" / f"{name}.py", "smoke")
        assert "seed" in config, f"configs/{name}.py has no seed"


def _numbers(results):
    return {k: v for k, v in results.items()
            if isinstance(v, (int, float)) and not any(w in k for w in TIMING_WORDS)}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke_config_runs_writes_and_resumes(name, tmp_path):
    if name in NEEDS_MNIST and not mnist_cache_available():
        pytest.skip("run scripts/prepare_data.py first")
    module = importlib.import_module(f"experiments.{name}")
    config_file = ROOT / "experiments" / "configs" / f"{name}.py"
    results = module.train_and_evaluate(cli.load_config(config_file, "smoke"), str(tmp_path))
    on_disk = json.loads((tmp_path / "results.json").read_text())
    env = environment.describe()
    assert set(on_disk) == set(results) | set(env)  # results.json also records the environment
    assert {k: on_disk[k] for k in env} == env and on_disk["env.backend"] == jax.default_backend()
    assert all(not isinstance(v, (dict, list)) for v in on_disk.values()), "results.json must be flat"
    assert (tmp_path / "config.json").exists()
    figures = list(tmp_path.rglob("*.png"))
    assert figures, f"{name} wrote no figure"
    for key, value in _numbers(results).items():
        assert not (isinstance(value, float) and math.isnan(value)), f"{name}: {key} is NaN"
    # The same workdir again: everything is restored from the checkpoints, the numbers do not move.
    again = module.train_and_evaluate(cli.load_config(config_file, "smoke"), str(tmp_path))
    assert _numbers(again) == pytest.approx(_numbers(results), rel=1e-6, abs=1e-9, nan_ok=True)
