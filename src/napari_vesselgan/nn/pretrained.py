"""ImageNet feature networks (VGG, ResNet) in torchvision's state-dict layout, and their weights.

torchvision is not a dependency (it fights the CPU torch build), so the architectures are
defined here with torchvision's parameter names: the published weight files load unchanged.
Weights come from torch's hub cache (``TORCH_HOME``, downloaded there when a network is up),
from a local file the user names, or are explicitly random (``weights="random"``, for tests
and for honest training without pretrained features). Nothing falls back silently.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from napari_vesselgan import InvalidInput

# torchvision's published ImageNet weights, by network name.
WEIGHT_URLS: dict[str, str] = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-394f9c45.pth",
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

DOWNLOAD_TIMEOUT_S = 30.0


class PretrainedWeightsMissing(RuntimeError):
    """The ImageNet weights of a feature network are neither cached nor reachable."""


def hub_checkpoint_path(url: str) -> Path:
    """Where torch's hub cache keeps (or would keep) the file at ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def _missing_message(name: str, url: str, reason: str) -> str:
    return (
        f"the ImageNet weights of {name} are not available ({reason}). Fetch {url} and either "
        f"place it at {hub_checkpoint_path(url)} (torch's hub cache; set TORCH_HOME to move it) "
        f"or pass its path as the weights file; weights='random' trains without pretrained "
        f"features, deliberately."
    )


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors or .pth file, never unpickling arbitrary objects."""
    if not path.is_file():
        raise PretrainedWeightsMissing(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise PretrainedWeightsMissing(f"cannot read weights file {path}: {error}") from error
    if not isinstance(state, dict):
        raise PretrainedWeightsMissing(f"weights file {path} does not hold a state dict")
    return state


def load_pretrained_state(name: str, weights: str | os.PathLike | None = None, url: str | None = None) -> dict:
    """The published state dict of ``name``: from ``weights`` (a file) or the hub cache / URL.

    Raises :class:`PretrainedWeightsMissing`, naming the file to fetch, when neither works.
    """
    if weights is not None:
        return _read_state_file(Path(weights))
    url = url or WEIGHT_URLS[name]
    cached = hub_checkpoint_path(url)
    if cached.is_file():
        return _read_state_file(cached)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, weights_only=True)
    except Exception as error:  # noqa: BLE001 - offline, proxy, HTTP or disk errors alike
        raise PretrainedWeightsMissing(_missing_message(name, url, f"download failed: {error}")) from error
    finally:
        socket.setdefaulttimeout(previous)


def load_into(network: nn.Module, name: str, weights: str | os.PathLike | None, url: str | None = None) -> nn.Module:
    """Fill ``network`` with the published weights of ``name`` (or keep its random init for
    ``weights="random"``); keys the network lacks (e.g. classifier heads) are ignored, missing
    ones are an error."""
    if isinstance(weights, str) and weights == "random":
        return network
    state = load_pretrained_state(name, weights, url)
    own = network.state_dict()
    # batch-norm step counters are not weights (unused in eval); older files lack them
    optional = {key for key in own if key.endswith("num_batches_tracked") and key not in state}
    missing = [key for key in own if key not in state and key not in optional]
    if missing:
        raise PretrainedWeightsMissing(
            f"the weights given for {name} lack {len(missing)} parameters (e.g. {missing[0]!r}); "
            f"is it the right file?"
        )
    wrong = [key for key in own if key not in optional and tuple(state[key].shape) != tuple(own[key].shape)]
    if wrong:
        raise PretrainedWeightsMissing(f"the weights given for {name} have the wrong shape for {wrong[0]!r}")
    network.load_state_dict({key: own[key] if key in optional else state[key] for key in own})
    return network


# ---------------------------------------------------------------------------------- VGG
VGG_LAYOUTS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg_layer_indices(name: str) -> dict[str, int]:
    """Index in ``features`` of every ReLU, named the usual way (relu1_1, relu1_2, ...)."""
    indices: dict[str, int] = {}
    block, conv, index = 1, 0, 0
    for entry in VGG_LAYOUTS[name]:
        if entry == "M":
            block, conv = block + 1, 0
            index += 1
        else:
            conv += 1
            indices[f"relu{block}_{conv}"] = index + 1
            index += 2
    return indices


class VGGFeatures(nn.Module):
    """The convolutional part of VGG (``features.*`` in torchvision), cut after the last layer
    asked for; returns the activations at ``layers`` in order."""

    def __init__(self, name: str = "vgg19", layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")):
        super().__init__()
        self.name = name
        named = vgg_layer_indices(name)
        unknown = [layer for layer in layers if layer not in named]
        if unknown:
            raise InvalidInput(f"{name} has no layer {unknown[0]!r}; it has {', '.join(named)}")
        self.layer_names = list(layers)
        self.layer_indices = [named[layer] for layer in layers]
        modules: list[nn.Module] = []
        channels = 3
        for entry in VGG_LAYOUTS[name]:
            if entry == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, int(entry), 3, padding=1), nn.ReLU(inplace=False)]
                channels = int(entry)
        self.features = nn.Sequential(*modules[: max(self.layer_indices) + 1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs: dict[int, torch.Tensor] = {}
        for index, module in enumerate(self.features):
            x = module(x)
            outputs[index] = x
        return [outputs[index] for index in self.layer_indices]


# ------------------------------------------------------------------------------- ResNet
class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck (stride on the 3x3 convolution)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


RESNET_BLOCKS: dict[str, tuple[int, int, int, int]] = {"resnet50": (3, 4, 6, 3), "resnet152": (3, 8, 36, 3)}


class ResNetFeatures(nn.Module):
    """ResNet's trunk (conv1 ... layer4, torchvision names, no classifier), returning the
    outputs of the stages asked for (``layer1`` ... ``layer4``)."""

    def __init__(self, name: str = "resnet152", layers: Sequence[str] = ("layer4",)):
        super().__init__()
        self.name = name
        self.layer_names = list(layers)
        stages = [f"layer{i}" for i in range(1, 5)]
        unknown = [layer for layer in layers if layer not in stages]
        if unknown:
            raise InvalidInput(f"{name} has no stage {unknown[0]!r}; it has {', '.join(stages)}")
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels, last = 64, max(stages.index(layer) for layer in layers)
        for stage, (count, width) in enumerate(zip(RESNET_BLOCKS[name], (64, 128, 256, 512))):
            if stage > last:
                break
            blocks = []
            for block in range(count):
                blocks.append(Bottleneck(channels, width, stride=2 if block == 0 and stage > 0 else 1))
                channels = width * Bottleneck.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.depth = last + 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outputs = {}
        for stage in range(1, self.depth + 1):
            x = getattr(self, f"layer{stage}")(x)
            outputs[f"layer{stage}"] = x
        return [outputs[layer] for layer in self.layer_names]


# ------------------------------------------------------------------ frozen feature network
class ImageNetFeatures(nn.Module):
    """A frozen feature network fed the way ImageNet nets expect: grey or RGB in [0, 1] (or
    [-1, 1] with ``signed=True``), repeated to 3 channels and normalised by ImageNet's mean/std."""

    def __init__(self, trunk: nn.Module, *, signed: bool = False):
        super().__init__()
        self.trunk = trunk.eval().requires_grad_(False)
        self.signed = signed
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> ImageNetFeatures:
        """Stay in eval mode (batch-norm statistics are ImageNet's)."""
        super().train(mode)
        self.trunk.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.signed:
            x = (x + 1) / 2
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.trunk((x - self.mean) / self.std)


