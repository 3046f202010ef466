"""Each prompt loader reads a real-format fixture exactly; the real public files are read when present."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from ddmd_bench import prompts as P
from tests.conftest import SHARED_DATA

FX = Path(__file__).resolve().parents[1] / "fixtures" / "prompts"


def test_partiprompts_keeps_quotes_and_whitespace():
    ps = P.load(FX / "parti.tsv")
    assert ps.prompts == ("bond", '"G I G G L E" painted on a wall.', " a prompt with a leading space")
    assert ps.meta[1] == {"category": "Illustrations", "challenge": "Writing & Symbols", "note": ""}
    # The trap: default CSV quoting eats the quote and the tab, merging fields.
    naive = list(csv.reader(open(FX / "parti.tsv", newline=""), delimiter="\t"))
    assert naive[2][0] != '"G I G G L E" painted on a wall.'


def test_drawbench_uses_standard_csv_quoting():
    ps = P.load(FX / "drawbench.csv")
    assert ps.prompts == ("A red colored car.", 'A "quoted" word, with a comma', "A black apple")
    assert [m["category"] for m in ps.meta] == ["Colors", "Text", "Colors"]


def test_hpsv2_geneval_mjhq():
    assert P.load(FX / "anime.json", "hpsv2").prompts == ("a cat in anime style", "a dog, drawn")
    assert P.load(FX / "anime.json", "hpsv2").meta[0] == {"style": "anime"}
    gen = P.load(FX / "geneval.jsonl", "geneval")
    assert gen.prompts == ("a photo of a bench", "a photo of a red cup") and gen.meta[1]["tag"] == "color_attr"
    mj = P.load(FX / "mjhq.json", "mjhq")
    assert mj.prompts == ("a castle at dusk", "portrait of a fox") and mj.meta[0] == {"id": "00001",
                                                                                      "category": "landscape"}


def test_coco_sampling_is_seeded_and_recorded():
    a = P.load(FX / "coco.json", "coco", n=2, seed=3)
    b = P.load(FX / "coco.json", "coco", n=2, seed=3)
    assert a.prompts == b.prompts and a.meta == b.meta and len(a.prompts) == 2
    assert all({"image_id", "annotation_id"} <= set(m) for m in a.meta)
    full = P.load(FX / "coco.json", "coco")
    assert [m["image_id"] for m in full.meta] == [1, 2, 3] and full.prompts[2] == "A kitchen with a stove."
    seeds = {P.load(FX / "coco.json", "coco", seed=s).prompts for s in range(20)}
    assert len(seeds) > 1  # the caption choice really depends on the seed
    with pytest.raises(P.PromptFileError, match="only 3 images"):
        P.load(FX / "coco.json", "coco", n=4)


def test_mlperf_captions_tsv_is_read_verbatim_with_ids():
    ps = P.load(FX / "mlperf_captions.tsv", "mlperf-coco")
    assert ps.prompts == ("A lamp on a  desk.", '"Stop" painted on a red sign.', "A horse in a field")
    assert [m["id"] for m in ps.meta] == [101, 205, 317] and ps.meta[1]["image_id"] == 9002
    assert ps.meta[2]["file_name"] == "COCO_val2014_000000009003.jpg"


@pytest.mark.parametrize("content, fmt, problem", [
    ('{"prompt": "a"}\n{"prompt": 3}\n', "jsonl", ":2: expected an object with a string field"),
    ('{"prompt": "a"}\nnot json\n', "jsonl", ":2: invalid JSON"),
    ('{"prompt": "a", "id": 1}\n{"prompt": "b", "id": 1}\n', "jsonl", "duplicate prompt id 1"),
    ("Prompt\tCategory\tChallenge\tNote\nx\ty\n", "partiprompts", ":2: 2 fields, expected 4"),
    ("Prompt,Category\nx,y\n", "drawbench", ":1: header"),
    ('{"tag": "x", "prompt": "p"}\n', "geneval", "lacks GenEval's"),
    ("", "txt", "empty"),
    ("id\timage_id\tcaption\theight\twidth\tfile_name\tcoco_url\nx\t1\tc\t1\t1\tf\tu\n", "mlperf-coco",
     ":2: id and image_id must be integers"),
    ('{"prompt": "a", "id": 1}\n{"prompt": "b", "id": 2}\n{"prompt": "c", "id": 1}\n', "jsonl",
     "duplicate prompt id 1 \\(prompts 1 and 3\\)"),
])
def test_malformed_files_name_line_and_problem(tmp_path, content, fmt, problem):
    f = tmp_path / "bad"
    f.write_text(content)
    with pytest.raises(P.PromptFileError, match=problem):
        P.load(f, fmt)


def test_unknown_format_gets_did_you_mean(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("a\n")
    with pytest.raises(KeyError, match="did you mean 'drawbench'"):
        P.load(f, "drawbnch")
    yaml = tmp_path / "p.yaml"
    yaml.write_text("a")
    with pytest.raises(P.PromptFileError, match="cannot guess the format"):
        P.load(yaml)


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not present (only on the project's machines)")
    return path


def test_real_partiprompts_file():
    path = _shared("PartiPrompts.tsv")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == \
        "fab29e41bb512a169b56acab4cf2a41dcb675e285df2efcde6640c7dd3c440eb"
    ps = P.load(path)
    assert len(ps.prompts) == 1632
    starts_with_quote = [p for p in ps.prompts if p.startswith('"')]
    assert len(starts_with_quote) == 1 and starts_with_quote[0].startswith('"G I G G L E" painted')
    assert sum('"' in p for p in ps.prompts) == 22
    assert sum(p != p.strip() for p in ps.prompts) == 10  # kept verbatim
    assert len({m["category"] for m in ps.meta}) == 12 and len({m["challenge"] for m in ps.meta}) == 11


def test_real_coco_caption_list_and_geneval_metadata():
    coco = P.load(_shared("captions_coco14_test.txt"))
    assert len(coco.prompts) == 30000
    assert coco.sha256 == "edabd2a556026cbf5d36a5fffa35ad43d7ba71b72f6d640b727c1edefb7f1945"  # == the file's hash
    gen = P.load(_shared("geneval_evaluation_metadata.jsonl"), "geneval")
    assert len(gen.prompts) == 553 and {m["tag"] for m in gen.meta} >= {"single_object", "color_attr"}
