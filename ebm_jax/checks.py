"""One validation mechanism for every public function, config and command line.

Errors name the argument, the value and what was expected::

    >>> from ebm_jax import checks
    >>> checks.positive_float(-1.0, "learning_rate")
    Traceback (most recent call last):
        ...
    ValueError: learning_rate must be a finite number > 0, got -1.0

Conventions:

* numpy and JAX scalars (``np.float32(0.1)``, ``np.int64(3)``, a 0-d array) are
  accepted wherever a Python number is; ``bool`` is never a number here.
* Scalar checks return the plain Python value, so callers can use it as a
  static argument.
* Array *value* checks (finite, binary, in a range) run only on concrete
  arrays: inside ``jax.jit`` they are skipped, so nothing here forces a host
  sync in a hot loop. Shape and dtype checks always run.
* Configs are validated by :func:`validate_config` against a mapping of
  rules (``{"learning_rate": checks.Float(gt=0), ...}``); a failure raises
  :class:`ConfigError`, which the command line prints as one line.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import pathlib
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np


class ConfigError(ValueError):
    """A config value (or key) is invalid; the message names ``config.<key>``."""


class DivergenceError(ValueError):
    """An iterative computation diverged (a non-finite result from finite inputs); names the setting to change."""


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``/``grad``)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x))


def _scalar(value, name: str):
    """``value`` as a Python bool/int/float, or TypeError naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Number) and not isinstance(value, (complex, np.complexfloating)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0 and not jnp.issubdtype(
            value.dtype, jnp.complexfloating):
        if not is_concrete(value):
            raise TypeError(f"{name} must be a concrete number, not a traced value (pass it as a static argument)")
        return np.asarray(value).item()
    raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def _range_text(ge=None, gt=None, le=None, lt=None) -> str:
    parts = []
    if ge is not None:
        parts.append(f">= {ge}")
    if gt is not None:
        parts.append(f"> {gt}")
    if le is not None:
        parts.append(f"<= {le}")
    if lt is not None:
        parts.append(f"< {lt}")
    return " and ".join(parts)


def _check_range(value, name, kind, ge, gt, le, lt, error=ValueError):
    ok = ((ge is None or value >= ge) and (gt is None or value > gt)
          and (le is None or value <= le) and (lt is None or value < lt))
    if not ok:
        text = _range_text(ge, gt, le, lt)
        raise error(f"{name} must be {kind}{' ' + text if text else ''}, got {value!r}")


def integer(value, name: str, *, ge=None, gt=None, le=None, lt=None, allow_none: bool = False,
            error=ValueError) -> int | None:
    """An integer (Python, numpy or 0-d array) within the given bounds, as ``int``."""
    if value is None and allow_none:
        return None
    v = _scalar(value, name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    _check_range(v, name, "an integer", ge, gt, le, lt, error)
    return v


def real(value, name: str, *, ge=None, gt=None, le=None, lt=None, allow_none: bool = False,
         finite: bool = True, allow_nan: bool = False, error=ValueError) -> float | None:
    """A real number (int, float, numpy or 0-d array), finite unless ``finite=False`` (and not NaN unless
    ``allow_nan``), as ``float``."""
    if value is None and allow_none:
        return None
    v = _scalar(value, name)
    if isinstance(v, bool):
        raise TypeError(f"{name} must be a number, got bool {value!r}")
    v = float(v)
    if math.isnan(v) and allow_nan:
        return v
    if math.isnan(v) or (finite and math.isinf(v)):
        text = _range_text(ge, gt, le, lt)
        raise error(f"{name} must be a finite number{' ' + text if text else ''}, got {v}")
    _check_range(v, name, "a finite number" if finite else "a number", ge, gt, le, lt, error)
    return v


def positive_int(value, name: str, **kw) -> int:
    return integer(value, name, ge=1, **kw)


def nonnegative_int(value, name: str, **kw) -> int:
    return integer(value, name, ge=0, **kw)


def positive_float(value, name: str, **kw) -> float:
    return real(value, name, gt=0, **kw)


def nonnegative_float(value, name: str, **kw) -> float:
    return real(value, name, ge=0, **kw)


def probability(value, name: str, **kw) -> float:
    return real(value, name, ge=0, le=1, **kw)


def one_of(value, name: str, choices: Iterable[Any], error=ValueError):
    """``value`` if it is in ``choices``; else an error listing them (and the closest)."""
    choices = tuple(choices)
    if value not in choices:
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [c for c in choices if isinstance(c, str)], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise error(f"{name} must be one of {choices}, got {value!r}{hint}")
    return value


def batch_size(value, num_examples: int, name: str = "batch_size") -> int:
    """A positive integer batch size no larger than the data: the one rule for every training loop."""
    value = integer(value, name, ge=1)
    if value > num_examples:
        raise ValueError(f"{name} ({value}) is larger than the data ({num_examples} examples)")
    return value


def divides(divisor: int, total: int, divisor_name: str, total_name: str) -> None:
    if total % divisor:
        raise ValueError(f"{divisor_name} ({divisor}) must divide {total_name} ({total})")


# ---------------------------------------------------------------------------- arrays


def array(a, name: str, *, ndim: int | Sequence[int] | None = None, dtype: str | None = None,
          allow_int: bool = True) -> jax.Array:
    """``a`` as a jax array; ``dtype="float"`` converts ints/bools to float32 (unless
    ``allow_int=False``) and rejects complex and other dtypes."""
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}")
    if isinstance(a, (bool, np.bool_)) and dtype == "float":
        raise TypeError(f"{name} must be a numeric array, got bool {a!r}")
    try:
        arr = jnp.asarray(a)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array, got {type(a).__name__}") from e
    if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        raise TypeError(f"{name} must be a numeric array, got a PRNG key")
    if dtype == "float" and not jnp.issubdtype(arr.dtype, jnp.floating):
        if (jnp.issubdtype(arr.dtype, jnp.integer) or arr.dtype == jnp.bool_) and allow_int:
            arr = arr.astype(jnp.float32)
        elif jnp.issubdtype(arr.dtype, jnp.integer):
            raise TypeError(f"{name} must be a real floating array, got dtype {arr.dtype} "
                            "(convert integer images with ebm_jax.data.to_float first)")
        else:
            raise TypeError(f"{name} must be a real floating array, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = allowed[0] if len(allowed) == 1 else " or ".join(map(str, allowed))
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    return arr


def float_array(a, name: str, *, ndim=None, finite: bool = True, nonempty: bool = True,
                domain: str | None = None, allow_int: bool = True, min_ndim: int = 0) -> jax.Array:
    """A real floating array (ints and bools converted unless ``allow_int=False``), finite where concrete.

    ``nonempty``: no zero-sized axis. ``domain``: ``"binary"`` (0/1, Bernoulli data)
    or ``"unit"`` ([0, 1]), checked where concrete. ``min_ndim``: at least that many
    dimensions (e.g. 1 for a batch).
    """
    arr = array(a, name, ndim=ndim, dtype="float", allow_int=allow_int)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if finite:
        check_finite(arr, name)
    if domain == "binary":
        check_binary(arr, name)
    elif domain == "unit":
        check_in_range(arr, name, 0.0, 1.0)
    elif domain is not None:
        raise ValueError(f"unknown domain {domain!r}")
    return arr


def class_labels(y, name: str, *, num_examples: int | None = None, num_classes: int | None = None) -> np.ndarray:
    """Integer class labels as a 1-D numpy array: non-empty, ``>= 0``, ``< num_classes`` when given, one
    per example when ``num_examples`` is given; else a ValueError/TypeError naming ``name``."""
    if y is None or isinstance(y, (str, bytes)):
        raise TypeError(f"{name} must be an array of integer class labels, got {type(y).__name__}")
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one label per example (1-D), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if num_examples is not None and len(arr) != num_examples:
        raise ValueError(f"{name} must have one label per example ({num_examples}), got {len(arr)}")
    top = f" and < num_classes={num_classes}" if num_classes is not None else ""
    if arr.min() < 0 or (num_classes is not None and arr.max() >= num_classes):
        raise ValueError(f"{name} must be >= 0{top}, got labels in [{arr.min()}, {arr.max()}]")
    return arr


def real_or_traced(value, name: str, **bounds):
    """A real scalar within ``bounds`` as ``float``; a traced 0-d float passes unchecked (inside ``jit``)."""
    if isinstance(value, jax.core.Tracer):
        if np.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"{name} must be a real scalar, got a traced {value.dtype}{list(np.shape(value))}")
        return value
    if isinstance(value, (np.ndarray, jax.Array)) and np.ndim(value) == 0 and not jnp.issubdtype(
            value.dtype, jnp.floating) and not jnp.issubdtype(value.dtype, jnp.integer):
        raise TypeError(f"{name} must be a real number, got dtype {value.dtype}")
    return real(value, name, **bounds)


def prng_key(key, name: str = "key"):
    """A JAX PRNG key: a typed key (``jax.random.key``) or a raw uint32 key (``jax.random.PRNGKey``)."""
    if isinstance(key, (jax.Array, np.ndarray)) or isinstance(key, jax.core.Tracer):
        dtype = key.dtype
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            return key
        if dtype == jnp.uint32 and np.ndim(key) >= 1 and np.shape(key)[-1] in (2, 4):
            return key
    raise TypeError(f"{name} must be a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), "
                    f"got {type(key).__name__} {key!r}"[:300])


def seed(value, name: str = "seed") -> int:
    """A random seed: an integer in [0, 2**32) (not a string, a bool or a float)."""
    return integer(value, name, ge=0, lt=2**32)


def function(fn, name: str):
    """``fn`` if it is callable, else a TypeError naming ``name``."""
    if not callable(fn):
        raise TypeError(f"{name} must be a callable, got {type(fn).__name__} {fn!r}")
    return fn


def optimizer(tx, name: str = "tx"):
    """``tx`` if it is an optax ``GradientTransformation`` (callable ``init`` and ``update``), else a TypeError."""
    if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
        raise TypeError(f"{name} must be an optax.GradientTransformation, got {type(tx).__name__} {tx!r}"[:300])
    return tx


def instance(obj, name: str, cls, what: str | None = None):
    """``obj`` if it is an instance of ``cls``, else a TypeError naming ``name``."""
    if not isinstance(obj, cls):
        want = what or (cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls))
        raise TypeError(f"{name} must be a {want}, got {type(obj).__name__} {obj!r}"[:300])
    return obj


