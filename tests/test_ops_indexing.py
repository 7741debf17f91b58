"""Indexing against PyTorch (and NumPy where they agree): __getitem__/__setitem__ with every kind
of index, gather/scatter, index_*, masked_*, take, put, nonzero; gradients, errors, views."""
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach())


def _outs(o):
    return list(o) if isinstance(o, (tuple, list)) else [o]


def _convert(a, M, dtype):
    """A NumPy array as an M tensor (floating arrays in `dtype`, requiring grad); other
    arguments pass through, index arrays become int64 tensors."""
    if isinstance(a, np.ndarray):
        if a.dtype.kind == "f":
            t = M.tensor(a.astype(dtype))
            t.requires_grad_()
            return t
        return M.tensor(a)
    return a


def check(fn, *arrays, dtype=np.float32, grad=True):
    """fn(M, *inputs) for M = torch and pellucid: same values, dtypes, shapes and gradients of
    sum((out * w).sum()) for every floating input."""
    p_in = [_convert(a, pellucid, dtype) for a in arrays]
    t_in = [_convert(a, torch, dtype) for a in arrays]
    p_out, t_out = _outs(fn(pellucid, *p_in)), _outs(fn(torch, *t_in))
    assert len(p_out) == len(t_out)
    for i, (po, to) in enumerate(zip(p_out, t_out)):
        assert tuple(po.shape) == tuple(to.shape), f"output {i}: shape {tuple(po.shape)} != {tuple(to.shape)}"
        assert po.dtype.name == str(to.dtype).split(".")[-1], f"output {i}: dtype {po.dtype} != {to.dtype}"
        np.testing.assert_allclose(_np(po), _np(to), rtol=1e-6, atol=1e-6, err_msg=f"output {i}")
    if not grad:
        return p_out, t_out
    p_loss = t_loss = None
    for po, to in zip(p_out, t_out):
        if not to.requires_grad:
            continue
        w = RNG.standard_normal(tuple(to.shape)).astype(_np(to).dtype)
        pl, tl = (po * pellucid.tensor(w)).sum(), (to * torch.tensor(w)).sum()
        p_loss = pl if p_loss is None else p_loss + pl
        t_loss = tl if t_loss is None else t_loss + tl
    if t_loss is not None:
        p_loss.backward()
        t_loss.backward()
    for i, (pi, ti) in enumerate(zip(p_in, t_in)):
        if isinstance(ti, torch.Tensor) and ti.requires_grad:
            if ti.grad is None:
                assert pi.grad is None, f"input {i}: unexpected gradient"
            else:
                assert pi.grad is not None, f"input {i}: no gradient"
                np.testing.assert_allclose(_np(pi.grad), _np(ti.grad), rtol=1e-5, atol=1e-5,
                                           err_msg=f"grad of input {i}")
    return p_out, t_out


def rand(*shape):
    return RNG.standard_normal(shape)


IDX = np.array([2, 0, 2])      # repeated on purpose: gradients must accumulate
MASK = np.array([True, False, True])
MASK2 = RNG.random((3, 4)) > 0.5


