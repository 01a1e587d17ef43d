"""End to end: `python -m experiments.vae_mnist` on a small slice, config errors."""

import json
import subprocess
import sys

import pytest

from experiments import vae_mnist
from experiments.configs import vae_mnist as vae_config
from tests.conftest import mnist_cache_available

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _small_config(**overrides):
    config = vae_config.get_config()
    small = dict(num_epochs=1, num_train_examples=1024, num_test_examples=200, batch_size=64, hidden_dims=(64,),
                 eval_importance_samples=50, data_source="cache")
    config.update({**small, **overrides})
    return config


@pytest.mark.skipif(not mnist_cache_available(), reason="run scripts/prepare_data.py first")
def test_experiment_writes_results_and_figures_and_resumes(tmp_path):
    results = vae_mnist.train_and_evaluate(_small_config(), tmp_path)
    for key in ("test_neg_elbo", "test_recon", "test_kl", "test_nll_is", "eval_importance_samples",
                "binarization", "num_epochs", "train_seconds", "ae_test_recon"):
        assert key in results
    assert json.loads((tmp_path / "results.json").read_text())["test_neg_elbo"] == pytest.approx(results["test_neg_elbo"])
    assert abs(results["test_neg_elbo"] - results["test_recon"] - results["test_kl"]) < 1e-3
    assert results["test_nll_is"] < results["test_neg_elbo"] + 1.0  # the IS bound is tighter than the ELBO
    for name in ("samples.png", "samples_vae.png", "samples_ae.png", "reconstructions.png", "interpolation.png",
                 "latent_space.png", "loss_curves.png", "config.json", "metrics.jsonl"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "ae" / "checkpoints").is_dir()
    lines_before = (tmp_path / "metrics.jsonl").read_text()
    again = vae_mnist.train_and_evaluate(_small_config(), tmp_path)  # same workdir: restored, nothing retrained
    assert again["test_neg_elbo"] == pytest.approx(results["test_neg_elbo"])
    assert (tmp_path / "metrics.jsonl").read_text() == lines_before


@pytest.mark.parametrize("overrides, match", [
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=-1.0), "learning_rate"),
    (dict(model="gan"), "model"),
    (dict(batch_size=0), "batch_size"),
    (dict(hidden_dims=(400, -1)), "hidden_dims"),
    (dict(model="ae", iwae_k=5), "iwae_k"),
    (dict(lr_schedule="step"), "lr_schedule"),
    (dict(binarization="otsu"), "binarization"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(learning_rate=float("inf")), "learning_rate"),
    (dict(binarization="continuous"), "eval_importance_samples"),  # a Bernoulli likelihood needs binary data
    (dict(protocol="kurs"), "protocol"),
    (dict(protocol="course"), "binarization='continuous'"),  # the course trains and tests on grey levels
    (dict(protocol="course", binarization="continuous", eval_importance_samples=0, iwae_k=5), "iwae_k"),
])
def test_bad_config_values(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        vae_mnist.train_and_evaluate(_small_config(**overrides), tmp_path)


@pytest.mark.skipif(not mnist_cache_available(), reason="run scripts/prepare_data.py first")
def test_batch_larger_than_data(tmp_path):
    with pytest.raises(ValueError, match="larger than the training set"):
        vae_mnist.train_and_evaluate(_small_config(num_train_examples=100, batch_size=128), tmp_path)


def test_config_typo_is_an_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.vae_mnist", f"--workdir={tmp_path}",
                           "--config.latnt_dim=2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert "latnt_dim" in proc.stderr
    assert not (tmp_path / "config.json").exists()


@pytest.mark.skipif(not mnist_cache_available(), reason="run scripts/prepare_data.py first")
def test_num_seeds_trains_the_seeds_together_and_reports_each(tmp_path):
    """num_seeds=2 from seed 0: replica 1 is the single run with seed 1; results are flat, per seed + mean/std."""
    small = dict(num_train_examples=512, num_test_examples=100, eval_importance_samples=10, compare_with_ae=False)
    together = vae_mnist.train_and_evaluate(_small_config(num_seeds=2, **small), tmp_path / "two")
    alone = vae_mnist.train_and_evaluate(_small_config(seed=1, **small), tmp_path / "one")
    for name in ("test_neg_elbo", "test_recon", "test_kl", "test_nll_is"):
        assert {f"{name}_seed0", f"{name}_seed1", f"{name}_mean", f"{name}_std"} <= set(together)
        assert name not in together
        assert together[f"{name}_seed1"] == pytest.approx(alone[name], rel=1e-4)
        assert together[f"{name}_mean"] == pytest.approx((together[f"{name}_seed0"] + together[f"{name}_seed1"]) / 2)
    assert together["test_neg_elbo_seed0"] != together["test_neg_elbo_seed1"]
    assert together["num_seeds"] == 2
    on_disk = json.loads((tmp_path / "two" / "results.json").read_text())
    assert all(not isinstance(v, (dict, list)) for v in on_disk.values())


def test_num_seeds_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="num_seeds"):
        vae_mnist.train_and_evaluate(_small_config(num_seeds=0), tmp_path)


def test_course_variant_is_the_notebook_recipe():
    config = vae_config.get_config("course")
    vae_config.validate(config)
    assert (config.protocol, config.batch_size, config.learning_rate, config.num_epochs) == ("course", 256, 1e-3, 10)
    assert (config.binarization, config.lr_schedule, tuple(config.hidden_dims), config.latent_dim) == (
        "continuous", "constant", (400,), 20)
    with pytest.raises(ValueError, match="'course'"):  # the error lists the known variants
        vae_config.get_config("cource")


@pytest.mark.skipif(not mnist_cache_available(), reason="run scripts/prepare_data.py first")
def test_course_protocol_writes_its_numbers_and_figures(tmp_path):
    config = vae_config.get_config("course")
    config.update(num_epochs=2, num_train_examples=512, num_test_examples=200, hidden_dims=(32,), data_source="cache")
    results = vae_mnist.train_and_evaluate(config, tmp_path)
    assert results["protocol"] == "course"
    assert results["test_loss"] == pytest.approx(results["test_recon"] + results["test_kl"], rel=1e-9)
    assert results["test_loss"] < results["test_loss_epoch0"]  # training lowered the notebook's test loss
    assert results["train_loss_epoch"] == 2 and results["train_loss_last_epoch"] > 0
    assert results["test_loss_by_epoch"].startswith("1: ") and "2: " in results["test_loss_by_epoch"]
    assert "test_nll_is" not in results and "test_neg_elbo" not in results  # no likelihood on grey levels
    for name in ("samples.png", "interpolation.png", "loss_curves.png", "latent_tsne_epoch0.png",
                 "latent_tsne_epoch1.png", "latent_tsne_epoch2.png"):
        assert (tmp_path / name).stat().st_size > 0, name
