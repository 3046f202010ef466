"""Configs and builders for the toy teacher: a tiny SD3-style flow-matching transformer plus text encoder.

The denoiser is diffusers' `SD3Transformer2DModel` (MMDiT: joint attention over image patches and text tokens,
adaLN on time + pooled text), working directly in 16x16 RGB pixel space (no VAE): patch tokens carry fixed 2-D
sin-cos positions, so position is learnable, unlike a plain convolution stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ddmd_bench.tracks.toy import text, world


@dataclass(frozen=True, slots=True)
class TransformerConfig:
    """Keyword arguments of `SD3Transformer2DModel` for the toy teacher."""

    sample_size: int = world.RESOLUTION
    patch_size: int = 2
    in_channels: int = 3
    out_channels: int = 3
    num_layers: int = 4
    attention_head_dim: int = 32
    num_attention_heads: int = 4
    joint_attention_dim: int = 64  # = text encoder width
    caption_projection_dim: int = 128  # = heads * head_dim
    pooled_projection_dim: int = 64
    pos_embed_max_size: int = world.RESOLUTION // 2


@dataclass(frozen=True, slots=True)
class TeacherConfig:
    """Everything needed to rebuild the toy teacher's modules before loading weights."""

    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    text_encoder: text.TextEncoderConfig = field(default_factory=text.TextEncoderConfig)
    scheduler_shift: float = 1.0
    prediction: str = "flow"  # velocity v = noise - x0, x_t = (1 - sigma) x0 + sigma noise (diffusers convention)

    def to_dict(self) -> dict:
        """A JSON-serialisable form (stored in checkpoints and manifests)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TeacherConfig:
        """Inverse of `to_dict`."""
        return cls(
            transformer=TransformerConfig(**data["transformer"]),
            text_encoder=text.TextEncoderConfig(**data["text_encoder"]),
            scheduler_shift=data["scheduler_shift"],
            prediction=data["prediction"],
        )


class ToyDenoiser(torch.nn.Module):
    """Text encoder + transformer as one module, so one state dict (and one EMA) covers the whole teacher."""

    def __init__(self, config: TeacherConfig, tokenizer) -> None:
        super().__init__()
        from diffusers import SD3Transformer2DModel  # heavy backend, imported when a denoiser is built

        self.config = config
        self.text_encoder = text.build_text_encoder(config.text_encoder, tokenizer)
        self.transformer = SD3Transformer2DModel(**asdict(config.transformer))

    def encode(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Text conditioning for a batch of token ids."""
        return text.encode(self.text_encoder, input_ids)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Velocity prediction at noise level `sigma` in [0, 1] (diffusers' SD3 takes timestep = 1000 sigma)."""
        hidden, pooled = cond
        return self.transformer(x, hidden, pooled, sigma * 1000.0, return_dict=False)[0]


def build_teacher(config: TeacherConfig | None = None, seed: int = 0) -> tuple[ToyDenoiser, object]:
    """(randomly initialised denoiser, tokenizer) under a fixed seed."""
    tokenizer = text.build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToyDenoiser(config or TeacherConfig(), tokenizer)
    return model, tokenizer
