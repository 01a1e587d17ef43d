"""Many seeds in one program: ``fit(num_seeds=S)`` against S separate runs, resume, summaries, bad input."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.train import fit, fit_seeds, seeds
from tests.test_train_loop import _linear_problem, _state, _step

KWARGS = dict(batch_size=32, num_epochs=2, log_every_steps=1)


def _seeded_state(num_seeds, lr=0.05):
    # Different initializations per seed, so that the replicas differ in more than their data order.
    return seeds.init(lambda key: _state(lr=lr).replace(params={"w": jax.random.normal(key, (8,)), "b": jnp.zeros(())}),
                      seeds.seed_keys(10, num_seeds))


def test_each_replica_follows_its_own_separate_run():
    data = _linear_problem(n=256)
    num_seeds = 3
    state = _seeded_state(num_seeds)
    rng = seeds.seed_keys(5, num_seeds)
    together, history = fit(state, _step, data, rng=rng, num_seeds=num_seeds, **KWARGS)
    assert np.asarray(together.step).tolist() == [16] * num_seeds
    for i in range(num_seeds):
        alone, alone_history = fit(seeds.unstack(state, i), _step, data, rng=jax.random.key(5 + i), **KWARGS)
        chex.assert_trees_all_close(seeds.unstack(together.params, i), alone.params, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose([r[f"loss_seed{i}"] for r in history], [r["loss"] for r in alone_history],
                                   rtol=1e-5, atol=1e-6)
    # The replicas are independent: different data orders give different curves.
    assert history[0]["loss_seed0"] != history[0]["loss_seed1"]
    np.testing.assert_allclose(history[-1]["loss"], np.mean([history[-1][f"loss_seed{i}"] for i in range(3)]),
                               rtol=1e-6)


@pytest.mark.parametrize("num_seeds", [1, 2])
def test_fit_seeds_is_fit_for_one_seed_and_the_stacked_fit_for_several(num_seeds):
    """One call for one seed and for S: per-seed states and per-seed evaluations in both cases."""
    data = _linear_problem(n=256)
    states = [seeds.unstack(_seeded_state(num_seeds), i) for i in range(num_seeds)]
    rngs = [jax.random.key(5 + i) for i in range(num_seeds)]

    def eval_fn(per_seed):
        return [{"w0": float(state.params["w"][0])} for state in per_seed]

    finals, history = fit_seeds(states, _step, data, rngs=rngs, eval_fn=eval_fn, **KWARGS)
    assert len(finals) == num_seeds
    for i in range(num_seeds):
        alone, _ = fit(states[i], _step, data, rng=rngs[i], **KWARGS)
        if num_seeds == 1:  # the plain run, bit for bit
            chex.assert_trees_all_equal(finals[i].params, alone.params)
        else:
            chex.assert_trees_all_close(finals[i].params, alone.params, rtol=1e-5, atol=1e-6)
        key = "w0" if num_seeds == 1 else f"w0_seed{i}"
        assert history[-1][key] == pytest.approx(float(finals[i].params["w"][0]))
    with pytest.raises(ValueError, match="one key per state"):
        fit_seeds(states, _step, data, rngs=rngs + rngs, **KWARGS)


def test_seeded_run_resumes_bit_identical(tmp_path):
    data = _linear_problem(n=256)
    kwargs = dict(KWARGS, rng=seeds.seed_keys(0, 2), num_seeds=2, checkpoint_every_steps=3)
    straight, _ = fit(_seeded_state(2), _step, data, workdir=tmp_path / "straight", **kwargs)
    fit(_seeded_state(2), _step, data, workdir=tmp_path / "resumed", max_steps=7, **kwargs)
    resumed, _ = fit(_seeded_state(2), _step, data, workdir=tmp_path / "resumed", **kwargs)
    chex.assert_trees_all_equal(straight.params, resumed.params)
    chex.assert_trees_all_equal(straight.opt_state, resumed.opt_state)

    def records(run):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "steps_per_second"} for line in lines]

    assert records("resumed") == records("straight")
    assert {"loss", "loss_seed0", "loss_seed1"} <= set(records("straight")[0])


def test_eval_fn_sees_the_stacked_state_and_logs_per_seed():
    def eval_fn(state):
        return {"w_norm": jnp.linalg.norm(state.params["w"], axis=-1), "constant": 1.0}

    _, history = fit(_seeded_state(2), _step, _linear_problem(n=64), batch_size=32, num_epochs=1,
                     rng=seeds.seed_keys(0, 2), num_seeds=2, eval_fn=eval_fn)
    last = history[-1]
    assert {"w_norm", "w_norm_seed0", "w_norm_seed1", "constant"} <= set(last)
    assert last["w_norm"] == pytest.approx((last["w_norm_seed0"] + last["w_norm_seed1"]) / 2)


def test_summarize_reports_each_seed_mean_and_sample_std():
    out = seeds.summarize({"nll": [90.0, 92.0, 94.0]})
    assert out == {"nll_seed0": 90.0, "nll_seed1": 92.0, "nll_seed2": 94.0, "nll_mean": 92.0, "nll_std": 2.0}
    assert seeds.summarize({"x": [np.float32(1.5)]}) == {"x_seed0": 1.5, "x_mean": 1.5, "x_std": 0.0}
    from_dicts = seeds.summarize([{"acc": 0.9, "model": "vae"}, {"acc": 0.8, "model": "vae"}])
    assert from_dicts["model"] == "vae" and from_dicts["acc_mean"] == pytest.approx(0.85)
    assert set(from_dicts) == {"model", "acc_seed0", "acc_seed1", "acc_mean", "acc_std"}


def test_seed_keys_are_the_single_run_keys():
    keys = seeds.seed_keys(3, 2, impl="rbg")
    assert keys.shape == (2,)
    for i in range(2):
        chex.assert_trees_all_equal(jax.random.key_data(keys[i]), jax.random.key_data(jax.random.key(3 + i, impl="rbg")))


@pytest.mark.parametrize("num_seeds, error, match", [
    (0, ValueError, "num_seeds must be >= 1, got 0"),
    (-2, ValueError, "num_seeds must be >= 1"),
    (1.5, TypeError, "num_seeds must be a positive integer"),
    (True, TypeError, "num_seeds must be a positive integer"),
])
def test_bad_num_seeds_fails_before_compiling(num_seeds, error, match):
    def never_called(state, batch, key):
        raise AssertionError("step_fn traced despite bad arguments")

    with pytest.raises(error, match=match):
        fit(_seeded_state(2), never_called, _linear_problem(n=64), rng=seeds.seed_keys(0, 2), num_seeds=num_seeds,
            **KWARGS)
    with pytest.raises(error, match=match):
        seeds.seed_keys(0, num_seeds)


def test_state_or_keys_without_the_seed_axis_fail_clearly():
    def never_called(state, batch, key):
        raise AssertionError("step_fn traced despite bad arguments")

    data = _linear_problem(n=64)
    with pytest.raises(ValueError, match="leading axis"):
        fit(_state(), never_called, data, rng=seeds.seed_keys(0, 2), num_seeds=2, **KWARGS)
    with pytest.raises(ValueError, match="has 3 replicas"):
        fit(_seeded_state(3), never_called, data, rng=seeds.seed_keys(0, 2), num_seeds=2, **KWARGS)
    with pytest.raises(ValueError, match="needs rng to be 2 keys"):
        fit(_seeded_state(2), never_called, data, rng=jax.random.key(0), num_seeds=2, **KWARGS)


def test_horn_experiment_with_two_seeds_reports_each_and_replica_zero_is_the_single_run(tmp_path):
    from experiments import lvebm_horn
    from experiments.configs import lvebm_horn as horn_config

    single = lvebm_horn.train_and_evaluate(horn_config.get_config("smoke"), tmp_path / "one")
    config = horn_config.get_config("smoke")
    config.num_seeds = 2
    together = lvebm_horn.train_and_evaluate(config, tmp_path / "two")
    assert together["num_seeds"] == 2 and single["num_seeds"] == 1
    for name in ("semi_axes_mean_rel_error", "heldout_free_energy", "regression_heldout_mse"):
        assert {f"{name}_seed0", f"{name}_seed1", f"{name}_mean", f"{name}_std"} <= set(together)
        # Replica 0 does the single run's computation, but the vmapped kernels round differently (about 1e-5
        # after the first steps here) and the grid search's argmin amplifies that over training.
        assert together[f"{name}_seed0"] == pytest.approx(single[name], rel=0.05)
    assert together["heldout_free_energy_seed0"] != together["heldout_free_energy_seed1"]
    first = [json.loads(open(tmp_path / run / "lvebm" / "metrics.jsonl").readline()) for run in ("one", "two")]
    assert first[1]["loss_seed0"] == pytest.approx(first[0]["loss"], rel=1e-4)
    assert (tmp_path / "two" / "horn_manifold.png").stat().st_size > 0
    config.num_seeds = 0
    with pytest.raises(ValueError, match="num_seeds"):
        lvebm_horn.train_and_evaluate(config, tmp_path / "bad")


@pytest.mark.skipif(not __import__("tests.conftest", fromlist=["x"]).mnist_cache_available(),
                    reason="run scripts/prepare_data.py first")
def test_rbm_experiment_with_two_seeds_reports_each(tmp_path):
    from experiments import rbm_mnist
    from experiments.configs import rbm_mnist as rbm_config

    def config(**overrides):
        c = rbm_config.get_config("smoke")
        c.update(methods=("pcd1",), ais_check_hidden=0, **overrides)
        return c

    together = rbm_mnist.train_and_evaluate(config(num_seeds=2), tmp_path / "two")
    alone = rbm_mnist.train_and_evaluate(config(seed=1), tmp_path / "one")
    for name in ("pcd1_test_ll", "pcd1_log_z", "pcd1_test_pll"):
        assert {f"{name}_seed0", f"{name}_seed1", f"{name}_mean", f"{name}_std"} <= set(together)
        # Seed 1 of the pair is the run with seed=1, up to the vmapped kernels' rounding (Bernoulli draws
        # near a threshold can flip and the difference grows over training).
        assert together[f"{name}_seed1"] == pytest.approx(alone[name], rel=0.02)
    assert together["pcd1_test_ll_seed0"] != together["pcd1_test_ll_seed1"]
    first = [json.loads(open(tmp_path / run / "pcd1" / "metrics.jsonl").readline()) for run in ("two", "one")]
    assert first[0]["loss_seed1"] == pytest.approx(first[1]["loss"], rel=1e-4, abs=1e-4)


def test_toy2d_experiment_with_two_seeds_reports_each_and_replica_one_is_the_run_with_seed_one(tmp_path):
    from experiments import ebm_toy2d
    from experiments.configs import ebm_toy2d as toy_config

    def config(**overrides):
        c = toy_config.get_config("smoke")
        c.update(methods=("pcd2",), long_chain_steps=5, **overrides)
        return c

    together = ebm_toy2d.train_and_evaluate(config(num_seeds=2), tmp_path / "two")
    alone = ebm_toy2d.train_and_evaluate(config(seed=1), tmp_path / "one")
    assert together["num_seeds"] == 2 and alone["num_seeds"] == 1
    for name in ("spurious_frac", "e_data", "e_neg", "longchain_offdata_frac", "mh_accept_rate"):
        key = f"rings_pcd2_{name}"
        assert {f"{key}_seed0", f"{key}_seed1", f"{key}_mean", f"{key}_std"} <= set(together)
        # Replica 1 trains on seed 1's data set with seed 1's keys; only the batched kernels' rounding differs.
        assert together[f"{key}_seed1"] == pytest.approx(alone[key], rel=1e-3, abs=1e-3)
    assert together["rings_pcd2_e_data_seed0"] != together["rings_pcd2_e_data_seed1"]
    evals = [[json.loads(line) for line in open(tmp_path / run / "rings_pcd2" / "metrics.jsonl")] for run in ("two", "one")]
    assert evals[0][0]["e_data_seed1"] == pytest.approx(evals[1][0]["e_data"], rel=1e-4, abs=1e-5)
    assert (tmp_path / "two" / "energy_rings.png").stat().st_size > 0


def test_collapse_experiment_trains_the_seeds_of_a_cell_together(tmp_path):
    from experiments import lvebm_collapse
    from experiments.configs import lvebm_collapse as collapse_config

    def config(**overrides):
        c = collapse_config.get_config("smoke")
        c.update(regularizers=("none",), **overrides)
        return c

    together = lvebm_collapse.train_and_evaluate(config(num_seeds=2), tmp_path / "two")
    alone = lvebm_collapse.train_and_evaluate(config(seed=1, num_seeds=1), tmp_path / "one")
    assert (tmp_path / "two" / "d2_none_s0-1").is_dir() and (tmp_path / "one" / "d2_none_s1").is_dir()
    assert together["num_runs"] == 2 and together["seeds"] == together["num_seeds"] == 2
    for metric in ("volume", "heldout_free_energy", "contrast"):
        key = f"{metric}_d2_none"
        assert {f"{key}_seed0", f"{key}_seed1", f"{key}_mean", f"{key}_std"} <= set(together)
        # Replica 1 is the one-seed run with seed 1 on the same data (data_seed), up to the batched kernels' rounding.
        assert together[f"{key}_seed1"] == pytest.approx(alone[f"{key}_seed0"], rel=1e-3, abs=1e-4)
        assert alone[f"{key}_mean"] == alone[f"{key}_seed0"] and alone[f"{key}_std"] == 0.0
    assert together["heldout_free_energy_d2_none_seed0"] != together["heldout_free_energy_d2_none_seed1"]


@pytest.mark.parametrize("experiment", ["ebm_toy2d", "lvebm_collapse", "lvebm_horn"])
@pytest.mark.parametrize("num_seeds", [0, -1])
def test_experiments_refuse_num_seeds_below_one(experiment, num_seeds, tmp_path):
    import importlib

    module = importlib.import_module(f"experiments.{experiment}")
    config = importlib.import_module(f"experiments.configs.{experiment}").get_config("smoke")
    config.num_seeds = num_seeds
    with pytest.raises(ValueError, match=rf"config.num_seeds .*>= 1, got {num_seeds}"):
        module.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "config.json").exists()   # refused before anything was written
