#!/usr/bin/env bash
# Trains the bundled default `superres` weights from scratch with the default config (width 32,
# growth 16, 7 RRDBs; stage 1: 2000 steps on scikit-image's natural photos, batch 16 of 64 px,
# Adam 1e-3 decayed over the last 1000; stage 2: up to 1000 steps on 48 synthetic NIR vessel
# images, batch 16 of 32 px, Adam 1e-4, early stop on validation PSNR), with the perceptual
# terms off (no ImageNet weights can be had here; see the model card). Exports fp16 weights into
# the package, then measures them for the model card. About 35 minutes on one quiet CPU core;
# resumes if interrupted (same run folder).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/superres-default}
.venv/bin/vesselgan train superres --synthetic --run-dir "$run" --device "${DEVICE:-cpu}" \
  --export src/napari_vesselgan/weights/superres.safetensors --fp16
.venv/bin/vesselgan evaluate superres --device cpu --pairs 8 --size 256 \
  --real ../shared/real/nir2-mouse --real-glob '*.png' \
  -o src/napari_vesselgan/weights/superres-evaluation.json
.venv/bin/python scripts/superres_training_summary.py "$run"
