"""Published numbers as `reported` leaderboard entries, each under a protocol describing the paper's own setup.

They are never mixed with measured results: a paper's protocol (its prompt list, resolution, metric code) differs
from ours, so each source gets its own protocol and file. Each entry's `source.citation` names the paper or
repository its numbers were copied from (docs/protocols.md).
"""

from __future__ import annotations

from typing import Any

from ddmd_bench.metrics import catalog
from ddmd_bench.protocol import Protocol
from ddmd_bench.tracks.literature.gates import MLPERF_SDXL_GATE

_UNSTATED = "as reported; implementation details not stated in the source"


def _protocol(name: str, prompts: str, n: int, resolution: int, metrics: dict[str, dict], description: str) -> Protocol:
    return Protocol(name=name, version=1, track="reported",
                    prompt_set={"name": prompts, "version": 1, "n": n, "sha256": None},
                    images_per_prompt=1, resolution=resolution, seed_rule="not stated", seed_base=0,
                    metrics=metrics, description=description)


DDMD_TABLE2 = _protocol(
    "paper-ddmd-sdxl-coco10k", "COCO-2014 val, 10k prompts (the paper's list)", 10_000, 1024,
    {"fid": {"implementation": _UNSTATED}, "clip_score": {"implementation": _UNSTATED, "scale": 100},
     "image_reward": {"implementation": "ImageReward v1.0", "scale": 100},
     "hpsv21": {"implementation": "HPS v2.1"}, "hpsv3": {"implementation": "HPS v3"}},
    "Decoupled DMD (arXiv 2511.22677, ICLR 2026) Table 2: SDXL students, DMD2's setup with only the schedule "
    "changed; CLIP and ImageReward x100.")

DMD2_SDXL = _protocol(
    "paper-dmd2-sdxl-coco10k", "DMD2 coco10k list", 10_000, 1024,
    {"fid": {"implementation": "clean-fid (DMD2 fork, in-memory)", "eval_resolution": 512}},
    "DMD2 (Yin et al. 2024) model zoo, SDXL: generate 1024, evaluate at 512.")

DMD2_SD15 = _protocol(
    "paper-dmd2-sd15-coco30k", "COCO-2014 val 30k captions (GigaGAN protocol)", 30_000, 512,
    {"fid": {"implementation": "clean-fid", "eval_resolution": 256}},
    "GigaGAN COCO-30k protocol as used by DMD and DMD2 for SD1.5 (one random caption of five per image).")

MLPERF_GATE = _protocol(
    "mlperf-sdxl-5k-gate", "COCO-2014, 5k prompts (MLPerf Inference SDXL)", 5_000, 1024,
    {"fid": {"implementation": "MLPerf reference (Inception)"},
     "clip_score": {"implementation": "open_clip ViT-B-32 (OpenAI weights)", "scale": 100}},
    "MLPerf Inference SDXL (v5 rules): a result must fall inside both ranges to be valid.")


def _entry(protocol: Protocol, name: str, steps: int | None, metrics: dict[str, float], source: str,
           note: str = "") -> dict[str, Any]:
    return {
        "schema_version": 1, "status": "ok",
        "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
        "generator": {"name": name, "steps": steps, "nfe": steps},
        "metrics": {k: {"status": "ok", "value": v, "higher_is_better": catalog.direction(k, default=True),
                        "n": None}
                    for k, v in metrics.items()},
        "source": {"citation": source, "note": note},
        "latency": {},
    }


def _range(low: float, high: float, higher_is_better: bool) -> dict[str, Any]:
    return {"status": "ok", "value": None, "ci_low": low, "ci_high": high, "higher_is_better": higher_is_better,
            "details": {"kind": "acceptance range (inclusive)"}}


def reported_sets() -> list[tuple[Protocol, list[dict[str, Any]]]]:
    """Every built-in reported set: (protocol, records)."""
    t2 = "Decoupled DMD, arXiv 2511.22677, Table 2"
    ddmd = [
        _entry(DDMD_TABLE2, "DMD2 (SDXL, 4-step)", 4, {"fid": 18.95, "clip_score": 33.14, "image_reward": 71.01,
                                                      "hpsv21": 30.64, "hpsv3": 9.64}, t2),
        _entry(DDMD_TABLE2, "Decoupled DMD (SDXL, 4-step)", 4, {"fid": 17.80, "clip_score": 33.62,
                                                                "image_reward": 78.61, "hpsv21": 30.34,
                                                                "hpsv3": 9.79}, t2),
    ] + [_entry(DDMD_TABLE2, name, None, {"fid": fid}, t2, "only FID copied here; steps as in the paper's table")
         for name, fid in (("LCM (SDXL)", 22.27), ("SDXL-Turbo", 27.27), ("SDXL-Lightning", 24.49),
                           ("Flash Diffusion (SDXL)", 22.96), ("PCM (SDXL)", 24.13))]
    zoo = "DMD2 repository (github.com/tianweiy/DMD2), model zoo / paper"
    dmd2_sdxl = [_entry(DMD2_SDXL, name, steps, {"fid": fid}, zoo)
                 for name, steps, fid in (("DMD2 SDXL 4-step", 4, 19.32), ("DMD2 SDXL 4-step LoRA", 4, 19.68),
                                          ("DMD2 SDXL 1-step", 1, 19.01))]
    dmd2_sd15 = [_entry(DMD2_SD15, "DMD2 SD1.5 1-step", 1, {"fid": 8.35}, zoo),
                 _entry(DMD2_SD15, "DMD SD1.5 1-step", 1, {"fid": 11.49}, "DMD (Yin et al., CVPR 2024)")]
    gate = _entry(MLPERF_GATE, "MLPerf SDXL accuracy gate", None, {}, "MLPerf Inference rules v5, SDXL benchmark")
    gate["metrics"] = {r.metric: _range(r.low, r.high, catalog.direction(r.metric)) for r in MLPERF_SDXL_GATE.ranges}
    return [(DDMD_TABLE2, ddmd), (DMD2_SDXL, dmd2_sdxl), (DMD2_SD15, dmd2_sd15), (MLPERF_GATE, [gate])]
