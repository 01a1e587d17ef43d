"""The misuse table of convolutional sparse coding, LISTA training, filter statistics and denoising.

Loaded by ``scripts/misuse_table.py``: adds the modules of :mod:`ebm_jax.sparse.conv`,
:mod:`ebm_jax.sparse.conv_lista`, :mod:`ebm_jax.sparse.conv_ops` (family "sparse"),
:mod:`ebm_jax.methods.conv_sparse`, :mod:`ebm_jax.methods.lista` ("methods"),
:mod:`ebm_jax.eval.filters` and :mod:`ebm_jax.eval.denoising` ("eval") to the survey.
"""

from __future__ import annotations

import functools

import numpy as np
import optax

from scripts.misuse_survey import MUTATIONS, Spec
from scripts.misuse_table import EXEMPT, MODULES, SPECS, _KERNEL, _TYPE, _key, _rng, _with, spec
from ebm_jax.eval import denoising as eden, filters as efilt
from ebm_jax.methods import conv_sparse as mconv, lista as mlista
from ebm_jax.sparse import conv as sconv, conv_lista as sclista, lista as slista

MODULES.setdefault("sparse", []).extend(["ebm_jax.sparse.conv", "ebm_jax.sparse.conv_lista", "ebm_jax.sparse.conv_ops"])
MODULES.setdefault("methods", []).extend(["ebm_jax.methods.conv_sparse", "ebm_jax.methods.lista"])
MODULES.setdefault("eval", []).extend(["ebm_jax.eval.filters", "ebm_jax.eval.denoising"])

_CHECK = "a check itself, exercised through conv_sparse_code and conv_objective (in the table)"
EXEMPT.update({
    "ebm_jax.sparse.conv": {"check_filters": _CHECK, "check_images": _CHECK, "check_problem": _CHECK,
                            "check_codes": _CHECK,
                            "check_image_shape": "a check itself, exercised through init_from_dictionary and "
                                                 "methods.conv_sparse.create_state (in the table)"},
    "ebm_jax.sparse.conv_lista": {"check_params": "a check itself, exercised through encode and "
                                                  "eval.denoising.encoder_denoise (in the table)"},
    "ebm_jax.sparse.conv_ops": {n: _KERNEL for n in ("fft_shape", "rfft2", "irfft2", "filters_fft", "synthesis_f",
                                                     "reconstruct", "adjoint", "lipschitz_bound")},
    "ebm_jax.methods.lista": {"ListaFit": _TYPE, "StagedFit": _TYPE},
})


def _img(n=2, size=8, seed=20):
    return _rng(seed).random((n, size, size)).astype(np.float32)


def _filt(seed=21):
    return _rng(seed).standard_normal((2, 3, 3)).astype(np.float32)


def _zc(seed=22):
    return _rng(seed).standard_normal((2, 2, 8, 8)).astype(np.float32)


def _optional(arg, kind, valid=None):
    """The cases of ``kind`` for an argument where None is valid (it means a default); the mutations start
    from ``valid()`` where the valid call leaves the argument out."""
    return [(label, arg, lambda kw, m=mutate: {**kw, arg: m(kw[arg] if valid is None else valid())})
            for label, mutate in MUTATIONS[kind] if label != "None"]


def _zero_filter(kw):
    D = np.array(kw["D"], copy=True)
    D[1] = 0.0
    return {**kw, "D": D}


# ------------------------------------------------------------------------------------------- sparse
F = "sparse"
_big_filters = ("filters larger than the images", "D", _with(D=_rng(23).standard_normal((2, 9, 9)).astype(np.float32)))
spec(F, sconv.conv_objective, lambda: dict(s=_img(), D=_filt(), z=_zc(), lam=0.1),
     {"s": "batch", "D": "array", "z": "array", "lam": "nnfloat", "boundary": "str"},
     [("codes of the wrong shape", "z", lambda kw: {**kw, "z": kw["z"][:, :1]}),
      ("lam of the wrong length", "lam", _with(lam=np.full(3, 0.1, np.float32))),
      ("a zero filter", "D", _zero_filter), _big_filters])
spec(F, sconv.conv_reconstruct, lambda: dict(z=_zc(), D=_filt()), {"z": "batch", "D": "array", "boundary": "str"},
     [("fewer code maps than filters", "z", lambda kw: {**kw, "z": kw["z"][:, :1]}),
      ("2-D filters", "D", lambda kw: {**kw, "D": kw["D"][0]}),
      ("filters larger than the code maps", "D", _big_filters[2])])
