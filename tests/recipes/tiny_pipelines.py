"""Tiny random pipelines in the layout of the real checkpoints, and a local Hugging Face cache to put them in.

Each factory builds the real diffusers pipeline class from configs (UNet or transformer, VAE, the real text encoder
classes with 1-2 layers, tokenizers written here), so a recipe test exercises the same loading code as a real run.
`HubCache.add` writes a repository in huggingface_hub's cache layout (refs/main -> snapshots/<commit>/), so the
resolver finds it exactly as it would find a real download.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable
from pathlib import Path

import torch

TEXT = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=16)


class HubCache:
    """A Hugging Face hub cache folder (set HF_HUB_CACHE to `root`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def add(self, repo_id: str, write: Callable[[Path], None]) -> str:
        """Create `repo_id` with the files `write(folder)` produces; returns its (fake) commit sha."""
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        repo = self.root / f"models--{repo_id.replace('/', '--')}"
        folder = repo / "snapshots" / commit
        write(folder)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        return commit


# ---------------------------------------------------------------------------------------------------- tokenizers

def _scratch() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="ddmd-tiny-tok-"))


def clip_tokenizer(folder: Path):
    """A character-level CLIP BPE tokenizer (vocab.json + merges.txt written to `folder`)."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"] + list(string.ascii_lowercase) + \
        [c + "</w>" for c in string.ascii_lowercase]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


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


def _clip(cls, **overrides):
    from transformers import CLIPTextConfig

    return cls(CLIPTextConfig(**{**TEXT, **overrides}))


def _t5(d_model: int = 32):
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(vocab_size=32, d_model=d_model, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                   relative_attention_num_buckets=8))


def _vae(latent_channels: int = 4, **kw):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, block_out_channels=(8, 8),
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         latent_channels=latent_channels, norm_num_groups=4, sample_size=16, **kw)


# ---------------------------------------------------------------------------------------------------- pipelines

def sd15_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                                attention_head_dim=4, norm_num_groups=8)


def sd15(folder: Path, scheduler) -> None:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    StableDiffusionPipeline(vae=_vae(), text_encoder=_clip(CLIPTextModel), tokenizer=clip_tokenizer(_scratch()),
                            unet=sd15_unet(), scheduler=scheduler, safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(folder)


def sdxl_unet(**overrides):
    from diffusers import UNet2DConditionModel

    # cross_attention_dim = both encoders' hidden sizes; the added-conditioning input = 6 time ids x 8 + pooled 16
    return UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                                use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                                transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=64,
                                cross_attention_dim=32, norm_num_groups=8, **overrides)


def sdxl(folder: Path, scheduler, variant: str | None = None) -> None:
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = clip_tokenizer(_scratch())
    StableDiffusionXLPipeline(vae=_vae(), text_encoder=_clip(CLIPTextModel), tokenizer=tok,
                              text_encoder_2=_clip(CLIPTextModelWithProjection), tokenizer_2=tok, unet=sdxl_unet(),
                              scheduler=scheduler).save_pretrained(folder, variant=variant)


def sd3(folder: Path, scheduler) -> None:
    from diffusers import SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = clip_tokenizer(_scratch())
    transformer = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=1,
                                        attention_head_dim=8, num_attention_heads=2, joint_attention_dim=32,
                                        caption_projection_dim=16, pooled_projection_dim=32, pos_embed_max_size=16)
    StableDiffusion3Pipeline(transformer=transformer, scheduler=scheduler, vae=_vae(shift_factor=0.06),
                             text_encoder=_clip(CLIPTextModelWithProjection), tokenizer=tok,
                             text_encoder_2=_clip(CLIPTextModelWithProjection), tokenizer_2=tok,
                             text_encoder_3=_t5(32), tokenizer_3=t5_tokenizer()).save_pretrained(folder)


def flux(folder: Path, scheduler, guidance_embeds: bool) -> None:
    from diffusers import FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=16, guidance_embeds=guidance_embeds,
                                         axes_dims_rope=(4, 6, 6))
    FluxPipeline(scheduler=scheduler, vae=_vae(shift_factor=0.1), text_encoder=_clip(CLIPTextModel),
                 tokenizer=clip_tokenizer(_scratch()), text_encoder_2=_t5(32), tokenizer_2=t5_tokenizer(),
                 transformer=transformer).save_pretrained(folder)


def zimage(folder: Path, scheduler) -> None:
    from diffusers import ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(0)
    text = Qwen3Model(Qwen3Config(vocab_size=40, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=2, head_dim=16))
    transformer = ZImageTransformer2DModel(in_channels=4, dim=32, n_layers=1, n_refiner_layers=1, n_heads=2,
                                           n_kv_heads=2, cap_feat_dim=32, axes_dims=[4, 6, 6],
                                           axes_lens=[1024, 256, 256])
    ZImagePipeline(scheduler=scheduler, vae=_vae(shift_factor=0.1), text_encoder=text, tokenizer=chat_tokenizer(),
                   transformer=transformer).save_pretrained(folder)
