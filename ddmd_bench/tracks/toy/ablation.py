"""The paper's claims, measured on the toy track: every ablation arm x several paired training seeds, each EMA
snapshot scored through the toy protocol's own metric objects and runner (the numbers `evaluate` gives), and a
report built from the runs' small files: per-arm means with 95% t-intervals, paired differences against coupled
DMD2, and a table of the paper's claims with a verdict each.

Resumable at every level: a finished run is skipped, an unfinished one resumes from its checkpoint, and each
snapshot's scores are cached in its run's `eval.json`. Runs are ordered seed-major, so a partial ablation covers
every arm before it adds seeds. Several `ablation run` processes may share one folder (one per core): each run is
claimed under a file lock, and a process skips the runs another one holds.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout
from PIL import Image
from safetensors.torch import load_file
from scipy import stats

from ddmd_bench.evaluation import runner
from ddmd_bench.metrics import functional as MF
from ddmd_bench.registry import Registry
from ddmd_bench.report.ablation import table_markdown
from ddmd_bench.resolver import sha256_file
from ddmd_bench.tracks.toy import track, world
from ddmd_bench.tracks.toy.bundle import toy_bundle
from ddmd_bench.tracks.toy.loaders import load_denoiser, student_model
from ddmd_bench.tracks.toy.models import TeacherConfig
from ddmd_bench.tracks.toy.pipeline import SCHEDULERS, ToySampler
from ddmd_bench.tracks.toy.presets import get_preset
from ddmd_bench.tracks.toy.shipped import entry
from ddmd_bench.training.config import DistillConfig
from ddmd_bench.training.trainer import Trainer, TrainingDiverged

log = logging.getLogger(__name__)

BASELINE = "dmd2"
MIN_PAIRS = 3  # fewer paired seeds than this: differences are shown, but no claim is decided on them
EVAL_FORMAT = 2  # eval.json layout: {"format", "protocol", "snapshots": {file: {"step", "weights_sha256", "values"}}}


@dataclass(frozen=True, slots=True)
class Arm:
    """One ablation arm: a training preset, optional changes to it, and how many of the ablation's seeds it runs."""

    name: str
    preset: str
    what: str
    seeds: int = 3
    overrides: tuple[tuple[str, Any], ...] = ()

    def config(self, seed: int, steps: int, snapshot_every: int, batch_size: int | None = None) -> DistillConfig:
        """The resolved training configuration of this arm for one seed."""
        base = get_preset(self.preset)
        changes = dict(self.overrides)
        changes = {k: v(base) if callable(v) else v for k, v in changes.items()}
        if batch_size is not None:
            changes["batch_size"] = batch_size
        return base.with_overrides(**changes, seed=seed, steps=steps, snapshot_every=snapshot_every,
                                   save_every=snapshot_every)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly identity (overrides as text, a learning-rate factor as the resolved value)."""
        base = get_preset(self.preset)
        return {"arm": self.name, "what": self.what, "preset": self.preset,
                "overrides": {k: (v(base) if callable(v) else v) for k, v in self.overrides}}


ARMS: Registry[Arm] = Registry("ablation arm")
for _arm in (
    Arm("dmd2", "toy-dmd-4step", "coupled DMD2: one shared re-noising level, DMD2's single CFG normaliser", 5),
    Arm("decoupled-full", "toy-ddmd-full-4step", "CA and DM at independent levels U(0, 1), per-branch normalisers",
        5),
    Arm("decoupled-constrained", "toy-ddmd-constrained-4step", "CA and DM both at U(t, 1)", 5),
    Arm("decoupled-hybrid", "toy-ddmd-4step", "the paper's proposal: CA at U(t, 1), DM at U(0, 1)", 5),
    Arm("ca-only", "toy-ca-only-4step", "the hybrid schedule's CA term alone (no fake model)"),
    Arm("dm-only", "toy-dm-only-4step", "the hybrid schedule's DM term alone (no CFG augmentation)"),
    Arm("uncond-dmd", "toy-uncond-dmd-4step", "an unconditional student, no CFG: DM is the whole loss"),
    Arm("hybrid-ttur5", "toy-ddmd-4step", "decoupled-hybrid with 5 fake-model updates per student update (TTUR)",
        overrides=(("fake_updates", 5),)),
    Arm("hybrid-fake-lr-x2", "toy-ddmd-4step", "decoupled-hybrid with twice the fake model's learning rate",
        overrides=(("lr_fake", lambda c: 2 * c.lr_fake),)),
    Arm("hybrid-fake-lr-x0.5", "toy-ddmd-4step", "decoupled-hybrid with half the fake model's learning rate",
        overrides=(("lr_fake", lambda c: 0.5 * c.lr_fake),)),
    Arm("hybrid-combined-norm", "toy-ddmd-4step", "decoupled-hybrid with one normaliser (DMD2's: "
        "the mean distance to the guided teacher prediction) on the combined CA + DM direction, not one per branch",
        overrides=(("loss.normalization", "shared_cfg"),)),
):
    ARMS.add(_arm.name, _arm)


@dataclass(frozen=True, slots=True)
class AblationConfig:
    """Which arms and seeds, the training budget and the evaluation prompts (None: the whole toy protocol).

    Each arm runs the first `Arm.seeds` of `seeds`, so seed k means the same student initialisation and data order
    in every arm that runs it (paired seeds)."""

    arms: tuple[str, ...] = tuple(ARMS.names())
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    steps: int = 300
    snapshot_every: int = 75
    prompts: int | None = None
    batch_size: int | None = None  # None: the preset's

    def plan(self) -> list[tuple[int, str]]:
        """(seed, arm) of every planned run, seed-major."""
        return [(seed, arm) for i, seed in enumerate(self.seeds) for arm in self.arms if i < ARMS.get(arm).seeds]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


def run_dir(out: Path, arm: str, seed: int) -> Path:
    """Folder of one (arm, seed) training run."""
    return out / arm / f"seed-{seed}"


def run_all(cfg: AblationConfig, out: Path, committed: Path | None = None) -> None:
    """Train and score every planned run that is not finished yet. A run already committed under `committed` (the
    report's `runs/` folder) for the same teacher and the same config is finished too: it is not trained again."""
    for arm in cfg.arms:
        ARMS.get(arm)  # a typo fails before anything is trained
    out.mkdir(parents=True, exist_ok=True)
    teacher = entry("teacher")["sha256"]
    write_identity(out, cfg, teacher)
    done = committed_runs(committed, cfg, teacher) if committed is not None else set()
    scorer = SnapshotScorer(cfg.prompts)
    for seed, arm in cfg.plan():
        if (arm, seed) in done:
            log.info("%s seed %d: finished run committed under %s", arm, seed, committed)
            continue
        folder = run_dir(out, arm, seed)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(folder / ".run.lock"), timeout=0):
                train_config = ARMS.get(arm).config(seed, cfg.steps, cfg.snapshot_every, cfg.batch_size)
                train_run(train_config, folder, f"{arm} seed {seed}")
                score_run(folder, train_config, scorer)
        except Timeout:  # another `ablation run` process on this folder is training or scoring it
            log.info("%s seed %d: held by another process, skipped", arm, seed)


