"""`denoise` on real frames: the fitted NIR degradation, the residual design, the real sample, and
the bundled weights' promises on the real nir2-mouse frames (skipped where those are absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from napari_vesselgan import methods
from napari_vesselgan.data.nir_optics import NIRDegradation, degraded_copies, fit_degradation, vignette
from napari_vesselgan.data.samples import REAL_SAMPLE_FRAME, real_sample_dir, real_sample_pair, sample_real_nir
from napari_vesselgan.engine.trainer import FunctionCallback
from napari_vesselgan.evaluation.denoise import CLEAN_SSIM, MASK_AGREEMENT, evaluate_real_pair
from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod
from napari_vesselgan.nn import ResnetGenerator

REAL = Path(__file__).resolve().parents[2] / "shared" / "real" / "nir2-mouse"
FRAMES = (7, 35, 53)


def _sharp(shape=(96, 112), seed=0) -> np.ndarray:
    """A few bright lines and blobs in [0, 1] (a stand-in for a sharp NIR-IIb image)."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape)
    for _ in range(6):
        y = int(rng.integers(8, shape[0] - 8))
        image[y : y + 2, 10:-10] = rng.uniform(0.4, 1.0)
    image[40:60, 50:80] += 0.3
    return np.clip(image, 0, 1)


@pytest.mark.parametrize("bits, dtype", [(8, np.uint8), (12, np.uint16), (16, np.uint16)])
def test_degradation_quantises_to_its_bit_depth(bits, dtype):
    model = NIRDegradation(bit_depth=bits, photons=200.0)
    out = model.apply(_sharp(), rng=1)
    assert out.dtype == dtype and int(out.max()) <= (1 << bits) - 1
    assert np.array_equal(out, model.apply(_sharp(), rng=1))  # repeatable from the seed
    with pytest.raises(ValueError):
        NIRDegradation(bit_depth=10)


def test_degradation_scatters_and_hazes_more_where_vessels_are_dense():
    sharp = _sharp()
    model = NIRDegradation(core_sigma=0.5, tail_sigma=8.0, tail_weight=0.5, haze_weight=1.0, haze_power=2.0,
                           haze_sigma=10.0, background=0.0)
    expected = model.expected(sharp)
    dark = sharp == 0
    # light spreads into the dark gaps, and the haze is stronger next to the dense blob than far from it
    assert expected[dark].mean() > 0.01
    assert expected[50, 65] - sharp[50, 65] * (1 - 0.5) > expected[5, 5]
    assert vignette((5, 5), 1.0)[2, 2] == 1.0 and vignette((5, 5), 1.0)[0, 0] < 1.0


def test_fit_recovers_a_known_degradation():
    truth = NIRDegradation(core_sigma=1.0, tail_sigma=10.0, tail_weight=0.4, haze_weight=0.2, haze_sigma=40.0,
                           background=0.02, gain=0.8, photons=5000.0, read_noise=1.0)
    sharps = [_sharp((128, 128), seed) for seed in (0, 1)]
    pairs = [(truth.apply(s, rng=seed), (s * 255).astype(np.uint8)) for seed, s in enumerate(sharps)]
    fitted, report = fit_degradation(pairs, downsample=1, max_evaluations=100)
    assert fitted.tail_weight == pytest.approx(0.4, abs=0.1)
    assert fitted.gain == pytest.approx(0.8, rel=0.15)
    for row in report["pairs"]:
        assert row["rmse_model_vs_degraded"] < 0.5 * row["rmse_sharp_vs_degraded"]
    with pytest.raises(ValueError):
        fit_degradation([])


def test_residual_generator_starts_as_the_identity():
    generator = ResnetGenerator(1, 1, ngf=4, n_blocks=1, residual=True).start_at_identity()
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    assert torch.equal(generator(x), x)
    with pytest.raises(ValueError):
        ResnetGenerator(1, 1, ngf=4, n_blocks=1).start_at_identity()


def test_real_preset_trains_with_paired_degradations(tmp_path, single_torch_thread):
    sharp = [(_sharp((64, 64), seed) * 255).astype(np.uint8) for seed in (0, 1)]
    model = NIRDegradation()
    degraded, _ = degraded_copies(sharp, model, copies=1, seed=0)
    config = DenoiseConfig.preset("real", ngf=4, ndf=4, n_blocks=1, patch_size=32, steps=2, decay_steps=1,
                                  checkpoint_every=0, pretrain_steps=2, synthetic_mix=1, synthetic_size=64,
                                  degraded_copies=1, pool_size=2, degradation=model.to_dict())
    method = DenoiseMethod.untrained(config, device="cpu")
    losses: list[dict] = []
    record = FunctionCallback(lambda state: losses.append(dict(state.losses)))
    weights = method.train((degraded, sharp), config, run_dir=tmp_path / "run", device="cpu", callbacks=[record])
    assert weights.is_file() and len(losses) == 2 and all("paired" in row for row in losses)
    loaded = methods.load("denoise", weights=weights, device="cpu")
    assert loaded.generator.residual and "2 registered pairs" in loaded.provenance["training_data"]
    assert "2 supervised L1 steps" in loaded.provenance["warm_start"]


