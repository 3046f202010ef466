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

`download_plan` lists, offline and before anything runs, every repository and file a recipe (or any list of
repositories and files) still lacks in the HF cache, each repository with the `hf download` command that fetches
exactly those files and the cache folder they land in. A download that cannot reach the network fails with
`NetworkUnavailable`, naming the repository and how to work offline.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import json
import os
import shlex
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ddmd_bench import hashing
from ddmd_bench.registry import Registry
from ddmd_bench.utils import hub_files


class WeightsNotFound(FileNotFoundError):
    """No copy of a weight file could be found (and downloading was not allowed or failed)."""


class WeightsHashMismatch(ValueError):
    """A weight file's sha256 differs from the published one."""


class MissingDownloads(WeightsNotFound):
    """Files are missing from the HF cache; `plan` lists every one, with the command that provides each
    repository's files."""

    def __init__(self, plan: DownloadPlan) -> None:
        super().__init__(plan.report())
        self.plan = plan


class NetworkUnavailable(WeightsNotFound):
    """A download failed because the hub (or a URL) could not be reached; the message names the repository and how
    to work offline."""


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
            fetch = f"`hf download {self.repo_id} {self.filename}{rev}` on a machine with network " \
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

        need = RepoFiles(spec.repo_id, spec.revision, (spec.filename,), used_for=spec.used_for)
        with network_errors_named(need):
            return Path(hf_hub_download(spec.repo_id, spec.filename, revision=spec.revision,
                                        cache_dir=_hf_cache_dir()))
    target = _torch_home() / "hub" / "checkpoints" / spec.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        urllib.request.urlretrieve(spec.url, tmp)
    except network_errors() as exc:
        raise NetworkUnavailable(f"{spec.name}: cannot download {spec.url} ({type(exc).__name__}: {exc}). To work "
                                 f"offline: {spec.how_to_provide()}, and set HF_HUB_OFFLINE=1 so that nothing "
                                 f"tries the network.") from exc
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
    WeightSpec("openclip-vit-l-14-336-openai", "open_clip_model.safetensors",
               repo_id="timm/vit_large_patch14_clip_336.openai", used_for="CMMD",
               alternatives=("open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin")),
    WeightSpec("imagereward", "ImageReward.pt", repo_id="THUDM/ImageReward", used_for="ImageReward"),
    WeightSpec("imagereward-med-config", "med_config.json", repo_id="THUDM/ImageReward", used_for="ImageReward"),
    WeightSpec("bert-base-uncased-vocab", "vocab.txt", repo_id="google-bert/bert-base-uncased",
               used_for="ImageReward's prompt tokenizer"),
    # HPSv2 / HPSv2.1: full open_clip ViT-H-14 state dicts ({"state_dict": ...}) from the authors' hub repo
    WeightSpec("hps-v2.1", "HPS_v2.1_compressed.pt", repo_id="xswu/HPSv2", used_for="HPSv2.1"),
    WeightSpec("hps-v2.0", "HPS_v2_compressed.pt", repo_id="xswu/HPSv2", used_for="HPSv2 (v2.0)"),
    # PickScore: the fine-tuned CLIP-H and the processor of the CLIP-H it was fine-tuned from
    WeightSpec("pickscore-v1", "model.safetensors", repo_id="yuvalkirstain/PickScore_v1", used_for="PickScore",
               alternatives=("pytorch_model.bin",)),
    WeightSpec("pickscore-v1-config", "config.json", repo_id="yuvalkirstain/PickScore_v1", used_for="PickScore"),
    *(WeightSpec(f"pickscore-processor-{f.split('.')[0].replace('_', '-')}", f,
                 repo_id="laion/CLIP-ViT-H-14-laion2B-s32B-b79K", used_for="PickScore's processor")
      for f in ("preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")),
    # FD-DINOv2: transformers' copy of DINOv2 ViT-L/14 (the dinov2_vitl14 release)
    WeightSpec("dinov2-vit-l14", "model.safetensors", repo_id="facebook/dinov2-large", used_for="FD-DINOv2"),
    WeightSpec("dinov2-vit-l14-config", "config.json", repo_id="facebook/dinov2-large", used_for="FD-DINOv2"),
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
    need = RepoFiles(repo_id, revision, include=tuple(allow_patterns or ()))
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=True,
                                   allow_patterns=allow_patterns)
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        if not allow_download or offline():
            reason = "HF_HUB_OFFLINE=1 forbids downloading" if offline() else "downloading was not allowed"
            raise WeightsNotFound(
                f"{repo_id}{'@' + revision if revision else ''} is not in the HF cache ({cache}) and {reason}. "
                f"To provide it: `{download_command(need)}` on a machine with network and copy the HF cache over, "
                f"or pass a local folder.") from exc
        with network_errors_named(need):
            folder = snapshot_download(repo_id, revision=revision, cache_dir=cache, allow_patterns=allow_patterns)
    path = Path(folder)
    return Snapshot(path, repo_id, path.name)  # cache snapshots are named by their commit sha


