"""Sparse coding: the lasso energy, ISTA/FISTA, working-set lasso, LISTA and dictionary learning.

Conventions: x (batch, n), D (n, k) with atoms as columns, z (batch, k); λ is a
scalar or one per example. Every solver returns
``SolverResult(codes, info=SolverInfo(num_iters, rel_gap, objective, trace))``.

Modules (imports point downwards only): ``result`` and ``validation`` ->
``prox`` (soft threshold, energy, duality gap, FISTA momentum, Lipschitz
constant) -> ``lasso`` (ISTA, FISTA), ``working_set`` -> ``path`` (λ path);
``lista`` (the LISTA modules) and ``dictionary`` (dictionary-learning steps) use
``prox``/``lasso``; their training lives in :mod:`ebm_jax.methods`.
"""

from ebm_jax.sparse.lasso import fista, free_energy, ista
from ebm_jax.sparse.path import lasso_path
from ebm_jax.sparse.prox import (
    duality_gap,
    ista_operators,
    lasso_objective,
    lipschitz_constant,
    soft_threshold,
)
from ebm_jax.sparse.result import SolverInfo, SolverResult
from ebm_jax.sparse.working_set import working_set_lasso

__all__ = [
    "SolverInfo",
    "SolverResult",
    "duality_gap",
    "fista",
    "free_energy",
    "ista",
    "ista_operators",
    "lasso_objective",
    "lasso_path",
    "lipschitz_constant",
    "soft_threshold",
    "working_set_lasso",
]
