"""Benchmark: our VAE epoch vs a PyTorch reference of the same model, in one run.

    python scripts/bench_vae.py [--quick] [--json PATH] [--batch-size 256]

Both sides train the 784-400-20 VAE (Gaussian encoder, Bernoulli decoder,
dynamic binarization, Adam 1e-3) on the same MNIST images with the same batch
size and thread count (all cores). Compilation / warm-up is timed apart from the steady
state (the best of ``--repeats`` epochs, median beside it: best-of is robust to
other load on a shared machine). In the same run the machine's fp32 matmul
throughput is measured (best of JAX and PyTorch on a 2048² GEMM), and our
epoch's matmul GFLOP/s is reported as a fraction of it (``roofline_fraction``);
``shape_roofline_fraction`` compares with the step's own GEMM shapes run back to
back, the ceiling for this model at this batch size.

Output keys (``--json``): ``ratio`` = PyTorch epoch seconds / ours (ours faster
when > 1), ``roofline_fraction``, ``ours_epoch_s``, ``torch_epoch_s``,
``matmul_gflops``, ``ours_gflops``, ``torch_gflops``, ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10k examples, 2 timed epochs (under a minute)")
    p.add_argument("--json", default=None, help="write the results table as JSON here")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=None, help="timed epochs per side (default 3, quick 2)")
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    return p.parse_args(argv)


def matmul_flops_per_step(batch: int, hidden: int, latent: int, pixels: int = 784) -> float:
    """fp32 multiply-adds x2 of one VAE training step, matmuls only.

    Forward: x·W1 (784→h), h·[Wμ Wσ] (h→2J), z·W3 (J→h), h·W4 (h→784).
    Backward: two matmuls per layer (weights and inputs) except no input
    gradient for the first layer.
    """
    layers = [(pixels, hidden), (hidden, 2 * latent), (latent, hidden), (hidden, pixels)]
    forward = sum(2 * batch * i * o for i, o in layers)
    return forward + 2 * forward - 2 * batch * pixels * hidden


def _best_seconds(fn, reps: int) -> float:
    """Fastest of ``reps`` timed calls (robust to other load on the machine)."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_matmul_gflops(threads: int, batch: int, hidden: int, latent: int, n: int = 2048, reps: int = 10) -> dict:
    """fp32 matmul throughput: a large square GEMM (JAX and PyTorch, best of each),
    and the VAE step's own matmul shapes run back to back in JAX (its shape-matched ceiling)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    ja, ta = jnp.asarray(a), torch.from_numpy(a)
    square = jax.jit(lambda x: x @ x)
    square(ja).block_until_ready()
    jax_s = _best_seconds(lambda: square(ja).block_until_ready(), reps)
    ta @ ta
    torch_s = _best_seconds(lambda: ta @ ta, reps)

    def vae_matmuls(x, w1, w2, w3, w4):  # the forward and backward GEMMs of one step
        h = x @ w1
        s = h @ w2
        h2 = s[:, :latent] @ w3
        o = h2 @ w4
        gh2 = o @ w4.T
        gs = jnp.concatenate([gh2 @ w3.T] * 2, axis=1)
        return (h2.T @ o, s[:, :latent].T @ gh2, h.T @ gs, x.T @ (gs @ w2.T))

    shapes = [(batch, 784), (784, hidden), (hidden, 2 * latent), (latent, hidden), (hidden, 784)]
    args = [jnp.asarray(rng.standard_normal(shape).astype(np.float32)) for shape in shapes]
    model_mm = jax.jit(vae_matmuls)
    jax.block_until_ready(model_mm(*args))
    model_s = _best_seconds(lambda: jax.block_until_ready(model_mm(*args)), 5 * reps)
    flops = 2 * n**3
    return {"matmul_jax_gflops": flops / jax_s / 1e9, "matmul_torch_gflops": flops / torch_s / 1e9,
            "matmul_gflops": max(flops / jax_s, flops / torch_s) / 1e9,
            "model_matmul_gflops": matmul_flops_per_step(batch, hidden, latent) / model_s / 1e9}


def bench_ours(x, args, repeats: int) -> dict:
    import jax

    from ebm_jax.methods import vae as vae_method
    from ebm_jax.models import vae
    from ebm_jax.train import loop

    model = vae.Autoencoder(latent_dim=args.latent, hidden_dims=(args.hidden,))
    state = vae_method.create_state(jax.random.key(0), model, 1e-3)
    step = vae_method.make_train_step(model, binarization="dynamic")
    mesh = loop.data_mesh(jax.devices()[:1])
    run_epoch = loop._make_run_chunk(step, args.batch_size, mesh)  # the exact function fit() runs
    steps = len(x) // args.batch_size
    data = jax.device_put(x)
    perm = jax.random.permutation(jax.random.key(1), len(x))[: steps * args.batch_size]
    key = jax.random.key(2)
    t = time.perf_counter()
    state, metrics = run_epoch(state, data, perm, 0, key, length=steps)
    jax.block_until_ready(metrics)
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state, metrics = run_epoch(state, data, perm, 0, key, length=steps)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t)
    return {"ours_first_epoch_s": first, "ours_epoch_s": min(times), "ours_epoch_median_s": statistics.median(times),
            "ours_final_loss": float(metrics["loss"][-1]), "steps_per_epoch": steps}


def bench_torch(x, args, repeats: int) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(784, args.hidden)
            self.mean = nn.Linear(args.hidden, args.latent)
            self.logvar = nn.Linear(args.hidden, args.latent)
            self.dec1 = nn.Linear(args.latent, args.hidden)
            self.dec2 = nn.Linear(args.hidden, 784)

        def forward(self, xb):
            h = torch.relu(self.enc(xb))
            mean, logvar = self.mean(h), self.logvar(h)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            logits = self.dec2(torch.relu(self.dec1(z)))
            recon = nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="none").sum(-1)
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
            return (recon + kl).mean()

    model = TorchVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(x)
    steps = len(x) // args.batch_size
    perm = torch.randperm(len(x))[: steps * args.batch_size].view(steps, args.batch_size)

    def epoch():
        for idx in perm:
            xb = torch.bernoulli(data[idx])
            loss = model(xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return float(loss)

    t = time.perf_counter()
    epoch()
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        loss = epoch()
        times.append(time.perf_counter() - t)
    return {"torch_first_epoch_s": first, "torch_epoch_s": min(times), "torch_epoch_median_s": statistics.median(times),
            "torch_final_loss": loss}


def main(argv=None) -> int:
    args = parse_args(argv)
    args.threads = os.cpu_count()  # XLA:CPU uses every core; PyTorch is given the same number
    import jax

    from ebm_jax.data import load_mnist, to_float

    repeats = args.repeats or (2 if args.quick else 3)
    images, _ = load_mnist("train")
    x = to_float(images[:10_000] if args.quick else images)
    peak = measure_matmul_gflops(args.threads, args.batch_size, args.hidden, args.latent)
    ours = bench_ours(x, args, repeats)
    ref = bench_torch(x, args, repeats)
    flops = matmul_flops_per_step(args.batch_size, args.hidden, args.latent) * ours["steps_per_epoch"]
    result = {
        "benchmark": "vae_epoch", "examples": len(x), "batch_size": args.batch_size, "threads": args.threads,
        "model": f"784-{args.hidden}-{args.latent}", "device": jax.devices()[0].device_kind,
        "cpu": platform.processor() or platform.machine(), "jax": jax.__version__,
        **peak, **ours, **ref,
        "ours_gflops": flops / ours["ours_epoch_s"] / 1e9,
        "torch_gflops": flops / ref["torch_epoch_s"] / 1e9,
    }
    result["ratio"] = ref["torch_epoch_s"] / ours["ours_epoch_s"]
    result["roofline_fraction"] = result["ours_gflops"] / result["matmul_gflops"]
    result["torch_roofline_fraction"] = result["torch_gflops"] / result["matmul_gflops"]
    result["shape_roofline_fraction"] = result["ours_gflops"] / result["model_matmul_gflops"]
    rows = [
        ("", "ours (JAX)", "PyTorch"),
        ("first epoch (s, incl. compile)", f"{ours['ours_first_epoch_s']:.3f}", f"{ref['torch_first_epoch_s']:.3f}"),
        ("steady epoch (s, best)", f"{ours['ours_epoch_s']:.3f}", f"{ref['torch_epoch_s']:.3f}"),
        ("steady epoch (s, median)", f"{ours['ours_epoch_median_s']:.3f}", f"{ref['torch_epoch_median_s']:.3f}"),
        ("matmul GFLOP/s achieved", f"{result['ours_gflops']:.1f}", f"{result['torch_gflops']:.1f}"),
        ("fraction of fp32 matmul peak", f"{result['roofline_fraction']:.2f}", f"{result['torch_roofline_fraction']:.2f}"),
        ("final train loss", f"{ours['ours_final_loss']:.1f}", f"{ref['torch_final_loss']:.1f}"),
    ]
    print(f"VAE 784-{args.hidden}-{args.latent}, {len(x)} examples, batch {args.batch_size}, {args.threads} threads, "
          f"device {result['device']}")
    print(f"fp32 matmul peak (2048^2): {result['matmul_gflops']:.1f} GFLOP/s "
          f"(JAX {result['matmul_jax_gflops']:.1f}, PyTorch {result['matmul_torch_gflops']:.1f})")
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>12}  {r[2]:>12}")
    print(f"the step's own GEMMs back to back (JAX): {result['model_matmul_gflops']:.1f} GFLOP/s; "
          f"ours reaches {result['shape_roofline_fraction']:.2f} of that")
    print(f"ratio (PyTorch time / ours): {result['ratio']:.2f}x;  roofline_fraction: {result['roofline_fraction']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
