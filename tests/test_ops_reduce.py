"""Reductions against PyTorch: values, dtypes, shapes and gradients of (out * w).sum(), for
float32 and float64, contiguous and permuted inputs, keepdim, negative and tuple dims; finite
difference checks of first and second derivatives; shapes over random dims with hypothesis."""
import math
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11),
       np.float16: dict(rtol=2e-3, atol=2e-3)}


def _tol(arr):
    return TOL.get(arr.dtype.type, dict(rtol=0, atol=0))


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach())


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _pair(arr, grad, noncontig):
    """(pellucid leaf, torch leaf, pellucid input, torch input); with noncontig the op gets a
    permuted (non-contiguous) view of the leaf."""
    grad = grad and arr.dtype.kind == "f"
    if noncontig and arr.ndim >= 2:
        rev = tuple(reversed(range(arr.ndim)))
        base = np.ascontiguousarray(arr.transpose(rev))
        pl = pellucid.tensor(base.copy(), requires_grad=grad)
        tl = torch.tensor(base.copy(), requires_grad=grad)
        pin, tin = pl.permute(*rev), tl.permute(*rev)
        assert not pin.is_contiguous()
        return pl, tl, pin, tin
    pl = pellucid.tensor(arr.copy(), requires_grad=grad)
    tl = torch.tensor(arr.copy(), requires_grad=grad)
    return pl, tl, pl, tl


def check(fn_p, fn_t, *arrays, grad=True, noncontig=False, tol=None, seed=0):
    """Run both, compare every output (shape, dtype, values) and the gradients of
    sum(out * w) with respect to every floating input."""
    rng = np.random.default_rng(seed)
    pairs = [_pair(a, grad, noncontig) for a in arrays]
    out_p = _flat(fn_p(*[p[2] for p in pairs]))
    out_t = _flat(fn_t(*[p[3] for p in pairs]))
    assert len(out_p) == len(out_t)
    loss_p = loss_t = None
    for i, (op, ot) in enumerate(zip(out_p, out_t)):
        assert tuple(op.shape) == tuple(ot.shape), f"output {i}: shape {tuple(op.shape)} != {tuple(ot.shape)}"
        assert op.dtype.name == str(ot.dtype).split(".")[-1], f"output {i}: dtype {op.dtype} != {ot.dtype}"
        np.testing.assert_allclose(_np(op).astype(np.float64), _np(ot).astype(np.float64),
                                   equal_nan=True, err_msg=f"output {i}", **(tol or _tol(_np(ot))))
        if grad and ot.requires_grad:
            w = rng.standard_normal(tuple(ot.shape)).astype(_np(ot).dtype)
            lp = (op * pellucid.tensor(w)).sum()
            lt = (ot * torch.tensor(w)).sum()
            loss_p = lp if loss_p is None else loss_p + lp
            loss_t = lt if loss_t is None else loss_t + lt
    if loss_t is None:
        return out_p
    loss_p.backward()
    loss_t.backward()
    for i, (pl, tl, _, _) in enumerate(pairs):
        if tl.grad is None:
            assert pl.grad is None or not np.any(_np(pl.grad)), f"input {i}: unexpected gradient"
            continue
        assert pl.grad is not None, f"input {i}: no gradient"
        assert tuple(pl.grad.shape) == tuple(tl.grad.shape)
        np.testing.assert_allclose(_np(pl.grad), _np(tl.grad), equal_nan=True,
                                   err_msg=f"gradient of input {i}", **(tol or _tol(_np(tl.grad))))
    return out_p


