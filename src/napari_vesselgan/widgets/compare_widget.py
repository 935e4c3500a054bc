"""Dock widget "Compare layers": a reference layer against one or more test layers.

Thin over the library (:mod:`napari_vesselgan.metrics.compare`, ``metrics.report``,
``metrics.distribution``, ``analysis.histogram``):

* Metrics: PSNR, SSIM and RMSE per test layer (per frame for time series, with the mean),
  in a table and a plot; CSV export; absolute-difference and SSIM maps added as layers; the
  self-contained HTML report (images, explainable metrics, bar charts) with its CSV.
* Histograms of the reference and the test layers.
* FID / KID between two stacks (layers) or two folders, with the FID Inception weights.

Layers that cannot be compared (other shape, colour against grey, too small) are skipped and
the panel says why. Every computation runs in a worker (:class:`JobWidget`); the GUI thread
only reads the layers' data references and adds the results.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan.metrics.compare import FIDELITY_METRICS, MEAN_FRAME, incompatibility, write_csv
from napari_vesselgan.metrics.report import format_value
from napari_vesselgan.jobs.messages import Progress, counting
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._layers import put_layer
from napari_vesselgan.widgets._plot import CHANNEL_COLOURS, COLOURS, PlotCanvas
from napari_vesselgan.widgets._state import LayerWatcher

if TYPE_CHECKING:
    import napari

METRIC_TITLES = {"psnr": "PSNR (dB)", "ssim": "SSIM", "rmse": "RMSE", "lpips": "LPIPS"}
FOLDER = "__folder__"


def layer_array(layer: Image):
    """The full-resolution data of an image layer (a reference: not copied, not computed)."""
    return layer.data[0] if layer.multiscale else layer.data


def _stand_in(layer: Image) -> np.ndarray:
    """A zero-memory array of the layer's shape and dtype, for shape checks in the GUI thread."""
    data = layer_array(layer)
    return np.broadcast_to(np.zeros(1, dtype=np.dtype(data.dtype)), tuple(data.shape))


def short_name(name: str, width: int = 16) -> str:
    """``name`` cut in the middle to ``width`` characters: both ends stay, so two long names that
    differ at their end still read differently."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return f"{name[:head]}…{name[len(name) - (width - 1 - head):]}"


def scale_notes(reference: np.ndarray, tests: dict[str, np.ndarray], reference_name: str) -> list[str]:
    """For each test layer: the intensity scale its comparison uses (in a worker; reads values)."""
    from napari_vesselgan.metrics.compare import dtype_note

    return [dtype_note(reference, data, reference_name=reference_name, test_name=name) for name, data in tests.items()]


def lpips_extra(net: str | None, weights: tuple[Any, Any]) -> dict:
    """The LPIPS column for ``net`` (None: no LPIPS), built by the library's one builder; in a worker."""
    if not net:
        return {}
    from napari_vesselgan.metrics.perceptual import lpips_metric

    return lpips_metric(net, *weights)