def committed_runs(committed: Path, cfg: AblationConfig, teacher_sha256: str) -> set[tuple[str, int]]:
    """(arm, seed) of the runs committed under `committed` by an ablation of the same teacher and training config
    (steps, snapshots, prompts, batch); empty when there is none or it differs."""
    identity = committed / "ablation.json"
    if not identity.exists():
        return set()
    kept = json.loads(identity.read_text())
    same = {"steps", "snapshot_every", "prompts", "batch_size"}
    if kept.get("teacher_sha256") != teacher_sha256 or any(kept.get(k) != getattr(cfg, k) for k in same):
        return set()
    return {(path.parent.parent.name, int(path.parent.name.removeprefix("seed-")))
            for path in committed.glob("*/seed-*/eval.json")}


def train_run(train_config: DistillConfig, folder: Path, label: str) -> None:
    """Train (or resume) one run; a divergence is recorded in `diverged.json`, not raised (it is a finding)."""
    if (folder / "student.safetensors").exists() or (folder / "diverged.json").exists():
        return
    log.info("training %s", label)
    try:
        Trainer(train_config, folder, teacher=toy_bundle()).run()
    except TrainingDiverged as exc:  # its snapshots up to the divergence are still scored
        log.warning("%s diverged: %s", label, exc)
        (folder / "diverged.json").write_text(json.dumps({"message": str(exc)}) + "\n")


