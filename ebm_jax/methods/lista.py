r"""LISTA as a method: ``create_state`` + ``make_train_step``, trained by :func:`ebm_jax.train.fit`.

The module and its losses are :mod:`ebm_jax.sparse.lista`. A batch is
``{"x": (b, n)}`` plus ``"z": (b, k)`` (the optimal codes) for the supervised
objective.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from ebm_jax import checks
from ebm_jax.sparse.lista import (
    LISTA,
    UnrolledContext,
    apply_layer,
    init_layer,
    init_layers,
    layer_input,
    lista_loss,
    unrolled_apply,
)
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer

OBJECTIVES = ("supervised", "unsupervised")


def _check_ctx(ctx) -> UnrolledContext:
    return checks.instance(ctx, "ctx", UnrolledContext, "UnrolledContext (from ebm_jax.sparse.lista.make_context)")


def _check_pass(count, ctx: UnrolledContext, name: str) -> int:
    """One layer's support-selection count: an integer in [0, k]."""
    return checks.integer(count, name, ge=0, le=ctx.D.shape[1])


def _check_passes(num_pass, ctx: UnrolledContext, num_layers: int | None = None) -> tuple[int, ...]:
    """One count per layer (``num_layers`` of them where given), each in [0, k]."""
    if isinstance(num_pass, (str, bytes)) or not isinstance(num_pass, (tuple, list)):
        raise TypeError(f"num_pass must be a tuple of counts, one per layer, got {type(num_pass).__name__} "
                        f"{num_pass!r}")
    if num_layers is not None and len(num_pass) != num_layers:
        raise ValueError(f"num_pass must hold one count per layer ({num_layers}), got {len(num_pass)}")
    return tuple(_check_pass(c, ctx, f"num_pass[{i}]") for i, c in enumerate(num_pass))


def _check_sampler(sample_batch, data, ctx: UnrolledContext) -> None:
    """``sample_batch(data, key)`` must give ``{"x": (b, n), "z": (b, k)}`` (checked on shapes, nothing runs)."""
    try:
        out = jax.eval_shape(sample_batch, data, jax.random.PRNGKey(0))
    except (TypeError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"sample_batch(data, key) fails on this data: {type(e).__name__}: {e}"[:400]) from e
    n, k = ctx.D.shape
    shapes = {key: getattr(v, "shape", None) for key, v in out.items()} if isinstance(out, dict) else None
    if (shapes is None or set(shapes) < {"x", "z"} or len(shapes["x"] or ()) != 2 or len(shapes["z"] or ()) != 2
            or shapes["x"][1] != n or shapes["z"] != (shapes["x"][0], k)):
        raise ValueError(f"sample_batch(data, key) must return {{'x': (b, {n}), 'z': (b, {k})}}, got "
                         f"{shapes if shapes is not None else type(out).__name__}")


def create_state(key, module: LISTA, *, optimizer: str = "adam", learning_rate=1e-3, schedule: str = "constant",
                 total_steps: int | None = None) -> train_state.TrainState:
    """A train state whose ``params`` are the ISTA-initialised LISTA parameters (``key`` is unused: the
    initialisation is deterministic) and whose optimizer comes from :func:`make_optimizer`."""
    del key
    checks.instance(module, "module", LISTA, "LISTA module (from ebm_jax.sparse.lista.make_lista)")
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps)
    D = jnp.asarray(module.dictionary)
    params = module.init(jax.random.PRNGKey(0), jnp.zeros((1, D.shape[0]), D.dtype))["params"]
    return train_state.TrainState.create(apply_fn=module.apply, params=_own_buffers(params), tx=tx)


def _own_buffers(params):
    """A copy of every leaf: untied layers start from the same ISTA array, and ``fit`` donates the state."""
    return jax.tree.map(jnp.array, params)


def make_train_step(module: LISTA, *, objective: str = "supervised"):
    """``(state, batch, key) -> (state, {"loss"})``: one optimizer step on :func:`lista_loss`."""
    checks.instance(module, "module", LISTA, "LISTA module (from ebm_jax.sparse.lista.make_lista)")
    checks.one_of(objective, "objective", OBJECTIVES)

    def step_fn(state, batch, key):
        del key
        loss, grads = jax.value_and_grad(
            lambda p: lista_loss(module, p, batch["x"], batch.get("z"), objective=objective))(state.params)
        return state.apply_gradients(grads=grads), {"loss": loss}

    return step_fn


