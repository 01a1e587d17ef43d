"""The one benchmark helper: core pinning, a timer, the step's own matmul ceiling,
a machine record, peers in their own process, and the JSON every ``bench_*.py`` writes.

A benchmark script imports this module first, pins its cores before jax or torch
is imported, and runs its peer (PyTorch, scikit-learn) in a subprocess pinned to
the same cores, so that neither library's thread pool spins beside the other's::

    import _bench                                   # scripts/_bench.py
    if __name__ == "__main__":
        ARGS = parse_args()
        CORES = _bench.pin_cores(ARGS.threads)      # before jax / torch are imported
    import jax

    def torch_side(**kw) -> dict:                   # runs in its own process
        ...
        return {"epoch": _bench.time_fn(epoch, repeats=5).as_dict()}

    def main():
        run = _bench.Run("vae_epoch", CORES)        # machine record + load before
        ours = _bench.time_fn(our_epoch, repeats=5)
        peer = _bench.run_peer(torch_side, pin_threads=ARGS.threads, examples=10_000)
        ceiling = _bench.step_ceiling(step_fn, state, batch, key)  # the step's own GEMMs
        run.write(ARGS.json, {...}, ours=ours, peer=peer["epoch"])  # ratio from medians

Conventions of every ``bench_*.py`` JSON: ``ratio`` = peer median / our median
(ours faster when > 1; for throughputs the same orientation), ``ratio_best`` =
peer best / our best beside it, each side's ``best`` / ``median`` / ``q1`` / ``q3``
/ ``min`` / ``max`` / ``times`` (seconds), and ``machine`` with the load before and
after and the CPU time other processes used during the run (``others_busy_cores``).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
if ROOT not in sys.path:  # `python scripts/bench_x.py` imports this checkout's ebm_jax, not an installed one
    sys.path.insert(0, ROOT)

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------------- core pinning

def pin_cores(threads: int | None = None) -> list[int]:
    """Pin this process to its first ``threads`` allowed cores (all when ``None`` or 0); returns their ids.

    Call before jax, torch or numpy's BLAS start: XLA:CPU sizes its thread pools
    from the process's CPU affinity (``--xla_cpu_multi_thread_eigen=false`` does
    not stop its YNNPACK matmuls from using every core), and the OpenMP / BLAS
    pools read the thread variables set here once, at start-up.
    """
    allowed = sorted(os.sched_getaffinity(0))
    threads = threads or len(allowed)
    if not 1 <= threads <= len(allowed):
        raise SystemExit(f"--threads must be between 1 and the {len(allowed)} cores this process may use, "
                         f"got {threads}")
    for lib in ("jax", "torch"):
        if lib in sys.modules and threads != len(allowed):
            print(f"_bench.pin_cores: {lib} was imported before pinning; its thread pools may be sized "
                  f"for {len(allowed)} cores", file=sys.stderr)
    cores = allowed[:threads]
    os.sched_setaffinity(0, cores)
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return cores


# --------------------------------------------------------------------------- device

DEVICES = ("cpu", "gpu")


def add_device_arg(parser) -> None:
    """``--device cpu|gpu``: where our side (and the PyTorch peer, where it has a CUDA build) runs."""
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="cpu (default: cores pinned, every side on the CPU) or gpu (nothing pinned; JAX on "
                             "CUDA, the PyTorch peer on CUDA with synchronisation; CPU-only peers stay on the CPU)")


def setup_device(device: str = "cpu", threads: int | None = None) -> list[int]:
    """Before jax or torch are imported: pin ``threads`` cores on the CPU (:func:`pin_cores`), or, with
    ``device="gpu"``, pin nothing and ask JAX for its CUDA backend. Returns the pinned cores ([] on a GPU)."""
    if device not in DEVICES:
        raise SystemExit(f"--device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return pin_cores(threads)
    os.environ["JAX_PLATFORMS"] = "cuda"
    return []


def torch_device(device: str) -> str:
    """The torch device of a peer: ``"cuda"`` for ``--device gpu`` (refused when torch has no CUDA), else ``"cpu"``."""
    if device != "gpu":
        return "cpu"
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("--device gpu: this torch has no CUDA device (torch.cuda.is_available() is False)")
    return "cuda"


def torch_sync(device: str) -> Callable[[Any], None]:
    """``sync`` for :func:`time_fn` on a PyTorch side: waits for the GPU's queued kernels (a no-op on the CPU)."""
    if device != "gpu":
        return lambda _out: None
    import torch

    return lambda _out: torch.cuda.synchronize()


