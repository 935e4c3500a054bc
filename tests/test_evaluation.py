"""Evaluation used by the model card: exposure-invariant fidelity, baselines, the CLI command."""

from __future__ import annotations

import json

import numpy as np

from napari_vesselgan.cli import main
from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.evaluation.common import affine_fit
from napari_vesselgan.evaluation.denoise import fidelity, nl_means


def test_fidelity_ignores_exposure_but_not_noise():
    low, high = lowlight_pair((96, 96), seed=11)
    darker = (high // 7).astype(np.uint16)
    assert fidelity(darker, high)["psnr"] > 40  # only the exposure differs
    assert fidelity(low, high)["psnr"] < fidelity(darker, high)["psnr"] - 15
    x = np.linspace(0, 1, 50)
    assert np.allclose(affine_fit(3 * x + 2, x), x)


def test_non_local_means_beats_the_noisy_input():
    low, high = lowlight_pair((96, 96), seed=12)
    assert fidelity(nl_means(low), high)["psnr"] > fidelity(low, high)["psnr"]


def test_evaluate_command_writes_json(tmp_path, tiny_weights, real_dir, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "denoise", "--weights", str(tiny_weights("denoise")), "--pairs", "1", "--size", "64",
                 "--real", str(real_dir / "nir2-mouse"), "--real-glob", "NIR-IIa_7.png", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["pairs"]["summary"]) == {"noisy input", "non-local means", "model"}
    assert result["real"][0]["image"] == "NIR-IIa_7.png"
    assert set(result["real"][0]["after"]) == {"snr", "entropy", "edge_density", "contrast", "mean_intensity"}
    assert main(["evaluate"]) == 2  # argparse: a METHOD is required
    assert "required: METHOD" in capsys.readouterr().err
