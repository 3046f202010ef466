"""The toy CLIP model: an open_clip model from a custom config registered with open_clip, trained contrastively.

Registering the config lets the toy CLIP score go through exactly the same open_clip code (tokenizer, transforms,
`encode_image` / `encode_text`) as the real presets; only the weights differ.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from importlib import resources

import torch

from ddmd_bench.tracks.toy import world
from ddmd_bench.tracks.toy.fitting import fit


MODEL_NAME = "ddmd-toy-clip"
_registered = False


def register() -> None:
    """Make `ddmd-toy-clip` known to open_clip (idempotent)."""
    global _registered
    if not _registered:
        import open_clip  # heavy backend, imported when the toy CLIP is first needed

        open_clip.add_model_config(str(resources.files("ddmd_bench.tracks.toy") / "assets" / f"{MODEL_NAME}.json"))
        _registered = True


class _DropRandomInitNotice(logging.Filter):
    """open_clip warns 'No pretrained weights loaded ... initialized randomly' on the root logger; the shipped toy
    weights are loaded right after, so that notice would mislead users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


@contextlib.contextmanager
def _quiet_open_clip():
    root, notice = logging.getLogger(), _DropRandomInitNotice()
    root.addFilter(notice)
    try:
        yield
    finally:
        root.removeFilter(notice)


def build_clip(seed: int = 0):
    """(model, preprocess, tokenizer) with random weights; load shipped weights with `load_state_dict`."""
    import open_clip  # heavy backend, imported when the toy CLIP is built

    register()
    with torch.random.fork_rng(devices=[]), _quiet_open_clip():
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(MODEL_NAME, pretrained=None)
    return model.eval(), preprocess, open_clip.get_tokenizer(MODEL_NAME)


@dataclass(frozen=True, slots=True)
class ClipTrainConfig:
    """Contrastive training on world samples with partial (but never wrong) captions."""

    steps: int = 800
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 2


def _images_to_tensor(images: torch.Tensor) -> torch.Tensor:
    # The same normalisation open_clip's transform applies (OpenAI mean/std); at 16 px its resize is the identity.
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD  # heavy backend, as in build_clip

    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def train_clip(cfg: ClipTrainConfig):
    """Train with the symmetric InfoNCE loss (open_clip's ClipLoss) and cosine LR decay."""
    from open_clip.loss import ClipLoss  # heavy backend, imported only when the toy CLIP is trained

    model, _, tokenizer = build_clip(cfg.seed)
    model.train()
    loss_fn = ClipLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    noise = world.CaptionNoise(p_omit=0.15, p_wrong=0.0)

    def loss_at(step: int) -> torch.Tensor:
        seeds = [2 * 10**12 + cfg.seed * 10**9 + step * cfg.batch_size + i for i in range(cfg.batch_size)]
        batch = world.make_batch(seeds, noise=noise, allow_held_out=True)
        img, txt, scale = model(_images_to_tensor(batch.images), tokenizer(batch.captions))
        return loss_fn(img, txt, scale)

    return fit(model, opt, cfg.steps, loss_at, "clip", sched)


@torch.no_grad()
def retrieval_accuracy(model, tokenizer, n: int = 1000, seed: int = 7) -> float:
    """Fraction of images whose canonical caption ranks first among the captions of all 180 combinations."""
    combos = world.all_combinations()
    prompts = [world.canonical_prompt(a) for a in combos]
    text = torch.nn.functional.normalize(model.encode_text(tokenizer(prompts)), dim=-1)
    batch = world.make_batch([3 * 10**12 + seed * 10**6 + i for i in range(n)], world.CLEAN, allow_held_out=True)
    image = torch.nn.functional.normalize(model.encode_image(_images_to_tensor(batch.images)), dim=-1)
    best = (image @ text.T).argmax(1)
    truth = torch.tensor([prompts.index(world.canonical_prompt(s.attributes())) for s in batch.scenes])
    return (best == truth).float().mean().item()

