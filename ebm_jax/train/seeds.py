"""Many seeds in one compiled program: a leading seed axis on the train state.

``fit(..., num_seeds=S)`` trains S independent replicas at once: the state's
every leaf has a leading axis of S (:func:`stack`), ``rng`` is S keys
(:func:`seed_keys`), and each step is ``jax.vmap(step_fn)``, so replica ``i``
has its own initialization, data order (its own epoch permutations) and step
keys, and follows exactly the computation of ``fit(unstack(state, i), ...,
rng=rng[i])`` (the same numbers up to float reassociation inside the batched
matmuls). The replicas are checkpointed and resumed together (one pytree).

Small models leave the vector units (or an accelerator) mostly idle, so S
replicas in one program cost much less than S runs one after another
(``scripts/bench_seeds.py``).

Results: :func:`summarize` turns per-seed numbers into the flat
``name_seed<i>`` / ``name_mean`` / ``name_std`` entries of ``results.json``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import checks


def validate_num_seeds(num_seeds) -> int:
    """``num_seeds`` as an int >= 1, or a ValueError/TypeError naming it."""
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, (int, np.integer)):
        raise TypeError(f"num_seeds must be a positive integer, got {num_seeds!r}")
    if num_seeds < 1:
        raise ValueError(f"num_seeds must be >= 1, got {num_seeds}")
    return int(num_seeds)


def seed_keys(seed: int, num_seeds: int, impl: str | None = None) -> jax.Array:
    """``[key(seed), key(seed + 1), ..., key(seed + S - 1)]`` as one ``(S,)`` key array.

    Replica ``i`` of a run with ``seed`` is the single run with ``seed + i``.
    """
    num_seeds = validate_num_seeds(num_seeds)
    seed = checks.seed(seed)
    return jnp.stack([jax.random.key(seed + i, impl=impl) for i in range(num_seeds)])


def stack(states: Sequence[Any]):
    """One pytree whose leaves stack the leaves of ``states`` on a new leading (seed) axis.

    The static fields (e.g. a TrainState's ``tx`` and ``apply_fn``) are taken
    from ``states[0]``: every state must have been made by the same code.
    """
    if isinstance(states, (str, bytes)) or not isinstance(states, Sequence):
        raise TypeError(f"states must be a sequence of train states, got {type(states).__name__}")
    if not states:
        raise ValueError("states is empty: stack needs at least one state")
    treedef = jax.tree.structure(states[0])
    leaves = [jax.tree.leaves(s) for s in states]
    for i, state_leaves in enumerate(leaves):
        if len(state_leaves) != len(leaves[0]):
            raise ValueError(f"states[{i}] has {len(state_leaves)} arrays, states[0] {len(leaves[0])}: "
                             "the states to stack must come from the same code")
        for a, b in zip(state_leaves, leaves[0]):
            if np.shape(a) != np.shape(b):
                raise ValueError(f"states[{i}] has an array of shape {np.shape(a)} where states[0] has "
                                 f"{np.shape(b)}: the states to stack must have the same shapes")
    return jax.tree.unflatten(treedef, [jnp.stack(group) for group in zip(*leaves)])


def init(create_state: Callable[[jax.Array], Any], keys: jax.Array):
    """``stack([create_state(k) for k in keys])``: S states from S keys (creation runs once per seed)."""
    checks.function(create_state, "create_state")
    keys = checks.prng_key(keys, "keys")
    typed = jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    if np.ndim(keys) != (1 if typed else 2):
        raise ValueError(f"keys must be one key per seed (ebm_jax.train.seeds.seed_keys), got shape {np.shape(keys)}")
    return stack([create_state(k) for k in keys])


def unstack(state, index: int):
    """Replica ``index`` of a stacked state (every leaf's ``[index]``), ``0 <= index <`` :func:`num_replicas`."""
    index = checks.integer(index, "index", ge=0)
    if index >= (n := num_replicas(state)):
        raise ValueError(f"index {index} is past the last of the state's {n} replicas")
    return jax.tree.map(lambda leaf: leaf[index], state)


def num_replicas(state) -> int:
    """The common leading axis of every leaf of ``state`` (ValueError if they differ)."""
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(state)}
    if not sizes:
        raise ValueError(f"state has no arrays (got {type(state).__name__})")
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"a state with a seed axis needs the same leading axis on every leaf, got {sizes}")
    return sizes.pop()