# ---- __getitem__ -----------------------------------------------------------------------------------
GETITEM_CASES = [
    ("int", lambda M, x: x[1]),
    ("neg_int", lambda M, x: x[-1]),
    ("two_ints", lambda M, x: x[1, -2]),
    ("all_ints", lambda M, x: x[0, 1, 2]),
    ("slice", lambda M, x: x[1:]),
    ("slice_step", lambda M, x: x[:, ::2]),
    ("slice_neg", lambda M, x: x[-2:, 1:-1, -4:-1:2]),
    ("slice_oob", lambda M, x: x[1:10, 5:]),
    ("none", lambda M, x: x[None]),
    ("none_mid", lambda M, x: x[:, None, 1]),
    ("ellipsis", lambda M, x: x[..., 1]),
    ("ellipsis_mid", lambda M, x: x[1, ..., None, 2]),
    ("true", lambda M, x: x[True]),
    ("false", lambda M, x: x[:, False]),
    ("list", lambda M, x: x[[2, 0, 2]]),
    ("list_neg", lambda M, x: x[:, [-1, 0]]),
    ("ndarray", lambda M, x: x[IDX]),
    ("tensor", lambda M, x: x[M.tensor([2, 0, 2])]),
    ("tensor_2d", lambda M, x: x[:, M.tensor([[0, 1], [3, 3]])]),
    ("int32_tensor", lambda M, x: x[M.tensor([1, 0], dtype=M.int32)]),
    ("zero_dim_tensor", lambda M, x: x[M.tensor(1)]),
    ("zero_dim_tensor_pair", lambda M, x: x[M.tensor(1), M.tensor(-1)]),
    ("mask_tensor", lambda M, x: x[M.tensor(MASK)]),
    ("mask_list", lambda M, x: x[[True, False, True]]),
    ("mask_2d", lambda M, x: x[M.tensor(MASK2)]),
    ("mask_full", lambda M, x: x[x > 0]),
    ("mask_after_slice", lambda M, x: x[1:, M.tensor([True, False, True, True])]),
    ("mask_0d", lambda M, x: x[M.tensor(True)]),
    ("two_arrays", lambda M, x: x[[0, 2], [1, 3]]),
    ("broadcast_arrays", lambda M, x: x[[[0], [2]], [1, 3]]),
    ("arrays_with_slice", lambda M, x: x[[0, 2], :, [1, 4]]),
    ("arrays_adjacent", lambda M, x: x[:, [0, 2], [1, 4]]),
    ("int_then_array", lambda M, x: x[0, :, [0, 1]]),
    ("array_int_array", lambda M, x: x[[0, 1], 0, [1, 2]]),
    ("none_between_arrays", lambda M, x: x[[0, 1], None, [1, 2]]),
    ("array_then_none", lambda M, x: x[IDX, None]),
    ("ellipsis_array", lambda M, x: x[..., [0, 1], None]),
    ("empty_list", lambda M, x: x[[]]),
    ("tuple_of_lists", lambda M, x: x[([0, 1], [1, 2])]),
    ("list_as_tuple", lambda M, x: x[[[0, 1], [1, 2]]]),
    ("slice_tensor_bounds", lambda M, x: x[M.tensor(1):M.tensor(3)]),
]


