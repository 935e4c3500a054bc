"""napari sample data (named in napari.yaml), as LayerDataTuples, without importing napari.

The synthetic samples are the committed files in the repository's ``sample_data/`` folder, made
by ``scripts/make_sample_data.py`` from :func:`make_samples`. Where that folder is absent (an
installed wheel) the same arrays are recomputed from the same seeds, so both routes give
identical data. All synthetic samples share one vessel tree: the mask, the NIR-II image, its
low-light version and its 4x low-resolution version pair pixel for pixel.

The synthetic colour fundus photo, its late-phase FFA image and its FFA video (T, Y, X) show
one more eye, with its own size. The fundus sample is real: ``skimage.data.retina()``, bundled
with scikit-image (CC0).

The real NIR sample is one in-vivo mouse frame of Ma et al. (PNAS 2021, BSD-2-Clause): the real
NIR-IIa image and the NIR-IIb-like image the published CycleGAN made of it. Real images cannot be
regenerated, so they are package data (``napari_vesselgan/sample_data/nir2-mouse``, which the
repository's ``sample_data/nir2-mouse`` links to) and install with the wheel.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from .nir import lowlight_pair, lowres_pair
from .vessels import vessel_tree

__all__ = [
    "SAMPLE_SEED",
    "SAMPLE_SHAPE",
    "LOWRES_SCALE",
    "SAMPLE_FILES",
    "sample_data_dir",
    "make_samples",
    "sample_mask",
    "sample_nir",
    "sample_lowlight_nir",
    "sample_lowres_nir",
    "sample_fundus",
    "sample_synthetic_fundus",
    "sample_synthetic_ffa",
    "sample_synthetic_ffa_video",
    "REAL_SAMPLE_FRAME",
    "real_sample_dir",
    "real_sample_pair",
    "sample_real_nir",
]

SAMPLE_SEED = 7
SAMPLE_SHAPE = (256, 256)
LOWRES_SCALE = 4
# sample key -> file name in sample_data/
SAMPLE_FILES = {
    "vessel_mask": "vessel_mask.tif",
    "nir": "nir.tif",
    "lowlight_nir": "lowlight_nir.tif",
    "lowres_nir": "lowres_nir.tif",
    "synthetic_fundus": "synthetic_fundus.tif",
    "synthetic_ffa": "synthetic_ffa.tif",
    "synthetic_ffa_video": "synthetic_ffa_video.tif",
}
# The synthetic fundus / FFA pair: its own size and a leakage kind that shows in the saliency map.
FUNDUS_SAMPLE_SHAPE = (512, 512)
FUNDUS_SAMPLE_LEAKAGE = "large_focal"
# The FFA video sample of that eye: arterial, venous and late phase, 4 frames each.
FFA_VIDEO_SAMPLE_FRAMES = 12

LayerDataTuple = tuple[np.ndarray, dict[str, Any], str]

#: The nir2-mouse frame shipped as the real sample.
REAL_SAMPLE_FRAME = 53
REAL_SAMPLE_CITATION = ("Ma Z, Wang F, Wang W, Zhong Y, Dai H. Deep learning for in vivo near-infrared imaging. "
                        "PNAS 118(1):e2021446118 (2021); images from github.com/zhuoranzma/"
                        "Deep-learning-for-in-vivo-near-infrared-imaging (BSD-2-Clause)")


def sample_data_dir() -> Path:
    """The repository's ``sample_data/`` folder (src/napari_vesselgan/data -> ../../../sample_data)."""
    return Path(__file__).resolve().parents[3] / "sample_data"


def real_sample_dir() -> Path:
    """The installed real NIR sample's folder (package data, present in a wheel too)."""
    return Path(__file__).resolve().parent.parent / "sample_data" / "nir2-mouse"


def real_sample_pair() -> tuple[np.ndarray, np.ndarray]:
    """(real NIR-IIa image, published NIR-IIb-like image) of frame :data:`REAL_SAMPLE_FRAME`, uint8."""
    from ..io.readers import read_image

    folder = real_sample_dir()
    return (read_image(folder / f"NIR-IIa_{REAL_SAMPLE_FRAME}.png"),
            read_image(folder / f"NIR-IIb_{REAL_SAMPLE_FRAME}.png"))


