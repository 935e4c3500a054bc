"""TIFF as instruments write it (compressed, tiled, BigTIFF, OME physical sizes), OME-Zarr in and
out, lazy opening of large files and tile-by-tile prediction into a lazily written output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_vesselgan.io import read_image, write_tiff
from napari_vesselgan.io.lazy import open_image, write_tiff_tiled
from napari_vesselgan.io.metadata import PhysicalScale, read_tiff_scale
from napari_vesselgan.io.napari_io import get_zarr_reader, read_layers, read_zarr_layers, write_image
from napari_vesselgan.io.ome_zarr import read_ome_zarr, write_ome_zarr

MICRONS = PhysicalScale({"y": 0.5, "x": 0.25}, {"y": "micrometer", "x": "micrometer"})


@pytest.fixture(scope="module")
def image16() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4096, (150, 200)).astype(np.uint16)


@pytest.mark.parametrize("options", [
    {"compression": "lzw"}, {"compression": "deflate"}, {"compression": "zstd"},
    {"compression": "zlib", "tile": (64, 64)}, {"compression": "lzw", "predictor": True, "bigtiff": True},
])
def test_compressed_tiled_and_bigtiff_files_read_exactly(tmp_path, image16, options):
    path = tmp_path / "x.tif"
    tifffile.imwrite(path, image16, **options)
    np.testing.assert_array_equal(read_image(path), image16)


def test_jpeg_compressed_photo_reads_as_rgb(tmp_path):
    photo = np.zeros((64, 80, 3), np.uint8)
    photo[..., 0], photo[16:48, 20:60, 1] = 200, 150
    path = tmp_path / "photo.tif"
    tifffile.imwrite(path, photo, compression="jpeg", photometric="rgb")
    back = read_image(path)
    assert back.shape == photo.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - photo).mean() < 3  # lossy, but the same picture


def test_ome_tiff_sizes_become_the_layer_scale_and_are_written_back(tmp_path, image16):
    source = tmp_path / "cells.ome.tif"
    tifffile.imwrite(source, image16, ome=True, metadata={
        "axes": "YX", "PhysicalSizeX": 0.25, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.5, "PhysicalSizeYUnit": "µm"})
    [(data, kwargs, kind)] = read_layers(source)
    assert kwargs["scale"] == (0.5, 0.25) and kwargs["units"] == ("micrometer", "micrometer")
    meta = {"name": "cells", "scale": kwargs["scale"], "units": kwargs["units"], "rgb": False}
    for name in ("back.ome.tif", "back.tif"):  # OME PhysicalSize*, or resolution tags in cm
        [written] = write_image(str(tmp_path / name), data, meta)
        scale = read_tiff_scale(written)
        assert scale.units_for("yx") == ("micrometer", "micrometer"), name
        np.testing.assert_allclose(scale.for_axes("yx"), (0.5, 0.25), rtol=1e-6)


def test_imagej_spacing_is_read(tmp_path, image16):
    path = tmp_path / "fiji.tif"
    stack = np.stack([image16] * 3)
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.3, 1 / 0.3), metadata={"unit": "um", "spacing": 2.0, "axes": "ZYX"})
    [(_, kwargs, _)] = read_layers(path)
    assert kwargs["axis_labels"] == ("z", "y", "x")
    np.testing.assert_allclose(kwargs["scale"], (2.0, 0.3, 0.3))


def test_desktop_dpi_is_not_a_physical_size(tmp_path, image16):
    path = tmp_path / "screen.tif"
    tifffile.imwrite(path, image16, resolution=(72, 72), resolutionunit="INCH")
    [(_, kwargs, _)] = read_layers(path)
    assert "scale" not in kwargs


def test_ome_zarr_keeps_dtype_axes_scale_and_is_chunked_with_a_pyramid(tmp_path):
    big = np.random.default_rng(1).integers(0, 60000, (1100, 40)).astype(np.uint16)
    path = write_ome_zarr(tmp_path / "big.ome.zarr", big, scale=MICRONS)
    attrs = json.loads((path / ".zattrs").read_text())["multiscales"][0]
    assert attrs["version"] == "0.4" and [a["name"] for a in attrs["axes"]] == ["y", "x"]
    assert [d["coordinateTransformations"][0]["scale"] for d in attrs["datasets"]] == [[0.5, 0.25], [1.0, 0.5], [2.0, 1.0]]
    image = read_ome_zarr(path)
    assert image.axes == "yx" and image.scale.for_axes("yx") == (0.5, 0.25)
    assert [level.shape for level in image.levels] == [(1100, 40), (550, 20), (275, 10)]
    assert image.data.dtype == np.uint16 and image.data.chunksize == (512, 40)
    np.testing.assert_array_equal(image.data.compute(), big)
    np.testing.assert_array_equal(image.levels[1][:2, :2].compute(),
                                  np.rint(big[:4, :4].reshape(2, 2, 2, 2).mean(axis=(1, 3))).astype(np.uint16))
    # small images: one level; colour kept as (Y, X, 3) with NGFF's channel axis in the file
    photo = np.random.default_rng(2).integers(0, 255, (30, 20, 3)).astype(np.uint8)
    small = read_ome_zarr(write_ome_zarr(tmp_path / "photo.zarr", photo))
    assert small.axes == "yxc" and len(small.levels) == 1
    np.testing.assert_array_equal(small.data.compute(), photo)
    stack = np.zeros((3, 16, 16), np.float32)
    assert read_ome_zarr(write_ome_zarr(tmp_path / "z.zarr", stack, axes="zyx")).axes == "zyx"


def test_ngff_05_zarr_v3_images_are_read(tmp_path):
    import zarr

    image = np.arange(2 * 20 * 30, dtype=np.uint16).reshape(2, 20, 30)
    group = zarr.open_group(str(tmp_path / "v3.ome.zarr"), mode="w", zarr_format=3)
    group.create_array("0", shape=image.shape, dtype=image.dtype, chunks=(1, 20, 30))[:] = image
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2.0, 0.5, 0.5]}]}]}]}
    read = read_ome_zarr(tmp_path / "v3.ome.zarr")
    assert read.axes == "zyx" and read.scale.for_axes("zyx") == (2.0, 0.5, 0.5)
    np.testing.assert_array_equal(read.data.compute(), image)


def test_ome_zarr_napari_reader_gives_a_lazy_multiscale_layer_with_its_scale(tmp_path):
    big = np.zeros((1100, 40), np.uint8)
    path = write_ome_zarr(tmp_path / "big.ome.zarr", big, scale=MICRONS)
    assert get_zarr_reader(str(path)) is read_zarr_layers
    assert get_zarr_reader(str(tmp_path)) is None
    [(levels, kwargs, kind)] = read_zarr_layers(path)
    assert kind == "image" and kwargs["multiscale"] and len(levels) == 3 and hasattr(levels[0], "dask")
    assert kwargs["scale"] == (0.5, 0.25) and kwargs["units"] == ("micrometer", "micrometer")


def test_a_failed_ome_zarr_write_leaves_nothing(tmp_path):
    with pytest.raises(Exception):
        write_ome_zarr(tmp_path / "x.zarr", np.zeros((2, 2, 2, 2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_a_large_tiff_opens_lazily_with_its_layout(tmp_path, monkeypatch, image16):
    path = tmp_path / "big.ome.tif"
    tifffile.imwrite(path, image16, tile=(64, 64), ome=True, metadata={"axes": "YX", "PhysicalSizeX": 0.25})
    monkeypatch.setenv("VESSELGAN_LAZY_MB", "0.01")
    opened = open_image(path)
    assert opened.lazy and opened.data.chunksize == (64, 64) and opened.scale.size("x") == 0.25
    [(data, kwargs, kind)] = read_layers(path)
    assert hasattr(data, "dask") and kind == "image"
    np.testing.assert_array_equal(np.asarray(data), image16)
    monkeypatch.setenv("VESSELGAN_LAZY_MB", "1000")
    assert not open_image(path).lazy
    rgb = np.random.default_rng(3).integers(0, 255, (3, 40, 50)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", rgb, photometric="rgb", planarconfig="separate")
    lazy_rgb = open_image(tmp_path / "planar.tif", lazy=True).data
    np.testing.assert_array_equal(np.asarray(lazy_rgb), read_image(tmp_path / "planar.tif"))


def test_tiled_writer_streams_tiles(tmp_path, image16):
    import dask.array as da

    written = write_tiff_tiled(tmp_path / "out.ome.tif", da.from_array(image16, chunks=50), scale=MICRONS, tile=64)
    with tifffile.TiffFile(written) as tif:
        assert tif.pages[0].is_tiled and tif.pages[0].tilewidth == 64
    np.testing.assert_array_equal(read_image(written), image16)
    assert read_tiff_scale(written).for_axes("yx") == (0.5, 0.25)


class RecordingArray:
    """An array-like over ``array`` that records every region dask reads from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.reads: list[int] = []

    def __getitem__(self, key):
        block = self.array[key]
        self.reads.append(block.size)
        return block


