"""Dock widget: generate the FFA video of an RGB fundus photo layer with `fundus2video`.

Thin over the library: the dock builds a ``PredictionRequest`` (``frames`` from fundus2video's
declared options model) and ``jobs.predict.run_prediction`` runs it in a napari generator
worker (see ``_workers``), reporting once per finished frame: the bar moves frame by frame and
Cancel stops between frames, adding nothing.
The result is a new grey (T, Y, X) image layer "<input> FFA video" over the input (its Y, X
scale and translate; the time axis labelled "t"), whose metadata record the method, weights
and parameters; the time slider is put on frame 0 so that napari's play button runs the
video. "Write MP4..." writes the last result with ``io.write_video``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.layers import Image
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from napari_vesselgan.jobs.predict import PredictionResult
from napari_vesselgan.widgets._layers import put_layer
from napari_vesselgan.widgets._method_widget import MethodWidget, Run

METHOD = "fundus2video"
MIN_FRAMES = 3  # one per phase
DEFAULT_FPS = 4


class Fundus2VideoWidget(MethodWidget):
    """Generate the FFA video of the chosen RGB fundus layer; cancel adds nothing."""

    method_name = METHOD
    layer_tooltip = "RGB fundus photo layer (one photo; grey layers and colour time series are not listed)"
    no_layer_hint = ("Choose an RGB fundus photo layer (for example File > Open Sample > VesselGAN > "
                     "Colour fundus photo (synthetic, pairs with the FFA sample)).")
    starting_status = "Generating the FFA video of {name}..."
    result_suffix = "FFA video"
    job_name = "Fundus to FFA video"

    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.layer_combo).setText("Fundus photo")
        # the declared frames option (default 12, the paper's); at least one frame per phase here
        self.frames_spin: QSpinBox = self.option_widgets["frames"].native
        self.frames_spin.setMinimum(MIN_FRAMES)
        self.frames_spin.setToolTip("Frames of the video: a third each for the arterial, venous and late phase "
                                    "(the paper: 12)")

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
        return (*super()._job_controls(), self.write_button)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.write_button.setEnabled(not busy and self.last_result is not None)

    def image_layers(self) -> list[Image]:
        """RGB layers holding one photo (Y, X, 3 or 4): a colour time series is not a photo."""
        return [layer for layer in super().image_layers() if layer.data.ndim == 3]

    # ----- results ----------------------------------------------------------------------------
    def _put_result(self, name: str, result: PredictionResult, metadata: dict[str, Any], run: Run) -> Image:
        """A grey (T, Y, X) layer over the photo, the time axis "t" in front."""
        placement = run.placement()
        placement["scale"] = (1.0, *placement["scale"])
        placement["translate"] = (0.0, *placement["translate"])
        if "units" in placement:
            placement["units"] = ("pixel", *placement["units"])
        layer = put_layer(self.viewer, name, result.output, colormap="gray", contrast_limits=(0.0, 1.0),
                          metadata=metadata, **placement)
        layer.axis_labels = ("t", "y", "x")
        return layer

    def _show_result(self, result: PredictionResult, layer: Image) -> None:
        self._show_first_frame(layer)

    def _done_detail(self, result: PredictionResult) -> str:
        return f" ({result.output.shape[0]} frames); play it with the time slider"

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
            source = self.last_run.source if self.last_run is not None else "ffa"
            text, _ = QFileDialog.getSaveFileName(self, "Write the FFA video", f"{source} FFA video.mp4",
                                                  "MP4 video (*.mp4)")
            if not text:
                return None
            self.video_path_edit.setText(text)
        path = Path(text).expanduser()
        if path.suffix.lower() != ".mp4":
            path = path.with_name(path.name + ".mp4")
        from napari_vesselgan.io import write_video

        try:
            written = write_video(path, self.last_result.output, fps=self.fps_spin.value())
        except (OSError, ValueError, RuntimeError) as error:
            self.report_error(f"Writing {path} failed: {error}")
            return None
        self.status_label.setText(f"Wrote {written} ({self.last_result.output.shape[0]} frames, "
                                  f"{self.fps_spin.value()} fps).")
        return written