class CompareWidget(JobWidget):
    """Compare test layers with a reference layer: metrics, maps, histograms, report, FID/KID."""

    job_name = "The comparison"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.rows: list[dict] = []
        self.metric_keys: list[str] = list(FIDELITY_METRICS)
        self.histograms: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
        self.distribution: dict | None = None
        self.last_report: Path | None = None
        #: (backbone, linear) LPIPS weights: None takes torch's hub cache; files or "random" (tests)
        self.lpips_weights: tuple[Any, Any] = (None, None)
        self._context: dict[str, Any] = {}
        self._started = 0.0
        self._build()
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self._refresh_layers()

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.reference_combo = QComboBox()
        self.reference_combo.setToolTip("The layer the others are measured against (ground truth, or 'before')")
        self.reference_combo.currentIndexChanged.connect(self._refresh_tests)
        form.addRow("Reference", self.reference_combo)
        self.test_list = QListWidget()
        self.test_list.setToolTip("Tick the layers to compare with the reference")
        self.test_list.setMaximumHeight(110)
        form.addRow("Test layers", self.test_list)
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_metrics_tab(), "Metrics")
        self.tabs.addTab(self._build_histogram_tab(), "Histograms")
        self.tabs.addTab(self._build_distribution_tab(), "FID / KID")

        job_row = self._build_job_row(QPushButton())  # the start buttons live in the tabs
        job_row.itemAt(0).widget().hide()

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.tabs)
        layout.addLayout(job_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)

    def _build_metrics_tab(self) -> QWidget:
        tab = QWidget()
        self.compute_button = QPushButton("Compute metrics")
        self.compute_button.setToolTip("PSNR, SSIM and RMSE of every ticked layer against the reference")
        self.compute_button.clicked.connect(self.compute)
        self.lpips_check = QCheckBox("LPIPS")
        self.lpips_check.setToolTip("Add LPIPS (needs the backbone's ImageNet weights and the LPIPS linear "
                                    "weights in torch's hub cache; the error names the files)")
        self.lpips_combo = QComboBox()
        self.lpips_combo.addItems(["alex", "squeeze", "vgg"])
        lpips_row = QHBoxLayout()
        lpips_row.addWidget(self.lpips_check)
        lpips_row.addWidget(self.lpips_combo, 1)
        self.table = QTableWidget(0, 2 + len(FIDELITY_METRICS))
        self.table.setHorizontalHeaderLabels(["Layer", "Frame", *(METRIC_TITLES[k] for k in FIDELITY_METRICS)])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        # long layer names keep both ends ("fundus ... FFA (synthetic)"), the full name is the tooltip
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setMinimumHeight(120)
        self.scale_label = QLabel("")
        self.scale_label.setWordWrap(True)
        self.scale_label.setToolTip("Layers of different dtypes are compared on one [0, 1] scale: uint8 / 255, "
                                    "bool as 0/1, other integers by their own min..max, floats as they are "
                                    "when within [0, 1] (else by their own min..max)")
        self.metrics_plot = PlotCanvas(height=170, content=self._draw_metrics)

        self.diff_button = QPushButton("Difference maps")
        self.diff_button.setToolTip("Add |test - reference| of every ticked layer as a new layer")
        self.diff_button.clicked.connect(lambda: self.add_maps("difference"))
        self.ssim_button = QPushButton("SSIM maps")
        self.ssim_button.setToolTip("Add the local SSIM of every ticked layer as a new layer")
        self.ssim_button.clicked.connect(lambda: self.add_maps("ssim"))
        self.csv_button = QPushButton("Export CSV...")
        self.csv_button.setEnabled(False)
        self.csv_button.clicked.connect(self.choose_csv)
        self.report_button = QPushButton("HTML report...")
        self.report_button.setToolTip("A self-contained HTML report (images, metrics, explainable metrics, "
                                      "bar charts) and its CSV")
        self.report_button.clicked.connect(self.choose_report)
        maps = QHBoxLayout()
        maps.addWidget(self.diff_button)
        maps.addWidget(self.ssim_button)
        files = QHBoxLayout()
        files.addWidget(self.csv_button)
        files.addWidget(self.report_button)

        layout = QVBoxLayout(tab)
        layout.addWidget(self.compute_button)
        layout.addLayout(lpips_row)
        layout.addWidget(self.table)
        layout.addWidget(self.scale_label)
        layout.addWidget(self.metrics_plot)
        layout.addLayout(maps)
        layout.addLayout(files)
        return tab

    def _build_histogram_tab(self) -> QWidget:
        tab = QWidget()
        self.histogram_button = QPushButton("Show histograms")
        self.histogram_button.setToolTip("Histograms of the reference and the ticked layers, each on its own range")
        self.histogram_button.clicked.connect(self.show_histograms)
        self.log_check = QCheckBox("Logarithmic counts")
        self.log_check.toggled.connect(lambda _: self._draw_histograms())
        self.histogram_plot = PlotCanvas(height=220, content=self._draw_histograms)
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        row.addWidget(self.histogram_button)
        row.addWidget(self.log_check)
        layout.addLayout(row)
        layout.addWidget(self.histogram_plot)
        return tab

    def _build_distribution_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.set_combos: list[QComboBox] = []
        self.folder_edits: list[QLineEdit] = []
        for label in ("Set A", "Set B"):
            combo = QComboBox()
            combo.setToolTip("A stack layer (each frame is one image) or a folder of images")
            edit = QLineEdit()
            edit.setPlaceholderText("folder of images")
            browse = QPushButton("...")
            browse.setMaximumWidth(30)
            browse.clicked.connect(lambda _=False, e=edit, c=combo: self._browse_folder(e, c))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, combo)
            form.addRow("", row)
            self.set_combos.append(combo)
            self.folder_edits.append(edit)
        self.weights_edit = QLineEdit()
        self.weights_edit.setPlaceholderText("FID Inception weights: hub cache (default), a file, or 'random'")
        self.weights_edit.setToolTip("pt_inception-2015-12-05-6726825d.pth (pytorch-fid's FID weights); "
                                     "'random' only tests the pipeline")
        form.addRow("Weights", self.weights_edit)
        self.subsets_spin = QSpinBox()
        self.subsets_spin.setRange(1, 1000)
        self.subsets_spin.setValue(100)
        self.subsets_spin.setToolTip("KID: number of random subsets (of up to 1000 images each)")
        form.addRow("KID subsets", self.subsets_spin)
        self.fid_button = QPushButton("Compute FID / KID")
        self.fid_button.clicked.connect(self.compute_distribution)
        form.addRow(self.fid_button)
        self.fid_label = QLabel("")
        self.fid_label.setWordWrap(True)
        self.fid_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.fid_label)
        return tab

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.compute_button, self.diff_button, self.ssim_button, self.report_button,
                self.histogram_button, self.fid_button, self.reference_combo)

    # ----- layers -----------------------------------------------------------------------------
    def image_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _refresh_layers(self) -> None:
        names = [layer.name for layer in self.image_layers()]
        current = self.reference_combo.currentText()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        self.reference_combo.addItems(names)
        if current in names:
            self.reference_combo.setCurrentText(current)
        self.reference_combo.blockSignals(False)
        for combo in self.set_combos:
            chosen = combo.currentData()
            combo.clear()
            for name in names:
                combo.addItem(name, name)
            combo.addItem("Folder (below)", FOLDER)
            index = combo.findData(chosen)
            if index >= 0:
                combo.setCurrentIndex(index)
        self._refresh_tests()

    def _refresh_tests(self, *_: Any) -> None:
        checked = set(self.test_names())
        reference = self.reference_combo.currentText()
        self.test_list.clear()
        for layer in self.image_layers():
            if layer.name == reference:
                continue
            item = QListWidgetItem(layer.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.name in checked else Qt.CheckState.Unchecked)
            self.test_list.addItem(item)

    def set_reference(self, name: str) -> None:
        self.reference_combo.setCurrentText(name)

    def set_tests(self, names: list[str]) -> None:
        for i in range(self.test_list.count()):
            item = self.test_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    def test_names(self) -> list[str]:
        items = [self.test_list.item(i) for i in range(self.test_list.count())] if hasattr(self, "test_list") else []
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def _selection(self) -> tuple[Image, list[Image]] | None:
        """The reference and the comparable ticked layers; the panel says why others were left out."""
        name = self.reference_combo.currentText()
        if not name or name not in self.viewer.layers:
            self._say("Choose a reference layer.")
            return None
        reference = self.viewer.layers[name]
        tests, problems = [], []
        for test_name in self.test_names():
            layer = self.viewer.layers[test_name]
            problem = incompatibility(_stand_in(reference), _stand_in(layer), reference_rgb=reference.rgb,
                                      test_rgb=layer.rgb, reference_name=reference.name, test_name=layer.name)
            if problem:
                problems.append(f"{layer.name} left out: {problem}.")
            else:
                tests.append(layer)
        if not self.test_names():
            problems.append("Tick at least one test layer.")
        elif not tests:
            problems.append("No ticked layer can be compared with the reference.")
        self._say(" ".join(problems))
        return (reference, tests) if tests else None

    def _say(self, text: str) -> None:
        self.message_label.setText(text)

    # ----- metrics ----------------------------------------------------------------------------
    def compute(self) -> None:
        """PSNR / SSIM / RMSE of the ticked layers against the reference, in a worker."""
        if self.busy:
            return
        selection = self._selection()
        if selection is None:
            return
        reference, tests = selection
        ref_data, rgb = layer_array(reference), reference.rgb
        test_data = {layer.name: layer_array(layer) for layer in tests}
        lpips_net = self.lpips_combo.currentText() if self.lpips_check.isChecked() else None
        lpips_weights = self.lpips_weights
        ref_name = reference.name

        def job(report, cancel: threading.Event):
            from napari_vesselgan.metrics.compare import fidelity_rows

            extra = lpips_extra(lpips_net, lpips_weights)
            ref = np.asarray(ref_data)
            arrays = {name: np.asarray(data) for name, data in test_data.items()}
            rows = fidelity_rows(ref, arrays, rgb=rgb, extra=extra, progress=counting(report))
            return "metrics", (rows, scale_notes(ref, arrays, ref_name))

        self._context = {"reference": reference.name}
        self._run(job, f"Comparing {len(tests)} layer(s) with {reference.name}...")

    def _run(self, job, status: str) -> None:
        self.last_outcome = None
        self._started = time.perf_counter()
        self.progress.setRange(0, 0)
        self._start_job(job, status)

    def _on_return(self, result: tuple, context: Any = None) -> None:
        kind, payload = result
        seconds = time.perf_counter() - self._started
        if kind == "metrics":
            rows, notes = payload
            self.show_rows(rows)
            self.show_scale(notes)
            self.status_label.setText(f"Metrics of {len({r['layer'] for r in rows})} layer(s) in {seconds:.1f} s.")
        elif kind == "maps":
            maps, notes = payload
            placed = [put_layer(self.viewer, name, data, **kwargs).name for name, data, kwargs in maps]
            self.show_scale(notes)
            self.status_label.setText(f"Map layer(s): {', '.join(placed)}.")
        elif kind == "histograms":
            self.histograms = payload
            self._draw_histograms()
            self.status_label.setText(f"Histograms of {len(payload)} layer(s).")
        elif kind == "report":
            path, rows = payload
            self.last_report = path
            self.show_rows([{k: r[k] for k in ("layer", "frame", *FIDELITY_METRICS, "lpips") if k in r}
                            for r in rows if r["role"] == "test" and not r["note"]])
            self.status_label.setText(f"Report written: {path}")
        elif kind == "distribution":
            self.distribution = payload
            self.fid_label.setText(self.distribution_text(payload))
            self.status_label.setText(f"FID / KID in {seconds:.1f} s.")
        self.last_outcome = "done"

    def _after_job(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.last_outcome == "done" else 0)

    def show_scale(self, notes: list[str]) -> None:
        """Say on which intensity scale each test layer was compared with the reference."""
        self.scale_label.setText("<small>Intensity scale: " + "; ".join(notes) + "</small>" if notes else "")

    def show_rows(self, rows: list[dict]) -> None:
        """Fill the table (one row per layer and frame) and the plot; keep ``rows`` for the CSV."""
        self.rows = [dict(r) for r in rows]
        self.metric_keys = [k for k in (*FIDELITY_METRICS, "lpips") if rows and k in rows[0]]
        self.table.setColumnCount(2 + len(self.metric_keys))
        self.table.setHorizontalHeaderLabels(["Layer", "Frame", *(METRIC_TITLES[k] for k in self.metric_keys)])
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            frame = row["frame"]
            cells = [row["layer"], "" if frame is None else str(frame)]
            cells += [format_value(row[k]) for k in self.metric_keys]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 0:
                    item.setToolTip(text)
                if j >= 2:
                    item.setData(Qt.ItemDataRole.UserRole, float(row[self.metric_keys[j - 2]]))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if frame == MEAN_FRAME:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(i, j, item)
        # the Frame column only says something for time series
        self.table.setColumnHidden(1, not any(row["frame"] is not None for row in rows))
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 220))
        self.csv_button.setEnabled(bool(rows))
        self._draw_metrics()

    def table_values(self) -> list[dict]:
        """What the table shows, as numbers: ``{"layer", "frame", "psnr", "ssim", "rmse"[, "lpips"]}`` per row."""
        out = []
        for i in range(self.table.rowCount()):
            frame_text = self.table.item(i, 1).text()
            frame: Any = None if frame_text == "" else (frame_text if frame_text == MEAN_FRAME else int(frame_text))
            row = {"layer": self.table.item(i, 0).text(), "frame": frame}
            for j, key in enumerate(self.metric_keys):
                row[key] = self.table.item(i, 2 + j).data(Qt.ItemDataRole.UserRole)
            out.append(row)
        return out

    def _draw_metrics(self) -> None:
        plot = self.metrics_plot
        axes = plot.new_axes(len(self.metric_keys))
        layers = list(dict.fromkeys(r["layer"] for r in self.rows))
        series = any(isinstance(r["frame"], int) for r in self.rows)
        for ax, key in zip(axes, self.metric_keys):
            if series:
                for k, name in enumerate(layers):
                    frames = [r for r in self.rows if r["layer"] == name and isinstance(r["frame"], int)]
                    ax.plot([r["frame"] for r in frames], [r[key] for r in frames], marker=".", linewidth=1,
                            color=COLOURS[k % len(COLOURS)], label=name)
                plot.label(ax, METRIC_TITLES[key], "frame")
            else:
                values = [next(r[key] for r in self.rows if r["layer"] == name) for name in layers]
                finite = [v if math.isfinite(v) else 0.0 for v in values]
                ax.bar(range(len(layers)), finite, color=[COLOURS[k % len(COLOURS)] for k in range(len(layers))])
                ax.set_xticks(range(len(layers)), [short_name(n) for n in layers], fontsize=6,
                              rotation=30 if len(layers) > 2 else 0)
                plot.label(ax, METRIC_TITLES[key])
        if series:
            plot.legend(axes[0])
        plot.draw()

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics as CSV", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> Path | None:
        """Write the table's rows (full precision) to ``path``."""
        if not self.rows:
            self._say("Compute the metrics first.")
            return None
        rows = [{"reference": self._context.get("reference", ""), **r} for r in self.rows]
        written = write_csv(path, rows, columns=["reference", "layer", "frame", *self.metric_keys])
        self.status_label.setText(f"CSV written: {written}")
        return written

    # ----- maps -------------------------------------------------------------------------------
    def add_maps(self, kind: str) -> None:
        """Add ``|test - reference|`` (kind "difference") or the SSIM map (kind "ssim") layers."""
        if self.busy:
            return
        selection = self._selection()
        if selection is None:
            return
        reference, tests = selection
        ref_data, rgb = layer_array(reference), reference.rgb
        test_data = {layer.name: layer_array(layer) for layer in tests}
        placement = {"scale": tuple(reference.scale), "translate": tuple(reference.translate)}
        ref_name = reference.name

        def job(report, cancel: threading.Event):
            from napari_vesselgan.metrics.compare import difference_map, ssim_map

            ref = np.asarray(ref_data)
            out = []
            for i, (name, data) in enumerate(test_data.items()):
                report(Progress(i, len(test_data)))
                meta = {"napari_vesselgan": {"map": kind, "reference": ref_name, "test": name}}
                if kind == "difference":
                    values = difference_map(ref, np.asarray(data), rgb=rgb)
                    high = float(np.percentile(values, 99.5)) or float(values.max()) or 1.0
                    out.append((f"|{name} - {ref_name}|", values,
                                {"colormap": "magma", "contrast_limits": (0.0, high), "metadata": meta, **placement}))
                else:
                    values = ssim_map(ref, np.asarray(data), rgb=rgb)
                    low = min(0.0, float(np.percentile(values, 0.5)))
                    out.append((f"SSIM {name} vs {ref_name}", values,
                                {"colormap": "viridis", "contrast_limits": (low, 1.0), "metadata": meta, **placement}))
            report(Progress(len(test_data), len(test_data)))
            return "maps", (out, scale_notes(ref, {name: np.asarray(data) for name, data in test_data.items()},
                                             ref_name))

        self._run(job, f"Computing {kind} maps...")

    # ----- report -----------------------------------------------------------------------------
    def choose_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write HTML report", "comparison.html", "HTML (*.html)")
        if path:
            self.write_report(path)

    def write_report(self, path: str | Path) -> None:
        """Write ``path`` (HTML) and the CSV beside it (same name, .csv), in a worker."""
        if self.busy:
            return
        name = self.reference_combo.currentText()
        if not name or name not in self.viewer.layers:
            self._say("Choose a reference layer.")
            return
        reference = self.viewer.layers[name]
        tests = [self.viewer.layers[n] for n in self.test_names() if n in self.viewer.layers]
        if not tests:
            self._say("Tick at least one test layer.")
            return
        # layers that cannot be compared still get their explainable metrics; the report says why
        self._say(" ".join(
            f"{layer.name}: explainable metrics only ({problem})." for layer in tests
            if (problem := incompatibility(_stand_in(reference), _stand_in(layer), reference_rgb=reference.rgb,
                                           test_rgb=layer.rgb, reference_name=reference.name, test_name=layer.name))))
        ref_data, rgb, ref_name = layer_array(reference), reference.rgb, reference.name
        test_data = {layer.name: layer_array(layer) for layer in tests}
        html_path = Path(path)
        csv_path = html_path.with_suffix(".csv")
        lpips_net = self.lpips_combo.currentText() if self.lpips_check.isChecked() else None
        lpips_weights = self.lpips_weights

        def job(report, cancel: threading.Event):
            from napari_vesselgan.metrics.report import write_html_report

            arrays = {name: np.asarray(data) for name, data in test_data.items()}
            written, rows = write_html_report(
                html_path, np.asarray(ref_data), arrays, reference_name=ref_name, rgb=rgb,
                title=f"Comparison with {ref_name}", csv_path=csv_path, extra=lpips_extra(lpips_net, lpips_weights),
                progress=counting(report))
            return "report", (written, rows)

        self._context = {"reference": ref_name}
        self._run(job, "Writing the report...")

    # ----- histograms -------------------------------------------------------------------------
    def show_histograms(self) -> None:
        """Histograms of the reference and the ticked layers (shapes need not match), in a worker."""
        if self.busy:
            return
        names = [self.reference_combo.currentText(), *self.test_names()]
        layers = [self.viewer.layers[n] for n in dict.fromkeys(names) if n and n in self.viewer.layers]
        if not layers:
            self._say("Choose a reference layer or tick a layer.")
            return
        self._say("")
        sources = {layer.name: (layer_array(layer), layer.rgb) for layer in layers}

        def job(report, cancel: threading.Event):
            from napari_vesselgan.analysis.histogram import intensity_histogram

            out = {}
            for i, (name, (data, rgb)) in enumerate(sources.items()):
                counts, edges = intensity_histogram(np.asarray(data), rgb=rgb)
                out[name] = (counts, edges, rgb)
                report(Progress(i + 1, len(sources)))
            return "histograms", out

        self._run(job, "Computing histograms...")

    def _draw_histograms(self) -> None:
        plot = self.histogram_plot
        (ax,) = plot.new_axes(1)
        for k, (name, (counts, edges, rgb)) in enumerate(self.histograms.items()):
            if rgb:
                for c, row in enumerate(counts):
                    ax.stairs(row, edges, color=CHANNEL_COLOURS[c % 4], label=f"{name} [{'RGBA'[c]}]", linewidth=1)
            else:
                ax.stairs(counts, edges, color=COLOURS[k % len(COLOURS)], label=name, linewidth=1.2)
        if self.log_check.isChecked():
            ax.set_yscale("log")
        plot.label(ax, "", "intensity (each layer's own units)", "pixels")
        plot.legend(ax)
        plot.draw()

    # ----- FID / KID --------------------------------------------------------------------------
    def _browse_folder(self, edit: QLineEdit, combo: QComboBox) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images")
        if folder:
            edit.setText(folder)
            combo.setCurrentIndex(combo.findData(FOLDER))

    def set_distribution_source(self, which: int, source: str) -> None:
        """Choose set ``which`` (0: A, 1: B): a layer name, or a folder path."""
        combo = self.set_combos[which]
        index = combo.findData(source)
        if index >= 0:
            combo.setCurrentIndex(index)
        else:
            combo.setCurrentIndex(combo.findData(FOLDER))
            self.folder_edits[which].setText(str(source))

    def compute_distribution(self) -> None:
        """FID and KID between set A and set B (stack layers or folders), in a worker."""
        if self.busy:
            return
        sources = []
        for combo, edit, label in zip(self.set_combos, self.folder_edits, ("A", "B")):
            choice = combo.currentData()
            if choice == FOLDER:
                folder = edit.text().strip()
                if not folder or not Path(folder).is_dir():
                    self._say(f"Set {label}: choose a folder of images (or a stack layer).")
                    return
                sources.append(("folder", folder, None))
            elif choice in self.viewer.layers:
                layer = self.viewer.layers[choice]
                sources.append(("layer", layer_array(layer), layer.rgb))
            else:
                self._say(f"Set {label}: choose a stack layer or a folder.")
                return
        self._say("")
        weights_text = self.weights_edit.text().strip()
        weights: Any = None if not weights_text else weights_text
        subsets = self.subsets_spin.value()

        def job(report, cancel: threading.Event):
            from napari_vesselgan.metrics.distribution import distribution_metrics, image_set

            sets = [image_set(src) if kind == "folder" else image_set(np.asarray(src), rgb=rgb)
                    for kind, src, rgb in sources]
            return "distribution", distribution_metrics(
                sets[0], sets[1], weights=weights, kid_subsets=subsets,
                progress=counting(report))

        self._run(job, "Computing Inception features...")

    @staticmethod
    def distribution_text(result: dict) -> str:
        text = (f"FID {result['fid']:.3f}; KID x 100 {result['kid_x100']:.3f} ± {result['kid_std_x100']:.3f} "
                f"({result['n_a']} vs {result['n_b']} images, {result['kid_subsets']} subsets of "
                f"{result['kid_subset_size']}).")
        if result.get("weights") == "random":
            text += " Random weights: these numbers only test the pipeline."
        return text

    def _disconnect(self) -> None:
        pass
