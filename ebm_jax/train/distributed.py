"""Multi-process training with ``jax.distributed``: start-up, process 0, agreement checks.

JAX's multi-controller model runs one Python process per host; every process
runs the same program, sees all devices (``jax.devices()``) and addresses its
own (``jax.local_devices()``). :func:`ebm_jax.train.fit` builds its mesh over
all devices, and each process feeds its own slice of every global batch.

Start-up (:func:`initialize_from_environment`, called by :mod:`ebm_jax.cli`
before an experiment runs):

* ``EBM_JAX_COORDINATOR_ADDRESS`` / ``EBM_JAX_NUM_PROCESSES`` /
  ``EBM_JAX_PROCESS_ID`` (set by the local launcher :mod:`ebm_jax.launch`):
  initialize with them;
* otherwise, when the environment names a cluster that JAX detects (SLURM,
  Open MPI, Kubernetes, Cloud TPU) or sets ``JAX_COORDINATOR_ADDRESS``:
  ``jax.distributed.initialize()`` with JAX's auto-detection; under SLURM each
  task gets its share of the node's GPUs (:func:`slurm_local_device_ids`: all of
  them with one task per node, one each with a task per GPU), where JAX alone
  would give every task the single GPU ``SLURM_LOCALID``;
* otherwise: nothing (one process). ``EBM_JAX_DISTRIBUTED=0`` opts out.

Files (config, metrics, results, figures) are written by process 0 only: the
writers in :mod:`ebm_jax.train.workdir` and :mod:`ebm_jax.viz` ask
:func:`is_main_process`. Every process must still run every computation on
global arrays (a jitted function of the train state is a collective), so never
put a computation under ``if is_main_process()``, only the writing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import time
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from ebm_jax import checks

ENV_COORDINATOR = "EBM_JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "EBM_JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "EBM_JAX_PROCESS_ID"
ENV_TIMEOUT = "EBM_JAX_INITIALIZATION_TIMEOUT"
ENV_OPT_OUT = "EBM_JAX_DISTRIBUTED"
DEFAULT_TIMEOUT_SECONDS = 300


class CoordinatorUnreachableError(ConnectionError):
    """The coordinator of ``jax.distributed`` did not answer within the timeout."""


class ProcessMismatchError(ValueError):
    """The processes of one run disagree (config, data, or arguments of ``fit``)."""


def is_initialized() -> bool:
    """Whether ``jax.distributed.initialize`` has run in this process."""
    try:
        return jax.distributed.is_initialized()
    except AttributeError:  # older jax
        from jax._src import distributed as _distributed

        return _distributed.global_state.client is not None


def process_index() -> int:
    """This process's index (0 when ``jax.distributed`` is not initialized, without starting a backend)."""
    return jax.process_index() if is_initialized() else 0


def process_count() -> int:
    """The number of processes (1 when ``jax.distributed`` is not initialized)."""
    return jax.process_count() if is_initialized() else 1


def is_main_process() -> bool:
    """True on process 0, the one that writes files and shows progress bars."""
    return process_index() == 0


