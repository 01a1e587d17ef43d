"""Misuse specs of the frozen-representation probes (eval.probe), the RBM method and the seeds helpers.

Loaded by ``scripts/misuse_table.py``.
"""

from __future__ import annotations

import numpy as np

from scripts.misuse_table import _TYPE, EXEMPT, MODULES, _key, _rng, _with, spec

MODULES.setdefault("eval", []).append("ebm_jax.eval.probe")
MODULES.setdefault("methods", []).append("ebm_jax.methods.rbm")
MODULES.setdefault("train", []).append("ebm_jax.train.seeds")
EXEMPT.update({
    "ebm_jax.methods.rbm": {"RBMTrainState": _TYPE},
    "ebm_jax.train.seeds": {"validate_seeded": "a check itself (tested in test_seeds)",
                            "validate_num_seeds": "a check itself (tested in test_seeds)"},
})

# ------------------------------------------------------------------------------------------- eval.probe
from ebm_jax.eval import probe  # noqa: E402

F = "eval"
_feats = lambda n=40, seed=30: _rng(seed).standard_normal((n, 5)).astype(np.float32)  # noqa: E731
_labels = lambda n=40: np.arange(n) % 10  # noqa: E731
_images = lambda n=20: _rng(31).random((n, 28, 28)).astype(np.float32)  # noqa: E731
_bad_labels = [("label = num_classes", "train_y", _with(train_y=np.full(40, 10))),
               ("negative label", "train_y", _with(train_y=-np.ones(40, int))),
               ("fractional labels", "train_y", _with(train_y=np.full(40, 0.5))),
               ("labels one short", "train_y", _with(train_y=_labels(39))),
               ("2-D labels", "train_y", _with(train_y=_labels().reshape(20, 2))),
               ("test label = num_classes", "test_y", _with(test_y=np.full(20, 10)))]
spec(F, probe.linear_probe,
     lambda: dict(train_x=_feats(), train_y=_labels(), test_x=_feats(20, 32), test_y=_labels(20), max_iter=3),
     {"train_x": "batch", "train_y": "array", "test_x": "batch", "test_y": "array", "l2": "nnfloat",
      "max_iter": "posint", "num_classes": "posint"},
     _bad_labels + [("one class", "num_classes", _with(num_classes=1)),
                    ("feature widths differ", "test_x", _with(test_x=_feats(20, 32)[:, :3]))])
spec(F, probe.extract_features, lambda: dict(fn=lambda b: b.reshape(len(b), -1)[:, :4], images=_images(), batch_size=8),
     {"fn": "callable", "images": "image01", "batch_size": "posint"},
     [("fn returns one number per batch", "fn", _with(fn=lambda b: b.sum())),
      ("fn returns the wrong number of rows", "fn", _with(fn=lambda b: b.reshape(len(b), -1)[:2]))])
spec(F, probe.accuracy, lambda: dict(predict=lambda b: (b.reshape(len(b), -1)[:, 0] * 10).astype(int), images=_images(),
                                     labels=_labels(20), batch_size=8),
     {"predict": "callable", "images": "image01", "labels": "array", "batch_size": "posint"},
     [("labels one short", "labels", _with(labels=_labels(19))),
      ("predict returns scores, not one class per image", "predict", _with(predict=lambda b: b.reshape(len(b), -1)))])
spec(F, probe.per_class_subset, lambda: dict(labels=_labels(), per_class=2, seed=0),
     {"labels": "array", "per_class": "posint", "seed": "seed"},
     [("more per class than a class has", "per_class", _with(per_class=5)),
      ("empty labels", "labels", _with(labels=np.zeros(0, int)))])
spec(F, probe.subset_seed, lambda: dict(seed=0, per_class=2), {"seed": "seed", "per_class": "posint"})
spec(F, probe.check_label_counts, lambda: dict(labels=_labels(), label_counts=(2,)), {"labels": "array"},
     [("count 0", "label_counts", _with(label_counts=(0,))), ("count -1", "label_counts", _with(label_counts=(-1,))),
      ("count 2.5", "label_counts", _with(label_counts=(2.5,))),
      ("count True", "label_counts", _with(label_counts=(True,))),
      ("counts None", "label_counts", _with(label_counts=None)),
      ("more than the smallest class", "label_counts", _with(label_counts=(5,)))])
