"""Figures: image grids, loss curves, 2-D scatter plots, and the latent-variable EBMs' energy curves,
free-energy maps, manifolds and conditional samples. All write PNG files.

Every ``save_*`` function checks its arguments before it draws anything: a bad input is a
``ValueError`` or ``TypeError`` naming the argument. ``path`` must be a file path (``str`` or
``pathlib.Path``) ending in an extension matplotlib writes (``.png``, ``.pdf``, ``.svg``, ...), not a
directory and not below a file; missing parent directories are created. Images are finite, and
in ``[0, 1]`` where they are drawn on that grey scale.
"""

from __future__ import annotations

import os
import pathlib
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors  # noqa: E402
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from ebm_jax import checks  # noqa: E402

#: The file extensions (without the dot) a figure can be written as.
FORMATS = tuple(sorted(FigureCanvasAgg.get_supported_filetypes()))


def _check_path(path, name: str = "path") -> pathlib.Path:
    """``path`` as a ``Path`` to write a figure to: a file path (:func:`ebm_jax.checks.file`) with a known
    extension (missing parent directories are created later)."""
    p = checks.file(path, name)
    if p.suffix.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"{name} must end in a figure extension ({', '.join('.' + f for f in FORMATS)}), "
                         f"got {str(p)!r}")
    return p


