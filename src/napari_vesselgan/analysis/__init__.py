"""Analysis maps: explanations of the networks' outputs, FFA saliency, knowledge masks, profiles."""

from napari_vesselgan.analysis.ffa_saliency import ffa_saliency
from napari_vesselgan.analysis.gradient_saliency import gradient_saliency
from napari_vesselgan.analysis.histogram import intensity_histogram
from napari_vesselgan.analysis.knowledge_mask import knowledge_mask
from napari_vesselgan.analysis.profile import line_profile, sample_points

__all__ = ["ffa_saliency", "gradient_saliency", "intensity_histogram", "knowledge_mask", "line_profile", "sample_points"]
