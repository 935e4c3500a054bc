"""Dock widget: denoise a low-light NIR-II image layer with the `denoise` method.

Thin over the library: ``methods.load("denoise", ...)``, ``Method.predict`` with a progress
callback, ``Method.saliency``, ``metrics.compare_metrics`` and ``metrics.write_report``. The
work runs in a napari generator worker (see ``_workers``); the result comes back as a new
image layer "<input> denoised" with the input's scale and translate, and the explainable
metrics before/after go into the layer's metadata and the table in the dock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import napari.utils.notifications as notifications
import numpy as np
from napari.layers import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan import methods
from napari_vesselgan.metrics import EXPLAINABLE_METRICS, METRIC_LABELS, compare_metrics, write_report
from napari_vesselgan.metrics.report import format_value
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher
from napari_vesselgan.widgets._workers import describe_error, run_with_progress, start_job

if TYPE_CHECKING:
    import napari

METHOD = "denoise"
WEIGHTS_DEFAULT, WEIGHTS_TRAINED, WEIGHTS_FILE = "default", "trained", "file"
TABLE_COLUMNS = ("Before", "After", "Change")


@dataclass
class DenoiseResult:
    """What one run produced (kept for the report)."""

    name: str
    before: Any
    after: np.ndarray
    saliency: np.ndarray | None
    rows: list[dict]
    metadata: dict[str, Any]
    notes: list[str]


def short_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric).split(" (")[0]


def denoise_job(report, *, data, load_method, tile: int | None, device: str, precision: str,
                saliency: bool) -> DenoiseResult:
    """The work of one run, in the helper thread; ``report`` raises ``Cancelled`` on cancel."""
    report(("phase", "Loading weights..."))
    method = load_method()
    report(("phase", "Denoising..."))
    after = method.predict(data, tile=tile, precision=precision,
                           progress=lambda done, total: report(("progress", done, total)))
    report(("phase", "Computing metrics..."))
    rows = compare_metrics(data, after)
    notes: list[str] = []
    saliency_map = None
    if saliency:
        if np.ndim(data) == 2:
            report(("phase", "Computing gradient saliency..."))
            saliency_map = method.saliency(np.asarray(data))
        else:
            notes.append("The saliency overlay is computed for 2-D images only; none was made for this stack.")
    metadata = method.describe(tile=tile, device=device, precision=precision, saliency=saliency)
    metadata["metrics"] = rows
    return DenoiseResult("", data, after, saliency_map, rows, metadata, notes)


class DenoiseWidget(JobWidget):
    """Denoise a grey image layer; results as new layers, metrics before/after in a table.

    Cancel stops the run at its next progress step; no layer is added.
    """

    job_name = "Denoising"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.last_result: DenoiseResult | None = None
        self.weights_file: Path | None = None
        self._method_cache: tuple[tuple, Any] | None = None
        self._source: dict[str, Any] = {}
        self._started = 0.0
        self._report_worker = None
        self._build()
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self.state.trained_weights_changed.connect(self._on_trained_weights)
        self._refresh_layers()
        self._refresh_weight_choices()

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Grey image layer to denoise (RGB and multiscale layers are not listed)")
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

        self.saliency_check = QCheckBox("Add gradient saliency overlay")
        self.saliency_check.setToolTip("Which input pixels drive the output (Simonyan et al. 2014)")
        form.addRow("", self.saliency_check)

        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        buttons = self._build_job_row(self.run_button)

        self.metrics_table = QTableWidget(len(EXPLAINABLE_METRICS), len(TABLE_COLUMNS))
        self.metrics_table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        self.metrics_table.setVerticalHeaderLabels([short_label(m) for m in EXPLAINABLE_METRICS])
        for row, metric in enumerate(EXPLAINABLE_METRICS):
            self.metrics_table.verticalHeaderItem(row).setToolTip(METRIC_LABELS.get(metric, metric))
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.metrics_table.setToolTip("Explainable metrics of the input (before) and the result (after)")
        height = self.metrics_table.horizontalHeader().sizeHint().height()
        height += sum(self.metrics_table.rowHeight(r) for r in range(len(EXPLAINABLE_METRICS))) + 4
        self.metrics_table.setMinimumHeight(height)
        self.metrics_table.setMaximumHeight(height + 8)

        self.report_button = QPushButton("Save report...")
        self.report_button.setToolTip("Write report.md, metrics.json and pictures of the last result to a folder")
        self.report_button.setEnabled(False)
        self.report_button.clicked.connect(self.choose_report_folder)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(QLabel("Explainable metrics"))
        layout.addWidget(self.metrics_table)
        layout.addWidget(self.report_button)
        layout.addStretch(1)

    # ----- layers -----------------------------------------------------------------------------
    def image_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers
                if isinstance(layer, Image) and not layer.rgb and not layer.multiscale]

    def _refresh_layers(self) -> None:
        try:
            current = self.layer_combo.currentData()
            layers = self.image_layers()
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
        if method != METHOD:
            return
        try:
            self._refresh_weight_choices()
        except RuntimeError:
            return

    def _refresh_weight_choices(self) -> None:
        default = methods.method_class(METHOD).default_weights()
        item = self.weights_combo.model().item(0)
        item.setText("Bundled default" if default.is_file() else "Bundled default (not installed)")
        trained = self.state.trained_weights(METHOD)
        item = self.weights_combo.model().item(1)
        item.setEnabled(trained is not None)
        item.setToolTip(str(trained) if trained else "Train a model with the 'Train a model' widget first")
        self._update_weights_label()

    def offered_weights(self) -> dict[str, Path | None]:
        """Each weights choice and the file it stands for (None where there is none)."""
        default = methods.method_class(METHOD).default_weights()
        return {
            WEIGHTS_DEFAULT: default if default.is_file() else None,
            WEIGHTS_TRAINED: self.state.trained_weights(METHOD),
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
            self, "Choose denoise weights", str(self.weights_file.parent if self.weights_file else Path.home()),
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
                f"The bundled denoise weights are not installed ({methods.method_class(METHOD).default_weights()}). "
                "Train a model with 'Train a model', or choose a weights file.")
        if choice == WEIGHTS_TRAINED:
            raise ValueError("No training run has finished in this viewer yet; train one with 'Train a model'.")
        raise ValueError("Choose a weights file (Browse...).")

    def _load_method(self, weights: Path, device: str):
        """``methods.load`` with a one-entry cache (same file, same modification time, same device)."""
        key = (str(weights), weights.stat().st_mtime_ns if weights.is_file() else None, device)
        if self._method_cache is not None and self._method_cache[0] == key:
            return self._method_cache[1]
        method = methods.load(METHOD, weights=weights, device=device)
        self._method_cache = (key, method)
        return method

    # ----- running ----------------------------------------------------------------------------
    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.layer_combo, self.weights_combo, self.browse_button, self.device_combo,
                self.tile_spin, self.precision_combo, self.saliency_check)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.report_button.setEnabled(not busy and self.last_result is not None)
        if busy:
            self.progress.setRange(0, 0)  # indeterminate until predict reports
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def run(self) -> None:
        """Start denoising the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        if self.busy:
            return
        layer = self.selected_layer()
        if layer is None:
            self.report_error("Choose an image layer to denoise (for example File > Open Sample > "
                              "VesselGAN > Low-light NIR-II image).")
            return
        self._refresh_weight_choices()  # the bundled file may have appeared since
        try:
            weights = self.weights_path()
        except ValueError as error:
            self.report_error(str(error))
            return
        device = self.device_combo.currentData()
        tile = self.tile_spin.value() or None
        self.last_outcome = None
        self._source = {"name": layer.name, "scale": tuple(layer.scale), "translate": tuple(layer.translate),
                        "contrast_limits": tuple(layer.contrast_limits), "units": getattr(layer, "units", None)}
        # everything the job needs is read here, in the GUI thread; the job touches no widget or layer
        options = {"data": layer.data, "tile": tile, "device": device,
                   "precision": self.precision_combo.currentData(), "saliency": self.saliency_check.isChecked(),
                   "load_method": lambda: self._load_method(weights, device)}
        self._started = time.perf_counter()
        self._start_job(lambda report, cancel: denoise_job(report, **options), f"Denoising {layer.name}...")

    def _on_yield(self, items: list) -> None:
        for item in items:
            if item[0] == "progress":
                _, done, total = item
                self.progress.setRange(0, total)
                self.progress.setValue(done)
            elif item[0] == "phase" and not self.cancel_requested:
                self.status_label.setText(item[1])

    def _on_return(self, result: DenoiseResult) -> None:
        source = self._source
        result.name = source["name"]
        result.metadata["source_layer"] = source["name"]
        placement = {"scale": source["scale"], "translate": source["translate"]}
        if source["units"] is not None:
            placement["units"] = source["units"]
        self._put_layer(f"{source['name']} denoised", result.after, metadata=result.metadata,
                        contrast_limits=source["contrast_limits"], **placement)
        if result.saliency is not None:
            self._put_layer(f"{source['name']} saliency", result.saliency, colormap="inferno",
                            blending="additive", opacity=0.6, contrast_limits=(0.0, 1.0),
                            metadata={**result.metadata, "kind": "gradient saliency"}, **placement)
        self.last_result = result
        self.show_metrics(result.rows)
        for note in result.notes:
            notifications.show_warning(note)
        self.last_outcome = "done"
        seconds = time.perf_counter() - self._started
        self.status_label.setText(f"Done in {seconds:.1f} s: '{source['name']} denoised' added.")

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

    def _after_job(self) -> None:
        if self.last_outcome == "done":
            self.progress.setValue(self.progress.maximum())

    # ----- metrics and report -----------------------------------------------------------------
    def show_metrics(self, rows: list[dict]) -> None:
        by_metric = {row["metric"]: row for row in rows}
        for r, metric in enumerate(EXPLAINABLE_METRICS):
            row = by_metric.get(metric, {})
            change = row.get("change")
            ratio = row.get("ratio")
            sign = "+" if change is not None and np.isfinite(change) and change > 0 else ""
            change_text = f"{sign}{format_value(change)}"
            tooltip = f"after - before = {change_text}"
            if ratio is not None:  # relative change reads best; the absolute one is in the tooltip
                change_text = f"{(ratio - 1) * 100:+.1f}%"
                tooltip += f"; after / before = {format_value(ratio)}"
            for c, (value, text) in enumerate(((row.get("before"), format_value(row.get("before"))),
                                               (row.get("after"), format_value(row.get("after"))),
                                               (change, change_text))):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, value)
                item.setToolTip(tooltip if c == 2 else METRIC_LABELS.get(metric, metric))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.metrics_table.setItem(r, c, item)

    def table_values(self) -> dict[str, tuple[float, float, float]]:
        """The numbers in the metrics table: metric -> (before, after, change)."""
        values = {}
        for r, metric in enumerate(EXPLAINABLE_METRICS):
            items = [self.metrics_table.item(r, c) for c in range(len(TABLE_COLUMNS))]
            if all(item is not None for item in items):
                values[metric] = tuple(item.data(Qt.ItemDataRole.UserRole) for item in items)
        return values

    def choose_report_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the report", str(Path.home()))
        if folder:
            self.save_report(folder)

    def save_report(self, folder: str | Path):
        """Write the report of the last result into ``folder`` (in a worker); return the worker."""
        result = self.last_result
        if result is None:
            self.report_error("Run the denoising first; the report describes its last result.")
            return None
        meta = result.metadata
        notes = (f"Method: {meta.get('method')}; weights: {meta.get('weights')}; "
                 f"parameters: {meta.get('parameters')}; device: {meta.get('device')}.")
        self.report_button.setEnabled(False)

        def job(report):
            return write_report(folder, [{"name": result.name, "before": result.before, "after": result.after}],
                                title=f"Denoising report: {result.name}", notes=notes)

        self._report_worker = start_job(
            run_with_progress(job, threading.Event()), on_yield=lambda items: None,
            on_return=self._on_report_written, on_error=self._on_report_error,
            on_finished=self._on_report_finished)
        return self._report_worker

    def _on_report_written(self, path: Path) -> None:
        self.last_report = Path(path)
        notifications.show_info(f"Report written: {path}")

    def _on_report_error(self, error: BaseException) -> None:
        self.report_error(f"Could not write the report: {describe_error(error)}")

    def _on_report_finished(self) -> None:
        self._report_worker = None
        self.report_button.setEnabled(not self.busy and self.last_result is not None)

    # ----- clean-up ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        self.state.trained_weights_changed.disconnect(self._on_trained_weights)