def _check_mapping(value, name: str, what: str) -> Mapping:
    """``value`` if it is a non-empty mapping (``{label: what}``), else an error naming ``name``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping {{label: {what}}}, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is empty: nothing to draw")
    return value


def _values(a, name: str, *, ndim: int, finite: bool = True, nonempty: bool = True) -> np.ndarray:
    """A real float array with ``ndim`` dimensions as numpy (finite unless told), or an error naming ``name``."""
    return np.asarray(checks.float_array(a, name, ndim=ndim, finite=finite, nonempty=nonempty))


def _points(a, name: str, *, length: int | None = None, nonempty: bool = True) -> np.ndarray:
    """Finite 2-D points ``(N, 2)`` (``N == length`` when given) as numpy, or an error naming ``name``."""
    a = _values(a, name, ndim=2, nonempty=nonempty)
    if a.shape[1] != 2 or (length is not None and len(a) != length):
        want = f"({'N' if length is None else length}, 2)"
        raise ValueError(f"{name} must be 2-D points {want}, got shape {a.shape}")
    return a


def _vector(a, name: str, *, length: int | None = None) -> np.ndarray:
    """A finite non-empty 1-D array (of ``length`` when given) as numpy, or an error naming ``name``."""
    a = _values(a, name, ndim=1)
    if length is not None and len(a) != length:
        raise ValueError(f"{name} must have {length} values, got shape {a.shape}")
    return a


def _images(images, name: str, *, unit: bool) -> np.ndarray:
    """Finite images ``(N, H, W)`` or square ``(N, H*W)`` as ``(N, H, W)`` float32 numpy, in ``[0, 1]``
    when ``unit``; else an error naming ``name``."""
    images = np.asarray(checks.float_array(images, name, domain="unit" if unit else None), np.float32)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"{name} of shape {images.shape} cannot be reshaped into square images: "
                             f"{images.shape[1]} is not a square number (pass (N, H, W) images)")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W) or (N, H*W), got shape {images.shape}")
    return images


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile finite ``(N, H, W)`` (or ``(N, H*W)`` square) images into one 2-D array
    ``(rows·(H + pad) + pad, ncols·(W + pad) + pad)``; ``ncols`` defaults to ``ceil(sqrt(N))``."""
    images = _images(images, "images", unit=False)
    ncols = checks.positive_int(ncols, "ncols", allow_none=True)
    pad = checks.nonnegative_int(pad, "pad")
    pad_value = checks.real(pad_value, "pad_value")
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
    """Save a grid of images ``(N, H, W)`` or ``(N, H*W)`` in ``[0, 1]``; ``normalize`` rescales each image
    to ``[0, 1]`` (for filters: any finite values)."""
    path = _check_path(path)
    normalize = checks.boolean(normalize, "normalize")
    images = _images(images, "images", unit=not normalize)
    checks.string(title, "title", nonempty=False, allow_none=True)
    known = isinstance(cmap, str) and cmap in matplotlib.colormaps
    if not (known or isinstance(cmap, matplotlib.colors.Colormap)):
        raise ValueError(f"cmap must be a matplotlib colormap name (e.g. 'gray', 'viridis'), got {cmap!r}"[:300])
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
    """Save labelled rows of images in ``[0, 1]``, e.g. ``{"data": x, "VAE": recon, "AE": recon}``; each row is
    ``(N, H, W)`` or ``(N, H*W)`` (rows may hold different numbers of images)."""
    path = _check_path(path)
    rows = {label: _images(images, f"rows[{label!r}]", unit=True)
            for label, images in _check_mapping(rows, "rows", "images").items()}
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    """Save line plots: ``curves[label] = (xs, ys)``, two 1-D sequences of the same length.

    NaN values (what a diverged step reported) leave gaps, as do values ``<= 0`` with ``logy``; a curve
    may be empty, but not all of them.
    """
    path = _check_path(path)
    checked = {}
    for label, curve in _check_mapping(curves, "curves", "(xs, ys)").items():
        name = f"curves[{label!r}]"
        if not isinstance(curve, (tuple, list, np.ndarray)) or len(curve) != 2:
            raise TypeError(f"{name} must be a pair (xs, ys), got {type(curve).__name__} {curve!r}"[:300])
        xs = _values(curve[0], f"{name} xs", ndim=1, finite=False, nonempty=False)
        ys = _values(curve[1], f"{name} ys", ndim=1, finite=False, nonempty=False)
        if len(xs) != len(ys):
            raise ValueError(f"{name} has {len(xs)} xs but {len(ys)} ys")
        checked[label] = xs, ys
    if not any(len(xs) for xs, _ in checked.values()):
        raise ValueError(f"curves holds no points: every curve of {list(checked)} is empty")
    checks.string(xlabel, "xlabel", nonempty=False)
    checks.string(ylabel, "ylabel", nonempty=False)
    checks.string(title, "title", nonempty=False, allow_none=True)
    logy = checks.boolean(logy, "logy")
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (xs, ys) in checked.items():
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
    """Scatter finite 2-D points ``(N, 2)`` coloured by integer label ``(N,)`` (e.g. a VAE's latent space by digit)."""
    path = _check_path(path)
    points = _points(points, "points")
    labels = checks.class_labels(labels, "labels", num_examples=len(points))
    for text, name in ((xlabel, "xlabel"), (ylabel, "ylabel")):
        checks.string(text, name, nonempty=False)
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    multi-process run writes each file once. ``fig`` is a matplotlib ``Figure``; ``dpi`` a positive integer.
    """
    from ebm_jax.train.distributed import is_main_process  # lazily: viz stays importable without the trainer

    checks.instance(fig, "fig", matplotlib.figure.Figure, "matplotlib Figure")
    path = _check_path(path)
    dpi = checks.positive_int(dpi, "dpi")
    if is_main_process():
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path, dpi=dpi)
    plt.close(fig)


_save = save_figure


# ---------------------------------------------------------------------------- latent-variable EBMs


def save_energy_curves(path: str | os.PathLike, z: np.ndarray, energies: np.ndarray, z_check: np.ndarray, *,
                       title: str | None = None) -> None:
    """``E_i(z)`` of every sample ``i`` over the increasing 1-D grid ``z`` ``(K,)``, ``energies`` ``(B, K)``,
    ž marked (``z_check`` ``(B,)``)."""
    path = _check_path(path)
    z = _vector(z, "z")
    if len(z) > 1 and not (np.diff(z) > 0).all():
        raise ValueError("z must be an increasing grid (ž is marked by interpolating each curve over z)")
    energies = _values(energies, "energies", ndim=2)
    if energies.shape[1] != len(z):
        raise ValueError(f"energies must be (B, {len(z)}): one row over the grid z per sample, got shape "
                         f"{energies.shape}")
    z_check = _vector(z_check, "z_check", length=len(energies))
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    """Data ``y`` ``(B, 2)`` joined to their reconstructions ``g(ž)`` (``y_check`` ``(B, 2)``), coloured by ž
    (``z_check`` ``(B,)``), on the manifold ``(M, 2)``."""
    path = _check_path(path)
    y = _points(y, "y")
    y_check = _points(y_check, "y_check", length=len(y))
    z_check = _vector(z_check, "z_check", length=len(y))
    manifold = _points(manifold, "manifold")
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    on the first panel and a last panel with the cross-sections ``F(0, y2)`` (each ``(len(y2),)``); ``data``
    ``(N, 2)`` is drawn on every panel. The maps are finite."""
    path = _check_path(path)
    y1, y2 = _vector(y1, "y1"), _vector(y2, "y2")
    maps = {name: _values(f, f"maps[{name!r}]", ndim=2) for name, f in _check_mapping(maps, "maps", "F").items()}
    for name, f in maps.items():
        if f.shape != (len(y2), len(y1)):
            raise ValueError(f"maps[{name!r}] must be (len(y2), len(y1)) = {(len(y2), len(y1))}, got shape {f.shape}")
    if data is not None:
        data = _points(data, "data")
    if arrows is not None:
        if not isinstance(arrows, (tuple, list)) or len(arrows) != 2:
            raise TypeError(f"arrows must be a pair (points (P, 2), vectors (P, 2)), got {type(arrows).__name__}")
        pts = _points(arrows[0], "arrows points")
        arrows = pts, _points(arrows[1], "arrows vectors", length=len(pts))
    if cross_section is not None:
        cross_section = {name: _vector(f, f"cross_section[{name!r}]", length=len(y2))
                         for name, f in _check_mapping(cross_section, "cross_section", "F(0, y2)").items()}
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    """Data points ``(N, 2)`` and model manifolds ``g(z)`` (each ``(M, 2)``) in the ``y`` plane."""
    path = _check_path(path)
    data = _points(data, "data")
    curves = {name: _points(c, f"curves[{name!r}]") for name, c in _check_mapping(curves, "curves", "(M, 2)").items()}
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    path = _check_path(path)
    x = _vector(x, "x")
    y = _points(y, "y", length=len(x))
    xs = _vector(xs, "xs")
    curves = _values(curves, "curves", ndim=3)
    if curves.shape[0] != len(xs) or curves.shape[2] != 2:
        raise ValueError(f"curves must be ({len(xs)}, M, 2): one curve of 2-D points per x in xs, got shape "
                         f"{curves.shape}")
    checks.string(title, "title", nonempty=False, allow_none=True)
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
    several plausible completions ``y = g(f(x), ž)`` vs the single regression output ``E[y | x]``.
    ``x`` is a number; ``data_near_x`` may be empty; everything is finite."""
    path = _check_path(path)
    if not isinstance(panels, (tuple, list)):
        raise TypeError(f"panels must be a list of (x, data_near_x, samples, manifold, regression), got "
                        f"{type(panels).__name__}")
    if not panels:
        raise ValueError("panels is empty: nothing to draw")
    checked = []
    for i, panel in enumerate(panels):
        name = f"panels[{i}]"
        if not isinstance(panel, (tuple, list)) or len(panel) != 5:
            got = f"{len(panel)} items" if isinstance(panel, (tuple, list)) else type(panel).__name__
            raise ValueError(f"{name} must be (x, data_near_x (P, 2), samples (S, 2), manifold (M, 2), "
                             f"regression (2,)), got {got}")
        x, near, samples, manifold, regression = panel
        checked.append((checks.real(x, f"{name} x"), _points(near, f"{name} data_near_x", nonempty=False),
                        _points(samples, f"{name} samples"), _points(manifold, f"{name} manifold"),
                        _vector(regression, f"{name} regression", length=2)))
    checks.string(title, "title", nonempty=False, allow_none=True)
    panels = checked
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