def cluster_detected() -> bool:
    """Whether the environment names a cluster that ``jax.distributed.initialize()`` detects by itself."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return True
    try:
        from jax._src.clusters import ClusterEnv

        return any(not env.opt_in_only_method and env.is_env_present() for env in ClusterEnv._cluster_types)
    except Exception:  # the private detection API moved: fall back on the variables the launchers set
        return any(v in os.environ for v in ("SLURM_STEP_NODELIST", "OMPI_MCA_orte_hnp_uri", "PMIX_SERVER_URI2"))


def parse_address(address: str, name: str = "address") -> tuple[str, int]:
    """``(host, port)`` of ``"host:port"`` (port in [1, 65535]; ``[host]`` for IPv6), else an error naming ``name``."""
    if not isinstance(address, str):
        raise TypeError(f"{name} must be a 'host:port' string, got {type(address).__name__} {address!r}")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{name} must look like 'host:port' with a port in [1, 65535], got {address!r}")
    return host.strip("[]"), int(port)


def wait_for_coordinator(address: str, timeout: float) -> None:
    """Return once a TCP connection to ``address`` succeeds; raise :class:`CoordinatorUnreachableError` after ``timeout`` s.

    ``jax.distributed.initialize`` aborts the whole process (a C++ fatal error,
    not a Python exception) when the coordinator cannot be reached, so
    non-coordinator processes probe it first and fail with a readable message.
    """
    host, port = parse_address(address)
    timeout = checks.nonnegative_float(timeout, "timeout")
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(remaining, 2.0))):
                return
        except OSError as e:  # refused (not up yet), unresolvable, timed out
            last_error = e
        if time.monotonic() + 0.2 >= deadline:
            break
        time.sleep(0.2)
    raise CoordinatorUnreachableError(
        f"the jax.distributed coordinator at {address} did not answer within {timeout:g} s "
        f"({type(last_error).__name__}: {last_error}). Check that process 0 runs and that "
        f"{host}:{port} is reachable from this host.")


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, initialization_timeout: float = DEFAULT_TIMEOUT_SECONDS,
               local_device_ids=None) -> None:
    """``jax.distributed.initialize`` with CPU collectives through gloo and a bounded wait.

    With no arguments JAX detects the cluster (SLURM, Open MPI, Kubernetes,
    Cloud TPU). With an explicit address, processes other than 0 first wait up
    to ``initialization_timeout`` seconds for the coordinator to accept
    connections and raise :class:`CoordinatorUnreachableError` if it does not.
    Calling it again after a successful start does nothing.
    """
    if is_initialized():
        return
    initialization_timeout = checks.positive_float(initialization_timeout, "initialization_timeout")
    num_processes = checks.positive_int(num_processes, "num_processes", allow_none=True)
    process_id = checks.nonnegative_int(process_id, "process_id", allow_none=True)
    if process_id is not None and num_processes is not None and not process_id < num_processes:
        raise ValueError(f"process_id must be in [0, num_processes={num_processes}), got {process_id!r}")
    if local_device_ids is not None:
        if isinstance(local_device_ids, (str, bytes)) or not isinstance(local_device_ids, (list, tuple, range)):
            raise TypeError(f"local_device_ids must be a list of device ids, got {local_device_ids!r}")
        local_device_ids = [checks.nonnegative_int(d, f"local_device_ids[{i}]") for i, d in enumerate(local_device_ids)]
    if coordinator_address is not None:
        parse_address(coordinator_address, "coordinator_address")
        if process_id not in (None, 0):
            wait_for_coordinator(coordinator_address, initialization_timeout)
    # Cross-process collectives of the CPU backend (the default, "none", cannot run them).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id, local_device_ids=local_device_ids,
                               initialization_timeout=int(np.ceil(initialization_timeout)))


def visible_gpus(environ: Mapping[str, str] | None = None, smi: str = "nvidia-smi") -> list[str] | None:
    """The NVIDIA GPUs this process may use, without starting a JAX backend; None where none is found.

    ``$CUDA_VISIBLE_DEVICES`` when it is set (a cluster's launcher binds GPUs
    through it), else the GPUs ``nvidia-smi -L`` lists (their indices).
    """
    environ = os.environ if environ is None else checks.string_mapping(environ, "environ")
    checks.string(smi, "smi")
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        gpus = [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
        return gpus or None
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = [line.split(":", 1)[0].split()[1] for line in out.splitlines() if re.match(r"GPU \d+:", line)]
    return gpus or None


def _slurm_tasks_on_node(environ: Mapping[str, str]) -> int:
    value = environ.get("SLURM_NTASKS_PER_NODE") or environ.get("SLURM_TASKS_PER_NODE") or "1"
    m = re.match(r"\d+", value)  # SLURM_TASKS_PER_NODE reads like "8(x2)"
    return int(m.group(0)) if m else 1


def slurm_local_device_ids(environ: Mapping[str, str] | None = None,
                           gpus: Sequence[str] | None = None) -> list[int] | None:
    """The local GPU ids of this SLURM task: its share of the GPUs it sees; None outside SLURM or without GPUs.

    Left alone, ``jax.distributed.initialize()`` gives every SLURM task one GPU,
    ``[SLURM_LOCALID]``: right for one task per GPU on GPUs all tasks see, but a
    task per node with 8 GPUs would use GPU 0 only, and a task bound to its own
    GPU by ``--gpus-per-task`` would ask for a GPU id it cannot see. Here:

    * with ``--gpus-per-task`` (``$SLURM_GPUS_PER_TASK``) a task owns every GPU it sees;
    * else the ``T`` tasks of a node split the ``G`` GPUs they see in blocks of
      ``G / T``: one task per node takes all ``G``, ``T = G`` tasks one each.

    Raises:
      ValueError: ``G`` is not a multiple of ``T`` (some GPU would be shared or idle).
    """
    environ = os.environ if environ is None else checks.string_mapping(environ, "environ")
    if gpus is not None:
        gpus = checks.strings(gpus, "gpus")
    if "SLURM_LOCALID" not in environ or "SLURM_JOB_ID" not in environ:
        return None
    gpus = visible_gpus(environ) if gpus is None else list(gpus)
    if not gpus:
        return None
    if environ.get("SLURM_GPUS_PER_TASK"):
        return list(range(len(gpus)))
    local_id = environ["SLURM_LOCALID"].strip()
    if not local_id.isdigit():
        raise ValueError(f"environ['SLURM_LOCALID'] must be a task index, got {local_id!r}")
    tasks, local_id = _slurm_tasks_on_node(environ), int(local_id)
    if local_id >= tasks:
        raise ValueError(f"environ['SLURM_LOCALID'] is {local_id}, but SLURM runs {tasks} task(s) on this node")
    if len(gpus) % tasks:
        raise ValueError(f"environ: SLURM runs {tasks} tasks on this node, which see {len(gpus)} GPUs: use a number of "
                         "tasks per node that divides the GPUs (one per node, or one per GPU), or --gpus-per-task")
    share = len(gpus) // tasks
    return list(range(local_id * share, (local_id + 1) * share))


def initialize_from_environment() -> bool:
    """Start ``jax.distributed`` when the environment asks for it (see the module doc); True if it did."""
    if is_initialized():
        return True
    if os.environ.get(ENV_OPT_OUT, "1") == "0":
        return False
    timeout = float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT_SECONDS))
    address = os.environ.get(ENV_COORDINATOR)
    if address:
        try:
            num_processes = int(os.environ[ENV_NUM_PROCESSES])
            process_id = int(os.environ[ENV_PROCESS_ID])
        except (KeyError, ValueError) as e:
            raise ValueError(f"{ENV_COORDINATOR} is set, so {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} must be "
                             f"integers too ({e})") from None
        initialize(address, num_processes, process_id, initialization_timeout=timeout)
        return True
    if cluster_detected():
        initialize(initialization_timeout=timeout, local_device_ids=slurm_local_device_ids())
        return True
    return False


def fingerprint(value: Any) -> bytes:
    """A 16-byte digest of a JSON-able description (sorted keys; numpy values as lists)."""
    def default(obj):
        if isinstance(obj, (np.generic, np.ndarray)):
            return np.asarray(obj).tolist()
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        text = repr(obj)
        if " at 0x" in text:  # a default repr holds an address, which differs between processes
            raise TypeError(f"value holds a {type(obj).__name__}, which has no description that every process "
                            "shares (use numbers, strings, lists, dicts or arrays)")
        return text

    text = json.dumps(value, sort_keys=True, default=default)
    return hashlib.sha256(text.encode()).digest()[:16]


def assert_same_across_processes(what: str, fields: Mapping[str, Any]) -> None:
    """Raise :class:`ProcessMismatchError` on every process if any field differs between processes.

    One small all-gather of a digest per field; a no-op with one process. The
    message names the fields that differ and which processes hold which value.
    """
    checks.string(what, "what")
    fields = checks.mapping(fields, "fields")
    for name, value in fields.items():
        if not isinstance(name, str):
            raise TypeError(f"fields must have string names, got {name!r}")
        try:
            fingerprint(value)
        except TypeError as e:
            raise TypeError(f"fields[{name!r}]: {e}") from None
    if process_count() == 1:
        return
    from jax.experimental import multihost_utils

    names = sorted(fields)
    # First the names (the second gather needs the same number of fields everywhere), then one digest per field.
    gathered_names = np.asarray(multihost_utils.process_allgather(np.frombuffer(fingerprint(names), np.uint8)))
    if not (gathered_names == gathered_names[0]).all():
        raise ProcessMismatchError(f"the {len(gathered_names)} processes disagree on {what}: they hold different "
                                   f"sets of entries (this is process {process_index()}: {names}).")
    local = np.stack([np.frombuffer(fingerprint(fields[name]), np.uint8) for name in names])
    gathered = np.asarray(multihost_utils.process_allgather(local))  # (processes, fields, 16)
    differ = [i for i, _ in enumerate(names) if not (gathered[:, i] == gathered[0, i]).all()]
    if not differ:
        return
    details = []
    for i in differ:
        groups: dict[bytes, list[int]] = {}
        for p in range(gathered.shape[0]):
            groups.setdefault(gathered[p, i].tobytes(), []).append(p)
        value = repr(fields[names[i]])
        value = value if len(value) <= 300 else value[:300] + "..."
        details.append(f"{names[i]} (this is process {process_index()}: {value}; "
                       f"processes grouped by value: {sorted(groups.values())})")
    raise ProcessMismatchError(f"the {gathered.shape[0]} processes disagree on {what}: " + "; ".join(details)
                               + ". Every process must run the same command on the same data.")


def barrier(name: str) -> None:
    """Wait until every process reaches this point (a no-op with one process)."""
    checks.string(name, "name")
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


# ---------------------------------------------------------------------------------------------
# Global arrays. With several processes an array's value comes from every process's own copy:
# ``jax.make_array_from_callback`` asks each process only for the shards its devices hold.
# (A host array ``device_put`` onto a multi-process sharding trains, but Orbax then fails to
# save it: "input arrays must have one shard each"; see DESIGN.md principle 5.)

def _is_key(leaf) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _replicated_leaf(leaf, sharding):
    if _is_key(leaf):
        data = _replicated_leaf(jax.random.key_data(leaf), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
    host = np.asarray(leaf)  # also a copy of an already replicated global array (fit donates its state)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree, mesh):
    """``tree`` with every array replicated over ``mesh`` (a global array when there are several processes)."""
    from jax.sharding import NamedSharding, PartitionSpec

    checks.array_tree(tree, "tree")
    sharding = NamedSharding(checks.mesh(mesh, "mesh", axis=None), PartitionSpec())
    if process_count() == 1:
        return jax.device_put(tree, sharding, may_alias=False)
    return jax.tree.map(lambda leaf: _replicated_leaf(leaf, sharding), tree)


def to_local_device(key):
    """A copy of a (typed or raw) PRNG key on this process's first device, for host-side computations."""
    checks.prng_key(key, "key")
    device = jax.local_devices()[0]
    if _is_key(key):
        data = jax.device_put(np.asarray(jax.random.key_data(key)), device)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(key))
    return jax.device_put(np.asarray(key), device)


