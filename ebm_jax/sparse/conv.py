r"""Convolutional sparse coding (convolutional basis pursuit denoising), batched and jitted.

Shapes: images ``s`` (batch, H, W) (one channel: colour images are coded one
channel at a time, or converted to grey first), filters ``D`` (K, h, w),
codes ``z`` (batch, K, H, W). The energy of one image is

    E(s, z) = ½‖Σ_k d_k ∗ z_k − s‖² + λ Σ_k ‖z_k‖₁

with a circular boundary by default (SPORCO ``ConvBPDN``'s convention, so the
values compare with SPORCO's directly) or a zero one (``boundary="zero"``);
see :mod:`ebm_jax.sparse.conv_ops`. λ is a scalar or one per image.

Inference ``z*(s) = argmin_z E(s, z)`` by :func:`conv_sparse_code`, with

* ``method="admm"`` (circular boundary): ADMM on ``x = y`` exactly as SPORCO's
  ``ConvBPDN`` (Wohlberg 2016): the x-step solves ``(DᴴD + ρI) x̂ = Dᴴŝ + ρ(ŷ − û)``
  one frequency at a time by Sherman–Morrison, over-relaxation α = 1.8, the
  y-step is soft thresholding, and ρ (one per image, starting at 50λ + 1) is
  adapted by residual balancing with SPORCO's target ratio
  ξ = 1 + 18.3^(log₁₀λ + 1) during the first ``adapt_rho`` iterations (SPORCO
  adapts for ever; on small problems that can keep ρ moving and the iterates
  cycling, while a fixed ρ converges);
* ``method="fista"``: FISTA with step 1/L, ``L = max_ω Σ_k |d̂_k(ω)|²`` (exact for
  the circular operator, no power iteration) and per-image adaptive gradient
  restart (O'Donoghue & Candès 2015); the gradient step is taken in the
  Fourier domain for the circular boundary;
* ``method="ista"``: the same without momentum (the reference that an
  untrained convolutional LISTA reproduces).

Each iteration costs one real 2-D FFT and one inverse FFT of the K code maps
(the image and the filter bank are transformed once per call). The stopping
test is the relative duality gap ``Σ_i gap_i / Σ_i E_i ≤ tol`` (a certificate
of relative suboptimality), with the dual point obtained by rescaling the
residual, θ = r·min(1, λ/‖Dᵀr‖_∞), checked every ``check_every`` iterations.

The solver keeps the contract of the lasso solvers (:func:`ebm_jax.sparse.fista`):
a step above 2/L is refused before solving and a non-finite result from finite
inputs raises :class:`~ebm_jax.checks.DivergenceError` naming the setting to
change; the tolerance form reports each image's relative gap
(``info.example_gap``, ``info.converged``), stops once every image still above
``tol`` has stalled (its gap improved by less than 1% over ``stall_window``
checks) and emits one :class:`~ebm_jax.sparse.result.ConvergenceWarning` when it
returns above ``tol``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ebm_jax import backend, checks, precision
from ebm_jax.sparse import validation
from ebm_jax.sparse.conv_ops import (BOUNDARIES, adjoint, filters_fft, fft_shape, irfft2, lipschitz_bound,
                                     reconstruct, rfft2, synthesis_f)
from ebm_jax.sparse.prox import example_gap, fista_momentum, soft_threshold, stall_update, still_running
from ebm_jax.sparse.result import SolverInfo, SolverResult

METHODS = ("admm", "fista", "ista")


# ---------------------------------------------------------------------------- validation


def check_filters(D, name: str = "D") -> jax.Array:
    """Filters (K, h, w), K ≥ 1, finite, none of them all zero (where concrete)."""
    D = checks.float_array(D, name, ndim=3)
    if D.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one filter (K >= 1), got shape {D.shape}")
    if D.shape[1] < 1 or D.shape[2] < 1:
        raise ValueError(f"{name} filters must be at least 1x1, got shape {D.shape}")
    if checks.is_concrete(D):
        norms = np.sqrt(np.sum(np.square(np.asarray(D, np.float64)), axis=(1, 2)))
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(f"{name} has zero filter(s) at index {zero.tolist()}: a zero filter codes nothing "
                             "and leaves its code map undetermined")
    return D


def check_images(s, name: str = "s") -> jax.Array:
    """Images (batch, H, W), batch ≥ 1, finite (where concrete)."""
    s = checks.float_array(s, name, ndim=3)
    if s.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one image, got shape {s.shape}")
    return s


def check_problem(s, D, lam, boundary: str = "circular"):
    """Validated ``(s, D, λ (batch,))`` in a common float dtype."""
    checks.one_of(boundary, "boundary", BOUNDARIES)
    s, D = check_images(s), check_filters(D)
    (_, H, W), (_, h, w) = s.shape, D.shape
    if h > H or w > W:
        raise ValueError(f"filters of D ({h}x{w}) are larger than the images of s ({H}x{W})")
    dtype = jnp.result_type(s.dtype, D.dtype)
    return s.astype(dtype), D.astype(dtype), validation.check_lam(lam, s.shape[0], dtype, unit="image")[:, 0]


def check_image_shape(image_shape, filter_shape, name: str = "image_shape") -> tuple[int, int]:
    """``(H, W)``: two positive integers, at least the filters' ``(h, w)``."""
    if isinstance(image_shape, (str, bytes)) or not hasattr(image_shape, "__len__") or len(image_shape) != 2:
        raise TypeError(f"{name} must be a pair (H, W) of positive integers, got {image_shape!r}")
    H, W = (checks.positive_int(v, f"{name}[{i}]") for i, v in enumerate(image_shape))
    h, w = filter_shape
    if h > H or w > W:
        raise ValueError(f"{name} {(H, W)} is smaller than the filters ({h}x{w})")
    return H, W


