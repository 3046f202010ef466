"""Tiny random backbones for the paper metrics (HPS, PickScore, FD-DINOv2), written in the layouts of the real
weights: an HPS checkpoint file ({"state_dict": ...}) of a registered tiny open_clip config, a transformers
`CLIPModel` repository and a CLIP processor repository, and a transformers `Dinov2Model` repository with DINOv2's
geometry (patch 14, a 37 x 37 position grid), each in a local Hugging Face cache so the resolver finds them as it
would real downloads."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests import factories

PICKSCORE_REPO, PROCESSOR_REPO, DINOV2_REPO, HPS_REPO = ("yuvalkirstain/PickScore_v1",
                                                        "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
                                                        "facebook/dinov2-large", "xswu/HPSv2")
IMAGE_SIZE = 16  # the tiny CLIP's input size (the processor resizes and crops to it)


def hps_model(seed: int = 5):
    """(model, preprocess, tokenizer, model name) of the toy track's open_clip config with random weights."""
    from ddmd_bench.tracks.toy.clip import MODEL_NAME, build_clip, register

    register()
    model, preprocess, tokenizer = build_clip(seed=seed)
    return model, preprocess, tokenizer, MODEL_NAME


def write_hps(folder: Path, filename: str = "HPS_v2.1_compressed.pt", seed: int = 5) -> None:
    """An HPS checkpoint of the tiny open_clip model, as the authors publish theirs (fp16 tensors, "state_dict")."""
    model = hps_model(seed)[0]
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {k: v.half() for k, v in model.state_dict().items()}}, folder / filename)


def pickscore_model(seed: int = 0):
    """A tiny transformers CLIPModel (vision 16 px, patch 4; text vocabulary of the character tokenizer)."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    text = {**factories.TEXT, "max_position_embeddings": 77}
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                  image_size=IMAGE_SIZE, patch_size=4, projection_dim=16)
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16,
                                logit_scale_init_value=4.6052)).eval()


def write_pickscore(folder: Path, seed: int = 0) -> None:
    pickscore_model(seed).save_pretrained(str(folder))


def pickscore_processor():
    """The CLIP processor (bicubic short side + centre crop to 16, OpenAI mean/std) with the character tokenizer."""
    from transformers import CLIPImageProcessor, CLIPProcessor

    image = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE,
                                                                              "width": IMAGE_SIZE})
    return CLIPProcessor(image_processor=image, tokenizer=factories.clip_tokenizer(factories.scratch_folder()))


def write_processor(folder: Path) -> None:
    processor = pickscore_processor()  # the real repository's layout: the image processor and tokenizer files
    processor.image_processor.save_pretrained(str(folder))
    processor.tokenizer.save_pretrained(str(folder))
    special = folder / "special_tokens_map.json"  # the real repository has one; current transformers writes none
    if not special.exists():
        special.write_text(json.dumps({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                                       "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}))


def dinov2_model(seed: int = 0):
    """A tiny transformers Dinov2Model with DINOv2's geometry: 518 px, patch 14 (a 37 x 37 position grid)."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=4, patch_size=14,
                          image_size=518, layerscale_value=1.0)
    return Dinov2Model(config).eval()


def write_dinov2(folder: Path, seed: int = 0) -> None:
    dinov2_model(seed).save_pretrained(str(folder))


def hub(root: Path) -> Path:
    """A local HF cache (set HF_HUB_CACHE to the returned folder) holding all four repositories."""
    cache = factories.HubCache(root)
    cache.add(HPS_REPO, write_hps)
    cache.add(PICKSCORE_REPO, write_pickscore)
    cache.add(PROCESSOR_REPO, write_processor)
    cache.add(DINOV2_REPO, write_dinov2)
    return Path(root)
