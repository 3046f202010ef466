"""Metric states (`metrics/states.py`) in one process: moments against numpy, rows in index order, the running
index of `extend`, the shapes of empty and one-sample tables, and torchmetrics' own merge of two states (which uses
each state's reduction, as the cross-process sync does)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddmd_bench.metrics.states import FeatureMoments, IndexedRows


def test_moments_match_numpy_over_several_batches_in_float64():
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    m = FeatureMoments(3)
    m.update(torch.from_numpy(x[:4]))
    m.update(torch.from_numpy(x[4:]))
    n, mu, sigma = m.compute()
    assert n == 9 and isinstance(n, int)
    assert mu.dtype == np.float64 and sigma.shape == (3, 3)
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-14)
    assert m.total.dtype == torch.float64 and m.outer.dtype == torch.float64 and m.n.dtype == torch.float64


def test_moments_state_shapes_and_reset():
    m = FeatureMoments(4)
    assert m.dim == 4
    assert m.n.shape == () and m.total.shape == (4,) and m.outer.shape == (4, 4)
    m.update(torch.ones(2, 4))
    assert float(m.n) == 2.0 and m.total.tolist() == [2.0] * 4 and m.outer.tolist() == [[2.0] * 4] * 4
    m.reset()
    assert float(m.n) == 0.0 and m.total.tolist() == [0.0] * 4 and float(m.outer.abs().sum()) == 0.0


def test_moments_refuse_other_shapes_by_name():
    m = FeatureMoments(4)
    with pytest.raises(ValueError, match=r"^expected features of shape \[B, 4\], got \[4\]$"):
        m.update(torch.zeros(4))
    with pytest.raises(ValueError, match=r"^expected features of shape \[B, 4\], got \[2, 3\]$"):
        m.update(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"got \[1, 2, 4\]$"):
        m.update(torch.zeros(1, 2, 4))


def test_moments_of_features_that_carry_gradients():
    f = torch.randn(5, 2, requires_grad=True)
    m = FeatureMoments(2)
    m.update(f)
    n, mu, _ = m.compute()
    assert n == 5 and not m.total.requires_grad
    np.testing.assert_allclose(mu, f.detach().double().mean(0).numpy(), rtol=1e-12)


def test_moments_merge_by_summing():
    x = np.random.default_rng(1).normal(size=(7, 2))
    a, b, whole = FeatureMoments(2), FeatureMoments(2), FeatureMoments(2)
    a.update(torch.from_numpy(x[:3]))
    b.update(torch.from_numpy(x[3:]))
    whole.update(torch.from_numpy(x))
    a.merge_state(b)
    n, mu, sigma = a.compute()
    n2, mu2, sigma2 = whole.compute()
    assert n == n2 == 7
    np.testing.assert_allclose(mu, mu2, rtol=1e-12)
    np.testing.assert_allclose(sigma, sigma2, rtol=1e-10)


def test_rows_keep_their_index_and_float64_values():
    rows = IndexedRows(2)
    assert rows.width == 2 and rows.next_index == 0
    rows.update(torch.tensor([5, 2]), torch.tensor([[5, 50], [2, 20]], dtype=torch.int32))
    assert rows.next_index == 6
    index, values = rows.compute()
    assert index.dtype == torch.int64 and index.tolist() == [2, 5]
    assert values.dtype == torch.float64 and values.tolist() == [[2.0, 20.0], [5.0, 50.0]]
    # local() is this process's rows in the order added, without the index
    assert rows.local().tolist() == [[5.0, 50.0], [2.0, 20.0]]
    assert rows.local().dtype == torch.float64


def test_rows_given_flat_are_reshaped_to_the_width():
    rows = IndexedRows(3)
    rows.update(torch.tensor([0, 1]), torch.arange(6.0))
    assert rows.compute()[1].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_an_empty_update_leaves_the_running_index():
    rows = IndexedRows(1)
    rows.update(torch.tensor([3]), torch.tensor([[1.0]]))
    rows.update(torch.tensor([], dtype=torch.int64), torch.zeros(0, 1))
    assert rows.next_index == 4
    rows.update(torch.tensor([1]), torch.tensor([[2.0]]))  # a lower index does not move it back
    assert rows.next_index == 4


def test_extend_continues_after_the_highest_index_or_starts_where_told():
    rows = IndexedRows(1)
    rows.extend(torch.tensor([10.0, 11.0]))
    rows.extend([12.0])
    rows.extend(torch.tensor([[20.0], [21.0]]), start=7)
    rows.extend(torch.tensor([30.0]), start=4)
    index, values = rows.compute()
    assert index.tolist() == [0, 1, 2, 4, 7, 8]
    assert values[:, 0].tolist() == [10.0, 11.0, 12.0, 30.0, 20.0, 21.0]
    assert rows.next_index == 9
    rows.extend(torch.tensor([40.0]))
    assert rows.compute()[0].tolist() == [0, 1, 2, 4, 7, 8, 9]


def test_reset_forgets_rows_and_the_running_index():
    rows = IndexedRows(2)
    rows.extend(torch.ones(3, 2))
    rows.reset()
    assert rows.next_index == 0 and rows.local().shape == (0, 2)
    rows.extend(torch.full((1, 2), 4.0))
    assert rows.compute()[0].tolist() == [0]


def test_empty_and_one_sample_tables_keep_their_shapes():
    rows = IndexedRows(3)
    assert rows.local().shape == (0, 3) and rows.local().dtype == torch.float64
    index, values = rows.compute()
    assert index.shape == (0,) and index.dtype == torch.int64
    assert values.shape == (0, 3) and values.dtype == torch.float64
    rows.extend(torch.tensor([[1.0, 2.0, 3.0]]))
    index, values = rows.compute()
    assert index.shape == (1,) and values.shape == (1, 3) and values.tolist() == [[1.0, 2.0, 3.0]]
    single = IndexedRows(1)
    single.extend(torch.tensor([7.0]), start=4)
    index, values = single.compute()
    assert index.tolist() == [4] and values.shape == (1, 1)


def test_duplicates_are_named_by_the_lowest_repeated_index():
    rows = IndexedRows(1)
    rows.update(torch.tensor([4, 3, 1, 2]), torch.zeros(4, 1))
    rows.update(torch.tensor([3, 1]), torch.ones(2, 1))
    with pytest.raises(ValueError, match=r"^sample 1 was scored more than once \(overlapping shards\)$"):
        rows.compute()


def test_two_rows_added_out_of_order_come_back_sorted():
    rows = IndexedRows(1)
    rows.update(torch.tensor([1, 0]), torch.tensor([[1.0], [0.0]]))
    index, values = rows.compute()
    assert index.tolist() == [0, 1] and values[:, 0].tolist() == [0.0, 1.0]


def test_rows_merge_by_concatenation():
    a, b = IndexedRows(1), IndexedRows(1)
    a.extend(torch.tensor([1.0, 2.0]))
    b.extend(torch.tensor([3.0]), start=2)
    a.merge_state(b)
    index, values = a.compute()
    assert index.tolist() == [0, 1, 2] and values[:, 0].tolist() == [1.0, 2.0, 3.0]


def test_state_dtype_is_float64_for_an_idle_rank():
    rows = IndexedRows(2)
    assert rows.dtype == torch.float64


def test_extend_keeps_python_floats_in_float64():
    rows = IndexedRows(1)
    rows.extend([0.1, 1e-300])
    assert rows.compute()[1][:, 0].tolist() == [0.1, 1e-300]