def check_codes(z, s_shape, K: int, name: str = "z", *, dtype) -> jax.Array:
    """Codes (batch, K, H, W) in ``dtype`` matching images of shape ``s_shape`` and K filters."""
    batch, H, W = s_shape
    return validation.check_codes(z, name, (batch, K, H, W), dtype,
                                  what=f" (batch, K, H, W) to match s {tuple(s_shape)} and {K} filters")


# ---------------------------------------------------------------------------- energy


def _objective(s, D, z, lam, boundary):
    r = reconstruct(z, D, boundary) - s
    return 0.5 * jnp.sum(r * r, axis=(1, 2)) + lam * jnp.sum(jnp.abs(z), axis=(1, 2, 3))


@precision.highest
def conv_objective(s, D, z, lam, *, boundary: str = "circular") -> jax.Array:
    """Per-image energy ``½‖Σ_k d_k ∗ z_k − s‖² + λ Σ_k ‖z_k‖₁``, shape (batch,)."""
    s, D, lam = check_problem(s, D, lam, boundary)
    z = check_codes(z, s.shape, D.shape[0], dtype=s.dtype)
    return _objective(s, D, z, lam, boundary)


def conv_reconstruct(z, D, *, boundary: str = "circular") -> jax.Array:
    """``Σ_k d_k ∗ z_k``: codes (batch, K, H, W), filters (K, h, w) -> images (batch, H, W)."""
    checks.one_of(boundary, "boundary", BOUNDARIES)
    z = checks.float_array(z, "z", ndim=4)
    D = check_filters(D)
    if z.shape[1] != D.shape[0]:
        raise ValueError(f"z has {z.shape[1]} code maps (shape {z.shape}) but D has {D.shape[0]} filters")
    if D.shape[1] > z.shape[2] or D.shape[2] > z.shape[3]:
        raise ValueError(f"filters of D ({D.shape[1]}x{D.shape[2]}) are larger than the code maps "
                         f"({z.shape[2]}x{z.shape[3]})")
    dtype = jnp.result_type(z.dtype, D.dtype)
    return reconstruct(z.astype(dtype), D.astype(dtype), boundary)


