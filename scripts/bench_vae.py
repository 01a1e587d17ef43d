"""Benchmark: our VAE epoch vs a PyTorch reference of the same model, in one run.

    python scripts/bench_vae.py [--quick] [--json PATH] [--batch-size 256] [--threads N] [--device gpu]

Both sides train the 784-400-20 VAE (Gaussian encoder, Bernoulli decoder,
dynamic binarization, Adam 1e-3) on the same MNIST images with the same batch
size on the same pinned cores (all by default); PyTorch runs in its own process
(scripts/_bench.py), so neither library's thread pool spins beside the other.
Ours runs the exact compiled epoch :func:`ebm_jax.train.fit` runs, on a state
placed as ``fit`` places it. Each side: warm-up epochs timed apart (compilation),
then ``--repeats`` epochs: best, median and interquartile range. ``ratio`` =
PyTorch median / our median (ours faster when > 1), ``ratio_best`` beside it.

PyTorch runs with 1 and with N intra-op threads (each in its own process; on a
loaded machine its OpenMP pool can be many times slower with more threads), and
the ratio is against the faster of the two by median. With ``--device gpu``
nothing is pinned, ours runs on JAX's CUDA backend and PyTorch on CUDA (with
``torch.cuda.synchronize()`` before each clock stop), eagerly and, beside it,
under ``torch.compile`` where that works; the ratio is against eager PyTorch.

Ceilings measured in the same run: ``ceiling``, the step's own GEMMs (found in
its traced jaxpr: forward and backward, with their transposed operands) run back
to back in JAX, ``steps`` passes per call, timed round-robin with our epochs;
``ceiling_fraction`` = the median over rounds of ceiling time / epoch time (best
over best beside it); and a square fp32 GEMM (JAX here, PyTorch in its process)
as the machine's reference peak.
"""

from __future__ import annotations

import argparse
import sys

import _bench


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10k examples (about a minute)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=None, help="timed epochs per side (default 7, quick 9)")
    p.add_argument("--threads", type=int, default=0, help="cores for both sides (default: all)")
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    _bench.add_device_arg(p)
    args = p.parse_args(argv)
    args.repeats = args.repeats or (9 if args.quick else 7)
    args.examples = 10_000 if args.quick else 60_000
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    CORES = _bench.setup_device(ARGS.device, ARGS.threads)


def load_images(examples: int):
    from ebm_jax.data import load_mnist, to_float

    return to_float(load_mnist("train")[0][:examples])


def bench_ours(x, args) -> dict:
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    from ebm_jax.methods import vae as vae_method
    from ebm_jax.models import vae
    from ebm_jax.train import loop

    model = vae.Autoencoder(latent_dim=args.latent, hidden_dims=(args.hidden,))
    step = vae_method.make_train_step(model, binarization="dynamic")
    mesh = loop.data_mesh(jax.devices()[:1])
    # Placed as fit() places them: an uncommitted state here would compile the epoch a second time on the
    # first call after the warm-up (its outputs come back committed to the mesh).
    replicated = NamedSharding(mesh, PartitionSpec())
    state = jax.device_put(vae_method.create_state(jax.random.key(0), model, 1e-3), replicated)
    run_epoch = loop._make_run_chunk(step, args.batch_size, mesh)  # the exact function fit() runs
    steps = len(x) // args.batch_size
    data = jax.device_put(x, replicated)
    perm = jax.random.permutation(jax.random.key(1), len(x))[: steps * args.batch_size]
    key = jax.random.key(2)
    box = {"state": state}

    def epoch():
        box["state"], metrics = run_epoch(box["state"], data, perm, 0, steps, key, capacity=steps)
        return metrics

    # Our epochs and the step's own GEMMs (x steps) round-robin: load that comes and goes falls on both.
    ops = _bench.matmul_ops(step, box["state"], x[: args.batch_size], key)
    replay = _bench.make_replay(ops, inner=steps)
    with_load = _bench.LoadMeter()
    timings = _bench.interleave({"ours": epoch, "ceiling": replay}, repeats=args.repeats, warmup=1)
    load = with_load.read()
    final_loss = float(epoch()["loss"][-1])
    return {"timing": timings["ours"], "ceiling_timing": timings["ceiling"], "ops": _bench.describe_ops(ops),
            "steps": steps, "final_loss": final_loss, "load": load}


