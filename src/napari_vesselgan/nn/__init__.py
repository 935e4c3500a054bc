"""Network blocks shared by the methods."""

from napari_vesselgan.nn.patchgan import PatchDiscriminator
from napari_vesselgan.nn.resnet_generator import ResidualBlock, ResnetGenerator, init_weights, make_norm

__all__ = ["PatchDiscriminator", "ResidualBlock", "ResnetGenerator", "init_weights", "make_norm"]
