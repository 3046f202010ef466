"""Sharded, resumable generation: the prompt list is cut into fixed chunks; each chunk's metric states and
per-sample rows are saved atomically to `work_dir/chunk-NNNNNN.pt`. Ranks take chunks round-robin and a re-run skips
finished chunks. Each rank then merges its own chunks, in order, into its metrics; the metrics' torchmetrics states
do the cross-process reduction when they are computed (`metrics/states.py`), so ranks need no shared filesystem.
A resumed run gives exactly the result of an uninterrupted one; another world size changes only the order of the
float64 moment sums (per-sample scores are identical; FID agrees to rounding, which the matrix square root lifts
to a few 1e-9 relative when the covariance is rank-deficient; the sharded-run test allows 1e-7)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ddmd_bench.utils.checkpoint import atomic_save, load_state

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """Chunk boundaries over n prompts and this process's share of them."""

    n: int
    chunk: int
    rank: int = 0
    world: int = 1

    @property
    def chunks(self) -> list[tuple[int, int]]:
        """[start, stop) of every chunk."""
        return [(a, min(a + self.chunk, self.n)) for a in range(0, self.n, self.chunk)]

    def mine(self) -> list[int]:
        """Indices of the chunks this rank generates."""
        return [i for i in range(len(self.chunks)) if i % self.world == self.rank]


def run_key(protocol_fingerprint: str, generator_description: dict[str, Any], chunk: int) -> str:
    """Identity of a run's shards: a chunk saved under another key is never reused."""
    blob = json.dumps([protocol_fingerprint, generator_description, chunk], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def chunk_path(work_dir: Path, index: int) -> Path:
    """File of chunk `index`."""
    return work_dir / f"chunk-{index:06d}.pt"


def _load_valid(path: Path, key: str) -> dict[str, Any] | None:
    try:
        state = load_state(path)
    except RuntimeError:
        log.warning("unreadable chunk %s will be regenerated", path)
        return None
    return state if state is not None and state.get("key") == key else None


def generate_chunks(generator, prompts: tuple[str, ...], seeds: list[int], metrics: dict[str, Any],
                    plan: ShardPlan, work_dir: Path, key: str, progress: bool,
                    image_dir: Path | None = None) -> None:
    """Generate and score every chunk of this rank that is not finished yet."""
    work_dir.mkdir(parents=True, exist_ok=True)
    todo = [i for i in plan.mine() if _load_valid(chunk_path(work_dir, i), key) is None]
    total = sum(plan.chunks[i][1] - plan.chunks[i][0] for i in todo)
    bar = tqdm(total=total, desc=generator.name, unit="img", disable=not progress, leave=False, smoothing=0.1)
    for i in todo:
        a, b = plan.chunks[i]
        t0 = time.perf_counter()
        images = generator.generate(list(prompts[a:b]), seeds[a:b])
        seconds = time.perf_counter() - t0
        for metric in metrics.values():
            metric.reset()
            metric.update(images, list(prompts[a:b]))
        if image_dir is not None:
            save_pngs(images, image_dir, a)
        atomic_save({"key": key, "range": [a, b], "generation_s": seconds,
                     "states": {name: m.state() for name, m in metrics.items()}}, chunk_path(work_dir, i))
        bar.update(b - a)
    bar.close()


def merge_chunks(metrics: dict[str, Any], plan: ShardPlan, work_dir: Path, key: str) -> float:
    """Reset the metrics and merge this rank's chunks in order (every chunk when alone); returns their summed
    generation time."""
    missing = [i for i in plan.mine() if not chunk_path(work_dir, i).exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} chunk(s) missing in {work_dir} (first: {missing[0]}); re-run to finish")
    for metric in metrics.values():
        metric.reset()
    seconds = 0.0
    for i in plan.mine():
        state = _load_valid(chunk_path(work_dir, i), key)
        if state is None:
            raise RuntimeError(f"chunk {chunk_path(work_dir, i)} belongs to another run; delete {work_dir}")
        seconds += state["generation_s"]
        for name, metric in metrics.items():
            metric.merge_state(state["states"][name], plan.chunks[i][0])
    return seconds


def save_pngs(images: torch.Tensor, folder: Path, start: int) -> None:
    """Write uint8 images as PNG files named by prompt index."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for j, im in enumerate(images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).save(folder / f"{start + j:06d}.png")


def save_grid(image_dir: Path, out: Path, n: int = 64) -> Path:
    """A grid of the first `n` saved images (nearest-neighbour upscaled when they are small)."""
    import numpy as np
    import torchvision
    from PIL import Image

    files = sorted(image_dir.glob("*.png"))[:n]
    if not files:
        raise FileNotFoundError(f"no images in {image_dir}")
    images = torch.stack([torch.from_numpy(np.array(Image.open(f))).permute(2, 0, 1) for f in files])
    scale = max(1, 64 // images.shape[-1])
    images = images.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    grid = torchvision.utils.make_grid(images, nrow=8, padding=2)
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(out)
    return out
