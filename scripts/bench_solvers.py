"""Lasso solver benchmark: time to relative suboptimality 1e-3 / 1e-6 / 1e-9.

Problem (real data): N MNIST test digits, unit ℓ2 norm, coded on k = 256 unit-norm
atoms = random MNIST training digits; one shared λ = 0.1 · median_i ‖Dᵀx_i‖_∞.
Objective: Σ_i ½‖x_i − D z_i‖² + λ‖z_i‖₁, evaluated in float64 on the host for
every solver. One reference optimum F* for all: the smallest objective reached by
the tight float64 runs (SPAMS LARS when installed, our working-set solver at
tol 1e-12, scikit-learn lasso_cd at tol 1e-12); the table says how they agree.

Each solver runs at a list of settings (a tolerance or an iteration count); every
setting is timed with scripts/_bench.py (one warm-up call whose extra time is
reported as compile time, then ``--repeats`` calls: median, best, quartiles), and
"time to ε" is the fastest setting (by median) whose measured relative
suboptimality (F − F*)/F* is ≤ ε ("-" if none reached it). Every solver, peers
included, runs in this one process on the pinned cores: each is single-call
and single-threaded by default, so no thread pool spins beside another.

Usage:  python scripts/bench_solvers.py [--quick] [--json PATH] [--figure PATH]
        [--num-examples N] [--threads T]
``--json`` writes the table plus ``ratio`` = lasso_cd median time / our best median
time to 1e-6 (ours faster when > 1), ``ratio_best`` from the best times, and
``ratio_vs_spams`` likewise, with the machine record and load.
"""

from __future__ import annotations

import argparse
import os
import sys

