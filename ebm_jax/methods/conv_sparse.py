r"""Convolutional dictionary learning, optionally with a convolutional sparse encoder (PSD).

Per minibatch of images s (B, H, W), with filters D (K, h, w) and λ fixed:

1. inference: z* = FISTA(s, D, λ) for ``inference_iters`` iterations, warm-started
   at the encoder's prediction when there is an encoder (zeros otherwise);
   z* is a constant for the gradient (``stop_gradient``);
2. loss (per pixel, averaged over the batch)::

       L = ½‖Σ_k d_k ∗ z*_k − s‖² / (HW)  +  β · ½‖enc(s) − z*‖² / (HW)

   the first term trains the decoder (the filters), the second the encoder
   (predictive sparse decomposition, Kavukcuoglu et al. 2008/2010); β is
   ``encoder_weight``;
3. one optimiser step, then the filters are projected back to unit ℓ2 norm
   (the projected filter update of convolutional dictionary learning).

Without an encoder (``encoder_layers=0``) this is plain convolutional
dictionary learning by alternating minimisation. The encoder is the unrolled
convolutional LISTA of :mod:`ebm_jax.sparse.conv_lista`; ``encoder_layers=1``
is "conv → shrink → per-filter gain", which predicts the codes in one pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from ebm_jax import checks, precision
from ebm_jax.sparse import conv_lista
from ebm_jax.sparse.conv import check_image_shape, check_images, conv_sparse_code
from ebm_jax.sparse.conv_ops import BOUNDARIES, reconstruct
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer


def normalize_filters(D: jax.Array) -> jax.Array:
    """Each filter of D (K, h, w) scaled to unit ℓ2 norm (a zero filter stays zero).

    The filter-bank form of :func:`ebm_jax.sparse.dictionary.normalize_atoms`, written
    with ``sqrt(Σ d²)`` op by op: ``jnp.linalg.norm`` (one fused computation) rounds
    the initial filters differently in the last bit.
    """
    D = checks.float_array(D, "D", ndim=3)
    norms = jnp.sqrt(jnp.sum(D * D, axis=(1, 2), keepdims=True))
    return D / jnp.where(norms > 0, norms, 1.0)


def init_filters(key: jax.Array, num_filters: int, filter_size: int, images=None) -> jax.Array:
    """Unit-norm initial filters (K, h, h): random crops of ``images`` (N, H, W) if given
    (plus a little noise, so equal crops differ), else Gaussian."""
    key = checks.prng_key(key)
    num_filters = checks.positive_int(num_filters, "num_filters")
    filter_size = checks.positive_int(filter_size, "filter_size")
    k_noise, k_pick = jax.random.split(key)
    noise = jax.random.normal(k_noise, (num_filters, filter_size, filter_size), jnp.float32)
    if images is None:
        return normalize_filters(noise)
    images = check_images(images, "images")
    N, H, W = images.shape
    if filter_size > min(H, W):
        raise ValueError(f"filter_size ({filter_size}) is larger than the images ({H}x{W})")
    kn, ki, kj = jax.random.split(k_pick, 3)
    n = jax.random.randint(kn, (num_filters,), 0, N)
    i = jax.random.randint(ki, (num_filters,), 0, H - filter_size + 1)
    j = jax.random.randint(kj, (num_filters,), 0, W - filter_size + 1)
    crops = jax.vmap(lambda n, i, j: jax.lax.dynamic_slice(images[n], (i, j), (filter_size, filter_size)))(n, i, j)
    crops = crops - jnp.mean(crops, axis=(1, 2), keepdims=True)
    scale = jnp.sqrt(jnp.mean(crops * crops)) + 1e-8
    return normalize_filters(crops / scale + 0.1 * noise)


def create_state(key: jax.Array, tx: optax.GradientTransformation, *, num_filters: int, filter_size: int,
                 image_shape: tuple[int, int], lam: float, encoder_layers: int = 0,
                 boundary: str = "circular", images=None) -> train_state.TrainState:
    """``state.params = {"D": (K, h, h)}`` plus ``"encoder"`` (conv-LISTA parameters,
    initialised to ISTA on the initial filters) when ``encoder_layers > 0``."""
    checks.one_of(boundary, "boundary", BOUNDARIES)
    checks.optimizer(tx)
    encoder_layers = checks.nonnegative_int(encoder_layers, "encoder_layers")
    lam = checks.nonnegative_float(lam, "lam")
    filter_size = checks.positive_int(filter_size, "filter_size")
    H, W = check_image_shape(image_shape, (1, 1))
    if filter_size > min(H, W):
        raise ValueError(f"filter_size ({filter_size}) is larger than the training images ({H}x{W})")
    if images is not None:
        images = check_images(images, "images")
        if images.shape[1:] != (H, W):
            raise ValueError(f"images {images.shape} are not of image_shape {(H, W)}")
    D = init_filters(key, num_filters, filter_size, images)
    params = {"D": D}
    if encoder_layers:
        encoder = conv_lista.init_from_dictionary(D, lam, image_shape=(H, W), boundary=boundary)
        # its own buffers: fit donates the state, and one buffer may not be donated twice
        params["encoder"] = jax.tree.map(jnp.copy, encoder)
    return train_state.TrainState.create(apply_fn=None, params=params, tx=tx)


def _relative(err, ref):
    """``err / ref`` for ``Σ‖enc(s) − z*‖² / Σ‖z*‖²``, with ``ref`` floored at 1e-12: all-zero codes ``z*``
    (λ above every ``‖Dᵀs‖_∞``) give 0 when the encoder predicts zeros too, a huge finite number otherwise."""
    return err / jnp.maximum(ref, 1e-12)


def make_train_step(lam: float, *, inference_iters: int = 30, encoder_layers: int = 0,
                    encoder_weight: float = 1.0, boundary: str = "circular"):
    """``step_fn(state, batch (B, H, W), key) -> (state, metrics)``; see the module docstring.

    Metrics: ``loss``; ``energy`` (E(s, z*) per pixel); ``rel_recon_error``
    (Σ‖D z* − s‖²/Σ‖s‖²); ``frac_nonzero`` (of z*); with an encoder,
    ``encoder_rel_code_error`` (Σ‖enc(s) − z*‖²/Σ‖z*‖²) and ``encoder_energy``
    (E(s, enc(s)) per pixel).
    """
    lam = checks.nonnegative_float(lam, "lam")
    inference_iters = checks.positive_int(inference_iters, "inference_iters")
    encoder_layers = checks.nonnegative_int(encoder_layers, "encoder_layers")
    encoder_weight = checks.nonnegative_float(encoder_weight, "encoder_weight")
    checks.one_of(boundary, "boundary", BOUNDARIES)

    def step_fn(state, batch, key):
        del key
        s = batch
        pixels = s.shape[1] * s.shape[2]
        params = state.params
        z_enc = (conv_lista.encode(params["encoder"], s, num_layers=encoder_layers, boundary=boundary)
                 if encoder_layers else None)
        z0 = jax.lax.stop_gradient(z_enc) if encoder_layers else None
        res = conv_sparse_code(s, jax.lax.stop_gradient(params["D"]), lam, num_iters=inference_iters,
                               method="fista", boundary=boundary, z0=z0)
        z_star = jax.lax.stop_gradient(res.codes)

        def loss_fn(params):
            r = reconstruct(z_star, params["D"], boundary) - s
            data = 0.5 * jnp.mean(jnp.sum(r * r, axis=(1, 2))) / pixels
            aux = {"data": data, "rel_recon_error": jnp.sum(r * r) / jnp.sum(s * s)}
            if not encoder_layers:
                return data, aux
            z = conv_lista.encode(params["encoder"], s, num_layers=encoder_layers, boundary=boundary)
            err = jnp.sum(jnp.square(z - z_star), axis=(1, 2, 3))
            aux["encoder_rel_code_error"] = _relative(jnp.sum(err), jnp.sum(z_star * z_star))
            return data + encoder_weight * 0.5 * jnp.mean(err) / pixels, aux

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        state = state.apply_gradients(grads=grads)
        state = state.replace(params={**state.params, "D": normalize_filters(state.params["D"])})
        metrics = {"loss": loss, "energy": jnp.mean(res.info.objective) / pixels,
                   "frac_nonzero": jnp.mean(z_star != 0), **aux}
        if encoder_layers:
            r = reconstruct(z_enc, params["D"], boundary) - s
            metrics["encoder_energy"] = jnp.mean(0.5 * jnp.sum(r * r, axis=(1, 2))
                                                 + lam * jnp.sum(jnp.abs(z_enc), axis=(1, 2, 3))) / pixels
        return state, metrics

    return step_fn


@precision.highest
def evaluate(params: dict, images, lam: float, *, boundary: str = "circular", tol: float = 1e-3,
             encoder_layers: int = 0, max_iters: int = 500) -> dict:
    """Codes ``images`` (N, H, W) with the solver (to relative gap ``tol``) and, if present,
    the encoder; returns energy per pixel, relative reconstruction error and the fraction
    of non-zero codes for each (``solver_*``, ``encoder_*``)."""
    if not isinstance(params, dict) or "D" not in params:
        raise TypeError(f"params must be a dict holding the filters 'D' (a train state's params), "
                        f"got {type(params).__name__}{' without D' if isinstance(params, dict) else ''}")
    encoder_layers = checks.nonnegative_int(encoder_layers, "encoder_layers")
    if encoder_layers and "encoder" not in params:
        raise ValueError(f"encoder_layers={encoder_layers} but params hold no 'encoder' (trained with encoder_layers=0?)")
    if encoder_layers:
        conv_lista.check_params(params["encoder"], "params['encoder']")
    images = check_images(images, "images")
    if not np.any(np.asarray(images) != 0):
        raise ValueError("images are all zeros: the relative reconstruction error would be 0/0")
    max_iters = checks.positive_int(max_iters, "max_iters")
    checks.one_of(boundary, "boundary", BOUNDARIES)
    D = params["D"]
    res = conv_sparse_code(images, D, lam, tol=tol, num_iters=max_iters, boundary=boundary,
                           method="fista" if boundary == "zero" else "admm")
    pixels = images.shape[1] * images.shape[2]
    out = {}

    def record(prefix, z):
        r = reconstruct(z, D, boundary) - images
        e = 0.5 * jnp.sum(r * r, axis=(1, 2)) + lam * jnp.sum(jnp.abs(z), axis=(1, 2, 3))
        out[f"{prefix}_energy"] = float(jnp.mean(e) / pixels)
        out[f"{prefix}_rel_recon_error"] = float(jnp.sum(r * r) / jnp.sum(images * images))
        out[f"{prefix}_frac_nonzero"] = float(jnp.mean(z != 0))

    record("solver", res.codes)
    out["solver_rel_gap"] = float(res.info.rel_gap)
    if encoder_layers and "encoder" in params:
        z = conv_lista.encode(params["encoder"], images, num_layers=encoder_layers, boundary=boundary)
        record("encoder", z)
        out["encoder_rel_code_error"] = float(_relative(jnp.sum(jnp.square(z - res.codes)), jnp.sum(res.codes ** 2)))
    return out


def _rms(x):
    return jnp.sqrt(jnp.mean(jnp.square(x)))


def scale_encoder_updates(max_scale: float = 1.0) -> optax.GradientTransformation:
    """Multiply the update of each encoder leaf by its current RMS over the RMS of the filters D
    (at most ``max_scale``); the filters' update is unchanged.

    The encoder's filters and thresholds start at η ≈ 1/L times the unit-norm filters (one ISTA
    step), and have to grow by orders of magnitude: with one learning rate for all, Adam moves every
    coordinate by about the learning rate, which is ~1/η times the encoder's own size (it is wiped
    out in a few steps); scaled like this each step moves every parameter by the same fraction of its
    own size as it moves the filters (a relative, multiplicative update)."""
    max_scale = checks.positive_float(max_scale, "max_scale")

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_encoder_updates needs params")
        if "encoder" not in updates:
            return updates, state
        ref = jnp.maximum(_rms(params["D"]), 1e-12)
        enc = jax.tree.map(lambda u, p: u * jnp.minimum(max_scale, _rms(p) / ref), updates["encoder"],
                           params["encoder"])
        return {**updates, "encoder": enc}, state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def learn_conv_dictionary(images, num_filters: int, filter_size: int, lam, *, num_epochs: int = 1,
                          batch_size: int = 8, learning_rate: float = 1e-2, optimizer: str = "adam",
                          schedule: str = "constant",
                          inference_iters: int = 20, encoder_layers: int = 0, encoder_weight: float = 1.0,
                          encoder_lr_scaling: bool = True, boundary: str = "zero", seed: int = 0, workdir=None,
                          desc: str = "conv dictionary", log_every_steps: int = 10):
    """Learn K filters (and, with ``encoder_layers > 0``, the encoder) on training tiles ``images``
    (N, H, W) with :func:`ebm_jax.train.fit`; initial filters are random crops of the tiles.
    ``schedule`` is the learning-rate schedule of :func:`ebm_jax.train.optim.make_optimizer` over the
    whole run (``"cosine"`` anneals Adam's per-step jitter of the filters to zero by the end).
    ``encoder_lr_scaling`` (default on) scales each encoder parameter's step to its own size
    (:func:`scale_encoder_updates`); off, the encoder gets the filters' step, which wipes it out.
    Returns ``(state, history)``. With ``workdir`` the run checkpoints there and a second call resumes."""
    images = check_images(images, "images")
    batch_size = checks.batch_size(batch_size, images.shape[0])
    if not np.any(np.asarray(images) != 0):
        raise ValueError("images are all zeros: there is nothing to learn filters from (errors would be 0/0)")
    num_epochs = checks.positive_int(num_epochs, "num_epochs")
    encoder_lr_scaling = checks.boolean(encoder_lr_scaling, "encoder_lr_scaling")
    key = jax.random.PRNGKey(checks.seed(seed))
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule,
                        total_steps=num_epochs * (images.shape[0] // batch_size))
    init_key = jax.random.fold_in(key, 2**31 - 1)
    if encoder_layers and encoder_lr_scaling:
        tx = optax.chain(tx, scale_encoder_updates())
    state = create_state(init_key, tx, num_filters=num_filters, filter_size=filter_size,
                         image_shape=images.shape[1:], lam=lam, encoder_layers=encoder_layers, boundary=boundary,
                         images=images)
    step_fn = make_train_step(lam, inference_iters=inference_iters, encoder_layers=encoder_layers,
                              encoder_weight=encoder_weight, boundary=boundary)
    return fit(state, step_fn, images, batch_size=batch_size, num_epochs=num_epochs, rng=key, workdir=workdir,
               log_every_steps=log_every_steps, desc=desc)
