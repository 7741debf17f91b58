"""Shape, view and joining ops against PyTorch: values, dtypes, shapes, gradients, views that
share memory with their base, gradcheck, and in-place ops on views (CopySlices)."""
import numpy as np
import pytest
import torch

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x.detach())


def _leaves(arrays, dtype):
    """The same inputs for both libraries; floating ones require grad."""
    p, t = [], []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        pt, tt = pellucid.tensor(a.copy()), torch.tensor(a.copy())
        if a.dtype.kind == "f":
            pt.requires_grad_()
            tt.requires_grad_()
        p.append(pt)
        t.append(tt)
    return p, t


def _outs(o):
    return list(o) if isinstance(o, (tuple, list)) else [o]


def check(fn, *arrays, dtype=np.float32, noncontig=False, grad=True):
    """fn(M, *inputs) with M = torch or pellucid: same values, dtypes, shapes and gradients of
    sum((out * w).sum()). With noncontig, inputs reach fn as transposed (non-contiguous) views."""
    p_leaves, t_leaves = _leaves(arrays, dtype)

    def prep(M, leaves):
        if not noncontig:
            return leaves
        return [x.permute(*reversed(range(x.dim()))) if x.dim() >= 2 else x for x in leaves]

    p_in, t_in = prep(pellucid, p_leaves), prep(torch, t_leaves)
    if noncontig:
        assert any(not x.is_contiguous() for x in p_in if x.dim() >= 2)
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
        pl = (po * pellucid.tensor(w)).sum()
        tl = (to * torch.tensor(w)).sum()
        p_loss = pl if p_loss is None else p_loss + pl
        t_loss = tl if t_loss is None else t_loss + tl
    if t_loss is None:
        return p_out, t_out
    p_loss.backward()
    t_loss.backward()
    for i, (pl, tl) in enumerate(zip(p_leaves, t_leaves)):
        if tl.grad is None:
            assert pl.grad is None or not np.any(_np(pl.grad)), f"input {i}: unexpected gradient"
            continue
        assert pl.grad is not None, f"input {i}: no gradient"
        np.testing.assert_allclose(_np(pl.grad), _np(tl.grad), rtol=1e-5, atol=1e-5, err_msg=f"grad of input {i}")
    return p_out, t_out


def rand(*shape):
    return RNG.standard_normal(shape)


