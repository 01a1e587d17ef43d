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
  (‖z_t − z_ref‖²);
* ``example_gap`` (tolerance-stopped solvers) each example's relative gap
  ``gap_i / E_i`` at the returned codes, shape (batch,);
* ``converged``  (tolerance-stopped solvers) ``example_gap <= tol``, shape
  (batch,): which examples reached the tolerance.

A tolerance-stopped solver also stops when every example still above ``tol``
has stalled (its gap improved by less than 1% over a window of checks: float32
rounding, or a support larger than the solver can hold); when it returns with
the relative gap above ``tol`` it emits one :class:`ConvergenceWarning` naming
those examples.

``result.codes`` is also ``result[0]``, so ``z, info = solver(...)`` unpacks.
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class ConvergenceWarning(UserWarning):
    """A tolerance-stopped solver returned with its relative gap above ``tol``."""


class SolverInfo(NamedTuple):
    num_iters: jax.Array
    rel_gap: jax.Array
    objective: jax.Array
    trace: dict[str, jax.Array] | None = None
    example_gap: jax.Array | None = None
    converged: jax.Array | None = None


class SolverResult(NamedTuple):
    codes: jax.Array
    info: SolverInfo
