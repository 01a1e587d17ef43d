"""The method contract (``ebm_jax.methods``), checked on every module of the package.

A method module has ``create_state(key, ...)`` and ``make_train_step(...) -> step(state, batch, key) ->
(state, metrics)``: the state carries an integer ``step`` that the step increments, the metrics a finite
scalar ``loss``, and ``ebm_jax.train.fit`` trains it. Each module gets a tiny instance below; a module added
to the package without one fails ``test_every_method_module_is_checked``.
"""

import inspect
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ebm_jax.methods
from ebm_jax.train import fit
from ebm_jax.train.optim import make_optimizer

N = 16  # examples in each tiny data set; fit trains on batches of 8


def _conv_sparse(key):
    from ebm_jax.methods import conv_sparse
    images = np.asarray(jax.random.uniform(key, (N, 8, 8)), np.float32)
    state = conv_sparse.create_state(key, make_optimizer("adam", 1e-2), num_filters=2, filter_size=3,
                                     image_shape=(8, 8), lam=0.05, images=images)
    return state, conv_sparse.make_train_step(0.05, inference_iters=3), images


def _dae(key):
    from ebm_jax.methods import dae
    from ebm_jax.models.dae import DAE
    model = DAE(hidden=(8,), latent=2, out_dim=6)
    state = dae.create_state(key, model, make_optimizer("adam", 1e-3), dim=6)
    return state, dae.make_train_step(model, "gaussian", 0.1, "mse"), np.linspace(0, 1, N * 6, dtype=np.float32
                                                                                   ).reshape(N, 6)


def _dictionary(key):
    from ebm_jax.methods import dictionary
    x = np.asarray(jax.random.normal(key, (N, 6)), np.float32)
    return dictionary.create_state(key, x, 4), dictionary.make_train_step(0.1, inference_iters=3), x


def _energy_mlp(key):
    from ebm_jax.methods import energy_mlp
    from ebm_jax.models.energy_mlp import EnergyMLP
    model = EnergyMLP(hidden=(4,))
    state = energy_mlp.create_state(key, model, make_optimizer("adam", 1e-3), dim=2)
    return state, energy_mlp.make_train_step(model, "cd", 1, 0.1), np.asarray(jax.random.normal(key, (N, 2)))


def _lista(key):
    from ebm_jax.methods import lista
    from ebm_jax.sparse.lista import make_lista
    D = np.asarray(jax.random.normal(key, (6, 4)), np.float32)
    module, _ = make_lista(D, 0.1, 2)
    data = {"x": np.asarray(jax.random.normal(key, (N, 6)), np.float32), "z": np.zeros((N, 4), np.float32)}
    return lista.create_state(key, module), lista.make_train_step(module), data


def _lvebm(key):
    from ebm_jax.lvebm import LatentEBM, uniform_z_grid
    from ebm_jax.methods import lvebm
    model = LatentEBM()
    data = {"y": np.asarray(jax.random.normal(key, (N, 2)), np.float32)}
    return lvebm.create_state(key, model), lvebm.make_train_step(model, z_grid=uniform_z_grid(16)), data


def _rbm(key):
    from ebm_jax.methods import rbm
    state = rbm.create_state(key, make_optimizer("sgd", 0.1), num_visible=6, num_hidden=3)
    data = np.asarray(jax.random.bernoulli(key, 0.5, (N, 6)), np.float32)
    return state, rbm.make_train_step("cd", 1), data


def _ssl(key):
    from ebm_jax.data.augment import AugmentConfig
    from ebm_jax.methods import ssl
    from ebm_jax.models.ssl import SSLNet
    model = SSLNet(widths=(2, 2, 2), rep_dim=4, proj_hidden=4, proj_dim=4)
    state = ssl.create_state(key, "simclr", model, 1e-3, total_steps=4)
    data = {"image": np.asarray(jax.random.uniform(key, (N, 28, 28)), np.float32),
            "index": np.arange(N, dtype=np.int32)}
    return state, ssl.make_train_step("simclr", AugmentConfig(), temperature=0.5), data


def _vae(key):
    from ebm_jax.methods import vae
    from ebm_jax.models.vae import Autoencoder
    model = Autoencoder(latent_dim=2, hidden_dims=(8,), output_dim=6)
    state = vae.create_state(key, model, 1e-3)
    return state, vae.make_train_step(model), np.asarray(jax.random.uniform(key, (N, 6)), np.float32)


METHODS = {"conv_sparse": _conv_sparse, "dae": _dae, "dictionary": _dictionary, "energy_mlp": _energy_mlp,
           "lista": _lista, "lvebm": _lvebm, "rbm": _rbm, "ssl": _ssl, "vae": _vae}


def test_every_method_module_is_checked():
    modules = {m.name for m in pkgutil.iter_modules(ebm_jax.methods.__path__) if not m.name.startswith("_")}
    assert modules == set(METHODS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_create_state_takes_the_key_first_and_make_train_step_exists(name):
    module = __import__(f"ebm_jax.methods.{name}", fromlist=["create_state"])
    assert list(inspect.signature(module.create_state).parameters)[0] == "key"
    assert callable(module.make_train_step)


def _first_batch(data, size=8):
    return jax.tree.map(lambda a: jnp.asarray(a[:size]), data)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_step_is_state_batch_key_to_state_and_metrics(name):
    state, step_fn, data = METHODS[name](jax.random.key(0))
    step0 = int(np.asarray(state.step))
    new, metrics = jax.jit(step_fn)(state, _first_batch(data), jax.random.key(1))
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert int(np.asarray(new.step)) == step0 + 1
    assert np.ndim(metrics["loss"]) == 0 and np.isfinite(float(metrics["loss"]))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fit_trains_it(name):
    state, step_fn, data = METHODS[name](jax.random.key(0))
    state, history = fit(state, step_fn, data, batch_size=8, num_epochs=1, rng=jax.random.key(2),
                         log_every_steps=1)
    assert int(np.asarray(state.step)) == 2
    assert [r["step"] for r in history if "loss" in r] == [1, 2]
