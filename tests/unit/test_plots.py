"""Leaderboard plots: interval bars from the stored intervals, teachers and students drawn apart, labels that never
overlap, names drawn literally, axis labels that say which way is better."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the Agg backend)
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from ddmd_bench.leaderboard import plots, store, table  # noqa: E402
from ddmd_bench.leaderboard.roles import Role, role_of  # noqa: E402
from ddmd_bench.tracks.toy.protocol_facts import LEADERBOARD_FILE  # noqa: E402

BOARD = Path(__file__).resolve().parents[2] / "leaderboards" / LEADERBOARD_FILE
KINDS = {"latency": ("latency_ms", False), "steps": ("nfe", True)}  # x column, points of one x spread sideways


@pytest.fixture(scope="module")
def rows():
    _, entries = store.read(BOARD)
    return table.rows(entries)


def _draw(rows, kind):
    x_key, dodge = KINDS[kind]
    fig = plots._figure(rows, x_key, "x", True, kind == "latency", dodge=dodge)
    fig.canvas.draw()
    return fig


def _panels(fig):
    return {ax.get_ylabel(): ax for ax in fig.axes}


def _labels(fig):
    return [t for ax in fig.axes for t in ax.texts] + list(fig.texts)


def test_roles_come_from_the_record_shape(rows):
    by_name = {r["name"]: r["role"] for r in rows}
    assert by_name["toy-teacher/euler-4/nocfg"] == "teacher" and by_name["toy-dmd-4step/dmd-4/nocfg"] == "student"
    assert sum(v == "teacher" for v in by_name.values()) == 8 and sum(v == "student" for v in by_name.values()) == 8
    recipe = {"kind": "diffusers-recipe", "name": "x", "recipe": {"method": "DMD2", "student": None}}
    assert role_of({"generator": recipe}) is Role.TEACHER
    recipe["recipe"]["student"] = {"repo": "org/student", "file": "unet.safetensors"}
    assert role_of({"generator": recipe}) is Role.STUDENT
    # a published number records only its name: its role is not guessed from the name
    assert role_of({"generator": {"name": "SDXL teacher, 50 steps", "nfe": 100}}) is Role.UNKNOWN
    assert role_of({"generator": {"track": "toy", "model": "ablation snapshot"}}) is Role.STUDENT


@pytest.mark.parametrize("kind", list(KINDS))
def test_interval_bars_are_the_stored_intervals(rows, kind):
    fig = _draw(rows, kind)
    for metric in plots.QUALITY:
        ax = _panels(fig)[plots.axis_label(metric, table.higher_is_better(rows, metric))]
        drawn = sorted((round(seg[0][1], 9), round(seg[1][1], 9))
                       for c in ax.collections if isinstance(c, LineCollection) and (c.get_gid() or "").startswith("ci:")
                       for seg in c.get_segments())
        stored = sorted((round(r[f"{metric}_ci"][0], 9), round(r[f"{metric}_ci"][1], 9))
                        for r in rows if r.get(f"{metric}_ci") and r.get(KINDS[kind][0]))
        assert len(stored) == 16 and drawn == stored
        # each bar stands at its own point's x (the bar and the marker are one entry)
        marks = {tuple(map(float, xy)) for c in ax.collections if isinstance(c, PathCollection)
                 for xy in c.get_offsets()}
        bars_x = {float(seg[0][0]) for c in ax.collections if isinstance(c, LineCollection)
                  and (c.get_gid() or "").startswith("ci:") for seg in c.get_segments()}
        assert bars_x <= {x for x, _ in marks}
    plt.close(fig)


def test_teachers_and_students_differ_in_colour_and_marker(rows):
    fig = _draw(rows, "latency")
    for ax in fig.axes:
        by_label = {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}
        teacher, student = by_label["teacher"], by_label["student"]
        assert len(teacher.get_offsets()) == 8 and len(student.get_offsets()) == 8
        assert tuple(teacher.get_facecolor()[0]) != tuple(student.get_facecolor()[0])
        t_path, s_path = teacher.get_paths()[0].vertices, student.get_paths()[0].vertices
        assert t_path.shape != s_path.shape or not (t_path == s_path).all()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["teacher", "student"] and "95% interval" in legend and "Pareto front" in legend
    plt.close(fig)


def _cluster():
    # twenty students and teachers crowded into a corner, as a sweep of one method's settings would be
    return [{"name": f"toy-s{i}/dmd-4/nocfg", "nfe": 4, "latency_ms": 30 + 0.3 * i, "fid": 3500 + 15 * i,
             "fid_ci": [3400 + 15 * i, 3600 + 15 * i], "prompt_accuracy": 0.9 + 0.001 * i,
             "role": "teacher" if i % 3 == 0 else "student", "higher_is_better": {"fid": False}} for i in range(20)]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("which", ["board", "cluster"])
def test_no_two_drawn_labels_overlap(rows, kind, which):
    fig = _draw(rows if which == "board" else _cluster(), kind)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in _labels(fig) if t.get_visible() and t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), f"labels {a!r} and {b!r} overlap"
    for ax in fig.axes:  # every label on a panel stays inside it
        inside = ax.get_window_extent(renderer)
        for t in ax.texts:
            box = t.get_window_extent(renderer)
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
    on_plots = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(on_plots) >= 10  # most points stay labelled: the check above is not met by drawing nothing
    plt.close(fig)


def test_the_front_is_named_and_the_key_names_everyone(rows):
    fig = _draw(rows, "latency")
    fid = _panels(fig)["FID (lower is better)"]
    named = {t.get_text() for t in fid.texts}
    # the two slowest points of the FID front are the 25- and 50-step teachers without guidance
    assert {"teacher/euler-25/nocfg", "teacher/euler-50/nocfg"} <= named
    key = [t.get_text() for t in fig.texts]
    for number, row in plots.numbered(rows):
        assert f"{number:>2}  {plots.display_name(row)}" in key
    numbers = {t.get_text() for ax in fig.axes for t in ax.texts if t.get_text().isdigit()}
    assert numbers and numbers <= {str(n) for n, _ in plots.numbered(rows)}
    plt.close(fig)


def test_axis_labels_say_which_way_is_better(rows):
    fig = _draw(rows, "steps")
    assert set(_panels(fig)) == {"FID (lower is better)", "prompt accuracy, held-in (higher is better)",
                                 "CLIP score (higher is better)"}
    plt.close(fig)
    # a recorded direction wins over the catalog's
    flipped = [{**r, "higher_is_better": {**r["higher_is_better"], "fid": True}} for r in rows]
    fig = _draw(flipped, "steps")
    assert "FID (higher is better)" in _panels(fig)
    plt.close(fig)


def test_mathtext_like_names_are_drawn_literally():
    names = [r"$\alpha$ student_1^2", "price $5 and $6", r"\frac{a}{b} teacher"]
    rows = [{"name": n, "nfe": 2 ** i, "latency_ms": 10.0 * 3 ** i, "fid": 100.0 / (i + 1), "role": role}
            for i, (n, role) in enumerate(zip(names, ["student", "student", "teacher"]))]
    fig = _draw(rows, "latency")
    fig.canvas.draw()  # mathtext would fail or alter these strings while drawing
    texts = _labels(fig)
    drawn = {t.get_text() for t in texts}
    for name in names:  # all three are on the front: named on the plot and in the key
        assert name in drawn and any(t.endswith(f"  {name}") for t in drawn)
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    plt.close(fig)
    assert plots.render_png(rows, "steps").startswith(b"\x89PNG")


def test_spreading_points_of_one_nfe_does_not_change_the_front():
    # three 1-step generators: spread sideways, the worst one sits leftmost, yet it is not on the front
    rows = [{"name": f"toy-g{i}/dmd-1/nocfg", "nfe": 1, "fid": fid, "role": "student"}
            for i, fid in enumerate([900.0, 100.0, 500.0])]
    rows.append({"name": "toy-g3/dmd-4/nocfg", "nfe": 4, "fid": 50.0, "role": "student"})
    fig = _draw(rows, "steps")
    ax = fig.axes[0]
    xs = sorted(float(x) for c in ax.collections if isinstance(c, PathCollection) for x, _ in c.get_offsets())
    assert len(xs) == 4 and xs[0] < 1 < xs[2] and xs[3] == pytest.approx(4)  # one NFE, three places
    named = {t.get_text() for t in ax.texts if not t.get_text().isdigit()}
    assert named == {"g1/dmd-1/nocfg", "g3/dmd-4/nocfg"}
    plt.close(fig)
