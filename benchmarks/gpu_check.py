"""One prepared GPU check (run whenever a GPU machine is lent): every GPU-only path of the project, its figures
printed as JSON. Under 5 minutes on one GPU.

    bash benchmarks/gpu_check.sh        # sets up .venv if needed, then runs this file

Checks: CUDA-event latency of the toy teacher at batch 1 and batched (fp32 and bf16 autocast), torch.compile of
its transformer, per-sample identity of CPU and GPU images (same noise), the toy metrics (FID features, CLIP
score, ImageReward) on the GPU against the CPU, and diffusers recipes on tiny real-layout pipelines with fp16/bf16,
CPU offload, VAE tiling, an attention backend and torch.compile.
"""

from __future__ import annotations

import json
import time

import torch


def main() -> dict:
    from ddmd_bench.metrics import latency
    from ddmd_bench.tracks.toy.loaders import load_classifier, load_clip, load_denoiser, load_reward
    from ddmd_bench.tracks.toy.models import TeacherConfig
    from ddmd_bench.tracks.toy.pipeline import SCHEDULERS, ToySampler
    from ddmd_bench.tracks.toy.prompts import toy_prompt_set

    assert torch.cuda.is_available(), "no CUDA device"
    dev = torch.device("cuda")
    out: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                 "cuda": torch.version.cuda, "driver": torch.cuda.get_device_properties(0).name}
    model, tokenizer, meta = load_denoiser("teacher")
    config = TeacherConfig.from_dict(meta["model_config"])
    prompts = list(toy_prompt_set().prompts[:64])
    seeds = list(range(1_000_000, 1_000_064))
    cpu = ToySampler(model, tokenizer, SCHEDULERS.get("flow-euler")(config, 8), 8, 3.0).sample(prompts[:8], seeds[:8])
    gpu_model = model.to(dev)
    sampler = ToySampler(gpu_model, tokenizer, SCHEDULERS.get("flow-euler")(config, 8), 8, 3.0)
    gpu = sampler.sample(prompts[:8], seeds[:8])
    out["cpu_vs_gpu_max_pixel_diff"] = int((cpu.int() - gpu.int()).abs().max())
    cfg1, cfg64 = latency.LatencyConfig(warmup=3, rounds=20, batch_size=1), latency.LatencyConfig(3, 10, 64)
    for dtype in ("fp32", "bf16"):
        ctx = torch.autocast("cuda", torch.bfloat16) if dtype == "bf16" else torch.autocast("cuda", enabled=False)
        with ctx:
            b1 = latency.measure(lambda: sampler.sample(prompts[:1], seeds[:1]), cfg1, dev, "8-step cfg3, b=1")
            b64 = latency.measure(lambda: sampler.sample(prompts, seeds), cfg64, dev, "8-step cfg3, b=64")
        out[f"latency_{dtype}"] = {"b1_median_ms": b1["median"] * 1000, "b1_p90_ms": b1["p90"] * 1000,
                                   "b64_images_per_s": 64 / b64["median"],
                                   "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20}
    t0 = time.perf_counter()
    gpu_model.transformer = torch.compile(gpu_model.transformer)
    sampler.sample(prompts[:1], seeds[:1])
    out["compile_first_call_s"] = time.perf_counter() - t0
    comp = latency.measure(lambda: sampler.sample(prompts[:1], seeds[:1]), cfg1, dev, "compiled, b=1")
    out["latency_compiled_b1_median_ms"] = comp["median"] * 1000
    images = sampler.sample(prompts, seeds)
    classifier, _ = load_classifier()
    f_cpu = classifier.features(images)
    f_gpu = classifier.to(dev).features(images.to(dev)).cpu()
    out["fid_features_max_abs_diff"] = float((f_cpu - f_gpu).abs().max())
    clip, preprocess, _, _ = load_clip()
    pix = torch.stack([preprocess(__import__("PIL.Image").Image.fromarray(i.permute(1, 2, 0).numpy()))
                       for i in images[:16]])
    e_cpu = clip.encode_image(pix)
    e_gpu = clip.to(dev).encode_image(pix.to(dev)).cpu()
    out["clip_image_embedding_max_abs_diff"] = float((e_cpu - e_gpu).abs().max())
    reward, reward_tok, _ = load_reward()
    from ddmd_bench.metrics.image_reward import preprocess as ir_pre

    tok = reward_tok(prompts[:16], padding="max_length", truncation=True, max_length=16, return_tensors="pt")
    r_cpu = reward(ir_pre(images[:16], 16), tok["input_ids"], tok["attention_mask"])
    r_gpu = reward.to(dev)(ir_pre(images[:16], 16).to(dev), tok["input_ids"].to(dev),
                           tok["attention_mask"].to(dev)).cpu()
    out["image_reward_max_abs_diff"] = float((r_cpu - r_gpu).abs().max())
    out["recipes"] = recipe_checks()
    return out


def recipe_checks() -> dict:
    """Diffusers recipes on the GPU (tiny random components in the real layouts, from the tests): fp16 and bf16,
    model CPU offload, VAE tiling, an attention backend and torch.compile; the call trace must stay the recipe's and
    the CPU-seeded noise must give the same images on CPU and GPU (up to half-precision rounding)."""
    import dataclasses
    import os
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' tiny-pipeline factories

    from ddmd_bench.metrics import latency
    from ddmd_bench.recipes import get_recipe
    from ddmd_bench.generators.diffusers import DiffusersGenerator
    from ddmd_bench.generators.settings import RunSettings
    from tests.recipes.hub import build_hub

    cache = tempfile.mkdtemp(prefix="ddmd-gpu-hub-")
    build_hub(Path(cache), only=("dmd2-sdxl-4step", "flux1-schnell", "z-image-turbo"))
    os.environ.update(HF_HUB_CACHE=cache, HF_HUB_OFFLINE="1")
    prompts, seeds = ["a red cat", "a blue dog"], [1, 2]
    results: dict = {}
    settings = {"fp16": RunSettings(device="cuda", dtype="float16"),
                "bf16+compile": RunSettings(device="cuda", dtype="bfloat16", compile=True),
                "offload+tiling": RunSettings(device="cuda", dtype="float16", offload="model", vae_tiling=True),
                "sdpa-backend": RunSettings(device="cuda", dtype="bfloat16", attention_backend="native")}
    for name in ("dmd2-sdxl-4step", "flux1-schnell", "z-image-turbo"):
        recipe = dataclasses.replace(get_recipe(name), resolution=64)
        reference = DiffusersGenerator(recipe, RunSettings(device="cpu", dtype="float32")).generate(prompts, seeds)
        for label, setting in settings.items():
            if label == "sdpa-backend" and recipe.pipeline.startswith("StableDiffusion"):
                continue  # the attention dispatcher covers transformer models
            try:
                gen = DiffusersGenerator(recipe, setting)
                images = gen.generate(prompts, seeds)
                timing = latency.measure(lambda: gen.generate(prompts[:1], seeds[:1]),
                                         latency.LatencyConfig(2, 5, 1), torch.device("cuda"), f"{name} b=1")
                results[f"{name}/{label}"] = {
                    "calls_ok": gen.last_trace["denoiser_calls"] == recipe.forwards,
                    "max_pixel_diff_vs_cpu_fp32": int((images.int() - reference.int()).abs().max()),
                    "b1_median_ms": timing["median"] * 1000}
            except Exception as exc:  # report every path, even a failing one
                results[f"{name}/{label}"] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


if __name__ == "__main__":
    with torch.no_grad():
        print(json.dumps(main(), indent=1))
