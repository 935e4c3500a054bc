"""`superres`: the TG loss against the paper's loop, the degradation, the generator, two-stage
training with early stopping, prediction of images and time series, the CLI and evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_vesselgan import methods
from napari_vesselgan.data import lowres_pair
from napari_vesselgan.data.degradation import degrade, downsample, poisson_noise, upsample
from napari_vesselgan.losses import total_gradient_loss
from napari_vesselgan.losses.total_gradient import total_gradient_loss_loop
from napari_vesselgan.methods import superres as superres_module
from napari_vesselgan.methods.superres import SuperResConfig, SuperResMethod
from napari_vesselgan.nn.pretrained import PretrainedWeightsMissing
from napari_vesselgan.nn.rrdb import RRDB, SuperResGenerator, freeze_spectral_norm
from napari_vesselgan.evaluation.superres import degradation_psf, evaluate_superres


pytestmark = pytest.mark.usefixtures("single_torch_thread")


# ----- total gradient loss -------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 1, 17, 23), (3, 2, 32, 32), (1, 1, 5, 4), (1, 1, 2, 3)])
@pytest.mark.parametrize("k_max", [None, 1, 3, 100])
def test_total_gradient_loss_equals_the_papers_loop(shape, k_max):
    generator = torch.Generator().manual_seed(sum(shape))
    target = torch.rand(shape, generator=generator, dtype=torch.float64)
    pred = torch.rand(shape, generator=generator, dtype=torch.float64, requires_grad=True)
    fast = total_gradient_loss(pred, target, k_max)
    (fast_grad,) = torch.autograd.grad(fast, pred)
    slow = total_gradient_loss_loop(pred, target, k_max)
    (slow_grad,) = torch.autograd.grad(slow, pred)
    assert float(fast.detach()) == pytest.approx(float(slow.detach()), rel=1e-10)
    assert torch.allclose(fast_grad, slow_grad, rtol=1e-8, atol=1e-12)


def test_total_gradient_loss_float32_small_errors_on_a_bright_image():
    # small errors on a large offset: the case where sums of squares minus autocorrelation could cancel
    target = torch.rand(2, 1, 96, 64) + 100.0
    pred = target + 1e-3 * torch.randn_like(target)
    fast = float(total_gradient_loss(pred, target))
    slow = float(total_gradient_loss_loop(pred.double(), target.double()))
    assert fast == pytest.approx(slow, rel=1e-4)


def test_total_gradient_loss_properties():
    x = torch.rand(2, 1, 16, 16)
    assert float(total_gradient_loss(x, x)) == 0.0
    # only differences count: a constant offset costs nothing, a gradient does
    assert float(total_gradient_loss(x + 0.3, x)) == pytest.approx(0.0, abs=1e-6)
    ramp = torch.linspace(0, 1, 16).expand(2, 1, 16, 16)
    assert float(total_gradient_loss(x + ramp, x)) > 0.1
    # k_max=1 sums fewer (non-negative) terms than k_max=N/2
    y = torch.rand(2, 1, 16, 16)
    assert float(total_gradient_loss(y, x, 1)) < float(total_gradient_loss(y, x))
    with pytest.raises(ValueError, match="one shape"):
        total_gradient_loss(x, x[:, :, :8])
    with pytest.raises(ValueError, match="k_max"):
        total_gradient_loss(x, x, 0)


# ----- degradation ---------------------------------------------------------------------------
def test_degradation_shapes_dtype_and_input_untouched():
    image = (np.random.default_rng(0).random((50, 66)) * 60000).astype(np.uint16)
    copy = image.copy()
    small, up = degrade(image, 4)
    assert small.shape == (12, 16) and up.shape == (48, 64)
    assert small.dtype == up.dtype == np.uint16
    np.testing.assert_array_equal(image, copy)
    assert upsample(downsample(image[:48, :64])).shape == (48, 64)
    noisy = poisson_noise(small, photons=20, seed=1)
    assert noisy.dtype == np.uint16 and not np.array_equal(noisy, small)
    assert abs(float(noisy.mean()) - float(small.mean())) < 0.1 * float(small.mean())
    with pytest.raises(ValueError, match="too small"):
        downsample(np.zeros((3, 3)), 4)


def test_realistic_degradation_adds_camera_noise_reproducibly():
    from napari_vesselgan.data.degradation import realistic_degrade
    from napari_vesselgan.data.nir_optics import NIRDegradation

    _, _, high = lowres_pair((64, 80), seed=4)
    copy = high.copy()
    optics = NIRDegradation(core_sigma=0.5, photons=200.0, read_noise=3.0)
    small, up = realistic_degrade(high, 4, optics=optics, seed=1, jitter=None)
    assert small.shape == (16, 20) and up.shape == (64, 80)
    np.testing.assert_array_equal(high, copy)
    again = realistic_degrade(high, 4, optics=optics, seed=1, jitter=None)[0]
    np.testing.assert_array_equal(small, again)  # one seed, one noise draw
    assert not np.array_equal(small, realistic_degrade(high, 4, optics=optics, seed=2, jitter=None)[0])
    clean = downsample(high.astype(np.float64), 4)
    noise = np.std(small - clean) / float(high.max())
    assert 0.01 < noise < 0.2  # 200 photons at full scale: a few percent
    quieter = realistic_degrade(high, 4, optics=NIRDegradation(core_sigma=0.5, photons=20000.0, read_noise=3.0),
                                seed=1, jitter=None)[0]
    assert np.std(quieter - clean) < noise * float(high.max()) / 3


def test_real_preset_fine_tunes_given_weights_on_mixed_pairs(tiny_weights, tmp_path):
    from napari_vesselgan.data.nir_optics import NIRDegradation

    config = SuperResConfig.preset("test", steps=0, init_weights=str(tiny_weights("superres")),
                                   degradation=NIRDegradation(photons=300.0).to_dict(), bicubic_share=0.5,
                                   degraded_copies=2, synthetic_mix=1)
    _, _, high = lowres_pair((64, 64), seed=5)
    pairs = SuperResMethod._training_pairs(config, [high, high[::-1]])
    assert len(pairs) == 4
    bicubic = superres_module.make_pair(high, config, seed=config.seed, realistic=False)
    only_bicubic = SuperResMethod._training_pairs(config.model_copy(update={"bicubic_share": 1.0}), [high])
    only_optics = SuperResMethod._training_pairs(config.model_copy(update={"bicubic_share": 0.0}), [high])
    np.testing.assert_array_equal(only_bicubic[0], bicubic)
    assert not any(np.array_equal(pair, bicubic) for pair in only_optics)
    weights = SuperResMethod.untrained(config, device="cpu").train([high, high[::-1]], config,
                                                                   run_dir=tmp_path / "real")
    loaded = methods.load("superres", weights=weights)
    assert loaded.provenance["init_weights"] == str(tiny_weights("superres"))
    assert "camera Poisson-Gaussian noise" in loaded.provenance["degradation"]
    assert "1 synthetic" in loaded.provenance["training_data"]
    # the validation holds each image through real optics and through bicubic alone
    validation = SuperResMethod._validation_pairs(config, [high], False)
    assert len(validation) == 2 * (config.validation_images + 1)


def test_lowres_pair_is_the_degradation_of_its_reference():
    small, up, high = lowres_pair((64, 64), seed=3)
    again_small, again_up = degrade(high, 4)
    np.testing.assert_array_equal(small, again_small)
    np.testing.assert_array_equal(up, again_up)


def test_degradation_psf_is_normalised_and_symmetric():
    psf = degradation_psf(4)
    assert psf.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(psf, psf[::-1, ::-1], atol=1e-6 * psf.max())
    assert np.unravel_index(psf.argmax(), psf.shape) == (12, 12)


# ----- networks ------------------------------------------------------------------------------
def test_generator_architecture():
    net = SuperResGenerator(1, features=16, growth=8, n_blocks=7)
    assert sum(isinstance(m, RRDB) for m in net.modules()) == 7
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in net.modules()) == 2
    strided = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 2
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") for m in convs)  # spectral norm on every convolution
    x = torch.rand(2, 1, 32, 48)
    net.eval()
    with torch.no_grad():
        out = net(x)
        assert out.shape == x.shape
        frozen = freeze_spectral_norm(net)(x)
    torch.testing.assert_close(out, frozen)


def test_paper_preset_has_the_papers_widths():
    config = SuperResConfig.preset("paper")
    assert (config.features, config.growth, config.n_blocks) == (64, 32, 7)
    assert (config.lr, config.finetune_lr, config.batch_size, config.patch_size, config.finetune_patch_size) == \
        (1e-3, 1e-6, 64, 64, 32)
    assert config.pretrain_loss.model_dump() == {"mse": 1, "smooth_l1": 1, "vgg": 8e-3, "resnet": 1e-2,
                                                 "adversarial": 1e-3, "total_gradient": 1}
    assert config.finetune_loss.model_dump() == {"mse": 10, "smooth_l1": 10, "vgg": 8, "resnet": 1,
                                                 "adversarial": 1, "total_gradient": 10}


# ----- training ------------------------------------------------------------------------------
def test_training_writes_both_stages_and_resumes(tiny_weights):
    run = tiny_weights("superres").parents[1]
    assert (run / "pretrain" / "superres.safetensors").is_file()
    history = json.loads((run / "finetune" / "validation.json").read_text())
    assert [h["step"] for h in history] == [0, 2, 3]
    method = methods.load("superres", weights=tiny_weights("superres"), device="cpu")
    assert method.provenance["stage"] == "finetune"
    # running again on the same folder resumes (finished: nothing more to train)
    config = SuperResConfig.preset("test")
    again = SuperResMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=run)
    assert again == tiny_weights("superres")
    assert len(json.loads((run / "finetune" / "losses.json").read_text())) == config.finetune_steps


def test_early_stopping_keeps_the_best_generator(tmp_path, monkeypatch):
    scores = iter([20.0, 21.0, 20.5, 20.7, 30.0, 30.0])
    snapshots = []

    def fake_psnr(generator, pairs, device):
        snapshots.append({k: v.clone() for k, v in generator.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(superres_module, "validation_psnr", fake_psnr)
    config = SuperResConfig.preset("test", steps=0, finetune_steps=20, validate_every=1, patience=2)
    weights = SuperResMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path)
    history = json.loads((tmp_path / "finetune" / "validation.json").read_text())
    assert [h["psnr"] for h in history] == [20.0, 21.0, 20.5, 20.7]  # stopped after two without progress
    best = methods.load("superres", weights=weights, device="cpu").generator.state_dict()
    measured = SuperResMethod.build_generator(config)
    measured.load_state_dict(snapshots[1])
    expected = freeze_spectral_norm(measured.eval()).state_dict()
    assert best.keys() == expected.keys()
    for key, value in best.items():  # the exported generator is the one measured at 21 dB (step 1)
        torch.testing.assert_close(value.float(), expected[key].float(), rtol=1e-3, atol=1e-3)


def test_imagenet_perceptual_loss_without_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    config = SuperResConfig.preset("test", perceptual="imagenet")
    with pytest.raises(PretrainedWeightsMissing, match="vgg16-397923af.pth"):
        SuperResMethod.untrained(config, device="cpu").train("synthetic", config, run_dir=tmp_path / "run")


def test_random_perceptual_features_enter_the_loss():
    config = SuperResConfig.preset("test", perceptual="random", resnet_layer="layer1")
    model = SuperResMethod._model(config, config.pretrain_loss, SuperResMethod.build_generator(config), 1e-3,
                                  torch.device("cpu"), seed=1)
    batch = (torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1)
    losses = model.train_step(batch)
    assert {"mse", "smooth_l1", "vgg", "resnet", "adversarial", "total_gradient", "D"} <= set(losses)
    assert losses["vgg"] > 0 and losses["resnet"] > 0


def test_training_on_user_images_and_bad_input(tmp_path):
    config = SuperResConfig.preset("test", steps=0)
    _, _, high = lowres_pair((64, 64), seed=5)
    method = SuperResMethod.untrained(config, device="cpu")
    weights = method.train([high, high[::-1]], config, run_dir=tmp_path / "user")
    assert "2 user" in methods.load("superres", weights=weights).provenance["training_data"]
    with pytest.raises(ValueError, match="RGB"):
        method.train([np.zeros((64, 64, 3), np.uint8)], config, run_dir=tmp_path / "rgb")


# ----- prediction ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_method(tiny_weights):
    return methods.load("superres", weights=tiny_weights("superres"), device="cpu")


def test_predict_same_size_and_low_resolution(tiny_method):
    small, up, _ = lowres_pair((96, 128), seed=8)
    before = up.copy()
    out = tiny_method.predict(up)
    assert out.shape == up.shape and out.dtype == np.uint16
    np.testing.assert_array_equal(up, before)
    enlarged = tiny_method.predict(small, scale=4)
    assert enlarged.shape == (96, 128) and enlarged.dtype == np.uint16
    # scale=4 is "bicubic up, then the network" (intensities mapped by the small image's range,
    # which bicubic overshoot makes differ slightly from the enlarged image's own range)
    np.testing.assert_allclose(enlarged.astype(float), tiny_method.predict(upsample(small.astype(np.float32)))
                               .astype(float), rtol=0.02)
    floats = tiny_method.predict(up.astype(np.float32) / 65535)
    assert floats.dtype == np.float32


def test_time_series_batched_equals_frame_by_frame(tiny_method):
    frames = np.stack([lowres_pair((64, 64), seed=s)[1] for s in range(5)])
    calls = []
    stack = tiny_method.predict(frames, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert stack.shape == frames.shape
    assert calls == [(2, 5), (4, 5), (5, 5)]
    one_by_one = tiny_method.predict(frames, batch_size=1)
    assert np.abs(stack.astype(int) - one_by_one).max() <= 1  # batched convolutions round differently
    # frames share the stack's intensity mapping: a frame alone maps by its own range
    alone = tiny_method.predict(frames[4])
    assert not np.array_equal(alone, stack[4]) or frames[4].max() == frames.max()
    tiled = tiny_method.predict(frames, tile=32)
    assert tiled.shape == frames.shape and np.abs(tiled.astype(int) - stack).max() <= 2
    assert tiny_method.predict(frames[:, :16, :16], scale=4).shape == (5, 64, 64)
    import dask.array as da

    lazy = tiny_method.predict(da.from_array(frames, chunks=(1, 64, 64)))
    assert lazy.dtype == stack.dtype and np.abs(lazy.astype(int) - stack).max() <= 1  # as batched: rounding


def test_bad_inputs_are_clear_errors(tiny_method):
    image = np.zeros((32, 32), np.float32)
    image[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tiny_method.predict(image)
    with pytest.raises(ValueError):
        tiny_method.predict(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="scale"):
        tiny_method.predict(np.zeros((32, 32), np.uint8), scale=0)


def test_evaluation_reports_all_candidates(tiny_method, real_dir):
    paths = sorted((real_dir / "nir2-mouse").glob("NIR-IIa_7.png"))
    result = evaluate_superres(tiny_method.predict, n_pairs=1, size=64, real_paths=paths, rl_iterations=2)
    for set_name in ("synthetic", "real"):
        summary = result[set_name]["summary"]
        assert set(summary) == {"bicubic", "Richardson-Lucy (2 it.)", "model"}
        assert all(np.isfinite(row["psnr_mean"]) and 0 < row["ssim_mean"] <= 1 for row in summary.values())
    assert result["real"]["shape"] == [512, 640]
    from napari_vesselgan.evaluation.superres import DEFAULT_OPTICS

    optics = evaluate_superres(tiny_method.predict, n_pairs=1, size=64, real_paths=paths, rl_iterations=2,
                               optics=DEFAULT_OPTICS)
    assert set(optics["real_optics"]["summary"]) == {"bicubic", "model", "Richardson-Lucy "
                                                     f"({optics['real_optics_degradation']['rl_iterations']} it.)"}
    # the same frame through real optics: noisier input, so bicubic scores lower than without it
    assert optics["real_optics"]["summary"]["bicubic"]["psnr_mean"] < optics["real"]["summary"]["bicubic"]["psnr_mean"]


# ----- command line --------------------------------------------------------------------------
def test_cli_predict_train_and_evaluate(tmp_path, tiny_weights, capsys):
    from napari_vesselgan.cli import main
    from napari_vesselgan.io import read_image, write_tiff

    small, up, _ = lowres_pair((64, 96), seed=2)
    low_file = write_tiff(tmp_path / "small.tif", small)
    out = tmp_path / "big.tif"
    assert main(["predict", "superres", str(low_file), "-o", str(out), "--scale", "4",
                 "--weights", str(tiny_weights("superres")), "--device", "cpu"]) == 0
    assert read_image(out).shape == (64, 96) and read_image(out).dtype == np.uint16
    assert main(["predict", "denoise", str(low_file), "-o", str(tmp_path / "x.tif"), "--scale", "4"]) == 2
    assert "unrecognized arguments: --scale" in capsys.readouterr().err

    run = tmp_path / "run"
    assert main(["train", "superres", "--synthetic", "--preset", "test", "--run-dir", str(run),
                 "--export", str(tmp_path / "sr.safetensors"), "--fp16"]) == 0
    assert methods.load("superres", weights=tmp_path / "sr.safetensors").config.features == 8
    assert main(["train", "superres", "--preset", "test"]) == 2  # neither --synthetic nor --data
    assert "--synthetic or --data" in capsys.readouterr().err
    assert main(["train", "superres", "--synthetic", "--preset", "test", "--set", "perceptual=imagenet",
                 "--set", "vgg_weights=" + str(tmp_path / "missing.pth"), "--run-dir", str(tmp_path / "r2")]) == 2
    assert "missing.pth does not exist" in capsys.readouterr().err

    report = tmp_path / "eval.json"
    assert main(["evaluate", "superres", "--weights", str(tiny_weights("superres")), "--pairs", "1", "--size", "64",
                 "-o", str(report)]) == 0
    written = json.loads(report.read_text())
    assert set(written["synthetic"]["summary"]) >= {"bicubic", "model"}
