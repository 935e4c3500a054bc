"""Dock widget: enhance the resolution of a fluorescence image layer (2-D or a time series).

Thin over the library: ``methods.load("superres", ...)`` and ``Method.predict`` with a
progress callback, in a napari generator worker. The input is either the re-upscaled image
(same size out, laid over the input) or the low-resolution image itself (4x the pixels out,
placed so that it covers the input in world coordinates). The result layer's metadata records
method, weights, parameters and the source layer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from qtpy.QtWidgets import QComboBox, QLabel, QWidget

from napari_vesselgan.widgets._method_widget import MethodWidget

if TYPE_CHECKING:
    import napari

SAME_SIZE, LOW_RESOLUTION = 1, 4


def superres_job(report, *, data, load_method, tile: int | None, scale: int, precision: str,
                 device: str) -> tuple[Any, dict[str, Any]]:
    """The work of one run, in the helper thread; ``report`` raises ``Cancelled`` on cancel."""
    report(("phase", "Loading weights..."))
    method = load_method()
    frames = 1 if data.ndim == 2 else int(data.shape[0])
    report(("phase", f"Enhancing {frames} frame{'s' * (frames > 1)}..."))
    result = method.predict(data, tile=tile, scale=scale, precision=precision,
                            progress=lambda done, total: report(("progress", done, total)))
    metadata = method.describe(tile=tile, scale=scale, precision=precision, device=device,
                               input_kind="low resolution" if scale > 1 else "re-upscaled")
    return result, metadata


class SuperResWidget(MethodWidget):
    """Enhance a grey image layer or (T, Y, X) time series; the result is a new layer.

    Cancel stops the run at its next frame batch (or tile); no layer is added.
    """

    method_name = "superres"
    layer_tooltip = "Grey image or time-series layer to enhance (RGB and multiscale layers are not listed)"
    job_name = "Resolution enhancement"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self._build()
        self._start_watching()

    def _build(self) -> None:
        form = self._build_method_form()
        self.input_combo = QComboBox()
        self.input_combo.addItem("Re-upscaled (output the same size)", SAME_SIZE)
        self.input_combo.addItem("Low resolution (output 4x larger)", LOW_RESOLUTION)
        self.input_combo.setToolTip(
            "Re-upscaled: the image was already enlarged to the target size (bicubic), as the model was "
            "trained. Low resolution: the widget enlarges it 4x (bicubic) first.")
        form.insertRow(1, "Input is", self.input_combo)
        note = QLabel("<small>Judge the result with a line profile across vessels "
                      "(the paper's test) and against the input.</small>")
        note.setWordWrap(True)
        self._lay_out(form, "Enhance", self.run, note)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.input_combo, *self._method_controls())

    def set_input_kind(self, scale: int) -> None:
        """1: the layer is re-upscaled; 4: it is the low-resolution image."""
        index = self.input_combo.findData(scale)
        if index < 0:
            raise ValueError(f"unknown input kind {scale!r}: use 1 or 4")
        self.input_combo.setCurrentIndex(index)

    def run(self) -> None:
        """Start enhancing the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        chosen = self._choose_run("Choose a grey image layer to enhance (for example File > Open Sample > "
                                  "VesselGAN > Low-resolution NIR-II image).")
        if chosen is None:
            return
        layer, weights, device, tile = chosen
        options = {"data": layer.data, "tile": tile, "device": device, "scale": self.input_combo.currentData(),
                   "precision": self.precision_combo.currentData(),
                   "load_method": lambda: self._load_method(weights, device)}
        self._start_job(lambda report, cancel: superres_job(report, **options), f"Enhancing {layer.name}...")

    def _on_return(self, payload: tuple[Any, dict[str, Any]]) -> None:
        result, metadata = payload
        source = self._source
        metadata["source_layer"] = source["name"]
        scale = int(metadata["parameters"]["scale"])
        zoom = [1.0] * (result.ndim - 2) + [float(scale)] * 2
        name = f"{source['name']} enhanced"
        self.last_result = self._put_layer(name, result, metadata=metadata,
                                           contrast_limits=source["contrast_limits"], **self._placement(zoom))
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' added.")
