"""Convolutional sparse coding: FFT convolutions, energy, solvers, encoder, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.signal import convolve2d

from ebm_jax.sparse import conv_lista, conv_ops
from ebm_jax import checks
from ebm_jax.sparse.conv import conv_objective, conv_reconstruct, conv_sparse_code
from ebm_jax.sparse.result import ConvergenceWarning


def _problem(batch=2, K=3, H=12, W=10, h=4, w=3, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((K, h, w)).astype(np.float32)
    D /= np.linalg.norm(D.reshape(K, -1), axis=1)[:, None, None]
    s = rng.standard_normal((batch, H, W)).astype(np.float32)
    z = (rng.standard_normal((batch, K, H, W)) * (rng.random((batch, K, H, W)) < 0.2)).astype(np.float32)
    return s, D, z


def _direct_circular(z, D):
    """Σ_k Σ_ab d_k(a,b) z_k(i−a mod H, j−b mod W) by loops over the filter taps."""
    batch, K, H, W = z.shape
    out = np.zeros((batch, H, W))
    for k in range(K):
        for a in range(D.shape[1]):
            for b in range(D.shape[2]):
                out += D[k, a, b] * np.roll(z[:, k], (a, b), axis=(1, 2))
    return out


@pytest.mark.parametrize("H,W", [(12, 10), (9, 7)])
def test_circular_convolution_matches_direct_loops(H, W):
    s, D, z = _problem(H=H, W=W)
    np.testing.assert_allclose(conv_reconstruct(z, D), _direct_circular(z, D), atol=1e-4)


def test_zero_boundary_matches_jax_scipy_convolve2d():
    s, D, z = _problem()
    H, W = s.shape[1:]
    want = sum(jax.vmap(lambda zk, dk=D[k]: convolve2d(zk, dk, mode="full"))(z[:, k])[:, :H, :W]
               for k in range(D.shape[0]))
    np.testing.assert_allclose(conv_reconstruct(z, D, boundary="zero"), want, atol=1e-4)


@pytest.mark.parametrize("boundary", ["circular", "zero"])
def test_adjoint_is_the_transpose(boundary):
    s, D, z = _problem()
    lhs = jnp.vdot(conv_ops.reconstruct(jnp.asarray(z), D, boundary), s)
    rhs = jnp.vdot(z, conv_ops.adjoint(jnp.asarray(s), D, boundary))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


@pytest.mark.parametrize("boundary", ["circular", "zero"])
def test_objective_gradient_is_adjoint_of_residual(boundary):
    s, D, z = _problem()
    lam = 0.1
    r = conv_ops.reconstruct(jnp.asarray(z), D, boundary) - s
    smooth = jax.grad(lambda z: jnp.sum(conv_objective(s, D, z, 0.0, boundary=boundary)))(jnp.asarray(z))
    np.testing.assert_allclose(smooth, conv_ops.adjoint(r, D, boundary), atol=1e-4)
    grad = jax.grad(lambda z: jnp.sum(conv_objective(s, D, z, lam, boundary=boundary)))(jnp.asarray(z))
    on = z != 0  # |z| is differentiable there
    np.testing.assert_allclose(np.asarray(grad)[on], (smooth + lam * jnp.sign(z))[on], atol=1e-4)
    eps, direction = 1e-2, np.random.default_rng(1).standard_normal(z.shape).astype(np.float32)
    fd = (conv_objective(s, D, z + eps * direction, 0.0, boundary=boundary)
          - conv_objective(s, D, z - eps * direction, 0.0, boundary=boundary)).sum() / (2 * eps)
    np.testing.assert_allclose(fd, jnp.vdot(smooth, direction), rtol=1e-3)
    # and the energy itself against the direct loops
    if boundary == "circular":
        e = 0.5 * np.sum((_direct_circular(z, D) - s) ** 2, axis=(1, 2)) + lam * np.abs(z).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(conv_objective(s, D, z, lam), e, rtol=1e-5)


def _subgradient_violation(s, D, z, lam, boundary):
    """max over entries of the distance of −∇f(z) to λ∂‖z‖₁, relative to λ."""
    g = -np.asarray(conv_ops.adjoint(conv_ops.reconstruct(z, D, boundary) - s, D, boundary))
    z = np.asarray(z)
    on = z != 0
    viol_on = np.abs(g[on] - lam * np.sign(z[on])).max(initial=0.0)
    viol_off = np.maximum(np.abs(g[~on]) - lam, 0).max(initial=0.0)
    return max(viol_on, viol_off) / lam


@pytest.mark.parametrize("method,boundary", [("admm", "circular"), ("fista", "circular"), ("fista", "zero")])
def test_optimality_conditions_at_convergence(method, boundary):
    s, D, _ = _problem(batch=2, K=2, H=10, W=10, h=3, w=3, seed=1)
    lam = 0.2
    with jax.enable_x64(True):
        res = conv_sparse_code(s.astype(np.float64), D.astype(np.float64), lam, tol=1e-10, num_iters=20000,
                               method=method, boundary=boundary, dtype="float64")
        assert float(res.info.rel_gap) <= 1e-10
        assert _subgradient_violation(s, D.astype(np.float64), res.codes, lam, boundary) < 1e-3
        assert res.codes.shape == (2, 2, 10, 10)
        np.testing.assert_allclose(res.info.objective, conv_objective(s.astype(np.float64), D.astype(np.float64),
                                                                      res.codes, lam, boundary=boundary), rtol=1e-10)


def test_admm_and_fista_reach_the_same_energy_and_batch_is_per_image():
    s, D, _ = _problem(batch=3, seed=2)
    lam = np.array([0.05, 0.2, 0.5], np.float32)
    a = conv_sparse_code(s, D, lam, method="admm", tol=1e-4, num_iters=3000)
    f = conv_sparse_code(s, D, lam, method="fista", tol=1e-4, num_iters=3000)
    assert float(a.info.rel_gap) <= 1e-4 and float(f.info.rel_gap) <= 1e-4
    np.testing.assert_allclose(a.info.objective, f.info.objective, rtol=1e-3)
    one = conv_sparse_code(s[1:2], D, lam[1], method="fista", tol=1e-4, num_iters=3000)
    np.testing.assert_allclose(one.info.objective[0], f.info.objective[1], rtol=1e-3)



@pytest.mark.parametrize("method", ["fista", "admm"])
def test_tolerance_form_runs_at_most_num_iters(method):
    """num_iters caps the iterations exactly, also when it is not a multiple of check_every."""
    rng = np.random.default_rng(3)
    s = rng.standard_normal((2, 12, 12)).astype(np.float32)
    D = rng.standard_normal((3, 3, 3)).astype(np.float32)
    with pytest.warns(ConvergenceWarning, match="cap num_iters=15"):
        res = conv_sparse_code(s, D, 0.1, tol=1e-12, num_iters=15, check_every=10, method=method)
    assert int(res.info.num_iters) == 15
    fixed = conv_sparse_code(s, D, 0.1, num_iters=15, method=method)
    np.testing.assert_allclose(np.asarray(res.codes), np.asarray(fixed.codes), rtol=1e-5, atol=1e-6)


def test_fixed_iterations_trace_and_warm_start():
    s, D, _ = _problem(seed=3)
    lam = 0.1
    res = conv_sparse_code(s, D, lam, num_iters=30, method="fista", record=True)
    assert res.info.trace["objective"].shape == (30, 2) and int(res.info.num_iters) == 30
    np.testing.assert_allclose(res.info.trace["objective"][-1], res.info.objective, rtol=1e-5)
    best = conv_sparse_code(s, D, lam, tol=1e-4, num_iters=3000)
    warm = conv_sparse_code(s, D, lam, tol=1e-3, z0=best.codes, method="fista")
    assert int(warm.info.num_iters) <= 10 < int(best.info.num_iters)
    z, info = warm  # unpacks like every solver result
    assert z.shape == best.codes.shape


def test_ista_is_unaccelerated_fista():
    s, D, _ = _problem(seed=4)
    ista = conv_sparse_code(s, D, 0.1, num_iters=1, method="ista")
    fista = conv_sparse_code(s, D, 0.1, num_iters=1, method="fista")
    np.testing.assert_allclose(ista.codes, fista.codes, atol=1e-6)
    slow = conv_sparse_code(s, D, 0.1, num_iters=20, method="ista").info.objective
    fast = conv_sparse_code(s, D, 0.1, num_iters=20, method="fista").info.objective
    assert np.all(np.asarray(fast) <= np.asarray(slow) + 1e-4)


@pytest.mark.parametrize("boundary", ["circular", "zero"])
def test_untrained_conv_lista_equals_ista(boundary):
    s, D, _ = _problem(K=1, seed=5)
    lam, T = 0.1, 4
    params = conv_lista.init_from_dictionary(D, lam, image_shape=s.shape[1:], boundary=boundary)
    z_enc = conv_lista.encode(params, jnp.asarray(s), num_layers=T, boundary=boundary)
    z_ista = conv_sparse_code(s, D, lam, num_iters=T, method="ista", boundary=boundary).codes
    np.testing.assert_allclose(z_enc, z_ista, atol=1e-5)
    s, D, _ = _problem(K=3, seed=6)
    params = conv_lista.init_from_dictionary(D, lam, image_shape=s.shape[1:], boundary=boundary)
    np.testing.assert_allclose(conv_lista.encode(params, jnp.asarray(s), num_layers=T, boundary=boundary),
                               conv_sparse_code(s, D, lam, num_iters=T, method="ista", boundary=boundary).codes,
                               atol=1e-5)


def test_solver_runs_under_jit_and_grad_of_objective():
    s, D, _ = _problem(seed=7)

    @jax.jit
    def energy(s, D):
        return jnp.sum(conv_sparse_code(s, D, 0.1, num_iters=20, method="fista").info.objective)

    assert np.isfinite(float(energy(s, D)))


def test_matches_sporco_objective_on_a_tiny_problem():
    """SPORCO's ConvBPDN objective at its own codes equals ours; our optimum is no worse."""
    sporco_cbpdn = pytest.importorskip("sporco.admm.cbpdn")
    s, D, _ = _problem(batch=1, K=4, H=16, W=16, h=5, w=5, seed=8)
    lam = 0.1
    opt = sporco_cbpdn.ConvBPDN.Options({"Verbose": False, "MaxMainIter": 30, "AuxVarObj": True})
    solver = sporco_cbpdn.ConvBPDN(np.transpose(D, (1, 2, 0)).astype(np.float64), s[0].astype(np.float64), lam, opt)
    solver.solve()
    theirs = solver.getitstat().ObjFun[-1]
    Y = np.transpose(solver.Y.reshape(16, 16, 4), (2, 0, 1))[None]
    np.testing.assert_allclose(conv_objective(s, D, Y.astype(np.float32), lam)[0], theirs, rtol=1e-5)
    ours = conv_sparse_code(s, D, lam, tol=1e-4, num_iters=2000)
    assert float(ours.info.objective[0]) <= theirs * (1 + 1e-5)


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad,match", [
    (dict(D=np.ones((2, 20, 3), np.float32)), "larger than the images"),
    (dict(D=np.ones((0, 3, 3), np.float32)), "at least one filter|is empty"),
    (dict(lam=-0.1), "lam must be"),
    (dict(lam=np.array([0.1, -1.0, 0.1], np.float32)), "lam must be >= 0"),
    (dict(lam=np.array([0.1, 0.1], np.float32)), r"shape \(3,\)"),
    (dict(s=np.full((3, 12, 10), np.nan, np.float32)), "non-finite"),
    (dict(D=np.zeros((2, 3, 3), np.float32)), "zero filter"),
    (dict(s=np.ones((12, 10), np.float32)), "3 dimensions"),
    (dict(z0=np.zeros((2, 3, 12, 10), np.float32)), "z0 must have shape"),
    (dict(method="lbfgs"), "method must be one of"),
    (dict(boundary="reflect"), "boundary must be one of"),
    (dict(method="admm", boundary="zero"), "circular boundary only"),
    (dict(num_iters=0), "num_iters"),
    (dict(tol=-1.0), "tol"),
])
def test_bad_inputs_give_clear_errors(bad, match):
    s, D, _ = _problem(batch=3)
    args = dict(s=s, D=D, lam=0.1)
    args.update({k: v for k, v in bad.items() if k in args})
    kwargs = {k: v for k, v in bad.items() if k not in args}
    with pytest.raises((ValueError, TypeError), match=match):
        conv_sparse_code(args["s"], args["D"], args["lam"], **kwargs)


