r"""Benchmark: wall-clock time to a fixed quality, ebm_jax vs its peer, training the same recipe.

    python scripts/bench_time_to_quality.py [--quick] [--json PATH] [--threads N] [--part all|vae|rbm]

Two races, each side on the same pinned cores (all by default), the peer in its
own process (scripts/_bench.py), one after the other:

* **VAE** (the practicum recipe, experiments/configs/vae_mnist.py defaults):
  784-400-20 Gaussian encoder / Bernoulli decoder, batch 64, Adam 2e-3 with
  cosine decay to 0 over 20 epochs, dynamic binarization of the 60,000 training
  images; ours (:mod:`ebm_jax.methods.vae`, the epoch :func:`ebm_jax.train.fit`
  compiles) against a PyTorch reference of the same model started from the
  *same initial weights*, same schedule (``LambdaLR`` with optax's cosine
  formula), same batch, its own epoch permutations and Bernoulli draws. After
  every epoch both evaluate the test −ELBO (one ``z`` per image, analytic KL,
  :func:`ebm_jax.eval.likelihood.evaluate_elbo` for ours and the same
  estimator in PyTorch) on the fixed-seed binarization of the 10,000 test
  images (seed 0; the same array for both). Training stops at the first epoch
  with −ELBO ≤ ``--vae-threshold`` (100 nats) or after 20 epochs.
* **RBM** (as scripts/bench_rbm.py): 500 hidden units, PCD-1 with 100
  persistent chains, plain SGD lr 0.1, batch 100, on the fixed-seed binarized
  training images (seed 1); ours (:mod:`ebm_jax.methods.rbm`) against
  scikit-learn's ``BernoulliRBM`` (same lr, batch, hidden units; float32 data,
  which it keeps). Quality: the *exact* pseudo-log-likelihood
  ``Σ_i log p(v_i | v_-i)`` (all 784 one-bit flips, no sampling; the expectation
  of the estimate ``score_samples`` draws), mean over a fixed subset of the
  fixed-binarized test images, computed by one JAX function from each side's
  weights. Both stop at the first epoch with PLL ≥ ``--rbm-threshold`` (or
  after ``--rbm-max-epochs``): after each of its epochs scikit-learn saves its
  weights and waits, outside its clock, while the main process evaluates them
  and tells it whether to go on.

Clocks: ``train_s`` is the wall clock of the training epochs only, summed up
to and including the crossing epoch; it includes our first epoch's XLA
compilation (what a user waits for), which is also estimated apart
(``compile_s_est`` = first epoch − median of the others) with a ratio without
it beside. Evaluation time is excluded from ``train_s`` and reported apart
(``eval_s`` per epoch). ``ratio`` = peer seconds / our seconds to the
threshold (ours faster when > 1): the top-level ``ratio`` is the VAE's
(``ratios`` holds both). The load while each side ran is recorded.

``--quick``: 10,000 training images, looser thresholds (VAE 125 nats with the
cosine over 5 epochs, RBM PLL ≥ −130 on 300 test images), a few minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

import _bench


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="10k images, looser thresholds (a few minutes)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--threads", type=int, default=0, help="cores for both sides (default: all)")
    p.add_argument("--part", choices=("all", "vae", "rbm"), default="all",
                   help="run one race; with --json an existing file's other race (same --quick, --threads) is kept")
    p.add_argument("--num-train", type=int, default=None, help="training images (default 60k; 10k quick)")
    p.add_argument("--vae-threshold", type=float, default=None, help="test -ELBO in nats (default 100; quick 125)")
    p.add_argument("--vae-epochs", type=int, default=None,
                   help="cosine schedule length = most epochs (default 20, the config's; quick 5)")
    p.add_argument("--rbm-threshold", type=float, default=None, help="exact PLL (default -100; quick -130)")
    p.add_argument("--rbm-max-epochs", type=int, default=None, help="most RBM epochs (default 10; quick 3)")
    p.add_argument("--rbm-eval", type=int, default=None, help="test images for the PLL (default 1000; quick 300)")
    args = p.parse_args(argv)
    q = args.quick
    args.num_train = args.num_train or (10_000 if q else 60_000)
    args.vae_threshold = args.vae_threshold if args.vae_threshold is not None else (125.0 if q else 100.0)
    args.vae_epochs = args.vae_epochs or (5 if q else 20)
    args.rbm_threshold = args.rbm_threshold if args.rbm_threshold is not None else (-130.0 if q else -100.0)
    args.rbm_max_epochs = args.rbm_max_epochs or (3 if q else 10)
    args.rbm_eval = args.rbm_eval or (300 if q else 1000)
    if min(args.num_train, args.vae_epochs, args.rbm_max_epochs, args.rbm_eval) < 1:
        p.error("--num-train, --vae-epochs, --rbm-max-epochs and --rbm-eval must be positive")
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    CORES = _bench.pin_cores(ARGS.threads)

# The recipes (experiments/configs/vae_mnist.py defaults; scripts/bench_rbm.py).
VAE = {"hidden": 400, "latent": 20, "batch_size": 64, "learning_rate": 2e-3}
RBM = {"hidden": 500, "batch_size": 100, "learning_rate": 0.1}


def crossing(curve: list[dict], key: str, ok) -> dict:
    """The first epoch of ``curve`` whose ``key`` passes ``ok``: its epoch, training seconds up to it (with and
    without the first epoch's compile estimate) and value; ``reached: False`` (and the last value) if none."""
    train = [c["train_s"] for c in curve]
    compile_s = train[0] - statistics.median(train[1:]) if len(train) > 1 else 0.0
    for c in curve:
        if ok(c[key]):
            return {"reached": True, "epoch": c["epoch"], "seconds": c["cum_train_s"],
                    "seconds_without_compile": c["cum_train_s"] - max(0.0, compile_s), "value": c[key],
                    "compile_s_est": compile_s, "eval_s_total": sum(x["eval_s"] for x in curve[: c["epoch"]])}
    return {"reached": False, "epochs_run": len(curve), "last_value": curve[-1][key], "compile_s_est": compile_s}


def race(ours: dict, peer: dict) -> dict:
    """``ratio`` = peer seconds / our seconds to the threshold (None when one side did not reach it)."""
    if not (ours["reached"] and peer["reached"]):
        return {"ratio": None, "ratio_without_compile": None}
    return {"ratio": peer["seconds"] / ours["seconds"],
            "ratio_without_compile": peer["seconds_without_compile"] / ours["seconds_without_compile"]}


# --------------------------------------------------------------------------- VAE


def load_vae_data(num_train: int):
    from ebm_jax.data import binarize_fixed, load_mnist, to_float

    x_train = to_float(load_mnist("train")[0][:num_train])
    x_test = binarize_fixed(to_float(load_mnist("test")[0]))  # seed 0, as experiments/vae_mnist.py
    return x_train, x_test


def vae_ours(x_train, x_test, args, params_path: str) -> dict:
    """Our VAE, epoch by epoch (the epoch fit() compiles), evaluating after each; saves the initial weights."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    from ebm_jax.eval.likelihood import evaluate_elbo
    from ebm_jax.methods import vae as vae_method
    from ebm_jax.models import vae
    from ebm_jax.train import loop

    B = VAE["batch_size"]
    model = vae.Autoencoder(latent_dim=VAE["latent"], hidden_dims=(VAE["hidden"],))
    steps = len(x_train) // B
    key = jax.random.key(0)
    state = vae_method.create_state(jax.random.fold_in(key, 0), model, VAE["learning_rate"], schedule="cosine",
                                    total_steps=args.vae_epochs * steps)
    p = jax.device_get(state.params)
    np.savez(params_path, **{f"params/{k}": np.asarray(v) for k, v in _flat(p)})
    mesh = loop.data_mesh(jax.devices()[:1])
    replicated = NamedSharding(mesh, PartitionSpec())
    state = jax.device_put(state, replicated)  # placed as fit() places it (no second compile)
    data = jax.device_put(x_train, replicated)
    run_epoch = loop._make_run_chunk(vae_method.make_train_step(model, binarization="dynamic"), B, mesh)
    data_key, step_key = jax.random.split(jax.random.fold_in(key, 1))
    permutation = jax.jit(lambda e: jax.random.permutation(jax.random.fold_in(data_key, e), len(x_train))[: steps * B])
    curve, cum = [], 0.0
    meter = _bench.LoadMeter()
    for epoch in range(args.vae_epochs):
        t0 = time.perf_counter()
        state, metrics = run_epoch(state, data, permutation(epoch), 0, steps, step_key, capacity=steps)
        loss = float(metrics["loss"][-1])  # waits for the epoch
        t1 = time.perf_counter()
        test = evaluate_elbo(model, state.params, x_test, jax.random.fold_in(key, 100 + epoch))
        t2 = time.perf_counter()
        cum += t1 - t0
        curve.append({"epoch": epoch + 1, "train_s": t1 - t0, "cum_train_s": cum, "eval_s": t2 - t1,
                      "train_loss_last": loss, "test_neg_elbo": test["neg_elbo"]})
        print(f"  ours  epoch {epoch + 1:2d}: {t1 - t0:6.2f} s train, {t2 - t1:5.2f} s eval, "
              f"test -ELBO {test['neg_elbo']:.2f}", flush=True)
        if test["neg_elbo"] <= args.vae_threshold:
            break
    return {"curve": curve, "load": meter.read(), "steps_per_epoch": steps}


def _flat(tree, prefix=""):
    for k, v in tree.items():
        if hasattr(v, "items"):
            yield from _flat(v, f"{prefix}{k}/")
        else:
            yield f"{prefix}{k}", v


def vae_torch(data_path: str, params_path: str, epochs: int, threshold: float, threads: int) -> dict:
    """The PyTorch reference (its own process, see _bench.run_peer): same weights at start, same recipe."""
    import torch
    from _torch_models import torch_vae

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    H, J, B = VAE["hidden"], VAE["latent"], VAE["batch_size"]

    model = torch_vae(H, J)
    names = {"enc": "encoder/trunk/dense_0", "mean": "encoder/mean", "logvar": "encoder/logvar",
             "dec1": "decoder/trunk/dense_0", "dec2": "decoder/trunk/dense_1"}
    with np.load(params_path) as f, torch.no_grad():
        for ours_name, flax_name in names.items():
            layer = getattr(model, ours_name)
            layer.weight.copy_(torch.from_numpy(f[f"params/{flax_name}/kernel"].T.copy()))
            layer.bias.copy_(torch.from_numpy(f[f"params/{flax_name}/bias"]))
    with np.load(data_path) as f:
        x_train, x_test = torch.from_numpy(f["x_train"]), torch.from_numpy(f["x_test"])
    steps = len(x_train) // B
    total = epochs * steps
    opt = torch.optim.Adam(model.parameters(), lr=VAE["learning_rate"])
    # optax.cosine_decay_schedule(lr, total): lr * 0.5 * (1 + cos(pi * min(t, total) / total)) at step t
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
    curve, cum = [], 0.0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x_train))[: steps * B].view(steps, B)
        for idx in perm:
            xb = x_train[idx]
            xb = (torch.rand_like(xb) < xb).to(xb.dtype)  # a Bernoulli draw; 2x faster than torch.bernoulli
            recon, kl = model.terms(xb)
            loss = (recon + kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        loss = float(loss.detach())
        t1 = time.perf_counter()
        with torch.no_grad():
            neg_elbo = float(torch.cat([sum(model.terms(x_test[i:i + 1000])) for i in range(0, len(x_test), 1000)])
                             .mean())
        t2 = time.perf_counter()
        cum += t1 - t0
        curve.append({"epoch": epoch + 1, "train_s": t1 - t0, "cum_train_s": cum, "eval_s": t2 - t1,
                      "train_loss_last": loss, "test_neg_elbo": neg_elbo})
        print(f"  torch epoch {epoch + 1:2d}: {t1 - t0:6.2f} s train, {t2 - t1:5.2f} s eval, "
              f"test -ELBO {neg_elbo:.2f}", flush=True)
        if neg_elbo <= threshold:
            break
    return {"curve": curve, "torch": torch.__version__, "threads": torch.get_num_threads()}


def bench_vae(args) -> dict:
    x_train, x_test = load_vae_data(args.num_train)
    out = {"recipe": {**VAE, "model": f"784-{VAE['hidden']}-{VAE['latent']}", "optimizer": "adam",
                      "schedule": f"cosine to 0 over {args.vae_epochs} epochs", "num_train": len(x_train),
                      "num_test": len(x_test), "binarization": "train: dynamic (fresh Bernoulli per batch); "
                      "test: fixed-seed Bernoulli (seed 0), the same array for both",
                      "metric": "test -ELBO (nats; one z per image, analytic KL)", "init": "the same weights"},
           "threshold": args.vae_threshold, "max_epochs": args.vae_epochs}
    print(f"VAE to test -ELBO <= {args.vae_threshold} nats ({len(x_train)} images, at most {args.vae_epochs} epochs)")
    with tempfile.TemporaryDirectory() as tmp:
        params_path, data_path = os.path.join(tmp, "init.npz"), os.path.join(tmp, "data.npz")
        ours = vae_ours(x_train, x_test, args, params_path)
        np.savez(data_path, x_train=x_train, x_test=x_test)
        meter = _bench.LoadMeter()
        peer = _bench.run_peer(vae_torch, pin_threads=args.threads, data_path=data_path, params_path=params_path,
                               epochs=args.vae_epochs, threshold=args.vae_threshold, threads=len(CORES))
        peer["load"] = meter.read()
    below = lambda v: v <= args.vae_threshold  # noqa: E731
    ours["crossing"], peer["crossing"] = crossing(ours["curve"], "test_neg_elbo", below), \
        crossing(peer["curve"], "test_neg_elbo", below)
    out.update({"ours": ours, "peer": peer, "peer_name": f"PyTorch {peer['torch']}, {peer['threads']} thread(s)"},
               **race(ours["crossing"], peer["crossing"]))
    return out


# --------------------------------------------------------------------------- RBM


def exact_pll_fn(chunk: int = 16):
    """``(W, b_vis, b_hid, v) -> (N,)``: ``Σ_i log p(v_i | v_-i)`` over every visible unit ``i`` (exact)."""
    import jax
    import jax.numpy as jnp

    def softplus(x):
        return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))

    @jax.jit
    def pll(W, b_vis, b_hid, v):
        n, V = v.shape
        pad = (-V) % chunk
        pre = v @ W + b_hid                                  # (N, H)
        base = jnp.sum(softplus(pre), -1)                     # (N,)
        sign = jnp.pad(1.0 - 2.0 * v, ((0, 0), (0, pad)))    # +1: the bit flips 0 -> 1
        Wp, bp = jnp.pad(W, ((0, pad), (0, 0))), jnp.pad(b_vis, (0, pad))

        def block(i):
            s = jax.lax.dynamic_slice_in_dim(sign, i * chunk, chunk, 1)               # (N, c)
            w = jax.lax.dynamic_slice_in_dim(Wp, i * chunk, chunk, 0)                # (c, H)
            b = jax.lax.dynamic_slice_in_dim(bp, i * chunk, chunk, 0)                # (c,)
            sp = jnp.sum(softplus(pre[:, None, :] + s[:, :, None] * w[None]), -1)  # (N, c)
            gap = -s * b - (sp - base[:, None])                                       # F(flipped) - F(v)
            valid = (i * chunk + jnp.arange(chunk)) < V
            return jnp.sum(jnp.where(valid, jax.nn.log_sigmoid(gap), 0.0), -1)

        return jnp.sum(jax.lax.map(block, jnp.arange((V + pad) // chunk)), 0)

    return pll


def load_rbm_data(num_train: int, num_eval: int):
    from ebm_jax.data import binarize_fixed, load_mnist, to_float

    x = binarize_fixed(to_float(load_mnist("train")[0][:num_train]), seed=1)
    x_eval = binarize_fixed(to_float(load_mnist("test")[0][:num_eval]), seed=0)
    return x, x_eval


def rbm_ours(x, x_eval, args, pll) -> dict:
    import jax
    import jax.numpy as jnp

    from ebm_jax.methods import rbm as rbm_method
    from ebm_jax.models import rbm
    from ebm_jax.train.optim import make_optimizer
    from bench_rbm import make_epoch

    B = RBM["batch_size"]
    kp, kc, ke = jax.random.split(jax.random.PRNGKey(0), 3)
    params = rbm.init_rbm(kp, x.shape[1], RBM["hidden"], scale=0.01)
    chains = jax.random.bernoulli(kc, 0.5, (B, x.shape[1])).astype(jnp.float32)
    state = rbm_method.RBMTrainState.create(params, make_optimizer("sgd", RBM["learning_rate"]), chains)
    epoch_fn, _ = make_epoch(B)
    data, v_eval = jnp.asarray(x), jnp.asarray(x_eval)
    curve, cum = [], 0.0
    meter = _bench.LoadMeter()
    for epoch in range(args.rbm_max_epochs):
        t0 = time.perf_counter()
        state, metrics = epoch_fn(state, data, jax.random.fold_in(ke, epoch))
        jax.block_until_ready(state)
        t1 = time.perf_counter()
        value = float(jnp.mean(pll(*state.params, v_eval)))
        t2 = time.perf_counter()
        cum += t1 - t0
        curve.append({"epoch": epoch + 1, "train_s": t1 - t0, "cum_train_s": cum, "eval_s": t2 - t1,
                      "exact_pll": value})
        print(f"  ours    epoch {epoch + 1:2d}: {t1 - t0:6.2f} s train, {t2 - t1:5.2f} s eval, exact PLL {value:.2f}",
              flush=True)
        if value >= args.rbm_threshold:
            break
    return {"curve": curve, "load": meter.read()}


def rbm_sklearn(epochs: int, threads: int, out_dir: str) -> dict:
    """scikit-learn's BernoulliRBM (its own process): ``fit``'s loop one epoch at a time. After each epoch
    (outside the clock) it saves its weights and its own stochastic ``score_samples`` on the eval subset, then
    waits for the main process to evaluate them and say whether to go on (the threshold reached: stop)."""
    from sklearn.neural_network import BernoulliRBM
    from sklearn.utils import check_random_state, gen_even_slices
    from threadpoolctl import threadpool_limits

    with np.load(os.path.join(out_dir, "data.npz")) as f:
        x, x_eval = f["x"], f["x_eval"]  # float32: BernoulliRBM keeps the dtype
    curve, cum = [], 0.0
    with threadpool_limits(limits=threads):
        sk = BernoulliRBM(n_components=RBM["hidden"], learning_rate=RBM["learning_rate"],
                          batch_size=RBM["batch_size"], n_iter=1, random_state=0)
        rng = check_random_state(0)
        n_batches = int(np.ceil(len(x) / RBM["batch_size"]))
        slices = list(gen_even_slices(n_batches * RBM["batch_size"], n_batches, n_samples=len(x)))
        for epoch in range(epochs):
            t0 = time.perf_counter()
            if epoch == 0:  # fit initialises and runs the first epoch (n_iter=1) ...
                sk.fit(x)
            else:           # ... then fit's own loop body, one epoch per pass
                for sl in slices:
                    sk._fit(x[sl], rng)
            t1 = time.perf_counter()
            score = float(np.mean(sk.score_samples(x_eval)))
            cum += t1 - t0
            curve.append({"epoch": epoch + 1, "train_s": t1 - t0, "cum_train_s": cum,
                          "sklearn_score_samples": score})
            print(f"  sklearn epoch {epoch + 1:2d}: {t1 - t0:6.2f} s train, score_samples {score:.2f}", flush=True)
            path = os.path.join(out_dir, f"epoch{epoch + 1}")
            np.savez(path + ".tmp.npz", W=sk.components_.T, b_vis=sk.intercept_visible_, b_hid=sk.intercept_hidden_)
            os.replace(path + ".tmp.npz", path + ".npz")
            while not os.path.exists(path + ".verdict"):  # the main process evaluates; we do not compete with it
                time.sleep(0.05)
            with open(path + ".verdict") as f:
                if f.read().strip() == "stop":
                    break
    import sklearn
    return {"curve": curve, "sklearn": sklearn.__version__, "dtype": str(x.dtype)}


def bench_rbm(args) -> dict:
    import jax.numpy as jnp

    x, x_eval = load_rbm_data(args.num_train, args.rbm_eval)
    pll = exact_pll_fn()
    print(f"RBM to exact PLL >= {args.rbm_threshold} on {len(x_eval)} test images ({len(x)} training images, "
          f"at most {args.rbm_max_epochs} epochs)")
    ours = rbm_ours(x, x_eval, args, pll)
    v_eval = jnp.asarray(x_eval)
    evals = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, "data.npz"), x=x, x_eval=x_eval)
        box = {}

        def peer_thread():
            try:
                box["peer"] = _bench.run_peer(rbm_sklearn, pin_threads=args.threads, epochs=args.rbm_max_epochs,
                                              threads=len(CORES), out_dir=tmp)
            except BaseException as e:  # noqa: BLE001 (re-raised below)
                box["error"] = e

        meter = _bench.LoadMeter()
        thread = threading.Thread(target=peer_thread)
        thread.start()
        epoch = 1
        while thread.is_alive():  # evaluate each epoch's weights while the peer waits (outside its clock)
            path = os.path.join(tmp, f"epoch{epoch}")
            if not os.path.exists(path + ".npz"):
                time.sleep(0.05)
                continue
            t0 = time.perf_counter()
            with np.load(path + ".npz") as f:
                w = [jnp.asarray(f[k], jnp.float32) for k in ("W", "b_vis", "b_hid")]
            value = float(jnp.mean(pll(*w, v_eval)))
            evals[epoch] = (value, time.perf_counter() - t0)
            print(f"  sklearn epoch {epoch:2d}: exact PLL {value:.2f}", flush=True)
            with open(path + ".verdict", "w") as f:
                f.write("stop" if value >= args.rbm_threshold else "go")
            epoch += 1
        thread.join()
        if "error" in box:
            raise box["error"]
        peer = box["peer"]
        peer["load"] = meter.read()
    for c in peer["curve"]:
        c["exact_pll"], c["eval_s"] = evals[c["epoch"]]
    above = lambda v: v >= args.rbm_threshold  # noqa: E731
    ours["crossing"], peer["crossing"] = crossing(ours["curve"], "exact_pll", above), \
        crossing(peer["curve"], "exact_pll", above)
    return {"recipe": {**RBM, "algorithm": "PCD-1 (batch_size persistent chains), SGD, no momentum / decay",
                       "num_train": len(x), "binarization": "fixed (train seed 1, eval seed 0)",
                       "metric": f"exact pseudo-log-likelihood (sum over all 784 one-bit flips), mean over the "
                                 f"first {len(x_eval)} fixed-binarized test images"},
            "threshold": args.rbm_threshold, "max_epochs": args.rbm_max_epochs, "ours": ours, "peer": peer,
            "peer_name": f"scikit-learn {peer['sklearn']} BernoulliRBM ({peer['dtype']}, {len(CORES)} BLAS threads)",
            **race(ours["crossing"], peer["crossing"])}


# --------------------------------------------------------------------------- main


def _line(name: str, c: dict, unit: str) -> str:
    if not c["reached"]:
        return f"  {name:8s} not reached in {c['epochs_run']} epochs (last {c['last_value']:.2f} {unit})"
    return (f"  {name:8s} epoch {c['epoch']:2d}, {c['seconds']:7.2f} s of training "
            f"({c['seconds_without_compile']:.2f} s without the first epoch's compile estimate "
            f"{c['compile_s_est']:.2f} s; evaluation {c['eval_s_total']:.2f} s apart): {c['value']:.2f} {unit}")


def main(args) -> int:
    run = _bench.Run("time_to_quality", CORES, quick=args.quick)
    fields: dict = {"threads": len(CORES)}
    if args.part != "all" and args.json and os.path.exists(args.json):  # keep the other part of an earlier run
        with open(args.json) as f:
            earlier = json.load(f)
        if earlier.get("quick") == args.quick and earlier.get("threads") == len(CORES):
            fields.update({k: earlier[k] for k in ("vae", "rbm") if k in earlier and k != args.part})
    for part, bench in (("vae", bench_vae), ("rbm", bench_rbm)):
        if args.part in ("all", part):
            fields[part] = bench(args)
            fields[part]["machine"] = run.result({})["machine"]  # each part's own record (parts may run apart)
    fields["ratios"] = {k: fields[k]["ratio"] for k in ("vae", "rbm") if k in fields}
    fields["ratio"] = fields["ratios"].get("vae", fields["ratios"].get("rbm"))
    fields["eval_time"] = "excluded from the training seconds, reported apart (eval_s per epoch, eval_s_total)"
    run.write(args.json, fields)
    for part, unit in (("vae", "nats -ELBO"), ("rbm", "exact PLL")):
        if part not in fields:
            continue
        r = fields[part]
        print(f"{part.upper()} to {r['threshold']} ({unit}), {len(CORES)} thread(s):")
        print(_line("ours", r["ours"]["crossing"], unit) + f"; others used "
              f"{r['ours']['load'].get('others_busy_cores', float('nan')):.2f} cores")
        print(_line("peer", r["peer"]["crossing"], unit) + f" [{r['peer_name']}]; others used "
              f"{r['peer']['load'].get('others_busy_cores', float('nan')):.2f} cores")
        if r["ratio"] is not None:
            print(f"  ratio (peer / ours): {r['ratio']:.2f}x, {r['ratio_without_compile']:.2f}x without compile")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
