#!/usr/bin/env python
"""Realism statistics of NIR images made by `mask2nir` against real NIR-II images (issue 13, item 4).

Real images: the NIR-IIb-like nir2-mouse frames (``--frames``; frame 53 is held out of the
``real`` preset's training, scripts/train_mask2nir_real.py, 7 and 35 are its training frames) and the odd (held-out) slices of the
liver light-sheet stack. For each, the vessel mask is extracted (``analysis.extract_vessel_mask``,
default settings) and each set of weights renders an image of it; the image is judged against
the real one by ``evaluation.mask2nir.realism_statistics``: intensity histogram distance,
spectrum slope, vessel contrast, noise level, SSIM, and the Dice of the mask extracted from the
generated image against the input mask: same extractor, same settings, including the polarity
it detected on the real image (``mask_dice``; bright vessels for synthetic masks), and with the
polarity detected on the generated image itself (``mask_dice_auto_polarity``: sparse bright
vessels on black can be read as dark ones). Synthetic held-out tree masks (evaluation seeds)
give a second Dice.

Baselines in the same run: the real image itself (its own statistics: the targets), the real
NIR-IIa frame (the raw camera image of the same frame), and the mask itself as an image (the
issue's "barely closer than the mask" SSIM). Each candidate's row also gives its distance to
the real image's statistic (for the slope, contrast and noise: ``|log(generated / real)|``).

    # the bundled (synthetic-only) weights against candidates of the ``real`` preset
    python scripts/train_mask2nir_real.py --run-dir runs/mask2nir-real --export runs/mask2nir-real.safetensors --fp16
    python benchmarks/bench_nir_realism.py --compare runs/mask2nir-real.safetensors  # [--compare more.safetensors]

Prints a table and writes ``benchmarks/results/bench_nir_realism-cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
HELD_OUT_FRAMES = (53,)
SHOWN = ("histogram_distance", "spectrum_slope", "vessel_contrast", "noise_level", "ssim", "mask_dice",
         "mask_dice_auto_polarity")
LOG_RATIO = ("spectrum_slope", "vessel_contrast", "noise_level")


def real_cases(real: Path, frames: list[int], liver: bool) -> list[dict]:
    """Each real image with its extracted mask: frames (IIb-like, with the IIa partner) and the odd liver slices."""
    from napari_vesselgan.analysis.vessel_mask import extract_vessels
    from napari_vesselgan.io import read_image

    def extracted(image: np.ndarray) -> tuple[np.ndarray, bool]:
        mask, preparation = extract_vessels(image)
        return mask, bool(preparation.dark_vessels)

    cases = []
    for frame in frames:
        image = read_image(real / "nir2-mouse" / f"NIR-IIb_{frame}.png")
        mask, dark = extracted(image)
        cases.append({"set": f"frame {frame}" + (" (held out)" if frame in HELD_OUT_FRAMES else " (training)"),
                      "image": image, "mask": mask, "dark": dark,
                      "partner": read_image(real / "nir2-mouse" / f"NIR-IIa_{frame}.png")})
    if liver:
        stack = read_image(real / "liver-vessels" / "raw_liver_1.tif")
        for index in range(1, len(stack), 2):
            mask, dark = extracted(stack[index])
            if mask.any():
                cases.append({"set": "liver odd slices (held out)", "image": stack[index], "mask": mask, "dark": dark})
    return cases


def distance(metric: str, value: float, real: float) -> float:
    """How far a statistic is from the real image's: |log ratio| for scale-like ones, else |difference|."""
    if metric in LOG_RATIO:
        if value * real <= 0 or not (math.isfinite(value) and math.isfinite(real)):
            return float("inf")
        return abs(math.log(value / real))
    return abs(value - real)


def summarise(records: list[dict], real: list[dict] | None = None) -> dict[str, float]:
    out = {}
    for metric in SHOWN:
        out[metric] = float(np.mean([r[metric] for r in records]))
        if real is not None and metric in LOG_RATIO:
            out[f"{metric}_distance"] = float(np.mean([distance(metric, r[metric], t[metric])
                                                       for r, t in zip(records, real)]))
    return out


