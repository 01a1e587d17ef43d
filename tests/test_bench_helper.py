"""scripts/_bench.py, the benchmark helper: timer statistics, the step's own matmuls, peers in a subprocess."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import _bench  # noqa: E402


def test_timing_statistics_and_ratio_from_medians():
    ours = _bench.Timing([1.0, 2.0, 3.0, 4.0, 100.0], warmup=[50.0])
    assert (ours.best, ours.median, ours.q1, ours.q3, ours.worst) == (1.0, 3.0, 2.0, 4.0, 100.0)
    peer = _bench.Timing([6.0, 6.0, 6.0])
    cmp = _bench.compare(ours, peer)
    assert cmp["ratio"] == pytest.approx(2.0) and cmp["ratio_best"] == pytest.approx(6.0)
    assert _bench.Timing.from_dict(ours.as_dict()) == ours
    assert ours.scaled(0.5).median == 1.5


def test_time_fn_separates_warmup_and_counts_compiles():
    f = jax.jit(lambda x: x * 2)
    x = jnp.ones(3)
    t = _bench.time_fn(lambda: f(x), repeats=5, warmup=1)
    assert len(t.times) == 5 and len(t.warmup) == 1 and t.compiles == 0
    inputs = iter([jnp.ones(n) for n in range(4, 8)])  # a new shape every call
    t = _bench.time_fn(lambda: f(next(inputs)), repeats=3, warmup=1)
    assert t.compiles == 3  # every timed call compiled: reported, not hidden


def test_matmul_ops_finds_forward_and_backward_products():
    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w))

    x, w = jnp.ones((8, 5)), jnp.ones((5, 3))
    ops = _bench.matmul_ops(jax.grad(loss), w, x)
    assert len(ops) == 2  # x @ w, and x.T @ g for the weight gradient (no input gradient asked for)
    assert sum(_bench.op_flops(e) * c for e, c in ops) == 2 * (2 * 8 * 5 * 3)

    def scanned(w, x):
        return jax.lax.scan(lambda c, _: (c @ w[:3, :3], None), x[:, :3], None, length=4)[0]

    (eqn, count), = _bench.matmul_ops(scanned, w, x)
    assert count == 4 and _bench.op_flops(eqn) == 2 * 8 * 3 * 3
    ceiling = _bench.step_ceiling(jax.grad(loss), w, x, repeats=3, inner=2)
    assert ceiling["flops"] == 480 and ceiling["gflops"] > 0 and ceiling["num_ops"] == 2


def _peer(n):
    import os
    return {"n": n, "cores": sorted(os.sched_getaffinity(0)), "timing": _bench.time_fn(lambda: None, repeats=3)}


def test_run_peer_runs_in_its_own_pinned_process():
    out = _bench.run_peer(_peer, pin_threads=1, n=3)
    assert out["n"] == 3 and len(out["cores"]) == 1
    assert _bench.Timing.from_dict(out["timing"]).median >= 0


RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench"


@pytest.mark.parametrize("name", ["vae", "rbm", "ssl"])
def test_committed_bench_json_has_both_sides_ratio_from_medians_ceiling_and_load(name):
    path = RESULTS / f"bench_{name}.json"
    if not path.exists():
        pytest.skip(f"{path} not committed")
    d = json.loads(path.read_text())
    for side in ("ours", "peer"):
        assert {"best", "median", "q1", "q3", "min", "max", "times"} <= set(d[side]), side
    assert d["ratio"] == pytest.approx(d["peer"]["median"] / d["ours"]["median"])
    assert d["ratio_best"] == pytest.approx(d["peer"]["best"] / d["ours"]["best"])
    assert 0 < d["ceiling_fraction"]
    assert {"loadavg_before", "loadavg_after", "others_busy_cores", "threads", "cpu"} <= set(d["machine"])