def test_objective_rejects_mismatched_codes_and_one_zero_filter():
    s, D, z = _problem()
    with pytest.raises(ValueError, match="must have shape"):
        conv_objective(s, D, z[:1], 0.1)
    with pytest.raises(ValueError, match="must have shape"):
        conv_objective(s, D[:2], z, 0.1)
    D2 = D.copy()
    D2[1] = 0
    with pytest.raises(ValueError, match=r"zero filter\(s\) at index \[1\]"):
        conv_sparse_code(s, D2, 0.1)
    with pytest.raises(ValueError, match="code maps"):
        conv_reconstruct(z, D[:2])
    with pytest.raises(TypeError, match="must be a numeric array"):
        conv_sparse_code("image", D, 0.1)


def test_float64_needs_x64():
    s, D, _ = _problem()
    if jax.config.jax_enable_x64:
        pytest.skip("x64 already enabled")
    with pytest.raises(ValueError, match="jax_enable_x64"):
        conv_sparse_code(s, D, 0.1, dtype="float64")


def _unit_problem(seed=0):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((3, 16, 16)).astype(np.float32)
    D = rng.standard_normal((4, 5, 5)).astype(np.float32)
    D /= np.linalg.norm(D, axis=(1, 2), keepdims=True)
    L = float(np.max(np.sum(np.abs(np.fft.rfft2(D.astype(np.float64), s=(16, 16))) ** 2, axis=0)))
    return s, D, L