def torch_side(examples: int, batch_size: int, hidden: int, latent: int, repeats: int, threads: int,
               device: str = "cpu", compiled: bool = False) -> dict:
    """The PyTorch reference epoch (runs in its own process, see _bench.run_peer)."""
    import torch
    from _torch_models import torch_vae

    torch.manual_seed(0)
    if threads:
        torch.set_num_threads(threads)
    where = _bench.torch_device(device)

    model = torch_vae(hidden, latent).to(where)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(load_images(examples)).to(where)
    steps = len(data) // batch_size
    perm = torch.randperm(len(data))[: steps * batch_size].view(steps, batch_size).to(where)
    forward = torch.compile(model) if compiled else model
    box = {}

    def epoch():
        for idx in perm:
            xb = data[idx]
            xb = (torch.rand_like(xb) < xb).to(xb.dtype)  # a Bernoulli draw; 2x faster than torch.bernoulli
            loss = forward(xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        box["loss"] = loss.detach()

    timing = _bench.time_fn(epoch, repeats=repeats, warmup=2 if compiled else 1, sync=_bench.torch_sync(device))
    return {"timing": timing, "final_loss": float(box["loss"]), "square_gemm": _bench.torch_square_gemm(1024, device=device),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "torch_device": where,
            "compiled": compiled}


def main(args) -> int:
    import jax

    run = _bench.Run("vae_epoch", CORES, quick=args.quick)
    x = load_images(args.examples)
    ours = bench_ours(x, args)
    peers = {}
    common = dict(examples=args.examples, batch_size=args.batch_size, hidden=args.hidden, latent=args.latent,
                  repeats=args.repeats)
    if args.device == "gpu":  # eager PyTorch on CUDA (the reference), torch.compile beside it where it works
        peers["eager"] = _bench.run_peer(torch_side, threads=0, device="gpu", **common)
        try:
            peers["compiled"] = _bench.run_peer(torch_side, threads=0, device="gpu", compiled=True, **common)
        except RuntimeError as e:
            print(f"  torch.compile peer failed ({e}); reporting eager PyTorch only")
        for p in peers.values():
            p["load"] = {}
        best_th = "eager"
    else:
        for th in sorted({1, len(CORES)}):  # a loaded machine can slow PyTorch's OpenMP pool more with more threads
            meter = _bench.LoadMeter()
            peers[th] = _bench.run_peer(torch_side, pin_threads=args.threads, threads=th, **common)
            peers[th]["load"] = meter.read()
        best_th = min(peers, key=lambda th: peers[th]["timing"]["median"])
    peer = peers[best_th]
    square = _bench.square_gemm(1024)
    t_ours, t_peer = ours["timing"], _bench.Timing.from_dict(peer["timing"])
    steps, ops = ours["steps"], ours["ops"]
    flops = ops["flops"] * steps
    fraction = _bench.paired_fraction(ours["ceiling_timing"], t_ours)
    fields = {
        "examples": len(x), "batch_size": args.batch_size, "steps_per_epoch": steps,
        "model": f"784-{args.hidden}-{args.latent}", "device": jax.devices()[0].device_kind,
        "ours": t_ours.as_dict(), "peer": t_peer.as_dict(),
        "peer_name": (f"PyTorch {peer['torch']} on CUDA, eager" if args.device == "gpu" else
                      f"PyTorch {peer['torch']}, {best_th} thread(s) (the faster by median)"),
        "peers": {(f"pytorch_{th}_threads" if isinstance(th, int) else f"pytorch_cuda_{th}"):
                  {"timing": p["timing"], "load": p["load"]} for th, p in peers.items()},
        "ours_load": ours["load"],
        "ours_final_loss": ours["final_loss"], "peer_final_loss": peer["final_loss"],
        "flops_per_step": ops["flops"],
        "ours_gflops": flops / t_ours.best / 1e9, "ours_gflops_median": flops / t_ours.median / 1e9,
        "peer_gflops": flops / t_peer.best / 1e9, "peer_gflops_median": flops / t_peer.median / 1e9,
        "ceiling": {**ops, "epoch": ours["ceiling_timing"].as_dict(),
                    "gflops": flops / ours["ceiling_timing"].best / 1e9},
        "ceiling_fraction": fraction["median"], "ceiling_fraction_detail": fraction,
        "square_gemm_jax": square, "square_gemm_torch": peer["square_gemm"],
        "square_fraction": flops / t_ours.best / 1e9 / square["gflops"],
    }
    out = run.write(args.json, fields, ours=t_ours, peer=t_peer)
    print(f"VAE 784-{args.hidden}-{args.latent}, {len(x)} examples, batch {args.batch_size}, {steps} steps/epoch, "
          f"{len(CORES) or 'all'} thread(s), {fields['device']}")
    print(f"  ours (JAX) epoch:   {t_ours}; first epoch (compile) {t_ours.warmup[0]:.3f} s; "
          f"others used {ours['load'].get('others_busy_cores', float('nan')):.2f} cores meanwhile")
    for th, p in peers.items():
        t = _bench.Timing.from_dict(p["timing"])
        print(f"  PyTorch epoch, {th if isinstance(th, str) else f'{th} thread(s)'}: {t}; first epoch "
              f"{t.warmup[0]:.3f} s; others used {p['load'].get('others_busy_cores', float('nan')):.2f} cores meanwhile")
    print(f"  ratio (PyTorch {best_th} / ours): {out['ratio']:.2f}x by median, {out['ratio_best']:.2f}x "
          f"best-of, IQR {out['ratio_iqr'][0]:.2f}-{out['ratio_iqr'][1]:.2f}")
    print(f"  the step's own {ops['num_ops']} GEMMs back to back, timed round-robin with our epochs: "
          f"{fields['ceiling']['gflops']:.1f} GFLOP/s; ours {fields['ours_gflops']:.1f} GFLOP/s = "
          f"{fraction['median']:.2f} of it (median of rounds; IQR {fraction['q1']:.2f}-{fraction['q3']:.2f}; "
          f"best/best {fraction['best_over_best']:.2f})")
    print(f"  square 1024^2 GEMM: JAX {square['gflops']:.1f}, PyTorch {peer['square_gemm']['gflops']:.1f} GFLOP/s; "
          f"ours {fields['square_fraction']:.2f} of JAX's")
    print(f"  final train loss: ours {ours['final_loss']:.1f}, PyTorch {peer['final_loss']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
