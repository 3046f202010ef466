"""Every published recipe, end to end through `ddmd-bench evaluate`, on tiny random components in the layout of
the real checkpoints: the scheduler, the timesteps the denoiser saw, the number of denoiser calls and the guidance
must be exactly the recipe's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.recipes.catalog import RECIPES
from tests.recipes.hub import build_hub


def _trailing(n: int) -> list[float]:
    """DDIM / Euler 'trailing' spacing over 1000 training steps (diffusers docs; Lin et al. 2024, Table 2)."""
    return (np.round(np.arange(1000, 0, -1000 / n)) - 1).tolist()


def _lcm(n: int) -> list[float]:
    """LCM / TCD default: n evenly spaced picks from the 50-step skipping schedule 999, 979, ..., 19."""
    origin = np.arange(1, 51) * 20 - 1
    return origin[::-1][np.floor(np.arange(0, n) * 50 / n).astype(int)].tolist()


def _flow(n: int, shift: float) -> list[float]:
    """Z-Image's sigmas linspace(1, 1/n, n) with the static shift s' = shift s / (1 + (shift - 1) s), x 1000."""
    s = np.linspace(1, 1 / n, n)
    return np.round(1000 * shift * s / (1 + (shift - 1) * s), 2).tolist()


# Golden timesteps, derived from the published spacing rules rather than read back from the schedulers.
GOLDEN = {
    "sd15": [981.0] + [float(t) for t in range(961, 0, -20) for _ in range(2 if t == 961 else 1)],  # PLMS repeat
    "sdxl-base": [float(t) for t in range(981, 0, -20)],  # 'leading' spacing + steps_offset 1
    "dmd2-sd15-1step": [999.0], "dmd2-sdxl-1step": [399.0],
    "dmd2-sdxl-4step": [999.0, 749.0, 499.0, 249.0], "dmd2-sdxl-4step-lora": [999.0, 749.0, 499.0, 249.0],
    "lcm-sdxl": _lcm(4), "lcm-lora-sd15": _lcm(4), "lcm-lora-sdxl": _lcm(4),
    "sd-turbo": [999.0], "sdxl-turbo": [999.0],
    "hyper-sdxl-1step-unet": [800.0], "hyper-sd15-1step-lora": [999.0], "hyper-sdxl-1step-lora": [999.0],
    "tcd-sd15-4step": _lcm(4), "tcd-sdxl-4step": _lcm(4),
    "z-image-turbo": _flow(8, 3.0),  # = the first 8 of diffusers 0.36's 9-step schedule (1000, 954.55, 900, ...)
}
for _n in (1, 2, 4, 8):
    GOLDEN[f"sdxl-lightning-{_n}step"] = GOLDEN[f"sdxl-lightning-{_n}step-lora"] = _trailing(_n)
    for _tag in ("sd15", "sdxl"):
        GOLDEN[f"hyper-{_tag}-{_n}step-lora"] = GOLDEN.get(f"hyper-{_tag}-{_n}step-lora", _trailing(_n))
        GOLDEN[f"pcm-{_tag}-smallcfg-{_n}step"] = _trailing(_n)
for _unused in ("sdxl-lightning-1step-lora", "pcm-sd15-smallcfg-1step", "pcm-sdxl-smallcfg-1step"):
    GOLDEN.pop(_unused)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-cache")
    build_hub(root)
    return root


def run_recipe(hub, tmp_path, monkeypatch, name: str, *extra: str):
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = ["evaluate", "--protocol", "toy-recipe-check", "--method", name, "--resolution", "16", "--batch-size", "5",
            "--results-dir", str(tmp_path / "results"), "--no-leaderboard", "--quiet", "--json", *extra]
    if RECIPES.get(name).needs_pickle:
        args.append("--allow-pickle")
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _record(tmp_path, name: str) -> dict:
    [path] = [p for p in (tmp_path / "results").rglob("*.json") if not p.name.endswith(".failed.json")]
    return json.loads(path.read_text())


def _timesteps_in_thousandths(recipe, seen: list[float]) -> list[float]:
    # FLUX feeds the transformer sigma (t / 1000), Z-Image 1 - sigma; the others the timestep itself
    if recipe.pipeline == "FluxPipeline":
        return [round(t * 1000, 2) for t in seen]
    if recipe.pipeline == "ZImagePipeline":
        return [round((1 - t) * 1000, 2) for t in seen]
    return [round(t, 2) for t in seen]


@pytest.mark.parametrize("name", RECIPES.names())
def test_recipe_runs_exactly_as_published(hub, tmp_path, monkeypatch, name):
    recipe = RECIPES.get(name)
    result = run_recipe(hub, tmp_path, monkeypatch, name)
    assert result.exit_code == 0, result.output
    record = _record(tmp_path, name)
    trace = record["trace"]
    assert trace["denoiser_calls"] == recipe.forwards  # one image in the latency run: calls per image
    assert trace["batch_per_image"] == [2.0 if recipe.uses_cfg else 1.0]  # CFG doubles each call's batch
    expected_scheduler = recipe.scheduler.cls or json.loads(
        (next(hub.glob(f"models--{recipe.base.repo_id.replace('/', '--')}/snapshots/*"))
         / "scheduler" / "scheduler_config.json").read_text())["_class_name"]
    assert trace["scheduler"] == expected_scheduler
    assert trace["scheduler_config"] == recipe.scheduler.config
    seen = _timesteps_in_thousandths(recipe, trace["timesteps"])
    if name in GOLDEN:
        assert seen == pytest.approx(GOLDEN[name], abs=0.01)
    else:  # flow-matching teachers and students: start at pure noise, strictly decreasing
        assert seen[0] == pytest.approx(1000, abs=0.01) and all(a > b for a, b in zip(seen, seen[1:]))
    if recipe.guidance_embedded and recipe.pipeline == "FluxPipeline":
        assert trace["guidance_embedding"] == [recipe.guidance]
    assert record["generator"]["recipe"]["name"] == f"{name}[resolution=16]"  # an override renames the recipe
    assert record["generator"]["files"]["base"]["commit"]
    assert "resize" not in record  # generated at the protocol's 16 px
