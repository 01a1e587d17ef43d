"""Encoders and heads for contrastive self-supervised learning (SimCLR, MoCo, PIRL).

The encoder is a small CNN: three 3×3 stride-2 convolutions (32/64/128 channels,
ReLU) on ``(B, 28, 28)`` images, flattened and mapped by a dense layer to the
representation ``h`` (``(B, 256)``, what the linear probe sees). The projection
head maps ``h`` to the embedding ``z`` on which the contrastive loss acts.

Convolutions can run as XLA convolutions (``conv="xla"``) or as im2col matmuls
(``conv="im2col"``); ``conv="auto"`` (the default) picks im2col on the CPU and XLA
convolutions on a GPU or TPU (:mod:`ebm_jax.backend`). im2col: the 3×3 neighbourhood of every output pixel is
gathered by nine strided *slices* (no gather op) and concatenated on the channel
axis, so that a convolution is ``(B·Ho·Wo, 9·Cin) @ (9·Cin, Cout)``; its gradient
is two GEMMs plus pads of the slices.

im2col is the default because on XLA:CPU (jax 0.10.2) the XLA convolutions and
their gradients run about 20× slower inside a ``lax.scan`` (how the training loop
runs an epoch) than in a standalone jitted step, while im2col runs at the same
speed in both; ``scripts/bench_ssl.py`` times the step inside a scan, as training
runs it.

The modules check their fields where they are built (``__post_init__``: widths and sizes are
positive integers, ``conv`` one of :data:`CONV_IMPLS`) and the rank of their input where they
are applied (a static check that costs nothing inside ``jit``); a bad value is a ``ValueError`` or
``TypeError`` naming the field or argument.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ebm_jax import backend, checks

CONV_IMPLS = backend.SSL_CONV_CHOICES


def _check_widths(widths, name: str = "widths") -> None:
    """A non-empty tuple (or list) of positive integer channel counts, else an error naming ``name``."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of channel counts, e.g. (32, 64, 128), got "
                        f"{type(widths).__name__} {widths!r}")
    if not widths:
        raise ValueError(f"{name} must hold at least one channel count, got {widths!r}")
    for i, width in enumerate(widths):
        checks.positive_int(width, f"{name}[{i}]")


def _check_conv(conv) -> None:
    checks.one_of(conv, "conv", CONV_IMPLS)


def _check_images(x, name: str = "x") -> jax.Array:
    """``x`` as a float batch of images ``(B, H, W)`` or ``(B, H, W, C)`` with non-empty ``H, W, C`` (shape and
    dtype only: nothing is read from a traced ``x``)."""
    x = checks.array(x, name, dtype="float")
    if x.ndim not in (3, 4) or 0 in x.shape[1:]:
        hint = " (one image, or flat images? pass a batch (B, H, W))" if x.ndim == 2 else ""
        raise ValueError(f"{name} must be a batch of images (B, H, W) or (B, H, W, C) with non-empty H, W and C, "
                         f"got shape {x.shape}{hint}")
    return x


