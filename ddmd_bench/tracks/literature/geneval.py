"""GenEval's output layout, so that GenEval's own scorer runs on images generated here.

GenEval's generation scripts write one folder per prompt, numbered by the prompt's line in evaluation_metadata.jsonl
(five digits), holding `metadata.jsonl` (that line's JSON object, the one object of the file) and `samples/` with the
images as five-digit PNGs:

    OUT/00000/metadata.jsonl
    OUT/00000/samples/00000.png ... 00003.png
    OUT/00001/...

Its scorer reads exactly this, then detects objects with its Mask2Former detector (mmdet); ddmd-bench does not run
that detector, so a GenEval score is computed with GenEval's own code on this folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SAMPLE_NAME = "{:05d}.png"
PROMPT_FOLDER = "{:05d}"


def _image(image: Any) -> Image.Image:
    """A PIL image from a PIL image, a uint8 HxWx3 array, or a uint8 3xHxW tensor or array."""
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image.cpu() if hasattr(image, "cpu") else image)
    if array.dtype != np.uint8:
        raise TypeError(f"GenEval samples must be uint8 images, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
        array = array.transpose(1, 2, 0)  # channels first (the runner's images) -> channels last
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"GenEval samples must be RGB images, got shape {array.shape}")
    return Image.fromarray(array)


def write_geneval_layout(out_dir: str | Path, metadata_rows: Sequence[Mapping[str, Any]],
                         images_per_prompt: Iterable[Sequence[Any]]) -> list[Path]:
    """Write GenEval's layout: for prompt i, `metadata_rows[i]` (its metadata line, with "prompt") and the images
    `images_per_prompt[i]`. Returns the prompt folders, in order."""
    out = Path(out_dir)
    folders = []
    images = list(images_per_prompt)
    if len(images) != len(metadata_rows):
        raise ValueError(f"{len(metadata_rows)} metadata rows but images for {len(images)} prompts")
    for index, (row, samples) in enumerate(zip(metadata_rows, images)):
        if not isinstance(row.get("prompt"), str):
            raise ValueError(f"metadata row {index} has no string 'prompt' (GenEval's scorer reads it)")
        folder = _prompt_folder(out, index, row)
        for j, image in enumerate(samples):
            _image(image).save(folder / "samples" / SAMPLE_NAME.format(j))
        folders.append(folder)
    return folders


def _prompt_folder(out: Path, index: int, row: Mapping[str, Any]) -> Path:
    folder = out / PROMPT_FOLDER.format(index)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    (folder / "metadata.jsonl").write_text(json.dumps(dict(row)), encoding="utf-8")
    return folder


def layout_from_images(image_dir: str | Path, out_dir: str | Path, metadata_rows: Sequence[Mapping[str, Any]],
                       samples_per_prompt: int) -> list[Path]:
    """GenEval's layout from a run's saved images (`{entry:06d}.png`, entry = prompt * samples + sample), copied
    byte for byte. Every expected image must be there."""
    image_dir = Path(image_dir)
    n = len(metadata_rows) * samples_per_prompt
    missing = [i for i in range(n) if not (image_dir / f"{i:06d}.png").is_file()]
    if missing:
        raise FileNotFoundError(f"{image_dir}: {len(missing)} of {n} images are missing (first: {missing[0]:06d}.png);"
                                f" generate them all before writing GenEval's layout")
    folders = []
    for index, row in enumerate(metadata_rows):
        folder = _prompt_folder(Path(out_dir), index, row)
        for j in range(samples_per_prompt):
            shutil.copyfile(image_dir / f"{index * samples_per_prompt + j:06d}.png",
                            folder / "samples" / SAMPLE_NAME.format(j))
        folders.append(folder)
    return folders