# ---- single-input shape ops ----------------------------------------------------------------------
SHAPE_CASES = [
    ("view", (2, 3, 4), lambda M, x: x.view(6, 4)),
    ("view_infer", (2, 3, 4), lambda M, x: x.view(-1, 2)),
    ("view_tuple", (2, 3, 4), lambda M, x: x.view((4, 6))),
    ("view_as", (2, 3, 4), lambda M, x: x.view_as(M.zeros(24))),
    ("reshape", (2, 3, 4), lambda M, x: x.reshape(4, -1)),
    ("reshape_fn", (2, 3, 4), lambda M, x: M.reshape(x, (-1,))),
    ("reshape_as", (2, 3, 4), lambda M, x: x.reshape_as(M.zeros(3, 8))),
    ("flatten", (2, 3, 4), lambda M, x: x.flatten()),
    ("flatten_1", (2, 3, 4), lambda M, x: M.flatten(x, 1)),
    ("flatten_01", (2, 3, 4), lambda M, x: x.flatten(0, 1)),
    ("flatten_0d", (), lambda M, x: x.flatten()),
    ("unflatten", (2, 12), lambda M, x: x.unflatten(1, (3, -1))),
    ("unflatten_fn", (2, 12), lambda M, x: M.unflatten(x, -1, (2, 2, 3))),
    ("squeeze", (2, 1, 3, 1), lambda M, x: x.squeeze()),
    ("squeeze_dim", (2, 1, 3, 1), lambda M, x: x.squeeze(1)),
    ("squeeze_dim_not1", (2, 1, 3, 1), lambda M, x: x.squeeze(0)),
    ("squeeze_tuple", (2, 1, 3, 1), lambda M, x: M.squeeze(x, (1, -1))),
    ("unsqueeze", (2, 3), lambda M, x: x.unsqueeze(0)),
    ("unsqueeze_neg", (2, 3), lambda M, x: M.unsqueeze(x, -1)),
    ("unsqueeze_mid", (2, 3), lambda M, x: x.unsqueeze(1)),
    ("transpose", (2, 3, 4), lambda M, x: x.transpose(0, 2)),
    ("swapaxes", (2, 3, 4), lambda M, x: M.swapaxes(x, 1, -1)),
    ("swapdims", (2, 3, 4), lambda M, x: x.swapdims(0, 1)),
    ("permute", (2, 3, 4), lambda M, x: x.permute(2, 0, 1)),
    ("permute_tuple", (2, 3, 4), lambda M, x: M.permute(x, (1, 2, 0))),
    ("t", (3, 4), lambda M, x: x.t()),
    ("t_1d", (3,), lambda M, x: M.t(x)),
    ("T", (2, 3, 4), lambda M, x: x.T),
    ("mT", (2, 3, 4), lambda M, x: x.mT),
    ("mH", (2, 3, 4), lambda M, x: x.mH),
    ("H", (3, 4), lambda M, x: x.H),
    ("expand", (3, 1), lambda M, x: x.expand(2, 3, 4)),
    ("expand_keep", (3, 1), lambda M, x: x.expand(-1, 5)),
    ("expand_as", (3, 1), lambda M, x: x.expand_as(M.zeros(2, 3, 2))),
    ("broadcast_to", (3, 1), lambda M, x: M.broadcast_to(x, (2, 3, 4))),
    ("movedim", (2, 3, 4), lambda M, x: M.movedim(x, 0, -1)),
    ("movedim_tuple", (2, 3, 4), lambda M, x: x.movedim((0, 1), (2, 0))),
    ("moveaxis", (2, 3, 4), lambda M, x: M.moveaxis(x, -1, 0)),
    ("repeat", (3, 2), lambda M, x: x.repeat(2, 1, 3)),
    ("repeat_same", (3, 2), lambda M, x: x.repeat(2, 2)),
    ("tile", (3, 2), lambda M, x: M.tile(x, (2,))),
    ("tile_more", (3, 2), lambda M, x: x.tile((2, 1, 2))),
    ("flip", (2, 3, 4), lambda M, x: M.flip(x, (0, 2))),
    ("flip_method", (2, 3, 4), lambda M, x: x.flip(-1)),
    ("fliplr", (3, 4), lambda M, x: M.fliplr(x)),
    ("flipud", (3, 4), lambda M, x: x.flipud()),
    ("roll_flat", (3, 4), lambda M, x: M.roll(x, 5)),
    ("roll_dims", (3, 4), lambda M, x: x.roll((1, -2), (0, 1))),
    ("roll_one", (3, 4), lambda M, x: x.roll(-1, 1)),
    ("narrow", (4, 5), lambda M, x: x.narrow(1, 1, 3)),
    ("narrow_neg", (4, 5), lambda M, x: M.narrow(x, 0, -2, 2)),
    ("select", (4, 5), lambda M, x: x.select(1, -1)),
    ("select_fn", (4, 5), lambda M, x: M.select(x, 0, 2)),
    ("contiguous", (4, 5), lambda M, x: x.t().contiguous()),
    ("tril", (4, 5), lambda M, x: M.tril(x)),
    ("tril_k", (2, 4, 5), lambda M, x: x.tril(-1)),
    ("triu", (4, 5), lambda M, x: M.triu(x, diagonal=1)),
    ("triu_neg", (2, 4, 5), lambda M, x: x.triu(-2)),
    ("diag_1d", (4,), lambda M, x: M.diag(x)),
    ("diag_1d_k", (4,), lambda M, x: M.diag(x, 2)),
    ("diag_1d_negk", (3,), lambda M, x: x.diag(-1)),
    ("diag_2d", (4, 5), lambda M, x: M.diag(x)),
    ("diag_2d_k", (4, 5), lambda M, x: M.diag(x, 2)),
    ("diag_2d_negk", (4, 5), lambda M, x: x.diag(-3)),
    ("diagonal", (4, 5), lambda M, x: M.diagonal(x)),
    ("diagonal_off", (4, 5), lambda M, x: x.diagonal(1)),
    ("diagonal_negoff", (4, 5), lambda M, x: x.diagonal(-2)),
    ("diagonal_3d", (2, 3, 4), lambda M, x: M.diagonal(x, 0, 0, 2)),
    ("diagonal_3d_dims", (3, 2, 4), lambda M, x: x.diagonal(offset=-1, dim1=2, dim2=0)),
    ("diagonal_empty", (3, 4), lambda M, x: x.diagonal(5)),
    ("diag_embed", (2, 3), lambda M, x: M.diag_embed(x)),
    ("diag_embed_off", (2, 3), lambda M, x: x.diag_embed(1, 0, 2)),
    ("diag_embed_neg", (2, 3), lambda M, x: M.diag_embed(x, -2, dim1=-1, dim2=0)),
    ("unfold", (5, 4), lambda M, x: x.unfold(0, 2, 1)),
    ("unfold_step", (3, 7), lambda M, x: x.unfold(1, 3, 2)),
    ("unfold_gap", (3, 7), lambda M, x: x.unfold(-1, 2, 3)),
    ("atleast_1d", (), lambda M, x: M.atleast_1d(x)),
    ("atleast_2d", (3,), lambda M, x: M.atleast_2d(x)),
    ("atleast_3d_0", (), lambda M, x: M.atleast_3d(x)),
    ("atleast_3d_1", (3,), lambda M, x: M.atleast_3d(x)),
    ("atleast_3d_2", (2, 3), lambda M, x: M.atleast_3d(x)),
    ("atleast_many", (2, 3), lambda M, x: M.atleast_2d(x, x[0], x[0, 0])),
    ("split_int", (7, 2), lambda M, x: M.split(x, 3)),
    ("split_list", (7, 2), lambda M, x: x.split([2, 4, 1])),
    ("split_dim", (2, 7), lambda M, x: x.split(2, dim=1)),
    ("split_with_sizes", (2, 7), lambda M, x: x.split_with_sizes([3, 4], 1)),
    ("tensor_split_sec", (7, 2), lambda M, x: M.tensor_split(x, 3)),
    ("tensor_split_idx", (7, 2), lambda M, x: x.tensor_split([1, 5])),
    ("tensor_split_unsorted", (7, 2), lambda M, x: M.tensor_split(x, [4, 2, 9])),
    ("tensor_split_dim", (2, 7), lambda M, x: x.tensor_split(4, dim=1)),
    ("chunk", (7, 2), lambda M, x: M.chunk(x, 3)),
    ("chunk_exact", (6, 2), lambda M, x: x.chunk(3, 0)),
    ("chunk_fewer", (5, 2), lambda M, x: x.chunk(4)),
    ("chunk_dim", (2, 5), lambda M, x: x.chunk(2, dim=-1)),
    ("unbind", (3, 2), lambda M, x: M.unbind(x)),
    ("unbind_dim", (3, 2, 4), lambda M, x: x.unbind(2)),
    ("iter", (3, 2), lambda M, x: list(x)),
    ("hsplit", (2, 6), lambda M, x: M.hsplit(x, 3)),
    ("hsplit_1d", (6,), lambda M, x: M.hsplit(x, [2, 4])),
    ("vsplit", (6, 2), lambda M, x: M.vsplit(x, [1, 3])),
    ("dsplit", (2, 2, 4), lambda M, x: x.dsplit(2)),
    ("split_pieces_used_twice", (6, 2), lambda M, x: [a * b for a, b in zip(x.split(3), x.split(3)[::-1])]),
    ("pieces_partial_use", (6, 2), lambda M, x: x.chunk(3)[1]),
    ("view_chain", (2, 3, 4), lambda M, x: x.transpose(0, 1)[1:].reshape(-1, 2).unsqueeze(0).squeeze(0)),
]


