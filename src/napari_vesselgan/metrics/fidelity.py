"""Full-reference fidelity metrics: PSNR, SSIM and RMSE.

All three compare an ``image`` against a ``reference`` of the same shape. They are computed in
float64 on copies, so the inputs are never modified and integer images do not overflow.

Data range (``data_range=None``), taken from the *reference*:

* integer images: the dtype's full range, ``iinfo.max - iinfo.min`` (uint8 255, uint16 65535,
  int16 65535);
* bool images: 1;
* float images: ``reference.max() - reference.min()``; a constant reference (range 0) falls
  back to 1.0.

RGB images are arrays of shape ``(Y, X, 3)`` (RGBA ``(Y, X, 4)`` likewise, alpha included):
PSNR and RMSE average over all channels, SSIM is computed per channel and averaged
(``channel_axis=-1``).
"""

from __future__ import annotations

import math

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = ["psnr", "ssim", "rmse"]


# --------------------------------------------------------------------------------------------
# shared checks (also used by metrics.explainable)


def _checked(image, name: str = "image") -> np.ndarray:
    """Return ``image`` as a numpy array after checking it is non-empty, real and finite.

    Raises ``ValueError`` naming ``name`` and the problem (NaN, infinite values, empty array,
    complex or non-numeric data). Never copies unless ``np.asarray`` has to.
    """
    arr = np.asarray(image)
    if arr.size == 0:
        raise InvalidInput(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind == "c":
        raise InvalidInput(f"{name} is complex ({arr.dtype}); metrics need real intensities")
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(f"{name} has a non-numeric dtype ({arr.dtype})")
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise InvalidInput(f"{name} contains NaN values")
        if np.isinf(arr).any():
            raise InvalidInput(f"{name} contains infinite values")
    return arr


def _is_rgb(arr: np.ndarray) -> bool:
    """An RGB image is (Y, X, 3); RGBA (Y, X, 4) counts as colour too."""
    return arr.ndim == 3 and arr.shape[-1] in (3, 4)


def _dtype_span(arr: np.ndarray) -> tuple[float, float] | None:
    """(low, high) of the dtype for integer and bool arrays, None for floats."""
    if arr.dtype.kind == "b":
        return 0.0, 1.0
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        return float(info.min), float(info.max)
    return None


def _data_range(reference: np.ndarray) -> float:
    """Default data range, from the reference (see the module docstring)."""
    span = _dtype_span(reference)
    if span is not None:
        return span[1] - span[0]
    ref = reference.astype(np.float64, copy=False)
    value = float(ref.max() - ref.min())
    return value if value > 0 else 1.0


def _pair(reference, image) -> tuple[np.ndarray, np.ndarray]:
    ref = _checked(reference, "reference")
    img = _checked(image, "image")
    if ref.shape != img.shape:
        raise InvalidInput(f"reference and image shapes differ: reference {ref.shape}, image {img.shape}")
    return ref, img


def _resolve_range(ref: np.ndarray, data_range) -> float:
    if data_range is None:
        return _data_range(ref)
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"data_range must be a positive finite number, got {data_range!r}")
    return value


# --------------------------------------------------------------------------------------------


def rmse(reference, image) -> float:
    """Root mean squared error between ``reference`` and ``image``, in the images' own units.

    ``sqrt(mean((reference - image) ** 2))`` in float64 over every pixel (and channel).
    Shapes must match (``ValueError`` naming both otherwise); NaN or infinite values raise
    ``ValueError``.
    """
    ref, img = _pair(reference, image)
    diff = ref.astype(np.float64) - img.astype(np.float64)
    return float(np.sqrt(np.mean(diff * diff)))


def psnr(reference, image, data_range=None) -> float:
    """Peak signal-to-noise ratio in dB: ``10 * log10(data_range**2 / MSE)``.

    Uses ``skimage.metrics.peak_signal_noise_ratio`` on float64 copies with an explicit
    ``data_range``. ``data_range=None`` takes it from the reference: the dtype's range
    (``iinfo.max - iinfo.min``) for integer images, ``max - min`` of the reference for floats
    (1.0 if the reference is constant). Note skimage's own default differs for signed integers
    (it uses ``iinfo.max`` when the reference has no negative values); ours is always the full
    dtype range.

    Identical images (MSE 0) return ``float("inf")``.

    Raises ``ValueError`` for mismatched shapes, NaN/inf values or a non-positive data_range.
    """
    from skimage.metrics import peak_signal_noise_ratio

    ref, img = _pair(reference, image)
    dr = _resolve_range(ref, data_range)
    ref64 = ref.astype(np.float64)
    img64 = img.astype(np.float64)
    if np.array_equal(ref64, img64):
        return float("inf")
    return float(peak_signal_noise_ratio(ref64, img64, data_range=dr))


def ssim(reference, image, data_range=None) -> float:
    """Structural similarity index (Wang et al. 2004), mean over the image.

    Exactly ``skimage.metrics.structural_similarity(reference, image, data_range=...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, K1=0.01, K2=0.03)`` on
    float64 copies: an 11x11 Gaussian window of sigma 1.5 and population (not sample)
    covariance, as in the paper. (skimage's *default* call uses a 7x7 uniform window and sample
    covariance, which gives different numbers.) RGB ``(Y, X, 3)`` images are compared per
    channel with ``channel_axis=-1`` and averaged.

    ``data_range=None`` as for :func:`psnr`: the dtype's range for integer references,
    ``max - min`` of the reference for floats (1.0 if constant).

    Each spatial side must be at least 11 pixels (the window); smaller images raise
    ``ValueError``, as do mismatched shapes and NaN/inf values.
    """
    from skimage.metrics import structural_similarity

    ref, img = _pair(reference, image)
    dr = _resolve_range(ref, data_range)
    rgb = _is_rgb(ref)
    spatial = ref.shape[:-1] if rgb else ref.shape
    if min(spatial) < 11:
        raise InvalidInput(
            f"ssim needs every spatial side >= 11 pixels (Gaussian window, sigma 1.5); got shape {ref.shape}"
        )
    value = structural_similarity(
        ref.astype(np.float64),
        img.astype(np.float64),
        data_range=dr,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        K1=0.01,
        K2=0.03,
        channel_axis=-1 if rgb else None,
    )
    return float(value)
