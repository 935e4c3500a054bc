"""BioImage.io model packages: export (spec 0.5, bioimageio.core's own test), open, refuse.

One package (denoise, the bundled weights) is exported and tested by bioimageio.core in full;
the other methods' packages are exported without the (slow) inference test and their
descriptions validated by bioimageio.spec with its file checks.
"""

from __future__ import annotations

import functools
import json
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from napari_vesselgan import InvalidInput, methods
from napari_vesselgan.cli import main
from napari_vesselgan.data.samples import _load

pytest.importorskip("bioimageio.core")

from napari_vesselgan.export.bioimageio import export_model, check_package  # noqa: E402


@pytest.fixture(scope="module")
def denoise_package(tmp_path_factory) -> Path:
    """The bundled denoise weights as a package (bioimageio.core's test runs once, in the first test)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return export_model(methods.load("denoise", device="cpu"), tmp_path_factory.mktemp("bioimageio") / "denoise.zip",
                            test=False)
    finally:
        torch.set_num_threads(before)


def rdf_of(path: Path) -> dict:
    from napari_vesselgan.export.model_package import _Yaml12Loader

    with zipfile.ZipFile(path) as archive:
        return yaml.load(archive.read("rdf.yaml"), Loader=_Yaml12Loader)  # noqa: S506


def rewrite(package: Path, target: Path, *, rdf=None, files: dict[str, bytes] | None = None) -> Path:
    """A copy of ``package`` with its rdf.yaml (a dict) and some files replaced."""
    files = dict(files or {})
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            if name == "rdf.yaml" and rdf is not None:
                out.writestr(name, yaml.safe_dump(rdf))
            else:
                out.writestr(name, files.pop(name, source.read(name)))
    return target


@pytest.mark.slow
def test_package_passes_bioimageio_core_test_and_describes_the_model(denoise_package):
    summary = check_package(denoise_package)
    assert summary.status == "passed", summary.format()
    names = {detail.name for detail in summary.details}
    assert any("Reproduce test outputs" in name and "torchscript" in name for name in names)
    assert any("Reproduce test outputs" in name and "pytorch_state_dict" in name for name in names)
    rdf = rdf_of(denoise_package)
    assert rdf["format_version"].startswith("0.5")
    assert [axis.get("id", axis["type"]) for axis in rdf["inputs"][0]["axes"]] == ["batch", "channel", "y", "x"]
    assert rdf["inputs"][0]["axes"][2]["size"] == {"min": 80, "step": 4}  # the generator's stride
    assert rdf["outputs"][0]["axes"][2]["halo"] == 32  # cropped from tiles: 80 - 2 * 32 px remain
    assert [step["id"] for step in rdf["inputs"][0]["preprocessing"] if step["id"] != "ensure_dtype"] == \
        ["scale_range", "scale_linear"]
    architecture = rdf["weights"]["pytorch_state_dict"]["architecture"]
    assert (architecture["import_from"], architecture["callable"]) == \
        ("napari_vesselgan.nn.resnet_generator", "ResnetGenerator")
    bundled = methods.load("denoise", device="cpu").config  # the package describes the bundled network
    assert architecture["kwargs"]["ngf"] == bundled.ngf and architecture["kwargs"]["n_blocks"] == bundled.n_blocks
    assert rdf["license"] == "BSD-3-Clause" and rdf["cite"][0]["doi"] == "10.5281/zenodo.18683096"
    with zipfile.ZipFile(denoise_package) as archive:
        readme = archive.read("README.md").decode()
        state = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert "# Validation" in readme and "Held-out synthetic pairs" in readme  # the model card's figures
    assert all(value.dtype == torch.float32 for value in state.values())


def test_round_trip_predicts_as_the_safetensors_weights(denoise_package, tmp_path, single_torch_thread):
    image = _load("lowlight_nir")[0][:96, :128]
    # the package holds one network, the default (real-frame) set: input_kind auto would take
    # this photon-limited image to the low-light set, so compare with the real-frame set itself
    expected = methods.load("denoise", device="cpu").predict(image, input_kind="nir-iia")
    packaged = methods.load("denoise", weights=denoise_package, device="cpu")
    np.testing.assert_array_equal(packaged.predict(image), expected)
    assert packaged.weights == denoise_package and packaged.provenance["training_minutes"] > 0

    # the command line takes the package as --weights
    import tifffile

    source, out = tmp_path / "in.tif", tmp_path / "out.tif"
    tifffile.imwrite(source, image)
    assert main(["predict", "denoise", str(source), "-o", str(out), "--weights", str(denoise_package),
                 "--device", "cpu"]) == 0
    np.testing.assert_array_equal(tifffile.imread(out), expected)


def test_the_package_output_is_our_prediction_in_units_of_the_input_range(denoise_package):
    with zipfile.ZipFile(denoise_package) as archive:
        test_input = np.load(io.BytesIO(archive.read("test_input.npy")))
        test_output = np.load(io.BytesIO(archive.read("test_output.npy")))
    image = test_input[0, 0].astype(np.uint16)
    ours = methods.load("denoise", device="cpu").predict(image, input_kind="nir-iia").astype(np.float64)
    unit = (ours - image.min()) / (image.max() - image.min())
    # ours is rounded to uint16 counts; the package's output is the unrounded value
    assert np.abs(unit - test_output[0, 0]).max() <= 0.6 / (int(image.max()) - int(image.min()))


def test_export_of_the_low_light_set_by_name(tmp_path, single_torch_thread):
    """``vesselgan export denoise --weights low-light`` packages the bundled low-light set (the
    default packages the real-frame set); the package predicts as that set does."""
    from napari_vesselgan.export.bioimageio import export_model

    low_light = methods.load("denoise", weights="low-light", device="cpu")
    assert low_light.weights.name == "denoise-low-light.safetensors" and not low_light.bundled
    package = export_model(low_light, tmp_path / "low.zip", test=False)
    image = _load("lowlight_nir")[0][:96, :128]
    expected = methods.load("denoise", device="cpu").predict(image, input_kind="low-light")
    packaged = methods.load("denoise", weights=package, device="cpu")
    np.testing.assert_array_equal(packaged.predict(image), expected)
    assert "denoise-low-light.safetensors" in json.dumps(rdf_of(package), default=str)
    with pytest.raises(InvalidInput, match="one network"):
        packaged.predict(image, input_kind="low-light")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["superres", "mask2nir", "fundus2ffa", "fundus2video"])
def test_other_methods_export_valid_descriptions_that_load_back(name, tmp_path, single_torch_thread):
    from bioimageio.spec import load_description
    from bioimageio.spec.model.v0_5 import ModelDescr

    path = main(["export", name, "-o", str(tmp_path / f"{name}.zip"), "--no-test"])
    assert path == 0
    description = load_description(tmp_path / f"{name}.zip", perform_io_checks=True)
    assert isinstance(description, ModelDescr), description.validation_summary.format()
    rdf = rdf_of(tmp_path / f"{name}.zip")
    first_test_tensor = rdf["inputs"][0]["test_tensor"]["source"]
    test_input = np.load(io.BytesIO(zipfile.ZipFile(tmp_path / f"{name}.zip").read(first_test_tensor)))
    if name == "superres":  # 4x: the output's y and x refer to the input's, at a quarter of the pixel size
        y_axis = rdf["outputs"][0]["axes"][2]
        assert y_axis["size"] == {"tensor_id": "input", "axis_id": "y"} and y_axis["scale"] == 0.25
        assert rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]["upscale"] == 4
        assert rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]["spectral"] is False  # baked in
    if name == "mask2nir":
        steps = [step for step in rdf["inputs"][0]["preprocessing"] if step["id"] != "ensure_dtype"]
        assert steps[0] == {"id": "binarize", "kwargs": {"threshold": 0.0}}
    if name == "fundus2ffa":
        assert test_input.shape[:2] == (1, 3)
    if name == "fundus2video":  # one window step: the photo and the previous window's frames -> 3 frames
        assert [tensor["id"] for tensor in rdf["inputs"]] == ["photo", "condition"]
        assert rdf["inputs"][1]["axes"][2]["size"] == {"tensor_id": "photo", "axis_id": "y"}
        assert rdf["outputs"][0]["axes"][1]["channel_names"] == ["t0", "t1", "t2"]
        assert rdf["weights"]["pytorch_state_dict"]["architecture"]["callable"] == "WindowStepGenerator"
    # opened in napari-vesselgan it predicts as the safetensors weights
    sample = {"superres": "nir", "mask2nir": "vessel_mask", "fundus2ffa": "synthetic_fundus",
              "fundus2video": "synthetic_fundus"}[name]
    image = _load(sample)[0][:64, :64]
    options = {"frames": 3} if name == "fundus2video" else {}
    np.testing.assert_array_equal(
        methods.load(name, weights=tmp_path / f"{name}.zip", device="cpu").predict(image, **options),
        methods.load(name, device="cpu").predict(image, **options))


def _touch(path: str) -> None:  # what a malicious unpickled object would run
    Path(path).write_text("ran")


class Malicious:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (str(self.marker),))


def test_refusals_say_why_and_run_nothing(denoise_package, tmp_path):
    rdf = rdf_of(denoise_package)

    # another method's package
    with pytest.raises(InvalidInput, match="for method 'denoise', not 'mask2nir'"):
        methods.load("mask2nir", weights=denoise_package)

    # an architecture that is not ours is refused before it is imported
    foreign = {**rdf, "weights": {**rdf["weights"], "pytorch_state_dict": {
        **rdf["weights"]["pytorch_state_dict"],
        "architecture": {"import_from": "vesselgan_evil_module", "callable": "Net", "kwargs": {}}}}}
    with pytest.raises(InvalidInput, match="vesselgan_evil_module.Net is not one of napari-vesselgan's networks"):
        methods.load("denoise", weights=rewrite(denoise_package, tmp_path / "foreign.zip", rdf=foreign))
    assert "vesselgan_evil_module" not in sys.modules

    # weights that are not a plain state dict: torch.load(weights_only=True) refuses them, nothing runs
    marker = tmp_path / "ran.txt"
    buffer = io.BytesIO()
    torch.save({"model": Malicious(marker)}, buffer)
    pickled = buffer.getvalue()
    entry = {**rdf["weights"]["pytorch_state_dict"], "sha256": hashlib.sha256(pickled).hexdigest()}
    tampered = {**rdf, "weights": {**rdf["weights"], "pytorch_state_dict": entry}}
    with pytest.raises(InvalidInput, match="not a plain state dict"):
        methods.load("denoise", weights=rewrite(denoise_package, tmp_path / "pickle.zip", rdf=tampered,
                                                files={"weights.pt": pickled}))
    assert not marker.exists()

    # weights swapped without updating the description: the checksum says so
    with pytest.raises(InvalidInput, match="does not match its sha256"):
        methods.load("denoise", weights=rewrite(denoise_package, tmp_path / "swapped.zip",
                                                files={"weights.pt": pickled}))

    # a damaged zip, and a zip that is no package (a torch.save file)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(denoise_package.read_bytes()[:5000])
    with pytest.raises(InvalidInput, match="damaged or unreadable zip"):
        methods.load("denoise", weights=truncated)
    plain = tmp_path / "plain.zip"
    torch.save({"w": torch.zeros(1)}, plain)
    with pytest.raises(InvalidInput, match="without rdf.yaml"):
        methods.load("denoise", weights=plain)

    # the command line says it in one line, exit status 2
    assert main(["predict", "denoise", "x.tif", "-o", "y.tif", "--weights", str(truncated)]) == 2


@pytest.mark.slow
def test_export_to_bioimageio_from_the_docks(make_napari_viewer, qtbot, click_and_wait, tmp_path, monkeypatch,
                                             tiny_weights):
    """The method dock exports its chosen weights; the training dock its last run's; in the worker."""
    import napari_vesselgan.widgets._export as export_widget
    from napari_vesselgan.jobs.train import TrainingResult
    from napari_vesselgan.widgets.denoise_widget import DenoiseWidget
    from napari_vesselgan.widgets.train_widget import TrainWidget

    # the package's own bioimageio.core test is covered above; here the dock's job, not the test
    monkeypatch.setattr(export_widget, "export_model", functools.partial(export_model, test=False))
    viewer = make_napari_viewer()
    dock = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(dock)
    weights = tiny_weights("denoise")
    dock.set_weights_file(weights)
    target = tmp_path / "from-dock.zip"
    assert click_and_wait(dock, lambda: dock.export_button.export(target)) == "done"
    assert str(target) in dock.status_label.text() and target.is_file()
    assert rdf_of(target)["config"]["napari_vesselgan"]["config"]["ngf"] == 8  # the chosen (tiny) weights

    # the dock's weights chooser takes the package, and predicts as the safetensors weights did
    image = _load("lowlight_nir")[0][:64, :64]
    viewer.add_image(image, name="low")
    dock.set_layer("low")
    assert click_and_wait(dock, dock.run_button) == "done"
    from_safetensors = np.asarray(viewer.layers["low denoised"].data).copy()
    dock.set_weights_file(target)
    assert click_and_wait(dock, dock.run_button) == "done"
    from_package = viewer.layers["low denoised [1]"]  # other weights: a new layer beside the first
    np.testing.assert_array_equal(from_package.data, from_safetensors)
    assert from_package.metadata["weights"] == str(target)

    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train)
    assert not train.export_button.isEnabled()  # nothing trained yet
    train._on_return(TrainingResult(weights, tmp_path, 0, 4, 4, False), "denoise")
    train.run_finished.emit("done")
    assert train.export_button.isEnabled()
    target = tmp_path / "from-training.zip"
    assert click_and_wait(train, lambda: train.export_button.export(target)) == "done"
    assert str(target) in train.status_label.text()
    np.testing.assert_array_equal(
        methods.load("denoise", weights=target, device="cpu").generator.model[1].weight.detach().numpy(),
        methods.load("denoise", weights=weights, device="cpu").generator.model[1].weight.detach().numpy())


def test_export_keeps_no_package_that_fails_the_test_and_says_what_to_install(tmp_path, monkeypatch,
                                                                                single_torch_thread):
    import napari_vesselgan.export.bioimageio as exporter
    from napari_vesselgan.methods.denoise import DenoiseConfig

    method = methods.method_class("denoise").untrained(DenoiseConfig.preset("test"), device="cpu")

    class Failed:
        status = "failed"

        def format(self) -> str:
            return "Reproduce test outputs: 65536 of 65536 elements disagree"

    monkeypatch.setattr(exporter, "check_package", lambda path: Failed())
    with pytest.raises(RuntimeError, match="failed bioimageio.core's test"):
        export_model(method, tmp_path / "bad.zip")
    assert list(tmp_path.iterdir()) == []  # neither the package nor a partial file

    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)  # as if the extra were not installed
    with pytest.raises(InvalidInput, match=r"napari-vesselgan\[bioimageio\]"):
        export_model(method, tmp_path / "none.zip")
    with pytest.raises(InvalidInput, match="is a .zip file"):
        export_model(method, tmp_path / "model.safetensors")
