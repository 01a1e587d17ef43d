r"""Start N local processes of one experiment under ``jax.distributed`` (one host).

    python -m ebm_jax.launch --num_processes 2 --devices_per_process 2 -- \
        experiments.vae_mnist --workdir runs/vae2 --config=experiments/configs/vae_mnist.py:smoke
    python -m ebm_jax.launch --num_processes 4 --gpus_per_process 2 -- \
        experiments.vae_mnist --workdir runs/vae8 --config.batch_size=512

``--devices_per_process`` simulates CPU devices (CPU collectives via gloo);
``--gpus_per_process g`` gives process i the i-th block of g visible GPUs as its
``CUDA_VISIBLE_DEVICES``, so that no process claims (and preallocates memory on)
another's GPUs; more GPUs than are visible is refused, naming both numbers.

Each process runs ``python -m <module> <args>`` with ``jax.distributed``
initialized first (coordinator on 127.0.0.1, a free port), so every
experiment runs unchanged; process 0 writes the files. Process 0's output
passes through; the others' lines are prefixed with ``[process i]``. When one
process fails, the launcher stops the others and exits with its status; a
process that cannot reach the coordinator fails within ``--timeout`` seconds.

On a cluster, do not use this launcher: start one process per host with the
cluster's own launcher (``srun``, ``mpirun``); :mod:`ebm_jax.cli` detects it
(see the README's SLURM recipe).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from ebm_jax import checks
from ebm_jax.train import distributed
from ebm_jax.train.distributed import (DEFAULT_TIMEOUT_SECONDS, ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID,
                                       ENV_TIMEOUT)

# Run in each child: start jax.distributed before the experiment module imports anything, then run it as __main__.
_BOOTSTRAP = """
import runpy, sys
from ebm_jax.train import distributed
try:
    distributed.initialize_from_environment()
except distributed.CoordinatorUnreachableError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
module = sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the operating system's choice)."""
    checks.string(host, "host")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, 0))
        except OSError as e:  # unresolvable, or not an address of this machine
            raise ValueError(f"host {host!r} cannot be bound on this machine ({e})") from e
        return s.getsockname()[1]


def assign_gpus(num_processes: int, gpus_per_process: int, gpus: list[str] | None) -> list[list[str]]:
    """Process i's GPUs: the i-th block of ``gpus_per_process`` of the visible ``gpus`` (None: none visible).

    Raises:
      ValueError: fewer GPUs are visible than ``num_processes * gpus_per_process`` (naming both), a GPU
        listed twice, or a count that is not a positive integer.
      TypeError: ``gpus`` is not a list of GPU ids (strings).
    """
    num_processes = checks.positive_int(num_processes, "num_processes")
    gpus_per_process = checks.positive_int(gpus_per_process, "gpus_per_process")
    if gpus is not None:
        gpus = checks.strings(gpus, "gpus")
        repeated = sorted({g for g in gpus if gpus.count(g) > 1})
        if repeated:
            raise ValueError(f"gpus lists GPU(s) {repeated} more than once: {gpus}")
    needed = num_processes * gpus_per_process
    if not gpus or len(gpus) < needed:
        raise ValueError(f"--gpus_per_process {gpus_per_process} x --num_processes {num_processes} needs {needed} "
                         f"GPUs, but {len(gpus or [])} are visible here "
                         f"({'CUDA_VISIBLE_DEVICES' if 'CUDA_VISIBLE_DEVICES' in os.environ else 'nvidia-smi -L'})")
    return [gpus[i * gpus_per_process:(i + 1) * gpus_per_process] for i in range(num_processes)]


