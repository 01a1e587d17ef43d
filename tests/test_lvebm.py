"""Latent-variable EBMs: inference and free energies against exact answers, losses, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax import lvebm
from ebm_jax.methods import lvebm as method

ELLIPSE = lvebm.LatentEBM()  # g(z) = [w1 cos z, w2 sin z]
W = (2.0, 1.5)

# Grid and gradient inference agree to this on the ellipse (F∞ values are O(0.01-1)).
GRID_VS_GRADIENT_TOL = 1e-4


@pytest.fixture(scope="module")
def ellipse():
    params = ELLIPSE.init(jax.random.key(0), radii=W)
    y = lvebm.sample_ellipse(jax.random.key(1), 24)
    # a few points off the manifold too: the centre region and outside
    y = jnp.concatenate([y, jnp.array([[0.3, 0.2], [-0.5, 0.1], [3.0, 1.0], [0.0, -2.5]])])
    return params, y


def test_data_is_the_courses_ellipse_and_horn():
    y = lvebm.sample_ellipse(jax.random.key(0), 2000, noise_std=0.0)
    np.testing.assert_allclose((y[:, 0] / 2) ** 2 + (y[:, 1] / 1.5) ** 2, 1.0, atol=1e-5)
    np.testing.assert_allclose(lvebm.rho(jnp.array([0.0, 1.0])), [[2.0, 1.5], [1.5 * np.e**2, 2.0 * np.e**2]],
                               rtol=1e-6)
    x, y, theta = lvebm.sample_horn(jax.random.key(1), 500)
    assert x.shape == (500, 1) and y.shape == (500, 2) and float(x.min()) >= 0 and float(x.max()) <= 1
    residual = y - lvebm.rho(x) * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)
    assert abs(float(jnp.std(residual)) - 0.05) < 0.005
    grid = lvebm.course_z_grid()
    assert grid.shape == (48, 1) and float(grid[1, 0]) == pytest.approx(np.pi / 24) and float(grid[-1, 0]) < 2 * np.pi


def test_grid_and_gradient_inference_agree_on_the_ellipse(ellipse):
    params, y = ellipse
    dense = lvebm.uniform_z_grid(4096)
    grid = lvebm.grid_inference(ELLIPSE.energy, params, None, y, dense, return_energies=True)
    grad = lvebm.gradient_inference(ELLIPSE.energy, params, None, y, lvebm.uniform_z_grid(8), num_steps=200,
                                    learning_rate=0.05)
    assert grid.z.shape == (28, 1) and grid.free_energy.shape == (28,) and grid.energies.shape == (28, 4096)
    np.testing.assert_allclose(grad.free_energy, grid.free_energy, atol=GRID_VS_GRADIENT_TOL)
    # gradient descent finds the minimum between grid points: never worse than the grid by more than the tolerance
    assert float(jnp.max(grad.free_energy - grid.free_energy)) < GRID_VS_GRADIENT_TOL
    # F∞ is the squared distance to the ellipse: exactly 0 on it
    on = 2.0 * jnp.stack([jnp.cos(jnp.array([0.3, 2.0])), 0.75 * jnp.sin(jnp.array([0.3, 2.0]))], -1)
    f_on = lvebm.gradient_inference(ELLIPSE.energy, params, None, on, lvebm.uniform_z_grid(4), num_steps=300,
                                    learning_rate=0.05).free_energy
    np.testing.assert_allclose(f_on, 0.0, atol=1e-6)


def test_free_energy_limits_in_beta(ellipse):
    params, y = ellipse
    grid = lvebm.course_z_grid()
    e = lvebm.grid_energies(ELLIPSE.energy, params, None, y, grid)
    f_inf = jnp.min(e, -1)
    k = grid.shape[0]
    for beta in (0.1, 1.0, 10.0, 100.0):  # F∞ ≤ F_β ≤ F∞ + log(K)/β
        f_beta = lvebm.free_energy(ELLIPSE.energy, params, None, y, grid, beta=beta)
        assert bool(jnp.all(f_beta >= f_inf - 1e-5)) and bool(jnp.all(f_beta <= f_inf + np.log(k) / beta + 1e-5))
    # cold: F_β → F∞
    np.testing.assert_allclose(lvebm.free_energy(ELLIPSE.energy, params, None, y, grid, beta=1e6), f_inf,
                               atol=np.log(k) / 1e6 + 1e-6)
    # hot: F_β → the mean energy (with the 1/|Z| normalisation), and the unnormalised
    # −(1/β) log Σ exp(−βE) → mean E − log(K)/β
    beta = 1e-4
    f_hot = lvebm.free_energy(ELLIPSE.energy, params, None, y, grid, beta=beta)
    np.testing.assert_allclose(f_hot, jnp.mean(e, -1), rtol=2e-3)
    unnormalised = -jax.nn.logsumexp(-beta * e, axis=-1) / beta
    np.testing.assert_allclose(unnormalised, jnp.mean(e, -1) - np.log(k) / beta, rtol=1e-5)


def test_envelope_theorem(ellipse):
    """dF∞/dy = ∂E/∂y at ž = 2 (y − g(ž)), and dF∞/dw = ∂E/∂w at ž (what training differentiates)."""
    params, y = ellipse
    dense = lvebm.uniform_z_grid(20000)
    res = lvebm.grid_inference(ELLIPSE.energy, params, None, y, dense)
    de_dy = 2 * (y - jax.vmap(lambda z: ELLIPSE.decode(params, None, z))(res.z))
    h = 1e-2
    for j in range(2):
        step = h * jnp.eye(2)[j]
        fd = (lvebm.free_energy(ELLIPSE.energy, params, None, y + step, dense)
              - lvebm.free_energy(ELLIPSE.energy, params, None, y - step, dense)) / (2 * h)
        np.testing.assert_allclose(fd, de_dy[:, j], atol=2e-3)
    # the train step's free energy: autodiff through the grid min, against finite differences in w
    f_fn = method.make_free_energy_fn(ELLIPSE, inference="grid", z_grid=dense)
    total = lambda p: jnp.sum(f_fn(p, None, y, jax.random.key(0)))  # noqa: E731
    grad_w = jax.grad(total)(params)["w"]
    for j in range(2):
        plus = {"w": params["w"] + h * jnp.eye(2)[j]}
        minus = {"w": params["w"] - h * jnp.eye(2)[j]}
        fd = (total(plus) - total(minus)) / (2 * h)
        assert float(grad_w[j]) == pytest.approx(float(fd), rel=2e-3, abs=2e-3)


def test_losses_on_hand_computed_cases():
    f_pos, f_neg = jnp.array([1.0, 3.0]), jnp.array([2.5, 3.2])
    np.testing.assert_allclose(lvebm.energy_loss(f_pos), [1.0, 3.0])
    np.testing.assert_allclose(lvebm.hinge_loss(f_pos, f_neg, margin=1.0), [0.0, 0.8], atol=1e-6)
    np.testing.assert_allclose(lvebm.log_loss(f_pos, f_neg), [np.log1p(np.exp(-1.5)), np.log1p(np.exp(-0.2))],
                               rtol=1e-6)
    np.testing.assert_allclose(lvebm.lvebm_loss("hinge", f_pos, jnp.array([[2.5, 0.0], [3.2, 5.0]]), margin=2.0),
                               [(0.5 + 3.0) / 2, (1.8 + 0.0) / 2], rtol=1e-6)
    with pytest.raises(ValueError, match="f_neg"):
        lvebm.lvebm_loss("log", f_pos)


def test_lasso_inference_uses_the_sparse_solver_and_matches_proximal_gradient():
    model = lvebm.LatentEBM(decoder="linear", latent_dim=6, y_dim=4,
                            regularizer=lvebm.Regularizer("l1", weight=0.3))
    params = model.init(jax.random.key(0))
    y = jax.random.normal(jax.random.key(1), (16, 4))
    exact = lvebm.lasso_inference(model, params, y, tol=1e-7)
    prox = lvebm.gradient_inference(model.smooth_energy, params, None, y, jnp.zeros((1, 6)), num_steps=3000,
                                    learning_rate=0.05, optimizer="sgd", l1_weight=0.3, final_energy=model.energy)
    np.testing.assert_allclose(prox.free_energy, exact.free_energy, rtol=1e-3, atol=1e-4)
    assert float(jnp.mean(exact.z == 0)) > 0.2  # sparse codes


def test_regularizers_act_on_the_latent():
    z = jnp.array([1.0, -2.0, 3.0])
    assert float(lvebm.Regularizer("l1", 0.5).penalty(z)) == pytest.approx(3.0)
    assert float(lvebm.Regularizer("noise_l2", 0.5, noise_std=0.1).penalty(z)) == pytest.approx(7.0)
    np.testing.assert_array_equal(lvebm.Regularizer("limited_dim", max_dim=1).restrict(z), [1.0, 0.0, 0.0])
    model = lvebm.LatentEBM(decoder="mlp", latent_dim=3, regularizer=lvebm.Regularizer("limited_dim", max_dim=1))
    params = model.init(jax.random.key(0))
    np.testing.assert_allclose(model.decode(params, None, z), model.decode(params, None, jnp.array([1.0, 5.0, 6.0])))
    noisy = lvebm.LatentEBM(decoder="mlp", latent_dim=3, regularizer=lvebm.Regularizer("noise_l2", 0.2, noise_std=0.0))
    y = jnp.array([0.5, -0.5])
    assert float(lvebm.NoisyEnergy(noisy)(params, None, y, z)) == pytest.approx(float(noisy.energy(params, None, y, z)))


def test_zero_temperature_training_recovers_the_ellipse_and_warm_training_shrinks_it():
    from ebm_jax.train import fit

    y = lvebm.sample_ellipse(jax.random.key(0), 24)
    out = {}
    for name, beta in (("cold", None), ("warm", 0.5)):
        state = method.create_state(jax.random.key(1), ELLIPSE, learning_rate=0.05, radii=(1.0, 1.0))
        step = method.make_train_step(ELLIPSE, loss="energy", z_grid=lvebm.course_z_grid(), beta=beta)
        state, history = fit(state, step, {"y": y}, batch_size=24, num_epochs=300, rng=jax.random.key(2),
                             log_every_steps=100)
        out[name] = np.asarray(state.params["w"])
        assert history[-1]["loss"] < history[0]["loss"]
    np.testing.assert_allclose(out["cold"], W, atol=0.06)
    assert (out["warm"] < out["cold"] - 0.1).all()


def test_contrastive_steps_run_with_gradient_and_grid_inference():
    model = lvebm.LatentEBM(decoder="mlp", latent_dim=2, conditional=True, predictor_hidden=(4,),
                            decoder_hidden=(8,), regularizer=lvebm.Regularizer("noise_l2", 0.1, noise_std=0.3))
    x, y, _ = lvebm.sample_horn(jax.random.key(0), 8)
    state = method.create_state(jax.random.key(1), model, learning_rate=1e-2)
    step = jax.jit(method.make_train_step(model, loss="hinge", inference="gradient", num_starts=2,
                                          inference_steps=3, z_low=-1.0, z_high=1.0))
    new, metrics = step(state, {"x": x, "y": y}, jax.random.key(2))
    assert np.isfinite(float(metrics["loss"])) and "free_energy_neg" in metrics and int(new.step) == 1
    state = method.create_state(jax.random.key(1), ELLIPSE, learning_rate=1e-2)
    step = jax.jit(method.make_train_step(ELLIPSE, loss="log", z_grid=lvebm.course_z_grid(), num_negatives=3))
    new, metrics = step(state, {"y": y}, jax.random.key(2))
    assert np.isfinite(float(metrics["loss"])) and int(new.step) == 1


# ---------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_naming_the_argument(ellipse):
    params, y = ellipse
    grid = lvebm.course_z_grid()
    e = ELLIPSE.energy
    with pytest.raises(ValueError, match="beta must be a finite number > 0, got 0.0"):
        lvebm.grid_inference(e, params, None, y, grid, beta=0.0)
    with pytest.raises(ValueError, match="beta must be a finite number > 0, got -1.0"):
        method.make_train_step(ELLIPSE, z_grid=grid, beta=-1.0)
    with pytest.raises(ValueError, match="z_grid is empty"):
        lvebm.grid_inference(e, params, None, y, jnp.zeros((0, 1)))
    with pytest.raises(ValueError, match="z_grid contains 1 non-finite"):
        lvebm.grid_inference(e, params, None, y, grid.at[3, 0].set(jnp.nan))
    with pytest.raises(ValueError, match="z_grid is empty"):
        method.make_train_step(ELLIPSE, z_grid=np.zeros((0, 1)))
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1, got 0"):
        lvebm.LatentEBM(decoder="mlp", latent_dim=0)
    with pytest.raises(ValueError, match="reg_weight must be a finite number >= 0, got -0.1"):
        lvebm.Regularizer("l1", weight=-0.1)
    with pytest.raises(ValueError, match=r"y must have shape \(batch, 2\), got \(24, 3\)"):
        lvebm.grid_inference(e, params, None, jnp.ones((24, 3)), grid)
    with pytest.raises(ValueError, match=r"y must have shape \(batch, 2\)"):
        method.check_data(ELLIPSE, {"y": np.ones((5, 3))})
    with pytest.raises(ValueError, match="y contains 1 non-finite"):
        lvebm.grid_inference(e, params, None, y.at[0, 1].set(jnp.inf), grid)
    with pytest.raises(ValueError, match="y contains 1 non-finite"):
        method.check_data(ELLIPSE, {"y": np.asarray(y.at[0, 1].set(jnp.nan))})
    with pytest.raises(ValueError, match="x contains"):
        horn = lvebm.LatentEBM(conditional=True)
        method.check_data(horn, {"x": np.full((28, 1), np.nan), "y": np.asarray(y)})
    with pytest.raises(ValueError, match="x is required"):
        method.check_data(lvebm.LatentEBM(conditional=True), {"y": np.asarray(y)})
    with pytest.raises(ValueError, match=r"z_grid must have shape \(K, 1\)"):
        lvebm.grid_inference(e, params, None, y, jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match="z_init is empty"):
        lvebm.gradient_inference(e, params, None, y, jnp.zeros((0, 1)))
    with pytest.raises(ValueError, match="optimizer must be 'sgd'"):
        lvebm.gradient_inference(e, params, None, y, jnp.zeros((2, 1)), l1_weight=0.1)
    with pytest.raises(ValueError, match="beta .* needs inference='grid'"):
        method.make_train_step(ELLIPSE, inference="gradient", beta=1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        method.make_train_step(ELLIPSE, loss="squared", z_grid=grid)


def test_latent_ebm_checks_its_parameter_tree():
    import jax

    from ebm_jax import lvebm

    horn = lvebm.LatentEBM(conditional=True, predictor_hidden=(4,))
    params = horn.init(jax.random.key(0))
    horn.check_params(params)                             # its own parameters pass
    with pytest.raises(TypeError, match="params must be this model's parameters"):
        horn.check_params(lvebm.LatentEBM().init(jax.random.key(0)))
    wider = lvebm.LatentEBM(conditional=True, predictor_hidden=(5,)).init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"params\['predictor'\]\[0\]\['W'\] must have shape \(1, 4\)"):
        horn.check_params(wider)
