"""A safetensors export is a pure function of its tensors and metadata: same input, same bytes, in any process."""

import hashlib
import subprocess
import sys

import torch
from safetensors import safe_open

from ddmd_bench.utils.checkpoint import export_safetensors

SCRIPT = """
import sys, torch
from ddmd_bench.utils.checkpoint import export_safetensors
tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(3, dtype=torch.float16)}
export_safetensors(tensors, sys.argv[1], {k: str(i) for i, k in enumerate("qwertyuiopasdfgh")})
"""


def test_the_same_export_gives_the_same_bytes_in_separate_processes(tmp_path):
    digests = set()
    for i in range(4):  # the writer orders metadata keys by a per-process random hash
        out = tmp_path / f"{i}.safetensors"
        subprocess.run([sys.executable, "-c", SCRIPT, str(out)], check=True)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_an_export_reads_back_with_its_tensors_and_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = {"w": torch.randn(4, 5), "b": torch.arange(3, dtype=torch.int64)}
    metadata = {"config": '{"a": 1}', "command": "train x", "ä": "ü"}
    export_safetensors(tensors, path, metadata)
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata() == metadata
        assert set(f.keys()) == set(tensors)
        for k, v in tensors.items():
            assert torch.equal(f.get_tensor(k), v)
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    assert header_len % 8 == 0
    assert not list(tmp_path.glob("*.tmp"))
