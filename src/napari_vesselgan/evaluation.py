"""Measured evaluation of `denoise`: held-out synthetic pairs against classical baselines, and
explainable metrics before/after on real NIR images. The model card and the demo quote these.

Low-light and clean images differ in exposure, so fidelity is measured after scaling: the
clean reference to [0, 1] by its own range, and each candidate (noisy input, baseline, model)
by the least-squares affine fit to it (scale and offset, the normalisation CARE uses), so
that no method is rewarded or punished for its brightness alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage.restoration import denoise_nl_means, estimate_sigma

from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.metrics import explainable_metrics, psnr, ssim

HELD_OUT_SEED_BASE = 1_000_000  # far from the seeds synthetic training draws (see data.unpaired_domains)


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


def nl_means(image: np.ndarray) -> np.ndarray:
    """Non-local means on the image scaled to [0, 1], noise level estimated from the image."""
    unit = to_unit_range(image)
    sigma = float(estimate_sigma(unit))
    return denoise_nl_means(unit, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)


def fidelity(candidate: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of ``candidate`` against ``clean`` after the affine normalisation."""
    reference = to_unit_range(clean)
    fitted = affine_fit(candidate, reference)
    return {"psnr": psnr(reference, fitted, data_range=1.0), "ssim": ssim(reference, fitted, data_range=1.0)}


def summarise(rows: Sequence[dict[str, float]], keys: Sequence[str] = ("psnr", "ssim")) -> dict[str, float]:
    """``<key>_mean`` and ``<key>_std`` over ``rows`` for each of ``keys``."""
    return {f"{key}_{stat}": float(fn([row[key] for row in rows]))
            for key in keys for stat, fn in (("mean", np.mean), ("std", np.std))}


def evaluate_pairs(
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    n_pairs: int = 8,
    size: int = 256,
    seed_base: int = HELD_OUT_SEED_BASE,
    baselines: dict[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Mean and per-pair PSNR/SSIM of the noisy input, each baseline and the model on held-out pairs."""
    baselines = {"non-local means": nl_means} if baselines is None else baselines
    candidates: dict[str, Callable[[np.ndarray], np.ndarray]] = {"noisy input": lambda x: x, **baselines, "model": predict}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in candidates}
    for index in range(n_pairs):
        low, high = lowlight_pair((size, size), seed=seed_base + index)
        for name, fn in candidates.items():
            rows[name].append(fidelity(fn(low), high))
    summary = {name: summarise(values) for name, values in rows.items()}
    return {"n_pairs": n_pairs, "size": size, "seeds": [seed_base, seed_base + n_pairs - 1],
            "summary": summary, "per_pair": rows}


def evaluate_real(predict: Callable[[np.ndarray], np.ndarray], paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The five explainable metrics before and after on real images (no clean reference exists)."""
    from napari_vesselgan.io import read_image

    results = []
    for path in paths:
        image = read_image(path)
        output = predict(image)
        results.append({"image": Path(path).name, "shape": list(image.shape), "dtype": str(image.dtype),
                        "before": explainable_metrics(image), "after": explainable_metrics(output)})
    return results
