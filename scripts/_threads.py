"""Give a benchmark, and every library in it, the same number of CPU cores.

Call :func:`limit_cpu_threads` before jax is imported. XLA:CPU sizes its thread
pools from the process's CPU affinity (an ``XLA_FLAGS`` setting such as
``--xla_cpu_multi_thread_eigen=false`` does not stop its YNNPACK matmuls from
using every core), so the process is pinned to ``threads`` cores; the BLAS /
OpenMP thread variables are set to match for numpy, scikit-learn and SPAMS.
"""

from __future__ import annotations

import os


def limit_cpu_threads(threads: int) -> list[int]:
    """Pin this process to its first ``threads`` allowed cores; returns their ids."""
    allowed = sorted(os.sched_getaffinity(0))
    if not 1 <= threads <= len(allowed):
        raise SystemExit(f"--threads must be between 1 and the {len(allowed)} cores this process may use, "
                         f"got {threads}")
    cores = allowed[:threads]
    os.sched_setaffinity(0, cores)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    return cores
