r"""Whole natural images for convolutional filter learning and denoising.

Images are named ``"<source>:<name>"`` and come, grey and float32 in [0, 1],
from packages that ship them (nothing is downloaded):

* ``skimage:<name>``: scikit-image's data images that are inside its wheel
  (``camera``, ``astronaut``, ``coffee``, ``chelsea``, ``rocket``, ``brick``,
  ``grass``, ``gravel``, ``moon``, ``coins``, ``clock``, ``page``, ...);
  colour ones are converted with ``skimage.color.rgb2gray``;
* ``sporco:<name>``: the images bundled with SPORCO (``kodim23``, ``barbara``,
  ``monarch``, ``sail``, ``tulips``), through ``sporco.util.ExampleImages``;
* ``sklearn:<name>``: scikit-learn's sample images (``china``, ``flower``),
  which ship with a core dependency of this package, so they are always there.

A missing package is an :class:`ImportError` naming what to install.

:func:`highpass` splits an image into a Gaussian low-pass part and the
high-pass rest (``image = low + high``): filters are learned on the high-pass
part, and a denoiser codes the noisy high-pass part and adds the low-pass part
back. :func:`random_crops` cuts training tiles; :func:`synthetic_images`
makes a small generated set for tests only (it is never picked silently).
"""

from __future__ import annotations

import numpy as np

from ebm_jax import checks

SOURCES = ("skimage", "sporco", "sklearn")
REC709 = (0.2125, 0.7154, 0.0721)  # skimage.color.rgb2gray's weights, the default here
REC601 = (0.299, 0.587, 0.114)     # the older luma weights (PIL's "L" mode); data.patches uses these
_INSTALL = {"skimage": "scikit-image", "sporco": "sporco", "sklearn": "scikit-learn"}


def _split(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str):
        raise TypeError(f"spec must be an image name '<source>:<name>' (a string), got {type(spec).__name__} {spec!r}")
    if ":" not in spec:
        raise ValueError(f"spec must name an image '<source>:<name>' with source in {SOURCES}, got {spec!r}")
    source, name = spec.split(":", 1)
    if source not in SOURCES:
        raise ValueError(f"spec {spec!r} has an unknown image source {source!r} (known: {', '.join(SOURCES)})")
    return source, name


def _missing(source: str, spec: str, error: Exception) -> ImportError:
    return ImportError(f"image {spec!r} needs the package {_INSTALL[source]!r}: pip install {_INSTALL[source]} "
                       f"({type(error).__name__}: {error})")


def _grey(img: np.ndarray, weights=REC709) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.float32)
    elif np.issubdtype(img.dtype, np.integer):
        img = img.astype(np.float32) / np.iinfo(img.dtype).max
    img = img.astype(np.float32)
    if img.ndim == 3:
        if img.shape[-1] == 4:  # RGBA: drop alpha
            img = img[..., :3]
        img = img @ np.asarray(weights, np.float32)
    if img.ndim != 2:
        raise ValueError(f"expected a grey or colour image, got shape {img.shape}")
    return np.clip(img, 0.0, 1.0)


def package_available(source: str) -> bool:
    """Whether the package behind ``source`` (one of :data:`SOURCES`) imports."""
    checks.one_of(source, "source", SOURCES)
    module = {"skimage": "skimage.data", "sporco": "sporco.util", "sklearn": "sklearn.datasets"}[source]
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def load_image(spec: str, *, grey_weights=REC709) -> np.ndarray:
    """One grey image (H, W), float32 in [0, 1], e.g. ``load_image("sporco:barbara")``.

    ``grey_weights``: the (R, G, B) weights that turn a colour image grey (SPORCO's images come
    grey from SPORCO itself)."""
    weights = np.asarray(checks.float_array(grey_weights, "grey_weights", ndim=1))
    if weights.shape != (3,) or np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError(f"grey_weights must be 3 finite non-negative numbers (R, G, B), not all 0, "
                         f"got {grey_weights!r}")
    source, name = _split(spec)
    if source == "skimage":
        try:
            import skimage.data
        except ImportError as e:
            raise _missing(source, spec, e) from e
        loader = getattr(skimage.data, name, None)
        if loader is None or not callable(loader):
            raise ValueError(f"spec {spec!r}: scikit-image has no data image {name!r}")
        try:
            img = loader()
        except (ModuleNotFoundError, OSError) as e:  # images outside the wheel need pooch and a download
            raise ValueError(f"spec {spec!r}: scikit-image's {name!r} is not inside its wheel ({e}); "
                             "pick another image") from e
        return _grey(img, grey_weights)
    if source == "sporco":
        try:
            from sporco import util
        except ImportError as e:
            raise _missing(source, spec, e) from e
        examples = util.ExampleImages(scaled=True, gray=True)
        file = name if name.endswith(".png") else f"{name}.png"
        if file not in examples.images():
            raise ValueError(f"spec {spec!r}: SPORCO ships no image {name!r} (it has {examples.images()})")
        return _grey(examples.image(file))
    try:
        from sklearn.datasets import load_sample_image
    except ImportError as e:  # pragma: no cover - a core dependency
        raise _missing(source, spec, e) from e
    file = name if name.endswith(".jpg") else f"{name}.jpg"
    try:
        return _grey(load_sample_image(file), grey_weights)
    except (AttributeError, FileNotFoundError, ValueError) as e:
        raise ValueError(f"spec {spec!r}: scikit-learn has no sample image {name!r} (it has china, flower)") from e


