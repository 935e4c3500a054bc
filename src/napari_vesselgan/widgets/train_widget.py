"""Dock widget: train a method on image layers, folders or synthetic data, with live loss curves.

Thin over the library: the widget builds the method's typed config (``config_class.preset``
plus the fields shown), and ``Method.train`` runs in a napari generator worker (see
``_workers``) with a callback that queues each step's losses. Cancel asks the trainer to stop
after the current step; it saves a checkpoint first, and Train with the same run folder
resumes from it. When a run ends its weights are recorded in the viewer's shared state, so
the denoise widget offers them as "Last training run".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import napari.utils.notifications as notifications
import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan import methods
from napari_vesselgan.engine.trainer import LAST_CHECKPOINT, Callback, TrainState
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher
from napari_vesselgan.widgets._workers import describe_error
from napari_vesselgan.widgets.loss_plot import LossPlot

if TYPE_CHECKING:
    import napari

SYNTHETIC, LAYERS, FOLDER = "synthetic", "layers", "folder"
RUNS_HOME = Path.home() / "vesselgan-runs"


def default_run_dir(method: str) -> Path:
    return RUNS_HOME / f"{method}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass
class TrainOutcome:
    weights: Path
    run_dir: Path
    start_step: int
    step: int
    total_steps: int
    cancelled: bool


class QueueCallback(Callback):
    """Hands each step to the GUI through ``report``; turns the cancel event into a clean stop."""

    def __init__(self, report, cancel: threading.Event):
        self.report = report
        self.cancel = cancel
        self.start_step = 0
        self.state: TrainState | None = None

    def on_train_start(self, state: TrainState) -> None:
        self.state, self.start_step = state, state.step
        self.report(("start", state.step, state.total_steps, [dict(h) for h in state.history]))
        if self.cancel.is_set():
            state.request_stop()

    def on_step_end(self, state: TrainState) -> None:
        self.report(("step", state.step, state.total_steps, dict(state.losses)))
        if self.cancel.is_set():
            state.request_stop()

    def on_checkpoint(self, state: TrainState, path: Path) -> None:
        self.report(("checkpoint", state.step, str(path)))


def train_job(report, *, method_name: str, config, sources: tuple[Any, ...], run_dir: Path, device: str,
              cancel: threading.Event) -> TrainOutcome:
    """The work of one training run, in the helper thread."""
    cls = methods.method_class(method_name)
    report(("phase", "Preparing the training data..."))
    if len(sources) == 1:
        dataset: Any = sources[0]
    else:  # each side may be synthetic
        dataset = SYNTHETIC if all(isinstance(s, str) and s == SYNTHETIC for s in sources) else sources
    method = cls.untrained(config, device=device)
    callback = QueueCallback(report, cancel)
    report(("phase", "Training..."))
    try:
        weights = method.train(dataset, config, callbacks=[callback], run_dir=run_dir)
        state = callback.state
        return TrainOutcome(Path(weights), run_dir, callback.start_step, state.step if state else 0,
                            config.steps, bool(state and state.cancelled))
    finally:
        del method
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()  # give the GPU's memory back
        except Exception:  # noqa: BLE001
            pass


class SourcePicker(QWidget):
    """One training domain: synthetic images, one or more image layers, or a folder of images."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("Synthetic", SYNTHETIC)
        self.kind_combo.addItem("Image layers", LAYERS)
        self.kind_combo.addItem("Folder", FOLDER)
        self.layer_list = QListWidget()
        self.layer_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.layer_list.setMaximumHeight(90)
        self.layer_list.setToolTip("Select one or more layers (Ctrl/Shift-click)")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder of .tif / .png / .jpg images")
        self.folder_button = QPushButton("Browse...")
        self.folder_button.clicked.connect(self._choose_folder)
        self.folder_row = QWidget()
        row = QHBoxLayout(self.folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind_combo)
        layout.addWidget(self.layer_list)
        layout.addWidget(self.folder_row)
        self.kind_combo.currentIndexChanged.connect(self._update_visibility)
        self._update_visibility()

    def _update_visibility(self, *_: Any) -> None:
        kind = self.kind_combo.currentData()
        self.layer_list.setVisible(kind == LAYERS)
        self.folder_row.setVisible(kind == FOLDER)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def set_layer_names(self, names: list[str]) -> None:
        selected = set(self.selected_layer_names())
        self.layer_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            self.layer_list.addItem(item)
            item.setSelected(name in selected)

    def select_layers(self, names: list[str]) -> None:
        """Choose these layers as the source (programmatic and test use)."""
        self.set_kind(LAYERS)
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            item.setSelected(item.text() in names)

    def selected_layer_names(self) -> list[str]:
        return [self.layer_list.item(i).text() for i in range(self.layer_list.count())
                if self.layer_list.item(i).isSelected()]

    def source(self, viewer: Any, domain: str) -> Any:
        """``"synthetic"``, a list of the layers' arrays, or a folder path; ValueError if incomplete."""
        kind = self.kind_combo.currentData()
        if kind == SYNTHETIC:
            return SYNTHETIC
        if kind == LAYERS:
            names = self.selected_layer_names()
            if not names:
                raise ValueError(f"Select one or more image layers for {domain}.")
            return [np.asarray(viewer.layers[name].data) for name in names]
        text = self.folder_edit.text().strip()
        if not text or not Path(text).expanduser().is_dir():
            raise ValueError(f"Choose an existing folder of images for {domain}.")
        return Path(text).expanduser()

    def set_enabled(self, enabled: bool) -> None:
        for control in (self.kind_combo, self.layer_list, self.folder_edit, self.folder_button):
            control.setEnabled(enabled)


