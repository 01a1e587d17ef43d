"""Convolutional sparse coding benchmark vs SPORCO: time to relative suboptimality 1e-2 / 1e-3 / 1e-4.

Problem: SPORCO's own example (``examples/scripts/csc/cbpdn_gry.py``), reproduced
exactly: kodim23 from SPORCO's data, grey, crop [160:416, 60:316], Tikhonov
high-pass (``sporco.signal.tikhonov_filter(img, 10, 16)``), dictionary
``sporco.util.convdicts()['G:12x12x36']``, λ = 5e-2, float32 as SPORCO loads it.
Energy (circular boundary, SPORCO ConvBPDN's): E = ½‖Σ_k d_k ∗ z_k − s‖² + λ Σ_k ‖z_k‖₁,
evaluated for every solver in float64 on the host (numpy FFT) at its sparse
iterate (SPORCO ADMM's Y, PGM's X, our codes).

Solvers: ours (``conv_sparse_code``: ADMM as SPORCO's ConvBPDN, FISTA with
restart), SPORCO's ADMM ``sporco.admm.cbpdn.ConvBPDN`` with its default options
(ρ = 50λ + 1 adapted every iteration, RelaxParam 1.8) and its PGM solver
``sporco.pgm.cbpdn.ConvBPDN`` with the options of its own example (L = 1,
BacktrackStandard(maxiter=15)). SPORCO runs with ``FastSolve=True`` (no
objective or statistics per iteration: its fastest mode, same iterates) and
``pyfftw_threads`` = ``--threads``. One reference optimum F*: the smallest
energy among a long float64 run of ours and SPORCO's long ADMM run (the table
says how they agree).

"Time to ε": each solver's iteration count n(ε) to reach (E − F*)/F* ≤ ε is read
off an untimed trace; then ours is timed with exactly n(ε) iterations (fixed
count, no stopping test), and SPORCO's ADMM runs to the largest n(ε) with a
callback that stamps the clock at every iteration (constructor included: SPORCO
does its FFTs of D and s there, ours inside the call). All these timed calls are
interleaved round-robin (``_bench.interleave``) in this one process, pinned to
the same cores, so a load that comes and goes falls on all of them; the energy
reached by every timed call is checked in float64. SPORCO's PGM (minutes per
run to 1e-3) is timed once, in its traced run, with the callback's time taken
out of the clock (the same measure on SPORCO's ADMM is reported beside its
interleaved times as a check).

Batch: 16 different 256x256 crops (the example crop plus 15 of SPORCO's other
images, each high-passed the same way), coded by ours as one batch and by SPORCO
one at a time, both with the same iteration count (SPORCO's n(1e-3) on the
example: the same algorithm, so the same accuracy; their energies are compared).

Usage:  python scripts/bench_conv_sparse.py [--quick] [--json PATH] [--figure PATH]
        [--threads T] [--repeats R] [--batch B]
``--json`` writes the table plus ``ratio`` = SPORCO ADMM's median time to 1e-3 /
our fastest variant's median time to 1e-3 (ours faster when > 1), ``ratio_best``
from the best times, ``batch_ratio`` (SPORCO's median seconds per image one by one /
ours per image in one batch), the machine record and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _bench


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a 128x128 corner of the example, tolerances 1e-2/1e-3, batch 4, no PGM (a smoke test)")
    ap.add_argument("--json", default=None, help="write the results as JSON here")
    ap.add_argument("--figure", default=None, help="suboptimality-vs-time PNG (default: beside --json)")
    ap.add_argument("--threads", type=int, default=1, help="CPU cores for every solver (the process is pinned to them)")
    _bench.add_device_arg(ap)
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds after one warm-up round")
    ap.add_argument("--batch", type=int, default=None, help="images coded at once (default 16, quick 4)")
    ap.add_argument("--ref-iters", type=int, default=None, help="float64 ADMM iterations of our reference run")
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

from ebm_jax.sparse.conv import conv_objective, conv_sparse_code  # noqa: E402

LAM = 5e-2
CROP = np.s_[160:416, 60:316]


# --------------------------------------------------------------------------- problem

def example_images(batch, quick):
    """The example's high-passed crop first, then crops of SPORCO's other images (same filter)."""
    from sporco import signal, util

    ei = util.ExampleImages()
    img = ei.image("kodim23.png", scaled=True, gray=True, idxexp=CROP)
    _, sh = signal.tikhonov_filter(img, 10, 16)
    size = 128 if quick else 256
    crops, names = [sh[:size, :size] if quick else sh], ["kodim23.png[160:416, 60:316]"]
    others = [n for n in ei.images() if n != "kodim23.png"]
    i = 0
    while len(crops) < batch:
        name = others[i % len(others)]
        pos = i // len(others)
        full = ei.image(name, scaled=True, gray=True)
        r, c = 256 * (pos // 2), 256 * (pos % 2)
        _, h = signal.tikhonov_filter(full[r:r + 256, c:c + 256], 10, 16)
        crops.append(h[:size, :size])
        names.append(f"{name}[{r}:{r + 256}, {c}:{c + 256}]" + ("" if not quick else f"[:{size}, :{size}]"))
        i += 1
    D = util.convdicts()["G:12x12x36"]
    return np.stack(crops), D, names


class Energy:
    """E(z) in float64 on the host: codes (K, H, W) or SPORCO's (H, W, 1, 1, K)."""

    def __init__(self, s, D):  # s (H, W), D (h, w, K) as SPORCO
        self.shape = s.shape
        self.K = D.shape[-1]
        self.Df = np.fft.rfft2(np.moveaxis(D.astype(np.float64), -1, 0), s=s.shape)
        self.sf = np.fft.rfft2(s.astype(np.float64))

    def codes(self, z):
        z = np.asarray(z, np.float64)
        if z.ndim == 5 or (z.ndim == 3 and z.shape[-1] == self.K and z.shape[0] != self.K):
            z = np.moveaxis(z.reshape(self.shape + (self.K,)), -1, 0)
        return z.reshape((self.K,) + self.shape)

    def __call__(self, z):
        z = self.codes(z)
        r = np.fft.irfft2(np.sum(self.Df * np.fft.rfft2(z), axis=0) - self.sf, s=self.shape)
        return 0.5 * float(np.sum(r * r)) + LAM * float(np.sum(np.abs(z)))


