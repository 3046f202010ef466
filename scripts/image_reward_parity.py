"""ImageReward parity check, three steps (driven by scripts/image_reward_parity.sh):

  prepare WORK     (project env)   synthetic bert-base-uncased HF cache, med_config.json, random images, prompts
  official WORK    (isolated env)  random-init the official model, save ImageReward.pt, score with its `score()`
  keys WORK OUT    (project env)   the official checkpoint's tensor names and shapes, as JSON (a test fixture)
  compare WORK OUT (project env)   load ImageReward.pt into ours strictly, score in batches, compare, write OUT

Every step runs this file by path; the `official` step runs it inside the isolated environment, which has neither
ddmd_bench nor its dependencies, so the top level imports only the standard library and each step imports its own
backends.
"""

from __future__ import annotations

import dataclasses
import json
import math
import string
import sys
from pathlib import Path

MED_CONFIG = {  # BLIP's med_config.json as shipped with THUDM/ImageReward (BERT-base with cross-attention)
    "architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
    "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12,
    "num_hidden_layers": 12, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 30524, "encoder_width": 768,
    "add_cross_attention": True}
PROMPTS = [
    "a red cat sitting on a blue chair",
    "a photo of an astronaut riding a horse on the moon, highly detailed, dramatic light",
    "",
    "two dogs",
    " ".join(["a very long prompt that goes on"] * 12),  # longer than 35 tokens: truncation must agree
    "Ein Hund im Schnee, 4k!",
]
SIZES = [(224, 224), (256, 256), (300, 200), (64, 96), (512, 384), (16, 16)]
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"


def _vocab() -> list[str]:
    """30,522 tokens laid out like bert-base-uncased (ids 0, 100-103 special), covering the test prompts."""
    special = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for p in PROMPTS for w in p.lower().replace(",", " , ").replace("!", " ! ").split()})
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = words + chars + ["##" + c for c in string.ascii_lowercase + string.digits]
    filler = [f"tok{i}" for i in range(30522 - len(special) - len(pieces))]
    return special + pieces + filler


def prepare(work: Path) -> None:
    """Inputs shared by both sides."""
    import numpy as np
    from PIL import Image

    vocab = "\n".join(_vocab()) + "\n"
    for repo in ("bert-base-uncased", "google-bert--bert-base-uncased"):
        base = work / "hf" / "hub" / f"models--{repo}"
        (base / "snapshots" / SNAPSHOT).mkdir(parents=True, exist_ok=True)
        (base / "refs").mkdir(exist_ok=True)
        (base / "refs" / "main").write_text(SNAPSHOT)
        (base / "snapshots" / SNAPSHOT / "vocab.txt").write_text(vocab)
        (base / "snapshots" / SNAPSHOT / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    (work / "med_config.json").write_text(json.dumps(MED_CONFIG, indent=1))
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(SIZES):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(work / f"image{i}.png")
    (work / "prompts.json").write_text(json.dumps(PROMPTS))


def official(work: Path) -> None:
    """Runs in the isolated environment with `image-reward==1.5` installed."""
    import torch
    from ImageReward.ImageReward import ImageReward
    from PIL import Image

    torch.manual_seed(0)
    model = ImageReward(med_config=str(work / "med_config.json"), device="cpu").eval()
    with torch.no_grad():
        # A generic random network with O(1) activations everywhere: matrices ~ N(0, 1/fan_in), norms ~ 1 + noise,
        # vectors ~ noise. (BLIP's own small init makes image tokens nearly identical, so cross-attention is almost
        # uniform and a parity check on it would prove little.)
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))
            else:
                is_norm_weight = ("norm" in name.lower()) and name.endswith("weight")
                p.copy_(float(is_norm_weight) + 0.1 * torch.randn_like(p))
    torch.save(model.state_dict(), work / "ImageReward.pt")
    prompts = json.loads((work / "prompts.json").read_text())
    scores = [[float(model.score(p, Image.open(work / f"image{i}.png"))) for i in range(len(SIZES))] for p in prompts]
    (work / "official.json").write_text(json.dumps({"scores": scores, "torch": torch.__version__}))


