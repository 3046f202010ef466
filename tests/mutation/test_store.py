"""Leaderboard files (`leaderboard/store.py`) to the letter: every problem message with its file and line, the
sidecar names, the measurement key, what publish writes and answers, and the exact bytes of a written file."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from ddmd_bench.leaderboard import store
from ddmd_bench.leaderboard.store import Entry, LeaderboardError, Problem, Published, Reproduction, Scan
from ddmd_bench.protocol import canonical_json
from tests.factories import metric_entry, result_record, unit_protocol

P = unit_protocol()


def _header(protocol=P, **changes) -> dict:
    return {"kind": "ddmd-bench-leaderboard", "schema_version": 1, "protocol": protocol.to_dict(),
            "fingerprint": protocol.fingerprint, **changes}


def _line(data) -> str:
    return json.dumps(data, sort_keys=True)


def _entry(record, origin="measured", digest=None) -> str:
    return _line({"hash": digest or store.entry_hash(record), "origin": origin, "record": record})


def _file(tmp_path, *lines: str, name: str = "unit-v1.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _problems(path) -> list[str]:
    return [str(p) for p in store.scan(path).problems]


# --------------------------------------------------------------------------------------------- small pieces

def test_reproduction_hardware_is_the_latency_device_name():
    assert Reproduction("h", "o", {"latency": {"device": {"name": "cpu-x"}}}).hardware == "cpu-x"
    assert Reproduction("h", "o", {"latency": {"median": 1.0}}).hardware is None
    assert Reproduction("h", "o", {"latency": None}).hardware is None
    assert Reproduction("h", "o", {}).hardware is None


def test_problem_text_names_file_and_line():
    assert str(Problem(Path("a/b.jsonl"), 3, "bad")) == "a/b.jsonl:3: bad"
    assert str(Problem(Path("a/b.jsonl"), None, "bad")) == "a/b.jsonl: bad"


def test_scan_and_published_defaults():
    scan = Scan(Path("x"), None)
    assert scan.entries == [] and scan.problems == []
    assert Scan(Path("y"), None).entries is not scan.entries
    assert Published("added", Path("x")).added and Published("added", Path("x")).reproduces is None
    assert not Published("present", Path("x")).added and not Published("reproduced", Path("x")).added


def test_entry_hash_is_the_sha256_of_the_canonical_record():
    record = {"b": 1, "a": [1.5, "é"]}
    assert store.entry_hash(record) == hashlib.sha256('{"a":[1.5,"é"],"b":1}'.encode()).hexdigest()


def test_measurement_key_drops_run_fields_but_keeps_the_latency_device():
    record = result_record(P, 1.0, run_id="r1", created="t1", timings={"a": 1}, environment={"os": "x"},
                           latency={"median": 0.1, "p90": 0.2, "device": {"name": "cpu"}})
    kept = {k: v for k, v in record.items() if k not in ("run_id", "created", "timings", "environment", "latency")}
    expected = hashlib.sha256(canonical_json({**kept, "latency_device": {"name": "cpu"}}).encode()).hexdigest()
    assert store.measurement_key(record) == expected
    rerun = {**record, "run_id": "r2", "created": "t2", "timings": {}, "environment": {},
             "latency": {"median": 9.0, "p90": 9.0, "device": {"name": "cpu"}}}
    assert store.measurement_key(rerun) == expected
    assert store.measurement_key({**record, "latency": {"device": {"name": "gpu"}}}) != expected
    no_latency = {k: v for k, v in record.items() if k != "latency"}
    assert store.measurement_key(no_latency) == store.measurement_key({**record, "latency": None})
    assert store.measurement_key(no_latency) == hashlib.sha256(
        canonical_json({**kept, "latency_device": None}).encode()).hexdigest()


def test_file_names():
    assert store.path_for("boards", P) == Path("boards/unit-v1.jsonl")
    assert store.reproductions_path("b/toy-v3.jsonl") == Path("b/toy-v3.reproductions.jsonl")
    assert store.is_reproductions_file("b/toy-v3.reproductions.jsonl")
    assert not store.is_reproductions_file("b/toy-v3.jsonl")
    assert store.leaderboard_of("b/toy-v3.reproductions.jsonl") == Path("b/toy-v3.jsonl")


def test_non_finite_names_every_path():
    data = {"a": 1.0, "b": {"c": math.nan, "d": [1, math.inf, {"e": -math.inf}]}, "f": (math.nan,), "g": True}
    assert store.non_finite(data) == ["b.c (nan)", "b.d[1] (inf)", "b.d[2].e (-inf)", "f[0] (nan)"]
    assert store.non_finite(math.nan) == ["<value> (nan)"]
    assert store.non_finite(math.inf, "x") == ["x (inf)"]
    assert store.non_finite([math.nan]) == ["[0] (nan)"]
    assert store.non_finite({"a": [1, 2.5, "nan"]}) == []


def test_json_line_is_canonical_strict_and_keeps_unicode():
    assert store._json_line({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    with pytest.raises(ValueError):
        store._json_line({"a": math.nan})


# ------------------------------------------------------------------------------------------------- reading

def test_empty_unreadable_and_binary_files(tmp_path):
    empty = _file(tmp_path)
    assert store.scan(empty) == Scan(empty, None, [], [Problem(empty, None, "empty file (no header)")])
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"ok\n\xff\xfe")
    assert _problems(binary) == [f"{binary}: not UTF-8 text (invalid start byte at byte 3); not a leaderboard file"]
    assert _problems(tmp_path / "missing.jsonl") == [f"{tmp_path / 'missing.jsonl'}: cannot read (No such file or "
                                                     "directory)"]
    assert store.scan(tmp_path / "missing.jsonl").header is None


KIND_PROBLEM = ('not a ddmd-bench leaderboard header (the first line must be a JSON object with "kind": '
                '"ddmd-bench-leaderboard")')
HEADER_PROBLEMS = [
    ("[1]", 'not a ddmd-bench leaderboard header (the first line must be a JSON object with "kind": '
            '"ddmd-bench-leaderboard")'),
    (_line(_header(kind="other")), KIND_PROBLEM),
    (_line({k: v for k, v in _header().items() if k != "kind"}), KIND_PROBLEM),
    (_line(_header(schema_version="1")), "header has no integer schema_version"),
    (_line({k: v for k, v in _header().items() if k != "schema_version"}), "header has no integer schema_version"),
    (_line(_header(schema_version=2)), "schema version 2 is newer than this ddmd-bench (1); upgrade ddmd-bench"),
    (json.dumps({**_header(), "extra": math.nan}), "non-finite number in the header at extra (nan)"),
    (_line(_header() | {"protocol": [1]}), 'header has no "protocol" object'),
    (_line({k: v for k, v in _header().items() if k != "protocol"}), 'header has no "protocol" object'),
    (_line(_header() | {"protocol": {"name": "x"}}), "header protocol does not have the protocol fields ("),
    (_line(_header(fingerprint="0" * 64)), "header fingerprint does not match its protocol"),
    ("", "empty line (each line must be one JSON object)"),
    ("{oops", "invalid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
]


@pytest.mark.parametrize("line, message", HEADER_PROBLEMS)
def test_header_problems_are_named_on_line_one(tmp_path, line, message):
    path = _file(tmp_path, line, _entry(result_record(P)))
    scan = store.scan(path)
    assert scan.header is None
    first = str(scan.problems[0])
    if message.endswith("("):  # the rest is the TypeError's own text
        assert first.startswith(f"{path}:1: {message}") and first.endswith(")")
    else:
        assert first == f"{path}:1: {message}"


def test_header_of_an_older_schema_is_accepted(tmp_path):
    path = _file(tmp_path, _line(_header(schema_version=0)))
    assert store.scan(path).problems == [] and store.scan(path).header["schema_version"] == 0
    path = _file(tmp_path, _line(_header()), name="b.jsonl")
    assert store.read(path) == (_header(), [])


def _bad_record(**changes):
    record = result_record(P, 2.0)
    for dotted, value in changes.items():
        target = record
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    return record


ENTRY_PROBLEMS = [
    ("[1, 2]", "an entry must be a JSON object with hash, origin and record, not list"),
    ("  ", "empty line (each line must be one JSON object)"),
    (_line({"hash": "x", "origin": "measured", "record": [1]}), "record must be a JSON object"),
    (_line({"origin": "measured"}), "record must be a JSON object"),
    (_entry(result_record(P), origin="typed"), "origin 'typed' is not one of ('measured', 'reported')"),
    (_line({"hash": store.entry_hash(result_record(P)), "record": result_record(P)}),
     "origin '' is not one of ('measured', 'reported')"),
    (_entry(result_record(P), digest="0" * 64), "entry hash mismatch (the entry was edited after it was written)"),
    (_line({"origin": "measured", "record": result_record(P)}),
     "entry hash mismatch (the entry was edited after it was written)"),
    (_entry(result_record(P, status="failed")),
     "record.status is 'failed'; only successful runs belong on a leaderboard"),
    (_entry({k: v for k, v in result_record(P).items() if k != "status"}),
     "record.status is None; only successful runs belong on a leaderboard"),
    (_entry(_bad_record(protocol="unit")), "record.protocol must be an object with the protocol's fingerprint"),
    (_entry(_bad_record(generator={"nfe": 4})), "record.generator must be an object with a text name"),
    (_entry(_bad_record(generator="g")), "record.generator must be an object with a text name"),
    (_entry(_bad_record(generator__name=3)), "record.generator must be an object with a text name"),
    (_entry(_bad_record(metrics=[1])), "record.metrics must be an object of metric objects"),
    (_entry(_bad_record(metrics__fid=2.0)), "record.metrics must be an object of metric objects"),
    (_entry(_bad_record(metrics__fid__value="2")), "record.metrics.fid.value must be a number or null"),
    (_entry(_bad_record(metrics__fid__value=True)), "record.metrics.fid.value must be a number or null"),
    (_entry(_bad_record(metrics__fid__ci_low="0")), "record.metrics.fid.ci_low must be a number or null"),
    (_entry(_bad_record(metrics__fid__ci_high=[0])), "record.metrics.fid.ci_high must be a number or null"),
    (_entry(_bad_record(latency=[0.1])), "record.latency must be an object"),
    (_entry(_bad_record(latency__median="fast")), "record.latency.median must be a number"),
    (_entry(_bad_record(latency__p90=None)), None),
    (_entry(_bad_record(latency__p90="slow")), "record.latency.p90 must be a number"),
    (_entry(_bad_record(latency__device="cpu")), "record.latency.device must be an object"),
    (_entry(result_record(unit_protocol(seed_base=3))), "entry belongs to another protocol fingerprint"),
    (_entry(_bad_record(generator__guidance=math.nan)),
     "non-finite number at record.generator.guidance (nan)"),
]


@pytest.mark.parametrize("line, message", ENTRY_PROBLEMS)
def test_entry_problems_name_the_line_and_skip_only_that_entry(tmp_path, line, message):
    good1, good2 = result_record(P, 1.0), result_record(P, 3.0)
    path = _file(tmp_path, _line(_header()), _entry(good1), line, _entry(good2))
    scan = store.scan(path)
    assert scan.header == _header()
    if message is None:
        assert scan.problems == [] and len(scan.entries) == 3
        return
    assert [str(p) for p in scan.problems] == [f"{path}:3: {message}"]
    assert scan.entries == [Entry(store.entry_hash(good1), "measured", good1),
                            Entry(store.entry_hash(good2), "measured", good2)]


def test_records_without_latency_or_device_are_valid(tmp_path):
    bare = {k: v for k, v in result_record(P).items() if k != "latency"}
    no_device = result_record(P, 2.0, latency={"p90": 0.3})
    path = _file(tmp_path, _line(_header()), _entry(bare), _entry(no_device, origin="reported"))
    assert store.scan(path).problems == []
    assert [e.origin for e in store.read(path)[1]] == ["measured", "reported"]


def test_several_problems_in_one_record_are_all_named(tmp_path):
    record = _bad_record(status="failed", generator={"nfe": 1}, latency__median="x")
    path = _file(tmp_path, _line(_header()), _entry(record, origin="typed"))
    assert _problems(path) == [f"{path}:2: origin 'typed' is not one of ('measured', 'reported')",
                               f"{path}:2: record.status is 'failed'; only successful runs belong on a leaderboard",
                               f"{path}:2: record.generator must be an object with a text name",
                               f"{path}:2: record.latency.median must be a number"]
    nan_and_edited = json.dumps({"hash": "0", "origin": "measured", "record": _bad_record(generator__g=math.inf)})
    path = _file(tmp_path, _line(_header()), nan_and_edited, name="b.jsonl")
    assert _problems(path) == [f"{path}:2: non-finite number at record.generator.g (inf)",
                               f"{path}:2: entry hash mismatch (the entry was edited after it was written)"]


def test_an_entry_under_an_unusable_header_is_still_checked(tmp_path):
    path = _file(tmp_path, "[]", _entry(result_record(unit_protocol(seed_base=3))), _entry(result_record(P), "x"))
    scan = store.scan(path)
    assert scan.header is None and len(scan.entries) == 1
    assert [p.line for p in scan.problems] == [1, 3]


def test_read_raises_the_first_problem_and_counts_the_rest(tmp_path):
    path = _file(tmp_path, _line(_header()), "{", "")
    with pytest.raises(LeaderboardError) as err:
        store.read(path)
    assert str(err.value) == (f"{path}:2: invalid JSON (Expecting property name enclosed in double quotes: line 1 "
                              f"column 2 (char 1)) (and 1 more problem(s); `ddmd-bench leaderboard validate {path}` "
                              "lists them)")
    one = _file(tmp_path, _line(_header()), "", name="one.jsonl")
    with pytest.raises(LeaderboardError) as err:
        store.read(one)
    assert str(err.value) == f"{one}:2: empty line (each line must be one JSON object)"


# ------------------------------------------------------------------------------------------ reproductions

def _repro_line(record, reproduces, digest=None, kind="ddmd-bench-reproduction") -> str:
    return _line({"kind": kind, "reproduces": reproduces, "hash": digest or store.entry_hash(record),
                  "record": record})


def test_read_reproductions_checks_each_line_against_the_entries(tmp_path):
    entry_record = result_record(P, 1.0)
    entry = Entry(store.entry_hash(entry_record), "measured", entry_record)
    close = result_record(P, 1.00000001, latency={"median": 5.0, "p90": 6.0, "device": {"name": "other"}})
    far = result_record(P, 1.5)
    board = _file(tmp_path, _line(_header()), _entry(entry_record))
    assert store.read_reproductions(board, [entry]) == ([], [])
    sidecar = store.reproductions_path(board)
    sidecar.write_text("\n".join([
        _repro_line(close, entry.hash),
        "",
        "[3]",
        _repro_line(close, entry.hash, kind="other"),
        _repro_line(close, "f" * 64),
        _repro_line(far, entry.hash),
        _repro_line(close, entry.hash, digest="bad"),
        _line({"kind": "ddmd-bench-reproduction", "record": close}),
    ]) + "\n")
    found, problems = store.read_reproductions(board, [entry])
    assert found == [Reproduction(store.entry_hash(close), entry.hash, close)]
    assert found[0].hardware == "other"
    kind = 'not a reproduction (expected a JSON object with "kind": "ddmd-bench-reproduction")'
    assert [str(p) for p in problems] == [
        f"{sidecar}:2: empty line (each line must be one JSON object)",
        f"{sidecar}:3: {kind}",
        f"{sidecar}:4: {kind}",
        f"{sidecar}:5: reproduces entry 'ffffffffffff', which the leaderboard does not hold",
        f"{sidecar}:6: differs from the entry it claims to reproduce beyond the tolerance",
        f"{sidecar}:7: entry hash mismatch (the entry was edited after it was written)",
        f"{sidecar}:8: entry hash mismatch (the entry was edited after it was written)",
    ]
    # without the entries, only the lines themselves are checked
    found, problems = store.read_reproductions(board)
    assert len(found) == 3 and [p.line for p in problems] == [2, 3, 4, 7, 8]


def test_read_reproductions_of_an_unreadable_sidecar(tmp_path):
    board = _file(tmp_path, _line(_header()))
    sidecar = store.reproductions_path(board)
    sidecar.write_bytes(b"\xff")
    assert store.read_reproductions(board) == (
        [], [Problem(sidecar, None, "not UTF-8 text (invalid start byte at byte 0); not a leaderboard file")])


# ------------------------------------------------------------------------------------------------- writing

def test_publish_writes_a_header_and_the_entry_byte_for_byte(tmp_path):
    record = result_record(P, 1.0, generator={"name": "gé", "nfe": 4})
    out = tmp_path / "new" / "deeper"
    assert store.publish(out, P, record) == Published("added", out / "unit-v1.jsonl")
    text = (out / "unit-v1.jsonl").read_text(encoding="utf-8")
    header = {"kind": "ddmd-bench-leaderboard", "schema_version": 1, "protocol": P.to_dict(),
              "fingerprint": P.fingerprint}
    entry = {"hash": store.entry_hash(record), "origin": "measured", "record": record}
    assert text == store._json_line(header) + "\n" + store._json_line(entry) + "\n"
    assert "gé" in text
    assert (out / "unit-v1.jsonl.lock").exists()
    assert sorted(p.name for p in out.iterdir()) == ["unit-v1.jsonl", "unit-v1.jsonl.lock"]


def test_publish_appends_then_finds_repeats_and_records_reproductions(tmp_path):
    first = result_record(P, 1.0)
    assert store.append(tmp_path, P, first) is True
    path = store.path_for(tmp_path, P)
    # the same measurement again (another run id, another latency): present, nothing written
    repeat = {**first, "run_id": "again", "latency": {"median": 3.0, "p90": 4.0}}
    before = path.read_bytes()
    assert store.publish(tmp_path, P, repeat) == Published("present", path)
    assert store.append(tmp_path, P, repeat) is False
    assert path.read_bytes() == before
    # drift on other hardware: a reproduction in the sidecar
    drift = result_record(P, 1.00000001, latency={"median": 0.5, "p90": 0.6, "device": {"name": "other"}})
    original = Entry(store.entry_hash(first), "measured", first)
    sidecar = store.reproductions_path(path)
    assert store.publish(tmp_path, P, drift) == Published("reproduced", sidecar, original)
    assert path.read_bytes() == before
    assert sidecar.read_text() == store._json_line({"kind": "ddmd-bench-reproduction", "reproduces": original.hash,
                                                    "hash": store.entry_hash(drift), "record": drift}) + "\n"
    # the same reproduction again: present, in the sidecar
    assert store.publish(tmp_path, P, {**drift, "run_id": "x"}) == Published("present", sidecar, original)
    assert len(sidecar.read_text().splitlines()) == 1
    # a second reproduction from a third machine is added to the sidecar
    third = result_record(P, 0.99999999, latency={"median": 0.5, "p90": 0.6, "device": {"name": "third"}})
    assert store.publish(tmp_path, P, third).status == "reproduced"
    assert [r.hardware for r in store.read_reproductions(path)[0]] == ["other", "third"]
    # a real change: a new ranked entry
    assert store.append(tmp_path, P, result_record(P, 2.0))
    assert [e.record["metrics"]["fid"]["value"] for e in store.read(path)[1]] == [1.0, 2.0]


def test_reported_numbers_are_ranked_and_never_reproduce_or_get_reproduced(tmp_path):
    reported = result_record(P, 1.0)
    assert store.publish(tmp_path, P, reported, origin="reported").status == "added"
    close = result_record(P, 1.00000001, latency={"median": 0.5, "p90": 0.6, "device": {"name": "other"}})
    assert store.publish(tmp_path, P, close).status == "added"  # not a reproduction of a reported entry
    again = result_record(P, 1.00000002, latency={"median": 0.5, "p90": 0.6, "device": {"name": "x"}})
    assert store.publish(tmp_path, P, again, origin="reported").status == "added"
    assert [e.origin for e in store.read(store.path_for(tmp_path, P))[1]] == ["reported", "measured", "reported"]


def test_publish_refuses_a_corrupt_sidecar(tmp_path):
    store.append(tmp_path, P, result_record(P, 1.0))
    sidecar = store.reproductions_path(store.path_for(tmp_path, P))
    sidecar.write_text("[1]\n{\n")
    drift = result_record(P, 1.00000001, latency={"median": 0.5, "p90": 0.6, "device": {"name": "other"}})
    with pytest.raises(LeaderboardError) as err:
        store.publish(tmp_path, P, drift)
    assert str(err.value).startswith(f"{sidecar}:1: not a reproduction")
    assert str(err.value).endswith(f"(and 1 more problem(s); `ddmd-bench leaderboard validate {sidecar}` lists them)")


def test_publish_stores_the_record_as_json_reads_it(tmp_path):
    record = result_record(P, 1.0, generator={"name": "g", "size": (64, 64)})
    store.append(tmp_path, P, record)
    assert store.read(store.path_for(tmp_path, P))[1][0].record["generator"]["size"] == [64, 64]
    assert record["generator"]["size"] == (64, 64)  # the caller's record is left alone
    assert store.publish(tmp_path, P, record).status == "present"


CHECKS = [
    (dict(origin="typed"), "origin must be one of ('measured', 'reported'), got 'typed'"),
    (dict(record=result_record(P, status="failed")),
     "only successful runs go on a leaderboard (this record has failed metrics)"),
    (dict(record={k: v for k, v in result_record(P).items() if k != "status"}),
     "only successful runs go on a leaderboard (this record has failed metrics)"),
    (dict(record=result_record(P, math.nan)),
     "entry 'g' has a non-finite number at metrics.fid.value (nan): non-finite numbers never go on a leaderboard; "
     "check the settings and outputs of this run"),
    (dict(record=result_record(P, generator={"nfe": 4}, latency={"median": math.inf})),
     "entry '?' has a non-finite number at latency.median (inf): non-finite numbers never go on a leaderboard; "
     "check the settings and outputs of this run"),
    (dict(record=result_record(P, generator="g", latency={"median": math.inf})),
     "entry '?' has a non-finite number"),
    (dict(record=result_record(P, generator={"name": "g"}, latency={"median": "x", "p90": "y"})),
     "entry 'g': record.latency.median must be a number; record.latency.p90 must be a number"),
    (dict(record=result_record(P, generator={"nfe": 1})), "entry '?': record.generator must be an object"),
    (dict(record=result_record(unit_protocol(seed_base=5))),
     f"record was measured under protocol fingerprint {unit_protocol(seed_base=5).fingerprint}, not unit v1 "
     f"({P.fingerprint})"),
    (dict(record=result_record(P) | {"protocol": {"name": "unit"}}),
     f"record was measured under protocol fingerprint None, not unit v1 ({P.fingerprint})"),
]


@pytest.mark.parametrize("change, message", CHECKS)
def test_publish_refuses_what_does_not_belong_and_writes_nothing(tmp_path, change, message):
    args = {"record": result_record(P), "origin": "measured", **change}
    with pytest.raises(LeaderboardError) as err:
        store.publish(tmp_path, P, args["record"], args["origin"])
    text = str(err.value)
    assert text.startswith(message)
    if message.endswith(")") or message.endswith("run") or message.endswith("must be a number"):
        assert text == message
    assert list(tmp_path.iterdir()) == []


def test_a_result_of_another_protocol_version_is_refused_with_the_differences(tmp_path):
    store.append(tmp_path, P, result_record(P))
    other = unit_protocol(seed_base=9, resolution=32)
    # the other protocol, written under this file's name
    path = store.path_for(tmp_path, P)
    with pytest.raises(LeaderboardError) as err:
        store._check_same_protocol(path, store.read(path)[0], other)
    assert str(err.value) == (
        f"{path} holds protocol unit v1 with fingerprint {P.fingerprint[:12]}, but this result's protocol has "
        f"{other.fingerprint[:12]}. Differences: resolution: 16 != 32; seed_base: 0 != 9. A changed protocol needs a "
        "new version (and so a new file), never a mix.")
    store._check_same_protocol(path, store.read(path)[0], P)


def test_only_six_differences_are_listed(tmp_path):
    header = _header()
    other = unit_protocol(name="u2", version=2, track="t", resolution=8, seed_base=1, seed_rule="s",
                          images_per_prompt=2, description="d")
    with pytest.raises(LeaderboardError) as err:
        store._check_same_protocol(tmp_path / "f", header, other)
    differences = str(err.value).split("Differences: ")[1].split(". A changed")[0]
    assert len(differences.split("; ")) == 6


def test_write_replaces_atomically_and_reclaims_temp_files(tmp_path):
    path = tmp_path / "f.jsonl"
    stale = [tmp_path / "f.jsonl.tmp", tmp_path / "f.jsonl.123.tmp", tmp_path / "f.jsonl.x.y.tmp"]
    keep = [tmp_path / "g.jsonl.1.tmp", tmp_path / "f.jsonl.lock"]
    for p in stale + keep:
        p.write_text("old")
    store._write(path, ["a", "b"])
    assert path.read_text() == "a\nb\n"
    assert [p.exists() for p in stale] == [False, False, False]
    assert [p.exists() for p in keep] == [True, True]
    store._write(path, ["c"])
    assert path.read_text() == "c\n"


def test_append_keeps_the_origin_it_is_given(tmp_path):
    assert store.append(tmp_path, P, result_record(P, 1.0), origin="reported") is True
    assert [e.origin for e in store.read(store.path_for(tmp_path, P))[1]] == ["reported"]


def test_sidecar_lines_without_a_reproduces_field_or_with_a_bad_record(tmp_path):
    entry_record = result_record(P, 1.0)
    entry = Entry(store.entry_hash(entry_record), "measured", entry_record)
    board = _file(tmp_path, _line(_header()), _entry(entry_record))
    close = result_record(P, 1.00000001, latency={"median": 5.0, "p90": 6.0, "device": {"name": "other"}})
    nan_record = result_record(P, math.nan)
    store.reproductions_path(board).write_text("\n".join([
        _line({"kind": "ddmd-bench-reproduction", "hash": store.entry_hash(close), "record": close}),
        _line({"kind": "ddmd-bench-reproduction", "reproduces": entry.hash, "hash": "x", "record": [1]}),
        json.dumps({"kind": "ddmd-bench-reproduction", "reproduces": entry.hash, "hash": "x", "record": nan_record}),
    ]) + "\n")
    sidecar = store.reproductions_path(board)
    found, problems = store.read_reproductions(board, [entry])
    assert found == []
    assert [str(p) for p in problems] == [
        f"{sidecar}:1: reproduces entry '', which the leaderboard does not hold",
        f"{sidecar}:2: record must be a JSON object",
        f"{sidecar}:3: non-finite number at record.metrics.fid.value (nan)",
        f"{sidecar}:3: entry hash mismatch (the entry was edited after it was written)",
    ]
    found, _ = store.read_reproductions(board)  # without the entries: the first line stands, naming no entry
    assert found == [Reproduction(store.entry_hash(close), "", close)]


def test_a_new_reproduction_is_refused_while_the_sidecar_names_an_unknown_entry(tmp_path):
    store.append(tmp_path, P, result_record(P, 1.0))
    path = store.path_for(tmp_path, P)
    other = result_record(P, 1.00000001, latency={"median": 5.0, "p90": 6.0, "device": {"name": "other"}})
    sidecar = store.reproductions_path(path)
    sidecar.write_text(_line({"kind": "ddmd-bench-reproduction", "reproduces": "f" * 64,
                              "hash": store.entry_hash(other), "record": other}) + "\n")
    third = result_record(P, 0.99999999, latency={"median": 0.5, "p90": 0.6, "device": {"name": "third"}})
    with pytest.raises(LeaderboardError) as err:
        store.publish(tmp_path, P, third)
    assert str(err.value) == f"{sidecar}:1: reproduces entry 'ffffffffffff', which the leaderboard does not hold"


def test_leaderboard_files_are_utf8_under_any_locale(tmp_path):
    # under the C locale without UTF-8 mode, Python's default text encoding is ASCII: a writer relying on it
    # would fail on (or mangle) a non-ASCII generator name. Written here once too, then in a process with that locale.
    import os
    import subprocess
    import sys

    import ddmd_bench

    package_root = Path(ddmd_bench.__file__).resolve().parents[1]  # the code under test, wherever it lives
    tests_root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONPATH": os.pathsep.join([str(package_root), str(tests_root)])}
    code = ("import sys; from pathlib import Path; from ddmd_bench.leaderboard import store; "
            "from tests.factories import result_record, unit_protocol; p = unit_protocol(); "
            "assert store.append(Path(sys.argv[1]), p, "
            "result_record(p, 1.0, generator={'name': 'g\\u00e9\\u4e2d', 'nfe': 4}))")
    here = tmp_path / "here"
    store.append(here, P, result_record(P, 1.0, generator={"name": "gé中", "nfe": 4}))
    assert '"name":"gé中"' in store.path_for(here, P).read_bytes().decode("utf-8")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    text = store.path_for(tmp_path, P).read_bytes().decode("utf-8")
    assert '"name":"gé中"' in text


def test_publish_names_the_file_that_holds_another_protocol(tmp_path):
    store.append(tmp_path, P, result_record(P))
    changed = unit_protocol(seed_base=4)  # same name and version, so the same file, but another fingerprint
    with pytest.raises(LeaderboardError) as err:
        store.publish(tmp_path, changed, result_record(changed))
    assert str(err.value).startswith(f"{store.path_for(tmp_path, P)} holds protocol unit v1 with fingerprint "
                                     f"{P.fingerprint[:12]}, but this result's protocol has "
                                     f"{changed.fingerprint[:12]}. Differences: seed_base: 0 != 4.")