def rand(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def leaf(arr):
    return pellucid.tensor(arr, requires_grad=True)


FLOATS = [np.float32, np.float64]
SHAPE = (3, 4, 5)
DIMS = [None, 0, -1, 2, (0, 2), [1, -1], (-3, -2, -1)]
INT_DIMS = [0, 1, -1, -2]


# ---- dim-wise reductions over every dim spec, keepdim, dtype and layout --------------------

def _dimmed(name, **kw):
    def fp(x, dim, keepdim):
        f = getattr(pellucid, name)
        return f(x, **kw) if dim is None else f(x, dim, keepdim=keepdim, **kw)

    def ft(x, dim, keepdim):
        f = getattr(torch, name)
        if dim is None:
            return f(x, **kw)
        return f(x, list(dim) if isinstance(dim, list) else dim, keepdim=keepdim, **kw)
    return fp, ft


DIM_OPS = {
    "sum": _dimmed("sum"),
    "mean": _dimmed("mean"),
    "amax": _dimmed("amax"),
    "amin": _dimmed("amin"),
    "nansum": _dimmed("nansum"),
    "nanmean": _dimmed("nanmean"),
    "var": _dimmed("var"),
    "std": _dimmed("std"),
    "var_c0": _dimmed("var", correction=0),
    "std_c2": _dimmed("std", correction=2),
    "logsumexp": (lambda x, d, k: pellucid.logsumexp(x, (0, 1, 2) if d is None else d, keepdim=k),
                  lambda x, d, k: torch.logsumexp(x, (0, 1, 2) if d is None else d, keepdim=k)),
    "norm2": (lambda x, d, k: pellucid.norm(x, 2, d, k), lambda x, d, k: torch.norm(x, 2, d, k)),
    "norm1": (lambda x, d, k: pellucid.norm(x, 1, d, k), lambda x, d, k: torch.norm(x, 1, d, k)),
    "norm3": (lambda x, d, k: pellucid.norm(x, 3, d, k), lambda x, d, k: torch.norm(x, 3, d, k)),
    "norm_half": (lambda x, d, k: pellucid.norm(x, 0.5, d, k), lambda x, d, k: torch.norm(x, 0.5, d, k)),
    "norm_inf": (lambda x, d, k: pellucid.linalg.vector_norm(x, math.inf, d, k),
                 lambda x, d, k: torch.linalg.vector_norm(x, math.inf, d, k)),
    "norm_ninf": (lambda x, d, k: pellucid.linalg.vector_norm(x, -math.inf, d, k),
                  lambda x, d, k: torch.linalg.vector_norm(x, -math.inf, d, k)),
    "norm0": (lambda x, d, k: pellucid.linalg.vector_norm(x, 0, d, k),
              lambda x, d, k: torch.linalg.vector_norm(x, 0, d, k)),
}


@pytest.mark.parametrize("name", sorted(DIM_OPS))
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_reductions(name, dim, keepdim):
    fp, ft = DIM_OPS[name]
    for dt, nc in ((np.float32, False), (np.float64, True)):
        x = rand(*SHAPE, dtype=dt, seed=zlib.crc32(f"{name}{dim}".encode()))
        if name.startswith("nan"):
            x[0, 1, :2] = np.nan
            x[2, :, 3] = np.nan
        check(lambda a: fp(a, dim, keepdim), lambda a: ft(a, dim, keepdim), x, noncontig=nc)


@pytest.mark.parametrize("dim", [None] + INT_DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dt", FLOATS)
def test_prod(dim, keepdim, dt):
    x = rand(*SHAPE, dtype=dt, seed=3)
    kw = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    check(lambda a: a.prod(**kw), lambda a: a.prod(**kw), x, noncontig=dt is np.float64)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_gradient_with_zeros(dim):
    # one zero, two zeros and no zero in different slices
    x = rand(4, 5, seed=7)
    x[0, 1] = 0
    x[1, 2] = x[1, 4] = 0
    x[3, 0] = 0
    kw = {} if dim is None else dict(dim=dim)
    check(lambda a: a.prod(**kw), lambda a: a.prod(**kw), x)
    one = rand(6, seed=8)
    one[2] = 0
    out = check(lambda a: a.prod(), lambda a: a.prod(), one)
    assert out[0].item() == 0


@pytest.mark.parametrize("name", ["max", "min", "median", "nanmedian"])
@pytest.mark.parametrize("dim", INT_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_value_index_reductions(name, dim, keepdim):
    for dt, nc in ((np.float32, True), (np.float64, False)):
        x = rand(*SHAPE, dtype=dt, seed=11)
        if name == "nanmedian":
            x[1, 2, :3] = np.nan
        out = check(lambda a: getattr(pellucid, name)(a, dim, keepdim),
                    lambda a: getattr(torch, name)(a, dim, keepdim), x, noncontig=nc)
        assert out[1].dtype == pellucid.int64


@pytest.mark.parametrize("name", ["max", "min", "median", "nanmedian", "amax", "amin"])
def test_full_value_reductions(name):
    for dt in FLOATS:
        check(lambda a: getattr(pellucid, name)(a), lambda a: getattr(torch, name)(a),
              rand(*SHAPE, dtype=dt, seed=5), noncontig=dt is np.float64)


def test_return_types_have_named_fields():
    x = pellucid.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    r = x.max(1)
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 0]
    values, indices = x.min(dim=0)
    assert values.tolist() == [1.0, 0.0, 2.0] and indices.tolist() == [0, 1, 0]
    assert r[0] is r.values and len(r) == 2
    assert repr(r).startswith("pellucid.return_types.max(\nvalues=")
    m = pellucid.median(x, 1)
    assert m.values.tolist() == [2.0, 3.0] and m.indices.tolist() == [2, 2]
    mm = pellucid.aminmax(x, dim=1)
    assert mm.min.tolist() == [1.0, 0.0] and mm.max.tolist() == [5.0, 7.0]


def test_binary_max_min_are_elementwise():
    a, b = rand(3, 4, seed=1), rand(3, 4, seed=2)
    check(lambda x, y: pellucid.max(x, y), lambda x, y: torch.max(x, y), a, b)
    check(lambda x, y: x.min(y), lambda x, y: x.min(y), a, b)


def test_ties_split_gradient_evenly():
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]])
    for name in ("max", "amax", "amin", "min"):
        check(lambda a: getattr(pellucid, name)(a), lambda a: getattr(torch, name)(a), x)
    check(lambda a: pellucid.amax(a, 1), lambda a: torch.amax(a, 1), x)
    check(lambda a: pellucid.amin(a, (0, 1), keepdim=True), lambda a: torch.amin(a, (0, 1), keepdim=True), x)
    check(lambda a: pellucid.aminmax(a), lambda a: torch.aminmax(a), x)
    check(lambda a: pellucid.aminmax(a, dim=0, keepdim=True), lambda a: torch.aminmax(a, dim=0, keepdim=True), x)
    t = leaf(x)
    t.max().backward()
    assert t.grad.tolist() == [[0.0, 1 / 3, 1 / 3], [1 / 3, 0.0, 0.0]]


