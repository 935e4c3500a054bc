"""The fundus2ffa and saliency dock widgets and the synthetic fundus/FFA samples, as a user drives them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.analysis import ffa_saliency  # noqa: E402
from napari_vesselgan.widgets.fundus2ffa_widget import Fundus2FFAWidget  # noqa: E402
from napari_vesselgan.widgets.saliency_widget import SaliencyWidget  # noqa: E402

RUN_TIMEOUT = 60_000  # ms


def test_synthetic_fundus_and_ffa_samples_open_and_pair(make_napari_viewer):
    viewer = make_napari_viewer()
    (fundus,) = viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    (ffa,) = viewer.open_sample("napari-vesselgan", "synthetic-ffa")
    assert fundus.rgb and fundus.data.shape == (512, 512, 3) and fundus.data.dtype == np.uint8
    assert not ffa.rgb and ffa.data.shape == (512, 512)
    assert fundus.metadata["pairs_with"] == "synthetic_ffa.tif"


def test_translate_widget_adds_ffa_layer_with_provenance(click_and_wait, make_napari_viewer, qtbot,
                                                         tiny_weights, errors):
    viewer = make_napari_viewer()
    (fundus,) = viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    viewer.add_image(np.zeros((32, 32)), name="grey")  # not offered: not RGB
    kept = fundus.data.copy()
    widget = Fundus2FFAWidget(viewer)
    assert [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())] == [fundus.name]
    widget.set_weights_file(tiny_weights("fundus2ffa"))
    widget.saliency_check.setChecked(True)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert not errors and not widget.busy
    result = viewer.layers[f"{fundus.name} FFA"]
    assert result.data.shape == (512, 512) and result.data.dtype == np.float32
    assert result.metadata["method"] == "fundus2ffa" and result.metadata["source_layer"] == fundus.name
    assert result.metadata["weights"] == str(tiny_weights("fundus2ffa"))
    assert np.array_equal(fundus.data, kept)
    overlay = viewer.layers[f"{fundus.name} FFA saliency"]
    assert overlay.blending == "additive" and overlay.colormap.name == "inferno"
    assert np.allclose(overlay.data, ffa_saliency(result.data))


def test_translate_widget_without_weights_says_what_to_do(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    widget = Fundus2FFAWidget(viewer)
    widget.run()
    assert errors and "RGB fundus" in errors[-1]
    viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    widget.weights_combo.setCurrentIndex(widget.weights_combo.findData("file"))
    widget.run()
    assert "weights file" in errors[-1] and not widget.busy


def test_translate_widget_reports_a_bad_weights_file(click_and_wait, make_napari_viewer, qtbot, tmp_path, errors):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    widget = Fundus2FFAWidget(viewer)
    widget.set_weights_file(bad)
    assert click_and_wait(widget, widget.run_button) == "error"
    assert errors and "Fundus to FFA failed" in errors[-1] and len(viewer.layers) == 1


def test_saliency_widget_overlay_and_difference(click_and_wait, make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    (real,) = viewer.open_sample("napari-vesselgan", "synthetic-ffa")
    generated = viewer.add_image(np.clip(real.data.astype(np.float32) / 255 * 0.8, 0, 1), name="generated")
    widget = SaliencyWidget(viewer)
    widget.set_layers("generated", real.name)
    assert click_and_wait(widget, widget.run_button) == "done"
    overlay = viewer.layers["generated saliency"]
    expected = ffa_saliency(generated.data)
    assert np.allclose(overlay.data, expected)
    assert overlay.blending == "additive"
    low, high = overlay.contrast_limits
    assert low == 0 and 0 < high <= expected.max()
    difference = viewer.layers[f"generated - {real.name} saliency"]
    # float [0, 1] against 8-bit: on one [0, 1] scale (the 8-bit map / 255)
    assert np.allclose(difference.data, expected - ffa_saliency(real.data) / 255, atol=1e-5)
    assert difference.contrast_limits[0] == -difference.contrast_limits[1]
    assert difference.metadata["saliency_mse"] == pytest.approx(float(np.mean(difference.data.astype(float) ** 2)))
    # the overlays themselves are not offered as inputs
    names = [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())]
    assert "generated saliency" not in names and not errors


def test_saliency_widget_refuses_mismatched_pair(click_and_wait, make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.float32), name="a")
    viewer.add_image(np.zeros((32, 64), np.float32), name="b")
    widget = SaliencyWidget(viewer)
    widget.set_layers("a", "b")
    assert click_and_wait(widget, widget.run_button) == "error"
    assert "differ in shape" in errors[-1] and len(viewer.layers) == 2


def test_translate_widget_cancel_adds_nothing(make_napari_viewer, qtbot, tiny_weights, errors, hold_job):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    widget = Fundus2FFAWidget(viewer)
    widget.set_weights_file(tiny_weights("fundus2ffa"))
    gate = hold_job(widget)
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        widget.run()
        assert widget.busy and widget.cancel_button.isEnabled()
        widget.cancel()
        gate.set()
    assert blocker.args[0] == "cancelled" and len(viewer.layers) == 1
    assert not widget.busy and widget.run_button.isEnabled() and not errors


def test_training_widget_offers_colour_layers_for_fundus2ffa(make_napari_viewer):
    from napari_vesselgan.widgets.train_widget import TrainWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((32, 32, 3), np.uint8), name="photo", rgb=True)
    viewer.add_image(np.zeros((32, 32), np.uint8), name="angiogram")
    widget = TrainWidget(viewer)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("fundus2ffa"))
    listed = [widget.source_a.layer_list.item(i).text() for i in range(widget.source_a.layer_list.count())]
    assert listed == ["photo"] and "Fundus" in widget.box_a.title() and not widget.box_b.isHidden()
    assert [widget.source_b.layer_list.item(i).text() for i in range(widget.source_b.layer_list.count())] == \
        ["angiogram"]
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("denoise"))
    assert widget.source_a.layer_list.item(0).text() == "angiogram"
