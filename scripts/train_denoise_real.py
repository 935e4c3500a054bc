#!/usr/bin/env python
"""Train `denoise` on real NIR-IIa (domain A) and NIR-IIb-like (domain B) frames of
``../shared/real/nir2-mouse`` with the ``real`` preset (residual generator starting at the
identity, identity loss, paired L1 on fitted degradations of the B frames, realistic synthetic
images), after fitting the NIR degradation to the training pairs only.

    # one leave-one-frame-out fold: train on frames 35 and 53 (frame 7 held out)
    python scripts/train_denoise_real.py --frames 35 53 --run-dir runs/denoise-real-no7
    # the shipped weights: all three frames
    python scripts/train_denoise_real.py --frames 7 35 53 --run-dir runs/denoise-real \\
        --export src/napari_vesselgan/weights/denoise.safetensors --fp16

One torch thread by default (``--threads``); resumes from ``--run-dir``. Prints the loss every
``--log-every`` steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from real_training import add_run_arguments, config_overrides, export, progress_printer

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "real" / "nir2-mouse"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL, help="folder of NIR-IIa_N.png / NIR-IIb_N.png pairs")
    parser.add_argument("--frames", nargs="+", type=int, required=True, help="frame numbers N to train on")
    parser.add_argument("--steps", type=int, help="CycleGAN steps (default: the preset's)")
    parser.add_argument("--decay-steps", type=int, help="of which decayed (default: the preset's)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)

    import imageio.v3 as iio
    import torch

    from napari_vesselgan.data.nir_optics import fit_degradation
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    torch.set_num_threads(args.threads)
    domain_a = [iio.imread(args.real / f"NIR-IIa_{n}.png") for n in args.frames]
    domain_b = [iio.imread(args.real / f"NIR-IIb_{n}.png") for n in args.frames]
    degradation, fit_report = fit_degradation(list(zip(domain_a, domain_b)))
    print("fitted degradation:", json.dumps(fit_report["parameters"]), flush=True)
    overrides = config_overrides(args)
    overrides.update({k: v for k, v in (("steps", args.steps), ("decay_steps", args.decay_steps)) if v is not None})
    config = DenoiseConfig.preset("real", degradation={k: float(v) for k, v in degradation.to_dict().items()},
                                  **overrides)

    print(f"warm start ({config.pretrain_steps} paired steps), then {config.steps} CycleGAN steps", flush=True)
    started = time.perf_counter()
    method = DenoiseMethod.untrained(config, device="cpu")
    weights = method.train((domain_a, domain_b), config, run_dir=args.run_dir, device="cpu",
                           callbacks=[progress_printer(args.log_every)])
    minutes = round((time.perf_counter() - started) / 60, 1)
    frames = " ".join(map(str, args.frames))
    provenance = {
        "training_data": (f"real in-vivo mouse NIR frames {frames} of nir2-mouse (Ma et al., PNAS 2021; "
                          "zhuoranzma/Deep-learning-for-in-vivo-near-infrared-imaging, BSD-2-Clause): NIR-IIa as "
                          "domain A, the published NIR-IIb-like CycleGAN outputs as domain B (unpaired), plus "
                          f"{config.synthetic_mix} realistic synthetic images per domain and "
                          f"{config.degraded_copies} fitted degradations of each B image as registered pairs"),
        "training_frames": list(args.frames),
        "training_images": [f"NIR-II{kind}_{n}.png" for n in args.frames for kind in ("a", "b")],
        "degradation_fit": fit_report,
        "training_command": " ".join(["python scripts/train_denoise_real.py", *(argv or sys.argv[1:])]),
        "training_minutes": minutes,
    }
    print(f"weights: {weights} ({minutes} min)")
    print("exported:", export(weights, args, provenance))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