def feed_batches(host_data, indices: np.ndarray, mesh):
    """The global array ``host_data[indices]``, its last index axis (the batch) sharded over ``"data"``.

    ``indices`` holds example indices, ``(steps, batch)`` or ``(steps, seeds,
    batch)``, the same on every process. Each process gathers only the rows its
    own devices hold: its slice of every global batch.
    """
    from jax.sharding import NamedSharding, PartitionSpec

    n = _check_host_data(host_data)
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer) or indices.ndim < 2:
        raise TypeError(f"indices must be an integer array of example indices, (steps, [seeds,] batch), got "
                        f"dtype {indices.dtype} and shape {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"indices must lie in [0, {n}) (the examples of host_data), got "
                         f"[{indices.min()}, {indices.max()}]")
    mesh = checks.mesh(mesh, "mesh")
    k = indices.ndim
    sharding = NamedSharding(mesh, PartitionSpec(*([None] * (k - 1)), "data"))

    def leaf(values):
        def shard(index):
            return values[indices[tuple(index[:k])]][(slice(None),) * k + tuple(index[k:])]

        return jax.make_array_from_callback(indices.shape + values.shape[1:], sharding, shard)

    return jax.tree.map(leaf, host_data)


def _check_host_data(host_data) -> int:
    """The number of examples of ``host_data``: a pytree of real arrays with a common, non-empty leading axis."""
    checks.array_tree(host_data, "host_data")
    sizes = set()
    for leaf in jax.tree.leaves(host_data):
        dtype = np.asarray(leaf[:0] if np.ndim(leaf) else leaf).dtype
        if np.ndim(leaf) < 1 or not (np.issubdtype(dtype, np.number) or dtype == np.bool_) or np.issubdtype(
                dtype, np.complexfloating):
            raise TypeError(f"host_data must hold real arrays with an example axis, got dtype {dtype} and shape "
                            f"{np.shape(leaf)}")
        sizes.add(np.shape(leaf)[0])
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"host_data needs one common, non-empty example axis, got sizes {sorted(sizes)}")
    return sizes.pop()


