"""The one result type of every sparse solver (lasso, working set, convolutional).

A solver returns ``SolverResult(codes, info)``; ``info`` is a small record:

* ``num_iters``  iterations run: an int array of shape () (or (batch,) where
  examples stop independently);
* ``rel_gap``    the relative duality gap ``Σ gap / Σ E`` at the returned codes
  (a certificate of relative suboptimality), or NaN where it was not computed;
* ``objective``  the energy per example at the returned codes, shape (batch,);
* ``trace``      optional per-iteration record (e.g. the energy, shape
  (num_iters, batch)), ``None`` unless asked for.

``result.codes`` is also ``result[0]``, so ``z, info = solver(...)`` unpacks.
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class SolverInfo(NamedTuple):
    num_iters: jax.Array
    rel_gap: jax.Array
    objective: jax.Array
    trace: jax.Array | None = None


class SolverResult(NamedTuple):
    codes: jax.Array
    info: SolverInfo
