"""The method registry: a method registered from outside the package gets `vesselgan predict` and
`vesselgan train` from the command line (its own options, its own training source) without any
change to cli.py, and the built-in methods' declarations are what the front ends rely on."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import tifffile
import torch
from pydantic import Field
from torch import nn

from napari_vesselgan import methods
from napari_vesselgan.cli import main
from napari_vesselgan.engine.trainer import fit
from napari_vesselgan.methods.base import Method
from napari_vesselgan.methods.config import TrainingConfig
from napari_vesselgan.methods.options import PredictOptions, TrainingSource
from napari_vesselgan.methods.request import DEVICES, PRECISIONS, PredictionRequest


class GainConfig(TrainingConfig):
    """A one-convolution 'network'."""

    width: int = Field(1, ge=1, description="Unused width (a field for --set).")


class GainOptions(PredictOptions):
    gain: float = Field(1.0, description="multiply the result by this")


class TinyNet(nn.Module):
    stride = 1
    receptive_radius = 1

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Trainable:
    """The smallest thing the trainer takes: the generator learns the identity on random patches."""

    method = "gain"

    def __init__(self, config: GainConfig, generator: nn.Module):
        self.config, self.generator = config, generator
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.optimizer}

    def inference_networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def config_dict(self) -> dict[str, Any]:
        return self.config.model_dump()

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        loss = nn.functional.l1_loss(self.generator(batch), batch)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"G": float(loss.detach())}


class GainMethod(Method):
    """A grey image -> the same image times --gain (after a learned 3x3 convolution)."""

    name: ClassVar[str] = "gain"
    kind: ClassVar[str] = "translation"
    summary: ClassVar[str] = "a test method"
    config_class: ClassVar[type[TrainingConfig]] = GainConfig
    options_class: ClassVar[type[PredictOptions]] = GainOptions
    training_sources: ClassVar[tuple[TrainingSource, ...]] = (TrainingSource("images", "Images", "folder of images"),)

    @classmethod
    def build_generator(cls, config: GainConfig) -> nn.Module:
        return TinyNet()

    def predict(self, image: Any, *, gain: float = 1.0, **kwargs: Any) -> np.ndarray:
        return super().predict(image, **kwargs) * gain

    def train(self, dataset_or_dirs: Any = "synthetic", config: GainConfig | None = None, *, callbacks=(),
              run_dir=None, device=None, resume: bool = True):
        run = self.begin_training(dataset_or_dirs, config, run_dir, device)
        model = Trainable(run.config, self.build_generator(run.config))

        def batches(start: int):
            rng = np.random.default_rng(run.batch_seed(start))
            while True:
                yield torch.from_numpy(rng.uniform(-1, 1, (1, 1, 16, 16)).astype(np.float32))

        weights = fit(model, batches, run.run_dir, run.config.trainer_settings(resume=resume), callbacks=callbacks,
                      provenance={"training_data": "noise", **run.provenance})
        return self.finish_training(run, weights, model.generator)


@pytest.fixture
def gain_method():
    methods.register(GainMethod)
    yield GainMethod
    methods.unregister("gain")


def test_a_registered_method_gets_predict_and_train_from_the_command_line(gain_method, tmp_path, capsys,
                                                                          single_torch_thread):
    assert "gain" in methods.available()
    run = tmp_path / "run"
    assert main(["train", "gain", "--synthetic", "--set", "steps=3", "--set", "checkpoint_every=0",
                 "--set", "width=2", "--run-dir", str(run), "--device", "cpu"]) == 0
    weights = run / "gain.safetensors"
    assert weights.is_file()
    assert methods.load("gain", weights=weights, device="cpu").config.width == 2
    image = np.random.default_rng(0).uniform(0, 1, (32, 40)).astype(np.float32)
    tifffile.imwrite(tmp_path / "in.tif", image)
    for gain in ("1", "3"):
        out = tmp_path / f"out{gain}.tif"
        assert main(["predict", "gain", str(tmp_path / "in.tif"), "-o", str(out), "--weights", str(weights),
                     "--device", "cpu", "--gain", gain]) == 0
    once, thrice = tifffile.imread(tmp_path / "out1.tif"), tifffile.imread(tmp_path / "out3.tif")
    assert once.shape == image.shape
    np.testing.assert_allclose(thrice, 3 * once, rtol=1e-5)
    # its one training source is its own flag; the others' are not offered
    capsys.readouterr()
    assert main(["train", "gain", "--domain-a", str(tmp_path)]) == 2
    assert "unrecognized arguments: --domain-a" in capsys.readouterr().err


def test_predict_help_lists_only_the_methods_own_options(capsys):
    assert main(["predict", "superres", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--scale" in text and "--frames" not in text and "--per-mask" not in text
    assert main(["predict", "fundus2video", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--frames" in text and "--fps" in text and "--scale" not in text and "--saliency" not in text


def test_method_options_outside_their_method_are_refused(capsys):
    assert main(["predict", "denoise", "in.tif", "-o", "out.tif", "--frames", "5"]) == 2
    assert "unrecognized arguments: --frames 5" in capsys.readouterr().err


def test_request_validates_the_methods_options():
    request = PredictionRequest(method="superres", options={"scale": 4}, tile=256, precision="bf16")
    assert request.predict_kwargs() == {"tile": 256, "halo": None, "precision": "bf16", "scale": 4}
    with pytest.raises(ValueError, match="frames"):
        PredictionRequest(method="superres", options={"frames": 4})
    with pytest.raises(ValueError, match="precision"):
        PredictionRequest(method="denoise", precision="fp8")
    with pytest.raises(ValueError, match="saliency"):
        PredictionRequest(method="fundus2video", saliency="gradient")
    with pytest.raises(ValueError, match="per_mask .--per-mask. above 1 needs augment"):
        PredictionRequest(method="mask2nir", options={"per_mask": 3})
    assert set(DEVICES) == {"auto", "cpu", "cuda", "mps"} and PRECISIONS[0] == "fp32"


@pytest.mark.parametrize("name", ["denoise", "superres", "mask2nir", "fundus2ffa", "fundus2video"])
def test_every_method_declares_what_the_front_ends_need(name):
    cls = methods.method_class(name)
    assert cls.input_kind in ("grey", "rgb", "labels") and cls.output_kind in ("image", "video")
    assert issubclass(cls.options_class, PredictOptions) and cls.summary and cls.verb
    assert cls.training_sources and all(source.key and source.label for source in cls.training_sources)
    assert cls.evaluation == name
    assert (cls.in_channels == 3) == (cls.input_kind == "rgb")


def test_patch_size_rules_live_in_the_configs():
    from pydantic import ValidationError

    from napari_vesselgan.methods.fundus2ffa import Fundus2FFAConfig
    from napari_vesselgan.methods.fundus2video import Fundus2VideoConfig
    from napari_vesselgan.methods.superres import SuperResConfig

    with pytest.raises(ValidationError, match="multiple of 4"):
        SuperResConfig(finetune_patch_size=30)
    with pytest.raises(ValidationError, match="multiple of 16"):
        Fundus2VideoConfig(n_downsampling=4, patch_size=136)
    with pytest.raises(ValidationError, match="multiple of 32"):
        Fundus2FFAConfig(generator="unet", unet_downs=5, patch_size=48)
    assert Fundus2FFAConfig(generator="resnet", patch_size=68).patch_size == 68