def boolean(value, name: str) -> bool:
    """``value`` as a bool (Python or numpy bool), else a TypeError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def mapping(value, name: str) -> Mapping:
    """``value`` if it is a mapping (a dict, or an ``ml_collections.ConfigDict`` as its dict), else a TypeError."""
    if not isinstance(value, Mapping) and callable(getattr(value, "to_dict", None)):
        value = value.to_dict()
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (a dict), got {type(value).__name__} {value!r}"[:300])
    return value


def string(value, name: str, *, nonempty: bool = True, allow_none: bool = False) -> str | None:
    """``value`` if it is a str (not empty unless ``nonempty=False``; None too if ``allow_none``), else a
    TypeError/ValueError naming ``name``."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}"[:300])
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty")
    return value


def path(value, name: str) -> pathlib.Path:
    """``value`` (a non-empty str or ``os.PathLike``) as a ``pathlib.Path``, else a TypeError naming ``name``."""
    if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes) or not os.fspath(value):
        raise TypeError(f"{name} must be a path (a non-empty str or os.PathLike), got {type(value).__name__} "
                        f"{value!r}"[:300])
    return pathlib.Path(value)


def _no_file_above(p: pathlib.Path, name: str) -> None:
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{name} {str(p)!r} lies under {str(parent)!r}, which is a file")
            return


