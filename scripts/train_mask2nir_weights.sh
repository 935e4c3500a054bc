#!/usr/bin/env bash
# Trains the bundled default `mask2nir` weights, and a plain CycleGAN at the same budget for the
# model card's comparison, on synthetic masks and synthetic NIR-II images (unpaired, disjoint tree
# seeds). Default config (ngf 16, ndf 32, 9 blocks) with 64 px patches, batch 1, 1000 steps (the
# last 500 decayed linearly). No ImageNet VGG-19 exists on the machine that made the bundled
# file, so the attention-guided run uses seeded *random* VGG-19 features (feature_weights=random);
# retrain with the real file (feature_weights unset, torch hub cache) where you have it.
# One CPU thread: about 12 + 5 minutes on a quiet core (20 + 8 beside two other trainings). Resumes if interrupted (same run folders).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
runs=${RUNS:-runs}
common=(--synthetic --device "${DEVICE:-cpu}" --set steps=1000 --set decay_steps=500 --set patch_size=64
        --set checkpoint_every=250)
.venv/bin/vesselgan train mask2nir "${common[@]}" --set feature_weights=random \
  --run-dir "$runs/mask2nir-default" --export src/napari_vesselgan/weights/mask2nir.safetensors --fp16
.venv/bin/vesselgan train mask2nir "${common[@]}" --set lambda_content=0 --set lambda_global_style=0 \
  --set lambda_local_style=0 --run-dir "$runs/mask2nir-plain-cyclegan" --export "$runs/mask2nir-plain-cyclegan.safetensors" --fp16
.venv/bin/vesselgan evaluate mask2nir --device cpu --pairs 16 --size 256 \
  --compare "$runs/mask2nir-plain-cyclegan.safetensors" \
  -o src/napari_vesselgan/weights/mask2nir-evaluation.json
.venv/bin/python scripts/make_mask2nir_card.py
