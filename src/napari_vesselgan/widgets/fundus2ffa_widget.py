"""Dock widget: translate an RGB fundus photo layer into a late-phase FFA image with `fundus2ffa`.

Thin over the library: the dock builds a ``PredictionRequest`` (fundus2ffa's own options from
its declared options model; the "ffa" saliency map if ticked) and ``jobs.predict.run_prediction``
runs it in a napari generator worker (see ``_workers``): progress, cancel, and a clear message
on failure. The result is a new grey image layer "<input> FFA" with the input's scale and
translate; its metadata record the method, weights (and how they were trained) and
parameters. Optionally the FFA saliency map of the result is added as an overlay.
"""

from __future__ import annotations



from napari_vesselgan.widgets._method_widget import MethodWidget

METHOD = "fundus2ffa"


class Fundus2FFAWidget(MethodWidget):
    """Translate the chosen RGB fundus layer into an FFA layer; cancel adds nothing."""

    method_name = METHOD
    layer_tooltip = "RGB fundus photo layer (grey layers are not listed)"
    no_layer_hint = ("Choose an RGB fundus photo layer (for example File > Open Sample > VesselGAN > "
                     "Colour fundus photo (synthetic, pairs with the FFA sample)).")
    starting_status = "Translating {name}..."
    result_suffix = "FFA"
    saliency_kind = "ffa"
    saliency_text = "Add the FFA saliency map of the result"
    saliency_label = "FFA saliency"
    result_display = {"colormap": "gray", "contrast_limits": (0.0, 1.0)}
    job_name = "Fundus to FFA"

    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.layer_combo).setText("Fundus photo")
        self._lay_out(form, "Translate", self.run)
