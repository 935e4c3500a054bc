"""What the dock widgets that run a trained method share: choosing the layer, the weights
(bundled, the last training run in this viewer, or a file), the device, tiles, precision and
the method's own options, building one typed ``PredictionRequest`` from them, running
``jobs.predict.run_prediction`` in a worker (loading the method once per choice) and putting
the ``PredictionResult`` into the viewer as layers.

A subclass sets ``method_name`` and the texts (``result_suffix``, ``starting_status``, ...)
and lays itself out in ``_build``: :meth:`MethodWidget._build_method_form` gives a form with
those controls (the method's own options built by magicgui from its declared
``options_class``), the subclass adds its own. The run's context (a
:class:`Run`: the source layer's name and placement, the start time) travels with the job and
comes back to ``_on_return`` with the result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import napari.utils.notifications as notifications
import numpy as np
from magicgui.widgets import Widget, create_widget
from napari.layers import Image
from pydantic.fields import FieldInfo
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
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
from napari_vesselgan.jobs.predict import PredictionResult, run_prediction
from napari_vesselgan.methods.options import PredictOptions
from napari_vesselgan.methods.request import DEVICE_HELP, DEVICES, PRECISION_HELP, PRECISIONS, PredictionRequest
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._layers import placed_text, put_layer
from napari_vesselgan.widgets._state import LayerWatcher, fill_layer_combo
from napari_vesselgan.widgets._workers import describe_error

if TYPE_CHECKING:
    import napari

WEIGHTS_DEFAULT, WEIGHTS_TRAINED, WEIGHTS_FILE = "default", "trained", "file"

#: How the precision combo words each of ``request.PRECISIONS``.
PRECISION_TEXTS = {"fp32": "fp32 (exact)", "auto": "auto (bf16 on GPU, fp32 on CPU)",
                   "bf16": "bf16 (faster, approximate)", "fp16": "fp16 (faster, approximate)"}


def unavailable_devices() -> dict[str, str]:
    """Devices of ``request.DEVICES`` this machine lacks, with the reason (a tooltip)."""
    missing: dict[str, str] = {}
    try:
        import torch

        if not torch.cuda.is_available():
            missing["cuda"] = "no CUDA GPU found"
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            missing["mps"] = "no Apple MPS device found"
    except Exception:  # noqa: BLE001 - offer every device if torch cannot tell
        pass
    return missing


def device_combo() -> QComboBox:
    """The command line's device choices (``request.DEVICES``); those this machine lacks are disabled."""
    combo = QComboBox()
    missing = unavailable_devices()
    for index, device in enumerate(DEVICES):
        combo.addItem(device, device)
        if device in missing:
            combo.model().item(index).setEnabled(False)
            combo.model().item(index).setToolTip(missing[device])
    combo.setToolTip(DEVICE_HELP)
    return combo


def precision_combo() -> QComboBox:
    """The command line's precision choices (``request.PRECISIONS``)."""
    combo = QComboBox()
    for precision in PRECISIONS:
        combo.addItem(PRECISION_TEXTS.get(precision, precision), precision)
    combo.setToolTip(PRECISION_HELP)
    return combo


def option_widget(name: str, info: FieldInfo) -> Widget:
    """A magicgui control for one field of an options model: its type, default, bounds and description."""
    options: dict[str, Any] = {"tooltip": info.description or ""}
    for constraint in info.metadata:
        for bound, key, step in (("ge", "min", 0), ("gt", "min", 1), ("le", "max", 0), ("lt", "max", -1)):
            value = getattr(constraint, bound, None)
            if value is not None:
                options[key] = value + step if info.annotation is int else value
    return create_widget(value=info.default, annotation=info.annotation, name=name,
                         label=name.replace("_", " ").capitalize(), options=options)


def option_widgets(options_class: type[PredictOptions]) -> dict[str, Widget]:
    """magicgui controls for the options that shape a prediction (not those that only shape files)."""
    return {name: option_widget(name, info) for name, info in options_class.model_fields.items()
            if name not in options_class.FILE_OPTIONS}


