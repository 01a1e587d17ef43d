"""REPORT.md: rebuilt from results/, short, and every number in its tables equals the one it cites."""

import importlib.util
import json
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?")


def _reproduce_all():
    spec = importlib.util.spec_from_file_location("reproduce_all", ROOT / "scripts" / "reproduce_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _walk(obj, key):
    """``obj[key]``; ``a/b`` may also be ``obj["a"]["b"]`` (keys themselves may hold a ``/``)."""
    if key in obj:
        return obj[key]
    parts = key.split("/")
    for i in range(len(parts) - 1, 0, -1):
        head = "/".join(parts[:i])
        if isinstance(obj.get(head), dict):
            return _walk(obj[head], "/".join(parts[i:]))
    raise KeyError(key)


def cited_number_errors(text: str) -> tuple[int, list[str]]:
    """Check every table row that cites ``(results/<file>.json): column `key`, ...``; returns (checked, errors)."""
    header, checked, errors = None, 0, []
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: "):
            continue
        assert len(cells) == len(header), f"a row with {len(cells)} cells under a header of {len(header)}: {line}"
        source = re.search(r"\]\((results/[^)]+\.json)\)", cells[-1])
        if source is None:
            continue
        results = json.loads((ROOT / source.group(1)).read_text())
        for column, key in re.findall(r"(\w+) `([^`]+)`", cells[-1]):
            index = next(i for i, name in enumerate(header) if name.startswith(column))
            cell = cells[index]
            match = NUMBER.search(cell)
            assert match, f"no number in column {column!r} of: {line}"
            shown = float(match.group().replace("−", "-"))
            decimals = len(match.group().partition(".")[2])
            value = float(_walk(results, key))
            if cell[match.end():].startswith("%"):
                value *= 100
            checked += 1
            if abs(shown - value) > 0.5 * 10 ** -decimals + 1e-9:
                errors.append(f"{source.group(1)} {key} = {value!r}, but the report shows {match.group()}: {line}")
    return checked, errors


def test_report_is_rebuilt_from_results(tmp_path):
    path = tmp_path / "REPORT.md"
    _reproduce_all().write_report(path)
    assert path.read_text() == (ROOT / "REPORT.md").read_text(), \
        "REPORT.md is stale: rebuild it with python scripts/reproduce_all.py --report-only"


def test_report_is_one_short_page():
    lines = (ROOT / "REPORT.md").read_text().splitlines()
    assert len(lines) <= 400
    for line in lines:  # every figure and results page it links exists
        for target in re.findall(r"\]\((results/[^)#]+)\)", line):
            assert (ROOT / target).exists(), target


def test_every_number_in_the_report_tables_equals_the_one_it_cites():
    checked, errors = cited_number_errors((ROOT / "REPORT.md").read_text())
    assert not errors, "\n".join(errors)
    module = _reproduce_all()
    expected = sum(1 + hasattr(row.anchor, "key") for topic in module.TOPICS for row in topic.rows)
    expected += sum(1 + (bench.threads is not None) for bench in module.BENCHMARKS)
    assert checked == expected  # every row was found and checked


@pytest.mark.parametrize("old, new", [("| 98.43 |", "| 98.44 |"), ("| 98.51% |", "| 98.15% |"),
                                      ("| 2.07x |", "| 2.70x |")])
def test_the_check_finds_a_changed_number(old, new):
    text = (ROOT / "REPORT.md").read_text()
    assert old in text
    _, errors = cited_number_errors(text.replace(old, new, 1))
    assert len(errors) == 1