@pytest.mark.parametrize("name", ["denoise", "mask2nir"])
def test_predict_into_reads_tiles_and_writes_a_zarr_equal_to_predict(tmp_path, name, single_torch_thread):
    import dask.array as da
    import zarr

    from napari_vesselgan import methods

    cls = methods.method_class(name)
    method = cls.untrained(cls.config_class.preset("test"), device="cpu")
    rng = np.random.default_rng(5)
    image = rng.integers(0, 4096, (64, 96)).astype(np.uint16) if name == "denoise" else \
        (rng.random((64, 96)) > 0.7).astype(np.uint8) * 255
    source = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=image.shape, chunks=(32, 32), dtype=image.dtype)
    source[:] = image
    recorder = RecordingArray(source)
    lazy = da.from_array(recorder, chunks=(32, 32))
    expected = method.predict(image, tile=32, halo=8)  # a small halo: cheap, and the same for both
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="w", shape=expected.shape, chunks=(32, 32),
                          dtype=expected.dtype)
    method.predict_into(lazy, out, tile=32, halo=8)
    assert recorder.reads and max(recorder.reads) == 32 * 32  # chunk by chunk, never the whole image
    np.testing.assert_allclose(out[:], expected, atol=1e-6 if expected.dtype.kind == "f" else 0)


