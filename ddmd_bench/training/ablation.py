"""The paper's claims, measured on the toy track: every ablation arm x several training seeds, learning curves
from EMA snapshots, final metrics with 95% confidence intervals over seeds, written as a Markdown report with plots.

Resumable at every level: a finished run is skipped, an unfinished one resumes from its checkpoint, and each
snapshot's evaluation is cached next to it. Runs are ordered seed-major, so a partial ablation covers every arm.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ddmd_bench.metrics import functional as MF
from ddmd_bench.training.presets import get_preset

log = logging.getLogger(__name__)

ARMS = ("toy-dmd-4step", "toy-ddmd-full-4step", "toy-ddmd-constrained-4step", "toy-ddmd-4step",
        "toy-ca-only-4step", "toy-dm-only-4step", "toy-uncond-dmd-4step")
EVAL_SEED_BASE = 3_000_000  # disjoint from the toy protocol's seeds (1e6 + i) and its reference (2e6 + ...)
REAL_SEED_BASE = 4_000_000


@dataclass(frozen=True, slots=True)
class AblationConfig:
    """Which arms, seeds and budget; `steps` and `snapshot_every` override the presets'."""

    arms: tuple[str, ...] = ARMS
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 300
    snapshot_every: int = 75
    eval_prompts: int = 128  # the first n toy protocol prompts (held-in and held-out)
    real_per_prompt: int = 2


@dataclass
class SnapshotEval:
    """Metrics of one EMA snapshot on the ablation's evaluation prompts."""

    step: int
    values: dict[str, float] = field(default_factory=dict)


def run_dir(out: Path, arm: str, seed: int) -> Path:
    """Folder of one (arm, seed) training run."""
    return out / arm / f"seed-{seed}"


def run_all(cfg: AblationConfig, out: Path) -> None:
    """Train and evaluate every (seed, arm) not finished yet."""
    from ddmd_bench.toy.shipped import entry
    from ddmd_bench.training.trainer import Trainer, TrainingDiverged

    out.mkdir(parents=True, exist_ok=True)
    write_identity(out, cfg, entry("teacher")["sha256"])
    evaluator = Evaluator(cfg)
    for seed in cfg.seeds:
        for arm in cfg.arms:
            folder = run_dir(out, arm, seed)
            preset = get_preset(arm).with_overrides(seed=seed, steps=cfg.steps, snapshot_every=cfg.snapshot_every,
                                                    save_every=cfg.snapshot_every)
            if not (folder / "student.safetensors").exists() and not (folder / "diverged.json").exists():
                log.info("training %s seed %d", arm, seed)
                try:
                    Trainer(preset, folder).run()
                except TrainingDiverged as exc:  # a finding, not a crash: keep its curve up to the divergence
                    log.warning("%s seed %d diverged: %s", arm, seed, exc)
                    (folder / "diverged.json").write_text(json.dumps({"message": str(exc)}) + "\n")
            evaluator.evaluate_run(folder, preset)


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
    path.write_text(json.dumps({**asdict(cfg), "teacher_sha256": teacher_sha256}, indent=1) + "\n")


class Evaluator:
    """Samples snapshots with the student's own sampler and scores them against real world images."""

    def __init__(self, cfg: AblationConfig) -> None:
        from ddmd_bench.toy import world
        from ddmd_bench.toy.loaders import load_classifier, load_denoiser
        from ddmd_bench.toy.prompts import toy_prompt_set
        from ddmd_bench.toy.track import ClassifierFeatures

        self.cfg = cfg
        self.prompts = list(toy_prompt_set().prompts[: cfg.eval_prompts])
        self.attrs = [world.parse_prompt(p) for p in self.prompts]
        self.teacher, self.tokenizer, self.meta = load_denoiser("teacher")
        self.classifier, _ = load_classifier()
        self.features = ClassifierFeatures()
        pairs = [(a, REAL_SEED_BASE + cfg.real_per_prompt * i + j)
                 for i, a in enumerate(self.attrs) for j in range(cfg.real_per_prompt)]
        real = world.render_for([a for a, _ in pairs], [s for _, s in pairs]).images
        self.real = self.features(real).double().numpy()

    def evaluate_run(self, folder: Path, preset) -> list[SnapshotEval]:
        """Evaluate every snapshot of a run (cached in eval.json)."""
        cache_path = folder / "eval.json"
        cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
        for snap in sorted((folder / "snapshots").glob("step-*.safetensors")):
            if snap.name not in cache:
                cache[snap.name] = self.evaluate(snap, preset)
                cache_path.write_text(json.dumps(cache, indent=1) + "\n")
        return [SnapshotEval(int(k[5:11]), v) for k, v in sorted(cache.items())]

    @torch.no_grad()
    def evaluate(self, path: Path, preset) -> dict[str, float]:
        """Prompt accuracy (held-in / held-out), toy FID, precision, recall and pixel statistics of one snapshot."""
        from safetensors.torch import load_file

        from ddmd_bench.toy import world
        from ddmd_bench.toy.loaders import student_model
        from ddmd_bench.toy.models import TeacherConfig
        from ddmd_bench.toy.pipeline import SCHEDULERS, ToySampler

        model = student_model(self.teacher, load_file(str(path)), preset.lora_rank)
        config = TeacherConfig.from_dict(self.meta["model_config"])
        sampler = ToySampler(model, self.tokenizer, SCHEDULERS.get("flow-dmd")(config, preset.student_steps),
                             preset.student_steps, 1.0)
        prompts = [""] * len(self.prompts) if preset.unconditional else self.prompts
        seeds = [EVAL_SEED_BASE + i for i in range(len(prompts))]
        images = torch.cat([sampler.sample(prompts[i:i + 64], seeds[i:i + 64]) for i in range(0, len(prompts), 64)])
        fake = self.features(images).double().numpy()
        mu_r, mu_f = self.real.mean(0), fake.mean(0)
        fid = MF.frechet_distance(mu_f, np.cov(fake, rowvar=False), mu_r, np.cov(self.real, rowvar=False))
        precision, recall = MF.precision_recall(self.real, fake, k=3)
        predicted = self.classifier.predict(images)
        correct = np.array([all(predicted[k][i] == a[k] for k in world.ATTRIBUTES) for i, a in enumerate(self.attrs)])
        held_out = np.array([world.is_held_out(a) for a in self.attrs])
        pixels = images.float() / 127.5 - 1
        return {"fid": fid, "precision": precision, "recall": recall,
                "accuracy": float(correct[~held_out].mean()), "accuracy_heldout": float(correct[held_out].mean()),
                "pixel_std": float(pixels.std()), "pixel_mean": float(pixels.mean())}


