"""Misuse specs of the latent-variable EBMs, natural-image data, sample statistics, the MLP energy and the DAE.

Loaded by ``scripts/misuse_table.py``; the create_state specs of ``methods.lvebm``,
``methods.dae`` and ``methods.energy_mlp`` live there.
"""

from __future__ import annotations

import numpy as np

from scripts.misuse_table import _KERNEL, _TYPE, EXEMPT, MODULES, _key, _rng, _with, spec

MODULES.setdefault("lvebm", []).extend(["ebm_jax.lvebm.energies", "ebm_jax.lvebm.regularizers", "ebm_jax.lvebm.losses",
                                        "ebm_jax.methods.lvebm", "ebm_jax.eval.lvebm", "ebm_jax.data.lvebm"])
MODULES.setdefault("data", []).extend(["ebm_jax.data.patches", "ebm_jax.data.natural_images"])
MODULES.setdefault("eval", []).append("ebm_jax.eval.samples")
MODULES.setdefault("models", []).extend(["ebm_jax.models.energy_mlp", "ebm_jax.models.dae"])
MODULES.setdefault("methods", []).extend(["ebm_jax.methods.energy_mlp", "ebm_jax.methods.dae"])
EXEMPT.update({
    "ebm_jax.lvebm.energies": {"squared_norm": _KERNEL},
    "ebm_jax.methods.energy_mlp": {"EBMTrainState": _TYPE},
})

# ------------------------------------------------------------------------------------------- lvebm
from ebm_jax import lvebm  # noqa: E402
from ebm_jax.data import lvebm as dlv  # noqa: E402
from ebm_jax.eval import lvebm as elv  # noqa: E402
from ebm_jax.lvebm import energies as lven, losses as lvloss  # noqa: E402
from ebm_jax.methods import lvebm as mlv  # noqa: E402

F = "lvebm"
_M = {}


def _ell():
    """The unconditional ellipse model and its parameters."""
    if "ell" not in _M:
        model = lvebm.LatentEBM()
        _M["ell"] = model, model.init(_key(), radii=(2.0, 1.5))
    return _M["ell"]


def _horn():
    """A small conditional (horn) model and its parameters."""
    if "horn" not in _M:
        model = lvebm.LatentEBM(conditional=True, predictor_hidden=(4,))
        _M["horn"] = model, model.init(_key())
    return _M["horn"]


_y = lambda: _rng(20).standard_normal((4, 2)).astype(np.float32)  # noqa: E731
_x = lambda: _rng(21).random((4, 1)).astype(np.float32)  # noqa: E731
_f = lambda: _rng(22).random(4).astype(np.float32)  # noqa: E731
_grid = lambda: np.linspace(0, 6.0, 8, dtype=np.float32)[:, None]  # noqa: E731


def _nan(a):
    a = np.array(a, np.float32)
    a.flat[0] = np.nan
    return a


spec(F, lven.mlp_init, lambda: dict(key=_key(), sizes=(2, 3, 1)), {"key": "key", "scale": "posfloat"},
     [("one size", "sizes", _with(sizes=(2,))), ("zero width", "sizes[1]", _with(sizes=(2, 0, 1))),
      ("sizes as a string", "sizes", _with(sizes="23"))])
spec(F, lven.mlp_apply, lambda: dict(params=lven.mlp_init(_key(), (2, 3, 1)), h=_y()),
     {"h": "array", "params": "params", "activation": "callable"},
     [("wrong width", "h", lambda kw: {**kw, "h": np.zeros((4, 3), np.float32)}),
      ("no layers", "params", _with(params=[]))])
spec(F, lvebm.LatentEBM, lambda: dict(),
     {"decoder": "str", "latent_dim": "posint", "x_dim": "posint", "y_dim": "posint", "predictor_dim": "posint",
      "activation": "str", "conditioning": "str", "regularizer": "model"},
     [("zero-width predictor layer", "predictor_hidden", _with(conditional=True, predictor_hidden=(0,))),
      ("decoder_hidden as a number", "decoder_hidden", _with(decoder="mlp", decoder_hidden=32)),
      ("ellipse with latent_dim 2", "latent_dim", _with(latent_dim=2)),
      ("linear and conditional", "conditional", _with(decoder="linear", conditional=True)),
      ("scale with predictor_dim != y_dim", "predictor_dim",
       _with(decoder="mlp", conditional=True, conditioning="scale", predictor_dim=3))])
