"""The misuse survey's table: one valid call per public function and a kind per argument.

Used by ``scripts/misuse_survey.py`` (counts) and ``tests/test_misuse.py`` (every
case must be a clear error; every public function of a surveyed module must be
here or in ``EXEMPT`` with its reason). Kinds are the keys of
``misuse_survey.MUTATIONS``.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib

import numpy as np

from scripts.misuse_survey import Spec

SPECS: list[Spec] = []

#: The surveyed modules, by family: every public function or class defined there needs a spec
#: or an entry in EXEMPT.
MODULES = {
    "losses": ["ebm_jax.losses"],
    "sparse": ["ebm_jax.sparse.prox", "ebm_jax.sparse.lasso", "ebm_jax.sparse.working_set", "ebm_jax.sparse.path",
               "ebm_jax.sparse.evaluation", "ebm_jax.sparse.synthetic", "ebm_jax.sparse.lista",
               "ebm_jax.sparse.dictionary"],
    "samplers": ["ebm_jax.samplers.chains", "ebm_jax.samplers.contrastive", "ebm_jax.samplers.rwmh",
                 "ebm_jax.samplers.ais"],
    "lvebm": ["ebm_jax.lvebm.inference"],
    "models": ["ebm_jax.models.rbm"],
    "data": ["ebm_jax.data.transforms", "ebm_jax.data.corruptions", "ebm_jax.data.augment", "ebm_jax.data.toy2d"],
    "vae": ["ebm_jax.models.vae", "ebm_jax.methods.vae", "ebm_jax.eval.likelihood"],
    "train": ["ebm_jax.train.optim"],
    "methods": ["ebm_jax.methods.dictionary"],
    "eval": ["ebm_jax.eval.images", "ebm_jax.eval.landscape"],
}

#: Modules of ebm_jax outside the table, with the reason; every other module with a public function is in MODULES.
UNSURVEYED_MODULES = {
    "ebm_jax.checks": "the checks themselves (tests/test_checks.py)",
    "ebm_jax.sparse.validation": "the sparse solvers' checks, exercised through the solvers in the table",
    "ebm_jax.sparse.result": "the solvers' result types and warning class only (NamedTuples, a UserWarning)",
}

_KERNEL = "a traceable kernel without boundary checks (documented as such), used inside jitted code"
_TYPE = "a type (NamedTuple, exception, warning or flax submodule), not a function of user data"
EXEMPT = {
    "ebm_jax.sparse.prox": {n: _KERNEL for n in ("soft_threshold_kernel", "objective", "gap_direct", "gap_gram",
                                                  "relative_gap", "example_gap", "stall_update", "still_running",
                                                  "fista_momentum", "power_iteration", "certified_lipschitz")},
    "ebm_jax.sparse.lasso": {"prox_grad_scan": _KERNEL},
    "ebm_jax.sparse.lista": {"UnrolledContext": _TYPE, "support_select": _KERNEL, "init_layer": _KERNEL,
                             "init_layers": _KERNEL, "layer_input": _KERNEL, "apply_layer": _KERNEL,
                             "LISTA": "a flax module, checked in __post_init__ and by make_lista (in the table)"},
    "ebm_jax.sparse.dictionary": {"DictState": _TYPE, "dictionary_step": _KERNEL},
    "ebm_jax.samplers.ais": {"TemperedTarget": _TYPE, "AISResult": _TYPE, "AISCarry": _TYPE,
                             "ais_init": _KERNEL, "ais_steps": _KERNEL},
    "ebm_jax.lvebm.inference": {"Inference": _TYPE, "check_batch": "a check itself", "check_z_grid": "a check itself",
                                "check_beta": "a check itself", "first_argmin": _KERNEL},
    "ebm_jax.samplers.chains": {"ChainResult": _TYPE, "NonFiniteChainError": _TYPE,
                                "check_num_steps": "a check itself (tested in test_samplers)",
                                "check_finite": "a check itself (tested in test_samplers)"},
    "ebm_jax.samplers.contrastive": {"ContrastiveInfo": _TYPE, "ContrastiveResult": _TYPE,
                                     "check_k": "a check itself", "parse_method": "a check itself",
                                     "contrastive_step": "dispatches to cd_k / pcd, which are in the table"},
    "ebm_jax.samplers.rwmh": {"RWMHState": _TYPE, "RWMHInfo": _TYPE},
    "ebm_jax.models.rbm": {"RBMParams": _TYPE, "GibbsState": _TYPE, "GibbsInfo": _TYPE,
                           "validate_params": "a check itself", "validate_binary": "a check itself",
                           "validate_unit_interval": "a check itself",
                           "gibbs_step": "the sampler's step, run under vmap/scan by run_chain (in the table)"},
    "ebm_jax.models.vae": {"MLP": _TYPE, "Encoder": _TYPE, "Decoder": _TYPE,
                           "check_inputs": "a check itself"},
    "ebm_jax.data.augment": {"AugmentConfig": "checked by AugmentConfig.validate, exercised through augment",
                             "bilinear_resample": "a kernel of random_geometric", "affine_matrices": "a kernel of "
                             "random_geometric", "elastic_displacement": "a kernel of random_geometric"},
}


def spec(family, fn, args, kinds, extra=(), valid_error=None):
    """Add ``fn``'s spec; every parameter whose default is True or False is also tried as a flag.

    ``valid_error``: the error the valid call ends in on this machine (a coordinator that cannot be
    reached): the bad inputs must still be refused before it.
    """
    flags = {name: "bool" for name, p in inspect.signature(fn).parameters.items() if isinstance(p.default, bool)}
    SPECS.append(Spec(fn=fn, args=args, kinds={**flags, **kinds}, extra=list(extra), family=family,
                      valid_error=valid_error))


def _rng(seed=0):
    return np.random.default_rng(seed)


def _key(seed=0):
    import jax
    return jax.random.PRNGKey(seed)


def _with(**changes):
    return lambda kw: {**kw, **changes}


# ------------------------------------------------------------------------------------------- losses
from ebm_jax import losses  # noqa: E402

F = "losses"
_emb = lambda: _rng().standard_normal((6, 4)).astype(np.float32)  # noqa: E731
_en = lambda: _rng().standard_normal(5).astype(np.float32)  # noqa: E731
spec(F, losses.bernoulli_log_likelihood, lambda: dict(logits=_emb(), x=(_emb() > 0).astype(np.float32)),
     {"logits": "batch", "x": "unit"}, [("width mismatch", "x", lambda kw: {**kw, "x": kw["x"][:, :3]})])
spec(F, losses.gaussian_kl_to_standard_normal, lambda: dict(mean=_emb(), logvar=_emb()),
     {"mean": "batch", "logvar": "batch"}, [("shape mismatch", "logvar", lambda kw: {**kw, "logvar": kw["logvar"][:3]})])
spec(F, losses.diag_gaussian_log_prob, lambda: dict(z=_emb(), mean=_emb(), logvar=_emb()),
     {"z": "batch", "mean": "batch", "logvar": "batch"})
spec(F, losses.standard_normal_log_prob, lambda: dict(z=_emb()), {"z": "batch"})
spec(F, losses.log_importance_weights,
     lambda: dict(x=(_emb() > 0).astype(np.float32), z=np.stack([_emb()[:, :2]] * 3), mean=_emb()[:, :2],
                  logvar=_emb()[:, :2], logits=np.stack([_emb()] * 3)),
     {"x": "unit", "z": "array", "mean": "batch", "logvar": "batch", "logits": "array"})
spec(F, losses.iwae_bound, lambda: dict(log_w=_emb()), {"log_w": "batch"},
     [("empty examples", "log_w", lambda kw: {**kw, "log_w": np.zeros((4, 0), np.float32)})])
spec(F, losses.l2_normalize, lambda: dict(x=_emb()), {"x": "array"})
spec(F, losses.nt_xent, lambda: dict(z_a=_emb(), z_b=_emb(), temperature=0.5),
     {"z_a": "batch", "z_b": "batch", "temperature": "posfloat"},
     [("temperature 1e-30", "temperature", _with(temperature=1e-30))])
spec(F, losses.info_nce, lambda: dict(query=_emb(), positive=_emb(), negatives=_emb(), temperature=0.2),
     {"query": "batch", "positive": "batch", "negatives": "batch", "temperature": "posfloat"})
for _fn in (losses.hinge_loss, losses.square_square_loss):
    spec(F, _fn, lambda: dict(e_pos=_en(), e_neg=_en(), margin=1.0),
         {"e_pos": "batch", "e_neg": "array", "margin": "nnfloat"})
spec(F, losses.log_loss, lambda: dict(e_pos=_en(), e_neg=_en()), {"e_pos": "batch", "e_neg": "array"})
spec(F, losses.nll_loss, lambda: dict(e_pos=_en(), e_neg=_en(), beta=1.0),
     {"e_pos": "batch", "e_neg": "array", "beta": "posfloat"})

# ------------------------------------------------------------------------------------------- sparse
from ebm_jax import sparse  # noqa: E402
from ebm_jax.sparse import dictionary as sdict, evaluation as seval, lista as slista, synthetic as ssyn  # noqa: E402

F = "sparse"


def _lasso():
    r = _rng(1)
    D = r.standard_normal((8, 12)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    return dict(x=r.standard_normal((5, 8)).astype(np.float32), D=D, lam=0.1)


_codes = lambda: _rng(2).standard_normal((5, 12)).astype(np.float32)  # noqa: E731
_too_big = [("step 100/L", "step", _with(step=100.0))]
spec(F, sparse.soft_threshold, lambda: dict(v=_codes(), thresh=0.1), {"v": "array", "thresh": "nnfloat"})
spec(F, sparse.lipschitz_constant, lambda: dict(D=_lasso()["D"], num_iters=20, safety=1.001),
     {"D": "array", "num_iters": "posint", "safety": "posfloat"},
     [("safety below 1", "safety", _with(safety=0.5))])
spec(F, sparse.ista_operators, lambda: dict(D=_lasso()["D"], step=0.1), {"D": "array", "step": "posfloat"},
     [("1-D dictionary", "D", lambda kw: {**kw, "D": kw["D"][0]})])
spec(F, sparse.lasso_objective, lambda: dict(**_lasso(), z=_codes()),
     {"x": "batch", "D": "array", "lam": "nnfloat", "z": "array"})
spec(F, sparse.duality_gap, lambda: dict(**_lasso(), z=_codes()),
     {"x": "batch", "D": "array", "lam": "nnfloat", "z": "array"})
spec(F, sparse.ista, lambda: dict(**_lasso(), num_iters=5),
     {"x": "batch", "D": "array", "lam": "nnfloat", "num_iters": "posint", "step": "posfloat"}, _too_big)
spec(F, sparse.fista, lambda: dict(**_lasso(), num_iters=5),
     {"x": "batch", "D": "array", "lam": "nnfloat", "num_iters": "posint", "step": "posfloat",
      "check_every": "posint", "max_support": "posint"}, _too_big)
spec(F, sparse.free_energy, lambda: dict(**_lasso()), {"x": "batch", "D": "array", "lam": "nnfloat", "tol": "nnfloat"})
spec(F, sparse.working_set_lasso, lambda: dict(**_lasso(), tol=1e-4),
     {"x": "batch", "D": "array", "lam": "nnfloat", "tol": "nnfloat", "working_set_size": "posint",
      "inner_iters": "posint", "max_outer": "posint", "stall_window": "posint"})
spec(F, sparse.lasso_path, lambda: dict(**_lasso(), num_lams=2, tol=1e-4),
     {"x": "batch", "D": "array", "lam": "nnfloat", "num_lams": "posint", "ratio": "posfloat", "tol": "nnfloat",
      "path_tol": "nnfloat", "solver": "str"}, [("ratio below 1", "ratio", _with(ratio=0.5))])
spec(F, slista.make_lista, lambda: dict(D=_lasso()["D"], lam=0.1, num_layers=3),
     {"D": "array", "lam": "nnfloat", "num_layers": "posint"})
_LISTA = {}


def _lista():
    if not _LISTA:
        _LISTA["m"], _LISTA["p"] = slista.make_lista(_lasso()["D"], 0.1, 3)
    return _LISTA["m"], _LISTA["p"]


spec(F, slista.lista_loss, lambda: dict(module=_lista()[0], params=_lista()[1], x=_lasso()["x"], z_star=_codes()),
     {"module": "model", "x": "batch", "z_star": "array", "objective": "str"},
     [("wrong width", "x", lambda kw: {**kw, "x": kw["x"][:, :5]})])
spec(F, slista.lista_apply_all, lambda: dict(module=_lista()[0], params=_lista()[1], x=_lasso()["x"]),
     {"module": "model", "x": "batch"})
spec(F, slista.unrolled_apply,
     lambda: dict(ctx=slista.make_context(_lasso()["D"], 0.1), x=_lasso()["x"],
                  params=slista.init_layers(slista.make_context(_lasso()["D"], 0.1), 2)),
     {"ctx": "model", "x": "batch"}, [("no layers", "params", _with(params=()))])
spec(F, slista.support_counts, lambda: dict(num_layers=4, k=12, percent_per_layer=1.0, max_percent=5.0),
     {"num_layers": "posint", "k": "posint", "percent_per_layer": "nnfloat", "max_percent": "nnfloat"})
spec(F, slista.analytic_weights, lambda: dict(D=_lasso()["D"]), {"D": "array"})
spec(F, slista.make_context, lambda: dict(D=_lasso()["D"], lam=0.1), {"D": "array", "lam": "nnfloat", "kind": "str"})
spec(F, slista.fista_momentum_schedule, lambda: dict(num_layers=4), {"num_layers": "posint"})
spec(F, sdict.normalize_atoms, lambda: dict(D=_lasso()["D"]), {"D": "array"})
spec(F, sdict.init_dictionary, lambda: dict(key=_key(), x=_lasso()["x"], num_atoms=3),
     {"key": "key", "x": "batch", "num_atoms": "posint", "init": "str"})
spec(F, sdict.evaluate_dictionary, lambda: dict(**_lasso()), {"x": "batch", "D": "array", "lam": "nnfloat", "tol": "nnfloat"},
     [("all-zero data", "x", lambda kw: {**kw, "x": np.zeros_like(kw["x"])})])
spec(F, seval.code_error, lambda: dict(z=_codes(), z_star=_codes() + 1), {"z": "batch", "z_star": "batch"})
spec(F, seval.relative_energy_gap, lambda: dict(**_lasso(), z=_codes(), free_energy_sum=1.0),
     {"x": "batch", "z": "array", "free_energy_sum": "posfloat"})
spec(F, seval.solver_curves, lambda: dict(**_lasso(), z_star=_codes(), num_iters=3),
     {"x": "batch", "D": "array", "lam": "nnfloat", "z_star": "array", "num_iters": "posint"})
spec(F, seval.first_reaching, lambda: dict(curve=np.linspace(1, 0, 5), level=0.5), {"curve": "batch", "level": "real"})
spec(F, ssyn.gaussian_dictionary, lambda: dict(key=_key(), num_measurements=4, num_atoms=6),
     {"key": "key", "num_measurements": "posint", "num_atoms": "posint"})
spec(F, ssyn.sparse_codes, lambda: dict(key=_key(), num_examples=4, num_atoms=6, p_nonzero=0.3),
     {"key": "key", "num_examples": "posint", "num_atoms": "posint", "p_nonzero": "prob"})
spec(F, ssyn.measure, lambda: dict(key=_key(), A=_lasso()["D"], z=_codes(), snr_db=20.0),
     {"key": "key", "A": "array", "z": "batch", "snr_db": "real"})
spec(F, ssyn.nmse_db, lambda: dict(z=_codes(), z_ref=_codes() + 1), {"z": "batch", "z_ref": "batch"})

# ------------------------------------------------------------------------------------------- samplers
from ebm_jax.models import rbm as mrbm  # noqa: E402
import importlib  # noqa: E402

sais, schains, scon, srwmh = (importlib.import_module(f"ebm_jax.samplers.{m}") for m in ("ais", "chains", "contrastive", "rwmh"))

F = "samplers"


def _energy(params, x):
    import jax.numpy as jnp
    return 0.5 * jnp.sum((x - params) ** 2, -1)


def _rw():
    return srwmh.rwmh(_energy, 0.5)


_pts = lambda: _rng(3).standard_normal((4, 2)).astype(np.float32)  # noqa: E731
spec(F, srwmh.rwmh, lambda: dict(energy_fn=_energy, step_size=0.5), {"energy_fn": "callable", "step_size": "posfloat"})
spec(F, schains.run_chain, lambda: dict(algorithm=_rw(), key=_key(), x0=_pts(), params=np.zeros(2, np.float32), num_steps=4),
     {"key": "key", "x0": "batch", "num_steps": "nnint", "num_saved": "nnint", "algorithm": "model"},
     [("num_saved > num_steps", "num_saved", _with(num_steps=0, num_saved=3))])
spec(F, schains.sample_chains, lambda: dict(algorithm=_rw(), key=_key(), x0=_pts(), params=np.zeros(2, np.float32),
                                            num_steps=4),
     {"key": "key", "x0": "batch", "num_steps": "nnint", "num_saved": "nnint", "chunk_steps": "posint",
      "algorithm": "model"},
     [("num_saved > num_steps", "num_saved", _with(num_steps=0, num_saved=3))])
spec(F, schains.init_chains, lambda: dict(algorithm=_rw(), positions=_pts(), params=np.zeros(2, np.float32)),
     {"positions": "batch", "algorithm": "model"})
spec(F, scon.cd_k, lambda: dict(key=_key(), params=np.zeros(2, np.float32), x_data=_pts(), energy_fn=_energy,
                                algorithm=_rw(), k=2),
     {"key": "key", "x_data": "batch", "k": "posint", "energy_fn": "callable", "algorithm": "model"},
     [("1-D batch", "x_data", lambda kw: {**kw, "x_data": kw["x_data"][0]})])
spec(F, scon.pcd, lambda: dict(key=_key(), params=np.zeros(2, np.float32), x_data=_pts(), chains=_pts(),
                               energy_fn=_energy, algorithm=_rw(), k=2),
     {"key": "key", "x_data": "batch", "chains": "batch", "k": "posint"})
spec(F, sais.ais, lambda: dict(key=_key(), target=mrbm.TEMPERED_TARGET,
                               params=(_rbm_params(), np.zeros(6, np.float32)), betas=np.linspace(0, 1, 5), num_runs=4),
     {"key": "key", "target": "model", "betas": "batch", "num_runs": "posint", "chunk_size": "posint"})
spec(F, sais.beta_schedule, lambda: dict(num_betas=10), {"num_betas": "posint", "kind": "str"})
spec(F, sais.validate_betas, lambda: dict(betas=np.linspace(0, 1, 5)), {"betas": "batch"},
     [("not increasing", "betas", lambda kw: {**kw, "betas": kw["betas"][::-1].copy()})])
spec(F, sais.log_mean_exp_with_std, lambda: dict(log_w=_en()), {"log_w": "batch"})

# ------------------------------------------------------------------------------------------- models
F = "models"


def _rbm_params():
    return mrbm.init_rbm(_key(), 6, 3, scale=0.1)


_vis = lambda: (_rng(4).random((5, 6)) > 0.5).astype(np.float32)  # noqa: E731
_hid = lambda: (_rng(5).random((5, 3)) > 0.5).astype(np.float32)  # noqa: E731
spec(F, mrbm.init_rbm, lambda: dict(key=_key(), num_visible=6, num_hidden=3),
     {"key": "key", "num_visible": "posint", "num_hidden": "posint", "scale": "nnfloat"})
spec(F, mrbm.base_rate_bias, lambda: dict(data_mean=np.full(6, 0.3, np.float32)), {"data_mean": "unit", "eps": "posfloat"})
for _fn in (mrbm.hidden_logits, mrbm.hidden_probs, mrbm.free_energy):
    spec(F, _fn, lambda: dict(params=_rbm_params(), v=_vis()),
         {"params": "params", "v": "binary" if _fn is mrbm.free_energy else "unit"},
         [("wrong width", "v", lambda kw: {**kw, "v": kw["v"][:, :4]})])
for _fn in (mrbm.visible_logits, mrbm.visible_probs):
    spec(F, _fn, lambda: dict(params=_rbm_params(), h=_hid()), {"params": "params", "h": "unit"})
spec(F, mrbm.energy, lambda: dict(params=_rbm_params(), v=_vis(), h=_hid()),
     {"params": "params", "v": "binary", "h": "binary"})
spec(F, mrbm.log_likelihood, lambda: dict(params=_rbm_params(), v=_vis(), log_z=1.0),
     {"params": "params", "v": "binary", "log_z": "array"})
spec(F, mrbm.pseudo_log_likelihood, lambda: dict(key=_key(), params=_rbm_params(), v=_vis()),
     {"key": "key", "params": "params", "v": "binary"},
     [("numpy flip_index out of range", "flip_index", lambda kw: {**kw, "flip_index": np.full(5, 9)})])
spec(F, mrbm.gibbs_init, lambda: dict(v=_vis()[0], params=_rbm_params()), {"v": "binary", "params": "params"})
spec(F, mrbm.sample_gibbs, lambda: dict(key=_key(), params=_rbm_params(), v0=_vis(), num_steps=3),
     {"key": "key", "params": "params", "v0": "binary", "num_steps": "nnint", "num_saved": "nnint"})
spec(F, mrbm.exact_log_partition, lambda: dict(params=_rbm_params()), {"params": "params", "max_units": "posint",
                                                                       "chunk_size": "posint"})
spec(F, mrbm.ais_log_partition, lambda: dict(key=_key(), params=_rbm_params(), num_betas=20, num_runs=4),
     {"key": "key", "params": "params", "num_betas": "posint", "num_runs": "posint", "schedule": "str"})

# ------------------------------------------------------------------------------------------- data
from ebm_jax.data import augment as daug, corruptions as dcor, toy2d as dtoy, transforms as dtr  # noqa: E402

F = "data"
_img = lambda: _rng(6).random((3, 8, 8)).astype(np.float32)  # noqa: E731
_flat = lambda: _rng(6).random((4, 6)).astype(np.float32)  # noqa: E731
spec(F, dtr.to_float, lambda: dict(images=(_img() * 255).astype(np.uint8)), {},
     [("float images", "images", lambda kw: {**kw, "images": _img()}),
      ("one flat image", "images", lambda kw: {**kw, "images": kw["images"].reshape(-1)})])
spec(F, dtr.uniform_bits16, lambda: dict(key=_key(), shape=(3, 4)), {"key": "key"},
     [("negative size", "shape", _with(shape=(3, -1))), ("string shape", "shape", _with(shape="3"))])
spec(F, dtr.bernoulli16, lambda: dict(key=_key(), p=_flat()), {"key": "key", "p": "unit"})
spec(F, dtr.binarize_dynamic, lambda: dict(key=_key(), x=_flat()), {"key": "key", "x": "image01"})
spec(F, dtr.binarize_fixed, lambda: dict(x=_flat(), seed=0), {"x": "image01", "seed": "seed"})
spec(F, dtr.prepare_inputs, lambda: dict(key=_key(), x=_flat(), binarization="dynamic"),
     {"key": "key", "x": "image01", "binarization": "str"})
spec(F, dcor.gaussian_noise, lambda: dict(key=_key(), x=_flat(), sigma=0.1), {"key": "key", "x": "batch", "sigma": "posfloat"})
for _fn in (dcor.masking_noise, dcor.salt_and_pepper):
    spec(F, _fn, lambda: dict(key=_key(), x=_flat(), p=0.1), {"key": "key", "x": "batch", "p": "prob"})
spec(F, dcor.corrupt, lambda: dict(key=_key(), x=_flat(), kind="masking", level=0.1),
     {"key": "key", "x": "batch", "kind": "str", "level": "prob"})
spec(F, dcor.validate_corruption, lambda: dict(kind="gaussian", level=0.1), {"kind": "str", "level": "posfloat"})
spec(F, daug.check_images, lambda: dict(images=_img()), {"images": "image01"})
spec(F, daug.random_geometric, lambda: dict(key=_key(), images=_img()), {"key": "key", "images": "image01", "config": "model"},
     [("90 degree shear", "max_shear", _with(config=daug.AugmentConfig(max_shear=90.0))),
      ("NaN rotation", "max_rotation", _with(config=daug.AugmentConfig(max_rotation=float("nan"))))])
spec(F, daug.random_erasing, lambda: dict(key=_key(), images=_img()),
     {"key": "key", "images": "image01", "prob": "prob", "value": "real"},
     [("scale reversed", "scale", _with(scale=(0.5, 0.1))), ("ratio negative", "ratio", _with(ratio=(-1.0, 2.0)))])
spec(F, daug.gaussian_noise, lambda: dict(key=_key(), images=_img()), {"key": "key", "images": "image01", "std": "nnfloat"})
spec(F, daug.augment, lambda: dict(key=_key(), images=_img()), {"key": "key", "images": "image01", "config": "model"},
     [("90 degree shear", "max_shear", _with(config=daug.AugmentConfig(max_shear=90.0))),
      ("NaN noise", "noise_std", _with(config=daug.AugmentConfig(noise_std=float("nan")))),
      ("crop_scale reversed", "crop_scale", _with(config=daug.AugmentConfig(crop_scale=(0.9, 0.2))))])
spec(F, daug.jigsaw, lambda: dict(key=_key(), images=_img(), grid=2), {"key": "key", "images": "image01", "grid": "posint"},
     [("grid not dividing", "grid", _with(grid=3))])
spec(F, dtoy.sample_toy2d, lambda: dict(key=_key(), name="rings", n=8), {"key": "key", "name": "str", "n": "posint",
                                                                          "noise": "nnfloat"})
spec(F, dtoy.grid_2d, lambda: dict(num=5), {"num": "posint"}, [("box reversed", "box", _with(box=(3.0, -3.0)))])
spec(F, dtoy.distance_to_data, lambda: dict(points=_pts(), data=_pts()), {"points": "batch", "data": "batch",
                                                                          "chunk": "posint"})

# ------------------------------------------------------------------------------------------- vae
from ebm_jax.eval import likelihood as elik  # noqa: E402
from ebm_jax.methods import vae as mvae  # noqa: E402
from ebm_jax.models import vae as vae_models  # noqa: E402

F = "vae"
_VAE = {}


def _vae():
    if not _VAE:
        model = vae_models.Autoencoder(latent_dim=2, hidden_dims=(8,), output_dim=6)
        _VAE["model"], _VAE["params"] = model, mvae.create_state(_key(), model, 1e-3).params
    return _VAE["model"], _VAE["params"]


_bin6 = lambda: (_rng(7).random((4, 6)) > 0.5).astype(np.float32)  # noqa: E731
spec(F, vae_models.Autoencoder, lambda: dict(latent_dim=2, hidden_dims=(8,), output_dim=6),
     {"latent_dim": "posint", "output_dim": "posint", "kind": "str"},
     [("zero-width hidden layer", "hidden_dims[0]", _with(hidden_dims=(0,))),
      ("hidden_dims as a string", "hidden_dims", _with(hidden_dims="64"))])
spec(F, vae_models.negative_elbo_terms, lambda: dict(model=_vae()[0], params=_vae()[1], x=_flat(), key=_key()),
     {"model": "model", "params": "params", "x": "unit", "key": "key"},
     [("wrong width", "x", lambda kw: {**kw, "x": kw["x"][:, :5]})])
spec(F, vae_models.log_importance_weights,
     lambda: dict(model=_vae()[0], params=_vae()[1], x=_flat(), key=_key(), num_samples=3),
     {"model": "model", "params": "params", "x": "unit", "key": "key", "num_samples": "posint"})
spec(F, mvae.vae_loss, lambda: dict(model=_vae()[0], params=_vae()[1], x=_flat(), key=_key()),
     {"model": "model", "params": "params", "x": "unit", "key": "key", "iwae_k": "posint"},
     [("wrong width", "x", lambda kw: {**kw, "x": kw["x"][:, :5]})])
spec(F, mvae.ae_loss, lambda: dict(model=vae_models.Autoencoder(2, (8,), 6, "ae"),
                                   params=mvae.create_state(_key(), vae_models.Autoencoder(2, (8,), 6, "ae"), 1e-3).params,
                                   x=_flat()),
     {"model": "model", "params": "params", "x": "unit"})
spec(F, mvae.validate_images, lambda: dict(x=_flat(), output_dim=6), {"x": "image01", "output_dim": "posint"})
spec(F, mvae.create_state, lambda: dict(key=_key(), model=_vae()[0], learning_rate=1e-3),
     {"key": "key", "model": "model", "learning_rate": "posfloat", "optimizer": "str", "schedule": "str"})
spec(F, mvae.make_train_step, lambda: dict(model=_vae()[0]), {"model": "model", "binarization": "str", "iwae_k": "posint"})
spec(F, elik.evaluate_elbo, lambda: dict(model=_vae()[0], params=_vae()[1], x=_bin6(), key=_key()),
     {"model": "model", "params": "params", "x": "binary", "key": "key", "batch_size": "posint"})
spec(F, elik.evaluate_at_mean, lambda: dict(model=_vae()[0], params=_vae()[1], x=_flat()),
     {"model": "model", "x": "unit", "batch_size": "posint"})
spec(F, elik.importance_sampled_log_likelihood,
     lambda: dict(model=_vae()[0], params=_vae()[1], x=_bin6(), key=_key(), num_samples=4, chunk=2, progress=False),
     {"model": "model", "params": "params", "x": "binary", "key": "key", "num_samples": "posint",
      "batch_size": "posint", "chunk": "posint"})

# ------------------------------------------------------------------------------------------- train
from ebm_jax.train import loop as tloop, optim as toptim  # noqa: E402

F = "train"


def _fit_args():
    model, _ = _vae()
    state = mvae.create_state(_key(), model, 1e-3)
    return dict(state=state, step_fn=mvae.make_train_step(model), data=_rng(8).random((16, 6)).astype(np.float32),
                batch_size=4, num_epochs=1, rng=_key(1), max_chunk_seconds=None)


def _eval_vector(state):
    return {"metric": np.ones(3)}


spec(F, tloop.fit, _fit_args,
     {"step_fn": "callable", "data": "batch", "batch_size": "posint", "num_epochs": "posint", "rng": "key",
      "log_every_steps": "posint", "max_chunk_seconds": "posfloat"},
     [("max_steps=-1", "max_steps", _with(max_steps=-1)), ("max_steps=0", "max_steps", _with(max_steps=0)),
      ("batch_size=True", "batch_size", _with(batch_size=True)),
      ("batch larger than data", "batch_size", _with(batch_size=64)),
      ("unknown loss_key", "loss_key", _with(loss_key="los")),
      ("eval_fn returning a vector", "eval_fn", _with(eval_fn=_eval_vector)),
      ("eval_fn not callable", "eval_fn", _with(eval_fn=3.0)),
      ("uint8 images", "data", lambda kw: {**kw, "data": (kw["data"] * 255).astype(np.uint8)}),
      ("wrong data width", "data", lambda kw: {**kw, "data": kw["data"][:, :5].copy()}),
      ("a float where the state goes", "state", _with(state=3.0)),
      ("string seed", "rng", _with(rng="0"))])
spec(F, toptim.make_schedule, lambda: dict(learning_rate=1e-3, schedule="cosine", total_steps=10),
     {"learning_rate": "posfloat", "schedule": "str", "total_steps": "posint"})
spec(F, toptim.make_optimizer, lambda: dict(name="adam", learning_rate=1e-3),
     {"name": "str", "learning_rate": "posfloat", "b1": "prob", "weight_decay": "nnfloat"})

# ------------------------------------------------------------------------------------------- lvebm
from ebm_jax import lvebm  # noqa: E402
from ebm_jax.lvebm import inference as linf  # noqa: E402

F = "lvebm"
_LV = {}


def _lv():
    if not _LV:
        model = lvebm.LatentEBM()
        _LV["model"], _LV["params"] = model, model.init(_key(), radii=np.array([1.0, 2.0], np.float32))
    return _LV["model"], _LV["params"]


_y2 = lambda: _rng(9).standard_normal((5, 2)).astype(np.float32)  # noqa: E731
_zg = lambda: np.linspace(0, 6.28, 16, dtype=np.float32)  # noqa: E731
spec(F, linf.softmin_free_energy, lambda: dict(energies=_rng(10).random((5, 16)).astype(np.float32), beta=2.0),
     {"energies": "batch", "beta": "posfloat"}, [("axis out of range", "axis", _with(axis=5))])
spec(F, linf.grid_inference, lambda: dict(energy=_lv()[0].energy, params=_lv()[1], x=None, y=_y2(), z_grid=_zg()),
     {"y": "batch", "z_grid": "batch", "beta": "posfloat"},
     [("wrong y width", "y", lambda kw: {**kw, "y": np.zeros((5, 3), np.float32)})])
spec(F, linf.free_energy, lambda: dict(energy=_lv()[0].energy, params=_lv()[1], x=None, y=_y2(), z_grid=_zg()),
     {"y": "batch", "z_grid": "batch", "beta": "posfloat"},
     [("empty grid", "z_grid", _with(z_grid=np.zeros((0,), np.float32)))])
spec(F, linf.gradient_inference,
     lambda: dict(energy=_lv()[0].energy, params=_lv()[1], x=None, y=_y2(), z_init=np.zeros((5, 1), np.float32),
                  num_steps=3),
     {"y": "batch", "z_init": "batch", "num_steps": "posint", "learning_rate": "posfloat", "optimizer": "str",
      "l1_weight": "nnfloat"})
spec(F, linf.grid_energies, lambda: dict(energy=_lv()[0].energy, params=_lv()[1], x=None, y=_y2(), z_grid=_zg()),
     {"y": "batch", "z_grid": "batch"})
_LIN = {}


def _lin():
    if not _LIN:
        model = lvebm.LatentEBM(decoder="linear", latent_dim=6, y_dim=4, regularizer=lvebm.Regularizer("l1", 0.2))
        _LIN["m"], _LIN["p"] = model, model.init(_key())
    return _LIN["m"], _LIN["p"]


spec(F, linf.lasso_inference, lambda: dict(model=_lin()[0], params=_lin()[1], y=_rng(11).standard_normal((3, 4)).astype(
    np.float32)), {"model": "model", "y": "batch", "tol": "nnfloat", "num_iters": "posint"})
spec(F, linf.random_starts, lambda: dict(key=_key(), num_starts=4, latent_dim=1),
     {"key": "key", "num_starts": "posint", "latent_dim": "posint", "low": "real"},
     [("low above high", "high", _with(low=1.0, high=-1.0))])

# ------------------------------------------------------------------------------------------- methods
import optax  # noqa: E402

from ebm_jax.methods import conv_sparse as mconv, dae as mdae, dictionary as mdict, energy_mlp as menergy  # noqa: E402
from ebm_jax.methods import lista as mlista, lvebm as mlvebm, ssl as mssl  # noqa: E402
from ebm_jax.models import dae as dae_models, energy_mlp as energy_models, ssl as ssl_models  # noqa: E402

F = "methods"
_x16 = lambda: _rng(12).standard_normal((16, 8)).astype(np.float32)  # noqa: E731
spec(F, mdict.create_state, lambda: dict(key=_key(), x=_x16(), num_atoms=4),
     {"key": "key", "x": "batch", "num_atoms": "posint", "init": "str"})
spec(F, mdict.make_train_step, lambda: dict(lam=0.1), {"lam": "nnfloat", "inference_iters": "posint", "update": "str",
                                                      "forget": "prob"})
spec(F, mdict.learn_dictionary, lambda: dict(x=_x16(), num_atoms=4, lam=0.1, num_epochs=1, batch_size=8),
     {"x": "batch", "num_atoms": "posint", "num_epochs": "posint", "batch_size": "posint", "seed": "seed"},
     [("batch larger than the data", "batch_size", _with(batch_size=64))])
spec(F, mlista.create_state, lambda: dict(key=_key(), module=_lista()[0]),
     {"module": "model", "learning_rate": "posfloat", "optimizer": "str"})
spec(F, mlista.train_lista, lambda: dict(module=_lista()[0], params=_lista()[1], x_train=_lasso()["x"], z_train=_codes(),
                                         num_epochs=1, batch_size=5),
     {"x_train": "batch", "z_train": "array", "num_epochs": "posint", "batch_size": "posint", "objective": "str",
      "seed": "seed"},
     [("batch larger than the data", "batch_size", _with(batch_size=64)),
      ("LISTA with 0 layers", "num_layers", lambda kw: {**kw, "module": slista.LISTA(_lasso()["D"], 0.1, 0)})])
spec(F, mconv.learn_conv_dictionary,
     lambda: dict(images=_rng(13).random((4, 8, 8)).astype(np.float32), num_filters=2, filter_size=3, lam=0.1,
                  batch_size=2),
     {"images": "batch", "num_filters": "posint", "filter_size": "posint", "num_epochs": "posint",
      "batch_size": "posint", "seed": "seed"},
     [("all-zero images", "images", lambda kw: {**kw, "images": np.zeros_like(kw["images"])}),
      ("batch larger than the data", "batch_size", _with(batch_size=64))])
spec(F, mdae.create_state, lambda: dict(key=_key(), model=dae_models.DAE(hidden=(8,), latent=4, out_dim=6),
                                        tx=optax.adam(1e-3), dim=6),
     {"key": "key", "model": "model", "tx": "model", "dim": "posint"})
spec(F, menergy.create_state, lambda: dict(key=_key(), model=energy_models.EnergyMLP(hidden=(8,)), tx=optax.adam(1e-3),
                                           dim=2),
     {"key": "key", "model": "model", "tx": "model", "dim": "posint"})
spec(F, mlvebm.create_state, lambda: dict(key=_key(), model=lvebm.LatentEBM()),
     {"key": "key", "model": "model", "learning_rate": "posfloat", "optimizer": "str"})
spec(F, mssl.create_simclr_state, lambda: dict(model=ssl_models.SSLNet(widths=(4,), rep_dim=8), tx=optax.adam(1e-3),
                                               rng=_key(), image_shape=(8, 8)),
     {"model": "model", "rng": "key"}, [("zero-size image", "image_shape[0]", _with(image_shape=(0, 8)))])

# ------------------------------------------------------------------------------------------- eval
from ebm_jax.eval import images as eimg, landscape as eland  # noqa: E402
from ebm_jax.sparse import conv as sconv  # noqa: E402

F = "eval"
_im784 = lambda: _rng(14).random((3, 784)).astype(np.float32)  # noqa: E731
_ep = lambda: _rng(15).standard_normal(20).astype(np.float32)  # noqa: E731
spec(F, eimg.mse, lambda: dict(x=_im784(), y=_im784()), {"x": "batch", "y": "batch"})
spec(F, eimg.psnr, lambda: dict(mse_value=0.01), {"mse_value": "nnfloat", "peak": "posfloat"})
spec(F, eimg.sharpness, lambda: dict(x=_im784()), {"x": "batch"})
spec(F, eimg.grey_fraction, lambda: dict(x=_im784()), {"x": "batch", "low": "real", "high": "real"},
     [("low above high", "high", _with(low=0.9, high=0.1))])
spec(F, eland.low_energy_fraction, lambda: dict(e_points=_ep(), e_data=_ep(), mask=np.ones(20, bool)),
     {"e_points": "batch", "e_data": "batch", "percentile": "nnfloat", "factor": "posfloat"})
spec(F, eland.energy_gap, lambda: dict(e_points=_ep(), e_data=_ep(), mask=np.ones(20, bool)),
     {"e_points": "batch", "e_data": "batch"})
spec(F, eland.energy_by_distance, lambda: dict(e_points=_ep(), distance=np.abs(_ep()), edges=np.array([0.0, 1.0, 2.0])),
     {"e_points": "batch", "distance": "batch"}, [("edges decreasing", "edges", _with(edges=np.array([2.0, 1.0])))])
spec(F, eland.histogram_tv_distance, lambda: dict(samples=_pts(), data=_pts(), box=(-3.0, 3.0)),
     {"samples": "batch", "data": "batch", "bins": "posint"}, [("box reversed", "box", _with(box=(3.0, -3.0)))])
spec(F, eland.off_data_statistics, lambda: dict(distance_to_data=np.abs(_ep()), threshold=0.5),
     {"distance_to_data": "batch", "threshold": "posfloat"})
spec(F, sconv.conv_sparse_code,
     lambda: dict(s=_rng(16).random((2, 8, 8)).astype(np.float32),
                  D=_rng(17).standard_normal((2, 3, 3)).astype(np.float32), lam=0.1, num_iters=3),
     {"s": "batch", "D": "array", "lam": "nnfloat", "num_iters": "count", "boundary": "str"})


# ------------------------------------------------------------------------------------------- more families
# Each of these files adds its specs with spec() and its modules to MODULES and EXEMPT.
for _table in sorted(pathlib.Path(__file__).parent.glob("misuse_table_*.py")):
    importlib.import_module(f"scripts.{_table.stem}")