@pytest.mark.parametrize("name,fn", GETITEM_CASES, ids=[c[0] for c in GETITEM_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_getitem_parity(name, fn, dtype):
    check(fn, rand(3, 4, 5), dtype=dtype)


def test_getitem_noncontiguous_input():
    for fn in (lambda M, x: x.transpose(0, 2)[1:, [0, 2]],
               lambda M, x: x.transpose(0, 2)[..., 1],
               lambda M, x: x.permute(1, 2, 0)[x.permute(1, 2, 0) > 0]):
        check(fn, rand(3, 4, 5))


def test_getitem_int_and_bool_tensors():
    a = np.arange(24).reshape(2, 3, 4)
    check(lambda M, x: x[1, [0, 2], 1:], a, grad=False)
    check(lambda M, x: (x > 10)[:, [2, 1]], a, grad=False)


def test_repeated_indices_accumulate():
    x = pellucid.zeros(3, requires_grad=True)
    x[[0, 0, 1, 0]].sum().backward()
    assert x.grad.tolist() == [3, 1, 0]


def test_basic_indexing_is_a_view_and_advanced_a_copy():
    x = pellucid.arange(12.).reshape(3, 4).clone()
    for v in (x[1], x[:, 1:3], x[None, ..., ::2], x[pellucid.tensor(1)], x[True]):
        assert v._base is x and np.shares_memory(v._data, x._data)
    for c in (x[[0, 1]], x[x > 3], x[:, pellucid.tensor([1])]):
        assert c._base is None and not np.shares_memory(c._data, x._data)
    x[1][2] = 100.0
    assert x[1, 2].item() == 100.0
    s = x[0]
    x[0, 0] = -1.0
    assert s[0].item() == -1.0


def test_getitem_errors_match_torch():
    x = pellucid.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        x[0, -5]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x[:, [0, 4]]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[pellucid.tensor([3])]
    with pytest.raises(IndexError, match="The shape of the mask \\[2\\] at index 0 does not match"):
        x[pellucid.tensor([True, False])]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(IndexError, match="must be long, int, byte or bool"):
        x[pellucid.tensor([1.0])]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[1.5]
    with pytest.raises(IndexError, match="0-dim"):
        pellucid.tensor(1.0)[0]


# ---- __setitem__ -------------------------------------------------------------------------------------
SETITEM_CASES = [
    ("int", lambda x: 1, (4, 5)),
    ("neg_int_pair", lambda x: (-1, 2), (5,)),
    ("slice_step", lambda x: (slice(None), slice(None, None, 2)), (3, 2, 5)),
    ("broadcast_value", lambda x: (slice(1, None),), (5,)),
    ("leading_ones_value", lambda x: 0, (1, 4, 5)),
    ("ellipsis_none", lambda x: (Ellipsis, None, 1), (1,)),
    ("mask", lambda x: x > 0, ()),
    ("mask_rows", lambda x: _mask_rows(x), (4, 5)),
    ("int_list", lambda x: [2, 0], (2, 4, 5)),
    ("int_tensor_and_slice", lambda x: (slice(None), _long(x, [3, 1]), 0), (3, 2)),
    ("int_then_array", lambda x: (0, slice(None), _long(x, [0, 1])), (4, 2)),
]


def _long(x, values):
    return (pellucid if isinstance(x, pellucid.Tensor) else torch).tensor(values)


def _mask_rows(x):
    return (pellucid if isinstance(x, pellucid.Tensor) else torch).tensor([True, False, True])


@pytest.mark.parametrize("name,index,value_shape", SETITEM_CASES, ids=[c[0] for c in SETITEM_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_setitem_parity_with_gradients(name, index, value_shape, dtype):
    def fn(M, a, v):
        b = a * 1                       # a non-leaf: writing into it extends the graph
        b[index(b)] = v
        return b
    check(fn, rand(3, 4, 5), rand(*value_shape), dtype=dtype)


def test_setitem_scalars_and_casts():
    def fn(M, a):
        b = a.clone()
        b[0] = 1.5
        b[:, 1] = 2                     # int into float
        b[b > 1] = M.tensor(7.0, dtype=M.float64)   # float64 value cast to float32
        b[[1, 2], [0, 0]] = M.tensor([3.0, 4.0])
        return b
    check(fn, rand(3, 4))

    def ints(M, a):
        b = a.clone()
        b[0] = 2.7                      # truncated like PyTorch
        b[1:, 1] = M.tensor([1.9, -1.9])
        b[b > 5] = True
        return b
    check(ints, np.arange(12).reshape(3, 4), grad=False)


def test_setitem_casts_tensor_values_to_the_target_dtype():
    # PyTorch refuses a differently typed tensor with advanced indices; pellucid casts it like
    # it casts with basic indices
    b = pellucid.zeros(2, 3)
    b[[1, 0], [2, 2]] = pellucid.tensor([3, 4])
    b[0, :2] = pellucid.tensor([1.5, 2.5], dtype=pellucid.float64)
    assert b.dtype == pellucid.float32 and b.tolist() == [[1.5, 2.5, 4.0], [0.0, 0.0, 3.0]]


def test_scatter_src_larger_than_index_gradient():
    # src larger than index: only the used part of src gets a gradient
    x = pellucid.zeros(2, 3, requires_grad=True)
    s = pellucid.tensor(rand(3, 4), requires_grad=True)
    idx = pellucid.tensor([[2, 0], [1, 1]])
    out = x.scatter(1, idx, s)
    expected = np.zeros((2, 3))
    expected[0, 2], expected[0, 0], expected[1, 1] = s[0, 0].item(), s[0, 1].item(), s[1, 1].item()
    np.testing.assert_allclose(out.detach().numpy(), expected)
    (out * pellucid.arange(6.).reshape(2, 3)).sum().backward()
    gs = np.zeros((3, 4))
    # position (1, 1) is written twice; like PyTorch, both sources read its gradient
    gs[0, 0], gs[0, 1], gs[1, 0], gs[1, 1] = 2.0, 0.0, 4.0, 4.0
    np.testing.assert_allclose(s.grad.numpy(), gs)
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0], [3, 0, 5]])
    s.grad = None
    x.scatter_add(1, idx, s).sum().backward()
    np.testing.assert_allclose(s.grad.numpy(), [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])


def test_setitem_repeated_indices_last_write_and_value_gradient():
    def fn(M, a, v):
        b = a * 1
        b[[0, 1, 0]] = v
        return b
    # only the positions that end up written differ from `a`; the gradient of v gathers from them
    p, t = check(lambda M, a, v: fn(M, a, v)[1:], rand(3, 2), rand(3, 2))


def test_setitem_on_plain_tensor_with_grad_value():
    for M in (pellucid, torch):
        v = M.tensor([1.0, 2.0], requires_grad=True)
        z = M.zeros(2, 3)
        z[:, 1] = v
        assert z.requires_grad and not z.is_leaf
        (z * M.arange(6.).reshape(2, 3)).sum().backward()
        assert v.grad.tolist() == [1.0, 4.0]


def test_setitem_into_leaf_requiring_grad_raises():
    a = pellucid.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a[0] = 2.0
    with pellucid.no_grad():
        a[0] = 2.0
    assert a.tolist() == [2.0, 1.0, 1.0] and a.is_leaf


def test_setitem_errors_and_version():
    x = pellucid.zeros(3, 4)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[0] = pellucid.ones(3)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3] = 1.0
    v = x._version_count
    x[1:, ::2] = pellucid.ones(2, 1)
    assert x._version_count == v + 1
    assert x.tolist() == [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]]
    y = x.expand(2, 3, 4)
    with pytest.raises(RuntimeError, match="single memory location"):
        y[0, 0, 0] = 1.0


