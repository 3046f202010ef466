"""One resolver for every external weight file: explicit path, environment override, the standard caches,
then (only when allowed) a download.

Where it looks, in order:
1. an explicit local path (a `--weights` option or a `local-dir:` id);
2. the spec's environment variable (e.g. DDMD_BENCH_INCEPTION=/path/to/inception-2015-12-05.pt);
3. for Hugging Face files: the hub cache (HF_HOME / HF_HUB_CACHE, via huggingface_hub's own cache lookup);
   for plain URLs: $TORCH_HOME/hub/checkpoints and the folder the owning library uses (clean-fid: /tmp);
4. a download, unless HF_HUB_OFFLINE=1 or the caller forbids it.

A published sha256 is verified wherever the file came from. Failure names the file, every place looked at, and the
command or variable that provides it.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ddmd_bench import hashing
from ddmd_bench.registry import Registry


class WeightsNotFound(FileNotFoundError):
    """No copy of a weight file could be found (and downloading was not allowed or failed)."""


class WeightsHashMismatch(ValueError):
    """A weight file's sha256 differs from the published one."""


@dataclass(frozen=True, slots=True)
class WeightSpec:
    """Where a weight file comes from. Exactly one of (repo_id, url) is set."""

    name: str
    filename: str
    repo_id: str | None = None
    url: str | None = None
    revision: str | None = None
    sha256: str | None = None  # only where the publisher states one
    env_var: str | None = None
    library_dirs: tuple[str, ...] = field(default=())  # folders the owning library downloads into
    alternatives: tuple[str, ...] = field(default=())  # other names of the same file in the repo, tried in order
    used_for: str = ""

    def how_to_provide(self) -> str:
        """The command or variable that makes this file available offline."""
        if self.repo_id:
            rev = f" --revision {self.revision}" if self.revision else ""
            fetch = f"`huggingface-cli download {self.repo_id} {self.filename}{rev}` on a machine with network " \
                    "(it fills the HF cache; copy HF_HOME over)"
        else:
            fetch = f"download {self.url} into $TORCH_HOME/hub/checkpoints/"
        env = f", or set {self.env_var}=/path/to/{self.filename}" if self.env_var else ""
        return f"{fetch}{env}, or pass the file's path explicitly"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file (cached by path, size, mtime and inode; see `ddmd_bench.hashing`)."""
    return hashing.file_sha256(path)


def offline() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids network access."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _torch_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torch"
    return Path(os.environ.get("TORCH_HOME", default))


def _hf_cache_dir() -> str:
    # Read the variables at call time (huggingface_hub reads them once, at import).
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    from huggingface_hub import constants  # slow to import; only this fallback needs it

    return constants.HF_HUB_CACHE


def candidates(spec: WeightSpec, explicit: str | Path | None = None) -> list[tuple[str, Path | None]]:
    """(description, path or None) of every place looked at, in order; None where a lookup found nothing."""
    places: list[tuple[str, Path | None]] = []
    if explicit is not None:
        places.append(("explicit path", Path(explicit)))
    if spec.env_var:
        value = os.environ.get(spec.env_var)
        places.append((f"${spec.env_var}", Path(value) if value else None))
    if spec.repo_id:
        from huggingface_hub import try_to_load_from_cache  # slow to import; only hub entries need it

        cache = _hf_cache_dir()
        for name in (spec.filename, *spec.alternatives):
            hit = try_to_load_from_cache(spec.repo_id, name, cache_dir=cache, revision=spec.revision)
            places.append((f"HF cache ({cache}) {spec.repo_id}/{name}", Path(hit) if isinstance(hit, str) else None))
    else:
        places.append(("$TORCH_HOME/hub/checkpoints", _torch_home() / "hub" / "checkpoints" / spec.filename))
        places += [(f"library folder {d}", Path(d) / spec.filename) for d in spec.library_dirs]
    return places


def resolve(spec: WeightSpec, explicit: str | Path | None = None, allow_download: bool = True) -> Path:
    """Path of a verified local copy of `spec`'s file, or an error that says how to provide it."""
    looked = candidates(spec, explicit)
    for where, path in looked:
        if path is not None and path.is_file():
            return verify(spec, path, where)
        if where == "explicit path" and path is not None:
            raise WeightsNotFound(f"{spec.name}: {path} does not exist (given explicitly)")
    if allow_download and not offline():
        return verify(spec, _download(spec), "download")
    reason = "HF_HUB_OFFLINE=1 forbids downloading" if offline() else "downloading was not allowed"
    places = "; ".join(f"{w} ({p if p else 'not set / not cached'})" for w, p in looked)
    raise WeightsNotFound(f"{spec.name}: {spec.filename} not found ({reason}). Looked in: {places}. "
                          f"To provide it: {spec.how_to_provide()}.")


