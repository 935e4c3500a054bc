"""Dock widget: enhance the resolution of a fluorescence image layer (2-D or a time series).

Thin over the library: the dock builds a ``PredictionRequest`` (superres's own option,
``scale``, comes from its declared options model) and ``jobs.predict.run_prediction`` runs it
in a napari generator worker. The input is either the re-upscaled image (scale 1: same size
out, laid over the input) or the low-resolution image itself (scale 4: 4x the pixels out,
placed so that it covers the input in world coordinates). The result layer's metadata records
method, weights, parameters and the source layer.
"""

from __future__ import annotations


from qtpy.QtWidgets import QLabel

from napari_vesselgan.widgets._method_widget import MethodWidget

SAME_SIZE, LOW_RESOLUTION = 1, 4


class SuperResWidget(MethodWidget):
    """Enhance a grey image layer or (T, Y, X) time series; the result is a new layer.

    Cancel stops the run at its next frame batch (or tile); no layer is added.
    """

    method_name = "superres"
    layer_tooltip = "Grey image or time-series layer to enhance (RGB and multiscale layers are not listed)"
    no_layer_hint = ("Choose a grey image layer to enhance (for example File > Open Sample > VesselGAN > "
                     "Low-resolution NIR-II image (synthetic, 16-bit)).")
    starting_status = "Enhancing {name}..."
    result_suffix = "enhanced"
    job_name = "Resolution enhancement"

    def _build(self) -> None:
        form = self._build_method_form()
        form.labelForField(self.option_widgets["scale"].native).setText("Scale (input is)")
        note = QLabel("<small>Scale 1: the image was already enlarged to the target size (bicubic), as the model "
                      "was trained. Scale 4: it is the low-resolution image; the widget enlarges it 4x (bicubic) "
                      "first. Judge the result with a line profile across vessels (the paper's test) and against "
                      "the input.</small>")
        note.setWordWrap(True)
        self._lay_out(form, "Enhance", self.run, note)

    def set_input_kind(self, scale: int) -> None:
        """1: the layer is re-upscaled; 4: it is the low-resolution image."""
        if scale not in (SAME_SIZE, LOW_RESOLUTION):
            raise ValueError(f"unknown input kind {scale!r}: use 1 or 4")
        self.set_option("scale", scale)
