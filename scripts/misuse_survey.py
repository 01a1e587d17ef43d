"""Misuse survey: bad inputs to the public API, classified as clear, obscure, silent or hung.

Each public function gets one valid call (``Spec``) and a kind per argument; the
survey derives the bad inputs from the kinds (``MUTATIONS``: NaN/inf in concrete
arrays, empty batches, complex or integer data where a float or [0, 1] data is
meant, grey levels where binary data is meant, zero/negative/boolean/fractional/
string counts, negative/zero/NaN/inf/string parameters, ``'False'`` or None for a flag,
None, a string key) and
adds the hand-written cases of ``EXTRA`` (degenerate settings, wrong widths,
non-scalar metrics). A result is

* clear:   a ValueError/TypeError whose message names the argument (for a path argument,
           FileNotFoundError, NotADirectoryError or IsADirectoryError naming it count too);
* obscure: any other exception, or one that does not name the argument;
* silent:  the call returned;
* hung:    the call ran past ``--timeout`` seconds.

    python scripts/misuse_survey.py [--family losses] [--module ebm_jax.viz] [--verbose] [--json PATH]

``tests/test_misuse.py`` runs the same table: every case must be clear, and every
public function of a surveyed module must have a spec (or a listed reason not to).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import signal
import sys
import time
from typing import Any, Callable

import numpy as np

KIND_MUTATIONS: dict[str, list[tuple[str, Any]]] = {}


def _nan(a):
    a = np.array(a, dtype=np.float32, copy=True)
    a.reshape(-1)[0] = np.nan
    return a


def _inf(a):
    a = np.array(a, dtype=np.float32, copy=True)
    a.reshape(-1)[-1] = np.inf
    return a


def _empty(a):
    a = np.asarray(a)
    return np.zeros((0,) + a.shape[1:], a.dtype)


def _complex(a):
    return np.asarray(a).astype(np.complex64)


def _set(value):
    def f(a):
        a = np.array(a, dtype=np.float32, copy=True)
        a.reshape(-1)[0] = value
        return a
    return f


def _uint8(a):
    return (np.asarray(a) * 255).astype(np.uint8)


ARRAY = [("nan", _nan), ("inf", _inf), ("complex", _complex), ("None", lambda a: None),
         ("string", lambda a: "abc")]
BATCH = ARRAY + [("empty batch", _empty)]
MUTATIONS: dict[str, list[tuple[str, Callable[[Any], Any]]]] = {
    "array": ARRAY,                                   # a real array, finite where concrete
    "batch": BATCH,                                   # ... with a non-empty leading batch axis
    "unit": BATCH + [("value 2.0", _set(2.0)), ("value -0.5", _set(-0.5))],        # data in [0, 1]
    "binary": BATCH + [("grey 0.5", _set(0.5)), ("grey 255", _set(255.0))],        # 0/1 data
    "image01": BATCH + [("value 2.0", _set(2.0)), ("uint8 0-255", _uint8)],         # images in [0, 1]
    "posint": [("0", lambda v: 0), ("-1", lambda v: -1), ("True", lambda v: True), ("2.5", lambda v: 2.5),
               ("'3'", lambda v: "3"), ("None", lambda v: None)],
    "count": [("0", lambda v: 0), ("-1", lambda v: -1), ("True", lambda v: True), ("2.5", lambda v: 2.5),
              ("'3'", lambda v: "3")],                     # a positive count where None means a default
    "nnint": [("-1", lambda v: -1), ("True", lambda v: True), ("2.5", lambda v: 2.5), ("'3'", lambda v: "3")],
    "posfloat": [("0", lambda v: 0.0), ("-1", lambda v: -1.0), ("nan", lambda v: math.nan),
                 ("inf", lambda v: math.inf), ("'x'", lambda v: "x"), ("True", lambda v: True),
                 ("complex", lambda v: 1j)],
    "nnfloat": [("-1", lambda v: -1.0), ("nan", lambda v: math.nan), ("inf", lambda v: math.inf),
                ("'x'", lambda v: "x"), ("True", lambda v: True)],
    "real": [("nan", lambda v: math.nan), ("inf", lambda v: math.inf), ("'x'", lambda v: "x"), ("True", lambda v: True)],
    "bool": [("'False'", lambda v: "False"), ("None", lambda v: None)],   # a flag read by truthiness otherwise
    "prob": [("-0.1", lambda v: -0.1), ("1.5", lambda v: 1.5), ("nan", lambda v: math.nan), ("'x'", lambda v: "x")],
    "key": [("None", lambda v: None), ("string", lambda v: "seed"), ("float", lambda v: 1.5)],
    "seed": [("string", lambda v: "0"), ("-1", lambda v: -1), ("True", lambda v: True), ("2.5", lambda v: 2.5)],
    "str": [("unknown", lambda v: "nosuch"), ("int", lambda v: 3)],
    "callable": [("None", lambda v: None), ("float", lambda v: 3.0)],
    "model": [("float", lambda v: 3.0), ("None", lambda v: None)],
    "params": [("None", lambda v: None), ("float", lambda v: 3.0)],
}


@dataclasses.dataclass
class Spec:
    """One public function: a valid call and a kind per argument (the keys of ``MUTATIONS``)."""
    fn: Callable
    args: Callable[[], dict]             # builds the valid keyword arguments
    kinds: dict[str, str]
    extra: list = dataclasses.field(default_factory=list)   # (label, argument named, kwargs -> kwargs)
    family: str = ""
    valid_error: type | None = None      # the error the valid call ends in here (e.g. no coordinator to reach)


@dataclasses.dataclass
class Case:
    spec: Spec
    label: str
    arg: str
    make: Callable[[], dict]

    @property
    def id(self) -> str:
        return f"{self.spec.fn.__module__.removeprefix('ebm_jax.')}.{self.spec.fn.__name__}[{self.arg}: {self.label}]"


def cases_of(spec: Spec) -> list[Case]:
    out = []
    for arg, kind in spec.kinds.items():
        for label, mutate in MUTATIONS[kind]:
            def make(arg=arg, mutate=mutate):
                kw = spec.args()
                kw[arg] = mutate(kw.get(arg))
                return kw
            out.append(Case(spec, label, arg, make))
    for label, arg, change in spec.extra:
        out.append(Case(spec, label, arg, lambda change=change: change(spec.args())))
    return out


def call(fn, kwargs):
    result = fn(**kwargs)
    import jax
    jax.block_until_ready(jax.tree.map(lambda a: a, result)) if result is not None else None
    return result


class _Timeout(Exception):
    pass


def classify(case: Case, timeout: float = 120.0) -> tuple[str, str]:
    """``(outcome, detail)`` for one case: clear / obscure / silent / hung."""
    def alarm(*_):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(timeout))
    try:
        kwargs = case.make()
        call(case.spec.fn, kwargs)
        return "silent", "returned"
    except _Timeout:
        return "hung", f"no answer in {timeout:.0f} s"
    except (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
        message = str(e).splitlines()[0] if str(e) else ""
        if case.arg in str(e):
            return "clear", f"{type(e).__name__}: {message[:200]}"
        return "obscure", f"{type(e).__name__} without '{case.arg}': {message[:200]}"
    except Exception as e:  # noqa: BLE001 - anything else is obscure by definition
        return "obscure", f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli_cases(root) -> list[tuple[str, list[str], str, str]]:
    """``(id, argv, experiment file, text the message must contain)`` for every experiment's command line:
    an unknown variant, a config file with a syntax error, a missing config file, an unknown key."""
    import tempfile

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="misuse_cli_"))
    (tmp / "syntax.py").write_text("def get_config(:\n")
    out = []
    for exp in sorted((root / "experiments").glob("[a-z]*.py")):
        config = root / "experiments" / "configs" / exp.name
        if not config.exists():
            continue
        for label, arg, expect in (("unknown variant", f"--config={config}:nosuch", "nosuch"),
                                   ("syntax error", f"--config={tmp / 'syntax.py'}", "SyntaxError"),
                                   ("missing file", f"--config={tmp / 'missing.py'}", "missing.py"),
                                   ("unknown key", "--config.no_such_key=1", "config.no_such_key")):
            out.append((f"cli.{exp.stem}[{label}]", [exp.stem, f"--workdir={tmp / 'run'}", arg], str(exp), expect))
    return out


def classify_cli(argv, experiment_file, expect) -> tuple[str, str]:
    """clear: exit status 2 and one line on stderr that contains ``expect``."""
    import contextlib
    import io

    from ebm_jax import cli

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            cli.main(lambda config, workdir: {}, experiment_file, argv=argv)
    except SystemExit as e:
        text = err.getvalue().strip()
        if e.code == 2 and text.count("\n") == 0 and expect in text:
            return "clear", text[:200]
        return "obscure", f"exit {e.code}: {text[:200]}"
    except Exception as e:  # noqa: BLE001
        return "obscure", f"{type(e).__name__}: {e}"[:200]
    return "silent", "ran"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", help="only these families (repeatable)")
    parser.add_argument("--module", action="append",
                        help="only functions defined in these modules, e.g. ebm_jax.viz (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every case, not only the unclear ones")
    parser.add_argument("--json", help="write the counts and the unclear cases as JSON")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    root = pathlib.Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from scripts.misuse_table import SPECS

    counts: dict[str, dict[str, int]] = {}
    unclear = []
    t0 = time.perf_counter()
    for spec in SPECS:
        if args.family and spec.family not in args.family:
            continue
        if args.module and spec.fn.__module__ not in args.module:
            continue
        try:
            call(spec.fn, spec.args())
        except Exception as e:  # noqa: BLE001
            if spec.valid_error is None or not isinstance(e, spec.valid_error):
                print(f"VALID CALL FAILED {spec.fn.__module__}.{spec.fn.__name__}: {type(e).__name__}: {e}"[:400])
                unclear.append({"case": f"{spec.fn.__module__}.{spec.fn.__name__}[valid call]", "outcome": "broken"})
                continue
        for case in cases_of(spec):
            outcome, detail = classify(case, args.timeout)
            fam = counts.setdefault(spec.family, {"tried": 0, "clear": 0, "obscure": 0, "silent": 0, "hung": 0})
            fam["tried"] += 1
            fam[outcome] += 1
            if outcome != "clear" or args.verbose:
                print(f"{outcome:8s} {case.id}: {detail}")
            if outcome != "clear":
                unclear.append({"case": case.id, "outcome": outcome, "detail": detail})
    if (not args.family and not args.module) or (args.family and "cli" in args.family):
        for case_id, cli_argv, experiment_file, expect in cli_cases(root):
            outcome, detail = classify_cli(cli_argv, experiment_file, expect)
            fam = counts.setdefault("cli", {"tried": 0, "clear": 0, "obscure": 0, "silent": 0, "hung": 0})
            fam["tried"] += 1
            fam[outcome] += 1
            if outcome != "clear" or args.verbose:
                print(f"{outcome:8s} {case_id}: {detail}")
            if outcome != "clear":
                unclear.append({"case": case_id, "outcome": outcome, "detail": detail})
    total = {k: sum(c[k] for c in counts.values()) for k in ("tried", "clear", "obscure", "silent", "hung")}
    print(f"\n{'family':16s} {'tried':>6s} {'clear':>6s} {'obscure':>8s} {'silent':>7s} {'hung':>5s}")
    for fam, c in sorted(counts.items()) + [("total", total)]:
        print(f"{fam:16s} {c['tried']:6d} {c['clear']:6d} {c['obscure']:8d} {c['silent']:7d} {c['hung']:5d}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"counts": counts, "total": total, "unclear": unclear}, indent=1))
    return 0 if not unclear else 1


if __name__ == "__main__":
    sys.exit(main())
