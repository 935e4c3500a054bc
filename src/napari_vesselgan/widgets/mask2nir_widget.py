"""Dock widget: vessel masks -> synthetic NIR-II images (`mask2nir`), for annotators.

Three jobs, thin over the library:

* Translate: a Labels (or binary image) layer -> a new image layer, in a worker with progress
  and cancel; the layer's metadata records method, weights, parameters and source.
* Follow edits live: a synthetic NIR-II layer that re-renders only the tiles a stroke can
  change while the annotator paints or erases in the Labels layer (``_live_follow``).
* Folder -> pairs: every mask in a folder becomes image / mask pairs for training a
  segmentation model, optionally several per mask by augmentation
  (``Mask2NirMethod.predict_folder`` with the request's ``Mask2NirOptions``, the same as
  ``vesselgan predict mask2nir FOLDER``).

Translate and the folder build one typed ``PredictionRequest``; translate runs it with
``jobs.predict.run_prediction``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import napari.utils.notifications as notifications
import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from napari_vesselgan.jobs.messages import Phase, Report, counting
from napari_vesselgan.methods.request import PredictionRequest
from napari_vesselgan.widgets._method_widget import MethodWidget
from napari_vesselgan.widgets._workers import describe_error


def non_binary_warning(layer: Any) -> str | None:
    """A warning when ``layer`` is an image that is not a binary mask (every non-zero pixel
    becomes a vessel, so a grey photo turns into one large vessel), else None. A Labels layer
    is a mask whatever its labels."""
    from napari_vesselgan.io.readers import is_binary_mask

    if isinstance(layer, Labels):
        return None
    data = np.asarray(layer.data)
    if is_binary_mask(data) or (data.size and np.isin(data, (0, 1)).all()):
        return None
    levels = np.unique(data[:: max(1, data.shape[0] // 256)]).size  # rows enough to count levels
    return (f"'{layer.name}' is not a binary mask ({levels}+ grey levels): every non-zero pixel counts as a vessel. "
            "Extract a mask first ('Extract vessel mask') or choose a Labels layer.")


@dataclass(frozen=True)
class PairsRun:
    """A folder run's context: where the pairs go, and when it started."""

    output_dir: Path
    started: float = field(default_factory=time.perf_counter)


