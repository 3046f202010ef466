"""Sections built from the toy track's leaderboard: the table, the teacher rows, and the findings in words.

Every sentence's numbers and its direction ("higher", "no significant difference") are computed here from the
records, paired comparisons going through `ddmd_bench.leaderboard.compare` (the code behind `leaderboard compare`).
"""

from __future__ import annotations

import re
from typing import Any

from ddmd_bench.leaderboard import render
from ddmd_bench.leaderboard.compare import Comparison, compare_metric
from ddmd_bench.report.fmt import interval, metric, ms, num, signed
from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import ReportError, Sources

PROTOCOL = "toy"
TEACHER_GUIDANCE = 3


def teacher(steps: int, guided: bool) -> str:
    """Leaderboard name of the toy teacher at `steps` Euler steps, with CFG 3 or none."""
    return f"toy-teacher/euler-{steps}/{f'cfg{TEACHER_GUIDANCE}' if guided else 'nocfg'}"


def student(preset: str) -> str:
    """Leaderboard name of a shipped student (`toy-dmd-4step` -> `toy-dmd-4step/dmd-4/nocfg`)."""
    steps = re.search(r"(\d+)step$", preset)
    if not steps:
        raise ReportError(f"cannot read the step count from student preset {preset!r}")
    return f"{preset}/dmd-{steps[1]}/nocfg"


def _records(data: Sources) -> dict[str, dict[str, Any]]:
    return data.records(PROTOCOL)


def _get(records: dict[str, dict[str, Any]], name: str, data: Sources) -> dict[str, Any]:
    if name not in records:
        raise ReportError(f"{data.root / data.leaderboard_file(PROTOCOL)}: no measured entry {name!r}; "
                          f"evaluate it (ddmd-bench evaluate --model ...) or change the section builder")
    return records[name]


def compare(records: dict[str, dict[str, Any]], a: str, b: str, name: str, data: Sources) -> Comparison:
    """B minus A for one metric, as `ddmd-bench leaderboard compare` computes it."""
    return compare_metric(name, _get(records, a, data)["metrics"][name], _get(records, b, data)["metrics"][name])


def _ci(c: Comparison, digits: int) -> str:
    return f"{signed(c.diff, digits)} {interval(c.low, c.high, digits)}"


def _sig(c: Comparison) -> bool:
    return c.low is not None and not c.low <= 0 <= c.high


def _acc(record: dict[str, Any], name: str = "prompt_accuracy") -> str:
    m = record["metrics"][name]
    return f"{num(m['value'])} [{num(m['ci_low'])}, {num(m['ci_high'])}]"


def _of(k: int, n: int) -> str:
    return f"{k} of {n} students {'has' if k == 1 else 'have'}"