class TrainWidget(JobWidget):
    """Train a method in napari: sources, a few settings, live losses, cancel and resume.

    Cancel stops after the current step; a checkpoint is saved, and Train resumes from it.
    """

    job_name = "Training"
    cancelling_button_text = "Stopping..."
    cancelling_status = "Stopping after this step and saving a checkpoint..."
    failed_status = "Training failed: see the notification."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.last_result: TrainOutcome | None = None
        self._auto_run_dir = True
        self._build()
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self._refresh_layers()

    # ----- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.method_combo = QComboBox()
        for name in methods.available():
            self.method_combo.addItem(name, name)
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        form.addRow("Method", self.method_combo)

        self.source_a = SourcePicker()
        self.source_b = SourcePicker()
        self.box_a = QGroupBox()
        QVBoxLayout(self.box_a).addWidget(self.source_a)
        self.box_b = QGroupBox()
        QVBoxLayout(self.box_b).addWidget(self.source_b)

        settings = QFormLayout()
        settings.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Network size and defaults: default (small, trains on a CPU), "
                                     "paper (the paper's width), test (tiny, to try the widget)")
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        settings.addRow("Network preset", self.preset_combo)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 10_000_000)
        self.steps_spin.setSingleStep(100)
        settings.addRow("Steps", self.steps_spin)
        self.patch_spin = QSpinBox()
        self.patch_spin.setRange(16, 2048)
        self.patch_spin.setSingleStep(16)
        self.patch_spin.setSuffix(" px")
        self.patch_spin.setToolTip("Square training patches (a multiple of 4)")
        settings.addRow("Patch size", self.patch_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 256)
        settings.addRow("Batch size", self.batch_spin)
        self.device_combo = QComboBox()
        for device in ("auto", "cpu", "cuda"):
            self.device_combo.addItem(device, device)
        settings.addRow("Device", self.device_combo)

        self.run_dir_edit = QLineEdit()
        self.run_dir_edit.textEdited.connect(self._on_run_dir_edited)
        self.run_dir_button = QPushButton("Browse...")
        self.run_dir_button.clicked.connect(self._choose_run_dir)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_dir_edit, 1)
        run_row.addWidget(self.run_dir_button)
        settings.addRow("Run folder", run_row)
        self.resume_check = QCheckBox("Resume if a checkpoint exists")
        self.resume_check.setChecked(True)
        self.resume_check.setToolTip("Continue from the run folder's last checkpoint (after a cancel)")
        settings.addRow("", self.resume_check)

        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.train)
        buttons = self._build_job_row(self.train_button)
        self.cancel_button.setToolTip("Stop after the current step; a checkpoint is saved and Train resumes")
        self.progress.setFormat("%v / %m steps")
        self.loss_plot = LossPlot()

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.box_a)
        layout.addWidget(self.box_b)
        layout.addLayout(settings)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.loss_plot, 1)
        self._on_method_changed()

    # ----- settings ---------------------------------------------------------------------------
    @property
    def method_name(self) -> str:
        return self.method_combo.currentData()

    def config_class(self):
        return methods.method_class(self.method_name).config_class

    def _on_method_changed(self, *_: Any) -> None:
        labels = methods.method_class(self.method_name).training_sources
        self.box_a.setTitle(labels[0])
        self.box_b.setTitle(labels[-1])
        self.box_b.setVisible(len(labels) > 1)
        if hasattr(self, "_watcher"):  # the first call comes before the layer watcher exists
            self._refresh_layers()
        presets = ["default", *getattr(self.config_class(), "PRESETS", {})]
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        for name in presets:
            self.preset_combo.addItem(name, name)
        self.preset_combo.blockSignals(False)
        self._on_preset_changed()
        if self._auto_run_dir:
            self.run_dir_edit.setText(str(default_run_dir(self.method_name)))
        if self._watcher is not None:
            self._refresh_layers()

    def _on_preset_changed(self, *_: Any) -> None:
        preset = self.preset_combo.currentData()
        if preset is None:
            return
        config = self.config_class().preset(preset)
        self.steps_spin.setValue(config.steps)
        self.patch_spin.setValue(config.patch_size)
        self.batch_spin.setValue(config.batch_size)

    def set_preset(self, name: str) -> None:
        index = self.preset_combo.findData(name)
        if index < 0:
            raise ValueError(f"unknown preset {name!r}")
        self.preset_combo.setCurrentIndex(index)

    def _on_run_dir_edited(self, *_: Any) -> None:
        self._auto_run_dir = False

    def _choose_run_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder", str(RUNS_HOME))
        if folder:
            self.set_run_dir(folder)

    def set_run_dir(self, path: str | Path) -> None:
        self._auto_run_dir = False
        self.run_dir_edit.setText(str(path))

    def build_config(self):
        """The method's config: the preset with the fields shown here (pydantic checks them)."""
        cls = self.config_class()
        preset_name = self.preset_combo.currentData()
        preset = cls.preset(preset_name)
        steps = self.steps_spin.value()
        patch = self.patch_spin.value()
        if patch % 4:
            raise ValueError(f"The patch size must be a multiple of 4 (got {patch}).")
        # keep the preset's share of learning-rate decay and its checkpoint spacing, within the steps
        decay = round(steps * preset.decay_steps / preset.steps) if preset.steps else 0
        every = min(preset.checkpoint_every, steps) if preset.checkpoint_every else 0
        return cls.preset(preset_name, steps=steps, patch_size=patch, batch_size=self.batch_spin.value(),
                          decay_steps=decay, checkpoint_every=every)

    # ----- layers -----------------------------------------------------------------------------
    def _refresh_layers(self) -> None:
        try:
            colour_input = methods.method_class(self.method_name).in_channels == 3
            images = [layer for layer in self.viewer.layers if isinstance(layer, Image) and not layer.multiscale]
            # a source of masks (mask2nir) also takes Labels layers
            masks_first = "mask" in methods.method_class(self.method_name).training_sources[0].lower()
            labels = [layer.name for layer in self.viewer.layers
                      if isinstance(layer, Labels) and not layer.multiscale] if masks_first else []
            self.source_a.set_layer_names(labels + [layer.name for layer in images if layer.rgb == colour_input])
            self.source_b.set_layer_names([layer.name for layer in images if not layer.rgb])
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    # ----- running ----------------------------------------------------------------------------
    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.train_button, self.method_combo, self.preset_combo, self.steps_spin, self.patch_spin,
                self.batch_spin, self.device_combo, self.run_dir_edit, self.run_dir_button, self.resume_check)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.source_a.set_enabled(not busy)
        self.source_b.set_enabled(not busy)

    def train(self) -> None:
        """Start training (returns at once; ``run_finished`` says when it ends)."""
        if self.busy:
            return
        try:
            config = self.build_config()
            labels = methods.method_class(self.method_name).training_sources
            pickers = (self.source_a, self.source_b)[: len(labels)]
            names = [label.split(":")[0].split(" (")[0] for label in labels]  # "Domain A", "High-resolution images"
            sources = tuple(picker.source(self.viewer, name[0].lower() + name[1:])
                            for picker, name in zip(pickers, names))
            text = self.run_dir_edit.text().strip()
            if not text:
                raise ValueError("Choose a run folder.")
            run_dir = Path(text).expanduser()
        except Exception as error:  # noqa: BLE001 - pydantic's ValidationError among them
            self.report_error(f"Cannot start training: {describe_error(error)}")
            return
        checkpoint = run_dir / LAST_CHECKPOINT
        if checkpoint.is_file() and not self.resume_check.isChecked():
            self.report_error(f"{run_dir} holds a checkpoint of an earlier run. Tick 'Resume if a checkpoint "
                              "exists' to continue it, or choose another run folder.")
            return
        resuming = checkpoint.is_file()
        self.last_outcome = None
        self.loss_plot.clear()
        self.progress.setRange(0, config.steps)
        self.progress.setValue(0)
        # everything the job needs is read here, in the GUI thread; the job touches no widget or layer
        options = {"method_name": self.method_name, "config": config, "sources": sources, "run_dir": run_dir,
                   "device": self.device_combo.currentData()}
        # the trainer stops after its current step when the event is set (a checkpoint is saved)
        self._start_job(lambda report, cancel: train_job(report, cancel=cancel, **options),
                        f"{'Resuming' if resuming else 'Starting'} training in {run_dir}...", raise_on_cancel=False)

    def _on_yield(self, items: list) -> None:
        points = []
        step = total = None
        for item in items:
            kind = item[0]
            if kind == "phase":
                if not self.cancel_requested:
                    self.status_label.setText(item[1])
            elif kind == "start":
                _, step, total, history = item
                points.extend((h["step"], h) for h in history)
            elif kind == "step":
                _, step, total, losses = item
                points.append((step, losses))
            elif kind == "checkpoint":
                self.last_checkpoint = Path(item[2])
        if total is not None:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            if points and not self.cancel_requested:
                losses = points[-1][1]
                self.status_label.setText(
                    f"Step {step} / {total}: G {losses.get('G', float('nan')):.3f}, "
                    f"D_A {losses.get('D_A', float('nan')):.3f}, D_B {losses.get('D_B', float('nan')):.3f}")
        if points:
            self.loss_plot.add_points(points)

    def _on_return(self, outcome: TrainOutcome) -> None:
        self.last_result = outcome
        self.last_outcome = "cancelled" if outcome.cancelled else "done"
        self.progress.setValue(outcome.step)
        if outcome.step > outcome.start_step or not outcome.cancelled:
            self.state.set_trained_weights(self.method_name, outcome.weights)
        if outcome.cancelled:
            message = (f"Training stopped at step {outcome.step} / {outcome.total_steps}; a checkpoint is saved in "
                       f"{outcome.run_dir}. Press Train with the same run folder to resume. "
                       f"Weights so far: {outcome.weights}")
        else:
            message = f"Training finished ({outcome.step} steps). Weights: {outcome.weights}"
            if self._auto_run_dir:  # the next run gets a folder of its own
                self.run_dir_edit.setText(str(default_run_dir(self.method_name)))
        self.status_label.setText(message)
        notifications.show_info(message)

    def _after_job(self) -> None:
        self.loss_plot.redraw()
