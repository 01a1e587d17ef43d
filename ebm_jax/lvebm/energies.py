r"""Latent-variable energies ``E(x, y, z) = ‖y − g(f(x), z)‖² + λ R(z)`` as pure functions.

One :class:`LatentEBM` describes the model (it is a frozen, hashable
dataclass, so its bound methods can be static arguments of ``jax.jit``);
its parameters are a plain pytree from :meth:`LatentEBM.init`. Every energy
acts on **one** example: ``x`` ``(x_dim,)`` (ignored when unconditional),
``y`` ``(y_dim,)``, ``z`` ``(latent_dim,)`` -> a scalar; batching is
``vmap`` (see :mod:`ebm_jax.lvebm.inference`).

Decoders ``g``:

* ``"ellipse"``: the course's fixed decoder ``g(z) = [w₁ cos z, w₂ sin z]``
  (``latent_dim = 1``, ``y_dim = 2``). Unconditional: ``w`` is the parameter
  ``params["w"]``. Conditional (the horn): ``w = f(x)``, the predictor's output.
* ``"mlp"``: ``g = MLP([f(x), z])`` (conditional, ``conditioning="concat"``),
  ``g = f(x) ∘ MLP(z)`` (``conditioning="scale"``: the course's horn decoder
  ``f(x) ∘ [cos z, sin z]`` with the circle replaced by a network), or ``MLP(z)``.
* ``"linear"``: ``g(z) = D z`` with ``D`` ``(y_dim, latent_dim)`` (unconditional).
  With the L1 regularizer this is sparse coding.

The predictor ``f`` (conditional models) is an MLP ``x_dim → predictor_hidden → predictor_dim``
(the horn: 1 → 8 → 8 → 2).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks
from ebm_jax.lvebm.regularizers import Regularizer

DECODERS = ("ellipse", "mlp", "linear")
ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "softplus": jax.nn.softplus}


def squared_norm(v: jax.Array) -> jax.Array:
    """``‖v‖²`` over the last axis: a traceable kernel of the energies, without argument checks.

    For a short axis (≤ 8, e.g. the 2-D ``y``) the sum is written out: XLA:CPU
    reduces a minor axis of size 2 far slower (about 10x on a (1000, 425, 2) grid)
    than the same sum as elementwise adds it fuses into the min."""
    if v.shape[-1] <= 8:
        return sum(jnp.square(v[..., i]) for i in range(v.shape[-1]))
    return jnp.sum(jnp.square(v), axis=-1)


def mlp_init(key: jax.Array, sizes, scale: float = 1.0) -> list[dict]:
    """Parameters of an MLP with layer widths ``sizes`` (``[in, h1, ..., out]``): ``[{"W", "b"}, ...]``.

    ``W`` ``(in, out)`` ~ N(0, scale²/in) (LeCun normal), ``b = 0``.
    """
    sizes = _widths(sizes, "sizes")
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least 2 widths ([in, ..., out]), got {sizes}")
    key = checks.prng_key(key)
    scale = checks.positive_float(scale, "scale")
    keys = jax.random.split(key, len(sizes) - 1)
    return [{"W": scale * jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros((n,))}
            for k, m, n in zip(keys, sizes[:-1], sizes[1:])]


def _widths(value, name: str) -> tuple[int, ...]:
    """A tuple or list of positive layer widths (not a string or a single number)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of layer widths, got {type(value).__name__} {value!r}")
    return tuple(checks.positive_int(w, f"{name}[{i}]") for i, w in enumerate(value))


def mlp_apply(params: list[dict], h: jax.Array, activation=jax.nn.relu) -> jax.Array:
    """``h (..., in) -> (..., out)``; ``activation`` between layers, none after the last.

    ``params`` as from :func:`mlp_init`. The checks (layers, ``h``'s width, finite
    where concrete) run once per trace inside ``jit``."""
    if not isinstance(params, (list, tuple)) or not params or not all(
            isinstance(layer, dict) and {"W", "b"} <= set(layer) for layer in params):
        raise TypeError(f"params must be a non-empty list of layers {{'W', 'b'}} (from mlp_init), "
                        f"got {type(params).__name__} {params!r}"[:300])
    checks.function(activation, "activation")
    h = checks.float_array(h, "h", min_ndim=1, nonempty=False)
    if h.shape[-1] != np.shape(params[0]["W"])[0]:
        raise ValueError(f"h must have width {np.shape(params[0]['W'])[0]} (the first layer's input), "
                         f"got shape {h.shape}")
    for layer in params[:-1]:
        h = activation(h @ layer["W"] + layer["b"])
    return h @ params[-1]["W"] + params[-1]["b"]