def child_env(process_id: int, num_processes: int, address: str, devices_per_process: int | None,
              timeout: float, base: dict | None = None, gpus: list[str] | None = None) -> dict:
    """The environment of process ``process_id``: the coordinator, its GPUs and the CPU device count if asked.

    ``gpus`` (from :func:`assign_gpus`) become the process's ``CUDA_VISIBLE_DEVICES``:
    it sees and preallocates only its own GPUs. ``base`` (default ``os.environ``) is the
    environment to start from, a mapping of strings to strings.
    """
    num_processes = checks.positive_int(num_processes, "num_processes")
    process_id = checks.integer(process_id, "process_id", ge=0, lt=num_processes)
    distributed.parse_address(address, "address")
    devices_per_process = checks.positive_int(devices_per_process, "devices_per_process", allow_none=True)
    checks.positive_float(timeout, "timeout")
    if base is not None:
        checks.string_mapping(base, "base")
    if gpus is not None:
        gpus = checks.strings(gpus, "gpus", nonempty=True)
    env = dict(os.environ if base is None else base)
    env.update({ENV_COORDINATOR: address, ENV_NUM_PROCESSES: str(num_processes), ENV_PROCESS_ID: str(process_id),
                ENV_TIMEOUT: str(timeout)})
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    if devices_per_process is not None:
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices_per_process}"])
        env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def _relay(stream, prefix: str, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(prefix + line)
        out.flush()
    stream.close()


def _stop(processes, grace: float = 10.0) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launch(command: list[str], num_processes: int, *, devices_per_process: int | None = None,
           gpus_per_process: int | None = None, port: int | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
           host: str = "127.0.0.1") -> int:
    """Run ``python -m command[0] command[1:]`` as ``num_processes`` processes; returns the exit status.

    0 if every process succeeded, else the status of the first that failed
    (the others are then stopped). ``port`` None or 0: a free one. Every argument
    is checked before anything starts (a ValueError or TypeError naming it).
    """
    command = checks.strings(command, "command")
    if not command:
        raise ValueError("command names no module to run: give it after '--', e.g. "
                         "-- experiments.vae_mnist --workdir DIR")
    if not all(part.isidentifier() for part in command[0].split(".")):
        raise ValueError(f"command[0] must be the module to run (python -m MODULE), e.g. experiments.vae_mnist, "
                         f"got {command[0]!r}")
    num_processes = checks.positive_int(num_processes, "num_processes")
    devices_per_process = checks.positive_int(devices_per_process, "devices_per_process", allow_none=True)
    gpus_per_process = checks.positive_int(gpus_per_process, "gpus_per_process", allow_none=True)
    port = checks.integer(port, "port", ge=0, le=65535, allow_none=True)
    checks.positive_float(timeout, "timeout")
    host = checks.string(host, "host")
    if gpus_per_process is not None and devices_per_process is not None:
        raise ValueError("give --gpus_per_process (GPUs) or --devices_per_process (simulated CPU devices), not both")
    blocks = (assign_gpus(num_processes, gpus_per_process, distributed.visible_gpus())
              if gpus_per_process is not None else [None] * num_processes)
    address = f"{host}:{port or free_port(host)}"
    processes, relays = [], []
    for i in range(num_processes):
        env = child_env(i, num_processes, address, devices_per_process, timeout, gpus=blocks[i])
        piped = i > 0
        p = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, *command], env=env, text=True,
                             stdout=subprocess.PIPE if piped else None,
                             stderr=subprocess.STDOUT if piped else None)
        processes.append(p)
        if piped:
            t = threading.Thread(target=_relay, args=(p.stdout, f"[process {i}] ", sys.stderr), daemon=True)
            t.start()
            relays.append(t)
    status = 0
    try:
        while True:
            codes = [p.poll() for p in processes]
            failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                i, status = failed[0]
                print(f"ebm_jax.launch: process {i} exited with status {status}; stopping the others",
                      file=sys.stderr)
                _stop(processes)
                break
            if all(c == 0 for c in codes):
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        _stop(processes)
        status = 130
    for t in relays:
        t.join(timeout=5)
    return status


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" in argv:
        split = argv.index("--")
        own, command = argv[:split], argv[split + 1:]
    else:
        own, command = argv, []
    parser = argparse.ArgumentParser(prog="python -m ebm_jax.launch", description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s --num_processes N [options] -- MODULE [ARGS ...]")
    parser.add_argument("--num_processes", type=int, required=True, help="processes to start on this host")
    parser.add_argument("--devices_per_process", type=int, default=None,
                        help="CPU devices per process (XLA_FLAGS=--xla_force_host_platform_device_count)")
    parser.add_argument("--gpus_per_process", type=int, default=None,
                        help="NVIDIA GPUs per process: process i gets the i-th block of the visible GPUs "
                             "(its CUDA_VISIBLE_DEVICES); default: every process sees every GPU")
    parser.add_argument("--port", type=int, default=None, help="coordinator port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds a process waits for the others at start-up before failing")
    args = parser.parse_args(own)
    if not command:
        parser.error("give the module to run after '--', e.g. -- experiments.vae_mnist --workdir DIR")
    try:
        status = launch(command, args.num_processes, devices_per_process=args.devices_per_process,
                        gpus_per_process=args.gpus_per_process, port=args.port, timeout=args.timeout)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    sys.exit(status)


if __name__ == "__main__":
    main()
