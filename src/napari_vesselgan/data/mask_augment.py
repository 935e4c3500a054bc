"""Random augmentation of binary vessel masks: flips, rotations and elastic deformation.

Used to draw several different masks (hence several synthetic NIR-II images) from one
annotated mask. One resampling does the rotation and the elastic deformation together (the
mask is interpolated linearly and thresholded at 0.5, which keeps vessel edges smooth
instead of the staircase nearest-neighbour resampling leaves). Reproducible from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_vesselgan import InvalidInput


@dataclass(frozen=True)
class MaskAugmentation:
    """What :func:`augment_mask` may do; each part is drawn at random per call."""

    flips: bool = True
    rotations: bool = True
    max_angle: float = 180.0       # degrees; rotations by a uniform angle in [-max_angle, max_angle]
    elastic_alpha: float = 8.0     # largest displacement in px (0: no elastic deformation)
    elastic_sigma: float = 12.0    # smoothness of the displacement field in px

    def describe(self) -> dict[str, float | bool]:
        return {"flips": self.flips, "rotations": self.rotations, "max_angle": self.max_angle,
                "elastic_alpha": self.elastic_alpha, "elastic_sigma": self.elastic_sigma}


def augment_mask(mask: np.ndarray, rng: np.random.Generator,
                 augmentation: MaskAugmentation = MaskAugmentation()) -> np.ndarray:
    """A randomly flipped, rotated and elastically deformed copy of a 2-D mask, uint8 {0, 1}, same shape."""
    binary = np.asarray(mask) != 0
    if binary.ndim != 2:
        raise InvalidInput(f"expected a 2-D mask, got shape {binary.shape}")
    if augmentation.flips:
        if rng.random() < 0.5:
            binary = binary[::-1]
        if rng.random() < 0.5:
            binary = binary[:, ::-1]
    height, width = binary.shape
    yy, xx = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    coords_y, coords_x = yy.copy(), xx.copy()
    moved = False
    if augmentation.rotations and augmentation.max_angle > 0:
        angle = np.deg2rad(rng.uniform(-augmentation.max_angle, augmentation.max_angle))
        cos, sin = np.cos(angle), np.sin(angle)
        coords_y = cy + cos * (yy - cy) - sin * (xx - cx)
        coords_x = cx + sin * (yy - cy) + cos * (xx - cx)
        moved = True
    if augmentation.elastic_alpha > 0:
        for coords in (coords_y, coords_x):
            field = ndimage.gaussian_filter(rng.uniform(-1, 1, (height, width)), augmentation.elastic_sigma)
            field *= augmentation.elastic_alpha / max(float(np.abs(field).max()), 1e-12)
            coords += field
        moved = True
    if not moved:
        return np.ascontiguousarray(binary, dtype=np.uint8)
    warped = ndimage.map_coordinates(binary.astype(np.float32), [coords_y, coords_x], order=1, mode="reflect")
    return (warped >= 0.5).astype(np.uint8)