def make_samples() -> dict[str, np.ndarray]:
    """All synthetic samples from the fixed seed: keys as in :data:`SAMPLE_FILES`.

    vessel_mask uint8 0/1, nir uint16 (high quality), lowlight_nir uint16 (same tree and clean
    image, 1% of the photons), lowres_nir uint16 (nir bicubic-downsampled 4x), synthetic_fundus
    uint8 (512, 512, 3) and synthetic_ffa uint8 (512, 512), a registered colour fundus / late-phase
    FFA pair (``data.fundus.fundus_pair``, same seed, large focal leakage), and
    synthetic_ffa_video uint8 (12, 512, 512), the FFA video of that eye (``render_ffa_video``).
    """
    from .fundus import fundus_pair, render_ffa_video

    pair = fundus_pair(FUNDUS_SAMPLE_SHAPE, SAMPLE_SEED, leakage=FUNDUS_SAMPLE_LEAKAGE)
    tree = vessel_tree(SAMPLE_SHAPE, SAMPLE_SEED)
    low, high = lowlight_pair(SAMPLE_SHAPE, SAMPLE_SEED)
    lr_small, _, hr = lowres_pair(SAMPLE_SHAPE, SAMPLE_SEED, scale=LOWRES_SCALE)
    if not np.array_equal(hr, high):  # both are render_nir(tree, seed); guard the pairing
        raise AssertionError("sample NIR images of lowlight_pair and lowres_pair differ")
    return {
        "vessel_mask": tree.mask.astype(np.uint8),
        "nir": high,
        "lowlight_nir": low,
        "lowres_nir": lr_small,
        "synthetic_fundus": np.rint(pair.fundus * 255).astype(np.uint8),
        "synthetic_ffa": np.rint(pair.ffa * 255).astype(np.uint8),
        "synthetic_ffa_video": np.rint(
            render_ffa_video(pair.anatomy, SAMPLE_SEED, frames=FFA_VIDEO_SAMPLE_FRAMES) * 255).astype(np.uint8),
    }


@functools.lru_cache(maxsize=1)
def _generated() -> dict[str, np.ndarray]:
    return make_samples()


def _load(key: str) -> tuple[np.ndarray, dict[str, Any]]:
    """One sample array (read-only copy semantics: callers get a fresh array) and its provenance."""
    path = sample_data_dir() / SAMPLE_FILES[key]
    provenance: dict[str, Any] = {
        "synthetic": True,
        "generator": "napari_vesselgan.data.samples.make_samples",
        "seed": SAMPLE_SEED,
    }
    if path.is_file():
        from ..io.readers import read_image

        provenance["source"] = str(path)
        return read_image(path), provenance
    provenance["source"] = "generated (sample_data/ not found)"
    return _generated()[key].copy(), provenance


def sample_mask() -> list[LayerDataTuple]:
    """The synthetic vessel mask as a Labels layer (uint8 0/1)."""
    data, meta = _load("vessel_mask")
    return [(data.astype(np.uint8), {"name": "vessel mask (synthetic)", "metadata": meta}, "labels")]


def sample_nir() -> list[LayerDataTuple]:
    """The synthetic high-quality 16-bit NIR-II image of the sample tree."""
    data, meta = _load("nir")
    return [(data, {"name": "NIR-II (synthetic)", "metadata": meta}, "image")]


def sample_lowlight_nir() -> list[LayerDataTuple]:
    """The low-light (1% photons) version of :func:`sample_nir`, pixel-aligned with it."""
    data, meta = _load("lowlight_nir")
    meta["pairs_with"] = SAMPLE_FILES["nir"]
    return [(data, {"name": "NIR-II low-light (synthetic)", "metadata": meta}, "image")]