def feature_network(
    name: str, layers: Sequence[str], weights: str | os.PathLike | None = None, *, signed: bool = False
) -> ImageNetFeatures:
    """A frozen ImageNet feature network (``vgg16``, ``vgg19``, ``resnet50``, ``resnet152``)
    returning ``layers``, with weights from ``weights`` (None: hub cache or download; a path;
    or ``"random"``, seeded, for tests and deliberate training without pretrained features)."""
    if name.startswith("vgg"):
        architecture: type[nn.Module] = VGGFeatures
    elif name.startswith("resnet"):
        architecture = ResNetFeatures
    else:
        raise InvalidInput(f"unknown feature network {name!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # "random" features are the same on every run
        trunk = architecture(name, layers)
    load_into(trunk, name, weights)
    return ImageNetFeatures(trunk, signed=signed)


class FeatureWeightsMissing(InvalidInput):
    """A training loss's feature network has no weights; ``reason`` says which file, without the
    command line's advice (a front end with its own controls words its own)."""

    def __init__(self, reason: str, off_option: str):
        super().__init__(f"{reason} Or train with {off_option}.")
        self.reason = reason


def loss_features(name: str, layers: Sequence[str], weights: str | os.PathLike | None = None, *,
                  signed: bool = False, off_option: str = "perceptual=false") -> tuple[ImageNetFeatures, str]:
    """:func:`feature_network` for a training loss, and a note of which weights it has (for the
    checkpoint's provenance). Missing weights become a ValueError that also names ``off_option``,
    the config setting that trains without the term."""
    try:
        network = feature_network(name, layers, weights, signed=signed)
    except PretrainedWeightsMissing as error:
        raise FeatureWeightsMissing(str(error), off_option) from None
    label = name.upper()
    which = {None: f"ImageNet {label} (torchvision weights)", "random": f"random {label} features (seed 0)"}.get(
        weights, f"{label} weights from {weights}")
    return network, which


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "WEIGHT_URLS",
    "ImageNetFeatures",
    "PretrainedWeightsMissing",
    "ResNetFeatures",
    "VGGFeatures",
    "feature_network",
    "hub_checkpoint_path",
    "load_into",
    "load_pretrained_state",
    "loss_features",
    "vgg_layer_indices",
]
