r"""Benchmark: our Bernoulli-RBM PCD-1 epoch vs scikit-learn's ``BernoulliRBM``.

    python scripts/bench_rbm.py [--quick] [--json PATH] [--threads 1] [--epochs 2]

Same data (fixed-seed binarized MNIST training images), same model (500 hidden
units), same algorithm (PCD-1 with ``batch_size`` persistent chains, plain SGD
with learning rate 0.1 on the mean gradient, no momentum / weight decay, as
``BernoulliRBM``), same cores: both processes are pinned to ``--threads`` cores (scripts/_bench.py;
XLA sizes its thread pools from that), scikit-learn runs in its own process with
numpy's BLAS limited to as many threads. Reports:

* seconds per epoch: one warm-up epoch (our compilation) timed apart, then
  ``--repeats`` epochs each: best, median, interquartile range; ``ratio`` =
  sklearn median / our median (ours faster when > 1), ``ratio_best`` beside it.
  sklearn's epochs are ``BernoulliRBM.fit``'s own loop (``_fit`` per batch),
  timed one epoch at a time;
* ``ceiling_fraction``: the step's own matrix products (found in its traced
  jaxpr: 2 Gibbs half-sweeps, the free-energy forwards, the weight gradients,
  with their transposes) run back to back, x steps, over our epoch (best/best;
  median/median beside), and our GFLOP/s against a 1024^3 GEMM;
* our epoch at a larger batch / number of chains (``--large-batch``, default
  1000, off with ``--quick``), where the matmuls are more efficient;
* each model's pseudo-log-likelihood (the same estimator, sklearn's
  ``score_samples``, on both) and AIS test log-likelihood after the same epochs.

``--quick`` uses 10,000 training images and a short AIS (about a minute on a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import _bench


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k images, short AIS (about a minute)")
    ap.add_argument("--json", default=None, help="write the table as JSON here")
    ap.add_argument("--threads", type=int, default=1, help="cores for both libraries (1 or all)")
    _bench.add_device_arg(ap)
    ap.add_argument("--repeats", type=int, default=None, help="timed epochs per side after one warm-up (default 7)")
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
    args.repeats = args.repeats or 7
    if args.repeats < 3:
        ap.error("--repeats must be >= 3 (a median of fewer means little)")
    args.num_train = args.num_train or (10_000 if args.quick else 60_000)
    if args.large_batch is None:
        args.large_batch = 0 if args.quick else 1000
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    CORES = _bench.setup_device(ARGS.device, ARGS.threads)

import jax  # noqa: E402  (after pinning)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax.data import binarize_fixed, load_mnist, to_float  # noqa: E402
from ebm_jax.methods import rbm as rbm_method  # noqa: E402
from ebm_jax.models import rbm  # noqa: E402
from ebm_jax.models.rbm import ais_log_partition  # noqa: E402
from ebm_jax.train.optim import make_optimizer  # noqa: E402


def load_data(num_train: int, num_test: int):
    """Fixed-binarized MNIST: the first ``num_train`` training images (seed 1), test images (seed 0)."""
    xtr, _ = load_mnist("train")
    xte, _ = load_mnist("test")
    return binarize_fixed(to_float(xtr[:num_train]), seed=1), binarize_fixed(to_float(xte[:num_test]), seed=0)


def make_epoch(batch_size: int):
    step = rbm_method.make_train_step("pcd", 1, binarize=False)

    @jax.jit
    def epoch(state, data, key):
        n = data.shape[0] // batch_size
        perm = jax.random.permutation(jax.random.fold_in(key, state.step), data.shape[0])[: n * batch_size]

        def body(s, idx):
            return step(s, jnp.take(data, idx, axis=0), jax.random.fold_in(key, s.step))

        return jax.lax.scan(body, state, perm.reshape(n, batch_size))

    return epoch, step


def bench_ours(args, x, key, batch_size):
    """Our PCD-1 epochs (one warm-up, ``args.repeats`` timed) and the step's own matmul ceiling."""
    V = x.shape[1]
    kp, kc, ke = jax.random.split(key, 3)
    params = rbm.init_rbm(kp, V, args.hidden, scale=0.01)
    chains = jax.random.bernoulli(kc, 0.5, (batch_size, V)).astype(jnp.float32)
    state = rbm_method.RBMTrainState.create(params, make_optimizer("sgd", args.learning_rate), chains)
    epoch, step = make_epoch(batch_size)
    data = jnp.asarray(x)
    box = {"state": state, "epoch": 0}

    def one_epoch():
        box["state"], box["metrics"] = epoch(box["state"], data, jax.random.fold_in(ke, box["epoch"]))
        box["epoch"] += 1
        return box["metrics"]

    # Our epochs and the step's own matmuls (x steps) round-robin: load that comes and goes falls on both.
    steps = len(x) // batch_size
    ops = _bench.matmul_ops(step, box["state"], data[:batch_size], ke)
    meter = _bench.LoadMeter()
    t = _bench.interleave({"ours": one_epoch, "ceiling": _bench.make_replay(ops, inner=steps)},
                          repeats=args.repeats, warmup=1)
    load = meter.read()
    if not np.isfinite(np.asarray(box["metrics"]["loss"])).all():
        raise FloatingPointError("our RBM's loss became non-finite during the benchmark")
    info = _bench.describe_ops(ops)
    fraction = _bench.paired_fraction(t["ceiling"], t["ours"])
    ceiling = {**info, "epoch": t["ceiling"].as_dict(), "gflops": info["flops"] * steps / t["ceiling"].best / 1e9,
               "fraction": fraction}
    return box["state"].params, t["ours"], ceiling, box["epoch"], load