def test_a_step_far_above_one_over_L_is_refused_before_solving():
    s, D, L = _unit_problem()
    for method in ("fista", "ista"):
        with pytest.raises(checks.DivergenceError, match=r"step=.* is above the safe bound 2/L"):
            conv_sparse_code(s, D, 0.1, num_iters=3, method=method, step=100.0 / L)
    # the same bound for the zero boundary (L of the padded grid)
    with pytest.raises(checks.DivergenceError, match="safe bound"):
        conv_sparse_code(s, D, 0.1, num_iters=3, boundary="zero", step=100.0 / L)
    # below 2/L is allowed: ISTA converges there
    assert np.isfinite(conv_sparse_code(s, D, 0.1, num_iters=300, method="ista", step=1.9 / L).info.objective).all()


def test_fista_diverging_below_the_bound_raises_naming_the_step():
    """FISTA is only guaranteed below 1/L: at 1.9/L it blows up to inf/NaN, which the result check reports."""
    s, D, L = _unit_problem()
    with pytest.raises(checks.DivergenceError, match=r"fista.*diverged.*3 of 3 image.*step=.* is too large"):
        conv_sparse_code(s, D, 0.1, num_iters=300, method="fista", step=1.9 / L)
    with pytest.raises(checks.DivergenceError, match="diverged"):
        conv_sparse_code(s, D, 0.1, tol=1e-4, num_iters=300, method="fista", step=1.9 / L)


