"""The total gradient (TG) loss of the super-resolution paper (Eq. 9-10), exact and fast.

For an image pair x (reference) and y (generated) of N_h x N_w pixels, along the width

    D_w = sum_{k=1..kmax_w} (1/k) sum_j sum_{i=1..N_w-k} [(x[i+k,j] - x[i,j]) - (y[i+k,j] - y[i,j])]^2

and D_h likewise along the height; L_TG = D_w / N_w + D_h / N_h, kmax = floor(N / 2) per axis
unless given. Computed per image and channel; the batch (and channels) take the mean.

Only e = x - y matters, and per line sum_i (e[i+k] - e[i])^2 = sum_{i>=k} e[i]^2 +
sum_{i<N-k} e[i]^2 - 2 R(k) with R the autocorrelation of e at lag k: every lag comes from one
zero-padded FFT (O(N log N) per line instead of O(N * kmax)). Each line's mean is removed
first (differences do not change) so that the subtraction loses little precision.
"""

from __future__ import annotations

import torch


def _axis_term(error: torch.Tensor, k_max: int | None) -> torch.Tensor:
    """(1/N) sum_k (1/k) sum_lines sum_i (e[i+k]-e[i])^2 along the last axis, per leading (B, C)."""
    n = error.shape[-1]
    kmax = n // 2 if k_max is None else min(int(k_max), n - 1)
    if kmax < 1:
        return error.new_zeros(error.shape[:2])
    e = error - error.mean(dim=-1, keepdim=True)
    squares = e * e
    # prefix[m] = sum_{i<m} e[i]^2 for m = 0..n
    prefix = torch.nn.functional.pad(torch.cumsum(squares, dim=-1), (1, 0))
    total = prefix[..., -1:]
    lags = torch.arange(1, kmax + 1, device=error.device)
    head = total - prefix[..., lags]  # sum_{i>=k} e[i]^2
    tail = prefix[..., n - lags]  # sum_{i<n-k} e[i]^2
    size = 1 << (2 * n - 1).bit_length()
    spectrum = torch.fft.rfft(e, n=size, dim=-1)
    autocorrelation = torch.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, dim=-1)[..., 1 : kmax + 1]
    per_lag = (head + tail - 2.0 * autocorrelation).clamp_min(0.0)  # (..., lines, kmax)
    weighted = (per_lag / lags.to(per_lag.dtype)).sum(dim=-1)  # (B, C, lines)
    return weighted.sum(dim=-1) / n


def total_gradient_loss(pred: torch.Tensor, target: torch.Tensor, k_max: int | None = None) -> torch.Tensor:
    """Eq. 10 of the TG paper for (B, C, H, W) tensors: mean over batch and channels (0-d tensor).

    ``k_max=None`` takes half of each axis (the paper's choice); an integer caps both axes
    (``k_max=1`` compares neighbouring pixels only). Differentiable; the FFTs run in float32
    (float64 inputs stay float64).
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if k_max is not None and int(k_max) < 1:
        raise ValueError(f"k_max must be a positive integer or None, got {k_max}")
    error = target - pred
    if error.dtype not in (torch.float32, torch.float64):
        error = error.float()
    width_term = _axis_term(error, k_max)
    height_term = _axis_term(error.transpose(-1, -2), k_max)
    return (width_term + height_term).mean()


def total_gradient_loss_loop(pred: torch.Tensor, target: torch.Tensor, k_max: int | None = None) -> torch.Tensor:
    """Eq. 10 written out as the paper states it, one offset at a time: the reference for tests
    and the baseline of the benchmark (O(N * kmax) per line)."""
    x, y = target, pred
    batch_channel = x.shape[:2]
    total = x.new_zeros(batch_channel)
    for axis, n in ((-1, x.shape[-1]), (-2, x.shape[-2])):
        kmax = n // 2 if k_max is None else min(int(k_max), n - 1)
        axis_sum = x.new_zeros(batch_channel)
        for k in range(1, kmax + 1):
            dx = x.narrow(axis, k, n - k) - x.narrow(axis, 0, n - k)
            dy = y.narrow(axis, k, n - k) - y.narrow(axis, 0, n - k)
            axis_sum = axis_sum + ((dx - dy) ** 2).sum(dim=(-2, -1)) / k
        total = total + axis_sum / n
    return total.mean()
