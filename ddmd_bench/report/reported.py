"""Published numbers as the `reported` leaderboards hold them (leaderboards/paper-*.jsonl, mlperf-*.jsonl)."""

from __future__ import annotations

from ddmd_bench.leaderboard import render
from ddmd_bench.report.registry import SECTIONS
from ddmd_bench.report.sources import Sources

REPORTED = ("paper-ddmd-sdxl-coco10k", "paper-dmd2-sdxl-coco10k", "paper-dmd2-sd15-coco30k", "mlperf-sdxl-5k-gate",
            "paper-senseflow-coco5k-sdxl", "paper-senseflow-coco5k-sd35", "paper-senseflow-coco5k-flux")


@SECTIONS.register("reported-numbers")
def reported_numbers(data: Sources) -> str:
    """One table per reported leaderboard, with each file's source citation."""
    parts = []
    for protocol in REPORTED:
        header, entries = data.leaderboard(protocol)
        sources = sorted({e.record.get("source", {}).get("citation", "") for e in entries} - {""})
        parts.append(f"**`{data.leaderboard_file(protocol)}`**: {header['protocol']['description']} "
                     f"Source: {'; '.join(sources)}.\n\n" + render.markdown(header, entries, sort_by="name"))
    return "\n\n".join(parts)
