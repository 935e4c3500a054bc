"""Command-line and reader polish (issue 17, item 9): misnamed files, uint64, one-line warnings,
bool images, one training per run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from napari_vesselgan import InvalidInput, methods
from napari_vesselgan.cli import main
from napari_vesselgan.engine.run_lock import LOCK_NAME, run_folder_lock


def test_a_text_file_named_png_is_not_an_image(tmp_path, capsys):
    path = tmp_path / "notes.png"
    path.write_text("hello, not a picture\n")
    assert main(["predict", "denoise", str(path), "-o", str(tmp_path / "out.tif")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not an image" in err
    assert "plugin" not in err and "pip install" not in err


def test_a_uint64_tiff_goes_through(tmp_path, capsys):
    source = tmp_path / "wide.tif"
    tifffile.imwrite(source, (np.arange(64 * 64).reshape(64, 64) * 1000).astype(np.uint64))
    out = tmp_path / "out.tif"
    assert main(["predict", "denoise", str(source), "-o", str(out)]) == 0, capsys.readouterr().err
    assert tifffile.imread(out).shape == (64, 64)


def test_reader_warnings_are_one_line_without_source(tmp_path, capsys):
    import imageio.v3 as iio

    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 3] = 100  # translucent: the reader warns that transparency is dropped
    rgba[..., 1] = np.arange(64, dtype=np.uint8)
    path = tmp_path / "rgba.png"
    iio.imwrite(path, rgba)
    main(["predict", "denoise", str(path), "-o", str(tmp_path / "out.tif")])
    err = capsys.readouterr().err
    warning_lines = [line for line in err.splitlines() if "alpha" in line]
    assert warning_lines == [f"vesselgan: warning: {path}: the alpha channel was dropped (transparency is not kept)"]
    assert "readers.py" not in err and "array = " not in err


@pytest.mark.parametrize("name", ["denoise", "superres", "mask2nir", "fundus2ffa", "fundus2video"])
def test_every_method_takes_bool_images_as_0_1(name):
    method = methods.load(name, device="cpu")
    mask = np.zeros((32, 32), bool)
    mask[10:20, 5:25] = True
    image = mask if method.in_channels == 1 else np.repeat(mask[..., None], 3, axis=-1)
    options = {"frames": 2} if name == "fundus2video" else {}
    out = method.predict(image, **options)
    expected = method.predict(image.astype(np.uint8), **options)
    np.testing.assert_array_equal(out, expected)
    assert image.dtype == bool  # the input is untouched


def test_a_second_training_on_a_run_folder_in_use_refuses(tmp_path):
    with run_folder_lock(tmp_path):
        with pytest.raises(InvalidInput, match="in use by another training"):
            with run_folder_lock(tmp_path):
                pass
        assert (tmp_path / LOCK_NAME).is_file()
    assert not (tmp_path / LOCK_NAME).exists()  # released on exit


def test_a_stale_lock_is_replaced(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its process id no longer runs
    import socket

    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": "x"}))
    with run_folder_lock(tmp_path) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_train_refuses_a_run_folder_another_training_holds(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    with run_folder_lock(run):
        code = main(["train", "denoise", "--synthetic", "--preset", "test", "--set", "steps=1", "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "in use by another training" in err
    assert not (run / "last.safetensors").exists()
