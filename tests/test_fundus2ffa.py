"""fundus2ffa: synthetic fundus/FFA pairs, the FFA saliency map, the conditional GAN, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_vesselgan import methods
from napari_vesselgan.analysis import ffa_saliency
from napari_vesselgan.analysis.ffa_saliency import gaussian_sigma, median_background
from napari_vesselgan.data.fundus import LEAKAGE_KINDS, fundus_anatomy, fundus_pair, render_ffa
from napari_vesselgan.evaluation.fundus2ffa import evaluate_heldout
from napari_vesselgan.losses.saliency import SaliencyLoss, saliency_map
from napari_vesselgan.methods.fundus2ffa import Fundus2FFAConfig, Fundus2FFAMethod, field_of_view
from napari_vesselgan.nn import ConditionalPatchDiscriminator, ResnetGenerator, UnetGenerator


pytestmark = pytest.mark.usefixtures("single_torch_thread")


# --- synthetic data ------------------------------------------------------------------------
def test_fundus_pair_shapes_ranges_and_determinism():
    pair = fundus_pair((128, 96), seed=3)
    assert pair.fundus.shape == (128, 96, 3) and pair.fundus.dtype == np.float32
    assert pair.ffa.shape == (128, 96) and pair.ffa.dtype == np.float32
    for image in (pair.fundus, pair.ffa):
        assert 0.0 <= image.min() and image.max() <= 1.0
    again = fundus_pair((128, 96), seed=3)
    assert np.array_equal(again.fundus, pair.fundus) and np.array_equal(again.ffa, pair.ffa)
    assert not np.array_equal(fundus_pair((128, 96), seed=4).ffa, pair.ffa)
    # black outside the circular field of view, and the FOV finder recovers it from the photo
    fov = pair.anatomy.fov
    assert pair.fundus[~fov].max() == 0 and pair.ffa[~fov].max() == 0
    assert (field_of_view(pair.fundus) != fov).mean() < 0.01


def test_fundus_and_ffa_are_registered_through_the_vessels():
    pair = fundus_pair((256, 256), seed=5, leakage="none")
    anatomy = pair.anatomy
    vessels = anatomy.vessels & anatomy.fov
    near = ndimage.binary_dilation(vessels, iterations=4) & ~ndimage.binary_dilation(vessels, iterations=2) & anatomy.fov
    green = pair.fundus[..., 1]
    assert green[vessels].mean() < 0.8 * green[near].mean()  # dark vessels in the photo
    assert pair.ffa[vessels].mean() > 1.3 * pair.ffa[near].mean()  # bright vessels in the FFA
    # arteries and veins are separate trees
    assert anatomy.arteries.mask.any() and anatomy.veins.mask.any()
    assert not np.array_equal(anatomy.arteries.mask, anatomy.veins.mask)


@pytest.mark.parametrize("kind", ["optic_disc", "large_focal", "punctate_focal"])
def test_leakage_brightens_the_ffa_where_it_is(kind):
    leaky = fundus_anatomy((192, 192), seed=9, leakage=kind)
    clean = fundus_anatomy((192, 192), seed=9, leakage="none")
    assert np.array_equal(leaky.vessels, clean.vessels)  # same eye apart from the leakage
    source = leaky.leakage > 0.5
    assert source.any()
    with_leak, without = render_ffa(leaky, 9), render_ffa(clean, 9)
    assert with_leak[source].mean() > without[source].mean() + 0.15
    far = ndimage.distance_transform_edt(leaky.leakage == 0) > 30
    assert np.abs(with_leak - without)[far].max() < 0.02
    # rendered without leakage (an early phase) the images agree
    assert np.allclose(render_ffa(leaky, 9, leakage_amount=0.0), without)
    assert kind in LEAKAGE_KINDS


def test_fundus_anatomy_refuses_bad_arguments():
    with pytest.raises(ValueError, match="leakage"):
        fundus_anatomy((64, 64), leakage="venous")
    with pytest.raises(ValueError, match="32"):
        fundus_anatomy((16, 64))


# --- saliency map --------------------------------------------------------------------------
def scipy_saliency(image, median=51, gaussian=7, a=1.0):
    image = image.astype(np.float64)
    smooth = ndimage.gaussian_filter(image, gaussian_sigma(gaussian), radius=gaussian // 2, mode="reflect")
    return a * (smooth - ndimage.median_filter(image, size=median, mode="reflect"))


def test_gaussian_sigma_follows_opencv():
    assert gaussian_sigma(7) == pytest.approx(1.4)
    assert gaussian_sigma(3) == pytest.approx(0.8)


def test_saliency_is_exact_for_8bit_and_few_valued_images():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (70, 83)).astype(np.uint8)
    kept = u8.copy()
    out = ffa_saliency(u8)
    assert out.dtype == np.float32 and out.shape == u8.shape
    assert np.array_equal(u8, kept)
    assert np.allclose(out, scipy_saliency(u8), atol=1e-4)
    few = rng.choice(rng.normal(size=700), size=(60, 50))  # float64, 700 distinct values
    assert np.array_equal(median_background(few, 51), ndimage.median_filter(few, 51, mode="reflect"))
    assert ffa_saliency(few).dtype == np.float64
    # other sizes, and a = 2 doubles the map
    assert np.allclose(ffa_saliency(u8, 15, 3, a=2.0), scipy_saliency(u8, 15, 3, 2.0), atol=1e-4)


@pytest.mark.parametrize("size", [21, 51])
def test_saliency_of_many_valued_floats_is_exact(size):
    rng = np.random.default_rng(1)
    image = rng.random((70, 90)).astype(np.float32)  # 6300 distinct values: the two-level path
    image[10:30, 20:60] = 0.5  # ties too
    expected = ndimage.median_filter(image.astype(np.float64), size, mode="reflect")
    assert np.array_equal(median_background(image, size), expected)
    wide = (rng.random((40, 300)) * 60000).astype(np.uint16)  # 16-bit, across several strips
    from napari_vesselgan.analysis.exact_median import exact_median

    assert np.array_equal(exact_median(wide, size, strip=64), ndimage.median_filter(wide.astype(np.float64), size,
                                                                                  mode="reflect"))
    assert np.allclose(median_background(image, size, median="scipy"), expected)


def test_saliency_highlights_bright_structures_and_handles_stacks():
    ffa = fundus_pair((128, 128), seed=2, leakage="large_focal").ffa
    sal = ffa_saliency(ffa)
    vessels = fundus_anatomy((128, 128), seed=2, leakage="large_focal").vessels
    assert sal[vessels].mean() > 0 > sal[~vessels & (ffa > 0)].mean() - 0.05
    stack = np.stack([ffa, ffa[::-1]])
    out = ffa_saliency(stack)
    assert np.allclose(out[0], sal) and np.allclose(out[1], ffa_saliency(ffa[::-1]))


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((64, 64, 3)), "grey"),
    (np.full((8, 8), np.nan), "NaN"),
    (np.zeros((0, 5)), "non-empty"),
    ("not an image", "numpy"),
])
def test_saliency_refuses_bad_input(image, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ffa_saliency(image)


def test_saliency_refuses_even_sizes():
    with pytest.raises(ValueError, match="odd"):
        ffa_saliency(np.zeros((16, 16)), median_size=50)


def test_torch_saliency_matches_numpy_and_has_gradient():
    ffa = fundus_pair((96, 96), seed=4).ffa * 2 - 1
    x = torch.from_numpy(ffa)[None, None].double().requires_grad_(True)
    sal = saliency_map(x)
    assert np.allclose(sal.detach().numpy()[0, 0], ffa_saliency(ffa.astype(np.float64)), atol=1e-9)
    sal.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    loss = SaliencyLoss()
    y = x.detach().float()
    assert float(loss(y, y)) == 0.0
    assert float(loss(y * 0.5, y)) > 0


# --- networks ------------------------------------------------------------------------------
def test_discriminator_is_five_convs_with_sigmoid():
    d = ConditionalPatchDiscriminator(4, ndf=8)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    relus = [m for m in d.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert len(convs) == 5 and all(c.kernel_size == (4, 4) for c in convs) and len(relus) == 4
    out = d(torch.randn(1, 3, 64, 64), torch.randn(1, 1, 64, 64))
    assert out.shape == (1, 1, 6, 6) and 0 < out.min() and out.max() < 1


def test_generators_keep_the_size():
    resnet = ResnetGenerator(3, 1, ngf=8, n_blocks=2, block_relu_after_each=True)
    block = resnet.model[10]
    assert sum(isinstance(m, torch.nn.ReLU) for m in block.modules()) == 2
    assert resnet(torch.randn(1, 3, 32, 48)).shape == (1, 1, 32, 48)
    unet = UnetGenerator(3, 1, ngf=8, num_downs=4)
    assert unet.stride == 16 and unet(torch.randn(1, 3, 32, 48)).shape == (1, 1, 32, 48)


# --- method ----------------------------------------------------------------------------------
def test_registered_and_described():
    assert "fundus2ffa" in methods.available()
    cls = methods.method_class("fundus2ffa")
    assert (cls.kind, cls.in_channels, cls.out_channels) == ("translation", 3, 1)
    paper = Fundus2FFAConfig.preset("paper")
    assert (paper.ngf, paper.n_blocks, paper.patch_size) == (64, 9, 512)
    default = Fundus2FFAConfig()
    assert (default.lambda_l1, default.lambda_perceptual, default.lambda_saliency) == (100.0, 0.001, 1.0)
    assert (default.lr, default.beta1, default.beta2) == (2e-4, 0.5, 0.999)
    assert default.decay_steps * 2 == default.steps  # linear decay over the second half
    with pytest.raises(ValueError):
        Fundus2FFAConfig(unknown_field=1)


def test_predict_gives_grey_ffa_black_outside_the_field_of_view(tiny_weights):
    method = methods.load("fundus2ffa", weights=tiny_weights("fundus2ffa"), device="cpu")
    assert method.provenance["perceptual_features"] == "off"
    photo = np.rint(fundus_pair((100, 90), seed=1).fundus * 255).astype(np.uint8)
    kept = photo.copy()
    ffa = method.predict(photo)
    assert ffa.shape == (100, 90) and ffa.dtype == np.float32 and 0 <= ffa.min() and ffa.max() <= 1
    assert np.array_equal(photo, kept)
    fov = field_of_view(photo)
    assert (~fov).any() and ffa[~fov].max() == 0 and ffa[fov].max() > 0
    stack = method.predict(np.stack([photo, photo]))
    assert stack.shape == (2, 100, 90) and np.allclose(stack[0], ffa, atol=1e-5)
    with pytest.raises(ValueError, match="3"):
        method.predict(photo[..., 0])
    result = evaluate_heldout(method, n_pairs=2, size=64)
    assert {row["leakage"] for row in result["rows"]} == {"none", "optic_disc"}
    assert 0 < result["summary"]["psnr"]["mean"] < 60


def test_training_steps_use_every_loss_term_and_resume(tmp_path):
    config = Fundus2FFAConfig.preset("test", perceptual=True, perceptual_weights="random", steps=2, decay_steps=1)
    method = Fundus2FFAMethod.untrained(config, device="cpu")
    seen = []
    from napari_vesselgan.engine.trainer import FunctionCallback, read_history

    method.train("synthetic", config, run_dir=tmp_path, callbacks=[FunctionCallback(lambda s: seen.append(s.losses))])
    assert set(seen[0]) == {"G", "D", "G_GAN", "L1", "perceptual", "saliency"}
    assert methods.load("fundus2ffa", weights=tmp_path / "fundus2ffa.safetensors").provenance[
        "perceptual_features"].startswith("random VGG19")
    longer = config.model_copy(update={"steps": 3})
    method.train("synthetic", longer, run_dir=tmp_path)
    assert [row["step"] for row in read_history(tmp_path)] == [1, 2, 3]


def test_user_pairs_train_with_synthetic_pairs_and_a_realism_term_on_unpaired_angiograms(tmp_path):
    """Real pairs + fitted-style synthetic pairs + the unconditional realism discriminator (issue 14)."""
    from napari_vesselgan.engine.checkpoint import load_checkpoint
    from napari_vesselgan.engine.trainer import FunctionCallback
    from napari_vesselgan.io import write_image

    angiograms = tmp_path / "angiograms"
    angiograms.mkdir()
    for seed in (1, 2):  # real angiograms arrive as JPEGs of grey images stored as RGB
        ffa = (fundus_pair((96, 96), seed=seed).ffa * 255).astype(np.uint8)
        write_image(angiograms / f"ffa_{seed}.png", np.repeat(ffa[..., None], 3, axis=-1))
    pair = fundus_pair((96, 96), seed=0)
    config = Fundus2FFAConfig.preset("test", steps=2, decay_steps=1, mix_synthetic=True, synthetic_style="fitted",
                                     realism_images=str(angiograms), lambda_realism=0.5)
    seen = []
    Fundus2FFAMethod.untrained(config, device="cpu").train(
        ([pair.fundus], [pair.ffa]), config, run_dir=tmp_path / "run",
        callbacks=[FunctionCallback(lambda s: seen.append(s.losses))])
    assert {"realism", "D_realism"} <= set(seen[0])
    assert seen[0]["realism"] > 0 and seen[0]["D_realism"] > 0
    checkpoint = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert "realism_discriminator" in checkpoint.networks
    note = methods.load("fundus2ffa", weights=tmp_path / "run" / "fundus2ffa.safetensors").provenance["training_data"]
    assert "1 user fundus/FFA pairs" in note and "2 synthetic" in note and "fitted style" in note
    assert "2 unpaired real angiograms" in note
    with pytest.raises(ValueError, match="realism_images"):
        Fundus2FFAConfig(lambda_realism=1.0)

    # fine-tuning starts from given weights: zero steps of training keep them exactly
    start = tmp_path / "run" / "fundus2ffa.safetensors"
    same = config.model_copy(update={"init_weights": str(start), "steps": 0, "lambda_realism": 0.0,
                                     "realism_images": None, "mix_synthetic": False})
    tuned = Fundus2FFAMethod.untrained(same, device="cpu")
    tuned.train(([pair.fundus], [pair.ffa]), same, run_dir=tmp_path / "tuned")
    original = methods.load("fundus2ffa", weights=start, device="cpu")
    for name, tensor in original.generator.state_dict().items():
        torch.testing.assert_close(tuned.generator.state_dict()[name], tensor)


def test_fitted_style_pairs_differ_from_classic_ones():
    from napari_vesselgan.data.fundus import paired_fundus_ffa

    classic, fitted = paired_fundus_ffa(1, (64, 64), 3), paired_fundus_ffa(1, (64, 64), 3, fitted_style=True)
    assert not np.allclose(classic[0][0], fitted[0][0]) and not np.allclose(classic[1][0], fitted[1][0])


def test_a_fovea_pit_darkens_the_fovea_only_in_green_and_blue_and_the_classic_look_keeps_none():
    """Real photos show a dark red foveal pit (skimage's retina: green 0.47 of the macula round it,
    red 0.82), which the classic look lacks; without one in training, fundus2video read a real pit as
    something that fluoresces."""
    from dataclasses import replace

    from napari_vesselgan.data.fundus import FITTED_FUNDUS_STYLE, FundusStyle, render_fundus

    def fovea_over_surround(image, anatomy):
        """Per channel: the fovea's mean over the vessel-free retina 1.5-3 disc radii round it, and that level."""
        yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
        to_fovea = np.hypot(yy - anatomy.fovea[0], xx - anatomy.fovea[1]) / anatomy.disc_radius
        around = (to_fovea > 1.5) & (to_fovea < 3.0) & anatomy.fov & ~anatomy.vessels
        level = np.median(image[around], axis=0)
        return image[to_fovea < 0.5].mean(axis=0) / level, level

    anatomies = [fundus_anatomy((192, 192), seed, leakage="none") for seed in range(4)]
    none = [fovea_over_surround(render_fundus(a, 0, style=FundusStyle()), a)[0] for a in anatomies]
    deep = [fovea_over_surround(render_fundus(a, 0, style=replace(FITTED_FUNDUS_STYLE, fovea_pit=0.05)), a)
            for a in anatomies]
    flat = [fovea_over_surround(render_fundus(a, 0, style=replace(FITTED_FUNDUS_STYLE, fovea_pit=1.0)), a)
            for a in anatomies]
    assert min(ratio[1] for ratio in none) > 0.85  # the classic look: no pit
    for (pit, around), (no_pit, around_no_pit) in zip(deep, flat):
        drop = no_pit - pit
        assert drop[1] > 0.1 and drop[2] > drop[1] > 2 * drop[0]  # macular pigment: blue, green, hardly red
        np.testing.assert_allclose(around, around_no_pit, rtol=0.02)


