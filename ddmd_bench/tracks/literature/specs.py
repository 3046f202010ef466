"""Protocols from the literature, as data: prompt sources, resolutions, FID and CLIP definitions, data files, gates.

Facts are from the papers and official evaluation code listed in docs/protocols.md:

- coco30k-256: the GigaGAN COCO protocol used by DMD and DMD2 for SD1.5. 30k COCO-2014 val captions (DMD2 ships
  its list, `captions_coco14_test.txt`; the original recipe is one random caption of five per image, seeded), images
  generated at 512, both generated and reference images centre-cropped and LANCZOS-resized to 256, then clean-fid
  (Inception, clean mode) against all val2014 images (DMD2 `--ref_dir val2014`); CLIP score is the raw cosine of
  OpenCLIP ViT-g-14 with the prefix "A photo depicts ". Reported: DMD2 SD1.5 1-step 8.35, DMD 11.49.
- coco10k-512-patch: DMD2's SDXL evaluation. Its own 10k prompt list and the matching 10k COCO images
  (`coco10k/all_prompts.pkl`, `coco10k/subset`), generation at 1024, FID at 512 (same crop + LANCZOS), and "patch
  FID" on the centre 299x299 crop at full resolution; CLIP ViT-g-14. Reported: 4-step 19.32, 1-step 19.01.
- ddmd-sdxl-coco10k: the Decoupled DMD paper's SDXL table: DMD2's coco10k setup (FID at 512, CLIP ViT-g-14) plus
  ImageReward and HPSv2.1, printed x 100. Reported in its Table 2: DMD2 4-step FID 18.95, Decoupled DMD 17.80.
- senseflow-coco5k-{sdxl,sd35,flux}: SenseFlow's COCO-5K table (arXiv 2506.00523, Table 1): FID-T and patch FID-T
  against the teacher's own images for the same prompts and seeds, CLIP score raw cosine, HPSv2, PickScore and
  ImageReward unscaled, one protocol per teacher (an FID-T only compares against one teacher's images).
- mlperf-sdxl-5k: MLPerf Inference SDXL. 5,000 COCO-2014 val captions, one per image, at 1024; FID and CLIP score
  100 cos with OpenCLIP ViT-B-32 (OpenAI weights), under a two-sided accuracy gate.

Specs import neither torch nor any model: listing or building a protocol never loads weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddmd_bench.tracks.literature.datafiles import DataFile
from ddmd_bench.gates import QualityGate
from ddmd_bench.registry import Registry
from ddmd_bench.tracks.literature.gates import MLPERF_SDXL_GATE


@dataclass(frozen=True, slots=True)
class PromptSource:
    """Where a protocol's prompts come from: a data file in a prompt format, optionally a seeded COCO sample."""

    file: DataFile
    fmt: str  # a ddmd_bench.prompts.FORMATS name
    set_name: str  # the prompt set's name in the protocol
    label: str  # recorded as prompt_set["source"]
    name_suffix: str = ""  # appended to the protocol name: only the canonical list keeps the bare name
    sample_seed: int | None = None  # COCO annotations: seed of the one-caption-per-image sample


@dataclass(frozen=True, slots=True)
class FidSpec:
    """One FID of a protocol: feature extractor, evaluation transform, and the reference statistics it needs."""

    metric: str  # name in the protocol's metrics ("fid", "patch_fid")
    extractor: str  # a ddmd_bench.metrics.reference.EXTRACTORS name
    eval_transform: str  # a ddmd_bench.metrics.eval_resize.EVAL_TRANSFORMS name (applied to both image sets)
    stats: DataFile
    reference_id: str  # which images the statistics are of
    reference_n: int | None  # how many, where the protocol fixes it
    # FID-T: the model (hub id) whose images for the protocol's prompts and seeds the statistics must be of; None: an
    # FID against real images
    teacher: str | None = None


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """The protocol's latency settings (the fields of metrics.latency.LatencyConfig, kept torch-free here)."""

    warmup: int
    rounds: int
    batch_size: int
    what: str


