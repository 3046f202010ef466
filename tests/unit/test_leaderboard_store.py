"""Leaderboard files: fingerprint checks, hash validation, idempotent appends, refusal of failed runs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ddmd_bench.leaderboard import store
from ddmd_bench.protocols import Protocol


def _protocol(**changes) -> Protocol:
    base = Protocol(name="unit", version=1, track="toy", prompt_set={"name": "p", "version": 1, "n": 2, "sha256": "0"},
                    images_per_prompt=1, resolution=16, seed_rule="seed_i = i", seed_base=0,
                    metrics={"fid": {"weights_sha256": "abc"}})
    return dataclasses.replace(base, **changes)


def _record(protocol: Protocol, value: float = 1.0, status: str = "ok") -> dict:
    return {"schema_version": 1, "status": status, "generator": {"name": "g", "nfe": 4},
            "protocol": {"name": protocol.name, "version": protocol.version, "fingerprint": protocol.fingerprint},
            "metrics": {"fid": {"status": "ok", "value": value}}, "latency": {"median": 0.1, "p90": 0.2}}


def test_append_then_read_round_trip(tmp_path):
    p = _protocol()
    assert store.append(tmp_path, p, _record(p, 1.0))
    assert store.append(tmp_path, p, _record(p, 2.0))
    assert not store.append(tmp_path, p, _record(p, 1.0))  # identical entry: not duplicated
    header, entries = store.read(store.path_for(tmp_path, p))
    assert header["fingerprint"] == p.fingerprint
    assert [e.record["metrics"]["fid"]["value"] for e in entries] == [1.0, 2.0]


def test_a_reproduction_on_the_same_hardware_is_not_a_new_entry(tmp_path):
    p = _protocol()
    first = {**_record(p), "run_id": "a", "created": "t0", "timings": {"total_s": 3.0},
             "environment": {"commit": "c1"}, "latency": {"median": 0.1, "device": {"type": "cpu", "name": "EPYC"}}}
    again = {**first, "run_id": "b", "created": "t1", "timings": {"total_s": 2.5}, "environment": {"commit": "c2"},
             "latency": {"median": 0.12, "device": {"type": "cpu", "name": "EPYC"}}}
    elsewhere = {**again, "latency": {"median": 0.05, "device": {"type": "cpu", "name": "M2"}}}
    changed = {**again, "metrics": {"fid": {"status": "ok", "value": 1.5}}}
    assert store.append(tmp_path, p, first)
    assert not store.append(tmp_path, p, again)  # same generator, numbers and hardware: a reproduction
    assert store.append(tmp_path, p, elsewhere)  # latency on other hardware is a new measurement
    assert store.append(tmp_path, p, changed)  # other quality numbers are a new measurement
    _, entries = store.read(store.path_for(tmp_path, p))
    assert [e.record["run_id"] for e in entries] == ["a", "b", "b"]


def test_result_of_another_protocol_is_refused_with_the_differing_field(tmp_path):
    p = _protocol()
    store.append(tmp_path, p, _record(p))
    changed = _protocol(metrics={"fid": {"weights_sha256": "xyz"}})
    with pytest.raises(store.LeaderboardError, match=r"metrics\.fid\.weights_sha256: 'abc' != 'xyz'"):
        store.append(tmp_path, changed, _record(changed))
    with pytest.raises(store.LeaderboardError, match="measured under protocol fingerprint"):
        store.append(tmp_path, p, _record(changed))


def test_failed_runs_never_reach_a_leaderboard(tmp_path):
    p = _protocol()
    with pytest.raises(store.LeaderboardError, match="only successful runs"):
        store.append(tmp_path, p, _record(p, status="failed"))
    assert not store.path_for(tmp_path, p).exists()


def test_tampered_entry_is_detected(tmp_path):
    p = _protocol()
    store.append(tmp_path, p, _record(p, 1.0))
    path = store.path_for(tmp_path, p)
    header, entry = path.read_text().splitlines()
    data = json.loads(entry)
    data["record"]["metrics"]["fid"]["value"] = 0.5  # a better number, typed in by hand
    path.write_text(header + "\n" + json.dumps(data) + "\n")
    with pytest.raises(store.LeaderboardError, match=":2: entry hash mismatch"):
        store.read(path)


def test_fingerprint_ignores_description_only():
    assert _protocol().fingerprint == _protocol(description="words").fingerprint
    assert _protocol().fingerprint != _protocol(seed_base=1).fingerprint


def test_schema_1_fixture_still_loads():
    """Golden file written by schema 1 (checked in; never regenerate it): every later reader must accept it."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "leaderboard-schema1.jsonl"
    header, entries = store.read(path)
    assert header["schema_version"] == 1 and header["protocol"]["name"] == "unit"
    assert [(e.origin, e.record["metrics"]["fid"]["value"]) for e in entries] == [("measured", 12.5),
                                                                               ("reported", 11.0)]


def test_newer_schema_is_refused_with_upgrade_hint(tmp_path):
    p = _protocol()
    store.append(tmp_path, p, _record(p))
    path = store.path_for(tmp_path, p)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["schema_version"] = 99
    path.write_text(json.dumps(header) + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(store.LeaderboardError, match="upgrade ddmd-bench"):
        store.read(path)


def test_validate_command_exits_non_zero_on_a_tampered_file(tmp_path):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    p = _protocol()
    store.append(tmp_path, p, _record(p, 1.0))
    ok = CliRunner().invoke(main, ["leaderboard", "validate", str(tmp_path)])
    assert ok.exit_code == 0 and "ok" in ok.output
    path = store.path_for(tmp_path, p)
    path.write_text(path.read_text().replace('"value":1.0', '"value":0.5'))
    bad = CliRunner().invoke(main, ["leaderboard", "validate", str(tmp_path)])
    assert bad.exit_code != 0 and "hash mismatch" in bad.output


def test_a_new_protocol_version_gets_its_own_file_and_the_old_one_stays_readable(tmp_path):
    v1 = _protocol()
    v2 = _protocol(version=2, metrics={"fid": {"weights_sha256": "retrained"}})
    store.append(tmp_path, v1, _record(v1, 1.0))
    store.append(tmp_path, v2, _record(v2, 2.0))
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["unit-v1.jsonl", "unit-v2.jsonl"]
    assert store.read(store.path_for(tmp_path, v1))[1][0].record["metrics"]["fid"]["value"] == 1.0
    assert store.read(store.path_for(tmp_path, v2))[1][0].record["metrics"]["fid"]["value"] == 2.0
