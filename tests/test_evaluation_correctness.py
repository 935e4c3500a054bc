"""The evaluation code behind the model cards computes what the cards say it computes.

Each baseline row equals an independent computation on a tiny case (textbook PSNR, scikit-image's
SSIM, a hand-written Richardson-Lucy, numpy's least squares); the PSNR inside the knowledge mask
equals one computed by hand from the mask's definition; and for every method the held-out seeds
of its evaluation are disjoint from the seeds its synthetic training draws.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, signal
from skimage.metrics import structural_similarity
from skimage.restoration import denoise_nl_means, estimate_sigma

from napari_vesselgan import methods


def textbook_psnr(reference: np.ndarray, image: np.ndarray, data_range: float) -> float:
    return float(10 * np.log10(data_range**2 / np.mean((np.asarray(reference, float) - image) ** 2)))


def wang_ssim(reference: np.ndarray, image: np.ndarray, data_range: float) -> float:
    """SSIM as Wang et al. (2004) define it: 11x11 Gaussian window (sigma 1.5), population covariance."""
    return float(structural_similarity(np.asarray(reference, float), np.asarray(image, float), data_range=data_range,
                                       gaussian_weights=True, sigma=1.5, use_sample_covariance=False))


def unit(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, float)
    return (image - image.min()) / (image.max() - image.min())


def least_squares_fit(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    slope, offset = np.polyfit(np.ravel(candidate).astype(float), np.ravel(reference), 1)
    return slope * np.asarray(candidate, float) + offset


def fitted_scores(candidate: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    reference = unit(clean)
    fitted = least_squares_fit(candidate, reference)
    return {"psnr": textbook_psnr(reference, fitted, 1.0),
            "ssim": wang_ssim(reference, fitted, 1.0)}


# ----- denoise: noisy input and non-local means -------------------------------------------------
def test_denoise_rows_equal_an_independent_computation():
    from napari_vesselgan.data import lowlight_pair
    from napari_vesselgan.evaluation.denoise import evaluate_pairs

    doubled = lambda image: 2.0 * np.asarray(image, float)  # noqa: E731  (a "model" the fit must undo)
    result = evaluate_pairs(doubled, n_pairs=1, size=48, seed_base=1_000_000)
    low, high = lowlight_pair((48, 48), seed=1_000_000)
    scaled = unit(low)
    sigma = float(estimate_sigma(scaled))
    nlm = denoise_nl_means(scaled, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)
    expected = {"noisy input": fitted_scores(low, high), "non-local means": fitted_scores(nlm, high),
                "model": fitted_scores(low, high)}  # an affine change of the input scores as the input
    for name, scores in expected.items():
        row = result["per_pair"][name][0]
        assert row["psnr"] == pytest.approx(scores["psnr"], abs=1e-9), name
        assert row["ssim"] == pytest.approx(scores["ssim"], abs=1e-9), name
    assert result["per_pair"]["non-local means"][0]["psnr"] > result["per_pair"]["noisy input"][0]["psnr"]


# ----- superres: bicubic and Richardson-Lucy ----------------------------------------------------
def hand_richardson_lucy(image: np.ndarray, psf: np.ndarray, iterations: int) -> np.ndarray:
    """Richardson (1972) / Lucy (1974): u <- u * (psf~ * (d / (psf * u))), from a flat 0.5 start."""
    estimate = np.full_like(image, 0.5)
    mirrored = psf[::-1, ::-1]
    for _ in range(iterations):
        blurred = signal.fftconvolve(estimate, psf, mode="same")
        estimate = estimate * signal.fftconvolve(image / (blurred + 1e-12), mirrored, mode="same")
    return estimate


def test_superres_rows_equal_an_independent_computation():
    from skimage.transform import resize

    from napari_vesselgan.data.nir import lowres_pair
    from napari_vesselgan.evaluation.superres import degradation_psf, evaluate_superres

    seed, size = 1_000_000, 32
    result = evaluate_superres(lambda low: low, n_pairs=1, size=size, rl_iterations=3, seed_base=seed)["synthetic"]
    _, _, high = lowres_pair((size, size), seed)
    high = high.astype(float)
    # bicubic: Y = U(D X), bicubic down with anti-aliasing, bicubic up, from the reference itself
    small = resize(high, (size // 4, size // 4), order=3, anti_aliasing=True, preserve_range=True)
    bicubic = resize(small, (size, size), order=3, anti_aliasing=False, preserve_range=True)
    span = high.max() - high.min()
    row = result["per_image"]["bicubic"][0]
    assert row["psnr"] == pytest.approx(textbook_psnr(high, bicubic, span), abs=0.05)
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((high - bicubic) ** 2)) / span, rel=0.01)
    assert result["per_image"]["model"][0] == row  # the identity "model" is scored as the bicubic input

    # Richardson-Lucy with the degradation's PSF, on the input scaled to [0, 1] and mapped back
    psf = degradation_psf(4)
    assert psf.sum() == pytest.approx(1.0) and np.allclose(psf, psf.T, atol=1e-3)
    low, high_ = np.asarray(bicubic), high
    scaled = (low - low.min()) / (low.max() - low.min())
    restored = low.min() + hand_richardson_lucy(scaled, psf, 3) * (low.max() - low.min())
    rl = result["per_image"]["Richardson-Lucy (3 it.)"][0]
    assert rl["psnr"] == pytest.approx(textbook_psnr(high_, restored, span), abs=0.1)
    assert rl["ssim"] == pytest.approx(wang_ssim(high_, restored, span), abs=0.01)


# ----- mask2nir: the mask and the PSF-blurred mask ----------------------------------------------
def test_mask2nir_rows_equal_an_independent_computation():
    from napari_vesselgan.data import clean_nir, render_nir, vessel_tree
    from napari_vesselgan.evaluation.mask2nir import evaluate_mask2nir

    seed, size = 1_004_000, 48
    result = evaluate_mask2nir({}, n_pairs=1, size=size, seed_base=seed)["cases"][0]
    tree = vessel_tree((size, size), seed)
    mask = tree.mask.astype(float)
    rendered, clean = unit(render_nir(tree, seed)), unit(clean_nir(tree, seed))
    blurred = ndimage.gaussian_filter(mask, 1.5)  # the renderer's PSF (clean_nir's psf_sigma)
    for name, candidate in (("mask (baseline)", mask), ("blurred mask (baseline)", blurred)):
        row = result[name]
        assert row["psnr_raw_rendered"] == pytest.approx(textbook_psnr(rendered, np.clip(candidate, 0, 1), 1.0))
        assert row["ssim_raw_clean"] == pytest.approx(
            wang_ssim(clean, np.clip(candidate, 0, 1), 1.0))
        fitted = least_squares_fit(candidate, rendered)
        assert row["psnr_fitted_rendered"] == pytest.approx(textbook_psnr(rendered, fitted, 1.0))


# ----- fundus2ffa and fundus2video: rows and the knowledge-mask PSNR ----------------------------
class _Stub:
    """A stand-in method: ``predict`` returns what ``make`` makes of the photo."""

    device = "cpu"

    def __init__(self, make: Callable[..., np.ndarray]):
        self.make = make

    def predict(self, photo: np.ndarray, **kwargs) -> np.ndarray:
        return self.make(photo, **kwargs)


def test_fundus2ffa_rows_equal_an_independent_computation():
    from napari_vesselgan.analysis import ffa_saliency
    from napari_vesselgan.data.fundus import LEAKAGE_KINDS, fundus_pair
    from napari_vesselgan.evaluation.fundus2ffa import evaluate_heldout

    grey = lambda photo: photo.mean(axis=-1).astype(np.float32)  # noqa: E731
    rows = evaluate_heldout(_Stub(grey), n_pairs=2, size=64, seed_base=5_000_000)["rows"]
    for index, row in enumerate(rows):
        pair = fundus_pair((64, 64), 5_000_000 + index, leakage=LEAKAGE_KINDS[index])
        fake = grey(pair.fundus)
        assert row["leakage"] == LEAKAGE_KINDS[index]
        assert row["psnr"] == pytest.approx(textbook_psnr(pair.ffa, fake, 1.0))
        assert row["ssim"] == pytest.approx(wang_ssim(pair.ffa, fake, 1.0), abs=1e-6)
        assert row["saliency_mse"] == pytest.approx(np.mean((ffa_saliency(fake) - ffa_saliency(pair.ffa)) ** 2))


def test_knowledge_mask_psnr_equals_a_hand_computation():
    from napari_vesselgan.data.fundus import fundus_video
    from napari_vesselgan.evaluation.fundus2video import evaluate_heldout

    dim = lambda photo, frames: np.zeros((frames, *photo.shape[:2]), np.float32) + 0.25  # noqa: E731
    row = evaluate_heldout(_Stub(dim), n_videos=1, size=64, frames=4, seed_base=6_000_000)["rows"][0]
    video = fundus_video((64, 64), 6_000_000, frames=4, leakage="none").video.astype(float)
    mask = np.abs(video[0] * 255 - video[-1] * 255) > 45  # the paper's M on the 0-255 scale
    assert mask.any() and not mask.all()
    mse = np.mean([np.mean((0.25 - frame[mask]) ** 2) for frame in video])
    assert row["psnr_knowledge_mask"] == pytest.approx(10 * np.log10(1 / mse), abs=1e-4)
    whole = np.mean([textbook_psnr(frame, np.full_like(frame, 0.25), 1.0) for frame in video])
    assert row["psnr"] == pytest.approx(whole, abs=1e-4)


# ----- held-out seeds are never training seeds -------------------------------------------------
def _record(monkeypatch, name: str, original: Callable, seeds: list[int]) -> None:
    """Replace ``name`` wherever a napari_vesselgan module holds ``original``, recording its seed."""

    def recording(shape, seed=0, *args, **kwargs):
        seeds.append(int(seed))
        return original(shape, seed, *args, **kwargs)

    for module in [m for key, m in sys.modules.items() if key.startswith("napari_vesselgan")]:
        if getattr(module, name, None) is original:
            monkeypatch.setattr(module, name, recording)


WEIGHTS = Path(methods.__file__).resolve().parents[1] / "weights"


def _bundled_config(name: str, **small):
    """The config the bundled weights were trained with (``weights/<name>.json``), ``small`` changed."""
    cls = methods.method_class(name).config_class
    config = json.loads((WEIGHTS / f"{name}.json").read_text())["config"]
    return cls(**{**{k: v for k, v in config.items() if k in cls.model_fields}, **small})


def _training_seeds(name: str) -> None:
    """Build the synthetic training data of the bundled weights' config (at a tiny size)."""
    import importlib

    module = importlib.import_module(f"napari_vesselgan.methods.{name}")
    if name == "denoise":
        module.synthetic_domains(_bundled_config(name, synthetic_size=32))
    elif name == "superres":
        config = _bundled_config(name, synthetic_size=32)
        module.synthetic_images(config.synthetic_images, 32, config.seed)
        module.SuperResMethod._validation_pairs(config, [], True)
    elif name == "mask2nir":
        module.synthetic_domains(_bundled_config(name, synthetic_size=32))
    elif name == "fundus2ffa":
        module.synthetic_pairs(_bundled_config(name, synthetic_size=32))
    elif name == "fundus2video":
        module.synthetic_videos(_bundled_config(name, synthetic_size=32, frames=3))
    else:  # pragma: no cover - a new method must say here how its training data are drawn
        raise AssertionError(f"no training-seed recipe for {name}")


