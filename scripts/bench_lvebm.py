"""Benchmark: latent inference of the LV-EBM (grid and gradient) vs a straightforward PyTorch version.

    python scripts/bench_lvebm.py [--quick] [--json PATH] [--threads 1]

The same computations on the same data, one process, the same number of CPU
cores (the process is pinned to ``--threads`` cores; PyTorch gets as many
intra-op threads):

* ``grid_F_inf``: F∞(y) = min_z E(y, z) and ž = argmin for B = 1000 samples on a
  425-point grid, ``E = ‖y − g(z)‖²`` with the ellipse decoder
  ``g(z) = [w₁ cos z, w₂ sin z]``. Ours: :func:`ebm_jax.lvebm.grid_inference`'s
  compiled computation (``vmap`` over samples × grid). PyTorch: the course's
  style, broadcast ``y[:, None] − g(z)[None]``, square, sum, ``min``.
* ``grid_F_beta``: the same with the warm ``F_β`` (``logsumexp``) beside F∞ and ž.
* ``grid_horn``: conditional, ``g(f(x), z) = [f₁(x) cos z, f₂(x) sin z]`` with
  the predictor ``f`` an MLP 1 → 8 → 8 → 2, F∞ and ž.
* ``gradient``: ž by Adam on ``z`` from S = 8 starts per sample, T = 100 steps,
  B = 1000 (ours: one ``lax.scan`` vmapped over samples × starts; PyTorch:
  ``torch.optim.Adam`` on a (B, S) tensor, one backward per step).

Each case is timed ``--repeats`` times after a warm-up call (compilation is
reported apart); ``ratio`` = PyTorch median / ours median (ours faster when
> 1), ``ratio_best`` the same from the fastest calls, with the spread
((max − min) / median) of both sides beside it.
The machine's load average is recorded before and after: on a shared machine
the timings move with it. The answers are compared (max |ΔF|) so both sides
compute the same thing. JSON (``--json``): ``{"ratio": <grid_F_inf ratio>,
"cases": {...}, "load_before": ..., ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--threads", type=int, default=1, help="CPU cores for both sides (default 1)")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--grid", type=int, default=425)
    p.add_argument("--starts", type=int, default=8)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 30, quick 10)")
    return p.parse_args(argv)


def timed(fn, repeats: int) -> dict:
    """Warm-up (compile) time, then ``repeats`` timed calls: median, best, spread."""
    t = time.perf_counter()
    fn()
    warmup = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"warmup_s": warmup, "median_s": med, "best_s": min(times), "spread": (max(times) - min(times)) / med}


def main(argv=None) -> int:
    args = parse_args(argv)
    import _bench

    cores = _bench.pin_cores(args.threads)
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from ebm_jax import lvebm
    from ebm_jax.lvebm import inference as inf

    torch.set_num_threads(args.threads)
    repeats = args.repeats or (10 if args.quick else 30)
    grad_repeats = max(2, repeats // 5)
    load_before = os.getloadavg()

    b, k, s, steps = args.batch, args.grid, args.starts, args.steps
    key = jax.random.key(0)
    x, y, _ = lvebm.sample_horn(key, b)
    y0 = lvebm.sample_ellipse(jax.random.fold_in(key, 1), b)
    z_grid = lvebm.uniform_z_grid(k)
    ellipse = lvebm.LatentEBM()
    horn = lvebm.LatentEBM(conditional=True)
    p_ellipse = {"w": jnp.array([2.0, 1.5])}
    p_horn = horn.init(jax.random.fold_in(key, 2))
    starts = lvebm.uniform_z_grid(s)
    beta = 1.0

    # ---- ours: the compiled computations behind grid_inference / gradient_inference
    def ours_grid():
        return inf._grid_inference(ellipse.energy, p_ellipse, None, y0, z_grid, 1.0,
                                   zero_temperature=True).free_energy.block_until_ready()

    def both_free_energies(p, yy, zz):  # F∞, ž and F_β from one pass over the energies
        e = inf._grid_energies(ellipse.energy, p, None, yy, zz)
        e_min = jnp.min(e, -1)
        return e_min, zz[inf.first_argmin(e, e_min)], inf.softmin_free_energy(e, beta)

    beta_jit = jax.jit(both_free_energies)

    def ours_grid_beta_all():
        return jax.block_until_ready(beta_jit(p_ellipse, y0, z_grid))

    def ours_horn():
        return inf._grid_inference(horn.energy, p_horn, x, y, z_grid, 1.0,
                                   zero_temperature=True).free_energy.block_until_ready()

    def ours_gradient():
        return inf._descend_jit(ellipse.energy, ellipse.energy, p_ellipse, None, y0, starts, num_steps=steps,
                                optimizer="adam", learning_rate=0.05, l1_weight=0.0).free_energy.block_until_ready()

    # ---- PyTorch, the course's style
    ty0, tx, ty = (torch.from_numpy(np.array(a)) for a in (y0, x, y))
    tz = torch.from_numpy(np.array(z_grid[:, 0]))
    tw = torch.tensor([2.0, 1.5])
    tlayers = [(torch.from_numpy(np.array(layer["W"])), torch.from_numpy(np.array(layer["b"])))
               for layer in p_horn["predictor"]]

    def t_energies(yy, w):  # yy (B, 2), w (2,) or (B, 2) -> E (B, K)
        g = torch.stack([torch.cos(tz), torch.sin(tz)], -1)           # (K, 2)
        w = w[None, None, :] if w.ndim == 1 else w[:, None, :]
        return ((yy[:, None, :] - w * g[None]) ** 2).sum(-1)

    def torch_grid():
        with torch.no_grad():
            f, idx = t_energies(ty0, tw).min(-1)
            return f, tz[idx]

    def torch_grid_beta():
        with torch.no_grad():
            e = t_energies(ty0, tw)
            f, idx = e.min(-1)
            fb = -(torch.logsumexp(-beta * e, -1) - np.log(k)) / beta
            return f, tz[idx], fb

    def torch_horn():
        with torch.no_grad():
            h = tx
            for i, (w, bias) in enumerate(tlayers):
                h = h @ w + bias
                if i < len(tlayers) - 1:
                    h = torch.relu(h)
            f, idx = t_energies(ty, h).min(-1)
            return f, tz[idx]

    tstarts = torch.from_numpy(np.array(starts[:, 0]))

    def torch_gradient():
        z = tstarts[None, :].repeat(b, 1).clone().requires_grad_(True)  # (B, S)
        opt = torch.optim.Adam([z], lr=0.05)
        for _ in range(steps):
            opt.zero_grad()
            g = torch.stack([tw[0] * torch.cos(z), tw[1] * torch.sin(z)], -1)
            e = ((ty0[:, None, :] - g) ** 2).sum(-1)
            e.sum().backward()
            opt.step()
        with torch.no_grad():
            g = torch.stack([tw[0] * torch.cos(z), tw[1] * torch.sin(z)], -1)
            return ((ty0[:, None, :] - g) ** 2).sum(-1).min(-1).values

    agree = {
        "grid_F_inf": float(np.max(np.abs(np.asarray(ours_grid()) - torch_grid()[0].numpy()))),
        "grid_F_beta": float(np.max(np.abs(np.asarray(ours_grid_beta_all()[2]) - torch_grid_beta()[2].numpy()))),
        "grid_horn": float(np.max(np.abs(np.asarray(ours_horn()) - torch_horn()[0].numpy()))),
        "gradient": float(np.max(np.abs(np.asarray(ours_gradient()) - torch_gradient().detach().numpy()))),
    }
    cases = {}
    for name, ours, theirs, reps in (("grid_F_inf", ours_grid, torch_grid, repeats),
                                     ("grid_F_beta", ours_grid_beta_all, torch_grid_beta, repeats),
                                     ("grid_horn", ours_horn, torch_horn, repeats),
                                     ("gradient", ours_gradient, torch_gradient, grad_repeats)):
        o, t = timed(ours, reps), timed(theirs, reps)
        cases[name] = {"ours": o, "torch": t, "ratio": t["median_s"] / o["median_s"],
                       "ratio_best": t["best_s"] / o["best_s"], "max_abs_diff_F": agree[name]}
    load_after = os.getloadavg()
    result = {
        "benchmark": "lvebm_inference", "ratio": cases["grid_F_inf"]["ratio"],
        "ratio_best": cases["grid_F_inf"]["ratio_best"], "cases": cases,
        "batch": b, "grid_points": k, "starts": s, "gradient_steps": steps, "repeats": repeats,
        "gradient_repeats": grad_repeats, "threads": args.threads, "pinned_cores": cores,
        "load_before": list(load_before), "load_after": list(load_after), "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "jax": jax.__version__, "torch": torch.__version__,
    }
    print(f"LV-EBM inference, B={b}, K={k} grid, gradient S={s} x T={steps}; {args.threads} thread(s); "
          f"load {load_before[0]:.1f} -> {load_after[0]:.1f}")
    print(f"{'case':<12} {'ours ms (best)':>16} {'torch ms (best)':>16} {'ratio':>7} {'(best)':>7} "
          f"{'spread o/t':>12} {'compile ms':>10} {'max|dF|':>9}")
    for name, c in cases.items():
        o, t = c["ours"], c["torch"]
        print(f"{name:<12} {1e3 * o['median_s']:>8.3f} ({1e3 * o['best_s']:.3f}) {1e3 * t['median_s']:>8.3f} "
              f"({1e3 * t['best_s']:.3f}) {c['ratio']:>6.2f}x {c['ratio_best']:>6.2f}x {o['spread']:>5.2f}/{t['spread']:<5.2f} "
              f"{1e3 * o['warmup_s']:>10.0f} {c['max_abs_diff_F']:>9.1e}")
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