@dataclasses.dataclass
class ListaFit:
    params: Any
    losses: np.ndarray  # (num_epochs,) mean training loss per epoch


def train_lista(module: LISTA, params, x_train, z_train=None, *, objective: str = "supervised",
                num_epochs: int = 20, batch_size: int = 256, learning_rate=1e-3, seed: int = 0,
                workdir: str | os.PathLike | None = None, desc: str = "lista") -> ListaFit:
    """Adam on :func:`lista_loss` with :func:`fit`, starting from ``params``; x_train (N, n), z_train (N, k).

    With ``workdir`` the run checkpoints there every epoch and a second call resumes.
    """
    checks.one_of(objective, "objective", OBJECTIVES)
    x_train = checks.float_array(x_train, "x_train", ndim=2)
    data = {"x": x_train}
    if objective == "supervised":
        if z_train is None:
            raise ValueError("z_train (the FISTA-optimal codes) is required for objective='supervised'")
        z_train = checks.float_array(z_train, "z_train", ndim=2)
        if z_train.shape[0] != x_train.shape[0]:
            raise ValueError(f"z_train has {z_train.shape[0]} rows, x_train has {x_train.shape[0]}")
        data["z"] = z_train
    batch_size = checks.batch_size(batch_size, x_train.shape[0])
    num_epochs = checks.positive_int(num_epochs, "num_epochs")
    state = create_state(None, module, learning_rate=learning_rate)
    state = state.replace(params=_own_buffers(params))
    state, history = fit(state, make_train_step(module, objective=objective), data, batch_size=batch_size,
                         num_epochs=num_epochs, rng=jax.random.PRNGKey(checks.seed(seed)), workdir=workdir, log_every_steps=1,
                         desc=desc)
    per_epoch = {}
    for r in history:
        if "loss" in r:
            per_epoch.setdefault(r["epoch"], []).append(r["loss"])
    losses = np.asarray([np.mean(per_epoch[e]) for e in sorted(per_epoch)], np.float32)
    return ListaFit(params=state.params, losses=losses)


# ----------------------------------------------------------------------------
# Unrolled LISTA (untied / ALISTA, support selection), trained layer by layer
# ----------------------------------------------------------------------------

FINETUNE_LOSSES = ("last", "all_layers_db")


def create_unrolled_state(key, params, *, optimizer: str = "adam", learning_rate=1e-3, schedule: str = "constant",
                          total_steps: int | None = None) -> train_state.TrainState:
    """A train state over ``params`` (one layer's dict, or a tuple of them); ``key`` is unused (ISTA init)."""
    del key
    layers = params if isinstance(params, (tuple, list)) else (params,)
    if not layers or not all(isinstance(p, dict) and p for p in layers):
        raise TypeError(f"params must be one layer's dict or a non-empty tuple of them (from init_layer / "
                        f"init_layers), got {type(params).__name__} {params!r}"[:300])
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps)
    return train_state.TrainState.create(apply_fn=None, params=_own_buffers(params), tx=tx)


def make_layer_step(ctx: UnrolledContext, num_pass: int, *, first: bool = False):
    """Greedy stage: ``batch = {"inp", "z_in", "z_prev", "z"}`` (layer input, the frozen prefix's last two codes,
    target codes); ``loss = ½ mean ‖layer(z_in) − z‖²`` over the one layer's parameters."""
    _check_ctx(ctx)
    num_pass = _check_pass(num_pass, ctx, "num_pass")
    first = checks.boolean(first, "first")

    def step_fn(state, batch, key):
        del key

        def loss_fn(p):
            z = apply_layer(ctx, p, batch["inp"], batch["z_in"], num_pass, first=first, z_prev=batch.get("z_prev"))
            return 0.5 * jnp.mean(jnp.sum((z - batch["z"]) ** 2, -1))

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), {"loss": loss}

    return step_fn


