"""The history buffer of generated images that CycleGAN's discriminators learn from (Shrivastava et al. 2017)."""

from __future__ import annotations

import numpy as np
import torch


class ImagePool:
    """Store up to ``size`` generated images; once full, return a stored one half of the time.

    Pass-through while filling, then for each image a 50% chance to swap it for a random
    stored image (which the new one replaces). ``size=0`` turns the pool off.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = np.random.default_rng(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() < 0.5:
                index = int(self.rng.integers(self.size))
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.cat(out, 0)
