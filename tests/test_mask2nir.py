"""`mask2nir`: prediction contract for masks, the AdaAttN feature losses, training with and
without them, held-out evaluation, mask augmentation, image / mask pairs, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_vesselgan import methods
from napari_vesselgan.cli import main
from napari_vesselgan.data import render_nir, vessel_tree
from napari_vesselgan.data.mask_augment import MaskAugmentation, augment_mask
from napari_vesselgan.data.segmentation_dataset import synthesize_pairs
from napari_vesselgan.engine.trainer import read_history
from napari_vesselgan.losses.adaattn import (
    FeatureLosses,
    adaattn_targets,
    content_loss,
    global_style_loss,
    mean_variance_norm,
)
from napari_vesselgan.evaluation.mask2nir import evaluate_mask2nir, held_out_case
from napari_vesselgan.methods.mask2nir import Mask2NirConfig, Mask2NirMethod
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing


@pytest.fixture(scope="module")
def tiny(tiny_weights):
    return methods.load("mask2nir", weights=tiny_weights("mask2nir"), device="cpu")


# ----- prediction --------------------------------------------------------------------------------
def test_registered_as_a_translation_method():
    assert "mask2nir" in methods.available()
    cls = methods.method_class("mask2nir")
    assert cls.kind == "translation" and cls.in_channels == cls.out_channels == 1
    assert len(cls.training_sources) == 2


def test_every_mask_encoding_gives_the_same_image(tiny):
    mask = vessel_tree((90, 70), seed=5).mask
    encodings = [mask, mask.astype(np.uint8), mask.astype(np.uint8) * 255, mask.astype(np.int32) * 7,
                 mask.astype(np.float32)]
    before = [m.copy() for m in encodings]
    outputs = [tiny.predict(m) for m in encodings]
    for out in outputs:
        assert out.shape == mask.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        np.testing.assert_array_equal(out, outputs[0])
    for m, b in zip(encodings, before):
        np.testing.assert_array_equal(m, b)
    # the mask is mapped by the fixed {0, 1} range: an all-vessel mask is not an all-background one
    assert not np.array_equal(tiny.predict(np.ones((64, 64), np.uint8)), tiny.predict(np.zeros((64, 64), np.uint8)))


def test_stack_of_masks_and_tiles(tiny):
    stack = np.stack([vessel_tree((64, 64), seed=s).mask for s in range(2)])
    out = tiny.predict(stack)
    assert out.shape == stack.shape
    np.testing.assert_array_equal(out[1], tiny.predict(stack[1]))
    np.testing.assert_allclose(tiny.predict(stack[0], tile=32), out[0], atol=1e-4)


@pytest.mark.parametrize(("image", "message"), [
    (np.full((32, 32), np.nan, np.float32), "NaN"),
    (np.zeros((0, 32), np.uint8), "empty"),
    (np.zeros((64, 64, 3), np.uint8), "RGB"),
])
def test_bad_masks_are_refused(tiny, image, message):
    with pytest.raises(ValueError, match=message):
        tiny.predict(image)


# ----- feature losses ----------------------------------------------------------------------------
def test_content_and_global_style_losses_vanish_only_when_they_should():
    torch.manual_seed(0)
    c = [torch.randn(1, 4, 8, 8), torch.randn(1, 6, 4, 4)]
    # content compares normalised maps: an affine change per channel costs nothing
    assert float(content_loss([2 * f + 3 for f in c], c)) < 1e-8
    assert float(content_loss([torch.randn_like(f) for f in c], c)) > 0.1
    # global style compares channel statistics: a spatial shuffle costs nothing
    shuffled = [f.flatten(2)[..., torch.randperm(f.shape[-1] * f.shape[-2])].reshape(f.shape) for f in c]
    assert float(global_style_loss(shuffled, c)) < 1e-8
    assert float(global_style_loss([f * 2 for f in c], c)) > 0.1


def test_adaattn_target_of_a_flat_style_is_its_mean():
    torch.manual_seed(1)
    c = [torch.randn(1, 3, 8, 8), torch.randn(1, 5, 4, 4)]
    levels = torch.arange(3.0).view(1, 3, 1, 1), torch.arange(5.0).view(1, 5, 1, 1)
    s = [levels[0].expand(1, 3, 8, 8) + 0.0, levels[1].expand(1, 5, 4, 4) + 0.0]  # constant per channel
    targets = adaattn_targets(c, s, max_style_positions=16)
    for target, flat in zip(targets, s):
        torch.testing.assert_close(target, flat, atol=1e-4, rtol=0)  # std 0: Phi = mean = the constant


def test_adaattn_attention_follows_similar_positions():
    # style: channels 0-3 bright on the left half, 4-7 on the right; the content is its mirror
    # image, so each content position attends to the style half that looks like it and takes
    # that half's values (with no spread: Phi = the mean there)
    style = torch.zeros(1, 8, 4, 8)
    style[:, :4, :, :4], style[:, 4:, :, 4:] = 10.0, 10.0
    content = style.flip(-1)
    target = adaattn_targets([content], [style], max_style_positions=1000)[0]
    torch.testing.assert_close(target, content, atol=0.02, rtol=0)  # of a 0..10 range
    assert not torch.allclose(target, style, atol=1.0)


def test_feature_losses_pass_gradient_to_the_generated_image_only():
    features = lambda x: [torch.nn.functional.avg_pool2d(x, 2).repeat(1, 3, 1, 1), x[:, :, ::4, ::4]]  # noqa: E731
    losses = FeatureLosses(features, content=1.0, global_style=1.0, local_style=1.0, max_style_positions=8)
    content = torch.rand(1, 1, 16, 16, requires_grad=True)
    style = torch.rand(1, 1, 16, 16, requires_grad=True)
    generated = torch.rand(1, 1, 16, 16, requires_grad=True)
    values = losses(content, style, generated)
    assert set(values) == {"content", "global_style", "local_style"}
    sum(values.values()).backward()
    assert generated.grad is not None and float(generated.grad.abs().sum()) > 0
    assert content.grad is None and style.grad is None
    assert FeatureLosses(features, content=0, global_style=0, local_style=0)(content, style, generated) == {}


def test_mean_variance_norm_is_unit_per_channel():
    x = torch.randn(2, 3, 10, 10) * 5 + 2
    y = mean_variance_norm(x).flatten(2)
    torch.testing.assert_close(y.mean(2), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(2), torch.ones(2, 3), atol=1e-3, rtol=0)


# ----- training ----------------------------------------------------------------------------------
def test_training_with_and_without_the_feature_losses(tmp_path):
    attention = Mask2NirConfig.preset("test")
    plain = Mask2NirConfig.preset("test", lambda_content=0, lambda_global_style=0, lambda_local_style=0)
    for config, name in ((attention, "attention"), (plain, "plain")):
        method = Mask2NirMethod.untrained(config, device="cpu")
        weights = method.train("synthetic", config, run_dir=tmp_path / name)
        history = read_history(tmp_path / name)
        has_feature_terms = {"content", "global_style", "local_style"} <= set(history[-1])
        assert has_feature_terms == (name == "attention")
        loaded = methods.load("mask2nir", weights=weights, device="cpu")
        assert ("random VGG-19" in loaded.provenance["feature_losses"]) == (name == "attention")
        assert loaded.config.lambda_local_style == config.lambda_local_style


def test_missing_vgg_weights_are_an_error_not_a_fallback(tmp_path):
    config = Mask2NirConfig.preset("test", feature_weights=str(tmp_path / "vgg19.pth"))
    with pytest.raises(PretrainedWeightsMissing):
        Mask2NirMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path / "run")


def test_user_masks_and_images(tmp_path):
    config = Mask2NirConfig.preset("test")
    masks = [vessel_tree((80, 80), seed=s).mask.astype(np.uint8) * 255 for s in range(2)]
    images = [np.random.default_rng(s).integers(0, 4000, (80, 80)).astype(np.uint16) for s in range(2)]
    Mask2NirMethod.untrained(config, device="cpu").train((masks, images), config, run_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="no vessel pixels"):
        Mask2NirMethod.untrained(config, device="cpu").train(([np.zeros((80, 80), np.uint8)], images), config,
                                                             run_dir=tmp_path / "run2")


def test_paired_term_needs_registered_domains_and_pulls_towards_the_image(tmp_path):
    """lambda_paired: mask i belongs to image i; the L1 term appears in the history and lowers
    the distance of G_AB(mask) to its own image against training without it."""
    trees = [vessel_tree((64, 64), seed=s) for s in range(2)]
    masks = [t.mask.astype(np.uint8) for t in trees]
    images = [(t.mask * 3000 + 200).astype(np.uint16) for t in trees]
    # identity off: here each image is its mask's pattern, so the identity term alone would teach the mapping
    paired = Mask2NirConfig.preset("test", lambda_paired=10.0, steps=30, decay_steps=10, checkpoint_every=0,
                                   lambda_content=0, lambda_global_style=0, lambda_local_style=0, lambda_identity=0)
    with pytest.raises(ValueError, match="mask i of domain A"):
        Mask2NirMethod.untrained(paired, device="cpu").train((masks, images[:1]), paired, run_dir=tmp_path / "bad")
    errors = {}
    for name, config in (("paired", paired), ("unpaired", paired.model_copy(update={"lambda_paired": 0.0}))):
        weights = Mask2NirMethod.untrained(config, device="cpu").train((masks, images), config,
                                                                       run_dir=tmp_path / name)
        assert ("paired" in read_history(tmp_path / name)[-1]) == (name == "paired")
        model = methods.load("mask2nir", weights=weights, device="cpu")
        # each image scaled to [0, 1] by its own range is its mask's pattern
        errors[name] = float(np.mean([np.abs(model.predict(m) - m).mean() for m in masks]))
        assert ("paired L1" in model.provenance["training_data"]) == (name == "paired")
    assert errors["paired"] < 0.9 * errors["unpaired"]


def test_realism_statistics_of_an_image_against_itself_and_a_flat_one():
    from napari_vesselgan.evaluation.mask2nir import realism_statistics

    tree = vessel_tree((128, 128), seed=3)
    image = render_nir(tree, 3)
    same = realism_statistics(image, tree.mask, image)
    assert same["histogram_distance"] == 0 and same["ssim"] == pytest.approx(1.0)
    assert same["vessel_contrast"] > 1.5 and same["spectrum_slope"] < 0 and same["noise_level"] > 0
    flat = realism_statistics(np.random.default_rng(0).uniform(0.4, 0.6, (128, 128)), tree.mask, image)
    assert flat["vessel_contrast"] == pytest.approx(1.0, abs=0.05) and flat["mask_dice"] < 0.3
    assert flat["histogram_distance"] > same["histogram_distance"]


# ----- evaluation --------------------------------------------------------------------------------
def test_evaluation_ranks_an_oracle_above_the_baselines(tiny):
    def oracle(mask):  # knows the rendering: must beat everything
        for index in range(2):
            case_mask, rendered, _ = held_out_case(index, 64)
            if np.array_equal(case_mask, mask):
                return rendered
        raise AssertionError("unknown mask")

    result = evaluate_mask2nir({"tiny": tiny.predict, "oracle": oracle}, n_pairs=2, size=64)
    summary = result["summary"]
    assert set(summary) == {"mask (baseline)", "blurred mask (baseline)", "tiny", "oracle"}
    assert summary["oracle"]["ssim_raw_rendered_mean"] == pytest.approx(1.0)
    for name in ("mask (baseline)", "blurred mask (baseline)", "tiny"):
        assert summary[name]["psnr_fitted_rendered_mean"] < summary["oracle"]["psnr_fitted_rendered_mean"]
    assert len(result["cases"]) == 2


# ----- augmentation and pairs --------------------------------------------------------------------
def test_mask_augmentation_is_seeded_binary_and_changes_the_mask():
    mask = vessel_tree((96, 96), seed=2).mask
    a = augment_mask(mask, np.random.default_rng(0))
    b = augment_mask(mask, np.random.default_rng(0))
    c = augment_mask(mask, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == mask.shape and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}
    assert not np.array_equal(a, mask.astype(np.uint8)) and not np.array_equal(a, c)
    none = MaskAugmentation(flips=False, rotations=False, elastic_alpha=0)
    np.testing.assert_array_equal(augment_mask(mask, np.random.default_rng(0), none), mask.astype(np.uint8))
    elastic = augment_mask(mask, np.random.default_rng(0), MaskAugmentation(flips=False, rotations=False))
    assert 0.7 < elastic.sum() / mask.sum() < 1.3  # a gentle deformation keeps the vessel area roughly


def test_pairs_are_written_with_the_mask_each_image_came_from(tmp_path):
    masks = [(f"m{s}.tif", vessel_tree((48, 40), seed=s).mask.astype(np.uint8) * 255) for s in range(2)]
    seen = []

    def translate(mask):
        seen.append(mask.copy())
        return mask.astype(np.float32) * 0.5 + 0.25

    pairs = synthesize_pairs(masks, tmp_path / "out", translate, per_mask=3, seed=4, image_dtype="float32")
    assert len(pairs) == 6
    import tifffile

    for pair, mask in zip(pairs, seen):
        written_mask = tifffile.imread(tmp_path / "out" / pair["mask"])
        np.testing.assert_array_equal(written_mask, mask)
        np.testing.assert_allclose(tifffile.imread(tmp_path / "out" / pair["image"]), mask * 0.5 + 0.25)
    assert [p["augmented"] for p in pairs] == [False, True, True] * 2
    np.testing.assert_array_equal(seen[0], masks[0][1] != 0)
    record = json.loads((tmp_path / "out" / "pairs.json").read_text())
    assert record["complete"] and record["per_mask"] == 3 and len(record["pairs"]) == 6
    with pytest.raises(ValueError, match="augmentation"):
        synthesize_pairs(masks, tmp_path / "x", translate, per_mask=2, augmentation=None)


def test_cancelled_pairs_leave_only_complete_pairs(tmp_path):
    masks = [(f"m{s}.tif", vessel_tree((48, 48), seed=s).mask) for s in range(3)]
    calls = []
    with pytest.raises(Exception):
        synthesize_pairs(masks, tmp_path / "out", lambda m: m.astype(np.float32), per_mask=1,
                         should_stop=lambda: len(calls) >= 2, progress=lambda done, total: calls.append(done))
    record = json.loads((tmp_path / "out" / "pairs.json").read_text())
    assert not record["complete"] and len(record["pairs"]) == 2
    assert len(list((tmp_path / "out" / "images").iterdir())) == 2


def test_cli_folder_of_masks_to_pairs(tmp_path, tiny_weights, capsys):
    import tifffile

    folder = tmp_path / "masks"
    folder.mkdir()
    for s in range(2):
        tifffile.imwrite(folder / f"mask{s}.tif", vessel_tree((64, 64), seed=s).mask.astype(np.uint8) * 255)
    out = tmp_path / "pairs"
    code = main(["predict", "mask2nir", str(folder), "-o", str(out), "--weights", str(tiny_weights("mask2nir")),
                 "--device", "cpu", "--per-mask", "2", "--augment"])
    assert code == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["mask0_0.tif", "mask0_1.tif", "mask1_0.tif",
                                                                  "mask1_1.tif"]
    image = tifffile.imread(out / "images" / "mask0_0.tif")
    assert image.dtype == np.uint16 and image.shape == (64, 64)
    expected = methods.load("mask2nir", weights=tiny_weights("mask2nir"), device="cpu").predict(
        tifffile.imread(folder / "mask0.tif"))
    np.testing.assert_allclose(image / 65535.0, expected, atol=1 / 65535)
    assert main(["predict", "mask2nir", str(folder), "-o", str(tmp_path / "p2"), "--weights",
                 str(tiny_weights("mask2nir")), "--per-mask", "2"]) == 2
    assert "--augment" in capsys.readouterr().err


def test_cli_evaluate_compares_checkpoints(tmp_path, tiny_weights, capsys):
    out = tmp_path / "evaluation.json"
    code = main(["evaluate", "mask2nir", "--weights", str(tiny_weights("mask2nir")), "--compare",
                 str(tiny_weights("mask2nir")), "--pairs", "1", "--size", "64", "--device", "cpu", "-o", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert len(result["candidates"]) == 2 and len(result["summary"]) == 4  # two baselines, two checkpoints
    assert "PSNR raw" in capsys.readouterr().out


def test_paper_mask_preprocessing_matches_the_scales():
    from napari_vesselgan.methods.mask2nir import paper_mask_preprocessing

    yy, xx = np.mgrid[:1000, :1000]
    disc = (yy - 500) ** 2 + (xx - 500) ** 2 <= 100**2
    out = paper_mask_preprocessing(disc)
    assert out.shape == (300, 300) and set(np.unique(out)) <= {0.0, 1.0}
    radius = np.sqrt(out.sum() / np.pi)
    assert radius == pytest.approx(100 * 0.512 * 0.75, rel=0.03)  # 512/1000, then 300/400
    assert Mask2NirConfig.preset("paper").mask_preprocessing == "paper"
    assert Mask2NirConfig().mask_preprocessing == "none"
