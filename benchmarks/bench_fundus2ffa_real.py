#!/usr/bin/env python
"""fundus2ffa on real UWF pairs, leave one pair out: ours (fine-tuned on real + synthetic pairs) vs pix2pix vs synthetic-only.

For each held-out pair N of ``../shared/real/uwf-slo-fa`` (``--folds``): the other pairs,
registered and reduced by ``scripts/prepare_uwf_pairs.py`` (1/4 size), train

* **ours**: the synthetic-only generator (``weights/fundus2ffa-synthetic.safetensors``) fine-tuned on those
  real pairs with the synthetic pairs in the fitted style (``mix_synthetic``) and the realism
  term against the real venous-phase angiograms of ``ffa-frames`` (``lambda_realism``);
* **pix2pix**: the paper's baseline (U-Net, GAN + 100 L1) from scratch on the same pairs;

each ``--steps`` steps, one CPU thread. Measured on the held-out pair (1/4 size, its angiogram
registered the same way, inside both fields of view): PSNR, SSIM and vessel Dice against the real
angiogram, for ours, pix2pix, the bundled synthetic-only weights and the no-model inverted green
channel; and each model's vessel Dice to scikit-image's real retina photo (512 px; the goal there
is >= 0.70). Writes ``benchmarks/results/bench_fundus2ffa_real-cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from eye_common import REAL_DIR, RESULTS_DIR, ROW_KEYS, finish, read

ROOT = Path(__file__).resolve().parents[1]
FACTOR = 4
#: The synthetic-only weights every fine-tuning starts from (scripts/train_fundus2ffa_weights.sh made them).
SYNTHETIC_BASE = ROOT / "src" / "napari_vesselgan" / "weights" / "fundus2ffa-synthetic.safetensors"


def ours_settings(steps: int) -> list[str]:
    """The ``--set`` options of our fine-tuning (shared with scripts/train_fundus2ffa_real.sh)."""
    realism = REAL_DIR / "ffa-frames" / "phase" / "venous_phase"
    return ["steps=%d" % steps, "decay_steps=%d" % (steps // 2), "perceptual=false", f"init_weights={SYNTHETIC_BASE}",
            "lr=0.0001", "mix_synthetic=true", "synthetic_style=fitted", "synthetic_pairs=64",
            f"realism_images={realism}", "lambda_realism=1"]


def pix2pix_settings(steps: int) -> list[str]:
    return ["steps=%d" % steps, "decay_steps=%d" % (steps // 2), "generator=unet", "perceptual=false",
            "lambda_saliency=0"]


def train(out: Path, photos: Path, angiograms: Path, settings: list[str]) -> Path:
    from napari_vesselgan.cli import main as cli

    args = ["train", "fundus2ffa", "--domain-a", str(photos), "--domain-b", str(angiograms), "--device", "cpu",
            "--run-dir", str(out)]
    for item in settings:
        args += ["--set", item]
    if cli(args) not in (0, None):
        raise SystemExit(f"training failed: {args}")
    return out / "fundus2ffa.safetensors"


def held_out_pair(prepared: Path, number: str) -> tuple[np.ndarray, np.ndarray]:
    return read(prepared / "photos" / f"{number}.png") / 255.0, read(prepared / "angiograms" / f"{number}.png") / 255.0


def measure(model, photo: np.ndarray, angiogram: np.ndarray) -> dict[str, float]:
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask, extract_vessels
    from napari_vesselgan.metrics import psnr, ssim

    target_vessels, target_decided = extract_vessels(angiogram)
    _, photo_decided = extract_vessels(photo)
    both = photo_decided.fov & target_decided.fov
    if model is None:  # no model: the inverted green channel matched to the angiogram's mean and spread
        inverted = 1.0 - photo[..., 1]
        inside = inverted[both]
        image = (inverted - inside.mean()) / max(inside.std(), 1e-6) * angiogram[both].std() + angiogram[both].mean()
        image = np.clip(image, 0, 1)
    else:
        image = model.predict(photo.astype(np.float32))
    image = np.where(both, image, 0).astype(np.float32)
    target = np.where(both, angiogram, 0).astype(np.float32)
    vessels = extract_vessel_mask(image, dark_vessels=False, fov=both)
    return {"psnr": psnr(target, image, data_range=1.0), "ssim": ssim(target, image, data_range=1.0),
            "vessel_dice_to_fa": dice(vessels, target_vessels, both)}


def retina_dice(model) -> float:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_eye_models_real import _photo, vessel_dice_to_photo

    from napari_vesselgan.analysis.vessel_mask import extract_vessels

    photo = _photo(512)
    vessels, decided = extract_vessels(photo)
    return vessel_dice_to_photo(model.predict(photo), vessels, decided.fov)


def main(argv: list[str] | None = None) -> list[dict]:
    import torch

    from napari_vesselgan import methods

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", nargs="*", default=["1", "2", "3", "4"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "fundus2ffa-real-loo")
    parser.add_argument("--skip-pix2pix", action="store_true")
    parser.add_argument("--out", default=str(RESULTS_DIR / "bench_fundus2ffa_real-cpu.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT / "scripts"))
    import prepare_uwf_pairs

    prepared = args.work / "all"
    if not (prepared / "registration.json").is_file():
        prepare_uwf_pairs.main([str(prepared), "--factor", str(FACTOR)])
    numbers = sorted(json.loads((prepared / "registration.json").read_text()))
    rows: list[dict] = []
    common = {"device": "cpu", "torch": torch.__version__}
    bundled = methods.load("fundus2ffa", SYNTHETIC_BASE, device="cpu")
    for number in args.folds:
        fold = args.work / f"no{number}"
        for side in ("photos", "angiograms"):
            (fold / side).mkdir(parents=True, exist_ok=True)
            for other in numbers:
                link = fold / side / f"{other}.png"
                if other != number and not link.exists():
                    link.symlink_to(prepared / side / f"{other}.png")
        models = {"synthetic only": bundled, "inverted green (no model)": None}
        begun = time.perf_counter()
        models["ours"] = methods.load("fundus2ffa", train(fold / "ours", fold / "photos", fold / "angiograms",
                                                           ours_settings(args.steps)), device="cpu")
        seconds = {"ours": time.perf_counter() - begun}
        if not args.skip_pix2pix:
            begun = time.perf_counter()
            models["pix2pix"] = methods.load("fundus2ffa", train(fold / "pix2pix", fold / "photos", fold / "angiograms",
                                                                  pix2pix_settings(args.steps)), device="cpu")
            seconds["pix2pix"] = time.perf_counter() - begun
        photo, angiogram = held_out_pair(prepared, number)
        baseline = measure(None, photo, angiogram)
        for name, model in models.items():
            values = baseline if model is None else measure(model, photo, angiogram)
            for metric, value in values.items():
                rows.append({"case": f"UWF pair {number} held out: {name}", "metric": metric, "value": round(value, 4),
                             "unit": "vs the real FA (1/4 size)", "baseline": "inverted green (no model)",
                             "baseline_value": round(baseline[metric], 4),
                             "ratio": round(value / baseline[metric], 4) if baseline[metric] else None, **common,
                             **({"train_seconds": round(seconds[name])} if name in seconds else {})})
            if model is not None:
                rows.append({"case": f"fold {number}: {name}", "metric": "vessel_dice_to_photo (skimage retina)",
                             "value": round(retina_dice(model), 4), "unit": "goal >= 0.70", "baseline": None,
                             "baseline_value": None, "ratio": None, **common})
    assert all(set(ROW_KEYS) <= set(row) for row in rows)
    return finish(rows, args.out, started, (("case", "case", 48), ("metric", "metric", 38), ("value", "value", 8),
                                            ("no model", "baseline_value", 8)))


if __name__ == "__main__":
    main()
