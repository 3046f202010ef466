"""Each parameterisation end to end on tiny diffusers pipelines: train a few steps, export, load, sample."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ddmd_bench.training import runlog
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.export import export_pipeline
from ddmd_bench.training.losses import DMDLossConfig
from ddmd_bench.training.trainer import Trainer
from tests.factories import tiny_sd3_pipeline, tiny_sd_pipeline

CASES = {  # kind -> (pipeline factory, scheduler class of the exported student, pipeline call kwargs)
    "epsilon": (lambda d: tiny_sd_pipeline(d, "epsilon"), "LCMScheduler", {}),
    "v_prediction": (lambda d: tiny_sd_pipeline(d, "v_prediction"), "LCMScheduler", {}),
    "flow": (tiny_sd3_pipeline, "FlowMatchEulerDiscreteScheduler", {}),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_parameterisation_trains_exports_and_samples(tmp_path, kind):
    from ddmd_bench.generators.pipelines import load_pipeline

    factory, scheduler_class, _ = CASES[kind]
    factory(tmp_path / "tok").save_pretrained(tmp_path / "teacher")
    (tmp_path / "prompts.txt").write_text("a red cat\na blue dog\na green bird\na small house\n")
    cfg = DistillConfig(teacher=str(tmp_path / "teacher"), loss=DMDLossConfig(guidance=2.0), student_steps=4,
                        steps=3, batch_size=4, lora_rank=4, save_every=10, lr=1e-4, lr_fake=1e-4,
                        divergence_std=1e6)  # random-weight epsilon teachers give huge x0 at k = 999
    trainer = Trainer(cfg, tmp_path / "run", prompts=str(tmp_path / "prompts.txt"))
    assert trainer.teacher.parameterization.name == kind
    trainer.run()
    records = runlog.read(tmp_path / "run")
    assert len(records) == 3 and all(math.isfinite(r["loss"]) and math.isfinite(r["fake_loss"]) for r in records)
    assert records[-1]["ca_mag"] > 0

    out = export_pipeline(trainer.teacher, trainer.nets.ema.shadow, 4, tmp_path / "student")
    pipe = load_pipeline(out)
    assert type(pipe.scheduler).__name__ == scheduler_class
    net = pipe.unet if hasattr(pipe, "unet") else pipe.transformer
    seen: list[float] = []
    net.register_forward_pre_hook(lambda m, args, kw: seen.append(float(_timestep(args, kw).flatten()[0])),
                                  with_kwargs=True)
    meta = json.loads((out / "ddmd_bench.json").read_text())
    images = pipe(["a red cat"], num_inference_steps=meta["num_inference_steps"], guidance_scale=1.0,
                  height=16, width=16, output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (1, 16, 16, 3) and torch.isfinite(torch.from_numpy(images)).all()
    assert len(seen) == 4  # one denoiser call per step, no CFG
    # The exported sampler visits exactly the levels the student was trained at.
    expected = trainer.sigmas * (999 if kind != "flow" else 1000)
    torch.testing.assert_close(torch.tensor(seen), expected.float(), atol=0.5, rtol=0)
    if kind != "flow":
        assert seen == [999, 749, 499, 249]  # DMD2's grid


def _timestep(args, kwargs):
    t = kwargs.get("timestep", args[1] if len(args) > 1 else None)
    return torch.as_tensor(t, dtype=torch.float32)


def test_teacher_without_uncond_branch_disables_ca(caplog):
    from tests.factories import tiny_flow_bundle

    teacher = tiny_flow_bundle(supports_cfg=False)
    trainer = Trainer(DistillConfig(loss=DMDLossConfig(guidance=3.0), steps=1), "/nonexistent", teacher=teacher,
                      prompts=lambda step, n: ["x"] * n)
    assert trainer.cfg.loss.guidance == 1.0 and "no unconditional branch" in caplog.text
    with pytest.raises(ValueError, match="CA-only run has nothing to train"):
        Trainer(DistillConfig(loss=DMDLossConfig(terms="ca")), "/nonexistent", teacher=teacher)