def accelerator_record() -> dict:
    """The JAX device the run used: backend, kind (the GPU's name), count."""
    import jax

    return {"backend": jax.default_backend(), "device_kind": jax.devices()[0].device_kind,
            "device_count": jax.device_count()}


# --------------------------------------------------------------------------- timer

_COMPILES = [0]
_LISTENING = [False]


def _count_compiles() -> int:
    """XLA compilations so far in this process (0 before jax is imported)."""
    jax = sys.modules.get("jax")
    if jax is not None and not _LISTENING[0]:
        def listener(name, _secs, **_kw):
            if name == "/jax/core/compile/backend_compile_duration":
                _COMPILES[0] += 1
        jax.monitoring.register_event_duration_secs_listener(listener)
        _LISTENING[0] = True
    return _COMPILES[0]


@dataclasses.dataclass
class Timing:
    """Seconds of the warm-up calls and of the timed repeats of one function.

    ``best`` is what a quiet machine can do, ``median`` what a user sees; the
    spread is the interquartile range ``q1..q3`` (and ``min..max``). Divide by
    ``per`` (e.g. steps per call) with :meth:`scaled`.
    """

    times: list[float]
    warmup: list[float] = dataclasses.field(default_factory=list)
    compiles: int = 0  # XLA compilations during the timed calls (should be 0)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def q1(self) -> float:
        return _quantile(self.times, 0.25)

    @property
    def q3(self) -> float:
        return _quantile(self.times, 0.75)

    @property
    def worst(self) -> float:
        return max(self.times)

    def scaled(self, factor: float) -> "Timing":
        """Every time multiplied by ``factor`` (e.g. ``1 / steps`` for seconds per step)."""
        return Timing([t * factor for t in self.times], [t * factor for t in self.warmup], self.compiles)

    def as_dict(self) -> dict:
        return {"best": self.best, "median": self.median, "q1": self.q1, "q3": self.q3, "min": self.best,
                "max": self.worst, "iqr_over_median": (self.q3 - self.q1) / self.median,
                "repeats": len(self.times), "times": self.times, "warmup": self.warmup,
                "compiles_while_timed": self.compiles}

    @classmethod
    def from_dict(cls, d: dict) -> "Timing":
        return cls(list(d["times"]), list(d.get("warmup", [])), d.get("compiles_while_timed", 0))

    def __str__(self) -> str:
        return f"median {_fmt(self.median)} (best {_fmt(self.best)}, IQR {_fmt(self.q1)}-{_fmt(self.q3)}, n={len(self.times)})"


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.3f} s"


def _quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), without numpy."""
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _block(out):
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.block_until_ready(out)
    return out


def time_fn(fn: Callable[[], Any], *, repeats: int = 7, warmup: int = 1, min_seconds: float = 0.0,
            max_repeats: int | None = None, sync: Callable[[Any], Any] = _block) -> Timing:
    """Time ``fn()`` ``warmup`` times (reported apart: compilation, caches) then ``repeats`` times.

    Every call's result is passed to ``sync`` (``jax.block_until_ready`` when jax is
    loaded) before the clock stops. With ``min_seconds`` the timed calls go on past
    ``repeats`` until they add up to that long (at most ``max_repeats``), so fast
    functions get enough samples for a median to mean something.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    max_repeats = max(repeats, max_repeats or 50 * repeats)

    def once() -> float:
        t = time.perf_counter()
        sync(fn())
        return time.perf_counter() - t

    warm = [once() for _ in range(warmup)]
    compiled = _count_compiles()
    times: list[float] = []
    while len(times) < repeats or (sum(times) < min_seconds and len(times) < max_repeats):
        times.append(once())
    compiles = _count_compiles() - compiled
    if compiles:
        print(f"_bench.time_fn: {compiles} XLA compilation(s) while timing: the timed calls include compiling "
              "(inputs whose sharding, dtype or weak type changed between calls?)", file=sys.stderr)
    return Timing(times, warm, compiles)


def interleave(fns: dict[str, Callable[[], Any]], *, repeats: int = 7, warmup: int = 1,
               sync: Callable[[Any], Any] = _block) -> dict[str, Timing]:
    """Time several functions round-robin (one call of each per round), so that a load that comes and goes
    on a shared machine falls on all of them alike; their per-round ratios are then comparable."""
    def once(fn) -> float:
        t = time.perf_counter()
        sync(fn())
        return time.perf_counter() - t

    warm = {name: [once(fn) for _ in range(warmup)] for name, fn in fns.items()}
    compiled = _count_compiles()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(once(fn))
    compiles = _count_compiles() - compiled
    if compiles:
        print(f"_bench.interleave: {compiles} XLA compilation(s) while timing", file=sys.stderr)
    return {name: Timing(times[name], warm[name], compiles) for name in fns}


