"""One typed prediction request, built and validated the same way by the command line and the widgets.

A request names the method and its weights, where and how precisely to run (device,
precision), how to cut large images (tile, halo), what to compute beside the result (a
saliency map, the explainable metrics) and the method's own options, checked against the
options model the method declares. ``jobs.predict.run_prediction`` carries it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

from napari_vesselgan import InvalidInput
from napari_vesselgan.methods.options import PredictOptions

#: Where prediction runs: auto = CUDA, then Apple's MPS, then the CPU.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
#: Arithmetic: fp32 is exact; auto = bf16 on CUDA, fp32 elsewhere; bf16 / fp16 are faster and approximate.
PRECISIONS: tuple[str, ...] = ("fp32", "auto", "bf16", "fp16")
DEVICE_HELP = "auto: CUDA if there is a GPU, else Apple's MPS, else the CPU"
PRECISION_HELP = "fp32 is exact; auto = bf16 on CUDA, fp32 on CPU; bf16 and fp16 are faster and approximate"
TILE_HELP = "tile side in pixels for large images (default: the whole image when it fits in memory)"


class PredictionRequest(BaseModel):
    """Everything one prediction needs besides the image."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    method: str = Field(description="The registered method's name.")
    weights: Path | None = Field(None, description="A checkpoint of ours or a BioImage.io package we exported; None takes "
                                                 "the bundled default weights.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description=DEVICE_HELP)
    precision: Literal["fp32", "auto", "bf16", "fp16"] = Field("fp32", description=PRECISION_HELP)
    tile: int | None = Field(None, ge=16, description=TILE_HELP)
    halo: int | None = Field(None, ge=0, description="Overlap added around each tile (default: the method's exact halo).")
    saliency: str | None = Field(None, description="Also compute a saliency map of this kind (the method's kinds).")
    explainable_metrics: bool = Field(False, description="Also compute the explainable metrics of input and result.")
    options: SerializeAsAny[PredictOptions] = Field(default_factory=PredictOptions, description="The method's own options.")

    @model_validator(mode="before")
    @classmethod
    def _typed_options(cls, values: Any) -> Any:
        """Validate ``options`` (a dict or a model) against the options model the method declares."""
        if not isinstance(values, dict) or "method" not in values:
            return values
        from napari_vesselgan.methods import method_class

        method = method_class(values["method"])
        options = values.get("options") or {}
        if isinstance(options, PredictOptions):
            options = options.model_dump()
        values = {**values, "options": method.options_class.model_validate(options)}
        kind = values.get("saliency")
        if kind is not None and kind not in method.saliency_kinds:
            offered = ", ".join(method.saliency_kinds) or "none"
            raise InvalidInput(f"{values['method']} offers no {kind!r} saliency map (it offers: {offered})")
        return values

    def predict_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Method.predict`` (tile, halo, precision and the method's options)."""
        return {"tile": self.tile, "halo": self.halo, "precision": self.precision, **self.options.predict_kwargs()}

    def describe(self) -> dict[str, Any]:
        """The request's settings for a result's metadata."""
        return {"tile": self.tile, "halo": self.halo, "precision": self.precision, "device": self.device,
                "saliency": self.saliency, **self.options.model_dump()}
