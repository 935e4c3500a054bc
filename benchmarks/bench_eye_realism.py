#!/usr/bin/env python
"""How real the synthetic eyes look: image statistics of real and rendered photos and angiograms.

Statistics (``data.eye_statistics``, inside the field of view, medians over images): vessel
contrast, background spread, texture spectrum slope, noise, vignetting, vessel fraction, and for
colour photos the chromaticity. Sets:

* real angiograms: ``../shared/real/ffa-frames/phase/{arterial,venous}_phase`` (20 each, 512 px)
* real photos: ``skimage.data.retina()`` (colour fundus) and the UWF SLO images of
  ``../shared/real/uwf-slo-fa`` (at 1/4 size; pseudo-colour, reported, not fitted)
* synthetic: ``data.fundus`` eyes at 512 px rendered with the classic style (the one the
  bundled weights saw: **the baseline**) and with the fitted style (``FITTED_FFA_STYLE``,
  ``FITTED_FUNDUS_STYLE``); arterial and venous angiograms use ``ffa_phases`` states

``--fit`` searches the styles' free parameters (Nelder-Mead on the squared differences of the
statistics scaled by the real images' spread) and prints the style to paste into
``data/fundus.py``. Writes ``benchmarks/results/bench_eye_realism-cpu.json``: rows with
``value`` (synthetic), ``baseline_value`` (real), and ``ratio``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
from eye_common import REAL_DIR, RESULTS_DIR, ROW_KEYS, finish, read
SIZE = 512
# statistics the style can change (the vessel fraction belongs to the anatomy, colour to photos)
FITTED_STATS = ("vessel_contrast", "background_cv", "spectrum_slope", "noise", "vignetting")
FFA_FREE = ("background", "texture", "grain", "texture_scale", "artery", "vein", "vignetting", "noise")
FUNDUS_FREE = ("texture", "grain", "vignetting", "vessel_opacity", "noise")


def real_sets(limit: int) -> dict[str, list[np.ndarray]]:
    from skimage import data as skdata
    from skimage.transform import downscale_local_mean

    sets: dict[str, list[np.ndarray]] = {}
    for phase in ("arterial", "venous"):
        paths = sorted((REAL_DIR / "ffa-frames" / "phase" / f"{phase}_phase").glob("*.jpg"))[:limit]
        if paths:
            sets[f"FFA {phase}"] = [read(p) for p in paths]
    retina = skdata.retina()
    sets["photo"] = [downscale_local_mean(retina.astype(np.float32), (2, 2, 1)) / 255.0]  # ~ 700 px, as SIZE
    slo = sorted((REAL_DIR / "uwf-slo-fa").glob("slo_*.jpg"))
    if slo:
        sets["UWF SLO"] = [downscale_local_mean(read(p).astype(np.float32), (4, 4, 1)) / 255.0 for p in slo]
    return sets


def synthetic_images(kind: str, style, count: int) -> list[np.ndarray]:
    from napari_vesselgan.data.fundus import ffa_phases, fundus_anatomy, render_ffa, render_fundus

    phases = ffa_phases(12)
    states = {"FFA arterial": phases[2], "FFA venous": phases[6]}
    images = []
    for seed in range(700_000, 700_000 + count):
        anatomy = fundus_anatomy((SIZE, SIZE), seed, leakage="none")
        if kind == "photo":
            images.append(render_fundus(anatomy, seed, style=style))
        else:
            images.append(render_ffa(anatomy, seed, style=style, **states[kind]))
    return [np.rint(image * 255).astype(np.uint8) for image in images]


def statistics(images: list[np.ndarray]) -> tuple[dict[str, float], dict[str, float]]:
    """Median and robust spread (1.4826 MAD, at least 10 % of |median| or 0.01) of each statistic."""
    from napari_vesselgan.data.eye_statistics import eye_statistics

    records = [eye_statistics(image) for image in images]
    keys = sorted({key for record in records for key in record})
    median = {k: float(np.nanmedian([r.get(k, np.nan) for r in records])) for k in keys}
    spread = {k: max(1.4826 * float(np.nanmedian([abs(r.get(k, np.nan) - median[k]) for r in records])),
                     0.1 * abs(median[k]), 0.01) for k in keys}
    return median, spread


def fit(kind: str, real: dict[str, float], spread: dict[str, float], start, free: tuple[str, ...], count: int,
        evaluations: int):
    """Nelder-Mead over ``free`` (log-scaled) fields of the style ``start``."""
    from scipy.optimize import minimize

    x0 = np.log([getattr(start, name) for name in free])

    def style_of(x):
        return dataclasses.replace(start, **{name: float(np.exp(v)) for name, v in zip(free, x)})

    def cost(x):
        synthetic, _ = statistics(synthetic_images(kind, style_of(x), count))
        return float(sum(((synthetic[k] - real[k]) / spread[k]) ** 2 for k in FITTED_STATS))

    result = minimize(cost, x0, method="Nelder-Mead", options={"maxfev": evaluations, "xatol": 0.02, "fatol": 0.05})
    return style_of(result.x), float(result.fun), float(cost(x0))


def run(limit: int, count: int, do_fit: bool, evaluations: int) -> list[dict]:
    import torch

    from napari_vesselgan.data import fundus

    rows: list[dict] = []
    real = real_sets(limit)
    styles = {"FFA arterial": (fundus.FfaStyle(), fundus.FITTED_FFA_STYLE, FFA_FREE),
              "FFA venous": (fundus.FfaStyle(), fundus.FITTED_FFA_STYLE, FFA_FREE),
              "photo": (fundus.FundusStyle(), fundus.FITTED_FUNDUS_STYLE, FUNDUS_FREE)}
    fitted: dict[str, object] = {}
    for kind, images in real.items():
        real_stats, spread = statistics(images)
        if kind not in styles:  # reported only
            for key, value in real_stats.items():
                rows.append(dict(zip(ROW_KEYS, (f"{kind}: real", key, round(value, 4), f"median of {len(images)}",
                                                None, None, None, "cpu", torch.__version__))))
            continue
        classic, chosen, free = styles[kind]
        if do_fit and kind != "FFA arterial":  # one angiogram style for every phase: fitted on venous frames
            chosen, after, before = fit(kind, real_stats, spread, classic, free, count, evaluations)
            fitted[kind] = chosen
            print(f"{kind}: cost {before:.1f} -> {after:.1f}\n  {chosen!r}")
        elif do_fit and "FFA venous" in fitted:
            chosen = fitted["FFA venous"]
        for label, style in (("classic", classic), ("fitted", chosen)):
            synthetic, _ = statistics(synthetic_images(kind, style, count))
            distance = float(np.sqrt(np.mean([((synthetic[k] - real_stats[k]) / spread[k]) ** 2
                                               for k in FITTED_STATS])))
            for key in list(real_stats) + ["distance"]:
                value = distance if key == "distance" else synthetic.get(key, float("nan"))
                base = 0.0 if key == "distance" else real_stats[key]
                unit = "rms of (synthetic - real) / real spread" if key == "distance" else f"median of {count}"
                rows.append(dict(zip(ROW_KEYS, (f"{kind}: synthetic {label}", key, round(value, 4), unit,
                                                f"{kind}: real ({len(images)})", round(base, 4),
                                                None if not base else round(value / base, 4), "cpu",
                                                torch.__version__))))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="real frames per angiogram phase")
    parser.add_argument("--count", type=int, default=4, help="synthetic eyes per set")
    parser.add_argument("--fit", action="store_true", help="search the styles (slow) instead of using the fitted ones")
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_eye_realism-cpu.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args.limit, args.count, args.fit, args.evaluations)
    return finish(rows, args.out, started, (("case", "case", 30), ("metric", "metric", 16), ("synthetic", "value", 10),
                                            ("real", "baseline_value", 10), ("ratio", "ratio", 8)))


if __name__ == "__main__":
    main()
