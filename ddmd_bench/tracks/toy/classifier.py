"""The toy attribute classifier: its heads give prompt accuracy, its penultimate layer gives toy-FID features.

Besides the four named attributes it also predicts the unnamed background tone and stripes, so its features see
background variety: a generator that collapses backgrounds is penalised by FID even when every prompt is obeyed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ddmd_bench.tracks.toy import world
from ddmd_bench.tracks.toy.fitting import fit


HEADS = {**{k: len(v) for k, v in world.ATTRIBUTE_VALUES.items()}, "background": len(world.BACKGROUNDS), "stripes": 2}


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    """Widths of the classifier."""

    width: int = 48
    feature_dim: int = 128


class AttributeClassifier(nn.Module):
    """Conv stack -> flatten (keeps where things are) -> feature layer -> one linear head per attribute."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()) -> None:
        super().__init__()
        w = config.width
        self.config = config
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.SiLU(),  # 8x8
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.SiLU(),  # 4x4
            nn.Flatten(),
            nn.Linear(2 * w * 16, config.feature_dim), nn.SiLU(),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(config.feature_dim, n) for name, n in HEADS.items()})

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """uint8 [N,3,16,16] -> float in [-1, 1]."""
        return images.float() / 127.5 - 1.0

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, feature_dim] of uint8 images (the toy FID feature space)."""
        return self.body(self.preprocess(images))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per head."""
        f = self.features(images)
        return {name: head(f) for name, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> dict[str, list[str]]:
        """Predicted named attributes as strings."""
        logits = self(images)
        return {name: [values[i] for i in logits[name].argmax(1).tolist()]
                for name, values in world.ATTRIBUTE_VALUES.items()}


@dataclass(frozen=True, slots=True)
class ClassifierTrainConfig:
    """Training run of the classifier on fresh world samples (held-out pairs included: it is an evaluator)."""

    model: ClassifierConfig = ClassifierConfig()
    steps: int = 1000
    batch_size: int = 256
    lr: float = 2e-3
    seed: int = 1


def train_classifier(cfg: ClassifierTrainConfig) -> AttributeClassifier:
    """Train with Adam and cosine decay on an endless stream of world samples."""
    torch.manual_seed(cfg.seed)
    model = AttributeClassifier(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)

    def loss_at(step: int) -> torch.Tensor:
        seeds = [10**12 + cfg.seed * 10**9 + step * cfg.batch_size + i for i in range(cfg.batch_size)]
        batch = world.make_batch(seeds, noise=world.CLEAN, allow_held_out=True)
        logits, labels = model(batch.images), batch.labels()
        return sum(nn.functional.cross_entropy(logits[k], labels[k]) for k in HEADS)

    return fit(model, opt, cfg.steps, loss_at, "classifier", schedule)


@torch.no_grad()
def accuracy(model: AttributeClassifier, n: int = 5000, seed: int = 12345) -> dict[str, float]:
    """Per-head and all-attribute accuracy on fresh samples (all combinations, held-out pairs included)."""
    batch = world.make_batch([10**13 + seed * 10**6 + i for i in range(n)], noise=world.CLEAN, allow_held_out=True)
    logits, labels = model(batch.images), batch.labels()
    correct = {k: (logits[k].argmax(1) == labels[k]) for k in HEADS}
    out = {k: v.float().mean().item() for k, v in correct.items()}
    out["all_attributes"] = torch.stack([correct[k] for k in world.ATTRIBUTES]).all(0).float().mean().item()
    return out

