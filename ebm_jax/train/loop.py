"""The training loop: one jitted loop over device-resident minibatches.

:func:`fit` runs ``num_epochs`` epochs of ``step_fn`` over ``data``:

* each epoch visits a fresh permutation ``permutation(fold_in(data_key, epoch))``
  of the examples in ``N // batch_size`` batches (the remainder is dropped);
* the steps between two checkpoints are one compiled ``lax.fori_loop`` (no host
  round trip per step) whose length is traced, so that every chunk length runs
  the same program; the step's key is ``fold_in(step_key, state.step)``;
* the batch is sharded over the ``"data"`` axis of a device mesh; parameters
  are replicated, so XLA all-reduces the gradient (data parallelism);
* every ``checkpoint_every_steps`` steps and at the end, the state is saved
  with Orbax; calling :func:`fit` again with the same ``workdir`` resumes from
  the newest checkpoint and ends bit-identical to a run that never stopped;
* metrics go to ``workdir/metrics.jsonl`` every ``log_every_steps`` steps, and
  the same scalars to TensorBoard event files in ``workdir``
  (:class:`~ebm_jax.train.workdir.MetricWriter`);
* progress: a tqdm bar in a terminal, one line per chunk (at most one every
  few seconds) when stderr is not a terminal (:mod:`ebm_jax.train.progress`);
* a non-finite loss (or a non-finite state after a finite loss) stops training
  with :class:`NonFiniteLossError` before the chunk is saved, keeping the last
  good checkpoint on disk;
* the caller's ``state`` is never donated (the loop donates its own copy);
* checkpoints are verified on restore (:mod:`ebm_jax.train.checkpoint`);
* with ``num_seeds=S`` the state carries a leading seed axis and every step is
  ``jax.vmap(step_fn)``: S independent replicas (own initialization, data order
  and step keys) in one compiled program (:mod:`ebm_jax.train.seeds`);
* under ``jax.distributed`` the mesh spans every process's devices and each
  process feeds its own slice of every global batch (:mod:`ebm_jax.train.distributed`);
* Ctrl-C stops training after the running chunk with a checkpoint
  (:class:`~ebm_jax.train.interrupt.TrainingInterrupted`); chunks are shortened
  so that none runs longer than ``max_chunk_seconds``
  (:mod:`ebm_jax.train.interrupt`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Callable, Mapping

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ebm_jax import checks, precision
from ebm_jax.train import distributed, interrupt, seeds
from ebm_jax.train.checkpoint import Checkpointer
from ebm_jax.train.progress import Progress
from ebm_jax.train.workdir import MetricWriter

StepFn = Callable[[Any, Any, jax.Array], tuple[Any, Mapping[str, jax.Array]]]


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all visible)."""
    devices = jax.devices() if devices is None else checks.devices(devices)
    return Mesh(np.asarray(devices), ("data",))


def batch_mesh(batch_size: int, devices=None, *, warn: Callable[[str], None] | None = None) -> Mesh:
    """The default mesh of :func:`fit`: every device, or as many as divide ``batch_size``.

    A global batch is split evenly over the ``"data"`` axis. Within one process,
    a batch that does not divide over all ``len(devices)`` devices runs on the
    largest number of them that divides it (100 examples on 8 GPUs: 5 GPUs), and
    ``warn`` gets one line saying so. Across several processes every process must
    hold a part of the mesh, so there the batch must divide the global device
    count, and :func:`validate_fit_args` refuses it naming both numbers.
    """
    batch_size = checks.positive_int(batch_size, "batch_size")
    if warn is not None:
        checks.function(warn, "warn")
    devices = jax.devices() if devices is None else checks.devices(devices)
    if batch_size % len(devices) == 0 or distributed.process_count() > 1:
        return data_mesh(devices)
    used = max(d for d in range(1, len(devices) + 1) if batch_size % d == 0)
    if warn is not None:
        warn(f"batch_size {batch_size} does not divide over {len(devices)} devices: training on {used} of them "
             f"(a batch_size that is a multiple of {len(devices)} uses all)")
    return data_mesh(devices[:used])