def sklearn_side(num_train: int, hidden: int, learning_rate: float, batch_size: int, repeats: int, threads: int,
                 params_path: str) -> dict:
    """scikit-learn's BernoulliRBM, in its own process (_bench.run_peer): ``fit``'s loop, one epoch per call."""
    from sklearn.neural_network import BernoulliRBM
    from sklearn.utils import check_random_state, gen_even_slices
    from threadpoolctl import threadpool_limits

    x, _ = load_data(num_train, 1)
    x64 = x.astype(np.float64)  # sklearn's own default dtype path
    with threadpool_limits(limits=threads):
        sk = BernoulliRBM(n_components=hidden, learning_rate=learning_rate, batch_size=batch_size, n_iter=1,
                          random_state=0)
        rng = check_random_state(0)
        n_batches = int(np.ceil(len(x64) / batch_size))
        slices = list(gen_even_slices(n_batches * batch_size, n_batches, n_samples=len(x64)))
        box = {"first": True}

        def epoch():  # BernoulliRBM.fit: the first call initialises (fit with n_iter=1), then its loop body
            if box.pop("first", False):
                sk.fit(x64)
            else:
                for sl in slices:
                    sk._fit(x64[sl], rng)

        timing = _bench.time_fn(epoch, repeats=repeats, warmup=1)
    np.savez(params_path, W=sk.components_.T, b_vis=sk.intercept_visible_, b_hid=sk.intercept_hidden_)
    import sklearn
    return {"timing": timing, "epochs": 1 + repeats, "sklearn": sklearn.__version__}


def evaluate(params, x_test, x_train, key, quick):
    """Pseudo-LL (sklearn's estimator) and AIS test log-likelihood, both on fixed-binarized test data."""
    pll = float(jnp.mean(rbm.pseudo_log_likelihood(key, params, jnp.asarray(x_test))))
    num_betas, num_runs = (1000, 32) if quick else (5000, 64)
    log_z, log_z_std, *_ = ais_log_partition(jax.random.fold_in(key, 1), params, num_betas=num_betas,
                                              num_runs=num_runs, data=x_train)
    ll = float(jnp.mean(-rbm.free_energy(params, jnp.asarray(x_test)))) - log_z
    return {"pseudo_ll": pll, "ais_test_ll": ll, "log_z_std": log_z_std}