def test_setitem_saved_tensor_is_detected():
    a = pellucid.ones(3, requires_grad=True)
    b = a * 2
    c = b * b
    b[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


# ---- gather / scatter / index_* / masked_* / take / put -------------------------------------------------
G_IDX = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])
OPS_CASES = [
    ("gather0", [(3, 4)], lambda M, x: M.gather(x, 0, M.tensor(G_IDX))),
    ("gather1", [(3, 5)], lambda M, x: x.gather(1, M.tensor(G_IDX))),
    ("gather_small", [(3, 5)], lambda M, x: x.gather(-1, M.tensor([[4], [0]]))),
    ("scatter_src", [(3, 4), (2, 4)], lambda M, x, s: M.scatter(x, 0, M.tensor([[0, 2, 1, 0], [2, 1, 0, 1]]), s)),
    ("scatter_value", [(3, 4)], lambda M, x: x.scatter(1, M.tensor([[0], [3], [1]]), 2.5)),
    ("scatter_add", [(3, 4), (2, 4)], lambda M, x, s: M.scatter_add(x, 0, M.tensor(G_IDX), s)),
    ("scatter_add_dim1", [(3, 4), (3, 2)], lambda M, x, s: x.scatter_add(1, M.tensor(G_IDX[:, :3].T.copy()), s)),
    ("index_select", [(3, 4)], lambda M, x: M.index_select(x, 0, M.tensor([2, 0, 2]))),
    ("index_select1", [(3, 4)], lambda M, x: x.index_select(1, M.tensor([3, 3, 1], dtype=M.int32))),
    ("index_add", [(3, 4), (3, 4)], lambda M, x, s: M.index_add(x, 0, M.tensor([2, 0, 2]), s)),
    ("index_add_alpha", [(3, 4), (3, 2)], lambda M, x, s: x.index_add(1, M.tensor([1, 1]), s, alpha=-2)),
    ("index_copy", [(3, 4), (2, 4)], lambda M, x, s: M.index_copy(x, 0, M.tensor([2, 0]), s)),
    ("index_copy1", [(3, 4), (3, 2)], lambda M, x, s: x.index_copy(1, M.tensor([3, 0]), s)),
    ("index_fill", [(3, 4)], lambda M, x: x.index_fill(1, M.tensor([0, 2]), -1.0)),
    ("index_fill_tensor", [(3, 4), ()], lambda M, x, v: M.index_fill(x, 0, M.tensor([1]), v)),
    ("index_put", [(3, 4), (2,)], lambda M, x, v: M.index_put(x, (M.tensor([0, 2]), M.tensor([1, 1])), v)),
    ("index_put_acc", [(3, 4), (3,)], lambda M, x, v: x.index_put((M.tensor([0, 0, 2]), M.tensor([1, 1, 3])), v, accumulate=True)),
    ("index_put_none", [(3, 4), (4,)], lambda M, x, v: x.index_put((M.tensor([2]),), v)),
    ("masked_fill", [(3, 4)], lambda M, x: x.masked_fill(x > 0, 0.5)),
    ("masked_fill_bcast", [(3, 4)], lambda M, x: M.masked_fill(x, M.tensor([True, False, False, True]), -3)),
    ("masked_fill_grow", [(1, 4)], lambda M, x: x.masked_fill(M.tensor([[True], [False]]), 1.0)),
    ("masked_fill_tensor", [(3, 4), ()], lambda M, x, v: x.masked_fill(x < 0, v)),
    ("masked_select", [(3, 4)], lambda M, x: M.masked_select(x, x > 0)),
    ("masked_select_bcast", [(3, 1)], lambda M, x: x.masked_select(M.tensor([[True, False], [True, True], [False, True]]))),
    ("masked_scatter", [(3, 4), (2, 5)], lambda M, x, s: x.masked_scatter(x > 0, s)),
    ("masked_scatter_bcast", [(1, 4), (9,)], lambda M, x, s: M.masked_scatter(x, M.tensor([[True], [False], [True]]), s)),
    ("take", [(3, 4)], lambda M, x: M.take(x, M.tensor([[0, 11], [-1, 0]]))),
    ("take_along_dim", [(3, 4)], lambda M, x: M.take_along_dim(x, M.tensor([[0], [2], [1]]), dim=1)),
    ("take_along_dim_bcast", [(3, 4)], lambda M, x: x.take_along_dim(M.tensor([[2, 0, 1, 1]]), 0)),
    ("take_along_dim_flat", [(3, 4)], lambda M, x: M.take_along_dim(x, M.tensor([5, 0, 5]))),
    ("put", [(3, 4), (3,)], lambda M, x, s: x.put(M.tensor([1, -1, 4]), s)),
    ("put_acc", [(3, 4), (3,)], lambda M, x, s: M.put(x, M.tensor([1, 1, 4]), s, accumulate=True)),
    ("put_noncontig", [(4, 3), (2,)], lambda M, x, s: x.t().put(M.tensor([1, 5]), s)),
]


