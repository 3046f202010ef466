"""The evaluation layer's typed pieces: the result record round-trips the committed leaderboard byte for byte,
generator names resolve through the registries tracks and backends fill, and a track context's optional parts are
found by protocol, not by attribute probing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from ddmd_bench.evaluation import records
from ddmd_bench.evaluation.context import EvalContext, RecordsDataFiles, ResizesGenerated, resizes
from ddmd_bench.evaluation.records import SCHEMA_VERSION, Result
from ddmd_bench.generators import resolve
from ddmd_bench.registry import UnknownNameError
from ddmd_bench.tracks.toy.protocol_facts import LEADERBOARD_FILE

ROOT = Path(__file__).resolve().parents[2]


def _committed_records() -> list[dict]:
    lines = (ROOT / "leaderboards" / LEADERBOARD_FILE).read_text().splitlines()[1:]
    return [json.loads(line)["record"] for line in lines]


# --------------------------------------------------------------------------------------------------- records

def test_every_committed_record_round_trips_through_result_unchanged():
    committed = _committed_records()
    assert committed
    for record in committed:
        back = Result.from_dict(record).to_dict()
        assert json.dumps(back, sort_keys=True) == json.dumps(record, sort_keys=True)


def test_optional_parts_appear_only_when_present():
    record = _committed_records()[0]
    result = Result.from_dict(record)
    assert "gate" not in result.to_dict() and "trace" not in result.to_dict()
    gated = result.replace(gate={"passed": True, "summary": "g: PASS"})
    assert gated.to_dict()["gate"] == {"passed": True, "summary": "g: PASS"}
    assert result.to_dict() == record  # replace made a copy


def test_a_written_result_is_read_back_equal_and_its_file_is_the_records_json(tmp_path):
    result = Result.from_dict(_committed_records()[0]).replace(outputs={"degenerate": False})
    path = records.record_path(tmp_path, "toy-v3", result.generator["name"])
    records.write_result(result, path)
    assert path.read_text() == json.dumps(result.to_dict(), indent=1, sort_keys=True) + "\n"
    assert records.read_result(path) == result


@pytest.mark.parametrize("change, message", [
    ({"schema_version": SCHEMA_VERSION + 1}, "schema version"),
    ({"surprise": 1}, "unknown keys \\['surprise'\\]"),
])
def test_from_dict_refuses_other_schemas_and_unknown_keys(change, message):
    with pytest.raises(ValueError, match=message):
        Result.from_dict({**_committed_records()[0], **change})


def test_from_dict_names_missing_keys():
    record = dict(_committed_records()[0])
    del record["metrics"]
    with pytest.raises(ValueError, match="missing keys \\['metrics'\\]"):
        Result.from_dict(record)


def test_an_unreadable_or_foreign_record_file_is_recomputed_not_trusted(tmp_path):
    assert records.read_result(tmp_path / "absent.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert records.read_result(tmp_path / "broken.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    assert records.read_result(tmp_path / "list.json") is None
    (tmp_path / "old.json").write_text(json.dumps({**_committed_records()[0], "schema_version": 0}))
    assert records.read_result(tmp_path / "old.json") is None


def test_failed_metrics_are_named():
    record = _committed_records()[0]
    metrics = {**record["metrics"], "fid": {"status": "error", "error": "boom"}}
    assert Result.from_dict({**record, "metrics": metrics}).failed_metrics == ["fid"]
    assert Result.from_dict(record).failed_metrics == []


# ------------------------------------------------------------------------------------------------ generators

def test_no_name_means_the_default_suite_and_names_are_kept_in_order():
    suite = resolve.default_suite()
    assert suite[0] == "toy-teacher/euler-25/cfg3" and len(suite) == len(set(suite))
    assert resolve.requested(()) == suite
    assert resolve.requested(("b", "a")) == ["b", "a"]


@pytest.mark.parametrize("name, compiled", [
    ("toy-teacher/euler-4/cfg3", "toy-teacher/euler-4/cfg3+compile"),
    ("toy-teacher/euler-4/cfg3+compile", "toy-teacher/euler-4/cfg3+compile"),
    ("teacher:steps=4", "teacher:steps=4,compile=1"),
    ("dmd-4step", "dmd-4step:compile=1"),
    ("teacher:compile=0", "teacher:compile=0"),
    ("method:dmd2-sdxl-4step", "method:dmd2-sdxl-4step"),  # recipes compile through their run settings
    ("pipeline:/some/folder", "pipeline:/some/folder"),
])
def test_compile_is_switched_on_in_each_kind_of_name(name, compiled):
    assert resolve.with_compile(name) == compiled


def test_compile_applies_to_the_default_suite_too():
    assert resolve.requested((), compile=True) == [resolve.with_compile(n) for n in resolve.default_suite()]


def test_prefixed_names_go_to_their_kind_and_a_typo_gets_did_you_mean():
    assert sorted(resolve.KINDS.names()) == ["checkpoint", "method", "pipeline", "run"]
    with pytest.raises(UnknownNameError, match="did you mean 'dmd2-sdxl-4step'"):
        resolve.resolve_generator("method:dmd2-sdxl-4stp")


def test_an_unknown_plain_name_lists_the_suite_and_the_shipped_models():
    with pytest.raises(ValueError, match="unknown model 'techer:steps=4'.*toy-teacher/euler-25/cfg3.*teacher"):
        resolve.resolve_generator("techer:steps=4")


# --------------------------------------------------------------------------------------------------- context

def test_the_toy_context_is_an_eval_context_that_resizes():
    from ddmd_bench.tracks.toy.track import toy_protocol

    _, context = toy_protocol(12)
    assert isinstance(context, EvalContext) and isinstance(context, ResizesGenerated) and resizes(context)
    assert not isinstance(context, RecordsDataFiles)


def test_a_minimal_context_neither_resizes_nor_records_data_files():
    context = SimpleNamespace(prompt_set=None, build_metrics=lambda protocol: {})
    assert isinstance(context, EvalContext)
    assert not resizes(context) and not isinstance(context, RecordsDataFiles)
    assert not resizes(SimpleNamespace(prompt_set=None, build_metrics=None, resize_generated=False))
