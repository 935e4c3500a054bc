#!/usr/bin/env python
"""`denoise` input_kind="auto": the measured noise level of each kind of input, the set it picks,
and what each bundled weight set does there (the calibration of ``LOW_LIGHT_NOISE``).

Inputs: the real nir2-mouse NIR-IIa frames and their NIR-IIb-like partners (``../shared/real``;
skipped when absent), the bundled real sample (always), the real liver light-sheet stack's
slices, the synthetic photon-limited images of ``data.lowlight_pair`` at several photon counts
(held-out seeds), their clean partners, and the synthetic low-light sample the demo shows. For
each: :func:`methods.denoise.noise_level`, the kind ``auto`` picks, the kind that should be
picked and, where a reference exists, the fidelity of the input, of each bundled set and of
``auto``'s output (real frames: SSIM / PSNR to the NIR-IIb-like image in the 8-bit range;
synthetic: affine-normalised PSNR / SSIM to the clean image, as weights/denoise-evaluation.json;
clean images: SSIM of the output to the input itself, do no harm).

"Should be picked": low-light for synthetic photon-limited images where the low-light set at
least halves the squared error of the real-frame set (PSNR ``GAIN_DB`` = 3 dB higher); "either"
where it gains less (mildly noisy images, 500+ photons: their noise level overlaps the real
frames', and the real-frame set, near the identity, does no harm there); nir-iia for real
frames, clean images and the liver slices. The margins: the highest noise level of an image
that should get nir-iia, the lowest of one that should get low-light, and how far each lies
from the threshold (factor); "either" rows report what auto's choice costs them.

Prints a table and writes ``benchmarks/results/bench_denoise_input_kind-cpu.json``.

    python benchmarks/bench_denoise_input_kind.py [--seeds 4]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real"
PHOTONS = (5, 10, 20, 50, 100, 200, 500, 1000)
#: The low-light set is what an image needs when it beats the real-frame set by this much (dB).
GAIN_DB = 3.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--seeds", type=int, default=4, help="synthetic images per photon count")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--photons", type=float, nargs="+", default=list(PHOTONS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_denoise_input_kind-cpu.json")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.data import lowlight_pair
    from napari_vesselgan.data.samples import SAMPLE_SEED, SAMPLE_SHAPE, real_sample_dir
    from napari_vesselgan.evaluation.common import HELD_OUT_SEED_BASE
    from napari_vesselgan.evaluation.denoise import fidelity
    from napari_vesselgan.io import read_image
    from napari_vesselgan.methods.denoise import LOW_LIGHT_NOISE, measured_input_kind
    from napari_vesselgan.metrics import psnr, ssim

    torch.set_num_threads(1)
    model = methods.load("denoise", device="cpu")
    sets = ("nir-iia", "low-light")

    def outputs(image):
        return {kind: model.predict(image, input_kind=kind) for kind in sets}

    def real_scores(candidate, reference):
        return {"ssim": ssim(reference, candidate, data_range=255.0), "psnr": psnr(reference, candidate, data_range=255.0)}

    rows: list[dict] = []

    def add(group, name, image, expected, scores=None):
        picked, level = measured_input_kind(image)
        row = {"group": group, "image": name, "noise_level": level, "auto": picked, "expected": expected,
               "correct": picked == expected or expected == "either"}
        if scores is not None:
            row["scores"] = scores
            row["auto_score"] = scores[picked]
        rows.append(row)
        print(f"{group:<26} {name:<28} {level:8.4f} {picked:>9} {expected:>9} "
              + " ".join(f"{k}:{v['ssim']:.3f}/{v['psnr']:.1f}" for k, v in (scores or {}).items()), flush=True)

    print(f"{'group':<26} {'image':<28} {'noise':>8} {'auto':>9} {'expected':>9}  SSIM/PSNR(dB): input, sets")
    folders = [("real NIR-IIa (nir2-mouse)", "real NIR-IIb-like (nir2-mouse)", args.real / "nir2-mouse")] \
        if (args.real / "nir2-mouse").is_dir() else []
    folders.append(("bundled sample NIR-IIa", "bundled sample NIR-IIb-like", real_sample_dir()))
    for group, partner_group, folder in folders:
        for path in sorted(folder.glob("NIR-IIa_*.png")):
            image = read_image(path)
            partner = read_image(path.with_name(path.name.replace("NIR-IIa", "NIR-IIb")))
            scores = {"input": real_scores(image, partner),
                      **{k: real_scores(v, partner) for k, v in outputs(image).items()}}
            add(group, path.name, image, "nir-iia", scores)
            scores = {"input": real_scores(partner, partner),
                      **{k: real_scores(v, partner) for k, v in outputs(partner).items()}}
            add(partner_group, path.name.replace("NIR-IIa", "NIR-IIb"), partner,
                "nir-iia", scores)
    liver = args.real / "liver-vessels" / "raw_liver_1.tif"
    if liver.is_file():
        stack = read_image(liver)
        for index, plane in enumerate(stack):
            add("real liver light-sheet slice", f"raw_liver_1.tif[{index}]", plane, "nir-iia")
        add("real liver light-sheet stack", "raw_liver_1.tif (whole)", stack, "nir-iia")

    for photons in [*args.photons, None]:
        for k in range(args.seeds):
            seed = HELD_OUT_SEED_BASE + k
            low, high = lowlight_pair((args.size, args.size), seed=seed,
                                      **({"low_photons": photons} if photons else {}))
            if photons is None:  # the clean partner: do no harm
                scores = {"input": fidelity(high, high), **{s: fidelity(v, high) for s, v in outputs(high).items()}}
                add("synthetic clean (2000 photons)", f"seed {seed}", high, "nir-iia", scores)
                continue
            scores = {"input": fidelity(low, high), **{s: fidelity(v, high) for s, v in outputs(low).items()}}
            gain = scores["low-light"]["psnr"] - scores["nir-iia"]["psnr"]
            expected = "low-light" if gain >= GAIN_DB else "either" if gain > 0 else "nir-iia"
            add(f"synthetic low light {photons:g} photons", f"seed {seed}", low, expected, scores)
    low, high = lowlight_pair(SAMPLE_SHAPE, SAMPLE_SEED)
    scores = {"input": fidelity(low, high), **{s: fidelity(v, high) for s, v in outputs(low).items()}}
    add("demo's synthetic sample", f"lowlight_nir (seed {SAMPLE_SEED})", low, "low-light", scores)

    nir = [r["noise_level"] for r in rows if r["expected"] == "nir-iia"]
    low_light = [r["noise_level"] for r in rows if r["expected"] == "low-light"]
    margins = {"threshold": LOW_LIGHT_NOISE,
               "highest_nir_iia": max(nir), "lowest_low_light": min(low_light) if low_light else None,
               "nir_iia_margin_factor": LOW_LIGHT_NOISE / max(nir),
               "low_light_margin_factor": min(low_light) / LOW_LIGHT_NOISE if low_light else None,
               "misclassified": [f"{r['group']} {r['image']}" for r in rows if not r["correct"]],
               "either_cost_db": {}}
    for r in rows:
        if r["expected"] == "either":  # the largest PSNR auto leaves to the low-light set, per group
            cost = round(r["scores"]["low-light"]["psnr"] - r["auto_score"]["psnr"], 3)
            margins["either_cost_db"][r["group"]] = max(cost, margins["either_cost_db"].get(r["group"], cost))
    groups: dict[str, dict] = {}
    for row in rows:
        entry = groups.setdefault(row["group"], {"n": 0, "noise_min": math.inf, "noise_max": 0.0, "auto": set(),
                                                 "correct": 0, "scores": {}})
        entry["n"] += 1
        entry["noise_min"], entry["noise_max"] = min(entry["noise_min"], row["noise_level"]), \
            max(entry["noise_max"], row["noise_level"])
        entry["auto"].add(row["auto"])
        entry["correct"] += row["correct"]
        for name, score in {**row.get("scores", {}), **({"auto": row["auto_score"]} if "auto_score" in row else {})}.items():
            entry["scores"].setdefault(name, []).append(score)
    summary = {}
    print(f"\n{'group':<34} {'n':>3} {'noise level':>17} {'auto picks':>18} {'right':>6}  mean SSIM / PSNR")
    for group, entry in groups.items():
        means = {name: {m: float(np.mean([s[m] for s in values])) for m in ("ssim", "psnr")}
                 for name, values in entry["scores"].items()}
        summary[group] = {"n": entry["n"], "noise_min": entry["noise_min"], "noise_max": entry["noise_max"],
                          "auto": sorted(entry["auto"]), "correct": entry["correct"], "mean_scores": means}
        text = " ".join(f"{n} {v['ssim']:.3f}/{v['psnr']:.1f}" for n, v in means.items())
        print(f"{group:<34} {entry['n']:>3} {entry['noise_min']:8.4f}-{entry['noise_max']:.4f} "
              f"{'+'.join(sorted(entry['auto'])):>18} {entry['correct']:>3}/{entry['n']:<2} {text}")
    print(f"\nthreshold {LOW_LIGHT_NOISE}: highest nir-iia {margins['highest_nir_iia']:.4f} "
          f"({margins['nir_iia_margin_factor']:.2f}x below), lowest low-light {margins['lowest_low_light']:.4f} "
          f"({margins['low_light_margin_factor']:.2f}x above); misclassified: {margins['misclassified'] or 'none'}; "
          f"'either' rows (auto's PSNR below the low-light set's, dB): {margins['either_cost_db'] or 'none'}")
    result = {"weights": {k: str(Path(model.weight_set_path(k)).relative_to(ROOT)) for k in sets},
              "low_light_noise": LOW_LIGHT_NOISE, "margins": margins, "groups": summary, "rows": rows,
              "device": "cpu", "torch": torch.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
