"""The one result type of every sparse solver (lasso, working set, convolutional).

A solver returns ``SolverResult(codes, info)``; ``info`` is a small record:

* ``num_iters``  iterations run, at most the ``num_iters`` the solver was given
  (outer iterations for the working-set solver): an int array of shape ();
* ``rel_gap``    the relative duality gap ``Σ gap / Σ E`` at the returned codes
  (a certificate of relative suboptimality), or NaN where it was not computed;
* ``objective``  the energy per example at the returned codes, shape (batch,);
* ``trace``      ``None`` unless asked for; then a dict of per-iteration records,
  each of shape (num_iters, batch): ``"objective"`` (the energy after each
  iteration) and, where the solver takes a reference ``z_ref``, ``"sq_dist"``
  (‖z_t − z_ref‖²).

``result.codes`` is also ``result[0]``, so ``z, info = solver(...)`` unpacks.
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class SolverInfo(NamedTuple):
    num_iters: jax.Array
    rel_gap: jax.Array
    objective: jax.Array
    trace: dict[str, jax.Array] | None = None


class SolverResult(NamedTuple):
    codes: jax.Array
    info: SolverInfo
