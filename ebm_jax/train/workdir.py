"""Run directory files: ``config.json``, ``metrics.jsonl``, ``results.json``.

Every experiment writes to its ``--workdir``::

    config.json          the resolved config (ml_collections -> JSON): the run's fingerprint
    config_changes.jsonl one line per allowed config change on resume (which keys, old -> new)
    metrics.jsonl        one JSON object per logged step: {"step": int, "<name>": float, ...}
    events.out.tfevents.*  the same scalars for TensorBoard (``tensorboard --logdir WORKDIR``)
    results.json         a flat JSON object of final numbers and strings, with the run's
                         environment under ``env.*`` keys (:mod:`ebm_jax.environment`)
    environment.jsonl    one line per start or resumption: the environment it ran in

:func:`write_config` refuses to resume a run with another config
(:class:`ConfigChangedError`, naming the changed keys) before anything in the
workdir is touched, unless those keys are allowed to change (the
``allow_changes`` argument, or ``$EBM_JAX_ALLOW_CONFIG_CHANGE="key1,key2"``,
which ``--allow_config_change`` of the command line sets). A torn last line of
``metrics.jsonl`` (a kill during a write) is dropped with a warning.

The TensorBoard event files are written with ``tensorboardX`` (no TensorFlow);
``$EBM_JAX_TENSORBOARD=0`` turns them off. On resume, the steps logged after
the restored checkpoint are purged from TensorBoard's view as they are from
``metrics.jsonl``.

With several processes (``jax.distributed``) only process 0 writes; the
writers here are no-ops on the others (:func:`ebm_jax.train.distributed.is_main_process`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import pathlib
import secrets
from typing import Any, Iterable, Mapping

import numpy as np

from ebm_jax import checks, environment
from ebm_jax.checks import ConfigError, flatten_config
from ebm_jax.train.distributed import is_main_process

log = logging.getLogger(__name__)

ALLOW_CONFIG_CHANGE_ENV = "EBM_JAX_ALLOW_CONFIG_CHANGE"
TENSORBOARD_ENV = "EBM_JAX_TENSORBOARD"


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


def _dumps(obj: Any, name: str, **kw) -> str:
    """``json.dumps`` of ``_jsonable(obj)``; a TypeError naming ``name`` for what JSON cannot hold."""
    try:
        return json.dumps(_jsonable(obj), **kw)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must hold only JSON values (numbers, strings, lists, dicts, arrays): {e}") from None


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (write to a temp file, then rename); process 0 only."""
    path = checks.file(path, "path")
    text = _dumps(obj, "obj", indent=2, sort_keys=True) + "\n"
    if not is_main_process():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in the file ``path``.

    Raises:
      FileNotFoundError: no such file. ValueError: the file is not JSON (both name ``path``).
    """
    path = checks.file(path, "path", must_exist=True)
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"path {str(path)!r} is not valid JSON ({e})") from None


class ConfigChangedError(ConfigError):
    """The workdir holds a run made with another config (see :func:`write_config`)."""


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def allowed_config_changes(allow_changes: Iterable[str] | str | None = None) -> set[str]:
    """The keys ``allow_changes`` names (a list or a comma-separated string) plus those of the env var."""
    if allow_changes is not None and not isinstance(allow_changes, str):
        allow_changes = checks.strings(allow_changes, "allow_changes")
    names = set()
    for source in (allow_changes, os.environ.get(ALLOW_CONFIG_CHANGE_ENV)):
        if isinstance(source, str):
            source = source.split(",")
        names.update(n.strip() for n in (source or ()) if n.strip())
    return names


def _has_run_state(workdir: pathlib.Path) -> bool:
    """Whether a run in ``workdir`` left anything a new config would mix with (checkpoints, metrics, results)."""
    for path in workdir.rglob("*"):
        if path.name == "results.json" or (path.name == "metrics.jsonl" and path.stat().st_size > 0):
            return True
        if path.parent.name == "checkpoints" and path.is_dir():
            return True
    return False


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{"a.b": (old, new)}`` for every flattened key whose JSON value differs (``None``: absent)."""
    old_flat = flatten_config(json.loads(_dumps(checks.mapping(old, "old"), "old")))
    new_flat = flatten_config(json.loads(_dumps(checks.mapping(new, "new"), "new")))
    return {k: (old_flat.get(k), new_flat.get(k)) for k in sorted(set(old_flat) | set(new_flat))
            if k not in old_flat or k not in new_flat or old_flat[k] != new_flat[k]}