@dataclass(frozen=True)
class Run:
    """A run's context: what its result handler needs from the time it started, read from the
    input layer in the GUI thread and handed back with the result (never kept on the dock)."""

    source: str
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    contrast_limits: tuple[float, ...] | None = None
    units: tuple[Any, ...] | None = None
    #: The input the job read (a report compares it with the result).
    data: Any = field(default=None, repr=False, compare=False)
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def of(cls, layer: Any, data: Any = None) -> Run:
        """The context of a run on ``layer`` (an image or a labels layer) reading ``data``, starting now."""
        limits = getattr(layer, "contrast_limits", None)
        units = getattr(layer, "units", None)
        return cls(layer.name, tuple(layer.scale), tuple(layer.translate),
                   tuple(limits) if limits is not None else None, tuple(units) if units is not None else None, data)

    @property
    def seconds(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def placement(self, zoom: float | Sequence[float] = 1.0) -> dict[str, Any]:
        """scale / translate (and units) that put a result over its input; ``zoom`` (one value,
        or one per axis) for results with that many times the pixels per axis, placed so that
        pixel centres match the input's as bicubic resampling maps them."""
        zooms = [float(zoom)] * len(self.scale) if np.isscalar(zoom) else [float(z) for z in zoom]
        scale = tuple(s / z for s, z in zip(self.scale, zooms))
        translate = tuple(t - (s - new) / 2 for t, s, new in zip(self.translate, self.scale, scale))
        placement: dict[str, Any] = {"scale": scale, "translate": translate}
        if self.units is not None:
            placement["units"] = self.units
        return placement


class MethodWidget(JobWidget):
    """A dock widget that runs ``run_prediction`` of ``method_name`` on a chosen layer."""

    #: The registered method this widget runs.
    method_name: ClassVar[str]
    #: The tooltip of the layer chooser.
    layer_tooltip: ClassVar[str] = "Grey image layer (RGB and multiscale layers are not listed)"
    #: What the user is told when no layer is chosen.
    no_layer_hint: ClassVar[str] = "Choose an image layer."
    #: The status while it runs ("{name}": the layer's name).
    starting_status: ClassVar[str] = "Predicting {name}..."
    #: The result layer is "<input> <result_suffix>".
    result_suffix: ClassVar[str] = "result"
    #: The saliency map the dock offers (one of the method's ``saliency_kinds``; None: none) and its check box.
    saliency_kind: ClassVar[str | None] = None
    saliency_text: ClassVar[str] = "Add the saliency map"
    #: The overlay's ``kind`` in its metadata (the saliency dock tells its own maps by it).
    saliency_label: ClassVar[str] = "saliency"
    #: Whether a run also computes the explainable metrics of input and result.
    explainable_metrics: ClassVar[bool] = False
    #: Fixed display settings of the result layer (None: the input's contrast limits).
    result_display: ClassVar[dict[str, Any] | None] = None
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self.weights_file: Path | None = None
        self.last_run: Run | None = None
        self.option_widgets: dict[str, Widget] = {}
        self.saliency_check: QCheckBox | None = None
        self._method_cache: tuple[tuple, Any] | None = None
        self._build()
        self._add_export_button()
        self._start_watching()

    def _add_export_button(self) -> None:
        """"Export to BioImage.io..." under the dock's status, for a method that exports (its chosen weights)."""
        from napari_vesselgan.export.bioimageio import exportable
        from napari_vesselgan.widgets._export import ExportButton

        self.export_button: ExportButton | None = None
        if exportable(self.method_name):
            self.export_button = ExportButton(self, lambda: (self.method_name, self.weights_path()))
            layout = self.layout()
            layout.insertWidget(layout.count() - 1 if layout.count() else 0, self.export_button)

    def _build(self) -> None:
        """Lay out the dock (with :meth:`_build_method_form` and :meth:`JobWidget._lay_out`)."""
        raise NotImplementedError

    def _start_watching(self) -> None:
        """Follow the viewer's layers and training runs (once the controls exist)."""
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
        self.browse_button.setToolTip("Choose napari-vesselgan weights (.safetensors) or a BioImage.io package "
                                      "exported by napari-vesselgan (.zip)")
        self.browse_button.clicked.connect(self.choose_weights_file)
        row = QHBoxLayout()
        row.addWidget(self.weights_combo, 1)
        row.addWidget(self.browse_button)
        form.addRow("Weights", row)
        self.weights_label = QLabel()
        self.weights_label.setWordWrap(True)
        self.weights_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("", self.weights_label)

        self.device_combo = device_combo()
        form.addRow("Device", self.device_combo)

        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 16384)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("automatic")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip("Tile side for large images (0: whole image when it fits in memory)")
        form.addRow("Tile size", self.tile_spin)

        self.precision_combo = precision_combo()
        form.addRow("Precision", self.precision_combo)

        # the method's own options, as it declares them (superres's scale, fundus2video's frames)
        self.option_widgets = option_widgets(methods.method_class(self.method_name).options_class)
        for widget in self.option_widgets.values():
            form.addRow(widget.label, widget.native)
        if self.saliency_kind is not None:
            self.saliency_check = QCheckBox(self.saliency_text)
            form.addRow("", self.saliency_check)
        return form

    def _method_controls(self) -> tuple[QWidget, ...]:
        """The common controls (the method's options among them), disabled while a job runs."""
        extra = (self.saliency_check,) if self.saliency_check is not None else ()
        return (self.layer_combo, self.weights_combo, self.browse_button, self.device_combo, self.tile_spin,
                self.precision_combo, *(widget.native for widget in self.option_widgets.values()), *extra)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, *self._method_controls())

    # ----- layers -----------------------------------------------------------------------------
    def image_layers(self) -> list[Image]:
        """The layers the method takes: RGB ones for colour-input methods, else grey ones."""
        colour = methods.method_class(self.method_name).in_channels == 3
        return [layer for layer in self.viewer.layers
                if isinstance(layer, Image) and layer.rgb == colour and not layer.multiscale]

    #: Which layers the dock chooses by itself (None: any it lists); Mask to NIR-II: Labels layers.
    preferred_layer: ClassVar[Any] = None

    def _refresh_layers(self) -> None:
        try:
            fill_layer_combo(self.layer_combo, self.image_layers(), self.viewer, preferred=self.preferred_layer)
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
            "napari-vesselgan weights (*.safetensors *.zip);;All files (*)")
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

    def _load_method(self, request: PredictionRequest):
        """``methods.load`` with a one-entry cache (same file, same modification time, same device);
        ``run_prediction``'s loader."""
        weights = request.weights
        key = (str(weights), weights.stat().st_mtime_ns if weights and weights.is_file() else None, request.device)
        if self._method_cache is not None and self._method_cache[0] == key:
            return self._method_cache[1]
        method = methods.load(request.method, weights=weights, device=request.device)
        self._method_cache = (key, method)
        return method

    # ----- running ----------------------------------------------------------------------------
    def options(self) -> dict[str, Any]:
        """The method's own options as the controls show them."""
        return {name: widget.value for name, widget in self.option_widgets.items()}

    def set_option(self, name: str, value: Any) -> None:
        """Set one of the method's options (programmatic and test use)."""
        self.option_widgets[name].value = value

    def build_request(self, weights: Path | None, options: dict[str, Any] | None = None) -> PredictionRequest:
        """The typed request the controls stand for, with ``options`` over the shown ones (pydantic
        checks it, as for the command line)."""
        saliency = self.saliency_kind if self.saliency_check is not None and self.saliency_check.isChecked() else None
        return PredictionRequest(method=self.method_name, weights=weights, device=self.device_combo.currentData(),
                                 precision=self.precision_combo.currentData(), tile=self.tile_spin.value() or None,
                                 saliency=saliency, explainable_metrics=self.explainable_metrics,
                                 options={**self.options(), **(options or {})})

    def _chosen_request(self, options: dict[str, Any] | None = None) -> PredictionRequest | None:
        """The request for a new run, read in the GUI thread; None (after telling the user why)."""
        self._refresh_weight_choices()  # the bundled file may have appeared since
        try:
            return self.build_request(self.weights_path(), options)
        except ValueError as error:  # pydantic's ValidationError among them
            self.report_error(describe_error(error))
            return None

    def layer_data(self, layer: Any) -> Any:
        """What the method takes from the layer (its data, numpy or dask, the full resolution of a
        multiscale layer; never a copy)."""
        return layer.data[0] if getattr(layer, "multiscale", False) else layer.data

    def run(self) -> None:
        """Start the method on the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        if self.busy:
            return
        layer = self.selected_layer()
        if layer is None:
            self.report_error(self.no_layer_hint)
            return
        request = self._chosen_request()
        if request is None:
            return
        self.last_outcome = None
        # everything the job needs is read here, in the GUI thread; the job touches no widget or layer
        data, load = self.layer_data(layer), self._load_method
        self._start_job(lambda report, cancel: run_prediction(request, data, report, load=load),
                        self.starting_status.format(name=layer.name), context=Run.of(layer, data))

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
    def _on_return(self, result: PredictionResult, run: Run) -> None:
        """Place the result (and its saliency map) over the input; say how the run went."""
        metadata = {**result.metadata, "source_layer": run.source}
        name = f"{run.source} {self.result_suffix}"
        before = list(self.viewer.layers)
        layer = self._put_result(name, result, metadata, run)
        if result.saliency is not None:
            self._put_saliency(name, result.saliency, metadata, run)
        for note in result.notes:
            notifications.show_warning(note)
        self.last_result, self.last_run = result, run
        self._show_result(result, layer)
        self.last_outcome = "done"
        self.status_label.setText(
            f"Done in {run.seconds:.1f} s: {placed_text(layer, layer in before)}{self._done_detail(result)}.")

    def _put_result(self, name: str, result: PredictionResult, metadata: dict[str, Any], run: Run) -> Image:
        """The result layer over the input (its last two axes ``zoom`` times finer), shown as
        ``result_display`` says or with the input's contrast limits."""
        display = self.result_display or {"contrast_limits": run.contrast_limits}
        zoom = [1.0] * (len(run.scale) - 2) + [result.zoom] * 2
        return put_layer(self.viewer, name, result.output, metadata=metadata, **display, **run.placement(zoom))

    def _put_saliency(self, name: str, saliency: np.ndarray, metadata: dict[str, Any], run: Run) -> Image:
        """The saliency overlay "<name> saliency" (a dock may change this)."""
        from napari_vesselgan.widgets.saliency_widget import saliency_layer_kwargs

        kwargs = saliency_layer_kwargs(saliency, {**metadata, "kind": self.saliency_label})
        return put_layer(self.viewer, f"{name} saliency", saliency, **kwargs, **run.placement())

    def _show_result(self, result: PredictionResult, layer: Image) -> None:
        """A dock's own touches once the result is placed (a table, a time slider)."""

    def _done_detail(self, result: PredictionResult) -> str:
        """What the status adds after "'<name>' added" (for example the number of frames)."""
        return ""

    # ----- clean-up ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        self.state.trained_weights_changed.disconnect(self._on_trained_weights)