# ------------------------------------------------------------------------------------------------- report
METRICS = (("accuracy", "prompt acc. held-in", True), ("accuracy_heldout", "prompt acc. held-out", True),
           ("fid", "toy FID", False), ("precision", "precision", True), ("recall", "recall", True),
           ("pixel_std", "pixel std", None))


def collect(out: Path) -> dict[str, dict[int, list[SnapshotEval]]]:
    """arm -> seed -> snapshot evaluations, for whatever has been evaluated so far."""
    result: dict[str, dict[int, list[SnapshotEval]]] = {}
    for eval_file in sorted(out.glob("*/seed-*/eval.json")):
        arm, seed = eval_file.parent.parent.name, int(eval_file.parent.name[5:])
        cache = json.loads(eval_file.read_text())
        result.setdefault(arm, {})[seed] = [SnapshotEval(int(k[5:11]), v) for k, v in sorted(cache.items())]
    return result


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval over seeds (nan half-width for a single seed)."""
    from scipy import stats

    x = np.asarray(values, float)
    if len(x) < 2:
        return float(x.mean()), float("nan")
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def final_table(data: dict[str, dict[int, list[SnapshotEval]]],
                diverged: dict[str, dict[int, bool]] | None = None) -> list[dict[str, Any]]:
    """One row per arm: mean and 95% CI over seeds of each metric at the last snapshot every seed reached (a seed
    that diverged contributes its last snapshot before the divergence; `diverged` counts them)."""
    diverged = diverged or {}
    rows = []
    for arm, seeds in data.items():
        last = min(max(s.step for s in evals) for evals in seeds.values())
        finals = [next(s for s in evals if s.step == last).values for evals in seeds.values()]
        row: dict[str, Any] = {"arm": arm, "seeds": len(finals), "step": last,
                               "diverged": sum(1 for d in diverged.get(arm, {}).values() if d)}
        for key, _, _ in METRICS:
            row[key] = mean_ci([f[key] for f in finals])
        rows.append(row)
    return rows


def render_report(out: Path, target: Path) -> Path:
    """Write `target`/README.md and the plots from the evaluations under `out`."""
    data = collect(out)
    if not data:
        raise FileNotFoundError(f"no evaluated ablation runs under {out}; run `ddmd-bench ablation run` first")
    target.mkdir(parents=True, exist_ok=True)
    _plot_curves(data, target / "curves.png")
    diverged = {arm: {seed: (out / arm / f"seed-{seed}" / "diverged.json").exists() for seed in seeds}
                for arm, seeds in data.items()}
    rows = final_table(data, diverged)
    lines = ["| arm | seeds (diverged) | step | " + " | ".join(label for _, label, _ in METRICS) + " |",
             "|---" * (3 + len(METRICS)) + "|"]
    for r in rows:
        cells = []
        for key, _, _ in METRICS:
            m, h = r[key]
            cells.append(f"{m:.3f}" + ("" if math.isnan(h) else f" ± {h:.3f}") if key != "fid" else
                         f"{m:.0f}" + ("" if math.isnan(h) else f" ± {h:.0f}"))
        lines.append(f"| {r['arm']} | {r['seeds']} ({r['diverged']}) | {r['step']} | " + " | ".join(cells) + " |")
    (target / "table.md").write_text("\n".join(lines) + "\n")
    (target / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    return target


def _plot_curves(data: dict[str, dict[int, list[SnapshotEval]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.4))
    for ax, (key, label, _) in zip(axes, METRICS):
        for arm, seeds in data.items():
            steps = sorted({s.step for evals in seeds.values() for s in evals})
            means, lows, highs = [], [], []
            for st in steps:
                vals = [s.values[key] for evals in seeds.values() for s in evals if s.step == st]
                m, h = mean_ci(vals)
                means.append(m)
                lows.append(m - (0 if math.isnan(h) else h))
                highs.append(m + (0 if math.isnan(h) else h))
            line, = ax.plot(steps, means, marker="o", ms=3, label=arm.removeprefix("toy-"))
            ax.fill_between(steps, lows, highs, color=line.get_color(), alpha=0.15)
        ax.set_title(label)
        ax.set_xlabel("student updates")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