def paired_fraction(num: Timing, den: Timing) -> dict:
    """``num / den`` round by round (from :func:`interleave`): the median, quartiles and best/best."""
    ratios = [a / b for a, b in zip(num.times, den.times)]
    return {"median": statistics.median(ratios), "q1": _quantile(ratios, 0.25), "q3": _quantile(ratios, 0.75),
            "best_over_best": num.best / den.best, "per_round": ratios}


def compare(ours: Timing, peer: Timing) -> dict:
    """``ratio`` = peer median / our median (ours faster when > 1), ``ratio_best`` beside it, and the
    ratio's spread from the quartiles (peer q1 / our q3 .. peer q3 / our q1)."""
    return {"ratio": peer.median / ours.median, "ratio_best": peer.best / ours.best,
            "ratio_iqr": [peer.q1 / ours.q3, peer.q3 / ours.q1]}


# --------------------------------------------------------------------------- matmul ceilings

_MATMUL_PRIMS = ("dot_general", "conv_general_dilated")


def _sub_jaxprs(eqn):
    """(jaxpr, multiplicity) of every sub-computation of ``eqn`` (scan bodies count ``length`` times)."""
    from jax.extend import core as jcore

    times = eqn.params.get("length", 1) if eqn.primitive.name == "scan" else 1
    for value in eqn.params.values():
        for v in (value if isinstance(value, (tuple, list)) else (value,)):
            if isinstance(v, jcore.ClosedJaxpr):
                yield v.jaxpr, times
            elif isinstance(v, jcore.Jaxpr):
                yield v, times


def matmul_ops(fn: Callable, *args) -> list[tuple[Any, int]]:
    """Every ``dot_general`` / ``conv_general_dilated`` that ``fn(*args)`` runs, as ``(eqn, count)``.

    Found in the traced jaxpr (through jit, grad, custom_jvp and scan bodies; a
    ``cond``'s branches are all counted, a ``while`` body once).
    """
    import jax

    found: list[tuple[Any, int]] = []

    def walk(jaxpr, mult):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in _MATMUL_PRIMS:
                found.append((eqn, mult))
            for sub, times in _sub_jaxprs(eqn):
                walk(sub, mult * times)

    walk(jax.make_jaxpr(fn)(*args).jaxpr, 1)
    return found


def op_flops(eqn) -> float:
    """Multiply-adds x 2 of one ``dot_general`` or ``conv_general_dilated``."""
    lhs, rhs = (v.aval for v in eqn.invars[:2])
    out = eqn.outvars[0].aval
    if eqn.primitive.name == "dot_general":
        (lc, _), (lb, _) = eqn.params["dimension_numbers"]
        contract = math.prod(lhs.shape[d] for d in lc)
        return 2.0 * math.prod(out.shape) * contract
    rhs_spec = eqn.params["dimension_numbers"].rhs_spec  # (out feature, in feature, spatial...)
    per_output = math.prod(rhs.shape) / rhs.shape[rhs_spec[0]]
    return 2.0 * math.prod(out.shape) * per_output / eqn.params.get("batch_group_count", 1)


def make_replay(ops: Sequence[tuple[Any, int]], *, inner: int = 10) -> Callable[[], Any]:
    """A function that runs ``ops`` (each ``count`` times) back to back, ``inner`` times, on random operands.

    One jitted ``lax.scan`` of ``inner`` passes; the operands ride in the carry
    through an ``optimization_barrier``, so no product is hoisted out of the loop
    or skipped. Each op keeps its own dimension numbers (transposed operands as
    the backward pass has them), dtype and precision.
    """
    import jax
    import jax.numpy as jnp

    key = jax.random.key(0)
    operands = []
    for i, (eqn, _) in enumerate(ops):
        avals = [v.aval for v in eqn.invars]
        operands.append(tuple(jax.random.normal(jax.random.fold_in(key, 2 * i + j), a.shape, a.dtype)
                              / math.sqrt(max(1, a.shape[-1])) for j, a in enumerate(avals)))

    def one_pass(operands):
        outs = []
        for (eqn, count), ins in zip(ops, operands):
            for _ in range(count):
                outs.append(eqn.primitive.bind(*ins, **eqn.params))
        return outs

    @jax.jit
    def run(operands):
        outs0 = jax.tree.map(jnp.zeros_like, jax.eval_shape(one_pass, operands))

        def body(carry, _):
            ins, _ = carry
            outs = one_pass(ins)
            return jax.lax.optimization_barrier((ins, outs)), None

        return jax.lax.scan(body, (operands, outs0), None, length=inner)[0][1]

    return lambda: run(operands)


