"""Chunked, resumable generation (`evaluation/shards.py`) in one process, with a counting generator and a metric
that records what it is given: which chunks run, what they save, how a re-run reuses them, how merging orders them,
and how degenerate outputs and leftovers are found."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.evaluation import shards
from ddmd_bench.evaluation.shards import OutputCheck, ShardPlan


class CountingGenerator:
    """Image i is filled with the value of its seed (mod 256) plus a gradient, so every image differs."""

    name = "counting-gen"

    def __init__(self, flat: bool = False) -> None:
        self.calls: list[tuple[list[str], list[int]]] = []
        self.flat = flat

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        self.calls.append((list(prompts), list(seeds)))
        out = torch.zeros(len(seeds), 3, 4, 4, dtype=torch.uint8)
        for j, s in enumerate(seeds):
            out[j] = s % 256
            if not self.flat:
                out[j, :, 0, :] = (s * 7 + 100) % 256
        return out


class RecordingMetric:
    """A metric whose state is the prompts it saw since reset; merge records (prompts, start)."""

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.seen: list[str] = []
        self.merged: list[tuple[list[str], int]] = []

    def reset(self) -> None:
        self.log.append(("reset",))
        self.seen = []
        self.merged = []

    def update(self, images: torch.Tensor, prompts: list[str]) -> None:
        self.log.append(("update", len(images), list(prompts)))
        self.seen += prompts

    def state(self) -> dict:
        return {"count": torch.tensor(len(self.seen)), "prompts": list(self.seen)}

    def merge_state(self, state: dict, start: int) -> None:
        self.merged.append((state["prompts"], start))


PROMPTS = tuple(f"p{i}" for i in range(10))
SEEDS = list(range(100, 110))


def _run(tmp_path: Path, plan: ShardPlan, gen=None, key: str = "k", image_dir: Path | None = None,
         progress: bool = False):
    gen = gen or CountingGenerator()
    metrics = {"a": RecordingMetric(), "b": RecordingMetric()}
    shards.generate_chunks(gen, PROMPTS, SEEDS, metrics, plan, tmp_path / "work", key, progress, image_dir)
    return gen, metrics


def test_plan_cuts_fixed_chunks_and_deals_them_round_robin():
    plan = ShardPlan(n=10, chunk=4)
    assert plan.chunks == [(0, 4), (4, 8), (8, 10)]
    assert plan.mine() == [0, 1, 2]
    assert ShardPlan(10, 4, rank=0, world=2).mine() == [0, 2]
    assert ShardPlan(10, 4, rank=1, world=2).mine() == [1]
    assert ShardPlan(12, 4, rank=2, world=3).mine() == [2]
    assert ShardPlan(8, 4).chunks == [(0, 4), (4, 8)]


def test_run_key_is_a_stable_digest_of_its_inputs():
    key = shards.run_key("fp", {"name": "g", "steps": 4}, 8)
    assert key == hashlib.sha256(b'["fp", {"name": "g", "steps": 4}, 8]').hexdigest()
    assert shards.run_key("fp", {"steps": 4, "name": "g"}, 8) == key  # key order does not matter
    assert shards.run_key("fp", {"name": "g", "steps": 4}, 16) != key
    assert shards.run_key("fp2", {"name": "g", "steps": 4}, 8) != key
    # values JSON cannot hold are written with str()
    assert shards.run_key("fp", {"path": Path("/x")}, 1) == shards.run_key("fp", {"path": "/x"}, 1)


def test_chunk_path_names_the_chunk_with_six_digits(tmp_path):
    assert shards.chunk_path(tmp_path, 7) == tmp_path / "chunk-000007.pt"
    assert shards.chunk_path(tmp_path, 1234567).name == "chunk-1234567.pt"


def test_generate_chunks_generates_scores_and_saves_each_chunk(tmp_path):
    gen, metrics = _run(tmp_path, ShardPlan(10, 4))
    assert gen.calls == [(["p0", "p1", "p2", "p3"], [100, 101, 102, 103]),
                         (["p4", "p5", "p6", "p7"], [104, 105, 106, 107]),
                         (["p8", "p9"], [108, 109])]
    assert metrics["a"].log[:2] == [("reset",), ("update", 4, ["p0", "p1", "p2", "p3"])]
    assert metrics["b"].log[-2:] == [("reset",), ("update", 2, ["p8", "p9"])]
    for i, (a, b) in enumerate([(0, 4), (4, 8), (8, 10)]):
        state = torch.load(shards.chunk_path(tmp_path / "work", i), weights_only=True)
        assert state["key"] == "k" and state["range"] == [a, b]
        assert state["states"]["a"]["prompts"] == list(PROMPTS[a:b])
        assert state["states"]["b"]["count"] == b - a
        assert 0.0 <= state["generation_s"] < 60.0  # seconds this chunk took: tiny images, well under a minute
        assert len(state["images"]["digest"]) == b - a


def test_rerun_skips_finished_chunks_and_regenerates_foreign_or_missing_ones(tmp_path):
    _run(tmp_path, ShardPlan(10, 4))
    work = tmp_path / "work"
    gen, _ = _run(tmp_path, ShardPlan(10, 4))
    assert gen.calls == []
    shards.chunk_path(work, 1).unlink()
    gen, _ = _run(tmp_path, ShardPlan(10, 4))
    assert gen.calls == [(["p4", "p5", "p6", "p7"], [104, 105, 106, 107])]
    gen, _ = _run(tmp_path, ShardPlan(10, 4), key="other")
    assert len(gen.calls) == 3


def test_generate_chunks_takes_only_this_ranks_chunks(tmp_path):
    gen, _ = _run(tmp_path, ShardPlan(10, 4, rank=1, world=2))
    assert gen.calls == [(["p4", "p5", "p6", "p7"], [104, 105, 106, 107])]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["chunk-000001.pt"]


def test_an_unreadable_chunk_is_regenerated_with_a_warning(tmp_path, caplog):
    _run(tmp_path, ShardPlan(10, 4))
    path = shards.chunk_path(tmp_path / "work", 2)
    path.write_bytes(b"not a torch file")
    with caplog.at_level(logging.WARNING, logger="ddmd_bench.evaluation.shards"):
        gen, _ = _run(tmp_path, ShardPlan(10, 4))
    assert gen.calls == [(["p8", "p9"], [108, 109])]
    assert caplog.messages == [f"unreadable chunk {path} will be regenerated"]


def test_progress_bar_shows_only_when_asked(tmp_path, capsys):
    _run(tmp_path / "quiet", ShardPlan(10, 4))
    assert capsys.readouterr().err == ""
    _run(tmp_path / "loud", ShardPlan(10, 4), progress=True)
    lines = capsys.readouterr().err.splitlines()
    # off a terminal: a line at the first chunk (images against the rank's total, with an ETA), one at the end
    assert lines[0].startswith("counting-gen: generate + score: 4/10 img (40%) generate_s ") and "ETA" in lines[0]
    assert lines[-1].startswith("counting-gen: generate + score: 10/10 img done in ")


def test_progress_of_a_resumed_run_starts_at_its_finished_chunks(tmp_path, capsys):
    _run(tmp_path, ShardPlan(10, 4))
    shards.chunk_path(tmp_path / "work", 2).unlink()
    _run(tmp_path, ShardPlan(10, 4), progress=True)
    assert capsys.readouterr().err.splitlines()[0].startswith("counting-gen: generate + score: 10/10 img (100%)")


def test_images_are_saved_by_prompt_index(tmp_path):
    gen, _ = _run(tmp_path, ShardPlan(10, 4), image_dir=tmp_path / "img")
    files = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert files == [f"{i:06d}.png" for i in range(10)]
    pixels = np.array(Image.open(tmp_path / "img" / "000005.png"))
    assert pixels.shape == (4, 4, 3) and pixels[1, 1, 0] == 105 and pixels[0, 0, 2] == (105 * 7 + 100) % 256


def test_merge_chunks_resets_then_merges_in_order_and_sums_generation_time(tmp_path):
    _run(tmp_path, ShardPlan(10, 4))
    work = tmp_path / "work"
    for i, seconds in enumerate([1.5, 2.0, 0.25]):
        state = torch.load(shards.chunk_path(work, i), weights_only=True)
        state["generation_s"] = seconds
        torch.save(state, shards.chunk_path(work, i))
    metrics = {"a": RecordingMetric(), "b": RecordingMetric()}
    metrics["a"].merged = [("stale", 0)]
    assert shards.merge_chunks(metrics, ShardPlan(10, 4), work, "k") == 3.75
    assert metrics["a"].merged == [(["p0", "p1", "p2", "p3"], 0), (["p4", "p5", "p6", "p7"], 4), (["p8", "p9"], 8)]
    assert metrics["b"].merged == metrics["a"].merged
    assert metrics["a"].log == [("reset",)]
    rank1 = {"a": RecordingMetric()}
    assert shards.merge_chunks(rank1, ShardPlan(10, 4, rank=1, world=2), work, "k") == 2.0
    assert rank1["a"].merged == [(["p4", "p5", "p6", "p7"], 4)]


def test_merge_chunks_names_missing_and_foreign_chunks(tmp_path):
    _run(tmp_path, ShardPlan(10, 4))
    work = tmp_path / "work"
    shards.chunk_path(work, 1).unlink()
    shards.chunk_path(work, 2).unlink()
    with pytest.raises(RuntimeError, match=rf"^2 chunk\(s\) missing in {work} \(first: 1\); re-run to finish$"):
        shards.merge_chunks({"a": RecordingMetric()}, ShardPlan(10, 4), work, "k")
    # rank 0 of 2 owns chunks 0 and 2: only 2 is missing
    with pytest.raises(RuntimeError, match=r"^1 chunk\(s\) missing in .* \(first: 2\)"):
        shards.merge_chunks({"a": RecordingMetric()}, ShardPlan(10, 4, rank=0, world=2), work, "k")
    assert shards.merge_chunks({"a": RecordingMetric()}, ShardPlan(4, 4), work, "k") >= 0.0
    with pytest.raises(RuntimeError, match=rf"^chunk {shards.chunk_path(work, 0)} belongs to another run; "
                                           rf"delete {work}$"):
        shards.merge_chunks({"a": RecordingMetric()}, ShardPlan(4, 4), work, "other")


def test_image_summary_golden():
    images = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    images[0, :, 0, :] = 10  # half the pixels 10, half 0: population std 5
    images[1] = 7
    summary = shards.image_summary(images)
    assert summary["pixel_std"] == [5.0, 0.0]
    assert summary["digest"] == [hashlib.sha256(images[i].numpy().tobytes()).hexdigest()[:16] for i in range(2)]
    assert len(summary["digest"][0]) == 16 and summary["digest"][0] != summary["digest"][1]


def test_output_check_degenerate_rule_at_its_boundaries():
    assert not OutputCheck(0, 0, 0).degenerate
    assert not OutputCheck(4, 2, 4).degenerate  # exactly half flat: not more than half
    assert OutputCheck(4, 3, 4).degenerate
    assert not OutputCheck(1, 0, 1).degenerate  # one image is trivially "all identical"
    assert OutputCheck(2, 0, 1).degenerate
    assert not OutputCheck(3, 1, 2).degenerate
    assert OutputCheck(3, 2, 3).degenerate


def test_output_check_record():
    assert OutputCheck(4, 3, 2).record() == {
        "checked": 4, "flat": 3, "distinct": 2, "flat_std_below": 2.0, "degenerate": True,
        "rule": "degenerate when more than 50% of the images have a pixel standard deviation below 2 grey levels, "
                "or every image is identical"}
    assert OutputCheck(4, 0, 4).record()["degenerate"] is False


def test_check_outputs_counts_flat_and_distinct_images(tmp_path):
    _run(tmp_path, ShardPlan(10, 4))
    work = tmp_path / "work"
    assert shards.check_outputs(ShardPlan(10, 4), work, "k") == OutputCheck(10, 0, 10)
    assert shards.check_outputs(ShardPlan(10, 4, rank=1, world=2), work, "k") == OutputCheck(4, 0, 4)
    assert shards.check_outputs(ShardPlan(10, 4), work, "other") == OutputCheck(0, 0, 0)
    # a chunk without image summaries (older format) is skipped
    state = torch.load(shards.chunk_path(work, 0), weights_only=True)
    del state["images"]
    torch.save(state, shards.chunk_path(work, 0))
    assert shards.check_outputs(ShardPlan(10, 4), work, "k") == OutputCheck(6, 0, 6)


def test_check_outputs_flat_threshold_is_strict(tmp_path):
    work = tmp_path / "work"
    # standard deviations 1.99 (flat), 2.0 (not flat: the rule is "below 2"), 3.0; two equal digests
    work.mkdir()
    torch.save({"key": "k", "images": {"pixel_std": [1.99, 2.0, 3.0], "digest": ["x", "y", "x"]}},
               shards.chunk_path(work, 0))
    assert shards.check_outputs(ShardPlan(3, 3), work, "k") == OutputCheck(3, 1, 2)


def test_flat_generator_is_flagged(tmp_path):
    _run(tmp_path, ShardPlan(10, 4), gen=CountingGenerator(flat=True))
    check = shards.check_outputs(ShardPlan(10, 4), tmp_path / "work", "k")
    assert check == OutputCheck(10, 10, 10) and check.degenerate


def test_leftovers_and_reclaim(tmp_path, caplog):
    record = tmp_path / "gen.json"
    record.write_text("{}")
    assert shards.leftovers(record) == [] and shards.reclaim(record) == []
    work = tmp_path / "gen.work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "chunk.pt").write_bytes(b"x")
    (tmp_path / "gen.json.tmp").write_text("partial")
    (tmp_path / "gen.samples.tmp").write_text("partial")
    (tmp_path / "other.json.tmp").write_text("not ours")
    expected = [work, tmp_path / "gen.json.tmp", tmp_path / "gen.samples.tmp"]
    assert shards.leftovers(record) == expected
    with caplog.at_level(logging.INFO, logger="ddmd_bench.evaluation.shards"):
        assert shards.reclaim(record) == expected
    assert not any(p.exists() for p in expected)
    assert record.exists() and (tmp_path / "other.json.tmp").exists()
    assert caplog.messages == [f"removed {p}, left by an interrupted run of a finished record" for p in expected]


def test_save_grid_tiles_the_first_images_upscaled(tmp_path):
    folder = tmp_path / "img"
    shards.save_pngs(torch.full((3, 3, 8, 8), 200, dtype=torch.uint8), folder, 0)
    out = shards.save_grid(folder, tmp_path / "grid.png")
    grid = np.array(Image.open(out))
    # 8x8 images are upscaled 8x to 64; three in a row with 2-pixel padding
    assert grid.shape == (64 + 4, 3 * 66 + 2, 3)
    assert grid[2 + 10, 2 + 10, 0] == 200 and grid[0, 0, 0] == 0
    big = tmp_path / "big"
    shards.save_pngs(torch.full((2, 3, 64, 64), 9, dtype=torch.uint8), big, 5)
    assert sorted(p.name for p in big.iterdir()) == ["000005.png", "000006.png"]
    assert np.array(Image.open(shards.save_grid(big, tmp_path / "g2.png"))).shape == (68, 2 * 66 + 2, 3)


def test_save_grid_takes_at_most_n_images(tmp_path):
    folder = tmp_path / "img"
    shards.save_pngs(torch.full((66, 3, 64, 64), 50, dtype=torch.uint8), folder, 0)
    assert np.array(Image.open(shards.save_grid(folder, tmp_path / "g.png"))).shape == (8 * 66 + 2, 8 * 66 + 2, 3)
    assert np.array(Image.open(shards.save_grid(folder, tmp_path / "h.png", n=9))).shape == (2 * 66 + 2, 8 * 66 + 2,
                                                                                             3)


def test_save_grid_of_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^no images in {re.escape(str(tmp_path))}$"):
        shards.save_grid(tmp_path, tmp_path / "g.png")


def test_reclaim_never_fails_on_a_leftover_it_cannot_remove(tmp_path, monkeypatch):
    # another rank may reclaim the same record at once: a file that is gone by the time it is removed, or a chunk
    # that cannot be deleted, must not stop this run
    record = tmp_path / "gen.json"
    gone = tmp_path / "gen.json.tmp"
    monkeypatch.setattr(shards, "leftovers", lambda path: [gone])
    assert shards.reclaim(record) == [gone]
    monkeypatch.undo()
    work = tmp_path / "gen.work"
    work.mkdir()
    (work / "chunk-000000.pt").write_bytes(b"x")
    real_unlink = shards.shutil.os.unlink

    def refuse(path, *args, **kwargs):
        if str(path).endswith(".pt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(shards.shutil.os, "unlink", refuse)
    assert shards.reclaim(record) == [work]
