#!/usr/bin/env python
"""Prediction throughput and peak memory of the `denoise` generator: whole image vs tiled.

For each image size (square, synthetic low-light NIR-II, uint16) four cases run, each in a
fresh subprocess so that its peak memory is its own:

* ``whole fp32``   the whole image in one forward pass, exact; the baseline of every other case
* ``whole bf16``   the same under bf16 autocast (faster on CPUs with bf16 units, approximate)
* ``tiled T exact`` tiles of T px with the exact halo (``receptive_halo()``): seamless, equal
  to whole-image prediction up to float rounding, but the instance-norm statistics are
  gathered over all tiles first (since issue 15 streamed: each layer once per tile, stage by
  stage; before, (norm layers + 1) passes over the tiles)
* ``tiled T halo 16`` the same with a 16 px halo: fewer pixels per pass, approximate

Rows: throughput (megapixels/s, median of ``--repeats`` timed runs after one warm-up),
peak extra memory (MiB above the memory held once model and image are loaded: peak RSS on
the CPU, ``torch.cuda.max_memory_allocated`` on CUDA) and, for the non-baseline cases, the
largest absolute difference from whole fp32 as a fraction of the image's intensity range.
The warm-up run predicts a float32 copy of the image so that this error is not hidden
(or inflated) by rounding to uint16; the timed runs predict the uint16 image itself.

Writes ``benchmarks/results/bench_predict-<device>.json`` (see docs/design.md "Benchmarks") and
prints a table. Run ``python benchmarks/bench_predict.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SIZES = (256, 512, 1024, 2048)
TILE = 256
APPROX_HALO = 16
# Above this side the exact tiled case takes minutes per run on 2 CPU cores: only with --full.
EXACT_TILED_MAX_DEFAULT = 1024
ROW_KEYS = ("case", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "device", "torch")


@dataclass(frozen=True)
class Case:
    """One way of predicting an image of ``size`` px."""

    kind: str  # "whole-fp32", "whole-bf16", "tiled-exact", "tiled-halo"
    size: int
    tile: int | None  # None: whole image
    halo: int | None  # None: the method's exact halo
    precision: str
    exact_halo: int

    @property
    def name(self) -> str:
        if self.tile is None:
            return f"{self.size}px whole {self.precision}"
        if self.halo is None:
            return f"{self.size}px tiled {self.tile} exact (halo {self.exact_halo})"
        return f"{self.size}px tiled {self.tile} halo {self.halo}"


def tile_for(size: int) -> int:
    """256 px tiles; on images not larger than that, half the side so that there are still 4 tiles."""
    return TILE if size > TILE else max(size // 2, 4)


def cases_for(size: int, exact_halo: int) -> list[Case]:
    tile = tile_for(size)
    return [
        Case("whole-fp32", size, None, None, "fp32", exact_halo),
        Case("whole-bf16", size, None, None, "bf16", exact_halo),
        Case("tiled-exact", size, tile, None, "fp32", exact_halo),
        Case("tiled-halo", size, tile, APPROX_HALO, "fp32", exact_halo),
    ]


# ----- the child process: one case ------------------------------------------------------------
def load_method(weights: str | None, untrained: bool, device: str):
    """The denoise method: untrained (seeded, same architecture), a checkpoint, or the bundled weights."""
    import torch

    from napari_vesselgan import methods

    if untrained:
        from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

        torch.manual_seed(0)  # the same random weights in every subprocess
        return DenoiseMethod.untrained(DenoiseConfig(), device=device)
    return methods.load("denoise", weights=weights, device=device)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB on Linux


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one case and measure its peak memory; save the warm-up output for the error rows."""
    import torch

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    method = load_method(spec["weights"], spec["untrained"], spec["device"])
    image = np.load(spec["image"])
    image_float = image.astype(np.float32)  # same values and range: an unrounded output for the error
    cuda = method.device.type == "cuda"
    size = image.shape[-1]
    # tile >= the image side takes the whole-image path regardless of the memory budget
    kwargs = {"tile": spec["tile"] or size, "precision": spec["precision"], "halo": spec["halo"]}

    if cuda:
        torch.cuda.synchronize(method.device)
        torch.cuda.reset_peak_memory_stats(method.device)
        base = torch.cuda.memory_allocated(method.device)
    else:
        _reset_peak_rss()
        base = _rss_bytes()

    start = time.perf_counter()
    reference = method.predict(image_float, **kwargs)  # warm-up
    warmup_s = time.perf_counter() - start
    np.save(spec["output"], reference)
    del reference

    times: list[float] = []
    begun = time.perf_counter()
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        out = method.predict(image, **kwargs)
        if cuda:
            torch.cuda.synchronize(method.device)
        times.append(time.perf_counter() - start)
        del out
        if time.perf_counter() - begun > spec["case_budget"]:
            break

    if cuda:
        peak_extra = torch.cuda.max_memory_allocated(method.device) - base
    else:
        peak_extra = _peak_rss_bytes() - base
    return {
        "times": times,
        "warmup_s": warmup_s,
        "peak_extra_bytes": max(0, peak_extra),
        "threads": torch.get_num_threads(),
        "halo": method.receptive_halo() if spec["halo"] is None else spec["halo"],
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def spawn_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh interpreter (its own peak memory); its last stdout line is the result."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--_case", json.dumps(spec)],
        stdout=subprocess.PIPE, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {spec['name']!r} failed (exit status {proc.returncode}); see above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----- rows, table and file ---------------------------------------------------------------------
