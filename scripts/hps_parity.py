"""HPSv2.1 parity: `ddmd_bench.metrics.hps` against the official `hpsv2` package's `score()`, on one randomly
initialised model, with negative controls the check must catch. Run by scripts/hps_parity.sh:

  python scripts/hps_parity.py prepare WORK        random checkpoint, HF cache, images and prompts in WORK
  python scripts/hps_parity.py official WORK       hpsv2.img_score.score(image, prompt, cp, "v2.1"), per pair
  python scripts/hps_parity.py compare WORK OUT    ddmd-bench's scores and the controls; writes OUT (JSON)

Offline, both sides build open_clip's `ViT-H-14` from one reduced configuration (the same layout at width 256-320
and depth 4, so that it runs on a CPU in seconds; the scoring code is the same at any size): the official package
through its own open_clip fork, this project through open_clip. `hpsv2.score` first loads the laion2B weights of
ViT-H-14 from the HF cache, then the HPS checkpoint over every tensor; both files are written here with random
weights. Both sides tokenise with CLIP's real BPE vocabulary (the fork's copy and open_clip's are the same file).
Images are random, square and not (the official transform resizes the longest side to 224 and pads).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from parity_report import write_report  # scripts/, on the path of a script run from it

TOLERANCE_ABS = 1e-5  # raw cosine; float32 features on both sides
REDUCED = {"embed_dim": 256,
           "vision_cfg": {"image_size": 224, "layers": 4, "width": 320, "head_width": 80, "patch_size": 14},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 256, "heads": 4, "layers": 4}}
PROMPTS = ["a photo of a cat", "an astronaut riding a horse on the moon, digital art", "a red cube on a blue sphere",
           "two dogs playing in the snow at sunset, highly detailed, 8k", "x",
           " ".join(["a very long prompt that keeps going"] * 15)]
SIZES = [(224, 224), (512, 512), (300, 200), (200, 333), (1024, 1024), (97, 131)]
LAION_REPO, LAION_FILE = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "open_clip_pytorch_model.bin"


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]


def prepare(work: Path) -> None:
    """The random checkpoint (as the authors publish theirs: fp16 in "state_dict"), the laion file in an HF cache."""
    import hashlib

    import open_clip

    open_clip.factory._MODEL_CONFIGS["ViT-H-14"] = REDUCED
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-H-14", pretrained=None)
    state = {k: v.half() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state}, work / "HPS_v2.1_compressed.pt")
    torch.manual_seed(1)  # the laion weights hpsv2 loads first (every tensor is then replaced by the checkpoint's)
    laion = open_clip.create_model("ViT-H-14", pretrained=None).state_dict()
    commit = hashlib.sha1(LAION_REPO.encode()).hexdigest()
    repo = work / "hf" / "hub" / f"models--{LAION_REPO.replace('/', '--')}"
    (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
    torch.save(laion, repo / "snapshots" / commit / LAION_FILE)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    np.savez(work / "images.npz", *_images())


def _load_images(work: Path) -> list[np.ndarray]:
    with np.load(work / "images.npz") as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def official(work: Path) -> None:
    """hpsv2's own score(), one (image, prompt) pair per call, as its README shows."""
    import hpsv2.src.open_clip.factory as factory
    from PIL import Image

    factory._MODEL_CONFIGS["ViT-H-14"] = REDUCED
    from hpsv2 import img_score

    scores = [float(img_score.score(Image.fromarray(image), prompt, cp=str(work / "HPS_v2.1_compressed.pt"),
                                    hps_version="v2.1")[0])
              for image, prompt in zip(_load_images(work), PROMPTS)]
    (work / "official.json").write_text(json.dumps(scores))


def _ours(work: Path, preprocess=None) -> np.ndarray:
    import open_clip

    from ddmd_bench.metrics.hps import build_hps

    open_clip.factory._MODEL_CONFIGS["ViT-H-14"] = REDUCED
    metric = build_hps("v2.1", weights=work / "HPS_v2.1_compressed.pt", scale=1.0)
    if preprocess is not None:
        metric.preprocess = preprocess
    for image, prompt in zip(_load_images(work), PROMPTS):
        metric.update(torch.from_numpy(image).permute(2, 0, 1)[None].contiguous(), [prompt])
    return np.array(metric.compute().per_sample)


def compare(work: Path, out: Path) -> int:
    import open_clip
    from PIL import Image
    from torchvision import transforms

    from ddmd_bench.metrics.hps import OPENAI_MEAN, OPENAI_STD

    want = np.array(json.loads((work / "official.json").read_text()))
    got = _ours(work)
    crop = transforms.Compose([transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
                               transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize(OPENAI_MEAN, OPENAI_STD)])

    def pil_bicubic(image: Image.Image) -> torch.Tensor:  # PIL's resize instead of the tensor resize
        w, h = image.size
        s = 224 / max(w, h)
        small = image.resize((round(w * s), round(h * s)), Image.BICUBIC)
        canvas = Image.new("RGB", (224, 224))
        canvas.paste(small, ((224 - small.size[0]) // 2, (224 - small.size[1]) // 2))
        return transforms.Normalize(OPENAI_MEAN, OPENAI_STD)(transforms.ToTensor()(canvas))

    controls = {"open_clip's default transform (short side + centre crop)": _ours(work, crop),
                "PIL bicubic resize instead of the tensor resize": _ours(work, pil_bicubic),
                "score x 100 (the printed scale) against the raw score": 100 * got}
    return write_report(
        out, "HPSv2.1",
        definition="cos(image, prompt) of open_clip ViT-H-14 with the HPS v2.1 checkpoint (papers print x 100); "
                   "hpsv2's transform: longest side to 224 (tensor bicubic, antialias), zero padding, OpenAI "
                   "mean/std; open_clip's ViT-H-14 tokenizer",
        reference="hpsv2 1.2.0 (PyPI), img_score.score(image, prompt, cp, hps_version='v2.1')",
        model="ViT-H-14 layout at reduced width and depth (both sides), random weights",
        tolerance=TOLERANCE_ABS, difference=float(np.abs(got - want).max()),
        cases=[{"image_size": list(s), "ours": float(a), "official": float(b)} for s, a, b in zip(SIZES, got, want)],
        controls={k: float(np.abs(v - want).max()) for k, v in controls.items()},
        library=("open_clip", open_clip.__version__))


if __name__ == "__main__":
    step, work = sys.argv[1], Path(sys.argv[2])
    if step == "prepare":
        prepare(work)
    elif step == "official":
        official(work)
    elif step == "compare":
        sys.exit(compare(work, Path(sys.argv[3])))
    else:
        sys.exit(f"unknown step {step!r}: prepare, official or compare")
