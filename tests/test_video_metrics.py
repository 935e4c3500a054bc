"""Video metrics: per-frame PSNR / SSIM / LPIPS against the image metrics, FVD's maths and I3D
embeddings, the I3D layout and weight rules (file, explicit random, pickles refused, clear
error), and `vesselgan fvd`."""

import json

import numpy as np
import pytest
import torch

from napari_vesselgan.cli import main
from napari_vesselgan.io import write_image
from napari_vesselgan.metrics import psnr, ssim
from napari_vesselgan.metrics.video import (
    fvd,
    fvd_from_features,
    i3d_features,
    video_frame_metrics,
    video_lpips,
    video_metrics,
    video_set,
)
from napari_vesselgan.nn.i3d import I3D_WEIGHTS_URL, MIN_FRAMES, InceptionI3d, i3d_network, pooled_steps
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing, hub_checkpoint_path


@pytest.fixture(scope="module")
def random_i3d():
    return i3d_network("random")


def noisy_pair(seed=0, frames=5, shape=(24, 28), noise=20.0):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 200, (frames, *shape), dtype=np.uint8)
    test = np.clip(ref + rng.normal(0, noise, ref.shape), 0, 255).astype(np.uint8)
    return ref, test


# ------------------------------------------------------------------ full-reference metrics
def test_frame_metrics_equal_the_image_metrics_frame_by_frame():
    ref, test = noisy_pair()
    before = test.copy()
    result = video_frame_metrics(ref, test)
    assert result["frames"] == 5 and result["data_range"] == 255
    assert result["psnr_per_frame"] == [psnr(a, b) for a, b in zip(ref, test)]
    assert result["ssim_per_frame"] == [ssim(a, b) for a, b in zip(ref, test)]
    assert result["psnr"] == pytest.approx(np.mean(result["psnr_per_frame"]))
    assert result["ssim"] == pytest.approx(np.mean(result["ssim_per_frame"]))
    np.testing.assert_array_equal(test, before)  # input untouched


def test_float_videos_use_the_whole_reference_videos_range():
    ref, test = (v.astype(np.float64) for v in noisy_pair(1, frames=3))
    ref[0] *= 0.1  # a dark first frame: its own range is a tenth of the video's
    test[0] *= 0.1
    result = video_frame_metrics(ref, test)
    span = ref.max() - ref.min()
    assert result["data_range"] == span
    assert result["psnr_per_frame"][0] == pytest.approx(psnr(ref[0], test[0], data_range=span))
    assert result["psnr_per_frame"][0] != pytest.approx(psnr(ref[0], test[0]))  # not the frame's own range


def test_identical_videos_and_colour_videos():
    ref, _ = noisy_pair(2)
    same = video_frame_metrics(ref, ref.copy())
    assert same["psnr"] == float("inf") and same["ssim"] == pytest.approx(1.0)
    rgb_ref, rgb_test = (np.stack([v, v[::-1], v], -1) for v in noisy_pair(3))
    colour = video_frame_metrics(rgb_ref, rgb_test)
    assert colour["ssim_per_frame"][2] == pytest.approx(ssim(rgb_ref[2], rgb_test[2]))


def test_bad_videos_are_refused_clearly():
    ref, test = noisy_pair(4)
    with pytest.raises(ValueError, match="different lengths.*5 frames.*4 frames"):
        video_frame_metrics(ref, test[:4])
    with pytest.raises(ValueError, match="shapes differ"):
        video_frame_metrics(ref, test[:, :20])
    nan = ref.astype(np.float32)
    nan[2, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        video_frame_metrics(ref.astype(np.float32), nan)
    with pytest.raises(ValueError, match="must be a video"):
        video_frame_metrics(ref[0], test[0])
    with pytest.raises(ValueError, match="pair in order"):
        video_metrics([ref, ref], [test])


def test_video_lpips_is_the_mean_of_frame_lpips():
    from napari_vesselgan.metrics.perceptual import lpips
    from napari_vesselgan.nn.lpips import lpips_network

    torch.set_num_threads(1)
    ref, test = noisy_pair(5, frames=3, shape=(32, 32))
    network = lpips_network("squeeze", "random", "random")
    frames = [lpips(a, b, network, data_range=255) for a, b in zip(ref, test)]
    assert video_lpips(ref, test, network) == pytest.approx(np.mean(frames))
    assert video_lpips(ref, ref, network) == 0.0


# ------------------------------------------------------------------------------------ FVD
def test_fvd_of_feature_sets():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(60, 8))
    assert fvd_from_features(a, a.copy()) == pytest.approx(0.0, abs=1e-8)
    matching = fvd_from_features(a, rng.normal(size=(60, 8)))
    shifted = fvd_from_features(a, rng.normal(size=(60, 8)) + 1.0)
    assert 0 < matching < shifted
    assert shifted == pytest.approx(8.0, rel=0.5)  # |mu_a - mu_b|^2 = 8 dominates
    with pytest.raises(ValueError, match="at least 2"):
        fvd_from_features(a[:1], a)


