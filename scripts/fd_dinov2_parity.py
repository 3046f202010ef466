"""FD-DINOv2 parity: the features of `ddmd_bench.metrics.fd_dinov2` (transformers `Dinov2Model`) against the
reference DINOv2 code, on one randomly initialised DINOv2 ViT-L/14, with negative controls the check must catch.

  bash scripts/fd_dinov2_parity.sh            (installs the references, then runs this file)
  PYTHONPATH=<references> python scripts/fd_dinov2_parity.py [OUT]   (default OUT: docs/fd-dinov2-parity.json)

References, called as they are:
- the network: the `dinov2` package (PyPI 0.0.1.dev2, facebookresearch's code), built as torch.hub's
  `dinov2_vitl14` builds it (vit_large, patch 14, 518 px, layer scale 1.0, no block chunks);
- torch-fidelity 0.4.0's `FeatureExtractorDinoV2` (uint8 in, ImageNet normalisation, the network's CLS output). It
  fetches the network with `torch.hub.load("facebookresearch/dinov2", ...)`, which needs GitHub; the hub call is
  answered with the network above, randomly initialised instead of downloaded;
- dgm-eval's resize convention (dgm-eval is not on PyPI): torchvision `Resize((224, 224), BICUBIC)` on the PIL image,
  `ToTensor`, ImageNet `Normalize`, then the same network.

The reference network's weights are converted to transformers' layout (qkv split into q, k, v; names mapped) and
loaded through `fd_dinov2.load_dinov2`, the metric's own loading code.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

TOLERANCE = 1e-4  # max |difference| / max |reference feature|; float32, different attention kernels, 24 layers
SIZES_224 = [(224, 224)] * 4
SIZES_OTHER = [(512, 512), (300, 200), (1024, 768), (97, 131)]
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def reference_network():
    """DINOv2 ViT-L/14 from the reference code, as torch.hub's dinov2_vitl14 builds it, random weights."""
    from dinov2.models.vision_transformer import vit_large

    torch.manual_seed(0)
    return vit_large(patch_size=14, img_size=518, init_values=1.0, block_chunks=0).eval()


def to_transformers(state: dict[str, torch.Tensor], depth: int) -> dict[str, torch.Tensor]:
    """The reference state dict in `Dinov2Model`'s names (every tensor used once)."""
    out = {"embeddings.cls_token": state["cls_token"], "embeddings.mask_token": state["mask_token"],
           "embeddings.position_embeddings": state["pos_embed"],
           "embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
           "embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
           "layernorm.weight": state["norm.weight"], "layernorm.bias": state["norm.bias"]}
    for i in range(depth):
        a, b = f"blocks.{i}.", f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            q, k, v = state[a + f"attn.qkv.{kind}"].chunk(3)
            out.update({b + f"attention.q_proj.{kind}": q, b + f"attention.k_proj.{kind}": k,
                        b + f"attention.v_proj.{kind}": v,
                        b + f"attention.o_proj.{kind}": state[a + f"attn.proj.{kind}"]})
            for name in ("norm1", "norm2", "mlp.fc1", "mlp.fc2"):
                out[b + f"{name}.{kind}"] = state[a + f"{name}.{kind}"]
        out[b + "layer_scale1.lambda1"] = state[a + "ls1.gamma"]
        out[b + "layer_scale2.lambda1"] = state[a + "ls2.gamma"]
    used = 7 + depth * 14  # 7 outside the blocks; per block norm1, qkv, proj, norm2, fc1, fc2 (w, b) and 2 scales
    if used != len(state):
        raise ValueError(f"the reference network has {len(state)} tensors, the conversion maps {used}")
    return out


def ours(network, folder: Path):
    """The metric's extractor, loaded from a transformers folder holding the reference network's weights."""
    from transformers import Dinov2Config, Dinov2Model

    from ddmd_bench.metrics.fd_dinov2 import load_dinov2

    config = Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4,
                          patch_size=14, image_size=518, layerscale_value=1.0, layer_norm_eps=1e-6, qkv_bias=True)
    model = Dinov2Model(config)
    model.load_state_dict(to_transformers(network.state_dict(), 24), strict=True)
    model.save_pretrained(str(folder))
    return load_dinov2(folder, weights_sha256="random")


