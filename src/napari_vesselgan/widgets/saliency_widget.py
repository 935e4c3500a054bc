"""Dock widget: the FFA saliency map (card 5, Eq. 1) of an image layer as an overlay, and the
difference of the saliency maps of a generated and a real FFA image.

Thin over ``analysis.ffa_saliency``; runs in a worker (a stack is done plane by plane with
progress and cancel). The overlay shows where the image stands out from its local background:
the positive part, with an ``inferno`` colormap, additive blending (it brightens what lies
under it and leaves the rest alone) and contrast limits 0 .. the 99.5th percentile of the
positive values. The difference ``saliency(generated) - saliency(real)`` is signed: a
diverging ``bwr`` colormap with symmetric limits (+- the 99.5th percentile of |difference|),
translucent, so red shows structure the generated image has too much of and blue too little;
its MSE (the paper's saliency loss) goes into the layer's metadata and the status line.
Layers of different dtypes (a float [0, 1] translation against an 8-bit FFA image) are compared
on one [0, 1] scale (``metrics.compare.common_scale``; the map scales with the image, so each
map is multiplied by its image's factor); the metadata records the scale used.

RGB layers are reduced to their green channel first (the channel fundus cameras and FFA
frames carry the vessels in); the map is on the layer's own intensity scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
from qtpy.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from napari_vesselgan.jobs.messages import Progress
from napari_vesselgan.widgets._job_widget import JobWidget
from napari_vesselgan.widgets._state import LayerWatcher, fill_layer_combo

if TYPE_CHECKING:
    import napari

NO_LAYER = "(none: saliency map only)"


def saliency_layer_kwargs(saliency: np.ndarray, metadata: dict[str, Any]) -> dict[str, Any]:
    """Layer settings for a saliency overlay: inferno, additive, 0 .. 99.5th percentile of the positive part."""
    positive = saliency[saliency > 0]
    top = float(np.percentile(positive, 99.5)) if positive.size else 1.0
    return {"colormap": "inferno", "blending": "additive", "contrast_limits": (0.0, top if top > 0 else 1.0),
            "opacity": 0.8, "metadata": metadata}


def difference_layer_kwargs(difference: np.ndarray, metadata: dict[str, Any]) -> dict[str, Any]:
    """Layer settings for a signed saliency difference: bwr, symmetric limits, translucent."""
    top = float(np.percentile(np.abs(difference), 99.5)) or 1.0
    return {"colormap": "bwr", "blending": "translucent", "contrast_limits": (-top, top), "opacity": 0.7,
            "metadata": metadata}


def grey(data: Any, rgb: bool) -> np.ndarray:
    """The layer's data as grey planes: RGB(A) -> the green channel."""
    data = np.asarray(data)
    return data[..., 1] if rgb else data


def saliency_job(report, *, image, reference, params: dict[str, Any]) -> dict[str, Any]:
    """Saliency of ``image`` (and of ``reference``, and their difference), plane by plane."""
    from napari_vesselgan.analysis import ffa_saliency

    if reference is not None and reference.shape != image.shape:
        raise ValueError(f"the two layers differ in shape ({image.shape} vs {reference.shape}); "
                         "the saliency difference needs registered images of one size")
    planes = image.reshape(-1, *image.shape[-2:])
    total = len(planes) * (2 if reference is not None else 1)
    maps = []
    for index, plane in enumerate(planes):
        maps.append(ffa_saliency(plane, **params))
        report(Progress(index + 1, total))
    saliency = np.stack(maps).reshape(image.shape).astype(np.float32)
    result: dict[str, Any] = {"saliency": saliency, "difference": None, "mse": None}
    if reference is not None:
        ref_maps = []
        for index, plane in enumerate(reference.reshape(-1, *reference.shape[-2:])):
            ref_maps.append(ffa_saliency(plane, **params))
            report(Progress(len(planes) + index + 1, total))
        from napari_vesselgan.metrics.compare import common_scale, dtype_note

        ref_saliency = np.stack(ref_maps).reshape(image.shape).astype(np.float32)
        scales = common_scale(reference, image)
        if scales is None:
            difference = saliency - ref_saliency
        else:  # G and the median commute with value * factor + offset: the map scales by factor
            difference = (saliency * np.float32(scales[1].factor) - ref_saliency * np.float32(scales[0].factor))
        result["difference"] = difference
        result["scale"] = dtype_note(reference, image, reference_name="reference", test_name="image")
        result["mse"] = float(np.mean(difference.astype(np.float64) ** 2))
    return result


