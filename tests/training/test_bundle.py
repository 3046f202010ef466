"""The teacher bundle contract: the trainer takes prompts, real images and teacher facts from the bundle only."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from ddmd_bench.tracks.toy import shipped, world
from ddmd_bench.tracks.toy.bundle import TEACHER, teacher_for, toy_bundle, training_prompts
from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.parameterization import Epsilon, Flow
from ddmd_bench.training.trainer import Trainer
from tests.factories import tiny_flow_bundle


def _numbered(seed: int):
    return lambda step, n: [f"{seed}/{step}/{i}" for i in range(n)]


def test_the_trainer_takes_its_prompts_from_the_bundle_for_the_run_seed():
    teacher = replace(tiny_flow_bundle(), prompts=_numbered)
    trainer = Trainer(DistillConfig(seed=7, batch_size=2), "/nonexistent-unused", teacher=teacher)
    assert trainer.prompts(3, 2) == ["7/3/0", "7/3/1"]
    # an unconditional run is given the empty prompt, whatever the bundle offers
    uncond = Trainer(DistillConfig(seed=7, batch_size=2, unconditional=True), "/nonexistent-unused", teacher=teacher)
    assert uncond.prompts(3, 2) == ["", ""]


def test_a_bundle_without_prompts_needs_a_prompt_source():
    with pytest.raises(ValueError, match="teacher tiny-flow supplies no training prompts"):
        Trainer(DistillConfig(batch_size=2), "/nonexistent-unused", teacher=tiny_flow_bundle())
    given = Trainer(DistillConfig(batch_size=2), "/nonexistent-unused", teacher=tiny_flow_bundle(),
                    prompts=lambda step, n: ["a cat"] * n)
    assert given.prompts(0, 2) == ["a cat", "a cat"]


def test_the_bundle_records_only_the_facts_it_knows():
    assert tiny_flow_bundle().record() == {}
    assert replace(tiny_flow_bundle(), weights_sha256="ab").record() == {"teacher_sha256": "ab"}


def test_the_toy_bundle_supplies_the_shipped_teacher_its_captions_and_real_images():
    bundle = toy_bundle()
    assert bundle.weights_sha256 == shipped.entry("teacher")["sha256"]
    assert list(bundle.record()) == ["teacher_sha256", "model_config"]  # the order exports have always written
    captions = training_prompts(0)(2, 3)
    seeds = [500_000_000 + 2 * 3 + i for i in range(3)]
    assert captions == [world.caption(world.sample_scene(s), s) for s in seeds]
    assert training_prompts(1)(2, 3) != captions  # another run seed, other captions
    images, real_captions = bundle.real_data([1, 2])
    assert images.shape == (2, 3, 16, 16) and -1 <= images.min() and images.max() <= 1 and len(real_captions) == 2
    assert get_preset("toy-ddmd-4step").teacher == TEACHER
    assert teacher_for(get_preset("toy-ddmd-4step")).name == "toy-teacher"
    assert teacher_for(DistillConfig(teacher="/some/pipeline")) is None  # a folder: the trainer loads it


def test_student_levels_come_from_the_scheduler_as_each_parameterisation_reads_it():
    scheduler = SimpleNamespace(sigmas=torch.tensor([1.0, 0.5, 0.0]), timesteps=torch.tensor([999, 499]))
    assert Flow().levels(scheduler).tolist() == [1.0, 0.5]  # the final 0 is the clean image, not a step
    assert Epsilon(torch.ones(1000)).levels(scheduler).tolist() == pytest.approx([1.0, 499 / 999])
    assert Epsilon(torch.ones(500)).levels(scheduler).tolist() == pytest.approx([999 / 499, 1.0])
