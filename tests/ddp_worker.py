"""Run under ``torchrun`` by tests/test_distributed.py (and its one-process reference, alone):
train the cases of ``CASES`` into ``<out>/<case>`` with tiny models on the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

#: case -> (method, config overrides of its 'test' preset, steps of a first run to resume from or 0)
CASES = {
    # batch 3 on 2 processes: unequal shares (2 + 1), the weighted gradient sum is needed
    "fundus2ffa": ("fundus2ffa", {"batch_size": 3, "steps": 3, "checkpoint_every": 2}, 2),
    "superres": ("superres", {"batch_size": 3, "steps": 2, "finetune_steps": 2, "synthetic_images": 2,
                              "synthetic_size": 48, "validate_every": 1}, 0),
    # pool of 1 and batch 2: the pool's swap draws run in the first step already, on the global batch
    "denoise": ("denoise", {"batch_size": 2, "steps": 1, "pool_size": 1, "synthetic_images": 2,
                            "synthetic_size": 64}, 0),
}


def train(case: str, out: Path) -> None:
    from napari_vesselgan import methods
    from napari_vesselgan.jobs.train import TrainingRequest, run_training

    name, overrides, first_steps = CASES[case]
    config_class = methods.method_class(name).config_class
    run_dir = out / case
    if first_steps:  # stop early, then resume to the end in the same folder
        partial = config_class.preset("test", **{**overrides, "steps": first_steps})
        run_training(TrainingRequest(name, partial, run_dir=run_dir, device="cpu"))
    config = config_class.preset("test", **overrides)
    run_training(TrainingRequest(name, config, run_dir=run_dir, device="cpu"))


if __name__ == "__main__":
    torch.set_num_threads(1)
    target = Path(sys.argv[1])
    for case in sys.argv[2:]:
        train(case, target)
