"""Sharded, resumable generation: the prompt list is cut into fixed chunks; each chunk's metric states and
per-sample rows are saved atomically to `work_dir/chunk-NNNNNN.pt`. Ranks take chunks round-robin and a re-run skips
finished chunks. Each rank then merges its own chunks, in order, into its metrics; the metrics' torchmetrics states
do the cross-process reduction when they are computed (`metrics/states.py`), so ranks need no shared filesystem.
A resumed run gives exactly the result of an uninterrupted one; another world size changes only the order of the
float64 moment sums (per-sample scores are identical; FID agrees to rounding, which the matrix square root lifts
to a few 1e-9 relative when the covariance is rank-deficient; the sharded-run test allows 1e-7).

Each chunk also keeps a cheap summary of its images (pixel standard deviation and a digest per image), so a run
whose outputs are degenerate (flat images, or one image repeated) is flagged in its record instead of ranked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from ddmd_bench.utils.checkpoint import atomic_save, load_state
from ddmd_bench.utils.progress import Progress

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
    """Generate and score every chunk of this rank that is not finished yet. The progress report counts this
    rank's images (finished chunks of an earlier run included) and shows the seconds spent generating and scoring."""
    work_dir.mkdir(parents=True, exist_ok=True)
    mine = plan.mine()
    todo = [i for i in mine if _load_valid(chunk_path(work_dir, i), key) is None]
    sizes = {i: plan.chunks[i][1] - plan.chunks[i][0] for i in mine}
    bar = Progress(sum(sizes.values()), f"{generator.name}: generate + score", "img",
                   initial=sum(sizes.values()) - sum(sizes[i] for i in todo), enabled=progress)
    gen_s = score_s = 0.0
    for i in todo:
        a, b = plan.chunks[i]
        t0 = time.perf_counter()
        images = generator.generate(list(prompts[a:b]), seeds[a:b])
        seconds = time.perf_counter() - t0
        for metric in metrics.values():
            metric.reset()
            metric.update(images, list(prompts[a:b]))
        gen_s, score_s = gen_s + seconds, score_s + time.perf_counter() - t0 - seconds
        if image_dir is not None:
            save_pngs(images, image_dir, a)
        atomic_save({"key": key, "range": [a, b], "generation_s": seconds, "images": image_summary(images),
                     "states": {name: m.state() for name, m in metrics.items()}}, chunk_path(work_dir, i))
        bar.update(b - a, generate_s=round(gen_s, 1), score_s=round(score_s, 1))
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


# An image whose pixels vary by less than this many grey levels (standard deviation over pixels and channels) is
# flat: one colour, as a black or NaN-clamped output. A run is degenerate when more than DEGENERATE_FRACTION of
# its images are flat, or when every image is the same; its numbers (FID of one point, a reward of one image) say
# nothing about the generator, so it is flagged and not published.
FLAT_STD = 2.0
DEGENERATE_FRACTION = 0.5


def image_summary(images: torch.Tensor) -> dict[str, list]:
    """Per image: pixel standard deviation (grey levels) and a short digest of its bytes."""
    flat = images.reshape(len(images), -1).contiguous()
    return {"pixel_std": flat.double().std(dim=1, unbiased=False).tolist(),
            "digest": [hashlib.sha256(row.numpy().tobytes()).hexdigest()[:16] for row in flat]}


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """What the finished chunks say about the images: how many are flat, how many distinct."""

    checked: int
    flat: int
    distinct: int

    @property
    def degenerate(self) -> bool:
        """Most images flat, or (with more than one image) every image identical."""
        return self.checked > 0 and (self.flat > DEGENERATE_FRACTION * self.checked
                                     or (self.checked > 1 and self.distinct == 1))

    def record(self) -> dict[str, Any]:
        """The record's `outputs` field."""
        return {"checked": self.checked, "flat": self.flat, "distinct": self.distinct, "flat_std_below": FLAT_STD,
                "degenerate": self.degenerate,
                "rule": f"degenerate when more than {DEGENERATE_FRACTION:.0%} of the images have a pixel standard "
                        f"deviation below {FLAT_STD:g} grey levels, or every image is identical"}


def check_outputs(plan: ShardPlan, work_dir: Path, key: str) -> OutputCheck:
    """Summarise the images of this rank's finished chunks (chunks written before summaries existed are skipped)."""
    stds: list[float] = []
    digests: set[str] = set()
    for i in plan.mine():
        state = _load_valid(chunk_path(work_dir, i), key)
        summary = (state or {}).get("images")
        if summary:
            stds += summary["pixel_std"]
            digests.update(summary["digest"])
    return OutputCheck(len(stds), sum(s < FLAT_STD for s in stds), len(digests))


def leftovers(record_path: Path) -> list[Path]:
    """What an interrupted write of this record can leave beside it: its chunk folder and temp files."""
    candidates = [record_path.with_suffix(".work"), record_path.with_suffix(".json.tmp"),
                  record_path.with_suffix(".samples.tmp")]
    return [p for p in candidates if p.exists()]


def reclaim(record_path: Path) -> list[Path]:
    """Remove what an interrupted run left beside a finished record (the record itself stays); returns what went."""
    gone = leftovers(record_path)
    for p in gone:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted run of a finished record", p)
    return gone


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