def _primal_gap(s, D, z, lam, boundary):
    """Per-image (primal, gap): the dual point is the residual rescaled into ‖Dᵀθ‖_∞ ≤ λ."""
    r = s - reconstruct(z, D, boundary)
    primal = 0.5 * jnp.sum(r * r, axis=(1, 2)) + lam * jnp.sum(jnp.abs(z), axis=(1, 2, 3))
    cmax = jnp.max(jnp.abs(adjoint(r, D, boundary)), axis=(1, 2, 3))
    scale = jnp.where(cmax > lam, lam / jnp.where(cmax > 0, cmax, 1.0), 1.0)
    theta = scale[:, None, None] * r
    dual = 0.5 * jnp.sum(s * s, axis=(1, 2)) - 0.5 * jnp.sum(jnp.square(s - theta), axis=(1, 2))
    return primal, jnp.maximum(primal - dual, 0.0)


def _bcast(v):
    """(batch,) -> (batch, 1, 1, 1)."""
    return v[:, None, None, None]


# ---------------------------------------------------------------------------- iterations


def _make_prox_grad(s, D, lam, boundary, step):
    """``y -> S_{ηλ}(y − η Dᵀ(D y − s))`` with the FFTs of s and D taken once."""
    H, W = s.shape[-2:]
    shape = fft_shape((H, W), D.shape[-2:], boundary)
    Df = filters_fft(D, shape)
    eta = (1.0 / lipschitz_bound(Df)).astype(s.dtype) if step is None else jnp.asarray(step, s.dtype)
    thresh = _bcast(eta * lam)
    if boundary == "circular":
        sf = rfft2(s, shape)

        def prox_grad(y):
            yf = rfft2(y, shape)
            rf = synthesis_f(yf, Df) - sf
            return soft_threshold(irfft2(yf - eta * jnp.conj(Df) * rf[:, None], shape), thresh)
    else:
        def prox_grad(y):
            r = irfft2(synthesis_f(rfft2(y, shape), Df), shape)[..., :H, :W] - s
            g = irfft2(jnp.conj(Df) * rfft2(r, shape)[:, None], shape)[..., :H, :W]
            return soft_threshold(y - eta * g, thresh)
    return prox_grad


def _fista_init(z0):
    return z0, z0, jnp.ones(z0.shape[:1], z0.dtype)


def _make_fista_iter(prox_grad, momentum: bool, restart: bool):
    def iterate(state):
        z, y, t = state
        z_new = prox_grad(y)
        if not momentum:
            return z_new, z_new, t
        y_new, t_new = fista_momentum(z_new, z, y, t, restart)
        return z_new, y_new, t_new
    return iterate


def _admm_init(z0, lam, rho0):
    """ADMM state in map-major layout: Y, U (K, batch, H, W), the pending scale of U (batch,), ρ, k."""
    rho = jnp.broadcast_to(jnp.asarray(rho0, z0.dtype), lam.shape) if rho0 is not None else 50.0 * lam + 1.0
    U = _bcast(lam / rho) * jnp.sign(z0)  # SPORCO's warm-start U for Y = z0 (zero for a cold start)
    Y, U = jnp.swapaxes(z0, 0, 1), jnp.swapaxes(U, 0, 1)
    return Y, U, jnp.ones_like(rho), rho, jnp.zeros((), jnp.int32)


def _admm_codes(state):
    return jnp.swapaxes(state[0], 0, 1)


