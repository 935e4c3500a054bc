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
from pydantic import Field
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
    """`denoise`'s evaluation: held-out pairs, and optionally real images (explainable metrics)
    with, where ``partner`` names them, their reference partners (fidelity, masks, do no harm)."""

    partner: str | None = Field(
        None, description="OLD:NEW turns a real image's file name into its reference partner's "
                          "(nir2-mouse: NIR-IIa:NIR-IIb)")

    def partner_path(self, path: Path) -> Path | None:
        """The reference partner of a real image, when ``partner`` is set and the file exists."""
        if self.partner is None:
            return None
        old, _, new = self.partner.partition(":")
        candidate = path.with_name(path.name.replace(old, new))
        return candidate if candidate != path and candidate.is_file() else None


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


#: What "no invented structure" allows: the vessel masks of input and output overlap at least this much (Dice).
MASK_AGREEMENT = 0.8
#: What "do no harm" asks of an already clean image: SSIM of the output to it at least this.
CLEAN_SSIM = 0.9


def reference_fidelity(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """PSNR / SSIM of ``candidate`` to ``reference`` as they are (the reference's dtype range),
    and after the affine normalisation of :func:`fidelity`."""
    span = float(np.iinfo(reference.dtype).max) if np.issubdtype(reference.dtype, np.integer) else 1.0
    raw = {"psnr": psnr(reference, candidate, data_range=span), "ssim": ssim(reference, candidate, data_range=span)}
    affine = fidelity(candidate, reference)
    return {**raw, "psnr_affine": affine["psnr"], "ssim_affine": affine["ssim"]}


def invented_fraction(mask_input: np.ndarray, mask_output: np.ndarray, tolerance: int = 2) -> float:
    """Share of the output's vessel pixels farther than ``tolerance`` px from any input vessel pixel."""
    from scipy import ndimage

    if not mask_output.any():
        return 0.0
    near = ndimage.binary_dilation(mask_input, iterations=tolerance) if mask_input.any() else mask_input
    return float((mask_output & ~near).sum() / mask_output.sum())


def evaluate_real_pair(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                       partner: np.ndarray) -> dict[str, Any]:
    """One real image and its reference partner: fidelity and SNR of input vs output, vessel-mask
    agreement of input and output, and what the model does to the (clean) partner itself."""
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask
    from napari_vesselgan.metrics import snr

    output = predict(image)
    masks = {name: extract_vessel_mask(x) for name, x in (("input", image), ("output", output), ("partner", partner))}
    clean_output = predict(partner)
    row: dict[str, Any] = {
        "input": {**reference_fidelity(image, partner), "snr": snr(image)},
        "output": {**reference_fidelity(output, partner), "snr": snr(output)},
        "mask_dice_input_output": dice(masks["input"], masks["output"]),
        "mask_dice_input_partner": dice(masks["input"], masks["partner"]),
        "mask_dice_output_partner": dice(masks["output"], masks["partner"]),
        "invented_fraction": invented_fraction(masks["input"], masks["output"]),
        "clean_partner": reference_fidelity(clean_output, partner),
    }
    row["checks"] = {
        "ssim_up": row["output"]["ssim"] > row["input"]["ssim"],
        "psnr_up": row["output"]["psnr"] > row["input"]["psnr"],
        "snr_up": row["output"]["snr"] > row["input"]["snr"],
        "masks_agree": row["mask_dice_input_output"] >= MASK_AGREEMENT,
        "clean_kept": row["clean_partner"]["ssim"] >= CLEAN_SSIM,
    }
    row["passes"] = all(row["checks"].values())
    return row


def evaluate_real_pairs(predict: Callable[[np.ndarray], np.ndarray], pairs: Sequence[tuple[Path, Path]], *,
                        training_images: Sequence[str] = ()) -> list[dict[str, Any]]:
    """:func:`evaluate_real_pair` for each (image, partner) file pair, saying whether each was trained on."""
    from napari_vesselgan.io import read_image

    rows = []
    for path, partner_path in pairs:
        row = {"image": path.name, "partner": partner_path.name, "in_training": path.name in training_images,
               "partner_in_training": partner_path.name in training_images}
        row.update(evaluate_real_pair(predict, read_image(path), read_image(partner_path)))
        rows.append(row)
    return rows


def recording(method: Method) -> tuple[Callable[[np.ndarray], np.ndarray], list[str | None]]:
    """``method.predict`` and the list it appends each call's weight set to (``last_run`` of a
    method that picks among bundled sets, as denoise's ``input_kind="auto"``; else None)."""
    sets: list[str | None] = []

    def predict(image: np.ndarray) -> np.ndarray:
        output = method.predict(image)
        run = getattr(method, "last_run", None)
        sets.append(run.get("weight_set") if isinstance(run, dict) else None)
        return output

    return predict, sets


def evaluate(method: Method, options: Options) -> dict[str, Any]:
    """The whole result (``weights/denoise-evaluation.json``'s layout): held-out pairs, and
    ``real`` when ``options.real`` names a folder. With the bundled weights the default
    prediction (``input_kind="auto"``) runs; each section says which weight set each image got
    (``weight_sets``, ``weight_set``, ``partner_weight_set``)."""
    predict, sets = recording(method)
    head = result_head(method)
    if getattr(method, "bundled", False):  # the bundled sets input_kind="auto" chose from
        from napari_vesselgan.methods.denoise import LOW_LIGHT_NOISE, WEIGHT_SETS

        head.update(input_kind="auto", weight_set_files=dict(WEIGHT_SETS), low_light_noise=LOW_LIGHT_NOISE)
    result = {**head, "pairs": evaluate_pairs(predict, n_pairs=options.pairs, size=options.size)}
    result["pairs"]["weight_sets"] = sets[:]
    if options.real is not None:
        paths = options.real_paths()
        sets.clear()
        result["real"] = evaluate_real(predict, paths)
        for row, weight_set in zip(result["real"], sets):
            row["weight_set"] = weight_set
        pairs = [(path, options.partner_path(path)) for path in paths]
        pairs = [(path, partner) for path, partner in pairs if partner is not None]
        if pairs:
            sets.clear()
            result["real_pairs"] = evaluate_real_pairs(
                predict, pairs, training_images=method.provenance.get("training_images", []))
            for index, row in enumerate(result["real_pairs"]):  # each pair: the image, then its partner
                row["weight_set"], row["partner_weight_set"] = sets[2 * index], sets[2 * index + 1]
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Mean ± std PSNR / SSIM of each candidate, then each real image's metrics before -> after."""
    lines = [f"{'candidate':<18} {'PSNR (dB)':>14} {'SSIM':>14}"]
    for name, row in result["pairs"]["summary"].items():
        lines.append(f"{name:<18} {row['psnr_mean']:8.2f} ± {row['psnr_std']:4.2f} "
                     f"{row['ssim_mean']:8.4f} ± {row['ssim_std']:.4f}")
    for row in result.get("real_pairs", []):
        lines.append(real_pair_line(row))
    for row in result.get("real", []):
        changes = " ".join(f"{k}: {row['before'][k]:.4g} -> {row['after'][k]:.4g}" for k in row["before"])
        lines.append(f"{row['image']} {changes}")
    return lines


def real_pair_line(row: dict[str, Any]) -> str:
    """One real frame's figures in a line: SSIM / PSNR to the partner and SNR, input -> output."""
    seen = "trained on" if row.get("in_training") else "held out"
    i, o = row["input"], row["output"]
    return (f"{row['image']} ({seen}) vs {row['partner']}: SSIM {i['ssim']:.3f} -> {o['ssim']:.3f}, "
            f"PSNR {i['psnr']:.2f} -> {o['psnr']:.2f} dB, SNR {i['snr']:.2f} -> {o['snr']:.2f}, "
            f"mask Dice {row['mask_dice_input_output']:.3f}, partner kept SSIM {row['clean_partner']['ssim']:.3f}"
            f"{'' if row['passes'] else '  FAILS ' + ', '.join(k for k, v in row['checks'].items() if not v)}")
