#!/usr/bin/env bash
# Trains the bundled default `mask2nir` weights on real NIR-II images and the vessel masks extracted
# from them (issue 13): the NIR-IIb-like nir2-mouse frames 7 and 35, the even slices of the liver
# light-sheet stack and 24 realistic synthetic trees (scripts/train_mask2nir_real.py, the `real`
# preset: CycleGAN + 10 x L1 on the registered (mask, image) pairs, random-VGG feature terms off,
# 96 px patches, 1200 steps, the last 600 decayed). Frame 53 and the odd liver slices are held out.
# Needs ../shared/real (nir2-mouse/, liver-vessels/). One CPU thread: about 45 minutes beside two
# other trainings on a 2-core machine. Resumes if interrupted (same run folder).
# Then: the synthetic-only weights shipped before (main@d36bdb6) as the comparison, the synthetic
# evaluation the tests recompute, the real-image benchmark the card leads with, the card, the README.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-.venv/bin/python}
runs=${RUNS:-runs}
mkdir -p "$runs"
$PY scripts/train_mask2nir_real.py --run-dir "$runs/mask2nir-real" \
  --export src/napari_vesselgan/weights/mask2nir.safetensors --fp16
git show d36bdb6:src/napari_vesselgan/weights/mask2nir.safetensors > "$runs/mask2nir-synthetic.safetensors"
$PY -m napari_vesselgan evaluate mask2nir --device cpu --pairs 16 --size 256 \
  --compare "$runs/mask2nir-synthetic.safetensors" \
  -o src/napari_vesselgan/weights/mask2nir-evaluation.json
$PY benchmarks/bench_nir_realism.py --compare "$runs/mask2nir-synthetic.safetensors"
$PY scripts/make_mask2nir_card.py
$PY scripts/figures.py