def replay_seconds(ops: Sequence[tuple[Any, int]], *, repeats: int = 7, inner: int = 10) -> Timing:
    """Seconds per pass of ``ops`` back to back (see :func:`make_replay`)."""
    return time_fn(make_replay(ops, inner=inner), repeats=repeats, warmup=1).scaled(1.0 / inner)


def describe_ops(ops: Sequence[tuple[Any, int]]) -> dict:
    """``flops`` (per pass), ``num_ops`` and each op's operand shapes and count (for the JSON)."""
    return {"flops": sum(op_flops(eqn) * count for eqn, count in ops), "num_ops": sum(c for _, c in ops),
            "ops": [{"op": e.primitive.name, "shapes": [list(v.aval.shape) for v in e.invars[:2]],
                     "dtype": str(e.invars[0].aval.dtype), "count": c} for e, c in ops]}


def step_ceiling(fn: Callable, *args, repeats: int = 7, inner: int = 10) -> dict:
    """The matmul ceiling of one call of ``fn(*args)``: its own GEMMs / convolutions back to back.

    Returns ``flops`` (per call), ``seconds`` (a Timing dict of one pass), ``gflops``
    (from the best pass: the ceiling) and ``gflops_median``, and ``ops``: each
    op's operand shapes and count. A step's fraction of its ceiling is
    ``ceiling["seconds"]["best"] / step_seconds`` (same flops on both sides); on a
    loaded machine time the two round-robin instead (:func:`make_replay`,
    :func:`interleave`, :func:`paired_fraction`).
    """
    ops = matmul_ops(fn, *args)
    if not ops:
        raise ValueError("fn runs no dot_general or conv_general_dilated")
    info = describe_ops(ops)
    t = replay_seconds(ops, repeats=repeats, inner=inner)
    return {**info, "gflops": info["flops"] / t.best / 1e9, "gflops_median": info["flops"] / t.median / 1e9,
            "seconds": t.as_dict()}


def square_gemm(n: int = 1024, *, repeats: int = 7, dtype: str = "float32") -> dict:
    """JAX's throughput on an ``n x n`` by ``n x n`` product (the machine's reference peak)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.dtype(dtype))
    matmul = jax.jit(lambda x: x @ x)
    t = time_fn(lambda: matmul(a), repeats=repeats, warmup=1)
    flops = 2.0 * n ** 3
    return {"n": n, "gflops": flops / t.best / 1e9, "gflops_median": flops / t.median / 1e9, "seconds": t.as_dict()}


def torch_square_gemm(n: int = 1024, *, repeats: int = 7, device: str = "cpu") -> dict:
    """PyTorch's throughput on the same product (call it inside the peer's process), on ``device`` (cpu/gpu)."""
    import torch

    a = torch.randn(n, n, device=torch_device(device))
    t = time_fn(lambda: a @ a, repeats=repeats, warmup=1, sync=torch_sync(device))
    flops = 2.0 * n ** 3
    return {"n": n, "gflops": flops / t.best / 1e9, "gflops_median": flops / t.median / 1e9, "seconds": t.as_dict()}


# --------------------------------------------------------------------------- machine record

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _busy_jiffies() -> int | None:
    """Busy time of the whole machine (user+nice+system+irq+softirq+steal) in clock ticks."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _version(dist: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return None


def machine_record(cores: Sequence[int] | None = None) -> dict:
    """CPU model, cores, the cores this run is pinned to, the load, library versions."""
    return {"cpu": _cpu_model(), "logical_cores": os.cpu_count(), "pinned_cores": list(cores or []),
            "threads": len(cores) if cores else os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(),
            "versions": {d: _version(d) for d in ("jax", "jaxlib", "torch", "numpy", "scikit-learn", "optax", "flax")},
            "loadavg_before": list(os.getloadavg())}


