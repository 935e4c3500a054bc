#!/usr/bin/env bash
# Which knowledge-mask technique does what: two more arms beside the bundled weights (all four
# techniques) and the baseline (none) that scripts/train_fundus2video_weights.sh trains, with the
# same budget, data and seed: `nce` keeps only the mask-enhanced PatchNCE losses (L_UP, L_SP),
# `attention-kd` only the knowledge-boosted attention and the knowledge-aware discriminators
# (L_att, L_KD). Each is evaluated on the same 16 held-out videos into
# benchmarks/results/fundus2video-ablation-<variant>.json. VARIANTS="nce" runs only those named.
# About 35-45 minutes per variant on one quiet CPU core (OMP_NUM_THREADS=1); resumes if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-12000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
common=(--synthetic --device cpu --set steps=$steps --set decay_steps=$((steps / 2)))
declare -A variants=(
  [nce]="--set lambda_attention=0 --set lambda_knowledge_d=0"
  [attention-kd]="--set lambda_nce_unsupervised=0 --set lambda_nce_supervised=0"
)
for name in ${VARIANTS:-nce attention-kd}; do
  run=runs/fundus2video-ablation-$name
  # shellcheck disable=SC2086
  .venv/bin/vesselgan train fundus2video "${common[@]}" ${variants[$name]} --run-dir "$run" > "$run.log" 2>&1
  .venv/bin/vesselgan evaluate fundus2video --device cpu --weights "$run/fundus2video.safetensors" --pairs 16 \
    --size 192 -o benchmarks/results/fundus2video-ablation-$name.json
done
