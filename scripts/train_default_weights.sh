#!/usr/bin/env bash
# Trains a synthetic-only `denoise` baseline from scratch on the synthetic generator's data
# (default config: ngf 16, ndf 32, 6 blocks, 128 px patches, batch 1; here 6000 steps with the
# last 3000 decayed linearly) and measures it. These were the bundled default weights until issue 13;
# they make real in-vivo frames worse (see weights/denoise.md), so the default set now comes from
# scripts/train_denoise_real.sh; the same training, exported as the bundled low-light set (which
# input_kind auto picks for photon-limited images), is scripts/train_denoise_low_light.sh. This
# one writes into runs/ only. About 35 minutes on one quiet CPU
# core (OMP_NUM_THREADS=1); resumes if interrupted (same run folder).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/denoise-default}
.venv/bin/vesselgan train denoise --synthetic --run-dir "$run" --device "${DEVICE:-cpu}" \
  --set steps=6000 --set decay_steps=3000 \
  --export "$run/synthetic-only.safetensors" --fp16
.venv/bin/vesselgan evaluate denoise --weights "$run/synthetic-only.safetensors" --device cpu --pairs 8 --size 256 \
  --real ../shared/real/nir2-mouse --real-glob 'NIR-IIa_*.png' --partner NIR-IIa:NIR-IIb \
  -o "$run/evaluation.json"
