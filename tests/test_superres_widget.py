"""The resolution-enhancement dock: a 2-D run laid over its input, a low-resolution time series
enlarged 4x and placed in world coordinates, cancel, and the manifest entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtCore import Qt  # noqa: E402

from napari_vesselgan import methods  # noqa: E402
from napari_vesselgan.data import lowres_pair  # noqa: E402
from napari_vesselgan.widgets.superres_widget import SuperResWidget  # noqa: E402

RUN_TIMEOUT = 60_000  # ms


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_enhance_a_reupscaled_image(click_and_wait, make_napari_viewer, qtbot, tiny_weights):
    viewer = make_napari_viewer()
    widget = SuperResWidget(viewer)
    _, up, _ = lowres_pair((96, 96), seed=1)
    layer = viewer.add_image(up, name="blurred", scale=(2.0, 2.0), translate=(5.0, -1.0))
    original = up.copy()
    widget.set_weights_file(tiny_weights("superres"))
    widget.device_combo.setCurrentText("cpu")
    assert click_and_wait(widget, widget.run_button) == "done"
    result = viewer.layers["blurred enhanced"]
    expected = methods.load("superres", weights=tiny_weights("superres"), device="cpu").predict(up)
    np.testing.assert_array_equal(result.data, expected)
    np.testing.assert_array_equal(layer.data, original)
    np.testing.assert_allclose(result.scale, layer.scale)
    np.testing.assert_allclose(result.translate, layer.translate)
    meta = result.metadata
    assert meta["method"] == "superres" and meta["source_layer"] == "blurred"
    assert Path(meta["weights"]) == Path(tiny_weights("superres"))
    assert meta["parameters"]["scale"] == 1  # the re-upscaled input
    assert not widget.busy and widget.run_button.isEnabled()


def test_low_resolution_time_series_is_enlarged_and_placed(click_and_wait, make_napari_viewer, qtbot, tiny_weights):
    viewer = make_napari_viewer()
    widget = SuperResWidget(viewer)
    frames = np.stack([lowres_pair((64, 80), seed=s)[0] for s in range(3)])  # (3, 16, 20) low resolution
    layer = viewer.add_image(frames, name="movie", scale=(1.0, 4.0, 4.0), translate=(0.0, 1.5, 1.5))
    widget.set_weights_file(tiny_weights("superres"))
    widget.set_input_kind(4)
    assert click_and_wait(widget, widget.run_button) == "done"
    result = viewer.layers["movie enhanced"]
    assert result.data.shape == (3, 64, 80) and result.data.dtype == frames.dtype
    # the sample convention: low-resolution pixel i sits at the centre of pixels 4i..4i+3
    np.testing.assert_allclose(result.scale, (1.0, 1.0, 1.0))
    np.testing.assert_allclose(result.translate, (0.0, 0.0, 0.0))
    assert result.metadata["parameters"]["scale"] == 4  # the low-resolution input
    assert layer.data.shape == (3, 16, 20)


def test_the_run_hands_run_prediction_the_request_of_the_controls(click_and_wait, make_napari_viewer, monkeypatch,
                                                                  tmp_path):
    from napari_vesselgan.jobs.predict import PredictionResult
    from napari_vesselgan.widgets import _method_widget

    seen = []

    def fake_run_prediction(request, data, report, *, load):
        seen.append((request, data, load))
        output = np.zeros((data.shape[0] * 4, data.shape[1] * 4), np.float32)
        metadata = {"method": request.method, "weights": str(request.weights), "parameters": request.describe(),
                    "napari_vesselgan": "test"}
        return PredictionResult(request, output, "image", 4.0, metadata)

    monkeypatch.setattr(_method_widget, "run_prediction", fake_run_prediction)
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((16, 20), np.uint16), name="small", scale=(2.0, 2.0))
    widget = SuperResWidget(viewer)
    weights = tmp_path / "w.safetensors"
    widget.set_weights_file(weights)
    widget.device_combo.setCurrentIndex(widget.device_combo.findData("cpu"))
    widget.precision_combo.setCurrentIndex(widget.precision_combo.findData("bf16"))
    widget.tile_spin.setValue(64)
    widget.set_input_kind(4)
    assert click_and_wait(widget, widget.run_button) == "done"
    (request, data, load), = seen
    assert (request.method, request.weights, request.device, request.precision, request.tile) == \
        ("superres", weights, "cpu", "bf16", 64)
    assert request.options.scale == 4 and request.saliency is None and not request.explainable_metrics
    assert data is layer.data and load == widget._load_method
    result = viewer.layers["small enhanced"]
    assert result.metadata["source_layer"] == "small" and result.data.shape == (64, 80)
    np.testing.assert_allclose(result.scale, (0.5, 0.5))


def test_cancel_adds_nothing(make_napari_viewer, qtbot, tiny_weights, hold_job):
    viewer = make_napari_viewer()
    widget = SuperResWidget(viewer)
    frames = np.stack([lowres_pair((64, 64), seed=s)[1] for s in range(40)])
    viewer.add_image(frames, name="long")
    widget.set_weights_file(tiny_weights("superres"))
    widget.tile_spin.setValue(32)  # many progress steps
    gate = hold_job(widget)
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: widget.progress.maximum() > 1 and widget.progress.value() > 0, timeout=RUN_TIMEOUT)
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == ["cancelled"]
    assert [lay.name for lay in viewer.layers] == ["long"]
    assert not widget.busy and widget.run_button.isEnabled()


def test_without_a_layer_or_weights_the_user_is_told(make_napari_viewer, monkeypatch, tmp_path):
    viewer = make_napari_viewer()
    widget = SuperResWidget(viewer)
    messages = []
    monkeypatch.setattr(widget, "report_error", messages.append)
    widget.run()
    assert "Choose a grey image layer" in messages[-1]
    viewer.add_image(np.zeros((32, 32), np.uint8), name="x")
    monkeypatch.setattr(methods.method_class("superres"), "default_weights", classmethod(lambda cls: tmp_path / "no"))
    widget.run()
    assert "bundled superres weights are not installed" in messages[-1]
    assert not widget.busy


def test_training_widget_offers_one_source_for_superres(make_napari_viewer, qtbot, tmp_path):
    from napari_vesselgan.widgets.train_widget import TrainWidget

    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("superres"))
    assert widget.box_b.isHidden() and "High-resolution" in widget.box_a.title()
    viewer.add_image(lowres_pair((64, 64), seed=9)[2], name="sharp")
    widget.source_a.select_layers(["sharp"])
    widget.set_preset("test")
    widget.set_run_dir(tmp_path / "run")
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        widget.train()
    assert blocker.args == ["done"]
    weights = widget.last_result.weights
    assert "1 user high-resolution images" in methods.load("superres", weights=weights).provenance["training_data"]
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("denoise"))
    assert not widget.box_b.isHidden()
