"""Training images from what a user has: arrays, layers' data, folders or files of images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_vesselgan import InvalidInput
from napari_vesselgan.io.readers import RASTER_SUFFIXES, TIFF_SUFFIXES, read_image

IMAGE_SUFFIXES = TIFF_SUFFIXES + RASTER_SUFFIXES  # still images; videos are not training folders


def image_files(folder: str | Path) -> list[Path]:
    """The still images of ``folder`` in name order; InvalidInput when there are none."""
    path = Path(folder)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def load_domain(source: str | Path | np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Images of one training domain from an array, a list of arrays, a folder or an image file."""
    if isinstance(source, np.ndarray):
        return [source]
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            return [read_image(p) for p in image_files(path)]
        if path.is_file():
            return [read_image(path)]
        raise InvalidInput(f"{path}: no such file or folder")
    images = [np.asarray(item) for item in source]
    if not images:
        raise InvalidInput("an empty list of training images was given")
    return images
