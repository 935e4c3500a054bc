"""The evaluation package: every method's module has the same entry point (Options, evaluate,
summary_lines), each gives the layout of its committed evaluation, and the held-out seed base
is defined once."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import napari_vesselgan
from napari_vesselgan import methods
from napari_vesselgan.evaluation import METHODS
from napari_vesselgan.evaluation.common import EvaluationOptions

PACKAGE = Path(napari_vesselgan.__file__).parent
WEIGHTS = PACKAGE / "weights"


def evaluation_module(name: str):
    return importlib.import_module(f"napari_vesselgan.evaluation.{name}")


def test_methods_are_the_registered_ones():
    assert sorted(METHODS) == methods.available()


@pytest.mark.parametrize("name", METHODS)
def test_every_module_has_the_entry_point(name):
    module = evaluation_module(name)
    assert issubclass(module.Options, EvaluationOptions)
    assert callable(module.evaluate) and callable(module.summary_lines)
    options = module.Options()
    assert (options.pairs, options.size) == (8, 256)  # the command line's defaults
    assert all(field.description for field in module.Options.model_fields.values())
    with pytest.raises(ValidationError):
        module.Options(no_such_option=1)
    with pytest.raises(ValidationError):
        module.Options(pairs=0)


def test_command_line_defaults_are_the_options_defaults():
    """``vesselgan evaluate METHOD`` without flags evaluates with each Options' defaults."""
    from napari_vesselgan.cli import make_parser

    for name in METHODS:
        args = make_parser().parse_args(["evaluate", name])
        for field, info in evaluation_module(name).Options.model_fields.items():
            given = getattr(args, field)
            assert given is None or given == info.default, (name, field)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory) -> Path:
    """A folder with one small real-like image (a synthetic NIR-II frame as PNG)."""
    from napari_vesselgan.data import lowlight_pair
    from napari_vesselgan.io import write_image

    folder = tmp_path_factory.mktemp("real")
    _, high = lowlight_pair((96, 96), seed=3)
    write_image(folder / "frame.png", high)
    write_image(folder / "frame-partner.tif", high)  # denoise's reference partner (not matched by the glob)
    write_image(folder / "other.tif", np.zeros((8, 8), np.uint16))  # not matched by the glob
    return folder


def tiny_options(name: str, real_folder: Path) -> dict:
    return {
        "denoise": {"pairs": 1, "size": 64, "real": real_folder, "partner": "frame.png:frame-partner.tif"},
        "superres": {"pairs": 1, "size": 64, "real": real_folder},
        "mask2nir": {"pairs": 1, "size": 64, "compare": [WEIGHTS / "mask2nir.safetensors"]},
        "fundus2ffa": {"pairs": 1, "size": 64},
        "fundus2video": {"pairs": 1, "size": 64, "frames": 3},
    }[name]


@pytest.mark.parametrize("name", METHODS)
def test_evaluate_gives_the_committed_layout(name, real_folder, single_torch_thread):
    module = evaluation_module(name)
    method = methods.load(name, device="cpu")
    result = module.evaluate(method, module.Options(**tiny_options(name, real_folder)))
    committed = json.loads((WEIGHTS / f"{name}-evaluation.json").read_text())
    assert list(result) == list(committed)
    json.dumps(result)  # JSON-able as it is
    lines = module.summary_lines(result)
    assert lines and all(isinstance(line, str) and line for line in lines)
    if name in ("denoise", "superres"):
        assert "frame.png" in json.dumps(result) and "other.tif" not in json.dumps(result)
    if name == "denoise":
        assert [row["partner"] for row in result["real_pairs"]] == ["frame-partner.tif"]
    if name == "mask2nir":  # the same weights twice: the second is named by its file
        assert len(result["candidates"]) == 2
        assert list(result["candidates"])[1].endswith("[mask2nir.safetensors]")


def test_cli_reports_bad_evaluation_options_in_one_line(capsys):
    from napari_vesselgan.cli import main

    assert main(["evaluate", "fundus2video", "--frames", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("vesselgan: error: invalid fundus2video evaluation options") and "\n" not in error


def test_held_out_seed_base_is_defined_once():
    definition = re.compile(r"^\s*(HELD_OUT_SEED_BASE|HELDOUT_SEED)\s*(:[^=]*)?=", re.MULTILINE)
    places = [path.relative_to(PACKAGE).as_posix() for path in sorted(PACKAGE.rglob("*.py"))
              for _ in definition.finditer(path.read_text())]
    assert places == ["evaluation/common.py"]
