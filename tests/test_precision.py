"""The precision policy, read from the programs XLA is given: every matrix product behind a certificate
or an evaluation number asks for HIGHEST; a training step asks for what its config names."""

import contextlib
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training import train_state

from ebm_jax import precision
from ebm_jax.eval import likelihood
from ebm_jax.models import rbm, vae
from ebm_jax.sparse import lasso, path, prox, working_set
from ebm_jax.eval import probe
from ebm_jax.train import loop

_DOT = re.compile(r"stablehlo\.(?:dot_general|convolution)[^\n]*")


@contextlib.contextmanager
def lowered_products(tmp_path: pathlib.Path):
    """Collects the precision of every matrix product and convolution lowered inside the block.

    Yields a list that, after the block, holds one ``"HIGHEST"`` / ``"DEFAULT"`` / ... per product.
    Caches are cleared first so that every program is lowered (and dumped) again.
    """
    dump = tmp_path / "ir"
    jax.clear_caches()
    found: list[str] = []
    with _dump_config(dump):
        yield found
    for f in sorted(dump.glob("*.mlir")):
        for line in _DOT.findall(f.read_text()):
            m = re.search(r"precision = \[(\w+), (\w+)\]", line)
            found.append(m.group(1) if m and m.group(1) == m.group(2) else (m.group(0) if m else "DEFAULT"))
    jax.clear_caches()


@contextlib.contextmanager
def _dump_config(dump: pathlib.Path):
    old_to, old_modes = jax.config.read("jax_dump_ir_to"), jax.config.read("jax_dump_ir_modes")
    jax.config.update("jax_dump_ir_to", str(dump))
    jax.config.update("jax_dump_ir_modes", "stablehlo")
    try:
        yield
    finally:
        jax.config.update("jax_dump_ir_to", old_to)
        jax.config.update("jax_dump_ir_modes", old_modes)


def _lasso_problem(batch=6, n=16, k=24):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((n, k)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    return rng.standard_normal((batch, n)).astype(np.float32), D


def _rbm():
    params = rbm.init_rbm(jax.random.key(0), 6, 4, scale=0.5)
    v = (np.random.default_rng(0).random((5, 6)) < 0.5).astype(np.float32)
    return params, v


def _vae():
    model = vae.Autoencoder(latent_dim=2, hidden_dims=(8,), output_dim=6)
    params = model.init(jax.random.key(0), jnp.zeros((1, 6)), jax.random.key(1))["params"]
    x = (np.random.default_rng(0).random((4, 6)) < 0.5).astype(np.float32)
    return model, params, x


def _conv_problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal((1, 12, 12)).astype(np.float32), rng.standard_normal((3, 3, 3)).astype(np.float32)


def _probe_data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((20, 5)).astype(np.float32), np.arange(20) % 2, np.ones((4, 5), np.float32),
            np.arange(4) % 2)


# name: (arguments built outside the inspected block, the call). Conv sparse coding is not here: it
# multiplies in the Fourier domain and lowers no matrix product.
CERTIFIED = {
    "ista": (_lasso_problem, lambda x, D: lasso.ista(x, D, 0.1, num_iters=5)),
    "fista_tol": (_lasso_problem, lambda x, D: lasso.fista(x, D, 0.1, tol=1e-5)),
    "fista_iters": (_lasso_problem, lambda x, D: lasso.fista(x, D, 0.1, num_iters=5)),
    "working_set_lasso": (_lasso_problem, lambda x, D: working_set.working_set_lasso(x, D, 0.1, tol=1e-5)),
    "lasso_path": (_lasso_problem, lambda x, D: path.lasso_path(x, D, 0.1, num_lams=2, tol=1e-5)),
    "duality_gap": (_lasso_problem, lambda x, D: prox.duality_gap(x, D, jnp.zeros((6, 24)), 0.1)),
    "lipschitz_constant": (_lasso_problem, lambda x, D: prox.lipschitz_constant(D)),
    "exact_log_partition": (_rbm, lambda params, v: rbm.exact_log_partition(params)),
    "ais_log_partition": (_rbm, lambda params, v: rbm.ais_log_partition(jax.random.key(1), params, num_betas=20,
                                                                       num_runs=4)),
    "pseudo_log_likelihood": (_rbm, lambda params, v: rbm.pseudo_log_likelihood(jax.random.key(1), params,
                                                                               jnp.asarray(v))),
    "evaluate_elbo": (_vae, lambda model, params, x: likelihood.evaluate_elbo(model, params, x, jax.random.key(2))),
    "evaluate_at_mean": (_vae, lambda model, params, x: likelihood.evaluate_at_mean(model, params, x)),
    "importance_sampled_log_likelihood": (_vae, lambda model, params, x: likelihood.importance_sampled_log_likelihood(
        model, params, x, jax.random.key(2), num_samples=8, chunk=4, progress=False)),
    "linear_probe": (_probe_data, lambda xtr, ytr, xte, yte: probe.linear_probe(xtr, ytr, xte, yte, max_iter=3,
                                                                               num_classes=2)),
}


@pytest.mark.parametrize("name", sorted(CERTIFIED))
def test_certificates_and_evaluations_run_every_matrix_product_at_highest(name, tmp_path):
    setup, call = CERTIFIED[name]
    args = jax.block_until_ready(setup())
    with lowered_products(tmp_path) as products:
        jax.block_until_ready(call(*args))
    assert products, f"{name} lowered no matrix product: the test sees nothing"
    assert set(products) == {"HIGHEST"}, f"{name}: {products.count('HIGHEST')} of {len(products)} HIGHEST: {products}"