class Mask2NirWidget(MethodWidget):
    """Masks to synthetic NIR-II images: one layer, live while painting, or a folder of masks."""

    method_name = "mask2nir"
    layer_tooltip = "Vessel mask: a Labels layer (any non-zero label is a vessel) or a binary image layer"
    no_layer_hint = ("Choose a mask: a Labels layer (for example File > Open Sample > VesselGAN > "
                     "Vessel mask (synthetic)) or extract one with the 'Extract vessel mask' widget.")
    starting_status = "Translating {name}..."
    result_suffix = "NIR-II (synthetic)"
    job_name = "Mask to NIR-II"
    cancelled_status = "Cancelled; nothing was added (pairs already written stay, with pairs.json)."

    result_display = {"contrast_limits": (0.0, 1.0)}
    #: The live renderer while "Follow edits live" is on.
    follower = None

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.layer_combo).setText("Mask")
        live = QGroupBox("Follow edits live")
        live_layout = QHBoxLayout(live)
        self.live_check = QCheckBox("Synthetic layer follows the painting")
        self.live_check.setToolTip("Re-renders only the tiles a stroke can change, in the background")
        self.live_check.toggled.connect(self._on_live_toggled)
        self.rerender_button = QPushButton("Re-render all")
        self.rerender_button.setToolTip("Render the whole mask again (after undo/redo, or to refresh statistics)")
        self.rerender_button.setEnabled(False)
        self.rerender_button.clicked.connect(lambda: self.follower and self.follower.rerender_all())
        live_layout.addWidget(self.live_check, 1)
        live_layout.addWidget(self.rerender_button)

        folder = QGroupBox("Folder of masks -> image / mask pairs")
        folder_form = QFormLayout(folder)
        self.masks_edit, masks_row = self._folder_row("Folder of mask images")
        self.output_edit, output_row = self._folder_row("Folder to write images/ and masks/ into")
        self.per_mask_spin = QSpinBox()
        self.per_mask_spin.setRange(1, 1000)
        self.per_mask_spin.setToolTip("Pairs per mask; beyond the first, each comes from an augmented mask")
        self.augment_check = QCheckBox("flips, rotations, elastic deformation")
        self.augment_check.setChecked(True)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.pairs_button = QPushButton("Make pairs")
        self.pairs_button.clicked.connect(self.make_pairs)
        folder_form.addRow("Masks", masks_row)
        folder_form.addRow("Output", output_row)
        folder_form.addRow("Per mask", self.per_mask_spin)
        folder_form.addRow("Augment", self.augment_check)
        folder_form.addRow("Seed", self.seed_spin)
        folder_form.addRow("", self.pairs_button)

        self._lay_out(form, "Translate", self.run, live, folder)
        self.run_button.setToolTip("Make a synthetic NIR-II image of the chosen mask (a new layer)")

    def _folder_row(self, title: str) -> tuple[QLineEdit, QWidget]:
        edit = QLineEdit()
        button = QPushButton("Browse...")

        def choose() -> None:
            path = QFileDialog.getExistingDirectory(self, title, edit.text())
            if path:
                edit.setText(path)

        button.clicked.connect(choose)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        layout.addWidget(button)
        return edit, row

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (*super()._job_controls(), self.pairs_button, self.masks_edit, self.output_edit, self.per_mask_spin,
                self.augment_check, self.seed_spin)

    # ----- layers -----------------------------------------------------------------------------
    def image_layers(self) -> list[Any]:
        """Labels layers, then grey image layers (binary images count as masks)."""
        labels = [layer for layer in self.viewer.layers if isinstance(layer, Labels) and not layer.multiscale]
        images = [layer for layer in self.viewer.layers
                  if isinstance(layer, Image) and not layer.rgb and not layer.multiscale]
        return labels + images

    @staticmethod
    def preferred_layer(layer: Any) -> bool:
        """The dock chooses a Labels layer by itself (a grey image only when the user picks it)."""
        return isinstance(layer, Labels)

    def layer_data(self, layer: Any) -> np.ndarray:
        return np.asarray(layer.data)

    def run(self) -> None:
        """Translate the chosen mask; a grey image that is not binary gets a warning first."""
        layer = self.selected_layer()
        if layer is not None and not self.busy:
            warning = non_binary_warning(layer)
            if warning:
                notifications.show_warning(warning)
        super().run()

    # ----- results ----------------------------------------------------------------------------
    def _on_return(self, result: Any, run: Any) -> None:
        if not isinstance(run, PairsRun):
            super()._on_return(result, run)
            return
        self.last_result = run.output_dir
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - run.started:.1f} s: {'; '.join(result)}.")

    # ----- folder -> pairs --------------------------------------------------------------------
    def make_pairs(self) -> None:
        """Translate every mask in the folder into image / mask pairs (a job with progress and cancel)."""
        if self.busy:
            return
        masks_dir = Path(self.masks_edit.text().strip()).expanduser()
        output_text = self.output_edit.text().strip()
        if not self.masks_edit.text().strip() or not masks_dir.is_dir():
            self.report_error("Choose an existing folder of mask images.")
            return
        if not output_text:
            self.report_error("Choose a folder to write the pairs into.")
            return
        output_dir = Path(output_text).expanduser()
        if output_dir.resolve() == masks_dir.resolve():
            self.report_error("Write the pairs into another folder than the masks.")
            return
        folder_options = {"per_mask": self.per_mask_spin.value(), "augment": self.augment_check.isChecked(),
                          "seed": self.seed_spin.value()}
        request = self._chosen_request(folder_options)  # Mask2NirOptions checks per mask against augment
        if request is None:
            return
        self.last_outcome = None
        load = self._load_method

        def job(report: Report, cancel: Any) -> list[str]:
            report(Phase("Loading weights..."))
            method = load(request)
            report(Phase(f"Translating the masks of {masks_dir.name}..."))
            return list(method.predict_folder(masks_dir, output_dir, request, progress=counting(report)))

        self._start_job(job, f"Making pairs from {masks_dir.name}...", context=PairsRun(output_dir))

    # ----- live -------------------------------------------------------------------------------
    def _on_live_toggled(self, checked: bool) -> None:
        if checked:
            self.start_live()
        else:
            self.stop_live()

    def start_live(self) -> None:
        """Follow the chosen 2-D Labels layer with a synthetic NIR-II layer."""
        from napari_vesselgan.widgets._live_follow import LiveFollower

        self.stop_live()
        layer = self.selected_layer()
        problem = None
        if not isinstance(layer, Labels):
            problem = "Live following needs a Labels layer to paint in; choose one as the mask."
        elif np.asarray(layer.data).ndim != 2:
            problem = "Live following works on 2-D Labels layers."
        weights = None
        if problem is None:
            try:
                weights = self.weights_path()
            except ValueError as error:
                problem = str(error)
        if problem is None:
            try:
                request = PredictionRequest(method=self.method_name, weights=weights,
                                            device=self.device_combo.currentData())
                method = self._load_method(request)
                metadata = method.describe(live=True, tile=128, precision="fp32")
                metadata["source_layer"] = layer.name
                self.follower = LiveFollower(self.viewer, layer, method, image_name=f"{layer.name} NIR-II (live)",
                                             metadata=metadata, on_error=self._on_live_error,
                                             on_status=self.status_label.setText)
            except Exception as error:  # noqa: BLE001 - tell the user, never crash the viewer
                problem = f"Live following could not start: {describe_error(error)}"
        if problem is not None:
            self.report_error(problem)
            self.live_check.blockSignals(True)
            self.live_check.setChecked(False)
            self.live_check.blockSignals(False)
            return
        self.rerender_button.setEnabled(True)
        self.status_label.setText(f"Live: rendering {layer.name}...")

    def stop_live(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        self.rerender_button.setEnabled(False)

    def _on_live_error(self, error: BaseException) -> None:
        self.follower = None
        self.rerender_button.setEnabled(False)
        self.live_check.blockSignals(True)
        self.live_check.setChecked(False)
        self.live_check.blockSignals(False)
        self.report_error(f"Live rendering failed: {describe_error(error)}")

    def _disconnect(self) -> None:
        self.stop_live()
        super()._disconnect()
