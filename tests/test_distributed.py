"""Data-parallel training under torchrun: two gloo processes equal one process at the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_vesselgan.engine.distributed import Distributed

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src"


def test_shares_cover_the_global_batch_in_order():
    """Unequal shares (5 over 2 processes: 3 + 2) partition the batch; the weights sum to 1."""
    batch = (torch.arange(5 * 2).reshape(5, 2), 7, torch.ones(4))
    parts = [Distributed(rank, 2).split(batch) for rank in range(2)]
    assert torch.equal(torch.cat([p[0] for p in parts]), batch[0])
    assert [len(p[0]) for p in parts] == [3, 2]
    assert all(p[1] == 7 and torch.equal(p[2], batch[2]) for p in parts)  # per-step values pass whole
    assert sum(Distributed(rank, 2).weight(5) for rank in range(2)) == pytest.approx(1.0)
    assert Distributed(0, 1).split(batch) is batch


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / a.double().norm())


def _weights(path: Path, networks: tuple[str, ...]) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(path).items()  # .original: the weight under spectral normalisation
            if k.endswith((".weight", ".original")) and k.split(".")[0] in networks}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """The worker's cases trained once by two gloo processes (torchrun) and once in this process."""
    out = tmp_path_factory.mktemp("ddp")
    cases = ["fundus2ffa", "superres", "denoise"]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(HERE / "ddp_worker.py"), str(out / "two"), *cases],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sys.path.insert(0, str(HERE))
    try:
        import ddp_worker
    finally:
        sys.path.remove(str(HERE))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for case in cases:
            ddp_worker.train(case, out / "one")
    finally:
        torch.set_num_threads(before)
    return out / "one", out / "two"


@pytest.mark.parametrize("case, stage, networks", [
    ("fundus2ffa", ".", ("generator", "discriminator")), ("superres", "pretrain", ("generator", "discriminator")),
    ("superres", "finetune", ("generator", "discriminator", "best")), ("denoise", ".", ("d_a", "d_b"))])
def test_two_gloo_processes_equal_one_process(runs, case, stage, networks):
    """Same global batch and seed: the same losses, weights and written files, whatever the process count.

    Weights are compared on the ``.weight`` tensors: a bias right before an instance norm has a
    gradient that is zero but for float rounding, and Adam's first steps (about the learning
    rate times the gradient's sign) turn that rounding into steps of the learning rate's size in
    either direction; the norm removes the bias again, so it never changes an output. For the
    same reason a few of CycleGAN's generator weights whose gradients are ~1e-9 flip after one
    step; denoise compares its discriminators, which see the shared image pool.
    """
    one, two = (run / case / stage for run in runs)
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())  # rank 0 alone wrote
    history_one, history_two = (json.loads((run / "losses.json").read_text()) for run in (one, two))
    assert len(history_one) == len(history_two) > 0
    for step_one, step_two in zip(history_one, history_two, strict=True):
        assert step_one.keys() == step_two.keys()
        for key in step_one:
            assert step_two[key] == pytest.approx(step_one[key], rel=1e-4, abs=1e-6), (case, key)
    weights_one, weights_two = (_weights(run / "last.safetensors", networks) for run in (one, two))
    assert weights_one.keys() == weights_two.keys()
    everything = [torch.cat([w[k].flatten() for k in sorted(w)]) for w in (weights_one, weights_two)]
    assert _relative(*everything) <= 1e-4
    assert max(_relative(weights_one[k], weights_two[k]) for k in weights_one) <= 1e-4


def test_resumed_under_torchrun(runs):
    """fundus2ffa stopped after 2 steps and resumed to 3 under torchrun, like the reference."""
    _, two = runs
    history = json.loads((two / "fundus2ffa" / "losses.json").read_text())
    assert [h["step"] for h in history] == [1, 2, 3]


def test_generators_predict_alike(runs):
    """The exported generators of both runs give the same image (within 1e-4 of its range)."""
    from napari_vesselgan import methods

    one, two = runs
    image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    out = [methods.load("fundus2ffa", weights=run / "fundus2ffa" / "fundus2ffa.safetensors", device="cpu")
           .predict(image) for run in (one, two)]
    assert np.abs(out[0] - out[1]).max() <= 1e-4 * (np.ptp(out[0]) or 1.0)
