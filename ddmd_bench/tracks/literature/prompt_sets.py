"""Reference-free protocols on prompt sets: any prompt file, and the public benchmarks distillation papers report.

A prompt set alone fixes no reference images, so these protocols measure what needs none: CLIP score (the
torchmetrics definition, OpenCLIP ViT-L/14, 100 x cosine), ImageReward, and latency under the literature protocols'
settings. An FID is added only when the user gives reference statistics (`reference_stats`), and the protocol then
records those statistics' sha256, so two FIDs share a leaderboard only against the same reference.

- `prompt_file_protocol(path, fmt)`: any file in a `ddmd_bench.prompts` format. The protocol is named by the file's
  sha256 (`prompts-<first 12 hex digits>`), so its leaderboard file follows from the file's content.
- Named protocols (`PROMPT_SETS`): PartiPrompts (1,632 prompts), DrawBench (200), the HPSv2 benchmark prompts (four
  style files from one folder) and GenEval (553 prompts, 4 samples each, written in GenEval's own folder layout by
  `tracks.literature.geneval`). The user passes the file as `prompts`; where the file's sha256 is known (checked
  against a real copy) it must match, otherwise it is recorded and the protocol says the file is unpinned.

Each named protocol is generated at 1024 px; its `-512` twin serves 512 px models (SD1.5 recipes). Resolution is part
of the name because the runner refuses a generator whose declared size differs from the protocol's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ddmd_bench.metrics import catalog
from ddmd_bench.prompts import FORMATS, PromptSet, check_prompt_set, file_format, read_hpsv2
from ddmd_bench.protocol import Protocol
from ddmd_bench.registry import Registry
from ddmd_bench.resolver import sha256_file
from ddmd_bench.tracks.literature import datafiles
from ddmd_bench.tracks.literature.build import PromptCountMismatch, clip_spec, fid_spec
from ddmd_bench.tracks.literature.context import INCEPTION, resolve_all
from ddmd_bench.tracks.literature.datafiles import DataFile, VerifiedFile
from ddmd_bench.tracks.literature.geneval import layout_from_images
from ddmd_bench.tracks.literature.reference_stats import ReferenceInfo, ReferenceStatsMismatch, shape_problem
from ddmd_bench.tracks.literature.scores import IMAGE_REWARD_WEIGHTS  # resolver.WEIGHTS names
from ddmd_bench.tracks.literature.specs import DEFAULT_LATENCY, FidSpec

log = logging.getLogger(__name__)

CLIP_PRESET = "torchmetrics"  # the CLIP score most text-to-image papers quote next to PartiPrompts and DrawBench
RESOLUTIONS = (1024, 512)  # the first is the bare name's

REFERENCE_STATS = DataFile(
    "reference_stats", "ddmd-bench reference statistics (.npz) of real images under the plain Inception extractor at "
    "the images' own size, for an FID next to the reference-free metrics (optional)",
    "your own image set: `ddmd-bench stats make IMAGES --out stats.npz` (extractor inception)",
    filename="reference_stats.npz")


@dataclass(frozen=True, slots=True)
class PromptSetSpec:
    """A reference-free protocol on one prompt set."""

    name: str
    fmt: str  # a ddmd_bench.prompts.FORMATS name
    set_name: str
    prompts: DataFile  # key "prompts"
    n_prompts: int | None  # None: the count is not pinned (recorded, not checked)
    description: str
    samples_per_prompt: int = 1  # each prompt repeated, consecutive entries, one seed each
    styles: tuple[str, ...] = ()  # HPSv2: `prompts` is a folder holding <style>.json for each, read in this order
    layout: str | None = None  # an output layout besides the runner's images ("geneval")
    version: int = 1
    seed_base: int = 0

    @property
    def data_files(self) -> tuple[DataFile, ...]:
        return self.prompts, REFERENCE_STATS


PARTIPROMPTS = PromptSetSpec(
    "partiprompts", "partiprompts", "partiprompts",
    DataFile("prompts", "PartiPrompts.tsv (header Prompt, Category, Challenge, Note; 1,632 prompts)",
             "github.com/google-research/parti @ 5a65797, PartiPrompts.tsv (Apache-2.0)",
             sha256="fab29e41bb512a169b56acab4cf2a41dcb675e285df2efcde6640c7dd3c440eb", filename="PartiPrompts.tsv"),
    1632, "PartiPrompts (Yu et al. 2022): 1,632 prompts over 12 categories and 11 challenge aspects; reference-free "
          "CLIP score and ImageReward.")
DRAWBENCH = PromptSetSpec(
    "drawbench", "drawbench", "drawbench",
    DataFile("prompts", "DrawBench as CSV with header Prompts, Category (200 prompts, 11 categories); no copy could "
             "be checked here, so its sha256 is unpinned: recorded with each result, not verified",
             "Imagen (Saharia et al. 2022), the DrawBench sheet exported as CSV", filename="drawbench.csv"),
    200, "DrawBench (Imagen, Saharia et al. 2022): 200 prompts in 11 categories; reference-free CLIP score and "
         "ImageReward. The prompt file is unpinned (no verified sha256).")
HPSV2_STYLES = ("anime", "concept-art", "paintings", "photo")
HPSV2_BENCH = PromptSetSpec(
    "hpsv2-bench", "hpsv2", "hpsv2-benchmark",
    DataFile("prompts", "a folder with the HPSv2 benchmark prompt files anime.json, concept-art.json, "
             "paintings.json and photo.json (each a JSON list of strings); no copy could be checked here, so their "
             "sha256 and counts are unpinned: recorded with each result, not verified",
             "github.com/tgxs002/HPSv2 benchmark prompts (hpsv2.benchmark_prompts)", filename="benchmark/"),
    None, "HPSv2 benchmark prompts (Wu et al. 2023), four styles in the order anime, concept-art, paintings, photo; "
          "reference-free CLIP score and ImageReward (HPSv2's own score is not computed here). Unpinned files.",
    styles=HPSV2_STYLES)
GENEVAL = PromptSetSpec(
    "geneval", "geneval", "geneval",
    DataFile("prompts", "GenEval's evaluation_metadata.jsonl (553 lines of tag, include, [exclude], prompt)",
             "github.com/djghosh13/geneval @ af4902f, prompts/evaluation_metadata.jsonl (MIT)",
             sha256="5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13",
             filename="evaluation_metadata.jsonl"),
    553, "GenEval (Ghosh et al. 2023): 553 compositional prompts, 4 samples each (GenEval's default), written in "
         "GenEval's own folder layout for its scorer; GenEval's score needs its object detector (Mask2Former via "
         "mmdet), which ddmd-bench does not run. Here: CLIP score and ImageReward over all samples.",
    samples_per_prompt=4, layout="geneval")

PROMPT_SETS: Registry[PromptSetSpec] = Registry("prompt-set protocol")
for _spec in (PARTIPROMPTS, DRAWBENCH, HPSV2_BENCH, GENEVAL):
    PROMPT_SETS.add(_spec.name, _spec)


# ---------------------------------------------------------------------------------------------------- the context

def _clip_metric(preset: str, weights: Path):
    from ddmd_bench.metrics.clip_presets import build_clip_score  # open_clip and torch: only a run builds metrics

    return build_clip_score(preset, weights=weights)


def _image_reward_metric():
    from ddmd_bench.metrics.image_reward import build_image_reward  # transformers and torch: only a run needs them

    return build_image_reward(allow_download=False)  # its files were resolved (or refused) together with the rest


def _fid_metric(fid: FidSpec, reference: ReferenceInfo, inception: Path):
    # torch and the FID stack: only a run builds metrics
    from ddmd_bench.metrics import reference as reference_files
    from ddmd_bench.metrics.fid import FID
    from ddmd_bench.tracks.literature.reference_stats import build_extractor

    stats, _ = reference_files.load(reference.path)
    return FID(build_extractor(fid, inception), stats, sqrt_method="eigh")


@dataclass(frozen=True, slots=True)
class MetricBackends:
    """How a prompt-set context turns resolved weights into metrics (tests swap in tiny networks)."""

    resolve: Callable[[list[str]], dict[str, Path]] = resolve_all
    clip: Callable[[str, Path], Any] = _clip_metric
    image_reward: Callable[[], Any] = _image_reward_metric
    fid: Callable[[FidSpec, ReferenceInfo, Path], Any] = _fid_metric


@dataclass(frozen=True, slots=True)
class PromptSetContext:
    """Prompts (expanded to one entry per sample), verified files and the reference-free metrics of a run."""

    spec: PromptSetSpec
    prompt_set: PromptSet
    data: dict[str, VerifiedFile]
    fid: FidSpec | None = None
    reference: ReferenceInfo | None = None
    backends: MetricBackends = field(default_factory=MetricBackends)

    def weight_names(self) -> list[str]:
        """resolver.WEIGHTS entries the metrics load (all resolved before any is loaded)."""
        from ddmd_bench.metrics.clip_presets import PRESETS  # open_clip and torch: not needed to build a protocol

        return [PRESETS.get(CLIP_PRESET).weights, *IMAGE_REWARD_WEIGHTS, *([INCEPTION] if self.fid else [])]

    def build_metrics(self, protocol: Protocol) -> dict[str, Any]:
        """Fresh CLIP score and ImageReward (and FID with reference statistics); every weight file is resolved first,
        so a machine missing several learns about all of them at once."""
        from ddmd_bench.metrics.clip_presets import PRESETS  # open_clip and torch: only a run builds metrics

        paths = self.backends.resolve(self.weight_names())
        metrics = {"clip_score": self.backends.clip(CLIP_PRESET, paths[PRESETS.get(CLIP_PRESET).weights]),
                   "image_reward": self.backends.image_reward()}
        if self.fid is not None and self.reference is not None:
            metrics["fid"] = self.backends.fid(self.fid, self.reference, paths[INCEPTION])
        return metrics

    def selection(self) -> tuple[dict[str, Any], ...]:
        """Per-entry metadata (category, style, GenEval tags, prompt index and sample number)."""
        return self.prompt_set.meta

    def data_record(self) -> dict[str, dict[str, str]]:
        """Data files used, for the result record: key -> {path, sha256, verified against a known hash or not}."""
        return {key: f.to_record() for key, f in self.data.items()}

    def metadata_rows(self) -> list[dict[str, Any]]:
        """One row per distinct prompt: its file metadata with the prompt (GenEval's metadata line, for GenEval)."""
        k = self.spec.samples_per_prompt
        rows = []
        for i in range(0, len(self.prompt_set.prompts), k):
            meta = {key: v for key, v in self.prompt_set.meta[i].items() if key not in ("prompt_index", "sample")}
            rows.append({**meta, "prompt": self.prompt_set.prompts[i]})
        return rows

    def write_layout(self, image_dir: str | Path, out_dir: str | Path) -> list[Path]:
        """GenEval's folder layout (tracks.literature.geneval) from a run's saved images, for every prompt whose
        samples were all generated; only protocols with that layout have one."""
        if self.spec.layout != "geneval":
            raise ValueError(f"protocol {self.spec.name} has no output layout besides the run's images")
        k = self.spec.samples_per_prompt
        complete = len(self.prompt_set.prompts) // k
        return layout_from_images(image_dir, out_dir, self.metadata_rows()[:complete], k)


# ----------------------------------------------------------------------------------------------------- building

def _verify_prompts(spec: PromptSetSpec, path: str | Path) -> list[VerifiedFile]:
    """The prompt file (or, for a folder spec, each style file), checked against the known sha256 where there is
    one."""
    if not spec.styles:
        return [datafiles.verify(spec.name, spec.prompts, path)]
    folder = Path(path)
    if not folder.is_dir():
        raise datafiles.MissingDataFile(f"protocol {spec.name}: data file 'prompts' = {folder} is not a folder. To "
                                        f"provide it: {spec.prompts.how_to_provide()}.")
    return [datafiles.verify(spec.name, replace(spec.prompts, key=f"prompts/{style}", filename=f"{style}.json"),
                             folder / f"{style}.json") for style in spec.styles]


def _read(spec: PromptSetSpec, files: list[VerifiedFile]) -> PromptSet:
    if not spec.styles:
        return FORMATS.get(spec.fmt)(files[0].path, name=spec.set_name, version=1)
    parts = [read_hpsv2(f.path, name=spec.set_name) for f in files]
    return check_prompt_set(PromptSet(spec.set_name, 1, tuple(p for s in parts for p in s.prompts),
                                      tuple(m for s in parts for m in s.meta)), f"protocol {spec.name}")


def expand(prompts: PromptSet, samples: int) -> PromptSet:
    """Each prompt `samples` times in a row (entry i is prompt i // samples, sample i % samples), so the runner's
    one image per entry gives every prompt its samples with distinct seeds."""
    if samples == 1:
        return prompts
    meta = prompts.meta or tuple({} for _ in prompts.prompts)
    return PromptSet(f"{prompts.name}x{samples}", prompts.version,
                     tuple(p for p in prompts.prompts for _ in range(samples)),
                     tuple({**m, "prompt_index": i, "sample": j} for i, m in enumerate(meta) for j in range(samples)),
                     prompts.normalization)


def _reference(protocol: str, data: Mapping[str, str | Path]) -> tuple[FidSpec, ReferenceInfo, VerifiedFile] | None:
    """The user's reference statistics for an optional FID: readable, Inception-shaped, and (when they carry a
    protocol identity) made with the plain Inception extractor at the images' own size."""
    if REFERENCE_STATS.key not in data:
        return None
    from ddmd_bench.metrics import reference  # torch: only a protocol given reference statistics reads them

    file = datafiles.verify(protocol, REFERENCE_STATS, data[REFERENCE_STATS.key])
    where = f"protocol {protocol}: reference statistics {REFERENCE_STATS.key!r} = {file.path}"
    try:
        stats, meta = reference.load(file.path)
    except ValueError as exc:
        raise ReferenceStatsMismatch(f"{where}: {exc}. To provide it: {REFERENCE_STATS.how_to_provide()}.") from exc
    problem = shape_problem("inception", stats.mu, stats.sigma)
    identity = meta.get("identity")
    if problem is None and isinstance(identity, dict) and \
            (identity.get("extractor"), identity.get("eval_transform")) != ("inception", "none"):
        problem = (f"they were made with extractor {identity.get('extractor')!r} and transform "
                   f"{identity.get('eval_transform')!r} (for protocol {identity.get('protocol')!r}), but this FID "
                   f"uses 'inception' on images at their own size ('none')")
    if problem:
        raise ReferenceStatsMismatch(f"{where}: {problem}. To provide it: {REFERENCE_STATS.how_to_provide()}.")
    fid = FidSpec("fid", "inception", "none", REFERENCE_STATS, str(meta.get("set_id", "")), None)
    info = ReferenceInfo(file.path, meta["sha256"], int(meta["n"]), meta["extractor_id"],
                         identity if isinstance(identity, dict) else {})
    return fid, info, file


def _name(spec: PromptSetSpec, resolution: int, n: int, full: bool) -> str:
    size = "" if resolution == RESOLUTIONS[0] else f"-{resolution}"
    return spec.name + size + ("" if full else f"-n{n}")


def build(spec: PromptSetSpec, limit: int | None = None, data: Mapping[str, str | Path] | None = None,
          resolution: int = RESOLUTIONS[0]) -> tuple[Protocol, PromptSetContext]:
    """(Protocol, context) for `spec` with the user's `data` ({"prompts": path, optionally "reference_stats":
    path}); `limit` keeps the first N entries (and the name says so). Loads no model."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    data = dict(data or {})
    datafiles.check_keys(spec.name, spec.data_files, data)
    if spec.prompts.key not in data:
        raise datafiles.MissingDataFile(f"protocol {spec.name} needs its prompts as data file 'prompts', which was "
                                        f"not given. To provide it: {spec.prompts.how_to_provide()}.")
    files = _verify_prompts(spec, data[spec.prompts.key])
    reference = _reference(spec.name, data)
    base = _read(spec, files)
    if spec.n_prompts is not None and len(base.prompts) != spec.n_prompts:
        raise PromptCountMismatch(
            f"protocol {spec.name}: data file 'prompts' = {data['prompts']} holds {len(base.prompts)} prompts, "
            f"expected {spec.n_prompts}. Expected: {spec.prompts.what}; source: {spec.prompts.source}.")
    prompts = expand(base, spec.samples_per_prompt)
    if limit is not None:
        prompts = prompts.head(limit)
    full = limit is None or limit >= len(base.prompts) * spec.samples_per_prompt
    name = _name(spec, resolution, len(prompts.prompts), full)
    check_prompt_set(prompts, f"protocol {name}")
    record = {**prompts.ref(), "source": spec.prompts.source, "format": spec.fmt,
              "files": {f.spec.key: {"sha256": f.sha256, "pinned": f.spec.sha256 is not None} for f in files}}
    if spec.samples_per_prompt > 1:
        record["samples_per_prompt"] = spec.samples_per_prompt
        record["distinct_prompts_sha256"] = base.sha256
    metrics = {"clip_score": clip_spec(CLIP_PRESET),
               "image_reward": catalog.IMAGE_REWARD.spec(
                   model_id="THUDM/ImageReward", scale=1.0,
                   weights="ImageReward.pt (resolver entry imagereward; sha256 recorded per result)")}
    verified = {f.spec.key: f for f in files}
    if reference is not None:
        fid, info, file = reference
        metrics["fid"] = fid_spec(fid, info)
        verified[REFERENCE_STATS.key] = file
    protocol = Protocol(
        name=name, version=spec.version, track="literature", prompt_set=record, images_per_prompt=1,
        resolution=resolution, seed_rule=f"seed_i = {spec.seed_base} + i", seed_base=spec.seed_base,
        metrics=metrics, latency={**asdict(DEFAULT_LATENCY), "device": "cuda"}, description=spec.description)
    log.info("protocol %s v%d (%s): %d prompts from %s", name, spec.version, protocol.fingerprint[:12],
             len(prompts.prompts), data[spec.prompts.key])
    return protocol, PromptSetContext(spec, prompts, verified, *(reference[:2] if reference else (None, None)))


def file_spec(path: str | Path, fmt: str | None = None) -> PromptSetSpec:
    """The spec of a prompt file's own protocol: named `prompts-<12 hex digits of the file's sha256>`."""
    path = Path(path)
    fmt = file_format(path, fmt)
    digest = sha256_file(path)
    name = f"prompts-{digest[:12]}"
    return PromptSetSpec(
        # the source is recorded in the protocol, so it names no path: the same file anywhere is the same protocol
        name, fmt, name, DataFile("prompts", f"the prompt file {path.name} ({fmt} format)",
                                  f"a user's prompt file ({fmt} format)", sha256=digest, filename=path.name),
        None, f"Reference-free protocol on the prompt file {path.name} ({fmt}, sha256 {digest}): CLIP score and "
              f"ImageReward.")


def prompt_file_protocol(path: str | Path, fmt: str | None = None, limit: int | None = None,
                         data: Mapping[str, str | Path] | None = None,
                         resolution: int = RESOLUTIONS[0]) -> tuple[Protocol, PromptSetContext]:
    """(Protocol, context) for any prompt file (`fmt`: a `ddmd_bench.prompts` format, guessed from the suffix when
    None); `data` may add `reference_stats` for an FID."""
    spec = file_spec(path, fmt)
    return build(spec, limit, {**(data or {}), "prompts": path}, resolution)


@dataclass(frozen=True, slots=True)
class PromptSetEntry:
    """A named prompt-set protocol at one resolution, as the protocol catalogue calls it."""

    spec: PromptSetSpec
    resolution: int = RESOLUTIONS[0]

    def __call__(self, limit: int | None = None,
                 data: Mapping[str, str | Path] | None = None) -> tuple[Protocol, PromptSetContext]:
        return build(self.spec, limit, data, self.resolution)

    def summary(self) -> dict[str, Any]:
        """What can be said about the protocol before its prompt file is given."""
        spec = self.spec
        n = None if spec.n_prompts is None else spec.n_prompts * spec.samples_per_prompt
        return {"name": _name(spec, self.resolution, 0, True), "version": spec.version, "track": "literature",
                "n_prompts": n, "resolution": self.resolution, "metrics": ["clip_score", "image_reward"],
                "optional_metrics": ["fid"],
                "prompt_sources": [{"key": "prompts", "set": spec.set_name, "protocol_name": spec.name}],
                "data_files": [f.to_dict() for f in spec.data_files], "reported": None, "gate": None,
                "samples_per_prompt": spec.samples_per_prompt, "layout": spec.layout,
                "description": spec.description}


def entries() -> dict[str, PromptSetEntry]:
    """Every named prompt-set protocol: NAME at 1024 px and NAME-512."""
    out = {}
    for name in PROMPT_SETS:
        for resolution in RESOLUTIONS:
            entry = PromptSetEntry(PROMPT_SETS.get(name), resolution)
            out[_name(entry.spec, resolution, 0, True)] = entry
    return out

