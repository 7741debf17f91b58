"""Sorting and selection against PyTorch: sort, argsort, msort, topk, kthvalue, mode, unique,
unique_consecutive, searchsorted, bucketize, quantile, nanquantile, isin. Values, indices, dtypes,
shapes, gradients of sum(out * w), finite-difference checks in float64 (first and second
order), NaN placement, stability with ties, empty tensors, named return types and errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

torch.set_num_threads(1)
RNG = np.random.default_rng(0)


def _np(t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    t = t.detach()
    return np.asarray(t.float() if t.dtype == pellucid.bfloat16 else t)


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _leaf(M, a, grad):
    if isinstance(a, np.ndarray):
        t = M.tensor(a.copy())
        if grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    return a


def check(fn, *arrays, grad=True, indices=True, tol=None, seed=0):
    """fn(M, *inputs) for M = pellucid and torch: same number of outputs, shapes, dtypes and
    values (indices too unless indices=False), and the same input gradients of sum(out * w)."""
    p_in = [_leaf(pellucid, a, grad) for a in arrays]
    t_in = [_leaf(torch, a, grad) for a in arrays]
    out_p, out_t = _flat(fn(pellucid, *p_in)), _flat(fn(torch, *t_in))
    assert len(out_p) == len(out_t)
    rng = np.random.default_rng(seed)
    loss_p = loss_t = None
    for i, (op, ot) in enumerate(zip(out_p, out_t)):
        assert tuple(op.shape) == tuple(ot.shape), f"output {i}: shape {tuple(op.shape)} != {tuple(ot.shape)}"
        assert _dtype_name(op) == _dtype_name(ot), f"output {i}: dtype {op.dtype} != {ot.dtype}"
        if ot.dtype.is_floating_point:
            np.testing.assert_allclose(_np(op), _np(ot), equal_nan=True, err_msg=f"output {i}",
                                       **(tol or dict(rtol=1e-6, atol=1e-7)))
        elif indices:
            np.testing.assert_array_equal(_np(op), _np(ot), err_msg=f"output {i}")
        assert op.requires_grad == ot.requires_grad, f"output {i}: requires_grad"
        if ot.requires_grad:
            w = rng.standard_normal(tuple(ot.shape)).astype(_np(ot).dtype)
            lp, lt = (op * pellucid.tensor(w)).sum(), (ot * torch.tensor(w)).sum()
            loss_p = lp if loss_p is None else loss_p + lp
            loss_t = lt if loss_t is None else loss_t + lt
    if loss_t is not None:
        loss_p.backward()
        loss_t.backward()
        for i, (pl, tl) in enumerate(zip(p_in, t_in)):
            if isinstance(tl, torch.Tensor) and tl.requires_grad:
                if tl.grad is None:     # the outputs do not depend on it (differentiably)
                    assert pl.grad is None or not np.any(_np(pl.grad)), f"input {i}: gradient"
                    continue
                assert pl.grad is not None, f"input {i}: no gradient"
                np.testing.assert_allclose(_np(pl.grad), _np(tl.grad), rtol=1e-6, atol=1e-6,
                                           err_msg=f"grad of input {i}")
    return out_p, out_t


def distinct(*shape, dtype=np.float64):
    """Values without ties (a permutation, scaled), so every index is determined."""
    n = int(np.prod(shape))
    return (RNG.permutation(n).reshape(shape) * 0.5 - n / 4).astype(dtype)


def ties(*shape, dtype=np.float64, levels=3):
    return RNG.integers(0, levels, size=shape).astype(dtype)


# ---- sort, argsort, msort ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_distinct(dtype, dim, descending):
    x = distinct(3, 4, 5, dtype=dtype)
    check(lambda M, a: M.sort(a, dim, descending), x)
    check(lambda M, a: a.sort(dim=dim, descending=descending), x)
    check(lambda M, a: M.argsort(a, dim, descending), x)
    check(lambda M, a: a.argsort(dim=dim, descending=descending), x)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.int16, np.uint8,
                                   np.int8, np.bool_])
def test_sort_stable_ties(dim, descending, dtype):
    x = ties(6, 30, levels=2 if dtype == np.bool_ else 4).astype(dtype)
    check(lambda M, a: M.sort(a, stable=True, dim=dim, descending=descending), x)
    check(lambda M, a: M.argsort(a, dim=dim, descending=descending, stable=True), x)
    check(lambda M, a: a.sort(stable=True, dim=dim, descending=descending), x)


def test_sort_stable_descending_keeps_original_order():
    x = np.array([2.0, 1.0, 2.0, 3.0, 1.0, 2.0])
    p, _ = check(lambda M, a: M.sort(a, descending=True, stable=True), x)
    assert p[1].tolist() == [3, 0, 2, 5, 1, 4]


@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_is_largest(descending):
    x = np.array([[1.0, np.nan, -np.inf, 2.0, np.nan, np.inf, 0.0],
                  [np.nan, np.nan, 3.0, -1.0, 3.0, 0.0, -0.0]])
    p, _ = check(lambda M, a: M.sort(a, stable=True, dim=1, descending=descending), x)
    vals = p[0].detach().numpy()[0]
    if descending:
        assert np.isnan(vals[:2]).all()
    else:
        assert np.isnan(vals[-2:]).all()
    check(lambda M, a: M.argsort(a, stable=True, dim=1, descending=descending), x)
    check(lambda M, a: M.msort(a), x.T.copy())


@pytest.mark.parametrize("dtype", [np.float16])
def test_sort_half(dtype):
    x = distinct(4, 7, dtype=np.float32).astype(dtype)
    check(lambda M, a: M.sort(a, 1, True), x)


def test_sort_bfloat16():
    x = distinct(3, 6, dtype=np.float32)
    check(lambda M, a: M.sort(a.to(M.bfloat16), 1), x)
    check(lambda M, a: M.topk(a.to(M.bfloat16), 2), x)


def test_sort_noncontiguous():
    x = distinct(4, 5, 6)
    check(lambda M, a: M.sort(a.permute(2, 0, 1), 1, True), x)
    check(lambda M, a: M.topk(a.transpose(0, 2), 3, 0), x)
    check(lambda M, a: M.kthvalue(a[:, ::2].transpose(0, 1), 2, 0), x)


def test_sort_0d_and_empty():
    check(lambda M, a: M.sort(a), np.array(3.5))
    check(lambda M, a: M.sort(a, 0, True), np.array(3.5))
    check(lambda M, a: M.argsort(a), np.array(3.5))
    check(lambda M, a: M.msort(a), np.array(3.5))
    check(lambda M, a: M.sort(a), np.zeros((0,)))
    check(lambda M, a: M.sort(a, 0), np.zeros((0, 3)))
    check(lambda M, a: M.sort(a, 1, True), np.zeros((2, 0)))
    check(lambda M, a: M.argsort(a, 0), np.zeros((0, 3)))


def test_msort():
    x = distinct(5, 3, 2)
    check(lambda M, a: M.msort(a), x)
    check(lambda M, a: a.msort(), x)
    p = pellucid.msort(pellucid.tensor(x, requires_grad=True))
    assert p.grad_fn.name() == "SortBackward0"


def test_sort_bool_argsort_descending():
    x = np.array([True, False, True, False, False])
    check(lambda M, a: M.argsort(a, descending=True, stable=True), x)
    check(lambda M, a: M.sort(a, descending=False, stable=True), x)


def test_sort_out():
    x = distinct(3, 4)
    v, i = pellucid.empty(0), pellucid.empty(0, dtype=pellucid.int64)
    r = pellucid.sort(pellucid.tensor(x), 1, out=(v, i))
    t = torch.sort(torch.tensor(x), 1)
    assert r.values is v and r.indices is i
    np.testing.assert_array_equal(v.numpy(), t.values.numpy())
    np.testing.assert_array_equal(i.numpy(), t.indices.numpy())
    v2 = pellucid.empty(0)
    pellucid.msort(pellucid.tensor(x), out=v2)
    np.testing.assert_array_equal(v2.numpy(), torch.msort(torch.tensor(x)).numpy())


def test_sort_keyword_forms():
    x = distinct(3, 5)
    check(lambda M, a: M.sort(a, stable=True, dim=0, descending=True), x)
    check(lambda M, a: M.argsort(a, stable=True), x)


# ---- topk ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_topk(dtype, dim, largest, k):
    x = RNG.permutation(4 * 6).reshape(4, 6).astype(dtype)
    check(lambda M, a: M.topk(a, k, dim, largest), x)
    check(lambda M, a: a.topk(k, dim=dim, largest=largest, sorted=True), x)


def test_topk_full_and_unsorted():
    x = distinct(3, 5)
    check(lambda M, a: M.topk(a, 5), x)
    check(lambda M, a: M.topk(a, 5, largest=False), x)
    # sorted=False leaves the order unspecified: compare as sets (sorted values, with indices)
    for largest in (True, False):
        p = pellucid.topk(pellucid.tensor(x), 3, 1, largest, False)
        t = torch.topk(torch.tensor(x), 3, 1, largest, False)
        np.testing.assert_array_equal(np.sort(p.values.numpy(), 1), np.sort(t.values.numpy(), 1))
        np.testing.assert_array_equal(np.sort(p.indices.numpy(), 1), np.sort(t.indices.numpy(), 1))


def test_topk_nan():
    x = np.array([[1.0, np.nan, 2.0, -1.0, 5.0], [0.0, 3.0, np.nan, np.inf, -np.inf]])
    check(lambda M, a: M.topk(a, 2), x)
    check(lambda M, a: M.topk(a, 2, largest=False), x)
    check(lambda M, a: M.topk(a, 5, largest=False), x)


def test_topk_ties_values_and_valid_indices():
    x = ties(5, 12)
    for largest in (True, False):
        # (gradients go to the chosen elements, so they are compared only without ties)
        p, _ = check(lambda M, a: M.topk(a, 4, 1, largest), x, indices=False, grad=False)
        # whatever index is chosen among equal values, it points at the value
        np.testing.assert_array_equal(np.take_along_axis(x, p[1].numpy(), 1), p[0].detach().numpy())
        assert all(len(set(r)) == 4 for r in p[1].numpy().tolist())


def test_topk_0d_and_empty():
    check(lambda M, a: M.topk(a, 1), np.array(2.0))
    check(lambda M, a: M.topk(a, 0), np.array(2.0))
    check(lambda M, a: M.topk(a, 0, 1), np.zeros((2, 0)))
    check(lambda M, a: M.topk(a, 2, 1), np.zeros((0, 4)))


@pytest.mark.parametrize("k", [-1, 6])
def test_topk_k_out_of_range(k):
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            M.topk(M.tensor(distinct(3, 5)), k)
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            M.topk(M.tensor(2.0), 2)


def test_topk_out():
    x = distinct(3, 5)
    v, i = pellucid.empty(0), pellucid.empty(0, dtype=pellucid.int64)
    r = pellucid.topk(pellucid.tensor(x), 2, out=(v, i))
    t = torch.topk(torch.tensor(x), 2)
    assert r.values is v and r.indices is i
    np.testing.assert_array_equal(i.numpy(), t.indices.numpy())


def test_topk_bool_rejected():
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="topk does not support bool"):
            M.topk(M.tensor([True, False]), 1)


# ---- kthvalue ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int16])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(dtype, dim, keepdim):
    x = RNG.permutation(4 * 5 * 3).reshape(4, 5, 3).astype(dtype)
    for k in (1, 2, x.shape[dim]):
        check(lambda M, a: M.kthvalue(a, k, dim, keepdim), x)
        check(lambda M, a: a.kthvalue(k, dim=dim, keepdim=keepdim), x)


def test_kthvalue_nan_and_ties():
    x = np.array([1.0, np.nan, 2.0, -3.0])
    for k in (1, 2, 3, 4):
        check(lambda M, a: M.kthvalue(a, k), x)
    y = ties(4, 9)
    p, _ = check(lambda M, a: M.kthvalue(a, 5, 1), y, indices=False, grad=False)
    np.testing.assert_array_equal(y[np.arange(4), p[1].numpy()], p[0].detach().numpy())


def test_kthvalue_0d_half_bfloat16():
    check(lambda M, a: M.kthvalue(a, 1), np.array(5.0))
    check(lambda M, a: M.kthvalue(a, 1, 0, True), np.array(5.0))
    x = distinct(3, 4, dtype=np.float32)
    check(lambda M, a: M.kthvalue(a.half(), 2), x)
    check(lambda M, a: M.kthvalue(a.to(M.bfloat16), 3), x)


@pytest.mark.parametrize("k", [0, 6, -1])
def test_kthvalue_k_out_of_range(k):
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range for dimension 1"):
            M.kthvalue(M.tensor(distinct(3, 5)), k)
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="out of range for dimension 0"):
            M.kthvalue(M.tensor(2.0), 2)


def test_kthvalue_empty_and_bool():
    for M in (torch, pellucid):
        with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
            M.kthvalue(M.empty(0), 1)
        with pytest.raises(NotImplementedError, match="kthvalue_cpu\" not implemented for 'Bool'"):
            M.kthvalue(M.tensor([True, False]), 1)
    check(lambda M, a: M.kthvalue(a, 2, 1), np.zeros((0, 3)))


# ---- mode ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int8, np.bool_])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_mode(dtype, dim, keepdim):
    # slices of at most 16 elements: PyTorch's CPU kernel then sorts stably, and its index is the
    # last occurrence of the mode (beyond that its std::sort leaves the index among ties open)
    x = ties(6, 7, 5, levels=2 if dtype == np.bool_ else 4).astype(dtype)
    check(lambda M, a: M.mode(a, dim, keepdim), x)
    check(lambda M, a: a.mode(dim=dim, keepdim=keepdim), x)


def test_mode_smallest_and_last_index():
    check(lambda M, a: M.mode(a), np.array([3, 3, 1, 1, 2]))
    check(lambda M, a: M.mode(a), np.array([1.0, 2, 2, 3, 3, 0]))
    check(lambda M, a: M.mode(a), np.array([5.0, 4.0, 3.0]))
    check(lambda M, a: M.mode(a), np.array([np.nan, 2.0, 2.0, 1.0]))
    p = pellucid.mode(pellucid.tensor([2, 1, 2, 1, 0]))
    assert (p.values.item(), p.indices.item()) == (1, 3)


def test_mode_long_slices():
    x = RNG.integers(0, 5, size=(4, 60)).astype(np.float64)
    p, _ = check(lambda M, a: M.mode(a, 1), x, indices=False, grad=False)
    idx = p[1].numpy()
    np.testing.assert_array_equal(x[np.arange(4), idx], p[0].detach().numpy())


def test_mode_0d_and_empty():
    check(lambda M, a: M.mode(a), np.array(4.0))
    check(lambda M, a: M.mode(a, 0), np.zeros((2, 0)))
    check(lambda M, a: M.mode(a, 0, True), np.zeros((2, 0)))
    for M in (torch, pellucid):
        with pytest.raises(IndexError, match="mode\\(\\): Expected reduction dim 1 to have non-zero size"):
            M.mode(M.empty(2, 0), 1)


# ---- gradients and graph ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda M, a: M.sort(a, 1)[0],
    lambda M, a: M.sort(a, 0, True)[0],
    lambda M, a: M.msort(a),
    lambda M, a: M.topk(a, 2, 1)[0],
    lambda M, a: M.topk(a, 3, 0, largest=False)[0],
    lambda M, a: M.kthvalue(a, 2, 1)[0],
    lambda M, a: M.kthvalue(a, 3, 0, True)[0],
    lambda M, a: M.quantile(a, 0.3, 1),
    lambda M, a: M.quantile(a, M.tensor([0.2, 0.5, 1.0], dtype=M.float64), 0, True),
    lambda M, a: M.nanquantile(a, 0.7, interpolation="midpoint"),
])
def test_gradcheck(fn):
    x = pellucid.tensor(distinct(4, 5), requires_grad=True)
    assert gradcheck(lambda a: fn(pellucid, a), (x,))
    assert gradgradcheck(lambda a: fn(pellucid, a), (x,))


def test_gradcheck_mode():
    x = pellucid.tensor(np.array([[1.0, 2.0, 2.0, 5.0], [3.0, 3.0, 3.0, 0.5]]), requires_grad=True)
    # with ties, a finite-difference step would break them: compare the gradient PyTorch gives
    # to the selected element (its index is the last occurrence in slices this short)
    v, i = pellucid.mode(x, 1)
    v.sum().backward()
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.mode(t, 1)[0].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("name,fn", [
    ("SortBackward0", lambda M, a: M.sort(a, 1)[0]),
    ("SortBackward0", lambda M, a: M.msort(a)),
    ("TopkBackward0", lambda M, a: M.topk(a, 2)[0]),
    ("KthvalueBackward0", lambda M, a: M.kthvalue(a, 2)[0]),
    ("ModeBackward0", lambda M, a: M.mode(a)[0]),
])
def test_grad_fn_names(name, fn):
    for M in (torch, pellucid):
        out = fn(M, M.tensor(distinct(3, 4), requires_grad=True))
        assert out.grad_fn.name() == name


def test_indices_and_argsort_carry_no_grad():
    for M in (torch, pellucid):
        x = M.tensor(distinct(3, 4), requires_grad=True)
        assert not M.sort(x)[1].requires_grad
        assert not M.argsort(x).requires_grad
        assert not M.searchsorted(M.tensor([0.0, 1.0]), x).requires_grad
        assert not M.isin(x, M.tensor([1.0])).requires_grad


def test_double_backward_sort_topk():
    for fn in (lambda M, a: M.sort(a * a * a, 1)[0], lambda M, a: M.topk(a * a * a, 2)[0],
               lambda M, a: M.kthvalue(a * a * a, 2)[0], lambda M, a: M.mode(a * a * a)[0]):
        res = []
        x0 = distinct(3, 4)
        for M in (pellucid, torch):
            x = M.tensor(x0, requires_grad=True)
            w = M.tensor(np.linspace(-1, 1, fn(M, x).numel()).reshape(tuple(fn(M, x).shape)))
            (g,) = M.autograd.grad((fn(M, x) * w).sum(), x, create_graph=True)
            (gg,) = M.autograd.grad((g * g).sum(), x)
            res.append((_np(g), _np(gg)))
        np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
        np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


# ---- named return types -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,fn", [
    ("sort", lambda M, a: M.sort(a)),
    ("topk", lambda M, a: M.topk(a, 2)),
    ("kthvalue", lambda M, a: M.kthvalue(a, 2)),
    ("mode", lambda M, a: M.mode(a)),
])
def test_return_types(name, fn):
    x = distinct(3, 4)
    r = fn(pellucid, pellucid.tensor(x))
    t = fn(torch, torch.tensor(x))
    assert type(r).__name__ == type(t).__name__ == name
    values, indices = r
    assert values is r.values and indices is r.indices and r[0] is r.values
    assert repr(r).startswith(f"pellucid.return_types.{name}(\nvalues=")
    np.testing.assert_array_equal(r.indices.numpy(), t.indices.numpy())


# ---- dims and argument errors -----------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda M, a: M.sort(a, 2), lambda M, a: M.sort(a, -3), lambda M, a: M.argsort(a, 5),
    lambda M, a: M.topk(a, 1, 2), lambda M, a: M.kthvalue(a, 1, -3), lambda M, a: M.mode(a, 2),
    lambda M, a: M.quantile(a, 0.5, 2), lambda M, a: M.unique(a, dim=2),
    lambda M, a: M.unique_consecutive(a, dim=-3),
])
def test_bad_dim(fn):
    for M in (torch, pellucid):
        with pytest.raises(IndexError, match="Dimension out of range \\(expected to be in range of \\[-2, 1\\]"):
            fn(M, M.tensor(distinct(3, 4)))


def test_dims_on_0d():
    for M in (torch, pellucid):
        a = M.tensor(2.0)
        assert M.sort(a, -1)[0].item() == 2.0
        with pytest.raises(IndexError, match="Dimension out of range"):
            M.sort(a, 1)


# ---- unique, unique_consecutive ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8, np.bool_, np.float16])
@pytest.mark.parametrize("ret", [(False, False), (True, False), (False, True), (True, True)])
def test_unique(dtype, ret):
    x = ties(4, 6, levels=2 if dtype == np.bool_ else 5).astype(dtype)
    check(lambda M, a: M.unique(a, return_inverse=ret[0], return_counts=ret[1]), x, grad=False)
    check(lambda M, a: a.unique(True, *ret), x, grad=False)
    # (torch.unique_consecutive takes its flags as keywords only: positionally they are dropped)
    check(lambda M, a: M.unique_consecutive(a, return_inverse=ret[0], return_counts=ret[1]), x,
          grad=False)
    check(lambda M, a: a.unique_consecutive(*ret), x, grad=False)
    check(lambda M, a: a.unique_consecutive(return_inverse=ret[0], return_counts=ret[1]), x, grad=False)


def test_unique_sorted_false_is_sorted_as_torch():
    x = np.array([3.0, 1.0, 2.0, 1.0, 5.0, 4.0, 7.0, -1.0])
    check(lambda M, a: M.unique(a, sorted=False, return_inverse=True, return_counts=True), x, grad=False)


def test_unique_nan_is_distinct():
    x = np.array([np.nan, 1.0, np.nan, 1.0, -0.0, 0.0])
    check(lambda M, a: M.unique(a, return_inverse=True, return_counts=True), x, grad=False)
    check(lambda M, a: M.unique_consecutive(a, return_inverse=True, return_counts=True),
          np.array([np.nan, np.nan, 1.0, 1.0]), grad=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_dim(dim):
    x = np.array([[1, 2, 1, 0], [1, 2, 1, 5], [0, 5, 0, 1], [1, 2, 1, 0]])
    check(lambda M, a: M.unique(a, dim=dim, return_inverse=True, return_counts=True), x)
    check(lambda M, a: M.unique(a, return_counts=True, dim=dim), x.astype(np.float32), grad=False)
    check(lambda M, a: M.unique_consecutive(a, return_inverse=True, return_counts=True, dim=dim), x)
    y = ties(3, 8, 2, levels=2)
    check(lambda M, a: M.unique(a, dim=dim, return_inverse=True, return_counts=True), y, grad=False)
    check(lambda M, a: a.unique_consecutive(return_inverse=True, return_counts=True, dim=dim), y,
          grad=False)


def test_unique_dim_nan_rows_distinct():
    x = np.array([[1.0, np.nan], [1.0, np.nan], [0.0, 1.0]])
    check(lambda M, a: M.unique(a, dim=0, return_inverse=True, return_counts=True), x, grad=False)


def test_unique_0d_and_empty():
    check(lambda M, a: M.unique(a, return_inverse=True, return_counts=True), np.array(3), grad=False)
    check(lambda M, a: M.unique(a, return_inverse=True, return_counts=True), np.zeros((0, 3)), grad=False)
    check(lambda M, a: M.unique(a, dim=0, return_inverse=True, return_counts=True), np.zeros((0, 3)),
          grad=False)
    check(lambda M, a: a.unique_consecutive(True, True), np.zeros((0,)), grad=False)
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="There are 0 sized dimensions, and they aren't selected"):
            M.unique(M.empty(3, 0), dim=0)
        with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no dimensions"):
            M.unique(M.tensor(3), dim=0)


def test_unique_grad_not_implemented():
    for M, name in ((torch, "_unique2"), (pellucid, "_unique2")):
        x = M.tensor([1.0, 2.0, 1.0], requires_grad=True)
        u = M.unique(x)
        assert u.requires_grad and u.grad_fn.name() == "Unique2Backward0"
        with pytest.raises(NotImplementedError, match=f"the derivative for '{name}' is not implemented"):
            u.sum().backward()
    for M in (torch, pellucid):
        x = M.tensor([1.0, 2.0, 1.0], requires_grad=True)
        assert M.unique(x, dim=0).grad_fn.name() == "UniqueDimBackward0"
        assert M.unique_consecutive(x).grad_fn.name() == "UniqueConsecutiveBackward0"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=0, max_size=30), st.booleans())
def test_unique_property(values, consecutive):
    x = np.array(values, dtype=np.int64)
    f = (lambda M, a: a.unique_consecutive(True, True)) if consecutive else \
        (lambda M, a: M.unique(a, return_inverse=True, return_counts=True))
    p, _ = check(f, x, grad=False)
    u, inv, cnt = (o.numpy() for o in p)
    np.testing.assert_array_equal(u[inv], x)
    assert cnt.sum() == x.size


# ---- searchsorted, bucketize -------------------------------------------------------------------------

@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_searchsorted_1d(right, out_int32):
    b = np.array([-1.0, 0.0, 0.0, 2.5, 4.0, 4.0, 4.0, 9.0])
    v = np.array([[-5.0, -1.0, 0.0, 1.0], [4.0, 4.5, 9.0, 12.0]])
    check(lambda M, s, a: M.searchsorted(s, a, right=right, out_int32=out_int32), b, v, grad=False)
    check(lambda M, s, a: M.searchsorted(s, a, side="right" if right else "left"), b, v, grad=False)
    check(lambda M, a, s: M.bucketize(a, s, right=right, out_int32=out_int32), v, b, grad=False)


def test_searchsorted_nd():
    b = np.sort(RNG.integers(0, 10, size=(2, 3, 6)), axis=-1).astype(np.float32)
    v = RNG.integers(-1, 11, size=(2, 3, 4)).astype(np.float32)
    for right in (False, True):
        check(lambda M, s, a: M.searchsorted(s, a, right=right), b, v, grad=False)


def test_searchsorted_sorter_scalars_and_dtypes():
    b = np.array([5.0, 1.0, 3.0, 3.0, -2.0])
    sorter = np.argsort(b, kind="stable")
    check(lambda M, s, a, o: M.searchsorted(s, a, sorter=o), b, np.array([2.0, 3.0, 6.0]), sorter,
          grad=False)
    check(lambda M, s, a, o: M.searchsorted(s, a, sorter=o, right=True), b, np.array([3.0, -5.0]),
          sorter, grad=False)
    check(lambda M, s: M.searchsorted(s, 3), np.array([1.0, 3.0, 5.0]), grad=False)
    check(lambda M, s: M.searchsorted(s, 3.0, out_int32=True, right=True), np.array([1, 3, 5]),
          grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.array([1, 3, 5]), np.array([3.5, 1.0]), grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.array([1.0, 3.0]), np.array([2, 3], dtype=np.uint8),
          grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.array([1.0, 3.0]), np.array(2.0), grad=False)
    check(lambda M, a: M.bucketize(3, a, right=True), np.array([1.0, 3.0, 5.0]), grad=False)
    check(lambda M, a, s: M.bucketize(a, s), np.array(3.0), np.array([1.0, 3.0, 5.0]), grad=False)


def test_searchsorted_nan_and_empty():
    check(lambda M, s, a: M.searchsorted(s, a), np.array([1.0, np.nan]), np.array([np.nan, 2.0, 0.0]),
          grad=False)
    check(lambda M, s, a: M.searchsorted(s, a, right=True), np.array([1.0, 2.0, np.nan]),
          np.array([np.nan, 2.0, 1.5]), grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.zeros((0,)), np.array([1.5]), grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.array([1.0, 2.0]), np.zeros((0,)), grad=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=20), st.lists(st.integers(-7, 7), max_size=10),
       st.booleans())
def test_searchsorted_property(bounds, values, right):
    b = np.sort(np.array(bounds, dtype=np.int64))
    check(lambda M, s, a: M.searchsorted(s, a, right=right), b, np.array(values, dtype=np.int64),
          grad=False)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda M: M.searchsorted(M.tensor(5.0), M.tensor([1.0])), RuntimeError,
     "boundaries tensor should have positive dimension, but got 0 dimension"),
    (lambda M: M.searchsorted(M.tensor([[1.0, 2], [3, 4]]), M.tensor([[1.5], [3.5], [1]])), RuntimeError,
     "first N-1 dimensions of boundaries tensor and input value tensor must match"),
    (lambda M: M.searchsorted(M.tensor([[1.0, 2], [3, 4]]), M.tensor([1.5])), RuntimeError,
     "first N-1 dimensions"),
    (lambda M: M.searchsorted(M.tensor([1.0]), M.tensor([1.0]), side="left", right=True), RuntimeError,
     "side and right can't be set to opposites"),
    (lambda M: M.searchsorted(M.tensor([1.0]), M.tensor([1.0]), side="middle"), RuntimeError,
     "side can only be 'left' or 'right' but got middle"),
    (lambda M: M.searchsorted(M.tensor([5.0, 1, 3]), M.tensor([2.0]), sorter=M.tensor([1, 2])),
     RuntimeError, "boundary and sorter must have the same size"),
    (lambda M: M.searchsorted(M.tensor([5.0, 1, 3]), M.tensor([2.0]), sorter=M.tensor([1.0, 2, 0])),
     RuntimeError, "sorter must be a tensor of long dtype but got dtype Float"),
    (lambda M: M.searchsorted(M.tensor([5.0, 1, 3]), M.tensor([2.0]), sorter=M.tensor([1, 2, 5])),
     RuntimeError, "sorter index out of range"),
    (lambda M: M.searchsorted(M.tensor([False, True]), M.tensor([True])), NotImplementedError,
     "\"searchsorted_out_cpu\" not implemented for 'Bool'"),
    (lambda M: M.bucketize(M.tensor([3]), M.tensor([[1, 2]])), RuntimeError,
     "boundaries tensor must be 1 dimension, but got dim\\(2\\)"),
])
def test_searchsorted_errors(call, exc, msg):
    for M in (torch, pellucid):
        with pytest.raises(exc, match=msg):
            call(M)


def test_searchsorted_out():
    o = pellucid.empty(0, dtype=pellucid.int64)
    r = pellucid.searchsorted(pellucid.tensor([1.0, 2.0]), pellucid.tensor([1.5, 3.0]), out=o)
    assert r is o and o.tolist() == [1, 2]


# ---- quantile, nanquantile ----------------------------------------------------------------------------

INTERP = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", INTERP)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fname", ["quantile", "nanquantile"])
def test_quantile(interpolation, dtype, fname):
    x = RNG.standard_normal((4, 7, 3)).astype(dtype)
    qs = np.array([0.0, 0.1, 0.25, 0.5, 0.8, 1.0], dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else None
    for dim, keepdim in ((None, False), (None, True), (0, False), (1, True), (-1, False), (2, True)):
        check(lambda M, a: getattr(M, fname)(a, 0.3, dim, keepdim, interpolation=interpolation), x,
              tol=tol)
        check(lambda M, a, q: getattr(a, fname)(q, dim=dim, keepdim=keepdim,
                                                 interpolation=interpolation), x, qs, tol=tol)
        check(lambda M, a, q: getattr(M, fname)(a, q, dim, keepdim, interpolation=interpolation),
              x, np.array(0.6, dtype=dtype), tol=tol)


@pytest.mark.parametrize("interpolation", INTERP)
def test_quantile_nan(interpolation):
    x = RNG.standard_normal((5, 6))
    x[1, 2] = x[3, 0] = x[3, 4] = np.nan
    x[4, :] = np.nan
    q = np.array([0.0, 0.3, 0.5, 1.0])
    for fname in ("quantile", "nanquantile"):
        for dim in (None, 0, 1):
            check(lambda M, a, qq: getattr(M, fname)(a, qq, dim, interpolation=interpolation), x, q)


def test_quantile_nearest_rounds_half_to_even():
    check(lambda M, a, q: M.quantile(a, q, interpolation="nearest"), np.array([0.0, 1.0, 2.0, 3.0]),
          np.array([0.5 / 3, 1.5 / 3, 2.5 / 3]))


def test_quantile_0d_q_shapes_and_empty_q():
    check(lambda M, a: M.quantile(a, 0.5), np.array(3.0))
    check(lambda M, a, q: M.quantile(a, q, 0, True), np.array(3.0), np.array([0.2, 0.5]))
    check(lambda M, a, q: M.quantile(a, q, 1), RNG.standard_normal((2, 3)), np.zeros((0,)))
    check(lambda M, a: M.quantile(a, 1, 1), RNG.standard_normal((2, 3)))
    check(lambda M, a: M.quantile(a, True, 1), RNG.standard_normal((2, 3)))


def test_quantile_grad_through_q():
    x = RNG.standard_normal((3, 5))
    check(lambda M, a, q: M.quantile(a, q, 1), x, np.array([0.1, 0.45, 0.9]))


@pytest.mark.parametrize("call,msg", [
    (lambda M: M.quantile(M.tensor([1.0, 2.0]), 1.5), "q must be in the range \\[0, 1\\] but got 1.5"),
    (lambda M: M.nanquantile(M.tensor([1.0, 2.0]), -0.5), "q must be in the range \\[0, 1\\] but got -0.5"),
    (lambda M: M.quantile(M.tensor([1.0, 2.0]), M.tensor([0.5, 1.5])), "q values must be in the range"),
    (lambda M: M.quantile(M.tensor([1.0, 2.0]), M.tensor([[0.5]])), "q must be a scalar or 1D tensor"),
    (lambda M: M.quantile(M.tensor([1.0, 2.0]), M.tensor([0.5], dtype=M.float64)),
     "q tensor must be same dtype as the input tensor"),
    (lambda M: M.quantile(M.tensor([1, 2]), 0.5), "input tensor must be either float or double dtype"),
    (lambda M: M.quantile(M.tensor([1, 2], dtype=M.float16), 0.5), "input tensor must be either float or double dtype"),
    (lambda M: M.quantile(M.empty(0), 0.5), "input tensor must be non-empty"),
    (lambda M: M.quantile(M.empty(2, 0), 0.5, dim=0), "input tensor must be non-empty"),
    (lambda M: M.quantile(M.tensor([1.0, 2.0]), 0.5, interpolation="foo"),
     "interpolation must be one of linear, lower, higher, midpoint or nearest, but got foo"),
])
def test_quantile_errors(call, msg):
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="quantile\\(\\) " + msg):
            call(M)


# ---- isin --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("invert", [False, True])
def test_isin(invert):
    e = RNG.integers(0, 10, size=(3, 4))
    t = np.array([[1, 3], [9, 20]])
    check(lambda M, a, b: M.isin(a, b, invert=invert), e, t, grad=False)
    check(lambda M, a, b: M.isin(a, b, assume_unique=True, invert=invert), e, np.array([2, 5, 7]),
          grad=False)
    check(lambda M, a, b: M.isin(a, b, invert=invert), e, t.astype(np.float32) + 0.5, grad=False)
    check(lambda M, a: M.isin(a, 3, invert=invert), e, grad=False)
    check(lambda M, b: M.isin(3, b, invert=invert), e, grad=False)
    check(lambda M, a, b: M.isin(a, b, invert=invert), np.array([np.nan, 1.0, 0.1]),
          np.array([np.nan, 0.1]), grad=False)
    check(lambda M, a: M.isin(a, 0.1, invert=invert), np.array([0.1, 0.2], dtype=np.float32), grad=False)
    check(lambda M, a, b: M.isin(a, b), np.zeros((0, 2)), np.array([1.0]), grad=False)


def test_isin_errors():
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="Unsupported input type encountered for isin\\(\\): Bool"):
            M.isin(M.tensor([True, False]), M.tensor([True]))
        with pytest.raises(TypeError):
            M.isin(2, 3)
        with pytest.raises(TypeError):
            M.isin(M.tensor([1, 2]), [1])


def test_quantile_out():
    x = RNG.standard_normal((3, 4))
    o = pellucid.empty(0, dtype=pellucid.float64)
    r = pellucid.quantile(pellucid.tensor(x), 0.25, 1, out=o)
    assert r is o
    np.testing.assert_allclose(o.numpy(), torch.quantile(torch.tensor(x), 0.25, 1).numpy(), rtol=1e-12)


# ---- random shapes ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_selection_random_shapes(shape, data):
    x = distinct(*shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(1, shape[dim]))
    flag = data.draw(st.booleans())
    check(lambda M, a: M.sort(a, dim, flag), x)
    check(lambda M, a: M.topk(a, k, dim, flag), x)
    check(lambda M, a: M.kthvalue(a, k, dim, flag), x)
    check(lambda M, a: M.quantile(a, 0.4, dim, flag), x)
    check(lambda M, a: M.mode(a.round(), dim, flag), np.floor(x / 2))


def test_searchsorted_nd_empty():
    check(lambda M, s, a: M.searchsorted(s, a), np.array([[1.0, 2.0], [0.0, 5.0]]), np.zeros((2, 0)),
          grad=False)
    check(lambda M, s, a: M.searchsorted(s, a, right=True), np.zeros((2, 0)), np.ones((2, 3)),
          grad=False)
    check(lambda M, s, a: M.searchsorted(s, a), np.zeros((0, 3)), np.ones((0, 2)), grad=False)
