"""Paired A/B of one training epoch through ``ebm_jax.train.fit`` in two checkouts of this project.

    git worktree add /tmp/before <rev>
    python scripts/bench_fit_epoch_ab.py --repos . /tmp/before --rounds 3

Each round runs the practicum VAE (784-400-20, batch 100, MNIST from the cache, 4 epochs of
600 steps) once per checkout, alternating, each in a fresh process. The steady-state speed is
the ``steps_per_second`` of epochs 3 and 4 (epoch 1 compiles); the whole run's wall time,
compilation included, is reported too. Prints the medians and the per-round ratio
(first repo / second). What it answers: whether code at the boundary (argument checks, the
loop's host work) costs anything per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import jax, numpy as np
from ebm_jax.data import mnist
from ebm_jax.models import vae
from ebm_jax.methods import vae as vae_method
from ebm_jax.train import fit
x, _ = mnist.load_mnist("train", source="cache")
x = x.reshape(-1, 784).astype(np.float32) / 255
model = vae.Autoencoder(latent_dim=20, hidden_dims=(400,), kind="vae")
state = vae_method.create_state(jax.random.key(0), model, 1e-3)
t = time.perf_counter()
_, hist = fit(state, vae_method.make_train_step(model), x, batch_size=100, num_epochs=4, rng=jax.random.key(1),
              log_every_steps=600)
total = time.perf_counter() - t
print(json.dumps({"sps": [r["steps_per_second"] for r in hist if "steps_per_second" in r], "total_s": total}))
"""


def run_once(repo: str) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"), EBM_JAX_TENSORBOARD="0")
    out = subprocess.run([sys.executable, "-c", CHILD, os.path.abspath(repo)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", nargs=2, required=True, metavar=("A", "B"), help="two checkouts to compare")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    steady = {repo: [] for repo in args.repos}
    totals = {repo: [] for repo in args.repos}
    ratios = []
    for r in range(args.rounds):
        round_mean = {}
        for repo in args.repos:
            result = run_once(repo)
            steady[repo] += result["sps"][2:]
            totals[repo].append(result["total_s"])
            round_mean[repo] = statistics.mean(result["sps"][2:])
            print(f"round {r + 1} {repo}: epochs 3-4 {result['sps'][2:]} steps/s, run {result['total_s']:.1f} s",
                  flush=True)
        ratios.append(round_mean[args.repos[0]] / round_mean[args.repos[1]])
    a, b = args.repos
    print(f"steady state, median steps/s: {a} {statistics.median(steady[a]):.0f}, {b} {statistics.median(steady[b]):.0f}")
    print(f"paired per round ({a} / {b}): " + ", ".join(f"{x:.2f}x" for x in ratios))
    print(f"whole runs (s): {a} {[round(t, 1) for t in totals[a]]}, {b} {[round(t, 1) for t in totals[b]]}")
    print(f"load average: {os.getloadavg()[0]:.2f} (at {time.strftime('%H:%M:%S')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
