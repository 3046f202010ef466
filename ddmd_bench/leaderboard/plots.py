"""PNG plots of a leaderboard: quality against latency (with the Pareto front) and quality against steps."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ddmd_bench.leaderboard import table

# metrics plotted, with their axis labels (their direction comes from the records)
QUALITY = {"fid": "FID (lower is better)", "prompt_accuracy": "prompt accuracy, held-in", "clip_score": "CLIP score"}


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[tuple[float, float]]:
    """Points not dominated by a faster-and-better one, sorted by x (lower x = faster is better)."""
    front, best = [], None
    for x, y in sorted(points, key=lambda p: (p[0], -p[1] if higher_is_better else p[1])):
        if best is None or (y > best if higher_is_better else y < best):
            front.append((x, y))
            best = y
    return front


def _plain_log_ticks(axis) -> None:
    # Ticks at 1, 2, 5 x 10^k written as plain numbers; the default minor labels overlap on short log ranges.
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # heavy backend: only when drawing

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _figure(rows: list[dict[str, Any]], x_key: str, x_label: str, log_x: bool, front: bool):
    import matplotlib  # a heavy backend, imported only when a plot is drawn (listings never do)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the file-only Agg backend above

    metrics = [m for m in QUALITY if any(r.get(m) is not None for r in rows)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        label, hib = QUALITY[metric], table.higher_is_better(rows, metric)
        pts = [(r[x_key], r[metric], r["name"]) for r in rows if r.get(x_key) and r.get(metric) is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=22, color="#3465a4", zorder=3)
        for x, y, name in pts:
            # Names are text: a '$' must not start matplotlib's mathtext (or TeX, whatever matplotlibrc says).
            ax.annotate(name.removeprefix("toy-"), (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points",
                        parse_math=False, usetex=False)
        if front and pts:
            pf = pareto_front([(p[0], p[1]) for p in pts], hib)
            ax.plot([p[0] for p in pf], [p[1] for p in pf], "--", color="#cc0000", lw=1.2, label="Pareto front")
            ax.legend(fontsize=7)
        if log_x and pts:  # a log axis without a positive value cannot place ticks (no latency measured)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
        if metric == "fid" and pts:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        ax.set_xlabel(x_label)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render_png(rows: list[dict[str, Any]], kind: str) -> bytes:
    """'latency' (quality vs batch-1 latency, Pareto front) or 'steps' (quality vs NFE) as PNG bytes."""
    import matplotlib.pyplot as plt  # a heavy backend, imported only when a plot is drawn

    if kind == "latency":
        fig = _figure(rows, "latency_ms", "batch-1 latency (ms/image)", True, True)
    elif kind == "steps":
        fig = _figure(rows, "nfe", "denoiser evaluations per image (NFE)", True, False)
    else:
        raise ValueError(f"unknown plot {kind!r}; choices: latency, steps")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_pngs(rows: list[dict[str, Any]], out_dir: Path, stem: str) -> list[Path]:
    """Both plots as files `<stem>-latency.png` and `<stem>-steps.png`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ("latency", "steps"):
        path = out_dir / f"{stem}-{kind}.png"
        path.write_bytes(render_png(rows, kind))
        paths.append(path)
    return paths
