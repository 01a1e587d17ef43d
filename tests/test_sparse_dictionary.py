"""Dictionary learning recovers a planted dictionary; natural-image patches are normalised."""

import jax
import numpy as np
import pytest

from ebm_jax.methods.dictionary import learn_dictionary
from ebm_jax.sparse.dictionary import evaluate_dictionary, normalize_atoms


def _planted(seed=0, N=3000, n=16, k=12, nnz=2):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n, k))
    D /= np.linalg.norm(D, axis=0)
    Z = np.zeros((N, k))
    for i in range(N):
        Z[i, rng.choice(k, nnz, replace=False)] = rng.choice([-1, 1], nnz) * (1 + rng.random(nnz))
    return (Z @ D.T).astype(np.float32), D


@pytest.mark.parametrize("update", ["bcd", "pgd"])
def test_recovers_planted_dictionary(update):
    x, D_true = _planted()
    state, energies = learn_dictionary(x, 12, 0.05, num_epochs=8 if update == "bcd" else 15, batch_size=100,
                                       inference_iters=50, update=update, seed=1)
    D = np.asarray(state.D)
    np.testing.assert_allclose(np.linalg.norm(D, axis=0), 1.0, atol=1e-5)
    match = np.abs(D_true.T @ D).max(axis=1)  # best |cosine| for each true atom
    assert np.mean(match > 0.95) >= 0.8, match
    assert energies[-10:].mean() < 0.5 * energies[:3].mean()
    stats = evaluate_dictionary(x[:500], D, 0.05)
    assert stats["rel_recon_error"] < 0.05 and stats["mean_nonzeros"] < 6


def test_normalize_atoms_and_errors():
    D = normalize_atoms(jax.numpy.asarray(np.array([[3.0, 0.0], [4.0, 0.0]])))
    np.testing.assert_allclose(np.asarray(D), [[0.6, 0.0], [0.8, 0.0]])
    x = np.ones((10, 4), np.float32)
    with pytest.raises(ValueError, match="update"):
        learn_dictionary(x, 2, 0.1, update="sgd", batch_size=10)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        learn_dictionary(x, 2, -0.1, batch_size=10)
    with pytest.raises(ValueError, match="num_atoms=20 exceeds"):
        learn_dictionary(x, 20, 0.1, batch_size=10)
    with pytest.raises(ValueError, match=r"batch_size \(11\) is larger than the data \(10 examples\)"):
        learn_dictionary(x, 2, 0.1, batch_size=11)


def test_natural_image_patches_are_contrast_normalised():
    pytest.importorskip("PIL")
    from ebm_jax.data.patches import extract_patches

    p = extract_patches(2000, 8, seed=0)
    assert p.shape == (2000, 64) and p.dtype == np.float32
    np.testing.assert_allclose(p.mean(axis=1), 0.0, atol=1e-5)
    assert np.all(p.std(axis=1) <= 1.0 + 1e-5) and np.median(p.std(axis=1)) > 0.5
    w = extract_patches(2000, 8, seed=0, whiten=True)
    def max_offdiag_corr(a):
        c = np.corrcoef(a, rowvar=False)
        return np.abs(c - np.eye(len(c))).max()

    # raw neighbouring pixels are strongly correlated; ZCA decorrelates them
    assert max_offdiag_corr(p) > 0.5 and max_offdiag_corr(w) < 0.2
    with pytest.raises(ValueError, match="patch_size"):
        extract_patches(10, 1)



def test_zca_whitening_refuses_an_eps_that_rounding_would_dominate():
    from ebm_jax.checks import DivergenceError
    from ebm_jax.data.patches import contrast_normalize, zca_whitening

    # 6 contrast-normalised patches of 16 pixels span 5 directions: the covariance's other
    # eigenvalues are 0 up to rounding (eigh returns some slightly negative: NaN under
    # sqrt(evals + eps) for a tiny eps), so eps alone bounds how much whitening amplifies them
    x = contrast_normalize(np.random.default_rng(0).random((6, 16)))
    with pytest.raises(DivergenceError, match=r"eps \(1e-30\) is too small"):
        zca_whitening(x, eps=1e-30)
    out, W = zca_whitening(x, eps=0.1)
    evals, evecs = np.linalg.eigh(np.cov(x.astype(np.float64), rowvar=False))
    # W = V diag((λ + eps)^-1/2) Vᵀ: the whitened covariance is V diag(λ / (λ + eps)) Vᵀ
    np.testing.assert_allclose(np.cov(out.astype(np.float64), rowvar=False),
                               evecs @ np.diag(np.maximum(evals, 0) / (np.maximum(evals, 0) + 0.1)) @ evecs.T,
                               atol=1e-4)
