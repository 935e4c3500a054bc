"""Model-card lines with the eye models' figures on real images (benchmarks/bench_eye_models_real.py's JSON).

Shared by make_fundus2ffa_card.py and make_fundus2video_card.py, which put them first under
"Measured results": real images before synthetic ones.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bench_eye_models_real-cpu.json"


def _rows() -> list[dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else []


def fundus2ffa_lines() -> list[str]:
    """Vessel fidelity on skimage's retina and PSNR / SSIM / vessel Dice on the UWF pairs."""
    rows = _rows()
    if not rows:
        return ["`benchmarks/bench_eye_models_real.py` has not been run; no real-image figures.", ""]
    retina = next((r for r in rows if r["case"].endswith(": fundus2ffa") and r["case"].startswith("skimage")), None)
    lines = ["### Real images first (`benchmarks/results/bench_eye_models_real-cpu.json`)", ""]
    if retina:
        lines += [f"- scikit-image's real retina photo ({retina['case'].split(':')[0].split()[-1]}): vessel Dice "
                  f"between the generated angiogram's vessels and the photo's own **{retina['value']:.2f}** "
                  "(`analysis.extract_vessels` on both; the goal is >= 0.70).", ""]
    pairs = sorted({r["case"].split(":")[0] for r in rows if r["case"].startswith("UWF pair")})
    if pairs:
        lines += ["Real ultra-widefield SLO -> FA pairs (`../shared/real/uwf-slo-fa`, never used in training), against "
                  "the real registered angiogram, next to a no-model baseline (the SLO's inverted green channel "
                  "matched to the FA's mean and spread):", "",
                  "| pair | PSNR (dB) model / baseline | SSIM model / baseline | vessel Dice model / baseline |",
                  "|---|---|---|---|"]
        for pair in pairs:
            cells = []
            for metric in ("psnr", "ssim", "vessel_dice_to_fa"):
                model = next(r for r in rows if r["case"] == f"{pair}: fundus2ffa" and r["metric"] == metric)
                cells.append(f"{model['value']:.2f} / {model['baseline_value']:.2f}")
            lines.append(f"| {pair} | " + " | ".join(cells) + " |")
        lines += ["", "These weights have seen only synthetic colour photos; on SLO images they do worse than "
                  "simply inverting the green channel. The paper's Isfahan table (pix2pix 23.43 dB / 0.744, theirs "
                  "25.16 dB / 0.827) is on colour photos paired with their own angiograms; nothing here is "
                  "comparable yet.", ""]
    return lines


def fundus2video_lines() -> list[str]:
    """Per-frame vessel Dice to the photo on skimage's retina, and the frames' vessel contrast."""
    rows = _rows()
    frames = [r for r in rows if "fundus2video frame" in r["case"] and r["metric"] == "vessel_dice_to_photo"]
    if not frames:
        return ["`benchmarks/bench_eye_models_real.py` has not been run; no real-image figures.", ""]
    lowest = next(r for r in rows if r["metric"] == "min_vessel_dice_to_photo")
    contrast = [r for r in rows if "fundus2video frame" in r["case"] and r["metric"] == "vessel_contrast"]
    lines = ["### Real images first (`benchmarks/results/bench_eye_models_real-cpu.json`)", "",
             "scikit-image's real retina photo: vessel Dice of each generated frame's vessels to the photo's own "
             "(`analysis.extract_vessels` on both; the goal is >= 0.60 from the venous phase on):", "",
             "| frame | " + " | ".join(r["case"].split()[-1] for r in frames) + " |",
             "|---|" + "---|" * len(frames),
             "| Dice | " + " | ".join(f"{r['value']:.2f}" for r in frames) + " |", "",
             f"Lowest from the venous phase on: **{lowest['value']:.2f}** ({lowest['unit']})."]
    if contrast:
        lines.append("Vessel contrast ((vessel - background) / background) of frames "
                     + ", ".join(f"{r['case'].split()[-1]}: {r['value']:.2f}" for r in contrast)
                     + "; real angiograms (`benchmarks/results/bench_eye_realism-cpu.json`): see there.")
    return lines + [""]
