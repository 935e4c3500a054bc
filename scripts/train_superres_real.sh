#!/usr/bin/env bash
# Stage 2 of `superres` on real fluorescence with real optics (the `real` preset), from the bundled
# weights: the three leave-one-frame-out folds on the nir2-mouse frames (train on two frame numbers
# and the even liver slices, judge on the third; ~13 min each on one CPU core), the
# benchmark that the model card leads with (benchmarks/bench_superres_real.py, against the weights
# bundled before this stage), then the shipped weights on all three frames, their evaluation,
# training summary and card.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1
before=${BEFORE:-src/napari_vesselgan/weights/superres-synthetic.safetensors}
# the synthetic-only weights (scripts/train_superres_weights.sh), bundled beside the default as its starting point
for held in 7 35 53; do
  frames=$(for n in 7 35 53; do if [ "$n" != "$held" ]; then echo -n "$n "; fi; done)
  $PY scripts/train_superres_real.py --frames $frames --run-dir "runs/superres-real-no$held" \
    --set "init_weights=\"$before\""
done
$PY benchmarks/bench_superres_real.py --baseline "$before"
$PY scripts/train_superres_real.py --frames 7 35 53 --run-dir runs/superres-real --set "init_weights=\"$before\"" \
  --export src/napari_vesselgan/weights/superres.safetensors --fp16
$PY -m napari_vesselgan evaluate superres --device cpu --pairs 8 --size 256 \
  --real ../shared/real/nir2-mouse --real-glob '*.png' \
  -o src/napari_vesselgan/weights/superres-evaluation.json
$PY scripts/superres_training_summary.py runs/superres-real
$PY scripts/make_superres_card.py