def main(args):
    run = _bench.Run("rbm_epoch", CORES, quick=args.quick)
    x, x_test = load_data(args.num_train, 2000 if args.quick else 10000)
    B, H = args.batch_size, args.hidden
    key = jax.random.PRNGKey(0)
    row = {"num_train": len(x), "batch_size": B, "hidden": H, "repeats": args.repeats,
           "learning_rate": args.learning_rate, "algorithm": "PCD-1", "device": jax.devices()[0].platform,
           "binarization": "fixed (train seed 1, test seed 0)"}
    ours_params, t_ours, ceiling, epochs, ours_load = bench_ours(args, x, key, B)
    steps = len(x) // B
    flops = ceiling["flops"] * steps
    square = _bench.square_gemm(1024)
    row.update({"epochs": epochs, "steps_per_epoch": steps, "ours": t_ours.as_dict(), "ceiling": ceiling,
                "flops_per_step": ceiling["flops"], "ours_gflops": flops / t_ours.best / 1e9,
                "ours_gflops_median": flops / t_ours.median / 1e9,
                "ceiling_fraction": ceiling["fraction"]["median"], "ours_load": ours_load,
                "square_gemm_jax": square, "square_fraction": flops / t_ours.best / 1e9 / square["gflops"]})
    row.update({f"ours_{k}": v for k, v in evaluate(ours_params, x_test, x, key, args.quick).items()})
    if args.large_batch and args.large_batch != B and len(x) >= args.large_batch:
        _, t_big, big_ceiling, _, _ = bench_ours(args, x, key, args.large_batch)
        big_steps = len(x) // args.large_batch
        row.update({"large_batch": args.large_batch, "ours_large_batch": t_big.as_dict(),
                    "ours_large_batch_gflops": big_ceiling["flops"] * big_steps / t_big.best / 1e9,
                    "ceiling_large_batch": big_ceiling,
                    "ceiling_fraction_large_batch": big_ceiling["fraction"]["median"]})
    t_peer = None
    if not args.skip_sklearn:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sklearn_params.npz")
            meter = _bench.LoadMeter()
            peer = _bench.run_peer(sklearn_side, pin_threads=args.threads, num_train=args.num_train, hidden=H,
                                   learning_rate=args.learning_rate, batch_size=B, repeats=args.repeats,
                                   threads=args.threads, params_path=path)
            with np.load(path) as f:
                sk_params = rbm.RBMParams(*(jnp.asarray(f[k], jnp.float32) for k in ("W", "b_vis", "b_hid")))
        t_peer = _bench.Timing.from_dict(peer["timing"])
        row.update({"peer": t_peer.as_dict(), "peer_load": meter.read(), "peer_name": f"scikit-learn {peer['sklearn']} BernoulliRBM"})
        row.update({f"sklearn_{k}": v for k, v in evaluate(sk_params, x_test, x, key, args.quick).items()})
    out = run.write(args.json, row, ours=t_ours, peer=t_peer)

    print(f"\nRBM PCD-1, {H} hidden, batch {B}, {len(x)} images, {epochs} epochs each (1 warm-up), "
          f"{args.threads} thread(s), {row['device']}")
    print(f"  ours epoch:    {t_ours}; first (compile) {t_ours.warmup[0]:.2f} s; others used "
          f"{ours_load.get('others_busy_cores', float('nan')):.2f} cores; "
          f"pseudo-LL {row['ours_pseudo_ll']:.2f}, AIS test LL {row['ours_ais_test_ll']:.2f}")
    if t_peer is not None:
        print(f"  sklearn epoch: {t_peer}; pseudo-LL {row['sklearn_pseudo_ll']:.2f}, "
              f"AIS test LL {row['sklearn_ais_test_ll']:.2f}")
        print(f"  ratio (sklearn / ours): {out['ratio']:.2f}x by median, {out['ratio_best']:.2f}x best-of, "
              f"IQR {out['ratio_iqr'][0]:.2f}-{out['ratio_iqr'][1]:.2f}")
    fr = ceiling["fraction"]
    print(f"  the step's own {ceiling['num_ops']} matmuls back to back, round-robin with our epochs: "
          f"{ceiling['gflops']:.1f} GFLOP/s; ours {row['ours_gflops']:.1f} GFLOP/s = {fr['median']:.2f} of it "
          f"(median of rounds, IQR {fr['q1']:.2f}-{fr['q3']:.2f}, best/best {fr['best_over_best']:.2f}); "
          f"1024^3 GEMM {square['gflops']:.1f} GFLOP/s ({row['square_fraction']:.2f})")
    if "large_batch" in row:
        print(f"  ours at batch {row['large_batch']} ({row['large_batch']} chains): "
              f"{_bench.Timing.from_dict(row['ours_large_batch'])}, {row['ours_large_batch_gflops']:.1f} GFLOP/s, "
              f"{row['ceiling_fraction_large_batch']:.2f} of its own ceiling")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
