#!/usr/bin/env python
"""Speed of ``analysis.ffa_saliency`` (51 x 51 median + 7 x 7 Gaussian) against scipy's median_filter.

Cases per size (square synthetic late-phase FFA images from ``data.fundus``):

* ``scipy median_filter`` the plain ``scipy.ndimage.median_filter(size=51, mode='reflect')``
  saliency (``median="scipy"``): exact for every input; **the baseline**
* ``rank uint8``  the default path on the 8-bit image: exact (identical to the baseline)
* ``rank float32`` the default path on the float image (as many distinct values as a
  generator's output): the exact two-level histogram median (``analysis.exact_median``, numba);
  its error against the baseline is reported as a fraction of the image's range (0: exact),
  and its time also against the 8-bit path (``vs uint8``; the aim is at most 2x)

Rows as docs/design.md "Benchmarks": seconds per call (median of ``--repeats``, after one
warm-up call that compiles the numba kernel), ratio against the baseline of the same size,
and ``max_abs_error`` (fraction of range). Writes
``benchmarks/results/bench_ffa_saliency-cpu.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


def _time(fn, repeats: int) -> tuple[float, np.ndarray]:
    out, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def run(sizes: list[int], repeats: int, baseline_repeats: int) -> list[dict]:
    import torch

    from napari_vesselgan.analysis import ffa_saliency
    from napari_vesselgan.data.fundus import fundus_pair

    rows: list[dict] = []

    def row(case, metric, value, unit, baseline=None, baseline_value=None):
        ratio = None if baseline_value in (None, 0) else round(value / baseline_value, 4)
        if baseline is None:
            ratio = 1.0
        rows.append(dict(zip(ROW_KEYS, (case, metric, value, unit, baseline, baseline_value, ratio, "cpu",
                                        torch.__version__))))

    for size in sizes:
        ffa = fundus_pair((size, size), seed=1, leakage="large_focal").ffa
        ffa8 = np.rint(ffa * 255).astype(np.uint8)
        span = float(ffa.max() - ffa.min())
        base_name = f"{size}px scipy median_filter"
        base_s, base_out = _time(lambda: ffa_saliency(ffa, median="scipy"), baseline_repeats)
        row(base_name, "seconds", round(base_s, 4), "s")
        base8 = ffa_saliency(ffa8, median="scipy")
        measured = {}
        for name, image, reference in ((f"{size}px rank uint8", ffa8, base8), (f"{size}px rank float32", ffa, base_out)):
            ffa_saliency(image[:64, :64])  # warm-up: compiles (or loads) the numba kernel
            seconds, out = _time(lambda image=image: ffa_saliency(image), repeats)
            measured[name] = seconds
            row(name, "seconds", round(seconds, 4), "s", base_name, round(base_s, 4))
            error = float(np.abs(out.astype(np.float64) - reference).max())
            row(name, "max_abs_error", error / (span * (255 if image.dtype == np.uint8 else 1)),
                "fraction of range", base_name, 0.0)
        row(f"{size}px rank float32 vs uint8", "seconds", round(measured[f"{size}px rank float32"], 4), "s",
            f"{size}px rank uint8", round(measured[f"{size}px rank uint8"], 4))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_ffa_saliency-cpu.json"))
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.repeats, args.baseline_repeats)
    print(f"{'case':<28} {'metric':<14} {'value':>12} {'unit':<18} ratio vs baseline")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.4f}"
        print(f"{r['case']:<28} {r['metric']:<14} {r['value']:>12.6g} {r['unit']:<18} {ratio}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
