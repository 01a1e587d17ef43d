"""The program the multi-process tests run (``python -m tests._distributed_worker MODE OUTDIR``).

Under ``python -m ebm_jax.launch`` it runs as every process of a
``jax.distributed`` job; alone, as one process. Process 0 writes what it saw to
``OUTDIR/<MODE>.json`` (plain ``open``: the test reads it, not an experiment).

Modes:
  curves   the loss curves of the linear problem and a small VAE (as in test_train_loop)
  first    the curves, mismatched fit arguments and an indivisible batch (caught), a straight run,
           then a run stopped at step 11, after which every process dies (exit 17)
  resume   rerun the stopped run in the same workdir to the end
"""

import json
import os
import pathlib
import sys

import jax
import numpy as np

from ebm_jax.train import distributed, fit
from tests.test_train_loop import _linear_problem, _state, _step

RESUME_KWARGS = dict(batch_size=32, num_epochs=3, checkpoint_every_steps=3, log_every_steps=1)


def _params(state):
    return {k: np.asarray(v).tolist() for k, v in state.params.items()}


def curves():
    from ebm_jax.methods import vae as vae_method
    from ebm_jax.models import vae

    out = {}
    _, history = fit(_state(), _step, _linear_problem(), batch_size=32, num_epochs=2, rng=jax.random.key(3),
                     log_every_steps=1)
    out["linear"] = [r["loss"] for r in history]
    from ebm_jax.train import seeds  # two replicas in one program, fed per process like any batch

    state = seeds.init(lambda key: _state(), seeds.seed_keys(0, 2))
    _, history = fit(state, _step, _linear_problem(), batch_size=32, num_epochs=1, rng=seeds.seed_keys(3, 2),
                     log_every_steps=1, num_seeds=2)
    out["linear_seeds"] = [[r["loss_seed0"], r["loss_seed1"]] for r in history]
    model = vae.Autoencoder(latent_dim=4, hidden_dims=(32,))
    x = np.random.default_rng(0).random((256, 784)).astype(np.float32)
    state = vae_method.create_state(jax.random.key(0), model, 1e-3)
    _, history = fit(state, vae_method.make_train_step(model), x, batch_size=32, num_epochs=2,
                     rng=jax.random.key(3), log_every_steps=1)
    out["vae"] = [r["loss"] for r in history]
    return out


def first(outdir: pathlib.Path):
    out = curves()
    data = _linear_problem(n=256)
    # Each process brings a different number of examples: every process must fail, naming the data.
    mine = {k: v[: 256 - 32 * jax.process_index()] for k, v in data.items()}
    try:
        fit(_state(), _step, mine, rng=jax.random.key(7), **RESUME_KWARGS)
    except distributed.ProcessMismatchError as e:
        out["mismatch_error"] = str(e)
    try:  # 30 examples per step cannot be split over 2 processes x 2 devices
        fit(_state(), _step, data, rng=jax.random.key(7), **{**RESUME_KWARGS, "batch_size": 30})
    except ValueError as e:
        out["batch_error"] = str(e)
    straight, _ = fit(_state(), _step, data, rng=jax.random.key(7), workdir=outdir / "straight", **RESUME_KWARGS)
    out["straight_params"] = _params(straight)
    out["straight_step"] = int(straight.step)
    fit(_state(), _step, data, rng=jax.random.key(7), workdir=outdir / "resumed", max_steps=11, **RESUME_KWARGS)
    return out


def resume(outdir: pathlib.Path):
    state, _ = fit(_state(), _step, _linear_problem(n=256), rng=jax.random.key(7), workdir=outdir / "resumed",
                   **RESUME_KWARGS)
    return {"resumed_params": _params(state), "resumed_step": int(state.step)}


def main():
    mode, outdir = sys.argv[1], pathlib.Path(sys.argv[2])
    distributed.initialize_from_environment()
    out = {"mode": mode, "process_count": jax.process_count(), "device_count": jax.device_count()}
    out.update({"curves": curves, "first": lambda: first(outdir), "resume": lambda: resume(outdir)}[mode]())
    if jax.process_index() == 0:
        (outdir / f"{mode}.json").write_text(json.dumps(out))
    if mode == "first":  # die like a killed job: no clean shutdown of jax.distributed
        sys.stdout.flush()
        os._exit(17)


if __name__ == "__main__":
    main()