@pytest.mark.parametrize("name,shapes,fn", OPS_CASES, ids=[c[0] for c in OPS_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_index_op_parity(name, shapes, fn, dtype):
    check(fn, *[rand(*s) for s in shapes], dtype=dtype)


SCATTER_REDUCE_CASES = [(r, s) for r in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)]


@pytest.mark.parametrize("reduce,include_self", SCATTER_REDUCE_CASES)
def test_scatter_reduce_parity(reduce, include_self):
    x = rand(3, 4)
    src = rand(2, 4)
    src[0, 1] = 0.0                         # zeros exercise the product's gradient
    x[2, 2] = 0.0
    src[1, 3] = src[0, 3]                   # ties exercise amax/amin's shared gradient
    idx = np.array([[0, 2, 2, 1], [0, 0, 2, 1]])
    check(lambda M, a, s: a.scatter_reduce(0, M.tensor(idx), s, reduce, include_self=include_self),
          x, src, dtype=np.float64)


def test_scatter_reduce_integers():
    idx = np.array([[0, 1, 0], [1, 1, 0]])
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        check(lambda M, a, s: M.scatter_reduce(a, 1, M.tensor(idx), s, reduce, include_self=False),
              np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3) + 1, grad=False)


def test_scatter_legacy_reduce_values_and_no_derivative():
    idx = np.array([[0, 1, 0], [1, 1, 0]])
    for reduce in ("add", "multiply"):
        check(lambda M, a, s: a.scatter(1, M.tensor(idx), s, reduce=reduce), rand(2, 3), rand(2, 3), grad=False)
    x = pellucid.ones(2, 3, requires_grad=True)
    y = x.scatter(1, pellucid.tensor(idx), 2.0, reduce="multiply")
    with pytest.raises(RuntimeError, match="not implemented"):
        y.sum().backward()


INPLACE_CASES = [
    ("masked_fill_", lambda M, b, v: b.masked_fill_(b > 0, 1.5)),
    ("masked_fill_tensor_", lambda M, b, v: b.masked_fill_(M.tensor([False, True, True, False]), v[0, 0])),
    ("index_fill_", lambda M, b, v: b.index_fill_(0, M.tensor([1]), v[0, 1])),
    ("index_add_", lambda M, b, v: b.index_add_(1, M.tensor([0, 0, 3]), v[:, :3])),
    ("index_copy_", lambda M, b, v: b.index_copy_(1, M.tensor([2, 0]), v[:, :2])),
    ("index_put_", lambda M, b, v: b.index_put_((M.tensor([0, 2]),), v[:2], accumulate=True)),
    ("scatter_", lambda M, b, v: b.scatter_(0, M.tensor([[2, 1, 0, 0]]), v[:1])),
    ("scatter_value_", lambda M, b, v: b.scatter_(1, M.tensor([[2], [0], [1]]), value=-1.0)),
    ("scatter_add_", lambda M, b, v: b.scatter_add_(1, M.tensor([[0, 0], [1, 1], [3, 3]]), v[:, :2])),
    ("scatter_reduce_", lambda M, b, v: b.scatter_reduce_(0, M.tensor([[0, 0, 1, 1]]), v[:1], "amax")),
    ("put_", lambda M, b, v: b.put_(M.tensor([0, 5, 0]), v[0, :3], accumulate=True)),
    ("masked_scatter_", lambda M, b, v: b.masked_scatter_(b > 0, v)),
    ("tril_", lambda M, b, v: b.tril_(1)),
]