def _digest_leaves(tree, rows=None) -> str:
    """sha256 of the bytes of every leaf (or of ``rows`` evenly spaced rows of each), as hex."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if _is_key(leaf):
            leaf = jax.random.key_data(leaf)
        values = np.asarray(leaf)
        if rows is not None and values.ndim and len(values) > rows:
            values = values[:: len(values) // rows][:rows]
        h.update(str((values.shape, values.dtype)).encode())
        h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()[:16]


def fit_fingerprint(state, data, rng, *, mesh, **arguments) -> dict:
    """What every process of one ``fit`` must agree on, one entry per thing that could differ."""
    checks.array_tree(state, "state")
    checks.prng_key(rng, "rng")
    checks.mesh(mesh, "mesh", axis=None)
    def shapes(tree):  # leaf paths, shapes and dtypes (not the static fields: their reprs hold addresses)
        leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
        return ", ".join(f"{jax.tree_util.keystr(path)}: {tuple(np.shape(leaf))} "
                         f"{getattr(leaf, 'dtype', type(leaf).__name__)}" for path, leaf in leaves)

    return {
        "data shapes": shapes(data),
        "data values (a sample of rows)": _digest_leaves(data, rows=16),
        "initial state shapes": shapes(state),
        "initial state values": _digest_leaves(state),
        "rng": _digest_leaves(rng),
        "mesh": str(dict(mesh.shape)),
        **{name: value for name, value in arguments.items()},
    }
