#!/usr/bin/env python
"""Exact tiling near whole-image speed: `denoise` at 2048 x 2048, whole vs streamed tiles, and an
8192 x 8192 uint16 image through `denoise` within 2 GB.

Cases, each in a fresh subprocess (so that ``resource.getrusage``'s peak RSS is its own):

* ``whole``           the whole image in one forward pass (fp32): the baseline
* ``streamed T``      exact tiles of T px (``engine.streaming``: every layer once per tile, the
                      instance-norm statistics gathered over the whole image stage by stage)
* ``multipass T``     (``--multipass``) the previous exact tiling (``engine.tiling.predict_tiled``):
                      one pass over the tiles per norm layer
* ``huge``            (``--huge N``) an N x N uint16 image through ``Method.predict`` with the
                      default memory budget (2 GiB; it picks the tile), peak RSS of the whole
                      process (model, image and result included)

Rows: throughput (MP/s, best of ``--repeats`` after a warm-up) with its ratio to the whole
image, by the wall clock and by the process's CPU time (``throughput_cpu_time``: with one
thread, the work done, unaffected by other load on a shared machine), the largest difference from the whole-image output as a fraction of its range, and peak
RSS (MiB). Goals (issue 15): streamed >= 0.5x whole (stretch 0.8x), difference <= 1e-3, huge
peak RSS <= 2048 MiB. Writes ``benchmarks/results/bench_tiling-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, kB on Linux


def _method(untrained: bool):
    import torch

    from napari_vesselgan import methods
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    if untrained:
        torch.manual_seed(0)
        return DenoiseMethod.untrained(DenoiseConfig(), device="cpu")
    return methods.load("denoise", device="cpu")


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One case in this process: time it, keep its output, report the peak RSS."""
    import torch

    torch.set_num_threads(spec["threads"])
    method = _method(spec["untrained"])
    if spec["kind"] == "huge":
        side = spec["size"]
        from napari_vesselgan.data import lowlight_pair

        block = lowlight_pair((1024, 1024), seed=0)[0]
        image = np.tile(block, (side // 1024, side // 1024))
        start, cpu = time.perf_counter(), time.process_time()
        out = method.predict(image)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": [seconds], "cpu_seconds": [cpu], "peak_rss_mib": _peak_rss_mib(), "shape": list(out.shape),
                "dtype": str(out.dtype), "tile": method.choose_tile(side, side)}
    image = np.load(spec["image"])
    chw = image[None].astype(np.float32) / 65535.0 * 2 - 1
    from napari_vesselgan.engine.streaming import predict_streamed
    from napari_vesselgan.engine.tiling import predict_tiled, predict_whole

    net, device, halo = method.generator, method.device, method.receptive_halo()

    def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return chw[:, y0:y1, x0:x1]

    tiled = dict(tile=spec["tile"], halo=halo, stride=method.stride, out_channels=1, device=device)
    run = {
        "whole": lambda: predict_whole(net, chw, stride=method.stride, device=device),
        "streamed": lambda: predict_streamed(net, read, chw.shape, memory_budget=2**30, **tiled),
        "multipass": lambda: predict_tiled(net, read, chw.shape, **tiled),
    }[spec["kind"]]
    out = run()  # warm-up, and the output compared
    np.save(spec["output"], out)
    seconds, cpu_seconds = [], []
    for _ in range(spec["repeats"]):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mib": _peak_rss_mib(), "halo": halo}


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_case", json.dumps(spec)],
                          stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def row(case: str, metric: str, value: float, unit: str, baseline: str | None = None,
        baseline_value: float | None = None) -> dict[str, Any]:
    import torch

    ratio = round(value / baseline_value, 4) if baseline_value else None
    return dict(zip(ROW_KEYS, (case, metric, value, unit, baseline, baseline_value, ratio, "cpu",
                               torch.__version__)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="side of the image compared (default 2048; 0: skip)")
    parser.add_argument("--tiles", type=int, nargs="+", default=[1024, 512], help="tile sides (default 1024 512)")
    parser.add_argument("--multipass", action="store_true", help="also time the previous multi-pass tiling")
    parser.add_argument("--huge", type=int, default=8192, help="side of the uint16 memory case (0: skip)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per case after the warm-up")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--untrained", action="store_true", help="seeded untrained weights (tests)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_tiling-cpu.json")
    parser.add_argument("--_case", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args._case:
        print(json.dumps(run_case(json.loads(args._case))))
        return []
    from napari_vesselgan.data import lowlight_pair

    rows: list[dict[str, Any]] = []
    if args.size:  # 0: the memory case alone
        megapixels = args.size**2 / 1e6
        with tempfile.TemporaryDirectory() as tmp:
            image_path = Path(tmp) / "image.npy"
            np.save(image_path, lowlight_pair((args.size, args.size), seed=0)[0])
            common = {"image": str(image_path), "repeats": args.repeats, "threads": args.threads,
                      "untrained": args.untrained, "size": args.size}
            cases = [("whole", "whole", None)] + [(f"streamed {t}", "streamed", t) for t in args.tiles]
            if args.multipass:
                cases += [(f"multipass {t}", "multipass", t) for t in args.tiles]
            results, outputs = {}, {}
            for name, kind, tile in cases:
                output = str(Path(tmp) / f"{kind}-{tile}.npy")
                results[name] = spawn({**common, "kind": kind, "tile": tile, "output": output})
                outputs[name] = np.load(output)
            whole = outputs["whole"]
            span = float(whole.max() - whole.min()) or 1.0
            for name, _, _ in cases:
                label = f"{args.size}px {name}"
                for metric, key in (("throughput", "seconds"), ("throughput_cpu_time", "cpu_seconds")):
                    mps = megapixels / min(results[name][key])
                    base = megapixels / min(results["whole"][key])
                    rows.append(row(label, metric, round(mps, 4), "MP/s", f"{args.size}px whole",
                                    None if name == "whole" else round(base, 4)))
                if name != "whole":
                    error = float(np.abs(outputs[name] - whole).max()) / span
                    rows.append(row(label, "max_abs_diff_over_range", error, "fraction", f"{args.size}px whole"))
                rows.append(row(label, "peak_rss", round(results[name]["peak_rss_mib"], 1), "MiB"))
    if args.huge:
        huge = spawn({"kind": "huge", "size": args.huge, "threads": args.threads, "untrained": args.untrained})
        label = f"{args.huge}px uint16 denoise (tile {huge['tile']}, default budget)"
        rows.append(row(label, "peak_rss", round(huge["peak_rss_mib"], 1), "MiB"))
        rows.append(row(label, "seconds", round(huge["seconds"][0], 1), "s"))
        rows.append(row(label, "cpu_seconds", round(huge["cpu_seconds"][0], 1), "s"))

    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  {'metric':<24} {'value':>12} {'unit':<9} ratio")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}x"
        print(f"{r['case']:<{width}}  {r['metric']:<24} {r['value']:>12.6g} {r['unit']:<9} {ratio}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
