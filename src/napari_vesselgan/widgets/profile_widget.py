"""Dock widget "Line profile": intensity along a line drawn in a shapes layer, for chosen layers.

Draw a line (or a path) in a shapes layer; the dock plots the intensity along it for every
ticked image layer and redraws when the line moves, when a vertex is dragged, when the time
frame changes, or when the choice of layers changes. The selected shape is profiled (else the
last line or path of the layer). Sampling is in world coordinates, one sample per world unit
of the finest ticked layer, mapped into each layer's own pixel grid (its scale and translate),
so layers of different resolution share one distance axis; time series are read at the
viewer's current frame. Reading the profiles runs in a worker
(:func:`napari_vesselgan.analysis.profile.line_profile`); a change that arrives while one
runs is taken up as soon as it ends. CSV export of the last profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Shapes
from napari.qt.threading import create_worker
from qtpy.QtCore import Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan.metrics.compare import write_csv
from napari_vesselgan.widgets._plot import CHANNEL_COLOURS, COLOURS, PlotCanvas
from napari_vesselgan.widgets._state import LayerWatcher
from napari_vesselgan.widgets.compare_widget import layer_array

if TYPE_CHECKING:
    import napari

LINE_TYPES = ("line", "path")


def _plane_of(layer: Image, world_point: np.ndarray):
    """The 2-D (or 2-D colour) plane of ``layer`` at the viewer's current position."""
    data = layer_array(layer)
    spatial = data.ndim - (1 if layer.rgb else 0)
    index: list[Any] = []
    for axis in range(spatial - 2):
        world_axis = len(world_point) - spatial + axis
        coordinate = world_point[world_axis] if world_axis >= 0 else 0.0
        step = int(round((coordinate - layer.translate[axis]) / layer.scale[axis]))
        index.append(min(max(step, 0), data.shape[axis] - 1))
    return data[tuple(index)] if index else data


def compute_profiles(line_world: np.ndarray, layers: list[dict]) -> dict:
    """Profiles of ``layers`` (dicts: name, plane, rgb, scale, translate) along the world-space
    polyline ``line_world`` (K, 2); returns ``{"distance": (S,), "profiles": {name: (S,) or (S, C)}}``."""
    from napari_vesselgan.analysis.profile import line_profile, sample_points

    spacing = min(float(min(entry["scale"])) for entry in layers)
    distance, points = sample_points(line_world, spacing=spacing)
    profiles = {}
    for entry in layers:
        pixel = (points - np.asarray(entry["translate"])) / np.asarray(entry["scale"])
        profiles[entry["name"]] = line_profile(np.asarray(entry["plane"]), pixel, rgb=entry["rgb"])
    return {"distance": distance, "profiles": profiles}


