#!/usr/bin/env python
"""fundus2video prediction: memory and time per frame against the video's length.

Prediction runs one 3-frame window at a time and hands each frame out as soon as it is final
(``Fundus2VideoMethod.iter_frames``), so its memory should not grow with the number of frames.
Each case runs in a fresh process (so peaks do not carry over): load the method, then make a
``T``-frame video of a ``--size`` px synthetic fundus photo, generated at that size (the
method's ``working_size`` is switched off, so each window is ``--size`` px), either
streamed (frames consumed one by one, as ``vesselgan predict`` writes them) or collected
(``predict``, which returns the whole (T, Y, X) float32 array: T x 1 MB at 512 px). Rows:
seconds per frame (first-call costs included, the same for every T) and the peak resident
memory above the process's resident memory before the run (VmHWM - VmRSS, Linux),
with T = ``--frames`` (the paper's 12) as the baseline of each ratio.

Writes ``benchmarks/results/bench_fundus2video-<device>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    """One measurement, printed as JSON (runs in its own process)."""
    import numpy as np

    from napari_vesselgan import methods
    from napari_vesselgan.data.fundus import fundus_video

    method = methods.load("fundus2video", weights=args.weights, device=args.device)
    method.config.working_size = None  # generate at --size itself (the bundled weights would work at 192 px)
    photo = np.rint(fundus_video((args.size, args.size), 7, frames=3).fundus * 255).astype(np.uint8)
    # no warm-up: memory a warm-up freed would be reused unseen; every case pays the same first-call costs
    before = _status_kb("VmRSS")
    # reset the high-water mark to now (Linux >= 4.0), so the peak is this run's
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    if args.mode == "streamed":
        for frame in method.iter_frames(photo, frames=args.length):
            frame.sum()
    else:
        method.predict(photo, frames=args.length)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    print(json.dumps({"seconds_per_frame": seconds / args.length, "peak_mb": (peak - before) / 1024}))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=12, help="baseline length")
    parser.add_argument("--lengths", type=int, nargs="+", default=[12, 48, 96])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", default=None, help="default: the bundled weights")
    parser.add_argument("--out", help="JSON path (default: benchmarks/results/bench_fundus2video-<device>.json)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="streamed", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, default=12, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return []

    import torch

    rows = []
    for mode in ("streamed", "collected"):
        measured = {}
        for length in sorted({args.frames, *args.lengths}):
            command = [sys.executable, __file__, "--child", "--mode", mode, "--length", str(length),
                       "--size", str(args.size), "--device", args.device]
            if args.weights:
                command += ["--weights", args.weights]
            out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
            measured[length] = json.loads(out.strip().splitlines()[-1])
        base = measured[args.frames]
        for length, values in measured.items():
            for metric, unit in (("seconds_per_frame", "s"), ("peak_mb", "MB")):
                rows.append({"case": f"{mode} T={length}", "metric": metric, "value": values[metric], "unit": unit,
                             "baseline": f"{mode} T={args.frames}", "baseline_value": base[metric],
                             "ratio": values[metric] / base[metric] if base[metric] else None,
                             "device": f"{args.device} ({torch.get_num_threads()} threads, {args.size} px photo)",
                             "torch": torch.__version__})
    print(f"{'case':<18} {'metric':<18} {'value':>10} {'baseline':>10} {'ratio':>7}")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        print(f"{r['case']:<18} {r['metric']:<18} {r['value']:>10.3f} {r['baseline_value']:>10.3f} {ratio:>7}")
    path = Path(args.out) if args.out else RESULTS_DIR / f"bench_fundus2video-{args.device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2))
    print(f"written: {path}")
    return rows


if __name__ == "__main__":
    main()
