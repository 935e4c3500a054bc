"""LPIPS: the published backbones' sizes and layouts, the LPIPS weight-file layout, the
distance's basic properties, and the weight rules."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from napari_vesselgan.metrics.perceptual import lpips, lpips_metric
from napari_vesselgan.nn.lpips import CHANNELS, LIN_URLS, alexnet_features, lpips_network, squeezenet_features
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing


def test_backbones_have_torchvision_sizes_and_names():
    # torchvision: alexnet 61,100,840 parameters, of which the classifier (9216->4096->4096->1000)
    # holds 58,631,144; squeezenet1_1 1,235,496, of which the 512->1000 1x1 classifier 513,000.
    alex = alexnet_features()
    assert sum(p.numel() for p in alex.parameters()) == 61_100_840 - 58_631_144
    squeeze = squeezenet_features()
    assert sum(p.numel() for p in squeeze.parameters()) == 1_235_496 - 513_000
    assert "features.12.expand3x3.weight" in squeeze.state_dict()
    assert "features.10.weight" in alex.state_dict()
    x = torch.rand(1, 3, 64, 64)
    for net, backbone in (("alex", alex), ("squeeze", squeeze)):
        assert [f.shape[1] for f in backbone(x)] == list(CHANNELS[net])


def test_lin_weight_file_layout_loads(tmp_path):
    state = {f"lin{k}.model.1.weight": torch.full((1, c, 1, 1), 0.1) for k, c in enumerate(CHANNELS["alex"])}
    path = tmp_path / "alex.safetensors"
    save_file(state, str(path))
    net = lpips_network("alex", backbone_weights="random", lin_weights=path)
    assert torch.equal(net.heads.lin4.model[1].weight, state["lin4.model.1.weight"])
    del state["lin2.model.1.weight"]
    save_file(state, str(path))
    with pytest.raises(PretrainedWeightsMissing, match="lack 1"):
        lpips_network("alex", backbone_weights="random", lin_weights=path)


def test_distance_properties_with_random_weights():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    slightly = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
    very = np.clip(image + rng.normal(0, 60, image.shape), 0, 255).astype(np.uint8)
    for net in ("alex", "squeeze"):
        model = lpips_network(net, "random", "random")
        assert lpips(image, image, model) == 0.0
        assert 0 < lpips(image, slightly, model) < lpips(image, very, model)
        assert lpips(image, very, model) == pytest.approx(lpips(very, image, model), rel=1e-5)  # symmetric
    rgb = np.stack([image, slightly, very], -1)
    assert lpips(rgb, rgb[..., ::-1], lpips_network("squeeze", "random", "random")) > 0
    with pytest.raises(ValueError, match="shapes differ"):
        lpips(image, image[:10], model)


def test_missing_lpips_weights_name_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    with pytest.raises(PretrainedWeightsMissing, match="squeezenet1_1-b8a52dc0.pth"):
        lpips_network("squeeze")
    with pytest.raises(PretrainedWeightsMissing, match="squeeze.pth") as caught:
        lpips_network("squeeze", backbone_weights="random")
    assert LIN_URLS["squeeze"] in str(caught.value)
    with pytest.raises(ValueError, match="unknown LPIPS"):
        lpips_network("resnet")


def test_lpips_metric_is_the_distance_of_one_shared_network(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (48, 48), dtype=np.uint8)
    noisy = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    extra = lpips_metric("squeeze", backbone_weights="random", lin_weights="random")
    assert list(extra) == ["lpips"]
    expected = lpips(image, noisy, lpips_network("squeeze", "random", "random"))
    assert extra["lpips"](image, noisy) == pytest.approx(expected, rel=1e-6)
    assert extra["lpips"](image, image) == 0.0
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("off")))
    with pytest.raises(PretrainedWeightsMissing, match="squeeze.pth"):
        lpips_metric("squeeze", backbone_weights="random")