def sample_lowres_nir() -> list[LayerDataTuple]:
    """The 4x bicubic-downsampled :func:`sample_nir`, scaled and shifted to overlay it in napari.

    skimage's resize puts low-resolution pixel i at the centre of high-resolution pixels
    4i..4i+3, i.e. at 4i + 1.5: hence scale 4 and translate 1.5.
    """
    data, meta = _load("lowres_nir")
    meta["pairs_with"] = SAMPLE_FILES["nir"]
    meta["scale_factor"] = LOWRES_SCALE
    offset = (LOWRES_SCALE - 1) / 2.0
    kwargs = {
        "name": "NIR-II low-resolution (synthetic)",
        "metadata": meta,
        "scale": (float(LOWRES_SCALE),) * 2,
        "translate": (offset, offset),
    }
    return [(data, kwargs, "image")]


def sample_fundus() -> list[LayerDataTuple]:
    """A real colour fundus photograph, ``skimage.data.retina()`` (1411 x 1411 RGB, CC0)."""
    from skimage import data as skdata

    meta = {
        "synthetic": False,
        "source": "skimage.data.retina() (scikit-image; CC0; Häggström, Wikimedia Commons)",
    }
    return [(skdata.retina(), {"name": "fundus (skimage retina)", "metadata": meta, "rgb": True}, "image")]


def sample_synthetic_fundus() -> list[LayerDataTuple]:
    """The synthetic colour fundus photo (8-bit RGB), registered with :func:`sample_synthetic_ffa`."""
    data, meta = _load("synthetic_fundus")
    meta.update(pairs_with=SAMPLE_FILES["synthetic_ffa"], leakage=FUNDUS_SAMPLE_LEAKAGE)
    return [(data, {"name": "fundus (synthetic)", "metadata": meta, "rgb": True}, "image")]


def sample_synthetic_ffa() -> list[LayerDataTuple]:
    """The late-phase FFA image (8-bit grey) of the synthetic fundus sample's eye."""
    data, meta = _load("synthetic_ffa")
    meta.update(pairs_with=SAMPLE_FILES["synthetic_fundus"], leakage=FUNDUS_SAMPLE_LEAKAGE)
    return [(data, {"name": "FFA late phase (synthetic)", "metadata": meta, "colormap": "gray"}, "image")]


def sample_synthetic_ffa_video() -> list[LayerDataTuple]:
    """The FFA video (8-bit grey, (T, Y, X)) of the synthetic fundus sample's eye: the dye fills
    the arteries, then the veins, then leaks (``data.fundus.ffa_phases``); the time slider plays it."""
    data, meta = _load("synthetic_ffa_video")
    meta.update(pairs_with=SAMPLE_FILES["synthetic_fundus"], leakage=FUNDUS_SAMPLE_LEAKAGE,
                frames=int(data.shape[0]))
    kwargs = {"name": "FFA video (synthetic)", "metadata": meta, "colormap": "gray", "axis_labels": ("t", "y", "x")}
    return [(data, kwargs, "image")]


def sample_real_nir() -> list[LayerDataTuple]:
    """The real in-vivo NIR-IIa mouse frame and, pixel-aligned, the published NIR-IIb-like image of it."""
    image, partner = real_sample_pair()
    folder = real_sample_dir()
    common = {"synthetic": False, "citation": REAL_SAMPLE_CITATION, "licence": "BSD-2-Clause",
              "licence_file": str(folder / "LICENSE-BSD-2-Clause.txt"), "frame": REAL_SAMPLE_FRAME}
    input_meta = {**common, "source": str(folder / f"NIR-IIa_{REAL_SAMPLE_FRAME}.png"),
                  "pairs_with": f"NIR-IIb_{REAL_SAMPLE_FRAME}.png"}
    partner_meta = {**common, "source": str(folder / f"NIR-IIb_{REAL_SAMPLE_FRAME}.png"),
                    "pairs_with": f"NIR-IIa_{REAL_SAMPLE_FRAME}.png",
                    "note": "output of the published CycleGAN (Ma et al. 2021), not a real NIR-IIb acquisition"}
    return [
        (partner, {"name": "NIR-IIb-like (published CycleGAN, real frame)", "metadata": partner_meta,
                   "colormap": "gray", "visible": False}, "image"),
        (image, {"name": "NIR-IIa mouse (real)", "metadata": input_meta, "colormap": "gray"}, "image"),
    ]