# conv_sparse_code's arguments beyond those of scripts/misuse_table.py (s, D, lam, num_iters, boundary, flags)
SPECS.append(Spec(
    fn=sconv.conv_sparse_code, family=F,
    args=lambda: dict(s=_img(), D=_filt(), lam=0.1, num_iters=3),
    kinds={"tol": "nnfloat", "method": "str", "step": "posfloat", "rho": "posfloat",
           "relax": "posfloat", "adapt_rho": "nnint", "rho_period": "posint", "check_every": "posint",
           "filters": "str"},
    extra=[("step 100/L (fista)", "step", _with(method="fista", step=100.0)),
           ("step 100/L (ista, tol)", "step", _with(method="ista", step=100.0, tol=1e-3, num_iters=50)),
           ("relax 2", "relax", _with(relax=2.0)),
           ("admm with the zero boundary", "method", _with(method="admm", boundary="zero")),
           ("record with tol", "record", _with(record=True, tol=1e-3)),
           ("an integer dtype", "dtype", _with(dtype="int32")),
           ("z0 of the wrong shape", "z0", lambda kw: {**kw, "z0": np.zeros((2, 3, 8, 8), np.float32)}),
           ("lam of the wrong length", "lam", _with(lam=np.full(3, 0.1, np.float32))),
           ("a negative lam per image", "lam", _with(lam=np.array([0.1, -0.1], np.float32))),
           ("a zero filter", "D", _zero_filter), _big_filters,
           ("1-D images", "s", lambda kw: {**kw, "s": kw["s"][0, 0]}),
           ("rho 1e-44 (lam/rho overflows)", "rho", _with(rho=1e-44, num_iters=20)),
           ("stall_window 0", "stall_window", _with(stall_window=0, tol=1e-3))]
    + _optional("z0", "array", _zc)))
spec(F, sclista.init_from_dictionary, lambda: dict(D=_filt(), lam=0.1, image_shape=(8, 8)),
     {"D": "array", "lam": "nnfloat", "boundary": "str"},
     [("a zero filter", "D", _zero_filter), ("2-D filters", "D", lambda kw: {**kw, "D": kw["D"][0]}),
      ("image smaller than the filters", "image_shape", _with(image_shape=(2, 2))),
      ("zero-size image", "image_shape", _with(image_shape=(0, 8))),
      ("image_shape a string", "image_shape", _with(image_shape="88")),
      ("image_shape of length 3", "image_shape", _with(image_shape=(8, 8, 8)))])
_ENC = {}


def _enc():
    if not _ENC:
        _ENC["p"] = sclista.init_from_dictionary(_filt(), 0.1, image_shape=(8, 8))
    return dict(_ENC["p"])


spec(F, sclista.encode, lambda: dict(params=_enc(), s=_img(), num_layers=2),
     {"params": "params", "s": "batch", "num_layers": "posint", "boundary": "str"},
     [("params without a decoder", "params", lambda kw: {**kw, "params": {k: v for k, v in kw["params"].items()
                                                                        if k != "decoder"}}),
      ("threshold of the wrong length", "threshold",
       lambda kw: {**kw, "params": {**kw["params"], "threshold": np.full(3, 0.1, np.float32)}}),
      ("2-D images", "s", lambda kw: {**kw, "s": kw["s"][0]}),
      ("filters larger than the images", "s", lambda kw: {**kw, "s": _img(size=2)})])

# ------------------------------------------------------------------------------------------- methods
F = "methods"
spec(F, mconv.normalize_filters, lambda: dict(D=_filt()), {"D": "array"},
     [("2-D filters", "D", lambda kw: {**kw, "D": kw["D"][0]})])
spec(F, mconv.init_filters, lambda: dict(key=_key(), num_filters=2, filter_size=3, images=_img()),
     {"key": "key", "num_filters": "posint", "filter_size": "posint"},
     [("filters larger than the images", "filter_size", _with(filter_size=9))] + _optional("images", "batch"))
_cs_state = lambda: dict(key=_key(), tx=optax.adam(1e-2), num_filters=2, filter_size=3,  # noqa: E731
                         image_shape=(8, 8), lam=0.1, encoder_layers=1, images=_img())
spec(F, mconv.create_state, _cs_state,
     {"key": "key", "tx": "model", "num_filters": "posint", "filter_size": "posint", "lam": "nnfloat",
      "encoder_layers": "nnint", "boundary": "str"},
     _optional("images", "batch") + [("zero-size image", "image_shape", _with(image_shape=(0, 8))),
      ("image_shape a string", "image_shape", _with(image_shape="88")),
      ("images not of image_shape", "images", _with(images=_img(size=10)))])
