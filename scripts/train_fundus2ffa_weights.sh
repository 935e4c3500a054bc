#!/usr/bin/env bash
# Trains the bundled default `fundus2ffa` weights from scratch on synthetic fundus/FFA pairs
# (data.fundus; default config: ResNet generator ngf 16, 6 blocks, PatchGAN ndf 32, 128 px crops,
# batch 1, loss GAN + 100 L1 + 1 saliency; the VGG19 perceptual term is OFF because no ImageNet
# VGG19 weights exist on the machine that trained them), 8000 steps with the last 4000 decayed
# linearly, exports them in fp16 into the package and measures them on 16 held-out pairs.
# About 20 minutes on one quiet CPU core (OMP_NUM_THREADS=1); resumes if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${RUN_DIR:-runs/fundus2ffa-default}
.venv/bin/vesselgan train fundus2ffa --synthetic --run-dir "$run" --device "${DEVICE:-cpu}" \
  --set steps=8000 --set decay_steps=4000 --set perceptual=false --set synthetic_pairs=128 \
  --export src/napari_vesselgan/weights/fundus2ffa.safetensors --fp16
.venv/bin/vesselgan evaluate fundus2ffa --device cpu --pairs 16 --size 256 \
  -o src/napari_vesselgan/weights/fundus2ffa-evaluation.json