spec(F, lvebm.LatentEBM().init, lambda: dict(key=_key(), radii=(2.0, 1.5)), {"key": "key", "radii": "array"},
     [("one radius", "radii", _with(radii=(1.0,))), ("three radii", "radii", _with(radii=(1.0, 2.0, 3.0)))])
spec(F, lvebm.NoisyEnergy, lambda: dict(model=_ell()[0], num_draws=2, seed=0),
     {"model": "model", "num_draws": "posint", "seed": "seed"})
spec(F, lvebm.Regularizer, lambda: dict(kind="l1", weight=0.1),
     {"kind": "str", "weight": "nnfloat", "max_dim": "posint", "noise_std": "nnfloat"})
spec(F, lvloss.energy_loss, lambda: dict(f_pos=_f()), {"f_pos": "batch"},
     [("2-D f_pos", "f_pos", lambda kw: {**kw, "f_pos": kw["f_pos"][:, None]})])
spec(F, lvloss.hinge_loss, lambda: dict(f_pos=_f(), f_neg=_f(), margin=1.0),
     {"f_pos": "batch", "f_neg": "array", "margin": "nnfloat"},
     [("batch mismatch", "f_neg", lambda kw: {**kw, "f_neg": kw["f_neg"][:3]})])
spec(F, lvloss.log_loss, lambda: dict(f_pos=_f(), f_neg=_f()), {"f_pos": "batch", "f_neg": "array"},
     [("batch mismatch", "f_neg", lambda kw: {**kw, "f_neg": kw["f_neg"][:3]})])
spec(F, lvloss.lvebm_loss, lambda: dict(name="hinge", f_pos=_f(), f_neg=_f()),
     {"name": "str", "f_pos": "batch", "f_neg": "array", "margin": "nnfloat"},
     [("hinge without f_neg", "f_neg", _with(f_neg=None))])

spec(F, mlv.check_data, lambda: dict(model=_horn()[0], data={"x": _x(), "y": _y()}), {"model": "model"},
     [("not a dict", "data", _with(data=_y())),
      ("NaN in y", "y", lambda kw: {**kw, "data": {"x": _x(), "y": _nan(_y())}}),
      ("wrong y width", "y", lambda kw: {**kw, "data": {"x": _x(), "y": np.zeros((4, 3), np.float32)}}),
      ("x missing", "x", lambda kw: {**kw, "data": {"y": _y()}}),
      ("x and y lengths differ", "x", lambda kw: {**kw, "data": {"x": _x()[:3], "y": _y()}})])


spec(F, mlv.make_free_energy_fn, lambda: dict(model=_ell()[0], z_grid=_grid()),
     {"model": "model", "inference": "str", "z_grid": "batch", "beta": "posfloat", "num_starts": "posint",
      "inference_steps": "posint", "inference_lr": "posfloat", "inference_optimizer": "str", "z_low": "real",
      "z_high": "real"},
     [("grid without z_grid", "z_grid", _with(z_grid=None)),
      ("z_grid of width 2 for latent_dim 1", "z_grid", lambda kw: {**kw, "z_grid": np.zeros((8, 2), np.float32)}),
      ("beta with gradient inference", "beta", _with(inference="gradient", beta=1.0)),
      ("z range reversed", "z_high", _with(inference="gradient", z_low=1.0, z_high=0.0))])
spec(F, mlv.make_train_step, lambda: dict(model=_ell()[0], loss="hinge", z_grid=_grid()),
     {"model": "model", "loss": "str", "z_grid": "batch", "margin": "nnfloat", "num_negatives": "posint",
      "negative_std": "posfloat"},
     [("unknown inference keyword", "num_start", _with(num_start=3)),
      ("gradient inference with 0 steps", "inference_steps", _with(inference="gradient", inference_steps=0))])
