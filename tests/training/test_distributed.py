"""Two-process gloo DDP follows the single-process loss trajectory (same global batch, same draws)."""

from __future__ import annotations

import os
import time

import pytest
import torch
import torch.multiprocessing as mp

from ddmd_bench.training import runlog
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.losses import DMDLossConfig
from tests.gloo import free_port

CFG = DistillConfig(loss=DMDLossConfig(guidance=2.5), steps=4, batch_size=8, lora_rank=4, lr=1e-3, lr_fake=1e-3,
                    warmup_steps=1, save_every=2)
PROMPTS = ["a red circle", "a blue square", "a green triangle", "a big object", "", "a cat", "a dog", "a tree"]


def _prompts(step: int, n: int) -> list[str]:
    return [PROMPTS[(step + i) % len(PROMPTS)] for i in range(n)]


def _train(out: str, parallel: str = "ddp", cfg: DistillConfig = CFG) -> None:
    from ddmd_bench.training.trainer import Trainer
    from tests.factories import tiny_flow_bundle

    torch.set_num_threads(1)
    Trainer(cfg, out, teacher=tiny_flow_bundle(), prompts=_prompts, parallel=parallel).run()


def _worker(rank: int, world: int, port: int, out: str, parallel: str = "ddp", steps: int | None = None) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    try:
        _train(out, parallel, CFG if steps is None else CFG.with_overrides(steps=steps))
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def test_two_process_gloo_matches_one_process(tmp_path):
    _train(str(tmp_path / "single"))
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
    single, ddp = runlog.read(tmp_path / "single"), runlog.read(tmp_path / "ddp")
    assert [r["step"] for r in ddp] == [1, 2, 3, 4]
    for a, b in zip(single, ddp):
        for key in ("loss", "fake_loss", "ca_mag", "dm_mag", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-7), (key, a["step"])
    assert single[-1]["dm_mag"] > 0  # the fake model moved away from the teacher, so DM was exercised
    from safetensors.torch import load_file

    s1, s2 = load_file(str(tmp_path / "single" / "student.safetensors")), load_file(
        str(tmp_path / "ddp" / "student.safetensors"))
    for key in s1:
        torch.testing.assert_close(s1[key], s2[key], rtol=1e-4, atol=1e-6)



def _assert_same_run(tmp_path, a: str, b: str) -> None:
    from safetensors.torch import load_file

    ra, rb = runlog.read(tmp_path / a), runlog.read(tmp_path / b)
    assert [r["step"] for r in rb] == [r["step"] for r in ra]
    for x, y in zip(ra, rb):
        for key in ("loss", "fake_loss", "ca_mag", "dm_mag", "grad_norm"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-7), (key, x["step"])
    s1, s2 = load_file(str(tmp_path / a / "student.safetensors")), load_file(str(tmp_path / b / "student.safetensors"))
    assert s1.keys() == s2.keys()
    for key in s1:
        torch.testing.assert_close(s1[key], s2[key], rtol=1e-4, atol=1e-6)


def test_two_process_fsdp_matches_one_process_and_resumes(tmp_path):
    _train(str(tmp_path / "single"))
    # FSDP: sharded student and fake model, optimizers over the shards, whole tensors gathered for EMA and state
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path / "fsdp"), "fsdp"), nprocs=2, join=True)
    _assert_same_run(tmp_path, "single", "fsdp")
    # Stop after step 2 (its state is saved), then re-run to the end: the same run as uninterrupted.
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path / "fsdp-resumed"), "fsdp", 2), nprocs=2, join=True)
    assert [r["step"] for r in runlog.read(tmp_path / "fsdp-resumed")] == [1, 2]
    import json

    state = torch.load(tmp_path / "fsdp-resumed" / "state.pt", weights_only=True)
    assert state["optimizer_format"] == "full" and state["step"] == 2
    state["config"] = json.dumps(CFG.to_dict())  # continue the same run to 4 steps
    torch.save(state, tmp_path / "fsdp-resumed" / "state.pt")
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path / "fsdp-resumed"), "fsdp"), nprocs=2, join=True)
    _assert_same_run(tmp_path, "single", "fsdp-resumed")


def test_fsdp_state_is_not_resumed_without_fsdp(tmp_path):
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path / "run"), "fsdp", 2), nprocs=2, join=True)
    import json

    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    state["config"] = json.dumps(CFG.to_dict())
    torch.save(state, tmp_path / "run" / "state.pt")
    with pytest.raises(ValueError, match="saved by a FSDP run"):
        _train(str(tmp_path / "run"))


def _diverging_worker(rank: int, world: int, port: int, out: str) -> None:
    """Rank 1's teacher predicts NaN from the first step; rank 0's is fine. Each rank writes how it stopped."""
    import datetime
    from dataclasses import replace

    import torch.distributed as dist

    from ddmd_bench.training.trainer import Trainer, TrainingDiverged
    from tests.factories import tiny_flow_bundle

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    # A short collective timeout: a rank left waiting in an all-reduce fails in seconds instead of half an hour.
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    teacher = tiny_flow_bundle()
    call = teacher.call

    def poisoned(net, x, sigma, cond):
        y = call(net, x, sigma, cond)
        return y * float("nan") if rank == 1 and net is teacher.net else y

    try:
        Trainer(CFG, out, teacher=replace(teacher, call=poisoned), prompts=_prompts).run()
        outcome = "finished"
    except TrainingDiverged as exc:
        outcome = f"TrainingDiverged: {exc}"
    except Exception as exc:  # noqa: BLE001 - any other stop is the failure the test reports
        outcome = f"{type(exc).__name__}: {exc}"
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(outcome)
    # The stopped trainer's DDP wrappers hold the process group: free them and line the ranks up before tearing it
    # down, or gloo may abort the process while a reducer still refers to the destroyed group.
    import gc

    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


def test_divergence_on_one_rank_stops_every_rank_with_the_same_error(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    ctx = mp.spawn(_diverging_worker, args=(2, free_port(), str(out)), nprocs=2, join=False)
    deadline = time.monotonic() + 600
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("ranks did not stop within 600 s (one waiting on a collective the other left)")
    messages = [(out / f"rank{r}.txt").read_text() for r in (0, 1)]
    assert messages[0] == messages[1], messages
    assert messages[0].startswith("TrainingDiverged: a teacher/fake prediction became non-finite at step 1 on rank 1 "
                                  "of 2"), messages[0]
    assert not (out / "student.safetensors").exists()
