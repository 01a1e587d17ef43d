"""Contrastive self-supervised learning: SimCLR, MoCo v2 and PIRL as ``create_state`` + ``make_train_step``.

A batch is a dict ``{"image": (B, 28, 28) float in [0, 1], "index": (B,) int32}``
(``index`` is the example's row in the dataset; PIRL's memory bank needs it).
Every ``step_fn(state, batch, key) -> (state, metrics)`` is pure and traceable;
:func:`ebm_jax.train.fit` runs it inside a compiled ``lax.scan``. Everything a
method carries between steps (MoCo's momentum encoder and queue, PIRL's memory
bank) lives in the state, so it is checkpointed and resumed with it.

The method-generic entry points::

    state = create_state(key, "moco", model, learning_rate, total_steps=steps, batch_size=256)
    step_fn = make_train_step("moco", aug, temperature=0.2)

build the optimizer with :func:`ebm_jax.train.optim.make_optimizer` (AdamW,
linear warm-up then cosine decay; the learning rate must be finite and > 0).
The per-method builders (``create_simclr_state``, ``make_moco_step``, ...) take
any optax transformation. Evaluation of the frozen representation (linear
probe, label efficiency) is :mod:`ebm_jax.eval.probe`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax.training import train_state

from ebm_jax import checks, losses
from ebm_jax.data.augment import AugmentConfig, augment, check_images, jigsaw
from ebm_jax.models.ssl import SSLNet
from ebm_jax.train.optim import make_optimizer

#: The contrastive methods :func:`create_state` and :func:`make_train_step` know.
METHODS = ("simclr", "moco", "pirl")


class SimCLRState(train_state.TrainState):
    """Plain TrainState: params of encoder + projection head."""


class MoCoState(train_state.TrainState):
    """MoCo v2 state.

    params_k: momentum (key) encoder, ``θ_k ← m θ_k + (1 − m) θ_q`` every step.
    queue: ``(K, D)`` L2-normalized keys of past batches (the negatives).
    queue_ptr: int32 scalar, the next row of ``queue`` to overwrite.
    """

    params_k: Any = None
    queue: jax.Array = None
    queue_ptr: jax.Array = None


class PIRLState(train_state.TrainState):
    """PIRL state. bank: ``(N, D)`` L2-normalized memory bank, one row per training image."""

    bank: jax.Array = None


def _check_step_options(aug, temperature):
    """The options every SSL step shares: an :class:`AugmentConfig` and a temperature > 0."""
    checks.instance(aug, "aug", AugmentConfig)
    aug.validate()
    return checks.positive_float(temperature, "temperature")


def _check_moco_options(momentum, symmetric):
    """MoCo's key-encoder momentum in [0, 1) and its flag; ``(momentum, symmetric)``."""
    return checks.real(momentum, "momentum", ge=0, lt=1), checks.boolean(symmetric, "symmetric")


def _check_pirl_options(bank_momentum, lam, num_negatives):
    """PIRL's bank momentum in [0, 1), loss weight in [0, 1] and negatives >= 1; the three, checked."""
    return (checks.real(bank_momentum, "bank_momentum", ge=0, lt=1), checks.real(lam, "lam", ge=0, le=1),
            checks.positive_int(num_negatives, "num_negatives"))


