"""No-reference "explainable" metrics of one image (docs/methods.md card 4, the denoise paper).

SNR, entropy, edge density, contrast and mean intensity, reported before and after a method
runs. Definitions (the paper's formulas are loose; these are the project's decisions):

* ``snr``: mean of the signal region / standard deviation (population) of the background
  region; regions default to Otsu's split, and either can be given as a mask.
* ``entropy``: Shannon entropy in bits, ``-sum p_i log2 p_i``, of a 256-bin histogram: uint8
  over its 256 grey levels, every other dtype over the image's own [min, max].
* ``edge_density``: fraction of pixels marked by ``skimage.feature.canny(sigma=1.0)`` with
  skimage's default thresholds, on the image rescaled to [0, 1] by its own min/max.
* ``contrast``: RMS contrast, the population standard deviation of the intensities.
* ``mean_intensity``: the mean of the intensities.

Common rules:

* Everything is computed in float64 on copies; inputs are never modified.
* Intensities stay in the image's own units (no silent normalisation), so ``contrast``,
  ``mean_intensity`` and ``snr`` of an 8-bit and a 16-bit copy of one picture differ by the
  scale factor; ``entropy`` of uint8 images depends on how many of the 256 levels are used,
  that of other dtypes on the spread of values within their own range; ``edge_density`` is
  scale-invariant by construction.
* RGB images, shape ``(Y, X, 3)``, are first converted to grey luminance with
  ``skimage.color.rgb2gray``'s weights (0.2125 R + 0.7154 G + 0.0721 B), kept in the image's
  own units (an 8-bit RGB image gives a grey image on 0..255, not 0..1). RGBA ``(Y, X, 4)``:
  the alpha channel is dropped first.
* NaN or infinite values raise ``ValueError``; so does an empty image.
* Bool images count as 0/1 with a range of [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

from .fidelity import _checked, _dtype_span, _is_rgb

from napari_vesselgan import InvalidInput

__all__ = [
    "EXPLAINABLE_METRICS",
    "METRIC_LABELS",
    "snr",
    "entropy",
    "edge_density",
    "contrast",
    "mean_intensity",
    "explainable_metrics",
    "compare_metrics",
]

EXPLAINABLE_METRICS: tuple[str, ...] = ("snr", "entropy", "edge_density", "contrast", "mean_intensity")

METRIC_LABELS: dict[str, str] = {
    "snr": "SNR (signal mean / background std, ratio)",
    "entropy": "Entropy (bits)",
    "edge_density": "Edge density (fraction of pixels)",
    "contrast": "Contrast (RMS, intensity units)",
    "mean_intensity": "Mean intensity (intensity units)",
}


def _grey(image, name: str = "image") -> tuple[np.ndarray, tuple[float, float] | None]:
    """Checked float64 grey copy of ``image`` and the dtype's (low, high) (None for floats)."""
    arr = _checked(image, name)
    span = _dtype_span(arr)
    if _is_rgb(arr):
        from skimage.color import rgb2gray

        # rgb2gray on float64 is a plain weighted sum: no rescaling, so own units are kept
        grey = np.asarray(rgb2gray(arr[..., :3].astype(np.float64)), dtype=np.float64)
    else:
        grey = arr.astype(np.float64)  # always a copy
    return grey, span


