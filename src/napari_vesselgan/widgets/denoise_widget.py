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
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from napari_vesselgan.metrics import EXPLAINABLE_METRICS, METRIC_LABELS, compare_metrics, write_report
from napari_vesselgan.metrics.report import format_value
from napari_vesselgan.widgets._method_widget import MethodWidget
from napari_vesselgan.widgets._workers import describe_error, run_with_progress, start_job

if TYPE_CHECKING:
    import napari

METHOD = "denoise"
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


class DenoiseWidget(MethodWidget):
    """Denoise a grey image layer; results as new layers, metrics before/after in a table.

    Cancel stops the run at its next progress step; no layer is added.
    """

    method_name = METHOD
    layer_tooltip = "Grey image layer to denoise (RGB and multiscale layers are not listed)"
    job_name = "Denoising"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.last_result: DenoiseResult | None = None
        self._report_worker = None
        self._build()
        self._start_watching()

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = self._build_method_form()
        self.saliency_check = QCheckBox("Add gradient saliency overlay")
        self.saliency_check.setToolTip("Which input pixels drive the output (Simonyan et al. 2014)")
        form.addRow("", self.saliency_check)

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

        self._lay_out(form, "Run", self.run, QLabel("Explainable metrics"), self.metrics_table, self.report_button)

    # ----- running ----------------------------------------------------------------------------
    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, *self._method_controls(), self.saliency_check)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.report_button.setEnabled(not busy and self.last_result is not None)

    def run(self) -> None:
        """Start denoising the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        chosen = self._choose_run("Choose an image layer to denoise (for example File > Open Sample > "
                                  "VesselGAN > Low-light NIR-II image).")
        if chosen is None:
            return
        layer, weights, device, tile = chosen
        # everything the job needs is read here, in the GUI thread; the job touches no widget or layer
        options = {"data": layer.data, "tile": tile, "device": device,
                   "precision": self.precision_combo.currentData(), "saliency": self.saliency_check.isChecked(),
                   "load_method": lambda: self._load_method(weights, device)}
        self._start_job(lambda report, cancel: denoise_job(report, **options), f"Denoising {layer.name}...")

    def _on_return(self, result: DenoiseResult) -> None:
        source = self._source
        result.name = source["name"]
        result.metadata["source_layer"] = source["name"]
        placement = self._placement()
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