def num_examples(data) -> int:
    """The common leading dimension of every leaf of ``data``."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError("data is empty: it has no arrays")
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"every array in data needs the same leading (example) axis, got sizes {sizes}")
    return sizes.pop()


def validate_fit_args(data, batch_size: int, num_epochs: int, num_devices: int) -> int:
    """Check the loop's arguments before anything is compiled; returns N."""
    num_devices = checks.positive_int(num_devices, "num_devices")
    n = num_examples(data)
    if n == 0:
        raise ValueError("data is empty: it has 0 examples")
    batch_size = checks.batch_size(batch_size, n)
    if batch_size % num_devices:
        processes = distributed.process_count()
        where = f" ({processes} processes x their devices)" if processes > 1 else ""
        raise ValueError(f"batch_size ({batch_size}) must be divisible by the number of devices "
                         f"({num_devices}{where})")
    checks.positive_int(num_epochs, "num_epochs")
    for path, leaf in jax.tree_util.tree_leaves_with_path(data):
        where = "data" + jax.tree_util.keystr(path)
        values = np.asarray(leaf)
        if values.dtype == np.uint8:
            raise TypeError(f"{where} is uint8 (raw image bytes, 0-255): convert it to floats in [0, 1] "
                            "first (ebm_jax.data.to_float)")
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_) or np.iscomplexobj(values):
            raise TypeError(f"{where} must be a real numeric array, got dtype {values.dtype}")
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            raise ValueError(f"{where} contains NaN or infinite values")
    return n


