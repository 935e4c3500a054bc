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


# ----- networks and losses -----------------------------------------------------------------------
import torch  # noqa: E402

from napari_vesselgan.losses.knowledge_attention import knowledge_attention_loss  # noqa: E402
from napari_vesselgan.losses.patchnce import PatchProjector, info_nce, patch_nce_loss  # noqa: E402
from napari_vesselgan.methods.fundus2video import (  # noqa: E402
    Fundus2VideoConfig,
    Fundus2VideoGAN,
    Fundus2VideoMethod,
    resample_frames,
    video_to_network,
    window_frames,
)
from napari_vesselgan.nn import GlobalGenerator, MultiscaleDiscriminator  # noqa: E402


def test_paper_preset_is_pix2pixhd_size_and_default_is_small():
    with torch.device("meta"):
        paper = Fundus2VideoMethod.build_generator(Fundus2VideoConfig.preset("paper"))
        default = Fundus2VideoMethod.build_generator(Fundus2VideoConfig())
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(paper) == 182_452_675  # the card: 182 M (ngf 64, 4 down-samplings, 9 blocks, 6 -> 3 channels)
    assert count(default) < 2_000_000
    assert paper.stride == 16 and default.stride == 8


def test_generator_encodes_cut_layers_and_returns_its_last_features():
    g = GlobalGenerator(6, 3, ngf=8, n_downsampling=3, n_blocks=2).eval()
    x = torch.randn(1, 6, 64, 64)
    features = g.encode(x, g.nce_layers())
    assert [f.shape[1] for f in features] == g.nce_channels() == [6, 16, 32, 64, 64, 64]
    out, last = g.forward_with_features(x)
    torch.testing.assert_close(out, g(x))
    assert last.shape == (1, 8, 64, 64)


def test_multiscale_discriminator_sees_three_scales():
    outputs = MultiscaleDiscriminator(6, 8, n_layers=3, num_d=3)(torch.randn(2, 6, 64, 64))
    assert len(outputs) == 3 and all(len(o) == 5 for o in outputs)
    sizes = [o[-1].shape[-1] for o in outputs]
    assert sizes[0] > sizes[1] > sizes[2]


def test_info_nce_prefers_matching_patches():
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(2, 64, 32), dim=-1)
    matching = info_nce(keys.clone(), keys)
    unrelated = info_nce(torch.nn.functional.normalize(torch.randn(2, 64, 32), dim=-1), keys)
    assert matching < 0.5 < np.log(64) < unrelated + 0.5


def test_mask_enhanced_patch_nce_trains_the_projector_and_ignores_masked_out_regions():
    torch.manual_seed(0)
    projector = PatchProjector([4, 8])
    query = [torch.randn(1, 4, 16, 16, requires_grad=True), torch.randn(1, 8, 8, 8, requires_grad=True)]
    key = [torch.randn(1, 4, 16, 16), torch.randn(1, 8, 8, 8)]
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :8, :] = 1
    loss = patch_nce_loss(query, key, projector, mask=mask, num_patches=32)
    loss.backward()
    assert projector.mlps[0][0].weight.grad is not None and projector.mlps[0][0].weight.grad.abs().sum() > 0
    # no gradient reaches features where the mask is 0
    assert query[0].grad[..., 8:, :].abs().sum() == 0 and query[0].grad[..., :8, :].abs().sum() > 0


def test_knowledge_attention_loss_rewards_attention_inside_the_mask_only():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    strong_inside = torch.full((1, 4, 8, 8), -20.0)
    strong_inside[..., :4] = 20.0
    assert float(knowledge_attention_loss(strong_inside, mask)) < 1e-6
    weak = torch.full((1, 4, 8, 8), -20.0)
    assert float(knowledge_attention_loss(weak, mask)) == pytest.approx(0.5, abs=1e-6)  # |0 - M| over half the image
    # outside the mask the activation does not matter
    outside = strong_inside.clone()
    outside[..., 4:] = 20.0
    assert float(knowledge_attention_loss(outside, mask)) < 1e-6


# ----- windows, triple-frame averaging, streaming ------------------------------------------------
def test_windows_clamp_at_the_last_frame():
    assert window_frames(0, 12) == [0, 1, 2]
    assert window_frames(10, 12) == [10, 11, 11]
    assert window_frames(11, 12) == [11, 11, 11]


