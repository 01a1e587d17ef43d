"""Misuse specs of the training infrastructure: the loop's helpers, run-directory files, checkpoints,
progress lines, interruption and the multi-process helpers (one process here).

Loaded by ``scripts/misuse_table.py``; the spec of ``fit`` lives there.
"""

from __future__ import annotations

import pathlib
import tempfile

import numpy as np

from scripts.misuse_table import _TYPE, EXEMPT, MODULES, _fit_args, _key, _rng, _with, spec

MODULES.setdefault("train", []).extend(["ebm_jax.train.loop", "ebm_jax.train.workdir", "ebm_jax.train.checkpoint",
                                        "ebm_jax.train.progress", "ebm_jax.train.interrupt",
                                        "ebm_jax.train.distributed"])
_NO_ARGS = "takes no arguments: nothing to misuse"
EXEMPT.update({
    "ebm_jax.train.loop": {"NonFiniteLossError": _TYPE},
    "ebm_jax.train.workdir": {"ConfigChangedError": _TYPE},
    "ebm_jax.train.checkpoint": {"CheckpointError": _TYPE, "CheckpointCorruptError": _TYPE,
                                 "CheckpointMismatchError": _TYPE},
    "ebm_jax.train.interrupt": {"TrainingInterrupted": _TYPE, "InterruptRequest": _NO_ARGS},
    "ebm_jax.train.distributed": {
        "CoordinatorUnreachableError": _TYPE, "ProcessMismatchError": _TYPE,
        **{n: _NO_ARGS for n in ("is_initialized", "process_index", "process_count", "is_main_process",
                                 "cluster_detected", "initialize_from_environment")}},
})

F = "train"
_TMP = pathlib.Path(tempfile.mkdtemp(prefix="misuse_train_"))
_FILE = _TMP / "a_file.txt"
_FILE.write_text("not a directory\n")
_MISSING = _TMP / "missing" / "nested.json"


