"""The synthetic FFA video sample and the knowledge-mask overlay widget, as a user drives them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.data import samples  # noqa: E402
from napari_vesselgan.data.fundus import fundus_anatomy, render_ffa_video, render_fundus  # noqa: E402
from napari_vesselgan.io import read_image  # noqa: E402


def test_ffa_video_sample_is_the_fundus_samples_eye() -> None:
    folder = samples.sample_data_dir()
    if not folder.is_dir():
        pytest.skip("no sample_data/ folder (installed package)")
    anatomy = fundus_anatomy(samples.FUNDUS_SAMPLE_SHAPE, samples.SAMPLE_SEED, leakage=samples.FUNDUS_SAMPLE_LEAKAGE)
    video = np.rint(render_ffa_video(anatomy, samples.SAMPLE_SEED, frames=12) * 255).astype(np.uint8)
    stored = read_image(folder / samples.SAMPLE_FILES["synthetic_ffa_video"])
    assert stored.shape == (12, *samples.FUNDUS_SAMPLE_SHAPE) and np.array_equal(stored, video), \
        "sample_data/synthetic_ffa_video.tif is stale: run scripts/make_sample_data.py"
    fundus = np.rint(render_fundus(anatomy, samples.SAMPLE_SEED) * 255).astype(np.uint8)
    assert np.array_equal(read_image(folder / samples.SAMPLE_FILES["synthetic_fundus"]), fundus)
    # the dye moves: the frames differ, most in the late phase's leakage
    assert np.abs(stored[-1].astype(int) - stored[0].astype(int)).mean() > 5
    assert (folder / samples.SAMPLE_FILES["synthetic_ffa_video"]).stat().st_size < 3_000_000


def test_ffa_video_sample_opens_as_a_time_series(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    (video,) = viewer.open_sample("napari-vesselgan", "synthetic-ffa-video")
    assert video.data.shape == (12, 512, 512) and video.data.dtype == np.uint8 and not video.rgb
    assert tuple(video.axis_labels) == ("t", "y", "x")
    assert video.metadata["pairs_with"] == "synthetic_fundus.tif" and video.metadata["frames"] == 12
    assert viewer.dims.nsteps[0] == 12


# ----- the knowledge-mask widget ----------------------------------------------------------------
from napari_vesselgan.analysis import knowledge_mask  # noqa: E402
from napari_vesselgan.widgets.knowledge_mask_widget import KnowledgeMaskWidget  # noqa: E402


def test_knowledge_mask_overlay_of_the_sample_video(make_napari_viewer, errors) -> None:
    viewer = make_napari_viewer()
    (video,) = viewer.open_sample("napari-vesselgan", "synthetic-ffa-video")
    video.scale = (1.0, 2.0, 3.0)
    video.translate = (5.0, -4.0, 7.0)
    viewer.add_image(np.zeros((32, 32), np.uint8), name="flat")  # 2-D: not offered
    viewer.add_image(np.zeros((32, 32, 3), np.uint8), name="photo", rgb=True)  # one colour frame: not offered
    kept = video.data.copy()
    widget = KnowledgeMaskWidget(viewer)
    assert [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())] == [video.name]
    widget.set_layer(video.name)
    assert widget.threshold_spin.value() == 45 and (widget.first_spin.value(), widget.last_spin.value()) == (0, 11)
    labels = widget.run()
    assert not errors
    assert labels is viewer.layers[f"{video.name} knowledge mask"] and len(viewer.layers) == 4
    expected = knowledge_mask(kept[0], kept[-1])
    assert np.array_equal(labels.data, expected.astype(np.uint8)) and set(np.unique(labels.data)) == {0, 1}
    assert tuple(labels.scale) == (2.0, 3.0) and tuple(labels.translate) == (-4.0, 7.0)
    assert labels.opacity == pytest.approx(0.5)
    meta = dict(labels.metadata)
    assert (meta["source_layer"], meta["threshold"], meta["first_frame"], meta["last_frame"]) == (video.name, 45, 0, 11)
    assert meta["area_fraction"] == pytest.approx(expected.mean()) and 0 < meta["area_fraction"] < 0.5
    assert np.array_equal(video.data, kept)

    # a re-run with another threshold updates the same layer, and the area follows the threshold
    widget.threshold_spin.setValue(90)
    again = widget.run()
    assert again is labels and len(viewer.layers) == 4
    assert 0 < labels.metadata["area_fraction"] < meta["area_fraction"]
    assert np.array_equal(labels.data, knowledge_mask(kept[0], kept[-1], 90).astype(np.uint8))
    # other frames
    widget.first_spin.setValue(4)
    widget.threshold_spin.setValue(45)
    widget.run()
    assert np.array_equal(labels.data, knowledge_mask(kept[4], kept[-1]).astype(np.uint8))
    assert labels.metadata["first_frame"] == 4 and np.array_equal(video.data, kept)


def test_knowledge_mask_of_a_colour_series_uses_green(make_napari_viewer, errors) -> None:
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    series = rng.integers(0, 256, (3, 24, 20, 3), dtype=np.uint8)
    viewer.add_image(series, name="colour video", rgb=True)
    widget = KnowledgeMaskWidget(viewer)
    assert widget.last_spin.value() == 2
    labels = widget.run()
    assert not errors and labels.data.shape == (24, 20)
    assert np.array_equal(labels.data, (np.abs(series[0, ..., 1].astype(int) - series[2, ..., 1].astype(int)) > 45))


def test_knowledge_mask_widget_messages_instead_of_exceptions(make_napari_viewer, errors) -> None:
    viewer = make_napari_viewer()
    widget = KnowledgeMaskWidget(viewer)
    assert widget.run() is None and "time series" in errors[-1]
    single = viewer.add_image(np.zeros((1, 16, 16), np.float32), name="single")
    widget.set_layer("single")
    assert widget.run() is None and "single frame" in errors[-1]
    nan = np.zeros((3, 16, 16), np.float32)
    nan[2, 3, 3] = np.nan
    viewer.add_image(nan, name="nan")
    widget.set_layer("nan")
    assert widget.run() is None and "NaN" in errors[-1]
    widget.last_spin.setValue(0)
    assert widget.run() is None and "two different frames" in errors[-1]
    assert [layer.name for layer in viewer.layers] == ["single", "nan"] and single.data.shape == (1, 16, 16)


def test_knowledge_mask_reads_two_frames_of_a_lazy_series(make_napari_viewer, errors) -> None:
    da = pytest.importorskip("dask.array")
    viewer = make_napari_viewer()
    frames = np.stack([np.full((16, 16), 5 * t, np.uint8) for t in range(6)])
    frames[5, :8] = 200
    read = []

    def load(block_info=None):
        read.append(block_info[None]["chunk-location"][0])
        return frames[block_info[None]["array-location"][0][0]][None]

    lazy = da.map_blocks(load, dtype=np.uint8, chunks=((1,) * 6, (16,), (16,)))
    viewer.add_image(lazy, name="lazy", contrast_limits=(0, 255))
    read.clear()
    labels = KnowledgeMaskWidget(viewer).run()
    assert not errors and np.array_equal(labels.data, knowledge_mask(frames[0], frames[5]).astype(np.uint8))
    assert labels.data[:8].all() and not labels.data[8:].any()
    assert set(read) <= {0, 5}
