"""Pillow's float ("F" mode) bicubic resize on batches of planes, with Pillow's float32 results bit for bit.

Pillow resamples a float image in two separable passes (one per axis), each output pixel the sum over
at most `ksize` taps of input * coefficient, accumulated in double precision in tap order and stored as float32
(libImaging/Resample.c: `precompute_coeffs`, `ImagingResample{Horizontal,Vertical}_32bpc`). Here the same
coefficients are computed with the same double-precision operations, and each pass is a banded matrix product
(float64) over all planes at once. A matrix product sums in another order than Pillow, so its double result may
differ from Pillow's in the last bits; both lie within gamma_n * sum|a_i w_i| of the exact sum (n taps, any
summation order, gamma_n = n u / (1 - n u), u = 2^-53; Higham, Accuracy and Stability of Numerical Algorithms,
2nd ed., eq. 3.5). Rounding to float32 is monotone, so where the float32 roundings of the product's value minus and
plus that bound (doubled) agree, Pillow's float32 value is that same number. The few outputs where they disagree
(between 1 in 10^4 and 1 in 10^6 on smooth images, mostly values near 0) are recomputed in Pillow's order: product,
then sum, tap by tap from 0.0. The result is therefore Pillow's result, not an approximation of it;
tests/unit/test_inception_resize.py checks it against clean-fid's own resizer. Which pass Pillow runs first depends
on its version and the sizes, so it is read from the installed Pillow once per size (`pillow_pass_order`).

Exactness assumes Pillow's C loop does not fuse the multiply-add (true of the x86-64 wheels, which target a CPU
without FMA); the check above does not depend on it, only the recomputation of the rare undecided outputs does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

BICUBIC_A = -0.5  # Pillow's bicubic convolution kernel (Keys' cubic with a = -0.5)
BICUBIC_SUPPORT = 2.0
GROUP = 16  # outputs per band block: small blocks keep the banded product close to the taps' own cost
UNIT_ROUNDOFF = 2.0 ** -53


def bicubic_kernel(x: np.ndarray) -> np.ndarray:
    """Pillow's `bicubic_filter` with its operations in its order (so the double results are Pillow's)."""
    x = np.abs(x)
    a = BICUBIC_A
    inner = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    outer = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, inner, np.where(x < 2.0, outer, 0.0))


def pillow_coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's `precompute_coeffs` for bicubic over the whole input: (first tap index [out], normalised weights
    [out, ksize] with unused taps 0), computed with the same double-precision operations in the same order."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = BICUBIC_SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    # C's (int) cast truncates toward zero; Pillow then clips to the image
    first = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    count = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size) - first
    taps = np.arange(ksize)
    used = taps[None, :] < count[:, None]
    x = ((taps[None, :] + first[:, None]).astype(np.float64) - center[:, None] + 0.5) * (1.0 / filterscale)
    weights = np.where(used, bicubic_kernel(x), 0.0)
    total = np.zeros(out_size)
    for k in range(ksize):  # Pillow's running sum, in tap order (adding the unused zeros is exact)
        total = total + weights[:, k]
    safe = np.where(total != 0.0, total, 1.0)
    return first, np.where(used & (total[:, None] != 0.0), weights / safe[:, None], weights)


@dataclass(frozen=True)
class BandedPass:
    """One resampling pass along dim -2 as a banded product: output rows in blocks of GROUP, block g reading the
    `width` rows from g * step of the input placed at row `lead` of a zero-padded buffer of `padded` rows."""

    in_size: int
    out_size: int
    first: torch.Tensor  # [out] int64: first tap of each output
    weights: torch.Tensor  # [out, ksize] float64
    blocks: torch.Tensor  # [G, GROUP, width] float64: the weights placed in their block's window
    abs_blocks: torch.Tensor
    step: int
    lead: int
    width: int
    padded: int

    @property
    def ksize(self) -> int:
        return self.weights.shape[1]

    @property
    def margin(self) -> float:
        """c with |ours - Pillow| <= c * sum|w a| before rounding to float32: gamma_ksize for each of the two sums,
        doubled for the rounding of the bound itself."""
        n = self.ksize
        return 4.0 * n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF)


@functools.lru_cache(maxsize=16)
def banded_pass(in_size: int, out_size: int) -> BandedPass:
    """The banded form of Pillow's pass from `in_size` to `out_size` (cached: the same sizes recur every batch)."""
    first, weights = pillow_coefficients(in_size, out_size)
    ksize = weights.shape[1]
    groups = -(-out_size // GROUP)
    block_first = first[::GROUP]
    block_end = np.array([(first[g * GROUP:(g + 1) * GROUP] + ksize).max() for g in range(groups)])

    def layout(step: int) -> tuple[int, int]:  # (lead, width) when block g starts at g * step - lead
        starts = np.arange(groups) * step
        lead = int(max(0, (starts - block_first).max()))
        return lead, int((block_end - starts).max()) + lead

    ideal = GROUP * in_size / out_size
    step = min({max(0, math.floor(ideal)), math.ceil(ideal)}, key=lambda s: layout(s)[1])
    lead, width = layout(step)
    blocks = np.zeros((groups, GROUP, width))
    for o in range(out_size):
        g, i = divmod(o, GROUP)
        offset = int(first[o]) + lead - g * step
        blocks[g, i, offset:offset + ksize] = weights[o]
    padded = max(lead + in_size, (groups - 1) * step + width)
    return BandedPass(in_size, out_size, torch.from_numpy(first), torch.from_numpy(weights),
                      torch.from_numpy(blocks), torch.from_numpy(np.abs(blocks)), step, lead, width, padded)


def resample_rows(x: torch.Tensor, plan: BandedPass, nonnegative: bool = False) -> torch.Tensor:
    """float [in_size, N] -> float32 [out_size, N]: Pillow's float32 pass along dim 0 of every column, bit for bit.
    `nonnegative` says the input has no negative values (|a| = a)."""
    length, n = x.shape
    if length != plan.in_size:
        raise ValueError(f"expected {plan.in_size} rows, got {length}")
    padded = x.new_zeros((plan.padded, n), dtype=torch.float64)
    padded[plan.lead:plan.lead + length] = x
    groups = plan.blocks.shape[0]
    shape, strides = (groups, plan.width, n), (plan.step * n, n, 1)  # overlapping windows, no copy
    value = torch.bmm(plan.blocks.to(x.device), padded.as_strided(shape, strides))
    magnitude = padded if nonnegative else padded.abs()
    bound = torch.bmm(plan.abs_blocks.to(x.device), magnitude.as_strided(shape, strides))
    value = value.view(groups * GROUP, n)[:plan.out_size]
    bound = bound.view(groups * GROUP, n)[:plan.out_size].mul_(plan.margin)
    low = torch.empty((plan.out_size, n), dtype=torch.float32, device=x.device)
    high = torch.empty_like(low)
    torch.sub(value, bound, out=low)  # computed in float64, rounded once to float32
    torch.add(value, bound, out=high)
    undecided = (low != high).nonzero(as_tuple=True)
    if undecided[0].numel():
        low[undecided] = _pillow_order(padded, plan, *undecided)
    return low


def _pillow_order(x: torch.Tensor, plan: BandedPass, out: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
    """The listed outputs as Pillow computes them: from 0.0, add input * weight tap by tap, round to float32."""
    first, weights = plan.first.to(x.device)[out], plan.weights.to(x.device)[out]
    rows = (first[:, None] + torch.arange(plan.ksize, device=x.device)).clamp_(max=plan.in_size - 1) + plan.lead
    taps = x[rows, column[:, None]]
    total = torch.zeros(len(out), dtype=torch.float64, device=x.device)
    for k in range(plan.ksize):
        total = total + taps[:, k] * weights[:, k]
    return total.to(torch.float32)


def resize_planes(images: torch.Tensor, size: int, vertical_first: bool = False) -> torch.Tensor:
    """uint8 [B, C, H, W] -> float32 [B, C, size, size]: each channel as Pillow's float bicubic resize computes it
    (`Image.fromarray(plane.astype(float32)).resize((size, size), BICUBIC)`), without clipping. Pillow's pass
    order depends on its version and the sizes (Pillow 13 resamples first along the height when that shrinks more
    than twice as much as the width); `vertical_first` says which order to reproduce."""
    b, c, h, w = images.shape
    x = images  # each pass runs along dim 0 of a [length, columns] view; dims are moved between passes
    dims = "bchw"
    for axis in "hw" if vertical_first else "wh":
        in_size = x.shape[dims.index(axis)]
        if in_size == size:
            continue
        order = [dims.index(axis)] + [i for i in range(4) if dims[i] != axis]
        x = x.permute(order)
        dims = "".join(dims[i] for i in order)
        rest = x.shape[1:]
        out = resample_rows(x.reshape(in_size, -1), banded_pass(in_size, size), nonnegative=x.dtype == torch.uint8)
        x = out.view(size, *rest)
    return x.permute([dims.index(d) for d in "bchw"]).to(torch.float32).contiguous()


@functools.lru_cache(maxsize=64)
def pillow_pass_order(height: int, width: int, size: int) -> bool:
    """Whether the installed Pillow resizes a `height` x `width` float image to `size` x `size` height first. Read
    from Pillow itself on one random plane (the two orders differ in about half of the pixels); an error if neither
    order reproduces it."""
    plane = np.random.default_rng(height * 100003 + width).integers(0, 256, (height, width), dtype=np.uint8)
    theirs = np.asarray(Image.fromarray(plane.astype(np.float32)).resize((size, size), resample=Image.BICUBIC))
    for vertical_first in (False, True):
        ours = resize_planes(torch.from_numpy(plane)[None, None], size, vertical_first)[0, 0].numpy()
        if np.array_equal(ours.view(np.uint32), theirs.view(np.uint32)):
            return vertical_first
    raise RuntimeError(f"the installed Pillow ({Image.__version__}) resizes {height}x{width} to {size}x{size} in a "
                       "way this module does not reproduce; use the Pillow resizer (resize='pillow') instead")


def resize_exact(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [B, C, H, W] -> float32 [B, C, size, size], on the images' device: the installed Pillow's float
    bicubic resize of each channel, bit for bit (unclipped)."""
    return resize_planes(images, size, pillow_pass_order(images.shape[-2], images.shape[-1], size))
