r"""LISTA: learned ISTA (Gregor & LeCun, 2010), as a flax module and its losses.

Training (Adam, checkpoints, resume) is :mod:`ebm_jax.methods.lista`.

T layers; layer 1 is ``z₁ = h_θ(x W_e)``, layers t = 2..T are
``z_t = h_θ(x W_e + z_{t−1} S)``, with ``h_θ`` the soft threshold (one θ per atom).
Shapes: x (batch, n), W_e (n, k), S (k, k), θ (k,), z (batch, k).

Initialisation from ISTA (step η = 1/L): ``W_e = η D``, ``S = I − η DᵀD``,
``θ = λη``. With it, an untrained LISTA with T layers returns exactly the
iterate of T ISTA steps from z = 0 (``ebm_jax.sparse.ista(x, D, λ, num_iters=T)``).
(Gregor & LeCun count the S-multiplications, so their "T iterations" are T + 1 layers here.)

``tied=True`` shares (S, θ) over layers (W_e is shared in both cases);
``tied=False`` gives each layer its own S_t and θ_t.

Training objectives (mean over the batch):
* ``"supervised"``: ½‖z_T(x) − z*(x)‖², with z* the FISTA-optimal codes;
* ``"unsupervised"``: the lasso energy ½‖x − D z_T‖² + λ‖z_T‖₁.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ebm_jax import checks
from ebm_jax.sparse import validation
from ebm_jax.sparse.prox import ista_operators, lipschitz_constant, soft_threshold


class LISTA(nn.Module):
    """T-layer LISTA initialised from ISTA on ``dictionary`` (n, k) with penalty ``lam``.

    Attributes:
      dictionary: (n, k) array D used for the ISTA initialisation.
      lam: the lasso penalty λ (a python float).
      num_layers: T >= 1.
      step: ISTA step η (default 1/L from :func:`lipschitz_constant`).
      tied: share S and θ across layers.
      nonneg: non-negative soft threshold.
    """

    dictionary: Any
    lam: float
    num_layers: int
    step: Any = None
    tied: bool = True
    nonneg: bool = False

    def _operators(self):
        D = jnp.asarray(self.dictionary)
        step = self.step if self.step is not None else 1.0 / lipschitz_constant(D)
        step = jnp.asarray(step, D.dtype)
        We, S = ista_operators(D, step)
        theta = jnp.full((D.shape[1],), jnp.asarray(self.lam, D.dtype) * step, D.dtype)
        return We, S, theta

    @nn.compact
    def __call__(self, x, return_all: bool = False):
        """x (batch, n) -> z_T (batch, k); with ``return_all`` also every layer, (T, batch, k)."""
        We0, S0, theta0 = self._operators()
        We = self.param("W_e", lambda _: We0)
        T = self.num_layers
        if self.tied:
            S = self.param("S", lambda _: S0)
            theta = self.param("theta", lambda _: theta0)
            Ss, thetas = [S] * (T - 1), [theta] * T
        else:
            Ss = [self.param(f"S_{t}", lambda _: S0) for t in range(1, T)]
            thetas = [self.param(f"theta_{t}", lambda _: theta0) for t in range(T)]
        b = x @ We
        z = soft_threshold(b, thetas[0], nonneg=self.nonneg)
        zs = [z]
        for t in range(1, T):
            z = soft_threshold(b + z @ Ss[t - 1], thetas[t], nonneg=self.nonneg)
            zs.append(z)
        return (z, jnp.stack(zs)) if return_all else z


def make_lista(D, lam: float, num_layers: int, *, tied: bool = True, nonneg: bool = False, step=None):
    """Validated constructor: returns ``(module, params)`` for a LISTA initialised from ISTA on D (n, k)."""
    D = checks.float_array(D, "D", ndim=2)
    validation.check_nonzero_dictionary(D)
    lam = checks.nonnegative_float(lam, "lam")
    num_layers = checks.positive_int(num_layers, "num_layers")
    step = validation.check_step(step)
    if step is None:
        step = 1.0 / lipschitz_constant(D)
    module = LISTA(dictionary=D, lam=lam, num_layers=num_layers, step=step, tied=tied, nonneg=nonneg)
    params = module.init(jax.random.PRNGKey(0), jnp.zeros((1, D.shape[0]), D.dtype))["params"]
    return module, params


def lista_loss(module: LISTA, params, x, z_star=None, *, objective: str = "supervised"):
    """Mean training loss over the batch (see module docstring); x (batch, n), z_star (batch, k)."""
    z = module.apply({"params": params}, x)
    if objective == "supervised":
        return 0.5 * jnp.mean(jnp.sum((z - z_star) ** 2, axis=-1))
    if objective == "unsupervised":
        D = jnp.asarray(module.dictionary)
        r = x - z @ D.T
        return jnp.mean(0.5 * jnp.sum(r * r, -1) + module.lam * jnp.sum(jnp.abs(z), -1))
    raise ValueError(f"objective must be 'supervised' or 'unsupervised', got {objective!r}")


def lista_apply_all(module: LISTA, params, x):
    """Every layer's codes, (T, batch, k) (jitted)."""
    return jax.jit(lambda p, v: module.apply({"params": p}, v, return_all=True)[1])(params, x)