@dataclass(frozen=True, slots=True)
class LiteratureSpec:
    """Everything that defines a literature protocol apart from the user's data files' contents."""

    name: str
    version: int
    n_prompts: int
    resolution: int  # generation resolution
    prompt_sources: tuple[PromptSource, ...]  # alternatives; the first is the canonical list
    fids: tuple[FidSpec, ...]
    clip_preset: str  # a ddmd_bench.metrics.clip_presets.PRESETS name
    latency: LatencyPlan
    reported: str | None  # the `reported` leaderboard protocol holding the paper's numbers for this setup
    description: str
    gate: QualityGate | None = None
    seed_base: int = 0
    # per-sample scores beside FID and CLIP: (a tracks.literature.scores.SCORES name, the scale the paper prints)
    scores: tuple[tuple[str, float], ...] = ()

    @property
    def data_files(self) -> tuple[DataFile, ...]:
        """Every file this protocol can read, prompt sources first."""
        return tuple(s.file for s in self.prompt_sources) + tuple(f.stats for f in self.fids)

    def fid(self, metric: str) -> FidSpec:
        """The FID spec named `metric`."""
        for f in self.fids:
            if f.metric == metric:
                return f
        raise KeyError(f"protocol {self.name} has no FID metric {metric!r}; it has {[f.metric for f in self.fids]}")


_COCO_JSON = DataFile(
    "coco_captions", "the COCO-2014 val caption annotations, captions_val2014.json (images[{id, file_name, width, "
    "height}], annotations[{id, image_id, caption}]); one caption per image is drawn with a fixed seed",
    "annotations_trainval2014.zip from cocodataset.org (annotations CC BY 4.0)", filename="captions_val2014.json")

_DMD2_30K = DataFile(
    "captions", "DMD2's list of 30,000 COCO-2014 val captions, one per line (the prompts behind its SD1.5 FID 8.35)",
    "github.com/tianweiy/DMD2 @ 8d8fa55, main/coco_eval/captions_coco14_test.txt (repository CC BY-NC-SA 4.0, "
    "captions COCO CC BY 4.0)",
    sha256="edabd2a556026cbf5d36a5fffa35ad43d7ba71b72f6d640b727c1edefb7f1945", filename="captions_coco14_test.txt")

_DMD2_10K = DataFile(
    "captions", "DMD2's coco10k prompt list as UTF-8 text, one prompt per line in the original order (ddmd-bench "
    "never unpickles files: convert all_prompts.pkl, a pickled list of strings, yourself)",
    "DMD2 scripts/download_sdxl.sh, coco10k/all_prompts.pkl (github.com/tianweiy/DMD2, experiments/sdxl/README.md)",
    filename="coco10k_prompts.txt")

_MLPERF_TSV = DataFile(
    "captions", "MLPerf's 5,000 COCO-2014 val captions, one per image (TSV header id, image_id, caption, height, "
    "width, file_name, coco_url)",
    "github.com/mlcommons/inference, text_to_image/coco2014/captions/captions_source.tsv (or its tools/coco.py)",
    filename="captions_source.tsv")


def _stats(key: str, protocol: str, metric: str, images: str) -> DataFile:
    return DataFile(
        key, f"ddmd-bench reference statistics (.npz) of {images}, made for protocol {protocol}, metric {metric}",
        f"make them once with ddmd_bench.tracks.literature.reference_stats.make_reference_stats({protocol!r}, {metric!r}, "
        f"<images folder or zip>, <out.npz>) (`ddmd-bench stats make --protocol {protocol}`)",
        filename=f"{protocol}-{metric}.npz")


_LATENCY_WHAT = "generate() for one prompt: text encoding, denoising loop, VAE decode, uint8 conversion"
DEFAULT_LATENCY = LatencyPlan(warmup=3, rounds=10, batch_size=1, what=_LATENCY_WHAT)  # the COCO protocols' settings

COCO30K_256 = LiteratureSpec(
    name="coco30k-256", version=1, n_prompts=30_000, resolution=512,
    prompt_sources=(
        PromptSource(_DMD2_30K, "txt", "dmd2-coco2014-val-30k", "DMD2 captions_coco14_test.txt"),
        PromptSource(_COCO_JSON, "coco", "coco2014-val-sample-30k-s0",
                     "captions_val2014.json, one caption per image for 30,000 seeded images", "-cocosample-s0",
                     sample_seed=0),
    ),
    fids=(FidSpec("fid", "inception", "crop-lanczos-256",
                  _stats("reference_stats", "coco30k-256", "fid", "all 40,504 COCO-2014 val images (val2014)"),
                  "coco2014-val2014-all", 40_504),),
    clip_preset="dmd2",
    latency=LatencyPlan(warmup=3, rounds=10, batch_size=1, what=_LATENCY_WHAT),
    reported="paper-dmd2-sd15-coco30k",
    description="GigaGAN COCO-30k protocol as used by DMD and DMD2 for SD1.5: generate 512, FID at 256 (centre crop "
                "+ LANCZOS, clean-fid) against val2014; CLIP ViT-g-14 raw cosine. Paper numbers: leaderboard "
                "paper-dmd2-sd15-coco30k-v1.",
)

