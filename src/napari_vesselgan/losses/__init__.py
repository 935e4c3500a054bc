"""Loss functions shared by the methods."""

from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.losses.total_gradient import total_gradient_loss

__all__ = ["GANLoss", "total_gradient_loss"]