class AblationMismatch(ValueError):
    """An ablation folder holds runs made with another teacher: its results must not be mixed with new ones."""


def write_identity(out: Path, cfg: AblationConfig, teacher_sha256: str) -> None:
    """Record the config and the teacher in `out/ablation.json`; refuse a folder made with another teacher (runs of
    one ablation must distil the same teacher, or its table mixes incomparable students)."""
    path = out / "ablation.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    if previous.get("teacher_sha256", teacher_sha256) != teacher_sha256:
        raise AblationMismatch(f"{out} holds ablation runs of teacher {previous['teacher_sha256'][:12]}, but the "
                               f"shipped teacher is now {teacher_sha256[:12]}; use a new --out folder")
    path.write_text(json.dumps({**cfg.to_dict(), "teacher_sha256": teacher_sha256}, indent=1) + "\n")


# ---------------------------------------------------------------------------------------------------- scoring
class SnapshotGenerator:
    """A `Generator` over one EMA snapshot: the teacher with the snapshot's weights, sampled with the student's own
    chain (flow-dmd, its step count, no guidance), exactly as `evaluate` samples a shipped student."""

    def __init__(self, path: Path, train_config: DistillConfig) -> None:
        teacher, tokenizer, meta = load_denoiser("teacher")
        self.path, self.steps = path, train_config.student_steps
        self.unconditional = train_config.unconditional
        self.weights_sha256 = sha256_file(path)
        self.name = f"ablation:{path.parent.parent.parent.name}/{path.parent.parent.name}/{path.stem}"
        model = student_model(teacher, load_file(str(path)), train_config.lora_rank)
        self.scheduler = SCHEDULERS.get("flow-dmd")(TeacherConfig.from_dict(meta["model_config"]), self.steps)
        self.sampler = ToySampler(model, tokenizer, self.scheduler, self.steps, 1.0)

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        """uint8 images [N, 3, 16, 16]; an unconditional student is given the empty prompt (it never saw one)."""
        return self.sampler.sample([""] * len(prompts) if self.unconditional else list(prompts), seeds)

    def stage_seconds(self) -> dict[str, float]:
        """Wall time of each stage of the last `generate` call."""
        return dict(self.sampler.last_stage_seconds)

    @property
    def nfe(self) -> int:
        """Denoiser passes per image: one per step (no guidance)."""
        return self.steps

    def describe(self) -> dict[str, Any]:
        """What was sampled, and how."""
        self.scheduler.set_timesteps(self.steps)
        return {"name": self.name, "track": "toy", "model": "ablation snapshot", "weights_sha256": self.weights_sha256,
                "scheduler": {"name": "flow-dmd", "class": type(self.scheduler).__name__},
                "timesteps": [round(float(t), 4) for t in self.scheduler.timesteps], "steps": self.steps,
                "guidance": 1.0, "unconditional": self.unconditional, "nfe": self.nfe, "dtype": "float32",
                "device": "cpu", "resolution": 16}


# The toy protocol version the ablation scores with: every committed run carries its fingerprint, and runs of two
# versions never go into one table (results() refuses), so a newer toy protocol does not change the ablation.
PROTOCOL_VERSION = 3

# The protocol's metrics, then the ablation's extra ones (label, higher is better: None = no direction, digits).
METRICS = {"fid": ("toy FID", False, 0), "prompt_accuracy": ("prompt acc. held-in", True, 3),
           "prompt_accuracy_heldout": ("prompt acc. held-out", True, 3), "clip_score": ("toy CLIP", True, 2),
           "image_reward": ("toy ImageReward", True, 3), "precision": ("precision", True, 3),
           "recall": ("recall", True, 3), "output_std": ("output std", None, 3)}


