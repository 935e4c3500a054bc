"""The live mask -> NIR-II layer follows every way napari 0.9 edits a Labels layer.

napari emits ``paint`` before it writes the data (``paint``, ``data_setitem``, ``fill``,
``paint_polygon``) and no ``paint`` at all on undo / redo; each path is tested on its own.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.data import vessel_tree  # noqa: E402
from napari_vesselgan.widgets.mask2nir_widget import Mask2NirWidget  # noqa: E402

TIMEOUT = 60_000
pytestmark = pytest.mark.usefixtures("single_torch_thread")


def brush_stroke(labels):
    """What a mouse drag with the brush does: a stroke of several dabs, one undo item."""
    labels._begin_stroke()
    for x in (150, 154, 158):
        labels.paint((60, x), 1)
    labels._commit_stroke()


EDITS = {
    "brush": (brush_stroke, (slice(55, 66), slice(145, 164))),
    "paint": (lambda labels: labels.paint((40, 40), 1), (slice(36, 45), slice(36, 45))),
    "data_setitem": (lambda labels: labels.data_setitem(
        tuple(np.meshgrid(np.arange(180, 190), np.arange(30, 60), indexing="ij")[k].ravel() for k in (0, 1)), 1),
        (slice(180, 190), slice(30, 60))),
    "fill": (lambda labels: labels.fill((5, 250), 1), (slice(0, 256), slice(0, 256))),
    "polygon": (lambda labels: labels.paint_polygon([(200, 200), (200, 240), (240, 240)], 1),
                (slice(200, 241), slice(200, 241))),
}


def settle(qtbot, follower):
    qtbot.wait(10)  # the check runs on the next turn of the event loop
    qtbot.waitUntil(lambda: follower.idle, timeout=TIMEOUT)


def test_every_edit_path_and_undo_redo_reach_the_live_layer(make_napari_viewer, qtbot, tiny_weights, errors):
    viewer = make_napari_viewer()
    widget = Mask2NirWidget(viewer)
    mask = np.zeros((256, 256), np.uint8)
    mask[120:136, :] = 1  # one horizontal vessel: most of the image is background
    labels = viewer.add_labels(mask, name="mask")
    labels.brush_size = 5
    widget.set_weights_file(tiny_weights("mask2nir"))
    widget.set_layer("mask")
    widget.live_check.setChecked(True)
    follower = widget.follower
    qtbot.waitUntil(lambda: follower.idle and follower.layer is not None, timeout=TIMEOUT)
    live_layer = follower.layer

    # drawn under the strokes, and the brush still paints into the mask
    names = [layer.name for layer in viewer.layers]
    assert names.index(live_layer.name) < names.index("mask")
    assert viewer.layers.selection.active is labels

    for path, (edit, region) in EDITS.items():
        before_mask = np.array(labels.data, copy=True)
        before = np.array(live_layer.data, copy=True)

        edit(labels)
        assert not np.array_equal(labels.data, before_mask)  # the edit did something
        settle(qtbot, follower)
        edited = np.array(live_layer.data, copy=True)
        assert np.abs(edited - before)[region].max() > 1e-3, f"{path}: the live layer missed the edit"
        np.testing.assert_array_equal(follower.followed_mask, labels.data)

        labels.undo()
        np.testing.assert_array_equal(labels.data, before_mask)
        settle(qtbot, follower)
        np.testing.assert_allclose(live_layer.data, before, atol=1e-4, err_msg=f"{path}: undo not followed")

        labels.redo()
        settle(qtbot, follower)
        np.testing.assert_allclose(live_layer.data, edited, atol=1e-4, err_msg=f"{path}: redo not followed")
        labels.undo()  # the next path starts from the first mask
        settle(qtbot, follower)

    widget.live_check.setChecked(False)
    assert not errors
