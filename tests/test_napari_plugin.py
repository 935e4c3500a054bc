"""The plugin as napari sees it: sample data menu, reader and writer contributions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_vesselgan.data import lowlight_pair
from napari_vesselgan.io import read_image, write_tiff


@pytest.mark.parametrize(
    ("key", "layer_type", "ndim"),
    [("vessel-mask", "labels", 2), ("nir", "image", 2), ("lowlight-nir", "image", 2),
     ("lowres-nir", "image", 2), ("fundus", "image", 2)],
)
def test_open_sample_menu_entries(make_napari_viewer, key, layer_type, ndim):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-vesselgan", key)
    assert len(layers) == 1 and layers[0]._type_string == layer_type
    assert layers[0].ndim == ndim
    if key == "fundus":
        assert layers[0].rgb


def test_open_sample_real_nir_frame_with_its_partner(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-vesselgan", "real-nir-mouse")
    assert [layer._type_string for layer in layers] == ["image", "image"]
    partner, image = layers
    assert image.data.shape == partner.data.shape == (512, 640) and image.data.dtype == np.uint8
    assert image.metadata["licence"] == "BSD-2-Clause" and "PNAS" in image.metadata["citation"]
    assert not partner.visible


def test_reader_opens_16bit_images_and_masks_as_labels(make_napari_viewer, tmp_path):
    low, _ = lowlight_pair((64, 48), seed=1)
    image_path = write_tiff(tmp_path / "low.tif", low)
    mask_path = write_tiff(tmp_path / "mask.tif", (low > np.median(low)).astype(np.uint8))
    viewer = make_napari_viewer()
    (image,) = viewer.open(image_path, plugin="napari-vesselgan")
    (mask,) = viewer.open(mask_path, plugin="napari-vesselgan")
    assert image._type_string == "image" and image.data.dtype == np.uint16
    assert np.array_equal(image.data, low)
    assert mask._type_string == "labels" and set(np.unique(mask.data)) == {0, 1}


def test_writer_saves_a_layer_as_tiff(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data = lowlight_pair((40, 40), seed=2)[0]
    layer = viewer.add_image(data, name="low")
    target = tmp_path / "saved.tif"
    written = layer.save(str(target), plugin="napari-vesselgan")
    assert written and np.array_equal(read_image(target), data)