def test_admm_with_a_vanishing_rho_raises_naming_rho():
    """rho = 1e-44 (a float32 denormal) makes the threshold λ/ρ infinite: the iterates become NaN."""
    s, D, _ = _unit_problem()
    with pytest.raises(checks.DivergenceError, match=r"admm.*diverged.*rho=1e-44"):
        conv_sparse_code(s, D, 0.1, num_iters=20, rho=1e-44)


def test_a_traced_call_is_not_checked_and_stays_finite_on_a_good_problem():
    s, D, _ = _unit_problem()
    obj = jax.jit(lambda s: conv_sparse_code(s, D, 0.1, num_iters=5, method="fista").info.objective)(s)
    np.testing.assert_allclose(obj, conv_sparse_code(s, D, 0.1, num_iters=5, method="fista").info.objective,
                               rtol=1e-6)


@pytest.mark.parametrize("method", ["admm", "fista"])
def test_an_unreachable_tolerance_stalls_and_warns_once(method):
    """tol=1e-9 in float32: the relative gaps stall near 1e-5; the solver stops long before its cap,
    reports every image as unconverged, and warns once naming them."""
    s, D, _ = _unit_problem()
    with pytest.warns(ConvergenceWarning) as record:
        res = conv_sparse_code(s, D, 0.1, tol=1e-9, num_iters=100_000, method=method)
    assert len(record) == 1
    assert "3 of 3 example(s) did not reach tol" in str(record[0].message)
    assert record[0].filename == __file__  # the warning points at the caller
    assert int(res.info.num_iters) < 5_000
    assert not np.asarray(res.info.converged).any()
    gaps = np.asarray(res.info.example_gap)
    assert gaps.shape == (3,) and (gaps > 1e-9).all() and (gaps < 1e-3).all()
    # the per-image gaps are those of the returned codes
    again = conv_sparse_code(s, D, 0.1, num_iters=int(res.info.num_iters), method=method)
    np.testing.assert_allclose(res.info.objective, again.info.objective, rtol=1e-5)


def test_the_tolerance_form_reports_each_image_and_does_not_warn_when_converged():
    s, D, _ = _unit_problem()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = conv_sparse_code(s, D, 0.1, tol=1e-3, num_iters=3000)
    gaps = np.asarray(res.info.example_gap)
    # the stopping test is on Σ gap_i / Σ E_i; each image reports its own gap
    assert float(res.info.rel_gap) <= 1e-3 and gaps.shape == (3,) and (gaps < 1e-2).all()
    np.testing.assert_array_equal(np.asarray(res.info.converged), gaps <= 1e-3)
    # Σ gap_i / Σ E_i from the per-image gaps
    np.testing.assert_allclose(float(res.info.rel_gap), np.sum(gaps * np.asarray(res.info.objective))
                               / np.sum(np.asarray(res.info.objective)), rtol=1e-4)
    assert conv_sparse_code(s, D, 0.1, num_iters=5).info.example_gap is None
