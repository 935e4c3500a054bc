"""The synthetic FFA video sample and the knowledge-mask overlay widget, as a user drives them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_vesselgan.data import samples  # noqa: E402
from napari_vesselgan.data.fundus import fundus_anatomy, render_ffa_video, render_fundus  # noqa: E402
from napari_vesselgan.io import read_image  # noqa: E402


def test_ffa_video_sample_is_the_fundus_samples_eye() -> None:
    folder = samples.sample_data_dir()
    if not folder.is_dir():
        pytest.skip("no sample_data/ folder (installed package)")
    anatomy = fundus_anatomy(samples.FUNDUS_SAMPLE_SHAPE, samples.SAMPLE_SEED, leakage=samples.FUNDUS_SAMPLE_LEAKAGE)
    video = np.rint(render_ffa_video(anatomy, samples.SAMPLE_SEED, frames=12) * 255).astype(np.uint8)
    stored = read_image(folder / samples.SAMPLE_FILES["synthetic_ffa_video"])
    assert stored.shape == (12, *samples.FUNDUS_SAMPLE_SHAPE) and np.array_equal(stored, video), \
        "sample_data/synthetic_ffa_video.tif is stale: run scripts/make_sample_data.py"
    fundus = np.rint(render_fundus(anatomy, samples.SAMPLE_SEED) * 255).astype(np.uint8)
    assert np.array_equal(read_image(folder / samples.SAMPLE_FILES["synthetic_fundus"]), fundus)
    # the dye moves: the frames differ, most in the late phase's leakage
    assert np.abs(stored[-1].astype(int) - stored[0].astype(int)).mean() > 5
    assert (folder / samples.SAMPLE_FILES["synthetic_ffa_video"]).stat().st_size < 3_000_000


def test_ffa_video_sample_opens_as_a_time_series(make_napari_viewer) -> None:
    viewer = make_napari_viewer()
    (video,) = viewer.open_sample("napari-vesselgan", "synthetic-ffa-video")
    assert video.data.shape == (12, 512, 512) and video.data.dtype == np.uint8 and not video.rgb
    assert tuple(video.axis_labels) == ("t", "y", "x")
    assert video.metadata["pairs_with"] == "synthetic_fundus.tif" and video.metadata["frames"] == 12
    assert viewer.dims.nsteps[0] == 12