def test_i3d_has_the_published_layout_and_size():
    net = InceptionI3d()
    state = net.state_dict()
    # pytorch-i3d's InceptionI3d(400): 12,697,264 parameters, 410,000 of them in the logits
    assert sum(p.numel() for p in net.parameters()) == 12_697_264
    assert tuple(state["logits.conv3d.weight"].shape) == (400, 1024, 1, 1, 1)
    assert tuple(state["Mixed_5c.b2b.conv3d.weight"].shape) == (128, 48, 3, 3, 3)
    assert tuple(state["Conv3d_1a_7x7.conv3d.weight"].shape) == (64, 3, 7, 7, 7)
    assert "Mixed_4b.b1b.bn.running_var" in state and "Mixed_3b.b0.conv3d.bias" not in state
    assert net.Conv3d_2b_1x1.bn.eps == 0.001
    assert [pooled_steps(t) for t in (8, 9, 12, 16)] == [1, 2, 2, 2]
    with pytest.raises(ValueError, match=f"at least {MIN_FRAMES} frames"):
        net(torch.zeros(1, 3, 8, 224, 224))
    with pytest.raises(ValueError, match="193"):
        net(torch.zeros(1, 3, 12, 64, 64))


def test_i3d_features_of_small_and_short_videos(random_i3d):
    torch.set_num_threads(1)
    rng = np.random.default_rng(8)
    videos = rng.integers(0, 255, (2, 12, 64, 64), dtype=np.uint8)  # (N, T, Y, X): resized to 224
    logits = i3d_features(videos, random_i3d, device="cpu")
    assert logits.shape == (2, 400) and np.isfinite(logits).all()
    assert not np.allclose(logits[0], logits[1])
    assert i3d_features([videos[0]], random_i3d, features="pool", device="cpu").shape == (1, 1024)
    short = videos[0][:6]
    with pytest.raises(ValueError, match="6 frames; I3D needs at least 9"):
        i3d_features([short], random_i3d, device="cpu")
    padded = np.concatenate([short, np.repeat(short[-1:], 3, axis=0)])
    np.testing.assert_allclose(i3d_features([short], random_i3d, device="cpu", pad_short=True),
                               i3d_features([padded], random_i3d, device="cpu"), rtol=1e-5, atol=1e-5)


def test_fvd_of_videos_and_video_metrics(random_i3d):
    torch.set_num_threads(1)
    rng = np.random.default_rng(9)
    refs = rng.integers(0, 255, (3, 9, 32, 32), dtype=np.uint8)
    result = fvd(refs, list(refs), network=random_i3d, device="cpu")
    assert result["fvd"] == pytest.approx(0.0, abs=1e-3) and result["feature_dim"] == 400
    gens = np.clip(refs + rng.normal(0, 30, refs.shape), 0, 255).astype(np.uint8)
    full = video_metrics(refs, gens, i3d_network=random_i3d, device="cpu")
    assert full["fvd"] > 0 and full["lpips"] is None and "lpips" in full["skipped"]
    assert full["psnr"] == pytest.approx(np.mean([video_frame_metrics(r, g)["psnr"] for r, g in zip(refs, gens)]))
    assert len(full["per_video"]) == 3 and len(full["per_video"][1]["ssim_per_frame"]) == 9
    bare = video_metrics(refs[:1], gens[:1])
    assert bare["fvd"] is None and bare["skipped"]["fvd"] == "no I3D network given"
    with pytest.raises(ValueError, match="FVD needs at least 2"):
        fvd(refs[:1], refs, network=random_i3d)


