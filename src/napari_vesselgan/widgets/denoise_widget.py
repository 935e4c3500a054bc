"""Dock widget: denoise a low-light NIR-II image layer with the `denoise` method.

Thin over the library: the dock builds a ``PredictionRequest`` (with the explainable metrics
and, if ticked, the gradient saliency map) and ``jobs.predict.run_prediction`` runs it in a
napari generator worker (see ``_workers``); ``metrics.write_report`` writes the report. The
result comes back as a new image layer "<input> denoised" with the input's scale and
translate, and the explainable metrics before/after go into the layer's metadata and the
table in the dock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import napari.utils.notifications as notifications
import numpy as np
from napari.layers import Image
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

from napari_vesselgan.jobs.predict import PredictionResult
from napari_vesselgan.metrics import EXPLAINABLE_METRICS, METRIC_LABELS, write_report
from napari_vesselgan.metrics.report import format_value
from napari_vesselgan.widgets._layers import put_layer
from napari_vesselgan.widgets._method_widget import MethodWidget, Run
from napari_vesselgan.widgets._workers import describe_error, run_with_progress, start_job

METHOD = "denoise"
TABLE_COLUMNS = ("Before", "After", "Change")


def short_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric).split(" (")[0]


class DenoiseWidget(MethodWidget):
    """Denoise a grey image layer; results as new layers, metrics before/after in a table.

    Cancel stops the run at its next progress step; no layer is added.
    """

    method_name = METHOD
    layer_tooltip = "Grey image layer to denoise (RGB and multiscale layers are not listed)"
    no_layer_hint = ("Choose an image layer to denoise (for example File > Open Sample > VesselGAN > "
                     "Low-light NIR-II image (synthetic, 16-bit)).")
    starting_status = "Denoising {name}..."
    result_suffix = "denoised"
    saliency_kind = "gradient"
    saliency_text = "Add gradient saliency overlay"
    saliency_label = "gradient saliency"
    explainable_metrics = True
    job_name = "Denoising"

    last_result: PredictionResult | None
    #: The worker writing a report (None when none is).
    _report_worker = None

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = self._build_method_form()
        self.saliency_check.setToolTip("Which input pixels drive the output (Simonyan et al. 2014)")

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
    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.report_button.setEnabled(not busy and self.last_result is not None)

    def _after_job(self) -> None:
        """After a failed run the table and the report no longer offer the previous result as if it were this one's."""
        super()._after_job()
        if self.last_outcome == "error":
            self.last_result = self.last_run = None
            self.metrics_table.clearContents()
            self.report_button.setEnabled(False)

    def _put_saliency(self, name: str, saliency: np.ndarray, metadata: dict[str, Any], run: Run) -> Image:
        """"<input> saliency": inferno, additive, 0..1 (the gradient map is normalised)."""
        return put_layer(self.viewer, f"{run.source} saliency", saliency, colormap="inferno", blending="additive",
                         opacity=0.6, contrast_limits=(0.0, 1.0),
                         metadata={**metadata, "kind": self.saliency_label}, **run.placement())

    def _show_result(self, result: PredictionResult, layer: Image) -> None:
        self.show_metrics(result.metrics or [])

    def _done_detail(self, result: PredictionResult) -> str:
        """Which weight set made the result (the Input kind choice: auto measures the image)."""
        weight_set = result.metadata.get("weight_set")
        if not weight_set:
            return ""
        choice = result.metadata.get("input_kind_choice") or {}
        how = f", auto: noise level {choice['noise_level']:.3g}" if "noise_level" in choice else ""
        return f" with the {weight_set} weights{how}" if weight_set != "given weights" else " with the chosen weights"

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
        result, run = self.last_result, self.last_run
        if result is None or run is None:
            self.report_error("Run the denoising first; the report describes its last result.")
            return None
        name = run.source
        before = run.data
        meta = result.metadata
        notes = (f"Method: {meta.get('method')}; weights: {meta.get('weights')} "
                 f"(weight set: {meta.get('weight_set', 'the given weights')}); "
                 f"parameters: {meta.get('parameters')}; device: {meta.get('device')}.")
        self.report_button.setEnabled(False)

        def job(report):
            return write_report(folder, [{"name": name, "before": before, "after": result.output}],
                                title=f"Denoising report: {name}", notes=notes)

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

