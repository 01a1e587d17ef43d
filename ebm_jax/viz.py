"""Figures: image grids, loss curves, 2-D scatter plots, and the latent-variable EBMs' energy curves,
free-energy maps, manifolds and conditional samples. All write PNG files."""

from __future__ import annotations

import os
import pathlib
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ebm_jax import checks  # noqa: E402


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``(N, H, W)`` (or ``(N, H*W)`` square) images into one 2-D array."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"cannot reshape images of size {images.shape[1]} into squares")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or (N, H*W), got shape {images.shape}")
    n, h, w = images.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return grid


def save_image_grid(path: str | os.PathLike, images: np.ndarray, *, ncols: int | None = None,
                    title: str | None = None, cmap: str = "gray", normalize: bool = False) -> None:
    """Save a grid of images; ``normalize`` rescales each image to ``[0, 1]`` (for filters)."""
    images = np.asarray(images, np.float32)
    if checks.boolean(normalize, "normalize"):
        flat = images.reshape(len(images), -1)
        lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
        images = ((flat - lo) / np.maximum(hi - lo, 1e-8)).reshape(images.shape)
    grid = image_grid(images, ncols=ncols)
    fig, ax = plt.subplots(figsize=(max(3, grid.shape[1] / 40), max(3, grid.shape[0] / 40)))
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    _save(fig, path)


def save_rows(path: str | os.PathLike, rows: Mapping[str, np.ndarray], *, title: str | None = None) -> None:
    """Save labelled rows of images, e.g. ``{"data": x, "VAE": recon, "AE": recon}``."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 1.3 * len(rows) + 0.5), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        ax.imshow(image_grid(images, ncols=len(images)), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    _save(fig, path)


def save_curves(path: str | os.PathLike, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                xlabel: str = "step", ylabel: str = "loss", title: str | None = None, logy: bool = False) -> None:
    """Save line plots: ``curves[label] = (xs, ys)``."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if checks.boolean(logy, "logy"):
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def save_scatter_2d(path: str | os.PathLike, points: np.ndarray, labels: np.ndarray, *,
                    title: str | None = None, xlabel: str = "z1", ylabel: str = "z2") -> None:
    """Scatter 2-D points coloured by integer label (e.g. a VAE's latent space by digit)."""
    points = np.asarray(points)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=2, alpha=0.7)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    _save(fig, path)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100) -> None:
    """Lay out, write as PNG and close ``fig``; only process 0 writes under ``jax.distributed``.

    Experiments save every figure through this function, so that a
    multi-process run writes each file once.
    """
    from ebm_jax.train.distributed import is_main_process  # lazily: viz stays importable without the trainer

    if is_main_process():
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    plt.close(fig)


_save = save_figure


# ---------------------------------------------------------------------------- latent-variable EBMs


def save_energy_curves(path: str | os.PathLike, z: np.ndarray, energies: np.ndarray, z_check: np.ndarray, *,
                       title: str | None = None) -> None:
    """``E_i(z)`` of every sample ``i`` over the 1-D grid ``z`` ``(K,)``, ``energies`` ``(B, K)``, ž marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = plt.cm.hsv(np.linspace(0, 1, len(energies), endpoint=False))
    for e, zc, c in zip(energies, z_check, colors):
        ax.plot(z, e, color=c, lw=0.8, alpha=0.8)
        ax.plot([zc], [np.interp(zc, z, e)], "o", color=c, ms=4)
    ax.set_xlabel("z")
    ax.set_ylabel("E(y_i, z)")
    ax.set_title(title or "Energy of each sample over the latent; dots: ž = argmin")
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=80)


def save_inferred_latents(path: str | os.PathLike, y: np.ndarray, y_check: np.ndarray, z_check: np.ndarray,
                          manifold: np.ndarray, *, title: str | None = None) -> None:
    """Data ``y`` ``(B, 2)`` joined to their reconstructions ``g(ž)``, coloured by ž, on the manifold."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(manifold[:, 0], manifold[:, 1], "k-", lw=0.8, alpha=0.5, label="model manifold g(z)")
    for a, b in zip(y, y_check):
        ax.plot([a[0], b[0]], [a[1], b[1]], "k-", lw=0.6, alpha=0.6)
    sc = ax.scatter(y[:, 0], y[:, 1], c=z_check, cmap="hsv", vmin=0, vmax=2 * np.pi, s=25, edgecolor="k",
                    label="data y, coloured by ž")
    fig.colorbar(sc, ax=ax, label="ž")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "Inferred latents ž of the data")
    save_figure(fig, path, dpi=80)


