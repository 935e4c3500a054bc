"""Analysis maps: explanations of the networks' outputs, and (later) FFA saliency, knowledge masks, profiles."""

from napari_vesselgan.analysis.ffa_saliency import ffa_saliency
from napari_vesselgan.analysis.gradient_saliency import gradient_saliency

__all__ = ["ffa_saliency", "gradient_saliency"]