class _RecordingGenerator(torch.nn.Module):
    """Window n outputs channel k = (n + k) / 100 and records what it was given."""

    ngf, stride, receptive_radius = 4, 4, 8

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        n = len(self.inputs)
        self.inputs.append(x.clone())
        channels = [torch.full_like(x[:, :1], (n + k) / 100) for k in range(3)]
        return torch.cat(channels, dim=1)


def _recording_method() -> tuple[Fundus2VideoMethod, _RecordingGenerator]:
    generator = _RecordingGenerator()
    return Fundus2VideoMethod(Fundus2VideoConfig.preset("test"), generator, device="cpu"), generator


def test_triple_frame_averaging_and_autoregressive_conditions():
    method, generator = _recording_method()
    photo = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    video = method.predict(photo, frames=6, mask_fov=False)
    assert video.shape == (6, 16, 16) and len(generator.inputs) == 6
    # frame f's predictions: window n gives (n + k) / 100 at position k = f - n (clamped windows average)
    expected = []
    for f in range(6):
        values = []
        for n in range(6):
            idx = window_frames(n, 6)
            if f in idx:
                values.append(np.mean([(n + k) / 100 for k, g in enumerate(idx) if g == f]))
        expected.append(np.mean(values))
    assert [len([n for n in range(6) if f in window_frames(n, 6)]) for f in range(6)] == [1, 2, 3, 3, 3, 3]
    np.testing.assert_allclose(video[:, 0, 0], (np.array(expected) + 1) / 2, atol=1e-6)
    # window 0 is conditioned on the photo itself, window n on window n - 1's three frames
    first = generator.inputs[0][0]
    torch.testing.assert_close(first[3:], first[:3])
    for n in range(1, 6):
        for k in range(3):
            assert torch.allclose(generator.inputs[n][0, 3 + k], torch.tensor((n - 1 + k) / 100))


def test_frames_stream_out_one_window_at_a_time():
    method, generator = _recording_method()
    photo = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    frames = method.iter_frames(photo, frames=40, mask_fov=False)
    next(frames)
    assert len(generator.inputs) == 1  # frame 0 is final after window 0: nothing runs ahead
    for _ in range(9):
        next(frames)
    assert len(generator.inputs) == 10


def test_scheduled_sampling_rolls_out_from_the_last_true_window():
    config = Fundus2VideoConfig.preset("test")
    model = Fundus2VideoGAN(config, device=torch.device("cpu"))
    photo, video = torch.randn(1, 3, 32, 32), torch.randn(1, 6, 32, 32)
    all_true = torch.ones(6, dtype=torch.bool)
    torch.testing.assert_close(model.condition(photo, video, 3, all_true), video[:, [2, 3, 4]])
    torch.testing.assert_close(model.condition(photo, video, 0, all_true), photo)
    calls = []
    model.g.register_forward_hook(lambda *_: calls.append(1))
    never = torch.zeros(6, dtype=torch.bool)
    model.condition(photo, video, 3, never)
    assert len(calls) == 3  # windows 0, 1, 2 generated from the photo
    calls.clear()
    mixed = torch.tensor([True, False, True, False, False, True])
    model.condition(photo, video, 4, mixed)
    assert len(calls) == 2  # window 2 sees true frames; windows 2 and 3 are generated


def test_video_intensities_use_one_mapping_for_all_frames():
    video = np.stack([np.full((4, 4), v, np.uint8) for v in (0, 51, 255)])
    np.testing.assert_allclose(video_to_network(video)[:, 0, 0], [-1.0, 51 / 127.5 - 1, 1.0], atol=1e-6)
    assert resample_frames(np.arange(24), 12).tolist()[0] == 0 and resample_frames(np.arange(24), 12)[-1] == 23
    with pytest.raises(ValueError, match="T >= 2"):
        video_to_network(np.zeros((8, 8), np.float32))


# ----- training, loading, prediction -------------------------------------------------------------
from napari_vesselgan import methods  # noqa: E402
from napari_vesselgan.engine.checkpoint import load_checkpoint  # noqa: E402
from napari_vesselgan.engine.trainer import read_history  # noqa: E402


