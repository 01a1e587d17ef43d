r"""The precision policy: which matrix products run at full float32, and which may run fast.

On an Ampere or Hopper GPU, JAX runs a float32 matrix product (``dot_general``,
``conv_general_dilated``) as TF32 by default (a 10-bit mantissa); a TPU uses
bfloat16 passes. That is fine for a training step, but not for a number that
certifies or reports something: a relative duality gap of 1e-6 cannot be
reached through TF32 products, and a likelihood moves by tenths of a nat.

The policy, in one place:

* **Certificates and evaluation numbers** (lasso solvers and their duality gaps,
  conv sparse coding, LISTA's reference codes, ELBO and importance-sampled
  likelihoods, exact and AIS log-partition functions, pseudo-likelihood, code
  errors, probes) run every matrix product at ``Precision.HIGHEST``: their
  public functions are wrapped in :func:`highest`, also when they are called
  inside a training step.
* **Training steps** run at the precision their config names,
  ``config.matmul_precision`` (:data:`TRAINING_CHOICES`), applied by
  :func:`ebm_jax.train.fit` through :func:`training`. The default, ``"default"``,
  is the backend's fast default (TF32 on recent NVIDIA GPUs, bfloat16 passes on
  TPU, full float32 on CPU).
* Flax models may compute in bfloat16 with float32 parameters and losses
  (``compute_dtype``, :func:`compute_dtype`).

On the CPU every choice computes in float32, so the policy changes no CPU number.
The policy is visible in the lowered program: every ``stablehlo.dot_general`` of a
wrapped function carries ``precision = [HIGHEST, HIGHEST]``
(``tests/test_precision.py`` counts them).

>>> import jax.numpy as jnp
>>> f = highest(lambda a: a @ a)
>>> "HIGHEST" in jax.jit(f).lower(jnp.ones((2, 2))).as_text()
True
"""

from __future__ import annotations

import contextlib
import functools
from typing import Callable, TypeVar

import jax
import jax.numpy as jnp

from ebm_jax import checks

#: The names ``config.matmul_precision`` accepts (JAX's own names for
#: ``jax.default_matmul_precision``): ``"default"`` is the backend's fast default,
#: ``"high"`` three bfloat16 passes (about float32 on TPU, TF32 on GPU),
#: ``"highest"`` full float32.
TRAINING_CHOICES = ("default", "high", "highest")

#: The names ``compute_dtype`` accepts: ``"float32"``, or ``"bfloat16"`` for the
#: flax layers' computation (parameters, losses and optimizer states stay float32).
COMPUTE_DTYPES = ("float32", "bfloat16")

F = TypeVar("F", bound=Callable)


def highest(fn: F) -> F:
    """``fn`` with every matrix product it traces at ``Precision.HIGHEST``.

    For the functions whose numbers certify or report something. Works on plain
    functions and on ``jax.jit``-ed ones (the jit cache keys on the precision, so
    a function traced at another precision is traced again), and inside an outer
    ``jit``: the products that ``fn`` traces are HIGHEST whatever the caller asks.
    """
    checks.function(fn, "fn")

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.default_matmul_precision("highest"):
            return fn(*args, **kwargs)

    wrapped.__ebm_jax_precision__ = "highest"
    return wrapped  # type: ignore[return-value]


def check_matmul_precision(value, name: str = "matmul_precision") -> str:
    """``value`` if it is one of :data:`TRAINING_CHOICES`, else a ``ValueError`` naming ``name``."""
    if not isinstance(value, str) or value not in TRAINING_CHOICES:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, TRAINING_CHOICES))}, got {value!r}")
    return value


def training(matmul_precision: str | None) -> contextlib.AbstractContextManager:
    """The context a training step is traced in: ``matmul_precision`` (None or ``"default"``: the backend's default)."""
    if matmul_precision is None or check_matmul_precision(matmul_precision) == "default":
        return contextlib.nullcontext()
    return jax.default_matmul_precision(matmul_precision)


def compute_dtype(name: str | None, argument: str = "compute_dtype") -> jnp.dtype:
    """The dtype for ``name`` in :data:`COMPUTE_DTYPES` (None: float32); a ``ValueError`` naming ``argument`` otherwise."""
    if name is None:
        return jnp.dtype(jnp.float32)
    if not isinstance(name, str) or name not in COMPUTE_DTYPES:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, COMPUTE_DTYPES))}, got {name!r}")
    return jnp.dtype(name)


def describe(matmul_precision: str | None = None) -> str:
    """One line for logs and ``results.json``: the training precision and the evaluation precision."""
    training_name = "default" if matmul_precision is None else check_matmul_precision(matmul_precision)
    return f"training matmul {training_name}, solvers and evaluation highest"
