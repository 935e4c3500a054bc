"""Local saliency map of an FFA image (card 5, Eq. 1): ``a * (G7(I) - B(I))``.

B is the background, a 51 x 51 median (large against the vessels, small against the optic
disc); G7 a 7 x 7 Gaussian that removes noise. Card 5 fixes the unstated details: the image
on its own scale (no rescaling), Gaussian sigma from OpenCV's rule for a k-tap kernel
(``0.3 ((k - 1) / 2 - 1) + 0.8``, 1.4 for k = 7) truncated to k x k, both filters with mirror
borders (scipy's ``'reflect'``: d c b a | a b c d), no clipping, a = 1.

The median is the cost: scipy's ``median_filter`` selects among 2601 values per pixel (~17 s
for 1024 x 1024 here, see ``benchmarks/bench_ffa_saliency.py``). Both fast paths are exact,
identical to scipy's ``median_filter(image, 51, mode='reflect')``:

- images with at most ``levels`` distinct values (default 1024: every 8-bit and 10-bit image,
  masks, any image with few grey levels) are coded by the rank of their value among the
  distinct values and go through scikit-image's sliding-histogram rank median; the median of
  the codes is the code of the median;
- images with more distinct values (16-bit, float) go through :func:`.exact_median.exact_median`,
  a sliding two-level histogram (coarse bins to find the median's bin, then the exact value
  within it) over codes of the same kind, compiled with numba (scipy's exact median where
  numba is missing). ``benchmarks/bench_ffa_saliency.py`` measures its cost against the
  8-bit path and scipy.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from napari_vesselgan import InvalidInput

__all__ = ["ffa_saliency", "gaussian_sigma", "median_background", "MEDIAN_LEVELS"]

MEDIAN_LEVELS = 1024


def gaussian_sigma(size: int) -> float:
    """OpenCV's sigma for a ``size``-tap Gaussian kernel (getGaussianKernel with sigma <= 0)."""
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def _check_size(name: str, size: int) -> int:
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise InvalidInput(f"{name} must be a positive odd number, got {size}")
    return size


def _codes(image: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Order-preserving integer codes of ``image`` and the value of each code, or None when it
    has more than ``levels`` distinct values."""
    values, inverse = np.unique(image, return_inverse=True)
    if values.size > levels:
        return None
    dtype = np.uint8 if values.size <= 256 else np.uint16
    return inverse.reshape(image.shape).astype(dtype), values


def median_background(image: np.ndarray, size: int = 51, *, median: Literal["rank", "scipy"] = "rank",
                      levels: int = MEDIAN_LEVELS) -> np.ndarray:
    """``size`` x ``size`` median of a 2-D image with mirror borders, as float64, exact (see the module notes)."""
    size = _check_size("median_size", size)
    image = np.asarray(image)
    if median == "scipy":
        return ndimage.median_filter(image.astype(np.float64), size=size, mode="reflect")
    if median != "rank":
        raise InvalidInput(f"median must be 'rank' or 'scipy', got {median!r}")
    if not 2 <= levels <= 65536:
        raise InvalidInput(f"levels must be between 2 and 65536, got {levels}")
    from skimage.filters.rank import median as rank_median

    coded = _codes(image, levels)
    if coded is None:  # many distinct values: the exact two-level histogram median
        from napari_vesselgan.analysis.exact_median import exact_median

        return exact_median(image, size)
    codes, values = coded
    radius = size // 2
    # the rank filter ignores pixels outside the image; pad with the mirror ourselves so every
    # window holds size^2 values, as scipy's mode='reflect' does ('symmetric' in numpy's names)
    padded = np.pad(codes, radius, mode="symmetric")
    footprint = np.ones((size, size), dtype=bool)
    out = rank_median(padded, footprint)[radius : radius + image.shape[0], radius : radius + image.shape[1]]
    return values[out]


def ffa_saliency(image: np.ndarray, median_size: int = 51, gaussian_size: int = 7, a: float = 1.0, *,
                 median: Literal["rank", "scipy"] = "rank", levels: int = MEDIAN_LEVELS) -> np.ndarray:
    """Saliency map ``a * (G(image) - median(image))`` of a grey image (Y, X) or each plane of a stack (..., Y, X).

    Positive where the image is brighter than its local background (vessels, disc, leakage),
    negative where darker. float64 input gives float64, anything else float32. The input is
    never modified.
    """
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8)
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise InvalidInput(f"images of dtype {image.dtype} are not supported")
    if image.ndim < 2 or 0 in image.shape:
        raise InvalidInput(f"expected a non-empty grey image (Y, X) or stack (..., Y, X), got shape {image.shape}")
    if image.ndim == 3 and image.shape[-1] in (3, 4) and image.shape[0] > 4:
        raise InvalidInput(f"ffa_saliency takes grey images; got RGB(A) of shape {image.shape}: pick a channel first")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise InvalidInput("the image contains NaN or infinite values")
    gaussian_size = _check_size("gaussian_size", gaussian_size)
    out_dtype = np.float64 if image.dtype == np.float64 else np.float32
    planes = image.reshape(-1, *image.shape[-2:])
    result = np.empty(planes.shape, out_dtype)
    for index, plane in enumerate(planes):
        smooth = ndimage.gaussian_filter(plane.astype(np.float64), sigma=gaussian_sigma(gaussian_size),
                                         radius=gaussian_size // 2, mode="reflect")
        result[index] = a * (smooth - median_background(plane, median_size, median=median, levels=levels))
    return result.reshape(image.shape)