def unrolled_loss(ctx: UnrolledContext, params, x, z_star, num_pass, loss: str = "last"):
    """``"last"``: ½ mean ‖z_T − z*‖²; ``"all_layers_db"``: the mean over layers of 10·log10(Σ‖z_t − z*‖²/Σ‖z*‖²)
    (every layer's NMSE in dB weighs the same, so that each prefix stays a good shallower network).
    ``num_pass``: one support-selection count per layer (None: 0s). Checked at the boundary (shapes only
    under ``jit``/``grad``; an all-zero ``z_star`` is refused where concrete for ``"all_layers_db"``)."""
    _check_ctx(ctx)
    checks.one_of(loss, "loss", FINETUNE_LOSSES)
    if num_pass is not None:
        num_pass = _check_passes(num_pass, ctx, len(params) if isinstance(params, (tuple, list)) else None)
    x = checks.float_array(x, "x", ndim=2)
    z_star = checks.float_array(z_star, "z_star", ndim=2)
    checks.check_shape(z_star, "z_star", (x.shape[0], ctx.D.shape[1]))
    if loss == "all_layers_db" and checks.is_concrete(z_star) and not np.any(np.asarray(z_star) != 0):
        raise ValueError("z_star is all zeros: the per-layer NMSE Σ‖z_t − z*‖²/Σ‖z*‖² of 'all_layers_db' is 0/0")
    if loss == "last":
        z = unrolled_apply(ctx, params, x, num_pass)
        return 0.5 * jnp.mean(jnp.sum((z - z_star) ** 2, -1))
    _, zs = unrolled_apply(ctx, params, x, num_pass, return_all=True)
    nmse = jnp.sum((zs - z_star[None]) ** 2, axis=(1, 2)) / jnp.maximum(jnp.sum(z_star ** 2), 1e-30)
    return jnp.mean(10.0 * jnp.log10(jnp.maximum(nmse, 1e-30)))


def make_unrolled_step(ctx: UnrolledContext, num_pass, *, loss: str = "all_layers_db"):
    """Joint training of every layer: ``batch = {"x", "z"}``, loss from :func:`unrolled_loss`."""
    _check_ctx(ctx)
    checks.one_of(loss, "loss", FINETUNE_LOSSES)
    if num_pass is not None:
        num_pass = _check_passes(num_pass, ctx)

    def step_fn(state, batch, key):
        del key
        value, grads = jax.value_and_grad(
            lambda p: unrolled_loss(ctx, p, batch["x"], batch["z"], num_pass, loss))(state.params)
        return state.apply_gradients(grads=grads), {"loss": value}

    return step_fn


def _layer_plan(ctx: UnrolledContext, num_layers: int, num_pass, new_layer_init):
    """``num_pass`` as one count per layer (default 0s) and ``new_layer_init`` resolved ("copy" for ALISTA)."""
    num_pass = _check_passes(num_pass, ctx, num_layers) if num_pass is not None else (0,) * num_layers
    if new_layer_init is None:
        new_layer_init = "copy" if ctx.kind == "alista" else "ista"
    checks.one_of(new_layer_init, "new_layer_init", ("ista", "copy"))
    return num_pass, new_layer_init


