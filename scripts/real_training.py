"""What the real-image training scripts share (train_denoise_real, train_superres_real,
train_mask2nir_real): the run options, ``--set`` overrides, a progress line every few steps and
the export of the trained weights."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_run_arguments(parser: argparse.ArgumentParser, *, log_every: int = 50) -> None:
    """--run-dir, --set, --threads, --log-every, --export and --fp16."""
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="extra config field=value (JSON values)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--log-every", type=int, default=log_every)
    parser.add_argument("--export", type=Path, help="copy the trained weights here")
    parser.add_argument("--fp16", action="store_true")


def config_overrides(args: argparse.Namespace) -> dict:
    """The ``--set key=value`` options as config fields (values are JSON)."""
    return {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}


def progress_printer(every: int):
    """A training callback that prints the step, the seconds and the losses every ``every`` steps."""
    from napari_vesselgan.engine.trainer import FunctionCallback

    def log(state) -> None:
        if state.step % every == 0 or state.step == state.total_steps:
            losses = " ".join(f"{k}={v:.3f}" for k, v in state.losses.items())
            print(f"step {state.step}/{state.total_steps} {time.perf_counter() - state.started:.0f}s {losses}",
                  flush=True)

    return FunctionCallback(log)


def export(weights: Path, args: argparse.Namespace, provenance: dict | None = None) -> Path:
    """The trained weights (and ``provenance``) written to ``--export`` (fp16 with ``--fp16``), else
    beside them as ``final.safetensors``."""
    import torch

    from napari_vesselgan.engine.checkpoint import export_checkpoint

    if args.export:
        return export_checkpoint(weights, args.export, dtype=torch.float16 if args.fp16 else None,
                                 provenance=provenance)
    return export_checkpoint(weights, args.run_dir / "final.safetensors", provenance=provenance)
