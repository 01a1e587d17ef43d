r"""LISTA as a method: ``create_state`` + ``make_train_step``, trained by :func:`ebm_jax.train.fit`.

The module and its losses are :mod:`ebm_jax.sparse.lista`. A batch is
``{"x": (b, n)}`` plus ``"z": (b, k)`` (the optimal codes) for the supervised
objective.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.training import train_state

from ebm_jax import checks
from ebm_jax.sparse.lista import LISTA, lista_loss
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
