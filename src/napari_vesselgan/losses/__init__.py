"""Loss functions shared by the methods."""

from napari_vesselgan.losses.adversarial import GANLoss

__all__ = ["GANLoss"]