def _mask(mask, shape: tuple[int, ...], name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype != bool:
        m = m != 0  # a labels layer: every non-zero label counts
    if m.shape != shape:
        raise InvalidInput(f"{name} mask shape {m.shape} does not match the image's shape {shape}")
    return m


def snr(image, signal=None, background=None) -> float:
    """Signal-to-noise ratio: mean of the signal region / std of the background region.

    ``signal`` and ``background`` are optional masks of the image's shape (for RGB, its
    ``(Y, X)`` shape); a non-bool mask (e.g. a labels layer) counts every non-zero pixel.
    Given only one of them, the other is its complement. Given neither, the regions come from
    Otsu's threshold (``skimage.filters.threshold_otsu``) on the grey image: signal = pixels
    above it, background = the rest. The std is the population std (ddof=0), in the image's own
    units, so the ratio is unitless but not offset-invariant (a dark image with a pedestal
    has a higher SNR than the same image without it).

    Returns ``float("nan")`` instead of raising when the ratio is undefined, so that a metrics
    panel never crashes: a constant image with default regions (Otsu has nothing to split),
    an empty signal or background region, or a zero background std with a zero signal mean.
    A background std of 0 with a non-zero signal mean returns ``inf`` (with the mean's sign).
    """
    grey, _ = _grey(image)
    if signal is None and background is None:
        if grey.min() == grey.max():
            return float("nan")
        from skimage.filters import threshold_otsu

        sig = grey > threshold_otsu(grey)
        bg = ~sig
    else:
        sig = _mask(signal, grey.shape, "signal") if signal is not None else None
        bg = _mask(background, grey.shape, "background") if background is not None else None
        if sig is None:
            sig = ~bg
        if bg is None:
            bg = ~sig
    if not sig.any() or not bg.any():
        return float("nan")
    mean_signal = float(grey[sig].mean())
    std_background = float(grey[bg].std())
    if std_background == 0.0:
        if mean_signal == 0.0:
            return float("nan")
        return math.copysign(float("inf"), mean_signal)
    return mean_signal / std_background


def entropy(image) -> float:
    """Shannon entropy in bits of the grey-level histogram, ``-sum p_i log2 p_i``.

    256 equal bins. uint8 images: one bin per grey level (0..255). Every other dtype: the bins
    span the image's own [min, max] (a 16-bit camera image rarely uses more than a few hundred
    of its 65,536 levels; over the dtype's range they would fall into one or two bins). Bool
    images: 0 and 1 fall into the end bins. A constant image has entropy 0.0. At most 8 bits.
    """
    grey, span = _grey(image)
    if span == (0.0, 255.0):  # uint8: one bin per level
        edges = (0.0, 256.0)
    else:
        low, high = float(grey.min()), float(grey.max())
        if low == high:
            return 0.0
        edges = (low, high)
    counts, _ = np.histogram(grey, bins=256, range=edges)
    p = counts[counts > 0] / grey.size
    return float(max(0.0, -np.sum(p * np.log2(p))))


def edge_density(image) -> float:
    """Fraction of pixels marked as edges by Canny (``skimage.feature.canny``, sigma 1.0).

    The grey image is first rescaled to [0, 1] by its own min and max, then Canny runs with
    skimage's default hysteresis thresholds (0.1 and 0.2 of that range). Rescaling makes the
    metric invariant to the intensity scale, so 8-bit, 16-bit and float copies of one image
    give the same edge density (skimage's defaults otherwise depend on the dtype). A constant
    image returns 0.0. Images with more than two (grey) dimensions are treated as stacks of
    2-D planes over the last two axes, rescaled together; the result is the fraction over all
    planes.
    """
    from skimage.feature import canny

    grey, _ = _grey(image)
    low, high = float(grey.min()), float(grey.max())
    if low == high:
        return 0.0
    if grey.ndim < 2:
        raise InvalidInput(f"edge_density needs a 2-D image (or a stack of them), got shape {grey.shape}")
    scaled = (grey - low) / (high - low)
    planes = scaled.reshape((-1,) + scaled.shape[-2:])
    edges = sum(int(np.count_nonzero(canny(plane, sigma=1.0))) for plane in planes)
    return edges / scaled.size


def contrast(image) -> float:
    """RMS contrast: the population standard deviation (ddof=0) of the intensities.

    In the image's own units (RGB: of the grey luminance), computed in float64.
    """
    grey, _ = _grey(image)
    return float(grey.std())


def mean_intensity(image) -> float:
    """Mean intensity in the image's own units (RGB: of the grey luminance), in float64."""
    grey, _ = _grey(image)
    return float(grey.mean())


def explainable_metrics(image, signal=None, background=None) -> dict[str, float]:
    """All five explainable metrics of one image, keyed in :data:`EXPLAINABLE_METRICS` order:
    ``snr``, ``entropy``, ``edge_density``, ``contrast``, ``mean_intensity``.

    ``signal``/``background`` are passed to :func:`snr` only.
    """
    _checked(image)  # fail once, early, with the plain message
    return {
        "snr": snr(image, signal=signal, background=background),
        "entropy": entropy(image),
        "edge_density": edge_density(image),
        "contrast": contrast(image),
        "mean_intensity": mean_intensity(image),
    }


def _ratio(before: float, after: float) -> float | None:
    if before == 0.0 or not (math.isfinite(before) and math.isfinite(after)):
        return None
    return after / before


def compare_metrics(before, after, signal=None, background=None) -> list[dict]:
    """The explainable metrics of ``before`` and ``after``, one row per metric.

    Rows are ``{"metric", "before", "after", "change", "ratio"}`` in
    :data:`EXPLAINABLE_METRICS` order, with ``change = after - before`` and
    ``ratio = after / before`` (``None`` where that is not meaningful: a zero or non-finite
    ``before``, or a non-finite ``after``). The same ``signal``/``background`` masks, if given,
    are used for both images (so they must both have the masks' shape).

    The definitions are applied as they are to each image: a restoration's input and result
    may have different intensity scales (a dark low-light input, a result mapped back to the
    input's range, or a float result in [0, 1]); nothing is normalised here, so read the
    contrast, mean intensity and SNR changes with the two scales in mind.
    """
    b = explainable_metrics(before, signal=signal, background=background)
    a = explainable_metrics(after, signal=signal, background=background)
    rows = []
    for name in EXPLAINABLE_METRICS:
        vb, va = b[name], a[name]
        change = va - vb  # Python floats: inf - inf is nan, no exception
        rows.append({"metric": name, "before": vb, "after": va, "change": change, "ratio": _ratio(vb, va)})
    return rows
