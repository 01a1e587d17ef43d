"""Optimizers from configs, in one place: ``make_optimizer(...)`` -> ``optax.GradientTransformation``.

Every method builds its optimizer here, so the checks (learning rate finite
and > 0, momentum in [0, 1), weight decay finite and >= 0) and the schedules
are the same everywhere::

    tx = make_optimizer("adam", 1e-3, schedule="cosine", total_steps=steps)
    tx = make_optimizer("sgd", 0.05, momentum=0.9, weight_decay=1e-4, schedule="linear",
                        total_steps=steps, decay_mask=lambda p: {"W": True, "b": False})

Schedules: ``"constant"``; ``"cosine"`` (cosine decay to 0 over ``total_steps``);
``"linear"`` (linear decay to 0); ``"warmup_cosine"`` (linear warm-up over
``warmup_steps``, then cosine decay to 0).
"""

from __future__ import annotations

from typing import Any, Callable

import optax

from ebm_jax import checks

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "linear", "warmup_cosine")


def make_schedule(learning_rate, schedule: str = "constant", *, total_steps: int | None = None,
                  warmup_steps: int = 0) -> optax.Schedule | float:
    """A learning-rate schedule (or the constant rate) after checking its arguments."""
    learning_rate = checks.positive_float(learning_rate, "learning_rate")
    checks.one_of(schedule, "schedule", SCHEDULES)
    if schedule == "constant":
        return learning_rate
    total_steps = checks.positive_int(total_steps, "total_steps")
    if schedule == "cosine":
        return optax.cosine_decay_schedule(learning_rate, total_steps)
    if schedule == "linear":
        return optax.linear_schedule(learning_rate, 0.0, total_steps)
    warmup_steps = checks.integer(warmup_steps, "warmup_steps", ge=0, lt=total_steps)
    return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps)


def make_optimizer(name: str, learning_rate, *, schedule: str = "constant", total_steps: int | None = None,
                   warmup_steps: int = 0, momentum=0.0, b1=0.9, b2=0.999, weight_decay=0.0,
                   decay_mask: Any | Callable | None = None) -> optax.GradientTransformation:
    """``adam``, ``adamw`` (decoupled weight decay) or ``sgd`` (optional momentum, L2 weight decay).

    ``weight_decay`` for ``sgd`` adds ``weight_decay * params`` to the gradient
    (on the leaves ``decay_mask`` selects, default all); for ``adamw`` it is
    the decoupled decay; ``adam`` refuses a non-zero one (use ``adamw``).
    """
    checks.one_of(name, "name (the optimizer)", OPTIMIZERS)
    lr = make_schedule(learning_rate, schedule, total_steps=total_steps, warmup_steps=warmup_steps)
    momentum = checks.real(momentum, "momentum", ge=0, lt=1)
    weight_decay = checks.nonnegative_float(weight_decay, "weight_decay")
    b1 = checks.real(b1, "b1", ge=0, lt=1)
    b2 = checks.real(b2, "b2", ge=0, lt=1)
    if name == "adam":
        if weight_decay:
            raise ValueError("weight_decay needs optimizer 'adamw' or 'sgd', not 'adam'")
        return optax.adam(lr, b1=b1, b2=b2)
    if name == "adamw":
        return optax.adamw(lr, b1=b1, b2=b2, weight_decay=weight_decay, mask=decay_mask)
    parts = []
    if weight_decay:
        parts.append(optax.add_decayed_weights(weight_decay, mask=decay_mask))
    parts.append(optax.sgd(lr, momentum=momentum or None))
    return optax.chain(*parts)
