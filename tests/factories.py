"""Tiny components for tests, in one place: tokenizers, text encoders, VAEs, UNets and transformers, whole diffusers
pipelines in the layout of the real checkpoints, a local Hugging Face cache to put them in, a trainer teacher, tiny
metric backbones, metric states in chunks, and builders for protocols and result records that tests write by hand.

Every network is the real class (diffusers, transformers) built from a small config with random weights, so a test
exercises the same loading and calling code as a real run, offline. Builders seed torch themselves where the
weights matter, and build their modules in a fixed order, so a factory returns the same weights on every call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# The CLIP text encoder of the recipe pipelines; the trainer's teachers use a smaller vocabulary and context
# (TRAINER_TEXT), because their tokenizer is the 54-symbol character set below at 32 tokens.
TEXT = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=16)
TRAINER_TEXT = dict(vocab_size=54, max_position_embeddings=32)


class HubCache:
    """A Hugging Face hub cache folder (set HF_HUB_CACHE to `root`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def add(self, repo_id: str, write: Callable[[Path], None]) -> str:
        """Create `repo_id` with the files `write(folder)` produces, in huggingface_hub's layout (refs/main ->
        snapshots/<commit>/), so the resolver finds it as it would a real download; returns its (fake) commit."""
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        repo = self.root / f"models--{repo_id.replace('/', '--')}"
        folder = repo / "snapshots" / commit
        write(folder)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        return commit


# ---------------------------------------------------------------------------------------------------- tokenizers

def scratch_folder() -> Path:
    """A fresh temporary folder (for tokenizer files that a saved pipeline copies anyway)."""
    return Path(tempfile.mkdtemp(prefix="ddmd-tiny-tok-"))


def clip_tokenizer(folder: str | Path, max_length: int = 77):
    """A character-level CLIP BPE tokenizer (vocab.json + merges.txt written to `folder`), 54 symbols."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + list(string.ascii_lowercase) + \
        [c + "</w>" for c in string.ascii_lowercase]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length)


def t5_tokenizer():
    """A character-level Unigram tokenizer with T5's special tokens."""
    from tokenizers import Tokenizer, models
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in string.ascii_lowercase + " ▁"]
    return T5TokenizerFast(tokenizer_object=Tokenizer(models.Unigram(vocab, unk_id=2)), eos_token="</s>",
                           pad_token="<pad>", unk_token="<unk>", extra_ids=0)


def chat_tokenizer():
    """A character-level tokenizer with a chat template (what Z-Image's Qwen3 text encoder is fed)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    symbols = ["<|endoftext|>", "<unk>"] + list(string.ascii_lowercase) + list(" <>|_\n")
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(symbols)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", unk_token="<unk>",
                                   chat_template=template)


# ---------------------------------------------------------------------------------------------------- components

def clip_text_encoder(cls, **overrides):
    """A 1-layer CLIP text model of class `cls` (CLIPTextModel or CLIPTextModelWithProjection), random weights."""
    from transformers import CLIPTextConfig

    return cls(CLIPTextConfig(**{**TEXT, **overrides}))


def t5_encoder(d_model: int = 32):
    """A 1-layer T5 encoder, random weights."""
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(vocab_size=32, d_model=d_model, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                   relative_attention_num_buckets=8))


def vae(latent_channels: int = 4, blocks: int = 2, sample_size: int = 16, **kw):
    """An AutoencoderKL of `blocks` 8-channel blocks (downscale 2 ** (blocks - 1)), random weights."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8,) * blocks,
                         down_block_types=("DownEncoderBlock2D",) * blocks,
                         up_block_types=("UpDecoderBlock2D",) * blocks, latent_channels=latent_channels,
                         norm_num_groups=4, sample_size=sample_size, **kw)