def make_row(case: str, metric: str, value: float, unit: str, baseline: str | None,
             baseline_value: float | None, ratio: float | None, device: str, torch: str) -> dict[str, Any]:
    return dict(zip(ROW_KEYS, (case, metric, value, unit, baseline, baseline_value, ratio, device, torch)))


def _ratio(value: float, base: float | None) -> float | None:
    return round(value / base, 4) if base else None


def format_table(rows: list[dict[str, Any]], sizes: dict[str, int]) -> str:
    """Aligned columns: case, size, metric, value, unit, ratio vs baseline."""
    header = ("case", "size", "metric", "value", "unit", "ratio vs baseline")
    lines = []
    for row in rows:
        case = row["case"].split(" ", 1)[1] if row["case"].split(" ", 1)[0].endswith("px") else row["case"]
        value = row["value"]
        text = f"{value:.3g}" if row["metric"] == "max_abs_error" else f"{value:.4g}"
        ratio = "-" if row["ratio"] is None else (f"{row['ratio']:.3g}x" if row["baseline"] else "1 (baseline)")
        lines.append((case, str(sizes[row["case"]]), row["metric"], text, row["unit"], ratio))
    widths = [max(len(col[i]) for col in [header, *lines]) for i in range(len(header))]
    right = {1, 3}
    fmt = lambda cols: "  ".join(c.rjust(w) if i in right else c.ljust(w)  # noqa: E731
                                 for i, (c, w) in enumerate(zip(cols, widths))).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput and peak memory of denoise prediction: whole image vs tiled.")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="square image sides in px (default: 256 512 1024 2048)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case after one warm-up (default 3)")
    parser.add_argument("--case-budget", type=float, default=20.0,
                        help="stop repeating a case once its timed runs took this many seconds "
                             "(at least one timed run; default 20)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--weights", default=None, help="denoise checkpoint (default: the bundled weights)")
    parser.add_argument("--untrained", action="store_true",
                        help="random weights (seeded), same architecture: for trying the script out")
    parser.add_argument("--out", default=None, help="JSON file (default benchmarks/results/bench_predict-<device>.json)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--full", action="store_true",
                        help=f"also run the exact tiled case above {EXACT_TILED_MAX_DEFAULT} px (minutes per run on a CPU)")
    parser.add_argument("--_case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.weights and args.untrained:
        parser.error("give either --weights or --untrained, not both")
    if args.repeats < 1 or any(s < 16 for s in args.sizes):
        parser.error("--repeats must be >= 1 and every size >= 16")
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args._case is not None:
        print(json.dumps(run_case(json.loads(args._case))), flush=True)
        return []

    import torch

    from napari_vesselgan.data import lowlight_pair
    from napari_vesselgan.engine.device import resolve_device
    from napari_vesselgan.engine.tiling import plan_windows
    from napari_vesselgan.io.atomic import atomic_path

    device = resolve_device(args.device)
    device_name = device.type
    if args.threads:
        torch.set_num_threads(args.threads)
    method = load_method(args.weights, args.untrained, str(device))  # fails early on bad weights
    exact_halo = method.receptive_halo()
    n_norms = sum(isinstance(m, torch.nn.InstanceNorm2d) for m in method.generator.modules())
    weights = "untrained (random, seed 0)" if args.untrained else str(method.weights)
    out_path = Path(args.out) if args.out else RESULTS_DIR / f"bench_predict-{device_name}.json"
    cpu = cpu_model()
    print(f"denoise prediction benchmark: device {device}, torch {torch.__version__}, "
          f"{args.threads or torch.get_num_threads()} threads, CPU {cpu}\nweights: {weights}", file=sys.stderr)

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    row_sizes: dict[str, int] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_predict-") as tmp:
        for size in args.sizes:
            image = lowlight_pair((size, size), seed=0)[0]
            span = float(image.max()) - float(image.min()) or 1.0
            image_path = Path(tmp) / f"image-{size}.npy"
            np.save(image_path, image)
            baseline: dict[str, Any] = {}
            reference = None
            for case in cases_for(size, exact_halo):
                if case.kind == "tiled-exact" and size > EXACT_TILED_MAX_DEFAULT and not args.full:
                    notes.append(f"skipped {case.name}: takes minutes per run on a CPU; run with --full")
                    continue
                spec = {"name": case.name, "image": str(image_path), "output": str(Path(tmp) / f"out-{size}.npy"),
                        "tile": case.tile, "halo": case.halo, "precision": case.precision,
                        "weights": args.weights, "untrained": args.untrained, "device": str(device),
                        "threads": args.threads, "repeats": args.repeats, "case_budget": args.case_budget}
                print(f"  {case.name} ...", end="", flush=True, file=sys.stderr)
                result = spawn_case(spec)
                output = np.load(spec["output"])
                seconds = statistics.median(result["times"])
                mps = size * size / 1e6 / seconds
                mib = result["peak_extra_bytes"] / 2**20
                print(f" {seconds:.2f} s/run ({len(result['times'])} timed, warm-up {result['warmup_s']:.1f} s)",
                      file=sys.stderr)
                if case.tile is not None:
                    n_tiles = len(plan_windows(size, size, case.tile, result["halo"], method.stride))
                    notes.append(f"{case.name}: {n_tiles} tiles streamed in {n_norms + 1} stages "
                                 f"(engine.streaming: each layer once per tile, {n_norms} norms' statistics "
                                 "gathered over the whole image)")
                row_sizes[case.name] = size
                common = {"device": device_name, "torch": torch.__version__}
                if case.kind == "whole-fp32":
                    baseline = {"name": case.name, "throughput": mps, "memory": mib}
                    reference = output
                    rows.append(make_row(case.name, "throughput", round(mps, 4), "MP/s", None, None, 1.0, **common))
                    rows.append(make_row(case.name, "peak_extra_memory", round(mib, 1), "MiB", None, None, 1.0,
                                         **common))
                    continue
                rows.append(make_row(case.name, "throughput", round(mps, 4), "MP/s", baseline["name"],
                                     round(baseline["throughput"], 4), _ratio(mps, baseline["throughput"]), **common))
                rows.append(make_row(case.name, "peak_extra_memory", round(mib, 1), "MiB", baseline["name"],
                                     round(baseline["memory"], 1), _ratio(mib, baseline["memory"]), **common))
                error = float(np.max(np.abs(output.astype(np.float64) - reference))) / span
                rows.append(make_row(case.name, "max_abs_error", float(f"{error:.3g}"), "fraction of range",
                                     baseline["name"], 0.0, None, **common))

    print(format_table(rows, row_sizes))
    if notes:
        print("\n" + "\n".join(f"note: {note}" for note in notes))
    with atomic_path(out_path) as tmp_path:
        tmp_path.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nwrote {len(rows)} rows to {out_path} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
