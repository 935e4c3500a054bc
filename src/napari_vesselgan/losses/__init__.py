"""Loss functions shared by the methods."""

from napari_vesselgan.losses.adversarial import GANLoss
from napari_vesselgan.losses.knowledge_attention import knowledge_attention_loss
from napari_vesselgan.losses.patchnce import PatchProjector, patch_nce_loss
from napari_vesselgan.losses.total_gradient import total_gradient_loss

__all__ = ["GANLoss", "PatchProjector", "knowledge_attention_loss", "patch_nce_loss", "total_gradient_loss"]
