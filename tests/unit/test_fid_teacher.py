"""FID-T and patch FID-T (`metrics.fid_teacher`): the protocol's FID against statistics of the teacher's images for
the same prompts and seeds, with the teacher's identity carried by the reference file and recorded in the spec."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ddmd_bench.metrics import catalog, reference
from ddmd_bench.metrics.fid import reference_stats
from ddmd_bench.metrics.fid_teacher import TeacherFID, load_teacher_reference
from ddmd_bench.metrics.teacher_outputs import TeacherOutputs
from tests.gloo import on_two_processes

N, DIM = 40, 5
TEACHER = TeacherOutputs(teacher="tiny-teacher", weights_sha256="ab" * 32,
                         recipe={"scheduler": "euler", "steps": 50, "guidance": 3.0},
                         prompt_set={"name": "p", "n": N, "sha256": "cd" * 32}, seed_rule="seed_i = 7 + i")


class _Linear:
    """A random linear feature extractor on uint8 images."""

    id, dim, weights_sha256, preprocessing = "test-linear-5", DIM, "0" * 64, "none"

    def __init__(self) -> None:
        self.w = torch.randn(3 * 4 * 4, DIM, generator=torch.Generator().manual_seed(0)) / 4

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).float() / 255 @ self.w


def _images(seed: int, shift: int = 0) -> torch.Tensor:
    x = torch.randint(0, 200, (N, 3, 4, 4), generator=torch.Generator().manual_seed(seed))
    return (x + shift).clamp(0, 255).to(torch.uint8)


def _teacher_fid(name: str = "fid_t", teacher_images: torch.Tensor | None = None) -> TeacherFID:
    extractor = _Linear()
    images = _images(1) if teacher_images is None else teacher_images
    stats = reference_stats(extractor, [images[:17], images[17:]], "tiny-teacher-outputs")
    return TeacherFID(extractor, stats, TEACHER, name=name)


def _frechet_float64(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of two feature sets, transcribed in float64 numpy/scipy (Heusel et al. 2017, eq. 2):
    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), unbiased covariances."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


def test_value_is_the_frechet_distance_to_the_teacher_images_features():
    student, teacher = _images(2, shift=30), _images(1)
    metric = _teacher_fid()
    metric.update(student[:11], [""] * 11)
    metric.update(student[11:], [""] * (N - 11))
    got = metric.compute()
    extractor = _Linear()
    want = _frechet_float64(extractor(student).double().numpy(), extractor(teacher).double().numpy())
    assert got.n == N and got.details["reference_n"] == N
    np.testing.assert_allclose(got.value, want, rtol=1e-6)
    assert want > 0.01  # the shifted student is measurably away from its teacher


def test_a_student_that_reproduces_its_teacher_scores_zero():
    teacher = _images(1)
    metric = _teacher_fid()
    metric.update(teacher, [""] * N)
    assert abs(metric.compute().value) < 1e-8
    metric.reset()
    metric.update(_images(5), [""] * N)  # other samples of the same distribution: small but not zero
    assert metric.compute().value > 1e-4


def test_spec_records_the_fid_identity_and_the_teacher():
    metric = _teacher_fid("patch_fid_t")
    spec = metric.spec()
    assert spec["implementation"] == catalog.FID_T.implementation
    assert spec["teacher"] == TEACHER.to_dict()
    assert spec["extractor"] == "test-linear-5" and spec["reference"]["id"] == "tiny-teacher-outputs"
    assert metric.name == "patch_fid_t" and metric.higher_is_better is False
    assert catalog.direction("fid_t") is False and catalog.direction("patch_fid_t") is False


def test_names_and_references_are_checked():
    with pytest.raises(ValueError, match="not 'fid'"):
        _teacher_fid("fid")
    extractor = _Linear()
    stats = reference_stats(extractor, [_images(1)], "x")
    other = type("Other", (_Linear,), {"id": "another-extractor"})()
    with pytest.raises(ValueError, match="remake them"):
        TeacherFID(other, stats, TEACHER)


def test_teacher_reference_files_carry_the_teacher_and_plain_statistics_are_refused(tmp_path):
    extractor = _Linear()
    stats = reference_stats(extractor, [_images(1)], "teacher-images")
    reference.save(stats, extractor, tmp_path / "teacher.npz", {"teacher": TEACHER.to_dict()})
    loaded, teacher, meta = load_teacher_reference(tmp_path / "teacher.npz")
    assert teacher == TEACHER and loaded.n == N and meta["identity"]["teacher"]["seed_rule"] == "seed_i = 7 + i"
    np.testing.assert_array_equal(loaded.mu, stats.mu)

    reference.save(stats, extractor, tmp_path / "real.npz")
    with pytest.raises(ValueError, match="carry no teacher identity"):
        load_teacher_reference(tmp_path / "real.npz")
    broken = {k: v for k, v in TEACHER.to_dict().items() if k != "seed_rule"}
    reference.save(stats, extractor, tmp_path / "broken.npz", {"teacher": {**broken, "steps": 4}})
    with pytest.raises(ValueError, match=r"missing fields \['seed_rule'\], unknown fields \['steps'\]"):
        load_teacher_reference(tmp_path / "broken.npz")


CHUNKS = [(0, 9), (9, 20), (20, 31), (31, 40)]


def _shard_states() -> list[tuple[int, dict]]:
    student = _images(2, shift=30)
    states = []
    for a, b in CHUNKS:
        metric = _teacher_fid()
        metric.update(student[a:b], [""] * (b - a))
        states.append((a, metric.state()))
    return states


def _worker(rank: int, world: int) -> float:
    metric = _teacher_fid()
    for start, state in _shard_states()[rank::world]:
        metric.merge_state(state, start)
    return metric.compute().value  # compute() is a collective: both call it


def test_shards_and_two_gloo_processes_reduce_to_the_single_pass_value(tmp_path):
    student = _images(2, shift=30)
    single = _teacher_fid()
    single.update(student, [""] * N)
    want = single.compute().value
    merged = _teacher_fid()
    for start, state in reversed(_shard_states()):
        merged.merge_state(state, start)
    np.testing.assert_allclose(merged.compute().value, want, rtol=1e-6)  # float32 features per batch: round-off
    for got in on_two_processes(_worker, tmp_path):
        np.testing.assert_allclose(got, want, rtol=1e-6)
