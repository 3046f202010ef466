"""PickScore parity: the `PickScore` metric object against the authors' reference computation written directly
with transformers (the snippet on the PickScore_v1 model card: processor -> get_image_features /
get_text_features -> normalise -> logit_scale.exp() * dot), one (image, prompt) pair at a time, with negative
controls the check must catch.

  python scripts/pickscore_parity.py [OUT]     (default OUT: docs/pickscore-parity.json)

Offline: the model is a randomly initialised CLIP with the real processor settings (224 px, patch 14, bicubic
short-side resize + centre crop, OpenAI mean/std, 77 tokens), and the tokenizer is CLIP's real BPE vocabulary,
rebuilt from the copy open_clip ships (the laion processor's tokenizer uses the same 49,408 tokens). Images are
random, of several sizes and aspect ratios (the processor resizes them); prompts include ones longer than 77 tokens.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from parity_report import write_report  # scripts/, on the path of a script run from it
from PIL import Image

TOLERANCE_ABS = 1e-3  # scores are ~ logit_scale (100) x cosine; float32 on both sides, different batching
PROMPTS = ["a photo of a cat", "an astronaut riding a horse on the moon, digital art",
           "a red cube on a blue sphere", "two dogs playing in the snow at sunset, highly detailed, 8k",
           " ".join(["a very long prompt that keeps going"] * 15), "x"]
SIZES = [(224, 224), (512, 512), (300, 200), (200, 333), (1024, 1024), (97, 131)]


def clip_tokenizer_files(folder: Path) -> None:
    """vocab.json and merges.txt of CLIP's BPE, from open_clip's bpe_simple_vocab_16e6.txt.gz (the same
    construction as open_clip's SimpleTokenizer and transformers' CLIPTokenizer)."""
    import open_clip.tokenizer as oct

    merges = gzip.open(oct.default_bpe()).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(oct.bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")


def build_folders(root: Path) -> tuple[Path, Path]:
    """A random CLIP (CLIP-H's geometry at reduced width and depth) and a processor folder in the laion layout."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    torch.manual_seed(0)
    text = dict(vocab_size=49408, hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=4,
                max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)
    vision = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=4,
                  image_size=224, patch_size=14)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=64,
                                 logit_scale_init_value=4.6052))
    model_dir, proc_dir = root / "model", root / "processor"
    model.save_pretrained(str(model_dir))
    clip_tokenizer_files(root / "bpe")
    tokenizer = CLIPTokenizer(str(root / "bpe" / "vocab.json"), str(root / "bpe" / "merges.txt"),
                              model_max_length=77, pad_token="<|endoftext|>")
    tokenizer.save_pretrained(str(proc_dir))
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(
        str(proc_dir))
    return model_dir, proc_dir


def images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for h, w in SIZES]


def reference(model_dir: Path, proc_dir: Path, pics: list[torch.Tensor], prompts: list[str], *,
              scale: bool = True, max_length: int = 77, resample=None) -> np.ndarray:
    """The authors' snippet, pair by pair (the switches make the negative controls)."""
    from transformers import CLIPModel, CLIPProcessor

    model, processor = CLIPModel.from_pretrained(str(model_dir)).eval(), CLIPProcessor.from_pretrained(str(proc_dir))
    out = []
    with torch.no_grad():
        for pic, prompt in zip(pics, prompts):
            image = Image.fromarray(pic.permute(1, 2, 0).numpy())
            kwargs = {} if resample is None else {"resample": resample}
            image_inputs = processor(images=image, return_tensors="pt", **kwargs)
            text_inputs = processor(text=prompt, padding=True, truncation=True, max_length=max_length,
                                    return_tensors="pt")
            image_embs = model.get_image_features(**image_inputs).pooler_output
            image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
            text_embs = model.get_text_features(**text_inputs).pooler_output
            text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
            factor = model.logit_scale.exp() if scale else 1.0
            out.append(float(factor * (text_embs @ image_embs.T)[0, 0]))
    return np.array(out)


def ours(model_dir: Path, proc_dir: Path, pics: list[torch.Tensor], prompts: list[str]) -> np.ndarray:
    """The metric object, fed in batches of equal-sized images (uint8 batches must share a size)."""
    from ddmd_bench.metrics.pickscore import load_pickscore

    metric = load_pickscore(model_dir, proc_dir, weights_sha256="random")
    for pic, prompt in zip(pics, prompts):
        metric.update(pic[None], [prompt])
    return np.array(metric.compute().per_sample)


def main(out: Path) -> int:
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, proc_dir = build_folders(Path(tmp))
        pics = images()
        got = ours(model_dir, proc_dir, pics, PROMPTS)
        want = reference(model_dir, proc_dir, pics, PROMPTS)
        controls = {
            "raw cosine (no logit_scale.exp())": reference(model_dir, proc_dir, pics, PROMPTS, scale=False),
            "prompts truncated at 35 tokens": reference(model_dir, proc_dir, pics, PROMPTS, max_length=35),
            "bilinear instead of bicubic resize": reference(model_dir, proc_dir, pics, PROMPTS, resample=2),
        }
    return write_report(
        out, "PickScore",
        definition="logit_scale.exp() * cos(image, prompt), CLIPProcessor (bicubic short side 224, centre crop, "
                   "OpenAI mean/std), 77 tokens",
        reference="the PickScore_v1 model card's snippet, written with transformers, one pair at a time",
        model="random CLIP (224 px, patch 14, width 128, 3 layers; logit scale 100), CLIP's real BPE tokenizer",
        tolerance=TOLERANCE_ABS, difference=float(np.abs(got - want).max()),
        cases=[{"image_size": list(s), "prompt_words": len(p.split()), "ours": float(a), "reference": float(b)}
               for s, p, a, b in zip(SIZES, PROMPTS, got, want)],
        controls={k: float(np.abs(got - v).max()) for k, v in controls.items()},
        library=("transformers", transformers.__version__))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" /
                  "pickscore-parity.json"))
