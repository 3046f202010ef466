"""The parity figures of HPSv2.1, PickScore and FD-DINOv2, from docs/*-parity.json (written by scripts/hps_parity.sh,
scripts/pickscore_parity.py and scripts/fd_dinov2_parity.sh)."""

from __future__ import annotations

from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import Sources

HPS = "docs/hps-parity.json"
PICKSCORE = "docs/pickscore-parity.json"
FD_DINOV2 = "docs/fd-dinov2-parity.json"


def _controls(found: dict[str, float]) -> str:
    return "; ".join(f"{what}: {delta:.3g}" for what, delta in found.items())


def _verdict(p: dict) -> str:
    return "Passed." if p["passed"] else "FAILED."


def _environment(p: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in p["environment"].items())


def _pairwise(path: str, p: dict, unit: str) -> str:
    return (f"Result (`{path}`): **max |difference| {p['max_abs_difference']:.2g}** ({unit}) over "
            f"{len(p['cases'])} image/prompt pairs of sizes {', '.join('x'.join(map(str, c['image_size'])) for c in p['cases'])}"
            f" (tolerance {p['tolerance_abs']:g}). Reference: {p['reference']}. Model: {p['model']}. Negative "
            f"controls the check must catch, each moving the scores by: {_controls(p['negative_controls_max_abs_difference'])}. "
            f"Environment: {_environment(p)}. {_verdict(p)}")


@SECTIONS.register("hps-parity")
def hps_parity(data: Sources) -> str:
    """One paragraph: max difference against hpsv2.score, the controls, the environment."""
    return _pairwise(HPS, data.json(HPS), "raw cosine")


@SECTIONS.register("pickscore-parity")
def pickscore_parity(data: Sources) -> str:
    """One paragraph: max difference against the model card's transformers snippet, the controls."""
    return _pairwise(PICKSCORE, data.json(PICKSCORE), "score units, logit scale 100")


@SECTIONS.register("fd-dinov2-parity")
def fd_dinov2_parity(data: Sources) -> str:
    """One paragraph per reference: relative feature differences, the controls, the note on the two resizes."""
    p = data.json(FD_DINOV2)
    checks = "; ".join(f"{what}: {delta:.2g}" for what, delta in p["checks"].items())
    return (f"Result (`{FD_DINOV2}`): max |difference| / max |reference feature| **{p['max_relative_difference']:.2g}**"
            f" (tolerance {p['tolerance_relative']:g}); per reference: {checks}. Network: {p['network']}. Negative "
            f"controls the check must catch: {_controls(p['negative_controls_relative_difference'])}. {p['note']} "
            f"Environment: {_environment(p)}. {_verdict(p)}")
