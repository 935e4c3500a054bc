#!/usr/bin/env python
"""Prediction of a large TIFF: streamed tile by tile (lazy input, lazily written output) against
reading it into memory, in peak memory and time.

Each case runs in a fresh process: write nothing, load denoise, then predict one ``--size`` px
uint16 tiled TIFF (made once, beforehand) into an output file with ``jobs.batch.predict_path``,
the work of ``vesselgan predict`` for one file, with the same tile and halo in every case:

- ``in-memory`` (the baseline): the file is read whole (``VESSELGAN_LAZY_MB`` high), predicted
  into a numpy result and written as TIFF;
- ``streamed-tiff`` / ``streamed-ome-zarr``: the file opens lazily (``VESSELGAN_LAZY_MB=0``) and
  ``Method.predict_into`` writes rows of tiles into a zarr (scratch then tiled TIFF, or the
  OME-Zarr itself).

Rows: the peak resident memory above the process's memory before the run (VmHWM - VmRSS after
resetting the high-water mark, Linux) and seconds, each against the in-memory case. The
network's activations are the same in every case (same tile), so the difference is what the
input, the output and their conversions cost. ``--untrained`` uses the test preset's tiny
network (the memory of images is the point here, not the network's).

Writes ``benchmarks/results/bench_lazy_predict-<device>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_fundus2video import _status_kb  # the same /proc/self/status reading (run as a script: its folder is on the path)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")
CASES = {"in-memory": ("tiff", "1000000"), "streamed-tiff": ("tiff", "0"), "streamed-ome-zarr": ("ome-zarr", "0")}


def child(args: argparse.Namespace) -> None:
    """One measurement, printed as JSON (runs in its own process)."""
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.jobs.batch import BatchItem, predict_path
    from napari_vesselgan.methods.request import PredictionRequest

    torch.set_num_threads(args.threads)
    import dask.array  # noqa: F401  imported before measuring in every case: modules are not images
    import tifffile  # noqa: F401
    import zarr  # noqa: F401

    fmt, _ = CASES[args.case]
    if args.untrained:
        cls = methods.method_class("denoise")
        method = cls.untrained(cls.config_class.preset("test"), device=args.device)
    else:
        method = methods.load("denoise", device=args.device)
    request = PredictionRequest(method="denoise", device=args.device, tile=args.tile, halo=args.halo)
    target = Path(args.workdir) / ("out.ome.zarr" if fmt == "ome-zarr" else f"out-{args.case}.tif")
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark from now on
    started = time.perf_counter()
    predict_path(method, BatchItem(Path(args.input), target), request, fmt)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": (_status_kb("VmHWM") - before) / 1024}))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--halo", type=int, default=16, help="tile overlap (the same in every case)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--untrained", action="store_true", help="the test preset's tiny network")
    parser.add_argument("--out", help="JSON path (default: benchmarks/results/bench_lazy_predict-<device>.json)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return []

    import numpy as np
    import tifffile
    import torch

    from napari_vesselgan.data import lowlight_pair

    rows, results = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "large.tif"
        image = lowlight_pair((args.size, args.size), seed=3)[0].astype(np.uint16)
        tifffile.imwrite(source, image, tile=(256, 256), compression="zlib")
        input_mb = image.nbytes / 2**20
        del image
        for case, (_, lazy_mb) in CASES.items():
            command = [sys.executable, __file__, "--child", "--case", case, "--input", str(source), "--workdir",
                       workdir, "--tile", str(args.tile), "--halo", str(args.halo), "--device", args.device,
                       "--threads", str(args.threads)] + (["--untrained"] if args.untrained else [])
            env = {**os.environ, "VESSELGAN_LAZY_MB": lazy_mb, "OMP_NUM_THREADS": str(args.threads)}
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            results[case] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results["in-memory"]
    for case, result in results.items():
        for metric, key, unit in (("peak_extra_memory", "peak_mb", "MiB"), ("seconds", "seconds", "s")):
            value, baseline_value = result[key], base[key]
            rows.append(dict(zip(ROW_KEYS, (
                f"{case} {args.size}px uint16 ({input_mb:.0f} MiB), tile {args.tile}", metric, round(value, 2), unit,
                "in-memory", round(baseline_value, 2), round(value / baseline_value, 3) if baseline_value else None,
                args.device, torch.__version__), strict=True)))
    print(f"{'case':58} {'metric':18} {'value':>10} {'ratio':>7}")
    for row in rows:
        print(f"{row['case']:58} {row['metric']:18} {row['value']:>10} {row['ratio']!s:>7}")
    out = Path(args.out) if args.out else RESULTS_DIR / f"bench_lazy_predict-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
