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


def _senseflow(group: str, teacher: str) -> Protocol:
    teacher_fid = {"implementation": _UNSTATED, "reference": f"{teacher}'s images for the same prompts"}
    return _protocol(
        f"paper-senseflow-coco5k-{group}", "COCO-5K (the paper's list)", 5_000, 1024,
        {"fid_t": teacher_fid, "patch_fid_t": teacher_fid,
         "clip_score": {"implementation": _UNSTATED, "scale": 1}, "hpsv2": {"implementation": "HPSv2 (version not "
                                                                                             "stated)"},
         "pickscore": {"implementation": "PickScore"}, "image_reward": {"implementation": "ImageReward", "scale": 1}},
        f"SenseFlow (arXiv 2506.00523, ICLR 2026) Table 1, {teacher} students on COCO-5K: FID-T and patch FID-T "
        f"against the teacher's images (its sampler and the patch cut are not stated in the table), CLIP, HPSv2, "
        f"PickScore and ImageReward unscaled; the generation resolution is not stated in the table (1024 recorded).")


SENSEFLOW_SDXL = _senseflow("sdxl", "SDXL")
SENSEFLOW_SD35 = _senseflow("sd35", "SD 3.5 Large")
SENSEFLOW_FLUX = _senseflow("flux", "FLUX.1 dev")

# SenseFlow Table 1 rows: name, steps, NFE, FID-T, patch FID-T, CLIP, HPSv2, PickScore, ImageReward (None: "--")
_SENSEFLOW_T1 = (
    (SENSEFLOW_SDXL, (
        ("SDXL (80 NFE)", None, 80, None, None, 0.3293, 0.2930, 22.67, 0.8719),
        ("LCM-SDXL", 4, 4, 18.47, 30.63, 0.3230, 0.2824, 22.22, 0.5693),
        ("PCM-SDXL", 4, 4, 14.38, 17.77, 0.3242, 0.2920, 22.54, 0.6926),
        ("Flash-SDXL", 4, 4, 17.97, 23.24, 0.3216, 0.2830, 22.17, 0.4295),
        ("SDXL-Lightning", 4, 4, 13.67, 16.57, 0.3214, 0.2931, 22.80, 0.7799),
        ("Hyper-SDXL", 4, 4, 13.71, 17.49, 0.3254, 0.3000, 22.98, 0.9777),
        ("DMD2-SDXL", 4, 4, 15.04, 18.72, 0.3277, 0.2963, 22.98, 0.9324),
        ("SenseFlow-SDXL", 4, 4, 17.76, 21.01, 0.3248, 0.3010, 23.17, 0.9951),
    )),
    (SENSEFLOW_SD35, (
        ("SD 3.5 Large (100 NFE)", None, 100, None, None, 0.3310, 0.2993, 22.98, 1.1629),
        ("SD 3.5 Large Turbo", 4, 4, 13.58, 22.88, 0.3262, 0.2909, 22.89, 1.0116),
        ("SenseFlow-SD 3.5", 4, 4, 13.38, 17.48, 0.3286, 0.3016, 23.01, 1.1713),
        ("SenseFlow-SD 3.5 (Euler)", 4, 4, 15.24, 20.26, 0.3287, 0.3008, 22.90, 1.2062),
    )),
    (SENSEFLOW_FLUX, (
        ("FLUX.1 dev (50 NFE)", None, 50, None, None, 0.3202, 0.3000, 23.18, 1.1170),
        ("FLUX.1 dev (25 NFE)", None, 25, None, None, 0.3207, 0.2986, 23.14, 1.1063),
        ("FLUX.1-schnell", 4, 4, None, None, 0.3264, 0.2962, 22.77, 1.0755),
        ("Hyper-FLUX", 4, 4, 11.24, 23.47, 0.3238, 0.2963, 23.09, 1.0983),
        ("FLUX-Turbo-Alpha", 4, 4, 11.22, 24.52, 0.3218, 0.2907, 22.89, 1.0106),
        ("SenseFlow-FLUX", 4, 4, 15.64, 19.60, 0.3167, 0.2997, 23.13, 1.0921),
        ("SenseFlow-FLUX (Euler)", 4, 4, 16.50, 20.29, 0.3171, 0.3008, 23.26, 1.1424),
    )),
)
_SENSEFLOW_METRICS = ("fid_t", "patch_fid_t", "clip_score", "hpsv2", "pickscore", "image_reward")
SENSEFLOW_CITATION = ("SenseFlow (Ge et al., arXiv 2506.00523, ICLR 2026), Table 1 (COCO-5K), as printed in the "
                      "authors' repository README (github.com/XingtongGe/SenseFlow @ 03091c5)")


def _senseflow_records(protocol: Protocol, rows: tuple[tuple, ...]) -> list[dict[str, Any]]:
    out = []
    for name, steps, nfe, *values in rows:
        note = "printed as Ours in the table" if name.startswith("SenseFlow") else ""
        metrics = {k: v for k, v in zip(_SENSEFLOW_METRICS, values) if v is not None}
        out.append(_entry(protocol, name, steps, metrics, SENSEFLOW_CITATION, note, nfe=nfe))
    return out


def _entry(protocol: Protocol, name: str, steps: int | None, metrics: dict[str, float], source: str,
           note: str = "", nfe: int | None = None) -> dict[str, Any]:
    return {
        "schema_version": 1, "status": "ok",
        "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
        "generator": {"name": name, "steps": steps, "nfe": steps if nfe is None else nfe},
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
    return [(DDMD_TABLE2, ddmd), (DMD2_SDXL, dmd2_sdxl), (DMD2_SD15, dmd2_sd15), (MLPERF_GATE, [gate])] + \
        [(p, _senseflow_records(p, rows)) for p, rows in _SENSEFLOW_T1]