spec(F, mconv.make_train_step, lambda: dict(lam=0.1),
     {"lam": "nnfloat", "inference_iters": "posint", "encoder_layers": "nnint", "encoder_weight": "nnfloat",
      "boundary": "str"})
_CS = {}


def _cs_params():
    if not _CS:
        _CS["p"] = mconv.create_state(**_cs_state()).params
    return dict(_CS["p"])


spec(F, mconv.evaluate, lambda: dict(params=_cs_params(), images=_img(), lam=0.1, encoder_layers=1, max_iters=5),
     {"params": "params", "images": "batch", "lam": "nnfloat", "boundary": "str", "tol": "nnfloat",
      "encoder_layers": "nnint", "max_iters": "posint"},
     [("params without D", "params", lambda kw: {**kw, "params": {"encoder": kw["params"]["encoder"]}}),
      ("an encoder asked for but absent", "encoder_layers",
       lambda kw: {**kw, "params": {"D": kw["params"]["D"]}}),
      ("all-zero images", "images", lambda kw: {**kw, "images": np.zeros_like(kw["images"])})])
spec(F, mconv.scale_encoder_updates, lambda: dict(max_scale=1.0), {"max_scale": "posfloat"})

# LISTA: module-level training and the unrolled (untied / ALISTA) networks
_x = lambda: _rng(24).standard_normal((6, 8)).astype(np.float32)  # noqa: E731
_z = lambda: _rng(25).standard_normal((6, 12)).astype(np.float32)  # noqa: E731
_CTX = {}


def _D():
    D = _rng(1).standard_normal((8, 12)).astype(np.float32)
    return D / np.linalg.norm(D, axis=0)


def _ctx():
    if not _CTX:
        _CTX["c"] = slista.make_context(_D(), 0.1)
        _CTX["m"] = slista.make_lista(_D(), 0.1, 2)[0]
    return _CTX["c"]


def _lista_module():
    _ctx()
    return _CTX["m"]


def _layers(n=2):
    return slista.init_layers(_ctx(), n)


spec(F, mlista.make_train_step, lambda: dict(module=_lista_module()), {"module": "model", "objective": "str"})
spec(F, mlista.create_unrolled_state, lambda: dict(key=None, params=_layers(), learning_rate=1e-3, schedule="cosine",
                                                   total_steps=10),
     {"params": "params", "optimizer": "str", "learning_rate": "posfloat", "schedule": "str", "total_steps": "count"},
     [("no layers", "params", _with(params=()))])
spec(F, mlista.make_layer_step, lambda: dict(ctx=_ctx(), num_pass=0), {"ctx": "model", "num_pass": "nnint"},
     [("num_pass above the atoms", "num_pass", _with(num_pass=13))])
spec(F, mlista.unrolled_loss, lambda: dict(ctx=_ctx(), params=_layers(), x=_x(), z_star=_z(), num_pass=(0, 0)),
     {"ctx": "model", "params": "params", "x": "batch", "z_star": "array", "loss": "str"},
     [("z_star of the wrong width", "z_star", lambda kw: {**kw, "z_star": kw["z_star"][:, :5]}),
      ("z_star of the wrong batch", "z_star", lambda kw: {**kw, "z_star": kw["z_star"][:3]}),
      ("all-zero z_star (0/0 in dB)", "z_star", lambda kw: {**kw, "z_star": np.zeros_like(kw["z_star"]),
                                                            "loss": "all_layers_db"}),
      ("num_pass too short", "num_pass", _with(num_pass=(0,))),
      ("num_pass negative", "num_pass", _with(num_pass=(0, -1)))])
spec(F, mlista.make_unrolled_step, lambda: dict(ctx=_ctx(), num_pass=(0, 0)), {"ctx": "model", "loss": "str"},
     [("num_pass a string", "num_pass", _with(num_pass="00")), ("num_pass negative", "num_pass", _with(num_pass=(0, -1)))])