def sd15_unet():
    """An SD1.5-layout UNet2DConditionModel with two 1-layer blocks on 8x8x4 latents."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=8)


def sdxl_unet(**overrides):
    """An SDXL-layout UNet (added text-time conditioning) with two 1-layer blocks on 8x8x4 latents."""
    from diffusers import UNet2DConditionModel

    # cross_attention_dim = both encoders' hidden sizes; the added-conditioning input = 6 time ids x 8 + pooled 16
    return UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                                transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=64,
                                cross_attention_dim=32, norm_num_groups=8, **overrides)


def sd3_transformer(num_layers: int = 1, in_channels: int = 4, joint_attention_dim: int = 32,
                    pooled_projection_dim: int = 32, pos_embed_max_size: int = 16):
    """An SD3-layout MMDiT (SD3Transformer2DModel) on 8x8 inputs, patch 2, random weights."""
    from diffusers import SD3Transformer2DModel

    return SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=in_channels, out_channels=in_channels,
                                 num_layers=num_layers, attention_head_dim=8, num_attention_heads=2,
                                 joint_attention_dim=joint_attention_dim, caption_projection_dim=16,
                                 pooled_projection_dim=pooled_projection_dim, pos_embed_max_size=pos_embed_max_size)


# ---------------------------------------------------------------------------------------------------- pipelines
# Writers: each saves a pipeline with `save_pretrained(folder)`, exactly as a published checkpoint is laid out.

def sd15(folder: Path, scheduler) -> None:
    """Write a tiny StableDiffusionPipeline."""
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    StableDiffusionPipeline(vae=vae(), text_encoder=clip_text_encoder(CLIPTextModel),
                            tokenizer=clip_tokenizer(scratch_folder()), unet=sd15_unet(), scheduler=scheduler,
                            safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder)


def sdxl(folder: Path, scheduler, variant: str | None = None) -> None:
    """Write a tiny StableDiffusionXLPipeline (two CLIP encoders sharing one tokenizer)."""
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = clip_tokenizer(scratch_folder())
    StableDiffusionXLPipeline(vae=vae(), text_encoder=clip_text_encoder(CLIPTextModel), tokenizer=tok,
                              text_encoder_2=clip_text_encoder(CLIPTextModelWithProjection), tokenizer_2=tok,
                              unet=sdxl_unet(), scheduler=scheduler).save_pretrained(folder, variant=variant)


def sd3(folder: Path, scheduler) -> None:
    """Write a tiny StableDiffusion3Pipeline (two CLIP encoders and a T5)."""
    from diffusers import StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = clip_tokenizer(scratch_folder())
    StableDiffusion3Pipeline(transformer=sd3_transformer(), scheduler=scheduler, vae=vae(shift_factor=0.06),
                             text_encoder=clip_text_encoder(CLIPTextModelWithProjection), tokenizer=tok,
                             text_encoder_2=clip_text_encoder(CLIPTextModelWithProjection), tokenizer_2=tok,
                             text_encoder_3=t5_encoder(32), tokenizer_3=t5_tokenizer()).save_pretrained(folder)


def flux(folder: Path, scheduler, guidance_embeds: bool) -> None:
    """Write a tiny FluxPipeline (guidance-embedded like FLUX.1-dev when `guidance_embeds`)."""
    from diffusers import FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=16, guidance_embeds=guidance_embeds,
                                         axes_dims_rope=(4, 6, 6))
    FluxPipeline(scheduler=scheduler, vae=vae(shift_factor=0.1), text_encoder=clip_text_encoder(CLIPTextModel),
                 tokenizer=clip_tokenizer(scratch_folder()), text_encoder_2=t5_encoder(32), tokenizer_2=t5_tokenizer(),
                 transformer=transformer).save_pretrained(folder)


def zimage(folder: Path, scheduler) -> None:
    """Write a tiny ZImagePipeline (a 2-layer Qwen3 text encoder with a chat template)."""
    from diffusers import ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(0)
    text = Qwen3Model(Qwen3Config(vocab_size=40, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=2, head_dim=16))
    transformer = ZImageTransformer2DModel(in_channels=4, dim=32, n_layers=1, n_refiner_layers=1, n_heads=2,
                                           n_kv_heads=2, cap_feat_dim=32, axes_dims=[4, 6, 6],
                                           axes_lens=[1024, 256, 256])
    ZImagePipeline(scheduler=scheduler, vae=vae(shift_factor=0.1), text_encoder=text, tokenizer=chat_tokenizer(),
                   transformer=transformer).save_pretrained(folder)


# In-memory pipelines for the trainer: a 1-block VAE on 8x8 pixels (latents equal in size to the UNet's input).

def tiny_sd_pipeline(folder: str | Path, prediction_type: str = "epsilon"):
    """A StableDiffusionPipeline with a 1-block UNet, a 1-block VAE and a 1-layer CLIP text encoder (random); the
    tokenizer files go to `folder`."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet, autoencoder = sd15_unet(), vae(blocks=1, sample_size=8)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              prediction_type=prediction_type, timestep_spacing="trailing", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(vae=autoencoder, text_encoder=clip_text_encoder(CLIPTextModel, **TRAINER_TEXT),
                                   tokenizer=clip_tokenizer(folder, max_length=32), unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def tiny_sd3_pipeline(folder: str | Path):
    """A StableDiffusion3Pipeline with a 1-layer MMDiT, two 1-layer CLIP encoders and no T5 (random); the tokenizer
    files go to `folder`."""
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    transformer = sd3_transformer(pos_embed_max_size=8)
    autoencoder = vae(blocks=1, sample_size=8, shift_factor=0.06, scaling_factor=1.5)
    tok = clip_tokenizer(folder, max_length=32)
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=autoencoder,
        text_encoder=clip_text_encoder(CLIPTextModelWithProjection, **TRAINER_TEXT), tokenizer=tok,
        text_encoder_2=clip_text_encoder(CLIPTextModelWithProjection, **TRAINER_TEXT), tokenizer_2=tok,
        text_encoder_3=None, tokenizer_3=None)