def center_crop(img: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size x size`` square of ``img`` (H, W) (the whole image if ``size`` is None)."""
    checks.float_array(img, "img", ndim=2)
    size = checks.positive_int(size, "size", allow_none=True)
    if size is None:
        return img
    H, W = img.shape
    if size > min(H, W):
        raise ValueError(f"crop size {size} is larger than the image ({H}x{W})")
    i, j = (H - size) // 2, (W - size) // 2
    return img[i:i + size, j:j + size]


def load_images(specs, *, crop: int | None = None) -> list[np.ndarray]:
    """:func:`load_image` for each name, optionally centre-cropped to ``crop x crop``."""
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)) or not len(specs):
        raise ValueError(f"specs must be a non-empty list of image names, got {specs!r}")
    crop = checks.positive_int(crop, "crop", allow_none=True)
    return [center_crop(load_image(s), crop) for s in specs]


def highpass(images, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` with ``low`` the Gaussian blur (std ``sigma`` pixels, reflecting edges) of
    each image (..., H, W) and ``high = images − low``."""
    from scipy.ndimage import gaussian_filter

    images = np.asarray(checks.float_array(images, "images", min_ndim=2), np.float32)
    sigma = checks.positive_float(sigma, "sigma")
    axes_sigma = (0,) * (images.ndim - 2) + (float(sigma), float(sigma))
    low = gaussian_filter(images, axes_sigma, mode="reflect").astype(np.float32)
    return low, images - low


def random_crops(images, num: int, size: int, *, seed: int = 0) -> np.ndarray:
    """``num`` random ``size x size`` tiles (num, size, size) cut from the images (a list of (H, W)),
    each image chosen with probability proportional to its area."""
    images = _image_list(images, "images")
    num = checks.positive_int(num, "num")
    size = checks.positive_int(size, "size")
    rng = np.random.default_rng(checks.seed(seed))
    areas = np.array([im.shape[0] * im.shape[1] for im in images], np.float64)
    if any(size > min(im.shape) for im in images):
        raise ValueError(f"crop size {size} is larger than an image ({[im.shape for im in images]})")
    which = rng.choice(len(images), size=num, p=areas / areas.sum())
    out = np.empty((num, size, size), np.float32)
    for n, k in enumerate(which):
        H, W = images[k].shape
        i, j = rng.integers(0, H - size + 1), rng.integers(0, W - size + 1)
        out[n] = images[k][i:i + size, j:j + size]
    return out


def _image_list(images, name: str) -> list[np.ndarray]:
    """A non-empty list of grey images (H, W) (or an array (N, H, W)), real and finite, as float32 arrays."""
    if isinstance(images, (str, bytes)) or not hasattr(images, "__len__") or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty list of grey images (H, W), got {images!r}"[:300])
    return [np.asarray(checks.float_array(im, f"{name}[{i}]", ndim=2), np.float32) for i, im in enumerate(images)]


def synthetic_images(num: int, size: int, *, seed: int = 0) -> list[np.ndarray]:
    """Generated test images (num of size x size, in [0, 1]): random rectangles, discs and
    oriented gratings on a smooth background. For tests only."""
    num = checks.positive_int(num, "num")
    size = checks.positive_int(size, "size")
    rng = np.random.default_rng(checks.seed(seed))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = []
    for _ in range(num):
        img = 0.5 + 0.2 * np.sin(2 * np.pi * (rng.random() * xx + rng.random() * yy))
        for _ in range(6):
            cy, cx, r = rng.random(3) * np.array([1, 1, 0.3])
            level = rng.random()
            if rng.random() < 0.5:
                mask = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < 0.5 * r + 0.05)
            else:
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            img = np.where(mask, level, img)
        theta, f = rng.random() * np.pi, 4 + 8 * rng.random()
        img = img + 0.1 * np.sin(2 * np.pi * f * (np.cos(theta) * xx + np.sin(theta) * yy))
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return out


def tile_patches(images, patch_size: int) -> np.ndarray:
    """The non-overlapping ``patch_size x patch_size`` tiles of images (N, H, W) as rows
    (N * ⌊H/p⌋ * ⌊W/p⌋, p²); a remainder at the right and bottom edges is dropped."""
    images = np.asarray(checks.float_array(images, "images", ndim=3), np.float32)
    p = checks.positive_int(patch_size, "patch_size")
    N, H, W = images.shape
    if p < 1 or p > min(H, W):
        raise ValueError(f"patch_size must be in [1, {min(H, W)}], got {patch_size!r}")
    h, w = H // p, W // p
    x = images[:, :h * p, :w * p].reshape(N, h, p, w, p).transpose(0, 1, 3, 2, 4)
    return np.ascontiguousarray(x.reshape(-1, p * p))