def _evaluation_seeds(name: str) -> None:
    """Run the method's evaluation at the committed number of cases, tiny, with a stand-in model."""
    import importlib

    committed = json.loads((WEIGHTS / f"{name}-evaluation.json").read_text())
    module = importlib.import_module(f"napari_vesselgan.evaluation.{name}")
    same = lambda image, **kwargs: np.asarray(image, float)  # noqa: E731
    if name == "denoise":
        module.evaluate_pairs(same, n_pairs=committed["pairs"]["n_pairs"], size=32, baselines={})
    elif name == "superres":
        module.evaluate_superres(same, n_pairs=len(committed["synthetic"]["images"]), size=32, rl_iterations=1)
    elif name == "mask2nir":
        module.evaluate_mask2nir({}, n_pairs=committed["n_pairs"], size=32)
    elif name == "fundus2ffa":
        ffa = lambda photo: photo[..., 1].astype(np.float32)  # noqa: E731
        module.evaluate_heldout(_Stub(ffa), n_pairs=committed["heldout"]["pairs"], size=32)
    elif name == "fundus2video":
        video = lambda photo, frames: np.zeros((frames, *photo.shape[:2]), np.float32)  # noqa: E731
        module.evaluate_heldout(_Stub(video), n_videos=committed["heldout"]["videos"], size=32, frames=3)
    else:  # pragma: no cover
        raise AssertionError(f"no evaluation-seed recipe for {name}")