def verify(spec: WeightSpec, path: Path, where: str) -> Path:
    """Check the published sha256 (when there is one)."""
    if spec.sha256:
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise WeightsHashMismatch(f"{spec.name}: {path} (from {where}) has sha256 {digest}, but the published "
                                      f"hash is {spec.sha256}: the file is corrupted or a different release. "
                                      f"Delete it and provide it again: {spec.how_to_provide()}.")
    return path


def _download(spec: WeightSpec) -> Path:
    if spec.repo_id:
        from huggingface_hub import hf_hub_download  # slow to import; only a download needs it

        return Path(hf_hub_download(spec.repo_id, spec.filename, revision=spec.revision, cache_dir=_hf_cache_dir()))
    target = _torch_home() / "hub" / "checkpoints" / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    urllib.request.urlretrieve(spec.url, tmp)
    os.replace(tmp, target)
    return target


# Known external weights. sha256 only where a publisher states one; none of the sources we used states one for
# these files, so the hash of the resolved file is recorded in every result instead.
WEIGHTS: Registry[WeightSpec] = Registry("weights")
for _spec in (
    WeightSpec("inception-fid", "inception-2015-12-05.pt",
               url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
               env_var="DDMD_BENCH_INCEPTION", library_dirs=(tempfile.gettempdir(),),
               used_for="FID (clean-fid's TorchScript port of the TF Inception)"),
    # open_clip's hub ids (open_clip/pretrained.py); safetensors variants first, the pickle .bin last.
    WeightSpec("openclip-vit-g-14-laion2b-s12b-b42k", "open_clip_pytorch_model.safetensors",
               repo_id="laion/CLIP-ViT-g-14-laion2B-s12B-b42K", used_for="CLIP score, preset dmd2",
               alternatives=("open_clip_model.safetensors", "open_clip_pytorch_model.bin")),
    WeightSpec("openclip-vit-b-32-openai", "open_clip_model.safetensors",
               repo_id="timm/vit_base_patch32_clip_224.openai", used_for="CLIP score, preset mlperf",
               alternatives=("open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin")),
    WeightSpec("openclip-vit-l-14-openai", "open_clip_model.safetensors",
               repo_id="timm/vit_large_patch14_clip_224.openai", used_for="CLIP score, preset torchmetrics",
               alternatives=("open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin")),
    WeightSpec("imagereward", "ImageReward.pt", repo_id="THUDM/ImageReward", used_for="ImageReward"),
    WeightSpec("imagereward-med-config", "med_config.json", repo_id="THUDM/ImageReward", used_for="ImageReward"),
    WeightSpec("bert-base-uncased-vocab", "vocab.txt", repo_id="google-bert/bert-base-uncased",
               used_for="ImageReward's prompt tokenizer"),
):
    WEIGHTS.add(_spec.name, _spec)


def status() -> list[dict[str, str]]:
    """For `ddmd-bench doctor`: each known weight, whether it is available offline, and where."""
    rows = []
    for name in WEIGHTS:
        spec = WEIGHTS.get(name)
        try:
            rows.append({"name": name, "available": "yes", "path": str(resolve(spec, allow_download=False)),
                         "used_for": spec.used_for})
        except (WeightsNotFound, WeightsHashMismatch) as exc:
            rows.append({"name": name, "available": "no", "path": "", "used_for": spec.used_for,
                         "how": spec.how_to_provide(), "error": str(exc)})
    return rows


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A local copy of a hub repository at one commit (or a plain local folder, whose commit is None)."""

    path: Path
    repo_id: str
    commit: str | None


def resolve_snapshot(repo_id: str, revision: str | None = None, local: str | Path | None = None,
                     allow_patterns: list[str] | None = None, allow_download: bool = True) -> Snapshot:
    """The local folder of `repo_id` at `revision` (resolved to its commit sha), looking in the HF cache first and
    downloading only when allowed and online. A `local` folder is used as is."""
    if local is not None:
        path = Path(local)
        if not path.is_dir():
            raise WeightsNotFound(f"{path} does not exist or is not a folder (given as a local pipeline)")
        return Snapshot(path, str(path), None)
    # huggingface_hub is slow to import; only a hub pipeline needs it
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = _hf_cache_dir()
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=True,
                                   allow_patterns=allow_patterns)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        if not allow_download or offline():
            reason = "HF_HUB_OFFLINE=1 forbids downloading" if offline() else "downloading was not allowed"
            rev = f" --revision {revision}" if revision else ""
            raise WeightsNotFound(
                f"{repo_id}{'@' + revision if revision else ''} is not in the HF cache ({cache}) and {reason}. "
                f"To provide it: `huggingface-cli download {repo_id}{rev}` on a machine with network and copy "
                f"HF_HOME over, or pass a local folder.") from exc
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache, allow_patterns=allow_patterns)
    path = Path(folder)
    return Snapshot(path, repo_id, path.name)  # cache snapshots are named by their commit sha
