"""Readers, writers and the npe2 reader / writer contributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_vesselgan.io import (
    ImageReadError,
    is_binary_mask,
    read_any,
    read_image,
    write_image,
    write_tiff,
    write_video,
)
from napari_vesselgan.io import napari_io

RNG = np.random.default_rng(0)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- TIFF round trips ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        RNG.integers(0, 256, (31, 47), dtype=np.uint8),
        RNG.integers(0, 65536, (31, 47), dtype=np.uint16),
        RNG.random((31, 47), dtype=np.float32),
        RNG.random((20, 30)),  # float64
        RNG.integers(0, 256, (31, 47, 3), dtype=np.uint8),  # RGB
        RNG.integers(0, 65536, (5, 31, 47), dtype=np.uint16),  # (T, Y, X) stack
        RNG.integers(0, 256, (4, 16, 20, 3), dtype=np.uint8),  # (T, Y, X, 3)
    ],
    ids=["u8", "u16", "f32", "f64", "rgb", "stack", "rgb-stack"],
)
@pytest.mark.parametrize("compression", ["zlib", None])
def test_tiff_round_trip_is_exact(tmp_path: Path, array: np.ndarray, compression) -> None:
    path = write_tiff(tmp_path / "x.tif", array, compression=compression)
    back = read_image(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    assert _leftovers(tmp_path) == ["x.tif"]


def test_tiff_rgb_is_stored_as_rgb_and_bool_as_uint8(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    with tifffile.TiffFile(write_tiff(tmp_path / "rgb.tif", rgb)) as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    mask = RNG.random((10, 12)) > 0.5
    back = read_image(write_tiff(tmp_path / "mask.tif", mask))
    assert back.dtype == np.uint8 and np.array_equal(back, mask.astype(np.uint8))


def test_tiff_metadata_is_stored(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "m.tif", np.zeros((4, 4), np.uint16), metadata={"seed": 7})
    with tifffile.TiffFile(path) as tif:
        assert tif.shaped_metadata[0]["seed"] == 7


def test_ome_tiff_written_and_read(tmp_path: Path) -> None:
    stack = RNG.integers(0, 65536, (3, 16, 24), dtype=np.uint16)
    path = write_tiff(tmp_path / "stack.ome.tif", stack)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
    assert np.array_equal(read_image(path), stack)
    # an OME-TIFF written by tifffile directly (not by us) reads too
    tifffile.imwrite(tmp_path / "other.ome.tiff", stack[0], ome=True)
    assert np.array_equal(read_image(tmp_path / "other.ome.tiff"), stack[0])


def test_big_endian_and_planar_rgb_tiffs(tmp_path: Path) -> None:
    data = RNG.integers(0, 65536, (10, 11), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "be.tif", data, byteorder=">")
    back = read_image(tmp_path / "be.tif")
    assert back.dtype == np.dtype("uint16") and back.dtype.isnative and np.array_equal(back, data)
    rgb = RNG.integers(0, 256, (10, 11, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    assert np.array_equal(read_image(tmp_path / "planar.tif"), rgb)


def test_read_never_returns_a_memory_mapped_view(tmp_path: Path) -> None:
    data = RNG.integers(0, 65536, (32, 32), dtype=np.uint16)
    path = write_tiff(tmp_path / "u.tif", data, compression=None)  # uncompressed: memmappable
    back = read_image(path)
    write_tiff(path, np.zeros_like(data), compression=None)  # overwrite the file
    assert np.array_equal(back, data)
    assert not isinstance(back, np.memmap) and back.flags.writeable


# --- PNG / JPEG ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip_grey(tmp_path: Path, dtype) -> None:
    array = RNG.integers(0, np.iinfo(dtype).max + 1, (21, 34), dtype=dtype)
    back = read_image(write_image(tmp_path / "g.png", array))
    assert back.dtype == dtype and np.array_equal(back, array)


def test_png_rgb_and_equal_channels_become_grey(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    assert np.array_equal(read_image(write_image(tmp_path / "c.png", rgb)), rgb)
    grey = RNG.integers(0, 256, (21, 34), dtype=np.uint8)
    back = read_image(write_image(tmp_path / "gg.png", np.stack([grey] * 3, axis=-1)))
    assert back.shape == (21, 34) and np.array_equal(back, grey)


def test_png_alpha_is_dropped_with_a_warning(tmp_path: Path) -> None:
    import imageio.v3 as iio

    rgba = RNG.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", rgba)
    with pytest.warns(UserWarning, match="alpha"):
        back = read_image(tmp_path / "a.png")
    assert np.array_equal(back, rgba[..., :3])
    rgba[..., 3] = 255  # fully opaque: nothing lost, no warning
    iio.imwrite(tmp_path / "b.png", rgba)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "b.png").shape == (10, 12, 3)


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:64, 0:80]
    smooth = (127 + 100 * np.sin(yy / 9.0) * np.cos(xx / 13.0)).astype(np.uint8)
    back = read_image(write_image(tmp_path / "s.jpg", smooth))
    assert back.shape == smooth.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - smooth).mean() < 2.0


def test_raster_writers_convert_or_refuse_clearly(tmp_path: Path) -> None:
    unit = np.linspace(0, 1, 20 * 30, dtype=np.float32).reshape(20, 30)
    back = read_image(write_image(tmp_path / "f.png", unit))
    assert back.dtype == np.uint8 and back.max() == 255 and back.min() == 0
    with pytest.raises(ValueError, match=r"\.tif"):
        write_image(tmp_path / "big.png", unit * 10)
    with pytest.raises(ValueError, match="8-bit"):
        write_image(tmp_path / "u16.jpg", np.full((4, 4), 1000, np.uint16))
    with pytest.raises(ValueError, match="stacks"):
        write_image(tmp_path / "stack.png", np.zeros((3, 8, 8), np.uint8))
    labels = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert read_image(write_image(tmp_path / "i.png", labels)).dtype == np.uint8
    assert not list(tmp_path.glob(".*part*"))


def test_write_image_dispatches_and_rejects_unknown_extensions(tmp_path: Path) -> None:
    data = RNG.integers(0, 65536, (8, 8), dtype=np.uint16)
    assert np.array_equal(read_image(write_image(tmp_path / "d.tiff", data)), data)
    with pytest.raises(ValueError, match="unsupported extension"):
        write_image(tmp_path / "d.bmp", data)
    with pytest.raises(ValueError, match="unsupported extension"):
        write_image(tmp_path / "noext", data)


# --- video ---------------------------------------------------------------------------------


def _moving_blob(t: int = 6, h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    frames = [np.exp(-((yy - h / 2) ** 2 + (xx - 10 - 7 * k) ** 2) / 60.0) for k in range(t)]
    return np.stack(frames).astype(np.float32)  # floats in [0, 1]


def test_mp4_round_trip_grey(tmp_path: Path) -> None:
    frames = _moving_blob()
    path = write_video(tmp_path / "v.mp4", frames, fps=5)
    back = read_image(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(float) - frames * 255).mean() < 3.0
    # the blob moves: frame k's brightest column follows it
    assert np.argmax(back[0].max(axis=0)) < np.argmax(back[-1].max(axis=0))
    assert _leftovers(tmp_path) == ["v.mp4"]


def test_video_colour_avi_odd_size_and_range_scaling(tmp_path: Path) -> None:
    frames = _moving_blob(4, 33, 45)
    colour = np.stack([frames, 0.3 * frames, 1 - frames], axis=-1)
    back = read_image(write_video(tmp_path / "c.avi", colour))
    assert back.shape == (4, 34, 46, 3)  # odd sizes padded to even for yuv420p
    assert np.abs(back[:, :33, :45].astype(float) - colour * 255).mean() < 4.0
    # values outside [0, 1] are scaled by the stack's min / max
    wide = read_image(write_video(tmp_path / "w.mp4", frames * 4000.0 - 100.0))
    assert wide.max() >= 250 and wide.min() <= 5


def test_write_video_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mov", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 2), np.uint8))


# --- mask rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[0, 1], [1, 0]], np.uint8), True),
        (np.array([[0, 255], [255, 0]], np.uint8), True),
        (np.array([[0, 1], [1, 0]], np.uint16), True),
        (np.array([[0, 1], [1, 0]], np.int64), True),
        (np.array([[False, True]]), True),
        (np.array([[0, 1], [2, 0]], np.uint8), False),  # three values
        (np.array([[0, 1], [255, 0]], np.uint8), False),  # mixed scales
        (np.array([[0.0, 1.0], [1.0, 0.0]], np.float32), False),  # float
        (np.zeros((2, 2), np.uint8), False),  # one value only
        (np.ones((2, 2), np.uint8), False),
        (np.array([[1, 255], [255, 1]], np.uint8), False),
        (np.zeros((4, 4, 3), np.uint8) + np.array([0, 1, 0], np.uint8), False),  # RGB
    ],
)
def test_is_binary_mask(array: np.ndarray, expected: bool) -> None:
    assert is_binary_mask(array) is expected


def test_read_any_masks_become_labels(tmp_path: Path) -> None:
    mask = (RNG.random((20, 20)) > 0.7).astype(np.uint8)
    for name, stored in [("m01.tif", mask), ("m255.tif", mask * 255), ("m255.png", mask * 255)]:
        data, kind = read_any(write_image(tmp_path / name, stored))
        assert kind == "labels" and data.dtype == np.uint8 and np.array_equal(data, mask), name
    three = mask.copy()
    three[0, 0] = 2
    assert read_any(write_tiff(tmp_path / "three.tif", three))[1] == "image"
    data, kind = read_any(write_tiff(tmp_path / "f.tif", mask.astype(np.float32)))
    assert kind == "image" and data.dtype == np.float32


# --- errors ----------------------------------------------------------------------------------


def test_corrupt_tiff_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "x.tif"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(ImageReadError, match="x.tif") as info:
        read_image(path)
    assert "\n" not in str(info.value)


def test_truncated_files_raise(tmp_path: Path) -> None:
    png = write_image(tmp_path / "t.png", RNG.integers(0, 256, (64, 64), dtype=np.uint8))
    png.write_bytes(png.read_bytes()[:300])
    with pytest.raises(ImageReadError, match="t.png"):
        read_image(png)
    tif = write_tiff(tmp_path / "t.tif", RNG.integers(0, 65536, (64, 64), dtype=np.uint16))
    tif.write_bytes(tif.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="t.tif"):
        read_image(tif)
    mp4 = write_video(tmp_path / "t.mp4", _moving_blob())
    mp4.write_bytes(mp4.read_bytes()[:100])
    with pytest.raises(ImageReadError, match="t.mp4"):
        read_image(mp4)


def test_missing_empty_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.tif")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageReadError, match="unsupported"):
        read_image(tmp_path / "notes.txt")
    (tmp_path / "folder.tif").mkdir()
    with pytest.raises(ImageReadError, match="not a file"):
        read_image(tmp_path / "folder.tif")


def test_empty_and_high_dimensional_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="zero-size"):
        tifffile.imwrite(tmp_path / "zero.tif", np.zeros((0, 5), np.uint8))
    with pytest.raises(ImageReadError):
        read_image(tmp_path / "zero.tif")
    tifffile.imwrite(tmp_path / "five.tif", np.zeros((2, 2, 2, 4, 5), np.uint8))
    with pytest.raises(ImageReadError, match="4 dimensions"):
        read_image(tmp_path / "five.tif")
    with pytest.raises(ValueError):
        write_tiff(tmp_path / "e.tif", np.zeros((0, 3)))
    with pytest.raises(ValueError):
        write_tiff(tmp_path / "e.tif", np.zeros((1, 2, 2, 2, 2)))


# --- atomic writes ---------------------------------------------------------------------------


def _boom(*args, **kwargs):
    raise RuntimeError("disk full (simulated)")


def test_failed_tiff_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tifffile, "imwrite", _boom)
    with pytest.raises(RuntimeError, match="simulated"):
        write_tiff(tmp_path / "x.tif", np.zeros((4, 4), np.uint8))
    assert _leftovers(tmp_path) == []


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    import imageio.v3 as iio

    old = RNG.integers(0, 256, (6, 6), dtype=np.uint8)
    write_image(tmp_path / "x.png", old)

    def half_then_fail(uri, *args, **kwargs):
        Path(uri).write_bytes(b"\x89PNG half")  # a partial file at the temporary name
        raise OSError("interrupted (simulated)")

    monkeypatch.setattr(iio, "imwrite", half_then_fail)
    with pytest.raises(OSError, match="simulated"):
        write_image(tmp_path / "x.png", np.zeros((6, 6), np.uint8))
    assert _leftovers(tmp_path) == ["x.png"]
    monkeypatch.undo()
    assert np.array_equal(read_image(tmp_path / "x.png"), old)


def test_failed_video_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    import imageio.v2 as iio2

    real_get_writer = iio2.get_writer

    class FailsOnSecondFrame:
        """The real ffmpeg writer, failing after one frame has gone to the temporary file."""

        def __init__(self, *args, **kwargs):
            self.inner = real_get_writer(*args, **kwargs)
            self.frames = 0

        def append_data(self, frame):
            self.frames += 1
            if self.frames == 2:
                raise OSError("encoder died (simulated)")
            self.inner.append_data(frame)

        def close(self):
            self.inner.close()

    monkeypatch.setattr(iio2, "get_writer", FailsOnSecondFrame)
    with pytest.raises(OSError, match="simulated"):
        write_video(tmp_path / "v.mp4", _moving_blob(3, 16, 16))
    assert _leftovers(tmp_path) == []


# --- napari contributions --------------------------------------------------------------------


def test_get_reader_accepts_only_single_supported_files(tmp_path: Path) -> None:
    assert napari_io.get_reader(str(tmp_path / "a.txt")) is None
    assert napari_io.get_reader(str(tmp_path)) is None
    assert napari_io.get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) is None
    assert callable(napari_io.get_reader(str(tmp_path / "a.tif")))
    assert callable(napari_io.get_reader(str(tmp_path / "A.OME.TIFF")))


def test_reader_layer_tuples(tmp_path: Path) -> None:
    image = RNG.integers(0, 65536, (16, 20), dtype=np.uint16)
    mask = np.zeros((16, 20), np.uint8)
    mask[4:8, 2:10] = 255
    rgb = RNG.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    stack = RNG.integers(0, 65536, (4, 16, 20), dtype=np.uint16)
    paths = {
        "image": write_tiff(tmp_path / "image.tif", image),
        "mask": write_image(tmp_path / "mask.png", mask),
        "rgb": write_image(tmp_path / "rgb.png", rgb),
        "stack": write_tiff(tmp_path / "stack.ome.tif", stack),
        "video": write_video(tmp_path / "video.mp4", _moving_blob()),
    }
    layers = {key: napari_io.get_reader(str(p))(str(p)) for key, p in paths.items()}
    for key, result in layers.items():
        assert isinstance(result, list) and len(result) == 1
        data, kwargs, kind = result[0]
        assert kwargs["metadata"]["source"] == str(paths[key].resolve())
    (data, kwargs, kind), = layers["image"]
    assert kind == "image" and kwargs["name"] == "image" and np.array_equal(data, image)
    assert "rgb" not in kwargs and "axis_labels" not in kwargs
    (data, kwargs, kind), = layers["mask"]
    assert kind == "labels" and np.array_equal(data, mask // 255)
    (data, kwargs, kind), = layers["rgb"]
    assert kind == "image" and kwargs["rgb"] is True and data.shape == (16, 20, 3)
    (data, kwargs, kind), = layers["stack"]
    assert kwargs["name"] == "stack" and data.shape == (4, 16, 20) and kwargs["axis_labels"] == ("t", "y", "x")
    (data, kwargs, kind), = layers["video"]
    assert kind == "image" and data.shape == (6, 48, 64) and kwargs["axis_labels"][0] == "t"


def test_reader_raises_on_corrupt_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(b"II*\x00garbage")
    reader = napari_io.get_reader(str(path))
    with pytest.raises(ImageReadError, match="bad.tif"):
        reader(str(path))


def test_npe2_writers(tmp_path: Path) -> None:
    image = RNG.random((12, 14), dtype=np.float32)
    written = napari_io.write_image(str(tmp_path / "img.tif"), image, {"name": "my image"})
    assert written == [str(tmp_path / "img.tif")] and np.array_equal(read_image(written[0]), image)
    labels = np.zeros((12, 14), np.int32)
    labels[2:5, 3:9] = 1
    (out,) = napari_io.write_labels(str(tmp_path / "lab.tif"), labels, {"name": "mask"})
    data, kind = read_any(out)
    assert kind == "labels" and data.dtype == np.uint8 and np.array_equal(data, labels)
    many = labels.copy()
    many[8:10, 1:3] = 300
    (out,) = napari_io.write_labels(str(tmp_path / "many.tif"), many, {})
    assert read_image(out).dtype == np.uint16 and np.array_equal(read_image(out), many)
    (out,) = napari_io.write_video(str(tmp_path / "vid.mp4"), _moving_blob(), {"metadata": {"fps": 10}})
    assert read_image(out).shape == (6, 48, 64)
    # multiscale data: the full-resolution level is written
    (out,) = napari_io.write_image(str(tmp_path / "ms.tif"), [image, image[::2, ::2]], {})
    assert read_image(out).shape == image.shape


# --- real images (shared/real; skipped when absent) -----------------------------------------


def test_real_liver_stack(real_dir: Path) -> None:
    path = real_dir / "liver-vessels" / "raw_liver_1.tif"
    data = read_image(path)
    assert data.shape == (51, 130, 130) and data.dtype == np.uint16 and data.max() > 1000
    assert read_any(path)[1] == "image"
    (layer, kwargs, kind), = napari_io.get_reader(str(path))(str(path))
    assert kind == "image" and kwargs["axis_labels"] == ("z", "y", "x")  # an ImageJ z-stack


def test_real_liver_mask_is_labels(real_dir: Path) -> None:
    data, kind = read_any(real_dir / "liver-vessels" / "ves_otsu_mask.tif")
    assert kind == "labels" and data.shape == (51, 130, 130) and data.dtype == np.uint8
    assert set(np.unique(data)) == {0, 1}


def test_real_nir_png(real_dir: Path) -> None:
    data, kind = read_any(real_dir / "nir2-mouse" / "NIR-IIa_7.png")
    assert kind == "image" and data.shape == (512, 640) and data.dtype == np.uint8
    assert data.std() > 5  # a real image, not a constant


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path):
    """safetensors writes through its own 0600 temporary file; the result must still be 0666 & ~umask."""
    import os

    import torch

    from napari_vesselgan.engine.checkpoint import save_checkpoint

    umask = os.umask(0)
    os.umask(umask)
    path = save_checkpoint(tmp_path / "w.safetensors", method="denoise", config={},
                           networks={"generator": torch.nn.Linear(2, 2)}, step=0)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