class SnapshotScorer:
    """Scores snapshots with the toy protocol through `evaluation.runner` (the metric objects and runner of
    `evaluate`), plus improved precision/recall (k = 3) and the output std on the same images and features."""

    def __init__(self, prompts: int | None = None) -> None:
        self.protocol, self.context = track.toy_protocol(prompts, version=PROTOCOL_VERSION)
        self.extractor = track.ClassifierFeatures()
        attrs = [world.parse_prompt(p) for p in self.context.prompt_set.prompts]
        # The first of the FID reference's renders of each prompt: as many real images as generated ones.
        seeds = [track.REFERENCE_SEED_BASE + track.REFERENCE_PER_PROMPT * i for i in range(len(attrs))]
        self.real = self.extractor(world.render_for(attrs, seeds).images).double().numpy()

    def protocol_record(self) -> dict[str, Any]:
        """Which protocol the scores belong to."""
        return {"name": self.protocol.name, "version": self.protocol.version,
                "fingerprint": self.protocol.fingerprint}

    def score(self, path: Path, train_config: DistillConfig) -> dict[str, Any]:
        """{"step", "weights_sha256", "values": metric -> value} of one snapshot file."""
        generator = SnapshotGenerator(path, train_config)
        with tempfile.TemporaryDirectory(prefix="ddmd-ablation-") as tmp:
            # `get_protocol` checked the prompts already
            result = runner.run_checked(generator, self.protocol, self.context,
                                        runner.RunnerOptions(progress=False, image_dir=Path(tmp)))
            images = _read_pngs(Path(tmp), len(self.context.prompt_set.prompts))
        values = {name: float(m["value"]) for name, m in result.metrics.items()}
        fake = self.extractor(images).double().numpy()
        values["precision"], values["recall"] = MF.precision_recall(self.real, fake, k=3)
        values["output_std"] = float((images.float() / 127.5 - 1).std())
        return {"step": snapshot_step(path), "weights_sha256": generator.weights_sha256, "values": values}


def _read_pngs(folder: Path, n: int) -> torch.Tensor:
    """The runner's saved images (named by prompt index), as uint8 [n, 3, H, W]."""
    files = [folder / f"{i:06d}.png" for i in range(n)]
    return torch.stack([torch.from_numpy(np.array(Image.open(f))).permute(2, 0, 1) for f in files])


def snapshot_step(path: Path) -> int:
    """Student updates behind a snapshot file named `step-NNNNNN.safetensors`."""
    return int(path.stem.removeprefix("step-"))


def score_run(folder: Path, train_config: DistillConfig, scorer: SnapshotScorer) -> dict[str, Any]:
    """Score every snapshot of a run not scored yet under this protocol (cached in `eval.json`)."""
    path = folder / "eval.json"
    protocol = scorer.protocol_record()
    cache = json.loads(path.read_text()) if path.exists() else {}
    if cache.get("format") != EVAL_FORMAT or cache.get("protocol") != protocol:
        cache = {"format": EVAL_FORMAT, "protocol": protocol, "snapshots": {}}
    for snap in sorted((folder / "snapshots").glob("step-*.safetensors")):
        if snap.name not in cache["snapshots"]:
            log.info("scoring %s", snap)
            cache["snapshots"][snap.name] = scorer.score(snap, train_config)
            path.write_text(json.dumps(cache, indent=1) + "\n")
    path.write_text(json.dumps(cache, indent=1) + "\n")
    return cache


def run_finished(folder: Path) -> bool:
    """Trained to the end (or stopped by the divergence guard) and every snapshot scored."""
    if not ((folder / "student.safetensors").exists() or (folder / "diverged.json").exists()):
        return False
    eval_path = folder / "eval.json"
    if not eval_path.exists():
        return False
    scored = set(json.loads(eval_path.read_text()).get("snapshots", {}))
    return {p.name for p in (folder / "snapshots").glob("step-*.safetensors")} <= scored


RUN_FILES = ("eval.json", "log.jsonl", "diverged.json")


