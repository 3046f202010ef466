"""Reference-free protocols on prompt sets: any prompt file (named by its sha256), the named public sets with their
pinned files, an optional FID against the user's statistics, GenEval's output layout, and a run end to end on tiny
metrics that writes the protocol's own leaderboard."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddmd_bench.protocols import PROTOCOLS, describe, get_protocol
from ddmd_bench.tracks.literature import datafiles, prompt_sets
from ddmd_bench.tracks.literature import reference_stats as references
from ddmd_bench.tracks.literature.build import PromptCountMismatch
from ddmd_bench.tracks.literature.geneval import layout_from_images, write_geneval_layout
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prompts"
SHARED = SHARED_DATA  # real public prompt files, on the project's machines only
PARTI_REAL = SHARED / "PartiPrompts.tsv"
GENEVAL_REAL = SHARED / "geneval_evaluation_metadata.jsonl"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(),
                                  reason=f"{SHARED} not present (real public prompt files, only on the project's "
                                         f"machines)")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------ any prompt file

def test_a_prompt_file_protocol_is_named_by_the_files_sha256_and_is_reference_free(tmp_path):
    protocol, context = prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv")
    assert protocol.name == f"prompts-{_sha(FIXTURES / 'parti.tsv')[:12]}"
    assert protocol.slug == protocol.name + "-v1" and protocol.resolution == 1024
    assert set(protocol.metrics) == {"clip_score", "image_reward"}
    assert protocol.metrics["clip_score"]["preset"] == "torchmetrics"
    assert protocol.prompt_set["n"] == 3 and protocol.prompt_set["format"] == "partiprompts"
    assert context.prompt_set.prompts[2] == " a prompt with a leading space"  # verbatim, as the loader reads it
    copy = tmp_path / "elsewhere" / "mine.tsv"
    copy.parent.mkdir()
    shutil.copyfile(FIXTURES / "parti.tsv", copy)
    same, _ = prompt_sets.prompt_file_protocol(copy, "partiprompts")
    assert same.fingerprint == protocol.fingerprint  # the path is not part of the protocol
    copy.write_text(copy.read_text() + "one more prompt\tPeople\tBasic\t\n")
    other, _ = prompt_sets.prompt_file_protocol(copy)
    assert other.name == f"prompts-{_sha(copy)[:12]}" != protocol.name


def test_prompt_file_formats_limit_and_resolution(tmp_path):
    protocol, context = prompt_sets.prompt_file_protocol(FIXTURES / "drawbench.csv", limit=2, resolution=512)
    assert protocol.name == f"prompts-{_sha(FIXTURES / 'drawbench.csv')[:12]}-512-n2" and protocol.resolution == 512
    assert context.prompt_set.prompts == ("A red colored car.", 'A "quoted" word, with a comma')
    mjhq, _ = prompt_sets.prompt_file_protocol(FIXTURES / "mjhq.json", "mjhq")
    assert mjhq.prompt_set["n"] == 2
    with pytest.raises(ValueError, match="cannot guess the format from '.json'; give it"):
        prompt_sets.prompt_file_protocol(FIXTURES / "mjhq.json")
    with pytest.raises(KeyError, match="unknown prompt format 'parti'; did you mean 'partiprompts'"):
        prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv", "parti")
    with pytest.raises(ValueError, match="no such prompt file"):
        prompt_sets.prompt_file_protocol(tmp_path / "absent.txt")


def _stats(path: Path, identity: dict | None = None) -> Path:
    import types

    from ddmd_bench.metrics import reference
    from ddmd_bench.metrics.fid import ReferenceStats

    ext = types.SimpleNamespace(id="fake-inception|000000000000|clean", weights_sha256="0" * 64,
                                preprocessing="made-up statistics for tests")
    reference.save(ReferenceStats(np.arange(4.0), np.eye(4), 50, ext.id, "my-photos"), ext, path, identity)
    return path


def test_fid_only_with_reference_statistics_whose_hash_the_protocol_records(tmp_path, monkeypatch):
    monkeypatch.setattr(references, "FEATURE_DIMS", {"inception": 4, "inception-patch": 4})
    stats = _stats(tmp_path / "ref.npz")
    protocol, context = prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv", data={"reference_stats": stats})
    assert set(protocol.metrics) == {"clip_score", "image_reward", "fid"}
    ref = protocol.metrics["fid"]["reference"]
    assert ref["id"] == "my-photos" and ref["n"] == 50 and len(ref["stats_sha256"]) == 64
    assert protocol.metrics["fid"]["eval_transform"] == "none"
    assert "inception-fid" in context.weight_names()
    assert set(context.data_record()) == {"prompts", "reference_stats"}
    plain, _ = prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv")
    assert plain.name == protocol.name and plain.fingerprint != protocol.fingerprint
    made_for_coco = _stats(tmp_path / "coco.npz", {"kind": "ddmd-bench-reference/v1", "protocol": "coco30k-256",
                                                   "metric": "fid", "reference_id": "coco2014-val2014-all",
                                                   "extractor": "inception", "eval_transform": "crop-lanczos-256"})
    with pytest.raises(references.ReferenceStatsMismatch, match="transform 'crop-lanczos-256' \\(for protocol "
                       "'coco30k-256'\\), but this FID uses 'inception' on images at their own size"):
        prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv", data={"reference_stats": made_for_coco})
    monkeypatch.setattr(references, "FEATURE_DIMS", {"inception": 2048, "inception-patch": 2048})
    with pytest.raises(references.ReferenceStatsMismatch, match="mu has shape \\(4,\\)"):
        prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv", data={"reference_stats": stats})


# ------------------------------------------------------------------------------------------------ named protocols

def test_every_named_set_is_in_the_catalogue_at_both_resolutions():
    entries = prompt_sets.entries()
    assert list(entries) == ["partiprompts", "partiprompts-512", "drawbench", "drawbench-512", "hpsv2-bench",
                             "hpsv2-bench-512", "geneval", "geneval-512"]
    for name, entry in entries.items():
        registered = PROTOCOLS.get(name)
        assert registered.spec is entry.spec and registered.resolution == entry.resolution
        assert describe(name)["name"] == name
    assert describe("geneval")["n_prompts"] == 553 * 4 and describe("partiprompts-512")["resolution"] == 512
    assert describe("drawbench")["data_files"][0]["sha256"] is None  # unpinned, and the listing says so


def test_a_named_set_needs_its_prompt_file_and_refuses_unknown_keys(tmp_path):
    with pytest.raises(datafiles.MissingDataFile, match="protocol partiprompts needs its prompts as data file "
                       "'prompts', which was not given. To provide it: pass it as --data prompts="):
        get_protocol("partiprompts")
    with pytest.raises(datafiles.UnknownDataKey, match="data key 'prompt'"):
        get_protocol("partiprompts", data={"prompt": FIXTURES / "parti.tsv"})


def test_pinned_sets_refuse_any_other_file(tmp_path):
    with pytest.raises(datafiles.DataFileHashMismatch, match="it is not the file this protocol is defined on"):
        get_protocol("partiprompts", data={"prompts": FIXTURES / "parti.tsv"})
    with pytest.raises(datafiles.DataFileHashMismatch):
        get_protocol("geneval", data={"prompts": FIXTURES / "geneval.jsonl"})


@needs_shared
def test_partiprompts_on_the_real_file():
    assert prompt_sets.PARTIPROMPTS.prompts.sha256 == _sha(PARTI_REAL)
    protocol, context = get_protocol("partiprompts", data={"prompts": PARTI_REAL})
    assert protocol.name == "partiprompts" and protocol.prompt_set["n"] == 1632
    assert protocol.prompt_set["files"]["prompts"] == {"sha256": _sha(PARTI_REAL), "pinned": True}
    assert context.data_record()["prompts"]["check"] == "known sha256 verified"
    limited, _ = get_protocol("partiprompts-512", limit=10, data={"prompts": PARTI_REAL})
    assert limited.name == "partiprompts-512-n10" and limited.resolution == 512


def _drawbench(path: Path, n: int) -> Path:
    path.write_text("Prompts,Category\n" + "".join(f"a drawing of object number {i},Counting\n" for i in range(n)))
    return path


def test_drawbench_checks_the_count_and_records_its_unpinned_file(tmp_path):
    protocol, context = get_protocol("drawbench", data={"prompts": _drawbench(tmp_path / "db.csv", 200)})
    assert protocol.prompt_set["n"] == 200
    assert protocol.prompt_set["files"]["prompts"]["pinned"] is False
    assert context.data_record()["prompts"]["check"] == "no known hash: recorded"
    with pytest.raises(PromptCountMismatch, match="holds 199 prompts, expected 200"):
        get_protocol("drawbench", data={"prompts": _drawbench(tmp_path / "short.csv", 199)})


def test_hpsv2_reads_the_four_style_files_in_order(tmp_path):
    protocol, context = get_protocol("hpsv2-bench", data={"prompts": FIXTURES / "hpsv2"})
    styles = [m["style"] for m in context.prompt_set.meta]
    assert styles == ["anime", "anime", "concept-art", "paintings", "paintings", "photo"]
    assert context.prompt_set.prompts[-1] == "a red fox in fresh snow"
    assert set(protocol.prompt_set["files"]) == {f"prompts/{s}" for s in prompt_sets.HPSV2_STYLES}
    partial = tmp_path / "hps"
    shutil.copytree(FIXTURES / "hpsv2", partial)
    (partial / "photo.json").unlink()
    with pytest.raises(datafiles.MissingDataFile, match="data file 'prompts/photo' = .*photo.json does not exist"):
        get_protocol("hpsv2-bench", data={"prompts": partial})
    with pytest.raises(datafiles.MissingDataFile, match="is not a folder"):
        get_protocol("hpsv2-bench", data={"prompts": FIXTURES / "anime.json"})


@needs_shared
def test_geneval_on_the_real_file_generates_four_samples_per_prompt():
    assert prompt_sets.GENEVAL.prompts.sha256 == _sha(GENEVAL_REAL)
    protocol, context = get_protocol("geneval", data={"prompts": GENEVAL_REAL})
    assert protocol.prompt_set["n"] == 553 * 4 and protocol.prompt_set["samples_per_prompt"] == 4
    assert context.prompt_set.prompts[:5] == ("a photo of a bench",) * 4 + ("a photo of a cow",)
    assert protocol.seeds(5) == [0, 1, 2, 3, 4]  # every sample its own seed
    lines = [json.loads(line) for line in GENEVAL_REAL.read_text().splitlines()]
    assert context.metadata_rows() == lines  # GenEval's metadata lines, exactly


# ------------------------------------------------------------------------------------------------ GenEval's layout

def _read_like_genevals_scorer(folder: Path) -> list[tuple[dict, list[Path]]]:
    """What GenEval's evaluate_images.py reads: numbered folders, one JSON object in metadata.jsonl, numbered PNGs
    in samples/."""
    out = []
    for sub in sorted(folder.iterdir()):
        if not (sub.is_dir() and sub.name.isdigit()):
            continue
        with open(sub / "metadata.jsonl") as fp:
            metadata = json.load(fp)
        samples = sorted(p for p in (sub / "samples").iterdir() if re.fullmatch(r"\d+\.png", p.name))
        out.append((metadata, samples))
    return out


@pytest.mark.parametrize("source", ["fixture", "real"])
def test_geneval_layout_matches_genevals_metadata_format(tmp_path, source):
    path = FIXTURES / "geneval.jsonl" if source == "fixture" else GENEVAL_REAL
    if source == "real" and not path.is_file():
        pytest.skip(f"{SHARED} not present (real public prompt files, only on the project's machines)")
    rows = [json.loads(line) for line in path.read_text().splitlines()][:3]
    images = [[np.full((8, 8, 3), 10 * i + j, np.uint8) for j in range(4)] for i in range(len(rows))]
    folders = write_geneval_layout(tmp_path / "out", rows, images)
    assert [f.name for f in folders] == [f"{i:05d}" for i in range(len(rows))]
    read = _read_like_genevals_scorer(tmp_path / "out")
    assert [m for m, _ in read] == rows
    assert all(m.keys() >= {"tag", "include", "prompt"} for m, _ in read)
    for i, (_, samples) in enumerate(read):
        assert [p.name for p in samples] == ["00000.png", "00001.png", "00002.png", "00003.png"]
        assert np.asarray(Image.open(samples[3])).tolist() == images[i][3].tolist()
    with pytest.raises(ValueError, match=f"^{len(rows)} metadata rows but images for {len(rows) - 1} prompts$"):
        write_geneval_layout(tmp_path / "bad", rows, images[:-1])


def test_geneval_layout_from_a_runs_saved_images(tmp_path):
    import dataclasses

    unpinned = dataclasses.replace(prompt_sets.GENEVAL, n_prompts=None,
                                   prompts=dataclasses.replace(prompt_sets.GENEVAL.prompts, sha256=None))
    protocol, context = prompt_sets.build(unpinned, limit=7, data={"prompts": FIXTURES / "geneval.jsonl"})
    assert protocol.name == "geneval-n7"
    saved = tmp_path / "images"
    saved.mkdir()
    for i in range(7):  # the runner's names: one PNG per entry
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(saved / f"{i:06d}.png")
    folders = context.write_layout(saved, tmp_path / "geneval")
    assert [f.name for f in folders] == ["00000"]  # prompt 1 has 3 of its 4 samples: left out
    (meta, samples), = _read_like_genevals_scorer(tmp_path / "geneval")
    assert meta["prompt"] == "a photo of a bench" and len(samples) == 4
    assert (samples[2]).read_bytes() == (saved / "000002.png").read_bytes()
    with pytest.raises(FileNotFoundError, match="1 of 8 images are missing \\(first: 000007.png\\)"):
        layout_from_images(saved, tmp_path / "x", context.metadata_rows(), 4)


# ------------------------------------------------------------------------------------------------ a run end to end

class _Noise:
    """A generator whose images depend on (prompt, seed) only."""

    name = "noise"
    nfe = 1

    def __init__(self, size: int) -> None:
        self.size = size

    def generate(self, prompts: list[str], seeds: list[int]) -> torch.Tensor:
        out = []
        for p, s in zip(prompts, seeds):
            g = torch.Generator().manual_seed(s * 7919 + len(p))
            out.append(torch.randint(0, 256, (3, self.size, self.size), generator=g, dtype=torch.uint8))
        return torch.stack(out)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "test noise"}


def _tiny_backends() -> prompt_sets.MetricBackends:
    from ddmd_bench.metrics.clip_presets import PRESETS, preset_metric
    from ddmd_bench.metrics.image_reward import ImageReward, ImageRewardModel
    from ddmd_bench.tracks.toy.loaders import load_clip
    from ddmd_bench.tracks.toy.text import build_tokenizer
    from tests import factories

    def clip(preset, weights):
        model, preprocess, tokenizer, meta = load_clip()
        return preset_metric(PRESETS.get(preset), model, preprocess, tokenizer, model_id="open_clip:ddmd-toy-clip",
                             weights_sha256=meta["sha256"])

    def image_reward():
        tokenizer = build_tokenizer()
        torch.manual_seed(0)
        return ImageReward(ImageRewardModel(factories.tiny_image_reward_config(len(tokenizer))), tokenizer, "random")

    return prompt_sets.MetricBackends(resolve=lambda names: {n: Path("unused") for n in names}, clip=clip,
                                      image_reward=image_reward)


@pytest.mark.parametrize("fixture,fmt", [("parti.tsv", None), ("drawbench.csv", "drawbench")])
def test_a_run_on_a_prompt_file_writes_its_own_leaderboard(tmp_path, fixture, fmt):
    import dataclasses

    from ddmd_bench.evaluation import runner
    from ddmd_bench.leaderboard import store

    protocol, context = prompt_sets.prompt_file_protocol(FIXTURES / fixture, fmt, resolution=32)
    context = dataclasses.replace(context, backends=_tiny_backends())
    record = runner.run(_Noise(32), protocol, context, batch_size=2, progress=False, work_dir=tmp_path / "work")
    assert record["protocol"]["fingerprint"] == protocol.fingerprint
    assert set(record["metrics"]) == {"clip_score", "image_reward"}
    assert all(m["status"] == "ok" and m["n"] == len(context.prompt_set.prompts) for m in record["metrics"].values())
    assert store.append(tmp_path / "boards", protocol, record)
    board = tmp_path / "boards" / f"prompts-{_sha(FIXTURES / fixture)[:12]}-32-v1.jsonl"
    header, entries = store.read(board)
    assert len(entries) == 1 and header["fingerprint"] == protocol.fingerprint


def test_missing_metric_weights_are_listed_at_once_with_one_download_plan(tmp_path, monkeypatch):
    from ddmd_bench import resolver

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    protocol, context = prompt_sets.prompt_file_protocol(FIXTURES / "parti.tsv")
    with pytest.raises(resolver.WeightsNotFound) as info:
        context.build_metrics(protocol)
    message = str(info.value)
    assert message.startswith("4 weight files are missing:\n- openclip-vit-l-14-openai: ")
    plan = message[message.index("Download plan:\n"):]
    assert "3 of 3 repositories miss 4 files" in plan
    assert "hf download timm/vit_large_patch14_clip_224.openai open_clip_model.safetensors" in plan
    assert "hf download THUDM/ImageReward ImageReward.pt med_config.json" in plan  # one command per repository
    assert "hf download google-bert/bert-base-uncased vocab.txt" in plan and "HF_HUB_OFFLINE=1" in plan
