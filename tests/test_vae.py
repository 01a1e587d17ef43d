"""The VAE objective against references, the autoencoders' training step and evaluations, bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ebm_jax import losses
from ebm_jax.data import transforms
from ebm_jax.eval import likelihood
from ebm_jax.methods import vae as vae_method
from ebm_jax.models import vae


def test_bernoulli_log_likelihood_matches_formula():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 10)).astype(np.float32)
    x = (rng.random((4, 10)) < 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(-1)
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(logits, x), expected, rtol=1e-5)


def test_analytic_kl_matches_monte_carlo():
    key_mean, key_logvar, key_z = jax.random.split(jax.random.key(0), 3)
    mean = jax.random.normal(key_mean, (3, 5))
    logvar = 0.5 * jax.random.normal(key_logvar, (3, 5))
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key_z, (200_000, 3, 5))
    mc = jnp.mean(losses.diag_gaussian_log_prob(z, mean, logvar) - losses.standard_normal_log_prob(z), axis=0)
    analytic = losses.gaussian_kl_to_standard_normal(mean, logvar)
    np.testing.assert_allclose(mc, analytic, atol=0.03)
    assert float(losses.gaussian_kl_to_standard_normal(jnp.zeros(4), jnp.zeros(4))) == 0.0


def test_iwae_bound_k1_is_the_log_weight_and_increases_with_k():
    log_w = jnp.array([[-3.0, -1.0], [-2.0, -5.0], [-4.0, -2.0]])
    np.testing.assert_allclose(losses.iwae_bound(log_w[:1]), log_w[0])
    np.testing.assert_allclose(losses.iwae_bound(log_w), jnp.log(jnp.mean(jnp.exp(log_w), 0)), rtol=1e-6)


def test_importance_sampled_likelihood_matches_quadrature():
    """1-D latent, 6 pixels: log p(x) = log ∫ p(x|z) N(z;0,1) dz by quadrature is the oracle."""
    model = vae.Autoencoder(latent_dim=1, hidden_dims=(8,), output_dim=6)
    params = model.init(jax.random.key(0), jnp.zeros((1, 6)), jax.random.key(1))["params"]
    x = np.array([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]], np.float32)
    z = jnp.linspace(-10, 10, 40_001)[:, None]
    logits = model.apply({"params": params}, z, method=vae.Autoencoder.decode)
    log_joint = losses.bernoulli_log_likelihood(logits[:, None, :], x[None]) + losses.standard_normal_log_prob(z)[:, None]
    exact = jax.nn.logsumexp(log_joint, axis=0) + jnp.log(z[1, 0] - z[0, 0])
    estimate = likelihood.importance_sampled_log_likelihood(model, params, x, jax.random.key(2), num_samples=20_000,
                                                            chunk=5_000, progress=False)
    np.testing.assert_allclose(estimate, exact, atol=0.02)
    elbo = -sum(vae.negative_elbo_terms(model, params, jnp.asarray(x), jax.random.key(3)))
    assert np.all(np.asarray(exact) >= np.asarray(elbo) - 1.0)  # loose: a single-sample ELBO is noisy


def test_vae_loss_is_recon_plus_kl_and_iwae_option():
    model = vae.Autoencoder(latent_dim=3, hidden_dims=(16,), output_dim=12)
    params = model.init(jax.random.key(0), jnp.zeros((1, 12)), jax.random.key(1))["params"]
    x = (jax.random.uniform(jax.random.key(2), (5, 12)) < 0.5).astype(jnp.float32)
    loss, m = vae_method.vae_loss(model, params, x, jax.random.key(3))
    np.testing.assert_allclose(loss, m["recon"] + m["kl"], rtol=1e-6)
    loss_k, _ = vae_method.vae_loss(model, params, x, jax.random.key(3), iwae_k=64)
    assert loss_k < loss + 1.0  # −L_64 is a tighter (smaller) bound than the −ELBO, up to noise


def test_ae_loss_matches_optax_bce():
    model = vae.Autoencoder(latent_dim=3, hidden_dims=(16,), output_dim=12, kind="ae")
    params = model.init(jax.random.key(0), jnp.zeros((1, 12)))["params"]
    assert "logvar" not in params["encoder"]
    x = jax.random.uniform(jax.random.key(2), (5, 12))
    logits, _, _ = model.apply({"params": params}, x)
    loss, _ = vae_method.ae_loss(model, params, x)
    np.testing.assert_allclose(loss, optax.sigmoid_binary_cross_entropy(logits, x).sum(-1).mean(), rtol=1e-6)


def test_train_step_learns_on_mnist_subset(mnist_subset):
    x_train, x_test, _ = mnist_subset
    from ebm_jax.data import binarize_fixed
    from ebm_jax.train import fit

    model = vae.Autoencoder(latent_dim=10, hidden_dims=(200,))
    state = vae_method.create_state(jax.random.key(0), model, 1e-3)
    before = likelihood.evaluate_elbo(model, state.params, binarize_fixed(x_test), jax.random.key(1))["neg_elbo"]
    state, _ = fit(state, vae_method.make_train_step(model), x_train, batch_size=64, num_epochs=3,
                   rng=jax.random.key(2))
    after = likelihood.evaluate_elbo(model, state.params, binarize_fixed(x_test), jax.random.key(1))["neg_elbo"]
    assert before > 500 and after < 0.4 * before  # 784·log 2 ≈ 543 nats for an untrained decoder


@pytest.mark.parametrize("kwargs, match", [
    (dict(binarization="otsu"), "binarization"),
    (dict(iwae_k=0), "iwae_k"),
])
def test_bad_step_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vae_method.make_train_step(vae.Autoencoder(), **kwargs)


def test_bad_learning_rate_and_images():
    model = vae.Autoencoder()
    for lr in (0.0, -1e-3):
        with pytest.raises(ValueError, match="learning_rate"):
            vae_method.create_state(jax.random.key(0), model, lr)
    with pytest.raises(ValueError, match=r"shape \(N, 784\)"):
        vae_method.validate_images(np.zeros((4, 28, 28), np.float32), 784)
    with pytest.raises(TypeError, match="floating"):
        vae_method.validate_images(np.zeros((4, 784), np.uint8), 784)
    with pytest.raises(ValueError, match="empty"):
        vae_method.validate_images(np.zeros((0, 784), np.float32), 784)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae_method.validate_images(np.full((4, 784), 255.0, np.float32), 784)


def _small_vae(kind="vae"):
    model = vae.Autoencoder(latent_dim=2, hidden_dims=(8,), output_dim=6, kind=kind)
    return model, model.init(jax.random.key(0), jnp.zeros((1, 6)), jax.random.key(1))["params"]


BINARY = np.array([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]], np.float32)


@pytest.mark.parametrize("call, error, match", [
    # learning rates: finite and > 0
    (lambda m, p: vae_method.create_state(jax.random.key(0), m, -1.0), ValueError, "learning_rate"),
    (lambda m, p: vae_method.create_state(jax.random.key(0), m, float("nan")), ValueError, "learning_rate"),
    (lambda m, p: vae_method.create_state(jax.random.key(0), m, float("inf")), ValueError, "learning_rate"),
    (lambda m, p: vae_method.create_state(jax.random.key(0), m, 1e-3, schedule="cosine"), TypeError, "total_steps"),
    (lambda m, p: vae_method.make_train_step(m, iwae_k=2.5), TypeError, "iwae_k"),
    # the Bernoulli likelihood needs binary data
    (lambda m, p: likelihood.importance_sampled_log_likelihood(m, p, BINARY * 0.5, jax.random.key(0), num_samples=4,
                                                               progress=False), ValueError, "binary"),
    (lambda m, p: likelihood.evaluate_elbo(m, p, BINARY * 0.5, jax.random.key(0)), ValueError, "binary"),
    (lambda m, p: likelihood.evaluate_elbo(m, p, BINARY * np.nan, jax.random.key(0), binary=False), ValueError,
     "non-finite"),
    (lambda m, p: likelihood.evaluate_elbo(m, p, BINARY[:, :5], jax.random.key(0)), ValueError, r"\(N, 6\)"),
    (lambda m, p: likelihood.importance_sampled_log_likelihood(m, p, BINARY, jax.random.key(0), num_samples=6,
                                                               chunk=4, progress=False), ValueError, "divide"),
    (lambda m, p: likelihood.importance_sampled_log_likelihood(m, p, BINARY, jax.random.key(0), num_samples=0),
     ValueError, "num_samples"),
    # pixel transforms
    (lambda m, p: transforms.to_float(np.zeros(784, np.uint8)), ValueError, "batch"),
    (lambda m, p: transforms.binarize_fixed(np.array([0.5, np.nan])), ValueError, "non-finite"),
    (lambda m, p: transforms.binarize_fixed(np.array([0.5, 1.5])), ValueError, r"\[0.0, 1.0\]"),
])
def test_bad_inputs_are_refused(call, error, match):
    model, params = _small_vae()
    with pytest.raises(error, match=match):
        call(model, params)


def test_numpy_scalars_are_accepted():
    model, params = _small_vae()
    state = vae_method.create_state(jax.random.key(0), vae.Autoencoder(latent_dim=2, hidden_dims=(8,), output_dim=6),
                                    np.float32(1e-3), schedule="cosine", total_steps=np.int64(10))
    step = jax.jit(vae_method.make_train_step(model, iwae_k=np.int64(2)))
    _, metrics = step(state, jnp.asarray(BINARY), jax.random.key(1))
    assert np.isfinite(metrics["loss"])
    ll = likelihood.importance_sampled_log_likelihood(model, params, BINARY, jax.random.key(0),
                                                      num_samples=np.int64(8), chunk=np.int64(4), progress=False)
    assert ll.shape == (2,) and np.all(ll < 0)
    assert transforms.to_float(np.zeros((3, 784), np.uint8)).shape == (3, 784)
    assert transforms.binarize_fixed(np.array([0.0, 1.0]), seed=np.int64(3)).tolist() == [0.0, 1.0]


def _course_oracle(x, mean, logvar, probs):
    """The course notebook's loss_function in numpy: BCE(x_hat, x) summed (PyTorch clamps log at -100) + KLD."""
    log_p, log_1mp = np.maximum(np.log(probs), -100.0), np.maximum(np.log1p(-probs), -100.0)
    bce = -np.sum(x * log_p + (1 - x) * log_1mp)
    kld = 0.5 * np.sum(np.exp(logvar) - logvar - 1 + mean ** 2)
    return bce + kld


