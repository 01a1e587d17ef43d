"""Moved into scripts/_bench.py (:func:`_bench.pin_cores`); this alias keeps older scripts running."""

from _bench import pin_cores as limit_cpu_threads  # noqa: F401