def test_without_the_policy_the_same_solver_asks_for_the_default(tmp_path):
    """The decorator is what makes the difference: the undecorated ISTA lowers DEFAULT products."""
    with lowered_products(tmp_path) as products:
        jax.block_until_ready(lasso.ista.__wrapped__(*_lasso_problem(), 0.1, num_iters=5, step=0.1))
    assert products and set(products) == {"DEFAULT"}


def test_highest_holds_inside_a_step_traced_at_the_default(tmp_path):
    x, D = _lasso_problem()

    @jax.jit
    def step(x):
        inner = lasso.ista(x, D, 0.1, num_iters=3).codes
        return inner @ D.T  # the step's own product: DEFAULT

    with lowered_products(tmp_path) as products:
        jax.block_until_ready(step(x))
    assert products.count("DEFAULT") == 1 and products.count("HIGHEST") >= 1, products


def _linear_fit(tmp_path, matmul_precision):
    rng = np.random.default_rng(0)
    data = {"x": rng.standard_normal((32, 5)).astype(np.float32), "y": rng.standard_normal((32, 3)).astype(np.float32)}
    state = train_state.TrainState.create(apply_fn=None, params={"w": jnp.zeros((5, 3))}, tx=optax.sgd(0.1))

    def step_fn(state, batch, key):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((batch["x"] @ p["w"] - batch["y"]) ** 2))(state.params)
        return state.apply_gradients(grads=grads), {"loss": loss}

    with lowered_products(tmp_path) as products:
        loop.fit(state, step_fn, data, batch_size=8, num_epochs=1, rng=jax.random.key(0),
                 matmul_precision=matmul_precision, max_chunk_seconds=None)
    return products


@pytest.mark.parametrize("matmul_precision, expected", [(None, "DEFAULT"), ("default", "DEFAULT"),
                                                        ("high", "HIGH"), ("highest", "HIGHEST")])
def test_a_training_step_follows_its_config(matmul_precision, expected, tmp_path):
    products = _linear_fit(tmp_path, matmul_precision)
    assert len(products) >= 2 and set(products) == {expected}, products  # the forward and the gradient's product


@pytest.mark.parametrize("bad", ["fast", "HIGHEST", "", 1, None.__class__])
def test_unknown_precisions_are_refused_naming_the_argument(bad):
    with pytest.raises(ValueError, match="matmul_precision"):
        precision.check_matmul_precision(bad)
    with pytest.raises(ValueError, match="compute_dtype"):
        precision.compute_dtype(bad if bad != "" else "float16")


def test_fit_refuses_an_unknown_matmul_precision_before_compiling():
    state = train_state.TrainState.create(apply_fn=None, params={"w": jnp.zeros(2)}, tx=optax.sgd(0.1))
    with pytest.raises(ValueError, match="matmul_precision must be one of"):
        loop.fit(state, lambda s, b, k: (s, {"loss": 0.0}), np.zeros((4, 2), np.float32), batch_size=2,
                 num_epochs=1, rng=jax.random.key(0), matmul_precision="tf32")


def test_every_experiment_config_names_a_valid_matmul_precision():
    from experiments import configs  # noqa: F401  (the package of the configs)

    root = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "configs"
    from ebm_jax import cli

    names = [p.stem for p in root.glob("*.py") if not p.stem.startswith("_")]
    assert len(names) >= 14
    for name in names:
        config = cli.load_config(root / f"{name}.py")
        assert config.matmul_precision in precision.TRAINING_CHOICES, name


def test_a_bfloat16_vae_computes_in_bfloat16_and_reports_in_float32():
    from ebm_jax.methods import vae as vae_method

    x = (np.random.default_rng(0).random((16, 12)) < 0.5).astype(np.float32)
    models = {d: vae.Autoencoder(latent_dim=3, hidden_dims=(8,), output_dim=12, compute_dtype=d)
              for d in ("float32", "bfloat16")}
    params = models["float32"].init(jax.random.key(0), jnp.zeros((1, 12)), jax.random.key(1))["params"]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(
        models["bfloat16"].init(jax.random.key(0), jnp.zeros((1, 12)), jax.random.key(1))["params"]))
    losses = {}
    for d, model in models.items():
        def loss(p, model=model):
            return vae_method.vae_loss(model, p, jnp.asarray(x), jax.random.key(2))[0]
        text = jax.jit(loss).lower(params).as_text()
        assert ("xbf16>" in text) == (d == "bfloat16"), d
        losses[d] = float(loss(params))
        assert np.isfinite(losses[d])
    assert losses["bfloat16"] == pytest.approx(losses["float32"], rel=2e-2)
    # the reported numbers are float32 whatever the training dtype
    elbo = {d: likelihood.evaluate_elbo(m, params, x, jax.random.key(3))["neg_elbo"] for d, m in models.items()}
    assert elbo["bfloat16"] == elbo["float32"]
    with pytest.raises(ValueError, match="compute_dtype must be one of"):
        vae.Autoencoder(compute_dtype="float16").init(jax.random.key(0), jnp.zeros((1, 784)))
