#!/usr/bin/env bash
# Trains the bundled default `fundus2ffa` weights for real eyes (issue 14): the synthetic-only
# weights (weights/fundus2ffa-synthetic.safetensors, made by scripts/train_fundus2ffa_weights.sh)
# fine-tuned for 600 steps (Adam 1e-4, the last 300 decayed) on
#   - the four real UWF SLO / FA pairs of ../shared/real/uwf-slo-fa, each angiogram registered onto
#     its photo by their vessels and both reduced to 1/4 (scripts/prepare_uwf_pairs.py),
#   - the 64 synthetic pairs in the style fitted to real images (mix_synthetic, synthetic_style=fitted),
#   - a realism term against the 20 real venous-phase angiograms of ../shared/real/ffa-frames
#     (lambda_realism 1; unpaired),
# with GAN + 100 L1 + 1 L_sal as before (perceptual term off: no ImageNet VGG19 here). Exports fp16
# weights into the package, then measures them: held-out synthetic pairs (the card's table) and
# the real images (bench_eye_models_real.py). The leave-one-pair-out figures of this recipe come
# from benchmarks/bench_fundus2ffa_real.py. About 5-10 minutes on one CPU core (OMP_NUM_THREADS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
real=${REAL_DIR:-../shared/real}
pairs=${PAIRS_DIR:-runs/fundus2ffa-real-pairs}
run=${RUN_DIR:-runs/fundus2ffa-real}
[ -f "$pairs/registration.json" ] || .venv/bin/python scripts/prepare_uwf_pairs.py "$pairs" --source "$real/uwf-slo-fa"
.venv/bin/vesselgan train fundus2ffa --domain-a "$pairs/photos" --domain-b "$pairs/angiograms" \
  --run-dir "$run" --device "${DEVICE:-cpu}" \
  --set steps=600 --set decay_steps=300 --set lr=0.0001 --set perceptual=false \
  --set init_weights=src/napari_vesselgan/weights/fundus2ffa-synthetic.safetensors \
  --set mix_synthetic=true --set synthetic_style=fitted --set synthetic_pairs=64 \
  --set realism_images="$real/ffa-frames/phase/venous_phase" --set lambda_realism=1 \
  --export src/napari_vesselgan/weights/fundus2ffa.safetensors --fp16
.venv/bin/vesselgan evaluate fundus2ffa --device cpu --pairs 16 --size 256 \
  -o src/napari_vesselgan/weights/fundus2ffa-evaluation.json
.venv/bin/python benchmarks/bench_eye_models_real.py
.venv/bin/python scripts/make_fundus2ffa_card.py