# --------------------------------------------------------------------------- SPORCO

def sporco_admm(D, s, n, callback=None, **extra):
    from sporco.admm import cbpdn

    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "FastSolve": True, "MaxMainIter": int(n), "RelStopTol": 0.0,
                                  "Callback": callback, **extra})
    b = cbpdn.ConvBPDN(D, s, LAM, opt)
    b.solve()
    return b


def sporco_pgm(D, s, n, callback=None):
    from sporco.pgm import cbpdn
    from sporco.pgm.backtrack import BacktrackStandard

    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "FastSolve": True, "MaxMainIter": int(n), "RelStopTol": 0.0,
                                  "L": 1.0, "Backtrack": BacktrackStandard(maxiter=15), "Callback": callback})
    b = cbpdn.ConvBPDN(D, s, LAM, opt, dimK=0)
    b.solve()
    return b


def sporco_trace(run, D, s, n, energy, var):
    """Energy after every iteration of SPORCO's solver, and the clock after every iteration with the
    callback's own time (the float64 energy) taken out (seconds since the call began)."""
    trace, stamps, spent = [], [], [0.0]

    def cb(b):
        t = time.perf_counter()
        stamps.append(t - spent[0] - t0)
        trace.append(energy(getattr(b, var)))
        spent[0] += time.perf_counter() - t
        return False

    t0 = time.perf_counter()
    run(D, s, n, cb)
    return np.array(trace), np.array(stamps)


class StampedSporco:
    """A SPORCO solve to ``n`` iterations that stamps the clock after every iteration."""

    def __init__(self, run, D, s, n, marks, energy, var):
        self.run, self.D, self.s, self.n, self.marks = run, D, s, n, marks
        self.energy, self.var = energy, var
        self.calls = []  # per call: {eps: seconds since the call began}
        self.stamps = []  # per call: seconds after each iteration
        self.final = []

    def __call__(self):
        stamps = []
        t0 = time.perf_counter()
        b = self.run(self.D, self.s, self.n, lambda _b: stamps.append(time.perf_counter()) and False)
        stamps = [t - t0 for t in stamps]
        self.stamps.append(stamps)
        self.calls.append({eps: stamps[k - 1] for eps, k in self.marks.items()})
        self.final.append(self.energy(getattr(b, self.var)))
        return None

    def timings(self, warmup=1):
        return {eps: _bench.Timing([c[eps] for c in self.calls[warmup:]], [c[eps] for c in self.calls[:warmup]])
                for eps in self.marks}


