"""Exact square median filter of any image (float included): a sliding two-level histogram.

The FFA saliency's 51 x 51 median must be exact for float images too (a generator's float
output has as many distinct values as pixels). scipy's ``median_filter`` is exact but selects
among 2601 values per pixel (~17 s for 1024 x 1024); scikit-image's rank filter is fast but
takes at most 16-bit codes and scans its whole histogram per pixel.

Here every value is coded by its rank among the distinct values of a vertical strip (the
median commutes with that order-preserving coding, so the result is exact), and a window
slides along each row of the strip keeping two histograms of the codes: a fine one (one
count per code) and a coarse one (one count per ``2**shift`` consecutive codes). The
median's coarse bin is tracked from pixel to pixel (it moves little: medians of large windows
change slowly) together with the number of values below it; the exact code is then found
within that bin by a scan of at most ``2**shift`` fine counts. Strips (256 columns by
default) keep the histograms small enough to stay in the processor's cache.

The kernel is compiled with numba (the ``fast`` extra). Without numba the same result comes
from scipy's ``median_filter`` (exact, slower).
"""

from __future__ import annotations

import numpy as np

__all__ = ["exact_median", "HAVE_NUMBA"]

try:
    import numba
except ImportError:  # pragma: no cover - the fallback is scipy's exact median
    numba = None

HAVE_NUMBA = numba is not None
#: Output columns per strip: codes and histograms of a strip stay small (cache-friendly).
STRIP = 256
#: log2 of the codes per coarse bin (the within-bin scan is at most 2**SHIFT long).
SHIFT = 6


def _sliding_median_kernel(codes, size, fine, shift):  # pragma: no cover - compiled by numba
    """Exact ``size`` x ``size`` median codes of an integer code image padded by ``size // 2``;
    ``fine``: zeros, one per code (int16 where a window's count fits)."""
    radius = size // 2
    height = codes.shape[0] - 2 * radius
    width = codes.shape[1] - 2 * radius
    out = np.empty((height, width), np.int32)
    coarse = np.zeros((fine.size >> shift) + 1, np.int32)
    k = (size * size) // 2  # 0-based rank of the median
    for y in range(height):
        for yy in range(y, y + size):
            for xx in range(size):
                c = codes[yy, xx]
                fine[c] += 1
                coarse[c >> shift] += 1
        cb = 0
        below = 0  # values in coarse bins below cb
        for x in range(width):
            if x > 0:
                for yy in range(y, y + size):
                    c = codes[yy, x - 1]
                    fine[c] -= 1
                    coarse[c >> shift] -= 1
                    if (c >> shift) < cb:
                        below -= 1
                    c = codes[yy, x + size - 1]
                    fine[c] += 1
                    coarse[c >> shift] += 1
                    if (c >> shift) < cb:
                        below += 1
            while below > k:  # the median's coarse bin: below <= k < below + coarse[cb]
                cb -= 1
                below -= coarse[cb]
            while below + coarse[cb] <= k:
                below += coarse[cb]
                cb += 1
            c = cb << shift  # exact within the bin
            seen = fine[c]
            while seen <= k - below:
                c += 1
                seen += fine[c]
            out[y, x] = c
        for yy in range(y, y + size):  # empty the histograms: the last window only
            for xx in range(width - 1, width - 1 + size):
                c = codes[yy, xx]
                fine[c] -= 1
                coarse[c >> shift] -= 1
    return out


if HAVE_NUMBA:
    _sliding_median = numba.njit(cache=True, nogil=True)(_sliding_median_kernel)


def exact_median(image: np.ndarray, size: int, *, strip: int = STRIP, shift: int = SHIFT) -> np.ndarray:
    """The ``size`` x ``size`` median of a 2-D image with mirror borders (scipy's ``'reflect'``),
    exact for every dtype, as float64 (``size`` odd)."""
    image = np.asarray(image)
    if not HAVE_NUMBA:
        from scipy import ndimage

        return ndimage.median_filter(image.astype(np.float64), size=size, mode="reflect")
    radius = size // 2
    padded = np.pad(image, radius, mode="symmetric")
    out = np.empty(image.shape, np.float64)
    for x0 in range(0, image.shape[1], strip):
        x1 = min(image.shape[1], x0 + strip)
        band = padded[:, x0 : x1 + 2 * radius]
        values, inverse = np.unique(band, return_inverse=True)
        codes = inverse.reshape(band.shape).astype(np.int32)
        fine = np.zeros(values.size, np.int16 if size * size < 2**15 else np.int32)
        out[:, x0:x1] = values[_sliding_median(codes, size, fine, shift)]
    return out