def test_training_refuses_unpaired_or_missing_perceptual_weights(tmp_path):
    config = Fundus2FFAConfig.preset("test")
    method = Fundus2FFAMethod.untrained(config, device="cpu")
    pair = fundus_pair((64, 64), seed=0)
    with pytest.raises(ValueError, match="pair"):
        method.train(([pair.fundus, pair.fundus], [pair.ffa]), config, run_dir=tmp_path / "a")
    missing = config.model_copy(update={"perceptual": True, "perceptual_weights": str(tmp_path / "none.pth")})
    with pytest.raises(ValueError, match="perceptual=false"):
        method.train("synthetic", missing, run_dir=tmp_path / "b")


def test_cli_train_predict_evaluate(tmp_path, capsys):
    from napari_vesselgan.cli import main
    from napari_vesselgan.io import read_image, write_image

    run = tmp_path / "run"
    assert main(["train", "fundus2ffa", "--synthetic", "--preset", "test", "--run-dir", str(run), "--device", "cpu",
                 "--set", "steps=2"]) == 0
    weights = run / "fundus2ffa.safetensors"
    photo = write_image(tmp_path / "photo.png", np.rint(fundus_pair((64, 64), seed=3).fundus * 255).astype(np.uint8))
    out = tmp_path / "ffa.tif"
    assert main(["predict", "fundus2ffa", str(photo), "-o", str(out), "--weights", str(weights)]) == 0
    assert read_image(out).shape == (64, 64)
    report = tmp_path / "eval.json"
    assert main(["evaluate", "fundus2ffa", "--weights", str(weights), "--pairs", "1", "--size", "64",
                 "-o", str(report)]) == 0
    assert "psnr" in json.loads(report.read_text())["heldout"]["summary"]
    grey = write_image(tmp_path / "grey.png", np.zeros((32, 32), np.uint8))
    assert main(["predict", "fundus2ffa", str(grey), "-o", str(tmp_path / "x.tif"), "--weights", str(weights)]) == 2
    assert "(Y, X, 3)" in capsys.readouterr().err