# --------------------------------------------------------------------------- helpers

def first_below(sub, eps):
    idx = np.flatnonzero(np.asarray(sub) <= eps)
    return int(idx[0]) + 1 if idx.size else None


def fmt(t):
    return "       -" if t is None else f"{t:8.3f}"


def main():
    quick = ARGS.quick
    run = _bench.Run("conv_sparse_time_to_tolerance", CORES, quick=quick)
    targets = (1e-2, 1e-3) if quick else (1e-2, 1e-3, 1e-4)
    batch = ARGS.batch or (4 if quick else 16)
    R = ARGS.repeats
    import sporco
    import sporco.fft

    sporco.fft.pyfftw_threads = ARGS.threads
    fft_used = (f"pyfftw {sporco.fft.pyfftw.__version__} (FFTW, planner {sporco.fft.pyfftw_planner_effort}, "
                f"{sporco.fft.pyfftw_threads} thread(s))" if sporco.fft.have_pyfftw else "numpy.fft")
    S, D, names = example_images(batch, quick)
    sh = S[0]
    Dk = np.ascontiguousarray(np.moveaxis(D, -1, 0))  # (K, h, w)
    energy = Energy(sh, D)
    print(f"problem: {sh.shape} {sh.dtype} high-passed kodim23 crop, dictionary {D.shape} (G:12x12x36), lambda={LAM}, "
          f"threads={ARGS.threads}; SPORCO {sporco.__version__} with {fft_used}", file=sys.stderr, flush=True)
    s32, D32 = jnp.asarray(sh[None], jnp.float32), jnp.asarray(Dk, jnp.float32)
    out = {"problem": {"image": names[0], "shape": list(sh.shape), "dtype": str(sh.dtype), "dictionary": "G:12x12x36",
                       "filters": list(Dk.shape), "lam": LAM, "tikhonov": [10, 16], "quick": quick},
           "sporco_version": sporco.__version__, "sporco_fft": fft_used, "threads": ARGS.threads, "repeats": R}

    # ---------------- SPORCO's notebook run and the objective convention ----------------
    from sporco.admm import cbpdn

    nb_iters = 200 if not quick else 20
    opt = cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": nb_iters, "RelStopTol": 5e-3, "AuxVarObj": False})
    b = cbpdn.ConvBPDN(D, sh, LAM, opt)
    b.solve()
    its = b.getitstat()
    nb = {"options": "Verbose False, MaxMainIter %d, RelStopTol 5e-3, AuxVarObj False (the example's)" % nb_iters,
          "iterations": int(its.Iter[-1]) + 1, "last_Iter_field": int(its.Iter[-1]), "ObjFun": float(its.ObjFun[-1]),
          "published": "functional 26.2 after 55 iterations (SPORCO's cbpdn_gry notebook)"}
    # SPORCO's ObjFun (float32) at its X (AuxVarObj False) and at its Y (AuxVarObj True), against ours in float64
    x_codes, y_codes = energy.codes(b.X), energy.codes(b.Y)
    ours_x = float(conv_objective(jnp.asarray(sh[None], jnp.float64), jnp.asarray(Dk, jnp.float64),
                                  jnp.asarray(x_codes[None]), LAM)[0])
    b.opt["AuxVarObj"] = True
    sp_y = float(b.eval_objfn()[0])
    ours_y = float(conv_objective(jnp.asarray(sh[None], jnp.float64), jnp.asarray(Dk, jnp.float64),
                                  jnp.asarray(y_codes[None]), LAM)[0])
    nb.update({"objective_check": {
        "sporco_ObjFun_at_X": nb["ObjFun"], "ours_at_X": ours_x, "rel_diff_X": abs(ours_x - nb["ObjFun"]) / nb["ObjFun"],
        "sporco_ObjFun_at_Y": sp_y, "ours_at_Y": ours_y, "rel_diff_Y": abs(ours_y - sp_y) / sp_y,
        "host_float64_at_Y": energy(b.Y)}})
    out["sporco_notebook_run"] = nb
    print(f"SPORCO example run: {nb['iterations']} iterations, ObjFun {nb['ObjFun']:.4f} (published 26.2 after 55); "
          f"our objective at its X {ours_x:.6f} (rel diff {nb['objective_check']['rel_diff_X']:.1e}), at its Y "
          f"{ours_y:.6f} vs SPORCO {sp_y:.6f} (rel diff {nb['objective_check']['rel_diff_Y']:.1e})",
          file=sys.stderr, flush=True)

    # ---------------- reference optimum ----------------
    ref_iters = ARGS.ref_iters or 300
    cap_admm = 100 if quick else 150
    cap_fista = 150 if quick else 300
    cap_pgm = 0 if quick else 250  # the PGM example's MaxMainIter
    t = time.perf_counter()
    ref = conv_sparse_code(jnp.asarray(sh[None], jnp.float64), jnp.asarray(Dk, jnp.float64), LAM, num_iters=ref_iters,
                           method="admm", dtype="float64")
    ref_energy = energy(ref.codes[0])
    ref_gap = float(ref.info.rel_gap)
    print(f"reference: our float64 ADMM, {ref_iters} iterations ({time.perf_counter() - t:.1f} s): E = {ref_energy:.12g}, "
          f"relative duality gap {ref_gap:.1e}", file=sys.stderr, flush=True)
    sp_admm_trace, sp_admm_stamps = sporco_trace(sporco_admm, D, sh, cap_admm, energy, "Y")
    cands = {f"ours ADMM float64, {ref_iters} iterations": ref_energy,
             f"SPORCO ADMM float32, {cap_admm} iterations (its long run)": float(sp_admm_trace.min())}
    f_star = min(cands.values())
    out["f_star"] = f_star
    out["reference"] = {"how": f"min over the candidates; ours has relative duality gap {ref_gap:.2e} (a certificate: "
                               f"F* >= E - gap)", "our_rel_duality_gap": ref_gap,
                        "candidates_rel_to_f_star": {k: (v - f_star) / f_star for k, v in cands.items()},
                        "candidates": cands}
    print("F* = %.12g; candidates: " % f_star + ", ".join(f"{k}: {(v - f_star) / f_star:.1e}" for k, v in cands.items()),
          file=sys.stderr, flush=True)

    # ---------------- traces (untimed): iterations to each tolerance ----------------
    def sub(e):
        return (np.asarray(e, np.float64) - f_star) / f_star

    ours_variants = {
        "ours ADMM (SPORCO's algorithm)": dict(method="admm"),
        "ours ADMM, rho updated every 10th": dict(method="admm", rho_period=10),
        "ours FISTA + restart": dict(method="fista"),
    }
    # the tolerances each of ours is timed at (all are traced): FISTA needs 4x ADMM's iterations
    timed_at = {"ours ADMM (SPORCO's algorithm)": targets, "ours ADMM, rho updated every 10th": targets[1:],
                "ours FISTA + restart": targets[:2]}
    if quick:
        ours_variants.pop("ours ADMM, rho updated every 10th")
    traces, marks = {}, {}
    for name, kw in ours_variants.items():
        cap = cap_fista if kw["method"] == "fista" else cap_admm
        tr = conv_sparse_code(s32, D32, LAM, num_iters=cap, record=True, **kw).info.trace["objective"][:, 0]
        traces[name] = sub(np.asarray(tr, np.float64))
    traces["SPORCO ADMM (ConvBPDN)"] = sub(sp_admm_trace)
    pgm_stamps = None
    if cap_pgm:
        pgm_trace, pgm_stamps = sporco_trace(sporco_pgm, D, sh, cap_pgm, energy, "X")
        traces["SPORCO PGM"] = sub(pgm_trace)
    for name, tr in traces.items():
        marks[name] = {eps: first_below(tr, eps) for eps in targets}
        print(f"  {name:40s} iterations to " + ", ".join(f"{eps:.0e}: {marks[name][eps]}" for eps in targets),
              file=sys.stderr, flush=True)

    # our iteration counts, checked in float64 at the timed output (the trace is float32)
    checked = {}
    for name, kw in ours_variants.items():
        checked[name] = {}
        for eps, n in marks[name].items():
            if eps not in timed_at[name]:
                continue
            while n is not None:
                e = energy(conv_sparse_code(s32, D32, LAM, num_iters=n, **kw).codes[0])
                if sub(e) <= eps:
                    checked[name][eps] = (n, float(sub(e)))
                    break
                n += 1
            marks[name][eps] = n

    # ---------------- timed, round-robin ----------------
    fns, our_keys = {}, {}
    for name, kw in ours_variants.items():
        for eps, n in marks[name].items():
            if n is None or eps not in timed_at[name]:
                continue
            key = f"{name} n={n}"
            our_keys[(name, eps)] = key
            fns.setdefault(key, lambda n=n, kw=kw: conv_sparse_code(s32, D32, LAM, num_iters=n, **kw).codes)
    stamped = {}
    for name, runner, var in [("SPORCO ADMM (ConvBPDN)", sporco_admm, "Y")]:
        reached = {eps: n for eps, n in marks[name].items() if n is not None}
        if reached:
            stamped[name] = StampedSporco(runner, D, sh, max(reached.values()), reached, energy, var)
            fns[f"{name} n={max(reached.values())}"] = stamped[name]
    print(f"timing {len(fns)} calls round-robin, {R} rounds after one warm-up round ...", file=sys.stderr, flush=True)
    meter = _bench.LoadMeter()
    timed = _bench.interleave(fns, repeats=R, warmup=1)
    load_timed = meter.read()

    table = []
    for name in traces:
        entry = {"solver": name, "ours": name.startswith("ours"), "dtype": "float32", "trace_iters": len(traces[name]),
                 "best_subopt_in_trace": float(np.min(traces[name])), "iterations": {}, "time_to": {},
                 "subopt_reached": {}}
        if name == "SPORCO ADMM (ConvBPDN)":  # a check of the traced-run timing that PGM's numbers use
            entry["time_to_from_traced_run"] = {f"{eps:.0e}": float(sp_admm_stamps[n - 1])
                                                for eps, n in marks[name].items() if n is not None}
        if name in stamped:
            tt = stamped[name].timings()
            entry["final_subopt_of_timed_calls"] = [float(sub(e)) for e in stamped[name].final]
            entry["seconds_per_iteration_median"] = statistics.median(
                (st[-1] - st[0]) / max(1, len(st) - 1) for st in stamped[name].stamps[1:])
        for eps in targets:
            n = marks[name][eps]
            entry["iterations"][f"{eps:.0e}"] = n
            if n is None or (entry["ours"] and eps not in timed_at[name]):
                entry["time_to"][f"{eps:.0e}"] = None
                continue
            if entry["ours"]:
                timing = timed[our_keys[(name, eps)]]
                entry["subopt_reached"][f"{eps:.0e}"] = checked[name][eps][1]
                entry.setdefault("compile_s", timing.warmup[0] - timing.median)
            elif name in stamped:
                timing = tt[eps]
                entry["subopt_reached"][f"{eps:.0e}"] = float(traces[name][n - 1])
            else:  # SPORCO PGM: its one traced run, the callback's time taken out
                timing = _bench.Timing([float(pgm_stamps[n - 1])])
                entry["subopt_reached"][f"{eps:.0e}"] = float(traces[name][n - 1])
                entry["note"] = ("timed once: the traced run, clock stamped at every iteration with the callback's "
                                 "float64 energy taken out (each run to 1e-3 takes minutes)")
            entry["time_to"][f"{eps:.0e}"] = timing.as_dict()
        table.append(entry)

    def t_of(entry, eps, stat="median"):
        d = entry["time_to"].get(f"{eps:.0e}")
        return None if d is None else d[stat]

    sp_entry = next(e for e in table if e["solver"].startswith("SPORCO ADMM"))
    pgm_entry = next((e for e in table if e["solver"] == "SPORCO PGM"), {"time_to": {}})
    ratios = {}
    for eps in targets:
        ours_t = [(t_of(e, eps), e["solver"]) for e in table if e["ours"] and t_of(e, eps) is not None]
        best_t, best_name = min(ours_t) if ours_t else (None, None)
        ours_b = min((t_of(e, eps, "best") for e in table if e["ours"] and t_of(e, eps) is not None), default=None)
        sp_t, sp_b = t_of(sp_entry, eps), t_of(sp_entry, eps, "best")
        ratios[f"{eps:.0e}"] = {"ours_fastest": best_name, "ours_median_s": best_t, "sporco_admm_median_s": sp_t,
                                "sporco_pgm_median_s": t_of(pgm_entry, eps),
                                "ratio": sp_t / best_t if (sp_t and best_t) else None,
                                "ratio_best": sp_b / ours_b if (sp_b and ours_b) else None,
                                "ratio_vs_pgm": (t_of(pgm_entry, eps) / best_t) if (t_of(pgm_entry, eps) and best_t)
                                else None}
    head = ratios["1e-03"]

    # ---------------- batch: B images at once vs SPORCO one by one ----------------
    n_b = marks["SPORCO ADMM (ConvBPDN)"][1e-3] or cap_admm
    SB = jnp.asarray(S, jnp.float32)
    print(f"batch: {batch} images, {n_b} ADMM iterations each; ours in one batch, SPORCO one at a time ...",
          file=sys.stderr, flush=True)
    # round-robin: one call of ours codes the whole batch; one call of SPORCO codes the next
    # ceil(B / rounds) images one by one, so that over the warm-up and timed rounds it codes every image once
    per_call = -(-batch // (R + 1))
    cursor = [0]
    e_sp = [None] * batch

    def sporco_some_timed():  # the float64 energy check is not timed
        sporco_some_timed.calls.append(0.0)
        for _ in range(per_call):
            i = cursor[0] % batch
            t = time.perf_counter()
            bi = sporco_admm(D, S[i], n_b)
            sporco_some_timed.calls[-1] += time.perf_counter() - t
            if cursor[0] < batch:
                e_sp[i] = Energy(S[i], D)(bi.Y)
            cursor[0] += 1

    sporco_some_timed.calls = []
    bt = _bench.interleave({"ours": lambda: conv_sparse_code(SB, D32, LAM, num_iters=n_b, method="admm").codes,
                            "sporco": sporco_some_timed}, repeats=R, warmup=1)
    ours_batch = bt["ours"]
    zb = np.asarray(conv_sparse_code(SB, D32, LAM, num_iters=n_b, method="admm").codes)
    e_ours = [Energy(S[i], D)(zb[i]) for i in range(batch)]
    calls = sporco_some_timed.calls
    sp_times = [c / per_call for c in calls[1:]]
    sp_warm = [c / per_call for c in calls[:1]]
    sp_per_image = _bench.Timing(sp_times, sp_warm)
    ours_per_image = ours_batch.scaled(1.0 / batch)
    batch_out = {"batch": batch, "iterations": n_b, "images": names,
                 "how": (f"round-robin: each round one call of ours coding all {batch} images as one batch, and "
                         f"SPORCO coding {per_call} images one by one (the next ones, so every image once over "
                         f"the warm-up and {R} timed rounds); per-image time = call time / images"),
                 "ours_batch_seconds": ours_batch.as_dict(), "ours_per_image": ours_per_image.as_dict(),
                 "sporco_per_image_one_by_one": sp_per_image.as_dict(),
                 "batch_ratio": sp_per_image.median / ours_per_image.median,
                 "batch_ratio_best": sp_per_image.best / ours_per_image.best,
                 "energies_ours": e_ours, "energies_sporco": e_sp,
                 "max_rel_energy_diff": max(abs(a - b) / b for a, b in zip(e_ours, e_sp))}
    single = next(e for e in table if e["solver"].startswith("ours ADMM (SPORCO"))
    if single["iterations"].get("1e-03") == n_b:
        batch_out["ours_single_image_same_iters_median_s"] = t_of(single, 1e-3)
        batch_out["batching_gain"] = t_of(single, 1e-3) / ours_per_image.median

    # ---------------- report ----------------
    print(f"\nConvolutional sparse coding, SPORCO's cbpdn_gry problem {sh.shape}, K={Dk.shape[0]} {Dk.shape[1]}x"
          f"{Dk.shape[2]}, lambda={LAM}, {ARGS.threads} thread(s), SPORCO FFT: {fft_used}")
    print(f"SPORCO example run: {nb['iterations']} iterations to ObjFun {nb['ObjFun']:.2f} (published: 26.2 after 55); "
          f"our objective at its iterate differs by {nb['objective_check']['rel_diff_Y']:.1e} (Y) / "
          f"{nb['objective_check']['rel_diff_X']:.1e} (X) relative")
    print(f"F* = {f_star:.10g}; " + ", ".join(f"{k}: {v:.1e}" for k, v in out["reference"]["candidates_rel_to_f_star"]
                                             .items()))
    cols = "".join(f"{'t(' + format(eps, '.0e') + ')':>10s}{'n':>5s}" for eps in targets)
    print(f"{'solver':40s}{cols}   (median s over {R} rounds; n = iterations)")
    for e in table:
        row = "".join(f"{fmt(t_of(e, eps)):>10s}{str(e['iterations'][format(eps, '.0e')] or '-'):>5s}" for eps in targets)
        print(f"{e['solver']:40s}{row}")
    for eps in targets:
        r = ratios[f"{eps:.0e}"]
        if r["ratio"]:
            print(f"to {eps:.0e}: SPORCO ADMM / ours ({r['ours_fastest']}) = {r['ratio']:.2f} (best-of "
                  f"{r['ratio_best']:.2f})" + (f"; SPORCO PGM / ours = {r['ratio_vs_pgm']:.2f}" if r["ratio_vs_pgm"] else ""))
    print(f"batch of {batch}, {n_b} iterations: ours {ours_per_image.median:.3f} s/image in one batch, SPORCO "
          f"{sp_per_image.median:.3f} s/image one by one: ratio {batch_out['batch_ratio']:.2f} (best-of "
          f"{batch_out['batch_ratio_best']:.2f}); energies agree to {batch_out['max_rel_energy_diff']:.1e}")
    print(f"load while timing: other processes used {load_timed.get('others_busy_cores', float('nan')):.2f} cores, "
          f"load avg {load_timed['loadavg_before'][0]:.2f} -> {load_timed['loadavg_after'][0]:.2f}")

    fig_path = ARGS.figure or (os.path.splitext(ARGS.json)[0] + ".png" if ARGS.json else None)
    curves = {}
    for e in table:
        name = e["solver"]
        tr = traces[name]
        if name in stamped:  # SPORCO: the median clock stamp after every iteration
            st = np.median(np.array([s_[:len(stamped[name].stamps[1])] for s_ in stamped[name].stamps[1:]]), axis=0)
            k = len(st)
            curves[name] = (st, tr[:k])
        elif name == "SPORCO PGM":
            curves[name] = (pgm_stamps, tr)
        else:  # ours: the timed points, and the trace placed on the line fitted through them
            pts = [(n, t_of(e, eps)) for eps, n in marks[name].items() if t_of(e, eps) is not None]
            if len(pts) >= 2:
                a1, a0 = np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)
                ks = np.arange(1, len(tr) + 1)
                curves[name] = (a0 + a1 * ks, tr)
            e["timed_points"] = pts
    if fig_path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8.5, 5.2))
        for i, e in enumerate(table):
            name, color = e["solver"], f"C{i}"
            if name in curves:
                ts, ys = curves[name]
                ax.plot(ts, np.maximum(ys, 1e-9), color=color, ls="-" if e["ours"] else "--", lw=1.2, label=name)
            for eps in targets:
                t_eps = t_of(e, eps)
                if t_eps is not None:
                    ax.plot([t_eps], [e["subopt_reached"][f"{eps:.0e}"]], "o", color=color, ms=5)
        for eps in targets:
            ax.axhline(eps, color="grey", lw=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(max(1e-7, min(targets) / 30), None)
        ax.set_xlabel("time (s), median over rounds")
        ax.set_ylabel("relative suboptimality (E - F*)/F*")
        ax.set_title(f"CSC, SPORCO's cbpdn_gry problem (256x256, 36 filters), {ARGS.threads} CPU thread(s)"
                     if not quick else "CSC quick problem")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(fig_path)), exist_ok=True)
        fig.savefig(fig_path, dpi=110)
        plt.close(fig)
        out["figure"] = os.path.basename(fig_path)
    out.update({"ratio": head["ratio"], "ratio_best": head["ratio_best"], "ratio_vs_pgm": head["ratio_vs_pgm"],
                "best_ours": head["ours_fastest"], "ratios": ratios, "batch_ratio": batch_out["batch_ratio"],
                "batch_ratio_best": batch_out["batch_ratio_best"], "batch": batch_out,
                "targets_issue_12": {"ratio_1e-3_at_least": 5.0, "batch_ratio_at_least": 8.0},
                "load_while_timed": load_timed, "table": table,
                "device": jax.devices()[0].platform})
    run.write(ARGS.json, out)


if __name__ == "__main__":
    main()