def tiny_flow_bundle(dtype=torch.float32, seed: int = 0, supports_cfg: bool = True):
    """A trainer teacher: an SD3Transformer2DModel with 2 layers on 8x8x3 pixels, flow matching; prompts map to fixed
    random embeddings (no text model)."""
    from ddmd_bench.training.bundle import TeacherBundle
    from ddmd_bench.training.denoisers import flow_few_step_scheduler, sd3_call
    from ddmd_bench.training.parameterization import PARAMETERIZATIONS

    torch.manual_seed(seed)
    net = sd3_transformer(num_layers=2, in_channels=3, joint_attention_dim=16, pooled_projection_dim=16,
                          pos_embed_max_size=4)
    net = net.to(dtype).eval().requires_grad_(False)
    param = PARAMETERIZATIONS.get("flow")()

    def encode(prompts: list[str]):
        rows = []
        for p in prompts:
            g = torch.Generator().manual_seed(int(hashlib.sha256(p.encode()).hexdigest()[:8], 16))
            rows.append((torch.randn(4, 16, generator=g), torch.randn(16, generator=g)))
        return (torch.stack([r[0] for r in rows]).to(dtype), torch.stack([r[1] for r in rows]).to(dtype))

    return TeacherBundle("tiny-flow", net, encode, sd3_call(param), param, (3, 8, 8), flow_few_step_scheduler(),
                         supports_cfg=supports_cfg)


# ---------------------------------------------------------------------------------------------------- metric parts

class TinyExtractor(torch.nn.Module):
    """A random-weight stand-in for Inception (clean-fid accepts any module taking [0, 255] floats): 16-d features."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 7, stride=4)
        self.fc = torch.nn.Linear(8, 16)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x / 255.0)).mean((2, 3)))


def tiny_image_reward_config(vocab_size: int = 40):
    """An ImageReward (BLIP) of 2-layer vision and text towers on 32 px images."""
    from ddmd_bench.metrics.image_reward import ImageRewardConfig

    return ImageRewardConfig(image_size=32, patch_size=8, vision_width=32, vision_layers=2, vision_heads=2,
                             text={"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2,
                                   "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 16,
                                   "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0},
                             head=(16, 8, 4, 2), max_length=8)


def random_images(n: int, size: int = 16, seed: int = 1) -> torch.Tensor:
    """uint8 [n, 3, size, size] noise images."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


# ------------------------------------------------------------------------------------------------- metric shards

def chunk_states(new_metrics: Callable[[], dict[str, Any]], images: torch.Tensor, prompts: list[str],
                 chunks: list[tuple[int, int]]) -> list[tuple[int, dict[str, Any]]]:
    """(start, {name: state}) of fresh metrics updated on each chunk [a, b) of the batch, as an evaluation's chunks
    hold them."""
    states = []
    for a, b in chunks:
        metrics = new_metrics()
        for m in metrics.values():
            m.update(images[a:b], prompts[a:b])
        states.append((a, {name: m.state() for name, m in metrics.items()}))
    return states


def merge_states(metrics: dict[str, Any], states: list[tuple[int, dict[str, Any]]], order) -> dict[str, Any]:
    """`metrics` after merging the chunk states at the positions in `order` (in that order)."""
    for i in order:
        start, state = states[i]
        for name, m in metrics.items():
            m.merge_state(state[name], start)
    return metrics


def metric_values(metrics: dict[str, Any]) -> dict[str, tuple]:
    """{name: (value, ci_low, ci_high, per_sample, n)} of each metric's `compute()` (a collective under
    torch.distributed: every rank must call it)."""
    return {name: (v.value, v.ci_low, v.ci_high, v.per_sample, v.n)
            for name, v in ((name, m.compute()) for name, m in metrics.items())}


# ---------------------------------------------------------------------------------------------------- records

