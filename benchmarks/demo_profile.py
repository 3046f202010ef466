"""Where the default evaluation spends its time: stages from cProfile, work counted, per-generator timings.

Wall seconds on a shared machine move with the load, so next to the profile's seconds this counts work that does
not: denoiser passes per generator (the toy sampler's own counter), images generated, metric updates. Everything
is written under a temporary folder (results and leaderboard), never into the repository.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/demo_profile.py                       # the whole default suite
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/demo_profile.py --model toy-teacher/euler-4/nocfg --limit 96
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

from ddmd_bench.utils import threads

# (stage, module path suffix, function name): cumulative seconds of these functions are the stages reported
STAGES = (
    ("resolve generators (imports, cached weights)", "evaluation/suite.py", "resolve"),
    ("build metrics (metric weights, reference)", "evaluation/context.py", "build_metrics"),
    ("build metrics (metric weights, reference)", "tracks/toy/track.py", "build_metrics"),
    ("cold start (fresh build + first image)", "evaluation/runner.py", "_cold_start"),
    ("generation + metric updates", "evaluation/shards.py", "generate_chunks"),
    ("merge chunks", "evaluation/shards.py", "merge_chunks"),
    ("compute metrics (FID bootstrap, CIs)", "evaluation/runner.py", "compute_all"),
    ("latency rounds (warm-up + timed)", "metrics/latency.py", "measure"),
    ("record writing", "evaluation/records.py", "write_result"),
    ("record writing", "evaluation/records.py", "write_samples"),
    ("leaderboard", "evaluation/suite.py", "_publish"),
)


def stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds per stage (a stage named by several functions sums them)."""
    out: dict[str, float] = {}
    for (path, _line, func), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for stage, suffix, name in STAGES:
            if func == name and path.endswith(suffix):
                out[stage] = out.get(stage, 0.0) + cumulative
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="generator (repeatable; default: the suite)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: as `ddmd-bench`)")
    parser.add_argument("--out", type=Path, default=None, help="also write the summary as JSON here")
    parser.add_argument("--cpu-time", action="store_true",
                        help="profile CPU seconds of this process instead of wall seconds (steadier on a busy machine "
                             "with one thread; worker processes are not counted)")
    args = parser.parse_args()
    choice = threads.configure(args.threads)  # before torch loads, exactly as the command line does

    t0 = time.perf_counter()
    profile = cProfile.Profile(time.process_time) if args.cpu_time else cProfile.Profile()
    profile.enable()
    from ddmd_bench.evaluation.suite import EvaluationRequest, RunOptions, evaluate_suite  # timed: its imports

    folder = Path(tempfile.mkdtemp(prefix="ddmd-demo-profile-"))
    request = EvaluationRequest(models=tuple(args.model), limit=args.limit, results_dir=folder / "results",
                                leaderboard_dir=folder / "leaderboards", run=RunOptions(progress=False))
    outcome = evaluate_suite(request)
    profile.disable()
    wall = time.perf_counter() - t0

    stats = pstats.Stats(profile)
    stages = stage_seconds(stats)
    rows = []
    for record in outcome.records:
        latency, timings = record.latency, record.timings
        rounds = latency.get("warmup", 0) + latency.get("rounds", 0) if "rounds" in latency else None
        rows.append({"generator": record.generator["name"], "nfe_per_image": record.generator.get("nfe"),
                     "denoiser_image_passes": record.generator.get("nfe", 0) * record.n_images,
                     "total_s": timings.get("total_s"), "generation_s": timings.get("generation_s"),
                     "cold_start_s": (latency.get("cold_start") or {}).get("seconds"),
                     "latency_median_s": latency.get("median"), "latency_calls": rounds})
    summary = {"wall_s": wall, "threads": choice.to_dict(), "stages_s": stages,
               "unstaged_s": wall - sum(stages.values()), "generators": rows, "output_folder": str(folder)}
    text = json.dumps(summary, indent=1, default=str)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)  # a script's report, like the benchmarks' summaries
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
