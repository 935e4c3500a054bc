"""The `denoise` method: prediction contract, bad input, training, resume, bundled weights."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from napari_vesselgan import methods
from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.engine.trainer import Callback, read_history
from napari_vesselgan.evaluation.denoise import fidelity
from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod


@pytest.fixture(scope="module")
def tiny(tiny_weights):
    return methods.load("denoise", weights=tiny_weights("denoise"), device="cpu")


def test_available_lists_denoise():
    assert "denoise" in methods.available()
    with pytest.raises(ValueError, match="unknown method"):
        methods.load("nonsense")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_predict_keeps_size_dtype_range_and_input(tiny, dtype):
    low, _ = lowlight_pair((101, 77), seed=3)
    image = (low / low.max() * (255 if dtype == np.uint8 else 60000)).astype(dtype)
    if dtype in (np.float32, np.float64):
        image = image / 60000.0 - 0.25  # negative values and a non-unit range
    before = image.copy()
    out = tiny.predict(image)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert out.min() >= image.min() and out.max() <= image.max()
    assert np.array_equal(image, before)
    assert not np.array_equal(out, image)


def test_predict_stack_plane_by_plane(tiny):
    stack = np.stack([lowlight_pair((64, 64), seed=s)[0] for s in range(3)])
    stack[:, 0, 0], stack[:, 0, 1] = 0, 1000  # every plane spans the stack's range
    out = tiny.predict(stack)
    assert out.shape == stack.shape and out.dtype == stack.dtype
    for index in range(3):
        assert np.array_equal(out[index], tiny.predict(stack[index]))
    assert not np.array_equal(out[0], out[1])


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((32, 32), np.nan, np.float32), "NaN"),
        (np.zeros((0, 32), np.uint16), "empty"),
        (np.zeros((64, 64, 3), np.uint8), "RGB"),
        (np.zeros(64, np.uint16), "2-D"),
        (np.zeros((32, 32), np.complex64), "dtype complex64"),  # bool is taken as 0/1 (issue 17)
        (np.zeros((2, 2), np.uint8), "too small"),
    ],
)
def test_bad_input_is_a_clear_error(tiny, image, message):
    with pytest.raises(ValueError, match=message):
        tiny.predict(image)


def test_constant_image_comes_back_constant(tiny):
    image = np.full((40, 40), 1234, np.uint16)
    assert np.array_equal(tiny.predict(image), image)


def test_saliency_map_shape_and_range(tiny):
    low, _ = lowlight_pair((64, 64), seed=1)
    saliency = tiny.saliency(low)
    assert saliency.shape == low.shape and saliency.dtype == np.float32
    assert 0.0 <= saliency.min() and saliency.max() == pytest.approx(1.0)


def test_config_refuses_unknown_fields_and_has_presets():
    with pytest.raises(ValidationError):
        DenoiseConfig(ngf=16, n_residual_blocks=3)
    assert DenoiseConfig.preset("paper").ngf == 64
    with pytest.raises(ValueError, match="unknown preset"):
        DenoiseConfig.preset("huge")


class _Crash(Callback):
    def __init__(self, at: int):
        self.at = at

    def on_step_end(self, state):
        if state.step == self.at:
            raise RuntimeError("simulated crash")


class _Starts(Callback):
    def __init__(self):
        self.start = None

    def on_train_start(self, state):
        self.start = state.step


def test_training_resumes_after_a_crash(tmp_path):
    config = DenoiseConfig.preset("test", steps=5, checkpoint_every=2)
    method = DenoiseMethod.untrained(config, device="cpu")
    with pytest.raises(RuntimeError, match="simulated crash"):
        method.train("synthetic", config, run_dir=tmp_path, callbacks=[_Crash(3)])
    assert (tmp_path / "last.safetensors").is_file()
    starts = _Starts()
    weights = DenoiseMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path, callbacks=[starts])
    assert starts.start == 2
    assert [row["step"] for row in read_history(tmp_path)] == [1, 2, 3, 4, 5]
    loaded = methods.load("denoise", weights=weights, device="cpu")
    assert loaded.provenance["steps"] == 5 and loaded.config.ngf == 8


def test_training_on_user_arrays_and_cancel(tmp_path):
    config = DenoiseConfig.preset("test", steps=50, checkpoint_every=0)
    low, high = lowlight_pair((80, 80), seed=2)

    class StopAtTwo(Callback):
        def on_step_end(self, state):
            if state.step == 2:
                state.request_stop()

    method = DenoiseMethod.untrained(config, device="cpu")
    weights = method.train((low, [high]), config, run_dir=tmp_path, callbacks=[StopAtTwo()])
    loaded = methods.load("denoise", weights=weights, device="cpu")
    assert loaded.provenance["steps"] == 2 and loaded.provenance["complete"] is False
    assert "1 user low-light images; 1 user clean images" == loaded.provenance["training_data"]


def test_bundled_weights_load_and_do_not_harm_a_synthetic_low_light_image():
    """The bundled weights undo real NIR-IIa scattering (tests/test_denoise_real.py holds their
    real-frame promises); on a very-low-light synthetic image they must at least not make it worse."""
    method = methods.load("denoise", device="cpu")
    assert method.weights.name == "denoise.safetensors"
    assert "real in-vivo" in method.provenance["training_data"]
    low, high = lowlight_pair((192, 192), seed=1_000_123)  # a held-out seed
    assert fidelity(method.predict(low), high)["psnr"] >= fidelity(low, high)["psnr"]


def test_mixed_sources_and_fresh_start(tmp_path):
    config = DenoiseConfig.preset("test", steps=2)
    low, _ = lowlight_pair((80, 80), seed=2)
    method = DenoiseMethod.untrained(config, device="cpu")
    method.train((low, "synthetic"), config, run_dir=tmp_path)
    starts = _Starts()
    weights = method.train((low, "synthetic"), config, run_dir=tmp_path, callbacks=[starts], resume=False)
    assert starts.start == 0
    provenance = methods.load("denoise", weights=weights, device="cpu").provenance
    assert provenance["training_data"].startswith("1 user low-light images; 3 synthetic clean")