@pytest.mark.parametrize("name,fn", INPLACE_CASES, ids=[c[0] for c in INPLACE_CASES])
def test_inplace_index_ops(name, fn):
    def run(M, a, v):
        b = a * 1
        r = fn(M, b, v)
        assert r is b
        return b
    check(run, rand(3, 4), rand(3, 4), dtype=np.float64)


def test_inplace_index_ops_write_through_views():
    # an in-place index op on a view of a graph tensor rebases the base (CopySlices)
    def run(M, a, v):
        b = a * 1
        b[1:].masked_fill_(M.tensor([True, False, False, True]), 0.0)
        b.t()[0].index_add_(0, M.tensor([0, 0]), v[0, :2])
        b[:, 2:].scatter_(1, M.tensor([[1], [0], [1]]), v[:, :1])
        return b
    check(run, rand(3, 4), rand(3, 4), dtype=np.float64)


def test_index_op_errors():
    x = pellucid.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 3"):
        x.gather(0, pellucid.tensor([[3, 0, 0, 0]]))
    with pytest.raises(RuntimeError, match="out of bounds for dimension 1 with size 4"):
        x.gather(1, pellucid.tensor([[-1]]))
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        x.gather(0, pellucid.tensor([[0]], dtype=pellucid.int32))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, pellucid.tensor([0]))
    with pytest.raises(IndexError, match="out of range for dimension 1 with size 4"):
        x.index_select(1, pellucid.tensor([4]))
    with pytest.raises(IndexError, match="out of range: tried to access index 12"):
        x.take(pellucid.tensor([12]))
    with pytest.raises(IndexError, match="out of bounds"):
        x.scatter(0, pellucid.tensor([[5]]), 1.0)
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        x.masked_fill(pellucid.ones(3, 4), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(x > 0, pellucid.ones(1))
    with pytest.raises(RuntimeError, match="broadcastable"):
        x.masked_fill_(pellucid.ones(2, 3, 4, dtype=pellucid.bool), 1.0)
    with pytest.raises(RuntimeError, match="at least 12 elements"):
        x.masked_scatter(x == 0, pellucid.ones(3))
    with pytest.raises(RuntimeError, match="same shape"):
        x.index_add(0, pellucid.tensor([0]), pellucid.ones(2, 4))
    with pytest.raises(RuntimeError, match="same number of elements"):
        x.put_(pellucid.tensor([0, 1]), pellucid.ones(3))


# ---- nonzero / argwhere / where -------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_nonzero_argwhere_where(shape):
    a = (RNG.random(shape) > 0.5) * RNG.integers(1, 5, shape)
    p, t = pellucid.tensor(a), torch.tensor(a)
    for po, to in [(p.nonzero(), t.nonzero()), (pellucid.argwhere(p), torch.argwhere(t))]:
        assert po.dtype == pellucid.int64 and tuple(po.shape) == tuple(to.shape)
        assert po.tolist() == to.tolist()
    for po, to in [(pellucid.nonzero(p, as_tuple=True), torch.nonzero(t, as_tuple=True)),
                   (pellucid.where(p > 0), torch.where(t > 0))]:
        assert len(po) == len(to)
        assert [x.tolist() for x in po] == [x.tolist() for x in to]
    assert not pellucid.tensor(a, dtype=pellucid.float32, requires_grad=True).nonzero().requires_grad


def test_where_tuple_indexes_back():
    x = pellucid.tensor(rand(3, 4))
    assert x[pellucid.where(x > 0)].tolist() == x[x > 0].tolist()


# ---- gradcheck / double backward --------------------------------------------------------------------------
def _f64(*shape, seed=None):
    if seed is None:
        return pellucid.tensor(rand(*shape), dtype=pellucid.float64, requires_grad=True)
    # a fixed draw per test, kept away from 0 so masks such as `a > 0` don't flip under the
    # finite-difference step (whatever order the tests run in)
    x = np.random.default_rng(seed).standard_normal(shape)
    return pellucid.tensor(np.sign(x) * (np.abs(x) + 0.1), dtype=pellucid.float64, requires_grad=True)


def _setitem_fn(a, v):
    b = a * 1
    b[[0, 2], 1:3] = v[1:, :2]
    return b


GRADCHECK_CASES = [
    ("getitem_adv", lambda a: a[[0, 2, 0], 1:] * 1, 1),
    ("getitem_mask", lambda a: a[a > 0] * 1, 1),
    ("setitem", _setitem_fn, 2),
    ("gather", lambda a: a.gather(1, pellucid.tensor([[0, 0], [2, 1], [3, 3]])), 1),
    ("scatter", lambda a, s: a.scatter(0, pellucid.tensor([[1, 0, 2]]), s), 2),
    ("scatter_add", lambda a, s: a.scatter_add(1, pellucid.tensor([[0, 0, 1], [2, 2, 2], [3, 1, 3]]), s), 2),
    ("scatter_reduce_mean", lambda a, s: a.scatter_reduce(1, pellucid.tensor([[0, 0, 1], [2, 2, 2], [3, 1, 3]]), s, "mean"), 2),
    ("scatter_reduce_prod", lambda a, s: a.scatter_reduce(1, pellucid.tensor([[0, 0, 1], [2, 2, 2], [3, 1, 3]]), s, "prod", include_self=False), 2),
    ("scatter_reduce_amax", lambda a, s: a.scatter_reduce(1, pellucid.tensor([[0, 0, 1], [2, 2, 2], [3, 1, 3]]), s, "amax"), 2),
    ("index_add", lambda a, s: a.index_add(1, pellucid.tensor([1, 1, 0]), s), 2),
    ("index_copy", lambda a, s: a.index_copy(1, pellucid.tensor([3, 1, 0]), s), 2),
    ("masked_fill", lambda a: a.masked_fill(a < 0, 2.0), 1),
    ("masked_scatter", lambda a, s: a.masked_scatter(a > 0, s), 2),
    ("masked_select", lambda a: a.masked_select(a > 0), 1),
    ("take_put", lambda a, s: a.take(pellucid.tensor([1, 1, 5])) * a.put(pellucid.tensor([0, 3, 0]), s[0], accumulate=True).sum(), 2),
    ("index_put_zeros", lambda a: pellucid.ops._indexing.index_put_zeros((5, 4), (np.array([0, 4, 0]),), a[:, 1:2]), 1),
]


@pytest.mark.parametrize("name,fn,n", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck(name, fn, n):
    seed = zlib.crc32(name.encode())
    inputs = (_f64(3, 4, seed=seed), _f64(3, 3, seed=seed + 1))[:n]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name,fn,n", [GRADCHECK_CASES[i] for i in (0, 1, 2, 3, 5, 9, 11, 12, 14, 15)],
                         ids=[GRADCHECK_CASES[i][0] for i in (0, 1, 2, 3, 5, 9, 11, 12, 14, 15)])
def test_gradgradcheck(name, fn, n):
    seed = zlib.crc32(name.encode())
    inputs = (_f64(3, 4, seed=seed), _f64(3, 3, seed=seed + 1))[:n]

    def cubed(*xs):
        return fn(*xs) ** 3
    assert gradgradcheck(cubed, inputs)


def test_double_backward_matches_torch():
    a = rand(3, 4)
    res = []
    for M in (pellucid, torch):
        x = M.tensor(a, requires_grad=True)
        b = x * 1
        b[[0, 0, 2], 1:] = x[1, 1:] ** 2
        y = (b[x > 0] ** 3).sum() + (x.gather(1, M.tensor([[0, 0], [1, 3], [2, 2]])) ** 2).sum()
        (g,) = M.autograd.grad(y, x, create_graph=True)
        (gg,) = M.autograd.grad((g * g).sum(), x)
        res.append((_np(g), _np(gg)))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10)


