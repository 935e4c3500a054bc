"""Streamed exact tiling (engine.streaming): each method's generator architecture, tiled == whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from napari_vesselgan.engine import streaming
from napari_vesselgan.engine.streaming import Unsupported, compile_ops, predict_streamed
from napari_vesselgan.engine.tiling import predict_whole, round_up
from napari_vesselgan.nn import GlobalGenerator, ResnetGenerator, UnetGenerator, init_weights
from napari_vesselgan.nn.rrdb import SuperResGenerator

CPU = torch.device("cpu")

#: (method it stands for, network, stride): every generator architecture a method predicts with
ARCHITECTURES = {
    "denoise / mask2nir (ResNet)": (lambda: ResnetGenerator(1, 1, ngf=8, n_blocks=2), 4),
    "fundus2ffa (ResNet, ReLU after each conv)": (
        lambda: ResnetGenerator(3, 1, ngf=8, n_blocks=2, block_relu_after_each=True), 4),
    "fundus2ffa pix2pix (U-Net)": (lambda: UnetGenerator(3, 1, ngf=8, num_downs=4), 16),
    "fundus2video (pix2pixHD global)": (lambda: GlobalGenerator(6, 3, ngf=8, n_downsampling=2, n_blocks=1), 4),
    "superres (RRDB, no norms)": (lambda: SuperResGenerator(1, 8, 4, 1, spectral=False), 4),
}


def _tiled_and_whole(net: nn.Module, stride: int, shape=(3, 100, 92), tile: int = 48, **options):
    init_weights(net, seed=3).eval()
    channels = next(m for m in net.modules() if isinstance(m, nn.Conv2d)).in_channels
    image = np.random.default_rng(1).uniform(-1, 1, (channels, *shape[1:])).astype(np.float32)
    halo = round_up(net.receptive_radius + 8, stride)
    whole = predict_whole(net, image, stride=stride, device=CPU)
    tiled = predict_streamed(net, lambda y0, y1, x0, x1: image[:, y0:y1, x0:x1], image.shape, tile=tile, halo=halo,
                             stride=stride, out_channels=whole.shape[0], device=CPU, **options)
    return tiled, whole


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_streamed_tiles_equal_the_whole_image(architecture, single_torch_thread):
    build, stride = ARCHITECTURES[architecture]
    tiled, whole = _tiled_and_whole(build(), stride)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() <= 1e-4 * float(np.ptp(whole))


def test_states_spilled_to_disk_give_the_same_result(single_torch_thread, tmp_path):
    build, stride = ARCHITECTURES["denoise / mask2nir (ResNet)"]
    in_memory, _ = _tiled_and_whole(build(), stride)
    on_disk, _ = _tiled_and_whole(build(), stride, memory_budget=0, scratch=tmp_path)
    np.testing.assert_array_equal(on_disk, in_memory)
    assert not any(tmp_path.iterdir())  # the scratch folder is removed afterwards


def test_each_layer_runs_once_per_window(single_torch_thread):
    """The point of streaming: a conv runs once per window, not once per norm layer as before."""
    net = ResnetGenerator(1, 1, ngf=8, n_blocks=2)
    calls = []
    first_conv = net.model[1]
    first_conv.register_forward_hook(lambda *args: calls.append(1))
    _tiled_and_whole(net, 4, tile=48)
    windows = len(streaming.plan_windows(100, 92, 48, round_up(net.receptive_radius + 8, 4), 4))
    assert len(calls) == windows + 1  # + the whole-image reference


def test_unknown_structures_are_refused_and_the_method_falls_back():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm = nn.Conv2d(1, 4, 3, padding=1), nn.InstanceNorm2d(4)

        def forward(self, x):
            return self.norm(self.conv(x)).mean(1, keepdim=True)

    with pytest.raises(Unsupported):
        compile_ops(Custom())
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    method = DenoiseMethod(DenoiseConfig(), Custom(), device="cpu")  # one pass per norm layer instead
    image = np.random.default_rng(0).random((64, 60)).astype(np.float32)
    np.testing.assert_allclose(method.predict(image, tile=32), method.predict(image), atol=1e-5)


def test_method_prediction_streams(monkeypatch, single_torch_thread):
    """Method.predict's tiled path goes through engine.streaming and equals the whole image."""
    from napari_vesselgan.methods import base
    from napari_vesselgan.methods.denoise import DenoiseConfig, DenoiseMethod

    torch.manual_seed(0)
    method = DenoiseMethod.untrained(DenoiseConfig(ngf=8, n_blocks=2), device="cpu")
    image = (np.random.default_rng(0).random((120, 104)) * 4000).astype(np.uint16)
    whole = method.predict(image.astype(np.float32))
    monkeypatch.setattr(base, "predict_tiled", lambda *a, **k: pytest.fail("the multi-pass tiling ran"))
    tiled = method.predict(image.astype(np.float32), tile=48)
    assert np.abs(tiled - whole).max() <= 1e-4 * float(np.ptp(whole))
