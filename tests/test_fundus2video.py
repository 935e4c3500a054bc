"""fundus2video: synthetic FFA videos, the knowledge mask, the method (training, prediction, memory)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vesselgan.analysis import knowledge_mask
from napari_vesselgan.data.fundus import ffa_phases, fundus_pair, fundus_video, render_ffa


# ----- synthetic videos --------------------------------------------------------------------------
def test_video_phases_fill_arteries_then_veins_then_leak():
    sample = fundus_video((128, 128), 4, leakage="large_focal")
    video, anatomy = sample.video, sample.anatomy
    assert video.shape == (12, 128, 128) and video.dtype == np.float32
    assert 0.0 <= video.min() and video.max() <= 1.0
    only_veins = anatomy.veins.mask & ~anatomy.arteries.mask
    artery_signal = [float(f[anatomy.arteries.mask].mean()) for f in video]
    vein_signal = [float(f[only_veins].mean()) for f in video]
    lesion = anatomy.leakage > 0.5
    leak_signal = [float(f[lesion].mean()) for f in video]
    # arterial phase: arteries brighten while veins stay at the background
    assert artery_signal[3] > artery_signal[0] + 0.05
    assert vein_signal[3] < artery_signal[3] - 0.1
    # venous phase: veins fill
    assert vein_signal[7] > vein_signal[3] + 0.15
    # late phase: leakage keeps growing to the last frame
    assert leak_signal[11] > leak_signal[8] > leak_signal[4] + 0.05


def test_video_frames_share_the_eye_but_not_the_noise():
    video = fundus_video((96, 96), 2, leakage="none").video
    assert not np.array_equal(video[-1], video[-2])
    # frames 10 and 11 differ by noise and a small fade only: highly correlated
    assert np.corrcoef(video[-1].ravel(), video[-2].ravel())[0, 1] > 0.95


def test_late_phase_still_renders_as_before_without_a_frame_index():
    """The video options default to the late phase, so fundus2ffa's pairs are unchanged."""
    pair = fundus_pair((96, 96), 9, leakage="optic_disc")
    again = render_ffa(pair.anatomy, 9, artery_fill=1.0, vein_fill=1.0, leakage_amount=1.0,
                       background_level=1.0, disc_stain=1.0)
    np.testing.assert_array_equal(pair.ffa, again)


@pytest.mark.parametrize("frames", [3, 12, 20])
def test_longer_videos_split_into_three_phases(frames):
    phases = ffa_phases(frames)
    assert len(phases) == frames
    veins = [p["vein_fill"] for p in phases]
    assert veins[: frames // 3] == [0.0] * (frames // 3) and veins[frames // 3] > 0
    assert phases[-1]["leakage_amount"] == 1.0


def test_videos_need_three_frames():
    with pytest.raises(ValueError, match="at least 3 frames"):
        ffa_phases(2)


# ----- knowledge mask ----------------------------------------------------------------------------
def test_knowledge_mask_thresholds_the_absolute_difference_at_45():
    first = np.zeros((4, 4), np.uint8)
    last = np.array([[0, 45, 46, 200]] * 4, np.uint8)
    mask = knowledge_mask(first, last)
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask[0], [False, False, True, True])
    # symmetric, and no uint8 wrap-around (0 - 200 must not become 56)
    np.testing.assert_array_equal(knowledge_mask(last, first), mask)


def test_knowledge_mask_rescales_other_ranges_to_255():
    first = np.zeros((2, 3), np.float32)
    last = np.array([[0.1, 0.18, 0.9]] * 2, np.float32)  # x255: 25.5, 45.9, 229.5
    np.testing.assert_array_equal(knowledge_mask(first, last)[0], [False, True, True])
    sixteen = (last.astype(np.float64) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(knowledge_mask(first.astype(np.uint16), sixteen)[0], [False, True, True])
    # floats outside [0, 1]: the joint range 100..1000 becomes 0..255 (differences 28, 51, 255)
    np.testing.assert_array_equal(knowledge_mask(first + 100, last * 1000 + 100)[0], [False, True, True])
    np.testing.assert_array_equal(knowledge_mask(first, last, threshold=100)[0], [False, False, True])


def test_knowledge_mask_of_a_synthetic_video_marks_veins_and_leakage():
    sample = fundus_video((128, 128), 6, leakage="large_focal")
    mask = knowledge_mask(sample.video[0], sample.video[-1])
    assert mask[sample.anatomy.veins.mask].mean() > 0.8
    assert mask[sample.anatomy.leakage > 0.5].mean() > 0.95
    assert mask.mean() < 0.2


def test_knowledge_mask_refuses_bad_frames_and_keeps_its_inputs():
    first, last = np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32)
    kept = last.copy()
    knowledge_mask(first, last)
    np.testing.assert_array_equal(last, kept)
    with pytest.raises(ValueError, match="differ in shape"):
        knowledge_mask(first, np.ones((8, 9), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        knowledge_mask(first, np.full((8, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        knowledge_mask(np.zeros((2, 8, 8), np.float32), np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="dtypes"):
        knowledge_mask(first, last.astype(np.float64))
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[..., 1] = 200
    assert knowledge_mask(np.zeros((8, 8, 3), np.uint8), colour).all()