def test_max_with_dim_picks_first_of_ties_and_propagates_nan():
    x = np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, 2.0]])
    check(lambda a: a.max(1), lambda a: a.max(1), x)
    check(lambda a: a.min(1), lambda a: a.min(1), x)
    check(lambda a: a.argmax(1), lambda a: a.argmax(1), x, grad=False)
    check(lambda a: a.median(1), lambda a: a.median(1), np.array([[1.0, np.nan, 3.0, np.nan]]))
    check(lambda a: a.nanmedian(1), lambda a: a.nanmedian(1), np.array([[1.0, np.nan, 3.0, 0.0]]))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None] + INT_DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(name, dim, keepdim):
    x = rand(*SHAPE, seed=2)
    out = check(lambda a: getattr(a, name)(dim, keepdim), lambda a: getattr(a, name)(dim, keepdim), x,
                noncontig=True)
    assert out[0].dtype == pellucid.int64 and out[0].grad_fn is None
    ints = np.random.default_rng(0).integers(-5, 5, (4, 6)).astype(np.int32)
    check(lambda a: getattr(a, name)(dim if dim != -2 else 0), lambda a: getattr(a, name)(dim if dim != -2 else 0),
          ints, grad=False)


# ---- var / std forms --------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m, x: m.var(x, 1, True),
    lambda m, x: m.var(x, 1, False, True),
    lambda m, x: m.std(x, False),
    lambda m, x: m.std(x, dim=(0, 2), unbiased=True, keepdim=True),
    lambda m, x: m.var(x, dim=-1, correction=0),
    lambda m, x: m.std(x, correction=1.5),
    lambda m, x: m.var_mean(x, 1),
    lambda m, x: m.var_mean(x, (0, -1), correction=0, keepdim=True),
    lambda m, x: m.std_mean(x),
    lambda m, x: m.std_mean(x, -2, keepdim=True),
])
def test_var_std_call_forms(call):
    for dt in FLOATS:
        check(lambda a: call(pellucid, a), lambda a: call(torch, a), rand(*SHAPE, dtype=dt, seed=4),
              noncontig=dt is np.float64)


def test_std_gradient_is_zero_for_constant_slices():
    x = np.ones((2, 3))
    x[1] = [1.0, 2.0, 4.0]
    check(lambda a: a.std(1), lambda a: a.std(1), x)
    check(lambda a: pellucid.std_mean(a, 1), lambda a: torch.std_mean(a, 1), x)


