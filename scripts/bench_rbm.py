r"""Benchmark: our Bernoulli-RBM PCD-1 epoch vs scikit-learn's ``BernoulliRBM``.

    python scripts/bench_rbm.py [--quick] [--json PATH] [--threads 1] [--epochs 2]

Same data (fixed-seed binarized MNIST training images), same model (500 hidden
units), same algorithm (PCD-1 with ``batch_size`` persistent chains, plain SGD
with learning rate 0.1 on the mean gradient, no momentum / weight decay, as
``BernoulliRBM``), same cores: the process is pinned to ``--threads`` cores
(scripts/_threads.py; XLA sizes its thread pools from that) and numpy's BLAS is
limited to as many threads with threadpoolctl. Reports:

* seconds per epoch (steady state; our compile time separately), ``ratio`` =
  sklearn time / ours (ours faster when > 1);
* our achieved GFLOP/s, counting the 6 ``B x V x H`` matrix products of a PCD-1
  step (2 Gibbs half-sweeps, 2 free-energy forwards, 2 weight-gradient products)
  at ``2 B V H`` flops each, and ``roofline_fraction`` = that / the best fp32
  matmul throughput measured in the same run (the best of the step's own
  ``(B, V) @ (V, H)`` shape and a 1024^3 matmul);
* our epoch at a larger batch / number of chains (``--large-batch``, default 1000, off with ``--quick``),
  where the matmuls are more efficient;
* each model's pseudo-log-likelihood (the same estimator, sklearn's
  ``score_samples``, on both) and AIS test log-likelihood after the same epochs.

``--quick`` uses 10,000 training images, 3 epochs (best one timed) and a short AIS (under a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k images, 3 epochs, short AIS (< 1 minute)")
    ap.add_argument("--json", default=None, help="write the table as JSON here")
    ap.add_argument("--threads", type=int, default=1, help="threads for both libraries (1 or all)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs for both (default 3 quick, 2 full)")
    ap.add_argument("--num-train", type=int, default=None, help="training images (default 10k quick, 60k full)")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--learning-rate", type=float, default=0.1)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--large-batch", type=int, default=None,
                    help="also time our epoch at this batch size / number of chains (default 1000; 0 with --quick)")
    args = ap.parse_args(argv)
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    if args.batch_size < 1 or args.hidden < 1 or args.learning_rate <= 0:
        ap.error("--batch-size, --hidden and --learning-rate must be positive")
    args.epochs = args.epochs or (3 if args.quick else 2)
    args.num_train = args.num_train or (10_000 if args.quick else 60_000)
    if args.large_batch is None:
        args.large_batch = 0 if args.quick else 1000
    return args


ARGS = parse_args()
from _threads import limit_cpu_threads  # noqa: E402  (scripts/_threads.py; before jax is imported)

CORES = limit_cpu_threads(ARGS.threads)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from ebm_jax.data import binarize_fixed, load_mnist, to_float  # noqa: E402
from ebm_jax.methods import rbm as rbm_method  # noqa: E402
from ebm_jax.models import rbm  # noqa: E402
from ebm_jax.models.rbm import ais_log_partition  # noqa: E402
from ebm_jax.train.optim import make_optimizer  # noqa: E402


def matmul_gflops(shape_a, shape_b, reps: int) -> float:
    """fp32 matmul throughput (GFLOP/s) of ``reps`` chained products in one jitted scan."""
    ka, kb = jax.random.split(jax.random.PRNGKey(0))
    a = jax.random.normal(ka, shape_a, jnp.float32)
    b = jax.random.normal(kb, shape_b, jnp.float32) / np.sqrt(shape_b[0])

    @jax.jit
    def run(a, b):
        def body(c, _):
            out = (a + c) @ b
            return c + 1e-6 * out[0, 0], None   # a carried dependency so no product is skipped
        return jax.lax.scan(body, jnp.zeros((), jnp.float32), None, length=reps)[0]

    jax.block_until_ready(run(a, b))
    best = np.inf
    for _ in range(3):
        t = time.perf_counter()
        jax.block_until_ready(run(a, b))
        best = min(best, time.perf_counter() - t)
    m, k = shape_a
    n = shape_b[1]
    return 2.0 * m * k * n * reps / best / 1e9


def make_epoch(batch_size: int):
    step = rbm_method.make_train_step("pcd", 1, binarize=False)

    @jax.jit
    def epoch(state, data, key):
        n = data.shape[0] // batch_size
        perm = jax.random.permutation(jax.random.fold_in(key, state.step), data.shape[0])[: n * batch_size]

        def body(s, idx):
            return step(s, jnp.take(data, idx, axis=0), jax.random.fold_in(key, s.step))

        return jax.lax.scan(body, state, perm.reshape(n, batch_size))

    return epoch


def bench_ours(args, x, key):
    V = x.shape[1]
    kp, kc, ke = jax.random.split(key, 3)
    params = rbm.init_rbm(kp, V, args.hidden, scale=0.01)
    chains = jax.random.bernoulli(kc, 0.5, (args.batch_size, V)).astype(jnp.float32)
    state = rbm_method.RBMTrainState.create(params, make_optimizer("sgd", args.learning_rate), chains)
    epoch = make_epoch(args.batch_size)
    data = jnp.asarray(x)
    t = time.perf_counter()
    compiled = epoch.lower(state, data, ke).compile()
    compile_s = time.perf_counter() - t
    times = []
    for e in range(args.epochs):
        t = time.perf_counter()
        state, metrics = compiled(state, data, jax.random.fold_in(ke, e))
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t)
    if not np.isfinite(np.asarray(metrics["loss"])).all():
        raise FloatingPointError("our RBM's loss became non-finite during the benchmark")
    return state.params, compile_s, times


def bench_sklearn(args, x):
    from sklearn.neural_network import BernoulliRBM

    sk = BernoulliRBM(n_components=args.hidden, learning_rate=args.learning_rate, batch_size=args.batch_size,
                      n_iter=args.epochs, random_state=0)
    x64 = x.astype(np.float64)  # sklearn's own default dtype path
    t = time.perf_counter()
    sk.fit(x64)
    total = time.perf_counter() - t
    p = rbm.RBMParams(jnp.asarray(sk.components_.T, jnp.float32), jnp.asarray(sk.intercept_visible_, jnp.float32),
                      jnp.asarray(sk.intercept_hidden_, jnp.float32))
    return p, total / args.epochs


def evaluate(params, x_test, x_train, key, args):
    """Pseudo-LL (sklearn's estimator) and AIS test log-likelihood, both on fixed-binarized test data."""
    pll = float(jnp.mean(rbm.pseudo_log_likelihood(key, params, jnp.asarray(x_test))))
    num_betas, num_runs = (1000, 32) if args.quick else (5000, 64)
    log_z, log_z_std, *_ = ais_log_partition(jax.random.fold_in(key, 1), params, num_betas=num_betas,
                                              num_runs=num_runs, data=x_train)
    ll = float(jnp.mean(-rbm.free_energy(params, jnp.asarray(x_test)))) - log_z
    return {"pseudo_ll": pll, "ais_test_ll": ll, "log_z_std": log_z_std}


def main():
    args = ARGS
    xtr, _ = load_mnist("train")
    xte, _ = load_mnist("test")
    x = binarize_fixed(to_float(xtr[: args.num_train]), seed=1)
    x_test = binarize_fixed(to_float(xte[:2000 if args.quick else 10000]), seed=0)
    B, V, H = args.batch_size, x.shape[1], args.hidden
    steps_per_epoch = len(x) // B
    flops_per_epoch = 6 * 2.0 * B * V * H * steps_per_epoch
    key = jax.random.PRNGKey(0)
    row = {"threads": args.threads, "cores": CORES, "num_train": len(x), "batch_size": B, "hidden": H,
           "epochs": args.epochs, "learning_rate": args.learning_rate, "algorithm": "PCD-1",
           "device": jax.devices()[0].platform, "binarization": "fixed (train seed 1, test seed 0)"}
    with threadpool_limits(limits=args.threads):
        reps = 200 if args.quick else 400
        mm_step = matmul_gflops((B, V), (V, H), reps)
        mm_square = matmul_gflops((1024, 1024), (1024, 1024), 20 if args.quick else 40)
        ours_params, compile_s, ours_times = bench_ours(args, x, key)
        ours_epoch = float(np.min(ours_times))
        row.update({"ours_compile_s": compile_s, "ours_epoch_s": ours_epoch, "ours_epoch_times": ours_times,
                    "matmul_gflops_step_shape": mm_step, "matmul_gflops_1024": mm_square})
        gflops = flops_per_epoch / ours_epoch / 1e9
        peak = max(mm_step, mm_square)
        row.update({"ours_gflops": gflops, "roofline_gflops": peak, "roofline_fraction": gflops / peak,
                    "roofline_fraction_vs_step_shape_matmul": gflops / mm_step})
        row.update({f"ours_{k}": v for k, v in evaluate(ours_params, x_test, x, key, args).items()})
        if args.large_batch and args.large_batch != B and len(x) >= args.large_batch:
            big = argparse.Namespace(**{**vars(args), "batch_size": args.large_batch})
            _, big_compile, big_times = bench_ours(big, x, key)
            big_steps = len(x) // args.large_batch
            big_flops = 6 * 2.0 * args.large_batch * V * H * big_steps
            mm_big = matmul_gflops((args.large_batch, V), (V, H), max(20, reps // 10))
            big_epoch = float(np.min(big_times))
            row.update({"large_batch": args.large_batch, "ours_large_batch_epoch_s": big_epoch,
                        "ours_large_batch_gflops": big_flops / big_epoch / 1e9,
                        "matmul_gflops_large_batch_shape": mm_big,
                        "roofline_fraction_large_batch": big_flops / big_epoch / 1e9 / max(mm_big, mm_square, mm_step)})
        if not args.skip_sklearn:
            sk_params, sk_epoch = bench_sklearn(args, x)
            row.update({"sklearn_epoch_s": sk_epoch, "ratio": sk_epoch / ours_epoch})
            row.update({f"sklearn_{k}": v for k, v in evaluate(sk_params, x_test, x, key, args).items()})

    print(f"\nRBM PCD-1, {H} hidden, batch {B}, {len(x)} images, {args.epochs} epoch(s), {args.threads} thread(s), "
          f"{row['device']}")
    print(f"{'':10s} {'s/epoch':>9s} {'GFLOP/s':>9s} {'pseudo-LL':>10s} {'AIS test LL':>12s}")
    print(f"{'ours':10s} {ours_epoch:9.3f} {gflops:9.1f} {row['ours_pseudo_ll']:10.2f} {row['ours_ais_test_ll']:12.2f}")
    if "sklearn_epoch_s" in row:
        sk_gflops = flops_per_epoch * 5 / 6 / row["sklearn_epoch_s"] / 1e9
        print(f"{'sklearn':10s} {row['sklearn_epoch_s']:9.3f} {sk_gflops:9.1f} {row['sklearn_pseudo_ll']:10.2f} "
              f"{row['sklearn_ais_test_ll']:12.2f}")
        print(f"ratio (sklearn / ours): {row['ratio']:.2f}x")
    print(f"matmul fp32: {mm_step:.1f} GFLOP/s at ({B},{V})@({V},{H}), {mm_square:.1f} GFLOP/s at 1024^3; "
          f"roofline_fraction {row['roofline_fraction']:.3f} "
          f"(vs step-shape matmul {row['roofline_fraction_vs_step_shape_matmul']:.3f}); compile {compile_s:.2f} s")
    if "large_batch" in row:
        print(f"ours at batch {row['large_batch']} ({row['large_batch']} chains): "
              f"{row['ours_large_batch_epoch_s']:.3f} "
              f"s/epoch, {row['ours_large_batch_gflops']:.1f} GFLOP/s, roofline_fraction "
              f"{row['roofline_fraction_large_batch']:.3f} (matmul at that shape "
              f"{row['matmul_gflops_large_batch_shape']:.1f} GFLOP/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
