"""`ddmd_bench.evaluate` inside the user's own two-process job (gloo): the group the user set up is used and left
alone, the ranks share the prompts, rank 0 alone gets the results and writes one record and one leaderboard entry;
the group needs no torchrun environment (WORLD_SIZE, RANK unset, as under mp.spawn)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch.multiprocessing as mp

from tests.gloo import free_port


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import diffusers
    import torch
    import torch.distributed as dist

    import ddmd_bench
    from ddmd_bench.protocols import PROTOCOLS
    from ddmd_bench.tracks.toy import track
    from tests.factories import RECIPE_CHECK_PROTOCOL, recipe_check_protocol

    torch.set_num_threads(1)
    track.FID_BOOTSTRAP = 10  # numbers are not compared here
    if RECIPE_CHECK_PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(RECIPE_CHECK_PROTOCOL, recipe_check_protocol)
    report: dict = {}
    # the user's job: a group set up by hand (mp.spawn), without torchrun's environment
    os.environ.pop("WORLD_SIZE", None)
    os.environ.pop("RANK", None)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    pipe = diffusers.DiffusionPipeline.from_pretrained(Path(out) / "pipeline")
    kwargs = {"steps": 2, "name": "my-student", "batch_size": 2, "results_dir": Path(out) / "results",
              "leaderboard_dir": Path(out) / "lb", "progress": False}
    evaluation = ddmd_bench.evaluate(pipe, RECIPE_CHECK_PROTOCOL, **kwargs)
    report.update(results=len(evaluation.results), group_kept=dist.is_initialized(),
                  world_size=evaluation.results[0].timings["world_size"] if evaluation.results else None)
    dist.destroy_process_group()
    Path(out, f"rank-{rank}.json").write_text(json.dumps(report))


def test_evaluate_in_the_users_two_process_job(tmp_path):
    import diffusers

    from tests import factories as T

    T.sd15(tmp_path / "pipeline", diffusers.DDIMScheduler())
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    reports = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    for report in reports:
        assert report["group_kept"]
    assert [(r["results"], r["world_size"]) for r in reports] == [(1, 2), (0, None)]
    records = list((tmp_path / "results").rglob("*.json"))
    assert [p.name for p in records] == ["my-student.json"]
    [board] = (tmp_path / "lb").glob("*.jsonl")
    assert len(board.read_text().splitlines()) == 2  # header + one entry
    assert not any((tmp_path / "results" / "in-memory").rglob("*.safetensors"))