def test_var_with_too_few_elements_is_nan():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        v = pellucid.var(pellucid.tensor([1.0]))
    assert math.isnan(v.item())


# ---- norms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 0, math.inf, -math.inf, -1, "fro"], ids=str)
def test_norm_full(p):
    for dt in FLOATS:
        check(lambda a: a.norm(p), lambda a: a.norm(p), rand(*SHAPE, dtype=dt, seed=9), noncontig=True)


def test_norm_gradient_at_zero_is_zero_not_nan():
    for p in (2, 3, 1.5, math.inf):
        z = np.zeros((2, 3))
        z[1] = [1.0, -2.0, 0.5]
        check(lambda a: pellucid.norm(a, p, 1), lambda a: torch.norm(a, p, 1), z)
        t = leaf(np.zeros(3))
        pellucid.linalg.vector_norm(t, p).backward()
        assert t.grad.tolist() == [0.0, 0.0, 0.0]


def test_norm_nuc_and_dtype():
    x = rand(4, 3, seed=1)
    check(lambda a: a.norm("nuc"), lambda a: a.norm("nuc"), x)
    check(lambda a: pellucid.norm(a, "fro", (0, 1), True), lambda a: torch.norm(a, "fro", (0, 1), True), x)
    x32 = rand(4, 3, dtype=np.float32)
    check(lambda a: pellucid.linalg.vector_norm(a, dtype=pellucid.float64),
          lambda a: torch.linalg.vector_norm(a, dtype=torch.float64), x32)


# ---- softmax, log_softmax, logsumexp ----------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", INT_DIMS + [2])
def test_softmax(name, dim):
    for dt in FLOATS:
        x = rand(*SHAPE, dtype=dt, seed=6) * 3
        check(lambda a: getattr(a, name)(dim), lambda a: getattr(a, name)(dim), x, noncontig=dt is np.float32)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_stable_and_takes_dtype(name):
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1002.0]], dtype=np.float32)
    out = check(lambda a: getattr(pellucid, name)(a, 1), lambda a: getattr(torch, name)(a, 1), x)
    assert np.isfinite(_np(out[0])).all()
    check(lambda a: getattr(pellucid, name)(a, -1, dtype=pellucid.float64),
          lambda a: getattr(torch, name)(a, -1, dtype=torch.float64), rand(2, 3, dtype=np.float32))
    check(lambda a: getattr(pellucid, name)(a, 0, pellucid.float32),
          lambda a: getattr(torch, name)(a, 0, torch.float32), np.arange(6).reshape(2, 3), grad=False)


def test_softmax_backward_uses_saved_output():
    x = leaf(rand(2, 3))
    y = x.softmax(1)
    assert y.grad_fn.name() == "SoftmaxBackward0"
    assert y.grad_fn.saved is None and y.grad_fn.out_data is not None


def test_logsumexp_is_stable():
    x = np.array([[1e4, 1e4 + 1.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    check(lambda a: pellucid.logsumexp(a, 1), lambda a: torch.logsumexp(a, 1), x[:1])
    out = pellucid.logsumexp(pellucid.tensor(x), 1)
    assert out.tolist()[1] == -math.inf
    check(lambda a: pellucid.logsumexp(a, 0), lambda a: torch.logsumexp(a, 0),
          np.arange(6).reshape(2, 3), grad=False)


# ---- cumulative ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", INT_DIMS + [2])
def test_cumulative(name, dim):
    for dt in FLOATS:
        check(lambda a: getattr(a, name)(dim), lambda a: getattr(a, name)(dim),
              rand(*SHAPE, dtype=dt, seed=12), noncontig=dt is np.float64)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_gradient_with_zeros(dim):
    x = rand(4, 5, seed=13)
    x[1, 1] = 0
    x[2, 0] = x[2, 3] = 0
    x[0, 4] = 0
    check(lambda a: a.cumprod(dim), lambda a: a.cumprod(dim), x)


def test_cumulative_dtypes():
    i32 = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
    check(lambda a: a.cumsum(1), lambda a: a.cumsum(1), i32, grad=False)
    check(lambda a: a.cumprod(0), lambda a: a.cumprod(0), i32, grad=False)
    check(lambda a: a.cumsum(1, dtype=pellucid.float64), lambda a: a.cumsum(1, dtype=torch.float64), i32)
    check(lambda a: a.cumsum(0), lambda a: a.cumsum(0), np.array([True, False, True]), grad=False)


# ---- logical and counting -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), ()], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any(name, dim, keepdim):
    x = (rand(*SHAPE, seed=14) > 0.8)
    kw = {} if dim is None else dict(dim=dim, keepdim=keepdim)
    for arr in (x, x.astype(np.float32), x.astype(np.uint8)):
        check(lambda a: getattr(a, name)(**kw), lambda a: getattr(a, name)(**kw), arr, grad=False)


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)], ids=str)
def test_count_nonzero(dim):
    x = rand(*SHAPE, seed=15)
    x[x > 0.5] = 0
    check(lambda a: pellucid.count_nonzero(a, dim), lambda a: torch.count_nonzero(a, dim), x, grad=False)


