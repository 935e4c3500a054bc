"""Feature networks: torchvision's layout (so published weights load), and no silent fallback."""

import pytest
import torch
from safetensors.torch import save_file

from napari_vesselgan.nn.pretrained import (
    PretrainedWeightsMissing,
    ResNetFeatures,
    VGGFeatures,
    feature_network,
    hub_checkpoint_path,
    vgg_layer_indices,
)


def test_resnet152_has_torchvision_parameter_count():
    # torchvision's resnet152 has 60,192,808 parameters, 2,049,000 of them in the fc head we omit.
    trunk = ResNetFeatures("resnet152", ["layer4"])
    assert sum(p.numel() for p in trunk.parameters()) == 60_192_808 - 2_049_000
    assert "layer3.35.conv3.weight" in trunk.state_dict()


def test_vgg_names_follow_torchvision_indices():
    assert vgg_layer_indices("vgg19")["relu4_1"] == 20
    assert vgg_layer_indices("vgg16")["relu4_3"] == 22
    # VGG-16's convolutional part has 14,714,688 parameters.
    full = VGGFeatures("vgg16", ["relu5_3"])
    assert sum(p.numel() for p in full.parameters()) == 14_714_688


def test_weights_file_loads_and_drives_the_output(tmp_path):
    source = VGGFeatures("vgg19", ["relu2_1"])
    state = {f"{k}": v.clone() + 0.01 for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # heads in the file are ignored
    path = tmp_path / "vgg19.safetensors"
    save_file(state, str(path))
    net = feature_network("vgg19", ["relu2_1"], path)
    assert torch.equal(net.trunk.features[0].weight, state["features.0.weight"])
    assert not any(p.requires_grad for p in net.parameters())


def test_random_features_are_reproducible_and_keep_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    a = feature_network("vgg16", ["relu1_2"], "random")
    assert torch.equal(torch.rand(1), expected)
    b = feature_network("vgg16", ["relu1_2"], "random")
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(a(x)[0], b(x)[0])


def test_missing_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(PretrainedWeightsMissing, match="vgg19-dcbb9e9d.pth") as caught:
        feature_network("vgg19", ["relu1_1"])
    assert str(hub_checkpoint_path("https://x/vgg19-dcbb9e9d.pth")) in str(caught.value)


def test_wrong_or_pickled_file_is_refused(tmp_path):
    wrong = tmp_path / "wrong.safetensors"
    save_file({"features.0.weight": torch.zeros(1)}, str(wrong))
    with pytest.raises(PretrainedWeightsMissing, match="lack"):
        feature_network("vgg16", ["relu1_2"], wrong)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(PretrainedWeightsMissing, match="cannot read"):
        feature_network("vgg16", ["relu1_2"], evil)
