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
from typing import TYPE_CHECKING, Any

import numpy as np
from skimage.restoration import denoise_nl_means, estimate_sigma

from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.evaluation.common import (
    HELD_OUT_SEED_BASE,
    RealImagesOptions,
    affine_fit,
    result_head,
    summarise,
    to_unit_range,
)
from napari_vesselgan.metrics import explainable_metrics, psnr, ssim

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method


class Options(RealImagesOptions):
    """`denoise`'s evaluation: held-out pairs, and optionally real images (explainable metrics)."""


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


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/denoise-evaluation.json``'s layout): held-out pairs, and
    ``real`` when ``options.real`` names a folder."""
    result = {**result_head(method), "pairs": evaluate_pairs(method.predict, n_pairs=options.pairs, size=options.size)}
    if options.real is not None:
        result["real"] = evaluate_real(method.predict, options.real_paths())
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean ± std PSNR / SSIM of each candidate, then each real image's metrics before -> after."""
    lines = [f"{'candidate':<18} {'PSNR (dB)':>14} {'SSIM':>14}"]
    for name, row in result["pairs"]["summary"].items():
        lines.append(f"{name:<18} {row['psnr_mean']:8.2f} ± {row['psnr_std']:4.2f} "
                     f"{row['ssim_mean']:8.4f} ± {row['ssim_std']:.4f}")
    for row in result.get("real", []):
        changes = " ".join(f"{k}: {row['before'][k]:.4g} -> {row['after'][k]:.4g}" for k in row["before"])
        lines.append(f"{row['image']} {changes}")
    return lines
