r"""Benchmark: one SimCLR training step, ebm_jax (JAX/XLA) vs a PyTorch reference, on CPU.

    python scripts/bench_ssl.py [--quick] [--json PATH] [--batch-size 256]

Both sides run the same step on the same MNIST images with the same thread count:
two augmented views per image (random resized crop + rotation + shear + elastic
warp by bilinear resampling, random erasing, Gaussian noise), the same encoder
(3x3 stride-2 convs 32/64/128 + ReLU, dense 2048->256, head 256->256->64),
NT-Xent (τ = 0.5) over the 2B views, and one AdamW update.

Reported: ``images_per_s`` = augmented views processed per second (2B per step)
in steady state; compilation / warm-up is reported separately ("first step s":
for the in-scan rows, compiling plus running the first scan). Ours runs the step
as the training loop does, ``timed_steps`` steps inside one ``lax.scan`` (per-step
time = best of two scans / steps), with im2col convolutions (the default) and with
XLA convolutions, plus the XLA-conv step jitted on its own. PyTorch runs with 1 and with ``cpu_count`` intra-op threads (on a
shared, loaded machine its OpenMP pool can be many times slower with more
threads); the ratio is against the faster of the two. ``ratio`` = ours / PyTorch (ours faster when > 1). ``epoch_s_est`` is
the steady-state time of the 60000 // B steps of one MNIST epoch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np


def _load_images(n):
    from ebm_jax.data import load_mnist, to_float
    return to_float(load_mnist("train")[0][:n], flatten=False)


def bench_jax(images, batch, warmup, iters, conv, in_scan=True):
    import jax
    import jax.numpy as jnp
    import optax

    from ebm_jax.data.augment import AugmentConfig
    from ebm_jax.models.ssl import SSLNet
    from ebm_jax.ssl import create_simclr_state, make_simclr_step

    model = SSLNet(conv=conv)
    state = create_simclr_state(model, optax.adamw(1e-3, weight_decay=1e-4), jax.random.key(0))
    step_fn = make_simclr_step(AugmentConfig(), 0.5)
    x = jnp.asarray(images[:batch])
    batch_d = {"image": x, "index": jnp.arange(batch, dtype=jnp.int32)}
    if not in_scan:
        step = jax.jit(step_fn, donate_argnums=0)
        t0 = time.perf_counter()
        state, m = step(state, batch_d, jax.random.key(0))
        jax.block_until_ready(m)
        compile_s = time.perf_counter() - t0
        for i in range(warmup):
            state, m = step(state, batch_d, jax.random.key(i + 1))
        jax.block_until_ready(m)
        times = []
        for i in range(iters):
            t = time.perf_counter()
            state, m = step(state, batch_d, jax.random.key(100 + i))
            jax.block_until_ready(m)
            times.append(time.perf_counter() - t)
        return compile_s, times, float(m["loss"])
    # As the training loop runs it: `iters` steps in one compiled lax.scan (timed twice, best).
    run = jax.jit(lambda s, ks: jax.lax.scan(lambda s, k: step_fn(s, batch_d, k), s, ks), donate_argnums=0)
    t0 = time.perf_counter()
    state, m = run(state, jax.random.split(jax.random.key(0), iters))
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0
    times = []
    for r in range(2):
        t = time.perf_counter()
        state, m = run(state, jax.random.split(jax.random.key(r + 1), iters))
        jax.block_until_ready(m)
        times.append((time.perf_counter() - t) / iters)
    return compile_s, [min(times)], float(m["loss"][-1])


def bench_torch(images, batch, warmup, iters, threads):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(2048, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 64))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.from_numpy(np.asarray(images[:batch]))[:, None]

    def augment(x):
        b = x.shape[0]
        area = torch.empty(b).uniform_(0.4, 1.0)
        r = torch.exp(torch.empty(b).uniform_(math.log(3 / 4), math.log(4 / 3)))
        sx, sy = torch.sqrt(area * r).clamp(max=1), torch.sqrt(area / r).clamp(max=1)
        cx = torch.empty(b).uniform_(-1, 1) * (1 - sx)
        cy = torch.empty(b).uniform_(-1, 1) * (1 - sy)
        th = torch.deg2rad(torch.empty(b).uniform_(-15, 15))
        sh = torch.tan(torch.deg2rad(torch.empty(b).uniform_(-10, 10)))
        c, s = torch.cos(th), torch.sin(th)
        one, zero = torch.ones(b), torch.zeros(b)
        rot = torch.stack([torch.stack([c, -s], 1), torch.stack([s, c], 1)], 1)  # on (y, x), as ours
        shear = torch.stack([torch.stack([one, zero], 1), torch.stack([sh, one], 1)], 1)
        lin = rot @ shear @ torch.diag_embed(torch.stack([sy, sx], 1))
        lin = lin.flip(1).flip(2)  # (y, x) -> (x, y) order of affine_grid
        theta = torch.cat([lin, torch.stack([cx, cy], 1)[:, :, None]], 2)
        grid = F.affine_grid(theta, x.shape, align_corners=False)
        disp = F.interpolate(torch.randn(b, 2, 4, 4) * (2.0 / 28), size=(28, 28), mode="bilinear",
                             align_corners=True).permute(0, 2, 3, 1)
        out = F.grid_sample(x, grid + disp, mode="bilinear", padding_mode="zeros", align_corners=False)
        # random erasing (p = 0.5, area 2-15 %)
        ea = torch.empty(b).uniform_(0.02, 0.15) * 784
        er = torch.exp(torch.empty(b).uniform_(math.log(0.3), math.log(3.3)))
        eh, ew = torch.sqrt(ea / er).clamp(1, 28), torch.sqrt(ea * er).clamp(1, 28)
        y0, x0 = torch.rand(b) * (28 - eh), torch.rand(b) * (28 - ew)
        rows = torch.arange(28.0)
        my = (rows[None] >= y0[:, None]) & (rows[None] < (y0 + eh)[:, None])
        mx = (rows[None] >= x0[:, None]) & (rows[None] < (x0 + ew)[:, None])
        on = torch.rand(b) < 0.5
        mask = (my[:, :, None] & mx[:, None, :] & on[:, None, None])[:, None]
        out = out.masked_fill(mask, 0.0)
        return (out + 0.05 * torch.randn_like(out)).clamp(0, 1)

    def nt_xent(z, n, t=0.5):
        z = F.normalize(z, dim=1)
        logits = z @ z.t() / t
        logits.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(logits, target)

    def step():
        with torch.no_grad():
            v = augment(torch.cat([x, x]))
        loss = nt_xent(net(v), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    t0 = time.perf_counter()
    step()
    first_s = time.perf_counter() - t0
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t)
    return first_s, times, loss


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer timed steps (under a minute)")
    p.add_argument("--json", default=None, help="write the table as JSON here")
    p.add_argument("--batch-size", type=int, default=256, help="positive pairs per step (2B views)")
    p.add_argument("--threads", type=int, default=0,
                   help="PyTorch intra-op threads (0: try 1 and cpu_count, compare against the faster)")
    p.add_argument("--no-xla", action="store_true", help="skip the XLA-conv variants of ours (slow in a scan)")
    args = p.parse_args()
    if args.batch_size < 2:
        raise SystemExit("--batch-size must be >= 2")
    warmup, iters = (2, 5) if args.quick else (3, 20)
    images = _load_images(args.batch_size)
    load = os.getloadavg()[0]
    rows = {}
    thread_counts = [args.threads] if args.threads else sorted({1, os.cpu_count() or 1})
    for th in thread_counts:
        c, t, loss = bench_torch(images, args.batch_size, warmup, iters, th)
        rows[f"pytorch ({th} thr)"] = dict(first_step_s=c, step_ms=1e3 * float(np.median(t)), loss=loss)
    variants = [("im2col", True), ("xla", True), ("xla", False)]
    if args.no_xla:
        variants = [("im2col", True)]
    for conv, in_scan in variants:
        c, t, loss = bench_jax(images, args.batch_size, warmup, iters, conv, in_scan)
        name = f"ebm_jax ({conv} conv, {'in scan' if in_scan else 'jit step'})"
        rows[name] = dict(first_step_s=c, step_ms=1e3 * float(np.median(t)), loss=loss)
    steps_per_epoch = 60000 // args.batch_size
    for r in rows.values():
        r["images_per_s"] = 2 * args.batch_size / (r["step_ms"] / 1e3)
        r["epoch_s_est"] = steps_per_epoch * r["step_ms"] / 1e3
    peer = max((k for k in rows if k.startswith("pytorch")), key=lambda k: rows[k]["images_per_s"])
    ours = "ebm_jax (im2col conv, in scan)"
    ratio = rows[ours]["images_per_s"] / rows[peer]["images_per_s"]
    print(f"SimCLR step, batch {args.batch_size} pairs ({2 * args.batch_size} views), {iters} timed steps, "
          f"torch threads {thread_counts}, load avg at start {load:.2f}")
    print(f"{'':34s} {'first step s':>12s} {'step ms':>9s} {'views/s':>9s} {'epoch s (est)':>13s} {'loss':>7s}")
    for name, r in rows.items():
        print(f"{name:34s} {r['first_step_s']:12.2f} {r['step_ms']:9.1f} {r['images_per_s']:9.0f} "
              f"{r['epoch_s_est']:13.1f} {r['loss']:7.3f}")
    print(f"ratio ({ours} / fastest pytorch = {peer}, images/s): {ratio:.2f}")
    if args.json:
        import jax
        import torch
        out = {"benchmark": "simclr_step", "batch_size": args.batch_size, "timed_steps": iters,
               "ratio": ratio, "rows": rows, "load_average_1min_at_start": load, "cpu_count": os.cpu_count(),
               "torch_threads": thread_counts, "peer": peer, "ours": ours, "jax": jax.__version__, "torch": torch.__version__,
               "platform": platform.platform(), "device": str(jax.devices()[0])}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