def test_predict_into_refuses_methods_that_need_the_whole_image():
    from napari_vesselgan import InvalidInput, methods

    method = methods.method_class("fundus2ffa")
    assert not method.streams() and methods.method_class("denoise").streams()
    assert not methods.method_class("superres").streams(scale=4)
    with pytest.raises(InvalidInput, match="whole images"):
        methods.method_class("fundus2ffa").predict_into(method, np.zeros((8, 8, 3)), None)


def test_a_dock_prediction_of_a_lazy_layer_larger_than_memory_stays_lazy(tmp_path, monkeypatch, single_torch_thread):
    import dask.array as da

    from napari_vesselgan import methods
    from napari_vesselgan.jobs.predict import run_prediction
    from napari_vesselgan.methods.request import PredictionRequest

    cls = methods.method_class("denoise")
    method = cls.untrained(cls.config_class.preset("test"), device="cpu")
    image = np.random.default_rng(6).integers(0, 4096, (64, 96)).astype(np.uint16)
    request = PredictionRequest(method="denoise", device="cpu", tile=32, halo=8)
    monkeypatch.setenv("VESSELGAN_LAZY_MB", "0.001")
    result = run_prediction(request, da.from_array(image, chunks=32), load=lambda _: method)
    assert hasattr(result.output, "dask") and result.output.dtype == np.uint16  # a zarr on disk, read lazily
    assert any("larger than memory" in note for note in result.notes)
    np.testing.assert_array_equal(result.output.compute(), method.predict(image, tile=32, halo=8))
    # saved from napari as TIFF tile by tile
    [written] = write_image(str(tmp_path / "result.tif"), result.output, {"name": "result"})
    with tifffile.TiffFile(written) as tif:
        assert tif.pages[0].is_tiled
    np.testing.assert_array_equal(read_image(written), result.output.compute())


# ----- in napari ----------------------------------------------------------------------------------
def test_napari_opens_ome_zarr_and_large_tiffs_lazily_and_saves_the_scale(make_napari_viewer, tmp_path, monkeypatch,
                                                                           image16):
    big = np.random.default_rng(4).integers(0, 255, (1100, 40)).astype(np.uint8)
    zarr_path = write_ome_zarr(tmp_path / "big.ome.zarr", big, scale=MICRONS)
    tiff_path = tmp_path / "large.ome.tif"
    tifffile.imwrite(tiff_path, image16, tile=(64, 64), ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.5})
    monkeypatch.setenv("VESSELGAN_LAZY_MB", "0.01")
    viewer = make_napari_viewer()
    (pyramid,) = viewer.open(str(zarr_path), plugin="napari-vesselgan")
    assert pyramid.multiscale and len(pyramid.data) == 3 and hasattr(pyramid.data[0], "dask")
    assert tuple(pyramid.scale) == (0.5, 0.25) and str(pyramid.units[0]) == "micrometer"
    (large,) = viewer.open(str(tiff_path), plugin="napari-vesselgan")
    assert hasattr(large.data, "dask") and tuple(large.scale) == (0.5, 0.25)  # still lazy in the viewer
    # saved back: as OME-TIFF and as OME-Zarr, the scale with it
    large.save(str(tmp_path / "saved.ome.tif"), plugin="napari-vesselgan")
    assert read_tiff_scale(tmp_path / "saved.ome.tif").for_axes("yx") == (0.5, 0.25)
    pyramid.save(str(tmp_path / "saved.ome.zarr"), plugin="napari-vesselgan")
    saved = read_ome_zarr(tmp_path / "saved.ome.zarr")
    assert saved.scale.for_axes("yx") == (0.5, 0.25) and saved.data.dtype == np.uint8
    np.testing.assert_array_equal(saved.data.compute(), big)