def finite(value):
    """``value`` with every non-finite float as None (strict JSON; the mask's contrast is infinite)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL, help="folder with nir2-mouse/ and liver-vessels/")
    parser.add_argument("--weights", type=Path, help="mask2nir weights (default: the bundled ones)")
    parser.add_argument("--compare", type=Path, action="append", default=[], help="more weights to judge alike")
    parser.add_argument("--frames", nargs="+", type=int, default=[7, 35, 53])
    parser.add_argument("--synthetic", type=int, default=8, help="held-out synthetic tree masks (Dice)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_nir_realism-cpu.json")
    args = parser.parse_args(argv)
    if not (args.real / "nir2-mouse").is_dir():
        print(f"no real frames at {args.real}/nir2-mouse", file=sys.stderr)
        return 1

    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask
    from napari_vesselgan.evaluation.mask2nir import candidate_name, held_out_case, realism_statistics

    torch.set_num_threads(1)
    loaded = [methods.load("mask2nir", weights=args.weights, device="cpu"),
              *(methods.load("mask2nir", weights=w, device="cpu") for w in args.compare)]
    models: dict = {}
    for model in loaded:
        models[candidate_name(model, models)] = model
    cases = real_cases(args.real, args.frames, (args.real / "liver-vessels").is_dir())
    sets = list(dict.fromkeys(case["set"] for case in cases))
    results: dict = {}
    for name in sets:
        chosen = [c for c in cases if c["set"] == name]
        real_stats = [realism_statistics(c["image"], c["mask"], c["image"], dark_vessels=c["dark"]) for c in chosen]
        entry = {"images": len(chosen), "mask_fraction": float(np.mean([c["mask"].mean() for c in chosen])),
                 "real": summarise(real_stats),
                 "dark_vessels": sorted({c["dark"] for c in chosen}),
                 "mask as image": summarise([realism_statistics(c["mask"].astype(np.float32), c["mask"], c["image"],
                                                                dark_vessels=c["dark"]) for c in chosen], real_stats)}
        if all("partner" in c for c in chosen):
            entry["real NIR-IIa"] = summarise([realism_statistics(c["partner"], c["mask"], c["image"],
                                                                  dark_vessels=c["dark"]) for c in chosen], real_stats)
        for label, model in models.items():
            generated = [realism_statistics(model.predict(c["mask"].astype(np.uint8)), c["mask"], c["image"],
                                            dark_vessels=c["dark"]) for c in chosen]
            entry[label] = summarise(generated, real_stats)
        results[name] = entry
    synthetic = {}
    for label, model in models.items():
        scores, auto = [], []
        for index in range(args.synthetic):
            mask = held_out_case(index, 256)[0]
            generated = model.predict(mask)
            scores.append(dice(extract_vessel_mask(generated, dark_vessels=False), mask))
            auto.append(dice(extract_vessel_mask(generated), mask))
        synthetic[label] = {"mask_dice": float(np.mean(scores)), "mask_dice_auto_polarity": float(np.mean(auto)),
                            "masks": args.synthetic, "size": 256}

    print(f"{'set':<30} {'image':<48} " + " ".join(f"{m[:12]:>12}" for m in SHOWN))
    for name, entry in results.items():
        for label, row in entry.items():
            if isinstance(row, dict):
                print(f"{name:<30} {label:<48} " + " ".join(f"{row[m]:12.4f}" for m in SHOWN))
    print("distance to the real image's statistic (|log ratio|; lower is more real):")
    for name, entry in results.items():
        for label, row in entry.items():
            if isinstance(row, dict) and "noise_level_distance" in row:
                print(f"{name:<30} {label:<48} " + " ".join(f"{m[:12]}={row[m + '_distance']:.3f}" for m in LOG_RATIO))
    for label, row in synthetic.items():
        print(f"synthetic held-out trees ({args.synthetic})  {label:<48} mask_dice={row['mask_dice']:.4f} "
              f"(auto polarity {row['mask_dice_auto_polarity']:.4f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(finite({
        "weights": {label: {"file": str(model.weights.name), "provenance": model.provenance}
                    for label, model in models.items()},
        "extractor": ("analysis.extract_vessel_mask, default settings (auto scales, hysteresis); mask_dice with the "
                      "polarity the extractor detected on the real image (synthetic: bright vessels), "
                      "mask_dice_auto_polarity with the polarity detected on the generated image"),
        "device": "cpu", "torch": torch.__version__,
        "real": results, "synthetic": synthetic}), indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
