#!/usr/bin/env python
"""Fine-tune `superres` (stage 2) on real fluorescence with real optics: the real NIR frames of
``../shared/real/nir2-mouse`` (NIR-IIa and the NIR-IIb-like partner of each chosen frame number),
the even slices of the light-sheet liver stack, and synthetic NIR images, from the bundled weights
(the ``real`` preset). Pairs get a lens blur, 4x down-sampling and camera noise with the NIR
degradation fitted to the training frames only (``data.nir_optics.fit_degradation``), jittered per
pair; a quarter stay bicubic only.

    # one leave-one-frame-out fold: train on frames 35 and 53 (frame 7 held out)
    python scripts/train_superres_real.py --frames 35 53 --run-dir runs/superres-real-no7
    # the shipped weights: all three frames
    python scripts/train_superres_real.py --frames 7 35 53 --run-dir runs/superres-real \\
        --export src/napari_vesselgan/weights/superres.safetensors --fp16

One torch thread by default (``--threads``); resumes from ``--run-dir``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from real_training import add_run_arguments, config_overrides, export, progress_printer

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "real"


def training_images(real: Path, frames: list[int], liver: str) -> tuple[list, list[str]]:
    """The real high-resolution training images (NIR frames first, liver slices last) and their names."""
    import imageio.v3 as iio
    import tifffile

    images, names = [], []
    for n in frames:
        for window in ("IIa", "IIb"):
            images.append(iio.imread(real / "nir2-mouse" / f"NIR-{window}_{n}.png"))
            names.append(f"NIR-{window}_{n}")
    stack = tifffile.imread(real / "liver-vessels" / "raw_liver_1.tif")
    chosen = range(0, len(stack), 2) if liver == "even" else range(len(stack)) if liver == "all" else ()
    for index in chosen:
        images.append(stack[index])
        names.append(f"liver slice {index}")
    return images, names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL, help="folder holding nir2-mouse/ and liver-vessels/")
    parser.add_argument("--frames", nargs="+", type=int, required=True, help="frame numbers N to train on")
    parser.add_argument("--liver", choices=("even", "all", "none"), default="even", help="liver slices to train on")
    add_run_arguments(parser, log_every=25)
    args = parser.parse_args(argv)

    import imageio.v3 as iio
    import torch

    from napari_vesselgan.data.nir_optics import fit_degradation
    from napari_vesselgan.methods.superres import SuperResConfig, SuperResMethod

    torch.set_num_threads(args.threads)
    nir = args.real / "nir2-mouse"
    fit_pairs = [(iio.imread(nir / f"NIR-IIa_{n}.png"), iio.imread(nir / f"NIR-IIb_{n}.png")) for n in args.frames]
    degradation, _ = fit_degradation(fit_pairs)
    print("fitted degradation:", json.dumps(degradation.to_dict()), flush=True)
    images, names = training_images(args.real, args.frames, args.liver)
    overrides = config_overrides(args)
    config = SuperResConfig.preset("real", degradation={k: float(v) for k, v in degradation.to_dict().items()},
                                   **overrides)

    started = time.perf_counter()
    method = SuperResMethod.untrained(config, device="cpu")
    weights = method.train(images, config, run_dir=args.run_dir, device="cpu", callbacks=[progress_printer(args.log_every)])
    minutes = round((time.perf_counter() - started) / 60, 1)
    validation = json.loads((args.run_dir / "finetune" / "validation.json").read_text())
    summary = {"frames": args.frames, "liver": args.liver, "images": names, "minutes": minutes,
               "degradation": degradation.to_dict(), "validation": validation,
               "config": {k: v for k, v in config.model_dump().items() if k != "degradation"}}
    (args.run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"done in {minutes} min; best validation {max(v['psnr'] for v in validation):.2f} dB", flush=True)
    if args.export:
        print(f"exported to {export(weights, args)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