def test_tensor_namespace_index_add_zeros_uses_index_put_zeros():
    from pellucid.ops._F import TENSOR, array_ns
    v = pellucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = (np.array([0, 2, 0]),)
    out = TENSOR.index_add_zeros((4,), idx, v, v)
    ref = array_ns(v._data).index_add_zeros((4,), idx, v._data, v._data)
    assert out.tolist() == ref.tolist() == [4.0, 0.0, 2.0, 0.0]
    (out * pellucid.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert v.grad.tolist() == [1.0, 3.0, 1.0]


# ---- property test: random index expressions against torch and NumPy --------------------------------------
@st.composite
def index_expressions(draw):
    """A shape and an index: ints, slices with steps, None, an optional Ellipsis with items on
    both sides, integer lists (all of one length, so they broadcast) or one bool mask."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    ndim = len(shape)
    with_ellipsis = draw(st.booleans())
    n_front = draw(st.integers(0, ndim))
    n_back = draw(st.integers(0, ndim - n_front)) if with_ellipsis else 0
    dims = list(range(n_front)) + ([Ellipsis] if with_ellipsis else []) + list(range(ndim - n_back, ndim))
    list_len = draw(st.integers(1, 3))
    state = {"mask": False, "list": False}

    def item(d):
        n = shape[d]
        kinds = ["int", "slice"] + ([] if state["mask"] else ["list"])
        kinds += [] if state["mask"] or state["list"] else ["mask"]
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            return draw(st.integers(-n, n - 1))
        if kind == "slice":
            return slice(draw(st.none() | st.integers(-5, 5)), draw(st.none() | st.integers(-5, 5)),
                         draw(st.none() | st.integers(1, 3)))
        state[kind] = True
        if kind == "list":
            return draw(st.lists(st.integers(-n, n - 1), min_size=list_len, max_size=list_len))
        return draw(st.lists(st.booleans(), min_size=n, max_size=n))

    parts = []
    for d in dims:
        if draw(st.integers(0, 4)) == 0:
            parts.append(None)
        parts.append(Ellipsis if d is Ellipsis else item(d))
    if not parts:
        parts.append(None)
    return shape, tuple(parts)


def _as_index(parts, M):
    out = []
    for p in parts:
        if isinstance(p, list):
            out.append(M.tensor(p) if M is not np else np.array(p, dtype=bool if isinstance(p[0], bool) else np.int64))
        else:
            out.append(p)
    return tuple(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index_expressions())
def test_random_index_expressions_match_torch_and_numpy(case):
    shape, parts = case
    data = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    p = pellucid.tensor(data)[_as_index(parts, pellucid)]
    t = torch.tensor(data)[_as_index(parts, torch)]
    assert tuple(p.shape) == tuple(t.shape)
    np.testing.assert_array_equal(_np(p), _np(t))
    has_int = any(type(x) is int for x in parts)
    adv_at = [i for i, x in enumerate(parts) if isinstance(x, list)]
    split_by_ellipsis = adv_at and any(parts[i] is Ellipsis for i in range(adv_at[0], adv_at[-1]))
    # NumPy differs where ints mix with advanced indices (PyTorch applies ints first) and where
    # an Ellipsis that stands for no dims sits between advanced indices (NumPy still splits them)
    if not (has_int and adv_at) and not split_by_ellipsis:
        n = data[_as_index(parts, np)]
        assert np.shape(n) == tuple(p.shape)
        np.testing.assert_array_equal(_np(p), n)
    # writing through the same index changes the same elements
    pw, tw = pellucid.tensor(data), torch.tensor(data)
    pw[_as_index(parts, pellucid)] = -1.0
    tw[_as_index(parts, torch)] = -1.0
    np.testing.assert_array_equal(pw.numpy(), tw.numpy())


def test_scatter_family_counts_zero_dim_operands_as_vectors_like_torch():
    # the one-hot of PyTorch's transforms tutorial: zeros(10).scatter_(0, tensor(y), value=1)
    for M in (torch, pellucid):
        assert M.zeros(10).scatter_(0, M.tensor(3), value=1).tolist() == [0.0] * 3 + [1.0] + [0.0] * 6
    three, zero = np.array(3), np.array(0)
    check(lambda M, x, s: x.scatter(0, M.tensor(three), s), rand(10), np.array(5.0, np.float32))
    check(lambda M, x, s: x.scatter_add(-1, M.tensor(three), s), rand(10), np.array(5.0, np.float32))
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        check(lambda M, x, s: x.scatter_reduce(0, M.tensor(three), s, reduce), rand(10),
              np.array(5.0, np.float32))
    check(lambda M, x, s: x.scatter(0, M.tensor([0]), s), np.array(1.5, np.float32), rand(1))
    for M in (torch, pellucid):                    # in place on a 0-dim tensor: the same object
        t = M.tensor(0.0)
        assert t.scatter_(0, M.tensor(zero), value=2.0) is t and t.item() == 2.0
    for M in (torch, pellucid):                    # beyond one dimension the rule stays strict
        with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
            M.zeros(2, 3).scatter_(1, M.tensor(1), value=1)
