r"""Dictionary learning as a method: ``create_state`` + ``make_train_step``, trained by :func:`ebm_jax.train.fit`.

The state is :class:`ebm_jax.sparse.dictionary.DictState` (D (n, k) unit-norm
atoms, the running statistics A (k, k) and B (n, k), and ``step``); a step codes
one minibatch with FISTA and updates D (block-coordinate sweep or projected
gradient, see :mod:`ebm_jax.sparse.dictionary`). No optax optimizer: the update
is the closed-form block-coordinate (or 1/L projected-gradient) step.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from ebm_jax import checks
from ebm_jax.sparse.dictionary import INITS, UPDATES, DictState, dictionary_step, init_dictionary
from ebm_jax.sparse.validation import check_lam
from ebm_jax.train import fit


def create_state(key, x, num_atoms: int, *, init: str = "data") -> DictState:
    """Unit-norm initial atoms (``"data"``: random examples of x (N, n); ``"gaussian"``) and zero statistics."""
    checks.one_of(init, "init", INITS)
    return init_dictionary(key, x, num_atoms, init)


def make_train_step(lam, *, inference_iters: int = 50, update: str = "bcd", forget: float = 0.5,
                    nonneg: bool = False, nonneg_atoms: bool = False):
    """``(state, x_batch, key) -> (state, {"loss": mean energy})`` for :func:`ebm_jax.train.fit`.

    ``loss`` is the batch's mean ``½‖x − D z‖² + λ‖z‖₁`` at the inferred codes,
    before the dictionary update.
    """
    lam = checks.nonnegative_float(lam, "lam")
    inference_iters = checks.positive_int(inference_iters, "inference_iters")
    checks.one_of(update, "update", UPDATES)
    forget = checks.probability(forget, "forget")
    nonneg, nonneg_atoms = checks.boolean(nonneg, "nonneg"), checks.boolean(nonneg_atoms, "nonneg_atoms")

    def step_fn(state, xb, key):
        state, energy = dictionary_step(state, xb, key, lam, inference_iters=inference_iters, update=update,
                                        forget=forget, nonneg=nonneg, nonneg_atoms=nonneg_atoms)
        return state, {"loss": energy}

    return step_fn


def learn_dictionary(x, num_atoms: int, lam, *, num_epochs: int = 5, batch_size: int = 256,
                     inference_iters: int = 50, update: str = "bcd", forget: float = 0.5, init: str = "data",
                     nonneg: bool = False, nonneg_atoms: bool = False, seed: int = 0,
                     workdir: str | os.PathLike | None = None, desc: str = "dictionary"):
    """Learn D (n, num_atoms) on x (N, n) with :func:`fit`. Returns ``(state, per-batch energies)``.

    ``batch_size`` larger than N is refused (``ValueError``).

    With ``workdir`` the run checkpoints there every epoch and a second call resumes.
    """
    x = checks.float_array(x, "x", ndim=2)
    lam = float(check_lam(lam, 1, x.dtype)[0, 0])
    checks.one_of(update, "update", UPDATES)
    num_atoms = checks.positive_int(num_atoms, "num_atoms")
    if init == "data" and num_atoms > x.shape[0]:
        raise ValueError(f"num_atoms={num_atoms} exceeds the number of examples {x.shape[0]} (init='data' draws "
                         "the atoms from them)")
    batch_size = checks.batch_size(batch_size, x.shape[0])
    num_epochs = checks.positive_int(num_epochs, "num_epochs")
    key = jax.random.PRNGKey(checks.seed(seed))
    state = create_state(jax.random.fold_in(key, 2**31 - 1), x, num_atoms, init=init)
    step_fn = make_train_step(lam, inference_iters=inference_iters, update=update, forget=forget, nonneg=nonneg,
                              nonneg_atoms=nonneg_atoms)
    state, history = fit(state, step_fn, x, batch_size=batch_size, num_epochs=num_epochs, rng=key, workdir=workdir,
                         log_every_steps=1, desc=desc)
    return state, np.asarray([r["loss"] for r in history if "loss" in r], np.float32)
