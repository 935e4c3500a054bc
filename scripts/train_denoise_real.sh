#!/usr/bin/env bash
# The leave-one-frame-out folds of `denoise` on the three nir2-mouse frames (train on two, judge
# on the third), then the shipped weights on all three; each ~10 min on a loaded CPU core. Then the
# evaluation that the model card quotes (benchmarks/bench_denoise_real.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1
for held in 7 35 53; do
  frames=$(for n in 7 35 53; do if [ "$n" != "$held" ]; then echo -n "$n "; fi; done)
  $PY scripts/train_denoise_real.py --frames $frames \
    --run-dir "runs/denoise-real-no$held"
done
$PY scripts/train_denoise_real.py --frames 7 35 53 \
  --run-dir runs/denoise-real --export src/napari_vesselgan/weights/denoise.safetensors --fp16