def compare(work: Path, out: Path) -> float:
    """Our implementation on the same checkpoint and inputs; returns max |ours - official|."""
    import numpy as np
    import torch
    import transformers
    from PIL import Image

    from ddmd_bench.metrics.image_reward import (ImageReward, ImageRewardConfig, ImageRewardModel, blip_tokenizer,
                                                 load_official)
    from ddmd_bench.resolver import WEIGHTS, resolve

    vocab = resolve(WEIGHTS.get("bert-base-uncased-vocab"), allow_download=False)
    config = ImageRewardConfig.from_med_config(json.loads((work / "med_config.json").read_text()))
    model = load_official(ImageRewardModel(config), torch.load(work / "ImageReward.pt", map_location="cpu",
                                                                weights_only=True))
    metric = ImageReward(model, blip_tokenizer(str(vocab)), weights_sha256="random-init")
    prompts = json.loads((work / "prompts.json").read_text())
    images = [torch.from_numpy(np.array(Image.open(work / f"image{i}.png"))).permute(2, 0, 1) for i in range(len(SIZES))]
    ours = [[float(metric.score(im[None], [p])[0]) for im in images] for p in prompts]
    # Batched scoring must agree with one-by-one scoring (same-size images batch together).
    batched = metric.score(torch.stack([images[0]] * len(prompts)), prompts).tolist()
    theirs = json.loads((work / "official.json").read_text())["scores"]
    diff = float(np.max(np.abs(np.array(ours) - np.array(theirs))))
    batch_diff = float(np.max(np.abs(np.array(batched) - np.array([row[0] for row in ours]))))
    # Negative controls: the comparison must be able to fail, on the image path and on the prompt path.
    def row_diff(row: int) -> float:
        scores = [float(metric.score(images[j][None], [prompts[row]])[0]) for j in range(len(SIZES))]
        return float(np.max(np.abs(np.array(scores) - np.array(theirs[row]))))

    controls = {}
    with torch.no_grad():
        model.vision.post_layernorm.bias.add_(0.05)
        controls["image tokens: vision output LayerNorm bias + 0.05"] = row_diff(0)
        model.vision.post_layernorm.bias.sub_(0.05)
    config = model.config
    model.config = dataclasses.replace(config, max_length=34)
    controls["prompt: truncation at 34 tokens instead of 35 (long prompt)"] = row_diff(4)
    model.config = config
    result = {"max_abs_difference": diff, "max_abs_difference_batched_vs_single": batch_diff,
              "pairs": len(prompts) * len(SIZES), "official": "image-reward 1.5 with transformers 4.55.4",
              "ours_transformers": transformers.__version__, "torch": torch.__version__,
              "official_scores_range": [float(np.min(theirs)), float(np.max(theirs))],
              "official_scores_std": float(np.std(theirs)), "tolerance": 1e-4,
              "negative_controls_max_abs_difference": controls,
              "passed": diff <= 1e-4 and batch_diff <= 1e-4 and all(v > 1e-4 for v in controls.values())}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    if not result["passed"]:
        raise SystemExit(f"ImageReward parity failed: max |difference| {diff:.3g} (batched {batch_diff:.3g}), "
                         f"negative controls {controls} (each must exceed the 1e-4 tolerance)")
    return diff


def keys(work: Path, out: Path) -> None:
    """Write [[name, shape], ...] of the official model's state_dict (sorted by name): what a converted checkpoint
    must cover, so tests can check the key map against the official names without the package installed."""
    import torch

    state = torch.load(work / "ImageReward.pt", map_location="cpu", weights_only=True)
    rows = [[name, list(t.shape)] for name, t in sorted(state.items())]
    header = {"source": "image-reward 1.5, ImageReward(med_config=BLIP med_config.json).state_dict()",
              "med_config": MED_CONFIG}
    lines = ",\n".join(json.dumps(r) for r in rows)  # one tensor per line, so a diff shows which one changed
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(header)[:-1] + ', "state_dict": [\n' + lines + "\n]}\n")
    print(f"{len(rows)} tensors -> {out}")


if __name__ == "__main__":
    step, work = sys.argv[1], Path(sys.argv[2])
    {"prepare": lambda: prepare(work), "official": lambda: official(work), "keys": lambda: keys(work, Path(sys.argv[3])),
     "compare": lambda: compare(work, Path(sys.argv[3]))}[step]()
