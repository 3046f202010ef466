"""Provenance: the commit recorded with results and shipped weights, and the environment record's fields."""

from __future__ import annotations

import subprocess

from ddmd_bench import provenance


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)


def test_git_commit_marks_code_changes_dirty_but_not_shipped_weights(tmp_path):
    for track in ("toy", "other"):
        (tmp_path / f"ddmd_bench/tracks/{track}/weights").mkdir(parents=True)
        (tmp_path / f"ddmd_bench/tracks/{track}/weights/manifest.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "files")
    clean = provenance.git_commit(tmp_path)
    assert len(clean) == 40
    for track in ("toy", "other"):  # a model was just shipped
        (tmp_path / f"ddmd_bench/tracks/{track}/weights/manifest.json").write_text('{"files": {}}')
    assert provenance.git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.git_commit(tmp_path) == clean + "+dirty"


def test_git_commit_outside_a_repository_is_unknown(tmp_path):
    assert provenance.git_commit(tmp_path / "nowhere") == "unknown"


def test_environment_record_keeps_its_fields():
    env = provenance.environment()
    assert set(env) == {"python", "platform", "packages", "harness", "threads"}
    assert set(env["packages"]) == set(provenance.PACKAGES) and set(env["harness"]) == {"version", "commit"}
    assert env["harness"]["commit"] == provenance.git_commit()


def test_cpu_device_info_names_the_cpu_and_torch_threads():
    import torch  # the device record is made for a run, which has torch loaded

    info = provenance.device_info(torch.device("cpu"))
    assert info == {"type": "cpu", "name": provenance.cpu_name(), "threads": torch.get_num_threads()}
