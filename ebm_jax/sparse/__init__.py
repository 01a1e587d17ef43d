"""Sparse coding: the lasso energy, ISTA/FISTA, LISTA and dictionary learning.

Conventions: x (batch, n), D (n, k) with atoms as columns, z (batch, k); λ is a
scalar or one per example.
"""

from ebm_jax.sparse.lasso import (
    duality_gap,
    fista,
    free_energy,
    ista,
    ista_operators,
    lasso_objective,
    lasso_path,
    lipschitz_constant,
    soft_threshold,
)
from ebm_jax.sparse.working_set import working_set_lasso

__all__ = [
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
