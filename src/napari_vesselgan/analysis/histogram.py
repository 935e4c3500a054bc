"""Intensity histograms of images in their own units (the "Histograms" panel of the compare dock)."""

from __future__ import annotations

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = ["intensity_histogram"]


def intensity_histogram(image, bins: int = 256, *, rgb: bool = False,
                        value_range: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the finite values of ``image``.

    Colour images (``rgb=True``, last axis 3 or 4) give ``counts`` of shape (C, bins), one row
    per channel (alpha included); grey images (bins,). ``value_range`` defaults to the finite
    min..max of the image (a constant image gets a unit-wide range around its value), so
    integer and float images alike are shown on their own scale.
    """
    arr = np.asarray(image)
    if arr.size == 0:
        raise InvalidInput(f"the image is empty (shape {arr.shape})")
    if arr.dtype.kind not in "biuf":
        raise InvalidInput(f"cannot histogram a {arr.dtype} image")
    values = arr.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InvalidInput("the image has no finite values")
    if value_range is None:
        low, high = float(finite.min()), float(finite.max())
        if low == high:
            low, high = low - 0.5, high + 0.5
        value_range = (low, high)
    if rgb:
        channels = values.reshape(-1, values.shape[-1])
        counts = []
        for c in range(channels.shape[1]):
            column = channels[:, c]
            counts.append(np.histogram(column[np.isfinite(column)], bins=bins, range=value_range)[0])
        edges = np.histogram_bin_edges(finite, bins=bins, range=value_range)
        return np.stack(counts), edges
    counts, edges = np.histogram(finite, bins=bins, range=value_range)
    return counts, edges
