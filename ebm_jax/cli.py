r"""The one command-line entry shared by every experiment.

An experiment module ``experiments/<name>.py`` defines
``train_and_evaluate(config, workdir) -> dict`` and ends with::

    if __name__ == "__main__":
        cli.main(train_and_evaluate, __file__)

Its config is ``experiments/configs/<name>.py`` with ``get_config(variant=None)``;
``variant="smoke"`` is the small version the tests run. Then::

    python -m experiments.<name> --workdir DIR [--config.key=value ...]
    python -m experiments.<name> --workdir DIR --config=experiments/configs/<name>.py:smoke
    python -m experiments <name> --workdir DIR ...          # the same, by name

``--workdir`` is required. An unknown ``--config.<key>``, a config file or
variant that does not load (a missing file, a syntax error, an unknown
variant), a flag value of the wrong type and any
:class:`~ebm_jax.checks.ConfigError` are reported in one line on stderr (exit
status 2) instead of a traceback.

Rerunning a workdir resumes it; a workdir started with another config is
refused (naming the changed keys) unless ``--allow_config_change=key1,key2``
lists them (it sets ``$EBM_JAX_ALLOW_CONFIG_CHANGE`` for
:func:`ebm_jax.train.write_config`). A run that cannot go on (no intact
checkpoint, a non-finite loss) ends with a one-line message (exit status 1);
Ctrl-C stops after the running chunk with a checkpoint (exit status 130).

Every run prints one line first: the backend, its devices, the precision policy
(``config.matmul_precision`` for training steps, :mod:`ebm_jax.precision`) and the
jax version; ``results.json`` records the same under ``env.*`` keys
(:mod:`ebm_jax.environment`). Training steps are traced at
``config.matmul_precision``; solvers and evaluation numbers at full float32.

Compiled programs are kept in a persistent compilation cache, so a rerun of the
same experiment does not compile again: ``$EBM_JAX_COMPILATION_CACHE_DIR``, by
default ``$XDG_CACHE_HOME/ebm_jax/xla`` (``~/.cache/ebm_jax/xla``);
``EBM_JAX_COMPILATION_CACHE=0`` turns it off, and a ``$JAX_COMPILATION_CACHE_DIR``
already set is used as it is.

Several processes: when the environment names a ``jax.distributed`` cluster
(the local launcher ``python -m ebm_jax.launch``, SLURM, Open MPI, ...), the
entry initializes it first and checks that every process got the same config
and workdir (:mod:`ebm_jax.train.distributed`).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import sys
from typing import Any, Callable, Mapping, Sequence

from ebm_jax import checks
from ebm_jax.checks import ConfigError, flatten_config, unknown_key_message

TrainAndEvaluate = Callable[[Any, str], Mapping[str, Any]]


def config_path_for(experiment_file: str | pathlib.Path) -> pathlib.Path:
    """``experiments/configs/<name>.py`` for ``experiments/<name>.py``."""
    path = checks.path(experiment_file, "experiment_file")
    if path.suffix != ".py":
        raise ValueError(f"experiment_file must be the experiment's .py file, got {str(path)!r}")
    return path.parent / "configs" / path.name


def _config_module(config_file: str | pathlib.Path):
    """The config module at ``config_file`` (an existing .py file), executed."""
    config_file = checks.file(config_file, "config_file", must_exist=True)
    if config_file.suffix != ".py":
        raise ValueError(f"config_file must be a Python file (.py), got {str(config_file)!r}")
    spec = importlib.util.spec_from_file_location(f"_ebm_jax_config_{config_file.stem}", config_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_config(config_file: str | pathlib.Path, variant: str | None = None):
    """Call ``get_config(variant)`` of the config module at ``config_file``.

    Raises:
      TypeError, FileNotFoundError, IsADirectoryError, ValueError: ``config_file`` is not an
        existing .py file with a ``get_config``, or ``variant`` is not None nor a non-empty string
        (an unknown variant is refused by the config's ``get_config``).
    """
    if variant is not None:
        checks.string(variant, "variant")
    module = _config_module(config_file)
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"config_file {str(config_file)!r} defines no get_config(variant=None)")
    return module.get_config(variant) if variant else module.get_config()


def validate_config(config, config_file: str | pathlib.Path) -> None:
    """Run the ``validate(config)`` of the config module at ``config_file``, if it has one."""
    checks.mapping(config, "config")
    validate = getattr(_config_module(config_file), "validate", None)
    if validate is not None:
        validate(config)


def _config_arg(argv: Sequence[str], default: pathlib.Path) -> tuple[pathlib.Path, str | None]:
    """The config file and variant of the last ``--config`` in ``argv`` (the one absl keeps)."""
    found = default, None
    for i, arg in enumerate(argv):
        value = None
        if arg.startswith("--config="):
            value = arg.split("=", 1)[1]
        elif arg == "--config" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            path, _, variant = value.partition(":")
            found = pathlib.Path(path), variant or None
    return found


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _try_load(path: pathlib.Path, variant: str | None):
    """``(config, None)``, or ``(None, one-line message)`` when the config file or variant does not load."""
    where = f"{path}:{variant}" if variant else str(path)
    if not path.is_file():
        return None, f"config file {path} does not exist"
    try:
        return load_config(path, variant), None
    except Exception as e:  # any failure to load is the user's config: report it in one line
        return None, _one_line(f"config {where} does not load: {type(e).__name__}: {e}")


def check_overrides(argv: Sequence[str], config_file: str | pathlib.Path) -> str | None:
    """The one-line message for a config that does not load or the first unknown ``--config.<key>`` in ``argv``.

    None when the config loads and every key is known.
    """
    argv = checks.strings(argv, "argv")
    path, variant = _config_arg(argv, checks.path(config_file, "config_file"))
    config, message = _try_load(path, variant)
    if message:
        return message
    valid = flatten_config(config)
    for arg in argv:
        m = re.match(r"--(?:no)?config\.([\w.]+)", arg)
        if m and m.group(1) not in valid:
            return unknown_key_message(m.group(1), valid)
    return None


def _allow_arg(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--allow_config_change="):
            return arg.split("=", 1)[1]
        if arg == "--allow_config_change" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def check_allowed_changes(argv: Sequence[str], config_file: str | pathlib.Path) -> str | None:
    """The one-line message for an unknown key in ``--allow_config_change`` (None if all are known)."""
    argv = checks.strings(argv, "argv")
    config_file = checks.path(config_file, "config_file")
    value = _allow_arg(argv)
    if not value:
        return None
    path, variant = _config_arg(argv, config_file)
    config, message = _try_load(path, variant)
    if message:
        return message
    valid = flatten_config(config)
    for key in (k.strip() for k in value.split(",")):
        if key and key not in valid:
            return "--allow_config_change: " + unknown_key_message(key, valid)
    return None


COMPILATION_CACHE_ENV = "EBM_JAX_COMPILATION_CACHE"
COMPILATION_CACHE_DIR_ENV = "EBM_JAX_COMPILATION_CACHE_DIR"
_OFF = ("0", "false", "no", "off")
_ON = ("", "1", "true", "yes", "on")


def compilation_cache_dir(environ: Mapping[str, str] | None = None) -> pathlib.Path | None:
    """Where command-line runs keep compiled programs (None: off). See the module docstring.

    ``environ`` (default ``os.environ``) maps strings to strings; ``$EBM_JAX_COMPILATION_CACHE``
    is one of 0/false/no/off or 1/true/yes/on (any case), else a ValueError naming it.
    """
    name = "os.environ" if environ is None else "environ"
    environ = os.environ if environ is None else checks.string_mapping(environ, "environ")
    switch = environ.get(COMPILATION_CACHE_ENV, "1").strip().lower()
    if switch not in _OFF + _ON:
        raise ValueError(f"{name}[{COMPILATION_CACHE_ENV!r}] must be one of {', '.join(_OFF + _ON[1:])}, "
                         f"got {environ[COMPILATION_CACHE_ENV]!r}")
    if switch in _OFF:
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return pathlib.Path(environ["JAX_COMPILATION_CACHE_DIR"])
    if environ.get(COMPILATION_CACHE_DIR_ENV):
        return pathlib.Path(environ[COMPILATION_CACHE_DIR_ENV])
    cache_home = environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(cache_home) / "ebm_jax" / "xla"


def enable_compilation_cache(environ: Mapping[str, str] | None = None) -> pathlib.Path | None:
    """Point JAX's persistent compilation cache at :func:`compilation_cache_dir`; returns it (None: off)."""
    import jax

    path = compilation_cache_dir(environ)
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in (os.environ if environ is None else environ):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return path


def _parse_flags(args: list[str]) -> list[str]:
    """absl's flag parsing, with a bad flag value reported in one line and exit status 2."""
    from absl import flags

    try:
        return flags.FLAGS(args)
    except flags.Error as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        sys.exit(2)


def main(train_and_evaluate: TrainAndEvaluate, experiment_file: str | pathlib.Path,
         argv: Sequence[str] | None = None) -> None:
    """Parse ``--workdir`` and ``--config``, run ``train_and_evaluate`` and print the results."""
    from absl import app, flags, logging
    from ml_collections import config_flags

    argv = list(sys.argv if argv is None else argv)
    config_file = config_path_for(experiment_file)
    message = check_overrides(argv[1:], config_file) or check_allowed_changes(argv[1:], config_file)
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    config_flag = config_flags.DEFINE_config_file("config", str(config_file), "Experiment config.",
                                                  lock_config=True)
    workdir_flag = flags.DEFINE_string("workdir", None, "Run directory (resumed when it holds checkpoints).")
    flags.mark_flag_as_required("workdir")
    allow_flag = flags.DEFINE_list("allow_config_change", [], "Config keys that may differ from the ones the "
                                   "workdir's run was started with (comma-separated).")

    def _main(args):
        if len(args) > 1:
            raise app.UsageError(f"unexpected arguments: {args[1:]}")
        from ebm_jax.train import CheckpointError, NonFiniteLossError, TrainingInterrupted
        from ebm_jax.train.workdir import ALLOW_CONFIG_CHANGE_ENV

        logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
        if allow_flag.value:
            os.environ[ALLOW_CONFIG_CHANGE_ENV] = ",".join(allow_flag.value)
        from ebm_jax.train import distributed

        from ebm_jax import environment, precision

        enable_compilation_cache()
        try:
            distributed.initialize_from_environment()
            distributed.assert_same_across_processes("the command line", {
                **{f"config.{k}": v for k, v in flatten_config(config_flag.value).items()},
                "workdir": str(pathlib.Path(workdir_flag.value).absolute()),
                "experiment": pathlib.Path(experiment_file).stem})
            validate_config(config_flag.value, _config_arg(argv[1:], config_file)[0])
            matmul_precision = config_flag.value.get("matmul_precision")
            try:
                policy = precision.training(matmul_precision)
            except ValueError as e:
                raise ConfigError(f"config.{e}") from None
            if distributed.is_main_process():
                print(environment.summary_line(matmul_precision=matmul_precision), flush=True)
            with policy:
                results = train_and_evaluate(config_flag.value, workdir_flag.value)
        except (ConfigError, distributed.ProcessMismatchError, distributed.CoordinatorUnreachableError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except (CheckpointError, NonFiniteLossError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)
        except TrainingInterrupted as e:
            print(f"stopped: {e}", file=sys.stderr)
            sys.exit(130)
        if not distributed.is_main_process():
            return
        print(f"results written to {pathlib.Path(workdir_flag.value) / 'results.json'}:")
        for key in sorted(results):
            print(f"  {key}: {results[key]}")

    app.run(_main, argv=argv, flags_parser=_parse_flags)
