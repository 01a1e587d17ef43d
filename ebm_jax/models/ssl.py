"""Encoders and heads for contrastive self-supervised learning (SimCLR, MoCo, PIRL).

The encoder is a small CNN: three 3×3 stride-2 convolutions (32/64/128 channels,
ReLU) on ``(B, 28, 28)`` images, flattened and mapped by a dense layer to the
representation ``h`` (``(B, 256)``, what the linear probe sees). The projection
head maps ``h`` to the embedding ``z`` on which the contrastive loss acts.

Three implementations of the same 3×3 convolution (same parameters, same values):

* ``conv="xla_phase"`` (the default): XLA's convolution, with a custom gradient
  (:func:`conv3x3_phase`): the input gradient as forward convolutions, one per
  parity phase of a stride-2 input, and the kernel gradient as one im2col GEMM.
* ``conv="im2col"``: the 3×3 neighbourhood of every output pixel gathered by nine
  strided slices and concatenated on the channel axis, so that a convolution is
  ``(B·Ho·Wo, 9·Cin) @ (9·Cin, Cout)``; its gradient is two GEMMs plus the pads
  and sums of the nine slices.
* ``conv="xla"``: XLA's convolution and JAX's own gradient.

Why (profiled on XLA:CPU, jax 0.10.2, 2 cores, the SimCLR step of 512 views inside
a ``lax.scan``, as the training loop runs an epoch): with ``"xla"`` the kernel
gradient, a convolution whose window is the whole output map, ran 20-50× slower in
the scan than in a stand-alone jitted step (conv1: 1.5-2.4 s vs ~0.08 s per step),
and the input gradient (a convolution of the zero-dilated ``g``) was slower than
the im2col one. ``"im2col"`` avoids both, but its forward concatenation and its
backward pads-and-sums of the nine slices took about a third of the step, and its
GEMMs ran slower than XLA's convolutions of the same shapes. ``"xla_phase"`` keeps
XLA's forward convolution and writes both gradients as the fast kinds of op:
188-196 ms per step against 344 ms for im2col, interleaved in one session
(``scripts/bench_ssl.py`` compares them with ``--conv``).
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

CONV_IMPLS = ("xla_phase", "im2col", "xla")
_DIMS = ("NHWC", "HWIO", "NHWC")


def im2col_3x3(x: jax.Array, stride: int) -> jax.Array:
    """3×3 'SAME'-padded patches of ``(B, H, W, C)`` -> ``(B, Ho, Wo, 9·C)``, ``Ho = ceil(H / stride)``.

    Padding matches ``lax.conv_general_dilated(..., padding="SAME")``: total padding
    ``max((Ho − 1)·s + 3 − H, 0)`` split with the smaller half on top/left.
    Channel order is ``(dy, dx, c)`` to match a ``(3, 3, C, O)`` kernel reshaped to ``(9C, O)``.
    """
    b, h, w, c = x.shape
    ho, wo = -(-h // stride), -(-w // stride)
    ph = max((ho - 1) * stride + 3 - h, 0)
    pw = max((wo - 1) * stride + 3 - w, 0)
    x = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = [x[:, dy: dy + (ho - 1) * stride + 1: stride, dx: dx + (wo - 1) * stride + 1: stride, :]
            for dy in range(3) for dx in range(3)]
    return jnp.concatenate(cols, axis=-1)


def _same_pads(n: int, stride: int) -> tuple[int, int, int]:
    """Output length and (before, after) padding of a 3-tap 'SAME' window with ``stride`` on ``n`` inputs."""
    n_out = -(-n // stride)
    total = max((n_out - 1) * stride + 3 - n, 0)
    return n_out, total // 2, total - total // 2


def _xla_conv(x, kernel, stride: int, padding):
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding, dimension_numbers=_DIMS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv3x3_phase(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """3×3 'SAME' convolution ``(B, H, W, Cin) * (3, 3, Cin, Cout) -> (B, Ho, Wo, Cout)``, stride 1 or 2.

    The value is XLA's convolution. The gradient is written out so that it runs
    inside ``lax.scan`` at the speed of a forward convolution (see the module
    docstring): the input gradient as forward convolutions of the output gradient
    ``g`` (stride 2: one per parity phase of the input, below), the kernel gradient
    as one GEMM of the im2col patches, ``dK = patchesᵀ g``.
    """
    _, top, bottom = _same_pads(x.shape[1], stride)
    _, left, right = _same_pads(x.shape[2], stride)
    return _xla_conv(x, kernel, stride, ((top, bottom), (left, right)))


def _conv3x3_phase_fwd(x, kernel, stride):
    return conv3x3_phase(x, kernel, stride), (x, kernel)


def _input_grad(g: jax.Array, kernel: jax.Array, x_shape, stride: int) -> jax.Array:
    """``∂L/∂x`` from ``g = ∂L/∂y`` of the 3×3 'SAME' convolution, by forward convolutions only.

    Stride 1: ``g`` correlated with the flipped kernel (in/out channels swapped).
    Stride 2, in one dimension with ``x̃`` the padded input: ``y[i] = Σ_t x̃[2i + t] K[t]``, so
    ``∂x̃[2m] = g[m] K[0] + g[m − 1] K[2]`` (a 2-tap correlation of ``g`` zero-padded by one on both
    sides) and ``∂x̃[2m + 1] = g[m] K[1]`` (a 1-tap one). In 2-D that is four phase convolutions
    (2×2, 2×1, 1×2, 1×1 taps: the 9 taps once each, no zeros multiplied), interleaved by a reshape,
    then the padding cropped. XLA's own transpose rule instead dilates ``g`` (zeros in between) and
    differentiates the kernel with a convolution that is very slow inside a scan on XLA:CPU.
    """
    _, h, w, cin = x_shape
    k_t = jnp.swapaxes(kernel, 2, 3)  # (3, 3, Cout, Cin)
    if stride == 1:
        return _xla_conv(g, k_t[::-1, ::-1], 1, ((1, 1), (1, 1)))
    ho, top, _ = _same_pads(h, 2)
    wo, left, _ = _same_pads(w, 2)
    taps = {0: jnp.array([2, 0]), 1: jnp.array([1])}  # per parity, the kernel taps in the order of g's window
    g_pad = {0: (1, 1), 1: (0, 0)}                     # the even phase has one more row than g
    rows = []
    for py in (0, 1):
        phases = []
        for px in (0, 1):
            phase = _xla_conv(g, k_t[taps[py]][:, taps[px]], 1, (g_pad[py], g_pad[px]))  # (B, ho+1−py, wo+1−px, Cin)
            phases.append(jnp.pad(phase, ((0, 0), (0, py), (0, px), (0, 0))))
        rows.append(jnp.stack(phases, axis=3))  # (B, ho+1, wo+1, 2, Cin)
    dx_pad = jnp.stack(rows, axis=2).reshape(g.shape[0], 2 * ho + 2, 2 * wo + 2, cin)
    return dx_pad[:, top: top + h, left: left + w, :]


def _conv3x3_phase_bwd(stride, residuals, g):
    x, kernel = residuals
    cin, cout = kernel.shape[2:]
    patches = im2col_3x3(x, stride).reshape(-1, 9 * cin)
    d_kernel = (patches.T @ g.reshape(-1, cout)).reshape(kernel.shape)
    return _input_grad(g, kernel, x.shape, stride), d_kernel


conv3x3_phase.defvjp(_conv3x3_phase_fwd, _conv3x3_phase_bwd)


class Conv3x3(nn.Module):
    """3×3 'SAME' convolution with stride (1 or 2 for ``"xla_phase"``); ``conv`` picks the implementation."""

    features: int
    stride: int = 1
    conv: str = "xla_phase"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cin = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (3, 3, cin, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        if self.conv == "xla":
            y = jax.lax.conv_general_dilated(x, kernel, (self.stride, self.stride), "SAME",
                                             dimension_numbers=_DIMS)
        elif self.conv == "xla_phase":
            if self.stride not in (1, 2):
                raise ValueError(f"conv='xla_phase' supports stride 1 or 2, got {self.stride}")
            y = conv3x3_phase(x, kernel, self.stride)
        elif self.conv == "im2col":
            y = im2col_3x3(x, self.stride) @ kernel.reshape(9 * cin, self.features)
        else:
            raise ValueError(f"conv must be one of {CONV_IMPLS}, got {self.conv!r}")
        return y + bias


class ConvTrunk(nn.Module):
    """Stride-2 3×3 conv stack with ReLU: ``(B, H, W)`` or ``(B, H, W, C)`` -> feature map."""

    widths: Sequence[int] = (32, 64, 128)
    conv: str = "xla_phase"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim == 3:
            x = x[..., None]
        for i, width in enumerate(self.widths):
            x = nn.relu(Conv3x3(width, stride=2, conv=self.conv, name=f"conv{i}")(x))
        return x


class Encoder(nn.Module):
    """CNN encoder: ``(B, 28, 28)`` -> representation ``h`` of shape ``(B, rep_dim)``."""

    widths: Sequence[int] = (32, 64, 128)
    rep_dim: int = 256
    conv: str = "xla_phase"

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
    conv: str = "xla_phase"

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
        b, t, th, tw = tiles.shape
        f = self.encoder.trunk(tiles.reshape(b * t, th, tw))
        v = nn.relu(self.tile_dense(f.reshape(b * t, -1))).reshape(b, t * self.tile_dim)
        return self.jigsaw_head(v)


class Classifier(nn.Module):
    """The same encoder with a linear softmax head (the supervised baseline)."""

    widths: Sequence[int] = (32, 64, 128)
    rep_dim: int = 256
    num_classes: int = 10
    conv: str = "xla_phase"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(self.num_classes)(Encoder(self.widths, self.rep_dim, self.conv, name="encoder")(x))