COCO10K_512_PATCH = LiteratureSpec(
    name="coco10k-512-patch", version=1, n_prompts=10_000, resolution=1024,
    prompt_sources=(PromptSource(_DMD2_10K, "txt", "dmd2-coco10k", "DMD2 coco10k/all_prompts.pkl"),),
    fids=(
        FidSpec("fid", "inception", "crop-lanczos-512",
                _stats("reference_stats", "coco10k-512-patch", "fid", "DMD2's 10,000 coco10k/subset images"),
                "dmd2-coco10k-subset", 10_000),
        FidSpec("patch_fid", "inception-patch", "none",
                _stats("reference_stats_patch", "coco10k-512-patch", "patch_fid",
                       "DMD2's 10,000 coco10k/subset images (centre 299 crop at full resolution)"),
                "dmd2-coco10k-subset", 10_000),
    ),
    clip_preset="dmd2",
    latency=LatencyPlan(warmup=3, rounds=10, batch_size=1, what=_LATENCY_WHAT),
    reported="paper-dmd2-sdxl-coco10k",
    description="DMD2 SDXL evaluation: generate 1024, FID at 512 (centre crop + LANCZOS, clean-fid) and patch FID "
                "(centre 299 crop at full resolution) against DMD2's coco10k subset; CLIP ViT-g-14 raw cosine. Paper "
                "numbers: leaderboard paper-dmd2-sdxl-coco10k-v1.",
)

MLPERF_SDXL_5K = LiteratureSpec(
    name="mlperf-sdxl-5k", version=2, n_prompts=5_000, resolution=1024,
    prompt_sources=(PromptSource(_MLPERF_TSV, "mlperf-coco", "mlperf-coco2014-5k", "MLPerf captions_source.tsv"),),
    fids=(FidSpec("fid", "inception", "none",
                  _stats("reference_stats", "mlperf-sdxl-5k", "fid",
                         "the 5,000 COCO-2014 val images named in captions_source.tsv"),
                  "mlperf-coco2014-val-5k", 5_000),),
    clip_preset="mlperf",
    latency=LatencyPlan(warmup=5, rounds=20, batch_size=1, what=_LATENCY_WHAT),
    reported="mlperf-sdxl-5k-gate",
    gate=MLPERF_SDXL_GATE,
    description="MLPerf Inference SDXL: 5,000 COCO-2014 captions at 1024, FID and CLIP 100 cos (ViT-B-32), two-sided "
                "accuracy gate. MLPerf's reference computes FID with a pytorch-fid Inception port against its own "
                "val2014.npz and starts every prompt from one fixed latent; here FID is clean-fid's and seeds are "
                "per sample, so a gate pass is indicative, not an MLPerf accuracy result.",
)

DDMD_SDXL_COCO10K = LiteratureSpec(
    name="ddmd-sdxl-coco10k", version=1, n_prompts=10_000, resolution=1024,
    prompt_sources=(PromptSource(_DMD2_10K, "txt", "dmd2-coco10k", "DMD2 coco10k/all_prompts.pkl"),),
    fids=(FidSpec("fid", "inception", "crop-lanczos-512",
                  _stats("reference_stats", "ddmd-sdxl-coco10k", "fid", "DMD2's 10,000 coco10k/subset images"),
                  "dmd2-coco10k-subset", 10_000),),
    clip_preset="dmd2",
    latency=LatencyPlan(warmup=3, rounds=10, batch_size=1, what=_LATENCY_WHAT),
    reported="paper-ddmd-sdxl-coco10k",
    scores=(("image_reward", 100.0), ("hpsv21", 100.0)),
    description="Decoupled DMD's SDXL evaluation (arXiv 2511.22677, Table 2): DMD2's setup (its 10k COCO-2014 "
                "prompts, generate 1024, FID at 512 with centre crop + LANCZOS, clean-fid, against DMD2's coco10k "
                "subset; CLIP ViT-g-14 raw cosine) plus ImageReward and HPSv2.1, both x 100 as the paper prints "
                "them. The paper prints CLIP x 100 too; HPSv3 (a 7B VLM judge) is not computed. Paper numbers: "
                "leaderboard paper-ddmd-sdxl-coco10k-v1.",
)

_COCO17_JSON = DataFile(
    "coco_captions", "the COCO-2017 val caption annotations, captions_val2017.json (5,000 images; images[{id, "
    "file_name, width, height}], annotations[{id, image_id, caption}]); one caption per image is drawn with a fixed "
    "seed", "annotations_trainval2017.zip from cocodataset.org (annotations CC BY 4.0)",
    filename="captions_val2017.json")

