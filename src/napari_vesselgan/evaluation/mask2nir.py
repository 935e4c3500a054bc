"""Measured evaluation of `mask2nir` on held-out synthetic masks. The model card quotes these.

The synthetic data are secretly paired: each NIR-II image is rendered from a known tree whose
mask we have. For held-out trees (seeds from ``HELD_OUT_SEED_BASE + 4000``, never used in
training) we translate the mask and compare the result with the rendered image (scaled to
[0, 1] by its own range), by PSNR and SSIM on a [0, 1] scale, as produced ("raw") and after the
least-squares affine fit to the reference ("fitted"; brightness and contrast do not count).
The rendered image also carries camera noise and a random tissue background that no mask
determines, so the noise-free rendering (``clean_nir``) is a second reference.
Baselines: the mask itself, and the mask blurred by the renderer's point-spread function.

``realism_statistics`` compares a generated image with a real one (issue 13): intensity
histogram distance, power-spectrum slope, vessel-to-background contrast, noise level, SSIM, and
the Dice of the vessel mask extracted from the generated image against the input mask
(benchmarks/bench_nir_realism.py, the model card's real-image figures, tests/test_bundled_weights.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from scipy import ndimage

from napari_vesselgan.data import clean_nir, render_nir, vessel_tree
from napari_vesselgan.evaluation.common import (
    HELD_OUT_SEED_BASE,
    EvaluationOptions,
    affine_fit,
    summarise,
    to_unit_range,
)
from napari_vesselgan.metrics import psnr, ssim

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method


class Options(EvaluationOptions):
    """`mask2nir`'s evaluation: the weights, and any others to compare, on the same held-out masks."""

    compare: list[Path] = Field(
        [], description="also evaluate these weights (e.g. a plain CycleGAN) on the same masks")


#: The first held-out tree seed of mask2nir's evaluation.
MASK2NIR_SEED_BASE = HELD_OUT_SEED_BASE + 4000


def held_out_case(index: int, size: int, seed_base: int = MASK2NIR_SEED_BASE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask uint8, rendered NIR-II in [0, 1], noise-free rendering in [0, 1]) of held-out tree ``index``."""
    seed = seed_base + index
    tree = vessel_tree((size, size), seed)
    return tree.mask.astype(np.uint8), to_unit_range(render_nir(tree, seed)), to_unit_range(clean_nir(tree, seed))


def _scores(candidate: np.ndarray, rendered: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    out = {}
    for ref_name, reference in (("rendered", rendered), ("clean", clean)):
        for fit_name, image in (("raw", np.clip(candidate, 0, 1)), ("fitted", affine_fit(candidate, reference))):
            out[f"psnr_{fit_name}_{ref_name}"] = psnr(reference, image, data_range=1.0)
            out[f"ssim_{fit_name}_{ref_name}"] = ssim(reference, image, data_range=1.0)
    return out


def evaluate_mask2nir(candidates: dict[str, Callable[[np.ndarray], np.ndarray]], *, n_pairs: int = 16,
                      size: int = 256, seed_base: int = MASK2NIR_SEED_BASE) -> dict[str, Any]:
    """Per-case and summary scores of each candidate (name -> mask-to-image function) and the baselines."""
    everyone = {
        "mask (baseline)": lambda mask: mask.astype(np.float64),
        "blurred mask (baseline)": lambda mask: ndimage.gaussian_filter(mask.astype(np.float64), 1.5),
        **candidates,
    }
    cases = []
    for index in range(n_pairs):
        mask, rendered, clean = held_out_case(index, size, seed_base)
        cases.append({name: _scores(np.asarray(fn(mask), np.float64), rendered, clean) for name, fn in everyone.items()})
    summary = {name: summarise([case[name] for case in cases], list(cases[0][name])) for name in everyone}
    return {"n_pairs": n_pairs, "size": size, "seed_base": seed_base, "cases": cases,
            "summary": summary}


def candidate_name(method: Method, taken: dict[str, Any]) -> str:
    """The name a mask2nir checkpoint goes by in a result: plain CycleGAN or attention-guided (by
    its recorded feature losses), with the weights' file name added where two would clash."""
    losses = method.provenance.get("feature_losses", "unknown feature losses")
    if "paired L1" in method.provenance.get("training_data", ""):
        name = "mask2nir, real images (CycleGAN + paired L1)"
    elif losses.startswith("off"):
        name = "mask2nir, plain CycleGAN"
    else:
        name = f"mask2nir, attention-guided ({losses})"
    return name if name not in taken else f"{name} [{method.weights.name}]"


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/mask2nir-evaluation.json``'s layout): ``method`` and each of
    ``options.compare`` (loaded here, on the same device) against the baselines."""
    from napari_vesselgan import methods

    loaded = [method, *(methods.load("mask2nir", weights=w, device=str(method.device)) for w in options.compare)]
    candidates, weights = {}, {}
    for each in loaded:
        name = candidate_name(each, candidates)
        candidates[name] = each.predict
        weights[name] = {"weights": str(each.weights), "provenance": each.provenance}
    return {"method": "mask2nir", "candidates": weights,
            **evaluate_mask2nir(candidates, n_pairs=options.pairs, size=options.size)}


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean PSNR / SSIM of each candidate against the rendered image, raw and affine-fitted."""
    lines = [f"{'candidate':<52} {'PSNR raw':>9} {'SSIM raw':>9} {'PSNR fit':>9} {'SSIM fit':>9}  (vs rendered)"]
    for name, row in result["summary"].items():
        lines.append(f"{name:<52} {row['psnr_raw_rendered_mean']:9.2f} {row['ssim_raw_rendered_mean']:9.4f} "
                     f"{row['psnr_fitted_rendered_mean']:9.2f} {row['ssim_fitted_rendered_mean']:9.4f}")
    return lines


