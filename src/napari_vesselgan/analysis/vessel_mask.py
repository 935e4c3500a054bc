"""Vessel-mask extraction from a NIR-II or FFA image: vesselness filter, threshold, clean-up.

The mask is a starting point an annotator then refines (napari Labels layer), and the
content domain of `mask2nir`. Steps:

1. The image is scaled to [0, 1] by its own range (any dtype; NaN refused).
2. A multi-scale Hessian vesselness filter (``sato`` by default, or ``frangi``, scikit-image)
   over ``sigmas`` (px, about the vessel radii), for bright vessels on a dark background (NIR-II,
   FFA); ``dark_vessels=True`` for colour fundus photos (vessels darker than the retina).
3. A threshold on the vesselness: Otsu's (default), or a fixed fraction of its maximum.
4. Clean-up: connected components smaller than ``min_size`` px removed, holes of at most
   ``max_hole`` px filled.

Stacks (..., Y, X) are filtered plane by plane (vessels are judged in 2-D, as an annotator
paints), with one Otsu threshold over the whole stack so that planes are treated alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from skimage import filters, morphology

from napari_vesselgan import InvalidInput

VesselnessFilter = Literal["sato", "frangi"]


def _unit(image: np.ndarray) -> np.ndarray:
    values = np.asarray(image, np.float64)
    if values.size == 0:
        raise InvalidInput("the image is empty")
    if not np.isfinite(values).all():
        raise InvalidInput("the image contains NaN or infinite values; replace them first")
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def vesselness(image: np.ndarray, *, sigmas: Sequence[float] = (0.5, 1.0, 2.0),
               method: VesselnessFilter = "sato", dark_vessels: bool = False) -> np.ndarray:
    """Multi-scale Hessian vesselness of a grey 2-D image or each plane of a stack, float32 >= 0."""
    array = np.asarray(image)
    if array.ndim < 2:
        raise InvalidInput(f"expected a 2-D image or a stack of them, got shape {array.shape}")
    if array.ndim == 3 and array.shape[-1] in (3, 4) and array.shape[0] > 4:
        raise InvalidInput("vessel-mask extraction takes a grey image; pick one channel first "
                         "(the green channel for colour fundus photos)")
    if not sigmas or min(sigmas) <= 0:
        raise InvalidInput("sigmas must be positive")
    if method not in ("sato", "frangi"):
        raise InvalidInput(f"unknown vesselness filter {method!r}; use 'sato' or 'frangi'")
    unit = _unit(array)
    planes = unit.reshape(-1, *unit.shape[-2:])
    out = np.empty(planes.shape, np.float32)
    for index, plane in enumerate(planes):
        if method == "sato":
            response = filters.sato(plane, sigmas=sigmas, black_ridges=dark_vessels, mode="reflect")
        else:
            response = filters.frangi(plane, sigmas=sigmas, black_ridges=dark_vessels, mode="reflect")
        out[index] = np.clip(response, 0, None)
    return out.reshape(unit.shape)


def extract_vessel_mask(image: np.ndarray, *, sigmas: Sequence[float] = (0.5, 1.0, 2.0),
                        method: VesselnessFilter = "sato", dark_vessels: bool = False,
                        threshold: float | Literal["otsu"] = "otsu", min_size: int = 64,
                        max_hole: int = 16) -> np.ndarray:
    """A binary vessel mask (bool, the image's shape) from vesselness, threshold and clean-up.

    ``threshold``: ``"otsu"`` or a fraction (0, 1) of the largest vesselness response.
    The input is never modified.
    """
    response = vesselness(image, sigmas=sigmas, method=method, dark_vessels=dark_vessels)
    top = float(response.max())
    if top <= 0:
        return np.zeros(response.shape, bool)
    if threshold == "otsu":
        level = float(filters.threshold_otsu(response))
    else:
        if not 0 < float(threshold) < 1:
            raise InvalidInput(f"threshold must be 'otsu' or a fraction in (0, 1), got {threshold!r}")
        level = float(threshold) * top
    mask = response > level
    planes = mask.reshape(-1, *mask.shape[-2:])
    for index in range(len(planes)):
        plane = planes[index]
        if min_size > 0:
            plane = morphology.remove_small_objects(plane, max_size=min_size - 1) if _has_max_size() else \
                morphology.remove_small_objects(plane, min_size=min_size)
        if max_hole > 0:
            plane = morphology.remove_small_holes(plane, max_size=max_hole) if _has_max_size() else \
                morphology.remove_small_holes(plane, area_threshold=max_hole + 1)
        planes[index] = plane
    return planes.reshape(mask.shape)


def _has_max_size() -> bool:
    """scikit-image 0.26 renamed min_size/area_threshold to max_size; use whichever this one has."""
    import inspect

    return "max_size" in inspect.signature(morphology.remove_small_objects).parameters


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A and B| / (|A| + |B|) of two binary masks (1.0 when both are empty)."""
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    if a.shape != b.shape:
        raise InvalidInput(f"masks differ in shape: {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total
