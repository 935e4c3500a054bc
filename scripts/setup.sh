#!/usr/bin/env bash
# One-step set-up: system libraries for headless Qt, a virtual environment in .venv/,
# the CPU build of torch where no NVIDIA GPU is present, and the project (editable) with
# its GUI, test and BioImage.io export extras. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0 \
           libxcb-shape0 libxcb-randr0 libxkbcommon-x11-0 libgl1 libegl1 libfontconfig1 libdbus-1-3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true

if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  # Pinned first, before the project: an unpinned `torch` would pull the multi-GB CUDA build.
  # On this project's machines the pin resolves to the CPU build; elsewhere, without a GPU,
  # set TORCH_INDEX to PyTorch's CPU wheel index to get the small build.
  .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
.venv/bin/python -m pip install -q -e ".[all,test,bioimageio,fast]"
echo "set-up done: .venv/bin/vesselgan and .venv/bin/python are ready"