def test_cli_real_preset_fits_the_degradation_to_the_given_pairs(tmp_path, single_torch_thread):
    """`vesselgan train denoise --preset real` with two folders fits the NIR degradation to the (A_i, B_i)
    pairs itself (as scripts/train_denoise_real.py does), stores it in the weights' config and its
    report in their provenance; synthetic data or unequal folders are refused with the reason."""
    from napari_vesselgan.cli import main
    from napari_vesselgan.engine.checkpoint import load_checkpoint
    from napari_vesselgan.io import write_image

    truth = NIRDegradation(tail_weight=0.4, gain=0.8, photons=3000.0)
    for seed in (0, 1):
        sharp = _sharp((64, 64), seed)
        write_image(tmp_path / "a" / f"{seed}.png", truth.apply(sharp, rng=seed))
        write_image(tmp_path / "b" / f"{seed}.png", (sharp * 255).astype(np.uint8))
    small = ["--set", "ngf=4", "--set", "ndf=4", "--set", "n_blocks=1", "--set", "patch_size=32", "--set", "steps=1",
             "--set", "decay_steps=1", "--set", "checkpoint_every=0", "--set", "pretrain_steps=1", "--set",
             "synthetic_mix=0", "--set", "degraded_copies=1", "--set", "pool_size=2"]
    out = tmp_path / "fitted.safetensors"
    assert main(["train", "denoise", "--preset", "real", "--domain-a", str(tmp_path / "a"), "--domain-b",
                 str(tmp_path / "b"), "--run-dir", str(tmp_path / "run"), "--device", "cpu", "--export", str(out),
                 *small]) == 0
    checkpoint = load_checkpoint(out)
    fitted = checkpoint.config["degradation"]
    assert isinstance(fitted, dict) and fitted["gain"] == pytest.approx(0.8, rel=0.25)
    assert "fitted to the 2 A / B pairs" in checkpoint.provenance["training_data"]
    assert len(checkpoint.provenance["degradation_fit"]["pairs"]) == 2
    assert main(["train", "denoise", "--preset", "real", "--synthetic", "--run-dir", str(tmp_path / "s"),
                 "--device", "cpu", *small]) == 2
    (tmp_path / "b" / "1.png").unlink()
    assert main(["train", "denoise", "--preset", "real", "--domain-a", str(tmp_path / "a"), "--domain-b",
                 str(tmp_path / "b"), "--run-dir", str(tmp_path / "u"), "--device", "cpu", *small]) == 2


def test_real_sample_is_package_data_with_its_licence():
    image, partner = real_sample_pair()
    assert image.shape == partner.shape == (512, 640) and image.dtype == np.uint8
    folder = real_sample_dir()
    assert (folder / "LICENSE-BSD-2-Clause.txt").is_file() and "Ma" in (folder / "README.md").read_text()
    layers = sample_real_nir()
    assert [kind for _, _, kind in layers] == ["image", "image"]
    assert all(meta["metadata"]["licence"] == "BSD-2-Clause" for _, meta, _ in layers)
    assert layers[1][1]["metadata"]["frame"] == REAL_SAMPLE_FRAME


# ----- the bundled weights on the real frames -----------------------------------------------------
@pytest.fixture(scope="module")
def real_rows():
    if not REAL.is_dir():
        pytest.skip(f"real frames not present at {REAL}")
    from napari_vesselgan.io import read_image

    torch.set_num_threads(1)
    method = methods.load("denoise", device="cpu")
    return {n: evaluate_real_pair(method.predict, read_image(REAL / f"NIR-IIa_{n}.png"),
                                  read_image(REAL / f"NIR-IIb_{n}.png")) for n in FRAMES}


@pytest.mark.parametrize("frame", FRAMES)
def test_bundled_weights_improve_every_real_frame_and_do_no_harm(real_rows, frame):
    row = real_rows[frame]
    assert row["output"]["ssim"] > row["input"]["ssim"]
    assert row["output"]["psnr"] > row["input"]["psnr"]
    assert row["output"]["snr"] > row["input"]["snr"]
    assert row["mask_dice_input_output"] >= MASK_AGREEMENT
    assert row["clean_partner"]["ssim"] >= CLEAN_SSIM