spec(F, probe.label_efficiency,
     lambda: dict(train_features=_feats(), train_labels=_labels(), test_features=_feats(20, 32),
                  test_labels=_labels(20), label_counts=(2,), num_seeds=1, l2=1e-4, max_iter=3),
     {"train_features": "batch", "train_labels": "array", "test_features": "batch", "test_labels": "array",
      "num_seeds": "posint", "l2": "nnfloat", "max_iter": "posint"},
     [("count 0", "label_counts", _with(label_counts=(0,))),
      ("supervised not callable", "supervised", _with(supervised=3.0))])
spec(F, probe.train_supervised,
     lambda: dict(train_x=_images(), train_y=_labels(20), steps=1, batch_size=4, learning_rate=1e-3, seed=0,
                  widths=(2, 2, 2), rep_dim=4),
     {"train_x": "image01", "train_y": "array", "steps": "posint", "batch_size": "posint",
      "learning_rate": "posfloat", "seed": "seed", "conv": "str", "rep_dim": "posint", "weight_decay": "nnfloat"},
     [("labels one short", "train_y", _with(train_y=_labels(19))),
      ("label 10", "train_y", _with(train_y=np.full(20, 10))),
      ("a width of 0", "widths", _with(widths=(2, 0, 2))),
      ("augmentation not an AugmentConfig", "aug", _with(aug="flip"))])

# ------------------------------------------------------------------------------------------- methods.rbm
import optax  # noqa: E402

from ebm_jax.methods import rbm as mrbm  # noqa: E402

F = "methods"
spec(F, mrbm.create_state, lambda: dict(key=_key(), tx=optax.sgd(0.1), num_visible=6, num_hidden=4),
     {"key": "key", "tx": "model", "num_visible": "posint", "num_hidden": "posint", "init_scale": "nnfloat"},
     [("grey chains", "chains", _with(chains=np.full((3, 6), 0.5, np.float32))),
      ("chains of the wrong width", "chains", _with(chains=np.zeros((3, 5), np.float32))),
      ("data_mean of the wrong width", "data_mean", _with(data_mean=np.full(5, 0.5, np.float32))),
      ("data_mean above 1", "data_mean", _with(data_mean=np.full(6, 2.0, np.float32)))])
spec(F, mrbm.make_train_step, lambda: dict(method="cd", k=1), {"method": "str", "k": "posint"},
     [("k huge", "k", _with(k=10**9))])

# ------------------------------------------------------------------------------------------- train.seeds
from ebm_jax.train import seeds  # noqa: E402

F = "train"
_tree = lambda v=0.0: {"w": np.full(3, v, np.float32), "b": np.float32(v)}  # noqa: E731
spec(F, seeds.seed_keys, lambda: dict(seed=0, num_seeds=2), {"seed": "seed", "num_seeds": "posint"},
     [("unknown PRNG implementation", "impl", _with(impl="nosuch"))])
spec(F, seeds.stack, lambda: dict(states=[_tree(0.0), _tree(1.0)]), {},
     [("no states", "states", _with(states=[])), ("states None", "states", _with(states=None)),
      ("different structures", "states", _with(states=[_tree(), {"w": np.zeros(3, np.float32)}])),
      ("different shapes", "states", _with(states=[_tree(), {"w": np.zeros(4, np.float32), "b": np.float32(0)}]))])
spec(F, seeds.init, lambda: dict(create_state=lambda k: _tree(), keys=seeds.seed_keys(0, 2)),
     {"create_state": "callable", "keys": "key"})
spec(F, seeds.unstack, lambda: dict(state=seeds.stack([_tree(0.0), _tree(1.0)]), index=1),
     {"index": "nnint"},
     [("index past the last replica", "index", _with(index=2)), ("state None", "state", _with(state=None)),
      ("a state without a seed axis", "state", _with(state={"b": np.float32(0)}))])
spec(F, seeds.num_replicas, lambda: dict(state=seeds.stack([_tree(0.0), _tree(1.0)])), {},
     [("state None", "state", _with(state=None)), ("scalar leaves", "state", _with(state={"b": np.float32(0)}))])
spec(F, seeds.summarize, lambda: dict(per_seed={"nll": [90.0, 92.0]}), {},
     [("no seeds", "per_seed", _with(per_seed=[])), ("no values", "per_seed", _with(per_seed={"nll": []})),
      ("a string value", "per_seed", _with(per_seed={"nll": ["x", "y"]})),
      ("a name that is not a string", "per_seed", _with(per_seed={3: [1.0]})),
      ("seeds with different names", "per_seed", _with(per_seed=[{"a": 1.0}, {"b": 2.0}])),
      ("per_seed None", "per_seed", _with(per_seed=None))])
