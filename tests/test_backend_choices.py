"""Each backend-dependent implementation equals its alternative on the CPU, and "auto" picks by backend."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebm_jax import backend
from ebm_jax.models import ssl as ssl_models
from ebm_jax.sparse import conv


@pytest.mark.parametrize("platform, conv_impl, filters", [("cpu", "im2col", "scan"), ("gpu", "xla", "batched"),
                                                          ("tpu", "xla", "batched")])
def test_auto_picks_by_backend(monkeypatch, platform, conv_impl, filters):
    monkeypatch.setattr(backend, "platform", lambda: platform)
    assert backend.ssl_conv("auto") == conv_impl and backend.admm_filters("auto") == filters
    assert backend.ssl_conv("im2col") == "im2col" and backend.admm_filters("batched") == "batched"


@pytest.mark.parametrize("fn, name", [(backend.ssl_conv, "conv"), (backend.admm_filters, "filters")])
@pytest.mark.parametrize("bad", ["cudnn", "", None, 1])
def test_unknown_choices_are_refused_naming_the_argument(fn, name, bad):
    with pytest.raises(ValueError, match=f"{name} must be one of"):
        fn(bad)


def test_the_encoder_lowers_xla_convolutions_where_auto_means_a_gpu(monkeypatch):
    model = ssl_models.Encoder(widths=(4, 8), rep_dim=6)
    x = jnp.ones((2, 12, 12))
    params = model.init(jax.random.key(0), x)
    cpu_text = jax.jit(model.apply).lower(params, x).as_text()
    monkeypatch.setattr(backend, "platform", lambda: "gpu")
    gpu_text = jax.jit(model.apply).lower(params, x).as_text()
    assert "stablehlo.convolution" not in cpu_text and "stablehlo.convolution" in gpu_text


@pytest.mark.parametrize("stride", [1, 2])
def test_im2col_and_xla_convolutions_agree_in_value_and_gradient(stride):
    x = jax.random.normal(jax.random.key(0), (3, 9, 9, 4))
    layers = {impl: ssl_models.Conv3x3(5, stride=stride, conv=impl) for impl in ("im2col", "xla")}
    params = layers["xla"].init(jax.random.key(1), x)

    def loss(params, x, impl):
        return jnp.sum(jnp.sin(layers[impl].apply(params, x)))

    values = {impl: loss(params, x, impl) for impl in layers}
    grads = {impl: jax.grad(loss, argnums=(0, 1))(params, x, impl) for impl in layers}
    np.testing.assert_allclose(values["im2col"], values["xla"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads["im2col"]), jax.tree.leaves(grads["xla"])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(num_iters=25), dict(num_iters=25, adapt_rho=0), dict(tol=1e-3, num_iters=400)])
def test_admm_sweeps_one_filter_at_a_time_or_all_at_once_give_the_same_iterates(kw):
    rng = np.random.default_rng(0)
    s = rng.standard_normal((3, 24, 24)).astype(np.float32)
    D = rng.standard_normal((6, 5, 5)).astype(np.float32)
    D /= np.linalg.norm(D.reshape(6, -1), axis=1)[:, None, None]
    lam = np.array([0.05, 0.1, 0.2], np.float32)
    scan = conv.conv_sparse_code(s, D, lam, filters="scan", **kw)
    batched = conv.conv_sparse_code(s, D, lam, filters="batched", **kw)
    assert int(scan.info.num_iters) == int(batched.info.num_iters)
    np.testing.assert_allclose(batched.codes, scan.codes, atol=2e-5 * float(np.abs(scan.codes).max()))
    np.testing.assert_allclose(batched.info.objective, scan.info.objective, rtol=1e-5)
