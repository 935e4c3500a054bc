"""Dock widget: train a method on image layers, folders or synthetic data, with live loss curves.

Thin over the library: the widget builds the method's typed config (``config_class.preset``
plus the fields shown; the config checks them, patch sizes among them) and a
``jobs.train.TrainingRequest`` with one source per ``TrainingSource`` the method declares;
``jobs.train.run_training`` runs it in a napari generator worker (see ``_workers``) and
reports ``TrainingStarted`` / ``TrainingStep`` / ``CheckpointSaved`` messages. Cancel asks the trainer to stop
after the current step; it saves a checkpoint first, and Train with the same run folder
resumes from it. When a run ends its weights are recorded in the viewer's shared state, so
the denoise widget offers them as "Last training run".
"""

from __future__ import annotations

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
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_vesselgan import InvalidInput, methods
from napari_vesselgan.engine.trainer import LAST_CHECKPOINT
from napari_vesselgan.jobs.messages import CheckpointSaved, Message, TrainingStarted, TrainingStep
from napari_vesselgan.jobs.train import TrainingRequest, TrainingResult, run_training
from napari_vesselgan.methods import base
from napari_vesselgan.methods.options import TrainingSource
from napari_vesselgan.nn.pretrained import FeatureWeightsMissing, PretrainedWeightsMissing
from napari_vesselgan.widgets._export import ExportButton
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._method_widget import device_combo
from napari_vesselgan.widgets._state import LayerWatcher
from napari_vesselgan.widgets._workers import describe_error
from napari_vesselgan.widgets.loss_plot import LossPlot

if TYPE_CHECKING:
    import napari

SYNTHETIC, LAYERS, FOLDER = base.SYNTHETIC, "layers", "folder"
RUNS_HOME = Path.home() / "vesselgan-runs"


def default_run_dir(method: str) -> Path:
    """A new run folder under ``~/vesselgan-runs``."""
    return base.default_run_dir(method, RUNS_HOME)


def layers_of_kinds(viewer: Any, kinds: tuple[str, ...]) -> list[str]:
    """Names of the viewer's layers a training source takes (its ``layer_kinds``), kind by kind."""
    def takes(layer: Any, kind: str) -> bool:
        if kind == "labels":
            return isinstance(layer, Labels)
        if not isinstance(layer, Image):
            return False
        if kind == "rgb":
            return layer.rgb
        return not layer.rgb and (kind != "video" or layer.data.ndim >= 3)

    names: list[str] = []
    for kind in kinds:
        names += [layer.name for layer in viewer.layers
                  if not layer.multiscale and takes(layer, kind) and layer.name not in names]
    return names


FEATURES_PRESET, FEATURES_OFF, FEATURES_RANDOM, FEATURES_FILE = "preset", "off", "random", "file"


def feature_overrides(fields: dict[str, Any], choice: str, path: Path | None) -> dict[str, Any] | None:
    """The config fields that switch a method's feature (perceptual) losses off, to random
    features or to a weights file, read from the fields its config has; None where it has no
    such choice (``{}`` for the preset's own setting)."""
    if choice == FEATURES_PRESET:
        return {}
    if "feature_weights" in fields:  # VGG19 content / style losses, switched off by their weights
        off = {name: 0.0 for name in ("lambda_content", "lambda_global_style", "lambda_local_style") if name in fields}
        return {FEATURES_OFF: off, FEATURES_RANDOM: {"feature_weights": "random"},
                FEATURES_FILE: {"feature_weights": str(path)}}[choice]
    if "perceptual" in fields:
        literal = fields["perceptual"].annotation is not bool  # "off" / "imagenet" / "random"
        if choice == FEATURES_OFF:
            return {"perceptual": "off" if literal else False}
        if choice == FEATURES_RANDOM:
            return {"perceptual": "random"} if literal else {"perceptual": True, "perceptual_weights": "random"}
        if "perceptual_weights" in fields:  # one VGG19 file
            return {"perceptual": True, "perceptual_weights": str(path)}
    return None


def loss_text(losses: dict[str, Any]) -> str:
    """"G 1.234, D 0.456": the generator's and the discriminators' losses the run reports."""
    keys = [key for key in ("G", *sorted(k for k in losses if k.startswith("D"))) if key in losses]
    return ", ".join(f"{key} {float(losses[key]):.3f}" for key in keys)