def write_config(workdir: str | os.PathLike, config, *,
                 allow_changes: Iterable[str] | str | None = None) -> None:
    """Write ``workdir/config.json``; refuse to resume a run made with another config.

    When ``config.json`` exists and the workdir holds run state (checkpoints,
    metrics, results), every changed key must be allowed, by ``allow_changes``
    or ``$EBM_JAX_ALLOW_CONFIG_CHANGE`` (comma-separated); an allowed change is
    appended to ``config_changes.jsonl`` and ``config.json`` then holds the new
    config. A workdir whose run produced nothing yet takes the new config.

    Raises:
      ConfigChangedError: a key changed that is not allowed to; nothing was written.
    """
    workdir = checks.directory(workdir, "workdir")
    checks.mapping(config, "config")
    _dumps(config, "config")
    allowed = allowed_config_changes(allow_changes)
    path = workdir / "config.json"
    if path.exists() and _has_run_state(workdir):
        try:
            old = read_json(path)
        except ValueError as e:
            raise ConfigChangedError(f"{path} is unreadable ({e}); use a new workdir, or delete it if the "
                                     "config of the run in this workdir is known to be this one") from None
        changed = config_changes(old, config)
        if changed:
            refused = [k for k in changed if k not in allowed]
            listed = "; ".join(f"{k}: {_short(changed[k][0])} -> {_short(changed[k][1])}" for k in changed)
            if refused:
                raise ConfigChangedError(
                    f"{workdir} holds a run made with another config ({listed}). Use a new --workdir, or, to "
                    f"continue this run with the new values, pass --allow_config_change={','.join(refused)} "
                    f"(or set {ALLOW_CONFIG_CHANGE_ENV}); that is safe for keys that only extend training "
                    "or change logging/evaluation")
            if is_main_process():
                log.warning("%s: continuing the run with changed config keys (%s)", workdir, listed)
            record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "changed": {k: list(v) for k, v in changed.items()}}
            if is_main_process():
                with (workdir / "config_changes.jsonl").open("a") as f:
                    f.write(json.dumps(_jsonable(record)) + "\n")
    write_json(path, config)
    if is_main_process():
        with (workdir / "environment.jsonl").open("a") as f:
            record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      **environment.describe()}
            f.write(json.dumps(_jsonable(record)) + "\n")


def write_results(workdir: str | os.PathLike, results: Mapping[str, Any]) -> None:
    """Write the flat ``results.json`` (numbers and strings only), with the ``env.*`` keys of the environment."""
    workdir = checks.directory(workdir, "workdir")
    results = checks.mapping(results, "results")
    for key in results:
        if not isinstance(key, str):
            raise TypeError(f"results must have string keys, got {key!r}")
    flat = _jsonable({**dict(results), **environment.describe()})
    for key, value in flat.items():
        if isinstance(value, (dict, list)):
            raise TypeError(f"results must be flat (results.json holds numbers and strings): {key!r} holds a "
                            f"{type(value).__name__}")
    write_json(workdir / "results.json", flat)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of a ``.jsonl`` file (``[]`` if absent), tolerating torn lines.

    A line that does not parse (a kill during a write leaves a prefix of one)
    is skipped with a one-line warning naming the file and line.
    """
    path = checks.file(path, "path")
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            log.warning("%s:%d: skipped a line that is not a JSON object (torn write?)", path, number)
            continue
        records.append(record)
    return records


def _tensorboard_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a metrics record other than ``step`` (booleans and strings left out)."""
    out = {}
    for name, value in record.items():
        if name == "step" or isinstance(value, (bool, np.bool_, str)):
            continue
        try:
            out[name] = float(np.asarray(value))
        except (TypeError, ValueError):  # a list, a dict, ...: not a scalar
            continue
    return out