def test_evaluate_at_mean_is_the_course_test_loss_on_grey_levels():
    model = vae.Autoencoder(latent_dim=3, hidden_dims=(8,), output_dim=12)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 12)), jax.random.PRNGKey(1))["params"]
    x = np.asarray(jax.random.uniform(jax.random.PRNGKey(2), (7, 12)), np.float32)  # grey levels in [0, 1]
    got = likelihood.evaluate_at_mean(model, params, x, batch_size=3)
    mean, logvar = (np.asarray(a, np.float64) for a in model.apply({"params": params}, x, method=vae.Autoencoder.encode))
    probs = np.asarray(jax.nn.sigmoid(model.apply({"params": params}, mean.astype(np.float32),
                                                  method=vae.Autoencoder.decode)), np.float64)
    assert got["loss"] == pytest.approx(_course_oracle(x.astype(np.float64), mean, logvar, probs) / len(x), rel=1e-5)
    assert got["loss"] == pytest.approx(got["recon"] + got["kl"], rel=1e-9)
    again = likelihood.evaluate_at_mean(model, params, x)  # no sampling: the same number whatever the batching
    assert again["loss"] == pytest.approx(got["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="x"):
        likelihood.evaluate_at_mean(model, params, x * 2.0)


def test_sum_reduction_scales_the_gradient_by_the_batch_size():
    model = vae.Autoencoder(latent_dim=2, hidden_dims=(6,), output_dim=10)
    x = np.asarray(jax.random.uniform(jax.random.PRNGKey(3), (5, 10)), np.float32)
    key = jax.random.PRNGKey(4)
    updates = {}
    for reduction in ("mean", "sum"):
        state = vae_method.create_state(jax.random.PRNGKey(0), model, 1.0, optimizer="sgd")
        step = vae_method.make_train_step(model, binarization="continuous", reduction=reduction)
        new_state, metrics = step(state, x, key)
        updates[reduction] = jax.tree.map(lambda a, b: np.asarray(a - b), new_state.params, state.params)
        assert float(metrics["loss"]) > 0  # a per-image mean either way
    for a, b in zip(jax.tree.leaves(updates["mean"]), jax.tree.leaves(updates["sum"])):
        np.testing.assert_allclose(b, 5 * a, rtol=2e-4, atol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        vae_method.make_train_step(model, reduction="batch")
