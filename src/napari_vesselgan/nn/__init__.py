"""Network blocks shared by the methods."""

from napari_vesselgan.nn.pix2pixhd import GlobalGenerator, MultiscaleDiscriminator
from napari_vesselgan.nn.patchgan import ConditionalPatchDiscriminator, PatchDiscriminator
from napari_vesselgan.nn.resnet_generator import ResidualBlock, ResnetGenerator, init_weights, make_norm
from napari_vesselgan.nn.unet import UnetGenerator

__all__ = ["ConditionalPatchDiscriminator", "GlobalGenerator", "MultiscaleDiscriminator", "PatchDiscriminator", "UnetGenerator", "ResidualBlock", "ResnetGenerator", "init_weights", "make_norm"]