@pytest.mark.parametrize("name,shape,fn", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_op_parity(name, shape, fn, dtype):
    check(fn, rand(*shape), dtype=dtype)


NONCONTIG_CASES = [c for c in SHAPE_CASES if len(c[1]) >= 2 and min(c[1]) > 1
                   and c[0] not in ("view", "view_infer", "view_tuple", "view_as")]


@pytest.mark.parametrize("name,shape,fn", NONCONTIG_CASES, ids=[c[0] for c in NONCONTIG_CASES])
def test_shape_op_parity_noncontiguous(name, shape, fn):
    # inputs arrive as transposed views: the same op on the reversed-shape leaf
    check(fn, rand(*reversed(shape)), noncontig=True)


def test_view_of_noncontiguous_raises_like_torch():
    x = pellucid.arange(6.).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(6)
    assert x.reshape(6).tolist() == torch.arange(6.).reshape(2, 3).t().reshape(6).tolist()


def test_int_and_bool_inputs_keep_dtype():
    a = np.arange(12).reshape(3, 4)
    check(lambda M, x: x.t().reshape(2, 6).flip(0), a, grad=False)
    check(lambda M, x: M.roll(x > 5, 1, 0).unfold(1, 2, 2), a, grad=False)
    check(lambda M, x: M.tril(x.to(M.int32), 1).repeat(1, 2), a, grad=False)


# ---- joining ops ---------------------------------------------------------------------------------
JOIN_CASES = [
    ("cat0", [(2, 3), (4, 3)], lambda M, a, b: M.cat([a, b])),
    ("cat1", [(2, 3), (2, 1)], lambda M, a, b: M.cat((a, b), dim=1)),
    ("cat_neg", [(2, 3), (2, 2)], lambda M, a, b: M.cat([a, b, a], -1)),
    ("concat", [(2, 3), (4, 3)], lambda M, a, b: M.concat([a, b], 0)),
    ("concatenate", [(2, 3), (2, 3)], lambda M, a, b: M.concatenate([a, b], dim=1)),
    ("stack", [(2, 3), (2, 3)], lambda M, a, b: M.stack([a, b])),
    ("stack_last", [(2, 3), (2, 3)], lambda M, a, b: M.stack([a, b, a], dim=-1)),
    ("stack_mid", [(2, 3), (2, 3)], lambda M, a, b: M.stack((a, b), 1)),
    ("hstack", [(2, 3), (2, 1)], lambda M, a, b: M.hstack([a, b])),
    ("hstack_1d", [(3,), (2,)], lambda M, a, b: M.hstack([a, b])),
    ("vstack", [(2, 3), (3,)], lambda M, a, b: M.vstack([a, b])),
    ("row_stack", [(2, 3), (1, 3)], lambda M, a, b: M.row_stack([a, b])),
    ("dstack", [(2, 3), (2, 3)], lambda M, a, b: M.dstack([a, b])),
    ("column_stack", [(3,), (3, 2)], lambda M, a, b: M.column_stack([a, b])),
    ("broadcast_tensors", [(3, 1), (4,)], lambda M, a, b: M.broadcast_tensors(a, b)),
    ("meshgrid_ij", [(3,), (4,)], lambda M, a, b: M.meshgrid(a, b, indexing="ij")),
    ("meshgrid_xy", [(3,), (4,)], lambda M, a, b: M.meshgrid(a, b, indexing="xy")),
    ("meshgrid_xy3", [(3,), (4,)], lambda M, a, b: M.meshgrid([a, b, a[:2]], indexing="xy")),
]


@pytest.mark.parametrize("name,shapes,fn", JOIN_CASES, ids=[c[0] for c in JOIN_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_join_op_parity(name, shapes, fn, dtype):
    check(fn, *[rand(*s) for s in shapes], dtype=dtype)


def test_cat_noncontiguous_inputs():
    check(lambda M, a, b: M.cat([a, b], 0), rand(3, 2), rand(3, 4), noncontig=True)
    check(lambda M, a, b: M.stack([a, b], 2), rand(3, 2), rand(3, 2), noncontig=True)


def test_cat_promotes_dtypes_like_torch():
    ints = np.arange(6).reshape(2, 3)
    check(lambda M, a, b: M.cat([a, b]), ints, rand(2, 3))                     # int64 + float32
    check(lambda M, a, b: M.cat([a.to(M.float64), b]), rand(2, 3), rand(1, 3))  # float64 + float32
    check(lambda M, a, b: M.cat([a.to(M.int32), b > 0]), ints, rand(1, 3), grad=False)
    check(lambda M, a, b: M.stack([a, b]), ints, rand(2, 3))


def test_cat_skips_empty_1d_tensors_but_promotes_with_them():
    p, t = check(lambda M, a: M.cat([M.tensor([], dtype=M.float64), a, M.zeros(0)]), rand(2, 3))
    assert p[0].dtype == pellucid.float64
    p, t = check(lambda M, a: M.cat([M.zeros(0), M.zeros(0)]), rand(1))
    assert tuple(p[0].shape) == (0,)


def test_cat_and_stack_out():
    out = pellucid.zeros(1)
    r = pellucid.cat([pellucid.ones(2), pellucid.zeros(3)], out=out)
    assert r is out and out.tolist() == [1, 1, 0, 0, 0]
    out = pellucid.zeros(2, 2)
    pellucid.stack([pellucid.ones(2), pellucid.zeros(2)], out=out)
    assert out.tolist() == [[1, 1], [0, 0]]


def test_joining_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        pellucid.cat([pellucid.ones(2, 2), pellucid.ones(2, 3)])
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        pellucid.cat([pellucid.ones(2, 2), pellucid.ones(2)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        pellucid.cat([pellucid.tensor(1.0)])
    with pytest.raises(ValueError, match="non-empty"):
        pellucid.cat([])
    with pytest.raises(IndexError, match="Dimension out of range"):
        pellucid.cat([pellucid.ones(2)], dim=1)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        pellucid.stack([pellucid.ones(2), pellucid.ones(3)])
    with pytest.raises(RuntimeError, match="sum exactly to 5"):
        pellucid.ones(5).split([2, 2])
    with pytest.raises(RuntimeError, match="chunk expects"):
        pellucid.ones(5).chunk(0)
    with pytest.raises(RuntimeError, match="not divisible"):
        pellucid.hsplit(pellucid.ones(2, 5), 2)
    with pytest.raises(TypeError, match="must be a tuple or list"):
        pellucid.cat(pellucid.ones(2))


def test_split_chunk_edge_counts_match_torch():
    for n, c in [(0, 3), (1, 3), (5, 5), (7, 2)]:
        p = pellucid.zeros(n).chunk(c)
        t = torch.zeros(n).chunk(c)
        assert [tuple(x.shape) for x in p] == [tuple(x.shape) for x in t]
    for n, s in [(0, 0), (0, 2), (6, 4)]:
        assert [tuple(x.shape) for x in pellucid.zeros(n).split(s)] == [tuple(x.shape) for x in torch.zeros(n).split(s)]
    for ios in [1, 4, [0], [3, 3], [-2]]:
        assert [x.tolist() for x in pellucid.arange(5).tensor_split(ios)] == \
               [x.tolist() for x in torch.arange(5).tensor_split(ios)]
    assert [x.tolist() for x in pellucid.arange(5).tensor_split(pellucid.tensor([1, 3]))] == \
           [x.tolist() for x in torch.arange(5).tensor_split(torch.tensor([1, 3]))]


def test_multi_output_pieces_share_one_backward_node():
    x = pellucid.randn(6, 2, requires_grad=True)
    a, b, c = x.split(2)
    assert a.grad_fn is b.grad_fn is c.grad_fn
    assert (a.output_nr, b.output_nr, c.output_nr) == (0, 1, 2)
    u = x.unbind(1)
    assert u[0].grad_fn is u[1].grad_fn
    (a.sum() + c.sum() * 2).backward()
    assert x.grad.tolist() == [[1, 1]] * 2 + [[0, 0]] * 2 + [[2, 2]] * 2


# ---- views share memory and the version counter ---------------------------------------------------
VIEW_CASES = [
    ("view", lambda x: x.view(12)),
    ("reshape", lambda x: x.reshape(2, 6)),
    ("flatten", lambda x: x.flatten()),
    ("unflatten", lambda x: x.unflatten(1, (2, 2))),
    ("transpose", lambda x: x.transpose(0, 1)),
    ("permute", lambda x: x.permute(1, 0)),
    ("t", lambda x: x.t()),
    ("T", lambda x: x.T),
    ("mT", lambda x: x.mT),
    ("movedim", lambda x: x.movedim(0, 1)),
    ("squeeze", lambda x: x.unsqueeze(0).squeeze()),
    ("unsqueeze", lambda x: x.unsqueeze(1)),
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("select", lambda x: x.select(0, 1)),
    ("slice", lambda x: x[1:, ::2]),
    ("int_index", lambda x: x[1]),
    ("none_ellipsis", lambda x: x[None, ..., 1]),
    ("diagonal", lambda x: x.diagonal(1)),
    ("unfold", lambda x: x.unfold(1, 2, 2)),
    ("split", lambda x: x.split(1)[2]),
    ("chunk", lambda x: x.chunk(2, 1)[1]),
    ("unbind", lambda x: x.unbind(1)[3]),
    ("tensor_split", lambda x: x.tensor_split(2, 1)[1]),
    ("chain", lambda x: x.t()[1:].t().unsqueeze(0)[0]),
    ("atleast_3d", lambda x: pellucid.atleast_3d(x)),
]


@pytest.mark.parametrize("name,fn", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_views_share_memory_and_version(name, fn):
    base = pellucid.arange(12.).reshape(3, 4).clone()
    v = fn(base)
    assert v._base is base
    assert np.shares_memory(v._data, base._data)
    before = base._version_count
    with pellucid.no_grad():
        v.mul_(-1)                      # writes through the view
    assert base._version_count == before + 1 and v._version_count == base._version_count
    ref = torch.arange(12.).reshape(3, 4)
    tv = {"atleast_3d": lambda x: torch.atleast_3d(x)}.get(name, fn)(ref)
    tv.mul_(-1)
    np.testing.assert_array_equal(base.numpy(), ref.numpy())
    base.add_(1)                        # and the base's change shows in the view
    np.testing.assert_array_equal(v.numpy(), (tv + 1).numpy())


def test_expand_and_broadcast_are_views():
    x = pellucid.arange(3.)
    e = x.expand(2, 3)
    b = pellucid.broadcast_to(x, (4, 3))
    m = pellucid.meshgrid(x, x, indexing="ij")[0]
    for v in (e, b, m):
        assert v._base is x and np.shares_memory(v._data, x._data)
    x.add_(1)
    assert e.tolist() == [[1, 2, 3]] * 2


def test_copies_do_not_alias():
    x = pellucid.arange(6.).reshape(2, 3)
    for out in (x.flip(0), x.roll(1), x.repeat(1, 1), x.tril(), x.diag_embed(), pellucid.cat([x]),
                pellucid.stack([x]), x.t().contiguous(), pellucid.diag(x)):
        assert out._base is None and not np.shares_memory(out._data, x._data)


def test_view_dtype():
    x = pellucid.tensor([1.0, -2.0], dtype=pellucid.float32)
    tx = torch.tensor([1.0, -2.0])
    v = x.view(pellucid.int32)
    assert v.dtype == pellucid.int32 and v.tolist() == tx.view(torch.int32).tolist()
    assert np.shares_memory(v._data, x._data)
    w = x.view(pellucid.int16)
    assert tuple(w.shape) == (4,) and w.tolist() == tx.view(torch.int16).tolist()
    d = pellucid.zeros(2, 4, dtype=pellucid.int16).view(pellucid.float64)
    assert tuple(d.shape) == (2, 1)
    with pytest.raises(RuntimeError, match="divisible"):
        pellucid.zeros(3, dtype=pellucid.int16).view(pellucid.int32)
    r = pellucid.ones(2, requires_grad=True)
    assert not r.view(pellucid.float32).requires_grad


def test_shape_errors():
    x = pellucid.zeros(2, 3)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        x.view(4, 2)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.reshape(-1, -1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.transpose(0, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.squeeze(3)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        x.expand(2, 4)
    with pytest.raises(RuntimeError, match="does not match the length"):
        x.permute(1, 0, 2)
    with pytest.raises(RuntimeError, match="duplicate"):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        x.narrow(1, 2, 2)
    with pytest.raises(IndexError, match="out of range"):
        x.select(0, 2)
    with pytest.raises(RuntimeError, match="maximum size"):
        x.unfold(1, 4, 1)
    with pytest.raises(RuntimeError, match="cannot be identical"):
        x.diagonal(0, 1, 1)
    with pytest.raises(RuntimeError, match="t\\(\\) expects"):
        pellucid.zeros(1, 2, 3).t()
    with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
        x.roll((1, 2), 0)
    with pytest.raises(RuntimeError, match="dims has duplicates"):
        x.flip(0, 0)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        pellucid.zeros(3).tril()
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        pellucid.broadcast_tensors(pellucid.zeros(2), pellucid.zeros(3))
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        pellucid.meshgrid(pellucid.zeros(2), indexing="yx")


def test_broadcast_shapes():
    assert pellucid.broadcast_shapes((2, 1), (3,), 1) == torch.broadcast_shapes((2, 1), (3,), 1)


def test_tril_triu_inplace():
    x = pellucid.tensor(RNG.standard_normal((3, 4)))
    t = torch.tensor(x.numpy().copy())
    x.tril_(1)
    t.tril_(1)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    x.triu_(-1)
    t.triu_(-1)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_flatten_same_dims_returns_input():
    x = pellucid.zeros(2, 3)
    assert x.flatten(1, 1) is x
    assert pellucid.zeros(3).flatten().shape == (3,)


# ---- gradcheck / double backward --------------------------------------------------------------------
GRADCHECK_CASES = [
    ("reshape_t", (3, 4), lambda x: x.t().reshape(2, 6)),
    ("expand", (3, 1), lambda x: x.expand(2, 3, 4)),
    ("repeat", (2, 3), lambda x: x.repeat(2, 1, 2)),
    ("flip_roll", (3, 4), lambda x: x.flip(0).roll(1, 1)),
    ("tril", (3, 4), lambda x: x.tril(-1) + x.triu(2)),
    ("diag", (3, 4), lambda x: pellucid.diag(x, 1)),
    ("diag_from", (3,), lambda x: pellucid.diag(x, -1)),
    ("diagonal", (2, 3, 4), lambda x: x.diagonal(1, 0, 2)),
    ("diag_embed", (2, 3), lambda x: x.diag_embed(1)),
    ("unfold_overlap", (2, 6), lambda x: x.unfold(1, 3, 1)),
    ("narrow_select", (3, 4), lambda x: x.narrow(1, 1, 2).select(0, 2)),
    ("split", (5, 2), lambda x: x.split([2, 3])),
    ("tensor_split_overlap", (5, 2), lambda x: x.tensor_split([3, 1])),
    ("unbind", (3, 2), lambda x: x.unbind(1)),
    ("cat_stack", (2, 3), lambda x: pellucid.stack([pellucid.cat([x, x * 2], 1), pellucid.cat([x, x], 1)])),
    ("movedim", (2, 3, 4), lambda x: x.movedim((0, 2), (1, 0))),
]


def _copied(fn):
    # finite differences perturb the input in place, so outputs that are views must be copied
    def run(x):
        outs = fn(x)
        return tuple(o.clone() for o in outs) if isinstance(outs, tuple) else outs.clone()
    return run


@pytest.mark.parametrize("name,shape,fn", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck(name, shape, fn):
    x = pellucid.tensor(RNG.standard_normal(shape), dtype=pellucid.float64, requires_grad=True)
    assert gradcheck(_copied(fn), (x,))


@pytest.mark.parametrize("name,shape,fn", [GRADCHECK_CASES[i] for i in (0, 5, 7, 9, 11, 13, 14)],
                         ids=[GRADCHECK_CASES[i][0] for i in (0, 5, 7, 9, 11, 13, 14)])
def test_gradgradcheck(name, shape, fn):
    x = pellucid.tensor(RNG.standard_normal(shape), dtype=pellucid.float64, requires_grad=True)

    def squared(x):
        outs = fn(x)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return tuple(o * o for o in outs)
    assert gradgradcheck(squared, (x,))


# ---- in-place ops on views rebase their base's history (CopySlices) -----------------------------------
def _pair(shape, seed=1):
    a = np.random.default_rng(seed).standard_normal(shape)
    return (pellucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


INPLACE_VIEW_CASES = [
    ("column_mul", lambda M, a, x: _mutate(a, lambda b: b[:, 0].mul_(2))),
    ("row_add", lambda M, a, x: _mutate(a, lambda b: b[1].add_(x))),
    ("row_add_then_use_view", lambda M, a, x: _mutate(a, lambda b: (b[1].add_(x), b[1].mul_(b[0].clone())))),
    ("transpose_slice", lambda M, a, x: _mutate(a, lambda b: b.t()[1:3].sub_(x[:2, None]))),
    ("diagonal", lambda M, a, x: _mutate(a, lambda b: b.diagonal().mul_(x[:3]))),
    ("narrow_div", lambda M, a, x: _mutate(a, lambda b: b.narrow(1, 2, 2).div_(3.0))),
    ("setitem_on_view", lambda M, a, x: _mutate(a, lambda b: b[1].__setitem__(slice(0, 2), x[1:3]))),
    ("view_reshape", lambda M, a, x: _mutate(a, lambda b: b.view(12)[::3].mul_(x[:4]))),
    ("view_of_view", lambda M, a, x: _mutate(a, lambda b: b[1:][0, 1:].mul_(x[:3]))),
    ("base_then_view", lambda M, a, x: _mutate(a, lambda b: (b.mul_(2), b[0].add_(x)))),
    ("view_then_base", lambda M, a, x: _mutate(a, lambda b: (b[0].add_(x), b.mul_(3)))),
    ("two_views_read_each_other", lambda M, a, x: _mutate(a, lambda b: (b[:, 1].mul_(b[:, 2].clone()), b[2].add_(b[0])))),
]


def _mutate(a, fn):
    b = a.clone()
    fn(b)
    return b


@pytest.mark.parametrize("name,fn", INPLACE_VIEW_CASES, ids=[c[0] for c in INPLACE_VIEW_CASES])
def test_inplace_on_view_gradients_match_torch(name, fn):
    pa, ta = _pair((3, 4))
    px, tx = _pair((4,), seed=2)
    pb = fn(pellucid, pa, px)
    tb = fn(torch, ta, tx)
    np.testing.assert_allclose(_np(pb), _np(tb), rtol=1e-12)
    w = np.random.default_rng(3).standard_normal((3, 4))
    ((pb * pb) * pellucid.tensor(w)).sum().backward()
    ((tb * tb) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(pa.grad), _np(ta.grad), rtol=1e-10, atol=1e-12)
    if tx.grad is not None:
        np.testing.assert_allclose(_np(px.grad), _np(tx.grad), rtol=1e-10, atol=1e-12)
    else:
        assert px.grad is None


def test_inplace_on_view_grad_fns():
    a = pellucid.randn(3, 4, requires_grad=True)
    b = a.clone()
    v = b[1]
    v.mul_(2)
    assert type(b.grad_fn).__name__ == "CopySlices"
    assert v.grad_fn is not None and v.requires_grad
    v.sum().backward()              # the view's new history goes through the base's new history
    expected = np.zeros((3, 4))
    expected[1] = 2
    np.testing.assert_allclose(a.grad.numpy(), expected)


def test_inplace_on_view_create_graph():
    pa, ta = _pair((3, 4))
    outs = []
    for M, a in ((pellucid, pa), (torch, ta)):
        b = a.clone()
        b[:, 1].mul_(b[:, 2].clone())
        (g,) = M.autograd.grad((b ** 3).sum(), a, create_graph=True)
        (gg,) = M.autograd.grad((g * g).sum(), a)
        outs.append((_np(g), _np(gg)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-10)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-10)


def test_saved_view_of_modified_base_is_detected_like_torch():
    # the multiplier is a view of the same base, saved before the base changes: both libraries refuse
    for M in (pellucid, torch):
        a = M.ones(2, 3, requires_grad=True)
        b = a.clone()
        b[1].mul_(b[0])
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()


def test_inplace_on_view_errors():
    a = pellucid.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a[0].mul_(2)
    b = a.clone()
    e = b[0:1].expand(3, 4)
    with pytest.raises(RuntimeError, match="single memory location"):
        e.mul_(2)
    with pellucid.no_grad():
        a[0].mul_(1)                # allowed without grad
    for piece in (b.split(1)[2], b.unbind(1)[1], b.chunk(2)[0][0]):
        with pytest.raises(RuntimeError, match="multiple views"):
            piece.mul_(2)
    with pellucid.no_grad():
        b.split(1)[2].mul_(2)