spec(F, mlv.make_regression_step, lambda: dict(model=_horn()[0]), {"model": "model"},
     [("unconditional model", "model", _with(model=_ell()[0]))])

spec(F, elv.low_energy_fraction, lambda: dict(f_grid=_f(), f_data=_f(), epsilon=0.1),
     {"f_grid": "batch", "f_data": "batch", "epsilon": "nnfloat"})
spec(F, elv.contrast, lambda: dict(f_grid=_f(), f_data=_f()), {"f_grid": "batch", "f_data": "batch"})
spec(F, elv.distance_to_horn, lambda: dict(x=_x(), y=_y(), num_z=16), {"x": "batch", "y": "batch", "num_z": "posint"},
     [("y of width 3", "y", lambda kw: {**kw, "y": np.zeros((4, 3), np.float32)}),
      ("x of width 2", "x", lambda kw: {**kw, "x": np.zeros((4, 2), np.float32)}),
      ("x and y lengths differ", "x", lambda kw: {**kw, "x": kw["x"][:3]})])
spec(F, elv.model_free_energy,
     lambda: dict(model=_horn()[0], params=_horn()[1], x=_x(), y=_y(), starts=_grid()[:2], num_steps=2),
     {"model": "model", "params": "params", "x": "batch", "y": "batch", "starts": "batch", "num_steps": "posint",
      "learning_rate": "posfloat", "noise_draws": "posint"},
     [("params of another model", "params", lambda kw: {**kw, "params": _ell()[1]}),
      ("starts of width 2", "starts", lambda kw: {**kw, "starts": np.zeros((2, 2), np.float32)})])
spec(F, elv.horn_shape,
     lambda: dict(model=_horn()[0], params=_horn()[1], key=_key(), x_values=(0.1,), grid_size=3, num_data=4,
                  num_starts=1, num_steps=2),
     {"model": "model", "params": "params", "key": "key", "grid_size": "posint", "box_scale": "posfloat",
      "epsilon_rel": "posfloat", "num_data": "posint", "num_starts": "posint", "z_range": "posfloat",
      "num_steps": "posint", "learning_rate": "posfloat"},
     [("no slices", "x_values", _with(x_values=())), ("slice outside [0, 1]", "x_values[0]", _with(x_values=(2.0,))),
      ("unconditional model", "model", lambda kw: {**kw, "model": _ell()[0], "params": _ell()[1]}),
      ("extra with NaN", "extra", lambda kw: {**kw, "extra": (_x(), _nan(_y()))}),
      ("extra lengths differ", "extra", lambda kw: {**kw, "extra": (_x()[:3], _y())}),
      ("extra not a pair", "extra", _with(extra=3.0))])

spec(F, dlv.rho, lambda: dict(x=_x()), {"x": "array", "alpha": "posfloat", "beta": "posfloat"})
spec(F, dlv.sample_horn, lambda: dict(key=_key(), n=4),
     {"key": "key", "n": "posint", "noise_std": "nnfloat", "x_max": "posfloat", "alpha": "posfloat",
      "beta": "posfloat"},
     [("x_max above 1", "x_max", _with(x_max=2.0)), ("x not a number", "x", _with(x="0.5")),
      ("x NaN", "x", _with(x=float("nan")))])
spec(F, dlv.sample_ellipse, lambda: dict(key=_key(), n=4), {"key": "key", "n": "posint", "noise_std": "nnfloat"})
spec(F, dlv.course_z_grid, lambda: dict(), {"step": "posfloat"},
     [("step above 2 pi", "step", _with(step=7.0))])
spec(F, dlv.uniform_z_grid, lambda: dict(num=4), {"num": "posint", "low": "real", "high": "real"},
     [("range reversed", "high", _with(low=1.0, high=0.0))])