def directory(value, name: str, *, must_exist: bool = False) -> pathlib.Path:
    """``value`` as a directory path: not an existing file nor under one (``NotADirectoryError``), and
    existing if ``must_exist`` (``FileNotFoundError``); the messages name ``name``."""
    p = path(value, name)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{name} {str(p)!r} is a file, not a directory")
    _no_file_above(p, name)
    if must_exist and not p.exists():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist")
    return p


def file(value, name: str, *, must_exist: bool = False) -> pathlib.Path:
    """``value`` as a file path: not a directory (``IsADirectoryError``) nor under a file
    (``NotADirectoryError``), and existing if ``must_exist`` (``FileNotFoundError``); the messages name ``name``."""
    p = path(value, name)
    if p.is_dir():
        raise IsADirectoryError(f"{name} {str(p)!r} is a directory, not a file")
    _no_file_above(p, name)
    if must_exist and not p.exists():
        raise FileNotFoundError(f"{name} {str(p)!r} does not exist")
    return p


def devices(value, name: str = "devices") -> list:
    """A non-empty list of ``jax.Device`` (a list, tuple or numpy array of them), else an error naming ``name``."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be a list of jax devices (e.g. jax.devices()), got {type(value).__name__}")
    found = list(np.asarray(value, dtype=object).reshape(-1)) if isinstance(value, np.ndarray) else list(value)
    if not found:
        raise ValueError(f"{name} is empty: it needs at least one device")
    for d in found:
        if not isinstance(d, jax.Device):
            raise TypeError(f"{name} must hold jax devices (e.g. jax.devices()), got {type(d).__name__} {d!r}")
    return found


def mesh(value, name: str = "mesh", *, axis: str | None = "data"):
    """``value`` if it is a ``jax.sharding.Mesh`` (with an ``axis`` axis unless None), else an error naming ``name``."""
    if not isinstance(value, jax.sharding.Mesh):
        raise TypeError(f"{name} must be a jax.sharding.Mesh, got {type(value).__name__} {value!r}"[:300])
    if axis is not None and axis not in value.axis_names:
        raise ValueError(f"{name} needs an axis named {axis!r}, got axes {value.axis_names}")
    return value


def array_tree(tree, name: str):
    """``tree`` if it is a pytree with at least one leaf and every leaf an array or a number, else a TypeError."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise TypeError(f"{name} must be a pytree of arrays, got {type(tree).__name__} with no leaves")
    for leaf in leaves:
        if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, numbers.Number)):
            raise TypeError(f"{name} must be a pytree of arrays, got a leaf of type {type(leaf).__name__}")
    return tree


