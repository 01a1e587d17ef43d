"""The shared validation mechanism and the one command-line entry."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax import checks, cli

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), jnp.asarray(3), np.asarray(3)])
def test_numpy_and_jax_integers_are_integers(value):
    assert checks.positive_int(value, "k") == 3
    assert type(checks.positive_int(value, "k")) is int


@pytest.mark.parametrize("value", [0.5, np.float32(0.5), np.float64(0.5), jnp.float32(0.5), 1, np.int64(1)])
def test_numpy_and_jax_reals_are_reals(value):
    assert checks.positive_float(value, "lr") == pytest.approx(float(value))


@pytest.mark.parametrize("fn, value, error, match", [
    (checks.positive_int, 0, ValueError, r"k must be an integer >= 1, got 0"),
    (checks.positive_int, 2.0, TypeError, "k must be an integer"),
    (checks.positive_int, True, TypeError, "k must be an integer"),
    (checks.positive_int, "3", TypeError, "k must be a number"),
    (checks.positive_int, None, TypeError, "k must be a number"),
    (checks.positive_float, -1.0, ValueError, r"k must be a finite number > 0, got -1.0"),
    (checks.positive_float, float("nan"), ValueError, "finite"),
    (checks.positive_float, float("inf"), ValueError, "finite"),
    (checks.positive_float, np.float32("nan"), ValueError, "finite"),
    (checks.probability, 1.5, ValueError, r"<= 1"),
    (checks.positive_float, np.ones(2), TypeError, "must be a number"),
])
def test_bad_scalars_name_the_argument(fn, value, error, match):
    with pytest.raises(error, match=match):
        fn(value, "k")


def test_range_bounds_and_one_of():
    assert checks.real(0.0, "m", ge=0, lt=1) == 0.0
    with pytest.raises(ValueError, match=r"m must be a finite number >= 0 and < 1, got 1.0"):
        checks.real(1.0, "m", ge=0, lt=1)
    with pytest.raises(ValueError, match="did you mean 'cosine'"):
        checks.one_of("cosin", "schedule", ("constant", "cosine"))


def test_traced_scalars_are_refused_with_a_hint():
    with pytest.raises(TypeError, match="static argument"):
        jax.jit(lambda k: checks.positive_int(k, "k"))(3)


def test_array_checks():
    assert checks.float_array([1, 2], "x").dtype == jnp.float32
    with pytest.raises(ValueError, match=r"x contains 1 non-finite"):
        checks.float_array([1.0, np.nan], "x")
    with pytest.raises(ValueError, match="x is empty"):
        checks.float_array(np.zeros((0, 3)), "x")
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        checks.float_array(np.zeros(3), "x", ndim=2)
    with pytest.raises(TypeError, match="x must be a numeric array"):
        checks.float_array("abc", "x")
    with pytest.raises(ValueError, match="binary"):
        checks.check_binary(np.array([0.0, 0.5, 1.0]), "v")
    checks.check_binary(np.array([0.0, 1.0]), "v")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        checks.check_in_range(np.array([0.0, 2.0]), "p", 0, 1)
    with pytest.raises(ValueError, match=r"W must have shape \(3, any\), got \(2, 4\)"):
        checks.check_shape(np.zeros((2, 4)), "W", (3, None))
    # value checks are skipped under tracing (no host sync), shape checks are not
    jax.jit(lambda x: checks.check_finite(x, "x") or x)(jnp.array([jnp.nan]))


def test_validate_config_rules_and_staleness():
    import ml_collections
    config = ml_collections.ConfigDict({"lr": 0.1, "dims": (3, 4), "opt": {"momentum": 0.9}})
    rules = {"lr": checks.Float(gt=0), "dims": checks.TupleOf(checks.Int(ge=1)), "opt.momentum": checks.Float(ge=0, lt=1)}
    checks.validate_config(config, rules)
    config.opt.momentum = 1.0
    with pytest.raises(checks.ConfigError, match=r"config.opt.momentum must be a finite number >= 0 and < 1"):
        checks.validate_config(config, rules)
    config = ml_collections.ConfigDict({"lr": 0.1, "dims": "3,4", "opt": {"momentum": 0.9}})
    with pytest.raises(checks.ConfigError, match=r"config.dims must be a tuple"):
        checks.validate_config(config, rules)
    with pytest.raises(checks.ConfigError, match="no validation rule"):
        checks.validate_config(ml_collections.ConfigDict({"lr": 0.1, "extra": 1}), {"lr": checks.Float(gt=0)})


def test_unknown_config_key_is_one_line_with_the_closest_key(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.vae_mnist", f"--workdir={tmp_path}",
                           "--config.latnt_dim=2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "config.latnt_dim" in proc.stderr and "did you mean config.latent_dim" in proc.stderr
    assert not (tmp_path / "config.json").exists()


def test_workdir_is_required_and_bad_values_are_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.vae_mnist"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0 and "workdir" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "experiments", "vae_mnist", f"--workdir={tmp_path}",
                           "--config.learning_rate=-1"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: config.learning_rate must be a finite number > 0, got -1.0"


def test_overrides_are_checked_against_the_chosen_variant():
    config_file = ROOT / "experiments" / "configs" / "vae_mnist.py"
    assert cli.check_overrides(["--config.latent_dim=3"], config_file) is None
    assert "unknown config key" in cli.check_overrides(["--config.nope=3"], config_file)
    assert cli.check_overrides([f"--config={config_file}:smoke", "--config.seed=1"], config_file) is None


def test_at_most_cross_check_names_both_keys():
    import ml_collections

    config = ml_collections.ConfigDict(dict(batch_size=64, data=dict(num_train=32), num_all=0))
    with pytest.raises(checks.ConfigError, match=r"config.batch_size \(64\) exceeds config.data.num_train \(32\)"):
        checks.at_most("batch_size", "data.num_train")(config)
    checks.at_most("batch_size", "num_all", zero_is_no_limit=True)(config)  # 0: the whole set, not checked
    config.data.num_train = 64
    checks.at_most("batch_size", "data.num_train")(config)


def test_conv_sparse_coding_config_refuses_a_batch_larger_than_its_tiles():
    from experiments.configs import conv_sparse_coding

    config = conv_sparse_coding.get_config("smoke")
    conv_sparse_coding.validate(config)
    config.batch_size = config.num_crops + 1
    with pytest.raises(checks.ConfigError, match=r"config.batch_size \(\d+\) exceeds config.num_crops"):
        conv_sparse_coding.validate(config)


@pytest.mark.parametrize("config_arg", [
    "experiments/configs/vae_mnist.py:nosuch",     # unknown variant
    "{tmp}/syntax.py",                             # a syntax error
    "{tmp}/raises.py",                             # get_config raises
    "{tmp}/missing.py",                            # no such file
])
def test_a_config_that_does_not_load_is_one_line_and_status_2(tmp_path, capsys, monkeypatch, config_arg):
    (tmp_path / "syntax.py").write_text("def get_config(:\n")
    (tmp_path / "raises.py").write_text("def get_config():\n    return 1 / 0\n")
    monkeypatch.chdir(ROOT)
    argv = ["vae_mnist", f"--workdir={tmp_path / 'run'}", "--config=" + config_arg.format(tmp=tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(lambda config, workdir: {}, ROOT / "experiments" / "vae_mnist.py", argv=argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.strip().count("\n") == 0, err
    assert config_arg.format(tmp=tmp_path).split(":")[0] in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, expected", [
    ("--config.latent_dim=abc", "config.latent_dim"),        # absl cannot parse it
    ("--config.compare_with_ae=3", "config.compare_with_ae"),
    ("--config.hidden_dims=abc", "config.hidden_dims[0]"),    # parsed, then refused by the rules
])
def test_a_config_value_of_the_wrong_type_is_one_line_and_status_2(tmp_path, override, expected):
    proc = subprocess.run([sys.executable, "-m", "experiments.vae_mnist", f"--workdir={tmp_path}",
                           "--config=experiments/configs/vae_mnist.py:smoke", override],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("error: ") and expected in proc.stderr
    assert not (tmp_path / "config.json").exists()