# ------------------------------------------------------------------------------------------------- download plans
# What a run needs from the hub, listed before anything runs: every missing repository and file at once, each with the
# `hf download` command that provides exactly those files and the cache folder they land in.

@dataclass(frozen=True, slots=True)
class RepoFiles:
    """Files one run needs from one hub repository: exact paths, or glob patterns where the names cannot be known
    offline (a repository whose layout is not known)."""

    repo_id: str
    revision: str | None = None
    files: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    used_for: str = ""


def download_command(need: RepoFiles) -> str:
    """The `hf download` command (huggingface_hub's CLI) that puts `need`'s files into the HF cache. The CLI takes
    file names or --include patterns, not both: with any pattern, the names go through --include as well (a path
    without wildcards matches only itself)."""
    parts = ["hf", "download", need.repo_id]
    if need.include:  # a list option: one --include per pattern
        parts += [arg for pattern in (*need.files, *need.include) for arg in ("--include", pattern)]
    else:
        parts += need.files
    if need.revision:
        parts += ["--revision", need.revision]
    return shlex.join(parts)


@dataclass(frozen=True, slots=True)
class MissingRepo:
    """One repository with files missing from the cache."""

    need: RepoFiles
    missing: tuple[str, ...]  # file paths, or glob patterns that match no cached file
    cache_folder: Path  # models--ORG--NAME in the HF cache

    @property
    def command(self) -> str:
        """Downloads exactly the missing files and patterns."""
        files = tuple(m for m in self.missing if m in self.need.files)
        patterns = tuple(m for m in self.missing if m not in self.need.files)
        return download_command(RepoFiles(self.need.repo_id, self.need.revision, files, patterns))

    @property
    def lands_in(self) -> str:
        """Where the files will be: the repository's snapshot folder, named by the commit the revision resolves to."""
        return str(self.cache_folder / "snapshots" / "<commit>")

    def to_dict(self) -> dict[str, Any]:
        return {"repo": self.need.repo_id, "revision": self.need.revision, "used_for": self.need.used_for,
                "missing": list(self.missing), "command": self.command, "lands_in": self.lands_in}


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """Every repository a run needs, checked against the HF cache without the network."""

    cache: Path
    needs: tuple[RepoFiles, ...]
    missing: tuple[MissingRepo, ...]

    @property
    def complete(self) -> bool:
        """Whether every needed file is in the cache."""
        return not self.missing

    def commands(self) -> list[str]:
        """One `hf download` command per repository with missing files."""
        return [m.command for m in self.missing]

    def report(self) -> str:
        """Human-readable plan: each missing repository, its files, command and landing folder, then how to run
        offline."""
        if self.complete:
            return f"every file of {len(self.needs)} repositories is in the HF cache ({self.cache})"
        n_files = sum(len(m.missing) for m in self.missing)
        lines = [f"{len(self.missing)} of {len(self.needs)} repositories miss {n_files} files in the HF cache "
                 f"({self.cache}):"]
        for m in self.missing:
            rev = f" @ {m.need.revision}" if m.need.revision else ""
            why = f" ({m.need.used_for})" if m.need.used_for else ""
            lines += [f"- {m.need.repo_id}{rev}{why}: {', '.join(m.missing)}", f"    {m.command}",
                      f"    lands in {m.lands_in}"]
        lines.append("Run the commands on a machine with network (they fill its HF cache, HF_HOME/hub), copy the "
                     "cache here, and set HF_HUB_OFFLINE=1 so that nothing tries the network.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"cache": str(self.cache), "complete": self.complete, "repos": [n.repo_id for n in self.needs],
                "missing": [m.to_dict() for m in self.missing], "commands": self.commands()}

    def raise_if_missing(self) -> None:
        """A `MissingDownloads` naming every missing repository and file, if any."""
        if not self.complete:
            raise MissingDownloads(self)


