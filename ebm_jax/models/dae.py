"""Denoising autoencoder (Vincent et al. 2008) and its reconstruction-error energy.

A DAE ``r = g ∘ f`` is trained (:mod:`ebm_jax.methods.dae`) to map a corrupted
``x~ ~ C(x~ | x)`` back to ``x``. Its energy is the reconstruction error of the
clean input, ``E(x) = |x - r(x)|^2``. The contrastive reading (the lecture):
corrupted points are the negatives whose energy is pushed up (through ``r``
mapping them back); regions that corruption never reaches get no training signal.

``params`` below is the plain parameter tree (``state.params``).
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks

LOSSES = ("bce", "mse")


class DAE(nn.Module):
    """MLP autoencoder ``(..., D) -> (..., D)``; returns logits (``bce``) or values (``mse``)."""

    hidden: Sequence[int] = (512,)
    latent: int = 128
    out_dim: int = 784

    def __post_init__(self):
        # checked where the module is built, before any tracing (a zero-width layer would
        # otherwise fail, or silently build an empty layer, inside flax's initialisers)
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of widths, got {type(self.hidden).__name__} {self.hidden!r}")
        for i, width in enumerate(self.hidden):
            checks.positive_int(width, f"hidden[{i}]")
        checks.positive_int(self.latent, "latent")
        checks.positive_int(self.out_dim, "out_dim")
        super().__post_init__()

    def setup(self):
        self.enc = [nn.Dense(w) for w in self.hidden] + [nn.Dense(self.latent)]
        self.dec = [nn.Dense(w) for w in reversed(self.hidden)] + [nn.Dense(self.out_dim)]

    def encode(self, x):
        for layer in self.enc[:-1]:
            x = nn.relu(layer(x))
        return self.enc[-1](x)

    def decode(self, z):
        h = nn.relu(z)
        for layer in self.dec[:-1]:
            h = nn.relu(layer(h))
        return self.dec[-1](h)

    def __call__(self, x):
        return self.decode(self.encode(x))


@functools.lru_cache(maxsize=32)
def _param_shapes(model: DAE, in_dim: int) -> dict:
    tree = jax.eval_shape(lambda key: model.init(key, jnp.zeros((1, in_dim), jnp.float32)), jax.random.key(0))
    return {jax.tree_util.keystr(path): leaf.shape for path, leaf in jax.tree.leaves_with_path(tree["params"])}


def _check_model_params(model, params, name: str = "params") -> int:
    """The input width of ``params``, after checking that ``model`` is a :class:`DAE` and
    ``params`` its parameter tree (``state.params``): same layers, same shapes (checked on shapes only)."""
    checks.instance(model, "model", DAE, "ebm_jax.models.dae.DAE")
    try:
        in_dim = int(np.shape(params["enc_0"]["kernel"])[0])
        leaves = jax.tree.leaves_with_path(params)
    except (TypeError, KeyError, IndexError) as e:
        raise TypeError(f"{name} must be the DAE's parameter tree (state.params), got {type(params).__name__}") from e
    expected = _param_shapes(model, in_dim)
    got = {jax.tree_util.keystr(path): np.shape(leaf) for path, leaf in leaves}
    if set(got) != set(expected):
        raise TypeError(f"{name} must be this DAE's parameter tree (state.params): expected leaves "
                        f"{sorted(expected)}, got {sorted(got)}"[:400])
    for path, shape in expected.items():
        if got[path] != shape:
            raise ValueError(f"{name}{path} must have shape {shape} for this DAE, got {got[path]}")
    return in_dim


def output_to_reconstruction(out: jax.Array, loss: str) -> jax.Array:
    """``r(x)`` from the network's output: sigmoid of the logits for ``bce``, the raw output for ``mse``."""
    checks.one_of(loss, "loss", LOSSES)
    out = checks.float_array(out, "out", min_ndim=1)
    return jax.nn.sigmoid(out) if loss == "bce" else out


def _check_x(model, params, x, loss):
    in_dim = _check_model_params(model, params)
    checks.one_of(loss, "loss", LOSSES)
    x = checks.float_array(x, "x", min_ndim=1)
    if x.shape[-1] != in_dim:
        raise ValueError(f"x must have width {in_dim} (the DAE's input), got shape {x.shape}")
    return x


def reconstruct(model: DAE, params, x: jax.Array, loss: str) -> jax.Array:
    """``r(x)``, shape ``(..., D)``."""
    x = _check_x(model, params, x, loss)
    return output_to_reconstruction(model.apply({"params": params}, x), loss)


def reconstruction_energy(model: DAE, params, x: jax.Array, loss: str = "mse") -> jax.Array:
    """``E(x) = sum_d (x_d - r(x)_d)^2``, shape ``(...)``; needs ``out_dim`` equal to ``x``'s width."""
    x = _check_x(model, params, x, loss)
    if model.out_dim != x.shape[-1]:
        raise ValueError(f"model.out_dim ({model.out_dim}) must equal x's width ({x.shape[-1]}) for a "
                         "reconstruction error")
    return jnp.sum(jnp.square(x - reconstruct(model, params, x, loss)), axis=-1)
