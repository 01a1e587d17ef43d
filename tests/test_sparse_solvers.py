"""ISTA / FISTA / working-set lasso against scikit-learn's exact solutions (float32 in JAX)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.sparse import (
    duality_gap,
    fista,
    free_energy,
    ista,
    lasso_objective,
    lasso_path,
    lipschitz_constant,
    soft_threshold,
    working_set_lasso,
)

from ebm_jax.sparse.prox import power_iteration
from ebm_jax.checks import DivergenceError
from ebm_jax.sparse.result import ConvergenceWarning

sklearn_decomp = pytest.importorskip("sklearn.decomposition")


def _problem(seed=0, batch=12, n=40, k=60, lam=0.2):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n, k))
    D /= np.linalg.norm(D, axis=0)
    x = rng.standard_normal((batch, n))
    return x, D, lam


def _exact(x, D, lam, positive=False):
    """Exact lasso codes (float64 LARS); positive codes via tight coordinate descent."""
    if positive:
        from sklearn.linear_model import Lasso

        return Lasso(alpha=lam / D.shape[0], fit_intercept=False, positive=True, tol=1e-14,
                     max_iter=200_000).fit(D, x.T).coef_.reshape(x.shape[0], -1)
    return sklearn_decomp.sparse_encode(x, D.T, algorithm="lasso_lars", alpha=lam)


def _obj(x, D, z, lam):
    r = x - z @ D.T
    return 0.5 * np.sum(r * r, 1) + lam * np.sum(np.abs(z), 1)


def f32(*a):
    return [np.asarray(v, np.float32) for v in a]


def test_soft_threshold_values():
    v = jnp.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(soft_threshold(v, 1.0), [-2.0, 0.0, 0.0, 0.0, 2.0])
    np.testing.assert_allclose(soft_threshold(v, 1.0, nonneg=True), [0.0, 0.0, 0.0, 0.0, 2.0])
    # per-example thresholds broadcast over (batch, 1)
    out = soft_threshold(jnp.ones((2, 3)) * 2.0, jnp.array([[1.0], [3.0]]))
    np.testing.assert_allclose(out, [[1.0] * 3, [0.0] * 3])


def test_lipschitz_is_a_safe_upper_estimate():
    _, D, _ = _problem()
    lmax = np.linalg.eigvalsh(D.T @ D)[-1]
    L = float(lipschitz_constant(jnp.asarray(D, jnp.float32)))
    assert lmax <= L <= lmax * 1.002


@pytest.mark.parametrize("num_iters", [1, 2, 5])
@pytest.mark.parametrize("shape", [(40, 60), (30, 10)])
def test_lipschitz_is_an_upper_bound_before_power_iteration_converges(num_iters, shape):
    """A few power iterations give a Rayleigh quotient well below λ_max; the step stays safe."""
    rng = np.random.default_rng(1)
    D = rng.standard_normal(shape)
    D /= np.linalg.norm(D, axis=0)
    lmax = np.linalg.eigvalsh(D.T @ D)[-1]
    rayleigh = float(power_iteration(jnp.asarray(D, jnp.float32), num_iters))
    assert rayleigh * 1.001 < lmax  # the estimate alone would be an unsafe step
    L = float(lipschitz_constant(jnp.asarray(D, jnp.float32), num_iters=num_iters))
    assert lmax <= L <= lmax * 1.002 * (1 + 1e-5)


def test_lipschitz_bound_on_a_near_degenerate_top_eigenvalue():
    """Two top eigenvalues 1 % apart: power iteration converges slowly, the bound holds."""
    rng = np.random.default_rng(2)
    U, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    s = np.linspace(0.5, 2.0, 20)
    s[-2] = 1.99
    D = (U * np.sqrt(s)) @ U.T
    lmax = np.linalg.eigvalsh(D.T @ D)[-1]
    for num_iters in (3, 10, 30):
        L = float(lipschitz_constant(jnp.asarray(D, jnp.float32), num_iters=num_iters))
        assert lmax <= L <= lmax * 1.002 * (1 + 1e-5)


@pytest.mark.parametrize("polish", [False, True])
def test_tolerance_form_runs_at_most_num_iters(polish):
    """num_iters caps the iterations exactly, also when it is not a multiple of check_every."""
    x, D, lam = _problem()
    res = fista(*f32(x, D), lam, tol=1e-12, num_iters=15, check_every=10, restart=True, polish=polish)
    assert int(res.info.num_iters) == 15
    if not polish:  # the same 15 iterations as the fixed form
        fixed = fista(*f32(x, D), lam, num_iters=15, restart=True)
        np.testing.assert_allclose(np.asarray(res.codes), np.asarray(fixed.codes), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("restart", [False, True])
def test_fista_matches_lars(restart):
    x, D, lam = _problem()
    ref = _exact(x, D, lam)
    z = fista(*f32(x, D), lam, num_iters=3000, restart=restart).codes
    np.testing.assert_allclose(np.asarray(z), ref, atol=2e-4)
    # same support wherever the exact code is clearly non-zero
    assert np.all(np.asarray(z)[np.abs(ref) > 1e-3] != 0)


def test_ista_matches_lars_and_objective_is_monotone():
    x, D, lam = _problem()
    ref = _exact(x, D, lam)
    z, info = ista(*f32(x, D), lam, num_iters=4000, trace=True)
    objs = info.trace["objective"]
    assert objs.shape == (4000, x.shape[0])
    np.testing.assert_allclose(np.asarray(z), ref, atol=5e-4)
    diffs = np.diff(np.asarray(objs), axis=0)
    assert diffs.max() <= 1e-5  # ISTA never increases the energy (up to float32 rounding)


def test_gram_and_direct_forms_agree():
    x, D, lam = _problem(batch=5, n=30, k=20)  # k <= 2n: auto picks Gram
    a = fista(*f32(x, D), lam, num_iters=50, gram=True)
    b = fista(*f32(x, D), lam, num_iters=50, gram=False)
    np.testing.assert_allclose(np.asarray(a.codes), np.asarray(b.codes), atol=1e-5)
    # both forms certify the same codes the same way (Gram: ‖r‖² from ‖x‖², c, z G)
    np.testing.assert_allclose(np.asarray(a.info.objective), np.asarray(b.info.objective), rtol=1e-4)
    np.testing.assert_allclose(float(a.info.rel_gap), float(b.info.rel_gap), rtol=1e-2, atol=1e-5)


def test_tolerance_form_certifies_suboptimality():
    x, D, lam = _problem(seed=1)
    ref = _obj(x, D, _exact(x, D, lam), lam).sum()
    for polish in (False, True):
        z, info = fista(*f32(x, D), lam, tol=1e-5, restart=True, polish=polish)
        got = _obj(x, D, np.asarray(z, np.float64), lam).sum()
        assert float(info.rel_gap) <= 1e-5 and int(info.num_iters) >= 1 and info.trace is None
        np.testing.assert_allclose(np.asarray(info.objective), _obj(x, D, np.asarray(z, np.float64), lam), rtol=1e-5)
        assert (got - ref) / ref <= 1e-5 + 1e-6
        assert got >= ref * (1 - 1e-6)


def test_working_set_matches_lars_and_reports_gap():
    x, D, lam = _problem(seed=2, batch=30, n=50, k=120, lam=1.0)  # supports <= 26 < p
    ref = _exact(x, D, lam)
    z, info = working_set_lasso(*f32(x, D), lam, tol=1e-6, working_set_size=40)
    assert float(info.rel_gap) <= 1e-6 and int(info.num_iters) >= 1
    np.testing.assert_allclose(np.asarray(info.objective), _obj(x, D, np.asarray(z, np.float64), lam), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(z), ref, atol=1e-4)
    # without the polish step it still converges, only slower
    z2 = working_set_lasso(*f32(x, D), lam, tol=1e-5, working_set_size=40, polish=False, max_outer=20).codes
    fstar = _obj(x, D, ref, lam).sum()
    assert (_obj(x, D, np.asarray(z2, np.float64), lam).sum() - fstar) / fstar < 1e-4


def test_working_set_selection_helpers():
    from ebm_jax.sparse.working_set import _column_slots, _largest_within

    rng = np.random.default_rng(5)
    B, k, p = 64, 50, 12
    v = rng.standard_normal((B, k)).astype(np.float32)  # negative entries are never picked
    cap = rng.integers(0, p + 1, B)
    mask = np.asarray(_largest_within(jnp.asarray(v), jnp.asarray(cap), steps=30))
    for b in range(B):
        want = min(cap[b], int((v[b] > 0).sum()))
        assert mask[b].sum() == want
        if want:  # the picked ones are the largest
            assert v[b][mask[b]].min() > v[b][~mask[b]].max()

    first = rng.random((B, k)) < 0.15
    second = (rng.random((B, k)) < 0.2) & ~first
    idx = np.asarray(_column_slots(jnp.asarray(first), jnp.asarray(second), p))
    for b in range(B):
        assert len(set(idx[b])) == p  # distinct atoms
        f, s = np.flatnonzero(first[b]), np.flatnonzero(second[b])
        order = np.concatenate([f, s, np.setdiff1d(np.arange(k), np.concatenate([f, s]))])
        np.testing.assert_array_equal(idx[b], order[:p])  # first, then second, then the rest


def test_per_example_lambda_equals_separate_solves():
    x, D, _ = _problem(batch=4)
    lams = np.array([0.05, 0.2, 0.5, 1.0])
    z = np.asarray(fista(*f32(x, D), lams, num_iters=2000, restart=True).codes)
    zw = np.asarray(working_set_lasso(*f32(x, D), lams, tol=1e-6, working_set_size=60).codes)
    for i, lam in enumerate(lams):
        ref = _exact(x[i:i + 1], D, lam)[0]
        np.testing.assert_allclose(z[i], ref, atol=3e-4)
        np.testing.assert_allclose(zw[i], ref, atol=3e-4)


def test_nonneg_matches_positive_lasso():
    x, D, lam = _problem(seed=3, batch=6)
    ref = _exact(x, D, lam, positive=True)
    z = np.asarray(fista(*f32(x, D), lam, num_iters=3000, restart=True, nonneg=True).codes)
    assert z.min() >= 0
    np.testing.assert_allclose(z, ref, atol=3e-4)
    zw = np.asarray(working_set_lasso(*f32(x, D), lam, tol=1e-6, nonneg=True, working_set_size=60).codes)
    np.testing.assert_allclose(zw, ref, atol=3e-4)


def test_warm_start_at_optimum_stays_and_path_agrees():
    x, D, lam = _problem(seed=4)
    ref = _exact(x, D, lam).astype(np.float32)
    z = fista(*f32(x, D), lam, num_iters=1, z0=ref).codes
    np.testing.assert_allclose(np.asarray(z), ref, atol=1e-5)
    for solver, kw in (("fista", {"restart": True}), ("working_set", {"working_set_size": 60})):
        # in float32 the certified relative gap floors at ~2-3e-6 on this problem: both solvers stop
        # once every example has stalled, far below their caps, with one warning
        with pytest.warns(ConvergenceWarning, match="did not reach tol"):
            zp, info = lasso_path(*f32(x, D), lam, num_lams=3, tol=1e-6, solver=solver, **kw)
        np.testing.assert_allclose(np.asarray(zp), ref, atol=3e-4)
        assert float(info.rel_gap) <= 1e-5 and int(info.num_iters) >= 3
        assert int(info.num_iters) < (3 * 100_000 if solver == "fista" else 3 * 200) // 10


def test_duality_gap_bounds_suboptimality_and_free_energy():
    x, D, lam = _problem(seed=5)
    zref = _exact(x, D, lam)
    fstar = _obj(x, D, zref, lam)
    rng = np.random.default_rng(0)
    z = zref + 0.05 * rng.standard_normal(zref.shape)
    gap = np.asarray(duality_gap(*f32(x, D, z), lam))
    sub = _obj(x, D, z.astype(np.float32).astype(np.float64), lam) - fstar
    assert np.all(gap >= sub - 1e-4) and np.all(sub > 0)
    with pytest.warns(ConvergenceWarning):  # float32 cannot certify 1e-7
        F = np.asarray(free_energy(*f32(x, D), lam, tol=1e-7))
    np.testing.assert_allclose(F, fstar, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(free_energy(*f32(x, D), lam)), fstar, rtol=1e-4)  # default tol
    np.testing.assert_allclose(np.asarray(lasso_objective(*f32(x, D, zref), lam)), fstar, rtol=1e-5)


def test_solver_is_a_gemm_not_a_vmapped_matvec():
    x, D, lam = _problem(batch=8, n=30, k=20)
    jaxpr = jax.make_jaxpr(lambda a: fista(a, jnp.asarray(D, jnp.float32), lam, num_iters=3))(
        jnp.asarray(x, jnp.float32))
    outs = [line.strip().split(" = ")[0] for line in str(jaxpr).splitlines() if "= dot_general[" in line]
    # the iteration is one (8, 20) x (20, 20) GEMM: a matrix-valued dot_general, no (20,) matvecs per example
    assert any(o.endswith("f32[8,20]") for o in outs)
    assert "vmap" not in str(jaxpr)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x, D: fista(x, D, -0.1, num_iters=5), "lam must be >= 0"),
        (lambda x, D: ista(x.at[0, 0].set(jnp.nan), D, 0.1, num_iters=5), "x contains .*non-finite"),
        (lambda x, D: fista(x, D[:-1], 0.1, num_iters=5), "shape mismatch"),
        (lambda x, D: ista(x, D, 0.1, num_iters=0), "num_iters must be an integer >= 1"),
        (lambda x, D: fista(x, jnp.zeros_like(D), 0.1, num_iters=5), "zero dictionary"),
        (lambda x, D: fista(x, D, jnp.ones(3), num_iters=5), "one per example"),
        (lambda x, D: fista(x, D, 0.1, tol=-1.0), "tol must be"),
        (lambda x, D: fista(x, D, 0.1, num_iters=5, step=-1.0), "step must be"),
        (lambda x, D: working_set_lasso(x, D.at[0, 0].set(jnp.inf), 0.1), "D contains .*non-finite"),
        (lambda x, D: fista(x[0], D, 0.1, num_iters=5), "x must have 2 dimensions"),
        (lambda x, D: fista(x, D, 0.1, num_iters=5, z0=jnp.zeros((2, 2))), "z0"),
    ],
)
def test_clear_errors(call, match):
    x, D, _ = _problem(batch=4, n=10, k=8)
    with pytest.raises(ValueError, match=match):
        call(jnp.asarray(x, jnp.float32), jnp.asarray(D, jnp.float32))


def test_type_error_for_non_numeric():
    with pytest.raises(TypeError, match="x must be"):
        fista("abc", np.eye(3), 0.1, num_iters=2)
    with pytest.raises(TypeError, match="num_iters must be an integer"):
        ista(np.ones((2, 3)), np.eye(3), 0.1, num_iters=2.5)


def test_per_iteration_distance_trace():
    x, D, lam = _problem(batch=3)
    ref = _exact(x, D, lam).astype(np.float32)
    for solver in (ista, fista):
        z, info = solver(*f32(x, D), lam, num_iters=30, trace=True, z_ref=ref)
        objs, dists = info.trace["objective"], info.trace["sq_dist"]
        assert objs.shape == dists.shape == (30, 3)
        np.testing.assert_allclose(np.asarray(dists[-1]), np.sum((np.asarray(z) - ref) ** 2, 1), rtol=1e-5)
        z5 = solver(*f32(x, D), lam, num_iters=5).codes
        np.testing.assert_allclose(np.asarray(dists[4]), np.sum((np.asarray(z5) - ref) ** 2, 1), rtol=1e-5)
    with pytest.raises(ValueError, match="z_ref"):
        ista(*f32(x, D), lam, num_iters=3, z_ref=ref)


def test_every_solver_returns_one_result_type():
    from ebm_jax.sparse import SolverInfo, SolverResult

    x, D, lam = f32(*_problem(batch=5, n=20, k=30)[:2]) + [0.3]
    calls = {
        "ista": lambda: ista(x, D, lam, num_iters=20),
        "fista": lambda: fista(x, D, lam, num_iters=20, trace=True),
        "fista tol": lambda: fista(x, D, lam, tol=1e-4, restart=True),
        "fista polish": lambda: fista(x, D, lam, tol=1e-4, polish=True),
        "working set": lambda: working_set_lasso(x, D, lam, tol=1e-5),
        "path": lambda: lasso_path(x, D, lam, num_lams=2, tol=1e-4),
    }
    for name, call in calls.items():
        result = call()
        assert type(result) is SolverResult and type(result.info) is SolverInfo, name
        z, info = result  # unpacks as (codes, info)
        assert z.shape == (5, 30) and info.objective.shape == (5,), name
        np.testing.assert_allclose(np.asarray(info.objective), _obj(x, D, np.asarray(z, np.float64), lam),
                                   rtol=1e-4, err_msg=name)
        gap = np.asarray(duality_gap(x, D, z, lam))
        np.testing.assert_allclose(float(info.rel_gap), gap.sum() / _obj(x, D, np.asarray(z, np.float64), lam).sum(),
                                   rtol=2e-2, atol=1e-6, err_msg=name)
        assert int(info.num_iters) >= 1, name
        assert (info.trace is not None) == (name == "fista"), name


def _hard_and_easy_problem():
    """Six examples: four with a large λ (a support of 1-2 atoms) and two with a tiny λ, whose
    support (~20 atoms) cannot fit a working set of 4 atoms (and whose float32 gap cannot reach 1e-9)."""
    rng = np.random.default_rng(7)
    n, k = 20, 40
    D = rng.standard_normal((n, k)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    x = rng.standard_normal((6, n)).astype(np.float32)
    lam = 0.9 * np.max(np.abs(x @ D), axis=1)
    hard = np.array([1, 4])
    lam[hard] = 0.1 * lam[hard]
    return x, D, lam.astype(np.float32), hard


def test_working_set_stops_on_stalled_examples_names_them_and_warns_once():
    x, D, lam, hard = _hard_and_easy_problem()
    with pytest.warns(ConvergenceWarning) as record:
        z, info = working_set_lasso(x, D, lam, tol=1e-4, working_set_size=4, max_outer=200)
    assert len([w for w in record if issubclass(w.category, ConvergenceWarning)]) == 1
    message = str(record[0].message)
    assert "2 of 6 example(s) did not reach tol" in message and "#1:" in message and "#4:" in message
    assert int(info.num_iters) < 30  # stalled: stops after the window, not at the cap of 200
    np.testing.assert_array_equal(np.flatnonzero(~np.asarray(info.converged)), hard)
    gaps = np.asarray(info.example_gap)
    assert np.all(gaps[hard] > 1e-4) and np.all(np.delete(gaps, hard) <= 1e-4)
    # the per-example gaps are the solver's certificate at the returned codes
    direct = np.asarray(duality_gap(x, D, z, lam)) / np.asarray(lasso_objective(x, D, z, lam))
    np.testing.assert_allclose(gaps, direct, rtol=1e-2, atol=1e-6)
    # with a working set that holds the supports, every example converges and nothing warns
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        _, info = working_set_lasso(x, D, lam, tol=1e-4, working_set_size=40)
    assert bool(np.all(info.converged)) and float(info.rel_gap) <= 1e-4


def test_fista_stops_when_float32_cannot_certify_the_tolerance():
    x, D, lam, hard = _hard_and_easy_problem()
    with pytest.warns(ConvergenceWarning, match=r"did not reach tol=1e-09|tol=1e-09"):
        z, info = fista(x, D, lam, tol=1e-9, restart=True)
    assert int(info.num_iters) < 100_000 // 10  # stalled long before the default cap
    assert info.converged.shape == info.example_gap.shape == (6,)
    assert not bool(np.all(info.converged))
    np.testing.assert_array_equal(np.asarray(info.converged), np.asarray(info.example_gap) <= 1e-9)
    # the codes are still the lasso solution to float32 accuracy
    zref = np.stack([_exact(x[i:i + 1].astype(np.float64), D.astype(np.float64), float(lam[i]))[0]
                     for i in range(6)])
    f_ref = _obj(x.astype(np.float64), D.astype(np.float64), zref, lam.astype(np.float64))
    f = _obj(x.astype(np.float64), D.astype(np.float64), np.asarray(z, np.float64), lam.astype(np.float64))
    assert np.all(f - f_ref <= 1e-4 * f_ref)


@pytest.mark.parametrize("solver", ["ista", "fista"])
def test_a_step_above_the_safe_bound_is_refused(solver):
    x, D, lam = f32(*_problem(batch=4, n=10, k=8)[:2]) + [0.1]
    L = float(lipschitz_constant(D))
    fn = ista if solver == "ista" else fista
    with pytest.raises(DivergenceError, match=r"step=.* is above the safe bound 2/L"):
        fn(x, D, lam, num_iters=50, step=10.0 / L)
    fn(x, D, lam, num_iters=50, step=1.0 / L)  # the safe step runs


def test_divergence_inside_the_bound_is_an_error_not_nan():
    # FISTA is only guaranteed below 1/L: at 1.99/L the momentum makes it blow up; finite inputs,
    # non-finite result -> an error naming the step
    rng = np.random.default_rng(3)
    D = rng.standard_normal((30, 30)).astype(np.float32)
    x = (100 * rng.standard_normal((4, 30))).astype(np.float32)
    L = float(lipschitz_constant(D))
    with pytest.raises(DivergenceError, match="fista diverged.*step="):
        fista(x, D, 0.0, num_iters=20_000, step=1.99 / L)