def train_layerwise(ctx: UnrolledContext, x, z_star, num_layers: int, *, num_pass=None, layer_epochs: int = 5,
                    finetune_epochs: int = 0, batch_size: int = 128, learning_rate=1e-3, finetune_lr=1e-4,
                    finetune_loss: str = "all_layers_db", new_layer_init: str | None = None, seed: int = 0,
                    workdir: str | os.PathLike | None = None):
    """Grow an unrolled LISTA one layer at a time, then (optionally) fine-tune all layers jointly.

    Stage t = 1..T trains layer t alone (Adam, cosine decay over ``layer_epochs``)
    on the frozen prefix's codes z_{t−1} (and z_{t−2} for "lfista"; computed once per stage), starting from
    ``new_layer_init``: ``"ista"`` (ISTA's operators, FISTA's for "lfista", whose step never moves away from
    the lasso solution; default for ``"untied"``, ``"lfista"``) or ``"copy"`` of layer t − 1 (default
    for ``"alista"``); ``layer_epochs=0`` skips these stages (the layers stay at their
    initialisation); then ``finetune_epochs`` of joint
    training with ``finetune_loss``. x (N, n), z_star (N, k) the target codes.
    Each stage checkpoints in ``workdir/layer_<t>`` (``workdir/finetune``); a rerun resumes.
    Returns ``(params, stage_losses)``: the tuple of T layer dicts and each stage's last logged loss.
    """
    _check_ctx(ctx)
    num_layers = checks.positive_int(num_layers, "num_layers")
    x = checks.float_array(x, "x", ndim=2)
    checks.check_shape(x, "x", (None, ctx.D.shape[0]))
    z_star = checks.float_array(z_star, "z_star", ndim=2)
    checks.check_shape(z_star, "z_star", (x.shape[0], ctx.D.shape[1]))
    num_pass, new_layer_init = _layer_plan(ctx, num_layers, num_pass, new_layer_init)
    layer_epochs = checks.nonnegative_int(layer_epochs, "layer_epochs")
    finetune_epochs = checks.nonnegative_int(finetune_epochs, "finetune_epochs")
    finetune_lr = checks.positive_float(finetune_lr, "finetune_lr")
    checks.one_of(finetune_loss, "finetune_loss", FINETUNE_LOSSES)
    batch_size = checks.batch_size(batch_size, x.shape[0])
    wd = pathlib.Path(workdir) if workdir is not None else None
    rng = jax.random.PRNGKey(checks.seed(seed))
    steps = layer_epochs * (x.shape[0] // batch_size)
    inp, z, z_prev = x, jnp.zeros_like(z_star), jnp.zeros_like(z_star)  # layer 1 reads x, the later ones layer_input(x)
    params, stage_losses = [], []
    for t in range(num_layers if layer_epochs else 0):
        if t == 0:
            p0 = init_layer(ctx, first=True)
        elif new_layer_init == "ista" or (t == 1 and ctx.kind != "alista"):  # (layer 1 has no S to copy)
            p0 = init_layer(ctx, layer=t)
        else:
            p0 = params[-1]
        data = {"inp": inp, "z_in": z, "z": z_star}
        if ctx.kind == "lfista":
            data["z_prev"] = z_prev
        state = create_unrolled_state(None, p0, learning_rate=learning_rate, schedule="cosine", total_steps=steps)
        state, history = fit(state, make_layer_step(ctx, num_pass[t], first=(t == 0)), data, batch_size=batch_size,
                             num_epochs=layer_epochs, rng=jax.random.fold_in(rng, t),
                             workdir=None if wd is None else wd / f"layer_{t + 1:02d}",
                             log_every_steps=max(1, steps // 10), desc=f"layer {t + 1}")
        params.append(state.params)
        stage_losses.append(history[-1]["loss"] if history else float("nan"))
        z_prev, z = z, jax.jit(lambda p, v, z_in, zp, t=t: apply_layer(ctx, p, v, z_in, num_pass[t], first=(t == 0),
                                                                       z_prev=zp))(state.params, inp, z, z_prev)
        if t == 0:
            inp = jax.jit(functools.partial(layer_input, ctx))(x)
    params = tuple(params) if layer_epochs else init_layers(ctx, num_layers)
    if finetune_epochs:
        steps = finetune_epochs * (x.shape[0] // batch_size)
        state = create_unrolled_state(None, params, learning_rate=finetune_lr, schedule="cosine", total_steps=steps)
        state, history = fit(state, make_unrolled_step(ctx, num_pass, loss=finetune_loss), {"x": x, "z": z_star},
                             batch_size=batch_size, num_epochs=finetune_epochs, rng=jax.random.fold_in(rng, 10_000),
                             workdir=None if wd is None else wd / "finetune", log_every_steps=max(1, steps // 20),
                             desc="fine-tune")
        params = state.params
        stage_losses.append(history[-1]["loss"] if history else float("nan"))
    return params, stage_losses


# ----------------------------------------------------------------------------
# Staged training of LISTA-CPSS / ALISTA (Chen et al. 2018; Liu et al. 2019)
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class StagedFit:
    params: tuple          # the T layer dicts
    val_nmse: np.ndarray   # (T, S) validation NMSE of layer t at the end of each of its S stages
    best_val_nmse: np.ndarray  # (T, S) the lowest validation NMSE each stage saw
    steps: np.ndarray      # (T, S) training steps each stage ran
    lr_multipliers: np.ndarray  # (T,) every layer's rate multiplier after the last layer's stages


def validate_stage_schedule(stage_lr_factors, layer_lr_decay, val_every, patience, max_stage_steps):
    """The staged recipe's hyper-parameters, checked (``ValueError`` naming the argument)."""
    if isinstance(stage_lr_factors, str) or not isinstance(stage_lr_factors, (tuple, list)):
        raise TypeError(f"stage_lr_factors must be a tuple of floats, got {type(stage_lr_factors).__name__}")
    if len(stage_lr_factors) == 0:
        raise ValueError("stage_lr_factors is empty: give at least the new layer's stage, e.g. (1.0, 0.2, 0.02)")
    factors = tuple(checks.positive_float(f, f"stage_lr_factors[{i}]") for i, f in enumerate(stage_lr_factors))
    layer_lr_decay = checks.positive_float(layer_lr_decay, "layer_lr_decay")
    if layer_lr_decay > 1:
        raise ValueError(f"layer_lr_decay must be in (0, 1], got {layer_lr_decay}")
    return (factors, layer_lr_decay, checks.positive_int(val_every, "val_every"),
            checks.nonnegative_int(patience, "patience"), checks.positive_int(max_stage_steps, "max_stage_steps"))


def _make_stage_runner(ctx: UnrolledContext, sample_batch, num_pass: tuple, train_prefix: bool, val_every: int,
                       patience: int, max_stage_steps: int):
    """One jitted stage for the network of ``len(num_pass)`` layers: Adam until the validation NMSE of the last
    layer has not improved for more than ``patience`` steps, or ``max_stage_steps`` (a ``lax.while_loop`` of
    ``val_every``-step ``lax.scan`` chunks, one validation per chunk)."""
    tx = optax.scale_by_adam()

    def forward(prefix, new, x):
        return unrolled_apply(ctx, tuple(prefix) + (new,), x, num_pass)

    def split(trainable, prefix):
        return trainable if train_prefix else (prefix, trainable)

    @jax.jit
    def run(prefix, new, data, x_val, z_val, lr, mults, key):
        val_norm = jnp.sum(z_val ** 2)

        def val_nmse(prefix, new):
            return jnp.sum((forward(prefix, new, x_val) - z_val) ** 2) / val_norm

        def train_step(carry, i):
            trainable, opt_state, frozen = carry
            batch = sample_batch(data, jax.random.fold_in(key, i))

            def loss_fn(tr):
                p, n = split(tr, frozen)
                return 0.5 * jnp.mean(jnp.sum((forward(p, n, batch["x"]) - batch["z"]) ** 2, -1))

            grads = jax.grad(loss_fn)(trainable)
            updates, opt_state = tx.update(grads, opt_state)
            if train_prefix:  # layer j's step is lr · mults[j]
                scales = (tuple(jax.tree.map(lambda _, j=j: lr * mults[j], u) for j, u in enumerate(updates[0])),
                          jax.tree.map(lambda _: lr * mults[-1], updates[1]))
            else:
                scales = jax.tree.map(lambda _: lr * mults[-1], updates)
            trainable = jax.tree.map(lambda p, u, s: p - s * u, trainable, updates, scales)
            return (trainable, opt_state, frozen), None

        def cond(c):
            i, _, _, _, best, best_i, _ = c
            return (i < max_stage_steps) & (i - best_i <= patience)

        def body(c):
            i, trainable, opt_state, frozen, best, best_i, _ = c
            (trainable, opt_state, frozen), _ = jax.lax.scan(train_step, (trainable, opt_state, frozen),
                                                             i + jnp.arange(val_every))
            i = i + val_every
            v = val_nmse(*split(trainable, frozen))
            better = v < best
            return (i, trainable, opt_state, frozen, jnp.where(better, v, best), jnp.where(better, i, best_i), v)

        trainable = (tuple(prefix), new) if train_prefix else new
        v0 = val_nmse(prefix, new)
        init = (jnp.asarray(0), trainable, tx.init(trainable), tuple(prefix), v0, jnp.asarray(0), v0)
        i, trainable, _, frozen, best, _, last = jax.lax.while_loop(cond, body, init)
        prefix, new = split(trainable, frozen)
        return tuple(prefix), new, i, best, last

    return run


def train_staged(ctx: UnrolledContext, sample_batch, data, x_val, z_val, num_layers: int, *, num_pass=None,
                 learning_rate=5e-4, stage_lr_factors=(1.0, 0.2, 0.02), layer_lr_decay=0.3, val_every: int = 10,
                 patience: int = 4000, max_stage_steps: int = 200_000, new_layer_init: str | None = None,
                 seed: int = 0, workdir: str | os.PathLike | None = None, progress: bool = True) -> StagedFit:
    """Grow an unrolled LISTA layer by layer in stages, as LISTA-CPSS / ALISTA's ``utils/train.py`` does.

    For each new layer t: stage 1 trains layer t alone with a fresh Adam at
    ``learning_rate · stage_lr_factors[0]``; stages s > 1 train layers 1..t together
    at ``learning_rate · stage_lr_factors[s]``, layer j's step scaled by its
    multiplier (1 for the new layer). Every stage minimises ½ mean ‖z_t − z‖² on
    batches ``sample_batch(data, key) -> {"x", "z"}`` (pure, jittable: fresh problems,
    or random rows of a training set) and stops once the validation NMSE of layer t
    on the fixed ``(x_val, z_val)`` (checked every ``val_every`` steps) has not
    improved for more than ``patience`` steps, or after ``max_stage_steps``; the last
    parameters are kept (as the authors' code does). After layer t's stages, every
    layer's multiplier is multiplied by ``layer_lr_decay``.

    The authors' code multiplies the *gradient* by the multiplier before Adam,
    whose normalisation cancels a constant factor (up to its ε); here it scales
    Adam's *step*, so earlier layers do move more slowly; ``layer_lr_decay=1``
    is what their code effectively runs.

    New layers start from ``new_layer_init`` as in :func:`train_layerwise`. With
    ``workdir`` the parameters and the stage log are checkpointed after every
    layer and a rerun resumes at the next one.
    """
    _check_ctx(ctx)
    checks.function(sample_batch, "sample_batch")
    num_layers = checks.positive_int(num_layers, "num_layers")
    progress = checks.boolean(progress, "progress")
    seed = checks.seed(seed)
    stage_lr_factors, layer_lr_decay, val_every, patience, max_stage_steps = validate_stage_schedule(
        stage_lr_factors, layer_lr_decay, val_every, patience, max_stage_steps)
    learning_rate = checks.positive_float(learning_rate, "learning_rate")
    x_val = checks.float_array(x_val, "x_val", ndim=2)
    checks.check_shape(x_val, "x_val", (None, ctx.D.shape[0]))
    z_val = checks.float_array(z_val, "z_val", ndim=2)
    checks.check_shape(z_val, "z_val", (x_val.shape[0], ctx.D.shape[1]))
    if not np.any(np.asarray(z_val) != 0):
        raise ValueError("z_val is all zeros: the validation NMSE Σ‖z_t − z‖²/Σ‖z‖² would be 0/0")
    num_pass, new_layer_init = _layer_plan(ctx, num_layers, num_pass, new_layer_init)
    _check_sampler(sample_batch, data, ctx)

    S = len(stage_lr_factors)
    record = {"params": init_layers(ctx, num_layers), "layers_done": jnp.asarray(0),
              "val_nmse": jnp.full((num_layers, S), jnp.nan), "best_val_nmse": jnp.full((num_layers, S), jnp.nan),
              "steps": jnp.zeros((num_layers, S), jnp.int32), "lr_multipliers": jnp.ones((num_layers,))}
    checkpointer = None
    if workdir is not None:
        from ebm_jax.train.checkpoint import Checkpointer  # noqa: PLC0415 (the checkpointer pulls in orbax)
        checkpointer = Checkpointer(pathlib.Path(workdir))
        if checkpointer.latest_step() is not None:
            record = checkpointer.restore(record)
    params = list(record["params"])
    log = {k: np.array(record[k]) for k in ("val_nmse", "best_val_nmse", "steps", "lr_multipliers")}
    key = jax.random.PRNGKey(seed)
    for t in range(int(record["layers_done"]), num_layers):
        if new_layer_init == "copy" and (t >= 2 or (t == 1 and ctx.kind == "alista")):  # layer 1 has no S to copy
            params[t] = params[t - 1]
        runners = {}
        mults = jnp.asarray(log["lr_multipliers"][: t + 1], jnp.float32)
        for s, factor in enumerate(stage_lr_factors):
            train_prefix = s > 0 and t > 0
            if train_prefix not in runners:
                runners[train_prefix] = _make_stage_runner(ctx, sample_batch, num_pass[: t + 1], train_prefix,
                                                           val_every, patience, max_stage_steps)
            prefix, new, steps, best, last = runners[train_prefix](
                tuple(params[:t]), params[t], data, x_val, z_val, jnp.asarray(learning_rate * factor, jnp.float32),
                mults, jax.random.fold_in(jax.random.fold_in(key, t), s))
            params[:t], params[t] = list(prefix), new
            log["steps"][t, s], log["best_val_nmse"][t, s], log["val_nmse"][t, s] = int(steps), float(best), float(last)
            if not np.isfinite(log["val_nmse"][t, s]):
                raise FloatingPointError(f"the validation NMSE became {log['val_nmse'][t, s]} in layer {t + 1}, "
                                         f"stage {s + 1}")
            if progress:
                print(f"layer {t + 1} stage {s + 1}: {int(steps)} steps at lr {learning_rate * factor:.3g}, "
                      f"val NMSE {10 * np.log10(log['val_nmse'][t, s]):.2f} dB "
                      f"(best {10 * np.log10(log['best_val_nmse'][t, s]):.2f})", flush=True)
        log["lr_multipliers"][: t + 1] *= layer_lr_decay
        if checkpointer is not None:
            checkpointer.save(t + 1, {"params": tuple(params), "layers_done": jnp.asarray(t + 1),
                                      **{k: jnp.asarray(v) for k, v in log.items()}})
    return StagedFit(params=tuple(params), **log)


def sample_rows(data, key, batch_size: int):
    """``batch_size`` random rows (with replacement) of every array in ``data`` (a dict of (N, ...) arrays).

    Shape checks only (it runs inside the jitted stage of :func:`train_staged`)."""
    key = checks.prng_key(key)
    batch_size = checks.positive_int(batch_size, "batch_size")
    leaves = jax.tree.leaves(data)
    if not isinstance(data, dict) or not leaves:
        raise TypeError(f"data must be a non-empty dict of (N, ...) arrays, got {type(data).__name__} {data!r}"[:300])
    rows = {np.shape(a)[0] if np.ndim(a) else None for a in leaves}
    if len(rows) != 1 or None in rows or 0 in rows:
        raise ValueError(f"data must hold arrays with one non-zero number of rows, got shapes "
                         f"{ {k: np.shape(v) for k, v in data.items()} }")
    n = leaves[0].shape[0]
    idx = jax.random.randint(key, (batch_size,), 0, n)
    return jax.tree.map(lambda a: a[idx], data)


def staged_results(fit: StagedFit, prefix: str = "staged") -> dict:
    """Flat numbers of a :func:`train_staged` run: every stage's steps and validation NMSE (dB), total steps."""
    checks.instance(fit, "fit", StagedFit, "StagedFit (from train_staged)")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__} {prefix!r}")
    nmse = np.asarray(fit.val_nmse, np.float64)
    if not (np.isfinite(nmse) & (nmse >= 0)).all():
        raise ValueError(f"fit.val_nmse must hold finite values >= 0 (a completed train_staged run), got {nmse.tolist()}")
    out = {f"{prefix}/total_steps": int(fit.steps.sum())}
    for t in range(fit.steps.shape[0]):
        for s in range(fit.steps.shape[1]):
            out[f"{prefix}/T{t + 1}/stage{s + 1}_steps"] = int(fit.steps[t, s])
            out[f"{prefix}/T{t + 1}/stage{s + 1}_val_nmse_db"] = float(10 * np.log10(fit.val_nmse[t, s]))
    return out
