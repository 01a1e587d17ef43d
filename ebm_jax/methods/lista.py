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


def create_state(key, module: LISTA, *, optimizer: str = "adam", learning_rate=1e-3, schedule: str = "constant",
                 total_steps: int | None = None) -> train_state.TrainState:
    """A train state whose ``params`` are the ISTA-initialised LISTA parameters (``key`` is unused: the
    initialisation is deterministic) and whose optimizer comes from :func:`make_optimizer`."""
    del key
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps)
    D = jnp.asarray(module.dictionary)
    params = module.init(jax.random.PRNGKey(0), jnp.zeros((1, D.shape[0]), D.dtype))["params"]
    return train_state.TrainState.create(apply_fn=module.apply, params=_own_buffers(params), tx=tx)


def _own_buffers(params):
    """A copy of every leaf: untied layers start from the same ISTA array, and ``fit`` donates the state."""
    return jax.tree.map(jnp.array, params)


def make_train_step(module: LISTA, *, objective: str = "supervised"):
    """``(state, batch, key) -> (state, {"loss"})``: one optimizer step on :func:`lista_loss`."""
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
    batch_size = min(checks.positive_int(batch_size, "batch_size"), x_train.shape[0])
    num_epochs = checks.positive_int(num_epochs, "num_epochs")
    state = create_state(None, module, learning_rate=learning_rate)
    state = state.replace(params=_own_buffers(params))
    state, history = fit(state, make_train_step(module, objective=objective), data, batch_size=batch_size,
                         num_epochs=num_epochs, rng=jax.random.PRNGKey(seed), workdir=workdir, log_every_steps=1,
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
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps)
    return train_state.TrainState.create(apply_fn=None, params=_own_buffers(params), tx=tx)


def make_layer_step(ctx: UnrolledContext, num_pass: int, *, first: bool = False):
    """Greedy stage: ``batch = {"inp", "z_in", "z_prev", "z"}`` (layer input, the frozen prefix's last two codes,
    target codes); ``loss = ½ mean ‖layer(z_in) − z‖²`` over the one layer's parameters."""

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
    (every layer's NMSE in dB weighs the same, so that each prefix stays a good shallower network)."""
    if loss == "last":
        z = unrolled_apply(ctx, params, x, num_pass)
        return 0.5 * jnp.mean(jnp.sum((z - z_star) ** 2, -1))
    _, zs = unrolled_apply(ctx, params, x, num_pass, return_all=True)
    nmse = jnp.sum((zs - z_star[None]) ** 2, axis=(1, 2)) / jnp.maximum(jnp.sum(z_star ** 2), 1e-30)
    return jnp.mean(10.0 * jnp.log10(jnp.maximum(nmse, 1e-30)))


def make_unrolled_step(ctx: UnrolledContext, num_pass, *, loss: str = "all_layers_db"):
    """Joint training of every layer: ``batch = {"x", "z"}``, loss from :func:`unrolled_loss`."""
    checks.one_of(loss, "loss", FINETUNE_LOSSES)

    def step_fn(state, batch, key):
        del key
        value, grads = jax.value_and_grad(
            lambda p: unrolled_loss(ctx, p, batch["x"], batch["z"], num_pass, loss))(state.params)
        return state.apply_gradients(grads=grads), {"loss": value}

    return step_fn


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
    num_layers = checks.positive_int(num_layers, "num_layers")
    x = checks.float_array(x, "x", ndim=2)
    z_star = checks.float_array(z_star, "z_star", ndim=2)
    checks.check_shape(z_star, "z_star", (x.shape[0], ctx.D.shape[1]))
    num_pass = tuple(num_pass) if num_pass is not None else (0,) * num_layers
    if len(num_pass) != num_layers:
        raise ValueError(f"num_pass must hold one count per layer ({num_layers}), got {len(num_pass)}")
    if new_layer_init is None:
        new_layer_init = "copy" if ctx.kind == "alista" else "ista"
    checks.one_of(new_layer_init, "new_layer_init", ("ista", "copy"))
    layer_epochs = checks.nonnegative_int(layer_epochs, "layer_epochs")
    finetune_epochs = checks.nonnegative_int(finetune_epochs, "finetune_epochs")
    batch_size = min(checks.positive_int(batch_size, "batch_size"), x.shape[0])
    wd = pathlib.Path(workdir) if workdir is not None else None
    rng = jax.random.PRNGKey(seed)
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