@jax.jit
def _all_finite(tree) -> jax.Array:
    """Whether every floating-point leaf of ``tree`` is finite (one fused reduction)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.bool_(True)


def _non_finite_error(what: str, checkpointer) -> NonFiniteLossError:
    kept = checkpointer.latest_step() if checkpointer is not None else None
    return NonFiniteLossError(
        what + "; " + (f"the last good checkpoint (step {kept}) is kept in {checkpointer.directory}"
                       if kept is not None else "no checkpoint was written")
        + ". Lower the learning rate or check the data; rerunning this workdir with another learning rate "
          "needs --allow_config_change=learning_rate (it goes on from that checkpoint), or use a new workdir.")


def _keyed_step(step_fn: StepFn, seeded: bool):
    """``(state, batch, step_key) -> step_fn(state, batch, fold_in(step_key, state.step))``, vmapped over seeds."""
    def step(state, batch, step_key):
        return step_fn(state, batch, jax.random.fold_in(step_key, state.step))

    return jax.vmap(step) if seeded else step


def _make_run_chunk(step_fn: StepFn, batch_size: int, mesh: Mesh, seeded: bool = False,
                    matmul_precision: str | None = None):
    """One process: the data live on the devices; each step gathers its batch by index.

    ``perm`` is the epoch's permutation, ``(steps * batch_size,)``, or one per
    seed, ``(S, steps * batch_size)``; the batch is ``(batch, ...)`` or ``(S, batch, ...)``.
    ``run_chunk(state, data, perm, start, length, step_key, capacity=C)`` runs steps
    ``start .. start + length − 1`` of the epoch and returns the state and each
    metric stacked over ``C`` rows, of which the first ``length`` are the steps'.

    ``length`` is a traced loop bound, so one program serves every chunk length up
    to ``capacity``: a resumed, shortened or last chunk runs the very program (and
    arithmetic) of a full one. With a static length XLA compiles each length anew,
    and may simplify a one-step loop into straight-line code whose fused arithmetic
    differs in the last bit, which would break bit-identical resumption.
    """
    batch_sharding = NamedSharding(mesh, P(None, "data") if seeded else P("data"))
    step = _keyed_step(step_fn, seeded)

    def run_chunk(state, data, perm, start, length, step_key, *, capacity):
        def batch_at(i):
            idx = jax.lax.dynamic_slice_in_dim(perm, (start + i) * batch_size, batch_size, axis=perm.ndim - 1)
            batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)
            return jax.lax.with_sharding_constraint(batch, batch_sharding)

        def body(i, carry):
            state, rows = carry
            state, metrics = step(state, batch_at(i), step_key)
            return state, jax.tree.map(lambda buf, value: buf.at[i].set(value), rows, metrics)

        with precision.training(matmul_precision):
            shapes = jax.eval_shape(step, state, batch_at(0), step_key)[1]
            rows = jax.tree.map(lambda a: jnp.zeros((capacity,) + a.shape, a.dtype), shapes)
            return jax.lax.fori_loop(0, length, body, (state, rows))

    return jax.jit(run_chunk, static_argnames="capacity", donate_argnums=0,
                   out_shardings=NamedSharding(mesh, P()))


def _make_run_fed_chunk(step_fn: StepFn, mesh: Mesh, seeded: bool = False, matmul_precision: str | None = None):
    """Several processes: the chunk's batches arrive as one global ``(capacity, [S,] batch, ...)`` array.

    ``run_chunk(state, batches, length, step_key)`` runs the first ``length`` of them
    (a traced bound, as in :func:`_make_run_chunk`: one program for every chunk length)
    and returns each metric stacked over ``capacity`` rows.
    """
    batch_sharding = NamedSharding(mesh, P(None, "data") if seeded else P("data"))
    step = _keyed_step(step_fn, seeded)

    def run_chunk(state, batches, length, step_key):
        def batch_at(i):
            return jax.lax.with_sharding_constraint(jax.tree.map(lambda a: a[i], batches), batch_sharding)

        def body(i, carry):
            state, rows = carry
            state, metrics = step(state, batch_at(i), step_key)
            return state, jax.tree.map(lambda buf, value: buf.at[i].set(value), rows, metrics)

        capacity = jax.tree.leaves(batches)[0].shape[0]
        with precision.training(matmul_precision):
            shapes = jax.eval_shape(step, state, batch_at(0), step_key)[1]
            rows = jax.tree.map(lambda a: jnp.zeros((capacity,) + a.shape, a.dtype), shapes)
            return jax.lax.fori_loop(0, length, body, (state, rows))

    return jax.jit(run_chunk, donate_argnums=0, out_shardings=NamedSharding(mesh, P()))


def _warn_main(message: str) -> None:
    if distributed.is_main_process():
        print(f"warning: {message}", file=sys.stderr, flush=True)


def _scalars(metrics: Mapping[str, Any], index: int | None = None) -> dict[str, float]:
    """The JSON scalars of ``metrics`` (row ``index`` of each): one value, or a mean and one per seed."""
    out = {}
    for name, value in metrics.items():
        out.update(seeds.flatten_metric(name, value if index is None else value[index]))
    return out


@contextlib.contextmanager
def _first_batch_errors(first: bool, data):
    """On the first chunk, a step that cannot trace on the data (a width mismatch: flax's
    ScopeParamShapeError, a dot_general TypeError) becomes one ValueError naming ``data``."""
    if not first:
        yield
        return
    try:
        yield
    except (flax.errors.FlaxError, TypeError, ValueError) as e:
        shapes = jax.tree.map(lambda a: tuple(np.shape(a)[1:]), data)
        raise ValueError(f"data does not fit step_fn and state: per-example shapes {shapes} fail on the first "
                         f"batch with {type(e).__name__}: {str(e).splitlines()[0][:300]}") from e


def _check_metrics(metrics, loss_key: str) -> None:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"step_fn must return (state, metrics) with metrics a dict, got {type(metrics).__name__}")
    if loss_key not in metrics:
        raise ValueError(f"loss_key {loss_key!r} is not among the step's metrics {sorted(metrics)}")


def _check_eval(result, num_seeds):
    """eval_fn's metrics: a mapping of scalars (one value per seed when training seeds at once)."""
    if not isinstance(result, Mapping):
        raise TypeError(f"eval_fn must return a dict of scalar metrics, got {type(result).__name__}")
    allowed = ((), (num_seeds,)) if num_seeds is not None else ((),)
    for name, value in result.items():
        shape = np.shape(value)
        if shape not in allowed:
            want = "a scalar" + (f" or one value per seed ({num_seeds},)" if num_seeds is not None else "")
            raise ValueError(f"eval_fn must return {want} per metric, got {name!r} of shape {shape}")
    return result