def test_training_reports_every_eq7_term_and_trains_the_projector(tmp_path):
    config = Fundus2VideoConfig.preset("test", checkpoint_every=0, steps=3)
    method = Fundus2VideoMethod.untrained(config, device="cpu")
    initial = {k: v.clone() for k, v in Fundus2VideoGAN(config, device=torch.device("cpu")).projector.state_dict().items()}
    weights = method.train("synthetic", config, run_dir=tmp_path, resume=False)
    last = read_history(tmp_path)[-1]
    assert {"G_GAN", "G_feat", "att", "NCE_UP", "NCE_SP", "G_KD", "D"} <= set(last)
    assert all(np.isfinite(v) for v in last.values())
    trained = load_checkpoint(tmp_path / "last.safetensors").networks["projector"]
    assert any(not torch.equal(initial[k], trained[k]) for k in initial)  # the authors' projector never moved
    assert "knowledge_mask_area" in load_checkpoint(weights).provenance


def test_baseline_preset_leaves_the_knowledge_terms_out(tmp_path):
    config = Fundus2VideoConfig.preset("test", **Fundus2VideoConfig.PRESETS["baseline"], steps=2, checkpoint_every=0)
    assert not config.knowledge_terms
    Fundus2VideoMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path, resume=False)
    assert not {"att", "NCE_UP", "NCE_SP", "G_KD"} & set(read_history(tmp_path)[-1])


def test_fine_tuning_on_fitted_style_eyes_with_chosen_leakage(tmp_path):
    """init_weights starts from given weights (0 steps keep them exactly); synthetic_style and
    synthetic_leakage choose the eyes (issue 14: real-looking eyes, no invented disc leakage)."""
    from napari_vesselgan.methods.fundus2video import synthetic_videos

    base = Fundus2VideoConfig.preset("test", steps=2, checkpoint_every=0)
    start = Fundus2VideoMethod.untrained(base, device="cpu").train("synthetic", base, run_dir=tmp_path / "a")
    same = base.model_copy(update={"steps": 0, "init_weights": str(start), "synthetic_style": "fitted",
                                   "synthetic_leakage": ["none"]})
    tuned = Fundus2VideoMethod.untrained(same, device="cpu")
    weights = tuned.train("synthetic", same, run_dir=tmp_path / "b")
    for name, tensor in load_checkpoint(start).networks["generator"].items():
        torch.testing.assert_close(tuned.generator.state_dict()[name], tensor.float())
    note = load_checkpoint(weights).provenance["training_data"]
    assert "fitted style" in note and "leakage cycling none" in note and "started from" in note
    classic = synthetic_videos(base, count=1)
    fitted = synthetic_videos(same, count=1)
    assert not np.allclose(classic[0][0], fitted[0][0])  # another look of the same eye
    with pytest.raises(ValueError, match="synthetic_leakage"):
        synthetic_videos(base.model_copy(update={"synthetic_leakage": ["glaucoma"]}))


def test_training_adds_real_photos_with_videos_of_their_own_vessel_trees(tmp_path):
    """real_photos (issue 14): each photo, grey or colour, joins the pairs with the video rendered
    from its own vessels at the working size; the provenance names them."""
    from skimage import data as skdata

    from napari_vesselgan.io import write_image
    from napari_vesselgan.methods.fundus2video import real_photo_videos

    folder = tmp_path / "photos"
    retina = skdata.retina()[::4, ::4]
    write_image(folder / "colour.png", retina)
    write_image(folder / "grey.png", np.repeat(retina[..., 1:2], 3, axis=-1))  # grey stored as RGB
    config = Fundus2VideoConfig.preset("test", steps=1, checkpoint_every=0, real_photos=[str(folder)])
    photos, videos = real_photo_videos(config)
    assert [p.shape for p in photos] == [(64, 64, 3)] * 2 and [v.shape for v in videos] == [(4, 64, 64)] * 2
    assert photos[0][..., 0].mean() > photos[0][..., 2].mean()  # the colour photo as it was
    assert not np.allclose(photos[1][..., 0], photos[1][..., 1])  # the grey one coloured
    assert videos[0][-1].max() > videos[0][0].max()  # the dye rises
    weights = Fundus2VideoMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path / "run")
    assert "2 real photos" in load_checkpoint(weights).provenance["training_data"]
    with pytest.raises(ValueError, match="no such file"):
        real_photo_videos(config.model_copy(update={"real_photos": [str(tmp_path / "missing")]}))


