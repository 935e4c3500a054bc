#!/usr/bin/env bash
# Trains the bundled default `fundus2video` weights from scratch on synthetic fundus photos with
# 12-frame FFA videos (data.fundus.fundus_video; default config: global generator ngf 16,
# 3 down-samplings, 4 blocks; three-scale PatchGANs ndf 16; 128 px crops of 192 px videos, batch
# 1; loss GAN + feature matching + 1 L_att + 1 L_UP + 4 L_SP + 2 L_KD; pix2pixHD's VGG19 term is
# OFF because no ImageNet VGG19 weights exist on the machine that trained them), exports them in
# fp16 into the package, then trains the ablation arm WITHOUT the knowledge-mask techniques
# (preset baseline) with the same steps, data and seed, and measures both on the same 16 held-out
# videos. Both runs go in parallel, each on one core (OMP_NUM_THREADS=1); they resume if
# interrupted (run the script again). STEPS sets the budget (default 12000 window steps; about 55 minutes per arm on a quiet core).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-12000}
common=(--synthetic --device "${DEVICE:-cpu}" --set steps=$steps --set decay_steps=$((steps / 2)))
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
.venv/bin/vesselgan train fundus2video "${common[@]}" --run-dir runs/fundus2video-default \
  --export src/napari_vesselgan/weights/fundus2video.safetensors --fp16 > runs/fundus2video-default.log 2>&1 &
default_pid=$!
.venv/bin/vesselgan train fundus2video "${common[@]}" --preset baseline --run-dir runs/fundus2video-baseline \
  > runs/fundus2video-baseline.log 2>&1 &
baseline_pid=$!
wait $default_pid
wait $baseline_pid
.venv/bin/vesselgan evaluate fundus2video --device cpu --pairs 16 --size 192 \
  -o src/napari_vesselgan/weights/fundus2video-evaluation.json
.venv/bin/vesselgan evaluate fundus2video --device cpu --pairs 16 --size 192 \
  --weights runs/fundus2video-baseline/fundus2video.safetensors -o benchmarks/results/fundus2video-ablation-baseline.json