class _RepoLike(Protocol):
    repo_id: str
    revision: str | None
    local: str | None


class _StudentLike(Protocol):
    kind: str
    repo: _RepoLike
    filename: str | None
    subfolder: str | None


@runtime_checkable
class RecipeLike(Protocol):
    """What a download plan reads of a sampling recipe (`ddmd_bench.recipes.recipe.Recipe` has these fields)."""

    name: str
    base: _RepoLike
    student: _StudentLike | None
    variant: str | None


def recipe_needs(recipe: RecipeLike, cache: str | Path | None = None) -> list[RepoFiles]:
    """The hub files a recipe loads: its base pipeline's index and component files (only the config of a denoiser
    the student replaces) and the student's weights. Local folders need nothing."""
    needs: list[RepoFiles] = []
    student = recipe.student
    if recipe.base.local is None:
        replaced = (student.kind,) if student is not None and student.kind in ("unet", "transformer") else ()
        classes = _cached_components(recipe.base, cache) or hub_files.KNOWN_INDEXES.get(recipe.base.repo_id)
        if classes is None:
            needs.append(RepoFiles(recipe.base.repo_id, recipe.base.revision, include=hub_files.UNKNOWN_LAYOUT,
                                   used_for=f"{recipe.name}: base pipeline (component files not known offline)"))
        else:
            files, patterns = hub_files.pipeline_files(classes, recipe.variant, replaced)
            needs.append(RepoFiles(recipe.base.repo_id, recipe.base.revision, files, patterns,
                                   used_for=f"{recipe.name}: base pipeline"))
    if student is not None and student.repo.local is None:
        files = (student.filename,) if student.filename else \
            hub_files.model_folder_files(student.subfolder, recipe.variant)
        needs.append(RepoFiles(student.repo.repo_id, student.repo.revision, files,
                               used_for=f"{recipe.name}: student {student.kind}"))
    return needs


def _cached_components(repo: _RepoLike, cache: str | Path | None) -> dict[str, str] | None:
    """Component classes from the cached model_index.json, if the cache holds it."""
    from huggingface_hub import try_to_load_from_cache  # slow to import; only a plan over hub repositories needs it

    hit = try_to_load_from_cache(repo.repo_id, "model_index.json", cache_dir=str(cache or _hf_cache_dir()),
                                 revision=repo.revision)
    if not isinstance(hit, str):
        return None
    try:
        return hub_files.components(json.loads(Path(hit).read_text()))
    except (OSError, ValueError):
        return None  # an unreadable index is listed as missing by the plan instead


def _merge(needs: Iterable[RepoFiles]) -> tuple[RepoFiles, ...]:
    """One entry per (repository, revision), files and patterns in first-seen order."""
    merged: dict[tuple[str, str | None], RepoFiles] = {}
    for n in needs:
        key = (n.repo_id, n.revision)
        if key in merged:
            old = merged[key]
            uses = (old.used_for, n.used_for) if n.used_for not in old.used_for else (old.used_for,)
            used = "; ".join(u for u in uses if u)
            n = RepoFiles(n.repo_id, n.revision, tuple(dict.fromkeys(old.files + n.files)),
                          tuple(dict.fromkeys(old.include + n.include)), used)
        merged[key] = n
    return tuple(merged.values())


