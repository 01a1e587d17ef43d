"""What the precision policy changes on this backend: the same numbers with and without it.

    python scripts/precision_check.py [--json PATH] [--quick]

Three computations, each run as the library runs it (every matrix product at
HIGHEST, :mod:`ebm_jax.precision`) and again with the policy switched off (the
undecorated function under ``jax.default_matmul_precision("default")``: TF32 on
an Ampere/Hopper GPU, bfloat16 passes on a TPU, float32 on a CPU):

* FISTA on a lasso of MNIST digits to a relative duality gap of 1e-4: the gap
  reached, the iterations, and the float64 relative suboptimality of the codes;
* the importance-sampled log-likelihood of binarized test digits under a VAE
  (a fixed random initialization; nats per image);
* the exact log-partition function of a 784-visible, 16-hidden RBM.

On a CPU both columns agree to float32 rounding (the policy changes no CPU
number); on a GPU or TPU the second column shows what the policy prevents.

``--time R`` also times FISTA (a fixed 200 iterations on the same problem) and the
importance-sampled likelihood with and without the policy, round-robin over R
rounds (scripts/_bench.py), to show what HIGHEST costs on this backend: the
medians, their interquartile ranges, and the ratio (with / without).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
for path in (ROOT, SCRIPTS):
    if path not in sys.path:
        sys.path.insert(0, path)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=None, help="write the table as JSON here")
    ap.add_argument("--quick", action="store_true", help="smaller problems (seconds on a CPU)")
    ap.add_argument("--time", type=int, default=0, metavar="R",
                    help="also time both sides round-robin over R >= 3 rounds (0: no timing)")
    args = ap.parse_args(argv)
    if args.time and args.time < 3:
        ap.error("--time must be 0 or >= 3 (a median of fewer means little)")
    return args


def _both(fn, *args, **kwargs):
    """``fn`` with the policy (as the library runs it) and without it (its undecorated body at the default)."""
    import jax

    with_policy = fn(*args, **kwargs)
    with jax.default_matmul_precision("default"):
        without = fn.__wrapped__(*args, **kwargs)
    return with_policy, without


def _lasso_suboptimality(x, D, lam, z, f_star):
    x, D, z = (np.asarray(a, np.float64) for a in (x, D, z))
    f = 0.5 * np.sum((x - z @ D.T) ** 2) + lam * np.abs(z).sum()
    return float((f - f_star) / f_star)


def main(args) -> int:
    import jax
    import jax.numpy as jnp

    from ebm_jax import environment
    from ebm_jax.data import load_mnist, to_float
    from ebm_jax.eval import likelihood
    from ebm_jax.models import rbm, vae
    from ebm_jax.sparse import lasso, working_set

    n_codes, n_ll = (200, 100) if args.quick else (1000, 500)
    train, _ = load_mnist("train")
    test, _ = load_mnist("test")
    rng = np.random.default_rng(0)
    D = np.ascontiguousarray(to_float(train[rng.choice(len(train), 256, replace=False)]).T)  # (784, 256)
    D /= np.linalg.norm(D, axis=0, keepdims=True)  # unit atoms
    x = to_float(test[:n_codes])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    lam = float(0.1 * np.median(np.abs(x @ D).max(axis=1)))
    rows = {}

    ref = working_set.working_set_lasso(x, D, lam, tol=1e-7)
    f_star = 0.5 * np.sum((x.astype(np.float64) - np.asarray(ref.codes, np.float64) @ D.T.astype(np.float64)) ** 2) \
        + lam * np.abs(np.asarray(ref.codes, np.float64)).sum()
    with_p, without = _both(lasso.fista, x, D, lam, tol=1e-4, num_iters=2000)
    rows["fista_to_1e-4"] = {
        "with_policy": {"rel_gap": float(with_p.info.rel_gap), "num_iters": int(with_p.info.num_iters),
                        "rel_suboptimality": _lasso_suboptimality(x, D, lam, with_p.codes, f_star)},
        "without_policy": {"rel_gap": float(without.info.rel_gap), "num_iters": int(without.info.num_iters),
                           "rel_suboptimality": _lasso_suboptimality(x, D, lam, without.codes, f_star)}}

    model = vae.Autoencoder(latent_dim=20, hidden_dims=(400,))
    params = model.init(jax.random.key(0), jnp.zeros((1, 784)), jax.random.key(1))["params"]
    xb = (rng.random((n_ll, 784)) < to_float(test[:n_ll])).astype(np.float32)
    ll_with, ll_without = _both(likelihood.importance_sampled_log_likelihood, model, params, xb, jax.random.key(2),
                                num_samples=100 if args.quick else 1000, progress=False)
    rows["vae_is_log_likelihood"] = {"with_policy": float(np.mean(ll_with)), "without_policy": float(np.mean(ll_without)),
                                     "mean_abs_difference_nats": float(np.mean(np.abs(np.asarray(ll_with)
                                                                                      - np.asarray(ll_without))))}

    params_rbm = rbm.init_rbm(jax.random.key(3), 784, 16, scale=0.1)
    z_with, z_without = _both(rbm.exact_log_partition, params_rbm)
    rows["rbm_exact_log_z"] = {"with_policy": float(z_with), "without_policy": float(z_without),
                               "difference": float(z_with) - float(z_without)}

    timing = {}
    if args.time:
        import _bench

        def fista_fixed(policy):
            fn = lasso.fista if policy else lasso.fista.__wrapped__
            return lambda: fn(x, D, lam, num_iters=200).codes

        def is_ll(policy):
            fn = likelihood.importance_sampled_log_likelihood
            fn = fn if policy else fn.__wrapped__
            return lambda: fn(model, params, xb, jax.random.key(2), num_samples=100, progress=False)

        for name, make in (("fista_200_iterations", fista_fixed), ("vae_is_log_likelihood", is_ll)):
            t = _bench.interleave({"with_policy": make(True), "without_policy": make(False)}, repeats=args.time)
            timing[name] = {side: t[side].as_dict() for side in t}
            timing[name]["ratio_with_over_without"] = t["with_policy"].median / t["without_policy"].median
            print(f"  {name}: with the policy {t['with_policy']}; without {t['without_policy']}; "
                  f"with / without {timing[name]['ratio_with_over_without']:.3f} by median")

    env = environment.describe()
    out = {"benchmark": "precision_check", "backend": env["env.backend"], "device_kind": env["env.device_kind"],
           "jax": env["env.jax"], "rows": rows, "timing": timing}
    print(f"precision policy on {env['env.backend']} ({env['env.device_kind']}), jax {env['env.jax']}")
    f = rows["fista_to_1e-4"]
    for side in ("with_policy", "without_policy"):
        r = f[side]
        print(f"  FISTA to 1e-4, {side.replace('_', ' ')}: gap {r['rel_gap']:.2e} after {r['num_iters']} iterations, "
              f"suboptimality {r['rel_suboptimality']:.2e}")
    v = rows["vae_is_log_likelihood"]
    print(f"  VAE IS log-likelihood: {v['with_policy']:.3f} vs {v['without_policy']:.3f} nats "
          f"(mean |difference| {v['mean_abs_difference_nats']:.2e})")
    z = rows["rbm_exact_log_z"]
    print(f"  RBM exact log Z: {z['with_policy']:.4f} vs {z['without_policy']:.4f} (difference {z['difference']:.2e})")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(parse_args()))