class SaliencyWidget(JobWidget):
    """Add the FFA saliency map of an image layer, optionally its difference from a real image's."""

    job_name = "Saliency"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self._source: dict[str, Any] = {}
        self._build()
        self._watcher = LayerWatcher(napari_viewer, self._refresh_layers)
        self._refresh_layers()

    def _build(self) -> None:
        form = QFormLayout()
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Image layer (e.g. a generated FFA image); RGB layers use their green channel")
        form.addRow("Image", self.layer_combo)
        self.reference_combo = QComboBox()
        self.reference_combo.setToolTip("Real FFA image registered with the first: adds the difference of the maps")
        form.addRow("Compare with", self.reference_combo)
        self.median_spin = QSpinBox()
        self.median_spin.setRange(3, 301)
        self.median_spin.setSingleStep(2)
        self.median_spin.setValue(51)
        self.median_spin.setSuffix(" px")
        self.median_spin.setToolTip("Background median size (odd): large against vessels, small against the disc")
        form.addRow("Median", self.median_spin)
        self.gaussian_spin = QSpinBox()
        self.gaussian_spin.setRange(1, 31)
        self.gaussian_spin.setSingleStep(2)
        self.gaussian_spin.setValue(7)
        self.gaussian_spin.setSuffix(" px")
        form.addRow("Gaussian", self.gaussian_spin)
        self.a_spin = QDoubleSpinBox()
        self.a_spin.setRange(0.01, 1000.0)
        self.a_spin.setValue(1.0)
        self.a_spin.setToolTip("Contrast factor a")
        form.addRow("a", self.a_spin)
        self._lay_out(form, "Add saliency", self.run)

    def image_layers(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if isinstance(layer, Image) and not layer.multiscale
                and layer.metadata.get("kind") not in ("FFA saliency", "FFA saliency difference")]

    def _refresh_layers(self) -> None:
        try:
            layers = self.image_layers()
            fill_layer_combo(self.layer_combo, layers, self.viewer)
            fill_layer_combo(self.reference_combo, layers, self.viewer, none_item=NO_LAYER)
        except RuntimeError:
            return

    def set_layers(self, image: str, reference: str | None = None) -> None:
        self.layer_combo.setCurrentIndex(self.layer_combo.findText(image))
        self.reference_combo.setCurrentIndex(self.reference_combo.findText(reference) if reference else 0)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, self.layer_combo, self.reference_combo, self.median_spin, self.gaussian_spin,
                self.a_spin)

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        self.progress.setRange(0, 0 if busy else 1)
        self.progress.setValue(0)

    def run(self) -> None:
        if self.busy:
            return
        layer = self.layer_combo.currentData()
        if layer is None:
            self.report_error("Choose an image layer.")
            return
        reference = self.reference_combo.currentData()
        if reference is layer:
            self.report_error("Compare with a different layer (the real FFA image).")
            return
        median, gaussian = self.median_spin.value(), self.gaussian_spin.value()
        if median % 2 == 0 or gaussian % 2 == 0:
            self.report_error("The median and Gaussian sizes must be odd.")
            return
        params = {"median_size": median, "gaussian_size": gaussian, "a": self.a_spin.value()}
        self._source = {"name": layer.name, "reference": reference.name if reference is not None else None,
                        "scale": tuple(layer.scale)[-2:], "translate": tuple(layer.translate)[-2:],
                        "params": params}
        options = {"image": grey(layer.data, layer.rgb),
                   "reference": grey(reference.data, reference.rgb) if reference is not None else None,
                   "params": params}
        self.last_outcome = None
        self._start_job(lambda report, cancel: saliency_job(report, **options), f"Saliency of {layer.name}...")

    def _on_return(self, result: dict[str, Any], context: Any = None) -> None:
        source = self._source
        saliency = result["saliency"]
        lead = saliency.ndim - 2
        placement = {"scale": (1.0,) * lead + source["scale"], "translate": (0.0,) * lead + source["translate"]}
        base = {"napari_vesselgan": "ffa_saliency", "source_layer": source["name"], "parameters": source["params"]}
        self.viewer.add_image(saliency, name=f"{source['name']} saliency",
                              **saliency_layer_kwargs(saliency, {**base, "kind": "FFA saliency"}), **placement)
        message = f"'{source['name']} saliency' added."
        if result["difference"] is not None:
            meta = {**base, "kind": "FFA saliency difference", "reference_layer": source["reference"],
                    "saliency_mse": result["mse"], "intensity_scale": result.get("scale")}
            self.viewer.add_image(result["difference"], name=f"{source['name']} - {source['reference']} saliency",
                                  **difference_layer_kwargs(result["difference"], meta), **placement)
            message += (f" Saliency MSE vs '{source['reference']}': {result['mse']:.4g} "
                        f"({result['scale'].split(': ', 1)[1]}).")
        self.last_result = result
        self.last_outcome = "done"
        self.status_label.setText(message)