class MetricWriter:
    """Appends ``{"step": s, **metrics}`` lines to ``metrics.jsonl``, and the same scalars to TensorBoard.

    On resume, :meth:`truncate_after` drops lines logged after the restored
    checkpoint so that the file matches a run that never stopped (and TensorBoard
    purges those steps). The TensorBoard event file is opened at the first
    write (``tensorboard=False`` or ``$EBM_JAX_TENSORBOARD=0``: none); call
    :meth:`close` at the end.
    """

    def __init__(self, workdir: str | os.PathLike, filename: str = "metrics.jsonl", tensorboard: bool | None = None):
        workdir = checks.directory(workdir, "workdir")
        if not isinstance(filename, str) or not filename or pathlib.Path(filename).name != filename:
            raise ValueError(f"filename must be a file name (no directory part), got {filename!r}")
        if tensorboard is not None:
            tensorboard = checks.boolean(tensorboard, "tensorboard")
        self.path = checks.file(workdir / filename, "filename")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard is None:
            tensorboard = os.environ.get(TENSORBOARD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
        self.tensorboard = tensorboard
        self._summary = None
        self._purge_step = None
        self._drop_torn_tail()

    def _write_tensorboard(self, records: Iterable[Mapping[str, Any]]) -> None:
        if not self.tensorboard:
            return
        if self._summary is None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                log.warning("tensorboardX is not installed: no TensorBoard events (pip install tensorboardX)")
                self.tensorboard = False
                return
            # Event files are named by the second and the host: a unique suffix keeps a run resumed
            # within the same second from truncating the file of the run before it.
            self._summary = SummaryWriter(logdir=str(self.path.parent), purge_step=self._purge_step,
                                          filename_suffix=f".{os.getpid()}.{secrets.token_hex(4)}")
        for record in records:
            step = int(record.get("step", 0))
            for name, value in _tensorboard_scalars(record).items():
                self._summary.add_scalar(name, value, global_step=step)
        self._summary.flush()

    def close(self) -> None:
        """Close the TensorBoard event file (``metrics.jsonl`` needs no closing)."""
        if self._summary is not None:
            self._summary.close()
            self._summary = None

    def _drop_torn_tail(self) -> None:
        """Cut a last line without its newline (a kill during a write), so appends start on a fresh line."""
        if not is_main_process() or not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropped a torn last line (%d bytes, a write was interrupted)", self.path, len(data) - cut)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(data[:cut])
        os.replace(tmp, self.path)

    def write(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Append ``{"step": step, **metrics}``; ``metrics`` maps names (not ``"step"``) to JSON values."""
        step = checks.nonnegative_int(step, "step")
        metrics = checks.mapping(metrics, "metrics")
        if "step" in metrics:
            raise ValueError("metrics must not hold a 'step' entry (the step is the argument step)")
        line = _dumps({"step": step, **metrics}, "metrics") + "\n"
        if not is_main_process():
            return
        with self.path.open("a") as f:
            f.write(line)
        self._write_tensorboard([{"step": step, **metrics}])

    def write_many(self, records: list[Mapping[str, Any]]) -> None:
        """Append records, each a mapping with an integer ``"step"`` (``>= 0``) and JSON values."""
        if not isinstance(records, (list, tuple)):
            raise TypeError(f"records must be a list of dicts, got {type(records).__name__}")
        for i, r in enumerate(records):
            checks.mapping(r, f"records[{i}]")
            if "step" not in r:
                raise ValueError(f"records[{i}] must hold a 'step' entry, got {sorted(r)}")
            checks.nonnegative_int(r["step"], f"records[{i}]['step']")
        lines = [_dumps(dict(r), "records") + "\n" for r in records]
        if not records or not is_main_process():
            return
        with self.path.open("a") as f:
            f.writelines(lines)
        self._write_tensorboard(records)

    def read(self) -> list[dict]:
        """The records on disk; lines that are not JSON objects (a torn write) are skipped with a warning."""
        return read_jsonl(self.path)

    def truncate_after(self, step: int) -> None:
        """Keep only records with ``record["step"] <= step`` (process 0 rewrites the file)."""
        step = checks.nonnegative_int(step, "step")
        if not is_main_process():
            return
        self._purge_step = step + 1  # TensorBoard hides the events of later steps from older files
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, self.path)
