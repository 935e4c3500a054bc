#!/usr/bin/env bash
# The bundled low-light `denoise` weights (weights/denoise-low-light.safetensors): trained from
# scratch on the synthetic generator's unpaired photon-limited (domain A) and clean (domain B)
# NIR-II images, default config (ngf 16, ndf 32, 6 blocks, 128 px patches, batch 1), 6000 steps
# with the last 3000 decayed linearly. DenoiseMethod's input_kind="auto" picks them for
# photon-limited input (benchmarks/bench_denoise_input_kind.py); real NIR-IIa frames keep the
# real-frame set (scripts/train_denoise_real.sh). About 35 minutes on one quiet CPU core; resumes
# if interrupted (same run folder). Extra arguments go to `vesselgan train` (a smoke run:
# RUN_DIR=/tmp/x EXPORT=/tmp/x/w.safetensors bash scripts/train_denoise_low_light.sh --set steps=20 --set decay_steps=10).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run=${RUN_DIR:-runs/denoise-low-light}
$PY -m napari_vesselgan train denoise --synthetic --run-dir "$run" --device "${DEVICE:-cpu}" \
  --set steps=6000 --set decay_steps=3000 \
  --export "${EXPORT:-src/napari_vesselgan/weights/denoise-low-light.safetensors}" --fp16 "$@"
# Then (not run here): the evaluation and the card, as in weights/denoise.md's "Reproduce".