def check_finite(a, name: str) -> None:
    """ValueError if a concrete ``a`` holds NaN or inf (skipped under tracing)."""
    if is_concrete(a):
        values = np.asarray(a)
        if np.issubdtype(values.dtype, np.inexact) and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")


def check_binary(a, name: str) -> None:
    """ValueError if a concrete ``a`` holds values other than 0 and 1 (Bernoulli data)."""
    if is_concrete(a):
        values = np.asarray(a)
        ok = (values == 0) | (values == 1)
        if not ok.all():
            example = values[~ok].flat[0]
            raise ValueError(f"{name} must be binary (0/1) for a Bernoulli model, "
                             f"got {int((~ok).sum())} other value(s), e.g. {example}")


def check_in_range(a, name: str, lo: float, hi: float) -> None:
    """ValueError if a concrete ``a`` has values outside ``[lo, hi]`` (or NaN)."""
    if is_concrete(a):
        values = np.asarray(a)
        if values.size and not ((values >= lo) & (values <= hi)).all():
            raise ValueError(f"{name} must lie in [{lo}, {hi}], got values in "
                             f"[{np.nanmin(values)}, {np.nanmax(values)}]"
                             + (" and NaN" if np.isnan(values).any() else ""))


def check_shape(a, name: str, shape: Sequence[int | None]) -> None:
    """ValueError unless ``a.shape`` matches ``shape`` (``None`` matches any size)."""
    got = tuple(np.shape(a))
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {got}")


# ---------------------------------------------------------------------------- configs

Rule = Callable[[Any, str], Any]


def _as_config_error(check: Callable[[Any, str], Any]) -> Rule:
    """A rule whose TypeError (a value of the wrong type) is a :class:`ConfigError` too."""
    def rule(value, name):
        try:
            return check(value, name)
        except ConfigError:
            raise
        except TypeError as e:
            raise ConfigError(str(e)) from None
    return rule


def Int(**bounds) -> Rule:
    """Config rule: an integer within ``bounds`` (``ge``, ``gt``, ``le``, ``lt``)."""
    return _as_config_error(lambda value, name: integer(value, name, error=ConfigError, **bounds))


def Float(**bounds) -> Rule:
    """Config rule: a finite real within ``bounds``."""
    return _as_config_error(lambda value, name: real(value, name, error=ConfigError, **bounds))


def Bool() -> Rule:
    def rule(value, name):
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{name} must be True or False, got {value!r}")
        return bool(value)
    return rule