spec(F, dlv.box_grid, lambda: dict(num=3, half_widths=(1.0, 2.0)), {"num": "posint", "half_widths": "array",
                                                                    "center": "array"},
     [("one half-width", "half_widths", _with(half_widths=(1.0,))),
      ("negative half-width", "half_widths", _with(half_widths=(1.0, -2.0))),
      ("three centre coordinates", "center", _with(center=(0.0, 0.0, 0.0)))])

# ------------------------------------------------------------------------------------------- data
from ebm_jax.data import natural_images as dni, patches as dpat  # noqa: E402

F = "data"
_p = lambda: _rng(23).random((6, 16)).astype(np.float32)  # noqa: E731
_ims = lambda: [_rng(24).random((12, 10)).astype(np.float32), _rng(25).random((9, 11)).astype(np.float32)]  # noqa: E731

spec(F, dpat.load_grey_images, lambda: dict(), {})
spec(F, dpat.contrast_normalize, lambda: dict(patches=_p()), {"patches": "batch", "eps": "posfloat"},
     [("one-pixel patches", "patches", lambda kw: {**kw, "patches": kw["patches"][:, :1]})])
spec(F, dpat.zca_whitening, lambda: dict(patches=_p()), {"patches": "batch", "eps": "posfloat"},
     [("one patch", "patches", lambda kw: {**kw, "patches": kw["patches"][:1]}),
      ("rank-deficient patches, eps 1e-30", "eps",
       lambda kw: {**kw, "patches": dpat.contrast_normalize(kw["patches"]), "eps": 1e-30}),
      ("1-D patches", "patches", lambda kw: {**kw, "patches": kw["patches"][0]})])
spec(F, dpat.extract_patches, lambda: dict(num_patches=6, patch_size=4), {"num_patches": "posint",
                                                                            "patch_size": "posint", "seed": "seed",
                                                                            "eps": "posfloat"},
     [("patch_size 1", "patch_size", _with(patch_size=1)), ("patch_size 100", "patch_size", _with(patch_size=100)),
      ("whitening one patch", "num_patches", _with(num_patches=1, whiten=True))])
spec(F, dni.package_available, lambda: dict(source="sklearn"), {"source": "str"})
spec(F, dni.load_image, lambda: dict(spec="sklearn:china"), {"spec": "str", "grey_weights": "array"},
     [("unknown source", "spec", _with(spec="nosuch:china")),
      ("unknown sklearn image", "spec", _with(spec="sklearn:x")),
      # a name in an optional package's collection is checked where the package is installed;
      # without it, load_image says which package to install (an ImportError)
      *[(f"unknown {source} image", "spec", _with(spec=f"{source}:nosuch"))
        for source in ("skimage", "sporco") if dni.package_available(source)],
      ("two weights", "grey_weights", _with(grey_weights=(0.5, 0.5))),
      ("all-zero weights", "grey_weights", _with(grey_weights=(0.0, 0.0, 0.0)))])
spec(F, dni.center_crop, lambda: dict(img=_ims()[0], size=4), {"img": "array", "size": "count"},
     [("crop larger than the image", "size", _with(size=20)),
      ("3-D image", "img", lambda kw: {**kw, "img": np.stack([kw["img"]] * 2)})])
spec(F, dni.load_images, lambda: dict(specs=["sklearn:china"], crop=8), {"crop": "count"},
     [("empty list", "specs", _with(specs=[])), ("a string", "specs", _with(specs="sklearn:china")),
      ("None", "specs", _with(specs=None)), ("crop larger than the image", "crop", _with(crop=5000))])
spec(F, dni.highpass, lambda: dict(images=_ims()[0], sigma=1.0), {"images": "array", "sigma": "posfloat"},
     [("1-D images", "images", lambda kw: {**kw, "images": kw["images"][0]})])
spec(F, dni.random_crops, lambda: dict(images=_ims(), num=3, size=4),
     {"num": "posint", "size": "posint", "seed": "seed"},
     [("empty list", "images", _with(images=[])), ("None", "images", _with(images=None)),
      ("a 1-D image", "images", lambda kw: {**kw, "images": [kw["images"][0][0]]}),
      ("NaN in an image", "images", lambda kw: {**kw, "images": [_nan(kw["images"][0])]}),
      ("crop larger than an image", "size", _with(size=10))])