def copy_finished(out: Path, target: Path) -> int:
    """Copy the small files of every finished run under `out` (and its ablation.json) to `target`; returns the
    number of runs copied. These files are all the report is built from."""
    target.mkdir(parents=True, exist_ok=True)
    source = json.loads((out / "ablation.json").read_text())
    if (target / "ablation.json").exists():
        kept = json.loads((target / "ablation.json").read_text())["teacher_sha256"]
        if kept != source["teacher_sha256"]:
            raise AblationMismatch(f"{target} holds runs of teacher {kept[:12]}, but {out} distils teacher "
                                   f"{source['teacher_sha256'][:12]}; report into another --to folder")
    shutil.copyfile(out / "ablation.json", target / "ablation.json")
    copied = 0
    for eval_path in sorted(out.glob("*/seed-*/eval.json")):
        folder = eval_path.parent
        if not run_finished(folder):
            continue
        dest = target / folder.parent.name / folder.name
        dest.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if (folder / name).exists():
                shutil.copyfile(folder / name, dest / name)
        copied += 1
    return copied


# ----------------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class RunResult:
    """One finished run: its scored snapshots (step -> metric values) and whether the guard stopped it."""

    arm: str
    seed: int
    snapshots: dict[int, dict[str, float]]
    diverged: bool

    @property
    def final(self) -> dict[str, float] | None:
        """Scores of the last snapshot (a diverged run: the last one before the divergence), if any."""
        return self.snapshots[max(self.snapshots)] if self.snapshots else None


@dataclass(frozen=True, slots=True)
class Interval:
    """Mean over n values and the half-width of its 95% t-interval (None below two values)."""

    mean: float
    half: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Interval:
        x = np.asarray(values, float)
        if len(x) < 2:
            return cls(float(x.mean()) if len(x) else float("nan"), None, len(x))
        return cls(float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))),
                   len(x))

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.half is not None and abs(self.mean) > self.half

    def to_json(self) -> dict[str, Any]:
        """{"mean", "half", "n"}."""
        return {"mean": self.mean, "half": self.half, "n": self.n}


def read_runs(runs: Path) -> list[RunResult]:
    """Every run folder under `runs` that has an eval.json."""
    results = []
    for eval_path in sorted(runs.glob("*/seed-*/eval.json")):
        data = json.loads(eval_path.read_text())
        if data.get("format") != EVAL_FORMAT:
            raise ValueError(f"{eval_path}: not an ablation eval file of format {EVAL_FORMAT}; re-score the run "
                             "with `ddmd-bench ablation run` (it resumes and re-scores)")
        folder = eval_path.parent
        snapshots = {s["step"]: s["values"] for s in data["snapshots"].values()}
        results.append(RunResult(folder.parent.name, int(folder.name.removeprefix("seed-")), snapshots,
                                 (folder / "diverged.json").exists()))
    return results


def paired_difference(runs: list[RunResult], arm: str, baseline: str, metric: str) -> Interval:
    """Mean of arm - baseline over the seeds both arms have a final score for, with its 95% t-interval."""
    a = {r.seed: r.final[metric] for r in runs if r.arm == arm and r.final}
    b = {r.seed: r.final[metric] for r in runs if r.arm == baseline and r.final}
    return Interval.of([a[s] - b[s] for s in sorted(set(a) & set(b))])


def arm_summary(runs: list[RunResult], arm: Arm) -> dict[str, Any]:
    """Runs, divergences, steps reached and the mean (95% t-interval) of each metric at the runs' final snapshots."""
    mine = [r for r in runs if r.arm == arm.name]
    finals = [r.final for r in mine if r.final]
    steps = [max(r.snapshots) for r in mine if r.snapshots]
    return {**arm.describe(), "seeds_planned": arm.seeds, "runs": len(mine), "seeds": sorted(r.seed for r in mine),
            "diverged": sum(r.diverged for r in mine), "unscored": len(mine) - len(finals),
            "steps": [min(steps), max(steps)] if steps else None,
            "final": {m: Interval.of([f[m] for f in finals]).to_json() for m in METRICS}}


def curves(runs: list[RunResult], arm: str) -> dict[str, dict[str, Any]]:
    """metric -> {"steps", "mean"} over the arm's runs at every scored step."""
    mine = [r for r in runs if r.arm == arm]
    steps = sorted({s for r in mine for s in r.snapshots})
    return {m: {"steps": steps, "mean": [float(np.mean([r.snapshots[s][m] for r in mine if s in r.snapshots]))
                                         for s in steps]} for m in METRICS}


