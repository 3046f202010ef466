"""Sections built from the shipped toy weights' manifest: what each model cost to train and what it measured."""

from __future__ import annotations

import re
from typing import Any

from ddmd_bench.report.fmt import seconds
from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import MANIFEST, Sources

_METRIC_MODELS = ("classifier", "clip", "reward")


def _threads(meta: dict[str, Any]) -> int | None:
    if "threads" in meta:
        return meta["threads"]
    m = re.search(r"--threads (\d+)", meta.get("command", ""))
    return int(m[1]) if m else None


def _time(meta: dict[str, Any]) -> float:
    return meta.get("train_seconds", meta.get("train_step_seconds_sum"))


def _by_kind(data: Sources, kind: str) -> dict[str, dict[str, Any]]:
    return {name.removesuffix(".safetensors"): meta for name, meta in data.manifest().items()
            if meta.get("kind") == kind}


def _measured(name: str, meta: dict[str, Any]) -> str:
    if name == "classifier":
        acc = meta["accuracy_on_5000_fresh_samples"]
        return f"{acc['all_attributes']:.2%} all-attribute accuracy on 5000 fresh samples"
    if name == "clip":
        top1 = meta["top1_retrieval_over_180_canonical_prompts"]
        return f"{top1:.1%} top-1 retrieval among the 180 canonical prompts"
    if name == "reward":
        acc = meta["pairwise_accuracy_on_1024_fresh_pairs"]
        return (f"pairwise accuracy {acc['held_in']:.2f} on 1024 fresh preference pairs ({acc['held_out']:.2f} on "
                "held-out combinations)")
    return ""


def _time_cell(meta: dict[str, Any]) -> str:
    kind = "step time" if "train_step_seconds_sum" in meta and "train_seconds" not in meta else "wall"
    threads = _threads(meta)
    plural = "s" if threads != 1 else ""
    return f"{seconds(_time(meta))} of {kind}" + (f", {threads} thread{plural}" if threads else "")


@SECTIONS.register("toy-training-figures")
def toy_training_figures(data: Sources) -> str:
    """One row per shipped toy model: its training run and what it measured, from the manifest."""
    lines = ["| model | training | time | measured |", "|---|---|---|---|"]
    t = _by_kind(data, "teacher")["teacher"]
    cfg = t["train_config"]
    lines.append(f"| teacher | {cfg['steps']} steps of {cfg['batch_size']} | {_time_cell(t)} | see the leaderboard |")
    for name in _METRIC_MODELS:
        meta = data.manifest()[f"{name}.safetensors"]
        cfg = meta["train_config"]
        lines.append(f"| {name} | {cfg['steps']} steps of {cfg['batch_size']} | {_time_cell(meta)} | "
                     f"{_measured(name, meta)} |")
    for name, meta in sorted(_by_kind(data, "student").items()):
        cfg = meta["distill_config"]
        stop = f"stopped by the divergence guard at step {meta['final']['step'] + 1}" if meta.get("diverged") else ""
        lines.append(f"| student `toy-{name}` | {cfg['steps']} updates of {cfg['batch_size']}, LoRA rank "
                     f"{meta['lora_rank']} | {_time_cell(meta)} | {stop or 'see the leaderboard'} |")
    lines.append(f"\n*From `{MANIFEST}` (`train_seconds`: wall time; `train_step_seconds_sum`: the sum of logged "
                 "step times, which grows when other jobs share the cores).*")
    return "\n".join(lines)


@SECTIONS.register("toy-retrain-commands")
def toy_retrain_commands(data: Sources) -> str:
    """The commands that regenerate the shipped toy weights, with the time each took when it was made."""
    lines = ["```bash"]
    files = data.manifest()
    order = [f"{n}.safetensors" for n in (*_METRIC_MODELS, "teacher")]
    for name in order:
        meta = files[name]
        lines.append(f"{meta['command']:<84} # {seconds(_time(meta))}")
    students = _by_kind(data, "student")
    lines.append(f"bash scripts/retrain_toy_students.sh{'':<48} # the {len(students)} students, "
                 f"{sum(_time(m) for m in students.values()):.0f} s of step time in all")
    lines.append("```")
    return "\n".join(lines)
