"""The ImageReward parity figures, from docs/image-reward-parity.json (written by scripts/image_reward_parity.sh)."""

from __future__ import annotations

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import Sources

PARITY = "docs/image-reward-parity.json"


@SECTIONS.register("image-reward-parity")
def image_reward_parity(data: Sources) -> str:
    """One paragraph: max difference, spread, batched vs single, negative controls."""
    p = data.json(PARITY)
    lo, hi = p["official_scores_range"]
    controls = "; ".join(f"{what}: {delta:.2g}" for what, delta in p["negative_controls_max_abs_difference"].items())
    verdict = "bit-identical" if p["max_abs_difference"] == 0 else f"within tolerance {p['tolerance']:g}"
    return (f"Result (`{PARITY}`): **max |difference| "
            f"{p['max_abs_difference']:g}** over {p['pairs']} pairs ({verdict}; official scores spread over "
            f"[{lo:.2f}, {hi:.2f}]), batched vs one-by-one {p['max_abs_difference_batched_vs_single']:.2g}, and "
            f"negative controls that the check must catch (tolerance {p['tolerance']:g}), each moving the scores "
            f"by: {controls}. Official side: {p['official']}; ours: transformers {p['ours_transformers']}, torch "
            f"{p['torch']}. {'Passed.' if p['passed'] else 'FAILED.'}")
