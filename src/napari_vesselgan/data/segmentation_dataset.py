"""Masks -> (synthetic NIR-II image, mask) pairs for training a segmentation model (mask2nir's purpose).

Each mask gives ``per_mask`` pairs: the first from the mask as it is (unless ``augment_first``),
the others from randomly augmented copies (flips, rotations, elastic deformation,
``data.mask_augment``), each translated by `mask2nir`. Written as

    OUT/images/<stem>_<k>.tif   synthetic NIR-II image (uint16 full range by default, or float32 [0, 1])
    OUT/masks/<stem>_<k>.tif    the mask it was made from, uint8 {0, 1}
    OUT/pairs.json              provenance: method, weights, augmentation, seed, and every pair

the layout most segmentation trainers read (same file names in two folders). Every file is
written atomically; a cancelled run leaves only complete pairs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.mask_augment import MaskAugmentation, augment_mask
from napari_vesselgan.io.atomic import atomic_path
from napari_vesselgan.io.writers import write_image

ProgressFn = Callable[[int, int], None]


class Cancelled(Exception):
    """Raised when ``should_stop`` says so between two pairs."""


def _as_image(result: np.ndarray, image_dtype: str) -> np.ndarray:
    if image_dtype == "float32":
        return result.astype(np.float32)
    if image_dtype == "uint16":
        return np.rint(np.clip(result, 0, 1) * 65535).astype(np.uint16)
    if image_dtype == "uint8":
        return np.rint(np.clip(result, 0, 1) * 255).astype(np.uint8)
    raise InvalidInput(f"unknown image dtype {image_dtype!r}; use uint16, uint8 or float32")


def synthesize_pairs(
    masks: Sequence[tuple[str, np.ndarray]],
    output: str | Path,
    translate: Callable[[np.ndarray], np.ndarray],
    *,
    per_mask: int = 1,
    augmentation: MaskAugmentation | None = MaskAugmentation(),
    augment_first: bool = False,
    seed: int = 0,
    image_dtype: Literal["uint16", "uint8", "float32"] = "uint16",
    provenance: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, str]]:
    """Write ``per_mask`` (image, mask) pairs per named 2-D mask; returns the pairs written.

    ``translate`` maps a uint8 {0, 1} mask to a float image in [0, 1] (``Mask2NirMethod.predict``).
    ``augmentation=None`` repeats nothing: then ``per_mask`` must be 1.
    """
    if per_mask < 1:
        raise InvalidInput(f"per_mask must be at least 1, got {per_mask}")
    if augmentation is None and (per_mask > 1 or augment_first):
        raise InvalidInput("several images per mask need augmentation (flips, rotations, elastic deformation)")
    if not masks:
        raise InvalidInput("no masks were given")
    _as_image(np.zeros(1), image_dtype)  # check the dtype before any work
    for name, mask in masks:
        if np.asarray(mask).ndim != 2:
            raise InvalidInput(f"mask {name!r} has shape {np.shape(mask)}; 2-D masks are needed")
    output = Path(output)
    (output / "images").mkdir(parents=True, exist_ok=True)
    (output / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pairs: list[dict[str, str]] = []
    total, done = len(masks) * per_mask, 0
    try:
        for name, mask in masks:
            base = (np.asarray(mask) != 0).astype(np.uint8)
            for k in range(per_mask):
                if should_stop is not None and should_stop():
                    raise Cancelled
                augmented = k > 0 or augment_first
                current = augment_mask(base, rng, augmentation) if augmented else base
                image = _as_image(translate(current), image_dtype)
                stem = f"{Path(name).stem}_{k}"
                write_image(output / "images" / f"{stem}.tif", image)
                write_image(output / "masks" / f"{stem}.tif", current)
                pairs.append({"image": f"images/{stem}.tif", "mask": f"masks/{stem}.tif", "source": str(name),
                              "augmented": augmented})
                done += 1
                if progress is not None:
                    progress(done, total)
    finally:
        record = {"pairs": pairs, "per_mask": per_mask, "seed": seed, "image_dtype": image_dtype,
                  "augmentation": augmentation.describe() if augmentation else None,
                  "augment_first": augment_first, "complete": done == total, **(provenance or {})}
        with atomic_path(output / "pairs.json") as tmp:
            tmp.write_text(json.dumps(record, indent=2, default=str))
    return pairs


def read_masks(folder: str | Path) -> list[tuple[str, np.ndarray]]:
    """(file name, mask) of every image in ``folder``, sorted by name; 2-D masks only."""
    from napari_vesselgan.data.sources import IMAGE_SUFFIXES
    from napari_vesselgan.io import read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput(f"{folder}: no mask images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return [(p.name, read_image(p)) for p in files]
