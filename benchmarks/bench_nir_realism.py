#!/usr/bin/env python
"""Realism statistics of NIR images made by `mask2nir` against real NIR frames (issue 13, item 4).

For each real nir2-mouse frame the vessel mask is extracted from its NIR-IIb-like image
(``analysis.extract_vessel_mask``) and ``mask2nir`` (the bundled weights, or ``--weights``)
renders an image of it. Real and generated images are then compared by:

* ``histogram distance``: 1-D Wasserstein distance of the intensities, each image scaled to
  [0, 1] by its 0.5th and 99.5th percentiles;
* ``spectrum slope``: slope of log power against log spatial frequency of the radially
  averaged power spectrum (natural images: about -2 to -3);
* ``vessel contrast``: mean intensity inside the input mask / mean outside it;
* ``noise level``: robust standard deviation (1.4826 x MAD) of the image minus its 3x3 median,
  in the same scaled units, over the lit region (3x3 median above 0.05: the 8-bit real frames'
  black surround has no measurable noise);
* ``mask Dice``: the mask extracted from the generated image against the input mask.

Baseline in the same run: the real NIR-IIb-like image itself (its own statistics; Dice of its
mask with itself is 1 by construction, so the real NIR-IIa image's mask Dice is given instead).
Prints a table and writes ``benchmarks/results/bench_nir_realism-cpu.json``.

    python benchmarks/bench_nir_realism.py [--weights PATH] [--real ../shared/real/nir2-mouse]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "nir2-mouse"


def scaled(image: np.ndarray) -> np.ndarray:
    values = np.asarray(image, np.float64)
    low, high = np.percentile(values, [0.5, 99.5])
    return np.clip((values - low) / (high - low if high > low else 1.0), 0.0, 1.0)


def spectrum_slope(image: np.ndarray) -> float:
    """Slope of log radially averaged power vs log frequency (frequencies 4 .. N/4 cycles)."""
    values = scaled(image)
    power = np.abs(np.fft.fftshift(np.fft.fft2(values - values.mean()))) ** 2
    h, w = power.shape
    yy, xx = np.indices(power.shape)
    radius = np.hypot(yy - h // 2, xx - w // 2).astype(int)
    sums = np.bincount(radius.ravel(), power.ravel())
    counts = np.bincount(radius.ravel())
    frequencies = np.arange(4, min(h, w) // 4)
    radial = sums[frequencies] / np.maximum(counts[frequencies], 1)
    slope, _ = np.polyfit(np.log(frequencies), np.log(radial + 1e-12), 1)
    return float(slope)


def noise_level(image: np.ndarray) -> float:
    from scipy import ndimage

    values = scaled(image)
    smooth = ndimage.median_filter(values, 3)
    residual = (values - smooth)[smooth > 0.05]
    if residual.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def statistics(image: np.ndarray, mask: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    from scipy.stats import wasserstein_distance

    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask

    values = scaled(image)
    inside, outside = values[mask].mean(), values[~mask].mean()
    return {
        "histogram_distance": float(wasserstein_distance(values.ravel(), scaled(reference).ravel())),
        "spectrum_slope": spectrum_slope(image),
        "vessel_contrast": float(inside / outside) if outside > 0 else float("inf"),
        "noise_level": noise_level(image),
        "mask_dice": dice(extract_vessel_mask(image), mask),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--weights", type=Path, help="mask2nir weights (default: the bundled ones)")
    parser.add_argument("--frames", nargs="+", type=int, default=[7, 35, 53])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_nir_realism-cpu.json")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"no real frames at {args.real}", file=sys.stderr)
        return 1

    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.analysis.vessel_mask import extract_vessel_mask
    from napari_vesselgan.io import read_image

    torch.set_num_threads(1)
    model = methods.load("mask2nir", weights=args.weights, device="cpu")
    rows, per_frame = [], []
    common = {"device": "cpu", "torch": torch.__version__}
    for frame in args.frames:
        real_b = read_image(args.real / f"NIR-IIb_{frame}.png")
        real_a = read_image(args.real / f"NIR-IIa_{frame}.png")
        mask = extract_vessel_mask(real_b)
        generated = model.predict(mask.astype(np.uint8))
        stats = {"generated": statistics(generated, mask, real_b), "real NIR-IIb-like": statistics(real_b, mask, real_b),
                 "real NIR-IIa": statistics(real_a, mask, real_b)}
        per_frame.append({"frame": frame, "mask_pixels": int(mask.sum()), **stats})
        for metric, value in stats["generated"].items():
            baseline = "real NIR-IIa" if metric == "mask_dice" else "real NIR-IIb-like"
            base = stats[baseline][metric]
            rows.append({"case": f"frame {frame}: mask2nir of its vessel mask", "metric": metric, "value": value,
                         "unit": "", "baseline": baseline, "baseline_value": base,
                         "ratio": value / base if base else None, **common})
    print(f"{'case':<36} {'metric':<20} {'generated':>10} {'baseline':<18} {'value':>9}")
    for row in rows:
        print(f"{row['case']:<36} {row['metric']:<20} {row['value']:10.4f} {row['baseline']:<18} "
              f"{row['baseline_value']:9.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"weights": str(model.weights.name), "rows": rows, "frames": per_frame}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