def _make_admm_iter(s, D, lam, relax: float, adapt_rho: int, rho_period: int = 1, filters: str = "scan"):
    """One ADMM iteration of SPORCO's ConvBPDN (circular boundary), batched with one ρ per image.

    The Sherman–Morrison x-step in the form ``x̂_k = ŵ_k + d̂_k* ĉ`` with
    ``ĉ = (ŝ − Σ_k d̂_k ŵ_k) / (ρ + Σ_k |d̂_k|²)`` and ``w = y − u`` couples the K code maps
    only through the sum over k, so an iteration is two sweeps over the maps (the state
    stored map-major, (K, batch, H, W)): the first transforms ``w_k`` and accumulates the
    sum, the second transforms ``d̂_k* ĉ`` back and does the relaxation, the y-step
    ``Y⁺ = S_{λ/ρ}(V)``, the u-step ``U⁺ = V − Y⁺ = clip(V, ±λ/ρ)``
    (``V = αX + (1 − α)Y + U``) and the sums of squares of the residual balancing.
    ``filters="scan"`` sweeps one map (for the whole batch) at a time, a ``lax.scan``
    over k that keeps the map in cache (the CPU's choice); ``filters="batched"`` does
    all K maps at once, two FFT calls per iteration (a GPU's or TPU's choice; see
    :mod:`ebm_jax.backend`). Both compute the same iterates. A change of ρ rescales U
    lazily (a pending factor, applied on the next sweep).
    """
    shape = s.shape[-2:]
    Df = filters_fft(D, shape)  # (K, P, Qf)
    sf = rfft2(s, shape)  # (batch, P, Qf)
    DDf = jnp.sum(jnp.real(Df * jnp.conj(Df)), axis=0)  # (P, Qf)
    lam_safe = jnp.maximum(lam, jnp.finfo(s.dtype).tiny)
    xi = jnp.where(lam > 0, 1.0 + 18.3 ** (jnp.log10(lam_safe) + 1.0), 1.0)
    mu, tau = 1.2, 1000.0
    b3 = (slice(None), None, None)

    def map_update(Yk, Uk, Dk, c, t, usb):
        """The second sweep for map(s) k: (Y⁺, U⁺) and the five sums of squares per image."""
        Uk = usb * Uk
        X = Yk - Uk + irfft2(jnp.conj(Dk) * c, shape)
        V = relax * X + (1.0 - relax) * Yk + Uk
        Y_new, U_new = soft_threshold(V, t), jnp.clip(V, -t, t)
        sums = None
        if adapt_rho:
            sums = jnp.stack([jnp.sum(a * a, axis=(-2, -1)) for a in (X, Y_new, U_new, X - Y_new, Y_new - Yk)])
        return Y_new, U_new, sums

    def sweeps_scan(Y, U, usb, rho, t):
        def transform(acc, xs):
            Yk, Uk, Dk = xs
            return acc + rfft2(Yk - usb * Uk, shape) * Dk, None

        acc, _ = jax.lax.scan(transform, jnp.zeros_like(sf), (Y, U, Df))
        c = (sf - acc) / (rho[b3] + DDf)

        def update(sums, xs):
            Y_new, U_new, map_sums = map_update(*xs, c, t, usb)
            return (sums + map_sums if adapt_rho else sums), (Y_new, U_new)

        sums, (Y_new, U_new) = jax.lax.scan(update, jnp.zeros((5,) + lam.shape, s.dtype), (Y, U, Df))
        return Y_new, U_new, sums

    def sweeps_batched(Y, U, usb, rho, t):
        acc = jnp.sum(rfft2(Y - usb * U, shape) * Df[:, None], axis=0)
        c = (sf - acc) / (rho[b3] + DDf)
        Y_new, U_new, sums = map_update(Y, U, Df[:, None], c, t, usb)
        return Y_new, U_new, (jnp.sum(sums, axis=1) if adapt_rho else None)

    sweeps = {"scan": sweeps_scan, "batched": sweeps_batched}[filters]

    def iterate(state):
        Y, U, us, rho, k = state
        Y_new, U_new, sums = sweeps(Y, U, us[b3], rho, (lam / rho)[b3])
        if adapt_rho == 0:
            return Y_new, U_new, jnp.ones_like(us), rho, k + 1
        nX, nY, nU, nR, nS = jnp.sqrt(sums)
        rn = jnp.maximum(nX, nY)
        sn = rho * nU
        r = nR / jnp.where(rn > 0, rn, 1.0)
        sres = rho * nS / jnp.where(sn > 0, sn, 1.0)
        ratio = jnp.where(r > sres * xi, r / jnp.where(sres > 0, sres * xi, 1.0),
                          sres * xi / jnp.where(r > 0, r, 1.0))
        mult = jnp.minimum(jnp.sqrt(ratio), tau)
        rsf = jnp.where(r > xi * mu * sres, mult, jnp.where(sres > (mu / xi) * r, 1.0 / mult, 1.0))
        # SPORCO multiplies ρ by τ when a residual is exactly zero; once converged (in float64 on a
        # small problem) that drives ρ to overflow, so ρ is left alone then.
        do = (k > 0) & (k < adapt_rho) & ((k + 1) % rho_period == 0)
        rsf = jnp.where(do & (r > 0) & (sres > 0), rsf, 1.0)
        return Y_new, U_new, 1.0 / rsf, rho * rsf, k + 1

    return iterate


