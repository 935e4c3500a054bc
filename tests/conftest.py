"""Shared fixtures: real images when the shared folder is there, and tiny trained weights."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """``../shared/real`` beside the checkout; tests that need it skip where it is absent."""
    if not REAL_DIR.is_dir():
        pytest.skip("real images (../shared/real) are not available here")
    return REAL_DIR


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """Messages given to napari's show_error (the widgets' way of reporting failures)."""
    import napari.utils.notifications

    seen: list[str] = []
    monkeypatch.setattr(napari.utils.notifications, "show_error", lambda message, *a, **k: seen.append(str(message)))
    return seen


@pytest.fixture
def single_torch_thread():
    """One intra-op torch thread for a test: these check behaviour, not speed, and on a 2-core
    machine shared with other work torch's two OpenMP threads wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_denoise_weights(tmp_path_factory) -> Path:
    """A denoise checkpoint trained for a few steps with the 'test' preset (ngf 8, 64 px)."""
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    config = DenoiseConfig.preset("test")
    method = DenoiseMethod.untrained(config, device="cpu")
    return method.train("synthetic", config, run_dir=tmp_path_factory.mktemp("tiny-denoise"))


@pytest.fixture(scope="session")
def tiny_superres_weights(tmp_path_factory) -> Path:
    """A superres checkpoint trained for a few steps with the 'test' preset (width 8, 1 block)."""
    from napari_vesselgan.methods.superres import SuperResConfig, SuperResMethod

    config = SuperResConfig.preset("test")
    method = SuperResMethod.untrained(config, device="cpu")
    return method.train("synthetic", config, run_dir=tmp_path_factory.mktemp("tiny-superres"))


@pytest.fixture(scope="session")
def tiny_fundus2video_weights(tmp_path_factory) -> Path:
    """A fundus2video checkpoint trained for a few steps with the 'test' preset (ngf 8, 4-frame videos)."""
    from napari_vesselgan.methods.fundus2video import Fundus2VideoConfig, Fundus2VideoMethod

    config = Fundus2VideoConfig.preset("test")
    method = Fundus2VideoMethod.untrained(config, device="cpu")
    return method.train("synthetic", config, run_dir=tmp_path_factory.mktemp("tiny-fundus2video"))


@pytest.fixture(scope="session")
def tiny_mask2nir_weights(tmp_path_factory) -> Path:
    """A mask2nir checkpoint trained for a few steps with the 'test' preset (ngf 8, 2 blocks, random VGG)."""
    from napari_vesselgan.methods.mask2nir import Mask2NirConfig, Mask2NirMethod

    config = Mask2NirConfig.preset("test")
    method = Mask2NirMethod.untrained(config, device="cpu")
    return method.train("synthetic", config, run_dir=tmp_path_factory.mktemp("tiny-mask2nir"))
