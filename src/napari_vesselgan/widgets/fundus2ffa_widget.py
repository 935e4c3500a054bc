"""Dock widget: translate an RGB fundus photo layer into a late-phase FFA image with `fundus2ffa`.

Thin over the library: ``methods.load("fundus2ffa", ...)`` and ``Method.predict`` with a
progress callback, in a napari generator worker (see ``_workers``): progress, cancel, and a
clear message on failure. The result is a new grey image layer "<input> FFA" with the input's
scale and translate; its metadata record the method, weights (and how they were trained) and
parameters. Optionally the FFA saliency map of the result is added as an overlay.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import QCheckBox, QWidget

from napari_vesselgan.widgets._method_widget import MethodWidget
from napari_vesselgan.widgets.saliency_widget import saliency_layer_kwargs

if TYPE_CHECKING:
    import napari

METHOD = "fundus2ffa"


def rgb_photo(data: Any) -> np.ndarray:
    """The layer's data as an (..., Y, X, 3) array: RGBA loses its alpha; a copy is never needed (predict reads only)."""
    data = np.asarray(data)
    if data.ndim >= 3 and data.shape[-1] == 4:
        data = data[..., :3]
    return data


def translate_job(report, *, data, load_method, tile: int | None, saliency: bool,
                  precision: str = "fp32") -> dict[str, Any]:
    """One run in the helper thread; ``report`` raises ``Cancelled`` once Cancel was pressed."""
    report(("phase", "Loading weights..."))
    method = load_method()
    report(("phase", "Translating..."))
    ffa = method.predict(rgb_photo(data), tile=tile, precision=precision,
                         progress=lambda done, total: report(("progress", done, total)))
    result = {"ffa": ffa, "metadata": method.describe(tile=tile, saliency=saliency, precision=precision),
              "saliency": None}
    if saliency:
        from napari_vesselgan.analysis import ffa_saliency

        report(("phase", "Computing the saliency map..."))
        result["saliency"] = ffa_saliency(ffa)
    return result


class Fundus2FFAWidget(MethodWidget):
    """Translate the chosen RGB fundus layer into an FFA layer; cancel adds nothing."""

    method_name = METHOD
    layer_tooltip = "RGB fundus photo layer (grey layers are not listed)"
    job_name = "Fundus to FFA"
    cancelled_status = "Cancelled; nothing was added."

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(napari_viewer, parent)
        self._build()
        self._start_watching()

    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.layer_combo).setText("Fundus photo")
        self.saliency_check = QCheckBox("Add the FFA saliency map of the result")
        form.addRow("", self.saliency_check)
        self._lay_out(form, "Translate", self.run)

    def _job_controls(self) -> tuple[QWidget, ...]:
        return (self.run_button, *self._method_controls(), self.saliency_check)

    def run(self) -> None:
        """Start translating the chosen layer (returns at once; ``run_finished`` says when it ends)."""
        chosen = self._choose_run("Choose an RGB fundus photo layer (for example File > Open Sample > VesselGAN > "
                                  "Synthetic fundus photo).")
        if chosen is None:
            return
        layer, weights, device, tile = chosen
        options = {"data": layer.data, "tile": tile, "saliency": self.saliency_check.isChecked(),
                   "precision": self.precision_combo.currentData(),
                   "load_method": lambda: self._load_method(weights, device)}
        self._start_job(lambda report, cancel: translate_job(report, **options), f"Translating {layer.name}...")

    def _on_return(self, result: dict[str, Any]) -> None:
        source = self._source
        metadata = {**result["metadata"], "source_layer": source["name"]}
        placement = self._placement()
        name = f"{source['name']} FFA"
        self._put_layer(name, result["ffa"], colormap="gray", contrast_limits=(0.0, 1.0), metadata=metadata,
                        **placement)
        if result["saliency"] is not None:
            self._put_layer(f"{name} saliency", result["saliency"],
                            **saliency_layer_kwargs(result["saliency"], {**metadata, "kind": "FFA saliency"}),
                            **placement)
        self.last_result = result
        self.last_outcome = "done"
        self.status_label.setText(f"Done in {time.perf_counter() - self._started:.1f} s: '{name}' added.")