def test_saliency_benchmark_small_run(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ffa_saliency.py"
    spec = importlib.util.spec_from_file_location("bench_ffa_saliency", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "bench.json"
    rows = module.main(["--sizes", "64", "--repeats", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == rows
    assert all(tuple(row) == module.ROW_KEYS for row in rows)
    errors = {row["case"]: row["value"] for row in rows if row["metric"] == "max_abs_error"}
    assert errors["64px rank uint8"] == 0.0
    assert errors["64px rank float32"] == 0.0  # the float path is exact too
    seconds = [row for row in rows if row["metric"] == "seconds"]
    assert len(seconds) == 4 and all(row["value"] > 0 for row in seconds)
    assert {row["case"]: row["baseline"] for row in seconds}["64px rank float32 vs uint8"] == "64px rank uint8"


def test_circular_patch_mask_blackens_the_corners_only():
    from napari_vesselgan.methods.fundus2ffa import _circle_batches

    batch = (torch.ones(1, 3, 16, 16), torch.full((1, 1, 16, 16), 0.5))
    (condition, target), = list(_circle_batches(iter([batch]), 16))
    assert condition[0, :, 0, 0].eq(-1).all() and target[0, 0, 15, 15] == -1
    assert condition[0, :, 8, 8].eq(1).all() and target[0, 0, 8, 0] == 0.5  # the circle touches the edges
    assert Fundus2FFAConfig.preset("paper").circular_patch_mask
