"""PNG plots of a leaderboard: quality against latency (with the Pareto front) and quality against steps.

Every point carries its 95% interval as a vertical bar, teachers and students differ in colour and marker, and
names stay readable: the points on the Pareto front are named next to the point where the name fits, every other
point carries its number in the key beside the plots (and on the plot where the number fits). A label that would
overlap another label or a point, or sit as close to a neighbour as to its own point, is not drawn; the key still
names every point. On the steps plot, points of one NFE are spread sideways (the front is still that of the recorded
NFE).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddmd_bench.leaderboard import table
from ddmd_bench.leaderboard.roles import Role

# metrics plotted, with their display names (their direction comes from the records or the metric catalog)
QUALITY = {"fid": "FID", "prompt_accuracy": "prompt accuracy, held-in", "clip_score": "CLIP score"}


@dataclass(frozen=True, slots=True)
class Style:
    """How the points of one role are drawn."""

    label: str
    color: str
    marker: str


# Colour-blind-safe pair (orange/blue) plus grey, and different markers so that print in grey still separates them.
STYLES = {Role.TEACHER: Style("teacher", "#d95f02", "s"), Role.STUDENT: Style("student", "#1f62b4", "o"),
          Role.UNKNOWN: Style("role not recorded", "#666666", "^")}

DPI = 110  # labels are placed at the resolution the file is written at
LABEL_FONT = 6.5  # points; the key uses the same size
MARKER_SIZE = 24  # scatter area in points^2
DODGE = 0.045  # decades between points of one NFE on the steps plot
CLEARANCE = 6.0  # pixels: how much closer a near number must be to its own point than to any other
# Offsets (points) tried in turn for a label, with the alignment that keeps the text on that side of its point.
PLACES = [((4, 3), "left", "bottom"), ((4, -3), "left", "top"), ((-4, 3), "right", "bottom"),
          ((-4, -3), "right", "top"), ((0, 6), "center", "bottom"), ((0, -6), "center", "top"),
          ((6, 0), "left", "center"), ((-6, 0), "right", "center"), ((9, 8), "left", "bottom"),
          ((-9, 8), "right", "bottom"), ((9, -8), "left", "top"), ((-9, -8), "right", "top")]


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[tuple[float, float]]:
    """Points not dominated by a faster-and-better one, sorted by x (lower x = faster is better)."""
    front, best = [], None
    for x, y in sorted(points, key=lambda p: (p[0], -p[1] if higher_is_better else p[1])):
        if best is None or (y > best if higher_is_better else y < best):
            front.append((x, y))
            best = y
    return front


def axis_label(metric: str, higher_is_better: bool) -> str:
    """'FID (lower is better)': the metric's display name and its direction."""
    return f"{QUALITY.get(metric, metric)} ({'higher' if higher_is_better else 'lower'} is better)"


def role(row: dict[str, Any]) -> Role:
    """The role a row records (rows built by hand may record none)."""
    try:
        return Role(row.get("role", Role.UNKNOWN.value))
    except ValueError:
        return Role.UNKNOWN


def display_name(row: dict[str, Any]) -> str:
    """The name shown on plots: toy names without their common 'toy-' prefix."""
    return str(row["name"]).removeprefix("toy-")