spec(F, mlista.train_layerwise, lambda: dict(ctx=_ctx(), x=_x(), z_star=_z(), num_layers=1, layer_epochs=1,
                                             batch_size=3),
     {"ctx": "model", "x": "batch", "z_star": "array", "num_layers": "posint", "layer_epochs": "nnint",
      "finetune_epochs": "nnint", "batch_size": "posint", "learning_rate": "posfloat", "finetune_lr": "posfloat",
      "finetune_loss": "str", "new_layer_init": "str", "seed": "seed"},
     [("batch larger than the data", "batch_size", _with(batch_size=64)),
      ("z_star of the wrong width", "z_star", lambda kw: {**kw, "z_star": kw["z_star"][:, :5]}),
      ("x of the wrong width", "x", lambda kw: {**kw, "x": kw["x"][:, :5]}),
      ("num_pass of the wrong length", "num_pass", _with(num_pass=(0, 0))),
      ("num_pass negative", "num_pass", _with(num_pass=(-1,)))])
spec(F, mlista.validate_stage_schedule, lambda: dict(stage_lr_factors=(1.0, 0.2), layer_lr_decay=0.3, val_every=2,
                                                     patience=4, max_stage_steps=10),
     {"layer_lr_decay": "posfloat", "val_every": "posint", "patience": "nnint", "max_stage_steps": "posint"},
     [("empty factors", "stage_lr_factors", _with(stage_lr_factors=())),
      ("a string", "stage_lr_factors", _with(stage_lr_factors="1.0")),
      ("a negative factor", "stage_lr_factors", _with(stage_lr_factors=(1.0, -0.2))),
      ("decay above 1", "layer_lr_decay", _with(layer_lr_decay=1.5))])


def _staged():
    x, z = _x(), _z()
    return dict(ctx=_ctx(), sample_batch=functools.partial(mlista.sample_rows, batch_size=3), data={"x": x, "z": z},
                x_val=x, z_val=z, num_layers=1, stage_lr_factors=(1.0,), val_every=1, patience=0, max_stage_steps=1,
                progress=False)


spec(F, mlista.train_staged, _staged,
     {"ctx": "model", "sample_batch": "callable", "x_val": "batch", "z_val": "array", "num_layers": "posint",
      "learning_rate": "posfloat", "val_every": "posint", "seed": "seed", "new_layer_init": "str"},
     [("z_val of the wrong width", "z_val", lambda kw: {**kw, "z_val": kw["z_val"][:, :5]}),
      ("x_val of the wrong width", "x_val", lambda kw: {**kw, "x_val": kw["x_val"][:, :5]}),
      ("all-zero z_val (0/0 NMSE)", "z_val", lambda kw: {**kw, "z_val": np.zeros_like(kw["z_val"])}),
      ("data without z", "data", lambda kw: {**kw, "data": {"x": kw["data"]["x"]}}),
      ("data of the wrong width", "data", lambda kw: {**kw, "data": {"x": kw["data"]["x"][:, :5],
                                                                     "z": kw["data"]["z"]}}),
      ("num_pass of the wrong length", "num_pass", _with(num_pass=(0, 0)))])
spec(F, mlista.sample_rows, lambda: dict(data={"x": _x()}, key=_key(), batch_size=3),
     {"key": "key", "batch_size": "posint"},
     [("empty data", "data", _with(data={})), ("data not a dict of arrays", "data", _with(data=None)),
      ("rows that differ", "data", lambda kw: {**kw, "data": {"x": _x(), "z": _z()[:4]}})])


def _fit():
    return mlista.StagedFit(params=(), val_nmse=np.full((1, 2), 0.1), best_val_nmse=np.full((1, 2), 0.1),
                            steps=np.ones((1, 2), np.int64), lr_multipliers=np.ones(1))


spec(F, mlista.staged_results, lambda: dict(fit=_fit()), {"fit": "model"},
     [("NaN NMSE", "fit", lambda kw: {**kw, "fit": mlista.StagedFit(
         params=(), val_nmse=np.full((1, 2), np.nan), best_val_nmse=np.full((1, 2), 0.1),
         steps=np.ones((1, 2), np.int64), lr_multipliers=np.ones(1))}),
      ("prefix not a string", "prefix", _with(prefix=3))])

# ------------------------------------------------------------------------------------------- eval
F = "eval"
_extra_filters = [("2-D filters", "D", lambda kw: {**kw, "D": kw["D"][0]}), ("a zero filter", "D", _zero_filter),
                  ("no filters", "D", lambda kw: {**kw, "D": kw["D"][:0]})]
for _fn in (efilt.mutual_coherence, efilt.cross_correlations, efilt.shift_coherence, efilt.orientations):
    spec(F, _fn, lambda: dict(D=_filt()), {"D": "array"}, _extra_filters)