@dataclasses.dataclass(frozen=True)
class LatentEBM:
    """A regularized latent-variable EBM ``E(x, y, z) = ‖y − g(f(x), z)‖² + λ R(z)``.

    Attributes:
      decoder: ``"ellipse"``, ``"mlp"`` or ``"linear"`` (see the module docstring).
      latent_dim: ``dim(z) >= 1`` (``"ellipse"``: 1).
      conditional: whether ``g`` depends on ``x`` through the predictor ``f``.
      x_dim, y_dim: widths of ``x`` and ``y`` (``"ellipse"``: ``y_dim = 2``).
      predictor_hidden, predictor_dim: the predictor MLP ``x_dim → hidden → predictor_dim``
        (``"ellipse"``: ``predictor_dim = 2``, the semi-axes).
      decoder_hidden: hidden widths of the ``"mlp"`` decoder.
      activation: ``"relu"``, ``"tanh"`` or ``"softplus"`` for both MLPs.
      conditioning: conditional ``"mlp"`` decoder: ``"concat"`` (``MLP([f(x), z])``) or
        ``"scale"`` (``f(x) ∘ MLP(z)``; needs ``predictor_dim == y_dim``).
      unit_latent_weights: ``"mlp"`` decoder only: the first layer's weights
        from each latent coordinate are scaled to unit norm (as sparse coding
        normalises its atoms), so the decoder cannot shrink ``z`` below a
        scale-sensitive penalty (L1, L2) by growing its weights.
      regularizer: :class:`~ebm_jax.lvebm.regularizers.Regularizer`.
    """

    decoder: str = "ellipse"
    latent_dim: int = 1
    conditional: bool = False
    x_dim: int = 1
    y_dim: int = 2
    predictor_hidden: tuple[int, ...] = (8, 8)
    predictor_dim: int = 2
    decoder_hidden: tuple[int, ...] = (32, 32)
    activation: str = "relu"
    conditioning: str = "concat"
    unit_latent_weights: bool = False
    regularizer: Regularizer = Regularizer()

    def __post_init__(self):
        checks.one_of(self.decoder, "decoder", DECODERS)
        checks.one_of(self.activation, "activation", tuple(ACTIVATIONS))
        checks.one_of(self.conditioning, "conditioning", ("concat", "scale"))
        for name in ("latent_dim", "x_dim", "y_dim", "predictor_dim"):
            object.__setattr__(self, name, checks.positive_int(getattr(self, name), name))
        for name in ("conditional", "unit_latent_weights"):
            object.__setattr__(self, name, checks.boolean(getattr(self, name), name))
        for name in ("predictor_hidden", "decoder_hidden"):
            object.__setattr__(self, name, _widths(getattr(self, name), name))
        if not isinstance(self.regularizer, Regularizer):
            raise TypeError(f"regularizer must be a Regularizer, got {type(self.regularizer).__name__}")
        if self.decoder == "mlp" and self.conditional and self.conditioning == "scale" \
                and self.predictor_dim != self.y_dim:
            raise ValueError(f"conditioning='scale' needs predictor_dim == y_dim ({self.y_dim}), "
                             f"got {self.predictor_dim}")
        if self.decoder == "ellipse":
            if self.latent_dim != 1:
                raise ValueError(f"latent_dim must be 1 for the ellipse decoder, got {self.latent_dim}")
            if self.y_dim != 2:
                raise ValueError(f"y_dim must be 2 for the ellipse decoder, got {self.y_dim}")
            if self.conditional and self.predictor_dim != 2:
                raise ValueError(f"predictor_dim must be 2 (the semi-axes) for the ellipse decoder, "
                                 f"got {self.predictor_dim}")
        if self.decoder == "linear" and self.conditional:
            raise ValueError("the linear decoder is unconditional (conditional=False)")

    # ------------------------------------------------------------------ parameters

    def init(self, key: jax.Array, *, radii=(1.0, 1.0)) -> dict:
        """Initial parameters: a plain pytree.

        Unconditional ellipse: ``{"w": radii}``; linear: ``{"D"}`` with unit-norm
        random columns; MLP decoder: ``{"decoder": [...]}``; conditional models add
        ``{"predictor": [...]}``. ``radii``: two finite numbers.
        """
        key = checks.prng_key(key)
        radii = checks.float_array(radii, "radii", ndim=1)
        checks.check_shape(radii, "radii", (2,))
        k_pred, k_dec = jax.random.split(key)
        params = {}
        if self.conditional:
            params["predictor"] = mlp_init(k_pred, [self.x_dim, *self.predictor_hidden, self.predictor_dim])
        if self.decoder == "ellipse" and not self.conditional:
            params["w"] = radii.astype(jnp.float32)
        elif self.decoder == "linear":
            d = jax.random.normal(k_dec, (self.y_dim, self.latent_dim))
            params["D"] = d / jnp.linalg.norm(d, axis=0, keepdims=True)
        elif self.decoder == "mlp":
            concat = self.conditional and self.conditioning == "concat"
            width_in = self.latent_dim + (self.predictor_dim if concat else 0)
            params["decoder"] = mlp_init(k_dec, [width_in, *self.decoder_hidden, self.y_dim])
        return params

    def check_params(self, params, name: str = "params") -> None:
        """TypeError/ValueError naming ``name`` unless ``params`` has the leaves and shapes of
        :meth:`init`'s (checked on shapes only: nothing is computed)."""
        expected = _param_shapes(self)
        try:
            leaves = jax.tree.leaves_with_path(params) if isinstance(params, Mapping) else None
        except TypeError:
            leaves = None
        got = None if leaves is None else {jax.tree_util.keystr(p): np.shape(leaf) for p, leaf in leaves}
        if got is None or set(got) != set(expected):
            raise TypeError(f"{name} must be this model's parameters (leaves {sorted(expected)}, as from "
                            f"model.init), got {type(params).__name__} {sorted(got) if got else ''}"[:400])
        for path, shape in expected.items():
            if got[path] != shape:
                raise ValueError(f"{name}{path} must have shape {shape} for this model, got {got[path]}")

    # ------------------------------------------------------------------ pieces

    def predict(self, params, x: jax.Array) -> jax.Array:
        """``f(x)``: ``(x_dim,) -> (predictor_dim,)`` (batched over leading axes too)."""
        return mlp_apply(params["predictor"], x, ACTIVATIONS[self.activation])

    def decode(self, params, x, z: jax.Array) -> jax.Array:
        """``g(f(x), z)`` (or ``g(z)``): ``z (latent_dim,) -> (y_dim,)``."""
        z = self.regularizer.restrict(z)
        if self.decoder == "ellipse":
            w = self.predict(params, x) if self.conditional else params["w"]
            return w * jnp.concatenate([jnp.cos(z), jnp.sin(z)], axis=-1)
        if self.decoder == "linear":
            return params["D"] @ z
        concat = self.conditional and self.conditioning == "concat"
        h = jnp.concatenate([self.predict(params, x), z], axis=-1) if concat else z
        layers = params["decoder"]
        if self.unit_latent_weights:
            w = layers[0]["W"]
            w_z = w[-self.latent_dim:]
            w_z = w_z / jnp.sqrt(jnp.sum(jnp.square(w_z), axis=1, keepdims=True) + 1e-12)
            layers = [{"W": jnp.concatenate([w[:-self.latent_dim], w_z], axis=0), "b": layers[0]["b"]}, *layers[1:]]
        out = mlp_apply(layers, h, ACTIVATIONS[self.activation])
        if self.conditional and not concat:
            out = self.predict(params, x) * out
        return out

    def reconstruction(self, params, x, y: jax.Array, z: jax.Array) -> jax.Array:
        """``‖y − g(f(x), z)‖²`` for one example."""
        return squared_norm(y - self.decode(params, x, z))

    # ------------------------------------------------------------------ energies

    def energy(self, params, x, y: jax.Array, z: jax.Array) -> jax.Array:
        """``E(x, y, z) = ‖y − g(f(x), z)‖² + λ R(z)`` for one example (a scalar)."""
        return self.reconstruction(params, x, y, z) + self.regularizer.penalty(z)

    def smooth_energy(self, params, x, y: jax.Array, z: jax.Array) -> jax.Array:
        """``E`` without its L1 term (the part proximal gradient differentiates)."""
        return self.reconstruction(params, x, y, z) + self.regularizer.smooth_penalty(z)


