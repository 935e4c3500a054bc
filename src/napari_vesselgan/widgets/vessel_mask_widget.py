"""Dock widget: extract a vessel mask from a NIR-II or FFA image layer into a Labels layer to refine.

Thin over ``analysis.vessel_mask.extract_vessel_mask`` (vesselness filter, threshold,
clean-up), run in a worker; the result is a Labels layer (1 = vessel) the annotator then
paints and erases in, and whose metadata record the parameters. Cancel drops the result.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from napari_vesselgan import __version__
from napari_vesselgan.jobs.messages import Phase
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher

if TYPE_CHECKING:
    import napari


def extract_job(report, *, data: np.ndarray, parameters: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The extraction, in the helper thread."""
    from napari_vesselgan.analysis.vessel_mask import extract_vessel_mask

    report(Phase("Filtering..."))
    mask = extract_vessel_mask(data, **parameters)
    report(Phase("Done"))  # raises Cancelled if the user cancelled meanwhile
    return mask.astype(np.uint8), parameters


def parse_sigmas(text: str) -> tuple[float, ...]:
    """'1, 2, 3' -> (1.0, 2.0, 3.0); ValueError with a message otherwise."""
    try:
        sigmas = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(f"Scales must be numbers separated by commas, got {text!r}.") from None
    if not sigmas or min(sigmas) <= 0:
        raise ValueError("Give one or more positive scales (vessel radii in pixels), e.g. 0.5, 1, 2.")
    return sigmas


class VesselMaskWidget(JobWidget):
    """Vesselness, threshold and clean-up of a grey image layer -> a Labels layer."""

    job_name = "Vessel-mask extraction"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self._source: dict[str, Any] = {}
        self._started = 0.0
        self._build()
        self._watcher = LayerWatcher(self.viewer, self._refresh_layers)
        self._refresh_layers()

    def _build(self) -> None:
        form = QFormLayout()
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Grey NIR-II or FFA image (RGB: pick a channel first)")
        self.filter_combo = QComboBox()
        self.filter_combo.addItem("Sato (tubeness)", "sato")
        self.filter_combo.addItem("Frangi", "frangi")
        self.sigmas_edit = QLineEdit("0.5, 1, 2")
        self.sigmas_edit.setToolTip("Scales of the filter in pixels, about the vessel radii")
        self.dark_check = QCheckBox("dark vessels")  # a short label keeps the dock narrow
        self.dark_check.setToolTip("Vessels darker than the background (colour fundus photos)")
        self.otsu_check = QCheckBox("Otsu")
        self.otsu_check.setChecked(True)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.01, 0.99)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.15)
        self.threshold_spin.setToolTip("Fraction of the largest vesselness response (when Otsu is off)")
        self.threshold_spin.setEnabled(False)
        self.otsu_check.toggled.connect(lambda on: self.threshold_spin.setEnabled(not on))
        self.min_size_spin = QSpinBox()
        self.min_size_spin.setRange(0, 100000)
        self.min_size_spin.setValue(64)
        self.min_size_spin.setSuffix(" px")
        self.hole_spin = QSpinBox()
        self.hole_spin.setRange(0, 100000)
        self.hole_spin.setValue(16)
        self.hole_spin.setSuffix(" px")
        form.addRow("Image", self.layer_combo)
        form.addRow("Filter", self.filter_combo)
        form.addRow("Scales", self.sigmas_edit)
        form.addRow("", self.dark_check)
        form.addRow("Threshold", self.otsu_check)
        form.addRow("or fraction", self.threshold_spin)
        form.addRow("Smallest piece", self.min_size_spin)
        form.addRow("Fill holes up to", self.hole_spin)
        self._lay_out(form, "Extract mask", self.run)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.layer_combo, self.filter_combo, self.sigmas_edit, self.dark_check,
                self.otsu_check, self.threshold_spin, self.min_size_spin, self.hole_spin)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        if not busy:
            self.threshold_spin.setEnabled(not self.otsu_check.isChecked())
        self.progress.setRange(0, 0 if busy else 1)

    # ----- layers -----------------------------------------------------------------------------
    def _refresh_layers(self) -> None:
        try:
            current = self.layer_combo.currentData()
            layers = [layer for layer in self.viewer.layers
                      if isinstance(layer, Image) and not layer.rgb and not layer.multiscale]
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for layer in layers:
                self.layer_combo.addItem(layer.name, layer)
            if current in layers:
                self.layer_combo.setCurrentIndex(layers.index(current))
            self.layer_combo.blockSignals(False)
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    def set_layer(self, name: str) -> None:
        index = self.layer_combo.findText(name)
        if index < 0:
            raise ValueError(f"no grey image layer named {name!r}")
        self.layer_combo.setCurrentIndex(index)

    def parameters(self) -> dict[str, Any]:
        """The extraction's parameters from the controls; ValueError for bad input."""
        return {"sigmas": parse_sigmas(self.sigmas_edit.text()), "method": self.filter_combo.currentData(),
                "dark_vessels": self.dark_check.isChecked(),
                "threshold": "otsu" if self.otsu_check.isChecked() else round(self.threshold_spin.value(), 4),
                "min_size": self.min_size_spin.value(), "max_hole": self.hole_spin.value()}

    # ----- running ----------------------------------------------------------------------------
    def run(self) -> None:
        if self.busy:
            return
        layer = self.layer_combo.currentData()
        if layer is None:
            self.report_error("Choose a grey NIR-II or FFA image layer.")
            return
        try:
            parameters = self.parameters()
        except ValueError as error:
            self.report_error(str(error))
            return
        self.last_outcome = None
        self._started = time.perf_counter()
        self._source = {"name": layer.name, "scale": tuple(layer.scale), "translate": tuple(layer.translate)}
        data = np.asarray(layer.data)
        self._start_job(lambda report, cancel: extract_job(report, data=data, parameters=parameters),
                        f"Extracting vessels from {layer.name}...")

    def _on_return(self, payload: tuple[np.ndarray, dict[str, Any]], context: Any = None) -> None:
        mask, parameters = payload
        name = f"{self._source['name']} vessel mask"
        metadata = {"napari_vesselgan": __version__, "analysis": "extract_vessel_mask",
                    "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.items()},
                    "source_layer": self._source["name"]}
        self.last_result = self.viewer.add_labels(mask, name=name, metadata=metadata, scale=self._source["scale"],
                                                  translate=self._source["translate"])
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' "
                                  f"({100 * float(mask.mean()):.1f}% vessel) added; paint to refine it.")