# ---- dtypes --------------------------------------------------------------------------------------

def test_integer_and_bool_reduction_dtypes():
    i32 = np.arange(12, dtype=np.int32).reshape(3, 4)
    for f in (lambda m, a: m.sum(a), lambda m, a: m.sum(a, 1), lambda m, a: m.prod(a, 0),
              lambda m, a: m.nansum(a), lambda m, a: m.amax(a, 1), lambda m, a: m.max(a, 0),
              lambda m, a: m.sum(a, dtype=m.float64), lambda m, a: m.mean(a, 0, dtype=m.float32),
              lambda m, a: m.median(a, 1), lambda m, a: m.aminmax(a)):
        check(lambda a: f(pellucid, a), lambda a: f(torch, a), i32, grad=False)
    b = np.array([[True, False], [True, True]])
    check(lambda a: a.sum(), lambda a: a.sum(), b, grad=False)
    check(lambda a: a.prod(1), lambda a: a.prod(1), b, grad=False)


def test_sum_and_mean_dtype_argument():
    x = rand(3, 4, dtype=np.float32)
    check(lambda a: a.sum(1, dtype=pellucid.float64), lambda a: a.sum(1, dtype=torch.float64), x)
    check(lambda a: a.mean(dtype=pellucid.float64), lambda a: a.mean(dtype=torch.float64), x)
    check(lambda a: a.prod(0, dtype=pellucid.float64), lambda a: a.prod(0, dtype=torch.float64), x)


@pytest.mark.parametrize("call", [
    lambda m, x: x.sum(), lambda m, x: x.mean(), lambda m, x: x.sum(0), lambda m, x: x.cumsum(0),
    lambda m, x: x.var(), lambda m, x: x.std(0), lambda m, x: m.logsumexp(x, 0), lambda m, x: x.softmax(0),
    lambda m, x: x.log_softmax(0), lambda m, x: x.norm(), lambda m, x: x.nansum(), lambda m, x: x.nanmean(),
])
def test_float16_accumulates_in_float32(call):
    # 4096 * 0.1 in half-precision accumulation drifts far from 409.6; a float accumulator does not
    x = np.full((4096,), 0.1, dtype=np.float16)
    x[::3] = 0.3
    check(lambda a: call(pellucid, a), lambda a: call(torch, a), x, grad=False)


def test_float16_sum_is_accurate():
    s = pellucid.tensor(np.full(5000, 0.1, dtype=np.float16)).sum()
    assert s.dtype == pellucid.float16 and abs(s.item() - 500) < 0.5


# ---- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda x: x.sum(2), lambda x: x.mean(-3), lambda x: x.amax((0, 5)), lambda x: x.max(2),
    lambda x: x.argmax(2), lambda x: x.var(2), lambda x: x.softmax(2), lambda x: x.cumsum(2),
    lambda x: x.norm(2, 3), lambda x: x.logsumexp(2), lambda x: x.median(2), lambda x: x.prod(2),
    lambda x: x.all(2), lambda x: x.count_nonzero(2),
])
def test_out_of_range_dim_raises_index_error(call):
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got"):
        call(pellucid.ones(2, 3))


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="mean.*Long|mean.*Int"):
        pellucid.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="var"):
        pellucid.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="max.*numel\\(\\) == 0"):
        pellucid.ones(0, 3).max()
    with pytest.raises(IndexError, match="max.*dim 0.*non-zero size"):
        pellucid.ones(0, 3).max(0)
    with pytest.raises(RuntimeError, match="argmax"):
        pellucid.ones(0).argmax()
    with pytest.raises(RuntimeError, match="vector_norm.*floating"):
        pellucid.linalg.vector_norm(pellucid.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="softmax.*floating"):
        pellucid.tensor([1, 2]).softmax(0)
    with pytest.raises(RuntimeError, match="dim.*multiple times"):
        pellucid.ones(2, 3).sum((0, -2))


