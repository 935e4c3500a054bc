"""Dock widget: generate the FFA video of an RGB fundus photo layer with `fundus2video`.

Thin over the library: ``methods.load("fundus2video", ...)`` and ``Method.predict`` with a
progress callback called once per finished frame, in a napari generator worker (see
``_workers``): the bar moves frame by frame and Cancel stops between frames, adding nothing.
The result is a new grey (T, Y, X) image layer "<input> FFA video" over the input (its Y, X
scale and translate; the time axis labelled "t"), whose metadata record the method, weights
and parameters; the time slider is put on frame 0 so that napari's play button runs the
video. "Write MP4..." writes the last result with ``io.write_video``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Image
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from napari_vesselgan.widgets._method_widget import MethodWidget
from napari_vesselgan.widgets.fundus2ffa_widget import rgb_photo

if TYPE_CHECKING:
    import napari

METHOD = "fundus2video"
DEFAULT_FRAMES = 12  # the paper's: 4 frames each of the arterial, venous and late phase
MIN_FRAMES = 3  # one per phase
DEFAULT_FPS = 4


def video_job(report, *, data, load_method, frames: int, tile: int | None, precision: str = "fp32") -> dict[str, Any]:
    """One run in the helper thread; ``report`` raises ``Cancelled`` (between frames) once Cancel was pressed."""
    report(("phase", "Loading weights..."))
    method = load_method()
    report(("phase", f"Generating {frames} frames..."))
    report(("progress", 0, frames))
    video = method.predict(rgb_photo(data), frames=frames, tile=tile, precision=precision,
                           progress=lambda done, total: report(("progress", done, total)))
    return {"video": video, "metadata": method.describe(frames=frames, tile=tile, precision=precision)}


class Fundus2VideoWidget(MethodWidget):
    """Generate the FFA video of the chosen RGB fundus layer; cancel adds nothing."""

    method_name = METHOD
    layer_tooltip = "RGB fundus photo layer (one photo; grey layers and colour time series are not listed)"
    job_name = "Fundus to FFA video"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self._build()
        self._start_watching()

    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.layer_combo).setText("Fundus photo")
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(MIN_FRAMES, 240)
        self.frames_spin.setValue(DEFAULT_FRAMES)
        self.frames_spin.setToolTip("Frames of the video: a third each for the arterial, venous and late phase "
                                    "(the paper: 12)")
        form.insertRow(1, "Frames", self.frames_spin)

        self.video_path_edit = QLineEdit()
        self.video_path_edit.setPlaceholderText("video.mp4 (empty: ask)")
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setValue(DEFAULT_FPS)
        self.fps_spin.setSuffix(" fps")
        self.write_button = QPushButton("Write MP4...")
        self.write_button.setToolTip("Write the last generated video as an H.264 MP4")
        self.write_button.setEnabled(False)
        self.write_button.clicked.connect(self.write_video)
        row = QHBoxLayout()
        row.addWidget(self.video_path_edit, 1)
        row.addWidget(self.fps_spin)
        row.addWidget(self.write_button)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self._lay_out(form, "Generate video", self.run, holder)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, *self._method_controls(), self.frames_spin, self.write_button)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.write_button.setEnabled(not busy and self.last_result is not None)

    def image_layers(self) -> list[Image]:
        """RGB layers holding one photo (Y, X, 3 or 4): a colour time series is not a photo."""
        return [layer for layer in super().image_layers() if layer.data.ndim == 3]

    # ----- running ----------------------------------------------------------------------------
    def run(self) -> None:
        """Start generating the chosen layer's video (returns at once; ``run_finished`` says when it ends)."""
        chosen = self._choose_run("Choose an RGB fundus photo layer (for example File > Open Sample > VesselGAN > "
                                  "Synthetic colour fundus photo).")
        if chosen is None:
            return
        layer, weights, device, tile = chosen
        options = {"data": layer.data, "frames": self.frames_spin.value(), "tile": tile,
                   "precision": self.precision_combo.currentData(),
                   "load_method": lambda: self._load_method(weights, device)}
        self._start_job(lambda report, cancel: video_job(report, **options), f"Generating the FFA video of {layer.name}...")

    def _on_return(self, result: dict[str, Any]) -> None:
        source = self._source
        metadata = {**result["metadata"], "source_layer": source["name"]}
        placement = self._placement()
        placement["scale"] = (1.0, *placement["scale"])
        placement["translate"] = (0.0, *placement["translate"])
        if "units" in placement:
            placement["units"] = ("pixel", *placement["units"])
        name = f"{source['name']} FFA video"
        layer = self._put_layer(name, result["video"], colormap="gray", contrast_limits=(0.0, 1.0),
                                metadata=metadata, **placement)
        layer.axis_labels = ("t", "y", "x")
        self._show_first_frame(layer)
        self.last_result = result
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' added "
                                  f"({result['video'].shape[0]} frames); play it with the time slider.")

    def _show_first_frame(self, layer: Image) -> None:
        """Put the time slider (the viewer axis the layer's first axis is on) at frame 0."""
        dims = self.viewer.dims
        axis = dims.ndim - layer.ndim
        if dims.ndim > 2 and axis >= 0:
            dims.set_current_step(axis, 0)

    # ----- writing ----------------------------------------------------------------------------
    def write_video(self) -> Path | None:
        """Write the last video as MP4 to the path in the line edit (asked for when empty); None after a message."""
        if self.last_result is None:
            self.report_error("Generate a video first.")
            return None
        text = self.video_path_edit.text().strip()
        if not text:
            text, _ = QFileDialog.getSaveFileName(self, "Write the FFA video", f"{self._source.get('name', 'ffa')} "
                                                  "FFA video.mp4", "MP4 video (*.mp4)")
            if not text:
                return None
            self.video_path_edit.setText(text)
        path = Path(text).expanduser()
        if path.suffix.lower() != ".mp4":
            path = path.with_name(path.name + ".mp4")
        from napari_vesselgan.io import write_video

        try:
            written = write_video(path, self.last_result["video"], fps=self.fps_spin.value())
        except (OSError, ValueError, RuntimeError) as error:
            self.report_error(f"Writing {path} failed: {error}")
            return None
        self.status_label.setText(f"Wrote {written} ({self.last_result['video'].shape[0]} frames, "
                                  f"{self.fps_spin.value()} fps).")
        return written
