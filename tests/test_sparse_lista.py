"""LISTA: exact equality with ISTA at initialisation, and training that beats ISTA."""

import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax.sparse import fista, ista, lasso_objective
from ebm_jax.methods.lista import train_lista
from ebm_jax.sparse.lista import lista_apply_all, lista_loss, make_lista


def _data(seed=0, N=512, n=20, k=30):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n, k)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    z = rng.standard_normal((N, k)) * (rng.random((N, k)) < 0.1)
    x = (z @ D.T + 0.05 * rng.standard_normal((N, n))).astype(np.float32)
    return x, D


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("T", [1, 2, 5])
def test_untrained_lista_is_exactly_ista(T, tied):
    x, D = _data(N=64)
    module, params = make_lista(D, 0.1, T, tied=tied)
    z = np.asarray(module.apply({"params": params}, x))
    np.testing.assert_array_equal(z, np.asarray(ista(x, D, 0.1, num_iters=T).codes))
    layers = np.asarray(lista_apply_all(module, params, x))
    for t in range(T):  # every intermediate layer is the ISTA iterate
        np.testing.assert_array_equal(layers[t], np.asarray(ista(x, D, 0.1, num_iters=t + 1).codes))


def test_parameter_shapes_tied_and_untied():
    _, D = _data()
    _, p = make_lista(D, 0.1, 3, tied=True)
    assert set(p) == {"W_e", "S", "theta"} and p["S"].shape == (30, 30) and p["W_e"].shape == (20, 30)
    _, p = make_lista(D, 0.1, 3, tied=False)
    assert {"S_1", "S_2", "theta_0", "theta_2"} <= set(p) and "S_0" not in p


def test_supervised_training_beats_ista_with_same_depth():
    x, D = _data()
    xtr, xte = x[:448], x[448:]
    lam, T = 0.1, 3
    ztr = fista(xtr, D, lam, num_iters=500, restart=True).codes
    zte = fista(xte, D, lam, num_iters=500, restart=True).codes
    module, params = make_lista(D, lam, T, tied=False)
    err0 = float(lista_loss(module, params, xte, zte))
    fit = train_lista(module, params, xtr, ztr, num_epochs=40, batch_size=64, learning_rate=3e-3)
    err1 = float(lista_loss(module, fit.params, xte, zte))
    assert fit.losses[-1] < fit.losses[0]
    assert err1 < 0.5 * err0  # held-out code error at least halved vs T steps of ISTA


def test_unsupervised_training_lowers_the_lasso_energy():
    x, D = _data(seed=1)
    lam, T = 0.1, 2
    module, params = make_lista(D, lam, T)
    e0 = float(jnp.mean(lasso_objective(x, D, module.apply({"params": params}, x), lam)))
    fit = train_lista(module, params, x, objective="unsupervised", num_epochs=30, batch_size=64,
                      learning_rate=3e-3)
    e1 = float(jnp.mean(lasso_objective(x, D, module.apply({"params": fit.params}, x), lam)))
    assert e1 < e0 - 1e-3


def test_lista_errors():
    _, D = _data()
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
        make_lista(D, 0.1, 0)
    with pytest.raises(ValueError, match="lam must be"):
        make_lista(D, -1.0, 2)
    with pytest.raises(ValueError, match="zero dictionary"):
        make_lista(np.zeros_like(D), 0.1, 2)
    module, params = make_lista(D, 0.1, 2)
    with pytest.raises(ValueError, match="z_train"):
        train_lista(module, params, np.zeros((8, 20), np.float32), objective="supervised")
    with pytest.raises(ValueError, match="objective"):
        train_lista(module, params, np.zeros((8, 20), np.float32), objective="other")


@pytest.mark.parametrize("lr", [-1.0, float("nan"), 0.0])
def test_lista_config_refuses_bad_learning_rates(lr):
    from ebm_jax import checks
    from experiments.configs import lista as lista_config

    config = lista_config.get_config("smoke")
    lista_config.validate(config)
    config.learning_rate = lr
    with pytest.raises(checks.ConfigError, match="config.learning_rate"):
        lista_config.validate(config)


def test_sparse_coding_config_refuses_bad_values():
    from ebm_jax import checks
    from experiments.configs import sparse_coding as sc_config

    for key, value, match in (("mnist.lam", -1.0, "config.mnist.lam"), ("mnist.lam", float("nan"), "config.mnist.lam"),
                              ("datasets", ("mnist", "digits"), "config.datasets"),
                              ("forget", 1.5, "config.forget")):
        config = sc_config.get_config("smoke")
        sc_config.validate(config)
        part, _, leaf = key.rpartition(".")
        (config[part] if part else config)[leaf] = value
        with pytest.raises(checks.ConfigError, match=match):
            sc_config.validate(config)
