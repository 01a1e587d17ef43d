"""Run directory files: ``config.json``, ``metrics.jsonl``, ``results.json``.

Every experiment writes to its ``--workdir``::

    config.json     the resolved config (ml_collections -> JSON)
    metrics.jsonl   one JSON object per logged step: {"step": int, "<name>": float, ...}
    results.json    a flat JSON object of final numbers and strings

With several processes (``jax.distributed``) only process 0 writes; the
writers here are no-ops on the others (:func:`ebm_jax.train.distributed.is_main_process`).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any, Mapping

import numpy as np

from ebm_jax.train.distributed import is_main_process


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):  # ml_collections.ConfigDict
        return _jsonable(value.to_dict())
    if isinstance(value, (np.generic, np.ndarray)) or type(value).__module__.startswith("jax"):
        arr = np.asarray(value)
        return arr.item() if arr.ndim == 0 else arr.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (write to a temp file, then rename); process 0 only."""
    if not is_main_process():
        return
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(pathlib.Path(path).read_text())


def write_config(workdir: str | os.PathLike, config) -> None:
    write_json(pathlib.Path(workdir) / "config.json", config)


def write_results(workdir: str | os.PathLike, results: Mapping[str, Any]) -> None:
    """Write the flat ``results.json`` (numbers and strings only)."""
    flat = _jsonable(dict(results))
    for key, value in flat.items():
        if isinstance(value, (dict, list)):
            raise TypeError(f"results.json is flat: {key!r} holds a {type(value).__name__}")
    write_json(pathlib.Path(workdir) / "results.json", flat)


class MetricWriter:
    """Appends ``{"step": s, **metrics}`` lines to ``metrics.jsonl``.

    On resume, :meth:`truncate_after` drops lines logged after the restored
    checkpoint so that the file matches a run that never stopped.
    """

    def __init__(self, workdir: str | os.PathLike, filename: str = "metrics.jsonl"):
        self.path = pathlib.Path(workdir) / filename
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        if not is_main_process():
            return
        record = {"step": int(step), **{k: _jsonable(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def write_many(self, records: list[Mapping[str, Any]]) -> None:
        if not records or not is_main_process():
            return
        with self.path.open("a") as f:
            for r in records:
                f.write(json.dumps(_jsonable(dict(r))) + "\n")

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def truncate_after(self, step: int) -> None:
        """Keep only records with ``record["step"] <= step`` (process 0 rewrites the file)."""
        if not is_main_process():
            return
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, self.path)