def validate_seeded(state, rng, num_seeds: int) -> None:
    """Check that ``state`` and ``rng`` carry a leading seed axis of ``num_seeds``."""
    num_seeds = validate_num_seeds(num_seeds)
    try:
        found = num_replicas(state)
    except ValueError as e:
        raise ValueError(f"num_seeds={num_seeds}: {e} (build it with ebm_jax.train.seeds.init or stack)") from None
    if found != num_seeds:
        raise ValueError(f"num_seeds={num_seeds} but the state's leading (seed) axis has {found} replicas")
    is_key = jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key)
    key_shape = rng.shape if is_key else rng.shape[:-1]
    if key_shape != (num_seeds,):
        raise ValueError(f"num_seeds={num_seeds} needs rng to be {num_seeds} keys (ebm_jax.train.seeds.seed_keys), "
                         f"got keys of shape {key_shape}")


def summarize(per_seed: Mapping[str, Sequence[float]] | Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Flat per-seed entries, mean and sample standard deviation (ddof=1; 0 for one seed).

    ``per_seed`` is ``{name: [value of seed 0, seed 1, ...]}`` or a list of one
    results dict per seed (then numbers are summarized, and strings kept once when
    every seed agrees). Returns ``{name_seed0, ..., name_mean, name_std}``; a seed's NaN is
    kept (its mean and std are then NaN), so that a failed seed shows in the results.

        >>> summarize({"nll": [90.0, 92.0]})
        {'nll_seed0': 90.0, 'nll_seed1': 92.0, 'nll_mean': 91.0, 'nll_std': 1.4142135623730951}
    """
    if per_seed is None or isinstance(per_seed, (str, bytes)) or not isinstance(per_seed, (Mapping, Sequence)):
        raise TypeError(f"per_seed must be {{name: values}} or a list of results dicts, got {type(per_seed).__name__}")
    if not isinstance(per_seed, Mapping):
        dicts = list(per_seed)
        if not dicts:
            raise ValueError("per_seed is empty: summarize needs the results of at least one seed")
        for i, d in enumerate(dicts):
            if not isinstance(d, Mapping) or set(d) != set(dicts[0]):
                raise ValueError(f"per_seed[{i}] must be a results dict with the names of per_seed[0] "
                                 f"({sorted(map(str, dicts[0]))}), got {d!r}"[:300])
        out: dict[str, Any] = {}
        numbers = {}
        for name in dicts[0]:
            values = [d[name] for d in dicts]
            if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
                numbers[name] = values
            elif all(v == values[0] for v in values):
                out[name] = values[0]
        return {**out, **summarize(numbers)}
    out = {}
    for name, values in per_seed.items():
        if not isinstance(name, str):
            raise TypeError(f"per_seed's names must be strings, got {name!r}")
        try:
            values = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"per_seed[{name!r}] must be numbers, got {values!r}"[:300]) from None
        if values.size == 0:
            raise ValueError(f"per_seed[{name!r}] has no values")
        for i, v in enumerate(values):
            out[f"{name}_seed{i}"] = float(v)
        out[f"{name}_mean"] = float(values.mean())
        out[f"{name}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return out


def flatten_metric(name: str, value) -> dict[str, float]:
    """``{name: v}`` for a scalar; ``{name: mean, name_seed<i>: v_i}`` for one value per seed (``(S,)``).

    NaN and inf are kept: they are what the step reported.
    """
    checks.string(name, "name", nonempty=False)
    # numpy only: the loop calls this for every logged row of device_get metrics (no device round trip)
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"value must be a number or one number per seed, got {type(value).__name__}")
    values = np.asarray(value)
    if not (values.dtype == np.bool_ or jnp.issubdtype(values.dtype, jnp.integer)
            or jnp.issubdtype(values.dtype, jnp.floating)):
        raise TypeError(f"value must be real numbers, got dtype {values.dtype}")
    if values.ndim > 1 or values.size == 0:
        raise ValueError(f"value must be a number or one number per seed (S,), got shape {values.shape}")
    values = values.astype(np.float64)
    if values.ndim == 0:
        return {name: float(values)}
    values = values.reshape(-1)
    out = {name: float(values.mean())}
    out.update({f"{name}_seed{i}": float(v) for i, v in enumerate(values)})
    return out
