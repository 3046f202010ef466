"""Bad input, end to end through the command line: each case is refused with a message that names the file, field
or option and what to do, exit code 1, no traceback, and nothing written where results and leaderboards live.

The table below runs the real CLI on tiny offline inputs: a tiny SD1.5-layout pipeline (random weights, 16 px) in
a local Hugging Face cache, synthetic prompt and statistics files, and the shipped toy models. Almost every row
fails before any model is loaded; the few that must generate use 5 prompts and 1-2 denoising steps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ddmd_bench.cli import main
from ddmd_bench.protocols import PROTOCOLS

CHECK_PROTOCOL = "toy-bad-input-check"  # the toy protocol's first 5 prompts with a single latency round


def _check_protocol(limit=None, data=None):
    from ddmd_bench.tracks.toy.track import toy_protocol

    protocol, context = toy_protocol(limit or 5)
    return dataclasses.replace(protocol, name=CHECK_PROTOCOL, latency={**protocol.latency, "warmup": 0,
                                                                        "rounds": 1}), context


@pytest.fixture(scope="module", autouse=True)
def check_protocol():
    if CHECK_PROTOCOL not in PROTOCOLS:
        PROTOCOLS.add(CHECK_PROTOCOL, _check_protocol)


class _Evil:
    """Unpickling this runs a shell command: what a weights-only load must refuse."""

    def __reduce__(self):
        return os.system, ("echo pickled code ran > /dev/null",)


def _edit_safetensors(path: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Every bad input file or folder, built once."""
    from tests.recipes.hub import build_hub
    from tests.factories import write_mlperf_tsv, write_stats

    root = tmp_path_factory.mktemp("bad-inputs")
    hub = root / "hub"
    build_hub(hub, only=("dmd2-sd15-1step",))
    sd15 = next((hub / "models--stable-diffusion-v1-5--stable-diffusion-v1-5" / "snapshots").iterdir())
    for pickled in hub.rglob("*.bin"):  # the DMD2 student: replaced by a pickle that names code
        pickled.unlink()
        pickled.write_bytes(pickle.dumps(_Evil()))
    out = {"hub": hub, "pipeline": root / "my-pipeline"}
    shutil.copytree(sd15, out["pipeline"])

    out["unknown_class"] = root / "unknown-class"
    shutil.copytree(sd15, out["unknown_class"])
    index = json.loads((out["unknown_class"] / "model_index.json").read_text())
    (out["unknown_class"] / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionXYZ"}))

    out["nan"] = root / "nan-pipeline"  # a UNet whose output is NaN: every image is NaN
    shutil.copytree(sd15, out["nan"])
    _edit_safetensors(out["nan"] / "unet" / "diffusion_pytorch_model.safetensors",
                      lambda s: s["conv_out.bias"].fill_(float("nan")))

    out["black"] = root / "black-pipeline"  # a VAE decoder that always decodes to black
    shutil.copytree(sd15, out["black"])

    def blacken(state):
        state["decoder.conv_out.weight"].zero_()
        state["decoder.conv_out.bias"].fill_(-10.0)

    _edit_safetensors(out["black"] / "vae" / "diffusion_pytorch_model.safetensors", blacken)

    out["mjhq_duplicate"] = root / "meta_data.json"
    out["mjhq_duplicate"].write_text('{"img-1": {"prompt": "a red cat", "category": "animals"}, '
                                     '"img-1": {"prompt": "a blue dog", "category": "animals"}}')
    out["jsonl_newline"] = root / "prompts.jsonl"
    out["jsonl_newline"].write_text(json.dumps({"prompt": "a red cat\non a mat"}) + "\n")
    out["coco_blank"] = root / "captions_blank.json"
    out["coco_blank"].write_text(json.dumps({"images": [{"id": 1}, {"id": 2}], "annotations": [
        {"id": 10, "image_id": 1, "caption": "A cat on a mat.\n"}, {"id": 11, "image_id": 2, "caption": " \n"}]}))

    out["mlperf_captions"] = write_mlperf_tsv(root / "captions_source.tsv", 5000)
    out["stats_4d"] = write_stats(root / "stats-4d.npz", "mlperf-sdxl-5k", "fid")  # 4-d, Inception gives 2048
    return out


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: the command line (from the built inputs), a fragment the message must hold."""

    id: str
    args: Callable[[dict[str, Path]], list[str]]
    message: str
    hub: bool = False  # run with the tiny hub as HF_HUB_CACHE


EVAL = ["evaluate", "--protocol", CHECK_PROTOCOL, "--quiet"]

CASES = [
    # non-finite or out-of-range recipe overrides: refused before anything is built
    Case("pipeline-guidance-nan", lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--guidance", "nan"],
         "--guidance: nan is not a finite number; give a value >= 0"),
    Case("pipeline-eta-nan", lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--eta", "nan"],
         "--eta: nan is not a finite number; give a value [0, 1]"),
    Case("pipeline-guidance-inf", lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--guidance", "inf"],
         "--guidance: inf is not a finite number"),
    Case("pipeline-guidance-negative", lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--guidance", "-2"],
         "--guidance: -2 is out of range; give a value >= 0"),
    Case("pipeline-eta-above-one", lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--eta", "1.5"],
         "--eta: 1.5 is out of range; give a value [0, 1]"),
    # the scheduler override: parsed and tried before the pipeline loads
    Case("scheduler-key-without-value",
         lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--scheduler", "EulerDiscreteScheduler:timestep_spacing"],
         "--scheduler: 'timestep_spacing' in 'EulerDiscreteScheduler:timestep_spacing' is not key=value"),
    Case("scheduler-bad-value",
         lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--scheduler",
                    "EulerDiscreteScheduler:timestep_spacing=sideways"],
         "is refused by EulerDiscreteScheduler (sideways is not supported"),
    Case("scheduler-unknown-field",
         lambda i: [*EVAL, "--pipeline", str(i["pipeline"]), "--scheduler",
                    "EulerDiscreteScheduler:timestep_spacin=trailing"],
         "unknown EulerDiscreteScheduler config field 'timestep_spacin'; did you mean 'timestep_spacing'"),
    # toy generator specs: each field says what it takes
    Case("toy-guidance-nan", lambda i: [*EVAL, "--model", "teacher:steps=2,guidance=nan"],
         "'teacher:steps=2,guidance=nan': guidance=nan is not valid; guidance takes a finite number >= 0"),
    Case("toy-guidance-inf", lambda i: [*EVAL, "--model", "teacher:steps=2,guidance=inf"],
         "guidance=inf is not valid; guidance takes a finite number >= 0"),
    Case("toy-steps-not-a-number", lambda i: [*EVAL, "--model", "teacher:steps=abc"],
         "'teacher:steps=abc': steps=abc is not valid; steps takes an integer >= 1"),
    Case("toy-option-without-value", lambda i: [*EVAL, "--model", "teacher:steps"],
         "option 'steps' has no value; write steps=<an integer >= 1>"),
    # pipeline folders and weights
    Case("unknown-pipeline-class", lambda i: [*EVAL, "--pipeline", str(i["unknown_class"])],
         "_class_name is 'StableDiffusionXYZ', which diffusers"),
    Case("pickle-with-code", lambda i: [*EVAL, "--method", "dmd2-sd15-1step", "--allow-pickle", "--resolution", "16"],
         "refused even with --allow-pickle: it is not plain weights", hub=True),
    # protocols, limits, names
    Case("toy-limit-without-held-out", lambda i: [*EVAL[:1], "--quiet", "--model", "teacher:steps=1", "--limit", "4"],
         "--limit 4: the toy protocol scores held-in and held-out prompts separately"),
    Case("method-typo-suggests-the-recipe", lambda i: ["methods", "show", "dmd2-sdxl-4stp"],
         "did you mean 'dmd2-sdxl-4step'"),
    Case("reference-stats-of-another-dimension",
         lambda i: ["evaluate", "--protocol", "mlperf-sdxl-5k", "--data", f"captions={i['mlperf_captions']}",
                    "--data", f"reference_stats={i['stats_4d']}", "--method", "sdxl-base", "--dry-run"],
         "the inception extractor gives 2048-dimensional features"),
    # prompt files
    Case("mjhq-duplicate-key", lambda i: ["prompts", "hash", str(i["mjhq_duplicate"]), "--format", "mjhq"],
         "meta_data.json:1: key 'img-1' appears twice in one JSON object"),
    Case("jsonl-prompt-with-line-break", lambda i: ["prompts", "hash", str(i["jsonl_newline"])],
         "prompts.jsonl: prompt 1 contains a line break"),
    Case("coco-blank-caption", lambda i: ["prompts", "hash", str(i["coco_blank"]), "--format", "coco"],
         "captions_blank.json: prompt 2 is empty"),
]


def _files(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders if folder.exists() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _refused(result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # click's own exit: no traceback
    assert "Traceback" not in result.output and fragment in result.output, result.output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_a_message_and_nothing_written(case, inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default results/ and leaderboards/ land here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if case.hub:
        monkeypatch.setenv("HF_HUB_CACHE", str(inputs["hub"]))
    watched = (tmp_path / "results", tmp_path / "leaderboards")
    before = _files(*watched)
    result = CliRunner().invoke(main, case.args(inputs))
    _refused(result, case.message)
    assert _files(*watched) == before


def test_nan_producing_pipeline_fails_naming_it_and_publishes_nothing(inputs, tmp_path):
    result = CliRunner().invoke(main, [*EVAL, "--pipeline", str(inputs["nan"]), "--steps", "1", "--results-dir",
                                       str(tmp_path / "results"), "--leaderboard-dir", str(tmp_path / "lb")])
    _refused(result, "generation failed")
    assert "nan-pipeline" in result.output and "non-finite pixels" in result.output
    assert not (tmp_path / "lb").exists() and not _files(tmp_path / "results")


def test_degenerate_outputs_are_flagged_and_not_published(inputs, tmp_path):
    result = CliRunner().invoke(main, [*EVAL, "--pipeline", str(inputs["black"]), "--steps", "1", "--results-dir",
                                       str(tmp_path / "results"), "--leaderboard-dir", str(tmp_path / "lb")])
    _refused(result, "degenerate outputs (5 of 5 images are flat")
    assert not _files(tmp_path / "lb")
    [path] = [p for p in (tmp_path / "results").rglob("*.json")]
    record = json.loads(path.read_text())
    assert record["outputs"]["degenerate"] and record["outputs"]["flat"] == 5 and record["outputs"]["distinct"] == 1
    fid = record["metrics"]["fid"]  # five identical images: every resample gives the same FID
    assert fid["ci_low"] is None and fid["ci_high"] is None and fid["details"]["ci_method"].startswith("undefined")


def test_healthy_outputs_are_not_flagged():
    from ddmd_bench.evaluation.shards import OutputCheck, image_summary

    noise = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    summary = image_summary(noise)
    check = OutputCheck(6, sum(s < 2 for s in summary["pixel_std"]), len(set(summary["digest"])))
    assert check == OutputCheck(6, 0, 6) and not check.degenerate
    black = image_summary(torch.zeros(4, 3, 16, 16, dtype=torch.uint8))
    assert black["pixel_std"] == [0.0] * 4 and len(set(black["digest"])) == 1
    assert OutputCheck(4, 2, 4).degenerate is False and OutputCheck(4, 3, 4).degenerate  # more than half flat
    assert OutputCheck(3, 0, 1).degenerate  # one image repeated, however busy


def test_leftovers_of_an_interrupted_write_are_reclaimed_and_the_samples_log_rewritten(tmp_path):
    from ddmd_bench.tracks.toy.track import toy_protocol

    args = ["evaluate", "--model", "teacher:steps=1", "--limit", "5", "--quiet", "--results-dir",
            str(tmp_path / "results"), "--no-leaderboard"]
    assert CliRunner().invoke(main, args).exit_code == 0
    record = tmp_path / "results" / toy_protocol(5)[0].slug / "toy-teacher_euler-1_nocfg.json"
    samples = record.with_suffix(".samples.jsonl")
    written = [json.loads(line) for line in samples.read_text().splitlines()]
    # a kill after the record was written: its chunk folder and temp files stay, the samples log is lost
    (record.with_suffix(".work")).mkdir()
    (record.with_suffix(".work") / "chunk-000000.pt").write_bytes(b"partial")
    record.with_suffix(".json.tmp").write_text("{")
    samples.unlink()
    again = CliRunner().invoke(main, [*args, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["reused"] == ["toy-teacher/euler-1/nocfg"]
    assert not record.with_suffix(".work").exists() and not record.with_suffix(".json.tmp").exists()
    assert [json.loads(line) for line in samples.read_text().splitlines()] == written and len(written) == 5


def test_coco_captions_with_trailing_whitespace_are_stripped_and_the_set_says_so(tmp_path):
    from ddmd_bench.prompts import COCO_NORMALIZATION, load

    path = tmp_path / "captions.json"
    path.write_text(json.dumps({"images": [{"id": 1}, {"id": 2}], "annotations": [
        {"id": 10, "image_id": 1, "caption": "A cat on a mat.\n"}, {"id": 11, "image_id": 2, "caption": "A dog. "}]}))
    result = CliRunner().invoke(main, ["prompts", "hash", str(path), "--format", "coco"])
    assert result.exit_code == 0, result.output
    ps = load(path, "coco")
    assert ps.prompts == ("A cat on a mat.", "A dog.") and ps.ref()["normalization"] == COCO_NORMALIZATION
    assert result.output.startswith(ps.sha256) and "normalised" in result.output
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps({"images": [{"id": 1}], "annotations": [{"id": 10, "image_id": 1, "caption": "A"}]}))
    assert "normalization" not in load(clean, "coco").ref()  # verbatim sets keep their identity


def test_a_byte_order_mark_is_not_part_of_the_first_prompt(tmp_path):
    from ddmd_bench.prompts import load

    with_bom, without = tmp_path / "a.txt", tmp_path / "b.txt"
    with_bom.write_bytes("\ufeffa red cat\na blue dog\n".encode())
    without.write_text("a red cat\na blue dog\n")
    assert load(with_bom).prompts[0] == "a red cat" and load(with_bom).sha256 == load(without).sha256


def test_unexpected_errors_are_one_line_unless_debug(tmp_path, monkeypatch):
    import ddmd_bench.prompts

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'prompts'")

    monkeypatch.setattr(ddmd_bench.prompts, "load", broken)
    path = tmp_path / "p.txt"
    path.write_text("a red cat\n")
    quiet = CliRunner().invoke(main, ["prompts", "hash", str(path)])
    _refused(quiet, "unexpected AttributeError: 'NoneType' object has no attribute 'prompts'")
    assert "--debug" in quiet.output
    loud = CliRunner().invoke(main, ["--debug", "prompts", "hash", str(path)])
    assert isinstance(loud.exception, AttributeError)  # --debug lets it through, traceback and all


def test_debug_shows_the_traceback_behind_a_refused_input(tmp_path):
    path = tmp_path / "meta_data.json"
    path.write_text('{"a": {"prompt": "x"}, "a": {"prompt": "y"}}')
    result = CliRunner().invoke(main, ["--debug", "prompts", "hash", str(path), "--format", "mjhq"])
    assert result.exit_code == 1 and "Traceback" in result.output and "PromptFileError" in result.output


def test_feature_dimensions_match_the_extractors():
    from ddmd_bench.tracks.literature.reference_stats import FEATURE_DIMS
    from ddmd_bench.metrics.inception import CleanFIDFeatures, PatchFIDFeatures

    assert FEATURE_DIMS == {"inception": CleanFIDFeatures.dim, "inception-patch": PatchFIDFeatures.dim}
