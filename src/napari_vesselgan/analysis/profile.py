"""Line profiles: the intensity along a drawn line, the way the super-resolution paper judges
its results (fluorescence across vessels, docs/methods.md card 2).

:func:`sample_points` spaces samples one unit apart along a polyline (the last sample lands on
the last vertex); :func:`line_profile` reads an image at such points with linear
interpolation (``scipy.ndimage.map_coordinates``, order 1; points outside the image read as
NaN, so a line that leaves the image shows a gap rather than invented values). Coordinates are
``(row, column)`` in the image's pixel grid: callers map world coordinates (a napari shapes
layer) into each image's own grid first, so layers of different scale share one distance axis.
"""

from __future__ import annotations

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = ["sample_points", "line_profile"]


def sample_points(vertices, spacing: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(distance, points)`` along the polyline ``vertices`` (N >= 2 rows of coordinates).

    ``distance`` (K,) runs from 0 to the polyline's length, ``points`` (K, D) are the positions;
    samples are ``spacing`` apart (the last one at the end, possibly closer). A zero-length line
    gives one sample.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 2:
        raise InvalidInput(f"a line needs at least two vertices, got an array of shape {v.shape}")
    if not np.isfinite(v).all():
        raise InvalidInput("the line's vertices contain NaN or infinite values")
    if spacing <= 0:
        raise InvalidInput(f"spacing must be positive, got {spacing}")
    steps = np.linalg.norm(np.diff(v, axis=0), axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    length = float(cumulative[-1])
    if length == 0.0:
        return np.zeros(1), v[:1].copy()
    count = int(np.floor(length / spacing)) + 1
    distance = np.arange(count) * spacing
    if distance[-1] < length - 1e-9:
        distance = np.append(distance, length)
    points = np.stack([np.interp(distance, cumulative, v[:, axis]) for axis in range(v.shape[1])], axis=1)
    return distance, points


def line_profile(image, points, *, rgb: bool = False) -> np.ndarray:
    """Values of the 2-D ``image`` (or ``(Y, X, C)`` with ``rgb=True``) at ``points`` (K, 2),
    ``(row, column)``, by linear interpolation; float64 of shape (K,) or (K, C). Points more
    than half a pixel outside the image are NaN."""
    from scipy.ndimage import map_coordinates

    arr = np.asarray(image)
    if arr.ndim != (3 if rgb else 2):
        raise InvalidInput(f"line_profile needs a 2-D {'colour ' if rgb else ''}image, got shape {arr.shape}")
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise InvalidInput(f"points must be (K, 2) row/column pairs, got shape {pts.shape}")
    rows, cols = arr.shape[0], arr.shape[1]
    inside = (pts[:, 0] >= -0.5) & (pts[:, 0] <= rows - 0.5) & (pts[:, 1] >= -0.5) & (pts[:, 1] <= cols - 0.5)
    coords = pts.T
    planes = [arr[..., c] for c in range(arr.shape[-1])] if rgb else [arr]
    values = np.stack(
        [map_coordinates(p.astype(np.float64), coords, order=1, mode="nearest") for p in planes], axis=-1
    )
    values[~inside] = np.nan
    return values if rgb else values[:, 0]
