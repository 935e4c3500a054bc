"""Dock widget: translate an RGB fundus photo layer into a late-phase FFA image with `fundus2ffa`.

Thin over the library: ``methods.load("fundus2ffa", ...)`` and ``Method.predict`` with a
progress callback, in a napari generator worker (see ``_workers``): progress, cancel, and a
clear message on failure. The result is a new grey image layer "<input> FFA" with the input's
scale and translate; its metadata record the method, weights (and how they were trained) and
parameters. Optionally the FFA saliency map of the result is added as an overlay.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan import methods
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher
from napari_vesselgan.widgets.saliency_widget import saliency_layer_kwargs

if TYPE_CHECKING:
    import napari

METHOD = "fundus2ffa"
WEIGHTS_DEFAULT, WEIGHTS_TRAINED, WEIGHTS_FILE = "default", "trained", "file"


def rgb_photo(data: Any) -> np.ndarray:
    """The layer's data as an (..., Y, X, 3) array: RGBA loses its alpha; a copy is never needed (predict reads only)."""
    data = np.asarray(data)
    if data.ndim >= 3 and data.shape[-1] == 4:
        data = data[..., :3]
    return data


def translate_job(report, *, data, load_method, tile: int | None, saliency: bool) -> dict[str, Any]:
    """One run in the helper thread; ``report`` raises ``Cancelled`` once Cancel was pressed."""
    report(("phase", "Loading weights..."))
    method = load_method()
    report(("phase", "Translating..."))
    ffa = method.predict(rgb_photo(data), tile=tile, progress=lambda done, total: report(("progress", done, total)))
    result = {"ffa": ffa, "metadata": method.describe(tile=tile, saliency=saliency), "saliency": None}
    if saliency:
        from napari_vesselgan.analysis import ffa_saliency

        report(("phase", "Computing the saliency map..."))
        result["saliency"] = ffa_saliency(ffa)
    return result


class Fundus2FFAWidget(JobWidget):
    """Translate the chosen RGB fundus layer into an FFA layer; cancel adds nothing."""

    job_name = "Fundus to FFA"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.weights_file: Path | None = None
        self._source: dict[str, Any] = {}
        self._started = 0.0
        self._build()
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self._refresh_layers()

    def _build(self) -> None:
        form = QFormLayout()
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("RGB fundus photo layer (grey layers are not listed)")
        form.addRow("Fundus photo", self.layer_combo)
        self.weights_combo = QComboBox()
        default = methods.method_class(METHOD).default_weights()
        self.weights_combo.addItem("Bundled default" if default.is_file() else "Bundled default (not installed)",
                                   WEIGHTS_DEFAULT)
        self.weights_combo.addItem("Last training run", WEIGHTS_TRAINED)
        self.weights_combo.addItem("From file...", WEIGHTS_FILE)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self.choose_weights_file)
        row = QHBoxLayout()
        row.addWidget(self.weights_combo, 1)
        row.addWidget(self.browse_button)
        form.addRow("Weights", row)
        self.device_combo = QComboBox()
        for device in ("auto", "cpu", "cuda"):
            self.device_combo.addItem(device, device)
        form.addRow("Device", self.device_combo)
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 16384)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("automatic")
        self.tile_spin.setSuffix(" px")
        form.addRow("Tile size", self.tile_spin)
        self.saliency_check = QCheckBox("Add the FFA saliency map of the result")
        form.addRow("", self.saliency_check)
        self.run_button = QPushButton("Translate")
        self.run_button.clicked.connect(self.run)
        buttons = self._build_job_row(self.run_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

    # ----- layers and weights -----------------------------------------------------------------
    def rgb_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if isinstance(layer, Image) and layer.rgb and not layer.multiscale]

    def _refresh_layers(self) -> None:
        try:
            current = self.layer_combo.currentData()
            layers = self.rgb_layers()
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for layer in layers:
                self.layer_combo.addItem(layer.name, layer)
            if current in layers:
                self.layer_combo.setCurrentIndex(layers.index(current))
            elif layers:
                active = self.viewer.layers.selection.active
                self.layer_combo.setCurrentIndex(layers.index(active) if active in layers else len(layers) - 1)
            self.layer_combo.blockSignals(False)
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    def set_layer(self, name: str) -> None:
        index = self.layer_combo.findText(name)
        if index < 0:
            raise ValueError(f"no RGB image layer named {name!r}")
        self.layer_combo.setCurrentIndex(index)

    def set_weights_file(self, path: str | Path) -> None:
        self.weights_file = Path(path)
        self.weights_combo.setCurrentIndex(self.weights_combo.findData(WEIGHTS_FILE))

    def choose_weights_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose fundus2ffa weights", str(Path.home()),
                                              "napari-vesselgan weights (*.safetensors);;All files (*)")
        if path:
            self.set_weights_file(path)

    def weights_path(self) -> Path:
        """The file of the chosen weights option; ValueError with what to do where there is none."""
        choice = self.weights_combo.currentData()
        if choice == WEIGHTS_DEFAULT:
            path = methods.method_class(METHOD).default_weights()
            if not path.is_file():
                raise ValueError(f"The bundled fundus2ffa weights are not installed ({path}); choose a weights file.")
            return path
        if choice == WEIGHTS_TRAINED:
            path = self.state.trained_weights(METHOD)
            if path is None:
                raise ValueError("No fundus2ffa training run has finished in this viewer yet.")
            return path
        if self.weights_file is None:
            raise ValueError("Choose a weights file (Browse...).")
        return self.weights_file

    # ----- running ----------------------------------------------------------------------------
    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.layer_combo, self.weights_combo, self.browse_button, self.device_combo,
                self.tile_spin, self.saliency_check)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.progress.setRange(0, 0 if busy else 1)
        self.progress.setValue(0)

    def run(self) -> None:
        """Start translating the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        if self.busy:
            return
        layer = self.layer_combo.currentData()
        if layer is None:
            self.report_error("Choose an RGB fundus photo layer (for example File > Open Sample > VesselGAN > "
                              "Synthetic fundus photo).")
            return
        try:
            weights = self.weights_path()
        except ValueError as error:
            self.report_error(str(error))
            return
        device = self.device_combo.currentData()
        self.last_outcome = None
        self._source = {"name": layer.name, "scale": tuple(layer.scale), "translate": tuple(layer.translate)}
        options = {"data": layer.data, "tile": self.tile_spin.value() or None,
                   "saliency": self.saliency_check.isChecked(),
                   "load_method": lambda: methods.load(METHOD, weights=weights, device=device)}
        self._started = time.perf_counter()
        self._start_job(lambda report, cancel: translate_job(report, **options), f"Translating {layer.name}...")

    def _on_return(self, result: dict[str, Any]) -> None:
        source = self._source
        metadata = {**result["metadata"], "source_layer": source["name"]}
        placement = {"scale": source["scale"], "translate": source["translate"]}
        name = f"{source['name']} FFA"
        self.viewer.add_image(result["ffa"], name=name, colormap="gray", contrast_limits=(0.0, 1.0),
                              metadata=metadata, **placement)
        if result["saliency"] is not None:
            self.viewer.add_image(result["saliency"], name=f"{name} saliency",
                                  **saliency_layer_kwargs(result["saliency"], {**metadata, "kind": "FFA saliency"}),
                                  **placement)
        self.last_result = result
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' added.")
