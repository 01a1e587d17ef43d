"""scripts/bench_time_to_quality.py: the exact pseudo-log-likelihood and the crossing bookkeeping."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_time_to_quality as ttq  # noqa: E402

from ebm_jax.models import rbm  # noqa: E402


@pytest.mark.parametrize("num_visible", [10, 32])  # padded to the chunk, and an exact multiple of it
def test_exact_pll_is_the_mean_of_the_stochastic_estimate_over_every_flip(num_visible):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
    params = rbm.RBMParams(jax.random.normal(k1, (num_visible, 7)), jax.random.normal(k2, (num_visible,)),
                           jax.random.normal(k3, (7,)))
    v = jax.random.bernoulli(k4, 0.4, (5, num_visible)).astype(jnp.float32)
    exact = ttq.exact_pll_fn(chunk=16)(*params, v)
    # score_samples' estimator flips one bit i and scales by V: its mean over every i is the exact sum
    per_flip = [rbm.pseudo_log_likelihood(k1, params, v, jnp.full((5,), i)) for i in range(num_visible)]
    np.testing.assert_allclose(exact, np.mean(per_flip, axis=0), rtol=1e-5, atol=1e-4)
    assert exact.shape == (5,) and np.all(np.asarray(exact) < 0)


def test_crossing_counts_training_seconds_up_to_the_first_epoch_past_the_threshold():
    curve = [{"epoch": e, "train_s": t, "cum_train_s": c, "eval_s": 0.5, "q": q}
             for e, t, c, q in [(1, 11.0, 11.0, 130.0), (2, 1.0, 12.0, 110.0), (3, 1.0, 13.0, 99.0),
                                (4, 1.0, 14.0, 98.0)]]
    c = ttq.crossing(curve, "q", lambda v: v <= 100)
    assert c["reached"] and c["epoch"] == 3 and c["seconds"] == 13.0 and c["value"] == 99.0
    assert c["compile_s_est"] == 10.0 and c["seconds_without_compile"] == 3.0 and c["eval_s_total"] == 1.5
    missed = ttq.crossing(curve, "q", lambda v: v <= 50)
    assert not missed["reached"] and missed["last_value"] == 98.0
    assert ttq.race(c, missed)["ratio"] is None
    assert ttq.race(c, {**c, "seconds": 26.0, "seconds_without_compile": 6.0}) == {
        "ratio": 2.0, "ratio_without_compile": 2.0}
