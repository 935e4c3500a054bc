#!/usr/bin/env python
"""`superres` on real fluorescence, leave one frame out: does stage 2 on real images with real
optics beat bicubic and Richardson-Lucy on real NIR frames it was not trained on, without losing
the gain on other fluorescence?

Each fold model (``runs/superres-real-no<N>``, made by ``scripts/train_superres_real.py --frames``
with frame N left out; even liver slices) is measured on the two images of its held-out frame
number (NIR-IIa_N, a real frame, and NIR-IIb_N, a published CycleGAN's cleaner output), on the
odd liver slices (never trained on) and on the held-out synthetic pairs of the model card,
next to bicubic, Richardson-Lucy and the baseline weights (the bundled ones before this work,
``--baseline``). Two degradations of each high-resolution image X:

(a) ``real optics``: lens blur, 4x bicubic down-sampling, camera Poisson-Gaussian noise and 8-bit
    quantisation with the NIR degradation fitted to all three frame pairs
    (``evaluation.superres.DEFAULT_OPTICS``), then bicubic up (one fixed noise draw per image);
(b) ``bicubic``: bicubic down and up alone (the old protocol; the reference keeps its own noise,
    which no method can predict from Y, so gains here are small by construction).

RL's iteration count is chosen per protocol on held-out synthetic validation pairs. PSNR and SSIM
use the reference's range. Writes ``benchmarks/results/bench_superres_real-cpu.json``.

    OMP_NUM_THREADS=1 python benchmarks/bench_superres_real.py --baseline /tmp/superres-before.safetensors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
REAL = REPO.parent / "shared" / "real"
FRAMES = (7, 35, 53)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--runs", default="runs/superres-real-no{frame}", help="fold run folders ({frame}: held out)")
    parser.add_argument("--baseline", type=Path, help="weights to compare with (default: the bundled ones)")
    parser.add_argument("--synthetic", type=int, default=8, help="held-out synthetic pairs (256 px)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "bench_superres_real-cpu.json")
    args = parser.parse_args(argv)

    import imageio.v3 as iio
    import tifffile
    import torch

    from napari_vesselgan.data.degradation import crop_to_multiple, degrade
    from napari_vesselgan.data.nir import VALIDATION_SEED_BASE
    from napari_vesselgan.data.nir_optics import NIRDegradation
    from napari_vesselgan.evaluation.common import HELD_OUT_SEED_BASE
    from napari_vesselgan.evaluation.superres import (DEFAULT_OPTICS, choose_rl_iterations, fidelity,
                                                      real_optics_pair, richardson_lucy_deconvolution,
                                                      synthetic_optics_pair, synthetic_pair)
    from napari_vesselgan.methods.superres import SuperResMethod

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    optics = NIRDegradation.from_dict(DEFAULT_OPTICS)

    def pairs_of(images: dict[str, np.ndarray]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        return {"real optics": {n: real_optics_pair(im, n, optics) for n, im in images.items()},
                "bicubic": {n: (degrade(im, 4)[1], crop_to_multiple(im, 4).astype(np.float64))
                            for n, im in images.items()}}

    frames = {f"NIR-{w}_{n}.png": iio.imread(args.real / "nir2-mouse" / f"NIR-{w}_{n}.png")
              for n in FRAMES for w in ("IIa", "IIb")}
    stack = tifffile.imread(args.real / "liver-vessels" / "raw_liver_1.tif")
    liver = {f"liver slice {i}": stack[i] for i in range(1, len(stack), 2)}
    synthetic = {f"seed {HELD_OUT_SEED_BASE + i}": synthetic_pair(HELD_OUT_SEED_BASE + i, 256)[1]
                 for i in range(args.synthetic)}
    sets = {"frames": pairs_of(frames), "liver (odd slices)": pairs_of(liver),
            "synthetic": {"real optics": {n: synthetic_optics_pair(HELD_OUT_SEED_BASE + i, 256, optics)
                                          for i, n in enumerate(synthetic)},
                          "bicubic": {n: synthetic_pair(HELD_OUT_SEED_BASE + i, 256) for i, n in enumerate(synthetic)}}}
    validation = {"real optics": [synthetic_optics_pair(VALIDATION_SEED_BASE + i, 256, optics) for i in range(2)],
                  "bicubic": [synthetic_pair(VALIDATION_SEED_BASE + i, 256) for i in range(2)]}
    rl = {protocol: choose_rl_iterations(pairs) for protocol, pairs in validation.items()}
    print("Richardson-Lucy iterations:", rl, flush=True)

    baseline = SuperResMethod.load(args.baseline, device="cpu")
    models = {"baseline": baseline}
    for frame in FRAMES:
        path = REPO / args.runs.format(frame=frame) / "finetune" / "superres.safetensors"
        if path.is_file():
            models[f"fold (no {frame})"] = SuperResMethod.load(path, device="cpu")
        else:
            print(f"missing fold {frame}: {path}", flush=True)

    def classical(protocol: str) -> dict:
        return {"bicubic": lambda low: low,
                "Richardson-Lucy": lambda low: richardson_lucy_deconvolution(low, rl[protocol])}

    rows = []
    for set_name, protocols in sets.items():
        for protocol, pairs in protocols.items():
            for name, (low, high) in pairs.items():
                frame = int(name.split("_")[1].split(".")[0]) if set_name == "frames" else None
                chosen = dict(classical(protocol))
                for label, method in models.items():
                    if set_name == "frames" and label.startswith("fold") and label != f"fold (no {frame})":
                        continue  # a fold model is judged only on the frame it never saw
                    chosen[label if not label.startswith("fold") or set_name != "frames" else "fold model"] = \
                        method.predict
                for candidate, fn in chosen.items():
                    scores = fidelity(fn(low), high)
                    rows.append({"set": set_name, "protocol": protocol, "image": name, "candidate": candidate,
                                 "psnr": scores["psnr"], "ssim": scores["ssim"]})
            print(f"{set_name} / {protocol}: done ({time.perf_counter() - started:.0f}s)", flush=True)

    summary = {}
    for set_name in sets:
        for protocol in ("real optics", "bicubic"):
            chosen = [r for r in rows if r["set"] == set_name and r["protocol"] == protocol]
            candidates = list(dict.fromkeys(r["candidate"] for r in chosen))
            summary.setdefault(set_name, {})[protocol] = {
                c: {"psnr_mean": float(np.mean([r["psnr"] for r in chosen if r["candidate"] == c])),
                    "ssim_mean": float(np.mean([r["ssim"] for r in chosen if r["candidate"] == c])),
                    "count": sum(r["candidate"] == c for r in chosen)} for c in candidates}

    print(f"\n{'set':<20} {'protocol':<12} {'image':<18} {'candidate':<16} {'PSNR':>7} {'SSIM':>7}")
    for r in rows:
        if r["set"] == "frames":
            print(f"{r['set']:<20} {r['protocol']:<12} {r['image']:<18} {r['candidate']:<16} {r['psnr']:7.2f} "
                  f"{r['ssim']:7.4f}")
    print()
    for set_name, protocols in summary.items():
        for protocol, candidates in protocols.items():
            for c, v in candidates.items():
                print(f"{set_name:<20} {protocol:<12} {'mean':<18} {c:<16} {v['psnr_mean']:7.2f} {v['ssim_mean']:7.4f}")

    fold_configs = {}
    for frame in FRAMES:
        summary_path = REPO / args.runs.format(frame=frame) / "summary.json"
        if summary_path.is_file():
            info = json.loads(summary_path.read_text())
            fold_configs[str(frame)] = {"frames": info["frames"], "minutes": info["minutes"],
                                        "validation": info["validation"]}
    result = {"rows": rows, "summary": summary, "rl_iterations": rl, "optics": optics.to_dict(),
              "baseline": str(args.baseline or "bundled"), "folds": fold_configs,
              "torch": torch.__version__, "device": "cpu", "threads": args.threads,
              "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