def test_zero_dim_tensors_accept_dim_zero():
    for f in (lambda m, a: m.sum(a, 0), lambda m, a: m.max(a, 0), lambda m, a: m.softmax(a, 0),
              lambda m, a: m.cumsum(a, -1), lambda m, a: m.amax(a, 0), lambda m, a: m.argmax(a, 0),
              lambda m, a: m.logsumexp(a, 0), lambda m, a: m.prod(a, 0)):
        check(lambda a: f(pellucid, a), lambda a: f(torch, a), np.array(1.5))


def test_out_argument_is_written():
    out = pellucid.zeros(4)
    r = pellucid.sum(pellucid.ones(3, 4), 0, out=out)
    assert r is out and out.tolist() == [3.0] * 4


def test_tensor_methods_exist():
    names = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
             "norm", "logsumexp", "cumsum", "cumprod", "all", "any", "count_nonzero", "softmax",
             "log_softmax", "median", "nanmedian", "nansum", "nanmean", "aminmax", "sum_to_size"]
    x = pellucid.tensor(rand(2, 3))
    for n in names:
        assert callable(getattr(x, n)), n


def test_sum_to_size():
    check(lambda a: a.sum_to_size(1, 4), lambda a: a.sum_to_size(1, 4), rand(3, 4))
    check(lambda a: a.sum_to_size((3, 1)), lambda a: a.sum_to_size((3, 1)), rand(2, 3, 4))


def test_grad_fn_names_match_pytorch():
    x = leaf(rand(2, 3))
    pairs = [(x.sum(), "SumBackward0"), (x.sum(1), "SumBackward1"), (x.mean(), "MeanBackward0"),
             (x.max(), "MaxBackward1"), (x.max(1)[0], "MaxBackward0"), (x.var(), "VarBackward0"),
             (x.norm(), "LinalgVectorNormBackward0"), (x.softmax(1), "SoftmaxBackward0"),
             (x.logsumexp(1), "LogsumexpBackward0"), (x.median(), "MedianBackward0"),
             (x.median(1)[0], "MedianBackward1"), (x.cumsum(1), "CumsumBackward0")]
    for t, name in pairs:
        assert t.grad_fn.name() == name


# ---- finite differences --------------------------------------------------------------------------

def _with_zeros():
    x = rand(3, 4, seed=21)
    x[0, 1] = 0
    x[2, 2] = 0
    return x


