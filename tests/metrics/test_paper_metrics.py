"""HPSv2.1 / HPSv2, PickScore and FD-DINOv2: each loaded through its real loading code from tiny random backbones in
a local HF cache, checked against an independent float64 computation of its published formula (with negative
controls), and reduced over two gloo processes to the single-process values."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from ddmd_bench import resolver
from ddmd_bench.metrics import catalog
from ddmd_bench.metrics.fd_dinov2 import (FDDinoV2, DinoV2Features, build_dinov2, resample_positions,
                                          resize_normalise)
from ddmd_bench.metrics.fid import reference_stats
from ddmd_bench.metrics.hps import build_hps
from ddmd_bench.metrics.pickscore import build_pickscore
from tests.factories import merge_states, metric_values, random_images
from tests.gloo import on_two_processes
from tests.metrics import tiny_backbones

PROMPTS = ["a red cube", "two dogs", "a cat on a mat", "blue sky", "x", "an owl at night"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tiny_backbones.hub(tmp_path_factory.mktemp("hub"))
    before = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(root)
    yield root
    if before is None:
        os.environ.pop("HF_HUB_CACHE")
    else:
        os.environ["HF_HUB_CACHE"] = before


def _pil(images: torch.Tensor) -> list[Image.Image]:
    return [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images]


def _unit(x: torch.Tensor) -> np.ndarray:
    x = x.detach().double().numpy()
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -------------------------------------------------------------------------------------------------------- HPS

def test_hps_is_100_cos_of_the_checkpoint_loaded_into_open_clip(hub):
    import open_clip

    metric = build_hps("v2.1", model_name=tiny_backbones.hps_model()[3], allow_download=False)
    images = random_images(len(PROMPTS), 20, seed=2)
    metric.update(images[:4], PROMPTS[:4])
    metric.update(images[4:], PROMPTS[4:])
    got = metric.compute()
    # independent: a fresh open_clip model with the checkpoint's tensors, hpsv2's transform written out (20 px
    # squares: the longest side bicubic (antialiased) to 16, no padding needed), open_clip's tokenizer
    name = tiny_backbones.hps_model()[3]
    model, _, _ = open_clip.create_model_and_transforms(name, pretrained=None)
    path = resolver.resolve(resolver.WEIGHTS.get("hps-v2.1"), allow_download=False)
    model.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    pixels = torch.nn.functional.interpolate(images.float() / 255, size=(16, 16), mode="bicubic", antialias=True)
    with torch.no_grad():
        img = model.eval().encode_image((pixels - mean) / std)
        txt = model.encode_text(open_clip.get_tokenizer(name)(PROMPTS))
    want = 100 * (_unit(img) * _unit(txt)).sum(1)
    np.testing.assert_allclose(got.per_sample, want, rtol=1e-5, atol=1e-5)
    assert got.value == pytest.approx(want.mean(), rel=1e-6) and got.ci_low <= got.value <= got.ci_high
    assert np.abs(want).max() > 1  # random weights still give non-trivial cosines: the check compares numbers
    # negative control: the raw cosine (no x100), and the v2.0 checkpoint, are other numbers
    assert not np.allclose(got.per_sample, want / 100, atol=1e-3)
    spec = metric.spec()
    assert metric.name == "hpsv21" and spec["hps_version"] == "v2.1" and spec["scale"] == 100.0
    assert spec["weights_sha256"] == resolver.sha256_file(path)
    assert catalog.direction("hpsv21") is True and catalog.direction("hpsv2") is True


def test_hps_checks_its_version_and_checkpoint_and_names_the_download(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown HPS version"):
        build_hps("v3")
    bad = tmp_path / "HPS_v2.1_compressed.pt"
    torch.save({"model": {}}, bad)
    with pytest.raises(ValueError, match="not an HPS checkpoint"):
        build_hps("v2.1", weights=bad, model_name=tiny_backbones.hps_model()[3])
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(resolver.WeightsNotFound, match="hf download xswu/HPSv2 HPS_v2.1_compressed.pt"):
        build_hps("v2.1", allow_download=False)


def test_hps_pads_a_non_square_image_to_a_centred_square():
    from ddmd_bench.metrics.hps import resize_longest_pad

    wide = Image.fromarray(np.full((10, 40, 3), 255, np.uint8))  # white, 4:1
    out = resize_longest_pad(wide, 16)  # -> 4 x 16 of white, 6 rows of black above and below
    white = (1 - torch.tensor([0.48145466, 0.4578275, 0.40821073])) / torch.tensor([0.26862954, 0.26130258,
                                                                                     0.27577711])
    black = -torch.tensor([0.48145466, 0.4578275, 0.40821073]) / torch.tensor([0.26862954, 0.26130258, 0.27577711])
    assert out.shape == (3, 16, 16)
    torch.testing.assert_close(out[:, 6:10].mean((1, 2)), white, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[:, :6].amax((1, 2)), black, atol=1e-6, rtol=0)
    torch.testing.assert_close(out[:, 10:].amin((1, 2)), black, atol=1e-6, rtol=0)
    assert resize_longest_pad(Image.fromarray(np.zeros((16, 8, 3), np.uint8)), 16).shape == (3, 16, 8)  # as hpsv2


# -------------------------------------------------------------------------------------------------- PickScore

def test_pickscore_is_logit_scale_times_cos_of_the_clip_model(hub):
    from transformers import CLIPModel, CLIPProcessor

    metric = build_pickscore(allow_download=False)
    images = random_images(len(PROMPTS), 24, seed=3)
    for a, b in ((0, 1), (1, 6)):
        metric.update(images[a:b], PROMPTS[a:b])
    got = metric.compute()
    # independent: the authors' snippet, on the same folders, one prompt at a time (no padding)
    model_dir = resolver.resolve(resolver.WEIGHTS.get("pickscore-v1"), allow_download=False).parent
    proc_dir = resolver.resolve(resolver.WEIGHTS.get("pickscore-processor-preprocessor-config"),
                                allow_download=False).parent
    model, processor = CLIPModel.from_pretrained(str(model_dir)).eval(), CLIPProcessor.from_pretrained(str(proc_dir))
    want = []
    with torch.no_grad():
        for image, prompt in zip(_pil(images), PROMPTS):
            img = model.get_image_features(**processor(images=image, return_tensors="pt")).pooler_output
            txt = model.get_text_features(**processor(text=prompt, truncation=True, max_length=77,
                                                      return_tensors="pt")).pooler_output
            want.append(float(model.logit_scale.detach().exp()) * float((_unit(img) * _unit(txt)).sum()))
    np.testing.assert_allclose(got.per_sample, want, rtol=1e-5, atol=1e-4)
    assert np.ptp(want) > 1  # distinct scores: the comparison is not between constants
    assert not np.allclose(got.per_sample, np.array(want) / float(model.logit_scale.detach().exp()), atol=1e-2)
    spec = metric.spec()
    assert spec["max_length"] == 77 and spec["formula"] == catalog.PICKSCORE_FORMULA
    assert spec["logit_scale"] == pytest.approx(100.0, rel=1e-3)


def test_pickscore_refuses_a_prompt_count_mismatch(hub):
    metric = build_pickscore(allow_download=False)
    with pytest.raises(ValueError, match="2 images but 1 prompts"):
        metric.update(random_images(2, 16), ["one"])


# ------------------------------------------------------------------------------------------------- FD-DINOv2

def test_the_resize_is_dgm_evals_bicubic_to_224_without_crop():
    from torchvision import transforms

    image = _pil(random_images(1, 40, seed=4))[0].crop((0, 0, 40, 30))  # not square: no crop may happen
    dgm_eval = transforms.Compose([transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC),
                                   transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406),
                                                                               (0.229, 0.224, 0.225))])
    ours = resize_normalise(image)
    torch.testing.assert_close(ours, dgm_eval(image), rtol=0, atol=1e-5)
    cropped = transforms.Compose([transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
                                  transforms.CenterCrop(224), transforms.ToTensor(),
                                  transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    assert (ours - cropped(image)).abs().max() > 0.1  # a short-side resize + crop is caught


def test_positions_are_resampled_with_dinovs_offset_and_differ_from_an_exact_resize():
    positions = torch.randn(1, 1 + 37 * 37, 8, generator=torch.Generator().manual_seed(0))
    got = resample_positions(positions, 16)
    assert got.shape == (1, 1 + 16 * 16, 8) and torch.equal(got[:, 0], positions[:, 0])
    grid = positions[:, 1:].reshape(1, 37, 37, 8).permute(0, 3, 1, 2)
    offset = torch.nn.functional.interpolate(grid, scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic")
    torch.testing.assert_close(got[:, 1:], offset.permute(0, 2, 3, 1).reshape(1, 256, 8))
    exact = torch.nn.functional.interpolate(grid, size=(16, 16), mode="bicubic")
    assert (got[:, 1:] - exact.permute(0, 2, 3, 1).reshape(1, 256, 8)).abs().max() > 1e-3


def _frechet_float64(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)), scipy's sqrtm, unbiased covariances."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sa @ sb).real
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb - 2 * root))


def test_fd_dinov2_is_the_frechet_distance_of_cls_features(hub):
    from transformers import Dinov2Model

    extractor = build_dinov2(allow_download=False)
    real, fake = random_images(40, 24, seed=5), (random_images(30, 32, seed=6) // 2)
    metric = FDDinoV2(extractor, reference_stats(extractor, [real[:17], real[17:]], "noise"))
    metric.update(fake[:11], [""] * 11)
    metric.update(fake[11:], [""] * 19)
    got = metric.compute()
    # independent features: a fresh Dinov2Model, the grid resampled as DINOv2's code does, CLS after the norm
    folder = resolver.resolve(resolver.WEIGHTS.get("dinov2-vit-l14"), allow_download=False).parent
    model = Dinov2Model.from_pretrained(str(folder)).eval()
    model.embeddings.position_embeddings.data = resample_positions(model.embeddings.position_embeddings.data, 16)

    def cls(images):
        with torch.no_grad():
            pixels = torch.stack([resize_normalise(p) for p in _pil(images)])
            return model(pixel_values=pixels).last_hidden_state[:, 0].double().numpy()

    want = _frechet_float64(cls(fake), cls(real))
    assert got.value == pytest.approx(want, rel=1e-5, abs=1e-9) and got.n == 30 and want > 0
    assert metric.higher_is_better is False and metric.name == "fd_dinov2"
    assert metric.spec()["implementation"] == catalog.FD_DINOV2.implementation
    assert extractor.dim == 16 and "no crop" in metric.spec()["preprocessing"]


def test_the_extractor_installs_the_16x16_grid_once():
    model = tiny_backbones.dinov2_model()
    extractor = DinoV2Features(model, "tiny", "0" * 64)
    assert model.embeddings.position_embeddings.shape == (1, 1 + 16 * 16, 16)
    assert extractor(random_images(2, 20)).shape == (2, 16)


# ------------------------------------------------------------------------------------------------ world size

N = 10
SHARDS = [(0, 3), (3, 7), (7, 10)]


def _metrics(root: str) -> dict:
    os.environ["HF_HUB_CACHE"] = root
    extractor = build_dinov2(allow_download=False)
    return {"hpsv21": build_hps("v2.1", model_name=tiny_backbones.hps_model()[3], allow_download=False),
            "pickscore": build_pickscore(allow_download=False),
            "fd_dinov2": FDDinoV2(extractor, reference_stats(extractor, [random_images(12, 20, seed=8)], "r"),
                                  bootstrap=10)}


def _states(metrics: dict) -> list[tuple[int, dict]]:
    images = random_images(N, 20, seed=9)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(N)]
    out = []
    for a, b in SHARDS:
        for m in metrics.values():
            m.reset()
            m.update(images[a:b], prompts[a:b])
        out.append((a, {k: m.state() for k, m in metrics.items()}))
    for m in metrics.values():
        m.reset()
    return out


def _worker(rank: int, world: int, root: str) -> dict:
    metrics = _metrics(root)
    return metric_values(merge_states(metrics, _states(metrics), ((0, 2), (1,))[rank]))  # a collective: both call it


def test_two_gloo_processes_reduce_to_the_single_process_values(hub, tmp_path):
    metrics = _metrics(str(hub))
    images = random_images(N, 20, seed=9)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(N)]
    for m in metrics.values():
        m.update(images, prompts)
    want = metric_values(metrics)
    for got in on_two_processes(_worker, tmp_path, str(hub)):
        for k in want:
            assert got[k][4] == want[k][4] == N, k
            np.testing.assert_allclose(np.array(got[k][:3], float), np.array(want[k][:3], float), rtol=1e-5,
                                       atol=1e-6, err_msg=k)
            if want[k][3] is not None:
                np.testing.assert_allclose(got[k][3], want[k][3], rtol=1e-5, atol=1e-5, err_msg=k)


# ------------------------------------------------------------------------------------------ committed parity results

@pytest.mark.parametrize("name, controls", [("hps-parity", "negative_controls_max_abs_difference"),
                                            ("pickscore-parity", "negative_controls_max_abs_difference"),
                                            ("fd-dinov2-parity", "negative_controls_relative_difference")])
def test_the_committed_parity_results_passed_with_controls_beyond_their_tolerance(name, controls):
    import json
    from pathlib import Path

    result = json.loads((Path(__file__).resolve().parents[2] / "docs" / f"{name}.json").read_text())
    tolerance = result.get("tolerance_abs", result.get("tolerance_relative"))
    worst = result.get("max_abs_difference", result.get("max_relative_difference"))
    assert result["passed"] is True and worst <= tolerance
    assert len(result[controls]) >= 3 and min(result[controls].values()) > tolerance
    assert all(c.get("ours", 1) != 0 for c in result.get("cases", []))  # scores, not zeros, were compared
