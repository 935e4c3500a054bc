#!/usr/bin/env bash
# Trains the bundled default `denoise` weights from scratch on the synthetic generator's data
# (default config: ngf 16, ndf 32, 6 blocks, 128 px patches, batch 1; here 6000 steps with the
# last 3000 decayed linearly), exports them in fp16 into the package, then measures them for the
# model card. About 35 minutes on one quiet CPU core (OMP_NUM_THREADS=1; 2 cores: ~20 min);
# resumes if interrupted (same run folder).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/denoise-default}
.venv/bin/vesselgan train denoise --synthetic --run-dir "$run" --device "${DEVICE:-cpu}" \
  --set steps=6000 --set decay_steps=3000 \
  --export src/napari_vesselgan/weights/denoise.safetensors --fp16
.venv/bin/vesselgan evaluate denoise --device cpu --pairs 8 --size 256 \
  --real ../shared/real/nir2-mouse --real-glob 'NIR-IIa_*.png' \
  -o src/napari_vesselgan/weights/denoise-evaluation.json
