"""`vesselgan evaluate REFERENCE TEST...` (report, CSV) and `vesselgan fid` from the command line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_vesselgan.cli import main
from napari_vesselgan.io import write_image
from napari_vesselgan.metrics import psnr, ssim


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 60000, (40, 44), dtype=np.uint16)
    a = np.clip(ref + rng.normal(0, 900, ref.shape), 0, 65535).astype(np.uint16)
    b = np.clip(ref * 0.7, 0, 65535).astype(np.uint16)
    paths = [write_image(tmp_path / f"{n}.tif", x) for n, x in (("ref", ref), ("a", a), ("b", b))]
    return paths, (ref, a, b)


def test_evaluate_files_writes_report_and_csv(tmp_path, files, capsys):
    (ref_path, a_path, b_path), (ref, a, b) = files
    report, table = tmp_path / "out" / "r.html", tmp_path / "out" / "r.csv"
    assert main(["evaluate", str(ref_path), str(a_path), str(b_path), "--report", str(report), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "a.tif" in out and "b.tif" in out and "written" in out
    assert "data:image/png;base64," in report.read_text()
    with open(table, newline="") as handle:
        rows = {r["layer"]: r for r in csv.DictReader(handle)}
    assert float(rows["a.tif"]["psnr"]) == psnr(ref, a)
    assert float(rows["b.tif"]["ssim"]) == ssim(ref, b)


def test_evaluate_files_errors_are_one_line(tmp_path, files, capsys):
    (ref_path, a_path, _), _ = files
    small = write_image(tmp_path / "small.tif", np.arange(400, dtype=np.uint16).reshape(20, 20))
    assert main(["evaluate", str(ref_path), str(small)]) == 0  # explainable metrics only, and says why
    assert "shapes differ" in capsys.readouterr().out
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00 not a tiff")
    assert main(["evaluate", str(ref_path), str(corrupt)]) == 2
    assert "corrupt.tif" in capsys.readouterr().err
    assert main(["evaluate", str(ref_path)]) == 2
    assert "at least one TEST" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.tif"), str(a_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["evaluate", "denoise", str(a_path)]) == 2  # the method form takes no files
    assert f"unrecognized arguments: {a_path}" in capsys.readouterr().err


def test_fid_command_with_random_weights(tmp_path, capsys):
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(6)
    for name, scale in (("A", 0.2), ("B", 1.0)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(3):
            write_image(folder / f"{i}.png", (rng.random((40, 40)) * 255 * scale).astype(np.uint8))
    out = tmp_path / "fid.json"
    assert main(["fid", str(tmp_path / "A"), str(tmp_path / "B"), "--weights", "random", "--device", "cpu",
                 "--kid-subsets", "4", "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_a"] == result["n_b"] == 3 and result["fid"] > 0
    assert "KID x 100" in capsys.readouterr().out
    assert main(["fid", str(tmp_path / "A"), str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder or file" in capsys.readouterr().err


def test_fid_command_without_weights_names_the_file(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    stack = write_image(tmp_path / "s.tif", np.zeros((2, 32, 32), np.uint8))
    assert main(["fid", str(stack), str(stack)]) == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in capsys.readouterr().err


def test_evaluate_files_with_lpips_column(tmp_path, files, capsys):
    import torch

    torch.set_num_threads(1)
    (ref_path, a_path, _), _ = files
    table = tmp_path / "l.csv"
    assert main(["evaluate", str(ref_path), str(a_path), "--csv", str(table), "--lpips", "squeeze",
                 "--lpips-backbone", "random", "--lpips-lin", "random"]) == 0
    assert "only test the pipeline" in capsys.readouterr().out
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["lpips"] == "" and float(rows[1]["lpips"]) > 0
