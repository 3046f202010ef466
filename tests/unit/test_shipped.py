"""Provenance of shipped weights: the commit recorded next to each file."""


def test_git_commit_marks_code_changes_dirty_but_not_shipped_weights(tmp_path):
    import subprocess

    from ddmd_bench.tracks.toy.shipped import git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "ddmd_bench/tracks/toy/weights").mkdir(parents=True)
    (tmp_path / "ddmd_bench/tracks/toy/weights/manifest.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "init", "--allow-empty")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    clean = git_commit(tmp_path)
    assert len(clean) == 40
    (tmp_path / "ddmd_bench/tracks/toy/weights/manifest.json").write_text('{"files": {}}')  # a model was just shipped
    assert git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == clean + "+dirty"


def test_regenerate_commands_match_the_shipped_manifest():
    from ddmd_bench.tracks.toy import shipped

    files = shipped.read_manifest()["files"]
    for file, meta in files.items():
        assert meta["regenerate"] == shipped.regenerate_command(file.removesuffix(".safetensors")), file
    assert "--ship-last-good" in shipped.regenerate_command("ca-only-4step")  # the CA-only arm always diverges