# ---------------------------------------------------------------------------- driver


@functools.partial(jax.jit, static_argnames=("method", "boundary", "num_iters", "use_tol", "check_every",
                                             "restart", "record", "adapt_rho", "relax", "rho_period", "filters",
                                             "stall_window"))
def _solve(s, D, lam, z0, tol, step, rho0, *, method, boundary, num_iters, use_tol, check_every, restart,
           record, adapt_rho, relax, rho_period=1, filters="scan", stall_window=20):
    if method == "admm":
        state = _admm_init(z0, lam, rho0)
        iterate = _make_admm_iter(s, D, lam, relax, adapt_rho, rho_period, filters)
    else:
        state = _fista_init(z0)
        iterate = _make_fista_iter(_make_prox_grad(s, D, lam, boundary, step), method == "fista", restart)
    codes_of = _admm_codes if method == "admm" else (lambda state: state[0])

    def objective(state):
        return _objective(s, D, codes_of(state), lam, boundary)

    trace = None
    if not use_tol:
        def body(state, _):
            state = iterate(state)
            return state, ({"objective": objective(state)} if record else None)

        state, trace = jax.lax.scan(body, state, None, length=num_iters)
        iters = jnp.asarray(num_iters, jnp.int32)
    else:
        def cond(carry):
            _, it, rel, _, gap_ex, _, since = carry
            return (it < num_iters) & (rel > tol) & still_running(gap_ex, since, tol, stall_window)

        def body(carry):
            state, it, _, _, _, best, since = carry
            n = jnp.minimum(check_every, num_iters - it)  # the last block stops at num_iters
            state = jax.lax.fori_loop(0, n, lambda _, st: iterate(st), state)
            primal, gap = _primal_gap(s, D, codes_of(state), lam, boundary)
            gap_ex = example_gap(primal, gap)
            best, since = stall_update(best, since, gap_ex)
            rel = jnp.sum(gap) / jnp.maximum(jnp.sum(primal), jnp.finfo(s.dtype).tiny)
            return state, it + n, rel, primal, gap_ex, best, since

        inf = jnp.full(lam.shape, jnp.inf, s.dtype)
        init = (state, jnp.asarray(0, jnp.int32), jnp.asarray(jnp.inf, s.dtype), jnp.full(lam.shape, jnp.nan, s.dtype),
                inf, inf, jnp.zeros(lam.shape, jnp.int32))
        # the loop runs at least once (num_iters >= 1, rel starts at inf): its last check is at the returned codes
        state, iters, rel_gap, primal, gap_ex, _, _ = jax.lax.while_loop(cond, body, init)
        return SolverResult(codes_of(state), SolverInfo(iters, rel_gap, primal, None, gap_ex, gap_ex <= tol))
    z = codes_of(state)
    primal, gap = _primal_gap(s, D, z, lam, boundary)
    rel_gap = jnp.sum(gap) / jnp.maximum(jnp.sum(primal), jnp.finfo(s.dtype).tiny)
    return SolverResult(z, SolverInfo(iters, rel_gap, primal, trace))


