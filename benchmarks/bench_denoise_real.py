#!/usr/bin/env python
"""`denoise` on real in-vivo NIR frames, judged leave-one-frame-out against the published model.

For each nir2-mouse frame N: the weights of the fold that did not see frame N
(``runs/denoise-real-noN/final.safetensors``, from ``scripts/train_denoise_real.sh``) denoise
the real NIR-IIa image; the output and the input are compared with the NIR-IIb-like image the
published CycleGAN (Ma et al., PNAS 2021) made of the same frame: SSIM and PSNR (8-bit range),
SNR, vessel-mask agreement of input and output, and what the weights do to the clean
NIR-IIb-like image itself (do no harm). Baselines in the same run: the input itself,
non-local means, and any other weights given with ``--compare NAME=PATH`` (e.g. the previously
bundled ones).

Prints a table and writes ``benchmarks/results/bench_denoise_real-cpu.json``: ``rows``
(docs/design.md's layout) and ``folds`` (each held-out frame's full evaluation row, the layout of
``weights/denoise-evaluation.json``'s ``real_pairs``).

    python benchmarks/bench_denoise_real.py [--runs runs] [--compare previous=/tmp/old.safetensors]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real" / "nir2-mouse"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--frames", nargs="+", type=int, default=[7, 35, 53])
    parser.add_argument("--compare", action="append", default=[], help="NAME=WEIGHTS: more candidates")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_denoise_real-cpu.json")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "denoise_real_loo.png",
                        help="per frame: input | held-out output | published, half size")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"no real frames at {args.real}", file=sys.stderr)
        return 1

    import numpy as np
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.evaluation.denoise import evaluate_real_pair, nl_means, real_pair_line
    from napari_vesselgan.io import read_image
    from napari_vesselgan.metrics.report import side_by_side

    torch.set_num_threads(1)
    others = {name: methods.load("denoise", weights=path, device="cpu")
              for name, path in (item.split("=", 1) for item in args.compare)}
    rows, folds, figure_rows = [], [], []
    common = {"device": "cpu", "torch": torch.__version__}
    for frame in args.frames:
        image = read_image(args.real / f"NIR-IIa_{frame}.png")
        partner = read_image(args.real / f"NIR-IIb_{frame}.png")
        weights = args.runs / f"denoise-real-no{frame}" / "final.safetensors"
        model = methods.load("denoise", weights=weights, device="cpu")
        fold = {"image": f"NIR-IIa_{frame}.png", "partner": f"NIR-IIb_{frame}.png", "in_training": False,
                "partner_in_training": False, "weights": str(weights.relative_to(ROOT)),
                "training_frames": model.provenance.get("training_frames"),
                **evaluate_real_pair(model.predict, image, partner)}
        folds.append(fold)
        figure_rows.append(side_by_side(side_by_side(image[::2, ::2], model.predict(image)[::2, ::2]),
                                        partner[::2, ::2]))
        print(real_pair_line(fold), flush=True)
        candidates = {"non-local means": lambda x: np.rint(x.min() + nl_means(x) * (float(x.max()) - x.min())).astype(x.dtype)}
        candidates.update({name: other.predict for name, other in others.items()})
        compared = {name: evaluate_real_pair(fn, image, partner) for name, fn in candidates.items()}
        for metric in ("ssim", "psnr", "snr"):
            value = fold["output"][metric]
            baselines = {"input": fold["input"][metric], **{n: c["output"][metric] for n, c in compared.items()}}
            for name, base in baselines.items():
                rows.append({"case": f"frame {frame} held out", "metric": metric, "value": value,
                             "unit": "dB" if metric == "psnr" else "", "baseline": name, "baseline_value": base,
                             "ratio": value / base if base else None, **common})
        rows.append({"case": f"frame {frame}: NIR-IIb-like image through the model", "metric": "ssim to itself",
                     "value": fold["clean_partner"]["ssim"], "unit": "", "baseline": "required minimum",
                     "baseline_value": 0.9, "ratio": fold["clean_partner"]["ssim"] / 0.9, **common})
        for name, c in compared.items():
            fold.setdefault("baselines", {})[name] = {k: c[k] for k in ("output", "mask_dice_input_output",
                                                                         "clean_partner", "checks", "passes")}

    print(f"\n{'case':<22} {'metric':<6} {'model':>9} {'baseline':<18} {'value':>9}")
    for row in rows:
        if row["metric"] in ("ssim", "psnr", "snr"):
            print(f"{row['case']:<22} {row['metric']:<6} {row['value']:9.4f} {row['baseline']:<18} "
                  f"{row['baseline_value']:9.4f}")
    print("every held-out frame passes:", all(f["passes"] for f in folds))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "folds": folds}, indent=1))
    import imageio.v3 as iio

    gap = np.full((4, figure_rows[0].shape[1]), 255, np.uint8)
    iio.imwrite(args.figure, np.concatenate([part for r in figure_rows for part in (r, gap)][:-1]))
    print(f"wrote {args.figure}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
