"""Analysis maps: explanations of the networks' outputs, and (later) FFA saliency, knowledge masks, profiles."""

from napari_vesselgan.analysis.gradient_saliency import gradient_saliency

__all__ = ["gradient_saliency"]
