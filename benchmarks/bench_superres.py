#!/usr/bin/env python
"""`superres` speed: the total gradient loss (FFT vs the paper's loop) and video frame rates.

Part 1, TG loss: forward + backward of ``total_gradient_loss`` (FFT, O(N log N) per line) and
of ``total_gradient_loss_loop`` (the paper's Eq. 10, one offset at a time, O(N * N/2) per line)
on a batch of 8 single-channel images at 64, 128 and 256 px; the loop is the baseline, and
the largest relative difference of the two loss values is recorded.

Part 2, frames per second of the generator (the bundled weights, or random weights of the
default architecture with ``--untrained``) on batches of 640x360 and 1280x720 frames. Each
step adds one change to the one before, and every step is compared with the eager fp32
baseline of the same run (speed ratio, and the largest output difference as a fraction of the
[-1, 1] range). The cases are timed round-robin (one call of each per round, median over the
rounds): timed one after the other, the machine's drift posed as speed-ups of 1.5x:

1. ``eager fp32``: the network as trained (spectral-norm parametrisations evaluated per call)
2. ``+ frozen spectral norm``: the normalised weights baked into plain convolutions (what
   ``SuperResMethod`` does once its weights are loaded)
3. ``+ channels_last``: NHWC memory format for the convolutions
4. ``+ bf16 autocast``: bfloat16 arithmetic (approximate)
5. ``+ torch.compile`` (with ``--compile``; minutes of compilation on a CPU)
6. ``+ CUDA graphs`` (CUDA only: ``torch.compile(mode="reduce-overhead")``)

plus ``predict() end to end``: ``Method.predict`` on a (T, Y, X) uint16 stack, with the
numpy-side intensity mapping and batching the library really does.

Part 3, tiling: the largest difference between whole-image prediction and tiles of 256 px with
the method's practical halo (64 px) on a 1024x1024 image, as a fraction of its range.

Writes ``benchmarks/results/bench_superres-<device>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TG_SIZES = (64, 128, 256)
FRAME_SIZES = ((360, 640), (720, 1280))


def timed(fn, repeats: int, sync) -> float:
    """Median seconds of ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_round_robin(calls: dict[str, Any], repeats: int, sync) -> dict[str, float]:
    """Median seconds per call of each of ``calls``, timed in turn (one call of each per round,
    after two warm-up rounds), so that drift in the machine's speed hits every case alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_index in range(repeats + 2):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            sync()
            if round_index >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def row(case: str, metric: str, value: float, unit: str, baseline: str | None = None,
        baseline_value: float | None = None, **extra: Any) -> dict[str, Any]:
    ratio = value / baseline_value if baseline_value else None
    return {"case": case, "metric": metric, "value": value, "unit": unit, "baseline": baseline,
            "baseline_value": baseline_value, "ratio": ratio, "device": DEVICE_NAME, "torch": torch.__version__,
            **extra}


def bench_tg_loss(device: torch.device, repeats: int, sync) -> list[dict[str, Any]]:
    from napari_vesselgan.losses.total_gradient import total_gradient_loss, total_gradient_loss_loop

    rows = []
    for size in TG_SIZES:
        generator = torch.Generator().manual_seed(size)
        target = torch.rand(8, 1, size, size, generator=generator).to(device)
        pred = torch.rand(8, 1, size, size, generator=generator).to(device).requires_grad_(True)

        def run(loss_fn):
            def step():
                pred.grad = None
                loss_fn(pred, target).backward()
            return step

        loop_s = timed(run(total_gradient_loss_loop), repeats, sync)
        fft_s = timed(run(total_gradient_loss), repeats, sync)
        with torch.no_grad():
            fast, slow = float(total_gradient_loss(pred, target)), float(total_gradient_loss_loop(pred, target))
        base = f"TG loop {size}px"
        rows.append(row(base, "time fwd+bwd", loop_s * 1e3, "ms"))
        rows.append(row(f"TG FFT {size}px", "time fwd+bwd", fft_s * 1e3, "ms", base, loop_s * 1e3,
                        speedup=loop_s / fft_s, relative_difference=abs(fast - slow) / abs(slow)))
    return rows


def load_method(weights: str | None, untrained: bool, device: str):
    from napari_vesselgan import methods
    from napari_vesselgan.methods.superres import SuperResMethod

    if untrained:
        return SuperResMethod.untrained(device=device)
    return methods.load("superres", weights=weights, device=device)


def trained_networks(method) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(as trained, frozen): the generator with its spectral-norm parametrisations (evaluated at
    every call) and a copy with the normalised weights baked in. ``method.generator`` itself is
    already frozen (``SuperResMethod`` does it on load), so it cannot serve as the baseline."""
    from napari_vesselgan.engine.checkpoint import load_checkpoint, load_network
    from napari_vesselgan.methods.superres import SuperResMethod
    from napari_vesselgan.nn.rrdb import freeze_spectral_norm

    net = SuperResMethod.build_generator(method.config)
    if method.weights is not None:
        load_network(net, load_checkpoint(method.weights).networks["generator"], name="superres generator")
    frozen = SuperResMethod.build_generator(method.config)
    frozen.load_state_dict(net.state_dict())
    device = method.device
    return net.to(device).eval(), freeze_spectral_norm(frozen).to(device).eval()


