"""Figures: image grids, loss curves, 2-D scatter plots. All write PNG files."""

from __future__ import annotations

import os
import pathlib
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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
    if normalize:
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
    if logy:
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