@pytest.mark.parametrize("name", methods.available())
def test_held_out_seeds_are_disjoint_from_training_seeds(name, monkeypatch):
    """Every seed an evaluation draws a held-out case from is one the bundled weights' synthetic
    training never drew: recorded at the generators (vessel trees for the NIR methods, eye
    anatomies for the fundus ones), wherever the modules imported them."""
    from napari_vesselgan.data import fundus, vessels

    family = ("fundus_anatomy", fundus.fundus_anatomy) if name.startswith("fundus") else \
        ("vessel_tree", vessels.vessel_tree)
    training: list[int] = []
    _record(monkeypatch, *family, training)
    _training_seeds(name)
    monkeypatch.undo()
    evaluation: list[int] = []
    _record(monkeypatch, *family, evaluation)
    _evaluation_seeds(name)
    assert training and evaluation
    assert not set(training) & set(evaluation), sorted(set(training) & set(evaluation))[:5]


@pytest.mark.parametrize("name", [n for n in methods.available()
                                  if methods.method_class(n).config_class.SYNTHETIC_SEED_LIMIT is not None])
def test_a_training_seed_range_reaching_the_held_out_seeds_is_refused(name):
    """Beyond the bundled configs: any seed whose synthetic range would reach the held-out seeds is refused."""
    from pydantic import ValidationError

    cls = methods.method_class(name).config_class
    count = cls.model_fields[cls.SYNTHETIC_COUNT_FIELD].default
    cls(seed=cls.SYNTHETIC_SEED_LIMIT - count)  # the last range below the held-out seeds
    with pytest.raises(ValidationError, match="held out for evaluation"):
        cls(seed=cls.SYNTHETIC_SEED_LIMIT - count + 1)