def test_training_resumes_where_it_stopped(tmp_path):
    config = Fundus2VideoConfig.preset("test", steps=2, checkpoint_every=1)
    Fundus2VideoMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path)
    longer = Fundus2VideoConfig.preset("test", steps=4, checkpoint_every=1)
    Fundus2VideoMethod.untrained(longer, device="cpu").train("synthetic", longer, run_dir=tmp_path)
    assert [row["step"] for row in read_history(tmp_path)] == [1, 2, 3, 4]


def test_training_on_user_videos_from_folders(tmp_path):
    from napari_vesselgan.data.fundus import fundus_video
    from napari_vesselgan.io import write_image

    photos, videos = tmp_path / "photos", tmp_path / "videos"
    for seed in range(2):
        sample = fundus_video((64, 64), seed, frames=8)
        write_image(photos / f"eye{seed}.png", np.rint(sample.fundus * 255).astype(np.uint8))
        write_image(videos / f"eye{seed}.tif", np.rint(sample.video * 255).astype(np.uint8))
    config = Fundus2VideoConfig.preset("test", steps=2, checkpoint_every=0)
    weights = Fundus2VideoMethod.untrained(config, device="cpu").train((photos, videos), config, run_dir=tmp_path / "run")
    assert "resampled to 4 frames" in load_checkpoint(weights).provenance["training_data"]
    with pytest.raises(ValueError, match="pair one to one"):
        Fundus2VideoMethod.untrained(config, device="cpu").train(
            (photos, [np.zeros((4, 64, 64), np.uint8)]), config, run_dir=tmp_path / "bad")


def test_predict_makes_a_video_black_outside_the_field_of_view(tiny_weights):
    from napari_vesselgan.data.fundus import fundus_video

    method = methods.load("fundus2video", weights=tiny_weights("fundus2video"), device="cpu")
    sample = fundus_video((64, 64), 3)
    photo = np.rint(sample.fundus * 255).astype(np.uint8)
    kept = photo.copy()
    done = []
    video = method.predict(photo, frames=5, progress=lambda d, t: done.append((d, t)))
    np.testing.assert_array_equal(photo, kept)
    assert video.shape == (5, 64, 64) and video.dtype == np.float32
    assert 0.0 <= video.min() and video.max() <= 1.0
    assert done == [(k, 5) for k in range(1, 6)]
    assert video[:, ~sample.anatomy.fov].max() == 0.0
    stack = method.predict(np.stack([photo, photo]), frames=3)
    assert stack.shape == (2, 3, 64, 64)
    np.testing.assert_allclose(stack[1], method.predict(photo, frames=3), atol=1e-5)


def test_tiled_prediction_matches_whole(tiny_weights):
    from napari_vesselgan.data.fundus import fundus_video

    method = methods.load("fundus2video", weights=tiny_weights("fundus2video"), device="cpu")
    photo = fundus_video((96, 96), 4).fundus
    whole = method.predict(photo, frames=4)
    tiled = method.predict(photo, frames=4, tile=32)
    np.testing.assert_allclose(tiled, whole, atol=2e-3)


