"""Engine: seamless tiling, checkpoints (atomic, safe, resumable), schedules, devices, seeding."""

from __future__ import annotations

import pickle

import dask.array as da
import numpy as np
import pytest
import torch

from napari_vesselgan.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from napari_vesselgan.engine.device import resolve_device, seed_everything
from napari_vesselgan.engine.schedules import lr_factor
from napari_vesselgan.engine.tiling import plan_windows
from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod
from napari_vesselgan.nn import init_weights


@pytest.fixture(scope="module")
def default_net_method():
    """The default denoise architecture (ngf 16, 6 blocks, instance norm), seeded random weights."""
    method = DenoiseMethod.untrained(DenoiseConfig(), device="cpu")
    init_weights(method.generator, gain=0.05, seed=3)
    return method


@pytest.fixture(scope="module")
def image_600x520():
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    return (gaussian_filter(rng.random((600, 520)), 4) * 60000).astype(np.uint16)


def test_tiled_equals_whole_image_600x520(default_net_method, image_600x520):
    whole = default_net_method.predict(image_600x520.astype(np.float32), tile=None)
    tiled = default_net_method.predict(image_600x520.astype(np.float32), tile=128)
    data_range = float(image_600x520.max() - image_600x520.min())
    assert np.abs(tiled - whole).max() / data_range < 1e-3
    # the check can fail: with a halo far below the receptive field the tiles disagree
    rough = default_net_method.predict(image_600x520.astype(np.float32), tile=128, halo=8)
    assert np.abs(rough - whole).max() / data_range > 1e-3


def test_tiled_memory_is_bounded_by_the_tile(default_net_method, image_600x520):
    shapes = []  # what the first layer sees (streamed tiling runs the layers, not the generator's forward)
    first_layer = default_net_method.generator.model[0]
    handle = first_layer.register_forward_pre_hook(lambda m, a: shapes.append(tuple(a[0].shape)))
    try:
        default_net_method.predict(image_600x520, tile=128)
    finally:
        handle.remove()
    window = 128 + 2 * default_net_method.receptive_halo()
    assert shapes and max(max(s[-2:]) for s in shapes) <= window
    assert max(s[-2] * s[-1] for s in shapes) < 600 * 520


def test_dask_input_matches_numpy(default_net_method, image_600x520):
    lazy = da.from_array(image_600x520, chunks=(128, 128))
    expected = default_net_method.predict(image_600x520, tile=256)
    assert np.array_equal(default_net_method.predict(lazy, tile=256), expected)


def test_windows_partition_the_image():
    windows = plan_windows(600, 522, tile=128, halo=72, stride=4)
    cover = np.zeros((600, 524), int)
    for w in windows:
        y0, y1, x0, x1 = w.core
        cover[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = w.window
        assert all(v % 4 == 0 for v in (wy0, wy1, wx0, wx1, y0, y1, x0, x1))
    assert (cover == 1).all()


def test_checkpoint_round_trip_and_metadata(tmp_path):
    net = torch.nn.Conv2d(1, 2, 3)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 1, 4, 4)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "c.safetensors", method="denoise", config={"ngf": 8},
                           networks={"generator": net}, optimizers={"opt": optimizer}, step=7,
                           provenance={"training_data": "x"})
    ckpt = load_checkpoint(path, expected_method="denoise")
    assert ckpt.step == 7 and ckpt.config == {"ngf": 8} and ckpt.provenance["training_data"] == "x"
    assert torch.equal(ckpt.networks["generator"]["weight"], net.weight)
    restored = torch.optim.Adam(torch.nn.Conv2d(1, 2, 3).parameters())
    restored.load_state_dict(ckpt.optimizers["opt"])
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert (tmp_path / "c.json").is_file()
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]
    with pytest.raises(CheckpointError, match="not 'superres'"):
        load_checkpoint(path, expected_method="superres")


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/vesselgan-pwned",))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_pickled_checkpoint_is_refused_without_running_code(tmp_path, writer):
    marker = tmp_path / "pwned"
    payload = {"weights": _Exploit()}
    _Exploit.__reduce__ = lambda self: (open, (str(marker), "w"))
    path = tmp_path / "evil.safetensors"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        DenoiseMethod.load(path, device="cpu")


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_checkpoint(path, method="denoise", config={}, networks={"g": torch.nn.Linear(50, 50)})
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_failed_write_leaves_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.safetensors", method="denoise", config={"v": 1}, networks={"g": torch.nn.Linear(2, 2)})
    import napari_vesselgan.engine.checkpoint as module

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "save_file", explode)
    with pytest.raises(OSError):
        save_checkpoint(path, method="denoise", config={"v": 2}, networks={"g": torch.nn.Linear(2, 2)})
    assert load_checkpoint(path).config == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.safetensors"]


def test_linear_and_step_schedules():
    factors = [lr_factor(s, schedule="linear", total_steps=10, decay_steps=5, step_size=1, gamma=1) for s in range(11)]
    assert factors[:6] == [1.0] * 6 and factors[6] == pytest.approx(1 - 1 / 6) and factors[10] == pytest.approx(1 / 6)
    assert lr_factor(120, schedule="step", total_steps=0, decay_steps=0, step_size=50, gamma=0.1) == pytest.approx(0.01)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


def test_seeding_repeats_cpu_runs():
    seed_everything(5)
    a = torch.randn(3)
    seed_everything(5)
    assert torch.equal(a, torch.randn(3))


def test_safetensors_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path):
    """A header of 0x..80 bytes begins the file with 0x80, a pickle's first byte (a real bug)."""
    for pad in range(256):
        path = save_checkpoint(tmp_path / "w.safetensors", method="denoise", config={"pad": "x" * pad},
                               networks={"generator": torch.nn.Linear(2, 2)}, step=1)
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no padding gave a header length starting with 0x80")
    assert load_checkpoint(path).config == {"pad": "x" * pad}
