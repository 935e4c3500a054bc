#!/usr/bin/env python
"""FVD cost: I3D embedding time per 12-frame video on the CPU (threads, batch size, frame size)
and the Fréchet distance of the paper's set size.

Cases (each the median of ``--repeats`` timed runs after one warm-up, the I3D cases taken in
turn, round-robin, so that load from other work falls on each alike; random weights: the cost
does not depend on them):

* ``i3d 224px batch 1, 1 thread`` — **the baseline**: seconds per video of
  :func:`napari_vesselgan.metrics.video.i3d_features` (400-d logits) on ``--videos`` random
  uint8 videos of ``--frames`` frames, 224 x 224 (no resize needed);
* ``i3d 224px batch B, 1 thread`` — the same with ``--batch`` videos per forward pass;
* ``i3d 224px batch 1, 2 threads`` — ``torch.set_num_threads(2)``;
* ``i3d 512px batch 1, 1 thread`` — the paper's 512 x 512 frames (resized to 224 first);
* ``preparation only 512px`` — the frames' preparation alone (to [0, 1], resize to 224, to
  [-1, 1], grey to 3 channels) for 512-px videos, with a network that does nothing;
* ``fvd N videos D-d`` — :func:`fvd_from_features` of two sets of ``--set-size`` (default 50,
  the paper's test set) 400-d and 1024-d embeddings: seconds (no baseline).

Writes ``benchmarks/results/bench_fvd-<device>.json`` (rows as in docs/design.md) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(case, metric, value, unit, baseline=None, baseline_value=None, *, common) -> dict:
    ratio = value / baseline_value if baseline_value not in (None, 0) else None
    return dict(zip(ROW_KEYS, (case, metric, value, unit, baseline, baseline_value, ratio,
                               common["device"], common["torch"])))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="videos per timed run")
    parser.add_argument("--frames", type=int, default=12, help="frames per video (the paper: 12)")
    parser.add_argument("--batch", type=int, default=4, help="the batched case's videos per pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set-size", type=int, default=50, help="videos per set for the FVD maths")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="JSON path (default: results/bench_fvd-<device>.json)")
    args = parser.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from napari_vesselgan.metrics.video import fvd_from_features, i3d_features
    from napari_vesselgan.nn.i3d import i3d_network

    common = {"device": args.device, "torch": torch.__version__}
    rng = np.random.default_rng(0)
    network = i3d_network("random").to(args.device)
    videos = {side: list(rng.integers(0, 256, (args.videos, args.frames, side, side), dtype=np.uint8))
              for side in (224, 512)}

    base = "i3d 224px batch 1, 1 thread"
    cases = [(base, 224, 1, 1), (f"i3d 224px batch {args.batch}, 1 thread", 224, args.batch, 1),
             ("i3d 224px batch 1, 2 threads", 224, 1, 2), ("i3d 512px batch 1, 1 thread", 512, 1, 1)]

    def run(side: int, batch: int, threads: int) -> float:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        i3d_features(videos[side], network, device=args.device, batch_size=batch)
        return (time.perf_counter() - start) / args.videos

    i3d_features(videos[224][:1], network, device=args.device)  # warm-up
    times: dict[str, list[float]] = {case[0]: [] for case in cases}
    for _ in range(args.repeats):  # round-robin, so that load from other work falls on every case alike
        for case, side, batch, threads in cases:
            times[case].append(run(side, batch, threads))
    base_value = statistics.median(times[base])
    rows = [row(base, "seconds_per_video", base_value, "s", common=common)]
    for case, *_ in cases[1:]:
        rows.append(row(case, "seconds_per_video", statistics.median(times[case]), "s", base, base_value,
                        common=common))
    torch.set_num_threads(1)
    # the preparation alone (to [0, 1], resize to 224, [-1, 1], 3 channels): a network that does nothing
    class FirstValue(torch.nn.Module):
        def forward(self, x):
            return x[:, :1, 0, 0, 0]

    idle = FirstValue()
    prepare = timed(lambda: i3d_features(videos[512], idle, device=args.device), args.repeats) / args.videos
    rows.append(row("preparation only 512px", "seconds_per_video", prepare, "s", base, base_value, common=common))

    for dim in (400, 1024):
        a = rng.normal(size=(args.set_size, dim))
        b = rng.normal(size=(args.set_size, dim)) + 0.1
        seconds = timed(lambda: fvd_from_features(a, b), max(args.repeats, 3))  # noqa: B023
        rows.append(row(f"fvd {args.set_size} videos {dim}-d", "seconds", seconds, "s", common=common))

    print(f"FVD benchmark: device {args.device}, torch {torch.__version__}, {args.videos} videos of "
          f"{args.frames} frames per run, median of {args.repeats}")
    print(f"{'case':<34} {'metric':<18} {'value':>10} {'ratio vs baseline':>18}")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['case']:<34} {r['metric']:<18} {r['value']:>10.4g} {ratio:>18}")
    out = args.out or RESULTS_DIR / f"bench_fvd-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"written: {out}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
