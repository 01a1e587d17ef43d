"""The table of a gpu_check run: ``python scripts/gpu_check_report.py DIR`` writes ``DIR/README.md``.

Reads ``DIR/steps.tsv`` (each step's status and seconds), ``DIR/smoke.tsv`` (each
experiment's smoke run), ``DIR/precision.json`` and every ``DIR/bench_*.json``
(ours and the peer by median, the ratio, the accelerator), and prints the table too.
"""

from __future__ import annotations

import csv
import json
import pathlib
import sys


def _tsv(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _seconds(timing) -> str:
    if not isinstance(timing, dict) or "median" not in timing:
        return "-"
    m = timing["median"]
    return f"{m * 1e3:.2f} ms" if m < 1 else f"{m:.3f} s"


def _bench_row(name: str, data: dict) -> str:
    acc = data.get("accelerator", {})
    where = f"{acc.get('backend', '?')} ({acc.get('device_kind', '?')})"
    ratio = data.get("ratio")
    ratio_text = f"{ratio:.2f}x" if isinstance(ratio, (int, float)) else "-"
    if "ratio_iqr" in data and isinstance(data["ratio_iqr"], list):
        ratio_text += f" [IQR {data['ratio_iqr'][0]:.2f}-{data['ratio_iqr'][1]:.2f}]"
    peer = data.get("peer_name") or data.get("peer", {}).get("name") if isinstance(data.get("peer"), dict) else None
    return (f"| {name} | {where} | {_seconds(data.get('ours'))} | {_seconds(data.get('peer'))} | "
            f"{peer or data.get('peer_name', '-')} | {ratio_text} |")


def report(out: pathlib.Path) -> str:
    lines = ["# gpu_check", ""]
    steps = _tsv(out / "steps.tsv")
    lines += ["| step | status | seconds | note |", "|---|---|---|---|"]
    lines += [f"| {s['step']} | {s['status']} | {s['seconds']} | {s.get('note', '')} |" for s in steps]
    smoke = _tsv(out / "smoke.tsv")
    if smoke:
        lines += ["", "## Smoke configs", "", "| experiment | exit | seconds |", "|---|---|---|"]
        lines += [f"| {r['experiment']} | {r['exit']} | {r['seconds']} |" for r in smoke]
    precision = out / "precision.json"
    if precision.exists():
        p = json.loads(precision.read_text())
        lines += ["", f"## Precision policy ({p['backend']}, {p['device_kind']}, jax {p['jax']})", "",
                  "| computation | with the policy | without |", "|---|---|---|"]
        for name, row in p["rows"].items():
            w, wo = row["with_policy"], row["without_policy"]
            if isinstance(w, dict):
                w = f"gap {w['rel_gap']:.2e}, {w['num_iters']} it, subopt {w['rel_suboptimality']:.1e}"
                wo = f"gap {wo['rel_gap']:.2e}, {wo['num_iters']} it, subopt {wo['rel_suboptimality']:.1e}"
            else:
                w, wo = f"{w:.4f}", f"{wo:.4f}"
            lines.append(f"| {name} | {w} | {wo} |")
        for name, t in p.get("timing", {}).items():
            lines.append(f"| time of {name} | {_seconds(t['with_policy'])} | {_seconds(t['without_policy'])} "
                         f"(with / without {t['ratio_with_over_without']:.2f}) |")
    benches = sorted(out.glob("bench_*.json"))
    if benches:
        lines += ["", "## Benchmarks (medians; ratio = peer / ours, ours faster when > 1)", "",
                  "| benchmark | ours on | ours | peer | peer name | ratio |", "|---|---|---|---|---|---|"]
        for path in benches:
            try:
                lines.append(_bench_row(path.stem, json.loads(path.read_text())))
            except (ValueError, KeyError, TypeError) as e:
                lines.append(f"| {path.stem} | unreadable ({e}) | | | | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python scripts/gpu_check_report.py DIR", file=sys.stderr)
        return 2
    out = pathlib.Path(argv[0])
    if not out.is_dir():
        print(f"error: {out} is not a folder", file=sys.stderr)
        return 2
    text = report(out)
    (out / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
