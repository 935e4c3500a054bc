"""`vesselgan` command line: predict, train, evaluate, demo, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from napari_vesselgan.cli import main
from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.io import read_image, write_tiff


@pytest.fixture()
def lowlight_file(tmp_path):
    return write_tiff(tmp_path / "low.tif", lowlight_pair((72, 60), seed=4)[0])


def test_predict_writes_same_shape_and_dtype(tmp_path, lowlight_file, tiny_weights, capsys):
    out = tmp_path / "out" / "den.tif"
    assert main(["predict", "denoise", str(lowlight_file), "-o", str(out), "--weights", str(tiny_weights("denoise")),
                 "--device", "cpu", "--saliency"]) == 0
    result, source = read_image(out), read_image(lowlight_file)
    assert result.shape == source.shape and result.dtype == source.dtype
    assert read_image(out.with_name("den_saliency.tif")).shape == source.shape


def test_predict_a_folder(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    for seed in range(2):
        write_tiff(folder / f"img{seed}.tif", lowlight_pair((48, 48), seed=seed)[0])
    assert main(["predict", "denoise", str(folder), "-o", str(tmp_path / "out"), "--weights",
                 str(tiny_weights("denoise")), "--tile", "32"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.tif", "img1.tif"]


def _bad_inputs(tmp_path):
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00" + bytes(range(200)))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    nan = tmp_path / "nan.tif"
    tifffile.imwrite(nan, np.full((32, 32), np.nan, np.float32))
    four_d = tmp_path / "4d.tif"
    tifffile.imwrite(four_d, np.zeros((2, 2, 8, 8, 8), np.uint8))
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((32, 32, 3), np.uint8), photometric="rgb")
    return [corrupt, empty, nan, four_d, rgb, tmp_path / "missing.tif"]


#: The reason each of _bad_inputs' files is refused, as the one line says it.
BAD_INPUT_REASONS = ("not a readable TIFF", "the file is empty", "NaN or infinite values", "more than 4 dimensions",
                     "single-channel (grey) images", "no such file")


def test_bad_inputs_give_one_line_and_no_output(tmp_path, tiny_weights, capsys):
    for bad, reason in zip(_bad_inputs(tmp_path), BAD_INPUT_REASONS, strict=True):
        out = tmp_path / "results" / f"{bad.stem}-out.tif"
        code = main(["predict", "denoise", str(bad), "-o", str(out), "--weights", str(tiny_weights("denoise"))])
        err = capsys.readouterr().err
        assert code == 2, bad
        assert err.startswith("vesselgan: error:") and err.count("\n") == 1, err
        assert reason in err, (bad, err)
        assert not out.exists()
    leftovers = list((tmp_path / "results").glob("*")) if (tmp_path / "results").exists() else []
    assert leftovers == []


def test_console_script_error_has_no_traceback(tmp_path, tiny_weights):
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(b"\x80\x04\x95" + bytes(40))
    image = write_tiff(tmp_path / "x.tif", np.ones((16, 16), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "napari_vesselgan.cli", "predict", "denoise", str(image), "-o",
                           str(tmp_path / "y.tif"), "--weights", str(evil)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "refused" in proc.stderr
    assert not (tmp_path / "y.tif").exists()


def test_train_then_predict_and_config_errors(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "denoise", "--synthetic", "--preset", "test", "--run-dir", str(run),
                 "--export", str(tmp_path / "w.safetensors"), "--fp16", "--set", "steps=3"]) == 0
    assert "step 3/3" in capsys.readouterr().out
    image = write_tiff(tmp_path / "x.tif", lowlight_pair((40, 40), seed=9)[0])
    assert main(["predict", "denoise", str(image), "-o", str(tmp_path / "y.tif"), "--weights",
                 str(tmp_path / "w.safetensors")]) == 0
    assert main(["train", "denoise", "--synthetic", "--set", "ngff=3", "--run-dir", str(run)]) == 2
    assert "ngff" in capsys.readouterr().err


def test_demo_writes_report(tmp_path):
    assert main(["demo", "-o", str(tmp_path / "demo"), "--device", "cpu"]) == 0
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"report.md", "metrics.json", "metrics.png", "denoised.tif", "saliency.tif"} <= names
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "PSNR" in report and "non-local means" in report
