"""Metric state on torchmetrics: registered states, reset, and cross-process reduction come from
`torchmetrics.Metric`; this module only says what the states are.

Two kinds cover every metric here:

- `FeatureMoments`: n, sum and sum of outer products of feature vectors in float64, summed over processes. FID's
  statistics stream into it, so memory is O(d^2) whatever the number of images.
- `IndexedRows`: one row of floats per sample, tagged with the sample's index in the protocol's prompt list and
  concatenated over processes. `compute()` sorts by index, so per-sample scores line up with the prompts however
  the samples were shared out between ranks, and a duplicated index (a sample counted twice) is an error.

Both run `compute()` as a collective under `torch.distributed` (torchmetrics gathers and reduces, then restores the
local state), so every rank must call it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torchmetrics import Metric

from ddmd_bench.metrics import functional as metric_fn


class FeatureMoments(Metric):
    """Streaming first and second moments of [B, d] features in float64."""

    full_state_update = False

    def __init__(self, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.add_state("n", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(dim, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("outer", torch.zeros(dim, dim, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, features: torch.Tensor) -> None:
        """Add a batch of features [B, d]."""
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"expected features of shape [B, {self.dim}], got {list(features.shape)}")
        f = features.detach().to(self.total.device, torch.float64)
        self.n += f.shape[0]
        self.total += f.sum(0)
        self.outer += f.T @ f

    def compute(self) -> tuple:
        """(n, mu, sigma): the sample count and float64 numpy mean and unbiased covariance."""
        n = int(self.n.item())
        return (n, *metric_fn.mean_cov(n, self.total.cpu().numpy(), self.outer.cpu().numpy()))


class IndexedRows(Metric):
    """Per-sample rows of `width` float64 values, each with its prompt index; gathered by concatenation.

    States are flat 1-D tensors (index and row values interleaved) so that a rank that saw no samples contributes
    an empty tensor of the same rank and dtype, which torchmetrics' uneven all-gather accepts.
    """

    full_state_update = False

    def __init__(self, width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width = width
        self.add_state("flat", [], dist_reduce_fx="cat")
        self.set_dtype(torch.float64)  # the empty placeholder torchmetrics makes for an idle rank takes this dtype
        self.next_index = 0  # where `extend` without a start continues

    def reset(self) -> None:
        """Forget all rows."""
        super().reset()
        self.next_index = 0

    def update(self, index: torch.Tensor, rows: torch.Tensor) -> None:
        """Add rows [B, width] for samples `index` [B] (global positions in the prompt list)."""
        rows = rows.detach().to(torch.float64).reshape(len(index), self.width)
        idx = torch.as_tensor(index, dtype=torch.float64).reshape(-1, 1)  # exact below 2**53
        self.flat.append(torch.cat([idx, rows], 1).reshape(-1))
        if len(index):
            self.next_index = max(self.next_index, int(idx.max()) + 1)

    def extend(self, rows: torch.Tensor, start: int | None = None) -> None:
        """Add consecutive rows whose first sample is `start` (default: right after the highest index so far)."""
        rows = torch.as_tensor(rows, dtype=torch.float64).reshape(-1, self.width)
        start = self.next_index if start is None else start
        self.update(torch.arange(start, start + len(rows)), rows)

    def local(self) -> torch.Tensor:
        """This process's rows [N, width] in the order they were added (no gathering, no sorting)."""
        if not self.flat:
            return torch.zeros(0, self.width, dtype=torch.float64)
        return torch.cat(self.flat).reshape(-1, self.width + 1)[:, 1:]

    def _wrap_compute(self, compute: Callable) -> Callable:
        """torchmetrics squeezes one-element results to scalars; a table of one sample keeps its [1] / [1, width]
        shapes so callers index it like any other."""
        wrapped = super()._wrap_compute(compute)

        @functools.wraps(compute)
        def keep_shapes(*args, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
            index, rows = wrapped(*args, **kwargs)
            return index.reshape(-1), rows.reshape(-1, self.width)

        return keep_shapes

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(index [N] int64, rows [N, width]) sorted by index."""
        flat = torch.cat(self.flat) if isinstance(self.flat, list) and self.flat else self.flat
        if isinstance(flat, list) or flat.numel() == 0:
            return torch.zeros(0, dtype=torch.int64), torch.zeros(0, self.width, dtype=torch.float64)
        table = flat.reshape(-1, self.width + 1)
        order = torch.argsort(table[:, 0], stable=True)
        index = table[order, 0].to(torch.int64)
        if len(index) > 1 and bool((index[1:] == index[:-1]).any()):
            dup = int(index[1:][index[1:] == index[:-1]][0])
            raise ValueError(f"sample {dup} was scored more than once (overlapping shards)")
        return index, table[order, 1:]