def OneOf(*choices) -> Rule:
    return lambda value, name: one_of(value, name, choices, error=ConfigError)


def TupleOf(rule: Rule, *, min_len: int = 1, max_len: int | None = None) -> Rule:
    """Config rule: a tuple/list (not a comma string) whose every item passes ``rule``."""
    def check(value, name):
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            raise ConfigError(f"{name} must be a tuple, e.g. ({value!r},), got {type(value).__name__} {value!r}")
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            limit = f"between {min_len} and {max_len}" if max_len is not None else f"at least {min_len}"
            raise ConfigError(f"{name} must hold {limit} item(s), got {len(value)}")
        return tuple(rule(v, f"{name}[{i}]") for i, v in enumerate(value))
    return check


def Str() -> Rule:
    def rule(value, name):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {type(value).__name__} {value!r}")
        return value
    return rule


def validate_config(config, rules: Mapping[str, Rule], *, cross_checks: Sequence[Callable[[Any], None]] = ()):
    """Check every key of ``config`` named in ``rules``; then each cross check.

    Keys are dotted paths (``"optimizer.learning_rate"``). Every key in
    ``rules`` must exist in ``config`` and every key of ``config`` must have a
    rule, so a rule cannot silently go stale. A cross check is a callable
    ``config -> None`` raising :class:`ConfigError` for combinations that no
    single rule sees (e.g. a batch larger than the dataset).
    """
    flat = flatten_config(config)
    missing = sorted(set(rules) - set(flat))
    if missing:
        raise ConfigError(f"config lacks key(s) {missing} that its rules expect")
    unruled = sorted(set(flat) - set(rules))
    if unruled:
        raise ConfigError(f"config key(s) {unruled} have no validation rule")
    for key, rule in rules.items():
        rule(flat[key], f"config.{key}")
    for check in cross_checks:
        check(config)
    return config


def at_most(key: str, limit_key: str, *, zero_is_no_limit: bool = False) -> Callable[[Any], None]:
    """A cross check for :func:`validate_config`: ``config.<key> <= config.<limit_key>``.

    For the common "a batch larger than the data" mistake: ``at_most("batch_size",
    "num_train")``. With ``zero_is_no_limit``, a limit of 0 means "all" and is
    not checked (e.g. ``num_train_examples = 0``: the whole training set).
    """
    def check(config) -> None:
        flat = flatten_config(config)
        value, limit = flat[key], flat[limit_key]
        if zero_is_no_limit and not limit:
            return
        if value > limit:
            raise ConfigError(f"config.{key} ({value}) exceeds config.{limit_key} ({limit})")

    check.__name__ = f"at_most_{key}_{limit_key}".replace(".", "_")
    return check


def flatten_config(config, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of a (nested) ConfigDict or mapping."""
    items = config.items() if hasattr(config, "items") else ()
    flat = {}
    for key, value in items:
        path = f"{prefix}{key}"
        if hasattr(value, "items") and not isinstance(value, (str, bytes)):
            flat.update(flatten_config(value, path + "."))
        else:
            flat[path] = value
    return flat


def unknown_key_message(key: str, valid: Iterable[str]) -> str:
    """One line: the unknown ``config.<key>`` and the closest valid key."""
    valid = sorted(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean config.{close[0]}?" if close else ""
    return f"unknown config key config.{key}{hint} (valid keys: {', '.join(valid)})"


def strings(value, name: str, *, nonempty: bool = False) -> list[str]:
    """``value`` (a list or tuple of str, not one str) as a list, non-empty if ``nonempty``; else a
    TypeError/ValueError naming ``name`` (and the item at fault, ``name[i]``). For argument vectors,
    commands and lists of ids."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__} {value!r}"[:300])
    if nonempty and not value:
        raise ValueError(f"{name} must not be empty")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(item).__name__} {item!r}"[:300])
    return list(value)


def string_mapping(value, name: str) -> Mapping[str, str]:
    """``value`` if it maps str to str (an environment such as ``os.environ``), else a TypeError naming ``name``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of strings to strings (an environment), got "
                        f"{type(value).__name__} {value!r}"[:300])
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{name} must map strings to strings (an environment), got {key!r}: "
                            f"{type(item).__name__} {item!r}"[:300])
    return value