def _dir(name):
    """A fresh directory under the survey's temporary directory."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=name, dir=_TMP))
    return path


# ------------------------------------------------------------------------------------------- train.loop
import jax  # noqa: E402

from ebm_jax.train import loop as tloop  # noqa: E402

_data = lambda: _rng(40).random((16, 6)).astype(np.float32)  # noqa: E731
spec(F, tloop.data_mesh, lambda: dict(devices=jax.devices()), {},
     [("no devices", "devices", _with(devices=[])), ("devices a string", "devices", _with(devices="cpu")),
      ("devices numbers", "devices", _with(devices=[0, 1]))])
spec(F, tloop.batch_mesh, lambda: dict(batch_size=4), {"batch_size": "posint"},
     [("warn not callable", "warn", _with(warn=3.0)), ("no devices", "devices", _with(devices=[]))])
spec(F, tloop.num_examples, lambda: dict(data={"x": _data(), "y": np.arange(16)}), {},
     [("data None", "data", _with(data=None)), ("data a string", "data", _with(data="abc")),
      ("different leading axes", "data", _with(data={"x": _data(), "y": np.arange(15)})),
      ("a scalar leaf", "data", _with(data={"x": _data(), "y": np.float32(1)}))])
spec(F, tloop.validate_fit_args, lambda: dict(data=_data(), batch_size=4, num_epochs=1, num_devices=1),
     {"data": "batch", "batch_size": "posint", "num_epochs": "posint", "num_devices": "posint"},
     [("batch larger than data", "batch_size", _with(batch_size=64)),
      ("uint8 images", "data", lambda kw: {**kw, "data": (kw["data"] * 255).astype(np.uint8)})])


def _fit_seeds_args():
    kw = _fit_args()
    state = kw.pop("state")
    rng = kw.pop("rng")
    return dict(states=[state, state], rngs=[rng, _key(2)], **kw)


spec(F, tloop.fit_seeds, _fit_seeds_args, {"step_fn": "callable", "data": "batch", "batch_size": "posint"},
     [("no states", "states", _with(states=[], rngs=[])), ("states None", "states", _with(states=None)),
      ("one key short", "rngs", lambda kw: {**kw, "rngs": kw["rngs"][:1]}),
      ("rngs None", "rngs", _with(rngs=None)), ("a string key", "rngs", lambda kw: {**kw, "rngs": ["0", "1"]}),
      ("eval_fn not callable", "eval_fn", _with(eval_fn=3.0)),
      ("eval_fn returns one dict, not one per seed", "eval_fn", _with(eval_fn=lambda states: {"m": 1.0})),
      ("eval_fn returns one dict too few", "eval_fn", _with(eval_fn=lambda states: [{"m": 1.0}])),
      ("eval_fn returns a vector per seed", "eval_fn", _with(eval_fn=lambda states: [{"m": np.ones(3)}] * 2)),
      ("different states", "states", lambda kw: {**kw, "states": [kw["states"][0], 3.0]})])

# fit's arguments beyond the table's own spec of it (misuse_table.py)
spec(F, tloop.fit, _fit_args,
     {"checkpoint_every_steps": "count", "max_steps": "count"},
     [("workdir is a file", "workdir", _with(workdir=_FILE)),
      ("workdir an int", "workdir", _with(workdir=3)),
      ("desc an int", "desc", _with(desc=3)),
      ("unknown matmul_precision", "matmul_precision", _with(matmul_precision="nosuch")),
      ("mesh a string", "mesh", _with(mesh="data")),
      ("mesh without a data axis", "mesh", lambda kw: {**kw, "mesh": jax.sharding.Mesh(np.asarray(jax.devices()),
                                                                                        ("model",))}),
      ("num_seeds without a seed axis", "num_seeds", _with(num_seeds=2)),
      ("num_seeds 0", "num_seeds", _with(num_seeds=0)),
      ("step_fn returns no metrics", "step_fn", _with(step_fn=lambda s, b, k: s)),
      ("step_fn returns a list of metrics", "step_fn", _with(step_fn=lambda s, b, k: (s, [1.0]))),
      ("eval_fn returns a number", "eval_fn", _with(eval_fn=lambda state: 1.0)),
      ("data a dict with a NaN", "data", lambda kw: {**kw, "data": {"x": np.full((16, 6), np.nan, np.float32)}})])

# ------------------------------------------------------------------------------------------- train.workdir
from ebm_jax.train import workdir as twd  # noqa: E402

_not_json = object()
spec(F, twd.write_json, lambda: dict(path=_dir("wj") / "a.json", obj={"a": 1.0, "b": [1, 2]}), {},
     [("path None", "path", _with(path=None)), ("path an int", "path", _with(path=3)),
      ("path is a directory", "path", lambda kw: {**kw, "path": _dir("wjd")}),
      ("parent is a file", "path", _with(path=_FILE / "a.json")),
      ("obj not JSON", "obj", _with(obj={"a": _not_json})),
      ("obj with a set", "obj", _with(obj={"a": {1, 2}}))])


def _json_file(text):
    path = _dir("rj") / "a.json"
    path.write_text(text)
    return path


spec(F, twd.read_json, lambda: dict(path=_json_file('{"a": 1}')), {},
     [("missing file", "path", _with(path=_MISSING)), ("path None", "path", _with(path=None)),
      ("path is a directory", "path", lambda kw: {**kw, "path": _dir("rjd")}),
      ("not JSON", "path", lambda kw: {**kw, "path": _json_file('{"a": ')}),
      ("empty file", "path", lambda kw: {**kw, "path": _json_file("")})])
spec(F, twd.allowed_config_changes, lambda: dict(allow_changes="a,b"), {},
     [("an int", "allow_changes", _with(allow_changes=3)),
      ("a list with an int", "allow_changes", _with(allow_changes=["a", 3])),
      ("a dict", "allow_changes", _with(allow_changes={"a": 1}))])
spec(F, twd.config_changes, lambda: dict(old={"a": 1, "b": {"c": 2}}, new={"a": 2, "b": {"c": 2}}), {},
     [("old None", "old", _with(old=None)), ("new a list", "new", _with(new=[1, 2])),
      ("old a string", "old", _with(old="a=1")), ("new not JSON", "new", _with(new={"a": _not_json}))])


def _config():
    import ml_collections
    return ml_collections.ConfigDict({"lr": 1e-3, "epochs": 2})


spec(F, twd.write_config, lambda: dict(workdir=_dir("wc"), config=_config()), {},
     [("workdir is a file", "workdir", _with(workdir=_FILE)), ("workdir None", "workdir", _with(workdir=None)),
      ("config None", "config", _with(config=None)), ("config a string", "config", _with(config="lr=1")),
      ("allow_changes an int", "allow_changes", _with(allow_changes=3))])
spec(F, twd.write_results, lambda: dict(workdir=_dir("wr"), results={"nll": 90.0, "name": "vae"}), {},
     [("workdir is a file", "workdir", _with(workdir=_FILE)), ("workdir None", "workdir", _with(workdir=None)),
      ("results None", "results", _with(results=None)), ("results a list", "results", _with(results=[1.0])),
      ("a nested value", "results", _with(results={"a": {"b": 1}})),
      ("a vector value", "results", _with(results={"a": np.ones(3)})),
      ("a key that is not a string", "results", _with(results={3: 1.0}))])


def _jsonl_file(text):
    path = _dir("rl") / "m.jsonl"
    path.write_text(text)
    return path


spec(F, twd.read_jsonl, lambda: dict(path=_jsonl_file('{"step": 1}\n{"step": 2}\n')), {},
     [("path None", "path", _with(path=None)),
      ("path is a directory", "path", lambda kw: {**kw, "path": _dir("rld")})])
spec(F, twd.MetricWriter, lambda: dict(workdir=_dir("mw")), {},
     [("tensorboard 'False'", "tensorboard", _with(tensorboard="False")),
      ("workdir is a file", "workdir", _with(workdir=_FILE)), ("workdir None", "workdir", _with(workdir=None)),
      ("filename with a directory", "filename", _with(filename="a/b.jsonl")),
      ("filename empty", "filename", _with(filename="")), ("filename an int", "filename", _with(filename=3))])


def _writer():
    return twd.MetricWriter(_dir("mww"), tensorboard=False)


spec(F, twd.MetricWriter.write, lambda: dict(self=_writer(), step=3, metrics={"loss": 1.0}),
     {"step": "nnint"},
     [("metrics None", "metrics", _with(metrics=None)), ("metrics a list", "metrics", _with(metrics=[1.0])),
      ("a metric named step", "metrics", _with(metrics={"step": 4})),
      ("a metric that is not JSON", "metrics", _with(metrics={"loss": _not_json}))])
spec(F, twd.MetricWriter.write_many, lambda: dict(self=_writer(), records=[{"step": 1, "loss": 1.0}]), {},
     [("records a dict", "records", _with(records={"step": 1})), ("a record without step", "records",
                                                                  _with(records=[{"loss": 1.0}])),
      ("a record that is a number", "records", _with(records=[1.0])),
      ("records None", "records", _with(records=None))])
spec(F, twd.MetricWriter.truncate_after, lambda: dict(self=_writer(), step=3), {"step": "nnint"},
     [("step None", "step", _with(step=None))])

# ------------------------------------------------------------------------------------------- train.checkpoint
import jax.numpy as jnp  # noqa: E402

from ebm_jax.train import checkpoint as tckpt  # noqa: E402

_state = lambda: {"w": jnp.arange(3.0), "step": jnp.int32(1)}  # noqa: E731


def _saved(steps=(1,)):
    ckpt = tckpt.Checkpointer(_dir("ck"))
    for s in steps:
        ckpt.save(s, _state())
    return ckpt


spec(F, tckpt.directory_digest, lambda: dict(step_dir=_dir("dd")), {},
     [("missing", "step_dir", _with(step_dir=_MISSING)), ("a file", "step_dir", _with(step_dir=_FILE)),
      ("None", "step_dir", _with(step_dir=None))])
spec(F, tckpt.Checkpointer, lambda: dict(workdir=_dir("c")), {"max_to_keep": "posint"},
     [("workdir is a file", "workdir", _with(workdir=_FILE)), ("workdir None", "workdir", _with(workdir=None))])
spec(F, tckpt.Checkpointer.save, lambda: dict(self=tckpt.Checkpointer(_dir("cs")), step=1, state=_state()),
     {"step": "nnint"},
     [("state None", "state", _with(state=None)), ("state a string", "state", _with(state="abc")),
      ("step None", "step", _with(step=None))])
spec(F, tckpt.Checkpointer.restore, lambda: dict(self=_saved(), state_like=_state()), {"step": "nnint"},
     [("a step that was not saved", "step", _with(step=7)),
      ("state_like None", "state_like", _with(state_like=None)),
      ("state_like a string", "state_like", _with(state_like="abc"))])
spec(F, tckpt.Checkpointer.verify, lambda: dict(self=_saved(), step=1), {"step": "nnint"},
     [("a step that was not saved", "step", _with(step=7))])

# ------------------------------------------------------------------------------------------- train.progress
import io  # noqa: E402

from ebm_jax.train import progress as tprog  # noqa: E402

spec(F, tprog.Progress, lambda: dict(total=10, initial=0, steps_per_epoch=5, num_epochs=2, stream=io.StringIO()),
     {"total": "posint", "initial": "nnint", "steps_per_epoch": "posint", "num_epochs": "posint",
      "min_interval": "nnfloat"},
     [("desc an int", "desc", _with(desc=3)),
      ("stream without write", "stream", _with(stream=3.0)), ("clock not callable", "clock", _with(clock=3.0))])


def _progress():
    return tprog.Progress(10, 0, steps_per_epoch=5, num_epochs=2, stream=io.StringIO())


spec(F, tprog.Progress.update, lambda: dict(self=_progress(), step=5, loss_key="loss", loss=1.5),
     {"step": "nnint"},
     [("loss_key an int", "loss_key", _with(loss_key=3)), ("step past total", "step", _with(step=11)), ("step backwards", "step", _with(step=-1)),
      ("loss a string", "loss", _with(loss="x")), ("loss None", "loss", _with(loss=None)),
      ("loss a vector", "loss", _with(loss=np.ones(3)))])

# ------------------------------------------------------------------------------------------- train.interrupt
from ebm_jax.train import interrupt as tint  # noqa: E402

spec(F, tint.capped_chunk, lambda: dict(chunk=64, length=64, run_seconds=2.0, max_chunk_seconds=1.0),
     {"chunk": "posint", "length": "nnint", "run_seconds": "nnfloat", "max_chunk_seconds": "posfloat"})
spec(F, tint.agree, lambda: dict(interrupted=False, chunk=8), {"interrupted": "bool", "chunk": "posint"})

# ------------------------------------------------------------------------------------------- train.distributed
from ebm_jax.train import distributed as tdist  # noqa: E402

import socket  # noqa: E402

spec(F, tdist.parse_address, lambda: dict(address="[::1]:8476"), {},
     [("no port", "address", _with(address="localhost")), ("port 70000", "address", _with(address="h:70000")),
      ("no host", "address", _with(address=":8476")), ("address an int", "address", _with(address=8476)),
      ("a port that is not a number", "address", _with(address="h:x"))])

_LISTENER = socket.create_server(("127.0.0.1", 0))  # a coordinator that answers
spec(F, tdist.wait_for_coordinator, lambda: dict(address=f"127.0.0.1:{_LISTENER.getsockname()[1]}", timeout=1.0),
     {},
     [("no port", "address", _with(address="localhost")), ("port 0", "address", _with(address="localhost:0")),
      ("address an int", "address", _with(address=1234)), ("address None", "address", _with(address=None)),
      ("timeout -1", "timeout", _with(timeout=-1.0)), ("timeout nan", "timeout", _with(timeout=float("nan"))),
      ("timeout a string", "timeout", _with(timeout="10"))])
# process 1 of 2 waits for a coordinator that is not there: refused arguments must be refused before that wait
spec(F, tdist.initialize, lambda: dict(coordinator_address="127.0.0.1:1", num_processes=2, process_id=1,
                                       initialization_timeout=0.1),
     {"num_processes": "count", "process_id": "nnint", "initialization_timeout": "posfloat"},
     [("process_id = num_processes", "process_id", _with(process_id=2)),
      ("address without a port", "coordinator_address", _with(coordinator_address="localhost")),
      ("local_device_ids a string", "local_device_ids", _with(local_device_ids="0,1")),
      ("local_device_ids negative", "local_device_ids", _with(local_device_ids=[-1]))],
     valid_error=tdist.CoordinatorUnreachableError)
spec(F, tdist.visible_gpus, lambda: dict(environ={"CUDA_VISIBLE_DEVICES": "0,1"}), {},
     [("environ a list", "environ", _with(environ=["CUDA_VISIBLE_DEVICES=0"])),
      ("a value that is not a string", "environ", _with(environ={"CUDA_VISIBLE_DEVICES": 0})),
      ("smi an int", "smi", _with(smi=3, environ={}))])


def _slurm(local_id="1", tasks="2"):
    return {"SLURM_LOCALID": local_id, "SLURM_NTASKS_PER_NODE": tasks, "SLURM_JOB_ID": "7"}


spec(F, tdist.slurm_local_device_ids, lambda: dict(environ=_slurm(), gpus=["0", "1", "2", "3"]), {},
     [("a local id that is not a number", "environ", _with(environ=_slurm(local_id="x"))),
      ("a local id past the tasks", "environ", _with(environ=_slurm(local_id="2"))),
      ("more tasks than GPUs", "environ", _with(environ=_slurm(local_id="0", tasks="8"))),
      ("gpus a string", "gpus", _with(gpus="0,1,2,3")), ("environ a list", "environ", _with(environ=["x"]))])
spec(F, tdist.fingerprint, lambda: dict(value={"a": 1, "b": np.arange(3)}), {},
     [("not JSON", "value", _with(value={"a": _not_json}))])
spec(F, tdist.assert_same_across_processes, lambda: dict(what="config", fields={"a": 1}), {},
     [("what an int", "what", _with(what=3)), ("fields None", "fields", _with(fields=None)),
      ("fields a list", "fields", _with(fields=[1])), ("a field not JSON", "fields", _with(fields={"a": _not_json}))])
spec(F, tdist.barrier, lambda: dict(name="here"), {}, [("name an int", "name", _with(name=3)),
                                                      ("name empty", "name", _with(name=""))])
spec(F, tdist.replicate, lambda: dict(tree={"w": jnp.ones(3)}, mesh=tloop.data_mesh()), {},
     [("mesh a string", "mesh", _with(mesh="data")), ("mesh None", "mesh", _with(mesh=None)),
      ("a string leaf", "tree", _with(tree={"w": "abc"}))])
spec(F, tdist.to_local_device, lambda: dict(key=_key()), {"key": "key"})
spec(F, tdist.feed_batches, lambda: dict(host_data=np.arange(12.0).reshape(6, 2), indices=np.arange(4).reshape(2, 2),
                                         mesh=tloop.data_mesh()),
     {},
     [("host_data None", "host_data", _with(host_data=None)), ("host_data a string", "host_data",
                                                              _with(host_data="abc")),
      ("host_data complex", "host_data", _with(host_data=np.ones((6, 2), np.complex64))),
      ("host_data empty", "host_data", _with(host_data=np.zeros((0, 2), np.float32))),
      ("an index past the data", "indices", _with(indices=np.array([[0, 6]]))),
      ("negative index", "indices", _with(indices=np.array([[0, -1]]))),
      ("fractional indices", "indices", _with(indices=np.array([[0.5, 1.0]]))),
      ("1-D indices", "indices", _with(indices=np.arange(4))),
      ("mesh a string", "mesh", _with(mesh="data"))])
spec(F, tdist.fit_fingerprint,
     lambda: dict(state={"w": jnp.ones(3)}, data=np.ones((4, 2), np.float32), rng=_key(), mesh=tloop.data_mesh(),
                  batch_size=2),
     {"rng": "key"}, [("mesh a string", "mesh", _with(mesh="data")), ("state None", "state", _with(state=None))])
