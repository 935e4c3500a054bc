"""denoise's two bundled weight sets and ``input_kind`` (auto, nir-iia, low-light).

auto measures the input (``methods.denoise.noise_level``) and takes the low-light set for
photon-limited images, the real-frame set otherwise; an explicit kind forces a set; with other
weights than the bundled ones an explicit kind is refused (they are one network). The input is
never modified, and the result's metadata says which set ran.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_vesselgan import InvalidInput, methods
from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.data.samples import real_sample_pair
from napari_vesselgan.evaluation.denoise import fidelity
from napari_vesselgan.methods.base import Method
from napari_vesselgan.methods.denoise import LOW_LIGHT_NOISE, WEIGHT_SETS, measured_input_kind, noise_level

pytestmark = pytest.mark.usefixtures("single_torch_thread")

#: Held-out seeds (no training run drew them, no card used them).
SEEDS = (3_100_000, 3_100_001)


@pytest.fixture(scope="module")
def bundled():
    return methods.load("denoise", device="cpu")


def test_both_bundled_sets_are_there_and_differ(bundled):
    low_light = bundled.weight_set("low-light")
    assert bundled.bundled and bundled.weight_set("nir-iia") is bundled
    assert low_light.weights.name == WEIGHT_SETS["low-light"] and bundled.weights.name == WEIGHT_SETS["nir-iia"]
    assert low_light.provenance["training_command"].startswith("vesselgan train denoise --synthetic")
    assert bundled.weight_set("low-light") is low_light  # loaded once
    # the default's own path (as the docks pass it) picks too; a set's name loads that set alone
    assert methods.load("denoise", weights=bundled.weights, device="cpu").bundled
    alone = methods.load("denoise", weights="nir-iia", device="cpu")
    assert not alone.bundled and alone.weights == bundled.weights


def test_auto_keeps_the_bundled_real_sample_on_the_real_frame_set(bundled):
    image, partner = real_sample_pair()
    original = image.copy()
    for frame in (image, partner):
        assert measured_input_kind(frame)[0] == "nir-iia"
    out = bundled.predict(image)
    np.testing.assert_array_equal(image, original)
    assert bundled.last_run["weight_set"] == "nir-iia" and bundled.last_run["input_kind"] == "auto"
    assert bundled.last_run["noise_level"] < LOW_LIGHT_NOISE
    np.testing.assert_array_equal(out, bundled.predict(image, input_kind="nir-iia"))


def test_auto_keeps_the_real_frames_on_the_real_frame_set(real_dir):
    from napari_vesselgan.io import read_image

    frames = sorted((real_dir / "nir2-mouse").glob("NIR-II*.png"))
    assert len(frames) == 6
    for path in frames:
        kind, level = measured_input_kind(read_image(path))
        assert kind == "nir-iia", f"{path.name}: noise level {level:.4f}"
    stack = read_image(real_dir / "liver-vessels" / "raw_liver_1.tif")
    assert measured_input_kind(stack)[0] == "nir-iia"
    assert max(noise_level(plane) for plane in stack) < LOW_LIGHT_NOISE


@pytest.mark.parametrize("photons", [10, 20, 100])
def test_auto_takes_photon_limited_images_to_the_low_light_set(photons):
    low, high = lowlight_pair((128, 128), seed=SEEDS[0], low_photons=photons)
    assert measured_input_kind(low)[0] == "low-light"
    assert measured_input_kind(high)[0] == "nir-iia"  # the clean partner is not photon-limited


def test_low_light_path_denoises_synthetic_low_light_by_a_real_margin(bundled):
    for seed in SEEDS:
        low, high = lowlight_pair((256, 256), seed=seed)
        original = low.copy()
        out = bundled.predict(low)
        np.testing.assert_array_equal(low, original)
        assert bundled.last_run["weight_set"] == "low-light"
        assert out.shape == low.shape and out.dtype == low.dtype
        before, after = fidelity(low, high), fidelity(out, high)
        assert after["psnr"] > before["psnr"] + 6.0, (before, after)
        assert after["ssim"] > before["ssim"] + 0.4, (before, after)
        # the real-frame set alone barely touches it: the choice matters
        assert fidelity(bundled.predict(low, input_kind="nir-iia"), high)["psnr"] < before["psnr"] + 1.0


def test_override_forces_a_set_and_metadata_says_which(bundled):
    low, _ = lowlight_pair((96, 96), seed=SEEDS[1])
    forced = bundled.predict(low, input_kind="nir-iia")
    assert bundled.last_run == {"input_kind": "nir-iia", "weight_set": "nir-iia", "weights": str(bundled.weights)}
    meta = bundled.describe(input_kind="nir-iia")
    assert meta["weight_set"] == "nir-iia" and meta["weights"] == str(bundled.weights)
    auto = bundled.predict(low)
    meta = bundled.describe()
    assert meta["weight_set"] == "low-light" and meta["weights"].endswith(WEIGHT_SETS["low-light"])
    assert meta["config"]["ngf"] == bundled.weight_set("low-light").config.ngf
    assert not np.array_equal(forced, auto)
    image, _ = real_sample_pair()
    ruined = bundled.predict(image, input_kind="low-light")  # forced, even where it is wrong
    assert bundled.last_run["weight_set"] == "low-light"
    assert not np.array_equal(ruined, bundled.predict(image))


def test_saliency_is_of_the_set_that_ran(bundled):
    low, _ = lowlight_pair((64, 64), seed=SEEDS[0])
    bundled.predict(low)
    low_light = bundled.saliency(low)
    np.testing.assert_allclose(low_light, Method.saliency(bundled.weight_set("low-light"), low))
    real = bundled.saliency(low, input_kind="nir-iia")
    assert not np.allclose(low_light, real)


def test_other_weights_refuse_an_explicit_kind(tiny_weights):
    method = methods.load("denoise", weights=tiny_weights("denoise"), device="cpu")
    low, _ = lowlight_pair((64, 64), seed=SEEDS[0])
    original = low.copy()
    for kind in ("nir-iia", "low-light"):
        with pytest.raises(InvalidInput, match=f"input_kind={kind!r}.*one network.*auto"):
            method.predict(low, input_kind=kind)
    np.testing.assert_array_equal(low, original)
    method.predict(low)  # auto runs the given network
    assert method.last_run["weight_set"] == "given weights"
    assert method.describe()["weights"] == str(tiny_weights("denoise"))


def test_stacks_get_one_set_and_streamed_prediction_honours_it(bundled):
    import dask.array as da

    low, high = lowlight_pair((96, 96), seed=SEEDS[1])
    stack = np.stack([low, low])
    out = bundled.predict(stack)
    assert bundled.last_run["weight_set"] == "low-light"
    np.testing.assert_array_equal(out[0], bundled.predict(low))
    target = np.zeros_like(stack)
    bundled.predict_into(da.from_array(stack, chunks=(1, 48, 48)), target, input_kind="nir-iia")
    assert bundled.last_run["weight_set"] == "nir-iia"
    np.testing.assert_array_equal(target[1], bundled.predict(low, input_kind="nir-iia"))


def test_cli_input_kind_reaches_the_prediction_and_is_refused_with_other_weights(tmp_path, tiny_weights, capsys):
    from napari_vesselgan.cli import main
    from napari_vesselgan.io import read_image, write_image

    low, _ = lowlight_pair((64, 64), seed=SEEDS[0])
    write_image(tmp_path / "low.tif", low)
    assert main(["predict", "denoise", str(tmp_path / "low.tif"), "-o", str(tmp_path / "auto.tif"),
                 "--device", "cpu"]) == 0
    assert main(["predict", "denoise", str(tmp_path / "low.tif"), "-o", str(tmp_path / "real.tif"),
                 "--device", "cpu", "--input-kind", "nir-iia"]) == 0
    assert not np.array_equal(read_image(tmp_path / "auto.tif"), read_image(tmp_path / "real.tif"))
    capsys.readouterr()
    code = main(["predict", "denoise", str(tmp_path / "low.tif"), "-o", str(tmp_path / "x.tif"), "--device", "cpu",
                 "--weights", str(tiny_weights("denoise")), "--input-kind", "low-light"])
    assert code == 2 and "input_kind" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_demo_denoises_both_images_and_says_which_set_each_used(tmp_path):
    from napari_vesselgan.demo import run_demo
    from napari_vesselgan.io import read_image

    report = run_demo(tmp_path / "demo", device="cpu").read_text()
    assert report.count("Weight set: **nir-iia**") == 1 and report.count("Weight set: **low-light**") == 1
    assert "denoise (default: low-light set)" in report and "denoise (default: nir-iia set)" in report
    low, out, clean = (read_image(tmp_path / "demo" / name) for name in
                       ("lowlight_input.tif", "denoised.tif", "clean_reference.tif"))
    before, after = fidelity(low, clean), fidelity(out, clean)
    assert after["psnr"] > before["psnr"] + 6.0 and after["ssim"] > before["ssim"] + 0.4
