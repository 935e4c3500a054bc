"""Network shapes and parameter counts pinned to the CycleGAN reference implementation."""

import pytest
import torch

from napari_vesselgan.nn import PatchDiscriminator, ResnetGenerator


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (lambda: ResnetGenerator(1, 1, ngf=64, n_blocks=9), 11_365_633),
        (lambda: ResnetGenerator(3, 3, ngf=64, n_blocks=9), 11_378_179),
        (lambda: ResnetGenerator(3, 3, ngf=64, n_blocks=6), 7_837_699),
        (lambda: PatchDiscriminator(1, ndf=64, n_layers=3), 2_762_689),
        (lambda: PatchDiscriminator(3, ndf=64, n_layers=3), 2_764_737),
    ],
)
def test_parameter_counts_match_reference(net, expected):
    assert count(net()) == expected


def test_generator_keeps_size_and_range():
    net = ResnetGenerator(1, 1, ngf=8, n_blocks=2).eval()
    out = net(torch.randn(2, 1, 64, 72) * 3)
    assert out.shape == (2, 1, 64, 72)
    assert out.abs().max() <= 1.0


def test_patchgan_output_grid_and_receptive_field():
    net = PatchDiscriminator(1, ndf=8).eval()
    assert net(torch.zeros(1, 1, 256, 256)).shape == (1, 1, 30, 30)
    assert net(torch.zeros(1, 1, 128, 128)).shape == (1, 1, 14, 14)
    # one output cell sees a 70x70 window (without instance norm, whose statistics are global)
    local = PatchDiscriminator(1, ndf=8, norm="none").eval()
    x = torch.zeros(1, 1, 256, 256, requires_grad=True)
    local(x)[0, 0, 15, 15].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    assert int(rows.max() - rows.min() + 1) == 70
