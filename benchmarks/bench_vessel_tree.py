#!/usr/bin/env python
"""Time of ``data.vessel_tree`` against the image side (it was a test's 1 s limit at 1024 px; speed is
measured here, not asserted in tests).

Rows as docs/design.md "Benchmarks": seconds per call (median of ``--repeats``) for each side, and the
ratio to the smallest side's time in the same run. Writes ``benchmarks/results/bench_vessel_tree-cpu.json``
and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def run(sizes: list[int], repeats: int) -> list[dict]:
    from napari_vesselgan.data import vessel_tree

    vessel_tree((64, 64), seed=0)  # imports and caches out of the timing
    rows: list[dict] = []
    for size in sizes:
        times = []
        for repeat in range(repeats):
            start = time.perf_counter()
            vessel_tree((size, size), seed=5 + repeat)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        base = rows[0] if rows else None
        rows.append({"case": f"{size}px", "metric": "seconds", "value": round(seconds, 4), "unit": "s",
                     "baseline": base["case"] if base else None,
                     "ratio": round(seconds / base["value"], 3) if base else 1.0, "device": "cpu"})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_vessel_tree-cpu.json"))
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.repeats)
    print(f"{'case':<10} {'seconds':>9} {'x smallest':>11}")
    for row in rows:
        print(f"{row['case']:<10} {row['value']:>9.4f} {row['ratio']:>11.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