def save_free_energy_maps(path: str | os.PathLike, y1: np.ndarray, y2: np.ndarray, maps: Mapping[str, np.ndarray], *,
                          data: np.ndarray | None = None, arrows: tuple | None = None,
                          cross_section: Mapping[str, np.ndarray] | None = None, title: str | None = None) -> None:
    """One panel per free-energy map ``F (len(y2), len(y1))``; optional arrows ``(pts (P, 2), vec (P, 2))``
    on the first panel and a last panel with the cross-sections ``F(0, y2)``."""
    panels = len(maps) + (cross_section is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.2), squeeze=False)
    axes = axes[0]
    for i, (name, f) in enumerate(maps.items()):
        ax = axes[i]
        im = ax.pcolormesh(y1, y2, f, shading="auto", cmap="coolwarm")
        fig.colorbar(im, ax=ax)
        if data is not None:
            ax.plot(data[:, 0], data[:, 1], "o", ms=3, mfc="none", mec="k")
        if arrows is not None and i == 0:
            pts, vec = arrows
            ax.quiver(pts[:, 0], pts[:, 1], vec[:, 0], vec[:, 1], color="k", alpha=0.7, angles="xy")
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
    if cross_section is not None:
        ax = axes[-1]
        for name, f in cross_section.items():
            ax.plot(y2, f, label=name)
        ax.set_xlabel("y2 (at y1 = 0)")
        ax.set_ylabel("free energy")
        ax.set_title("cross-section at y1 = 0", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=80)


def save_manifolds(path: str | os.PathLike, data: np.ndarray, curves: Mapping[str, np.ndarray], *,
                   title: str | None = None) -> None:
    """Data points and model manifolds ``g(z)`` (each ``(M, 2)``) in the ``y`` plane."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(data[:, 0], data[:, 1], "o", ms=4, mfc="none", mec="k", label="data")
    for name, c in curves.items():
        ax.plot(c[:, 0], c[:, 1], lw=1.5, label=name)
    ax.set_aspect("equal")
    ax.legend(fontsize=8)
    ax.set_title(title or "Model manifolds against the data")
    save_figure(fig, path, dpi=80)


def save_horn(path: str | os.PathLike, x: np.ndarray, y: np.ndarray, xs: np.ndarray, curves: np.ndarray, *,
              title: str | None = None) -> None:
    """The conditional manifold: data ``(x (N,), y (N, 2))`` and model curves ``g(f(x_j), z)``
    ``(J, M, 2)`` at ``xs`` ``(J,)``, in 3-D (x, y1, y2) and projected on the y plane coloured by x."""
    fig = plt.figure(figsize=(11, 4.8))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.scatter(x, y[:, 0], y[:, 1], s=2, c="k", alpha=0.5)
    colors = plt.cm.viridis(np.linspace(0, 1, len(xs)))
    for xj, c, col in zip(xs, curves, colors):
        ax.plot(np.full(len(c), xj), c[:, 0], c[:, 1], color=col, lw=1.5)
    ax.set_xlabel("x")
    ax.set_ylabel("y1")
    ax.set_zlabel("y2")
    ax.set_title("data (black) and g(f(x), z) at a grid of x", fontsize=9)
    ax = fig.add_subplot(1, 2, 2)
    ax.scatter(y[:, 0], y[:, 1], s=2, c=x, cmap="viridis", alpha=0.4)
    for xj, c, col in zip(xs, curves, colors):
        ax.plot(c[:, 0], c[:, 1], color=col, lw=1.2)
    ax.set_aspect("equal")
    ax.set_title("projection on (y1, y2), coloured by x", fontsize=9)
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=80)


def save_conditional_samples(path: str | os.PathLike, panels, *, title: str | None = None) -> None:
    """One panel per ``(x, data_near_x (P, 2), samples (S, 2), manifold (M, 2), regression (2,))``:
    several plausible completions ``y = g(f(x), ž)`` vs the single regression output ``E[y | x]``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.3), squeeze=False)
    for ax, (x, near, samples, manifold, regression) in zip(axes[0], panels):
        ax.plot(near[:, 0], near[:, 1], "o", ms=3, mfc="none", mec="0.6", label="held-out data near x")
        ax.plot(manifold[:, 0], manifold[:, 1], "-", color="C0", lw=0.8, alpha=0.6, label="g(f(x), z)")
        ax.plot(samples[:, 0], samples[:, 1], "o", color="C0", ms=6, label="LV-EBM samples, z ~ U")
        ax.plot([regression[0]], [regression[1]], "*", color="C3", ms=14, label="regression E[y | x]")
        ax.set_aspect("equal")
        ax.set_title(f"x = {x:g}", fontsize=10)
    axes[0][0].legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=80)
