"""The Fundus2Video knowledge mask: where an FFA series changes most between its first and last frame.

M = 1[|first - last| > threshold] on a 0-255 scale (Fundus2Video, Sec. 2.2; threshold 45 as
the paper chose). Regions that change from the arterial to the late phase are where dye
leaks (lesions) or fills late (veins, disc), the regions the method weights its losses by.

Frames on other scales are brought to 0-255 first, both with one mapping so that their
difference keeps its meaning: uint8 as it is; other integer dtypes by their dtype's range
(a 16-bit frame's 65535 is 255); floats within [0, 1] times 255; other floats by the joint
min..max of the two frames. Colour frames (Y, X, 3) use the green channel, as FFA
cameras record fluorescein in green (the authors' code reads the green channel too).
"""

from __future__ import annotations

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = ["knowledge_mask", "to_255"]


def _frame(array, name: str) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InvalidInput(f"the {name} frame must be an integer or float image, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        a = a[..., 1]
    if a.ndim != 2:
        raise InvalidInput(f"the {name} frame must be a 2-D image (Y, X) or colour (Y, X, 3), got shape {a.shape}")
    if 0 in a.shape:
        raise InvalidInput(f"the {name} frame is empty (shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise InvalidInput(f"the {name} frame contains NaN or infinite values")
    return a


def to_255(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as float32 on the 0-255 scale, by one mapping (see the module docstring)."""
    if first.dtype != last.dtype:
        raise InvalidInput(f"the first and last frames have different dtypes ({first.dtype}, {last.dtype})")
    if first.dtype == np.uint8:
        return first.astype(np.float32), last.astype(np.float32)
    if np.issubdtype(first.dtype, np.integer):
        info = np.iinfo(first.dtype)
        low, span = float(info.min), float(info.max) - float(info.min)
    else:
        low = float(min(first.min(), last.min()))
        high = float(max(first.max(), last.max()))
        if low >= 0.0 and high <= 1.0:
            low, span = 0.0, 1.0
        else:
            span = high - low if high > low else 1.0
    scale = 255.0 / span
    return ((first.astype(np.float64) - low) * scale).astype(np.float32), ((last.astype(np.float64) - low) * scale).astype(np.float32)


def knowledge_mask(first, last, threshold: float = 45) -> np.ndarray:
    """bool (Y, X): True where |first - last| > ``threshold`` on the 0-255 scale."""
    a, b = _frame(first, "first"), _frame(last, "last")
    if a.shape != b.shape:
        raise InvalidInput(f"the first and last frames differ in shape: {a.shape} and {b.shape}")
    a, b = to_255(a, b)
    return np.abs(a - b) > float(threshold)
