"""Intensity mapping between user images (any dtype and range) and the networks' [-1, 1].

Every image is scaled by its own finite minimum and maximum, in training and in prediction
alike, so a dark 16-bit low-light frame and a bright 8-bit one look the same to a network.
Restoration results go back to the input's range and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_vesselgan import InvalidInput

#: Values mapped back at a time by ``IntensityRange.from_network`` (bounded temporaries).
FROM_NETWORK_BLOCK = 1 << 22


@dataclass(frozen=True)
class IntensityRange:
    """The range an image was scaled from, and its dtype, to map results back."""

    low: float
    high: float
    dtype: np.dtype

    @property
    def span(self) -> float:
        return self.high - self.low if self.high > self.low else 1.0

    def to_network(self, image: np.ndarray) -> np.ndarray:
        """float32 in [-1, 1] (a constant image becomes -1)."""
        return ((np.asarray(image, np.float32) - self.low) / self.span * 2.0 - 1.0).astype(np.float32, copy=False)

    def from_network(self, output: np.ndarray, *, clip_to_range: bool = True) -> np.ndarray:
        """Back to this range and dtype (integers rounded); clipped to the range unless
        ``clip_to_range`` is False, and always to an integer dtype's limits. Works through
        ``FROM_NETWORK_BLOCK`` values at a time, so that the float64 temporaries of a large image
        (8192 x 8192: 512 MiB each) stay small."""
        output = np.asarray(output)
        result = np.empty(output.shape, self.dtype)
        values, target = output.reshape(-1), result.reshape(-1)
        for start in range(0, values.size, FROM_NETWORK_BLOCK):
            unit = (values[start : start + FROM_NETWORK_BLOCK].astype(np.float64) + 1.0) / 2.0
            if clip_to_range:
                unit = np.clip(unit, 0.0, 1.0)
            target[start : start + FROM_NETWORK_BLOCK] = cast_like(self.low + unit * (self.high - self.low), self.dtype)
        return result


def cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` in ``dtype``: rounded and clipped to an integer dtype's limits, or just cast."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return np.asarray(values).astype(dtype, copy=False)


def intensity_range(image) -> IntensityRange:
    """Finite min and max of ``image`` (numpy or dask); raises on NaN/inf or an empty image."""
    if 0 in image.shape:
        raise InvalidInput(f"the image is empty (shape {tuple(image.shape)})")
    low, high = image.min(), image.max()
    if hasattr(low, "compute"):
        import dask

        low, high = dask.compute(low, high)
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InvalidInput("the image contains NaN or infinite values; replace them before processing")
    return IntensityRange(low, high, np.dtype(image.dtype))


def to_unit(image: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] by the image's own range (training data)."""
    return intensity_range(image).to_network(image)
