"""One image split across a dask cluster's workers (engine.cluster_tiling) equals one process's result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_vesselgan.engine.streaming import predict_streamed
from napari_vesselgan.engine.tiling import round_up
from napari_vesselgan.nn import ResnetGenerator, init_weights


def build_net() -> ResnetGenerator:
    return init_weights(ResnetGenerator(1, 1, ngf=8, n_blocks=1), seed=5).eval()


class ArrayReader:
    """A picklable window reader over a (C, H, W) array."""

    def __init__(self, image: np.ndarray):
        self.image = image

    def __call__(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self.image[:, y0:y1, x0:x1]


def test_cluster_split_equals_one_process(single_torch_thread):
    distributed = pytest.importorskip("distributed")
    from napari_vesselgan.engine.cluster_tiling import predict_on_cluster

    image = np.random.default_rng(2).uniform(-1, 1, (1, 100, 84)).astype(np.float32)
    halo = round_up(build_net().receptive_radius + 8, 4)
    options = dict(tile=32, halo=halo, stride=4, out_channels=1)
    alone = predict_streamed(build_net(), ArrayReader(image), image.shape, device=torch.device("cpu"), **options)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        split = predict_on_cluster(client, build_net, ArrayReader(image), image.shape, memory_budget=0, **options)
        assert len(client.scheduler_info()["workers"]) == 2
    assert split.shape == alone.shape
    assert np.abs(split - alone).max() <= 1e-5 * float(np.ptp(alone))