def _as_need(item: RepoFiles | tuple) -> RepoFiles:
    if isinstance(item, RepoFiles):
        return item
    repo_id, revision, files = item
    return RepoFiles(repo_id, revision, tuple(files))


def _snapshot_folder(cache: Path, need: RepoFiles) -> Path | None:
    """The cached snapshot a revision points to (a branch or tag through refs/, or a commit sha), if any."""
    repo = cache / f"models--{need.repo_id.replace('/', '--')}"
    revision = need.revision or "main"
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    folder = repo / "snapshots" / commit
    return folder if folder.is_dir() else None


def _missing(cache: Path, need: RepoFiles) -> tuple[str, ...]:
    from huggingface_hub import try_to_load_from_cache  # slow to import; only a plan over hub repositories needs it

    out = [f for f in need.files
           if not isinstance(try_to_load_from_cache(need.repo_id, f, cache_dir=str(cache), revision=need.revision),
                             str)]
    if need.include:
        folder = _snapshot_folder(cache, need)
        cached = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()] if folder else []
        out += [p for p in need.include if not any(fnmatch.fnmatch(c, p) for c in cached)]
    return tuple(out)


def download_plan(source: RecipeLike | Iterable[RepoFiles | tuple[str, str | None, Iterable[str]]],
                  cache: str | Path | None = None) -> DownloadPlan:
    """Which of the files a recipe (or a list of RepoFiles / (repo, revision, files)) needs are missing from the HF
    cache, checked offline, with one `hf download` command per repository."""
    root = Path(cache or _hf_cache_dir())
    if isinstance(source, RecipeLike):
        raw: Iterable[RepoFiles | tuple] = recipe_needs(source, root)
    else:
        raw = source
    needs = _merge(_as_need(n) for n in raw)
    missing = []
    for need in needs:
        absent = _missing(root, need)
        if absent:
            missing.append(MissingRepo(need, absent, root / f"models--{need.repo_id.replace('/', '--')}"))
    return DownloadPlan(root, needs, tuple(missing))


def weights_needs(names: Iterable[str]) -> list[RepoFiles]:
    """RepoFiles for the hub entries among the named `WEIGHTS` (URL entries are not hub files)."""
    specs = [WEIGHTS.get(name) for name in names]
    return [RepoFiles(s.repo_id, s.revision, (s.filename,), used_for=s.used_for) for s in specs if s.repo_id]


def network_errors() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "the network could not be reached" for the HTTP stacks in use."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, urllib.error.URLError]
    for client in ("httpx2", "httpx"):  # huggingface_hub's HTTP client (httpx2 in current releases, httpx before)
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(client).TransportError)
    with contextlib.suppress(ImportError):
        import requests  # older huggingface_hub releases and other libraries use it

        errors.append(requests.exceptions.ConnectionError)
    return tuple(errors)


@contextlib.contextmanager
def network_errors_named(need: RepoFiles) -> Iterator[None]:
    """Turn a connection failure while fetching `need` into a `NetworkUnavailable` that names the repository and
    how to work offline (huggingface_hub wraps some of them in LocalEntryNotFoundError; those count too)."""
    from huggingface_hub.errors import LocalEntryNotFoundError  # slow to import; only a download reaches here

    try:
        yield
    except (*network_errors(), LocalEntryNotFoundError) as exc:
        cause = exc.__cause__ if isinstance(exc, LocalEntryNotFoundError) and exc.__cause__ else exc
        raise NetworkUnavailable(
            f"{need.repo_id}: the Hugging Face hub could not be reached ({type(cause).__name__}: {cause}). To work "
            f"offline: on a machine with network run `{download_command(need)}`, copy its HF cache here "
            f"({_hf_cache_dir()}), and set HF_HUB_OFFLINE=1 so that nothing tries the network.") from exc
