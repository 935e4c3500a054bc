"""The denoise dock offers denoise's ``input_kind`` (from the registry's options model) and says
which bundled weight set made each result, in its status and in the layer's metadata."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.data import lowlight_pair  # noqa: E402
from napari_vesselgan.widgets.denoise_widget import DenoiseWidget  # noqa: E402


def test_dock_offers_input_kind_and_shows_the_set_that_ran(click_and_wait, make_napari_viewer, single_torch_thread):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    low, _ = lowlight_pair((96, 96), seed=3_100_002)
    layer = viewer.add_image(low, name="low")
    original = low.copy()
    widget.device_combo.setCurrentText("cpu")
    control = widget.option_widgets["input_kind"]
    assert list(control.choices) == ["auto", "nir-iia", "low-light"] and control.value == "auto"

    assert click_and_wait(widget, widget.run_button) == "done"
    meta = viewer.layers["low denoised"].metadata
    assert meta["weight_set"] == "low-light" and meta["weights"].endswith("denoise-low-light.safetensors")
    assert meta["parameters"]["input_kind"] == "auto" and meta["input_kind_choice"]["noise_level"] > 0
    assert "with the low-light weights" in widget.status_label.text()
    auto = np.asarray(viewer.layers["low denoised"].data).copy()

    control.value = "nir-iia"
    assert click_and_wait(widget, widget.run_button) == "done"
    forced = viewer.layers["low denoised [1]"]  # other settings: a new layer beside the first
    assert forced.metadata["weight_set"] == "nir-iia" and forced.metadata["weights"].endswith("denoise.safetensors")
    assert "with the nir-iia weights" in widget.status_label.text()
    assert not np.array_equal(np.asarray(forced.data), auto)
    np.testing.assert_array_equal(layer.data, original)


def test_dock_with_other_weights_refuses_an_explicit_kind(click_and_wait, make_napari_viewer, tiny_weights, errors):
    viewer = make_napari_viewer()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    viewer.add_image(lowlight_pair((64, 64), seed=3_100_003)[0], name="low")
    widget.device_combo.setCurrentText("cpu")
    widget.set_weights_file(tiny_weights("denoise"))
    widget.option_widgets["input_kind"].value = "low-light"
    assert click_and_wait(widget, widget.run_button) == "error"
    assert [lay.name for lay in viewer.layers] == ["low"]
    assert len(errors) == 1 and "input_kind='low-light'" in errors[0] and "one network" in errors[0]