class LoadMeter:
    """How busy the machine was over a span: ``others_busy_cores`` is the CPU time every other process used
    per second of wall clock (0: quiet; 2 on a 2-core machine: as much other work as two whole cores),
    ``own_busy_cores`` this process's and its finished children's (peers run by :func:`run_peer`)."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), _busy_jiffies(), _own_cpu_seconds()
        self.loadavg0 = list(os.getloadavg())

    def read(self) -> dict:
        wall = time.perf_counter() - self.t0
        busy = _busy_jiffies()
        out = {"loadavg_before": self.loadavg0, "loadavg_after": list(os.getloadavg()), "wall_s": wall}
        if busy is not None and self.busy0 is not None and wall > 0:
            machine = (busy - self.busy0) / os.sysconf("SC_CLK_TCK")
            own = _own_cpu_seconds() - self.own0
            out["others_busy_cores"] = max(0.0, (machine - own) / wall)
            out["own_busy_cores"] = own / wall
        return out


class Run:
    """A benchmark run: the machine record now, the load at the end, and the JSON.

    ``machine`` in the JSON holds the record and :class:`LoadMeter`'s reading
    over the whole run; time each side in its own ``LoadMeter`` to say how
    loaded the machine was while it ran.
    """

    def __init__(self, benchmark: str, cores: Sequence[int] | None = None, *, quick: bool = False):
        self.benchmark, self.quick = benchmark, quick
        self.machine = machine_record(cores)
        self.meter = LoadMeter()

    def load(self) -> dict:
        """The load so far (see :class:`LoadMeter`)."""
        return self.meter.read()

    def result(self, fields: dict, ours: Timing | None = None, peer: Timing | None = None) -> dict:
        """``fields`` plus ``ratio`` / ``ratio_best`` / ``ratio_iqr`` (from ``ours`` and ``peer``), the
        machine record and the load."""
        out: dict[str, Any] = {"benchmark": self.benchmark, "quick": self.quick}
        if ours is not None and peer is not None:
            out.update(compare(ours, peer))
        out.update(fields)
        machine = dict(self.machine)
        machine.pop("loadavg_before")
        out["machine"] = {**machine, **self.load()}
        return out

    def write(self, path: str | None, fields: dict, ours: Timing | None = None, peer: Timing | None = None) -> dict:
        """Build :meth:`result`, print the load line, and write it as JSON to ``path`` (if given)."""
        out = self.result(fields, ours, peer)
        if "jax" in sys.modules:
            out["accelerator"] = accelerator_record()
        m = out["machine"]
        print(f"machine: {m['cpu']}, {m['threads']} of {m['logical_cores']} cores {m['pinned_cores']}; load avg "
              f"{m['loadavg_before'][0]:.2f} -> {m['loadavg_after'][0]:.2f}; other processes used "
              f"{m.get('others_busy_cores', float('nan')):.2f} cores during the run")
        if path:
            write_json(path, out)
        return out


def write_json(path: str, obj: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(_plain(obj), f, indent=2)
        f.write("\n")


def _plain(x):
    if hasattr(x, "as_dict"):  # a Timing (also one from the `_bench` module a peer's script imported)
        return x.as_dict()
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:
        return x.item()
    return x


# --------------------------------------------------------------------------- peers in their own process

def run_peer(fn: Callable[..., dict], *, pin_threads: int | None = None, timeout: float | None = None,
             **kwargs) -> dict:
    """``fn(**kwargs)`` in a fresh Python process pinned to the first ``pin_threads`` cores (all: ``None``/0),
    the same cores :func:`pin_cores` gave this process for the same count.

    ``fn`` is a module-level function of a script in scripts/ (found by its file)
    returning a JSON-able dict; ``kwargs`` must be JSON-able. Running the peer in
    its own process keeps its thread pool (OpenMP, MKL) from spinning on the
    cores while ours works, and ours from spinning while it works.
    """
    path = os.path.abspath(inspect.getfile(fn))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        spec = {"path": path, "name": fn.__name__, "kwargs": kwargs, "threads": pin_threads or 0, "out": out}
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--peer", spec_path], timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"peer {fn.__name__} in {path} failed with exit status {proc.returncode}")
        with open(out) as f:
            return json.load(f)


def _peer_main(spec_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    # A peer never runs JAX on the accelerator (it may import ebm_jax for the data): JAX must not take
    # the GPU's memory from the peer's PyTorch.
    os.environ["JAX_PLATFORMS"] = "cpu"
    pin_cores(spec["threads"] or None)
    sys.path.insert(0, os.path.dirname(spec["path"]))
    module_spec = importlib.util.spec_from_file_location("_bench_peer_module", spec["path"])
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    result = getattr(module, spec["name"])(**spec["kwargs"])
    write_json(spec["out"], result)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peer":
        sys.exit(_peer_main(sys.argv[2]))
    raise SystemExit("usage: python scripts/_bench.py --peer SPEC.json (used by _bench.run_peer)")