spec(F, seeds.flatten_metric, lambda: dict(name="loss", value=np.array([1.0, 2.0])), {},
     [("name an int", "name", _with(name=3)), ("value None", "value", _with(value=None)), ("value a string", "value", _with(value="x")),
      ("no values", "value", _with(value=np.zeros(0))), ("a 2-D value", "value", _with(value=np.zeros((2, 2)))),
      ("complex value", "value", _with(value=np.array([1j])))])

# ------------------------------------------------------------------------------------------- methods.ssl
from ebm_jax.data.augment import AugmentConfig  # noqa: E402
from ebm_jax.methods import ssl as mssl  # noqa: E402
from ebm_jax.models import ssl as ssl_models  # noqa: E402

MODULES["methods"].append("ebm_jax.methods.ssl")
EXEMPT["ebm_jax.methods.ssl"] = {
    "SimCLRState": _TYPE, "MoCoState": _TYPE, "PIRLState": _TYPE,
    "enqueue": "a kernel of the MoCo step (its queue/batch check is tested in test_ssl)",
    "pirl_loss": "a kernel of the PIRL step, over the info_nce of the losses table",
}
F = "methods"
_ssl_model = lambda: ssl_models.SSLNet(widths=(4,), rep_dim=8, proj_hidden=8, proj_dim=4)  # noqa: E731
_ssl_images = lambda n=8: _rng(40).random((n, 8, 8)).astype(np.float32)  # noqa: E731
_params = lambda: {"w": np.ones(3, np.float32)}  # noqa: E731
spec(F, mssl.keys_per_step, lambda: dict(batch_size=4, symmetric=True), {"batch_size": "posint"})
spec(F, mssl.create_moco_state, lambda: dict(model=_ssl_model(), tx=optax.adam(1e-3), rng=_key(), queue_size=16,
                                             batch_size=4, image_shape=(8, 8)),
     {"model": "model", "tx": "model", "rng": "key", "queue_size": "posint", "batch_size": "posint"},
     [("queue not a multiple of the keys per step", "queue_size", _with(queue_size=12))])
spec(F, mssl.create_pirl_state, lambda: dict(model=_ssl_model(), tx=optax.adam(1e-3), rng=_key(), num_examples=8,
                                             image_shape=(8, 8)),
     {"model": "model", "tx": "model", "rng": "key", "num_examples": "posint"})
spec(F, mssl.init_bank_from_embeddings,
     lambda: dict(state=mssl.create_pirl_state(_ssl_model(), optax.adam(1e-3), _key(), num_examples=8,
                                               image_shape=(8, 8)), images=_ssl_images(), batch_size=4),
     {"images": "image01", "batch_size": "posint"},
     [("state None", "state", _with(state=None)), ("one image short", "images", _with(images=_ssl_images(7)))])
spec(F, mssl.ema_update, lambda: dict(target=_params(), online=_params(), momentum=0.9), {"momentum": "prob"},
     [("online of another structure", "online", _with(online={"v": np.ones(3, np.float32)}))])
spec(F, mssl.make_simclr_step, lambda: dict(aug=AugmentConfig(), temperature=0.5), {"temperature": "posfloat"},
     [("aug a string", "aug", _with(aug="flip"))])
spec(F, mssl.make_moco_step, lambda: dict(aug=AugmentConfig(), temperature=0.2, momentum=0.9),
     {"temperature": "posfloat", "momentum": "prob"}, [("momentum 1", "momentum", _with(momentum=1.0))])
spec(F, mssl.make_pirl_step, lambda: dict(aug=AugmentConfig(), temperature=0.2, num_negatives=8),
     {"temperature": "posfloat", "bank_momentum": "prob", "num_negatives": "posint", "lam": "prob", "grid": "posint"},
     [("grid 1", "grid", _with(grid=1))])
spec(F, mssl.warmup_steps_for, lambda: dict(total_steps=50), {"total_steps": "posint"})
spec(F, mssl.create_state, lambda: dict(key=_key(), method="simclr", model=_ssl_model(), learning_rate=1e-3,
                                        total_steps=10, image_shape=(8, 8)),
     {"key": "key", "method": "str", "model": "model", "learning_rate": "posfloat", "total_steps": "posint",
      "weight_decay": "nnfloat"},
     [("moco without batch_size", "batch_size", _with(method="moco")),
      ("pirl without num_examples", "num_examples", _with(method="pirl")),
      ("warmup as long as the run", "warmup_steps", _with(warmup_steps=10))])
spec(F, mssl.make_train_step, lambda: dict(method="simclr", temperature=0.5),
     {"method": "str", "temperature": "posfloat", "momentum": "prob", "bank_momentum": "prob",
      "num_negatives": "posint", "lam": "prob"})