@precision.highest
def conv_sparse_code(s, D, lam, *, tol=None, num_iters=None, method: str | None = None,
                     boundary: str = "circular", z0=None, step=None, rho=None, relax: float = 1.8,
                     adapt_rho: int = 200, rho_period: int = 1, restart: bool = True, check_every: int = 10,
                     record: bool = False, dtype=None, filters: str = "auto", stall_window: int = 20) -> SolverResult:
    """Convolutional sparse codes ``argmin_z ½‖Σ_k d_k ∗ z_k − s‖² + λ Σ_k ‖z_k‖₁``.

    Args:
      s: images (batch, H, W).
      D: filters (K, h, w), h ≤ H and w ≤ W, none of them zero.
      lam: λ ≥ 0, a scalar or one per image (batch,).
      tol: stop when the relative duality gap ``Σ gap / Σ E`` is at most ``tol``
        (checked every ``check_every`` iterations and after the last), or after
        ``num_iters`` (default 1000) iterations, or once every image above ``tol``
        has stalled (its relative gap improved by less than 1% over ``stall_window``
        checks), whichever comes first; a return above ``tol`` emits one
        :class:`~ebm_jax.sparse.result.ConvergenceWarning`. With ``tol=None``: exactly ``num_iters``
        iterations (a ``lax.scan``); with neither, ``tol=1e-4``.
      method: ``"admm"`` (default for the circular boundary), ``"fista"``
        (default for the zero boundary) or ``"ista"``.
      boundary: ``"circular"`` (SPORCO's convention) or ``"zero"``.
      z0: warm start (batch, K, H, W) (default zeros).
      step: FISTA/ISTA step (default 1/L, exact); a step above 2/L diverges and is
        refused (:class:`~ebm_jax.checks.DivergenceError`).
      rho, relax: ADMM's initial penalty (default 50λ + 1) and over-relaxation (1.8), as SPORCO.
      adapt_rho: ADMM adapts ρ by SPORCO's residual balancing during this many
        iterations, then keeps it (0: fixed ρ).
      rho_period: ADMM updates ρ every this many iterations (SPORCO ConvBPDN's ``AutoRho``
        ``Period``, 1).
      restart: FISTA's adaptive gradient restart.
      record: with ``tol=None``, also return the energy after every iteration in
        ``info.trace["objective"]`` (num_iters, batch).
      dtype: computation dtype (default: the inputs'); ``"float64"`` needs
        ``jax_enable_x64``.
      filters: how ADMM sweeps the K filter maps: ``"scan"`` (one map at a
        time), ``"batched"`` (all at once) or ``"auto"`` (scan on the CPU, batched
        on a GPU or TPU: :func:`ebm_jax.backend.admm_filters`). Same iterates.
      stall_window: the tolerance form's stall rule, in checks.

    Returns:
      :class:`~ebm_jax.sparse.result.SolverResult` with ``codes`` (batch, K, H, W)
      and ``info`` (num_iters, rel_gap, objective per image, trace; in the tolerance
      form also ``example_gap`` and ``converged`` per image).

    Raises:
      checks.DivergenceError: a step above 2/L, or a non-finite result from finite
        inputs (where the result is concrete, i.e. not inside ``jax.jit``).
    """
    s, D, lam = check_problem(s, D, lam, boundary)
    if dtype is not None:
        dtype = jnp.dtype(dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        if dtype.itemsize == 8 and not jax.config.jax_enable_x64:
            raise ValueError("dtype=float64 needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) "
                             "(or run inside `with jax.enable_x64(True):`)")
        s, D, lam = s.astype(dtype), D.astype(dtype), lam.astype(dtype)
    if method is None:
        method = "admm" if boundary == "circular" else "fista"
    checks.one_of(method, "method", METHODS)
    if method == "admm" and boundary != "circular":
        raise ValueError("method='admm' solves the circular boundary only (its x-step is diagonal in the Fourier "
                         "domain); use method='fista' with boundary='zero'")
    if tol is None and num_iters is None:
        tol = 1e-4
    tol = None if tol is None else validation.check_tol(tol)
    stall_window = validation.check_stall_window(stall_window)
    num_iters = checks.positive_int(num_iters, "num_iters", allow_none=True)
    check_every = checks.positive_int(check_every, "check_every")
    relax = checks.real(relax, "relax", gt=0, lt=2)
    step = checks.positive_float(step, "step", allow_none=True)
    rho = checks.positive_float(rho, "rho", allow_none=True)
    adapt_rho = checks.nonnegative_int(adapt_rho, "adapt_rho")
    rho_period = checks.positive_int(rho_period, "rho_period")
    record = checks.boolean(record, "record")
    if record and tol is not None:
        raise ValueError("record=True needs the fixed-iteration form (tol=None, num_iters given)")
    z0 = jnp.zeros(s.shape[:1] + D.shape[:1] + s.shape[1:], s.dtype) if z0 is None else \
        check_codes(z0, s.shape, D.shape[0], "z0", dtype=s.dtype)
    restart = checks.boolean(restart, "restart")
    filters = backend.admm_filters(filters)
    if method != "admm":
        _check_step_bound(step, D, s.shape[1:], boundary)
    use_tol = tol is not None
    num_iters = num_iters if num_iters is not None else 1000
    result = _solve(s, D, lam, z0, jnp.asarray(tol if use_tol else 0.0, s.dtype),
                    None if step is None else jnp.asarray(step, s.dtype),
                    None if rho is None else jnp.asarray(rho, s.dtype),
                    method=method, boundary=boundary, num_iters=num_iters, use_tol=use_tol, check_every=check_every,
                    restart=restart, record=record, adapt_rho=adapt_rho, relax=relax, rho_period=rho_period,
                    filters=filters, stall_window=stall_window if use_tol else 0)
    _check_finite_result(result, method, step, rho, relax, adapt_rho)
    if use_tol:
        validation.warn_unconverged(result, tol, f"conv_sparse_code (method={method!r})",
                                    f"cap num_iters={num_iters}, stall window {stall_window} checks of "
                                    f"{check_every} iterations")
    return result


def _lipschitz_np(D, image_shape, boundary) -> float:
    """``L = max_ω Σ_k |d̂_k(ω)|²`` on the solver's FFT grid, in numpy (host code)."""
    shape = fft_shape(tuple(image_shape), D.shape[-2:], boundary)
    Df = np.fft.rfft2(np.asarray(D, np.float64), s=shape)
    return float(np.max(np.sum(np.abs(Df) ** 2, axis=0)))


def _check_step_bound(step, D, image_shape, boundary, limit: float = 2.0) -> None:
    """DivergenceError for a concrete ``step`` above ``limit / L``: proximal gradient steps diverge beyond 2/L
    (the circular ``L`` is exact; for the zero boundary it is the circular bound on the padded grid)."""
    if step is None or not checks.is_concrete(D):
        return
    L = _lipschitz_np(D, image_shape, boundary)
    if step * L > limit:
        raise checks.DivergenceError(
            f"step={step:.4g} is above the safe bound {limit:g}/L = {limit / L:.4g} (L = max_ω Σ_k |d̂_k(ω)|² = "
            f"{L:.4g}): the iteration diverges; use step <= 1/L (or leave step=None)")


def _check_finite_result(result: SolverResult, method: str, step, rho, relax, adapt_rho) -> None:
    """DivergenceError where a concrete result has a non-finite energy (the inputs were finite, checked)."""
    info = result.info
    if not checks.is_concrete(info.objective):
        return
    bad = ~np.isfinite(np.asarray(info.objective))
    if not bad.any():
        return
    if method == "admm":
        cause = (f"the ADMM penalty rho (initial {'50λ + 1' if rho is None else f'rho={rho:.4g}'}, adapted during "
                 f"adapt_rho={adapt_rho} iterations, relax={relax:g}) blew up or vanished; try rho=None, a smaller "
                 f"adapt_rho (0 keeps rho fixed) or method='fista'")
    else:
        cause = (f"step={'1/L' if step is None else f'{step:.4g}'} is too large for D; use step <= 1/L "
                 f"(L = max_ω Σ_k |d̂_k(ω)|²) or step=None")
    raise checks.DivergenceError(
        f"conv_sparse_code (method={method!r}) diverged: non-finite codes or energy for {int(bad.sum())} of "
        f"{bad.size} image(s) from finite inputs; {cause}")
