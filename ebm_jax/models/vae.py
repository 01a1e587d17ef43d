"""Variational and classic autoencoders with the same MLP trunk.

VAE (Kingma & Welling 2014) with a Gaussian encoder and a Bernoulli decoder::

    q(z | x) = N(z; μ(x), diag σ²(x)),   p(z) = N(0, I),   p(x | z) = Π_d Bern(x_d; σ(f(z)_d))

    −ELBO(x) = E_q[−log p(x | z)] + KL(q(z | x) ‖ p(z))
             =        recon          +        kl          (nats per image)

The default trunk is the lecture notebook's 784-400-20 MLP; ``hidden_dims``
makes it deeper or wider. The classic autoencoder (``kind="ae"``) uses the same
encoder trunk but outputs a deterministic code ``z = μ(x)`` and is trained on
the reconstruction term alone: nothing shapes its code space, which is why
decoding random codes from ``N(0, I)`` gives digits for the VAE and not for the AE.

The training objectives and steps are in :mod:`ebm_jax.methods.vae`, the test-set
estimates in :mod:`ebm_jax.eval.likelihood`.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ebm_jax import checks, losses, precision

MODEL_KINDS = ("vae", "ae")


class MLP(nn.Module):
    """Dense layers with ReLU between them (none after the last), computing in ``dtype`` (None: float32)."""

    features: Sequence[int]
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x):
        for i, width in enumerate(self.features):
            x = nn.Dense(width, dtype=self.dtype, name=f"dense_{i}")(x)
            if i < len(self.features) - 1:
                x = nn.relu(x)
        return x


class Encoder(nn.Module):
    """``(B, D) -> (mean, logvar)``, each ``(B, latent_dim)``; ``logvar`` is ``None`` for the AE."""

    hidden_dims: Sequence[int]
    latent_dim: int
    gaussian: bool = True
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x):
        h = nn.relu(MLP(tuple(self.hidden_dims), self.dtype, name="trunk")(x)) if self.hidden_dims else x
        mean = nn.Dense(self.latent_dim, dtype=self.dtype, name="mean")(h).astype(jnp.float32)
        logvar = nn.Dense(self.latent_dim, dtype=self.dtype, name="logvar")(h).astype(jnp.float32) \
            if self.gaussian else None
        return mean, logvar


class Decoder(nn.Module):
    """``(..., latent_dim) -> (..., output_dim)`` Bernoulli logits."""

    hidden_dims: Sequence[int]
    output_dim: int
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, z):
        return MLP(tuple(self.hidden_dims) + (self.output_dim,), self.dtype, name="trunk")(z).astype(jnp.float32)


class Autoencoder(nn.Module):
    """VAE (``kind="vae"``) or classic AE (``kind="ae"``) on flattened images.

    Attributes:
      latent_dim: size J of the code.
      hidden_dims: encoder widths; the decoder mirrors them (``(400,)`` gives 784-400-J-400-784).
      output_dim: D, pixels per image.
      kind: ``"vae"`` or ``"ae"``.
      compute_dtype: ``"float32"`` (None) or ``"bfloat16"``: the dtype the layers
        compute in (:data:`ebm_jax.precision.COMPUTE_DTYPES`); parameters, codes,
        logits and so losses stay float32. Evaluation (:mod:`ebm_jax.eval.likelihood`)
        always computes in float32.
    """

    latent_dim: int = 20
    hidden_dims: Sequence[int] = (400,)
    output_dim: int = 784
    kind: str = "vae"
    compute_dtype: str | None = None

    def __post_init__(self):
        # checked where the module is built, before any tracing (a zero-width layer
        # would otherwise fail inside flax's initialisers with a ZeroDivisionError)
        checks.positive_int(self.latent_dim, "latent_dim")
        checks.positive_int(self.output_dim, "output_dim")
        if isinstance(self.hidden_dims, (str, bytes)) or not isinstance(self.hidden_dims, (tuple, list)):
            raise TypeError(f"hidden_dims must be a tuple of widths, got {type(self.hidden_dims).__name__} "
                            f"{self.hidden_dims!r}")
        for i, width in enumerate(self.hidden_dims):
            checks.positive_int(width, f"hidden_dims[{i}]")
        checks.one_of(self.kind, "kind", MODEL_KINDS)
        super().__post_init__()

    def setup(self):
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        dtype = precision.compute_dtype(self.compute_dtype)
        self.encoder = Encoder(self.hidden_dims, self.latent_dim, gaussian=self.kind == "vae", dtype=dtype)
        self.decoder = Decoder(tuple(reversed(self.hidden_dims)), self.output_dim, dtype=dtype)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def __call__(self, x, key=None):
        """Returns ``(logits, mean, logvar)``; samples ``z`` with ``key`` for the VAE."""
        mean, logvar = self.encode(x)
        if self.kind == "vae":
            z = mean if key is None else mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape, mean.dtype)
        else:
            z = mean
        return self.decode(z), mean, logvar


def check_inputs(model, params, x, key=None, *, need_key: bool = True) -> jax.Array:
    """Validate a model, its params and a batch ``x (B, output_dim)`` in [0, 1] (values where concrete)."""
    checks.instance(model, "model", Autoencoder, "ebm_jax.models.vae.Autoencoder")
    if params is None or not hasattr(params, "keys"):
        raise TypeError(f"params must be the model's parameter dict (state.params), got {type(params).__name__}")
    if need_key or key is not None:
        checks.prng_key(key)
    x = checks.float_array(x, "x", ndim=2, domain="unit")
    if x.shape[1] != model.output_dim:
        raise ValueError(f"x must have shape (batch, {model.output_dim}) (model.output_dim), got {x.shape}")
    return x


def negative_elbo_terms(model: Autoencoder, params, x: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Single-sample reconstruction term and analytic KL, each ``(B,)`` in nats.

    ``recon = −log p(x | z)`` with ``z = μ + σ ε`` (reparameterised),
    ``kl = KL(q(z | x) ‖ N(0, I))``; ``recon + kl`` is an unbiased estimate of −ELBO.
    """
    x = check_inputs(model, params, x, key)
    logits, mean, logvar = model.apply({"params": params}, x, key)
    recon = -losses.bernoulli_log_likelihood(logits, x)
    kl = losses.gaussian_kl_to_standard_normal(mean, logvar)
    return recon, kl


def log_importance_weights(model: Autoencoder, params, x: jax.Array, key: jax.Array, num_samples: int) -> jax.Array:
    """``(num_samples, B)`` log-weights log p(x, z_i) − log q(z_i | x), z_i ~ q(z | x)."""
    x = check_inputs(model, params, x, key)
    if model.kind != "vae":
        raise ValueError("model must be a VAE (kind='vae') for importance weights, got kind='ae'")
    num_samples = checks.positive_int(num_samples, "num_samples")
    mean, logvar = model.apply({"params": params}, x, method=Autoencoder.encode)
    eps = jax.random.normal(key, (num_samples,) + mean.shape, mean.dtype)
    z = mean + jnp.exp(0.5 * logvar) * eps
    logits = model.apply({"params": params}, z, method=Autoencoder.decode)
    return losses.log_importance_weights(x, z, mean, logvar, logits)