def _global_step(state) -> int:
    """``state.step`` as an int (with a seed axis, every replica is at the same step)."""
    return int(np.asarray(state.step).reshape(-1)[0])


def fit(state, step_fn: StepFn, data, *, batch_size: int, num_epochs: int, rng: jax.Array,
        workdir: str | os.PathLike | None = None, checkpoint_every_steps: int | None = None,
        log_every_steps: int = 100, eval_fn: Callable[[Any], Mapping[str, Any]] | None = None,
        mesh: Mesh | None = None, desc: str = "train", max_steps: int | None = None,
        loss_key: str = "loss", max_chunk_seconds: float | None = 300.0, num_seeds: int | None = None,
        matmul_precision: str | None = None):
    """Train ``state`` with ``step_fn`` for ``num_epochs`` epochs over ``data``.

    Args:
      state: a pytree with an integer ``step`` field that ``step_fn`` increments
        (e.g. ``flax.training.train_state.TrainState``).
      step_fn: ``(state, batch, key) -> (state, metrics)``; pure and traceable;
        ``metrics`` maps names to scalars and includes ``loss_key``.
      data: a pytree of arrays with a common leading axis of ``N`` examples.
      batch_size: examples per step (divisible by the number of devices).
      num_epochs: epochs in the whole run (a resumed run counts those done).
      rng: base key; epoch permutations and step keys derive from it by ``fold_in``.
      workdir: where ``metrics.jsonl`` and ``checkpoints/`` go (``None``: nowhere).
      checkpoint_every_steps: steps per compiled chunk and between checkpoints
        (default: one epoch).
      log_every_steps: write a metrics line every this many steps.
      eval_fn: ``state -> metrics`` called at the end of every epoch.
      mesh: device mesh with a ``"data"`` axis (default: :func:`batch_mesh`, all
        devices, or within one process as many as divide ``batch_size``, with a
        warning line).
      max_steps: stop after this global step (as if interrupted); for tests and
        time-boxed runs.
      max_chunk_seconds: shorten chunks (and so checkpoint more often) so that
        no compiled call runs much longer than this; where chunks are longer than
        ``2 * interrupt.PROBE_STEPS`` steps, the first chunk of a run is
        ``interrupt.PROBE_STEPS`` steps long, to time a step. ``None``: no cap.
      num_seeds: ``S`` to train S replicas at once: every leaf of ``state`` has
        a leading axis of S (:func:`ebm_jax.train.seeds.init`), ``rng`` is S keys
        (:func:`ebm_jax.train.seeds.seed_keys`), ``step_fn`` is vmapped, metrics
        are logged as their mean over seeds plus ``<name>_seed<i>``, and
        ``eval_fn`` gets the stacked state (a value per seed is logged the same
        way). ``None``: no seed axis.
      matmul_precision: the precision of the step's matrix products, one of
        :data:`ebm_jax.precision.TRAINING_CHOICES` (``None`` or ``"default"``: the
        backend's fast default; see :mod:`ebm_jax.precision`). Solvers and
        evaluation functions that the step calls keep their own HIGHEST.

    Returns:
      ``(state, history)`` where ``history`` lists the logged records.

    The caller's ``state`` stays usable: the loop donates a copy of it.

    Raises:
      ValueError: bad arguments (checked before compiling).
      NonFiniteLossError: the loss (or the state) became NaN/inf; the last good checkpoint stays.
      TrainingInterrupted: Ctrl-C; raised after the running chunk was saved. Its
        ``state`` is the state reached; rerunning with the same ``workdir`` resumes.
      CheckpointError: no intact checkpoint, or one of another structure (one line).
    """
    checks.function(step_fn, "step_fn")
    if eval_fn is not None:
        checks.function(eval_fn, "eval_fn")
    rng = checks.prng_key(rng, "rng")
    if not hasattr(state, "step"):
        raise TypeError(f"state must be a train state with a .step (e.g. flax TrainState), got {type(state).__name__}")
    if not isinstance(loss_key, str):
        raise TypeError(f"loss_key must be a string (a key of the step's metrics), got {loss_key!r}")
    max_steps = checks.integer(max_steps, "max_steps", ge=1, allow_none=True)
    checkpoint_every_steps = checks.integer(checkpoint_every_steps, "checkpoint_every_steps", ge=1, allow_none=True)
    log_every_steps = checks.positive_int(log_every_steps, "log_every_steps")
    max_chunk_seconds = checks.real(max_chunk_seconds, "max_chunk_seconds", gt=0, allow_none=True)
    batch_size = checks.positive_int(batch_size, "batch_size")
    num_epochs = checks.positive_int(num_epochs, "num_epochs")
    if matmul_precision is not None:
        precision.check_matmul_precision(matmul_precision)
    desc = checks.string(desc, "desc", nonempty=False)
    if workdir is not None:
        workdir = checks.directory(workdir, "workdir")
    mesh = batch_mesh(batch_size, warn=_warn_main) if mesh is None else checks.mesh(mesh, "mesh")
    seeded = num_seeds is not None
    if seeded:
        seeds.validate_seeded(state, rng, num_seeds)
    multi_process = distributed.process_count() > 1
    if multi_process:  # before anything that could fail on one process only
        distributed.assert_same_across_processes("the arguments of fit", distributed.fit_fingerprint(
            state, data, rng, batch_size=batch_size, num_epochs=num_epochs, mesh=mesh,
            checkpoint_every_steps=checkpoint_every_steps, log_every_steps=log_every_steps, max_steps=max_steps,
            num_seeds=num_seeds))
    n = validate_fit_args(data, batch_size, num_epochs, mesh.devices.size)
    batch_size, num_epochs = int(batch_size), int(num_epochs)
    steps_per_epoch = n // batch_size
    total_steps = num_epochs * steps_per_epoch
    stop_at = total_steps if max_steps is None else min(total_steps, max_steps)
    chunk = checkpoint_every_steps or steps_per_epoch

    replicated = NamedSharding(mesh, P())
    if multi_process:  # every process holds all of data on the host and feeds its slice of each batch
        host_data = jax.tree.map(np.asarray, data)
        rng = distributed.to_local_device(rng)
    else:
        data = jax.device_put(data, replicated)
    state = distributed.replicate(state, mesh)  # a copy: run_chunk donates it, not the caller's
    writer = MetricWriter(workdir) if workdir is not None else None
    checkpointer = Checkpointer(workdir) if workdir is not None else None
    if checkpointer is not None and checkpointer.latest_step() is not None:
        state = checkpointer.restore(state)  # the newest intact checkpoint
    if writer is not None:  # drop lines logged after the checkpoint (or, with none, by a killed run)
        writer.truncate_after(_global_step(state))
        distributed.barrier("fit: metrics.jsonl truncated")
    step = _global_step(state)
    cap = capacity = chunk  # cap is lowered when a chunk runs longer than max_chunk_seconds
    if max_chunk_seconds and chunk > 2 * interrupt.PROBE_STEPS:  # a long chunk: time a short one first
        chunk = interrupt.PROBE_STEPS  # (the same program), then widen it as far as max_chunk_seconds allows

    if seeded:  # replica i: the keys of the unseeded run with rng[i]
        keys = jax.vmap(jax.random.split)(rng)
        data_key, step_key = keys[:, 0], keys[:, 1]
    else:
        data_key, step_key = jax.random.split(rng)
    if multi_process:
        run_fed_chunk = _make_run_fed_chunk(step_fn, mesh, seeded, matmul_precision)
        step_key = distributed.replicate(step_key, mesh)
    else:
        run_chunk = _make_run_chunk(step_fn, batch_size, mesh, seeded, matmul_precision)

    def epoch_permutation(key, epoch):
        return jax.random.permutation(jax.random.fold_in(key, epoch), n)[: steps_per_epoch * batch_size]

    permutation = jax.jit(lambda epoch: (jax.vmap(epoch_permutation, in_axes=(0, None)) if seeded
                                         else epoch_permutation)(data_key, epoch))
    perm_epoch, perm = None, None
    history = writer.read() if writer is not None else []
    bar = Progress(stop_at, step, steps_per_epoch=steps_per_epoch, num_epochs=num_epochs, desc=desc,
                   enabled=distributed.is_main_process())
    stop = interrupt.InterruptRequest()
    first = True  # the first chunk traces step_fn on the data and returns the first metrics
    try:
        stop.__enter__()
        while step < stop_at:
            epoch, offset = divmod(step, steps_per_epoch)
            end = min((step // chunk + 1) * chunk, (epoch + 1) * steps_per_epoch, stop_at)
            if perm_epoch != epoch:  # one permutation per epoch, shared by its chunks
                perm_epoch, perm = epoch, permutation(epoch)
                if multi_process:
                    perm = np.asarray(perm)
            t0 = time.perf_counter()
            with _first_batch_errors(first, data):
                if multi_process:
                    indices = perm[..., offset * batch_size: (offset + end - step) * batch_size]
                    indices = np.moveaxis(indices.reshape(indices.shape[:-1] + (end - step, batch_size)), -2, 0)
                    padding = np.repeat(indices[-1:], capacity - (end - step), axis=0)  # rows the loop skips
                    indices = np.concatenate([indices, padding])
                    batches = distributed.feed_batches(host_data, indices, mesh)  # (capacity, [S,] batch, ...)
                    state, metrics = run_fed_chunk(state, batches, end - step, step_key)
                else:
                    state, metrics = run_chunk(state, data, perm, offset, end - step, step_key,
                                               capacity=capacity)
            t_dispatched = time.perf_counter()  # compiling happens before the asynchronous dispatch returns
            metrics = jax.tree.map(lambda rows: rows[: end - step], jax.device_get(metrics))
            t1 = time.perf_counter()
            seconds = t1 - t0
            if first:
                _check_metrics(metrics, loss_key)
                first = False
            losses = np.asarray(metrics[loss_key])
            if not np.isfinite(losses).all():
                bad = step + 1 + int(np.argmin(np.isfinite(losses).reshape(len(losses), -1).all(axis=1)))
                raise _non_finite_error(f"{loss_key} became {losses[~np.isfinite(losses)][0]} at step {bad} "
                                        f"(epoch {epoch + 1})", checkpointer)
            if not bool(_all_finite(state)):  # e.g. lr = inf: the last update's loss is still finite
                raise _non_finite_error(f"the state (parameters or optimizer) became NaN/inf by step {end} "
                                        f"(epoch {epoch + 1}) while {loss_key} stayed finite", checkpointer)
            records = [
                {"step": s + 1, "epoch": epoch + 1, **_scalars(metrics, s - step)}
                for s in range(step, end) if (s + 1) % log_every_steps == 0
            ]
            if records:
                records[-1]["steps_per_second"] = (end - step) / seconds
            step = end
            if step % steps_per_epoch == 0 and eval_fn is not None:
                records.append({"step": step, "epoch": step // steps_per_epoch,
                                **_scalars(_check_eval(eval_fn(state), num_seeds))})
            if writer is not None:
                writer.write_many(records)
            history.extend(records)
            if checkpointer is not None:  # every chunk ends on a checkpoint, epoch or stop boundary
                checkpointer.save(step, state)
            bar.update(step, loss_key, float(losses.mean()))
            cap = interrupt.capped_chunk(cap, len(losses), t1 - t_dispatched, max_chunk_seconds)
            interrupted, chunk = interrupt.agree(stop.requested, cap)
            if interrupted and step < stop_at:
                where = (f"a checkpoint of step {step} is in {checkpointer.directory}; rerun the same command "
                         "to resume" if checkpointer is not None else "no workdir, so nothing was saved")
                raise interrupt.TrainingInterrupted(f"training interrupted at step {step} of {stop_at}: {where}",
                                                    state=state, step=step)
    finally:
        stop.__exit__()
        bar.close()
        if writer is not None:
            writer.close()
        if checkpointer is not None:
            checkpointer.close()
    return state, history



def _per_seed_metrics(per_seed, num_seeds: int):
    """eval_fn's answer for fit_seeds: a list of one mapping of scalars per seed, all with the same names.

    Returns the list itself for one seed, else ``{name: array of one value per seed}``.
    """
    if not isinstance(per_seed, (list, tuple)) or len(per_seed) != num_seeds:
        raise ValueError(f"eval_fn must return a list of {num_seeds} dicts (one per seed), got "
                         f"{type(per_seed).__name__}" + (f" of length {len(per_seed)}"
                                                        if isinstance(per_seed, (list, tuple)) else ""))
    for metrics in per_seed:
        if not isinstance(metrics, Mapping) or set(metrics) != set(per_seed[0]):
            raise ValueError("eval_fn must return one dict per seed, all with the same metric names, got "
                             f"{[sorted(m) if isinstance(m, Mapping) else type(m).__name__ for m in per_seed]}")
        for name, value in metrics.items():
            if np.shape(value) != ():
                raise ValueError(f"eval_fn must return a scalar per metric and seed, got {name!r} of shape "
                                 f"{np.shape(value)}")
    if num_seeds == 1:
        return per_seed
    return {name: np.array([float(m[name]) for m in per_seed]) for name in per_seed[0]}


def fit_seeds(states, step_fn: StepFn, data, *, rngs, eval_fn: Callable[[list], list] | None = None,
              **fit_kwargs):
    """Train one state per seed with :func:`fit`; the same call for one seed and for S.

    ``states`` and ``rngs`` hold one train state and one key per seed. One seed
    trains as itself (``fit(states[0], rng=rngs[0])``, no seed axis); S > 1 are
    stacked on a leading seed axis and train in one vmapped program
    (``fit(num_seeds=S)``, :mod:`ebm_jax.train.seeds`), replica ``i`` doing the
    computation of seed ``i`` alone. ``eval_fn``, if given, maps the list of
    per-seed states to a list of per-seed mappings of numbers; :func:`fit` logs one
    seed's numbers as they are and S seeds' as arrays of one value per seed.
    Returns ``([final state of each seed], history)``.
    """
    for value, name in ((states, "states"), (rngs, "rngs")):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list (one entry per seed), got {type(value).__name__}")
    states, rngs = list(states), [checks.prng_key(key, f"rngs[{i}]") for i, key in enumerate(rngs)]
    if not states:
        raise ValueError("states is empty: fit_seeds needs at least one state")
    if len(states) != len(rngs):
        raise ValueError(f"rngs must hold one key per state: got {len(states)} states and {len(rngs)} keys")
    if eval_fn is not None:
        checks.function(eval_fn, "eval_fn")
    num_seeds = len(states)
    if num_seeds == 1:
        one_eval = None if eval_fn is None else (lambda state: _per_seed_metrics(eval_fn([state]), 1)[0])
        state, history = fit(states[0], step_fn, data, rng=rngs[0], eval_fn=one_eval, **fit_kwargs)
        return [state], history

    def replicas(state):
        return [seeds.unstack(state, i) for i in range(num_seeds)]

    def seeded_eval(state):  # one value per seed
        return _per_seed_metrics(eval_fn(replicas(state)), num_seeds)

    state, history = fit(seeds.stack(states), step_fn, data, rng=jnp.stack(rngs), num_seeds=num_seeds,
                         eval_fn=None if eval_fn is None else seeded_eval, **fit_kwargs)
    return replicas(state), history
