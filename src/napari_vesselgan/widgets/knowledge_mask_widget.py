"""Dock widget: the Fundus2Video knowledge mask of a time series, as a Labels overlay.

Thin over ``analysis.knowledge_mask(first, last, threshold)``: where the chosen frames of an
FFA video (an image layer with a time axis: grey (T, Y, X) or colour (T, Y, X, 3)) differ by
more than the threshold on the 0-255 scale. The result is a 2-D Labels layer "<layer> knowledge
mask" (label 1) over the layer's Y, X axes, shown at every time point; a re-run for the same
layer updates it. Only the two frames are read, so a lazy (dask) series stays lazy. The work
is two frames' difference, done at once in the GUI thread; bad input gives a message, never
an exception into napari.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import napari.utils.notifications as notifications
import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan import __version__
from napari_vesselgan.widgets._state import LayerWatcher, fill_layer_combo

if TYPE_CHECKING:
    import napari

#: The paper's threshold on the 0-255 scale (Fundus2Video, Sec. 2.2).
DEFAULT_THRESHOLD = 45.0
NO_LAYER_HINT = ("Open a time series: an image layer (T, Y, X) or colour (T, Y, X, 3), for example "
                 "File > Open Sample > VesselGAN > Synthetic FFA video.")


def is_time_series(layer: Any) -> bool:
    """An image layer with a time axis: grey (T, Y, X) or RGB (T, Y, X, 3), not multiscale."""
    if not isinstance(layer, Image) or layer.multiscale:
        return False
    return layer.data.ndim == (4 if layer.rgb else 3)


def frame_count(layer: Image) -> int:
    return int(layer.data.shape[0])


class KnowledgeMaskWidget(QWidget):
    """Threshold the first-last frame difference of a time series into a Labels overlay."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.last_result: Labels | None = None
        self._frames_for: tuple[int, int] | None = None  # (id of layer, T) the frame boxes were set for
        self._build()
        self._watcher = LayerWatcher(self.viewer, self._refresh_layers)
        self._refresh_layers()

    def _build(self) -> None:
        form = QFormLayout()
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Image layers with a time axis: (T, Y, X), or colour (T, Y, X, 3) (green channel)")
        self.layer_combo.currentIndexChanged.connect(self._sync_frames)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.0, 255.0)
        self.threshold_spin.setDecimals(1)
        self.threshold_spin.setValue(DEFAULT_THRESHOLD)
        self.threshold_spin.setToolTip("Smallest |first - last| that counts, on the 0-255 scale (the paper's: 45)")
        self.first_spin = QSpinBox()
        self.last_spin = QSpinBox()
        for spin in (self.first_spin, self.last_spin):
            spin.setRange(0, 0)
        self.first_spin.setToolTip("The early frame (arterial phase)")
        self.last_spin.setToolTip("The late frame (late phase)")
        form.addRow("Time series", self.layer_combo)
        form.addRow("Threshold", self.threshold_spin)
        form.addRow("First frame", self.first_spin)
        form.addRow("Last frame", self.last_spin)
        self.run_button = QPushButton("Add knowledge mask")
        self.run_button.clicked.connect(self.run)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

    # ----- layers -----------------------------------------------------------------------------
    def time_series_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if is_time_series(layer)]

    def _refresh_layers(self) -> None:
        try:
            fill_layer_combo(self.layer_combo, self.time_series_layers(), self.viewer)
            self._sync_frames()
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    def selected_layer(self) -> Image | None:
        return self.layer_combo.currentData()

    def set_layer(self, name: str) -> None:
        index = self.layer_combo.findText(name)
        if index < 0:
            raise ValueError(f"no time-series image layer named {name!r}")
        self.layer_combo.setCurrentIndex(index)

    def _sync_frames(self, *_: Any) -> None:
        """Frame ranges 0..T-1, and the defaults 0 and T-1 whenever the layer or its length changes."""
        layer = self.selected_layer()
        key = None if layer is None else (id(layer), frame_count(layer))
        if key == self._frames_for:
            return
        self._frames_for = key
        top = 0 if layer is None else max(frame_count(layer) - 1, 0)
        for spin in (self.first_spin, self.last_spin):
            spin.setRange(0, top)
        self.first_spin.setValue(0)
        self.last_spin.setValue(top)

    # ----- running ----------------------------------------------------------------------------
    def report_error(self, message: str) -> None:
        """Tell the user (a napari notification); tests may replace this."""
        notifications.show_error(message)

    def run(self) -> Labels | None:
        """Add (or update) the knowledge-mask Labels layer of the chosen series; None after a message."""
        layer = self.selected_layer()
        if layer is None or layer not in self.viewer.layers:
            self.report_error(NO_LAYER_HINT)
            return None
        self._sync_frames()
        count = frame_count(layer)
        if count < 2:
            self.report_error(f"'{layer.name}' has a single frame; the knowledge mask needs a first and a last frame.")
            return None
        first, last = self.first_spin.value(), self.last_spin.value()
        if first == last:
            self.report_error(f"Choose two different frames (both are {first}).")
            return None
        threshold = float(self.threshold_spin.value())
        try:
            mask = self._mask(layer, first, last, threshold)
        except (ValueError, TypeError, MemoryError) as error:
            self.report_error(f"Knowledge mask of '{layer.name}' failed: {error}")
            return None
        area = float(mask.mean())
        name = f"{layer.name} knowledge mask"
        metadata = {"napari_vesselgan": __version__, "analysis": "knowledge_mask", "source_layer": layer.name,
                    "threshold": threshold, "first_frame": first, "last_frame": last, "area_fraction": area}
        placement = {"scale": tuple(layer.scale)[-2:], "translate": tuple(layer.translate)[-2:]}
        labels = self._put_labels(name, mask, metadata=metadata, **placement)
        self.last_result = labels
        self.status_label.setText(f"'{name}': frames {first} and {last}, threshold {threshold:g}: "
                                  f"{100 * area:.1f}% of the image.")
        return labels

    @staticmethod
    def _mask(layer: Image, first: int, last: int, threshold: float) -> np.ndarray:
        """uint8 (Y, X) 0/1 from the two frames alone (a dask series computes just those)."""
        from napari_vesselgan.analysis import knowledge_mask

        return knowledge_mask(np.asarray(layer.data[first]), np.asarray(layer.data[last]), threshold).astype(np.uint8)

    def _put_labels(self, name: str, mask: np.ndarray, **kwargs: Any) -> Labels:
        """Update our own earlier mask of this name, or add a new Labels layer."""
        if name in self.viewer.layers:
            existing = self.viewer.layers[name]
            if isinstance(existing, Labels) and existing.metadata.get("analysis") == "knowledge_mask":
                existing.data = mask
                for key, value in kwargs.items():
                    setattr(existing, key, value)
                return existing
        return self.viewer.add_labels(mask, name=name, opacity=0.5, **kwargs)

    # ----- clean-up ---------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._watcher.close()
        super().closeEvent(event)
