"""What every method's evaluation shares: the held-out seeds, exposure normalisation,
mean / std summaries, the result's head and the options every evaluation takes.

Held-out data are synthetic samples drawn from seeds no training run uses, so they are never
seen in training; each family of generators has its own base, listed here in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method

#: denoise, superres and mask2nir (whose trees add 4000): synthetic training draws its seeds
#: below this (data.nir.TRAINING_SEED_LIMIT, data.unpaired_domains).
HELD_OUT_SEED_BASE = 1_000_000
#: fundus2ffa's held-out fundus / FFA pairs (training pairs use config.seed + 0 .. n - 1).
FUNDUS2FFA_HELD_OUT_SEED_BASE = 5_000_000
#: fundus2video's held-out fundus photos and videos (training videos use config.seed + 0 .. n - 1).
FUNDUS2VIDEO_HELD_OUT_SEED_BASE = 6_000_000


class EvaluationOptions(BaseModel):
    """Settings every method's evaluation takes; each method's ``Options`` adds its own fields."""

    model_config = ConfigDict(extra="forbid")

    pairs: int = Field(8, ge=1, description="held-out synthetic pairs (fundus2video: videos)")
    size: int = Field(256, ge=16, description="side of each held-out image in pixels")


class RealImagesOptions(EvaluationOptions):
    """Evaluation options with an optional folder of real images (denoise, superres)."""

    real: Path | None = Field(None, description="folder of real images for the explainable metrics")
    real_glob: str = Field("*.png", description="file-name pattern of the real images in that folder")

    @model_validator(mode="after")
    def _pattern_needs_a_folder(self) -> RealImagesOptions:
        if self.real is None and "real_glob" in self.model_fields_set:
            raise ValueError("real_glob (--real-glob) applies with a folder of real images (--real)")
        return self

    def real_paths(self) -> list[Path]:
        """The real images to evaluate, sorted by name; none without ``real``."""
        return sorted(Path(self.real).glob(self.real_glob)) if self.real is not None else []


def result_head(method: Method, *, provenance: bool = False) -> dict[str, Any]:
    """The first keys of a result: the method's name, its weights (and their provenance)."""
    head: dict[str, Any] = {"method": method.name, "weights": str(method.weights)}
    if provenance:
        head["provenance"] = method.provenance
    return head


def to_unit_range(image: np.ndarray) -> np.ndarray:
    """float64 scaled to [0, 1] by the image's own min and max."""
    image = np.asarray(image, np.float64)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def affine_fit(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``a * candidate + b`` with a, b minimising the squared error to ``reference``."""
    x = np.asarray(candidate, np.float64).ravel()
    design = np.stack([x, np.ones_like(x)], 1)
    (a, b), *_ = np.linalg.lstsq(design, np.asarray(reference, np.float64).ravel(), rcond=None)
    return a * np.asarray(candidate, np.float64) + b


def statistics(rows: Sequence[dict[str, Any]], keys: Sequence[str], *,
               ignore_nan: bool = False) -> dict[str, dict[str, float]]:
    """``{key: {"mean": ..., "std": ...}}`` over ``rows`` for each of ``keys``; ``ignore_nan``
    leaves NaNs out (a case with nothing to measure) instead of spreading them."""
    mean, std = (np.nanmean, np.nanstd) if ignore_nan else (np.mean, np.std)
    out = {}
    for key in keys:
        values = [row[key] for row in rows]
        out[key] = {"mean": float(mean(values)), "std": float(std(values))}
    return out


def summarise(rows: Sequence[dict[str, float]], keys: Sequence[str] = ("psnr", "ssim")) -> dict[str, float]:
    """``<key>_mean`` and ``<key>_std`` over ``rows`` for each of ``keys`` (the flat form of :func:`statistics`)."""
    return {f"{key}_{stat}": value for key, stats in statistics(rows, keys).items() for stat, value in stats.items()}


def mean_std_line(summary: dict[str, Any]) -> str:
    """``key: mean ± std`` of each ``{"mean", "std"}`` entry of ``summary``, on one line."""
    return " ".join(f"{key}: {row['mean']:.4f} ± {row['std']:.4f}" for key, row in summary.items()
                    if isinstance(row, dict) and "mean" in row)