class LineProfileWidget(QWidget):
    """Plot intensity along a shapes-layer line for the ticked image layers; export CSV."""

    #: Emitted after the plot shows a new profile.
    profile_updated = Signal()

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.result: dict | None = None
        self.worker = None
        self._pending = False
        self._closed = False
        self._shapes: Shapes | None = None
        self._build()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self.update_profile)
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self.viewer.dims.events.current_step.connect(self._schedule)
        self._refresh_layers()

    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.shapes_combo = QComboBox()
        self.shapes_combo.setToolTip("The shapes layer holding the line (draw one with the line or path tool)")
        self.shapes_combo.currentIndexChanged.connect(self._on_shapes_chosen)
        form.addRow("Line (shapes)", self.shapes_combo)
        self.layer_list = QListWidget()
        self.layer_list.setMaximumHeight(110)
        self.layer_list.setToolTip("Image layers to profile")
        self.layer_list.itemChanged.connect(self._schedule)
        form.addRow("Layers", self.layer_list)
        self.normalise_check = QCheckBox("Scale each profile to 0..1")
        self.normalise_check.setToolTip("Compare shapes of profiles of layers with different intensity ranges")
        self.normalise_check.toggled.connect(lambda _: self._draw())
        form.addRow("", self.normalise_check)
        self.new_line_button = QPushButton("New line layer")
        self.new_line_button.setToolTip("Add a shapes layer in line-drawing mode")
        self.new_line_button.clicked.connect(self.add_line_layer)
        self.plot = PlotCanvas(height=200, content=self._draw)
        self.export_button = QPushButton("Export CSV...")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_csv)
        self.status_label = QLabel("Draw a line in a shapes layer.")
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.new_line_button)
        layout.addWidget(self.plot)
        layout.addWidget(self.export_button)
        layout.addWidget(self.status_label)

    # ----- layers -----------------------------------------------------------------------------
    def _refresh_layers(self) -> None:
        shapes = [layer.name for layer in self.viewer.layers if isinstance(layer, Shapes)]
        current = self.shapes_combo.currentText()
        self.shapes_combo.blockSignals(True)
        self.shapes_combo.clear()
        self.shapes_combo.addItems(shapes)
        if current in shapes:
            self.shapes_combo.setCurrentText(current)
        self.shapes_combo.blockSignals(False)
        checked = set(self.layer_names())
        known = {self.layer_list.item(i).text() for i in range(self.layer_list.count())}
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for layer in self.viewer.layers:
            if isinstance(layer, Image):
                item = QListWidgetItem(layer.name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                ticked = layer.name in checked or layer.name not in known  # new layers start ticked
                item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
                self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)
        self._on_shapes_chosen()

    def _on_shapes_chosen(self, *_: Any) -> None:
        name = self.shapes_combo.currentText()
        layer = self.viewer.layers[name] if name and name in self.viewer.layers else None
        if layer is not self._shapes:
            if self._shapes is not None:
                self._shapes.events.data.disconnect(self._schedule)
            self._shapes = layer
            if layer is not None:
                layer.events.data.connect(self._schedule)
        self._schedule()

    def layer_names(self) -> list[str]:
        items = [self.layer_list.item(i) for i in range(self.layer_list.count())]
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_layers(self, names: list[str]) -> None:
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    def add_line_layer(self) -> Shapes:
        layer = self.viewer.add_shapes(name="profile line", edge_color="yellow", edge_width=1.5)
        layer.mode = "add_line"
        self.shapes_combo.setCurrentText(layer.name)
        return layer

    # ----- the line ---------------------------------------------------------------------------
    def line_world(self) -> np.ndarray | None:
        """The profiled polyline in world (row, column) coordinates, or None."""
        layer = self._shapes
        if layer is None or len(layer.data) == 0:
            return None
        candidates = [i for i, kind in enumerate(layer.shape_type) if kind in LINE_TYPES]
        if not candidates:
            return None
        selected = [i for i in layer.selected_data if i in candidates]
        index = selected[0] if selected else candidates[-1]
        vertices = np.asarray(layer.data[index], dtype=np.float64)[:, -2:]
        return vertices * np.asarray(layer.scale[-2:]) + np.asarray(layer.translate[-2:])

    # ----- computing --------------------------------------------------------------------------
    def _schedule(self, *_: Any) -> None:
        if not self._closed:
            self._timer.start()

    def update_profile(self) -> None:
        """Start reading the profiles in a worker (or mark one as pending if one runs)."""
        if self._closed:
            return
        if self.worker is not None:
            self._pending = True
            return
        line = self.line_world()
        names = [n for n in self.layer_names() if n in self.viewer.layers]
        if line is None or not names:
            self.status_label.setText("Draw a line in a shapes layer." if line is None else "Tick a layer.")
            return
        world_point = np.asarray(self.viewer.dims.point, dtype=np.float64)
        entries = []
        for name in names:
            layer = self.viewer.layers[name]
            entries.append({"name": name, "plane": _plane_of(layer, world_point), "rgb": layer.rgb,
                            "scale": np.asarray(layer.scale[-2:], np.float64),
                            "translate": np.asarray(layer.translate[-2:], np.float64)})
        self.worker = create_worker(compute_profiles, line, entries, _ignore_errors=True)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def _on_returned(self, result: dict) -> None:
        self.result = result
        self.export_button.setEnabled(True)
        length = float(result["distance"][-1]) if len(result["distance"]) else 0.0
        self.status_label.setText(f"Profile of {len(result['profiles'])} layer(s), length {length:.1f}.")
        self._draw()
        self.profile_updated.emit()

    def _on_error(self, error: BaseException) -> None:
        self.status_label.setText(f"Profile failed: {error}")

    def _on_finished(self) -> None:
        self.worker = None
        if self._pending and not self._closed:
            self._pending = False
            self.update_profile()

    def _draw(self) -> None:
        if self.result is None:
            return
        plot = self.plot
        (ax,) = plot.new_axes(1)
        distance = self.result["distance"]
        for k, (name, values) in enumerate(self.result["profiles"].items()):
            channels = values.T if values.ndim == 2 else [values]
            for c, v in enumerate(channels):
                if self.normalise_check.isChecked():
                    finite = v[np.isfinite(v)]
                    if finite.size and finite.max() > finite.min():
                        v = (v - finite.min()) / (finite.max() - finite.min())
                colour = CHANNEL_COLOURS[c % 4] if values.ndim == 2 else COLOURS[k % len(COLOURS)]
                label = f"{name} [{'RGBA'[c]}]" if values.ndim == 2 else name
                ax.plot(distance, v, color=colour, linewidth=1.2, label=label)
        plot.label(ax, "", "distance along the line (world units)",
                   "intensity (0..1 each)" if self.normalise_check.isChecked() else "intensity")
        plot.legend(ax)
        plot.draw()

    # ----- export -----------------------------------------------------------------------------
    def profile_rows(self) -> list[dict]:
        """The last profile as rows: distance, then one column per layer (per channel for RGB)."""
        if self.result is None:
            return []
        columns: dict[str, np.ndarray] = {}
        for name, values in self.result["profiles"].items():
            if values.ndim == 2:
                for c in range(values.shape[1]):
                    columns[f"{name} [{'RGBA'[c]}]"] = values[:, c]
            else:
                columns[name] = values
        return [{"distance": float(d), **{k: float(v[i]) for k, v in columns.items()}}
                for i, d in enumerate(self.result["distance"])]

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the profile as CSV", "profile.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str | Path) -> Path | None:
        rows = self.profile_rows()
        if not rows:
            return None
        written = write_csv(path, rows)
        self.status_label.setText(f"CSV written: {written}")
        return written

    # ----- clean-up ---------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._watcher.close()
        self.viewer.dims.events.current_step.disconnect(self._schedule)
        if self._shapes is not None:
            self._shapes.events.data.disconnect(self._schedule)
            self._shapes = None
