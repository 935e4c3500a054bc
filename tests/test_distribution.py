"""FID / KID: the maths against direct scipy/numpy computations, the FID Inception's layout and
size, and the weight rules (file, hub cache, explicit random, clear error)."""

import numpy as np
import pytest
import scipy.linalg
import torch
from safetensors.torch import save_file

from napari_vesselgan.metrics.distribution import (
    distribution_metrics,
    fid_from_features,
    frechet_distance,
    image_set,
    kid_from_features,
    to_unit_image,
)
from napari_vesselgan.nn.inception import FID_WEIGHTS_URL, FIDInceptionV3, fid_inception
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing


def direct_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook FID with scipy's general matrix square root."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))


def direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2, cubic polynomial kernel, written as explicit sums over pairs."""
    d, m, n = x.shape[1], len(x), len(y)
    k = lambda u, v: (u @ v / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(xx + yy - 2 * xy)


def test_fid_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 12))
    b = rng.normal(size=(150, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    assert fid_from_features(a, b) == pytest.approx(direct_fid(a, b), rel=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_known_gaussians():
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


def test_kid_matches_direct_sums_and_separates_distributions():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 1.0
    # one subset of all features: a permutation of the sets, so exactly the direct MMD^2
    mean, std, m = kid_from_features(x, y, subsets=1, subset_size=100)
    assert m == 12 and std == 0.0
    assert mean == pytest.approx(direct_mmd2(x, y), rel=1e-9)
    same = kid_from_features(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)), subsets=20, subset_size=100)
    apart = kid_from_features(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + 1, subsets=20, subset_size=100)
    assert abs(same[0]) < 3 * same[1] + 1e-3 < apart[0]
    assert same[1] > 0  # the std is over different subsets


def test_fid_needs_two_vectors_and_equal_sizes():
    with pytest.raises(ValueError, match="at least 2"):
        fid_from_features(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="differ"):
        kid_from_features(np.zeros((3, 4)), np.zeros((3, 5)))


def test_fid_inception_has_the_published_size_and_layout():
    net = FIDInceptionV3()
    trunk = sum(p.numel() for p in net.parameters())
    # torchvision's inception_v3 has 27,161,264 parameters, of which its 1000-class fc
    # (2048 * 1000 + 1000) and the auxiliary classifier (768->128 1x1 conv + BN, 128->768 5x5
    # conv + BN, 768->1000 fc) are not part of the pool-feature trunk.
    aux = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)
    assert trunk == 27_161_264 - (2048 * 1000 + 1000) - aux
    state = net.state_dict()
    assert tuple(state["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape) == (384, 384, 3, 1)
    assert tuple(state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape) == (192, 192, 1, 7)
    assert "Conv2d_1a_3x3.bn.running_var" in state
    assert net(torch.rand(2, 1, 80, 90)).shape == (2, 2048)


def test_fid_weights_file_loads_without_step_counters_and_with_the_fc_head(tmp_path):
    source = FIDInceptionV3()
    state = {k: v.clone() + 0.001 for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)  # as in the FID file
    path = tmp_path / "pt_inception.safetensors"
    save_file(state, str(path))
    net = fid_inception(path)
    assert torch.equal(net.Mixed_5b.branch_pool.conv.weight, state["Mixed_5b.branch_pool.conv.weight"])
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    del state["Mixed_7c.branch1x1.bn.weight"]
    save_file(state, str(path))
    with pytest.raises(PretrainedWeightsMissing, match="lack 1 parameters"):
        fid_inception(path)


def test_missing_fid_weights_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(PretrainedWeightsMissing, match="pt_inception-2015-12-05-6726825d.pth") as caught:
        distribution_metrics(np.zeros((2, 32, 32)), np.ones((2, 32, 32)))
    assert FID_WEIGHTS_URL in str(caught.value)


def test_to_unit_image_ranges():
    assert to_unit_image(np.array([[0, 65535]], np.uint16)).tolist() == [[[0.0, 1.0]]]
    np.testing.assert_allclose(to_unit_image(np.array([[0.2, 0.4]])), [[[0.2, 0.4]]], rtol=1e-6)
    assert to_unit_image(np.array([[-2.0, 2.0]])).tolist() == [[[0.0, 1.0]]]
    assert to_unit_image(np.zeros((4, 4, 4), np.uint8)).shape == (3, 4, 4)
    with pytest.raises(ValueError, match="NaN"):
        to_unit_image(np.array([[np.nan, 1.0]]))


def test_image_set_from_folder_and_stack(tmp_path):
    from napari_vesselgan.io import write_image

    rng = np.random.default_rng(0)
    write_image(tmp_path / "a.tif", rng.integers(0, 255, (3, 20, 20), dtype=np.uint8))  # a stack: 3 frames
    write_image(tmp_path / "b.png", rng.integers(0, 255, (24, 24), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    assert [im.shape for im in image_set(tmp_path)] == [(20, 20)] * 3 + [(24, 24)]
    assert len(image_set(np.zeros((5, 8, 8, 3)))) == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        image_set(tmp_path / "empty")


def test_distribution_metrics_with_random_inception():
    rng = np.random.default_rng(3)
    torch.set_num_threads(1)
    smooth = [np.full((48, 48), v) + rng.normal(0, 0.01, (48, 48)) for v in np.linspace(0.2, 0.8, 4)]
    noisy = [rng.random((48, 48)) for _ in range(4)]
    net = fid_inception("random")
    same = distribution_metrics(smooth, smooth[::-1], network=net, device="cpu", kid_subsets=5)
    apart = distribution_metrics(smooth, noisy, network=net, device="cpu", kid_subsets=5)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert apart["fid"] > 1.0 and apart["kid"] > 0
    assert apart["kid_x100"] == pytest.approx(100 * apart["kid"])
    assert apart["n_a"] == 4 and apart["kid_subset_size"] == 4
    with pytest.raises(ValueError, match="at least 2"):
        distribution_metrics(smooth[:1], noisy, network=net, device="cpu")


def test_benchmark_script_small_run(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_distribution.py"
    spec = importlib.util.spec_from_file_location("bench_distribution", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "b.json"
    rows = module.main(["--dim", "64", "--samples", "80", "--repeats", "1", "--images", "2", "--batches", "1", "2",
                        "--out", str(out)])
    assert json.loads(out.read_text()) == rows
    assert all(tuple(r) == module.ROW_KEYS for r in rows)
    diff = next(r for r in rows if r["metric"] == "abs_difference_relative")
    assert diff["value"] < 1e-6  # eigh and scipy's sqrtm agree
