"""Shipped toy weights: the manifest's regenerate commands."""


def test_regenerate_commands_match_the_shipped_manifest():
    from ddmd_bench.tracks.toy import shipped

    files = shipped.read_manifest()["files"]
    for file, meta in files.items():
        assert meta["regenerate"] == shipped.regenerate_command(file.removesuffix(".safetensors")), file
    assert "--ship-last-good" in shipped.regenerate_command("ca-only-4step")  # the CA-only arm always diverges
