r"""Training a regularized latent-variable EBM with :func:`ebm_jax.train.fit`.

    state = create_state(key, model, learning_rate=1e-2)
    step = make_train_step(model, loss="energy", inference="grid", z_grid=course_z_grid())
    state, history = fit(state, step, {"y": y}, batch_size=24, num_epochs=200, rng=key)

A batch is ``{"y": (B, y_dim)}`` (unconditional) or ``{"x": (B, x_dim), "y": (B, y_dim)}``.
Each step infers ž, computes the free energies and takes one optimizer step on
the loss (:mod:`ebm_jax.lvebm.losses`):

* ``inference="grid"``: ``F∞ = min_k E(y, z_k)`` (its gradient is ``∂E/∂θ``
  at ž, the envelope theorem), or the warm ``F_β`` (softmin over the grid,
  whose gradient averages ``∂E/∂θ`` over the grid with Gibbs weights) when
  ``beta`` is given;
* ``inference="gradient"``: ž by gradient descent on ``z`` from
  ``num_starts`` random starts (parameters held fixed), then ``F = E(y, ž)``
  with ž held fixed (envelope theorem again). With the ``"noise_l2"``
  regularizer the decoder sees ``ž + σ ε`` with a fresh ``ε`` every step.

Contrastive samples for the hinge and log losses are ``ŷ = y + s ε``,
``ε ~ N(0, I)``, ``num_negatives`` per example (``s = negative_std``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax.training import train_state

from ebm_jax import checks
from ebm_jax.lvebm import inference as inf
from ebm_jax.lvebm.energies import LatentEBM
from ebm_jax.lvebm.losses import LOSSES, lvebm_loss
from ebm_jax.train.optim import OPTIMIZERS, make_optimizer

INFERENCE = ("grid", "gradient")


def create_state(key: jax.Array, model: LatentEBM, *, optimizer: str = "adam", learning_rate: float = 1e-2,
                 schedule: str = "constant", total_steps: int | None = None, radii=(1.0, 1.0),
                 params=None) -> train_state.TrainState:
    """A train state with ``model.init(key)`` parameters (or ``params``) and an optimizer from
    :func:`ebm_jax.train.optim.make_optimizer`. ``radii``: initial ``w`` of the unconditional ellipse."""
    _check_model(model)
    if params is None:
        key = checks.prng_key(key)
    tx = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=total_steps)
    params = model.init(key, radii=radii) if params is None else params
    return train_state.TrainState.create(apply_fn=None, params=params, tx=tx)


def _check_model(model) -> LatentEBM:
    return checks.instance(model, "model", LatentEBM, "LatentEBM")


def check_data(model: LatentEBM, data) -> dict:
    """``data`` as ``{"y": (N, y_dim)[, "x": (N, x_dim)]}`` float32 numpy arrays, finite; clear errors otherwise."""
    _check_model(model)
    if not isinstance(data, dict) or "y" not in data:
        raise TypeError("data must be a dict with key 'y' (and 'x' for a conditional model)")
    x, y = inf.check_batch(data.get("x"), data["y"], y_dim=model.y_dim, conditional=model.conditional)
    if x is not None and x.shape[1] != model.x_dim:
        raise ValueError(f"x must have shape (batch, {model.x_dim}), got {x.shape}")
    out = {"y": np.asarray(y, np.float32)}
    if x is not None:
        out["x"] = np.asarray(x, np.float32)
    return out


def make_free_energy_fn(model: LatentEBM, *, inference: str = "grid", z_grid=None, beta=None, num_starts: int = 4,
                        inference_steps: int = 30, inference_lr: float = 0.1, inference_optimizer: str = "adam",
                        z_low: float = 0.0, z_high: float = 2 * np.pi):
    """``(params, x, y, key) -> F (B,)``, differentiable in ``params`` (the free energy a step trains on).

    Arguments as in :func:`make_train_step`; all of them are checked here (also those the chosen
    inference does not use), before anything is compiled.
    """
    _check_model(model)
    checks.one_of(inference, "inference", INFERENCE)
    beta = inf.check_beta(beta)
    num_starts = checks.positive_int(num_starts, "num_starts")
    inference_steps = checks.positive_int(inference_steps, "inference_steps")
    inference_lr = checks.positive_float(inference_lr, "inference_lr")
    checks.one_of(inference_optimizer, "inference_optimizer", OPTIMIZERS)
    z_low, z_high = checks.real(z_low, "z_low"), checks.real(z_high, "z_high")
    if not z_high > z_low:
        raise ValueError(f"z_high must be > z_low, got z_low={z_low}, z_high={z_high}")
    reg = model.regularizer
    if inference == "grid":
        if z_grid is None:
            raise ValueError("inference='grid' needs z_grid (K, latent_dim)")
        z_grid = inf.check_z_grid(z_grid, model.latent_dim)
        energy = model.energy

        def free_energy(params, x, y, key):
            if reg.noisy:  # one noise draw per step and grid point, shared by the batch
                noise = reg.noise_std * jax.random.normal(key, z_grid.shape)
                e = inf._grid_energies(model.reconstruction, params, x, y, z_grid + noise) + reg.penalty(z_grid)
            else:
                e = inf._grid_energies(energy, params, x, y, z_grid)
            return jnp.min(e, axis=-1) if beta is None else inf.softmin_free_energy(e, beta)

        return free_energy

    if beta is not None:
        raise ValueError("beta (a warm free energy) needs inference='grid'")
    l1 = reg.l1_weight
    if l1:
        inference_optimizer = "sgd"  # proximal gradient

    def free_energy(params, x, y, key):
        k_start, k_noise = jax.random.split(key)
        fixed = jax.lax.stop_gradient(params)
        starts = jax.random.uniform(k_start, (y.shape[0], num_starts, model.latent_dim), minval=z_low, maxval=z_high)
        result = inf._descend(model.smooth_energy, model.energy, fixed, x, y, starts, num_steps=inference_steps,
                              optimizer=inference_optimizer, learning_rate=inference_lr, l1_weight=l1)
        z = jax.lax.stop_gradient(result.z)
        if reg.noisy:
            z_seen = z + reg.noise_std * jax.random.normal(k_noise, z.shape)
            return jax.vmap(model.reconstruction, (None, 0, 0, 0))(params, x, y, z_seen) + reg.penalty(z)
        return jax.vmap(model.energy, (None, 0, 0, 0))(params, x, y, z)

    return free_energy


def make_train_step(model: LatentEBM, *, loss: str = "energy", inference: str = "grid", z_grid=None, beta=None,
                    margin: float = 1.0, num_negatives: int = 1, negative_std: float = 0.5, **inference_kwargs):
    """``step_fn(state, batch, key) -> (state, metrics)`` for :func:`ebm_jax.train.fit`.

    Args:
      model: the :class:`~ebm_jax.lvebm.LatentEBM`.
      loss: ``"energy"``, ``"hinge"`` or ``"log"`` (:mod:`ebm_jax.lvebm.losses`).
      inference: ``"grid"`` (needs ``z_grid`` ``(K, latent_dim)``) or ``"gradient"``.
      beta: ``None`` (zero temperature, F∞) or ``β > 0`` (warm F_β; grid only).
      margin: the hinge's ``m >= 0``.
      num_negatives, negative_std: contrastive samples ``ŷ = y + s ε`` per example.
      **inference_kwargs: ``num_starts``, ``inference_steps``, ``inference_lr``,
        ``inference_optimizer``, ``z_low``, ``z_high`` (gradient inference).
    Metrics: ``loss``, ``free_energy`` (mean F of the batch), and ``free_energy_neg`` for contrastive losses.
    """
    _check_model(model)
    checks.one_of(loss, "loss", LOSSES)
    margin = checks.nonnegative_float(margin, "margin")
    num_negatives = checks.positive_int(num_negatives, "num_negatives")
    negative_std = checks.positive_float(negative_std, "negative_std")
    free_energy = make_free_energy_fn(model, inference=inference, z_grid=z_grid, beta=beta, **inference_kwargs)
    contrastive = loss != "energy"

    def loss_fn(params, batch, key):
        x, y = batch.get("x") if model.conditional else None, batch["y"]
        k_pos, k_neg, k_neg_f = jax.random.split(key, 3)
        f_pos = free_energy(params, x, y, k_pos)
        metrics = {"free_energy": jnp.mean(f_pos)}
        f_neg = None
        if contrastive:
            b = y.shape[0]
            y_neg = (y[:, None, :] + negative_std * jax.random.normal(k_neg, (b, num_negatives, y.shape[1])))
            x_neg = None if x is None else jnp.repeat(x, num_negatives, axis=0)
            f_neg = free_energy(params, x_neg, y_neg.reshape(b * num_negatives, -1), k_neg_f).reshape(b, num_negatives)
            metrics["free_energy_neg"] = jnp.mean(f_neg)
        value = jnp.mean(lvebm_loss(loss, f_pos, f_neg, margin=margin))
        return value, metrics

    def step(state, batch, key):
        (value, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, key)
        return state.apply_gradients(grads=grads), {"loss": value, **metrics}

    return step


def make_regression_step(model: LatentEBM):
    """The baseline without a latent: the predictor trained on ``‖y − f(x)‖²`` (``f`` must output ``y_dim``).

    It regresses to ``E[y | x]``: for the horn, whose ``y`` is spread around an
    ellipse centred at 0 for every ``x``, that mean is near 0, off the data.
    ``step_fn(state, batch, key) -> (state, {"loss"})``; parameters ``{"predictor": ...}``.
    """
    _check_model(model)
    if not model.conditional or model.predictor_dim != model.y_dim:
        raise ValueError("the regression baseline needs a conditional model with predictor_dim == y_dim")

    def loss_fn(params, batch):
        pred = model.predict(params, batch["x"])
        return jnp.mean(jnp.sum(jnp.square(batch["y"] - pred), axis=-1))

    def step(state, batch, key):
        del key
        value, grads = jax.value_and_grad(loss_fn)(state.params, batch)
        return state.apply_gradients(grads=grads), {"loss": value}

    return step