for _fn in (efilt.orientation_spread, efilt.filter_diversity):
    spec(F, _fn, lambda: dict(D=_filt()), {"D": "array", "num_bins": "posint", "min_orientedness": "prob"},
         _extra_filters + [("one bin", "num_bins", _with(num_bins=1))])

_noisy = lambda: (_img(n=1, size=12, seed=26) + 0.05 * _rng(27).standard_normal((1, 12, 12))).astype(np.float32)  # noqa: E731
_clean = lambda: _img(n=1, size=12, seed=26)  # noqa: E731
_uint8_noisy = ("uint8 0-255", "noisy", lambda kw: {**kw, "noisy": (np.clip(kw["noisy"], 0, 1) * 255).astype(np.uint8)})
spec(F, eden.add_noise, lambda: dict(images=_clean(), sigma=25.0), {"images": "image01", "sigma": "nnfloat",
                                                                    "seed": "seed"},
     [("2-D images", "images", lambda kw: {**kw, "images": kw["images"][0]})])
spec(F, eden.mean_psnr, lambda: dict(clean=_clean(), denoised=_clean() * 0.9),
     {"clean": "image01", "denoised": "batch"},
     [("shapes differ", "denoised", lambda kw: {**kw, "denoised": kw["denoised"][:, :6]}),
      ("uint8 0-255", "denoised", lambda kw: {**kw, "denoised": (kw["denoised"] * 255).astype(np.uint8)})])
spec(F, eden.conv_denoise, lambda: dict(noisy=_noisy(), D=_filt(), lam=0.1, lowpass_sigma=2.0, max_iters=5),
     {"noisy": "batch", "D": "array", "lam": "nnfloat", "lowpass_sigma": "posfloat", "boundary": "str",
      "tol": "nnfloat", "max_iters": "posint"},
     [_uint8_noisy, ("a zero filter", "D", _zero_filter)])
spec(F, eden.encoder_denoise, lambda: dict(noisy=_noisy(), encoder=_enc(), D=_filt(), num_layers=2, lowpass_sigma=2.0),
     {"noisy": "batch", "encoder": "params", "D": "array", "num_layers": "posint", "threshold_scale": "nnfloat",
      "lowpass_sigma": "posfloat", "boundary": "str"},
     [_uint8_noisy, ("encoder without a threshold", "encoder",
                     lambda kw: {**kw, "encoder": {k: v for k, v in kw["encoder"].items() if k != "threshold"}}),
      ("D with other filters than the encoder", "D", _with(D=_rng(28).standard_normal((3, 3, 3)).astype(np.float32)))])
spec(F, eden.patch_denoise, lambda: dict(noisy=_noisy()[:, :6, :6], D=_rng(30).standard_normal((9, 6)).astype(np.float32), lam=0.1, patch_size=3,
                                         lowpass_sigma=2.0, max_iters=5),
     {"noisy": "batch", "D": "array", "lam": "nnfloat", "patch_size": "posint", "lowpass_sigma": "posfloat",
      "tol": "nnfloat", "max_iters": "posint", "chunk": "posint"},
     [_uint8_noisy, ("patches larger than the images", "patch_size",
                     lambda kw: {**kw, "patch_size": 8, "D": _rng(29).standard_normal((64, 4)).astype(np.float32)}),
      ("D of the wrong height", "D", lambda kw: {**kw, "D": kw["D"][:8]})])
spec(F, eden.bm3d_available, lambda: dict(), {})
spec(F, eden.bm3d_denoise, lambda: dict(noisy=_noisy(), sigma=25.0), {"noisy": "batch", "sigma": "posfloat"},
     [_uint8_noisy])
spec(F, eden.timed, lambda: dict(fn=lambda: np.zeros(3)), {"fn": "callable"})


def _identity(noisy, value):
    return np.clip(noisy, 0.0, 1.0)


spec(F, eden.select_parameter, lambda: dict(denoise=_identity, clean=_clean(), noisy=_noisy(), grid=(0.1, 0.2)),
     {"denoise": "callable", "clean": "image01", "noisy": "batch"},
     [("empty grid", "grid", _with(grid=())), ("NaN in the grid", "grid", _with(grid=(0.1, float("nan")))),
      ("grid a string", "grid", _with(grid="0.1")),
      ("clean and noisy differ in shape", "noisy", lambda kw: {**kw, "noisy": kw["noisy"][:, :6]}),
      ("denoise returning a scalar", "denoise", _with(denoise=lambda noisy, value: 0.5))])