def bench_frames(method, device: torch.device, repeats: int, sync, compile_: bool) -> list[dict[str, Any]]:
    from napari_vesselgan.data import lowres_pair
    from napari_vesselgan.engine.device import autocast

    rows = []
    net, frozen = trained_networks(method)
    for height, width in FRAME_SIZES:
        frames = 4 if device.type == "cpu" and width <= 640 else (2 if device.type == "cpu" else 16)
        _, up, _ = lowres_pair((height, width), seed=0)
        unit = (up.astype(np.float32) / up.max()) * 2 - 1
        batch = torch.from_numpy(np.repeat(unit[None, None], frames, axis=0)).to(device)
        label = f"{width}x{height} x{frames}"

        nhwc = batch.contiguous(memory_format=torch.channels_last)
        last = copy.deepcopy(frozen).to(memory_format=torch.channels_last)  # Module.to works in place
        steps: list[tuple[str, Any, torch.Tensor, str]] = [
            ("eager fp32", net, batch, "fp32"),
            ("+ frozen spectral norm", frozen, batch, "fp32"),
            ("+ channels_last", last, nhwc, "fp32"),
            ("+ bf16 autocast", last, nhwc, "bf16"),
        ]
        if compile_:
            steps.append(("+ torch.compile", torch.compile(last), nhwc, "bf16"))
        if device.type == "cuda":
            steps.append(("+ CUDA graphs", torch.compile(last, mode="reduce-overhead"), nhwc, "bf16"))
        calls: dict[str, Any] = {}
        for name, model, inputs, precision in steps:
            def forward(model=model, inputs=inputs, precision=precision):
                with torch.inference_mode(), autocast(device, precision):
                    return model(inputs)

            calls[name] = forward
        stack = np.repeat(up[None], frames, axis=0)
        calls["predict() end to end"] = lambda: method.predict(stack)
        seconds = timed_round_robin(calls, repeats, sync)
        reference = calls["eager fp32"]().float()
        base_fps = frames / seconds["eager fp32"]
        for name, call in calls.items():
            fps = frames / seconds[name]
            if name == "eager fp32":
                rows.append(row(f"{label} {name}", "throughput", fps, "frames/s"))
                continue
            extra = {}
            if name != "predict() end to end":
                extra["max_error_of_range"] = float((call().float() - reference).abs().max()) / 2.0
            rows.append(row(f"{label} {name}", "throughput", fps, "frames/s", f"{label} eager fp32", base_fps,
                            **extra))
    return rows


def bench_tiling(method) -> list[dict[str, Any]]:
    from napari_vesselgan.data import lowres_pair

    _, up, _ = lowres_pair((1024, 1024), seed=1)
    image = up.astype(np.float32)
    whole = method.predict(image, tile=None)
    tiled = method.predict(image, tile=256)
    span = float(image.max() - image.min())
    return [row(f"1024px tiles 256 halo {method.receptive_halo()}", "max |tiled - whole|",
                float(np.abs(tiled - whole).max()) / span, "fraction of range"),
            row(f"1024px tiles 256 halo {method.receptive_halo()}", "mean |tiled - whole|",
                float(np.abs(tiled - whole).mean()) / span, "fraction of range")]


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'case':<52} {'metric':<20} {'value':>10} {'unit':<18} {'ratio':>7}  notes"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ""
        notes = []
        if "speedup" in r:
            notes.append(f"speedup {r['speedup']:.1f}x, rel. diff {r['relative_difference']:.1e}")
        if "max_error_of_range" in r:
            notes.append(f"max error {r['max_error_of_range']:.1e} of range")
        lines.append(f"{r['case']:<52} {r['metric']:<20} {r['value']:>10.4g} {r['unit']:<18} {ratio:>7}  "
                     + "; ".join(notes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    global DEVICE_NAME
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--weights", help="superres weights (default: the bundled ones)")
    parser.add_argument("--untrained", action="store_true", help="random weights of the default architecture")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile on CPU)")
    parser.add_argument("--skip-tg", action="store_true")
    parser.add_argument("--skip-tiling", action="store_true")
    parser.add_argument("--out", help="JSON file (default benchmarks/results/bench_superres-<device>.json)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    DEVICE_NAME = args.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    method = load_method(args.weights, args.untrained, args.device)
    rows = [] if args.skip_tg else bench_tg_loss(device, args.repeats, sync)
    rows += bench_frames(method, device, args.repeats, sync, args.compile)
    if not args.skip_tiling:
        rows += bench_tiling(method)
    for r in rows:
        r["threads"] = torch.get_num_threads()
        r["weights"] = "untrained (random)" if args.untrained else str(method.weights)
    print(format_table(rows))
    out = Path(args.out) if args.out else RESULTS_DIR / f"bench_superres-{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"written: {out}")
    return rows


DEVICE_NAME = "cpu"

if __name__ == "__main__":
    main()
