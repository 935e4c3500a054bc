"""Live re-rendering of a translated image while its input mask is edited, tile by tile.

A ``mask2nir`` image follows a mask an annotator paints. Re-running the generator on the
whole image after every stroke would be slow on large masks, so:

1. :meth:`LiveRenderer.render_full` runs the generator once on the whole mask and records the
   statistics of every InstanceNorm layer (one pass, the same numbers the layers used).
2. An edit marks the output tiles it can change: those within the generator's receptive
   radius of the changed pixels (``influence``), so the result stays exact, not approximate.
3. :meth:`LiveRenderer.plan` snapshots the dirty tiles: neighbouring dirty tiles are grouped
   (connected on the tile grid), and each group becomes one window, its tiles' bounding box
   grown by a halo of the receptive radius, with a copy of the mask there.
4. :meth:`LiveRenderer.run` renders a window with the normalisation statistics frozen at the
   whole image's (``engine.tiling.FrozenInstanceNorm``) and returns the dirty tiles' cores.
   With the halo covering the receptive field, each core equals what whole-image prediction
   with those statistics gives, up to float rounding.

The statistics stay those of the last full render; painting shifts the true whole-image
statistics a little, which :meth:`render_full` catches up with on request. Planning (cheap,
copies) and running (the network) are separate so that a GUI can plan in its own thread and
run in a worker, coalescing edits that arrive meanwhile into the next plan.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage

from napari_vesselgan import InvalidInput
from napari_vesselgan.engine.device import autocast
from napari_vesselgan.engine.tiling import FrozenInstanceNorm, predict_whole, round_up


@dataclass
class RenderJob:
    """One window to render and the tile cores in it to write back."""

    window: tuple[int, int, int, int]                   # y0, y1, x0, x1 (may pass the border: padded)
    cores: list[tuple[int, int, int, int]]              # tiles to write, image coordinates
    tiles: list[tuple[int, int]]                        # their (row, column) on the tile grid
    mask: np.ndarray = field(repr=False)                # float32 {0, 1} of the window


class LiveRenderer:
    """Keeps a translation of a 2-D mask up to date tile by tile (see the module docstring)."""

    def __init__(self, method, shape: tuple[int, int], *, tile: int = 128, influence: int | None = None,
                 precision: str = "fp32"):
        height, width = (int(s) for s in shape)
        if height < 4 or width < 4:
            raise InvalidInput(f"the mask is too small for live rendering: {shape}")
        self.method = method
        self.shape = (height, width)
        self.stride = method.stride
        self.tile = round_up(max(int(tile), self.stride), self.stride)
        radius = int(getattr(method.generator, "receptive_radius", 64))
        self.influence = radius if influence is None else int(influence)
        self.halo = round_up(radius, self.stride)
        self.precision = precision
        self.grid = (-(-height // self.tile), -(-width // self.tile))
        self._dirty = np.zeros(self.grid, bool)
        self._lock = threading.Lock()
        # a private copy: the hooks that freeze its statistics must not touch the method's own generator
        self.generator = copy.deepcopy(method.generator).eval()
        self._frozen = FrozenInstanceNorm(self.generator)
        self.image: np.ndarray | None = None
        #: (row, column) of the tiles the last :meth:`run` calls rendered, for tests and benchmarks.
        self.rendered_tiles: set[tuple[int, int]] = set()

    def close(self) -> None:
        """Remove the hooks and let go of the generator copy."""
        self._frozen.close()

    # ----- whole image --------------------------------------------------------------------------
    def render_full(self, mask: np.ndarray) -> np.ndarray:
        """Translate the whole mask, record the norm statistics, clear the dirty tiles."""
        binary = self._check(mask)
        captured: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        handles = [norm.register_forward_hook(self._capture(i, captured)) for i, norm in enumerate(self._frozen.norms)]
        self._frozen.stats.clear()
        try:
            out = predict_whole(self.generator, binary[None] * 2.0 - 1.0, stride=self.stride,
                                device=self.method.device, precision=self.precision)
        finally:
            for handle in handles:
                handle.remove()
        self._frozen.stats.update(captured)
        with self._lock:
            self._dirty[:] = False
        self.image = _to_unit(out[0])
        return self.image

    @staticmethod
    def _capture(index: int, store: dict):
        def hook(module, inputs, output):
            x = inputs[0].float()
            store[index] = (x.mean(dim=(0, 2, 3)).detach().cpu(), x.var(dim=(0, 2, 3), unbiased=False).detach().cpu())
        return hook

    def _check(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != self.shape:
            raise InvalidInput(f"the mask has shape {mask.shape}; this renderer follows {self.shape}")
        return (mask != 0).astype(np.float32)

    # ----- edits --------------------------------------------------------------------------------
    def mark_changed(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """The mask changed in rows y0:y1, columns x0:x1: mark every tile it can affect."""
        height, width = self.shape
        y0, x0 = max(0, y0 - self.influence), max(0, x0 - self.influence)
        y1, x1 = min(height, y1 + self.influence), min(width, x1 + self.influence)
        if y1 <= y0 or x1 <= x0:
            return
        with self._lock:
            self._dirty[y0 // self.tile : (y1 - 1) // self.tile + 1, x0 // self.tile : (x1 - 1) // self.tile + 1] = True

    def mark_all(self) -> None:
        with self._lock:
            self._dirty[:] = True

    @property
    def pending(self) -> int:
        """Number of dirty tiles not yet planned."""
        with self._lock:
            return int(self._dirty.sum())

    def plan(self, mask: np.ndarray) -> list[RenderJob]:
        """Snapshot the dirty tiles as jobs (with copies of the mask) and clear them."""
        if self.image is None:
            raise RuntimeError("render_full must run first")
        with self._lock:
            dirty = self._dirty.copy()
            self._dirty[:] = False
        labels, _ = ndimage.label(dirty, structure=np.ones((3, 3)))
        height, width = self.shape
        padded_h, padded_w = round_up(height, self.stride), round_up(width, self.stride)
        jobs = []
        for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            tiles = [(int(r), int(c)) for r, c in zip(*np.nonzero(labels == index))]
            cores = [(r * self.tile, min((r + 1) * self.tile, height), c * self.tile, min((c + 1) * self.tile, width))
                     for r, c in tiles]
            y0 = max(0, rows.start * self.tile - self.halo)
            x0 = max(0, cols.start * self.tile - self.halo)
            y1 = min(padded_h, rows.stop * self.tile + self.halo)
            x1 = min(padded_w, cols.stop * self.tile + self.halo)
            jobs.append(RenderJob((y0, y1, x0, x1), cores, tiles, self._window(mask, y0, y1, x0, x1)))
        return jobs

    def _window(self, mask: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        height, width = self.shape
        block = (np.asarray(mask[y0 : min(y1, height), x0 : min(x1, width)]) != 0).astype(np.float32)
        pad_y, pad_x = max(0, y1 - height), max(0, x1 - width)
        if pad_y or pad_x:  # as whole-image prediction pads to the stride
            block = np.pad(block, ((0, pad_y), (0, pad_x)), mode="reflect")
        return block

    # ----- rendering ----------------------------------------------------------------------------
    def run(self, job: RenderJob) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Render one job's window with frozen statistics; (core, image) for each of its tiles."""
        y0, _, x0, _ = job.window
        tensor = torch.from_numpy(job.mask * 2.0 - 1.0)[None, None].to(self.method.device)
        with torch.inference_mode(), autocast(self.method.device, self.precision):
            out = _to_unit(self.generator(tensor)[0, 0].float().cpu().numpy())
        self.rendered_tiles.update(job.tiles)
        return [((cy0, cy1, cx0, cx1), out[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]) for cy0, cy1, cx0, cx1 in job.cores]

    def update(self, mask: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Plan, run and write every dirty tile into :attr:`image` (headless use); the cores written."""
        written = []
        for job in self.plan(mask):
            for core, block in self.run(job):
                cy0, cy1, cx0, cx1 = core
                self.image[cy0:cy1, cx0:cx1] = block
                written.append(core)
        return written


def _to_unit(network_output: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] -> float32 in [0, 1] (the translation contract)."""
    return np.clip((network_output + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def painted_bounds(atoms, ndim: int = 2) -> tuple[int, int, int, int] | None:
    """Bounding box (y0, y1, x0, x1) of the last two axes of napari Labels history atoms.

    An atom is either napari's masked paint atom (with ``slice_key``) or the 3-tuple
    ``(indices, old_values, new_values)`` that ``data_setitem`` records.
    """
    y0 = x0 = None
    y1 = x1 = None
    for atom in atoms:
        key = getattr(atom, "slice_key", None)
        if key is not None:
            ys, xs = key[-2], key[-1]
            box = (ys.start or 0, ys.stop, xs.start or 0, xs.stop)
        else:
            indices = atom[0]
            if len(indices) < 2 or np.size(indices[-1]) == 0:
                continue
            box = (int(np.min(indices[-2])), int(np.max(indices[-2])) + 1,
                   int(np.min(indices[-1])), int(np.max(indices[-1])) + 1)
        if box[1] is None or box[3] is None:
            continue
        y0 = box[0] if y0 is None else min(y0, box[0])
        y1 = box[1] if y1 is None else max(y1, box[1])
        x0 = box[2] if x0 is None else min(x0, box[2])
        x1 = box[3] if x1 is None else max(x1, box[3])
    return None if y0 is None else (int(y0), int(y1), int(x0), int(x1))