GRADCHECK = {
    "sum": lambda a: a.sum((0, 1), keepdim=True),
    "mean": lambda a: a.mean(-1),
    "prod": lambda a: a.prod(1),
    "prod_all": lambda a: a.prod(),
    "max": lambda a: a.max(),
    "max_dim": lambda a: a.max(1).values,
    "min_dim": lambda a: a.min(0, keepdim=True).values,
    "amax": lambda a: a.amax(0),
    "amin": lambda a: a.amin((0, 1)),
    "aminmax": lambda a: pellucid.aminmax(a, dim=1),
    "median": lambda a: a.median(),
    "median_dim": lambda a: a.median(1).values,
    "nanmedian_dim": lambda a: a.nanmedian(0).values,
    "var": lambda a: a.var(1),
    "std": lambda a: a.std(0, keepdim=True),
    "var_mean": lambda a: pellucid.var_mean(a, 1),
    "std_mean": lambda a: pellucid.std_mean(a, 0),
    "norm2": lambda a: a.norm(),
    "norm3": lambda a: a.norm(3, 1),
    "norm1": lambda a: a.norm(1, 0),
    "norm_inf": lambda a: pellucid.linalg.vector_norm(a, math.inf, 1),
    "norm_half": lambda a: a.norm(0.5),
    "logsumexp": lambda a: a.logsumexp(1),
    "cumsum": lambda a: a.cumsum(1),
    "cumprod": lambda a: a.cumprod(0),
    "softmax": lambda a: a.softmax(1),
    "log_softmax": lambda a: a.log_softmax(0),
    "nansum": lambda a: a.nansum(1),
    "nanmean": lambda a: a.nanmean(0),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck(name):
    assert gradcheck(GRADCHECK[name], (leaf(rand(3, 4, seed=20)),))


@pytest.mark.parametrize("name", ["prod", "prod_all", "cumprod", "cumprod1"])
def test_gradcheck_with_zeros(name):
    f = GRADCHECK.get(name, lambda a: a.cumprod(1))
    assert gradcheck(f, (leaf(_with_zeros()),))


GRADGRAD = {
    "sum": lambda a: (a.sum(1) ** 2),
    "mean": lambda a: a.mean(0, keepdim=True) ** 2,
    "prod": lambda a: a.prod(1),
    "prod_zero": lambda a: a.prod(1),
    "softmax": lambda a: a.softmax(1),
    "log_softmax": lambda a: a.log_softmax(0),
    "logsumexp": lambda a: a.logsumexp(1),
    "var": lambda a: a.var(1),
    "std": lambda a: a.std(0),
    "norm": lambda a: a.norm(),
    "norm3": lambda a: a.norm(3, 1),
    "cumsum": lambda a: a.cumsum(1) ** 2,
    "cumprod": lambda a: a.cumprod(1),
    "cumprod_zero": lambda a: a.cumprod(1),
    "prod_two_zeros": lambda a: a.prod(1),
    "prod_all_two_zeros": lambda a: a.prod(),
    "cumprod_two_zeros": lambda a: a.cumprod(1),
}


@pytest.mark.parametrize("name", sorted(GRADGRAD))
def test_gradgradcheck(name):
    x = rand(2, 3, seed=22)
    if name.endswith("_zero"):
        x[0, 1] = 0
    if name.endswith("_two_zeros"):
        x[0, 0] = x[0, 2] = 0
    assert gradgradcheck(GRADGRAD[name], (leaf(x),))


# ---- shapes over random dims (hypothesis) ----------------------------------------------------------

SHAPE_OPS = {
    "sum": lambda m, x, d, k: m.sum(x, d, keepdim=k),
    "mean": lambda m, x, d, k: m.mean(x, d, keepdim=k),
    "amax": lambda m, x, d, k: m.amax(x, d, keepdim=k),
    "var": lambda m, x, d, k: m.var(x, d, correction=0, keepdim=k),
    "std": lambda m, x, d, k: m.std(x, d, correction=0, keepdim=k),
    "any": lambda m, x, d, k: m.any(x, d, keepdim=k),
    "norm": lambda m, x, d, k: m.linalg.vector_norm(x, 2, d, keepdim=k),
    "nansum": lambda m, x, d, k: m.nansum(x, d, keepdim=k),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, d, keepdim=k),
}


@st.composite
def _shape_and_dims(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    n = len(shape)
    dims = draw(st.lists(st.integers(0, max(n - 1, 0)), unique=True, max_size=n)) if n else []
    dims = tuple(d - n if draw(st.booleans()) else d for d in dims)
    return shape, dims, draw(st.booleans()), draw(st.sampled_from(sorted(SHAPE_OPS)))


@settings(max_examples=150, deadline=None)
@given(_shape_and_dims())
def test_reduction_shapes_match_torch(case):
    shape, dims, keepdim, name = case
    if name == "logsumexp" and not dims:
        dims = tuple(range(len(shape))) or (0,)
    x = np.random.default_rng(0).standard_normal(shape)
    f = SHAPE_OPS[name]
    out_t = f(torch, torch.tensor(x), dims, keepdim)
    out_p = f(pellucid, pellucid.tensor(x), dims, keepdim)
    assert tuple(out_p.shape) == tuple(out_t.shape)
    assert out_p.dtype.name == str(out_t.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(out_p), _np(out_t).astype(np.float64), rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data())
def test_single_dim_reduction_shapes_match_torch(shape, data):
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1))
    keepdim = data.draw(st.booleans())
    x = np.random.default_rng(1).standard_normal(shape)
    for name in ("max", "median", "argmin", "cumsum", "softmax", "prod"):
        fp, ft = getattr(pellucid, name), getattr(torch, name)
        if name in ("cumsum", "softmax"):
            rp, rt = fp(pellucid.tensor(x), dim), ft(torch.tensor(x), dim)
        else:
            rp, rt = fp(pellucid.tensor(x), dim, keepdim), ft(torch.tensor(x), dim, keepdim)
        for a, b in zip(_flat(rp), _flat(rt)):
            assert tuple(a.shape) == tuple(b.shape), name
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12, err_msg=name)
