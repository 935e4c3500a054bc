"""Distribution metrics of image sets: FID and KID on Inception-v3 pool features.

* FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the two sets'
  2048-d features, ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The trace of the
  matrix square root is taken as the sum of the square roots of the eigenvalues of
  ``S_a^(1/2) S_b S_a^(1/2)`` (symmetric, positive semi-definite: ``eigh`` only, no complex
  round-off as with a general ``sqrtm``); covariances are unbiased (ddof 1), as in pytorch-fid.
* KID (Bińkowski et al. 2018): the unbiased squared MMD with the polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets of both sets (100 subsets of
  ``min(1000, n_a, n_b)`` features by default, drawn without replacement, seeded) and reported
  with its standard deviation over the subsets. Papers print KID x 100; :func:`distribution_metrics`
  returns the raw values and ``kid_x100`` fields.

Features come from :func:`napari_vesselgan.nn.inception.fid_inception` (the standard FID
weights, docs/design.md's weight rules: hub cache, a file, or ``"random"`` explicitly for tests).
Images enter in [0, 1]: integer images by their dtype's range, float images as they are when
they lie in [0, 1], otherwise by their own min..max (which :func:`to_unit_image` documents).
Sets are folders of images, stacks ``(N, Y, X)`` / ``(N, Y, X, 3)`` or lists of images of any
sizes (each is resized to 299 x 299 by the network). FID needs at least 2 images per set
(it is strongly biased below a few thousand; compare FIDs only between sets of equal size).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from napari_vesselgan import InvalidInput

__all__ = [
    "frechet_distance",
    "fid_from_features",
    "kid_from_features",
    "to_unit_image",
    "image_set",
    "inception_features",
    "distribution_metrics",
]


# ------------------------------------------------------------------------------------ maths
def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b) (covariances symmetric PSD)."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a, sigma_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise InvalidInput(f"feature sizes differ: {mu_a.shape} vs {mu_b.shape}")
    root_a = _psd_sqrt(sigma_a)
    middle = root_a @ sigma_b @ root_a
    middle = (middle + middle.T) / 2
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None))))
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def _features(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise InvalidInput(f"{name} needs at least 2 feature vectors as an (N, D) array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{name} features contain NaN or infinite values")
    return arr


def fid_from_features(features_a, features_b) -> float:
    """FID of two feature sets (N_a, D) and (N_b, D)."""
    a, b = _features(features_a, "set A"), _features(features_b, "set B")
    if a.shape[1] != b.shape[1]:
        raise InvalidInput(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int) -> float:
    d = x.shape[1]
    m = x.shape[0]
    k_xx = (x @ x.T / d + 1.0) ** degree
    k_yy = (y @ y.T / d + 1.0) ** degree
    k_xy = (x @ y.T / d + 1.0) ** degree
    off = m * (m - 1)
    return float((k_xx.sum() - np.trace(k_xx)) / off + (k_yy.sum() - np.trace(k_yy)) / off - 2.0 * k_xy.mean())


def kid_from_features(features_a, features_b, *, subsets: int = 100, subset_size: int = 1000,
                      degree: int = 3, seed: int = 0) -> tuple[float, float, int]:
    """KID: ``(mean, std, subset_size used)`` of the unbiased MMD^2 (polynomial kernel of
    ``degree``) over ``subsets`` random subsets of ``min(subset_size, N_a, N_b)`` features."""
    a, b = _features(features_a, "set A"), _features(features_b, "set B")
    if a.shape[1] != b.shape[1]:
        raise InvalidInput(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    if subsets < 1:
        raise InvalidInput(f"subsets must be at least 1, got {subsets}")
    m = min(subset_size, a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        ia = rng.choice(a.shape[0], m, replace=False)
        ib = rng.choice(b.shape[0], m, replace=False)
        values.append(_mmd2_unbiased(a[ia], b[ib], degree))
    return float(np.mean(values)), float(np.std(values)), m


# --------------------------------------------------------------------------------- images
def to_unit_image(image) -> np.ndarray:
    """float32 (1 or 3, Y, X) in [0, 1]: integers by their dtype's range, floats in [0, 1] as
    they are, other floats by their own min..max (a constant one becomes 0). RGBA drops alpha."""
    arr = np.asarray(image)
    if arr.size == 0:
        raise InvalidInput(f"an image is empty (shape {arr.shape})")
    colour = arr.ndim == 3 and arr.shape[-1] in (3, 4)
    if arr.ndim != 2 and not colour:
        raise InvalidInput(f"expected a 2-D grey or (Y, X, 3) colour image, got shape {arr.shape}")
    if colour:
        arr = arr[..., :3]
    if arr.dtype.kind == "b":
        unit = arr.astype(np.float32)
    elif arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        unit = ((arr.astype(np.float64) - info.min) / (info.max - info.min)).astype(np.float32)
    elif arr.dtype.kind == "f":
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise InvalidInput("an image contains NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            values = (values - low) / (high - low) if high > low else np.zeros_like(values)
        unit = values.astype(np.float32)
    else:
        raise InvalidInput(f"cannot use a {arr.dtype} image")
    return np.moveaxis(unit, -1, 0) if colour else unit[None]


def image_set(source, *, rgb: bool | None = None) -> list[np.ndarray]:
    """The images of a set: a folder (every still image in it, sorted by name; a stack file
    gives its frames), a stack file, a stack array ``(N, Y, X)`` / ``(N, Y, X, 3)``, or a sequence of images.

    ``rgb`` says whether a 3-D array's last axis is colour (None: a last axis of 3 or 4 is).
    """
    if isinstance(source, (str, os.PathLike)):
        from ..data.sources import IMAGE_SUFFIXES
        from ..io import read_image

        path = Path(source)
        if path.is_file():  # a stack file: its frames
            return image_set(read_image(path))
        if not path.is_dir():
            raise InvalidInput(f"{path}: no such folder or image file")
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InvalidInput(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        images: list[np.ndarray] = []
        for file in files:
            images += image_set(read_image(file))
        return images
    if isinstance(source, np.ndarray) or hasattr(source, "__array__") and not isinstance(source, (list, tuple)):
        arr = np.asarray(source)
        colour = (arr.ndim in (3, 4) and arr.shape[-1] in (3, 4)) if rgb is None else bool(rgb)
        spatial = arr.ndim - (1 if colour else 0)
        if spatial == 2:
            return [arr]
        if spatial == 3:
            return list(arr)
        raise InvalidInput(f"expected an image or a stack of images, got shape {arr.shape}")
    return [np.asarray(item) for item in source]


def inception_features(images: Sequence[np.ndarray], *, network=None, weights=None, device: str = "auto",
                       batch_size: int = 16, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, 2048) float64 Inception pool features of ``images`` (see :func:`to_unit_image`).

    ``network`` defaults to ``fid_inception(weights)``; ``progress(done, total)`` after each
    batch (it may raise to cancel).
    """
    import torch
    import torch.nn.functional as F

    from ..engine.device import resolve_device
    from ..nn.inception import INPUT_SIZE, fid_inception

    images = list(images)
    if not images:
        raise InvalidInput("an image set is empty")
    dev = resolve_device(device)
    net = (network if network is not None else fid_inception(weights)).to(dev).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = []
            for image in images[start:start + batch_size]:
                unit = torch.from_numpy(to_unit_image(image))
                if unit.shape[0] == 1:
                    unit = unit.expand(3, -1, -1)
                batch.append(F.interpolate(unit[None], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                                           align_corners=False)[0])
            out.append(net(torch.stack(batch).to(dev)).double().cpu().numpy())
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    return np.concatenate(out)