def torch_fidelity_features(network, images: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's FeatureExtractorDinoV2 on uint8 images (its hub fetch answered with `network`)."""
    import torch_fidelity.feature_extractor_dinov2 as tfd

    original = torch.hub.load
    torch.hub.load = lambda repo, name, *a, **k: network  # GitHub is out of reach; the same construction
    try:
        extractor = tfd.FeatureExtractorDinoV2("dinov2-vit-l-14", ["dinov2"])
    finally:
        torch.hub.load = original
    with torch.no_grad():
        return extractor(images)[0].double()


def dgm_eval_features(network, pics: list[torch.Tensor], mean_std=IMAGENET, crop: bool = False) -> torch.Tensor:
    """dgm-eval's DINOv2 transform (the switches make negative controls), then the reference network."""
    from torchvision import transforms

    resize = [transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(224)] \
        if crop else [transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC)]
    tf = transforms.Compose([*resize, transforms.ToTensor(), transforms.Normalize(*mean_std)])
    with torch.no_grad():
        x = torch.stack([tf(Image.fromarray(p.permute(1, 2, 0).numpy())) for p in pics])
        return network(x).double()


def exact_resize_positions(extractor, folder: Path, pics: list[torch.Tensor]) -> torch.Tensor:
    """Control: transformers' own position interpolation (to the target size, no 0.1 offset)."""
    from transformers import Dinov2Model

    from ddmd_bench.metrics.fd_dinov2 import resize_normalise

    model = Dinov2Model.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        x = torch.stack([resize_normalise(Image.fromarray(p.permute(1, 2, 0).numpy())) for p in pics])
        return model(pixel_values=x).last_hidden_state[:, 0].double()


def extract(extractor, pics: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([extractor(p[None]) for p in pics]).double()  # uint8 batches share a size: one at a time


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def main(out: Path) -> int:
    import torch_fidelity
    import transformers

    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(1)
    square = torch.randint(0, 256, (len(SIZES_224), 3, 224, 224), dtype=torch.uint8, generator=g)
    other = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for h, w in SIZES_OTHER]
    network = reference_network()
    with tempfile.TemporaryDirectory() as tmp:
        extractor = ours(network, Path(tmp) / "dinov2")
        got_224, got_other = extract(extractor, list(square)), extract(extractor, other)
        checks = {
            "torch-fidelity FeatureExtractorDinoV2, 224 px inputs": relative(
                got_224, torch_fidelity_features(network, square)),
            "dgm-eval transform + reference network, 224 px inputs": relative(
                got_224, dgm_eval_features(network, list(square))),
            "dgm-eval transform + reference network, other sizes": relative(
                got_other, dgm_eval_features(network, other)),
        }
        controls = {
            "CLIP mean/std instead of ImageNet": relative(got_other, dgm_eval_features(network, other, CLIP)),
            "short-side resize + centre crop": relative(got_other, dgm_eval_features(network, other, crop=True)),
            "torch-fidelity's own resize (TF1 bilinear) at other sizes": min(
                relative(got_other[i:i + 1], torch_fidelity_features(network, p[None])) for i, p in enumerate(other)),
            "position grid resized exactly (no 0.1 offset)": relative(
                got_other, exact_resize_positions(extractor, Path(tmp) / "dinov2", other)),
        }
    worst = max(checks.values())
    result = {
        "definition": "DINOv2 ViT-L/14 CLS features (after the final norm), PIL bicubic resize to 224x224 without "
                      "crop, ImageNet mean/std",
        "network": "random DINOv2 ViT-L/14 (reference code, dinov2_vitl14 construction), converted to transformers",
        "tolerance_relative": TOLERANCE, "max_relative_difference": worst, "checks": checks,
        "negative_controls_relative_difference": controls,
        "note": "torch-fidelity resizes non-224 inputs with TF1-style bilinear interpolation, dgm-eval with PIL "
                "bicubic: the two references agree only on 224 px inputs; this metric follows dgm-eval.",
        "passed": bool(worst <= TOLERANCE and min(controls.values()) > TOLERANCE),
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "transformers": transformers.__version__, "torch_fidelity": torch_fidelity.__version__,
                        "dinov2": "0.0.1.dev2 (PyPI)", "machine": platform.machine()},
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print("FD-DINOv2 parity: " + "; ".join(f"{k}: {v:.2e}" for k, v in checks.items()) + f" (tolerance {TOLERANCE}); "
          "controls " + ", ".join(f"{k}: {v:.3g}" for k, v in controls.items()) +
          f" -> {'passed' if result['passed'] else 'FAILED'}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" /
                  "fd-dinov2-parity.json"))
