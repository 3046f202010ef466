"""Two-process gloo DDP follows the single-process loss trajectory (same global batch, same draws)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from ddmd_bench.training import runlog
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.losses import DMDLossConfig

CFG = DistillConfig(loss=DMDLossConfig(guidance=2.5), steps=4, batch_size=8, lora_rank=4, lr=1e-3, lr_fake=1e-3,
                    warmup_steps=1, save_every=2)
PROMPTS = ["a red circle", "a blue square", "a green triangle", "a big object", "", "a cat", "a dog", "a tree"]


def _prompts(step: int, n: int) -> list[str]:
    return [PROMPTS[(step + i) % len(PROMPTS)] for i in range(n)]


def _train(out: str) -> None:
    from ddmd_bench.training.trainer import Trainer
    from tests.training.tiny import tiny_flow_bundle

    torch.set_num_threads(1)
    Trainer(CFG, out, teacher=tiny_flow_bundle(), prompts=_prompts).run()


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    try:
        _train(out)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_matches_one_process(tmp_path):
    _train(str(tmp_path / "single"))
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
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
