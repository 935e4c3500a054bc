"""The fundus2video dock widget, as a user drives it: generate, cancel, play with the slider, write MP4."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtCore import Qt  # noqa: E402

from napari_vesselgan.io import read_image  # noqa: E402
from napari_vesselgan.widgets.fundus2video_widget import Fundus2VideoWidget  # noqa: E402

RUN_TIMEOUT = 60_000  # ms


class StandInVideoMethod:
    """Frame t of a T-frame video is (t / (T-1)) x the photo's green channel: dark first frame, bright last.

    Stands in for the network where a test is about the widget (the slider, cancel between
    frames) and needs frames that clearly differ.
    """

    name = "fundus2video"
    in_channels = 3
    verb = "Generating the video"
    output_kind = "video"

    def __init__(self):
        self.frames_done = 0

    @classmethod
    def default_weights(cls) -> Path:
        return Path("/nonexistent/fundus2video.safetensors")

    def predict_request(self, image, request, progress=None):
        return self.predict(image, progress=progress, **request.predict_kwargs())

    def predict(self, image, *, frames=12, progress=None, precision="fp32", tile=None, halo=None):
        assert image.ndim == 3 and image.shape[-1] == 3
        green = np.asarray(image[..., 1], np.float32) / 255.0
        video = []
        for t in range(frames):
            video.append(green * (t / (frames - 1)))
            self.frames_done += 1
            if progress is not None:
                progress(t + 1, frames)
        return np.stack(video).astype(np.float32)

    def describe(self, **parameters):
        return {"method": self.name, "weights": "stand-in", "parameters": parameters, "napari_vesselgan": "test"}


@pytest.fixture
def stand_in(tmp_path):
    """A widget factory whose widgets load :class:`StandInVideoMethod`."""

    def make(viewer) -> tuple[Fundus2VideoWidget, StandInVideoMethod]:
        method = StandInVideoMethod()
        widget = Fundus2VideoWidget(viewer)
        widget._load_method = lambda request: method
        widget.set_weights_file(tmp_path / "stand-in.safetensors")
        return widget, method

    return make


def test_video_widget_adds_a_time_series_with_provenance(click_and_wait, make_napari_viewer, qtbot, stand_in,
                                                         tmp_path, errors):
    viewer = make_napari_viewer()
    (fundus,) = viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    fundus.scale = (2.0, 3.0)
    viewer.add_image(np.zeros((32, 32), np.uint8), name="grey")  # not offered: not RGB
    viewer.add_image(np.zeros((4, 32, 32, 3), np.uint8), name="colour series", rgb=True)  # not one photo
    kept = fundus.data.copy()
    widget, _ = stand_in(viewer)
    assert [widget.layer_combo.itemText(i) for i in range(widget.layer_combo.count())] == [fundus.name]
    assert widget.frames_spin.value() == 12 and widget.frames_spin.minimum() == 3
    assert not widget.write_button.isEnabled()
    widget.frames_spin.setValue(6)
    seen = []  # the progress bar's (value, maximum) as it moves
    widget.progress.valueChanged.connect(lambda value: seen.append((value, widget.progress.maximum())))
    assert click_and_wait(widget, widget.run_button) == "done"
    assert not errors and not widget.busy
    video = viewer.layers[f"{fundus.name} FFA video"]
    assert video.data.shape == (6, 512, 512) and video.data.dtype == np.float32 and not video.rgb
    assert video.metadata["method"] == "fundus2video" and video.metadata["source_layer"] == fundus.name
    assert video.metadata["parameters"]["frames"] == 6
    assert tuple(video.scale) == (1.0, 2.0, 3.0) and tuple(video.axis_labels) == ("t", "y", "x")
    assert viewer.dims.current_step[0] == 0 and viewer.dims.nsteps[0] == 6
    per_frame = [value for value, maximum in seen if maximum == 6]
    assert per_frame and per_frame[-1] == 6 and per_frame == sorted(per_frame)
    assert np.array_equal(fundus.data, kept)

    # Write MP4 writes the last result; it reads back with its frames
    assert widget.write_button.isEnabled() and widget.fps_spin.value() == 4
    target = tmp_path / "out" / "video.mp4"
    target.parent.mkdir()
    widget.video_path_edit.setText(str(target))
    qtbot.mouseClick(widget.write_button, Qt.MouseButton.LeftButton)
    assert not errors and target.is_file()
    back = read_image(target)
    assert back.shape == (6, 512, 512)
    assert np.abs(back.astype(float) - np.rint(video.data * 255)).mean() < 3  # H.264 is lossy

    # a re-run with other settings keeps the earlier video beside the new one
    widget.frames_spin.setValue(3)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert viewer.layers[f"{fundus.name} FFA video"] is video and video.data.shape == (6, 512, 512)
    assert viewer.layers[f"{fundus.name} FFA video [1]"].data.shape == (3, 512, 512)


def test_video_widget_cancel_between_frames_adds_nothing(click_and_wait, make_napari_viewer, qtbot, stand_in, errors,
                                                         hold_job):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    widget, method = stand_in(viewer)
    gate = hold_job(widget)  # the job waits after the first frame until the GUI has cancelled

    def cancel_after_first_frame(value: int) -> None:
        if value >= 1 and widget.busy:
            widget.cancel()
            gate.set()

    widget.progress.valueChanged.connect(cancel_after_first_frame)
    assert click_and_wait(widget, widget.run_button) == "cancelled"
    assert len(viewer.layers) == 1 and not errors and not widget.busy and widget.run_button.isEnabled()
    assert 1 <= method.frames_done < 12  # stopped between frames, not after the last
    assert not widget.write_button.isEnabled()


def test_video_widget_messages(make_napari_viewer, tmp_path, errors):
    viewer = make_napari_viewer()
    widget = Fundus2VideoWidget(viewer)
    widget.run()
    assert errors and "RGB fundus" in errors[-1]
    assert widget.write_video() is None and "Generate a video first" in errors[-1]
    viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    widget.weights_combo.setCurrentIndex(widget.weights_combo.findData("file"))
    widget.run()
    assert "weights file" in errors[-1] and not widget.busy and len(viewer.layers) == 1


def test_video_slider_plays_the_video(click_and_wait, make_napari_viewer, qtbot, stand_in, errors):
    viewer = make_napari_viewer(show=True)
    (fundus,) = viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    widget, _ = stand_in(viewer)
    widget.frames_spin.setValue(5)
    assert click_and_wait(widget, widget.run_button) == "done" and not errors
    fundus.visible = False
    video = viewer.layers[f"{fundus.name} FFA video"]
    assert viewer.dims.current_step[0] == 0
    first = viewer.screenshot(canvas_only=True, flash=False)
    viewer.dims.set_current_step(0, 4)
    last = viewer.screenshot(canvas_only=True, flash=False)
    assert first.shape == last.shape
    # frame 0 is black, the last frame shows the photo's vessels and background brightly
    assert first[..., :3].mean() < 5 and last[..., :3].mean() > first[..., :3].mean() + 20
    viewer.dims.set_current_step(0, 0)
    again = viewer.screenshot(canvas_only=True, flash=False)
    assert np.abs(again.astype(int) - first.astype(int)).mean() < 1
    assert video.visible


def test_video_widget_runs_the_method(click_and_wait, make_napari_viewer, qtbot, tiny_weights, hold_job,
                                      single_torch_thread, tmp_path, errors):
    viewer = make_napari_viewer()
    (fundus,) = viewer.open_sample("napari-vesselgan", "synthetic-fundus")
    kept = fundus.data.copy()
    widget = Fundus2VideoWidget(viewer)
    widget.set_weights_file(tiny_weights("fundus2video"))
    widget.frames_spin.setValue(4)
    assert click_and_wait(widget, widget.run_button) == "done"
    assert not errors
    video = viewer.layers[f"{fundus.name} FFA video"]
    assert video.data.shape == (4, 512, 512) and video.data.dtype == np.float32
    assert 0 <= video.data.min() and video.data.max() <= 1
    assert video.metadata["method"] == "fundus2video" and video.metadata["weights"] == str(tiny_weights("fundus2video"))
    assert video.metadata["parameters"]["frames"] == 4 and video.metadata["source_layer"] == fundus.name
    assert viewer.dims.current_step[0] == 0 and viewer.dims.nsteps[0] == 4
    assert np.array_equal(fundus.data, kept)
    target = tmp_path / "ffa.mp4"
    widget.video_path_edit.setText(str(target))
    assert widget.write_video() == target and not errors
    assert read_image(target).shape == (4, 512, 512)

    # the generated series gets a knowledge-mask overlay like any time series
    from napari_vesselgan.analysis import knowledge_mask
    from napari_vesselgan.widgets.knowledge_mask_widget import KnowledgeMaskWidget

    overlay = KnowledgeMaskWidget(viewer).run()
    assert overlay is viewer.layers[f"{video.name} knowledge mask"] and not errors
    assert np.array_equal(overlay.data, knowledge_mask(video.data[0], video.data[-1]))
    viewer.layers.remove(overlay)

    # cancel: nothing added, the earlier result stays as it was
    widget.frames_spin.setValue(6)
    gate = hold_job(widget)
    with qtbot.waitSignal(widget.run_finished, timeout=RUN_TIMEOUT) as blocker:
        widget.run()
        widget.cancel()
        gate.set()
    assert blocker.args[0] == "cancelled" and len(viewer.layers) == 2 and video.data.shape[0] == 4
    assert not errors and not widget.busy


def test_training_widget_trains_fundus2video_on_a_photo_and_a_video_layer(click_and_wait, make_napari_viewer,
                                                                          qtbot, tmp_path, single_torch_thread,
                                                                          errors):
    from napari_vesselgan import methods
    from napari_vesselgan.data.fundus import fundus_video
    from napari_vesselgan.widgets.train_widget import TrainWidget

    viewer = make_napari_viewer()
    sample = fundus_video((64, 64), 2, frames=6)
    viewer.add_image(np.rint(sample.fundus * 255).astype(np.uint8), name="photo", rgb=True)
    viewer.add_image(np.rint(sample.video * 255).astype(np.uint8), name="angiogram video")
    widget = TrainWidget(viewer)
    widget.method_combo.setCurrentIndex(widget.method_combo.findData("fundus2video"))
    assert "videos" in widget.box_b.title()
    widget.set_preset("test")
    widget.steps_spin.setValue(2)
    widget.source_a.select_layers(["photo"])
    widget.source_b.select_layers(["angiogram video"])
    widget.set_run_dir(tmp_path / "run")
    assert click_and_wait(widget, widget.train_button) == "done" and not errors
    assert widget.loss_plot.points["D"][0] == [1, 2]  # the paired GANs' single discriminator is plotted too
    trained = methods.load("fundus2video", weights=widget.last_result.weights, device="cpu")
    assert trained.predict(sample.fundus, frames=3).shape == (3, 64, 64)
