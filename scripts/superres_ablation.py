"""The TG-loss ablation of the super-resolution paper (its Fig. 4), at a small budget.

Three models differ only in the total gradient term of both stages: none (FI-GAN-NOTG),
k_max = 1 (FI-GAN-TG-1) and k_max = N/2 (FI-GAN-TG), with the paper's stage weights otherwise
and the same seeds, data and steps. Each is measured like the bundled weights (held-out
synthetic pairs and 4x-degraded real NIR frames) and the table is written to
src/napari_vesselgan/weights/superres-ablation.json for the model card.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/superres_ablation.py [--steps 300 --finetune-steps 300]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from napari_vesselgan.io.atomic import atomic_path
from napari_vesselgan.methods.superres import SuperResConfig, SuperResMethod
from napari_vesselgan.evaluation.superres import evaluate_superres

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real" / "nir2-mouse"
OUTPUT = ROOT / "src" / "napari_vesselgan" / "weights" / "superres-ablation.json"


def variants(base: SuperResConfig) -> dict[str, SuperResConfig]:
    without_tg = {
        "pretrain_loss": base.pretrain_loss.model_copy(update={"total_gradient": 0.0}),
        "finetune_loss": base.finetune_loss.model_copy(update={"total_gradient": 0.0}),
    }
    return {
        "no TG (FI-GAN-NOTG)": base.model_copy(update=without_tg),
        "TG, k_max = 1 (FI-GAN-TG-1)": base.model_copy(update={"tg_k_max": 1}),
        "TG, k_max = N/2 (FI-GAN-TG)": base.model_copy(update={"tg_k_max": None}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="stage 1 steps per model")
    parser.add_argument("--finetune-steps", type=int, default=300, help="stage 2 steps per model")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / "superres-ablation"))
    parser.add_argument("-o", "--output", default=str(OUTPUT))
    args = parser.parse_args()
    base = SuperResConfig(steps=args.steps, decay_steps=args.steps // 2, finetune_steps=args.finetune_steps,
                          validate_every=50, patience=1000)  # same budget for all: no early stop
    real = sorted(REAL.glob("*.png")) if REAL.is_dir() else []
    results = {"budget": {"stage1_steps": args.steps, "stage2_steps": args.finetune_steps,
                          "note": "patience 1000: every variant runs its full budget; the best validation "
                                  "checkpoint of stage 2 is measured"},
               "variants": {}}
    for index, (name, config) in enumerate(variants(base).items()):
        started = time.perf_counter()
        method = SuperResMethod.untrained(config, device="cpu")
        method.train("synthetic", config, run_dir=Path(args.run_dir) / f"variant{index}", device="cpu")
        evaluation = evaluate_superres(method.predict, n_pairs=args.pairs, real_paths=real)
        results["variants"][name] = {
            "config": {"tg_k_max": config.tg_k_max, "theta_stage1": config.pretrain_loss.total_gradient,
                       "theta_stage2": config.finetune_loss.total_gradient},
            "minutes": round((time.perf_counter() - started) / 60, 1),
            **{set_name: evaluation[set_name]["summary"] for set_name in ("synthetic", "real") if set_name in evaluation},
        }
        row = results["variants"][name]["synthetic"]["model"]
        print(f"{name}: synthetic PSNR {row['psnr_mean']:.2f} dB, SSIM {row['ssim_mean']:.4f}", flush=True)
    with atomic_path(Path(args.output)) as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
