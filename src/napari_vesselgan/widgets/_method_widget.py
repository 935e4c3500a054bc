"""What the dock widgets that run a trained method share: choosing the layer, the weights
(bundled, the last training run in this viewer, or a file), the device, tiles and precision,
loading the method once per choice, and putting results into the viewer as layers.

A subclass sets ``method_name`` (and the texts), calls :meth:`MethodWidget._build_method_form`
to get a form with those controls, adds its own, and calls :meth:`MethodWidget._start_watching`
at the end of its ``__init__``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from napari.layers import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_vesselgan import methods
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher, fill_layer_combo

if TYPE_CHECKING:
    import napari

WEIGHTS_DEFAULT, WEIGHTS_TRAINED, WEIGHTS_FILE = "default", "trained", "file"


class MethodWidget(JobWidget):
    """A dock widget that runs ``methods.load(method_name)`` on a chosen image layer."""

    #: The registered method this widget runs.
    method_name: ClassVar[str]
    #: The tooltip of the layer chooser.
    layer_tooltip: ClassVar[str] = "Grey image layer (RGB and multiscale layers are not listed)"

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.weights_file: Path | None = None
        self._method_cache: tuple[tuple, Any] | None = None
        self._source: dict[str, Any] = {}
        self._started = 0.0

    def _start_watching(self) -> None:
        """Follow the viewer's layers and training runs (call once the controls exist)."""
        self._watcher = LayerWatcher(self.viewer, self._refresh_layers)
        self.state.trained_weights_changed.connect(self._on_trained_weights)
        self._refresh_layers()
        self._refresh_weight_choices()

    # ----- layout -----------------------------------------------------------------------------
    def _build_method_form(self) -> QFormLayout:
        """A form with the image, weights, device, tile size and precision controls."""
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip(self.layer_tooltip)
        form.addRow("Image", self.layer_combo)

        self.weights_combo = QComboBox()
        self.weights_combo.addItem("Bundled default", WEIGHTS_DEFAULT)
        self.weights_combo.addItem("Last training run", WEIGHTS_TRAINED)
        self.weights_combo.addItem("From file...", WEIGHTS_FILE)
        self.weights_combo.activated.connect(self._on_weights_activated)
        self.weights_combo.currentIndexChanged.connect(self._update_weights_label)
        self.browse_button = QPushButton("Browse...")
        self.browse_button.setToolTip("Choose a napari-vesselgan weights file (.safetensors)")
        self.browse_button.clicked.connect(self.choose_weights_file)
        row = QHBoxLayout()
        row.addWidget(self.weights_combo, 1)
        row.addWidget(self.browse_button)
        form.addRow("Weights", row)
        self.weights_label = QLabel()
        self.weights_label.setWordWrap(True)
        self.weights_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.weights_label)

        self.device_combo = QComboBox()
        for device in ("auto", "cpu", "cuda"):
            self.device_combo.addItem(device, device)
        self.device_combo.setToolTip("auto: CUDA if there is a GPU, else the CPU")
        try:
            import torch

            if not torch.cuda.is_available():
                self.device_combo.model().item(2).setEnabled(False)
                self.device_combo.model().item(2).setToolTip("no CUDA GPU found")
        except Exception:  # noqa: BLE001 - keep the item if torch cannot tell
            pass
        form.addRow("Device", self.device_combo)

        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 16384)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("automatic")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Tile side for large images (0: whole image when it fits in memory)")
        form.addRow("Tile size", self.tile_spin)

        self.precision_combo = QComboBox()
        self.precision_combo.addItem("fp32 (exact)", "fp32")
        self.precision_combo.addItem("auto (bf16 on GPU, fp32 on CPU)", "auto")
        self.precision_combo.addItem("bf16 (faster, approximate)", "bf16")
        form.addRow("Precision", self.precision_combo)
        return form

    def _method_controls(self) -> tuple[QWidget, ...]:
        """The common controls, disabled while a job runs."""
        return (self.layer_combo, self.weights_combo, self.browse_button, self.device_combo, self.tile_spin,
                self.precision_combo)

    # ----- layers -----------------------------------------------------------------------------
    def image_layers(self) -> list[Image]:
        """The layers the method takes: RGB ones for colour-input methods, else grey ones."""
        colour = methods.method_class(self.method_name).in_channels == 3
        return [layer for layer in self.viewer.layers
                if isinstance(layer, Image) and layer.rgb == colour and not layer.multiscale]

    def _refresh_layers(self) -> None:
        try:
            fill_layer_combo(self.layer_combo, self.image_layers(), self.viewer)
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    def selected_layer(self) -> Image | None:
        return self.layer_combo.currentData()

    def set_layer(self, layer: Image | str) -> None:
        name = layer if isinstance(layer, str) else layer.name
        index = self.layer_combo.findText(name)
        if index < 0:
            raise ValueError(f"no grey image layer named {name!r}")
        self.layer_combo.setCurrentIndex(index)

    # ----- weights ----------------------------------------------------------------------------
    def _on_trained_weights(self, method: str, path: Path) -> None:
        if method != self.method_name:
            return
        try:
            self._refresh_weight_choices()
        except RuntimeError:
            return

    def _refresh_weight_choices(self) -> None:
        default = methods.method_class(self.method_name).default_weights()
        item = self.weights_combo.model().item(0)
        item.setText("Bundled default" if default.is_file() else "Bundled default (not installed)")
        trained = self.state.trained_weights(self.method_name)
        item = self.weights_combo.model().item(1)
        item.setEnabled(trained is not None)
        item.setToolTip(str(trained) if trained else "Train a model with the 'Train a model' widget first")
        self._update_weights_label()

    def offered_weights(self) -> dict[str, Path | None]:
        """Each weights choice and the file it stands for (None where there is none)."""
        default = methods.method_class(self.method_name).default_weights()
        return {
            WEIGHTS_DEFAULT: default if default.is_file() else None,
            WEIGHTS_TRAINED: self.state.trained_weights(self.method_name),
            WEIGHTS_FILE: self.weights_file,
        }

    def set_weights_choice(self, choice: str) -> None:
        index = self.weights_combo.findData(choice)
        if index < 0:
            raise ValueError(f"unknown weights choice {choice!r}")
        self.weights_combo.setCurrentIndex(index)

    def set_weights_file(self, path: str | Path) -> None:
        """Use ``path`` (checked when the run loads it, never unpickled)."""
        self.weights_file = Path(path)
        self.set_weights_choice(WEIGHTS_FILE)
        self._update_weights_label()

    def choose_weights_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose {self.method_name} weights", str(self.weights_file.parent if self.weights_file else Path.home()),
            "napari-vesselgan weights (*.safetensors);;All files (*)")
        if path:
            self.set_weights_file(path)

    def _on_weights_activated(self, index: int) -> None:
        if self.weights_combo.itemData(index) == WEIGHTS_FILE and self.weights_file is None:
            self.choose_weights_file()

    def _update_weights_label(self, *_: Any) -> None:
        choice = self.weights_combo.currentData()
        path = self.offered_weights().get(choice)
        if path is not None:
            self.weights_label.setText(f"<small>{path}</small>")
        elif choice == WEIGHTS_DEFAULT:
            self.weights_label.setText("<small>The bundled weights are not installed; train a model or choose a file.</small>")
        else:
            self.weights_label.setText("<small>none chosen</small>")

    def weights_path(self) -> Path | None:
        """The weights the chosen option stands for; ValueError with a message a user can act on."""
        choice = self.weights_combo.currentData()
        path = self.offered_weights()[choice]
        if path is not None:
            return path
        if choice == WEIGHTS_DEFAULT:
            raise ValueError(
                f"The bundled {self.method_name} weights are not installed ({methods.method_class(self.method_name).default_weights()}). "
                "Train a model with 'Train a model', or choose a weights file.")
        if choice == WEIGHTS_TRAINED:
            raise ValueError("No training run has finished in this viewer yet; train one with 'Train a model'.")
        raise ValueError("Choose a weights file (Browse...).")

    def _load_method(self, weights: Path, device: str):
        """``methods.load`` with a one-entry cache (same file, same modification time, same device)."""
        key = (str(weights), weights.stat().st_mtime_ns if weights.is_file() else None, device)
        if self._method_cache is not None and self._method_cache[0] == key:
            return self._method_cache[1]
        method = methods.load(self.method_name, weights=weights, device=device)
        self._method_cache = (key, method)
        return method

    # ----- running ----------------------------------------------------------------------------
    def _choose_run(self, no_layer_hint: str) -> tuple[Image, Path, str, int | None] | None:
        """(layer, weights, device, tile) for a new run, read in the GUI thread; None (after
        telling the user why) when a run cannot start. Remembers the layer for the results."""
        if self.busy:
            return None
        layer = self.selected_layer()
        if layer is None:
            self.report_error(no_layer_hint)
            return None
        self._refresh_weight_choices()  # the bundled file may have appeared since
        try:
            weights = self.weights_path()
        except ValueError as error:
            self.report_error(str(error))
            return None
        self.last_outcome = None
        self._remember_source(layer)
        self._started = time.perf_counter()
        return layer, weights, self.device_combo.currentData(), self.tile_spin.value() or None

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until predict reports
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _after_job(self) -> None:
        if self.last_outcome == "done":
            self.progress.setValue(self.progress.maximum())

    # ----- results ---------------------------------------------------------------------------
    def _remember_source(self, layer: Image) -> dict[str, Any]:
        """What the result layers take from the input layer (read in the GUI thread)."""
        self._source = {"name": layer.name, "scale": tuple(layer.scale), "translate": tuple(layer.translate),
                        "contrast_limits": tuple(layer.contrast_limits), "units": getattr(layer, "units", None)}
        return self._source

    def _placement(self, zoom: float | Sequence[float] = 1.0) -> dict[str, Any]:
        """scale / translate (and units) that put a result over its input; ``zoom`` (one value,
        or one per axis) for results with that many times the pixels per axis, placed so that
        pixel centres match the input's as bicubic resampling maps them."""
        source = self._source
        zooms = [float(zoom)] * len(source["scale"]) if np.isscalar(zoom) else [float(z) for z in zoom]
        scale = tuple(s / z for s, z in zip(source["scale"], zooms))
        translate = tuple(t - (s - new) / 2 for t, s, new in zip(source["translate"], source["scale"], scale))
        placement = {"scale": scale, "translate": translate}
        if source["units"] is not None:
            placement["units"] = source["units"]
        return placement

    def _put_layer(self, name: str, data: np.ndarray, **kwargs: Any) -> Image:
        """Replace the data of our own earlier result of this name, or add a new layer."""
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            if isinstance(layer, Image) and "napari_vesselgan" in layer.metadata:
                layer.data = data
                for key in ("metadata", "contrast_limits", "scale", "translate"):
                    if key in kwargs:
                        setattr(layer, key, kwargs[key])
                return layer
        return self.viewer.add_image(data, name=name, **kwargs)

    # ----- clean-up ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        self.state.trained_weights_changed.disconnect(self._on_trained_weights)
