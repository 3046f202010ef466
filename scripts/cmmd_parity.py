"""CMMD parity: `ddmd_bench.metrics.kernel_functional.cmmd` and the `CMMD` metric object against a float64 numpy
transcription of the published estimator ("Rethinking FID", google-research `cmmd/distance.py`), with negative
controls the check must catch.

  python scripts/cmmd_parity.py [OUT]     (default OUT: docs/cmmd-parity.json)

The transcription is written independently of the library: squared distances from scipy's `cdist`, the Gaussian
kernel exp(-|a - b|^2 / (2 sigma^2)) with sigma = 10, the biased estimator (means over all pairs, diagonals
included), x 1000, on L2-normalised embeddings. The embeddings are CLIP-sized (768-d) synthetic sets in the range of
CMMD values papers report, plus the toy CLIP's embeddings of toy renders through the metric object. Each negative
control (another sigma, the unbiased estimator, no normalisation) must differ from the library by more than the
tolerance, or the check could not tell the definitions apart.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import torch
from scipy.spatial.distance import cdist

from ddmd_bench.metrics import kernel_functional as kernel_fn

TOLERANCE = 1e-9  # relative; float64 on both sides, different summation orders
SIGMA, SCALE = 10.0, 1000.0


def transcription(x: np.ndarray, y: np.ndarray, sigma: float = SIGMA, unbiased: bool = False,
                  normalise: bool = True) -> float:
    """The published estimator in plain numpy/scipy float64 (the switches make the negative controls)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if normalise:
        x, y = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)

    def k(a, b):
        return np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma ** 2))

    def within(a):
        m = k(a, a)
        return (m.sum() - np.trace(m)) / (len(a) * (len(a) - 1)) if unbiased else m.mean()

    return SCALE * (within(x) + within(y) - 2 * k(x, y).mean())


def synthetic_sets(seed: int, shift: float, n: int = 1000, m: int = 800, d: int = 768):
    """Two embedding clouds on a shared direction (CLIP embeddings share a large common component), `shift` apart."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=d) * 3
    x = common + rng.normal(size=(n, d))
    y = common + rng.normal(size=(m, d)) + shift * rng.normal(size=d) / np.sqrt(d) * 10
    return x, y


def toy_sets():
    """The toy CLIP's embeddings of toy renders (generated) and of other renders (reference), through `CMMD`."""
    from ddmd_bench.metrics.cmmd import CMMD, ClipEmbedder
    from ddmd_bench.metrics.feature_sets import reference_features
    from ddmd_bench.tracks.toy import world
    from ddmd_bench.tracks.toy.loaders import load_clip

    model, preprocess, _, meta = load_clip()
    embedder = ClipEmbedder(model, preprocess, "open_clip:ddmd-toy-clip", meta["sha256"],
                            "open_clip transform of the toy CLIP", dim=int(model.visual.output_dim))
    attrs = world.all_combinations(held_out=False)
    rng = np.random.default_rng(0)

    def renders(n, base):
        picked = [attrs[i] for i in rng.integers(0, len(attrs), n)]
        return world.render_for(picked, [base + i for i in range(n)]).images

    reference = reference_features(embedder, [renders(256, 10_000)], "toy renders")
    metric = CMMD(embedder, reference)
    generated = renders(128, 20_000)
    for chunk in torch.split(generated, 32):
        metric.update(chunk, [""] * len(chunk))
    return metric.compute().value, embedder(generated).double().numpy(), reference.features


def main(out: Path) -> int:
    cases, controls = [], {"sigma = 1": [], "unbiased estimator (diagonals dropped)": [],
                           "embeddings not L2-normalised": []}
    for seed, shift in ((0, 0.0), (1, 0.5), (2, 2.0)):
        x, y = synthetic_sets(seed, shift)
        ours, want = kernel_fn.cmmd(x, y), transcription(x, y)
        cases.append({"set": f"synthetic 768-d, n=1000 vs 800, shift {shift}", "ours": ours, "transcription": want,
                      "relative_difference": abs(ours - want) / abs(want)})
        for name, wrong in zip(controls, (transcription(x, y, sigma=1.0), transcription(x, y, unbiased=True),
                                          transcription(x, y, normalise=False))):
            controls[name].append(abs(ours - wrong) / abs(want))
    value, gen, ref = toy_sets()
    want = transcription(gen, ref)
    cases.append({"set": "toy CLIP embeddings through the CMMD metric object, 128 vs 256 renders", "ours": value,
                  "transcription": want, "relative_difference": abs(value - want) / abs(want)})
    worst = max(c["relative_difference"] for c in cases)
    control_min = {name: min(v) for name, v in controls.items()}
    result = {
        "definition": "1000 x biased MMD^2, Gaussian kernel sigma = 10, L2-normalised embeddings",
        "tolerance_relative": TOLERANCE, "max_relative_difference": worst, "cases": cases,
        "negative_controls_min_relative_difference": control_min,
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                        "torch": torch.__version__, "machine": platform.machine()},
        "passed": worst <= TOLERANCE and all(v > TOLERANCE for v in control_min.values()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"max_relative_difference": worst, "negative_controls": control_min,
                      "passed": result["passed"]}, indent=1))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/cmmd-parity.json")))