@functools.lru_cache(maxsize=64)
def _param_shapes(model: LatentEBM) -> dict:
    tree = jax.eval_shape(lambda key: model.init(key), jax.random.key(0))
    return {jax.tree_util.keystr(path): leaf.shape for path, leaf in jax.tree.leaves_with_path(tree)}


@dataclasses.dataclass(frozen=True)
class NoisyEnergy:
    r"""The ``noise_l2`` regularizer's energy, averaged over fixed noise draws (the VAE view).

    ``E_σ(x, y, z) = (1/M) Σ_m ‖y − g(f(x), z + σ ε_m)‖² + λ‖z‖²`` with
    ``ε_m ~ N(0, I)`` drawn once from ``seed``: a deterministic energy whose
    minimum over ``z`` is the free energy of a decoder that must be robust to
    noise on its code. Called like an energy: ``NoisyEnergy(model)(params, x, y, z)``.
    """

    model: LatentEBM
    num_draws: int = 16
    seed: int = 0

    def __post_init__(self):
        checks.instance(self.model, "model", LatentEBM)
        object.__setattr__(self, "num_draws", checks.positive_int(self.num_draws, "num_draws"))
        object.__setattr__(self, "seed", checks.seed(self.seed, "seed"))

    def __call__(self, params, x, y, z):
        reg = self.model.regularizer
        eps = jax.random.normal(jax.random.key(self.seed), (self.num_draws, self.model.latent_dim))
        recon = jax.vmap(lambda e: self.model.reconstruction(params, x, y, z + reg.noise_std * e))(eps)
        return jnp.mean(recon) + reg.penalty(z)