spec(F, dni.synthetic_images, lambda: dict(num=2, size=8), {"num": "posint", "size": "posint", "seed": "seed"})
spec(F, dni.tile_patches, lambda: dict(images=np.stack(_ims()[:1]), patch_size=4),
     {"images": "batch", "patch_size": "posint"},
     [("patch larger than the image", "patch_size", _with(patch_size=20)),
      ("2-D images", "images", lambda kw: {**kw, "images": kw["images"][0]})])

# ------------------------------------------------------------------------------------------- eval
from ebm_jax.eval import samples as esam  # noqa: E402

spec("eval", esam.sample_energy_statistics, lambda: dict(e_samples=_f(), e_data=_f()),
     {"e_samples": "batch", "e_data": "batch"})

# ------------------------------------------------------------------------------------------- models / methods
import optax  # noqa: E402

from ebm_jax.methods import dae as mdae, energy_mlp as menergy  # noqa: E402
from ebm_jax.models import dae as dae_models, energy_mlp as energy_models  # noqa: E402

F = "models"
_M2 = {}


def _dae():
    if "dae" not in _M2:
        model = dae_models.DAE(hidden=(8,), latent=4, out_dim=6)
        _M2["dae"] = model, mdae.create_state(_key(), model, optax.adam(1e-3), dim=6).params
    return _M2["dae"]


_u6 = lambda: _rng(26).random((4, 6)).astype(np.float32)  # noqa: E731

spec(F, energy_models.EnergyMLP, lambda: dict(hidden=(8,)), {"prior_scale": "nnfloat"},
     [("zero-width layer", "hidden[0]", _with(hidden=(0,))), ("hidden as a string", "hidden", _with(hidden="8"))])
spec(F, energy_models.energy_fn_of, lambda: dict(model=energy_models.EnergyMLP(hidden=(8,))), {"model": "model"})
spec(F, dae_models.DAE, lambda: dict(hidden=(8,), latent=4, out_dim=6), {"latent": "posint", "out_dim": "posint"},
     [("zero-width layer", "hidden[0]", _with(hidden=(0,))), ("hidden as a string", "hidden", _with(hidden="8"))])
spec(F, dae_models.output_to_reconstruction, lambda: dict(out=_u6(), loss="bce"), {"out": "array", "loss": "str"})
for _fn in (dae_models.reconstruct, dae_models.reconstruction_energy):
    spec(F, _fn, lambda: dict(model=_dae()[0], params=_dae()[1], x=_u6(), loss="mse"),
         {"model": "model", "params": "params", "x": "batch", "loss": "str"},
         [("wrong width", "x", lambda kw: {**kw, "x": kw["x"][:, :5]}),
          ("params of another model", "params",
           lambda kw: {**kw, "params": mdae.create_state(_key(), dae_models.DAE(hidden=(8,), latent=3, out_dim=6),
                                                         optax.adam(1e-3), dim=6).params})])

F = "methods"
spec(F, mdae.reconstruction_loss, lambda: dict(out=_u6(), target=_u6(), loss="bce"),
     {"out": "batch", "target": "batch", "loss": "str"},
     [("shape mismatch", "target", lambda kw: {**kw, "target": kw["target"][:, :1]}),
      ("bce target above 1", "target", lambda kw: {**kw, "target": kw["target"] + 1.0})])
spec(F, mdae.make_train_step, lambda: dict(model=_dae()[0], kind="masking", level=0.2),
     {"model": "model", "kind": "str", "level": "prob", "loss": "str"})
spec(F, menergy.make_train_step,
     lambda: dict(model=energy_models.EnergyMLP(hidden=(8,)), method="cd", k=1, step_size=0.1),
     {"model": "model", "method": "str", "k": "posint", "step_size": "posfloat", "alpha": "nnfloat"})
