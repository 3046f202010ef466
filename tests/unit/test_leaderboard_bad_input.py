"""Bad leaderboard input: every case names the file, line and field, exits 1 without a traceback, and changes
nothing on disk. Non-finite numbers never reach a file; a bad line is skipped (and named) by show and render."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.leaderboard import store
from ddmd_bench.protocol import canonical_json
from tests.factories import result_record as _record, unit_protocol as _protocol


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def _entry_line(record, origin: str = "measured", digest: str | None = None) -> str:
    # canonical_json writes NaN and Infinity as bare tokens, as a writer without the non-finite check did.
    return canonical_json({"hash": digest or store.entry_hash(record), "origin": origin, "record": record})


def _board(tmp_path, name: str = "unit-v1.jsonl"):
    """A valid leaderboard with one entry (fid 1.0), under `name`."""
    p = _protocol()
    store.append(tmp_path, p, _record(p, 1.0))
    path = store.path_for(tmp_path, p)
    return path.rename(path.with_name(name)) if name != path.name else path


def _with_line(path, line: str):
    path.write_text(path.read_text() + line + "\n", encoding="utf-8")
    return path.read_bytes()


def _changed(field: str, value):
    p = _protocol()
    record = _record(p, 2.0)
    target = record
    *parents, leaf = field.split(".")
    for key in parents:
        target = target[key]
    target[leaf] = value
    return record


BAD_ENTRY_LINES = [
    ("[1,2,3]", "an entry must be a JSON object with hash, origin and record, not list"),
    ('"text"', "an entry must be a JSON object with hash, origin and record, not str"),
    ("{not json", "invalid JSON"),
    ("   ", "empty line"),
    (_entry_line(_changed("generator.guidance", math.nan)), "non-finite number at record.generator.guidance (nan)"),
    (_entry_line(_changed("metrics.fid.value", math.inf)), "non-finite number at record.metrics.fid.value (inf)"),
    (_entry_line(_changed("latency.median", -math.inf)), "non-finite number at record.latency.median (-inf)"),
    (_entry_line(_record(_protocol(), 2.0)).replace('"value":2.0', '"value":1e999'),
     "non-finite number at record.metrics.fid.value (inf)"),
    (canonical_json({"hash": "x", "origin": "measured", "record": [1]}), "record must be a JSON object"),
    (_entry_line(_record(_protocol(), 2.0), origin="typed"), "origin 'typed' is not one of"),
    (_entry_line(_record(_protocol(), 2.0), digest="0" * 64), "entry hash mismatch"),
    (_entry_line(_record(_protocol(), 2.0, status="failed")), "record.status is 'failed'"),
    (_entry_line(_changed("generator", {"nfe": 4})), "record.generator must be an object with a text name"),
    (_entry_line(_changed("metrics.fid", 3.5)), "record.metrics must be an object of metric objects"),
    (_entry_line(_changed("metrics.fid.value", "12")), "record.metrics.fid.value must be a number or null"),
    (_entry_line(_changed("latency.median", "fast")), "record.latency.median must be a number"),
    (_entry_line(_changed("latency.device", "cpu")), "record.latency.device must be an object"),
    (_entry_line(_record(_protocol(seed_base=7), 2.0)), "entry belongs to another protocol fingerprint"),
]


@pytest.mark.parametrize("line, fragment", BAD_ENTRY_LINES, ids=[f[:40] for _, f in BAD_ENTRY_LINES])
def test_a_bad_entry_line_is_named_by_validate_and_skipped_by_show_and_render(tmp_path, line, fragment):
    path = _board(tmp_path)
    before = _with_line(path, line)
    where = f"{path}:3: {fragment}"

    with pytest.raises(store.LeaderboardError, match=f":3: {fragment[:20]}"):
        store.read(path)
    scanned = store.scan(path)
    assert [str(p) for p in scanned.problems][0].startswith(where) and len(scanned.entries) == 1

    checked = _cli("leaderboard", "validate", str(tmp_path))
    assert checked.exit_code == 1 and f"INVALID {where}" in checked.output
    _no_traceback(checked)

    shown = _cli("leaderboard", "show", str(path))
    assert shown.exit_code == 0 and f"warning: skipped {where}" in shown.stderr and "(1 entries;" in shown.stdout
    _no_traceback(shown)

    page = tmp_path / "page.html"
    rendered = _cli("leaderboard", "render", str(path), "--format", "html", "--out", str(page))
    assert rendered.exit_code == 0 and f"warning: skipped {where}" in rendered.stderr, rendered.output
    assert "1 entries" in page.read_text()
    _no_traceback(rendered)

    with pytest.raises(store.LeaderboardError, match=":3: "):  # never rewrite a file with a bad line in it
        store.append(tmp_path, _protocol(), _record(_protocol(), 5.0))
    assert path.read_bytes() == before


def _header_with(**changes) -> str:
    p = _protocol()
    header = {"kind": store.KIND, "schema_version": 1, "protocol": p.to_dict(), "fingerprint": p.fingerprint}
    header.update(changes)
    return canonical_json({k: v for k, v in header.items() if v is not None})


BAD_HEADERS = [
    ("[1,2,3]", ":1: not a ddmd-bench leaderboard header"),
    ('{"kind": "something-else"}', ":1: not a ddmd-bench leaderboard header"),
    (_header_with(protocol=None), ':1: header has no "protocol" object'),
    (_header_with(protocol=[1]), ':1: header has no "protocol" object'),
    (_header_with(schema_version="1"), ":1: header has no integer schema_version"),
    (_header_with(schema_version=99), ":1: schema version 99 is newer than this ddmd-bench (1); upgrade ddmd-bench"),
    (_header_with(protocol={**_protocol().to_dict(), "colour": "red"}),
     ":1: header protocol does not have the protocol fields"),
    (_header_with(protocol={**_protocol().to_dict(), "resolution": math.nan}),
     ":1: non-finite number in the header at protocol.resolution (nan)"),
    (_header_with(fingerprint="0" * 64), ":1: header fingerprint does not match its protocol"),
    ("{", ":1: invalid JSON"),
]


@pytest.mark.parametrize("header, fragment", BAD_HEADERS, ids=[f[4:40] for _, f in BAD_HEADERS])
def test_a_bad_header_fails_every_command_with_its_file_and_line(tmp_path, header, fragment):
    path = _board(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([header, *lines[1:]]) + "\n")
    before = path.read_bytes()
    for args in (["validate", str(path)], ["show", str(path)], ["render", str(path), "--format", "html", "--out",
                                                                  str(tmp_path / "page.html")]):
        result = _cli("leaderboard", *args)
        assert result.exit_code == 1 and f"{path}{fragment}" in result.output, (args, result.output)
        _no_traceback(result)
    assert not (tmp_path / "page.html").exists() and path.read_bytes() == before


@pytest.mark.parametrize("content, fragment", [
    (b"", ": empty file (no header)"),
    (b"\xff\xfe{}\n", ": not UTF-8 text"),
])
def test_an_empty_or_binary_file_is_named(tmp_path, content, fragment):
    path = tmp_path / "board.jsonl"
    path.write_bytes(content)
    result = _cli("leaderboard", "validate", str(path))
    assert result.exit_code == 1 and f"INVALID {path}{fragment}" in result.output
    _no_traceback(result)
    assert path.read_bytes() == content


def test_validating_a_folder_reports_every_problem_of_every_file(tmp_path):
    good = _board(tmp_path, "a-good.jsonl")
    two_bad_lines = _board(tmp_path, "b-lines.jsonl")
    _with_line(two_bad_lines, "[1,2,3]")
    _with_line(two_bad_lines, _entry_line(_changed("generator.guidance", math.nan)))
    no_protocol = tmp_path / "c-header.jsonl"
    no_protocol.write_text(_header_with(protocol=None) + "\n")
    sidecar = tmp_path / "a-good.reproductions.jsonl"
    sidecar.write_text("[1]\n")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}

    result = _cli("leaderboard", "validate", str(tmp_path))
    assert result.exit_code == 1
    _no_traceback(result)
    for expected in (f"ok      {good} (1 entries)",
                     f"INVALID {two_bad_lines}:3: an entry must be a JSON object",
                     f"INVALID {two_bad_lines}:4: non-finite number at record.generator.guidance (nan)",
                     f'INVALID {no_protocol}:1: header has no "protocol" object',
                     f"INVALID {sidecar}:1: not a reproduction"):
        assert expected in result.output, expected
    assert "4 problem(s) in 3 file(s)" in result.output
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_folder_without_leaderboards_is_an_error(tmp_path):
    result = _cli("leaderboard", "validate", str(tmp_path))
    assert result.exit_code == 1 and "no leaderboard files (*.jsonl) in this folder" in result.output
    _no_traceback(result)


@pytest.mark.parametrize("field, value, fragment", [
    ("generator.guidance", math.nan, "generator.guidance (nan)"),
    ("metrics.fid.value", math.inf, "metrics.fid.value (inf)"),
    ("metrics.fid.per_sample", [0.5, -math.inf], "metrics.fid.per_sample[1] (-inf)"),
])
def test_non_finite_numbers_are_refused_on_write_naming_the_entry_and_field(tmp_path, field, value, fragment):
    p = _protocol()
    record = _changed(field, value)
    record["generator"]["name"] = "g[guidance=nan]"
    with pytest.raises(store.LeaderboardError,
                       match=re.escape(f"entry 'g[guidance=nan]' has a non-finite number at {fragment}")):
        store.append(tmp_path, p, record)
    assert not store.path_for(tmp_path, p).exists()
    path = _board(tmp_path)
    before = path.read_bytes()
    with pytest.raises(store.LeaderboardError, match="non-finite numbers never go on a leaderboard"):
        store.publish(tmp_path, p, record)
    assert path.read_bytes() == before and sorted(f.name for f in tmp_path.iterdir()) == [
        "unit-v1.jsonl", "unit-v1.jsonl.lock"]


def test_the_writer_itself_cannot_emit_a_non_finite_token(tmp_path):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        store._write(tmp_path / "x.jsonl", [store._json_line({"value": math.nan})])
    assert not (tmp_path / "x.jsonl").exists()


NAMES = ["$\\undefinedmacro$", "$x^{$", "price $5 and $6", "<b>bold</b> & *stars* | pipe"]


def test_names_are_rendered_as_text_in_markdown_html_and_png(tmp_path):
    p = _protocol()
    for i, name in enumerate(NAMES):
        record = _record(p, 1.0 + i)
        record["generator"]["name"] = name
        record["latency"]["device"] = {"name": "cpu"}
        store.append(tmp_path, p, record)
    path = str(store.path_for(tmp_path, p))

    markdown = _cli("leaderboard", "render", path)
    assert markdown.exit_code == 0, markdown.output
    assert "\\$\\\\undefinedmacro\\$" in markdown.output and "price \\$5 and \\$6" in markdown.output
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; \\*stars\\* \\| pipe" in markdown.output

    page = tmp_path / "page.html"
    html_result = _cli("leaderboard", "render", path, "--format", "html", "--out", str(page))
    assert html_result.exit_code == 0, html_result.output
    text = page.read_text()
    assert "<b>bold" not in text and "\\u003cb\\u003ebold" in text  # names travel as escaped JSON data

    png = _cli("leaderboard", "render", path, "--format", "png", "--out", str(tmp_path / "plots"))
    assert png.exit_code == 0, png.output
    assert sorted(f.name for f in (tmp_path / "plots").iterdir()) == ["unit-v1-latency.png", "unit-v1-steps.png"]
    _no_traceback(png)


def test_plot_labels_do_not_parse_math():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ddmd_bench.leaderboard import plots

    rows = [{"name": "price $5 and $6", "nfe": 4, "latency_ms": 10.0, "fid": 3.0}]
    fig = plots._figure(rows, "latency_ms", "x", True, True)
    labels = [t for ax in fig.axes for t in ax.texts]
    assert [t.get_text() for t in labels] == ["price $5 and $6"]
    assert [t.get_parse_math() for t in labels] == [False] and [t.get_usetex() for t in labels] == [False]
    plt.close(fig)


def test_render_json_of_a_good_file_is_strict_json(tmp_path):
    path = _board(tmp_path)
    page = tmp_path / "p.html"
    assert _cli("leaderboard", "render", str(path), "--format", "html", "--out", str(page)).exit_code == 0
    data = page.read_text().split('<script type="application/json" id="data">')[1].split("</script>")[0]
    json.loads(data, parse_constant=lambda token: pytest.fail(f"non-finite token {token} in the page"))
