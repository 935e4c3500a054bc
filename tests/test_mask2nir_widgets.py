"""The annotator's docks: translate a Labels layer, a live layer that follows painting (only the
reachable tiles re-rendered), folder -> pairs with cancel, vessel-mask extraction, training sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Labels  # noqa: E402
from qtpy.QtCore import Qt  # noqa: E402

from napari_vesselgan import methods  # noqa: E402
from napari_vesselgan.data import render_nir, vessel_tree  # noqa: E402
from napari_vesselgan.widgets.mask2nir_widget import Mask2NirWidget  # noqa: E402
from napari_vesselgan.widgets.train_widget import TrainWidget  # noqa: E402
from napari_vesselgan.widgets.vessel_mask_widget import VesselMaskWidget  # noqa: E402

RUN_TIMEOUT = 60_000  # ms

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_translate_a_labels_layer(click_and_wait, make_napari_viewer, qtbot, tiny_weights):
    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    mask = vessel_tree((96, 80), 4).mask.astype(np.uint8)
    labels = viewer.add_labels(mask, name="mask", scale=(2.0, 2.0))
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.set_layer("mask")
    assert click_and_wait(widget, widget.run_button) == "done"
    result = viewer.layers["mask NIR-II (synthetic)"]
    expected = methods.load("mask2nir", weights=tiny_weights("mask2nir"), device="cpu").predict(mask)
    np.testing.assert_array_equal(result.data, expected)
    np.testing.assert_array_equal(labels.data, mask)
    np.testing.assert_allclose(result.scale, (2.0, 2.0))
    assert result.metadata["method"] == "mask2nir" and result.metadata["source_layer"] == "mask"
    assert Path(result.metadata["weights"]) == Path(tiny_weights("mask2nir"))
    assert not widget.busy and widget.run_button.isEnabled()


def test_live_layer_follows_painting_tile_by_tile(make_napari_viewer, qtbot, tiny_weights, errors):
    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    mask = vessel_tree((256, 256), 6).mask.astype(np.uint8)
    labels = viewer.add_labels(mask, name="mask")
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.set_layer("mask")
    widget.live_check.setChecked(True)
    follower = widget.follower
    assert follower is not None and not errors
    qtbot.waitUntil(lambda: follower.idle and follower.layer is not None, timeout=RUN_TIMEOUT)
    live = viewer.layers["mask NIR-II (live)"]
    before = np.array(live.data, copy=True)
    expected = methods.load("mask2nir", weights=tiny_weights("mask2nir"), device="cpu").predict(mask)
    np.testing.assert_allclose(before, expected, atol=1e-5)
    follower.renderer.rendered_tiles.clear()

    # paint a vessel programmatically, the way a brush stroke records it (two strokes: one burst)
    labels.paint((30, 40), 1)
    ys, xs = np.meshgrid(np.arange(28, 34), np.arange(36, 50), indexing="ij")
    labels.data_setitem((ys.ravel(), xs.ravel()), 1)
    qtbot.waitUntil(lambda: follower.idle, timeout=RUN_TIMEOUT)

    renderer = follower.renderer
    reach, tile = renderer.influence, renderer.tile
    rows = range(max(0, 28 - reach) // tile, min(255, 45 + reach) // tile + 1)
    cols = range(max(0, 36 - reach) // tile, min(255, 50 + reach) // tile + 1)
    assert renderer.rendered_tiles and renderer.rendered_tiles <= {(r, c) for r in rows for c in cols}
    assert len(renderer.rendered_tiles) < renderer.grid[0] * renderer.grid[1]  # not everything
    changed = np.abs(np.asarray(live.data) - before) > 1e-6
    assert changed[28:34, 36:50].any()
    for r in range(renderer.grid[0]):
        for c in range(renderer.grid[1]):
            if (r, c) not in renderer.rendered_tiles:
                assert not changed[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile].any()
    assert not errors

    widget.live_check.setChecked(False)
    assert widget.follower is None
    labels.paint((200, 200), 1)  # no longer followed: nothing happens, nothing breaks
    assert not errors


def test_live_needs_a_2d_labels_layer(make_napari_viewer, tiny_weights, errors):
    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    viewer.add_image(np.zeros((64, 64), np.uint8), name="image")
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.set_layer("image")
    widget.live_check.setChecked(True)
    assert widget.follower is None and not widget.live_check.isChecked()
    assert errors and "Labels" in errors[-1]


def test_folder_of_masks_to_pairs_from_the_widget(click_and_wait, make_napari_viewer, qtbot, tiny_weights,
                                                  tmp_path, errors):
    import tifffile

    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    folder = tmp_path / "masks"
    folder.mkdir()
    for s in range(2):
        tifffile.imwrite(folder / f"m{s}.tif", vessel_tree((64, 64), seed=s).mask.astype(np.uint8))
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.masks_edit.setText(str(folder))
    widget.output_edit.setText(str(tmp_path / "out"))
    widget.per_mask_spin.setValue(3)
    assert click_and_wait(widget, widget.pairs_button) == "done"
    assert len(list((tmp_path / "out" / "images").iterdir())) == 6
    record = json.loads((tmp_path / "out" / "pairs.json").read_text())
    assert record["complete"] and record["method"]["method"] == "mask2nir"
    widget.augment_check.setChecked(False)
    qtbot.mouseClick(widget.pairs_button, Qt.MouseButton.LeftButton)
    assert errors and "augment" in errors[-1].lower() and not widget.busy


def test_vessel_mask_widget_adds_a_labels_layer(click_and_wait, make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    widget = VesselMaskWidget(viewer)
    tree = vessel_tree((128, 128), 8)
    image = render_nir(tree, 8)
    viewer.add_image(image, name="nir")
    widget.set_layer("nir")
    assert click_and_wait(widget, widget.run_button) == "done"
    layer = viewer.layers["nir vessel mask"]
    assert isinstance(layer, Labels) and layer.data.dtype == np.uint8
    assert layer.metadata["parameters"]["threshold"] == "auto"
    assert layer.metadata["parameters"]["decided"]["dark_vessels"] is False
    from napari_vesselgan.analysis.vessel_mask import dice, extract_vessel_mask

    np.testing.assert_array_equal(layer.data, extract_vessel_mask(image))
    assert dice(layer.data, tree.mask) > 0.5
    widget.sigmas_edit.setText("one, two")
    qtbot.mouseClick(widget.run_button, Qt.MouseButton.LeftButton)
    assert errors and "Scales" in errors[-1] and not widget.busy


def test_training_widget_offers_masks_and_images_for_mask2nir(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    viewer.add_labels(np.zeros((64, 64), np.uint8), name="masks")
    viewer.add_image(np.zeros((64, 64), np.uint16), name="nir")
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("mask2nir"))
    assert widget.box_a.title() == "Vessel masks" and widget.box_b.title() == "NIR-II images"
    assert "unpaired" in widget.detail_b.text()
    items_a = [widget.source_a.layer_list.item(i).text() for i in range(widget.source_a.layer_list.count())]
    items_b = [widget.source_b.layer_list.item(i).text() for i in range(widget.source_b.layer_list.count())]
    assert "masks" in items_a and "masks" not in items_b and "nir" in items_b
    widget.set_preset("test")
    assert widget.build_config().feature_weights == "random"


def test_cancel_of_a_folder_run_keeps_only_complete_pairs(make_napari_viewer, qtbot, tiny_weights, tmp_path,
                                                          hold_job):
    import tifffile

    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    folder = tmp_path / "masks"
    folder.mkdir()
    for s in range(30):
        tifffile.imwrite(folder / f"m{s:02d}.tif", vessel_tree((96, 96), seed=s).mask.astype(np.uint8))
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.masks_edit.setText(str(folder))
    widget.output_edit.setText(str(tmp_path / "out"))
    widget.per_mask_spin.setValue(4)
    gate = hold_job(widget)
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(widget.pairs_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: widget.progress.value() > 0, timeout=RUN_TIMEOUT)
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == ["cancelled"]
    record = json.loads((tmp_path / "out" / "pairs.json").read_text())
    images = sorted(p.name for p in (tmp_path / "out" / "images").iterdir())
    masks = sorted(p.name for p in (tmp_path / "out" / "masks").iterdir())
    assert not record["complete"] and 0 < len(record["pairs"]) < 120
    assert images == masks == sorted(Path(p["image"]).name for p in record["pairs"])
    assert not widget.busy and widget.pairs_button.isEnabled()


def test_without_weights_or_layer_the_user_is_told(make_napari_viewer, monkeypatch, tmp_path, errors):
    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    widget.run()
    assert "Choose a mask" in errors[-1]
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="m")
    monkeypatch.setattr(methods.method_class("mask2nir"), "default_weights", classmethod(lambda cls: tmp_path / "no"))
    widget.set_weights_choice("default")
    widget.run()
    assert "bundled mask2nir weights are not installed" in errors[-1]
    assert not widget.busy
