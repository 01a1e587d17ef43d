"""Misuse specs of the figures (viz), the run's environment record, the SSL encoders and the sampler protocol.

Loaded by ``scripts/misuse_table.py``. The figures write into one temporary directory made
at import; every bad input must be refused before anything is drawn.
"""

from __future__ import annotations

import atexit
import pathlib
import shutil
import tempfile

import numpy as np

from scripts.misuse_table import _TYPE, EXEMPT, MODULES, _key, _rng, _with, spec

MODULES.setdefault("viz", []).extend(["ebm_jax.viz", "ebm_jax.environment"])
MODULES.setdefault("models", []).append("ebm_jax.models.ssl")
MODULES.setdefault("samplers", []).append("ebm_jax.samplers.base")
EXEMPT.update({
    "ebm_jax.samplers.base": {"SamplingAlgorithm": _TYPE},
    "ebm_jax.environment": {"describe": "takes no arguments (nothing to misuse)"},
    "ebm_jax.models.ssl": {
        "ConvTrunk": "a flax submodule of Encoder and Classifier, checked in __post_init__ (Encoder, SSLNet, "
                     "Classifier and their inputs are in the table)",
        "ProjectionHead": "a flax submodule of SSLNet, checked in __post_init__ (SSLNet's proj_hidden and "
                          "proj_dim are in the table)",
    },
})

