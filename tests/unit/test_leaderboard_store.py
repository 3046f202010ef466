"""Leaderboard files: fingerprint checks, hash validation, idempotent appends, reproductions, refusal of failed
runs, temp-file leftovers."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from ddmd_bench.leaderboard import reproduction, store
from ddmd_bench.protocol import Protocol


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


def _run(record: dict, run_id: str, hardware: str, median: float) -> dict:
    """The same record as produced by another run: its own id, time, timings, environment, hardware and latency."""
    return {**record, "run_id": run_id, "created": f"t-{run_id}", "timings": {"total_s": 3.0},
            "environment": {"commit": run_id},
            "latency": {"median": median, "device": {"type": "cpu", "name": hardware}}}


def _with_fid(record: dict, value: float, ci: tuple[float, float] | None = None) -> dict:
    fid = {"status": "ok", "value": value, **({"ci_low": ci[0], "ci_high": ci[1]} if ci else {})}
    return {**record, "metrics": {**record["metrics"], "fid": fid}}


def test_an_exact_repeat_changes_nothing_on_disk(tmp_path):
    p = _protocol()
    first = _run(_record(p), "a", "AMD EPYC", 0.1)
    assert store.publish(tmp_path, p, first).status == "added"
    path = store.path_for(tmp_path, p)
    before = path.read_bytes()
    again = _run(_record(p), "b", "AMD EPYC", 0.12)  # same hardware, same numbers, other run and latency samples
    assert store.publish(tmp_path, p, again).status == "present"
    assert store.publish(tmp_path, p, first).status == "present"
    assert path.read_bytes() == before
    assert not store.reproductions_path(path).exists()


def test_float_drift_on_other_hardware_is_a_reproduction_and_the_leaderboard_is_untouched(tmp_path):
    p = _protocol()
    first = _run(_with_fid(_record(p), 3640.51, (3270.0, 4011.0)), "a", "AMD EPYC", 0.300)
    store.publish(tmp_path, p, first)
    path = store.path_for(tmp_path, p)
    before = path.read_bytes()
    xeon = _run(_with_fid(_record(p), 3640.57, (3270.05, 4011.02)), "b", "Intel Xeon", 0.250)
    published = store.publish(tmp_path, p, xeon)
    assert published.status == "reproduced" and not published.added
    assert published.reproduces.record["run_id"] == "a"
    assert path.read_bytes() == before  # the tracked file: byte for byte
    found, problems = store.read_reproductions(path, store.read(path)[1])
    assert problems == [] and [(r.hardware, r.record["latency"]["median"]) for r in found] == [("Intel Xeon", 0.25)]
    sidecar = store.reproductions_path(path).read_bytes()
    assert store.publish(tmp_path, p, {**xeon, "run_id": "c"}).status == "present"  # the same reproduction again
    assert store.reproductions_path(path).read_bytes() == sidecar
    assert not store.append(tmp_path, p, xeon)


def test_a_real_change_is_a_new_entry(tmp_path):
    p = _protocol()
    store.publish(tmp_path, p, _run(_with_fid(_record(p), 3640.51, (3270.0, 4011.0)), "a", "AMD EPYC", 0.3))
    changed = _run(_with_fid(_record(p), 3650.0, (3280.0, 4020.0)), "b", "Intel Xeon", 0.25)  # 9.5 > 3.7
    assert store.publish(tmp_path, p, changed).status == "added"
    _, entries = store.read(store.path_for(tmp_path, p))
    assert [e.record["run_id"] for e in entries] == ["a", "b"]
    assert not store.reproductions_path(store.path_for(tmp_path, p)).exists()


@pytest.mark.parametrize("delta, ci, reproduces", [
    (0.19, (80.0, 120.0), True),  # tolerance 1% of the half-width 20 = 0.2 (above 1e-4 x 100)
    (0.21, (80.0, 120.0), False),
    (-0.19, (80.0, 120.0), True),
    (0.0099, None, True),  # no interval: 1e-4 x 100 = 0.01
    (0.0101, None, False),
    (0.0099, (100.0, 100.0), True),  # a zero-width interval falls back to the relative floor
    (0.0101, (100.0, 100.0), False),
])
def test_tolerance_is_the_larger_of_a_relative_floor_and_one_percent_of_the_half_width(delta, ci, reproduces):
    p = _protocol()
    entry = _with_fid(_record(p), 100.0, ci)
    moved = _with_fid(_record(p), 100.0 + delta, None if ci is None else (ci[0] + delta, ci[1] + delta))
    assert reproduction.reproduces(entry, moved) is reproduces


def test_identity_and_interval_bounds_count_but_the_device_and_run_do_not():
    p = _protocol()
    base = _with_fid(_record(p), 100.0, (80.0, 120.0))
    base = {**base, "generator": {**base["generator"], "device": "cpu", "weights_sha256": "aa"}}
    assert reproduction.reproduces(base, {**_run(base, "x", "GPU", 0.01),
                                          "generator": {**base["generator"], "device": "cuda"}})
    assert not reproduction.reproduces(base, {**base, "generator": {**base["generator"], "weights_sha256": "bb"}})
    assert not reproduction.reproduces(base, _with_fid(base, 100.0, (80.0, 121.0)))  # a bound moved by 1 > 0.2
    assert not reproduction.reproduces(base, {**base, "n_images": 7})
    extra = {**base, "metrics": {**base["metrics"], "clip_score": {"status": "ok", "value": 1.0}}}
    assert not reproduction.reproduces(base, extra) and not reproduction.reproduces(extra, base)


def test_reported_numbers_are_never_taken_for_reproductions(tmp_path):
    p = _protocol()
    store.publish(tmp_path, p, _record(p, 1.0), origin="reported")
    assert store.publish(tmp_path, p, _record(p, 1.00001)).status == "added"


def test_drift_like_another_cpus_on_a_committed_toy_entry_is_a_reproduction_and_a_flip_is_not():
    """The committed toy leaderboard: float drift as seen between two CPU models (per-sample CLIP and ImageReward in
    the sixth digit, FID +0.06) reproduces an entry; one held-in prompt judged differently does not."""
    from pathlib import Path

    from ddmd_bench.tracks.toy.track import toy_protocol

    path = Path(__file__).resolve().parents[2] / "leaderboards" / f"{toy_protocol()[0].slug}.jsonl"
    entry = next(e for e in store.read(path)[1] if "prompt_accuracy" in e.record["metrics"])
    record = copy.deepcopy(entry.record)
    for name in ("clip_score", "image_reward"):
        m = record["metrics"][name]
        m["per_sample"] = [v * (1 + 3e-6) for v in m["per_sample"]]
        m.update(value=m["value"] * (1 + 3e-6), ci_low=m["ci_low"] * (1 + 3e-6), ci_high=m["ci_high"] * (1 + 3e-6))
    record["metrics"]["fid"].update(value=record["metrics"]["fid"]["value"] + 0.06,
                                    ci_low=record["metrics"]["fid"]["ci_low"] + 0.05)
    record["metrics"]["fid"]["spec"]["reference"]["sha256"] = "0" * 64  # statistics streamed on this machine
    record["latency"] = {**record["latency"], "median": 0.25, "device": {"name": "Intel Xeon", "type": "cpu"}}
    assert reproduction.reproduces(entry.record, record)
    other_set = copy.deepcopy(record)
    other_set["metrics"]["fid"]["spec"]["reference"]["n"] += 1
    assert not reproduction.reproduces(entry.record, other_set)
    flipped = copy.deepcopy(record)
    flipped["metrics"]["prompt_accuracy"]["value"] += 1 / flipped["metrics"]["prompt_accuracy"]["n"]
    assert not reproduction.reproduces(entry.record, flipped)


def test_the_image_check_of_a_rerun_is_not_part_of_what_it_measured(tmp_path):
    """A re-run records its degenerate-output check (`outputs`); an entry written without it is still the same
    measurement, so the re-run reproduces it instead of adding a ranked entry."""
    p = _protocol()
    first = _run(_with_fid(_record(p), 3640.51, (3270.0, 4011.0)), "a", "AMD EPYC", 0.3)
    store.publish(tmp_path, p, first)
    path = store.path_for(tmp_path, p)
    before = path.read_bytes()
    checked = {**_run(_with_fid(_record(p), 3640.57, (3270.05, 4011.02)), "b", "Intel Xeon", 0.25),
               "outputs": {"checked": 2, "flat": 0, "distinct": 2, "degenerate": False}}
    assert store.publish(tmp_path, p, checked).status == "reproduced"
    assert path.read_bytes() == before
    assert not reproduction.reproduces(first, {**checked, "generator": {"name": "g", "nfe": 8}})


def test_an_in_memory_record_with_tuples_reproduces_the_entry_it_was_stored_as(tmp_path):
    """A fresh run's record holds tuples (timesteps) that the leaderboard file stores as lists: it is compared as it
    would be stored, so a re-run on other hardware is a reproduction, not a new entry."""
    p = _protocol()
    base = _record(p)
    first = _run(_with_fid({**base, "generator": {**base["generator"], "timesteps": (999, 500)}}, 3640.51,
                           (3270.0, 4011.0)), "a", "AMD EPYC", 0.3)
    store.publish(tmp_path, p, first)
    path = store.path_for(tmp_path, p)
    before = path.read_bytes()
    rerun = _run(_with_fid({**base, "generator": {**base["generator"], "timesteps": (999, 500)}}, 3640.57,
                           (3270.05, 4011.02)), "b", "Intel Xeon", 0.25)
    assert store.publish(tmp_path, p, rerun).status == "reproduced"
    assert path.read_bytes() == before


def test_a_measured_rerun_with_other_float_kernels_reproduces_its_entry_far_inside_the_tolerance():
    """A real pair (tests/fixtures/reproduction-pair.json): a committed toy entry and the same generator evaluated
    again with another thread count, so every float reduction ran differently."""
    from pathlib import Path

    pair = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "reproduction-pair.json").read_text())
    entry, rerun = pair["entry"], pair["rerun"]
    found = reproduction.deltas(entry, rerun)
    assert found is not None and any(d.delta != 0 for d in found)  # same identity, not the same numbers
    assert entry["metrics"]["fid"]["spec"]["reference"]["sha256"] != rerun["metrics"]["fid"]["spec"]["reference"][
        "sha256"]  # the statistics computed on the machine moved too
    worst = reproduction.largest(found)
    assert (worst.metric, worst.field) == ("clip_score", "ci_low") and worst.ratio < 0.05
    assert reproduction.reproduces(entry, rerun)
    assert store.measurement_key(entry) != store.measurement_key(rerun)  # an exact-repeat check alone would add it


def test_show_lists_reproductions_with_their_hardware_and_latency(tmp_path):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    p = _protocol()
    store.publish(tmp_path, p, _run(_with_fid(_record(p), 3640.51, (3270.0, 4011.0)), "a", "AMD EPYC", 0.300))
    store.publish(tmp_path, p, _run(_with_fid(_record(p), 3640.57, (3270.0, 4011.0)), "b", "Intel Xeon", 0.2504))
    path = str(store.path_for(tmp_path, p))
    text = CliRunner().invoke(main, ["leaderboard", "show", path])
    assert text.exit_code == 0, text.output
    assert "(1 entries;" in text.output and "Reproductions (not ranked" in text.output
    assert "g  on Intel Xeon: 250.4 ms/img; largest difference fid +0.06 (tolerance 3.71)" in text.output
    store.publish(tmp_path, p, _run(_with_fid(_record(p), 3640.51, (3270.0, 4011.1)), "c", "Apple M2", 0.1))
    text = CliRunner().invoke(main, ["leaderboard", "show", path])
    assert "g  on Apple M2: 100.0 ms/img; largest difference fid ci_high +0.1 (tolerance 3.71)" in text.output
    as_json = CliRunner().invoke(main, ["leaderboard", "show", path, "--json"])
    rows = json.loads(as_json.stdout)
    assert len(rows) == 1 and rows[0]["hardware"] == "AMD EPYC"
    assert [(r["hardware"], round(r["latency_ms"], 1)) for r in rows[0]["reproductions"]] == [("Intel Xeon", 250.4),
                                                                                            ("Apple M2", 100.0)]
    ok = CliRunner().invoke(main, ["leaderboard", "validate", str(tmp_path)])
    assert ok.exit_code == 0 and "(2 reproductions)" in ok.output


def test_a_sidecar_that_does_not_reproduce_its_entry_fails_validation(tmp_path):
    from click.testing import CliRunner

    from ddmd_bench.cli import main

    p = _protocol()
    store.publish(tmp_path, p, _run(_record(p, 1.0), "a", "AMD EPYC", 0.3))
    store.publish(tmp_path, p, _run(_record(p, 1.00001), "b", "Intel Xeon", 0.2))
    sidecar = store.reproductions_path(store.path_for(tmp_path, p))
    line = json.loads(sidecar.read_text())
    line["record"]["metrics"]["fid"]["value"] = 0.5  # a better number, with a matching hash
    line["hash"] = store.entry_hash(line["record"])
    sidecar.write_text(json.dumps(line) + "\n")
    bad = CliRunner().invoke(main, ["leaderboard", "validate", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{sidecar}:1: differs from the entry it claims to reproduce beyond the tolerance" in bad.output


def test_a_killed_writers_temp_file_is_reclaimed_by_the_next_writer(tmp_path):
    p = _protocol()
    store.append(tmp_path, p, _record(p, 1.0))
    path = store.path_for(tmp_path, p)
    leftovers = [path.with_name(path.name + ".tmp"), path.with_name(path.name + ".4242.tmp")]
    for leftover in leftovers:
        leftover.write_text("half of a copy")  # what a writer killed between write and rename leaves
    assert store.append(tmp_path, p, _record(p, 2.0))
    assert [leftover.exists() for leftover in leftovers] == [False, False]
    assert [e.record["metrics"]["fid"]["value"] for e in store.read(path)[1]] == [1.0, 2.0]


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
