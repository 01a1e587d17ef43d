r"""Benchmark: one SimCLR training step, ebm_jax (JAX/XLA) vs a PyTorch reference, on CPU.

    python scripts/bench_ssl.py [--quick] [--json PATH] [--batch-size 256] [--threads N] [--xla]

Both sides run the same step on the same MNIST images on the same pinned cores
(all by default): two augmented views per image (random resized crop + rotation
+ shear + elastic warp by bilinear resampling, random erasing, Gaussian noise),
the same encoder (3x3 stride-2 convs 32/64/128 + ReLU, dense 2048->256, head
256->256->64), NT-Xent (τ = 0.5) over the 2B views, and one AdamW update.

Ours runs as the training loop does: ``--steps`` steps inside one compiled
``lax.scan`` per timed call; PyTorch, in its own process (scripts/_bench.py), runs
``--steps`` steps per timed call, with 1 and with N intra-op threads (each in its
own process); the ratio is against the faster of the two by median. Each side:
one warm-up call timed apart (compilation), then ``--repeats`` calls: seconds
per step best / median / interquartile range. ``ratio`` = PyTorch median / our
median (ours faster when > 1). ``ceiling_fraction``: the step's own matrix
products (the im2col convolutions forward and backward, the dense layers, the
NT-Xent similarity matrix; found in its traced jaxpr) back to back, timed
round-robin with our steps: the median over rounds of their time over ours.
``--xla`` also times our step with XLA's convolutions.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

import _bench


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps per timed call (about a minute)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--batch-size", type=int, default=256, help="positive pairs per step (2B views)")
    p.add_argument("--threads", type=int, default=0, help="cores for both sides (default: all)")
    _bench.add_device_arg(p)
    p.add_argument("--steps", type=int, default=None, help="steps per timed call (default 10, quick 4)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per side (default 7, quick 5)")
    p.add_argument("--xla", action="store_true", help="also time ours with the other convolution (XLA's on the CPU, "
                   "where it is slow in a scan; im2col on a GPU)")
    args = p.parse_args(argv)
    if args.batch_size < 2:
        p.error("--batch-size must be >= 2")
    args.steps = args.steps or (4 if args.quick else 10)
    args.repeats = args.repeats or (5 if args.quick else 7)
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    CORES = _bench.setup_device(ARGS.device, ARGS.threads)


def load_images(n):
    from ebm_jax.data import load_mnist, to_float
    return to_float(load_mnist("train")[0][:n], flatten=False)


def bench_jax(images, args, conv: str) -> dict:
    import jax
    import jax.numpy as jnp
    import optax

    from ebm_jax.data.augment import AugmentConfig
    from ebm_jax.models.ssl import SSLNet
    from ebm_jax.methods.ssl import create_simclr_state, make_simclr_step

    model = SSLNet(conv=conv)
    state = create_simclr_state(model, optax.adamw(1e-3, weight_decay=1e-4), jax.random.key(0))
    step_fn = make_simclr_step(AugmentConfig(), 0.5)
    batch = {"image": jnp.asarray(images), "index": jnp.arange(len(images), dtype=jnp.int32)}
    run = jax.jit(lambda s, ks: jax.lax.scan(lambda s, k: step_fn(s, batch, k), s, ks), donate_argnums=0)
    box = {"state": state, "call": 0}

    def call():
        keys = jax.random.split(jax.random.key(box["call"]), args.steps)
        box["state"], metrics = run(box["state"], keys)
        box["call"] += 1
        return metrics

    # Our steps and the step's own matmuls round-robin: load that comes and goes falls on both.
    ops = _bench.matmul_ops(step_fn, box["state"], batch, jax.random.key(0))
    meter = _bench.LoadMeter()
    t = _bench.interleave({"ours": call, "ceiling": _bench.make_replay(ops, inner=args.steps)},
                          repeats=args.repeats, warmup=1)
    load = meter.read()
    loss = float(call()["loss"][-1])
    info = _bench.describe_ops(ops)
    fraction = _bench.paired_fraction(t["ceiling"], t["ours"])
    ceiling = {**info, "step": t["ceiling"].scaled(1.0 / args.steps).as_dict(),
               "gflops": info["flops"] * args.steps / t["ceiling"].best / 1e9, "fraction": fraction}
    return {"timing": t["ours"].scaled(1.0 / args.steps), "loss": loss, "ceiling": ceiling, "load": load}


def torch_side(batch_size: int, steps: int, repeats: int, threads: int, device: str = "cpu",
               compiled: bool = False) -> dict:
    """The PyTorch reference step (runs in its own process, see _bench.run_peer)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    where = _bench.torch_device(device)
    torch.set_default_device(where)  # the augmentation's random tensors too
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(2048, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 64))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.from_numpy(np.asarray(load_images(batch_size)))[:, None].to(where)
    forward = torch.compile(net) if compiled else net

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

    box = {}

    def call():
        for _ in range(steps):
            with torch.no_grad():
                v = augment(torch.cat([x, x]))
            loss = nt_xent(forward(v), batch_size)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        box["loss"] = loss.detach()

    timing = _bench.time_fn(call, repeats=repeats, warmup=2 if compiled else 1,
                            sync=_bench.torch_sync(device)).scaled(1.0 / steps)
    return {"timing": timing, "loss": float(box["loss"]), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "torch_device": where, "compiled": compiled}