# --------------------------------------------------------------------------------- weights
def test_saved_state_dict_round_trips_through_the_loader(tmp_path):
    source = i3d_network("random")
    state = {k: v + 0.01 if v.is_floating_point() else v for k, v in source.state_dict().items()}
    path = tmp_path / "i3d.pt"
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the pre-1.6 format of rgb_imagenet.pt
    loaded = i3d_network(path)
    assert torch.equal(loaded.Mixed_5c.b3b.conv3d.weight, state["Mixed_5c.b3b.conv3d.weight"])
    assert torch.equal(loaded.Conv3d_1a_7x7.bn.running_mean, state["Conv3d_1a_7x7.bn.running_mean"])
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    del state["logits.conv3d.bias"]
    torch.save(state, path)
    with pytest.raises(PretrainedWeightsMissing, match="lack 1 parameters"):
        i3d_network(path)


def _leave_mark(path):
    with open(path, "w") as handle:
        handle.write("code from the weights file ran")
    return {}


class Payload:
    """An object whose unpickling would run ``_leave_mark``."""

    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        return _leave_mark, (self.mark,)


def test_pickles_with_arbitrary_objects_are_refused(tmp_path):
    mark = tmp_path / "ran.txt"
    path = tmp_path / "evil.pt"
    torch.save({"Conv3d_1a_7x7.conv3d.weight": Payload(str(mark))}, path)
    with pytest.raises(PretrainedWeightsMissing, match="cannot read weights file"):
        i3d_network(path)
    assert not mark.exists()


def test_missing_i3d_weights_name_the_file_and_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    with pytest.raises(PretrainedWeightsMissing, match="rgb_imagenet.pt") as caught:
        fvd(np.zeros((2, 9, 32, 32)), np.ones((2, 9, 32, 32)))
    assert I3D_WEIGHTS_URL in str(caught.value) and str(hub_checkpoint_path(I3D_WEIGHTS_URL)) in str(caught.value)


# ------------------------------------------------------------------------------------- CLI
def test_fvd_command(tmp_path, capsys, monkeypatch):
    torch.set_num_threads(1)
    rng = np.random.default_rng(10)
    for name, scale in (("A", 0.3), ("B", 1.0)):
        (tmp_path / name).mkdir()
        for i in range(2):
            write_image(tmp_path / name / f"{i}.tif", (rng.random((9, 32, 32)) * 255 * scale).astype(np.uint8))
    assert [v.shape for v in video_set(tmp_path / "A")] == [(9, 32, 32)] * 2
    weights = tmp_path / "i3d.pt"
    torch.save(i3d_network("random").state_dict(), weights)
    out = tmp_path / "fvd.json"
    assert main(["fvd", str(tmp_path / "A"), str(tmp_path / "B"), "--weights", str(weights), "--device", "cpu",
                 "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_a"] == result["n_b"] == 2 and result["fvd"] > 0 and result["weights"] == str(weights)
    assert "FVD (logits, 400-d)" in capsys.readouterr().out

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    assert main(["fvd", str(tmp_path / "A"), str(tmp_path / "B")]) == 2
    err = capsys.readouterr().err
    assert "rgb_imagenet.pt" in err and len(err.strip().splitlines()) == 1
    assert main(["fvd", str(tmp_path / "A"), str(tmp_path / "nowhere")]) == 2


def test_bench_fvd_small_run(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fvd.py"
    spec = importlib.util.spec_from_file_location("bench_fvd", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = torch.get_num_threads()
    try:
        rows = bench.main(["--videos", "1", "--frames", "9", "--batch", "2", "--repeats", "1", "--set-size", "5",
                           "--out", str(tmp_path / "b.json")])
    finally:
        torch.set_num_threads(before)
    assert rows == json.loads((tmp_path / "b.json").read_text())
    assert all(tuple(r) == bench.ROW_KEYS and r["value"] > 0 for r in rows)
    for r in rows:
        if r["baseline"] is not None:
            assert r["baseline"] == "i3d 224px batch 1, 1 thread"
            assert r["ratio"] == pytest.approx(r["value"] / r["baseline_value"])
    assert {r["case"] for r in rows} >= {"preparation only 512px", "fvd 5 videos 400-d"}