def _weights_label(weights, network) -> str:
    if network is not None:
        return "a network given by the caller"
    if weights is None:
        return "FID Inception (pt_inception-2015-12-05-6726825d.pth, hub cache)"
    return str(weights)


def distribution_metrics(set_a, set_b, *, weights=None, network=None, device: str = "auto",
                         kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0,
                         batch_size: int = 16, progress: Callable[[int, int], None] | None = None) -> dict:
    """FID and KID between two image sets (folders, stacks or lists: see :func:`image_set`).

    Returns ``{"fid", "kid", "kid_std", "kid_x100", "kid_std_x100", "n_a", "n_b",
    "kid_subsets", "kid_subset_size", "weights"}``. ``weights``: None (hub cache / download),
    a file, or ``"random"`` (meaningless numbers, for tests); the error for missing weights
    names the file to fetch.
    """
    from ..nn.inception import fid_inception

    images_a = image_set(set_a) if not isinstance(set_a, list) else set_a
    images_b = image_set(set_b) if not isinstance(set_b, list) else set_b
    for name, images in (("set A", images_a), ("set B", images_b)):
        if len(images) < 2:
            raise InvalidInput(f"{name} has {len(images)} image(s); FID and KID need at least 2 per set")
    net = network if network is not None else fid_inception(weights)
    total = len(images_a) + len(images_b)

    def report(offset: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, _total: progress(offset + done, total)

    fa = inception_features(images_a, network=net, device=device, batch_size=batch_size, progress=report(0))
    fb = inception_features(images_b, network=net, device=device, batch_size=batch_size,
                            progress=report(len(images_a)))
    kid, kid_std, m = kid_from_features(fa, fb, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return {
        "fid": fid_from_features(fa, fb),
        "kid": kid,
        "kid_std": kid_std,
        "kid_x100": 100.0 * kid,
        "kid_std_x100": 100.0 * kid_std,
        "n_a": len(images_a),
        "n_b": len(images_b),
        "kid_subsets": kid_subsets,
        "kid_subset_size": m,
        "weights": _weights_label(weights, network),
    }
