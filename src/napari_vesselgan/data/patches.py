"""Random training patches from whole images: crops, flips and quarter turns, repeatable from a seed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from napari_vesselgan import InvalidInput
from napari_vesselgan.data.intensity import to_unit


def grey_planes(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each grey image as a 2-D array, each plane of a stack (T, Y, X) as one; ValueError for RGB."""
    planes: list[np.ndarray] = []
    for index, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] in (3, 4):
            raise InvalidInput(f"training image {index} is RGB {image.shape}; this method needs grey images")
        planes += [image] if image.ndim == 2 else list(image.reshape(-1, *image.shape[-2:]))
    return planes


def prepare_images(images: Sequence[np.ndarray], channels: int = 1) -> list[np.ndarray]:
    """Scale each whole image to [-1, 1] by its own range and arrange it as (C, H, W) float32.

    Stacks (T, Y, X) contribute each plane as an image. Raises ValueError for images of the
    wrong kind (RGB where grey is needed, empty, NaN).
    """
    if channels == 1:
        prepared = [to_unit(plane)[None] for plane in grey_planes(images)]
    else:
        prepared = []
        for index, image in enumerate(images):
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[-1] != channels:
                raise InvalidInput(f"training image {index} has shape {image.shape}; expected (Y, X, {channels})")
            prepared.append(np.moveaxis(to_unit(image), -1, 0))
    if not prepared:
        raise InvalidInput("no training images were given")
    return prepared


def random_patch(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` crop (reflect-padded if the image is smaller), randomly flipped and turned."""
    _, height, width = image.shape
    if height < size or width < size:
        pad_y, pad_x = max(0, size - height), max(0, size - width)
        image = np.pad(image, ((0, 0), (0, pad_y), (0, pad_x)), mode="reflect")
        _, height, width = image.shape
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    patch = image[:, y : y + size, x : x + size]
    if rng.random() < 0.5:
        patch = patch[:, :, ::-1]
    patch = np.rot90(patch, int(rng.integers(4)), axes=(1, 2))
    return np.ascontiguousarray(patch)


def unpaired_batches(
    domain_a: Sequence[np.ndarray], domain_b: Sequence[np.ndarray], *, patch_size: int, batch_size: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches (A, B) of independent random patches from two prepared image lists."""
    rng = np.random.default_rng(seed)
    while True:
        a = [random_patch(domain_a[int(rng.integers(len(domain_a)))], patch_size, rng) for _ in range(batch_size)]
        b = [random_patch(domain_b[int(rng.integers(len(domain_b)))], patch_size, rng) for _ in range(batch_size)]
        yield torch.from_numpy(np.stack(a)), torch.from_numpy(np.stack(b))


def paired_batches(
    inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray], *, patch_size: int, batch_size: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches (input, target) of registered random patches: the same crop, flip and turn on both."""
    if len(inputs) != len(targets):
        raise InvalidInput(f"paired training needs as many inputs as targets ({len(inputs)} vs {len(targets)})")
    for index, (a, b) in enumerate(zip(inputs, targets, strict=True)):
        if a.shape[1:] != b.shape[1:]:
            raise InvalidInput(f"pair {index}: input {a.shape[1:]} and target {b.shape[1:]} differ in size")
    rng = np.random.default_rng(seed)
    while True:
        xs, ys = [], []
        for _ in range(batch_size):
            index = int(rng.integers(len(inputs)))
            channels = inputs[index].shape[0]
            patch = random_patch(np.concatenate([inputs[index], targets[index]]), patch_size, rng)
            xs.append(patch[:channels])
            ys.append(patch[channels:])
        yield torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