def main(args) -> int:
    import jax

    run = _bench.Run("simclr_step", CORES, quick=args.quick)
    images = load_images(args.batch_size)
    from ebm_jax import backend

    rows = {}
    common = dict(batch_size=args.batch_size, steps=args.steps, repeats=args.repeats)
    if args.device == "gpu":  # eager PyTorch on CUDA is the reference; torch.compile beside it where it works
        for name, compiled in (("pytorch (cuda, eager)", False), ("pytorch (cuda, torch.compile)", True)):
            try:
                peer = _bench.run_peer(torch_side, threads=0, device="gpu", compiled=compiled, **common)
            except RuntimeError as e:
                print(f"  {name} failed ({e})")
                continue
            rows[name] = {"timing": _bench.Timing.from_dict(peer["timing"]), "loss": peer["loss"],
                          "version": peer["torch"], "load": {}}
    else:
        for th in sorted({1, len(CORES)}):
            meter = _bench.LoadMeter()
            peer = _bench.run_peer(torch_side, pin_threads=args.threads, threads=th, **common)
            rows[f"pytorch ({th} thr)"] = {"timing": _bench.Timing.from_dict(peer["timing"]), "loss": peer["loss"],
                                           "version": peer["torch"], "load": meter.read()}
    ceiling = None
    default_conv = backend.ssl_conv("auto")  # im2col on the CPU, XLA convolutions on a GPU
    other = {"im2col": "xla", "xla": "im2col"}[default_conv]
    for conv in [default_conv] + ([other] if args.xla else []):
        r = bench_jax(images, args, conv)
        rows[f"ebm_jax ({conv} conv, in scan)"] = {"timing": r["timing"], "loss": r["loss"], "load": r["load"]}
        ceiling = ceiling or r["ceiling"]
    ours_name = f"ebm_jax ({default_conv} conv, in scan)"
    peer_name = ("pytorch (cuda, eager)" if args.device == "gpu" else
                 min((k for k in rows if k.startswith("pytorch")), key=lambda k: rows[k]["timing"].median))
    t_ours, t_peer = rows[ours_name]["timing"], rows[peer_name]["timing"]
    steps_per_epoch = 60000 // args.batch_size
    table = {name: {**r["timing"].as_dict(), "loss": r["loss"], "load": r["load"],
                    "views_per_s_median": 2 * args.batch_size /
                    r["timing"].median, "epoch_s_est_median": steps_per_epoch * r["timing"].median}
             for name, r in rows.items()}
    fields = {"batch_size": args.batch_size, "steps_per_call": args.steps, "device": str(jax.devices()[0]),
              "ours_name": ours_name, "peer_name": peer_name, "ours": t_ours.as_dict(), "peer": t_peer.as_dict(),
              "rows": table, "ceiling": ceiling,
              "ceiling_fraction": ceiling["fraction"]["median"], "ours_gflops": ceiling["flops"] / t_ours.best / 1e9}
    out = run.write(args.json, fields, ours=t_ours, peer=t_peer)
    print(f"SimCLR step, batch {args.batch_size} pairs ({2 * args.batch_size} views), {args.steps} steps per timed "
          f"call, {args.repeats} calls, {len(CORES) or 'all'} core(s), {fields['device']}")
    for name, r in rows.items():
        t = r["timing"]
        print(f"  {name:32s} step {t}; first call {t.warmup[0] * args.steps:.2f} s; "
              f"{table[name]['views_per_s_median']:.0f} views/s; loss {r['loss']:.3f}; others used "
              f"{r['load'].get('others_busy_cores', float('nan')):.2f} cores")
    print(f"  ratio ({ours_name} / {peer_name}): {out['ratio']:.2f}x by median, {out['ratio_best']:.2f}x best-of, "
          f"IQR {out['ratio_iqr'][0]:.2f}-{out['ratio_iqr'][1]:.2f}")
    fr = ceiling["fraction"]
    print(f"  the step's own {ceiling['num_ops']} matmuls back to back, round-robin with our steps: "
          f"{ceiling['gflops']:.1f} GFLOP/s; ours {fields['ours_gflops']:.1f} GFLOP/s = {fr['median']:.2f} of it "
          f"(median of rounds, IQR {fr['q1']:.2f}-{fr['q3']:.2f}, best/best {fr['best_over_best']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