# ------------------------------------------------------------------------------------------------------ claims
@dataclass(frozen=True, slots=True)
class Comparison:
    """Does `arm` differ from `baseline` in `metric` in the direction `expect` ("higher" or "lower")?"""

    arm: str
    baseline: str
    metric: str
    expect: str

    def verdict(self, d: Interval) -> str:
        """agree / disagree when the paired interval excludes zero on one side, else inconclusive."""
        if d.n < MIN_PAIRS or not d.significant:
            return "inconclusive"
        return "agree" if (d.mean > 0) == (self.expect == "higher") else "disagree"


@dataclass(frozen=True, slots=True)
class Claim:
    """One of the paper's claims and the paired comparisons that test it (all must agree for "agree"; any
    disagreeing comparison makes it "disagree"). `collapse_arm`: its divergences count as evidence too."""

    claim: str
    comparisons: tuple[Comparison, ...]
    collapse_arm: str | None = None


CLAIMS = (
    Claim("CA is the engine: without it (DM only) the student follows prompts less well",
          (Comparison("dm-only", "decoupled-hybrid", "prompt_accuracy", "lower"),)),
    Claim("CA alone collapses: its diversity falls (or training diverges)",
          (Comparison("ca-only", "decoupled-hybrid", "recall", "lower"),), collapse_arm="ca-only"),
    Claim("DM stabilises: adding DM to CA brings the samples closer to the data",
          (Comparison("decoupled-hybrid", "ca-only", "fid", "lower"),)),
    Claim("Decoupling helps: decoupled-full beats coupled DMD2", (Comparison("decoupled-full", BASELINE, "fid",
                                                                              "lower"),)),
    Claim("Decoupling helps: decoupled-constrained beats coupled DMD2",
          (Comparison("decoupled-constrained", BASELINE, "fid", "lower"),)),
    Claim("The hybrid schedule is best of the four", tuple(Comparison("decoupled-hybrid", b, "fid", "lower") for b in
                                                          (BASELINE, "decoupled-full", "decoupled-constrained"))),
    Claim("Unconditional case: without CFG there is no CA term, and DM alone distils less well than CA + DM",
          (Comparison("uncond-dmd", BASELINE, "fid", "higher"),)),
    Claim("Fake-model explanation of the hybrid schedule's diversity: 5 fake updates per student update raise "
          "its recall",
          (Comparison("hybrid-ttur5", "decoupled-hybrid", "recall", "higher"),)),
    Claim("Fake-model explanation: twice the fake learning rate raises it",
          (Comparison("hybrid-fake-lr-x2", "decoupled-hybrid", "recall", "higher"),)),
    Claim("Fake-model explanation: half the fake learning rate raises it",
          (Comparison("hybrid-fake-lr-x0.5", "decoupled-hybrid", "recall", "higher"),)),
    Claim("Normaliser explanation: one combined normaliser instead of one per branch raises it",
          (Comparison("hybrid-combined-norm", "decoupled-hybrid", "recall", "higher"),)),
)


def judge(claim: Claim, runs: list[RunResult]) -> dict[str, Any]:
    """The claim's verdict and the numbers behind it."""
    tests = []
    for c in claim.comparisons:
        d = paired_difference(runs, c.arm, c.baseline, c.metric)
        tests.append({**asdict(c), "difference": d.to_json(), "verdict": c.verdict(d)})
    verdicts = [t["verdict"] for t in tests]
    verdict = ("disagree" if "disagree" in verdicts else "agree" if set(verdicts) == {"agree"} else "inconclusive")
    out: dict[str, Any] = {"claim": claim.claim, "tests": tests}
    if claim.collapse_arm:
        mine = [r for r in runs if r.arm == claim.collapse_arm]
        diverged = sum(r.diverged for r in mine)
        out["diverged"] = [diverged, len(mine)]
        if len(mine) >= MIN_PAIRS and diverged * 2 > len(mine) and verdict != "disagree":
            verdict = "agree"  # most runs stopped by the variance guard: the collapse itself
    if all(t["difference"]["n"] == 0 for t in tests) and not out.get("diverged", [0, 0])[1]:
        verdict = "not measured yet"
    out["verdict"] = verdict
    return out