import _bench


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small problem, few settings (under a minute)")
    ap.add_argument("--json", default=None, help="write the results as JSON here")
    ap.add_argument("--figure", default=None, help="suboptimality-vs-time PNG (default: beside --json)")
    ap.add_argument("--num-examples", type=int, default=None, help="digits to code (default 2000, quick 500)")
    ap.add_argument("--num-atoms", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="CPU cores for every solver (the process is pinned to them)")
    _bench.add_device_arg(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per setting after one warm-up")
    args = ap.parse_args(argv)
    if args.repeats < 3:
        ap.error("--repeats must be >= 3 (a median of fewer means little)")
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    CORES = _bench.setup_device(ARGS.device, ARGS.threads)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax.data import load_mnist, to_float  # noqa: E402
from ebm_jax.sparse import fista, lasso_path, lipschitz_constant, working_set_lasso  # noqa: E402

TARGETS = (1e-3, 1e-6, 1e-9)


def make_problem(num_examples, num_atoms, seed):
    rng = np.random.default_rng(seed)
    train = to_float(load_mnist("train")[0]).astype(np.float64)
    test = to_float(load_mnist("test")[0][:num_examples]).astype(np.float64)
    D = train[rng.choice(len(train), num_atoms, replace=False)].T
    D /= np.linalg.norm(D, axis=0, keepdims=True)
    X = test / np.linalg.norm(test, axis=1, keepdims=True)
    lam = 0.1 * float(np.median(np.abs(X @ D).max(axis=1)))
    return X, D, lam


def objective(X, D, lam, Z):
    Z = np.asarray(Z, np.float64)
    R = X - Z @ D.T
    return 0.5 * float(np.sum(R * R)) + lam * float(np.sum(np.abs(Z)))


def timed(fn, repeats):
    """(Timing with the first call as warm-up, the last result); JAX results are blocked on."""
    box = {}

    def call():
        box["out"] = fn()
        return box["out"]

    return _bench.time_fn(call, repeats=repeats, warmup=1), box["out"]


class Bench:
    def __init__(self, X, D, lam, repeats):
        self.X, self.D, self.lam, self.repeats = X, D, lam, repeats
        self.rows = {}

    def run(self, name, settings, make_fn, *, ours, dtype, note=""):
        points = []
        compile_s = 0.0
        for setting in settings:
            fn = make_fn(setting)
            timing, z = timed(fn, self.repeats)
            compile_s = max(compile_s, timing.warmup[0] - timing.median)
            points.append({"setting": setting, "time_s": timing.median, "timing": timing,
                           "objective": objective(self.X, self.D, self.lam, z), "z": np.asarray(z, np.float64)})
            print(f"  {name:34s} {str(setting):>8s}  {timing}", file=sys.stderr, flush=True)
        self.rows[name] = {"points": points, "ours": ours, "dtype": dtype, "compile_s": compile_s, "note": note}

    def finalize(self, f_star):
        table = []
        for name, row in self.rows.items():
            for p in row["points"]:
                p["subopt"] = max((p["objective"] - f_star) / f_star, 0.0)
            entry = {"solver": name, "ours": row["ours"], "dtype": row["dtype"], "compile_s": row["compile_s"],
                     "best_subopt": min(p["subopt"] for p in row["points"]), "note": row["note"],
                     "points": [{"setting": str(p["setting"]), "time_s": p["time_s"], "subopt": p["subopt"],
                                 "timing": p["timing"].as_dict()} for p in row["points"]]}
            for eps in TARGETS:
                ok = [p["timing"] for p in row["points"] if p["subopt"] <= eps]
                entry[f"time_to_{eps:.0e}"] = min(t.median for t in ok) if ok else None
                entry[f"time_to_{eps:.0e}_best"] = min(t.best for t in ok) if ok else None
            table.append(entry)
        return table


def main():
    run = _bench.Run("lasso_time_to_tolerance", CORES, quick=ARGS.quick)
    quick = ARGS.quick
    N = ARGS.num_examples or (500 if quick else 2000)
    repeats = ARGS.repeats
    X, D, lam = make_problem(N, ARGS.num_atoms, ARGS.seed)
    X32, D32 = X.astype(np.float32), D.astype(np.float32)
    Xj32, Dj32, Xj64, Dj64 = map(jnp.asarray, (X32, D32, X, D))
    step32 = 1.0 / lipschitz_constant(Dj32)
    step64 = 1.0 / lipschitz_constant(Dj64)
    print(f"problem: {N} MNIST test digits x {D.shape[0]} pixels, {D.shape[1]} atoms, lambda={lam:.5f}, "
          f"threads={ARGS.threads}, L={1 / float(step64):.2f}", file=sys.stderr)
    bench = Bench(X, D, lam, repeats)

    # ---------------- peers ----------------
    from sklearn.decomposition import sparse_encode
    from sklearn.linear_model import Lasso

    def cd(tol):
        def fn():
            gram = D.T @ D
            return Lasso(alpha=lam / D.shape[0], fit_intercept=False, precompute=gram, tol=tol, max_iter=100_000,
                         ).fit(D, X.T).coef_
        return fn

    cd_tols = [1e-2, 1e-4, 1e-6] if quick else [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8, 1e-10, 1e-12]
    bench.run("sklearn lasso_cd", cd_tols, cd, ours=False, dtype="float64",
              note="sparse_encode's Lasso(precompute=Gram), tol swept")
    bench.run("sklearn lasso_lars", ["exact"], lambda _: lambda: sparse_encode(X, D.T, algorithm="lasso_lars", alpha=lam),
              ours=False, dtype="float64")
    try:
        import spams

        Xf, Df = np.asfortranarray(X.T), np.asfortranarray(D)
        bench.run("SPAMS lasso (LARS)", ["exact"], lambda _: lambda: spams.lasso(
            Xf, D=Df, lambda1=lam, mode=2, numThreads=ARGS.threads).toarray().T, ours=False, dtype="float64")
        have_spams = True
    except ImportError:
        print("SPAMS (spams-bin) not installed: skipped", file=sys.stderr)
        have_spams = False
    try:
        from jaxopt import ProximalGradient
        from jaxopt.prox import prox_lasso

        def jaxopt_apg(tol):
            solver = ProximalGradient(fun=lambda z, x: 0.5 * jnp.sum((x - z @ Dj32.T) ** 2), prox=prox_lasso,
                                      stepsize=float(step32), maxiter=1000 if not quick else 300, tol=tol,
                                      acceleration=True, jit=True)
            run = jax.jit(lambda x: solver.run(jnp.zeros((x.shape[0], Dj32.shape[1]), x.dtype),
                                               hyperparams_prox=lam, x=x).params)
            return lambda: run(Xj32)

        bench.run("jaxopt ProximalGradient (APG)", [1e-1] if quick else [1e-1, 1e-3],
                  jaxopt_apg, ours=False, dtype="float32", note="tol on the fixed-point residual, maxiter 1000 (300 quick)")
    except ImportError:
        print("jaxopt not installed: skipped", file=sys.stderr)

    # ---------------- ours ----------------
    iters = [50, 200, 800] if quick else [50, 100, 200, 400, 800, 1600]
    for name, kw, xs, Ds, st, dt, its in [
        ("FISTA (direct, x·D per iter)", dict(gram=False), Xj32, Dj32, step32, "float32", [100, 400] if not quick else [100]),
        ("FISTA + Gram", dict(gram=True), Xj32, Dj32, step32, "float32", iters),
        ("FISTA + Gram + restart", dict(gram=True, restart=True), Xj32, Dj32, step32, "float32", iters),
        ("FISTA + Gram + restart", dict(gram=True, restart=True), Xj64, Dj64, step64, "float64",
         [50, 200] if quick else [100, 400, 1600]),
    ]:
        bench.run(name + ("" if dt == "float32" else " [f64]"), its,
                  lambda n, kw=kw, xs=xs, Ds=Ds, st=st: (lambda: fista(xs, Ds, lam, num_iters=n, step=st, **kw).codes),
                  ours=True, dtype=dt, note="fixed iteration counts")
    tols32 = [1e-2, 1e-6] if quick else [1e-1, 1e-2, 1e-3, 1e-6]  # swept like lasso_cd's tol
    tols64 = [1e-3, 1e-6, 1e-9] if quick else [1e-3, 1e-6, 1e-9, 1e-11]
    ws_rows = [
        ("working set (p=32), no polish", dict(working_set_size=32, polish=False, max_outer=30), "float32", tols32),
        ("working set (p=32) + polish", dict(working_set_size=32), "float32", tols32),
        ("working set (p=32) + polish, 16 CG iters", dict(working_set_size=32, cg_iters=16), "float32", tols32),
        ("working set (p=64) + polish", dict(working_set_size=64), "float32", tols32),
        ("working set (p=32) + polish", dict(working_set_size=32), "float64", tols64),
    ]
    for name, kw, dt, tols in ws_rows:
        xs, Ds = (Xj32, Dj32) if dt == "float32" else (Xj64, Dj64)
        bench.run(name + ("" if dt == "float32" else " [f64]"), tols,
                  lambda tol, kw=kw, xs=xs, Ds=Ds: (lambda: working_set_lasso(xs, Ds, lam, tol=tol, **kw).codes),
                  ours=True, dtype=dt, note="stops on the relative duality gap = tol")
    bench.run("working set (p=32) + polish + lambda path", tols32,
              lambda tol: (lambda: lasso_path(Xj32, Dj32, lam, num_lams=3, ratio=4.0, tol=tol, path_tol=1e-2,
                                              solver="working_set").codes),
              ours=True, dtype="float32", note="3 lambdas from 4*lam, warm-started")

    # ---------------- reference optimum ----------------
    ref_cands = {}
    ref_cands["ours working set f64 tol 1e-12"] = objective(X, D, lam, working_set_lasso(Xj64, Dj64, lam, tol=1e-12).codes)
    if have_spams:
        ref_cands["SPAMS LARS f64"] = min(p["objective"] for p in bench.rows["SPAMS lasso (LARS)"]["points"])
    ref_cands["sklearn lasso_cd best"] = min(p["objective"] for p in bench.rows["sklearn lasso_cd"]["points"])
    f_star = min(ref_cands.values())
    table = bench.finalize(f_star)
    nnz = float(np.mean(np.sum(np.abs(working_set_lasso(Xj64, Dj64, lam, tol=1e-12).codes) > 0, axis=1)))

    # ---------------- report ----------------
    def fmt(t):
        return "       -" if t is None else f"{t:8.3f}"

    print(f"\nLasso on {N} MNIST digits, k={D.shape[1]}, lambda={lam:.4f} (0.1 x median max|D^T x|), "
          f"mean non-zeros {nnz:.1f}, threads={ARGS.threads}, device={jax.devices()[0].platform}")
    print("reference F* = " + f"{f_star:.12g}; candidates: " +
          ", ".join(f"{k}: {(v - f_star) / f_star:.1e}" for k, v in ref_cands.items()))
    print(f"{'solver':48s} {'dtype':8s} {'t(1e-3)':>8s} {'t(1e-6)':>8s} {'t(1e-9)':>8s} {'compile':>8s} {'best':>8s}")
    for e in table:
        print(f"{e['solver']:48s} {e['dtype']:8s} {fmt(e['time_to_1e-03'])} {fmt(e['time_to_1e-06'])} "
              f"{fmt(e['time_to_1e-09'])} {e['compile_s']:8.2f} {e['best_subopt']:8.1e}")

    def best(pred, eps="1e-06", suffix=""):
        ts = [(e[f"time_to_{eps}{suffix}"], e["solver"] + f" [{e['dtype']}]") for e in table
              if pred(e) and e[f"time_to_{eps}{suffix}"] is not None]
        return min(ts) if ts else (None, None)

    ours_t, ours_name = best(lambda e: e["ours"])
    cd_t, _ = best(lambda e: e["solver"] == "sklearn lasso_cd")
    sp_t, _ = best(lambda e: e["solver"].startswith("SPAMS"))
    ratio = (cd_t / ours_t) if (ours_t and cd_t) else None
    ratio_sp = (sp_t / ours_t) if (ours_t and sp_t) else None
    ours_b, _ = best(lambda e: e["ours"], suffix="_best")
    cd_b, _ = best(lambda e: e["solver"] == "sklearn lasso_cd", suffix="_best")
    ratio_best = (cd_b / ours_b) if (ours_b and cd_b) else None
    print(f"\nour best to 1e-6: {ours_name} {fmt(ours_t).strip()} s; lasso_cd {fmt(cd_t).strip()} s; "
          f"SPAMS {fmt(sp_t).strip()} s")
    print(f"ratio (lasso_cd / ours, medians) = {ratio if ratio is None else round(ratio, 2)} "
          f"(best-of {ratio_best if ratio_best is None else round(ratio_best, 2)})   "
          f"ratio (SPAMS / ours) = {ratio_sp if ratio_sp is None else round(ratio_sp, 2)}")

    fig_path = ARGS.figure or (os.path.splitext(ARGS.json)[0] + ".png" if ARGS.json else None)
    if fig_path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 5.5))
        colors = plt.cm.tab20(np.linspace(0, 1, 20))
        for i, e in enumerate(table):
            pts = sorted(e["points"], key=lambda p: p["time_s"])
            ts = [p["time_s"] for p in pts]
            ys = [max(p["subopt"], 1e-16) for p in pts]
            ax.plot(ts, ys, marker="o", ls="-" if e["ours"] else "--", color=colors[i % 20],
                    label=f"{e['solver']} [{e['dtype']}]")
        for eps in TARGETS:
            ax.axhline(eps, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("relative suboptimality (F - F*)/F*")
        ax.set_title(f"Lasso, {N} MNIST digits, k={D.shape[1]}, {ARGS.threads} CPU thread(s)")
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(fig_path)), exist_ok=True)
        fig.savefig(fig_path, dpi=110)
        plt.close(fig)
    out = {"ratio": ratio, "ratio_best": ratio_best, "ratio_vs_spams": ratio_sp, "best_ours": ours_name,
           "best_ours_time_to_1e-06": ours_t, "lasso_cd_time_to_1e-06": cd_t, "spams_time_to_1e-06": sp_t,
           "num_examples": N, "num_atoms": D.shape[1], "lam": lam, "mean_nonzeros": nnz, "threads": ARGS.threads,
           "device": jax.devices()[0].platform, "f_star": f_star, "repeats": repeats,
           "reference_candidates": {k: (v - f_star) / f_star for k, v in ref_cands.items()}, "table": table}
    run.write(ARGS.json, out)


if __name__ == "__main__":
    main()