def _students(records: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(n for n in records if not n.startswith("toy-teacher/"))


def _steps(name: str) -> int:
    return int(re.search(r"/(?:dmd|euler)-(\d+)/", name)[1])


@SECTIONS.register("toy-leaderboard")
def toy_leaderboard(data: Sources) -> str:
    """Every entry of the current toy leaderboard, best held-in prompt accuracy first."""
    header, entries = data.leaderboard(PROTOCOL)
    return render.markdown(header, entries, sort_by="prompt_accuracy")


@SECTIONS.register("toy-teacher-leaderboard")
def toy_teacher_leaderboard(data: Sources) -> str:
    """The teacher's rows of the current toy leaderboard."""
    header, entries = data.leaderboard(PROTOCOL)
    rows = [e for e in entries if e.record["generator"].get("model") == "teacher"]
    return render.markdown(header, rows, sort_by="prompt_accuracy")


@SECTIONS.register("toy-run-cost")
def toy_run_cost(data: Sources) -> str:
    """What evaluating the leaderboard's generators cost, from the records' own timings."""
    records = list(_records(data).values())
    total = sum(r["timings"]["total_s"] for r in records)
    biggest = max(records, key=lambda r: r["timings"]["total_s"])
    devices = sorted({f"{r['latency']['device']['name']}, {r['latency']['device']['threads']} threads"
                      for r in records})
    torch = sorted({r["environment"]["packages"]["torch"] for r in records})
    return (f"The {len(records)} records on the toy leaderboard took {total:.0f} s of generation and scoring in total "
            f"(sum of each record's `timings.total_s`; model loading and process start excluded), the largest "
            f"{biggest['timings']['total_s']:.0f} s for `{biggest['generator']['name']}` "
            f"({biggest['timings']['images_per_s']:.1f} images/s), on {'; '.join(devices)} with torch "
            f"{', '.join(torch)}. A re-run reuses the finished records and takes seconds.")


@SECTIONS.register("toy-findings")
def toy_findings(data: Sources) -> str:
    """The toy leaderboard's findings, each number computed from the records."""
    r = _records(data)
    return "\n".join([_teacher_finding(r, data), _guidance_finding(r, data), _few_step_finding(r, data),
                      _students_vs_teacher(r, data), _four_step_finding(r, data), _ablation_arms_finding(r, data)])


def _teacher_finding(r: dict[str, dict[str, Any]], data: Sources) -> str:
    t = _get(r, teacher(50, True), data)
    return (f"- **The teacher learned the world.** 50 guided steps: held-in prompt accuracy {_acc(t)}, held-out "
            f"combinations (shape/colour pairs never seen in training) {_acc(t, 'prompt_accuracy_heldout')}.")


def _guidance_finding(r: dict[str, dict[str, Any]], data: Sources) -> str:
    off, on = teacher(50, False), teacher(50, True)
    acc, held = compare(r, off, on, "prompt_accuracy", data), compare(r, off, on, "prompt_accuracy_heldout", data)
    clip, fid = compare(r, off, on, "clip_score", data), compare(r, off, on, "fid", data)
    fid_word = "worse" if fid.diff > 0 else "better"
    title = "Guidance matters." if _sig(acc) and acc.diff > 0 else "Guidance."
    return (f"- **{title}** At 50 steps, CFG {TEACHER_GUIDANCE} vs none (paired bootstrap, 95% interval): "
            f"held-in accuracy {num(acc.b)} vs {num(acc.a)} ({_ci(acc, 3)}), held-out {num(held.b)} vs "
            f"{num(held.a)} ({_ci(held, 3)}), CLIP {_ci(clip, 1)}, while FID gets {fid_word} "
            f"({fid.a:.0f} -> {fid.b:.0f}, {_ci(fid, 0)}).")


def _few_step_finding(r: dict[str, dict[str, Any]], data: Sources) -> str:
    g1, u1, u50 = (_get(r, teacher(1, True), data), _get(r, teacher(1, False), data),
                   _get(r, teacher(50, False), data))
    return (f"- **Distillation has work to do.** The teacher's 1-step guided sample is far off (FID "
            f"{metric(g1, 'fid'):.0f}, accuracy {num(metric(g1, 'prompt_accuracy'))}); unguided few-step Euler "
            f"samples are blurry conditional means that the classifier still reads (1 step: "
            f"{num(metric(u1, 'prompt_accuracy'))}), while their FID is "
            f"{'higher' if metric(u1, 'fid') > metric(u50, 'fid') else 'lower'} than at 50 steps "
            f"({metric(u1, 'fid'):.0f} vs {metric(u50, 'fid'):.0f}).")


def _students_vs_teacher(r: dict[str, dict[str, Any]], data: Sources) -> str:
    """A table: each student against the unguided teacher at its own step count (the same NFE)."""
    lines = ["- **Students vs the teacher at the same step count** (unguided teacher, same NFE; B - A with A the "
             "teacher, paired bootstrap for accuracy, normal interval from both CIs for FID):", "",
             "  | student | steps | acc held-in: student vs teacher | difference | FID: student vs teacher | "
             "difference | ms/img |", "  |---|---|---|---|---|---|---|"]
    better_acc = worse_fid = beats = 0
    names = sorted(_students(r), key=lambda n: (_steps(n), n))
    for s in names:
        t = teacher(_steps(s), False)
        acc, fid = compare(r, t, s, "prompt_accuracy", data), compare(r, t, s, "fid", data)
        acc_up, fid_down = _sig(acc) and acc.diff > 0, _sig(fid) and fid.diff > 0
        better_acc, worse_fid = better_acc + acc_up, worse_fid + fid_down
        beats += acc_up and not fid_down
        lines.append(f"  | `{s}` | {_steps(s)} | {num(acc.b)} vs {num(acc.a)} | {_ci(acc, 3)} | {fid.b:.0f} vs "
                     f"{fid.a:.0f} | {_ci(fid, 0)} | {ms(r[s]):.1f} vs {ms(r[t]):.1f} |")
    n = len(names)
    lines += ["", f"  {_of(better_acc, n)} a significantly higher held-in accuracy than the unguided teacher at "
              f"{'its' if better_acc == 1 else 'their'} step count, {_of(worse_fid, n)} a significantly worse FID, "
              f"and {_of(beats, n)} the higher accuracy without the worse FID."]
    return "\n".join(lines)


def _four_step_finding(r: dict[str, dict[str, Any]], data: Sources) -> str:
    a, b = student("toy-dmd-4step"), student("toy-ddmd-constrained-4step")
    parts = []
    for name, label, digits in (("fid", "FID", 0), ("prompt_accuracy", "held-in accuracy", 3),
                                ("clip_score", "CLIP", 1), ("image_reward", "toy ImageReward", 2)):
        c = compare(r, a, b, name, data)
        parts.append(f"{label} {_ci(c, digits)}{'' if _sig(c) else ' (not significant)'}")
    ra, rb = _get(r, a, data), _get(r, b, data)
    return (f"- **Coupled DMD2 vs `decoupled-constrained` (4 steps).** Held-in accuracy "
            f"{num(metric(ra, 'prompt_accuracy'))} vs {num(metric(rb, 'prompt_accuracy'))}, FID "
            f"{metric(ra, 'fid'):.0f} vs {metric(rb, 'fid'):.0f}; constrained minus DMD2: {'; '.join(parts)} "
            f"(`ddmd-bench leaderboard compare {data.leaderboard_file(PROTOCOL)} {a} {b}`). One training seed each: "
            "the seed-to-seed spread is not in these intervals.")


def _ablation_arms_finding(r: dict[str, dict[str, Any]], data: Sources) -> str:
    ca, dm = _get(r, student("toy-ca-only-4step"), data), _get(r, student("toy-dm-only-4step"), data)
    diverged = data.manifest().get("ca-only-4step.safetensors", {}).get("diverged")
    m = re.search(r"std ([\d.]+) exceeds ([\d.]+) at step (\d+).*\(step (\d+)\)", diverged or "")
    how = (f"its output standard deviation passed the trainer's guard at step {m[3]} (std {m[1]} > {m[2]}), the "
           f"CA-collapse signature the paper describes; its shipped row is the last good checkpoint (step {m[4]})"
           if m else "it did not diverge in training")
    dm_stable = not data.manifest().get("dm-only-4step.safetensors", {}).get("diverged")
    return (f"- **CA alone{' blows up' if m else ''}, DM alone.** The CA-only student: {how}. It has a toy "
            f"ImageReward of {metric(ca, 'image_reward'):.2f} with FID {metric(ca, 'fid'):.0f}: reward-friendly but "
            f"far off the data. The DM-only student {'trained without diverging' if dm_stable else 'diverged'} (FID "
            f"{metric(dm, 'fid'):.0f}; held-in "
            f"accuracy {num(metric(dm, 'prompt_accuracy'))}, held-out {num(metric(dm, 'prompt_accuracy_heldout'))}).")


@SECTIONS.register("toy-guidance-findings")
def toy_guidance_findings(data: Sources) -> str:
    """Teacher-only findings for docs/toy-world.md."""
    r = _records(data)
    g1, g50 = _get(r, teacher(1, True), data), _get(r, teacher(50, True), data)
    u1, u4, u50 = (_get(r, teacher(s, False), data) for s in (1, 4, 50))
    lines = [_teacher_finding(r, data), _guidance_finding(r, data)]
    lines.append(f"- **Distillation has work to do.** The guided teacher at 1 step: FID {metric(g1, 'fid'):.0f} and "
                 f"accuracy {num(metric(g1, 'prompt_accuracy'))}, against {metric(g50, 'fid'):.0f} and "
                 f"{num(metric(g50, 'prompt_accuracy'))} at 50 steps. Unguided few-step Euler samples are blurry "
                 "conditional means: the classifier still reads their attributes "
                 f"({num(metric(u1, 'prompt_accuracy'))} at 1 step, {num(metric(u4, 'prompt_accuracy'))} at 4, "
                 f"{num(metric(u50, 'prompt_accuracy'))} at 50), so unguided accuracy alone understates what a "
                 "few-step sampler loses.")
    return "\n".join(lines)


@SECTIONS.register("toy-world-v1-teacher")
def toy_world_v1_teacher(data: Sources) -> str:
    """The world v1 teacher's figures, from the last leaderboard made with it (toy protocol v2)."""
    r = data.records(PROTOCOL, 2)
    g, u = _get(r, teacher(50, True), data), _get(r, teacher(50, False), data)
    return (f"On toy protocol v2 (`{data.leaderboard_file(PROTOCOL, 2)}`), the world v1 teacher reached held-in "
            f"accuracy {_acc(g)} at 50 guided steps ({num(metric(u, 'prompt_accuracy'))} unguided) and "
            f"{num(metric(g, 'prompt_accuracy_heldout'))} on held-out combinations.")