_TMP = pathlib.Path(tempfile.mkdtemp(prefix="misuse_viz_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
_A_FILE = _TMP / "a_file.txt"
_A_FILE.write_text("not a directory\n")


def _png(name):
    return _TMP / f"{name}.png"


def _paths(*labels):
    """The path mistakes named by ``labels`` (all of them when none are named)."""
    cases = {"a directory": _with(path=_TMP), "unknown extension": _with(path=_TMP / "fig.xyz"),
             "no extension": _with(path=_TMP / "fig"), "under a file": _with(path=_A_FILE / "fig.png"),
             "None": _with(path=None), "an int": _with(path=3)}
    return [(label, "path", cases[label]) for label in (labels or cases)]


def _nan(a):
    a = np.array(a, np.float32)
    a.flat[0] = np.nan
    return a


# ------------------------------------------------------------------------------------------- viz
from ebm_jax import viz  # noqa: E402

F = "viz"
_imgs = lambda n=6: _rng(50).random((n, 4, 4)).astype(np.float32)  # noqa: E731
_pts = lambda n=5, seed=51: _rng(seed).standard_normal((n, 2)).astype(np.float32)  # noqa: E731
_line = lambda n=5: np.linspace(0.0, 1.0, n, dtype=np.float32)  # noqa: E731

spec(F, viz.image_grid, lambda: dict(images=_imgs()),
     {"images": "batch", "ncols": "count", "pad": "nnint", "pad_value": "real"},
     [("flat images that are not squares", "images", _with(images=np.zeros((3, 5), np.float32))),
      ("one image without a batch axis", "images", _with(images=np.zeros(16, np.float32))),
      ("RGB images (N, H, W, 3)", "images", _with(images=np.zeros((2, 4, 4, 3), np.float32)))])
spec(F, viz.save_image_grid, lambda: dict(path=_png("grid"), images=_imgs(), ncols=3),
     {"images": "image01"},
     _paths("a directory", "unknown extension", "under a file")
     + [("ncols 0", "ncols", _with(ncols=0)), ("unknown colormap", "cmap", _with(cmap="nosuch")),
        ("title a list", "title", _with(title=["a"])),
        ("NaN with normalize", "images", _with(images=_nan(_imgs()), normalize=True))])
spec(F, viz.save_rows, lambda: dict(path=_png("rows"), rows={"data": _imgs(), "model": _imgs(3)}), {},
     _paths("a directory", "unknown extension")
     + [("no rows", "rows", _with(rows={})), ("not a mapping", "rows", _with(rows=[_imgs()])),
        ("NaN in a row", "rows", _with(rows={"data": _nan(_imgs())})),
        ("a row above 1", "rows", _with(rows={"data": _imgs() * 255})),
        ("a row None", "rows", _with(rows={"data": None}))])
_curves = lambda: {"train": (np.arange(5), _line()), "test": ([0, 4], [1.0, 0.5])}  # noqa: E731
spec(F, viz.save_curves, lambda: dict(path=_png("curves"), curves=_curves(), logy=False), {},
     _paths("a directory", "unknown extension")
     + [("no curves", "curves", _with(curves={})),
        ("only empty curves", "curves", _with(curves={"train": ([], [])})),
        ("lengths differ", "curves", _with(curves={"train": (np.arange(5), _line(4))})),
        ("a curve that is not a pair", "curves", _with(curves={"train": _line()})),
        ("2-D values", "curves", _with(curves={"train": (np.arange(5), np.zeros((5, 2)))})),
        ("values read as strings", "curves", _with(curves={"train": (np.arange(2), np.array(["0.5", "0.2"]))})),
        ("not a mapping", "curves", _with(curves=[(np.arange(5), _line())])),
        ("xlabel not a string", "xlabel", _with(xlabel=3))])
spec(F, viz.save_scatter_2d, lambda: dict(path=_png("scatter"), points=_pts(), labels=np.arange(5) % 3),
     {"points": "array"},
     _paths("a directory", "unknown extension")
     + [("3-D points", "points", _with(points=np.zeros((5, 3), np.float32))),
        ("1-D points", "points", _with(points=np.zeros(5, np.float32))),
        ("labels one short", "labels", _with(labels=np.arange(4))),
        ("float labels", "labels", _with(labels=np.full(5, 0.5))), ("labels None", "labels", _with(labels=None))])


def _fig():
    import matplotlib.figure
    return matplotlib.figure.Figure(figsize=(1, 1))  # not pyplot's: a refused call leaves no open figure


spec(F, viz.save_figure, lambda: dict(fig=_fig(), path=_png("figure"), dpi=20), {"fig": "model", "dpi": "posint"},
     _paths() + [("a pyplot module for fig", "fig", _with(fig=__import__("matplotlib.pyplot").pyplot))])
spec(F, viz.save_energy_curves,
     lambda: dict(path=_png("energy"), z=_line(), energies=_rng(52).random((3, 5)).astype(np.float32),
                  z_check=_line(3)),
     {"energies": "batch"},
     _paths("a directory")
     + [("energies over another grid", "energies", _with(energies=np.zeros((3, 4), np.float32))),
        ("z_check one short", "z_check", _with(z_check=_line(2))), ("NaN in z_check", "z_check",
                                                                   _with(z_check=_nan(_line(3)))),
        ("2-D z", "z", _with(z=_line()[:, None])), ("z decreasing", "z", _with(z=_line()[::-1].copy())),
        ("z None", "z", _with(z=None))])
spec(F, viz.save_inferred_latents,
     lambda: dict(path=_png("latents"), y=_pts(), y_check=_pts(seed=53), z_check=_line(), manifold=_pts(8, 54)),
     {"y": "batch"},
     _paths("a directory")
     + [("y_check one short", "y_check", _with(y_check=_pts(4))),
        ("NaN in y_check", "y_check", _with(y_check=_nan(_pts()))), ("z_check None", "z_check", _with(z_check=None)),
        ("3-D manifold points", "manifold", _with(manifold=np.zeros((8, 3), np.float32)))])
_maps = lambda: {"F": _rng(55).random((4, 3)).astype(np.float32)}  # noqa: E731
spec(F, viz.save_free_energy_maps,
     lambda: dict(path=_png("maps"), y1=_line(3), y2=_line(4), maps=_maps(), data=_pts(),
                  arrows=(_pts(2), _pts(2, 56)), cross_section={"F": _line(4)}),
     {},
     _paths("a directory")
     + [("NaN in data", "data", _with(data=_nan(_pts()))), ("data a string", "data", _with(data="abc")),
        ("3-D data points", "data", _with(data=np.zeros((5, 3), np.float32))),
        ("NaN in y1", "y1", _with(y1=_nan(_line(3)))), ("empty y2", "y2", _with(y2=np.zeros(0, np.float32))),
        ("no maps", "maps", _with(maps={})), ("a map transposed", "maps", _with(maps={"F": np.zeros((3, 4))})),
        ("NaN in a map", "maps", _with(maps={"F": _nan(np.zeros((4, 3)))})),
        ("arrows not a pair", "arrows", _with(arrows=_pts(2))),
        ("arrow vectors one short", "arrows", _with(arrows=(_pts(2), _pts(1)))),
        ("a cross-section of the wrong length", "cross_section", _with(cross_section={"F": _line(3)}))])
spec(F, viz.save_manifolds, lambda: dict(path=_png("manifolds"), data=_pts(), curves={"g": _pts(8, 57)}),
     {"data": "batch"},
     _paths("a directory")
     + [("no curves", "curves", _with(curves={})), ("1-D curve", "curves", _with(curves={"g": _line()})),
        ("NaN in a curve", "curves", _with(curves={"g": _nan(_pts(8))}))])
spec(F, viz.save_horn,
     lambda: dict(path=_png("horn"), x=_line(), y=_pts(), xs=_line(2), curves=_rng(58).random((2, 6, 2))),
     {"curves": "array"},
     _paths("a directory")
     + [("NaN in x", "x", _with(x=_nan(_line()))), ("xs None", "xs", _with(xs=None)),
        ("y one short", "y", _with(y=_pts(4))), ("a curve per x missing", "curves",
                                                 _with(curves=np.zeros((1, 6, 2)))),
        ("2-D curves", "curves", _with(curves=np.zeros((6, 2))))])


def _panel():
    return (0.5, _pts(4), _pts(3, 59), _pts(8, 60), np.zeros(2, np.float32))


spec(F, viz.save_conditional_samples, lambda: dict(path=_png("conditional"), panels=[_panel()]), {},
     _paths("a directory")
     + [("no panels", "panels", _with(panels=[])), ("panels None", "panels", _with(panels=None)),
        ("x an array", "panels", _with(panels=[(np.zeros(2),) + _panel()[1:]])),
        ("a panel of four items", "panels", _with(panels=[_panel()[:4]])),
        ("regression of 3 numbers", "panels", _with(panels=[_panel()[:4] + (np.zeros(3),)])),
        ("NaN samples", "panels", _with(panels=[_panel()[:2] + (_nan(_pts(3)),) + _panel()[3:]]))])

# ------------------------------------------------------------------------------------------- environment
from ebm_jax import environment  # noqa: E402

F = "viz"
spec(F, environment.git_state, lambda: dict(root=None), {},
     [("root an int", "root", _with(root=3)), ("root a list", "root", _with(root=["."])),
      ("root a missing directory", "root", _with(root=_TMP / "missing")),
      ("root a file", "root", _with(root=_A_FILE))])
_ENV = {"env.backend": "cpu", "env.device_count": 1, "env.device_kind": "cpu", "env.process_count": 1,
        "env.jax": "0.0"}
spec(F, environment.summary_line, lambda: dict(env=dict(_ENV), matmul_precision="high"), {"matmul_precision": "str"},
     [("env a string", "env", _with(env="cpu")),
      ("env without env.backend", "env", _with(env={k: v for k, v in _ENV.items() if k != "env.backend"}))])

# ------------------------------------------------------------------------------------------- samplers.base
from ebm_jax.samplers import base as sbase  # noqa: E402

F = "samplers"
spec(F, sbase.check_algorithm, lambda: dict(algorithm=sbase.SamplingAlgorithm(lambda x, p: x, lambda k, s, p: (s, s))),
     {"algorithm": "model"},
     [("a plain pair of functions", "algorithm", _with(algorithm=(lambda x, p: x, lambda k, s, p: (s, s)))),
      ("step not callable", "algorithm", _with(algorithm=sbase.SamplingAlgorithm(lambda x, p: x, 3.0)))])

# ------------------------------------------------------------------------------------------- models.ssl
from ebm_jax.models import ssl as ssl_models  # noqa: E402

F = "models"
_SMALL = dict(widths=(2,), rep_dim=4, proj_hidden=4, proj_dim=3, tile_dim=2)
_x8 = lambda n=2: _rng(61).random((n, 8, 8)).astype(np.float32)  # noqa: E731
_bad_widths = [("a width of 0", "widths", _with(widths=(2, 0))), ("widths as a string", "widths", _with(widths="32")),
               ("no widths", "widths", _with(widths=()))]

spec(F, ssl_models.SSLNet, lambda: dict(_SMALL), {"rep_dim": "posint", "conv": "str"},
     _bad_widths + [("a width of 2.5", "widths", _with(widths=(2.5,))),
                    ("proj_hidden 0", "proj_hidden", _with(proj_hidden=0)),
                    ("proj_dim -1", "proj_dim", _with(proj_dim=-1)), ("tile_dim 2.5", "tile_dim", _with(tile_dim=2.5)),
                    ("tile_dim None", "tile_dim", _with(tile_dim=None))])
spec(F, ssl_models.Encoder, lambda: dict(widths=(2,), rep_dim=4), {},
     [("rep_dim 0", "rep_dim", _with(rep_dim=0)), ("unknown conv", "conv", _with(conv="nosuch"))] + _bad_widths[:1])
spec(F, ssl_models.Classifier, lambda: dict(widths=(2,), rep_dim=4), {"num_classes": "posint"},
     [("one class", "num_classes", _with(num_classes=1)), ("unknown conv", "conv", _with(conv="nosuch"))]
     + _bad_widths[:1])
spec(F, ssl_models.Conv3x3, lambda: dict(features=2, stride=2), {},
     [("features 0", "features", _with(features=0)), ("features 2.5", "features", _with(features=2.5)),
      ("stride 0", "stride", _with(stride=0)), ("unknown conv", "conv", _with(conv="nosuch"))])
spec(F, ssl_models.im2col_3x3, lambda: dict(x=_x8()[..., None], stride=2), {},
     [("stride 0", "stride", _with(stride=0)), ("stride 2.5", "stride", _with(stride=2.5)),
      ("stride '2'", "stride", _with(stride="2")), ("3-D x", "x", _with(x=_x8())), ("x None", "x", _with(x=None))])


def _init(module, x, method=None):
    """``module.init`` on ``x`` (as the methods build their parameters): the forward pass's input checks."""
    return module.init(_key(), x, method=method)


# counted with the module it checks (misuse_survey.py --module ebm_jax.models.ssl)
_init.__module__, _init.__name__, _init.__qualname__ = "ebm_jax.models.ssl", "init", "init"
_net = lambda: ssl_models.SSLNet(**_SMALL)  # noqa: E731
spec(F, _init, lambda: dict(module=_net(), x=_x8()), {},
     [("flat images (B, H*W)", "x", _with(x=_x8().reshape(2, -1))),
      ("5-D images", "x", _with(x=_x8()[:, None, ..., None])),
      ("one image without a batch axis", "x", _with(x=_x8()[0])),
      ("complex images", "x", _with(x=_x8().astype(complex))),
      ("x None", "x", _with(x=None)), ("x a string", "x", _with(x="images")),
      ("zero-height images", "x", _with(x=np.zeros((2, 0, 8), np.float32))),
      ("Encoder on flat images", "x", _with(module=ssl_models.Encoder((2,), 4), x=_x8().reshape(2, -1))),
      ("jigsaw tiles without a tile axis", "tiles",
       _with(x=_x8(), method=ssl_models.SSLNet.jigsaw))])
