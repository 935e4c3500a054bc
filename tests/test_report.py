"""Tests for napari_vesselgan.metrics.report.write_report."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from napari_vesselgan import metrics as m
from napari_vesselgan.metrics.report import PANEL_GAP, format_value, side_by_side


def _entries():
    rng = np.random.default_rng(0)
    dark = (rng.random((40, 48)) * 30).astype(np.uint16)
    dark[10:30, 20:28] += 200  # a dim vessel
    bright = (dark.astype(np.float64) * 100).astype(np.uint16)
    fundus = rng.integers(0, 256, (32, 36, 3), dtype=np.uint8)
    ffa = rng.random((32, 36)).astype(np.float32)
    return [
        {"name": "mouse 1/ear", "before": dark, "after": bright, "extra": {"psnr": 31.25, "ssim": 0.9123}},
        {"name": "metrics", "before": fundus, "after": ffa},  # a name that must not clobber metrics.png
    ]


def test_write_report_files_and_numbers(tmp_path):
    entries = _entries()
    copies = [(e["before"].copy(), e["after"].copy()) for e in entries]
    out = tmp_path / "new" / "report_dir"
    path = m.write_report(out, entries, title="Denoise run 7", notes="Trained on synthetic data.")
    assert path == out / "report.md"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["metrics.json", "metrics.png", "metrics_image.png", "mouse_1_ear.png", "report.md"]

    text = path.read_text()
    assert text.startswith("# Denoise run 7")
    assert "| Metric | Before | After | Change |" in text
    assert "Trained on synthetic data." in text
    assert "](metrics.png)" in text and "](mouse_1_ear.png)" in text
    for e in entries:
        for key in ("before", "after"):
            for name, value in m.explainable_metrics(e[key]).items():
                assert format_value(value) in text, (e["name"], key, name)
    assert "| psnr | 31.25 |" in text and "| ssim | 0.9123 |" in text

    doc = json.loads((out / "metrics.json").read_text())
    assert doc["title"] == "Denoise run 7"
    assert doc["metrics"] == list(m.EXPLAINABLE_METRICS)
    assert [d["name"] for d in doc["entries"]] == ["mouse 1/ear", "metrics"]
    for e, d in zip(entries, doc["entries"]):
        rows = m.compare_metrics(e["before"], e["after"])
        assert len(d["metrics"]) == 5
        for row, drow in zip(rows, d["metrics"]):
            assert drow["metric"] == row["metric"]
            for k in ("before", "after", "change", "ratio"):
                assert drow[k] == row[k]  # exact: JSON round-trips floats
        assert d["before"] == {"shape": list(e["before"].shape), "dtype": str(e["before"].dtype)}
    assert doc["entries"][0]["extra"] == {"psnr": 31.25, "ssim": 0.9123}

    pic = iio.imread(out / "mouse_1_ear.png")
    assert pic.shape[:2] == (40, 48 + PANEL_GAP + 48)
    assert pic.dtype == np.uint8 and pic.min() == 0 and pic.max() == 255
    pic2 = iio.imread(out / "metrics_image.png")
    assert pic2.shape == (32, 36 + PANEL_GAP + 36, 3)  # RGB before + grey after -> RGB
    chart = iio.imread(out / "metrics.png")
    assert chart.ndim == 3 and chart.shape[1] > 500

    for e, (b, a) in zip(entries, copies):
        np.testing.assert_array_equal(e["before"], b)
        np.testing.assert_array_equal(e["after"], a)


def test_write_report_nonfinite_values_become_null(tmp_path):
    img = np.zeros((24, 24), np.uint8)
    img[8:16, 8:16] = 200  # noiseless background: SNR inf
    path = m.write_report(tmp_path, [{"name": "sq", "before": img, "after": img}], title="t")
    doc = json.loads((tmp_path / "metrics.json").read_text())
    snr_row = doc["entries"][0]["metrics"][0]
    assert snr_row["metric"] == "snr" and snr_row["before"] is None and snr_row["ratio"] is None
    assert "| inf | inf | nan | - |" in path.read_text()


def test_write_report_overwrites_and_leaves_no_temp_files(tmp_path):
    entries = _entries()
    m.write_report(tmp_path, entries, title="first")
    m.write_report(tmp_path, entries, title="second")
    assert (tmp_path / "report.md").read_text().startswith("# second")
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_write_report_rejects_bad_entries(tmp_path):
    with pytest.raises(ValueError):
        m.write_report(tmp_path, [], title="t")
    with pytest.raises(ValueError, match="after"):
        m.write_report(tmp_path, [{"name": "x", "before": np.zeros((4, 4))}], title="t")
    bad = np.zeros((16, 16))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.write_report(tmp_path / "nan", [{"name": "x", "before": bad, "after": bad}], title="t")
    assert not (tmp_path / "nan" / "report.md").exists()


def test_side_by_side_scales_each_to_its_own_range():
    b = np.array([[0, 10], [10, 10]], np.uint16)
    a = np.array([[0.0, 0.5, 1.0]])
    pic = side_by_side(b, a)
    assert pic.shape == (2, 2 + PANEL_GAP + 3)
    assert pic[0, 1] == 255 and pic[0, 0] == 0  # before: 10 is its max
    assert list(pic[0, 2 + PANEL_GAP :]) == [0, 128, 255]
    assert list(pic[1, 2 + PANEL_GAP :]) == [0, 0, 0]  # padded below


def test_format_value():
    assert format_value(0.912345) == "0.9123"
    assert format_value(12345.6) == "12346"
    assert format_value(5.0) == "5.000"
    assert format_value(1.5e-5) == "1.500e-05"
    assert format_value(float("inf")) == "inf" and format_value(float("nan")) == "nan"
    assert format_value(None) == "-"