# ----- realism of generated images against real ones (issue 13) ---------------------------------
REALISM_STATISTICS = ("histogram_distance", "spectrum_slope", "vessel_contrast", "noise_level", "ssim", "mask_dice",
                      "mask_dice_auto_polarity")


def scaled(image: np.ndarray) -> np.ndarray:
    """float64 in [0, 1] by the image's 0.5th and 99.5th percentiles (clipped): one scale for any dtype."""
    values = np.asarray(image, np.float64)
    low, high = np.percentile(values, [0.5, 99.5])
    return np.clip((values - low) / (high - low if high > low else 1.0), 0.0, 1.0)


def noise_level(image: np.ndarray) -> float:
    """Robust standard deviation (1.4826 x MAD) of the scaled image minus its 3x3 median, over the
    lit region (3x3 median above 0.05: an 8-bit frame's black surround has no measurable noise)."""
    values = scaled(image)
    smooth = ndimage.median_filter(values, 3)
    residual = (values - smooth)[smooth > 0.05]
    if residual.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def realism_statistics(image: np.ndarray, mask: np.ndarray, reference: np.ndarray, *,
                       dark_vessels: bool | None = None) -> dict[str, float]:
    """``image`` (generated from ``mask``, or a real one) against the real ``reference`` image.

    ``histogram_distance``: 1-D Wasserstein distance of the scaled intensities to the reference's;
    ``spectrum_slope``: log-log slope of the radial power spectrum of the whole image
    (``data.eye_statistics.spectrum_slope``, no pixels filled); ``vessel_contrast``: mean scaled
    intensity inside ``mask`` over the mean outside; ``noise_level``: as :func:`noise_level`;
    ``ssim``: SSIM of the scaled image to the scaled reference; ``mask_dice``: Dice of
    ``analysis.extract_vessel_mask(image, dark_vessels=dark_vessels)`` against ``mask`` (pass the
    polarity the extractor found on the real image the mask came from: the same settings that
    made the mask); ``mask_dice_auto_polarity``: the same with the polarity detected on ``image``
    itself (sparse bright vessels on black can be misread as dark ones).
    """
    from scipy.stats import wasserstein_distance

    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask
    from napari_vesselgan.data.eye_statistics import spectrum_slope

    values, real = scaled(image), scaled(reference)
    mask = np.asarray(mask) != 0
    inside, outside = values[mask].mean(), values[~mask].mean()
    whole = np.ones(values.shape, bool)
    auto = dice(extract_vessel_mask(image), mask)
    return {
        "histogram_distance": float(wasserstein_distance(values.ravel(), real.ravel())),
        "spectrum_slope": spectrum_slope(values, whole, np.zeros_like(whole)),
        "vessel_contrast": float(inside / outside) if outside > 0 else float("inf"),
        "noise_level": noise_level(image),
        "ssim": ssim(real, values, data_range=1.0),
        "mask_dice": auto if dark_vessels is None else dice(extract_vessel_mask(image, dark_vessels=dark_vessels), mask),
        "mask_dice_auto_polarity": auto,
    }