def source_name(source: TrainingSource) -> str:
    """How messages name a source: "Domain A: low-light images" -> "domain A"."""
    name = source.label.split(":")[0].split(" (")[0]
    return name[0].lower() + name[1:]


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
        self.last_result: TrainingResult | None = None
        self._trained_method: str | None = None
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
        self.box_a, self.detail_a = self._source_box(self.source_a)
        self.box_b, self.detail_b = self._source_box(self.source_b)

        settings = self._settings = QFormLayout()
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
        self.patch_spin.setToolTip("Square training patches (a multiple of the generator's stride; the config says)")
        settings.addRow("Patch size", self.patch_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 256)
        settings.addRow("Batch size", self.batch_spin)
        self.device_combo = device_combo()
        settings.addRow("Device", self.device_combo)
        self.features_combo = QComboBox()
        self.features_combo.setToolTip(
            "The perceptual / feature losses need ImageNet weights (torch's hub cache). Without a network: "
            "switch them off, use random features (tests only), or choose a weights file")
        self.features_combo.activated.connect(self._on_features_activated)
        self.features_file: Path | None = None
        settings.addRow("Feature losses", self.features_combo)

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
        self.steps_spin.valueChanged.connect(self._show_steps)
        self.loss_plot = LossPlot()

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.box_a)
        layout.addWidget(self.box_b)
        layout.addLayout(settings)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        # after a run: its weights as a BioImage.io package (enabled once a run of an exportable method ended)
        self.export_button = ExportButton(self, self._trained_for_export)
        self.export_button.setEnabled(False)
        layout.addWidget(self.export_button)
        layout.addWidget(self.loss_plot, 1)
        self._on_method_changed()

    @staticmethod
    def _source_box(picker: SourcePicker) -> tuple[QGroupBox, QLabel]:
        """A box with a short title and the source's description wrapped inside (never clipped)."""
        box = QGroupBox()
        detail = QLabel()
        detail.setWordWrap(True)
        layout = QVBoxLayout(box)
        layout.addWidget(detail)
        layout.addWidget(picker)
        return box, detail

    @staticmethod
    def _title_and_detail(label: str) -> tuple[str, str]:
        """"Domain A: low-light images" -> ("Domain A", "low-light images"); "X (y)" -> ("X", "y")."""
        for mark in (": ", " ("):
            if mark in label:
                title, detail = label.split(mark, 1)
                return title, detail.removesuffix(")") if mark == " (" else detail
        return label, ""

    def _show_steps(self, steps: int) -> None:
        """Before a run the bar reads "0 / <Steps> steps"."""
        if not self.busy:
            self.progress.setRange(0, steps)
            self.progress.setValue(0)

    # ----- feature (perceptual) losses --------------------------------------------------------
    def _refresh_feature_choices(self) -> None:
        fields = self.config_class().model_fields
        self.features_combo.clear()
        self.features_combo.addItem("as the preset", FEATURES_PRESET)
        for choice, text in ((FEATURES_OFF, "off"), (FEATURES_RANDOM, "random features (tests only)"),
                             (FEATURES_FILE, "weights file...")):
            if feature_overrides(fields, choice, Path("x")) is not None:
                self.features_combo.addItem(text, choice)
        offered = self.features_combo.count() > 1
        self.features_combo.setEnabled(offered)
        self.features_combo.setVisible(offered)
        label = self._settings.labelForField(self.features_combo)
        if label is not None:
            label.setVisible(offered)

    def _on_features_activated(self, index: int) -> None:
        if self.features_combo.itemData(index) == FEATURES_FILE:
            path, _ = QFileDialog.getOpenFileName(self, "ImageNet VGG weights (.pth or .safetensors)",
                                                  str(Path.home()), "Weights (*.pth *.safetensors);;All files (*)")
            if path:
                self.features_file = Path(path)
            elif self.features_file is None:
                self.features_combo.setCurrentIndex(0)

    def set_feature_losses(self, choice: str, path: str | Path | None = None) -> None:
        """Choose the feature losses (programmatic and test use): "preset", "off", "random" or "file"."""
        index = self.features_combo.findData(choice)
        if index < 0:
            raise ValueError(f"{self.method_name} offers no feature-loss choice {choice!r}")
        if path is not None:
            self.features_file = Path(path)
        self.features_combo.setCurrentIndex(index)

    # ----- settings ---------------------------------------------------------------------------
    @property
    def method_name(self) -> str:
        return self.method_combo.currentData()

    def config_class(self):
        return methods.method_class(self.method_name).config_class

    def training_sources(self) -> tuple[TrainingSource, ...]:
        """The sources the chosen method declares (one picker each)."""
        return methods.method_class(self.method_name).training_sources

    def _on_method_changed(self, *_: Any) -> None:
        sources = self.training_sources()
        for box, detail, source in ((self.box_a, self.detail_a, sources[0]), (self.box_b, self.detail_b, sources[-1])):
            title, text = self._title_and_detail(source.label)
            box.setTitle(title)
            box.setToolTip(source.label)
            detail.setText(f"<small>{text}</small>" if text else "")
            detail.setVisible(bool(text))
        self.box_b.setVisible(len(sources) > 1)
        self._refresh_feature_choices()
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
        patch = self.patch_spin.value()  # the config checks it against the generator's stride
        # keep the preset's share of learning-rate decay and its checkpoint spacing, within the steps
        decay = round(steps * preset.decay_steps / preset.steps) if preset.steps else 0
        every = min(preset.checkpoint_every, steps) if preset.checkpoint_every else 0
        choice = self.features_combo.currentData() or FEATURES_PRESET
        if choice == FEATURES_FILE and self.features_file is None:
            raise ValueError("Choose the feature-loss weights file (Feature losses: weights file...).")
        features = feature_overrides(cls.model_fields, choice, self.features_file) or {}
        return cls.preset(preset_name, steps=steps, patch_size=patch, batch_size=self.batch_spin.value(),
                          decay_steps=decay, checkpoint_every=every, **features)

    # ----- layers -----------------------------------------------------------------------------
    def _refresh_layers(self) -> None:
        try:
            for picker, source in zip((self.source_a, self.source_b), self.training_sources()):
                picker.set_layer_names(layers_of_kinds(self.viewer, source.layer_kinds))
        except RuntimeError:  # the Qt side was deleted with its viewer
            return

    # ----- running ----------------------------------------------------------------------------
    def _trained_for_export(self) -> tuple[str, Path]:
        """The last run's method and weights (ValueError before any run ended)."""
        if self.last_result is None or self._trained_method is None:
            raise ValueError("Train a model first: the export writes the weights of this dock's last run.")
        return self._trained_method, self.last_result.weights

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.train_button, self.method_combo, self.preset_combo, self.steps_spin, self.patch_spin,
                self.batch_spin, self.device_combo, self.features_combo, self.run_dir_edit, self.run_dir_button,
                self.resume_check)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.source_a.set_enabled(not busy)
        self.source_b.set_enabled(not busy)

    def build_request(self) -> TrainingRequest:
        """The typed request the controls stand for; ValueError (pydantic's among them) if incomplete."""
        config = self.build_config()
        sources = self.training_sources()
        pickers = (self.source_a, self.source_b)[: len(sources)]
        chosen = tuple(picker.source(self.viewer, source_name(source)) for picker, source in zip(pickers, sources))
        text = self.run_dir_edit.text().strip()
        if not text:
            raise ValueError("Choose a run folder.")
        return TrainingRequest(self.method_name, config, chosen, Path(text).expanduser(),
                               device=self.device_combo.currentData(), resume=self.resume_check.isChecked())

    def train(self) -> None:
        """Start training (returns at once; ``run_finished`` says when it ends)."""
        if self.busy:
            return
        try:
            request = self.build_request()
        except Exception as error:  # noqa: BLE001 - pydantic's ValidationError among them
            self.report_error(f"Cannot start training: {describe_error(error)}")
            return
        run_dir = request.run_dir
        checkpoint = run_dir / LAST_CHECKPOINT
        if checkpoint.is_file() and not request.resume:
            self.report_error(f"{run_dir} holds a checkpoint of an earlier run. Tick 'Resume if a checkpoint "
                              "exists' to continue it, or choose another run folder.")
            return
        resuming = checkpoint.is_file()
        self.last_outcome = None
        self.loss_plot.clear()
        self.progress.setRange(0, request.config.steps)
        self.progress.setValue(0)
        # the request holds everything the job needs; the trainer stops after its current step when
        # the event is set (a checkpoint is saved)
        self._start_job(lambda report, cancel: run_training(request, report, cancel),
                        f"{'Resuming' if resuming else 'Starting'} training in {run_dir}...",
                        context=request.method, raise_on_cancel=False)

    def _on_yield(self, messages: list[Message]) -> None:
        """Phases as the status; each step's losses to the plot (all of them) and the bar (the last)."""
        points: list[tuple[int, dict[str, Any]]] = []
        last: TrainingStarted | TrainingStep | None = None
        for message in messages:
            if isinstance(message, TrainingStarted):
                points.extend((h["step"], h) for h in message.history)
                last = message
            elif isinstance(message, TrainingStep):
                points.append((message.step, message.losses))
                last = message
            elif isinstance(message, CheckpointSaved):
                self.last_checkpoint = message.path
            else:
                self._on_message(message)
        if last is not None:
            self.progress.setRange(0, last.total)
            self.progress.setValue(last.step)
            if points and not self.cancel_requested:
                self.status_label.setText(f"Step {last.step} / {last.total}: {loss_text(points[-1][1])}")
        if points:
            self.loss_plot.add_points(points)

    def _on_return(self, outcome: TrainingResult, method: str) -> None:
        """Share the weights with the method docks (of the method that was trained); say how it ended."""
        self.last_result, self._trained_method = outcome, method
        self.last_outcome = "cancelled" if outcome.cancelled else "done"
        self.progress.setValue(outcome.step)
        if outcome.step > outcome.start_step or not outcome.cancelled:
            self.state.set_trained_weights(method, outcome.weights)
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

    def _on_error(self, error: BaseException) -> None:
        """As every dock; a missing ImageNet file also names this dock's way out."""
        original = getattr(error, "error", error)
        if isinstance(original, (PretrainedWeightsMissing, FeatureWeightsMissing)) and self.features_combo.count() > 1:
            reason = getattr(original, "reason", str(original))
            error = InvalidInput(f"{reason} In this dock: set 'Feature losses' to 'off', or to 'weights file...' "
                                 "and choose the file.")
        super()._on_error(error)

    def _after_job(self) -> None:
        self.loss_plot.redraw()