@functools.lru_cache(maxsize=16)
def _jitted_init(model: SSLNet, image_shape: tuple[int, int]):
    """The jitted initializer of ``model``'s parameters; cached so that equal models share one compile."""

    def init(rng):
        x = jnp.zeros((2, *image_shape), jnp.float32)
        params = model.init(rng, x)["params"]
        tiles = jnp.zeros((2, 4, image_shape[0] // 2, image_shape[1] // 2))
        jig = model.init(rng, tiles, method=SSLNet.jigsaw)["params"]
        return {**jig, **params}

    return jax.jit(init)


def _init_params(model: SSLNet, rng, image_shape):
    """All parameters, including PIRL's jigsaw branch (one tree for the three methods); jitted."""
    checks.instance(model, "model", SSLNet, "ebm_jax.models.ssl.SSLNet")
    rng = checks.prng_key(rng, "rng")
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise TypeError(f"image_shape must be (height, width), got {image_shape!r}")
    image_shape = tuple(checks.positive_int(v, f"image_shape[{i}]") for i, v in enumerate(image_shape))
    return _jitted_init(model, tuple(image_shape))(rng)


def create_simclr_state(model: SSLNet, tx: optax.GradientTransformation, rng, image_shape=(28, 28)) -> SimCLRState:
    checks.optimizer(tx)
    params = _init_params(model, rng, image_shape)
    return SimCLRState.create(apply_fn=model.apply, params=params, tx=tx)


def keys_per_step(batch_size: int, symmetric: bool) -> int:
    """How many keys a MoCo step enqueues: both views' (``2 · batch_size``) when ``symmetric``, else one view's."""
    batch_size, symmetric = checks.positive_int(batch_size, "batch_size"), checks.boolean(symmetric, "symmetric")
    return 2 * batch_size if symmetric else batch_size


def create_moco_state(model: SSLNet, tx, rng, *, queue_size: int, batch_size: int, symmetric: bool = True,
                      image_shape=(28, 28)) -> MoCoState:
    """Query params, an identical key copy, and a queue of random unit vectors.

    Raises ``ValueError`` unless ``queue_size`` is a positive multiple of
    :func:`keys_per_step` (each step enqueues its keys, ``2 · batch_size`` of them when
    ``symmetric``, at ``queue_ptr``).
    """
    checks.instance(model, "model", SSLNet, "ebm_jax.models.ssl.SSLNet")
    checks.optimizer(tx)
    rng = checks.prng_key(rng, "rng")
    batch_size = checks.integer(batch_size, "batch_size", ge=2)
    queue_size = checks.positive_int(queue_size, "queue_size")
    symmetric = checks.boolean(symmetric, "symmetric")
    per_step = keys_per_step(batch_size, symmetric)
    if queue_size < per_step or queue_size % per_step:
        raise ValueError(f"queue_size ({queue_size}) must be a positive multiple of the {per_step} keys a step "
                         f"enqueues (batch_size {batch_size}{', both views' if symmetric else ''})")
    k_init, k_queue = jax.random.split(rng)
    params = _init_params(model, k_init, image_shape)
    queue = losses.l2_normalize(jax.random.normal(k_queue, (queue_size, model.proj_dim)))
    return MoCoState.create(apply_fn=model.apply, params=params, tx=tx,
                            params_k=jax.tree.map(jnp.copy, params), queue=queue,
                            queue_ptr=jnp.zeros((), jnp.int32))


def create_pirl_state(model: SSLNet, tx, rng, *, num_examples: int, image_shape=(28, 28)) -> PIRLState:
    """Params and a memory bank of ``num_examples`` random unit vectors."""
    checks.instance(model, "model", SSLNet, "ebm_jax.models.ssl.SSLNet")
    checks.optimizer(tx)
    rng = checks.prng_key(rng, "rng")
    num_examples = checks.integer(num_examples, "num_examples", ge=2)
    k_init, k_bank = jax.random.split(rng)
    params = _init_params(model, k_init, image_shape)
    bank = losses.l2_normalize(jax.random.normal(k_bank, (num_examples, model.proj_dim)))
    return PIRLState.create(apply_fn=model.apply, params=params, tx=tx, bank=bank)


def init_bank_from_embeddings(state: PIRLState, images, batch_size: int = 2000) -> PIRLState:
    """Replace the random memory bank by ``normalize(g(f(x_i)))`` of the current network.

    With a random bank, the positives ``m_I`` are random directions that the network
    cannot fit in a few epochs (each row is refreshed once per epoch); starting from
    the network's own embeddings makes the bank consistent from step one.
    """
    checks.instance(state, "state", PIRLState, "PIRLState (create_pirl_state)")
    check_images(images)
    batch_size = checks.positive_int(batch_size, "batch_size")
    n = state.bank.shape[0]
    if len(images) != n:
        raise ValueError(f"images must have one row per bank entry ({n}), got {len(images)}")
    embed = jax.jit(lambda x: losses.l2_normalize(state.apply_fn({"params": state.params}, x)[1]))
    rows = [embed(jnp.asarray(images[i: i + batch_size])) for i in range(0, n, batch_size)]
    return state.replace(bank=jnp.concatenate(rows).astype(state.bank.dtype))


def ema_update(target, online, momentum: float):
    """``target ← m · target + (1 − m) · online``, leafwise; ``0 <= m <= 1`` (checked where concrete)."""
    momentum = checks.real_or_traced(momentum, "momentum", ge=0, le=1)
    if jax.tree.structure(target) != jax.tree.structure(online):
        raise ValueError("online must have the tree structure of target (the same parameters)")
    return jax.tree.map(lambda t, o: momentum * t + (1.0 - momentum) * o, target, online)


def enqueue(queue: jax.Array, ptr: jax.Array, keys: jax.Array):
    """Write ``keys`` ``(B, D)`` into ``queue`` ``(K, D)`` at row ``ptr``; ``K % B == 0``.

    Returns ``(queue, (ptr + B) mod K)`` — a FIFO ring buffer (oldest batch replaced).
    """
    k, b = queue.shape[0], keys.shape[0]
    if k % b:
        raise ValueError(f"queue size ({k}) must be a multiple of the batch ({b})")
    queue = jax.lax.dynamic_update_slice_in_dim(queue, keys.astype(queue.dtype), ptr, axis=0)
    return queue, (ptr + b) % k


def _views(key, images, aug):
    """Two independent views: one batched augmentation of ``[x; x]`` (per-example keys)."""
    both = augment(key, jnp.concatenate([images, images]), aug)
    n = images.shape[0]
    return both[:n], both[n:]


def make_simclr_step(aug: AugmentConfig = AugmentConfig(), temperature: float = 0.5):
    """SimCLR: ``L = nt_xent(g(f(t_a(x))), g(f(t_b(x))), τ)`` over the batch."""
    temperature = _check_step_options(aug, temperature)

    def step(state: SimCLRState, batch, key):
        xa, xb = _views(key, batch["image"], aug)
        x = jnp.concatenate([xa, xb])

        def loss_fn(params):
            _, z = state.apply_fn({"params": params}, x)
            za, zb = jnp.split(z, 2)
            return losses.nt_xent(za, zb, temperature)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), {"loss": loss}

    return step


def make_moco_step(aug: AugmentConfig = AugmentConfig(), temperature: float = 0.2, momentum: float = 0.99,
                   symmetric: bool = True):
    """MoCo v2 step.

    ``q = normalize(g_q(f_q(t_a(x))))``, ``k = normalize(g_k(f_k(t_b(x))))`` (no gradient);
    ``L = info_nce(q, k, queue, τ)`` (symmetrized over the two views when ``symmetric``);
    then ``θ_k ← m θ_k + (1 − m) θ_q`` and the keys are enqueued, all inside the step:
    both views' keys ``[k_a; k_b]`` when ``symmetric`` (each served as a positive, as in
    the MoCo authors' symmetric CIFAR demo), else ``k_b``.
    The key encoder sees the updated query params of *this* step's EMA only after the
    gradient step, as in the paper.
    """
    temperature = _check_step_options(aug, temperature)
    momentum, symmetric = _check_moco_options(momentum, symmetric)

    def step(state: MoCoState, batch, key):
        xa, xb = _views(key, batch["image"], aug)
        x = jnp.concatenate([xa, xb])
        _, k_all = state.apply_fn({"params": state.params_k}, x)
        k_all = jax.lax.stop_gradient(losses.l2_normalize(k_all))
        ka, kb = jnp.split(k_all, 2)
        queue = jax.lax.stop_gradient(state.queue)

        def loss_fn(params):
            if symmetric:
                _, q = state.apply_fn({"params": params}, x)
                qa, qb = jnp.split(q, 2)
                return 0.5 * (losses.info_nce(qa, kb, queue, temperature) + losses.info_nce(qb, ka, queue, temperature))
            _, qa = state.apply_fn({"params": params}, xa)
            return losses.info_nce(qa, kb, queue, temperature)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        state = state.apply_gradients(grads=grads)
        params_k = ema_update(state.params_k, state.params, momentum)
        new_queue, ptr = enqueue(state.queue, state.queue_ptr, k_all if symmetric else kb)
        return state.replace(params_k=params_k, queue=new_queue, queue_ptr=ptr), {"loss": loss}

    return step


def pirl_loss(z: jax.Array, z_jigsaw: jax.Array, bank_rows: jax.Array, negatives: jax.Array, *,
              lam: float, temperature: float) -> jax.Array:
    """PIRL's objective ``λ · NCE(z_t, m) + (1 − λ) · NCE(z, m)`` against bank negatives.

    The network's outputs ``z`` / ``z_jigsaw`` ``(B, D)`` are the InfoNCE *queries*:
    each is scored against its own bank row ``m`` ``(B, D)`` (positive) and the bank
    rows ``negatives`` ``(K, D)`` of other images, so the gradient both pulls it
    to ``m`` and pushes it away from the negatives. (With the bank row as the
    query, the negatives' scores would not depend on the network at all.)
    """
    return lam * losses.info_nce(z_jigsaw, bank_rows, negatives, temperature) + \
        (1 - lam) * losses.info_nce(z, bank_rows, negatives, temperature)


def make_pirl_step(aug: AugmentConfig = AugmentConfig(), temperature: float = 0.2, bank_momentum: float = 0.5,
                   num_negatives: int = 4096, lam: float = 0.5, grid: int = 2):
    """PIRL step (Misra & van der Maaten, 2020) with InfoNCE against a memory bank.

    ``z = normalize(g(f(t(x))))`` (image branch), ``z_t = normalize(g_J(jigsaw(t(x))))``
    (jigsaw branch), ``m = bank[index]``, negatives ``bank[j]`` for ``num_negatives``
    uniformly drawn rows ``j``::

        L = λ · info_nce(z_t, m, negatives) + (1 − λ) · info_nce(z, m, negatives)

    (queries are the network's outputs, so the gradient pulls them to ``m_I`` and pushes
    them away from the negatives)

    then ``bank[index] ← normalize(β · bank[index] + (1 − β) · z)`` (``β = bank_momentum``).
    """
    temperature = _check_step_options(aug, temperature)
    bank_momentum, lam, num_negatives = _check_pirl_options(bank_momentum, lam, num_negatives)
    grid = checks.integer(grid, "grid", ge=2)

    def step(state: PIRLState, batch, key):
        k_aug, k_jig, k_neg = jax.random.split(key, 3)
        xa, xb = _views(k_aug, batch["image"], aug)
        tiles, _ = jigsaw(k_jig, xb, grid)
        idx = batch["index"]
        m = jax.lax.stop_gradient(state.bank[idx])
        neg_idx = jax.random.randint(k_neg, (num_negatives,), 0, state.bank.shape[0])
        negatives = jax.lax.stop_gradient(state.bank[neg_idx])

        def loss_fn(params):
            _, z = state.apply_fn({"params": params}, xa)
            zt = state.apply_fn({"params": params}, tiles, method=SSLNet.jigsaw)
            return pirl_loss(z, zt, m, negatives, lam=lam, temperature=temperature), z

        (loss, z), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        z = jax.lax.stop_gradient(losses.l2_normalize(z))
        new_rows = losses.l2_normalize(bank_momentum * m + (1 - bank_momentum) * z)
        bank = state.bank.at[idx].set(new_rows)
        return state.replace(bank=bank), {"loss": loss}

    return step


def warmup_steps_for(total_steps: int) -> int:
    """Linear warm-up length: a tenth of the run (+1), at most 100 steps, shorter than the run."""
    total_steps = checks.positive_int(total_steps, "total_steps")
    return min(100, total_steps // 10 + 1, total_steps - 1)


def create_state(key: jax.Array, method: str, model: SSLNet, learning_rate, *, total_steps: int,
                 weight_decay=1e-4, warmup_steps: int | None = None, batch_size: int | None = None,
                 queue_size: int = 4096, symmetric: bool = True, num_examples: int | None = None, bank_images=None,
                 image_shape=(28, 28)):
    """The train state of ``method`` (``"simclr"``, ``"moco"`` or ``"pirl"``) with its optimizer.

    The optimizer is ``make_optimizer("adamw", learning_rate, schedule="warmup_cosine",
    total_steps=total_steps, warmup_steps=warmup_steps, weight_decay=weight_decay)``
    (``warmup_steps`` default: :func:`warmup_steps_for`). MoCo needs ``batch_size``
    (its queue of ``queue_size`` keys takes whole steps' keys, both views' when
    ``symmetric``, which must match :func:`make_train_step`'s); PIRL needs
    ``num_examples`` (one memory-bank row per training image) and, with
    ``bank_images`` (``(num_examples, 28, 28)``), starts its bank from the
    initial network's embeddings instead of random unit vectors.
    """
    checks.one_of(method, "method", METHODS)
    key = checks.prng_key(key, "key")
    symmetric = checks.boolean(symmetric, "symmetric")
    total_steps = checks.positive_int(total_steps, "total_steps")
    warmup = warmup_steps_for(total_steps) if warmup_steps is None else warmup_steps
    tx = make_optimizer("adamw", learning_rate, schedule="warmup_cosine", total_steps=total_steps,
                        warmup_steps=warmup, weight_decay=weight_decay)
    if method == "simclr":
        return create_simclr_state(model, tx, key, image_shape)
    if method == "moco":
        if batch_size is None:
            raise ValueError("method 'moco' needs batch_size (its queue takes whole batches)")
        return create_moco_state(model, tx, key, queue_size=queue_size, batch_size=batch_size,
                                 symmetric=symmetric, image_shape=image_shape)
    if num_examples is None:
        raise ValueError("method 'pirl' needs num_examples (one memory-bank row per training image)")
    state = create_pirl_state(model, tx, key, num_examples=num_examples, image_shape=image_shape)
    return state if bank_images is None else init_bank_from_embeddings(state, bank_images)


def make_train_step(method: str, aug: AugmentConfig = AugmentConfig(), *, temperature: float,
                    momentum: float = 0.99, symmetric: bool = True, bank_momentum: float = 0.5,
                    num_negatives: int = 4096, lam: float = 0.5):
    """``step_fn(state, batch, key) -> (state, {"loss"})`` of ``method`` for :func:`ebm_jax.train.fit`.

    ``momentum`` and ``symmetric`` are MoCo's (:func:`make_moco_step`);
    ``bank_momentum``, ``num_negatives`` and ``lam`` are PIRL's (:func:`make_pirl_step`).
    """
    checks.one_of(method, "method", METHODS)
    temperature = checks.positive_float(temperature, "temperature")
    # Every option is checked, also those the chosen method does not read: a bad value is a mistake anyway.
    momentum, symmetric = _check_moco_options(momentum, symmetric)
    bank_momentum, lam, num_negatives = _check_pirl_options(bank_momentum, lam, num_negatives)
    if method == "simclr":
        return make_simclr_step(aug, temperature)
    if method == "moco":
        return make_moco_step(aug, temperature, momentum, symmetric)
    return make_pirl_step(aug, temperature, bank_momentum, num_negatives, lam)
