#!/usr/bin/env python
"""Fit of the realistic NIR degradation (``napari_vesselgan.data.nir_optics``) to real pairs.

On the nir2-mouse pairs (real NIR-IIa, and the published NIR-IIb-like image of the same frame),
fits the scattering / haze / background / vignetting / gain model that maps the NIR-IIb-like
image to the NIR-IIa one, then the Poisson-Gaussian camera noise of the residual. Cases:

* ``all frames``: one fit to every pair; per pair the RMSE (full scale 1) of the model's
  prediction to the NIR-IIa image, the baseline being the NIR-IIb-like image itself (identity,
  no degradation) and a second baseline the best single Gaussian blur with gain and offset.
* ``leave out N``: a fit to the other pairs, judged on pair N (the fit generalises or not).

Prints a table and writes ``benchmarks/results/bench_nir_degradation-cpu.json``: the rows
(docs/design.md's layout) plus ``fit`` (the fitted parameters and the optimiser's report).

    python benchmarks/bench_nir_degradation.py [--real ../shared/real/nir2-mouse] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "nir2-mouse"


def gaussian_baseline(degraded01: np.ndarray, sharp01: np.ndarray) -> tuple[float, float]:
    """(RMSE, sigma) of the best ``a * G_sigma(sharp) + b`` (a single-Gaussian blur model)."""
    from scipy import ndimage, optimize

    def rmse_of(sigma: float) -> float:
        blurred = ndimage.gaussian_filter(sharp01, sigma)
        design = np.stack([blurred.ravel(), np.ones(blurred.size)], 1)
        coef, *_ = np.linalg.lstsq(design, degraded01.ravel(), rcond=None)
        return float(np.sqrt(np.mean((design @ coef - degraded01.ravel()) ** 2)))

    best = optimize.minimize_scalar(rmse_of, bounds=(0.3, 30.0), method="bounded", options={"xatol": 0.05})
    return float(best.fun), float(best.x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_nir_degradation-cpu.json")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"no real pairs at {args.real}; nothing to fit", file=sys.stderr)
        return 1

    import imageio.v3 as iio
    import torch

    from napari_vesselgan.data.nir_optics import fit_degradation

    frames = sorted(int(m.group(1)) for p in args.real.glob("NIR-IIa_*.png")
                    if (m := re.match(r"NIR-IIa_(\d+)\.png", p.name)) and (args.real / f"NIR-IIb_{m.group(1)}.png").is_file())
    pairs = {n: (iio.imread(args.real / f"NIR-IIa_{n}.png"), iio.imread(args.real / f"NIR-IIb_{n}.png")) for n in frames}
    rows: list[dict] = []

    def add(case: str, frame: int, model, report_row: dict | None = None) -> None:
        degraded, sharp = (x.astype(np.float64) / 255.0 for x in pairs[frame])
        identity = float(np.sqrt(np.mean((sharp - degraded) ** 2)))
        fitted = float(np.sqrt(np.mean((model.expected(sharp) - degraded) ** 2)))
        gaussian, sigma = gaussian_baseline(degraded, sharp)
        common = {"device": "cpu", "torch": torch.__version__, "unit": "RMSE (full scale 1)"}
        rows.append({"case": f"{case}: frame {frame}", "metric": "residual", "value": fitted,
                     "baseline": "NIR-IIb-like image as is", "baseline_value": identity, "ratio": fitted / identity,
                     **common})
        rows.append({"case": f"{case}: frame {frame}", "metric": "residual", "value": fitted,
                     "baseline": f"best single Gaussian blur (sigma {sigma:.2f} px) + gain + offset",
                     "baseline_value": gaussian, "ratio": fitted / gaussian, **common})
        if report_row is not None:
            rows.append({"case": f"{case}: frame {frame}", "metric": "noise fit R^2 (variance vs level)",
                         "value": report_row["noise_fit_r2"], "unit": "", "baseline": None, "baseline_value": None,
                         "ratio": None, "device": "cpu", "torch": torch.__version__})

    model, report = fit_degradation([pairs[n] for n in frames])
    for frame, report_row in zip(frames, report["pairs"]):
        add("all frames", frame, model, report_row)
    leave_one_out = {}
    for held in frames:
        fold_model, fold_report = fit_degradation([pairs[n] for n in frames if n != held])
        leave_one_out[str(held)] = fold_report["parameters"]
        add(f"leave out {held}", held, fold_model)

    print(f"{'case':<24} {'baseline':<58} {'RMSE':>8} {'baseline':>9} {'ratio':>6}")
    for row in rows:
        if row["metric"] == "residual":
            print(f"{row['case']:<24} {row['baseline']:<58} {row['value']:8.4f} {row['baseline_value']:9.4f} "
                  f"{row['ratio']:6.3f}")
    print("fitted:", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in report["parameters"].items()}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "fit": report, "leave_one_out_parameters": leave_one_out,
                                    "frames": frames, "source": str(args.real.name)}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
