"""Synthetic vessel trees, NIR-II rendering and the degradations (low light, low resolution) used for training."""

from .nir import clean_nir, lowlight_pair, lowres_pair, poisson_gaussian, render_nir, unpaired_domains
from .vessels import VesselTree, vessel_tree

__all__ = [
    "VesselTree",
    "clean_nir",
    "lowlight_pair",
    "lowres_pair",
    "poisson_gaussian",
    "render_nir",
    "unpaired_domains",
    "vessel_tree",
]
