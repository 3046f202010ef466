"""The toy world is deterministic, its ground truth is right, and held-out pairs never reach training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.tracks.toy import world


def test_same_seed_same_sample():
    a, b = world.make_batch([3, 17, 99]), world.make_batch([3, 17, 99])
    assert torch.equal(a.images, b.images) and a.captions == b.captions and a.scenes == b.scenes


def test_sample_does_not_depend_on_batch():
    together = world.make_batch([5, 6, 7])
    alone = [world.make_batch([s]) for s in (5, 6, 7)]
    assert torch.equal(together.images, torch.cat([b.images for b in alone]))


def test_different_seeds_differ():
    batch = world.make_batch(list(range(64)))
    assert len({im.numpy().tobytes() for im in batch.images}) == 64


@pytest.mark.parametrize("seed", range(20))
def test_object_pixels_have_the_object_colour(seed):
    scene = world.sample_scene(seed)
    image = world.render([scene])[0].float() / 255
    cx, cy = scene.centre
    centre = image[:, int(cy), int(cx)]  # the pixel containing the centre is fully inside every shape
    assert torch.allclose(centre, torch.tensor(scene.colour_rgb, dtype=torch.float32), atol=1 / 255 + 1e-6)


def test_shapes_differ_in_pixels():
    base = world.sample_scene(1, {"shape": "circle", "colour": "red", "size": "large", "position": "center"})
    imgs = world.render([world.replace(base, shape=s) for s in world.SHAPES]).float()
    for i in range(3):
        for j in range(i + 1, 3):
            assert (imgs[i] - imgs[j]).abs().amax(0).gt(60).sum() >= 6  # several clearly different pixels


def test_held_out_pairs_never_in_training_images_or_captions():
    batch = world.make_batch(list(range(3000)))
    for scene, caption in zip(batch.scenes, batch.captions):
        assert not world.is_held_out(scene.attributes())
        for shape, colour in world.HELD_OUT_PAIRS:
            assert f"{colour} {shape}" not in caption
    assert len(world.HELD_OUT_PAIRS) == 3


def test_clean_captions_are_canonical_and_parse_back():
    for seed in range(50):
        scene = world.sample_scene(seed, allow_held_out=True)
        text = world.caption(scene, seed, world.CLEAN)
        assert text == world.canonical_prompt(scene.attributes())
        assert world.parse_prompt(text) == scene.attributes()


@pytest.mark.parametrize("noise", [world.TRAIN_NOISE, world.CaptionNoise(p_omit=0.15, p_wrong=0.10)])
def test_training_captions_are_noisy_at_the_configured_rates(noise):
    batch = world.make_batch(list(range(4000)), noise)
    colour_named = [c for c, s in zip(batch.captions, batch.scenes) if any(k in c.split() for k in world.COLOURS)]
    wrong = sum(s.colour not in c.split() for c, s in zip(batch.captions, batch.scenes)
                if any(k in c.split() for k in world.COLOURS))
    omitted = 1 - len(colour_named) / len(batch.captions)
    assert 0.11 < omitted < 0.19  # p_omit = 0.15
    if noise.p_wrong == 0:
        assert wrong == 0  # world v3 training captions: omissions only, every named value is true
    else:
        assert 0.07 < wrong / len(colour_named) < 0.13


def test_parse_prompt_rejects_non_canonical():
    with pytest.raises(ValueError, match="not a canonical toy prompt"):
        world.parse_prompt("a red circle")
    with pytest.raises(ValueError, match="unknown colour"):
        world.parse_prompt("a small pink circle at the top left")


def test_combination_counts():
    assert len(world.all_combinations()) == 3 * 6 * 2 * 5
    assert len(world.all_combinations(held_out=True)) == 3 * 2 * 5
    assert np.isclose(len(world.all_combinations(held_out=False)) / 180, 150 / 180)
