"""Tiny teachers for trainer tests: real diffusers networks built from configs, random weights, no text model."""

from __future__ import annotations

import hashlib

import torch

from ddmd_bench.training.denoisers import TeacherBundle, _sd3_call, flow_few_step_scheduler
from ddmd_bench.training.parameterization import PARAMETERIZATIONS


def tiny_flow_bundle(dtype=torch.float32, seed: int = 0, supports_cfg: bool = True) -> TeacherBundle:
    """An SD3Transformer2DModel with 2 layers on 8x8x3 inputs; prompts map to fixed random embeddings."""
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(seed)
    net = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=3, out_channels=3, num_layers=2,
                                attention_head_dim=8, num_attention_heads=2, joint_attention_dim=16,
                                caption_projection_dim=16, pooled_projection_dim=16, pos_embed_max_size=4)
    net = net.to(dtype).eval().requires_grad_(False)
    param = PARAMETERIZATIONS.get("flow")()

    def encode(prompts: list[str]):
        rows = []
        for p in prompts:
            g = torch.Generator().manual_seed(int(hashlib.sha256(p.encode()).hexdigest()[:8], 16))
            rows.append((torch.randn(4, 16, generator=g), torch.randn(16, generator=g)))
        return (torch.stack([r[0] for r in rows]).to(dtype), torch.stack([r[1] for r in rows]).to(dtype))

    return TeacherBundle("tiny-flow", net, encode, _sd3_call(param), param, (3, 8, 8), flow_few_step_scheduler(),
                         supports_cfg=supports_cfg)


def write_clip_tokenizer(folder):
    """A character-level CLIP BPE tokenizer (vocab.json + merges.txt written here), loaded from the folder."""
    import json
    import string
    from pathlib import Path

    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + [c for c in string.ascii_lowercase] + \
        [c + "</w>" for c in string.ascii_lowercase]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=32)


def _clip_text(cls, projection: bool = False):
    from transformers import CLIPTextConfig

    cfg = CLIPTextConfig(vocab_size=54, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1, projection_dim=16)
    return cls(cfg)


def tiny_sd_pipeline(folder, prediction_type: str = "epsilon"):
    """A StableDiffusionPipeline with a 1-block UNet, a 1-block VAE and a 1-layer CLIP text encoder (random)."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8,), down_block_types=("DownEncoderBlock2D",),
                        up_block_types=("UpDecoderBlock2D",), latent_channels=4, norm_num_groups=4, sample_size=8)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              prediction_type=prediction_type, timestep_spacing="trailing", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(vae=vae, text_encoder=_clip_text(CLIPTextModel), tokenizer=write_clip_tokenizer(folder),
                                   unet=unet, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def tiny_sd3_pipeline(folder):
    """A StableDiffusion3Pipeline with a 1-layer MMDiT, two 1-layer CLIP encoders and no T5 (random)."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=1,
                                        attention_head_dim=8, num_attention_heads=2, joint_attention_dim=32,
                                        caption_projection_dim=16, pooled_projection_dim=32, pos_embed_max_size=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8,), down_block_types=("DownEncoderBlock2D",),
                        up_block_types=("UpDecoderBlock2D",), latent_channels=4, norm_num_groups=4, sample_size=8,
                        shift_factor=0.06, scaling_factor=1.5)
    tok = write_clip_tokenizer(folder)
    return StableDiffusion3Pipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                                    vae=vae, text_encoder=_clip_text(CLIPTextModelWithProjection), tokenizer=tok,
                                    text_encoder_2=_clip_text(CLIPTextModelWithProjection), tokenizer_2=tok,
                                    text_encoder_3=None, tokenizer_3=None)
