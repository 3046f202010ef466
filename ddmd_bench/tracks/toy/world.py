"""The toy text-to-image world: procedurally generated 16x16 RGB scenes with noisy, partial captions.

Every sample is a pure function of an integer seed. A scene holds one object (shape, colour, size, position) on a
background whose tone, gradient and stripes are never named in the caption, so images carry more entropy than the
prompt pins down. Training captions behave like web alt-text: attributes are sometimes omitted and sometimes wrong,
which spreads the conditional distribution and gives classifier-free guidance (and so the CA term) real work to do.
Three (shape, colour) pairs are held out: no training image shows them, which measures compositional generalisation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

RESOLUTION = 16
SUPERSAMPLE = 4  # shapes are rasterised at 4x and box-filtered: anti-aliased edges keep shapes distinct at 16 px

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow", "purple", "cyan")
SIZES = ("small", "large")
POSITIONS = ("top left", "top right", "bottom left", "bottom right", "center")
BACKGROUNDS = ("grey", "warm", "cool", "light")  # never named in captions

_COLOUR_RGB = {
    "red": (0.90, 0.15, 0.12),
    "green": (0.15, 0.80, 0.20),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.90, 0.15),
    "purple": (0.70, 0.20, 0.85),
    "cyan": (0.15, 0.85, 0.90),
}
_BACKGROUND_RGB = {
    "grey": (0.30, 0.30, 0.30),
    "warm": (0.40, 0.30, 0.22),
    "cool": (0.20, 0.26, 0.36),
    "light": (0.62, 0.62, 0.60),
}
_POSITION_XY = {  # object centres in pixel units (pixel centres at i + 0.5)
    "top left": (4.5, 4.5),
    "top right": (11.5, 4.5),
    "bottom left": (4.5, 11.5),
    "bottom right": (11.5, 11.5),
    "center": (8.0, 8.0),
}
_SIZE_RADIUS = {"small": (3.0, 3.6), "large": (4.8, 5.6)}

# Held-out (shape, colour) pairs: (shape_index + colour_index) % 6 == 0 -> circle/red, square/cyan, triangle/purple.
HELD_OUT_PAIRS = frozenset(
    (s, c) for s in SHAPES for c in COLOURS if (SHAPES.index(s) + COLOURS.index(c)) % 6 == 0
)

ATTRIBUTES = ("shape", "colour", "size", "position")
ATTRIBUTE_VALUES = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "position": POSITIONS}


@dataclass(frozen=True, slots=True)
class Scene:
    """Ground truth of one sample: the named attributes plus the unnamed nuisance parameters."""

    shape: str
    colour: str
    size: str
    position: str
    background: str
    radius: float
    centre: tuple[float, float]
    colour_rgb: tuple[float, float, float]
    gradient: tuple[float, float]  # (strength, angle)
    stripes: tuple[float, float, float] | None  # (amplitude, period, angle) or None
    noise_seed: int

    def attributes(self) -> dict[str, str]:
        """The four named attributes, as used by prompts and prompt accuracy."""
        return {"shape": self.shape, "colour": self.colour, "size": self.size, "position": self.position}


@dataclass(frozen=True, slots=True)
class CaptionNoise:
    """How training captions deviate from the truth (web alt-text style). Zero noise gives canonical captions."""

    p_omit: float = 0.15  # per attribute (size, colour, position); the shape is omitted with p_omit / 3
    p_wrong: float = 0.0  # per mentioned attribute: replaced by another value


CLEAN = CaptionNoise(p_omit=0.0, p_wrong=0.0)
# World v3 trains on captions with omissions only. World v1 (toy protocols v1-v2) also replaced 10% of the named
# values by wrong ones; that label noise, not the textured backgrounds, held its teacher back (docs/toy-world.md,
# "Why world v3"). Omissions alone still teach a marginal for every unnamed attribute, which is what CFG sharpens.
TRAIN_NOISE = CaptionNoise()

_TEMPLATES = (
    "a {size} {colour} {shape} at the {position}",
    "{size} {colour} {shape} in the {position}",
    "a picture of a {size} {colour} {shape} at the {position}",
)
_SYNONYMS = {"large": ("large", "big"), "small": ("small", "tiny"), "center": ("center", "middle")}


def canonical_prompt(attributes: dict[str, str]) -> str:
    """The evaluation prompt for a full attribute set: 'a small red circle at the top left'."""
    return _TEMPLATES[0].format(**attributes)


def is_held_out(attributes: dict[str, str]) -> bool:
    """Whether the (shape, colour) pair is one that no training image shows."""
    return (attributes["shape"], attributes["colour"]) in HELD_OUT_PAIRS


def all_combinations(held_out: bool | None = None) -> list[dict[str, str]]:
    """Every attribute combination, optionally only the held-in (False) or held-out (True) ones."""
    combos = [
        {"shape": s, "colour": c, "size": z, "position": p}
        for s in SHAPES
        for c in COLOURS
        for z in SIZES
        for p in POSITIONS
    ]
    if held_out is None:
        return combos
    return [a for a in combos if is_held_out(a) == held_out]


def sample_scene(seed: int, attributes: dict[str, str] | None = None, allow_held_out: bool = False) -> Scene:
    """Draw one scene from `seed`; `attributes` fixes the named attributes (the nuisance parameters stay random)."""
    rng = np.random.default_rng([seed, 0x70C])
    attrs = dict(attributes) if attributes else _draw_attributes(rng, allow_held_out)
    lo, hi = _SIZE_RADIUS[attrs["size"]]
    cx, cy = _POSITION_XY[attrs["position"]]
    jitter = rng.uniform(-0.75, 0.75, size=2)
    base = np.array(_COLOUR_RGB[attrs["colour"]])
    stripes = None
    if rng.random() < 0.5:
        stripes = (float(rng.uniform(0.04, 0.09)), float(rng.uniform(3.0, 6.0)), float(rng.uniform(0, math.pi)))
    return Scene(
        shape=attrs["shape"],
        colour=attrs["colour"],
        size=attrs["size"],
        position=attrs["position"],
        background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))],
        radius=float(rng.uniform(lo, hi)),
        centre=(float(cx + jitter[0]), float(cy + jitter[1])),
        colour_rgb=tuple(float(v) for v in np.clip(base + rng.uniform(-0.08, 0.08, size=3), 0, 1)),
        gradient=(float(rng.uniform(0.0, 0.18)), float(rng.uniform(0, 2 * math.pi))),
        stripes=stripes,
        noise_seed=int(rng.integers(2**31)),
    )


def _draw_attributes(rng: np.random.Generator, allow_held_out: bool) -> dict[str, str]:
    while True:
        attrs = {name: values[rng.integers(len(values))] for name, values in ATTRIBUTE_VALUES.items()}
        if allow_held_out or not is_held_out(attrs):
            return attrs


def caption(scene: Scene, seed: int, noise: CaptionNoise = TRAIN_NOISE) -> str:
    """A caption for `scene`; with noise, attributes may be omitted or wrong (never naming a held-out pair)."""
    rng = np.random.default_rng([seed, 0xCA7])
    words = scene.attributes()
    for name in ("size", "colour", "position", "shape"):
        p_omit = noise.p_omit / 3 if name == "shape" else noise.p_omit
        if rng.random() < p_omit:
            words[name] = ""
        elif rng.random() < noise.p_wrong:
            words[name] = _wrong_value(rng, name, words)
    template = _TEMPLATES[rng.integers(len(_TEMPLATES))] if noise != CLEAN else _TEMPLATES[0]
    return _render_caption(template, words, rng if noise != CLEAN else None)


def _wrong_value(rng: np.random.Generator, name: str, words: dict[str, str]) -> str:
    choices = [v for v in ATTRIBUTE_VALUES[name] if v != words[name]]
    while True:
        value = choices[rng.integers(len(choices))]
        trial = {**words, name: value}
        if trial["shape"] and trial["colour"] and (trial["shape"], trial["colour"]) in HELD_OUT_PAIRS:
            continue
        return value


def _render_caption(template: str, words: dict[str, str], rng: np.random.Generator | None) -> str:
    if rng is not None:
        words = {k: _SYNONYMS.get(v, (v,))[rng.integers(len(_SYNONYMS.get(v, (v,))))] for k, v in words.items()}
    if not words["shape"]:
        words["shape"] = "object"
    if not words["position"]:
        template = template.replace(" at the {position}", "").replace(" in the {position}", "")
    text = template.format(**words)
    return " ".join(text.split())


def render(scenes: list[Scene]) -> torch.Tensor:
    """Rasterise scenes to a uint8 tensor [N, 3, 16, 16] (vectorised over the batch)."""
    n, r, s = len(scenes), RESOLUTION, SUPERSAMPLE
    fine = (np.arange(r * s) + 0.5) / s  # supersample coordinates in pixel units
    fy, fx = np.meshgrid(fine, fine, indexing="ij")
    coverage = np.stack([_shape_mask(sc, fx, fy) for sc in scenes]).astype(np.float64)
    coverage = coverage.reshape(n, r, s, r, s).mean(axis=(2, 4))[:, None]  # box filter to [N,1,16,16]
    background = np.stack([_background(sc) for sc in scenes])
    colour = np.array([sc.colour_rgb for sc in scenes])[:, :, None, None]
    image = background * (1 - coverage) + colour * coverage
    return torch.from_numpy(np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8))


def _shape_mask(scene: Scene, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    dx, dy = fx - scene.centre[0], fy - scene.centre[1]
    r = scene.radius
    if scene.shape == "circle":
        return dx**2 + dy**2 <= r**2
    if scene.shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * r
    # Upward equilateral triangle with circumradius 1.15 r: inside all three edge half-planes.
    R = 1.15 * r
    inside = dy <= R / 2
    for angle in (math.radians(30), math.radians(150)):
        nx, ny = math.cos(angle), -math.sin(angle)  # outward normals of the two slanted edges
        inside &= dx * nx + dy * ny <= R / 2
    return inside


def _background(scene: Scene) -> np.ndarray:
    r = RESOLUTION
    y, x = np.meshgrid((np.arange(r) + 0.5) / r - 0.5, (np.arange(r) + 0.5) / r - 0.5, indexing="ij")
    strength, angle = scene.gradient
    field = strength * (x * math.cos(angle) + y * math.sin(angle))
    if scene.stripes is not None:
        amp, period, s_angle = scene.stripes
        field = field + amp * np.sin(2 * math.pi * (x * math.cos(s_angle) + y * math.sin(s_angle)) * r / period)
    noise = np.random.default_rng(scene.noise_seed).normal(0.0, 0.02, size=(3, r, r))
    return np.array(_BACKGROUND_RGB[scene.background])[:, None, None] + field[None] + noise


@dataclass(frozen=True, slots=True)
class Batch:
    """Images with their ground truth and captions."""

    images: torch.Tensor  # uint8 [N, 3, H, W]
    captions: list[str]
    scenes: list[Scene]

    def labels(self) -> dict[str, torch.Tensor]:
        """Integer labels per attribute (plus the unnamed background tone and stripes) for classifier training."""
        out = {name: torch.tensor([values.index(getattr(s, name)) for s in self.scenes])
               for name, values in ATTRIBUTE_VALUES.items()}
        out["background"] = torch.tensor([BACKGROUNDS.index(s.background) for s in self.scenes])
        out["stripes"] = torch.tensor([int(s.stripes is not None) for s in self.scenes])
        return out


def make_batch(seeds: list[int], noise: CaptionNoise = TRAIN_NOISE, allow_held_out: bool = False) -> Batch:
    """Scenes, images and captions for `seeds` (the training distribution by default)."""
    scenes = [sample_scene(s, allow_held_out=allow_held_out) for s in seeds]
    return Batch(render(scenes), [caption(sc, s, noise) for sc, s in zip(scenes, seeds)], scenes)


def render_for(attributes: list[dict[str, str]], seeds: list[int]) -> Batch:
    """Real images for given attribute sets (used for FID reference sets matched to a prompt list)."""
    scenes = [sample_scene(s, a) for a, s in zip(attributes, seeds)]
    return Batch(render(scenes), [canonical_prompt(a) for a in attributes], scenes)


def replace(scene: Scene, **changes: object) -> Scene:
    """A copy of `scene` with some fields changed (for tests and synthetic preferences)."""
    return dataclasses.replace(scene, **changes)


def parse_prompt(prompt: str) -> dict[str, str]:
    """Attributes of a canonical prompt ('a small red circle at the top left'); anything else is an error."""
    words = prompt.split(" at the ", 1)
    head = words[0].split()
    if len(words) != 2 or len(head) != 4 or head[0] != "a":
        raise ValueError(f"not a canonical toy prompt: {prompt!r} (expected 'a <size> <colour> <shape> at the "
                         f"<position>')")
    attrs = {"size": head[1], "colour": head[2], "shape": head[3], "position": words[1]}
    for name, value in attrs.items():
        if value not in ATTRIBUTE_VALUES[name]:
            raise ValueError(f"unknown {name} {value!r} in toy prompt {prompt!r}; choices: {ATTRIBUTE_VALUES[name]}")
    return attrs