def numbered(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Rows with their key numbers: teachers first, then students, then the rest; each by NFE, then name."""
    order = list(STYLES)
    ranked = sorted(rows, key=lambda r: (order.index(role(r)), r.get("nfe") or 0, str(r["name"])))
    return list(enumerate(ranked, start=1))


def _plain_log_ticks(axis) -> None:
    # Ticks at 1, 2, 5 x 10^k written as plain numbers; the default minor labels overlap on short log ranges.
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # heavy backend: only when drawing

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _text(**kwargs: Any) -> dict[str, Any]:
    # Names are text: a '$' must not start matplotlib's mathtext (or TeX, whatever matplotlibrc says).
    return {"parse_math": False, "usetex": False, "fontsize": LABEL_FONT, **kwargs}


@dataclass(frozen=True, slots=True)
class Obstacle:
    """A display-space box a label must not cover (a marker, an interval bar, a piece of the front line, a label)."""

    box: Any  # matplotlib Bbox


def _distance(box, point) -> float:
    dx = max(box.x0 - point[0], 0.0, point[0] - box.x1)
    dy = max(box.y0 - point[1], 0.0, point[1] - box.y1)
    return (dx * dx + dy * dy) ** 0.5


def _dots(start, end, steps: int = 24) -> list[Obstacle]:
    """Small boxes along a segment (a line is an obstacle made of its samples)."""
    from matplotlib.transforms import Bbox  # heavy backend: only when drawing

    return [Obstacle(Bbox.from_extents(x - 1, y - 1, x + 1, y + 1))
            for t in (i / steps for i in range(steps + 1))
            for x, y in [(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))]]


_SHIFT = {"left": 0.0, "bottom": 0.0, "center": 0.5, "right": 1.0, "top": 1.0}  # of the width / height


def _place(ax, renderer, text: str, index: int, xy: tuple[float, float], color: str, obstacles: list[Obstacle],
           marks: list, clearance: float) -> bool:
    """Put `text` next to point number `index` (data position `xy`) at the first place where it stays inside the
    axes, covers no obstacle (points, interval bars, the front line, labels drawn so far) and lies closer to its own
    point than to any other by `clearance` pixels (so that in a cluster it cannot be read as naming a neighbour).
    False, with nothing drawn, where no place qualifies: a point left without a label beats a label that misleads."""
    from matplotlib.transforms import Bbox  # heavy backend: only when drawing

    inside = ax.get_window_extent(renderer)
    own = ax.transData.transform(xy)
    # the text's size, measured once; each place's box follows from the offset and the alignment
    probe = ax.text(0, 0, text, **_text())
    size = probe.get_window_extent(renderer)
    probe.remove()
    width, height, scale, pad = size.width, size.height, ax.figure.dpi / 72, 1.0
    for offset, ha, va in PLACES:
        x0 = own[0] + offset[0] * scale - _SHIFT[ha] * width
        y0 = own[1] + offset[1] * scale - _SHIFT[va] * height
        box = Bbox.from_extents(x0 - pad, y0 - pad, x0 + width + pad, y0 + height + pad)
        if not (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0 and box.y1 <= inside.y1):
            continue
        if any(box.overlaps(o.box) for o in obstacles):
            continue
        nearest = _distance(box, own)
        if not all(_distance(box, m) > nearest + clearance for j, m in enumerate(marks) if j != index):
            continue
        label = ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, color=color,
                            **_text())
        obstacles.append(Obstacle(Bbox.union([box, label.get_window_extent(renderer)])))
        return True
    return False


def _panel(ax, renderer, points: list[tuple[int, dict[str, Any], float, float]], x_key: str, metric: str,
           hib: bool, front: bool) -> None:
    from matplotlib.transforms import Bbox  # heavy backend: only when drawing

    for who, style in STYLES.items():
        mine = [p for p in points if role(p[1]) is who]
        if not mine:
            continue
        ax.scatter([p[2] for p in mine], [p[3] for p in mine], s=MARKER_SIZE, color=style.color,
                   marker=style.marker, zorder=3, label=style.label, edgecolors="white", linewidths=0.4)
        bars = [(p[2], p[1][f"{metric}_ci"]) for p in mine if p[1].get(f"{metric}_ci")]
        if bars:
            ax.vlines([x for x, _ in bars], [ci[0] for _, ci in bars], [ci[1] for _, ci in bars], color=style.color,
                      lw=1.0, alpha=0.55, zorder=2, gid=f"ci:{metric}:{who.value}")
    # the front of the recorded costs (a point spread sideways is no cheaper), drawn through the points as placed
    best = set(pareto_front([(p[1][x_key], p[3]) for p in points], hib)) if points else set()
    members = sorted({i for i, p in enumerate(points) if (p[1][x_key], p[3]) in best}, key=lambda i: points[i][2])
    pf = [(points[i][2], points[i][3]) for i in members]
    if front and pf:
        ax.plot([p[0] for p in pf], [p[1] for p in pf], "--", color="#cc0000", lw=1.0, zorder=1, label="Pareto front")
    ax.get_xlim(), ax.get_ylim()  # autoscale now: labels are placed in display space
    half = MARKER_SIZE ** 0.5 / 2 * ax.figure.dpi / 72  # half a marker's width in pixels
    marks = [ax.transData.transform((p[2], p[3])) for p in points]
    obstacles = [Obstacle(Bbox.from_extents(mx - half, my - half, mx + half, my + half))
                 for mx, my in marks]
    for _, row, x, _ in points:  # the interval bars: a label across a bar hides where it ends
        if row.get(f"{metric}_ci"):
            (bx, low), (_, high) = ax.transData.transform([(x, row[f"{metric}_ci"][0]), (x, row[f"{metric}_ci"][1])])
            obstacles.append(Obstacle(Bbox.from_extents(bx - 1, low, bx + 1, high)))
    if front:
        line = ax.transData.transform(pf)
        for a, b in zip(line[:-1], line[1:]):
            obstacles.extend(_dots(a, b))
    on_front = set(members)
    # names first on the front (the points a reader looks for), then numbers for the rest, left to right
    order = sorted(range(len(points)), key=lambda i: (i not in on_front, points[i][2],
                                                      points[i][3]))
    for i in order:
        number, row, x, y = points[i]
        color = STYLES[role(row)].color
        # a name starts at its point and reads as one: it needs no clearance beyond being nearest
        if i in on_front and _place(ax, renderer, display_name(row), i, (x, y), color, obstacles, marks, 0.0):
            continue
        _place(ax, renderer, str(number), i, (x, y), color, obstacles, marks, CLEARANCE)


def _dodged(points: list[tuple[int, dict[str, Any], float, float]]) -> list[tuple[int, dict[str, Any], float, float]]:
    """Points that share an x value spread sideways around it, DODGE decades apart in key order: NFE takes a few
    values only, and the points of one value would otherwise sit on one vertical line over each other."""
    by_x: dict[float, list[int]] = {}
    for i, p in enumerate(points):
        by_x.setdefault(p[2], []).append(i)
    out = list(points)
    for group in by_x.values():
        for j, i in enumerate(group):
            n, r, x, y = points[i]
            out[i] = (n, r, x * 10 ** (DODGE * (j - (len(group) - 1) / 2)), y)
    return out


def _figure(rows: list[dict[str, Any]], x_key: str, x_label: str, log_x: bool, front: bool, dodge: bool = False):
    import matplotlib  # a heavy backend, imported only when a plot is drawn (listings never do)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after choosing the file-only Agg backend above
    from matplotlib.lines import Line2D

    metrics = [m for m in QUALITY if any(r.get(m) is not None for r in rows)] or [next(iter(QUALITY))]
    keyed = numbered(rows)
    line = LABEL_FONT * 1.55 / 72  # inches per key line
    height = max(4.0, 1.3 + line * (len(keyed) + 7))
    # inches: a key line is its number (4 characters) and its name; the note below needs about 28 characters
    key_width = 0.25 + 0.055 * max([len(display_name(r)) + 4 for _, r in keyed] + [28])
    fig = plt.figure(figsize=(3.9 * len(metrics) + key_width, height), dpi=DPI)
    plot_right = 1 - key_width / fig.get_figwidth()
    fig.subplots_adjust(left=0.8 / fig.get_figwidth(), right=plot_right - 0.012, bottom=0.5 / height,
                        top=1 - 0.55 / height, wspace=0.33)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    renderer = fig.canvas.get_renderer()
    seen: set[Role] = set()
    bars = False
    for ax, metric in zip(axes, metrics):
        hib = table.higher_is_better(rows, metric)
        points = [(n, r, r[x_key], r[metric]) for n, r in keyed if r.get(x_key) and r.get(metric) is not None]
        if dodge:
            points = _dodged(points)
        seen |= {role(p[1]) for p in points}
        bars = bars or any(p[1].get(f"{metric}_ci") for p in points)
        if not points:
            ax.text(0.5, 0.5, f"no entry records\n{x_label}", transform=ax.transAxes, ha="center", va="center",
                    color="#555555", **_text(fontsize=8))
        if log_x and points:  # a log axis without a positive value cannot place ticks (no latency measured)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
        if metric == "fid" and points:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        ax.set_xlabel(x_label)
        ax.set_ylabel(axis_label(metric, hib))
        ax.grid(alpha=0.3)
        _panel(ax, renderer, points, x_key, metric, hib, front)
    handles = [Line2D([], [], ls="", marker=STYLES[w].marker, color=STYLES[w].color, label=STYLES[w].label)
               for w in STYLES if w in seen]
    if bars:
        handles.append(Line2D([], [], color="#777777", lw=1.0, label="95% interval"))
    if front and seen:
        handles.append(Line2D([], [], ls="--", color="#cc0000", lw=1.0, label="Pareto front"))
    if handles:
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, frameon=False,
                   bbox_to_anchor=(plot_right / 2, 1.0))
    key_x, top = plot_right + 0.004, 1 - 0.55 / height
    fig.text(key_x, top, "key", fontweight="bold", va="top", **_text(fontsize=7))
    step = line / height
    for i, (number, row) in enumerate(keyed, start=1):
        fig.text(key_x, top - step * (i + 0.4), f"{number:>2}  {display_name(row)}", va="top",
                 color=STYLES[role(row)].color, family="DejaVu Sans Mono", **_text())
    if keyed:
        note = "A point too close to others for\na readable number has none;\nthe table lists it."
        if dodge:
            note += "\nPoints of one NFE are spread\nsideways."
        fig.text(key_x, top - step * (len(keyed) + 1.6), note, va="top", color="#555555", linespacing=1.3, **_text())
    return fig


def render_png(rows: list[dict[str, Any]], kind: str) -> bytes:
    """'latency' (quality vs batch-1 latency, Pareto front) or 'steps' (quality vs NFE) as PNG bytes."""
    import matplotlib.pyplot as plt  # a heavy backend, imported only when a plot is drawn

    if kind == "latency":
        fig = _figure(rows, "latency_ms", "batch-1 latency (ms/image)", True, True)
    elif kind == "steps":
        fig = _figure(rows, "nfe", "denoiser evaluations per image (NFE)", True, False, dodge=True)
    else:
        raise ValueError(f"unknown plot {kind!r}; choices: latency, steps")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
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