_COCO5K_LIST = DataFile(
    "captions", "a list of 5,000 prompts, one per line (for instance the exact COCO-5K list a paper evaluated on); "
    "recorded by its sha256",
    "your own file", filename="coco5k_prompts.txt")


def _teacher_stats(key: str, protocol: str, metric: str, teacher: str, crop: str) -> DataFile:
    return DataFile(
        key, f"ddmd-bench statistics (.npz) of the images {teacher} generated for this protocol's 5,000 prompts with "
             f"its seeds ({crop}), the teacher's identity (model, sampling recipe, prompts, seeds) recorded in the file",
        f"`ddmd-bench stats make --protocol {protocol} --metric {metric} --teacher pipeline:{teacher} [--steps N] "
        f"--data <the protocol's prompt file> --out <out.npz>` (generates the teacher's images for the protocol's "
        f"prompts with seed_i = i and records its identity), or from images made that way "
        f"ddmd_bench.tracks.literature.reference_stats.make_reference_stats({protocol!r}, {metric!r}, <images folder "
        f"or zip>, <out.npz>, teacher=TeacherOutputs({teacher!r}, ...)) (ddmd_bench.metrics.teacher_outputs)",
        filename=f"{protocol}-{metric}.npz")


def _senseflow(group: str, teacher: str, reported: str) -> LiteratureSpec:
    name = f"senseflow-coco5k-{group}"
    return LiteratureSpec(
        name=name, version=1, n_prompts=5_000, resolution=1024,
        prompt_sources=(
            PromptSource(_COCO17_JSON, "coco", "coco2017-val-5k-s0",
                         "captions_val2017.json, one caption per image for all 5,000 images, seeded", sample_seed=0),
            PromptSource(_COCO5K_LIST, "txt", "coco5k-list", "a user's 5,000-prompt list", "-list"),
        ),
        fids=(
            FidSpec("fid_t", "inception", "none",
                    _teacher_stats("teacher_stats", name, "fid_t", teacher, "whole images"),
                    f"teacher-outputs:{teacher}", 5_000, teacher=teacher),
            FidSpec("patch_fid_t", "inception-patch", "none",
                    _teacher_stats("teacher_stats_patch", name, "patch_fid_t", teacher,
                                   "centre 299 crop at full resolution"),
                    f"teacher-outputs:{teacher}", 5_000, teacher=teacher),
        ),
        clip_preset="dmd2",
        latency=DEFAULT_LATENCY,
        reported=reported,
        scores=(("hpsv2", 1.0), ("pickscore", 1.0), ("image_reward", 1.0)),
        description=f"SenseFlow's COCO-5K evaluation (arXiv 2506.00523, Table 1) for students of {teacher}: generate "
                    f"1024; FID-T (whole image, clean-fid resize) and patch FID-T (centre 299 crop at full resolution) "
                    f"against statistics of the teacher's images for the same prompts and seeds, the teacher's "
                    f"sampling recipe recorded from the statistics file; CLIP ViT-g-14 raw cosine, HPSv2 (v2.0 "
                    f"checkpoint), PickScore and ImageReward, all unscaled as the table prints them. Prompts: one "
                    f"seeded caption per COCO-2017 val image. Where the paper's set-up is not stated (its caption "
                    f"choice, CLIP model, patch cut, HPS checkpoint) these are this protocol's choices. Paper numbers: leaderboard {reported}-v1.",
    )


SENSEFLOW_COCO5K_SDXL = _senseflow("sdxl", "stabilityai/stable-diffusion-xl-base-1.0", "paper-senseflow-coco5k-sdxl")
SENSEFLOW_COCO5K_SD35 = _senseflow("sd35", "stabilityai/stable-diffusion-3.5-large", "paper-senseflow-coco5k-sd35")
SENSEFLOW_COCO5K_FLUX = _senseflow("flux", "black-forest-labs/FLUX.1-dev", "paper-senseflow-coco5k-flux")

SPECS: Registry[LiteratureSpec] = Registry("literature protocol")
for _spec in (COCO30K_256, COCO10K_512_PATCH, MLPERF_SDXL_5K, DDMD_SDXL_COCO10K, SENSEFLOW_COCO5K_SDXL,
              SENSEFLOW_COCO5K_SD35, SENSEFLOW_COCO5K_FLUX):
    SPECS.add(_spec.name, _spec)