def im2col_3x3(x: jax.Array, stride: int) -> jax.Array:
    """3×3 'SAME'-padded patches of ``(B, H, W, C)`` -> ``(B, Ho, Wo, 9·C)``, ``Ho = ceil(H / stride)``.

    Padding matches ``lax.conv_general_dilated(..., padding="SAME")``: total padding
    ``max((Ho − 1)·s + 3 − H, 0)`` split with the smaller half on top/left.
    Channel order is ``(dy, dx, c)`` to match a ``(3, 3, C, O)`` kernel reshaped to ``(9C, O)``.
    ``stride`` is a positive integer.
    """
    x = checks.array(x, "x", ndim=4)
    stride = checks.positive_int(stride, "stride")
    b, h, w, c = x.shape
    ho, wo = -(-h // stride), -(-w // stride)
    ph = max((ho - 1) * stride + 3 - h, 0)
    pw = max((wo - 1) * stride + 3 - w, 0)
    x = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = [x[:, dy: dy + (ho - 1) * stride + 1: stride, dx: dx + (wo - 1) * stride + 1: stride, :]
            for dy in range(3) for dx in range(3)]
    return jnp.concatenate(cols, axis=-1)


class Conv3x3(nn.Module):
    """3×3 'SAME' convolution with stride, as XLA conv or im2col matmul (same parameters)."""

    features: int
    stride: int = 1
    conv: str = "auto"

    def __post_init__(self):
        checks.positive_int(self.features, "features")
        checks.positive_int(self.stride, "stride")
        _check_conv(self.conv)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, Cin)`` -> ``(B, ceil(H / stride), ceil(W / stride), features)``."""
        x = checks.array(x, "x", ndim=4)
        cin = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, cin, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        impl = backend.ssl_conv(self.conv)
        if impl == "xla":
            y = jax.lax.conv_general_dilated(x, kernel, (self.stride, self.stride), "SAME",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
        else:
            y = im2col_3x3(x, self.stride) @ kernel.reshape(9 * cin, self.features)
        return y + bias


class ConvTrunk(nn.Module):
    """Stride-2 3×3 conv stack with ReLU: ``(B, H, W)`` or ``(B, H, W, C)`` -> feature map."""

    widths: Sequence[int] = (32, 64, 128)
    conv: str = "auto"

    def __post_init__(self):
        _check_widths(self.widths)
        _check_conv(self.conv)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = _check_images(x)
        if x.ndim == 3:
            x = x[..., None]
        for i, width in enumerate(self.widths):
            x = nn.relu(Conv3x3(width, stride=2, conv=self.conv, name=f"conv{i}")(x))
        return x


class Encoder(nn.Module):
    """CNN encoder: ``(B, 28, 28)`` -> representation ``h`` of shape ``(B, rep_dim)``."""

    widths: Sequence[int] = (32, 64, 128)
    rep_dim: int = 256
    conv: str = "auto"

    def __post_init__(self):
        _check_widths(self.widths)
        checks.positive_int(self.rep_dim, "rep_dim")
        _check_conv(self.conv)
        super().__post_init__()

    def setup(self):
        self.trunk = ConvTrunk(self.widths, self.conv)
        self.dense = nn.Dense(self.rep_dim)

    def __call__(self, x: jax.Array) -> jax.Array:
        f = self.trunk(x)
        return nn.relu(self.dense(f.reshape(f.shape[0], -1)))


class ProjectionHead(nn.Module):
    """MLP ``h -> z``: Dense(hidden) → ReLU → Dense(out)."""

    hidden: int = 256
    out: int = 64

    def __post_init__(self):
        checks.positive_int(self.hidden, "hidden")
        checks.positive_int(self.out, "out")
        super().__post_init__()

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        return nn.Dense(self.out)(nn.relu(nn.Dense(self.hidden)(h)))


class SSLNet(nn.Module):
    """Encoder + projection head; ``__call__`` returns ``(h, z)``.

    ``jigsaw(tiles)`` is PIRL's transformed branch ``g``: the *same* conv trunk
    encodes each tile ``(B, T, th, tw)``, a per-tile dense layer maps it to
    ``tile_dim``, the tiles' vectors are concatenated in their (shuffled) order
    and projected to the embedding dimension.
    """

    widths: Sequence[int] = (32, 64, 128)
    rep_dim: int = 256
    proj_hidden: int = 256
    proj_dim: int = 64
    tile_dim: int = 128
    conv: str = "auto"

    def __post_init__(self):
        _check_widths(self.widths)
        for field in ("rep_dim", "proj_hidden", "proj_dim", "tile_dim"):
            checks.positive_int(getattr(self, field), field)
        _check_conv(self.conv)
        super().__post_init__()

    def setup(self):
        self.encoder = Encoder(self.widths, self.rep_dim, self.conv)
        self.head = ProjectionHead(self.proj_hidden, self.proj_dim)
        self.tile_dense = nn.Dense(self.tile_dim)
        self.jigsaw_head = ProjectionHead(self.proj_hidden, self.proj_dim)

    def __call__(self, x: jax.Array):
        h = self.encoder(x)
        return h, self.head(h)

    def represent(self, x: jax.Array) -> jax.Array:
        return self.encoder(x)

    def jigsaw(self, tiles: jax.Array) -> jax.Array:
        """``(B, T, th, tw)`` tiles -> embedding ``(B, proj_dim)``."""
        tiles = checks.array(tiles, "tiles", dtype="float")
        if tiles.ndim != 4 or 0 in tiles.shape[1:]:
            raise ValueError(f"tiles must be (B, T, th, tw): T non-empty tiles per example, got shape {tiles.shape}")
        b, t, th, tw = tiles.shape
        f = self.encoder.trunk(tiles.reshape(b * t, th, tw))
        v = nn.relu(self.tile_dense(f.reshape(b * t, -1))).reshape(b, t * self.tile_dim)
        return self.jigsaw_head(v)


class Classifier(nn.Module):
    """The same encoder with a linear softmax head (the supervised baseline)."""

    widths: Sequence[int] = (32, 64, 128)
    rep_dim: int = 256
    num_classes: int = 10
    conv: str = "auto"

    def __post_init__(self):
        _check_widths(self.widths)
        checks.positive_int(self.rep_dim, "rep_dim")
        checks.integer(self.num_classes, "num_classes", ge=2)
        _check_conv(self.conv)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(self.num_classes)(Encoder(self.widths, self.rep_dim, self.conv, name="encoder")(x))
