"""The staged LISTA recipe's keys and rules, shared by ``lista.py`` (under ``layerwise``) and ``lista_synthetic.py``.

recipe "layerwise" (default): the greedy layer stages, then all layers jointly. recipe "staged":
LISTA-CPSS / ALISTA's ``utils/train.py`` (:func:`ebm_jax.methods.lista.train_staged`): per new
layer, Adam at ``learning_rate · stage_lr_factors[0]`` on the new layer alone, then at the later
factors on all layers so far (layer j's step times its multiplier, which is multiplied by
``layer_lr_decay`` after every layer); each stage ends when the validation NMSE of the new layer
(every ``val_every`` steps, on ``num_val`` fixed examples) has not improved for more than
``patience`` steps, or after ``max_stage_steps``. The defaults are the authors' values: batch 64,
5e-4, (1, 0.2, 0.02), 0.3, val_every 10, patience 4000, at most 200,000 steps, 1,000 validation
examples.
"""

import ml_collections

from ebm_jax import checks

RECIPES = ("layerwise", "staged")


def staged_config(variant: str | None = None) -> ml_collections.ConfigDict:
    """The ``staged`` sub-config: the authors' values, or seconds-long ones for ``variant="smoke"``."""
    c = ml_collections.ConfigDict()
    c.batch_size = 64
    c.learning_rate = 5e-4
    c.stage_lr_factors = (1.0, 0.2, 0.02)
    c.layer_lr_decay = 0.3
    c.val_every = 10
    c.patience = 4000
    c.max_stage_steps = 200000
    c.num_val = 1000
    if variant == "smoke":
        c.update(num_val=32, patience=20, max_stage_steps=40)
    return c


def rules(prefix: str = "") -> dict:
    """The rules of the recipe keys (``recipe``, support selection, fine-tuning, ``staged.*``) under ``prefix``."""
    return {f"{prefix}{key}": rule for key, rule in {
        "recipe": checks.OneOf(*RECIPES),
        "support_percent": checks.Float(ge=0, le=100),
        "support_max_percent": checks.Float(ge=0, le=100),
        "finetune_epochs": checks.Int(ge=0),
        "finetune_lr": checks.Float(gt=0),
        "finetune_loss": checks.OneOf("last", "all_layers_db"),
        "staged.batch_size": checks.Int(ge=1),
        "staged.learning_rate": checks.Float(gt=0),
        "staged.stage_lr_factors": checks.TupleOf(checks.Float(gt=0)),
        "staged.layer_lr_decay": checks.Float(gt=0, le=1),
        "staged.val_every": checks.Int(ge=1),
        "staged.patience": checks.Int(ge=0),
        "staged.max_stage_steps": checks.Int(ge=1),
        "staged.num_val": checks.Int(ge=1),
    }.items()}