def test_predict_refuses_what_it_cannot_take(tiny_weights):
    method = methods.load("fundus2video", weights=tiny_weights("fundus2video"), device="cpu")
    with pytest.raises(ValueError, match=r"\(Y, X, 3\)"):
        method.predict(np.zeros((32, 32), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        method.predict(np.full((32, 32, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="frames"):
        next(method.iter_frames(np.zeros((32, 32, 3), np.float32), frames=0))
    with pytest.raises(NotImplementedError, match="knowledge mask"):
        method.saliency(np.zeros((32, 32, 3), np.float32))


def test_cli_predicts_tiff_and_mp4_and_evaluates(tiny_weights, tmp_path, capsys):
    from napari_vesselgan.cli import main
    from napari_vesselgan.data.fundus import fundus_video
    from napari_vesselgan.io import read_image, write_image

    photo = tmp_path / "eye.png"
    write_image(photo, np.rint(fundus_video((64, 64), 5).fundus * 255).astype(np.uint8))
    weights = str(tiny_weights("fundus2video"))
    assert main(["predict", "fundus2video", str(photo), "-o", str(tmp_path / "video.tif"), "--weights", weights,
                 "--device", "cpu", "--frames", "6"]) == 0
    stack = read_image(tmp_path / "video.tif")
    assert stack.shape == (6, 64, 64) and stack.dtype == np.float32
    assert main(["predict", "fundus2video", str(photo), "-o", str(tmp_path / "video.mp4"), "--weights", weights,
                 "--device", "cpu", "--frames", "5"]) == 0
    assert read_image(tmp_path / "video.mp4").shape[0] == 5
    assert main(["predict", "denoise", str(photo), "-o", str(tmp_path / "x.tif"), "--frames", "5"]) == 2
    assert "unrecognized arguments: --frames" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["evaluate", "fundus2video", "--weights", weights, "--device", "cpu", "--pairs", "2",
                 "--size", "64", "--frames", "4", "-o", str(out)]) == 0
    import json

    heldout = json.loads(out.read_text())["heldout"]
    assert len(heldout["rows"]) == 2 and len(heldout["summary"]["psnr_per_frame"]) == 4
    assert "fvd" not in heldout["summary"]
    # FVD of the generated against the real held-out videos, when I3D weights are given
    assert main(["evaluate", "fundus2video", "--weights", weights, "--device", "cpu", "--pairs", "2",
                 "--size", "64", "--frames", "9", "--fvd-weights", "random", "-o", str(out)]) == 0
    fvd = json.loads(out.read_text())["heldout"]["summary"]["fvd"]
    assert fvd["n_a"] == fvd["n_b"] == 2 and fvd["fvd"] > 0 and "FVD" in capsys.readouterr().out
    missing = tmp_path / "missing_i3d.pt"
    assert main(["evaluate", "fundus2video", "--weights", weights, "--device", "cpu", "--pairs", "2",
                 "--size", "64", "--frames", "9", "--fvd-weights", str(missing)]) == 2
    assert "missing_i3d.pt" in capsys.readouterr().err


def test_cli_trains_fundus2video(tmp_path):
    from napari_vesselgan.cli import main

    exported = tmp_path / "f2v.safetensors"
    assert main(["train", "fundus2video", "--synthetic", "--preset", "test", "--set", "steps=2",
                 "--run-dir", str(tmp_path / "run"), "--export", str(exported), "--fp16", "--device", "cpu"]) == 0
    assert methods.load("fundus2video", weights=exported, device="cpu").config.ngf == 8


def test_prediction_runs_at_the_working_size_and_returns_the_photo_size(tiny_weights):
    """Synthetic training records the scale it learned (working_size); larger photos are generated
    at that scale and the video is resized back."""
    from napari_vesselgan.data.fundus import fundus_video

    method = methods.load("fundus2video", weights=tiny_weights("fundus2video"), device="cpu")
    assert method.config.working_size == method.config.synthetic_size == 64
    seen = []
    method.generator.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape[-2:])))
    photo = fundus_video((128, 96), 1).fundus
    video = method.predict(photo, frames=3)
    assert video.shape == (3, 128, 96)
    assert seen and all(max(shape) == 64 for shape in seen)  # 128 x 96 -> 64 x 48 (padded to the stride)
    method.config.working_size = None
    seen.clear()
    method.predict(photo, frames=3)
    assert all(shape == (128, 96) for shape in seen)


def test_vgg_term_with_random_features_and_a_clear_error_without_weights(tmp_path, monkeypatch):
    config = Fundus2VideoConfig.preset("test", steps=1, checkpoint_every=0, perceptual=True, perceptual_weights="random")
    weights = Fundus2VideoMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path / "a")
    assert read_history(tmp_path / "a")[-1]["G_VGG"] > 0
    assert load_checkpoint(weights).provenance["perceptual_features"] == "random VGG19 features (seed 0)"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))
    monkeypatch.setattr("napari_vesselgan.nn.pretrained.DOWNLOAD_TIMEOUT_S", 0.01)
    missing = Fundus2VideoConfig.preset("test", steps=1, perceptual=True)
    with pytest.raises(ValueError, match="perceptual=false"):
        Fundus2VideoMethod.untrained(missing, device="cpu").train("synthetic", missing, run_dir=tmp_path / "b")