def unit_protocol(**changes):
    """A small toy-track Protocol (2 prompts, one FID metric) with any field replaced."""
    from ddmd_bench.protocol import Protocol

    base = Protocol(name="unit", version=1, track="toy", prompt_set={"name": "p", "version": 1, "n": 2, "sha256": "0"},
                    images_per_prompt=1, resolution=16, seed_rule="seed_i = i", seed_base=0,
                    metrics={"fid": {"weights_sha256": "abc"}})
    return dataclasses.replace(base, **changes)


def metric_entry(value: float, ci: tuple[float, float] | None = None, higher_is_better: bool | None = None,
                 status: str = "ok", **extra: Any) -> dict[str, Any]:
    """One metric of a result record ("metrics" -> name -> this)."""
    out: dict[str, Any] = {"status": status, "value": value}
    if ci is not None:
        out.update(ci_low=ci[0], ci_high=ci[1])
    if higher_is_better is not None:
        out["higher_is_better"] = higher_is_better
    return {**out, **extra}


def result_record(protocol, value: float = 1.0, status: str = "ok", *, generator: dict[str, Any] | None = None,
                  metrics: dict[str, dict[str, Any]] | None = None, latency: dict[str, Any] | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A result record of `protocol` as the runner writes it, reduced to what the leaderboard reads: by default one
    FID of `value`, generator 'g' at 4 NFE, latency median 0.1 s; `extra` adds or replaces top-level keys."""
    from ddmd_bench.evaluation.records import SCHEMA_VERSION

    return {"schema_version": SCHEMA_VERSION, "status": status, "generator": generator or {"name": "g", "nfe": 4},
            "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
            "metrics": metrics if metrics is not None else {"fid": metric_entry(value)},
            "latency": latency or {"median": 0.1, "p90": 0.2}, **extra}


# ---------------------------------------------------------------------------------------------------- protocols

RECIPE_CHECK_PROTOCOL = "toy-recipe-check"


def recipe_check_protocol(limit: int | None = None, data: dict[str, Any] | None = None):
    """The recipe tests' protocol: the toy protocol's first 5 prompts (one held-out) with a single latency round, so
    that 50-step teachers stay affordable on CPU. A PROTOCOLS factory: (limit, data) -> (Protocol, context)."""
    from ddmd_bench.tracks.toy.track import toy_protocol

    del data  # like the toy protocol, it reads no data files
    protocol, context = toy_protocol(limit or 5)
    latency = {**protocol.latency, "warmup": 0, "rounds": 1}
    return dataclasses.replace(protocol, name=RECIPE_CHECK_PROTOCOL, latency=latency), context


# ---------------------------------------------------------------------------------------------------- data files

def write_stats(path: Path, protocol: str, metric: str, n: int | None = None, identity: dict | None = None,
                **changes) -> Path:
    """A literature protocol's reference-statistics file as make_reference_stats(protocol, metric, ...) would write
    it (4-d made-up statistics); `changes` edit the identity; `identity={}` writes none (a plain `stats make` file)."""
    import types

    import numpy as np

    from ddmd_bench.metrics import reference
    from ddmd_bench.metrics.fid import ReferenceStats
    from ddmd_bench.tracks.literature.reference_stats import expected_identity
    from ddmd_bench.tracks.literature.specs import SPECS

    spec = SPECS.get(protocol)
    fid = spec.fid(metric)
    ident = {**expected_identity(spec, fid), **changes} if identity is None else identity
    ext = types.SimpleNamespace(id=f"fake-inception|000000000000|{fid.eval_transform}", weights_sha256="0" * 64,
                                preprocessing="made-up statistics for tests")
    stats = ReferenceStats(np.arange(4.0), np.eye(4), n if n is not None else fid.reference_n, ext.id,
                           fid.reference_id)
    reference.save(stats, ext, path, None if ident == {} else ident)
    return path


def write_mlperf_tsv(path: Path, n: int, duplicate_id: bool = False) -> Path:
    """An MLPerf SDXL caption file (captions/captions_source.tsv layout) of `n` synthetic COCO captions;
    `duplicate_id` repeats the first annotation id in the last row."""
    rows = ["id\timage_id\tcaption\theight\twidth\tfile_name\tcoco_url"]
    for i in range(n):
        ann = 7 if duplicate_id and i == n - 1 else 10 * i + 7
        name = f"COCO_val2014_{100000 + i:012d}.jpg"
        rows.append(f"{ann}\t{100000 + i}\tA synthetic scene {i}.\t480\t640\t{name}\t"
                    f"http://images.cocodataset.org/val2014/{name}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