# ------------------------------------------------------------------------------------------------------ report
def results(runs_dir: Path) -> dict[str, Any]:
    """Everything the report states, from the run files under `runs_dir` (see `copy_finished`)."""
    identity_path = runs_dir / "ablation.json"
    if not identity_path.exists():
        raise FileNotFoundError(f"no ablation.json in {runs_dir}: not an ablation runs folder; run `ddmd-bench "
                                "ablation run` first")
    identity = json.loads(identity_path.read_text())
    runs = read_runs(runs_dir)  # none finished yet: a report that says so
    cfg = AblationConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in identity.items()
                            if k in AblationConfig.__dataclass_fields__})
    arms = [ARMS.get(a) for a in cfg.arms]
    present = {r.arm for r in runs}
    unknown = present - set(cfg.arms)
    if unknown:
        raise ValueError(f"{runs_dir}: runs of arms {sorted(unknown)} that its ablation.json does not plan")
    protocols = {json.dumps(json.loads((runs_dir / r.arm / f"seed-{r.seed}" / "eval.json").read_text())["protocol"],
                            sort_keys=True) for r in runs}
    if len(protocols) > 1:
        raise ValueError(f"{runs_dir}: runs scored under different protocols; re-score them with `ablation run`")
    others = [a for a in arms if a.name != BASELINE]
    return {
        "teacher_sha256": identity["teacher_sha256"], "protocol": json.loads(protocols.pop()) if protocols else None,
        "config": cfg.to_dict(), "planned_runs": len(cfg.plan()), "finished_runs": len(runs),
        "min_pairs": MIN_PAIRS, "baseline": BASELINE,
        "metrics": [{"key": k, "label": label, "higher_is_better": hib, "digits": d}
                    for k, (label, hib, d) in METRICS.items()],
        "arms": [arm_summary(runs, a) for a in arms],
        "differences": [{"arm": a.name, "baseline": BASELINE,
                         "metrics": {m: paired_difference(runs, a.name, BASELINE, m).to_json() for m in METRICS}}
                        for a in others],
        "claims": [judge(c, runs) for c in CLAIMS if all(x.arm in cfg.arms and x.baseline in cfg.arms
                                                          for x in c.comparisons)],
        "curves": {a.name: curves(runs, a.name) for a in arms if a.name in present},
    }


def render_report(runs_dir: Path, target: Path) -> Path:
    """Write `results.json`, `table.md` and `curves.png` in `target` from the run files under `runs_dir`."""
    data = results(runs_dir)
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    (target / "table.md").write_text(table_markdown(data) + "\n")
    plot_curves(data, target / "curves.png")
    return target


def plot_curves(data: dict[str, Any], path: Path) -> None:
    """Mean over seeds of every metric against student updates, one line per arm."""
    import matplotlib  # heavy plotting backend, needed only to draw the report's figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the non-interactive backend

    metrics = data["metrics"]
    cols = 4
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for arm, per_metric in data["curves"].items():
            c = per_metric[metric["key"]]
            ax.plot(c["steps"], c["mean"], marker="o", ms=3, label=arm)
        ax.set_title(metric["label"])
        ax.set_xlabel("student updates")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where `ablation report` reads runs from and writes to."""

    target: Path
    runs: Path | None = None  # None: the runs committed under target/runs
    committed: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "committed", self.target / "runs")


def report(paths: ReportPaths) -> tuple[Path, int | None]:
    """Copy the finished runs of `paths.runs` (if given) into `target/runs`, then render the report from there;
    returns (target, runs copied or None)."""
    copied = None
    if paths.runs is not None and paths.runs.resolve() != paths.committed.resolve():
        if not (paths.runs / "ablation.json").exists():
            raise FileNotFoundError(f"no evaluated ablation runs under {paths.runs} (no ablation.json); run "
                                    "`ddmd-bench ablation run` first")
        copied = copy_finished(paths.runs, paths.committed)
    return render_report(paths.committed, paths.target), copied
