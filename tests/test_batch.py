"""Batch prediction: one output per input, in this process or on a 2-worker local dask cluster,
equal to the serial result; failures reported while the others finish; complete outputs skipped;
a killed worker loses only its current file."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_vesselgan.cli import main
from napari_vesselgan.io import read_image
from napari_vesselgan.io.ome_zarr import read_ome_zarr

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """Untrained denoise weights of the test preset: prediction is all these tests need."""
    from napari_vesselgan import methods
    from napari_vesselgan.engine.checkpoint import save_checkpoint

    cls = methods.method_class("denoise")
    config = cls.config_class.preset("test")
    path = tmp_path_factory.mktemp("weights") / "denoise.safetensors"
    return save_checkpoint(path, method="denoise", config=config.model_dump(),
                           networks={"generator": cls.build_generator(config)})


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three small OME-TIFFs with a pixel size, and one corrupt file."""
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(3):
        tifffile.imwrite(inputs / f"img{index}.ome.tif", rng.integers(0, 4096, (24, 32)).astype(np.uint16),
                         ome=True, metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    (inputs / "broken.tif").write_bytes(b"II*\x00" + bytes(60))
    return inputs


def _predict(weights: Path, source: Path, out: Path, *extra: str) -> int:
    return main(["predict", "denoise", str(source), "-o", str(out), "--weights", str(weights), "--device", "cpu",
                 *extra])


def test_serial_batch_reports_the_failure_finishes_the_rest_and_skips_complete_outputs(tmp_path, folder, weights,
                                                                                       capsys):
    out = tmp_path / "out"
    assert _predict(weights, folder, out) == 1
    captured = capsys.readouterr()
    assert "3 written, 0 skipped (already complete), 1 failed" in captured.out
    assert "failed: " in captured.err and "broken.tif" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["img0.tif", "img1.tif", "img2.tif"]
    first = read_image(out / "img0.tif")
    assert first.dtype == np.uint16 and first.shape == (24, 32)
    (folder / "broken.tif").unlink()
    stamp = (out / "img0.tif").stat().st_mtime_ns
    assert _predict(weights, folder, out) == 0
    assert "0 written, 3 skipped" in capsys.readouterr().out
    assert (out / "img0.tif").stat().st_mtime_ns == stamp
    # OME-Zarr out: the input's dtype and pixel size kept
    assert _predict(weights, folder, tmp_path / "zarr", "--format", "ome-zarr") == 0
    image = read_ome_zarr(tmp_path / "zarr" / "img0.ome.zarr")
    assert image.data.dtype == np.uint16 and image.scale.for_axes("yx") == (0.5, 0.5)
    np.testing.assert_array_equal(image.data.compute(), first)


def test_a_single_file_with_format_ome_zarr(tmp_path, folder, weights):
    assert _predict(weights, folder / "img1.ome.tif", tmp_path / "one.ome.zarr") == 0
    assert read_ome_zarr(tmp_path / "one.ome.zarr").axes == "yx"


def test_a_folder_of_masks_for_mask2nir_refuses_cluster_flags(tmp_path, folder, capsys):
    assert main(["predict", "mask2nir", str(folder), "-o", str(tmp_path / "o"), "--workers", "2"]) == 2
    assert "one result of a whole folder" in capsys.readouterr().err
    assert main(["predict", "denoise", str(folder / "img0.ome.tif"), "-o", str(tmp_path / "x.tif"),
                 "--format", "ome-zarr"]) == 2  # a single output's format is its name's
    assert "--format is for a folder" in capsys.readouterr().err


def test_a_large_input_streams_tile_by_tile_into_tiff_and_ome_zarr(tmp_path, weights, monkeypatch, capsys):
    from napari_vesselgan import methods
    from napari_vesselgan.io.metadata import read_tiff_scale

    image = np.random.default_rng(7).integers(0, 4096, (48, 64)).astype(np.uint16)
    source = tmp_path / "large.ome.tif"
    tifffile.imwrite(source, image, tile=(16, 16), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    monkeypatch.setenv("VESSELGAN_LAZY_MB", "0.001")  # "larger than memory": opened lazily
    for name in ("large.tif", "large.ome.zarr"):
        assert _predict(weights, source, tmp_path / "out" / name, "--tile", "32", "--halo", "8") == 0
        assert "streamed tile by tile" in capsys.readouterr().out
    expected = methods.load("denoise", weights=weights, device="cpu").predict(image, tile=32, halo=8)
    np.testing.assert_array_equal(read_image(tmp_path / "out" / "large.tif"), expected)
    assert read_tiff_scale(tmp_path / "out" / "large.tif").for_axes("yx") == pytest.approx((0.5, 0.5))
    zarr_image = read_ome_zarr(tmp_path / "out" / "large.ome.zarr")
    np.testing.assert_array_equal(zarr_image.data.compute(), expected)
    assert zarr_image.scale.for_axes("yx") == (0.5, 0.5)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["large.ome.zarr", "large.tif"]  # no scratch


# ----- on a local cluster -------------------------------------------------------------------------
slow = pytest.mark.slow  # a local cluster: worker processes start and import torch


@pytest.fixture(scope="module")
def client():
    from napari_vesselgan.jobs.cluster import cluster_client

    with cluster_client(workers=2) as client:
        yield client


def _request(weights: Path):
    from napari_vesselgan.methods.request import PredictionRequest

    return PredictionRequest(method="denoise", weights=weights, device="cpu")


@slow
def test_cluster_outputs_equal_serial_and_weights_load_once_per_worker(tmp_path, folder, weights, client):
    from napari_vesselgan.jobs import batch
    from napari_vesselgan.jobs.cluster import plugin_name

    (folder / "broken.tif").unlink()
    for index in range(3, 4):  # more files than workers
        tifffile.imwrite(folder / f"img{index}.tif", np.full((24, 32), 100 * index, np.uint16))
    request = _request(weights)
    serial = batch.run_batch(batch.plan(folder, tmp_path / "serial", "tiff"), request, "tiff")
    on_cluster = batch.run_batch(batch.plan(folder, tmp_path / "cluster", "tiff"), request, "tiff", client=client)
    assert len(on_cluster.written) == len(serial.written) == 4 and not on_cluster.failed
    for path in serial.written:
        np.testing.assert_array_equal(read_image(tmp_path / "cluster" / path.name), read_image(path))
    name = plugin_name(request.model_dump_json())
    loads = client.run(lambda dask_worker: dask_worker.plugins[name].loads)
    assert max(loads.values()) == 1 and 1 <= sum(loads.values()) <= 2


@slow
def test_the_cli_joins_a_running_cluster(tmp_path, folder, weights, client, capsys):
    """``--scheduler``; ``--workers N`` builds the same client (``cluster_client``, the fixture's)."""
    address = client.scheduler.address
    assert _predict(weights, folder, tmp_path / "out", "--scheduler", address, "--format", "ome-zarr") == 1
    captured = capsys.readouterr()
    assert "3 written, 0 skipped (already complete), 1 failed" in captured.out and "broken.tif" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"img{i}.ome.zarr" for i in range(3)]
    assert main(["predict", "denoise", str(folder), "-o", str(tmp_path / "x"), "--workers", "2",
                 "--scheduler", address]) == 2  # one or the other


def _stall_once(method, item, request, fmt):
    """The batch task, except that the first time it meets ``img1`` it writes its process id and waits
    to be killed (a worker dying mid-file)."""
    from napari_vesselgan.jobs.batch import predict_path

    marker = item.target.parent.parent / "stalled.pid"
    if item.source.name.startswith("img1") and not marker.exists():
        item.target.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
        time.sleep(600)
    return predict_path(method, item, request, fmt)


@slow
def test_a_killed_worker_loses_only_its_current_file(tmp_path, folder, weights, client):
    from napari_vesselgan.jobs import batch

    (folder / "broken.tif").unlink()
    request = _request(weights)
    items = batch.plan(folder, tmp_path / "out", "tiff")
    result: dict[str, batch.BatchSummary] = {}
    runner = threading.Thread(target=lambda: result.update(
        summary=batch.run_batch(items, request, "tiff", client=client, task=_stall_once)))
    runner.start()
    marker = tmp_path / "stalled.pid"
    for _ in range(1200):  # wait for the worker to say it is stuck in img1 (no race: it waits for us)
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.1)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    runner.join(timeout=300)
    summary = result["summary"]
    assert not summary.failed and len(summary.written) == 3
    assert int(marker.read_text()) not in client.run(os.getpid).values()  # that worker is gone (a new one came)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no partial file
    expected = batch.run_batch(batch.plan(folder, tmp_path / "serial", "tiff"), request, "tiff")
    for path in expected.written:
        np.testing.assert_array_equal(read_image(tmp_path / "out" / path.name), read_image(path))
