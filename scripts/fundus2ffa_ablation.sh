#!/usr/bin/env bash
# The paper's ablation at one small budget on synthetic pairs: the proposed loss (GAN + 100 L1 +
# 1 saliency), the same without the saliency loss, and the pix2pix baseline (U-Net, GAN + 100 L1),
# each 3000 steps (last 1500 decayed), 128 px crops, the same 128 training pairs and seeds; the
# perceptual term is off in all three (no ImageNet VGG19 weights here). Each is evaluated on the
# same 16 held-out pairs; results in benchmarks/results/fundus2ffa-ablation-<variant>.json.
# saliency-255 weights L_sal by 127.5^2 = 16256.25: the loss as it would be with saliency maps on a
# 0-255 scale (the paper does not say on which scale its gamma = 1 applies; L1 is on [-1, 1]).
# VARIANTS="saliency-255" runs only the variants named.
# About 7 minutes per variant on one quiet CPU core (OMP_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-3000}
common=(--synthetic --device cpu --set steps=$steps --set decay_steps=$((steps / 2)) --set perceptual=false
        --set synthetic_pairs=128)
declare -A variants=(
  [saliency]="--set lambda_saliency=1.0"
  [no-saliency]="--set lambda_saliency=0.0"
  [saliency-255]="--set lambda_saliency=16256.25"
  [pix2pix]="--preset pix2pix"
)
for name in ${VARIANTS:-saliency no-saliency pix2pix saliency-255}; do
  run=runs/fundus2ffa-ablation-$name
  # shellcheck disable=SC2086
  .venv/bin/vesselgan train fundus2ffa "${common[@]}" ${variants[$name]} --run-dir "$run"
  .venv/bin/vesselgan evaluate fundus2ffa --device cpu --weights "$run/fundus2ffa.safetensors" --pairs 16 --size 256 \
    -o benchmarks/results/fundus2ffa-ablation-$name.json
done
