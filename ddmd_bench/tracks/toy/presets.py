"""The toy track's distillation presets as data (`ddmd-bench train <preset>`): the DMD2 and Decoupled DMD baselines
and the configurations the paper's ablation arms start from.

The DMD baseline is DMD2's loss (coupled schedule, shared CFG normaliser); the decoupled arms use per-branch
normalisation (the best available form, docs/trainer.md), so schedule and normaliser both change between
DMD and Decoupled DMD, as in the paper. Guidance 3 is the toy teacher's shipped CFG scale.
"""

from __future__ import annotations

from ddmd_bench.registry import Registry
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.losses import DMDLossConfig

DISTILL_PRESETS: Registry = Registry("training preset")

_FOUR, _ONE = 4, 1


def _toy(schedule: str, normalization: str = "per_branch", terms: str = "both", sigmas=_FOUR,
         **kw) -> DistillConfig:
    return DistillConfig(loss=DMDLossConfig(schedule=schedule, normalization=normalization, terms=terms),
                         student_steps=sigmas, **kw)


DISTILL_PRESETS.add("toy-dmd-4step", _toy("coupled", "shared_cfg"))
DISTILL_PRESETS.add("toy-ddmd-full-4step", _toy("decoupled-full"))
DISTILL_PRESETS.add("toy-ddmd-constrained-4step", _toy("decoupled-constrained"))
DISTILL_PRESETS.add("toy-ddmd-4step", _toy("decoupled-hybrid"))
DISTILL_PRESETS.add("toy-ca-only-4step", _toy("decoupled-hybrid", terms="ca"))
DISTILL_PRESETS.add("toy-dm-only-4step", _toy("decoupled-hybrid", terms="dm"))
DISTILL_PRESETS.add("toy-dmd-1step", _toy("coupled", "shared_cfg", sigmas=_ONE))
DISTILL_PRESETS.add("toy-ddmd-1step", _toy("decoupled-hybrid", sigmas=_ONE))
# DMD2 with its GAN head on the fake model (generator weight 1e-3 as for SD1.5; real images rendered by the toy world).
DISTILL_PRESETS.add("toy-dmd-gan-4step", _toy("coupled", "shared_cfg").with_overrides(gan_weight=1e-3))
# No CFG at all: the unconditional case, where CA vanishes and only DM remains.
DISTILL_PRESETS.add("toy-uncond-dmd-4step", DistillConfig(
    loss=DMDLossConfig(schedule="coupled", normalization="per_branch", terms="dm", guidance=1.0),
    unconditional=True))


def get_preset(name: str) -> DistillConfig:
    """A preset by name (did-you-mean error on a typo)."""
    return DISTILL_PRESETS.get(name)
