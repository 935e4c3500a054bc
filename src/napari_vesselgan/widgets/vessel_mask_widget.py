"""Dock widget: extract a vessel mask from a fundus photo, FFA, SLO or NIR-II layer into Labels to refine.

Thin over ``analysis.vessel_mask.extract_vessel_mask`` (field of view, polarity, vesselness,
threshold inside the field, clean-up), run in a worker; the result is a Labels layer (1 =
vessel) the annotator then paints and erases in, and whose metadata record the parameters.
Colour layers give their green channel. Cancel drops the result.
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
from napari_vesselgan.analysis.vessel_mask import DEFAULT_FRACTION
from napari_vesselgan.jobs.messages import Phase
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher

if TYPE_CHECKING:
    import napari


def extract_job(report, *, data: np.ndarray, parameters: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The extraction, in the helper thread: the mask and the parameters, with what "auto" decided."""
    from napari_vesselgan.analysis.vessel_mask import extract_vessels

    report(Phase("Filtering..."))
    mask, preparation = extract_vessels(data, **parameters)
    report(Phase("Done"))  # raises Cancelled if the user cancelled meanwhile
    decided = {"dark_vessels": preparation.dark_vessels, "sigmas": list(preparation.sigmas),
               "field_of_view_fraction": round(float(preparation.fov.mean()), 4)}
    return mask.astype(np.uint8), {**parameters, "decided": decided}


def parse_sigmas(text: str) -> tuple[float, ...] | str:
    """'1, 2, 3' -> (1.0, 2.0, 3.0), 'auto' (or nothing) -> 'auto'; ValueError with a message otherwise."""
    if text.strip().lower() in ("", "auto"):
        return "auto"
    try:
        sigmas = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise ValueError(f"Scales must be numbers separated by commas, got {text!r}.") from None
    if not sigmas or min(sigmas) <= 0:
        raise ValueError("Give 'auto' or one or more positive scales (vessel radii in pixels), e.g. 1, 2, 3.")
    return sigmas


class VesselMaskWidget(JobWidget):
    """Field of view, vesselness, threshold and clean-up of an image layer -> a Labels layer."""

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
        self.layer_combo.setToolTip("Fundus photo (its green channel is used), FFA, SLO or NIR-II image")
        self.filter_combo = QComboBox()
        self.filter_combo.addItem("Sato (tubeness)", "sato")
        self.filter_combo.addItem("Frangi", "frangi")
        self.sigmas_edit = QLineEdit("auto")
        self.sigmas_edit.setToolTip("Scales of the filter in pixels, about the vessel radii, e.g. 1, 2, 3; "
                                    "'auto' follows the field of view's size")
        self.polarity_combo = QComboBox()
        for text, value in (("Auto", None), ("Dark (photo, SLO)", True), ("Bright (FFA, NIR)", False)):
            self.polarity_combo.addItem(text, value)
        self.polarity_combo.setToolTip("Vessels darker than their surround (colour or red-free photo, SLO) or "
                                       "brighter (angiogram, fluorescence); Auto detects it")
        self.fov_check = QCheckBox("Find field of view")
        self.fov_check.setChecked(True)
        self.fov_check.setToolTip("Exclude the dark surround, black borders and lids; off: the whole frame")
        self.equalize_check = QCheckBox("Equalise contrast (CLAHE)")
        self.threshold_combo = QComboBox()
        for text, value in (("Auto (hysteresis)", "auto"), ("Top fraction", "percentile"), ("Otsu", "otsu"),
                            ("Fraction of max", "max")):
            self.threshold_combo.addItem(text, value)
        self.threshold_combo.setToolTip("Auto: vessels grow from the strongest responses into the top fraction "
                                        "of the field; Top fraction: keep that fraction; Otsu: Otsu's threshold "
                                        "inside the field; Fraction of max: above that share of the strongest")
        self.fraction_spin = QDoubleSpinBox()
        self.fraction_spin.setRange(0.01, 0.99)
        self.fraction_spin.setSingleStep(0.01)
        self.fraction_spin.setValue(DEFAULT_FRACTION)
        self.fraction_spin.setToolTip("Auto / Top fraction: share of the field that may be vessel "
                                      "(~0.12 in fundus photos); Fraction of max: share of the largest response")
        self.threshold_combo.currentIndexChanged.connect(lambda _: self._sync_fraction())
        self.min_size_spin = QSpinBox()
        self.min_size_spin.setRange(-1, 100000)
        self.min_size_spin.setSpecialValueText("auto")
        self.min_size_spin.setValue(-1)
        self.min_size_spin.setSuffix(" px")
        self.min_size_spin.setToolTip("Pieces smaller than this are removed; auto scales with the field of view")
        self.hole_spin = QSpinBox()
        self.hole_spin.setRange(0, 100000)
        self.hole_spin.setValue(16)
        self.hole_spin.setSuffix(" px")
        form.addRow("Image", self.layer_combo)
        form.addRow("Vessels", self.polarity_combo)
        form.addRow("Filter", self.filter_combo)
        form.addRow("Scales", self.sigmas_edit)
        form.addRow("", self.fov_check)
        form.addRow("", self.equalize_check)
        form.addRow("Threshold", self.threshold_combo)
        form.addRow("Fraction", self.fraction_spin)
        form.addRow("Smallest piece", self.min_size_spin)
        form.addRow("Fill holes up to", self.hole_spin)
        self._lay_out(form, "Extract mask", self.run)

    def _sync_fraction(self) -> None:
        """Otsu needs no fraction; the other rules read it."""
        self.fraction_spin.setEnabled(not self.busy and self.threshold_combo.currentData() != "otsu")

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.layer_combo, self.polarity_combo, self.filter_combo, self.sigmas_edit,
                self.fov_check, self.equalize_check, self.threshold_combo, self.fraction_spin, self.min_size_spin,
                self.hole_spin)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        if not busy:
            self._sync_fraction()
        self.progress.setRange(0, 0 if busy else 1)

    # ----- layers -----------------------------------------------------------------------------
    def _refresh_layers(self) -> None:
        try:
            current = self.layer_combo.currentData()
            layers = [layer for layer in self.viewer.layers
                      if isinstance(layer, Image) and not layer.multiscale]
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
            raise ValueError(f"no image layer named {name!r}")
        self.layer_combo.setCurrentIndex(index)

    def parameters(self) -> dict[str, Any]:
        """The extraction's parameters from the controls; ValueError for bad input."""
        rule = self.threshold_combo.currentData()
        fraction = round(self.fraction_spin.value(), 4)
        return {"sigmas": parse_sigmas(self.sigmas_edit.text()), "method": self.filter_combo.currentData(),
                "dark_vessels": self.polarity_combo.currentData(), "fov": self.fov_check.isChecked(),
                "equalize": self.equalize_check.isChecked(),
                "threshold": fraction if rule == "max" else rule, "fraction": fraction if rule != "max" else
                DEFAULT_FRACTION, "min_size": "auto" if self.min_size_spin.value() < 0 else self.min_size_spin.value(),
                "max_hole": self.hole_spin.value()}

    # ----- running ----------------------------------------------------------------------------
    def run(self) -> None:
        if self.busy:
            return
        layer = self.layer_combo.currentData()
        if layer is None:
            self.report_error("Choose an image layer (fundus photo, FFA, SLO or NIR-II).")
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
        decided = parameters["decided"]
        kind = "dark" if decided["dark_vessels"] else "bright"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' "
                                  f"({100 * float(mask.mean()):.1f}% vessel, {kind} vessels) added; paint to refine it.")
