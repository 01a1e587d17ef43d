"""The implementation choices that depend on the backend, made in one place.

Some computations have two equivalent implementations whose speed depends on
the backend; each is tested equal to the other on the CPU
(``tests/test_backend_choices.py``), and ``"auto"`` picks by
``jax.default_backend()``:

==========================================================================  ============  ===============
choice                                                                      on the CPU    on a GPU or TPU
==========================================================================  ============  ===============
SSL encoder convolutions (:class:`ebm_jax.models.ssl.Conv3x3`)              ``"im2col"``  ``"xla"``
ADMM sweep over the filters (:func:`ebm_jax.sparse.conv.conv_sparse_code`)  ``"scan"``    ``"batched"``
==========================================================================  ============  ===============

* im2col: inside a ``lax.scan`` (how an epoch runs) XLA:CPU ran the SSL
  encoder's XLA convolutions and their gradients ~20x slower than the same
  convolutions as im2col matrix products; GPUs and TPUs have convolution
  kernels (cuDNN, the MXU) that im2col would only slow down.
* scan over filters: one filter map at a time, for the whole batch, keeps a
  map in the CPU's cache between its FFT and its update; on a GPU that is 2K
  small sequential FFT launches per iteration, where all K maps at once are two.
"""

from __future__ import annotations

import jax

SSL_CONV_CHOICES = ("auto", "im2col", "xla")
ADMM_FILTER_CHOICES = ("auto", "scan", "batched")


def platform() -> str:
    """``jax.default_backend()``: ``"cpu"``, ``"gpu"`` or ``"tpu"``."""
    return jax.default_backend()


def _resolve(requested: str, name: str, choices, *, cpu: str, accelerator: str) -> str:
    if requested not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {requested!r}")
    if requested != "auto":
        return requested
    return cpu if platform() == "cpu" else accelerator


def ssl_conv(conv: str = "auto") -> str:
    """The SSL encoders' convolution: ``"im2col"`` on the CPU, ``"xla"`` elsewhere (or ``conv`` if not ``"auto"``)."""
    return _resolve(conv, "conv", SSL_CONV_CHOICES, cpu="im2col", accelerator="xla")


def admm_filters(filters: str = "auto") -> str:
    """The ADMM sweep over the filter maps: ``"scan"`` on the CPU, ``"batched"`` elsewhere (or ``filters`` if not
    ``"auto"``)."""
    return _resolve(filters, "filters", ADMM_FILTER_CHOICES, cpu="scan", accelerator="batched")
