"""Sorting and selection: sort, argsort, msort, topk, kthvalue, mode, unique,
unique_consecutive, searchsorted, bucketize, quantile, nanquantile and isin.

Orderings follow PyTorch's CPU kernels: NaN sorts as the largest value (last ascending, first
descending), sorting is always stable (equal elements keep their order, descending too), so
topk and kthvalue pick the first of equal elements (which of equal elements PyTorch's selection
algorithms return is unspecified); mode gives the smallest most frequent value and the last
index it occurs at. unique treats NaNs as distinct (NaN != NaN), as PyTorch does.

The selecting ops (sort, topk, kthvalue, mode) scatter the gradient of their values back to the
selected positions; quantile and nanquantile are composed of sort, gather and lerp, as in
PyTorch, so their gradients (and higher ones) come from those.
"""
import numpy as np

from .. import _backend
from .._dispatch import Op, dispatch
from .._tensor import Tensor, _wrap_dim
from ._pointwise import _TORCH_TYPE_NAMES, _not_implemented
from ._reduce import _into, _structseq
from ._registry import check_tensor, tensor_method

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "mode", "unique", "unique_consecutive",
           "searchsorted", "bucketize", "quantile", "nanquantile", "isin"]

_ret_sort = _structseq("sort", ("values", "indices"))
_ret_topk = _structseq("topk", ("values", "indices"))
_ret_kthvalue = _structseq("kthvalue", ("values", "indices"))
_ret_mode = _structseq("mode", ("values", "indices"))

_I64 = np.dtype(np.int64)


def _xp(a):
    return _backend.xp_of(a)


def _stable_argsort(a, axis):
    xp = _xp(a)
    # CuPy's sort is always stable and takes no `kind`
    return xp.argsort(a, axis=axis, kind="stable") if xp is np else xp.argsort(a, axis=axis)


def _argsort(a, axis, descending):
    """A stable argsort along `axis`, NaN as the largest value. Descending sorts the reversed
    array ascending and reverses back, so equal elements still keep their original order."""
    if not descending:
        return _stable_argsort(a, axis)
    xp = _xp(a)
    n = a.shape[axis]
    rev = _stable_argsort(xp.flip(a, axis), axis)
    return (n - 1) - xp.flip(rev, axis)


def _take(a, start, stop, axis):
    key = [slice(None)] * a.ndim
    key[axis] = slice(start, stop)
    return a[tuple(key)]


def _scatter_back(F, g, idx, dim, shape):
    """zeros(shape) with the gradient `g` placed at the positions `idx` selected along `dim`
    (idx, g with the input's number of dims): the adjoint of take_along_dim."""
    xp = _xp(idx)
    key = []
    for ax in range(len(shape)):
        if ax == dim:
            key.append(idx)
        else:
            view = [1] * len(shape)
            view[ax] = idx.shape[ax]
            key.append(xp.arange(idx.shape[ax]).reshape(view))
    return F.index_add_zeros(shape, tuple(key), g, g)


class _Select(Op):
    """Ops that pick elements along a dim and return (values, indices); the gradient of the
    values goes back to the picked positions."""
    multi_output = True

    @staticmethod
    def backward(ctx, F, g, _g_indices):
        shape = ctx.in_meta[0][0]
        if ctx.idx is None:          # a 0-d input: its one element
            return F.reshape(g, shape)
        if g.shape != ctx.idx.shape:
            g = F.reshape(g, ctx.idx.shape)
        return _scatter_back(F, g, ctx.idx, ctx.dim, shape)


def _scalar_result(ctx, a):
    ctx.idx = None
    return a.copy(), _xp(a).zeros((), dtype=_I64)


class Sort(_Select):
    name = "sort"

    @staticmethod
    def forward(ctx, a, dim, descending):
        if a.ndim == 0:
            return _scalar_result(ctx, a)
        idx = _argsort(a, dim, descending)
        ctx.idx = idx
        ctx.dim = dim
        return _xp(a).take_along_axis(a, idx, axis=dim), idx.astype(_I64, copy=False)


class Argsort(Op):
    name = "argsort"
    differentiable = False

    @staticmethod
    def forward(ctx, a, dim, descending):
        if a.ndim == 0:
            return _xp(a).zeros((), dtype=_I64)
        return _argsort(a, dim, descending).astype(_I64, copy=False)


class Topk(_Select):
    name = "topk"

    @staticmethod
    def forward(ctx, a, k, dim, largest):
        if a.ndim == 0:
            return _scalar_result(ctx, a)
        idx = _take(_argsort(a, dim, largest), 0, k, dim)
        ctx.idx = idx
        ctx.dim = dim
        return _xp(a).take_along_axis(a, idx, axis=dim), idx.astype(_I64, copy=False)


class Kthvalue(_Select):
    name = "kthvalue"

    @staticmethod
    def forward(ctx, a, k, dim, keepdim):
        if a.ndim == 0:
            return _scalar_result(ctx, a)
        idx = _take(_stable_argsort(a, dim), k - 1, k, dim)
        ctx.idx = idx
        ctx.dim = dim
        vals = _xp(a).take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(_I64, copy=False)


def _mode_index(a, dim):
    """Index (kept dim) of the smallest most frequent value along `dim`, at its last occurrence.
    NaNs count as equal to each other and larger than every number, as in sort."""
    xp = _xp(a)
    order = _stable_argsort(a, dim)
    s = xp.take_along_axis(a, order, axis=dim)
    s = xp.moveaxis(s, dim, -1)
    differ = s[..., 1:] != s[..., :-1]
    if s.dtype.kind == "f":
        differ &= ~(xp.isnan(s[..., 1:]) & xp.isnan(s[..., :-1]))
    start = xp.concatenate([xp.ones(s.shape[:-1] + (1,), dtype=bool), differ], axis=-1)
    # elements so far in the current run: position minus the position its run started at
    # (runs numbered over all slices at once; every slice starts a run)
    flat = start.reshape(-1)
    run_start = xp.nonzero(flat)[0][xp.cumsum(flat) - 1]
    length = (xp.arange(flat.size) - run_start + 1).reshape(start.shape)
    best = length.max(axis=-1, keepdims=True)
    # the first position whose run reaches the highest count ends the smallest most frequent run
    end = (length == best).argmax(axis=-1)[..., None]
    end = xp.moveaxis(end, -1, dim)
    return xp.take_along_axis(order, end, axis=dim)


class Mode(_Select):
    name = "mode"

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        if a.ndim == 0:
            return _scalar_result(ctx, a)
        if a.size == 0:
            idx = _xp(a).zeros(a.shape[:dim] + (1,) + a.shape[dim + 1:], dtype=_I64)
        else:
            idx = _mode_index(a, dim)
        ctx.idx = idx
        ctx.dim = dim
        vals = _xp(a).take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(_I64, copy=False)


# ---- sort, argsort, msort, topk, kthvalue, mode ------------------------------------------

def _dim(input, dim, op):
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    return _wrap_dim(int(dim), input._data.ndim, op)


def _into_pair(out, res, ret, op):
    if out is None:
        return ret(*res)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{op}(): argument 'out' must be tuple of Tensors")
    return ret(_into(out[0], res[0]), _into(out[1], res[1]))


@tensor_method("sort")
def sort(input, dim=-1, descending=False, *, stable=False, out=None):
    """(values, indices) sorted along `dim`; always stable, NaN sorts as the largest value."""
    check_tensor(input, "sort")
    d = _dim(input, dim, "sort")
    return _into_pair(out, dispatch(Sort, (input,), (d, bool(descending))), _ret_sort, "sort")


@tensor_method("argsort")
def argsort(input, dim=-1, descending=False, *, stable=False):
    check_tensor(input, "argsort")
    d = _dim(input, dim, "argsort")
    return dispatch(Argsort, (input,), (d, bool(descending)))


@tensor_method("msort")
def msort(input, *, out=None):
    """The values of `input` sorted along dim 0."""
    check_tensor(input, "msort")
    d = _wrap_dim(0, input._data.ndim, "msort")
    return _into(out, dispatch(Sort, (input,), (d, False))[0])


def _check_not_bool(input, name):
    if input._data.dtype == np.bool_:
        raise _not_implemented(name, input.dtype)


@tensor_method("topk")
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """The k largest (or smallest) elements along `dim`, in order, with their indices."""
    check_tensor(input, "topk")
    d = _dim(input, dim, "topk")
    a = input._data
    n = a.shape[d] if a.ndim else 1
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if a.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    return _into_pair(out, dispatch(Topk, (input,), (k, d, bool(largest))), _ret_topk, "topk")


@tensor_method("kthvalue")
def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The k-th smallest element (k counts from 1) along `dim`, with its index."""
    check_tensor(input, "kthvalue")
    d = _dim(input, dim, "kthvalue")
    a = input._data
    k = int(k)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    _check_not_bool(input, "kthvalue_cpu")
    return _into_pair(out, dispatch(Kthvalue, (input,), (k, d, bool(keepdim))), _ret_kthvalue,
                      "kthvalue")


@tensor_method("mode")
def mode(input, dim=-1, keepdim=False, *, out=None):
    """The smallest most frequent value along `dim` and the last index it occurs at."""
    check_tensor(input, "mode")
    d = _dim(input, dim, "mode")
    a = input._data
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    return _into_pair(out, dispatch(Mode, (input,), (d, bool(keepdim))), _ret_mode, "mode")


# ---- unique, unique_consecutive --------------------------------------------------------------

class _Unique(Op):
    """(values, inverse, counts); PyTorch records a step whose derivative is not implemented."""
    multi_output = True

    @classmethod
    def backward(cls, ctx, F, *grads):
        raise NotImplementedError(f"the derivative for '{cls.derivative}' is not implemented.")


def _runs(flag, n, xp):
    """Counts of the runs that start where `flag` is True (n elements in all)."""
    starts = xp.nonzero(flag)[0]
    return xp.diff(xp.concatenate([starts, xp.asarray([n])])).astype(_I64)


def _unique_flat(a, consecutive):
    xp = _xp(a)
    flat = a.reshape(-1)
    n = flat.size
    if consecutive:
        order = None
        s = flat
    else:
        order = _stable_argsort(flat, 0)
        s = flat[order]
    flag = xp.ones(n, dtype=bool)
    if n:
        flag[1:] = s[1:] != s[:-1]      # NaN != NaN: every NaN is its own value
    run = xp.cumsum(flag) - 1
    if order is None:
        inverse = run
    else:
        inverse = xp.empty(n, dtype=_I64)
        inverse[order] = run
    return s[flag], inverse.astype(_I64).reshape(a.shape), _runs(flag, n, xp)


def _unique_dim(a, dim, consecutive):
    """Unique slices along `dim` (sorted lexicographically unless consecutive)."""
    xp = _xp(a)
    moved = xp.moveaxis(a, dim, 0)
    n = moved.shape[0]
    rows = moved.reshape(n, int(np.prod(moved.shape[1:])))
    if consecutive or n == 0:
        order = None
        s = rows
    else:
        # lexsort takes its last key as the primary one: columns in reverse order
        order = xp.lexsort(rows.T[::-1]) if rows.shape[1] else xp.arange(n)
        s = rows[order]
    flag = xp.ones(n, dtype=bool)
    if n:
        flag[1:] = (s[1:] != s[:-1]).any(axis=1)
    run = xp.cumsum(flag) - 1
    if order is None:
        inverse = run
    else:
        inverse = xp.empty(n, dtype=_I64)
        inverse[order] = run
    values = s[flag].reshape((-1,) + moved.shape[1:])
    return xp.moveaxis(values, 0, dim), inverse.astype(_I64), _runs(flag, n, xp)


class Unique(_Unique):
    name = "unique"
    backward_name = "Unique2Backward0"
    derivative = "_unique2"

    @staticmethod
    def forward(ctx, a):
        return _unique_flat(a, consecutive=False)


class UniqueDim(_Unique):
    name = "unique_dim"
    derivative = "unique_dim"

    @staticmethod
    def forward(ctx, a, dim):
        return _unique_dim(a, dim, consecutive=False)


class UniqueConsecutive(_Unique):
    name = "unique_consecutive"
    derivative = "unique_consecutive"

    @staticmethod
    def forward(ctx, a):
        return _unique_flat(a, consecutive=True)


class UniqueDimConsecutive(_Unique):
    name = "unique_dim_consecutive"
    derivative = "unique_dim_consecutive"

    @staticmethod
    def forward(ctx, a, dim):
        return _unique_dim(a, dim, consecutive=True)


def _unique_dim_arg(input, dim):
    a = input._data
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _wrap_dim(int(dim), a.ndim, "unique")
    if any(s == 0 for i, s in enumerate(a.shape) if i != d):
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot "
                           "be applied")
    return d


def _pick(res, return_inverse, return_counts):
    values, inverse, counts = res
    if not return_inverse and not return_counts:
        return values
    out = (values,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (counts,)
    return out


@tensor_method("unique")
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The unique elements (or slices along `dim`), sorted (PyTorch's CPU kernel sorts even with
    sorted=False); optionally the inverse indices and the counts."""
    check_tensor(input, "unique")
    if dim is None:
        res = dispatch(Unique, (input,))
    else:
        res = dispatch(UniqueDim, (input,), (_unique_dim_arg(input, dim),))
    return _pick(res, return_inverse, return_counts)


@tensor_method("unique_consecutive")
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses runs of equal consecutive elements (or slices along `dim`)."""
    check_tensor(input, "unique_consecutive")
    if dim is None:
        res = dispatch(UniqueConsecutive, (input,))
    else:
        res = dispatch(UniqueDimConsecutive, (input,), (_unique_dim_arg(input, dim),))
    return _pick(res, return_inverse, return_counts)


# ---- searchsorted, bucketize -----------------------------------------------------------------

def _binary_search(rows, vals, right, sorter):
    """PyTorch's lower/upper bound, vectorized: for each row of `rows` (R, n) the insertion
    points of `vals` (R, m). Comparisons are written as in its kernel (`!(mid >= v)`), so NaN
    boundaries and values land where PyTorch puts them."""
    xp = _xp(rows)
    n = rows.shape[1]
    if sorter is not None:
        rows = xp.take_along_axis(rows, sorter, axis=1)
    start = xp.zeros(vals.shape, dtype=_I64)
    end = xp.full(vals.shape, n, dtype=_I64)
    if n == 0 or vals.size == 0:
        return start
    while True:
        active = start < end
        if not active.any():
            return start
        mid = (start + end) >> 1
        mid_val = xp.take_along_axis(rows, xp.minimum(mid, n - 1), axis=1)
        with np.errstate(invalid="ignore"):
            go_right = ~(mid_val > vals) if right else ~(mid_val >= vals)
        start = xp.where(active & go_right, mid + 1, start)
        end = xp.where(active & ~go_right, mid, end)


class SearchSorted(Op):
    name = "searchsorted"
    promote = "common"
    differentiable = False

    @staticmethod
    def forward(ctx, seq, values, right, out_dtype, sorter):
        xp = _xp(seq)
        v = xp.asarray(values, dtype=seq.dtype)
        n = seq.shape[-1]
        r = int(np.prod(seq.shape[:-1]))       # 1 for a 1-D sequence: one row for every value
        rows, vals = seq.reshape(r, n), v.reshape(r, v.size // r if r else 0)
        srt = None if sorter is None else sorter.reshape(r, n)
        return _binary_search(rows, vals, right, srt).reshape(v.shape).astype(out_dtype)


def _searchsorted(seq, values, out_int32, right, side, sorter, op):
    if seq._data.ndim == 0:
        raise RuntimeError(f"{op}(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    v_is_tensor = isinstance(values, Tensor)
    if seq._data.ndim > 1 and v_is_tensor:
        vs, bs = tuple(values._data.shape), tuple(seq._data.shape)
        if len(vs) != len(bs) or vs[:-1] != bs[:-1]:
            raise RuntimeError(
                f"{op}(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
                f"{list(bs)} and input value tensor {list(vs)}")
    elif seq._data.ndim > 1:
        raise RuntimeError(f"{op}(): input value can be a scalar only when boundaries tensor "
                           f"dimension is 1, but we got boundaries tensor dim({seq._data.ndim}) and "
                           "input value's dim(0) numel(1)")
    for t in (seq, values):
        if isinstance(t, Tensor) and t._data.dtype == np.bool_:
            raise _not_implemented("searchsorted_out_cpu", t.dtype)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{op}(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(f"{op}(): side and right can't be set to opposites, got side of "
                               f"left while right was True")
        right = side == "right"
    srt = None
    if sorter is not None:
        if sorter._data.dtype != _I64:
            raise RuntimeError(f"{op}(): sorter must be a tensor of long dtype but got dtype "
                               f"{_TORCH_TYPE_NAMES[sorter.dtype.name]}")
        if tuple(sorter._data.shape) != tuple(seq._data.shape):
            raise RuntimeError(f"{op}(): boundary and sorter must have the same size, but got "
                               f"boundary tensor {list(seq._data.shape)}and got sorter tensor "
                               f"{list(sorter._data.shape)}")
        srt = sorter._data
        if srt.size and (int(srt.min()) < 0 or int(srt.max()) >= seq._data.shape[-1]):
            raise RuntimeError(f"{op}(): sorter index out of range")
    if not v_is_tensor:
        if isinstance(values, bool) or not isinstance(values, (int, float)):
            raise TypeError(f"{op}(): argument 'input' must be Tensor or Number, not "
                            f"{type(values).__name__}")
    out_dtype = np.dtype(np.int32 if out_int32 else np.int64)
    return dispatch(SearchSorted, (seq, values), (bool(right), out_dtype, srt))


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None,
                 out=None):
    """Indices where `values` would be inserted into the innermost dim of `sorted_sequence`
    to keep it sorted (`right`/side='right': after equal elements)."""
    check_tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    if sorter is not None:
        check_tensor(sorter, "searchsorted", "sorter")
    res = _searchsorted(sorted_sequence, values, out_int32, right, side, sorter,
                        "torch.searchsorted")
    return _into(out, res)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element of `input` among the 1-D `boundaries` (searchsorted with the
    arguments swapped)."""
    check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return _into(out, _searchsorted(boundaries, input, out_int32, right, None, None,
                                    "torch.bucketize"))


# ---- quantile, nanquantile ------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    import pellucid
    op = "quantile"
    check_tensor(input, "nanquantile" if ignore_nan else "quantile")
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if not isinstance(q, (int, float)):
            raise TypeError(f"{op}(): argument 'q' must be Tensor or float, not {type(q).__name__}")
        q = float(q)
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError("quantile() interpolation must be one of linear, lower, higher, midpoint "
                           f"or nearest, but got {interpolation}")
    a = input._data
    if a.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if not scalar_q and q._data.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if a.dtype not in (np.float32, np.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if not scalar_q:
        if q._data.dtype != a.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
        qa = q._data
        if not bool(((qa >= 0) & (qa <= 1)).all()):
            raise RuntimeError("quantile() q values must be in the range [0, 1]")
    zero_d_q = scalar_q or q._data.ndim == 0

    ndim = a.ndim
    if dim is None:
        x = input.reshape(-1)
        out_shape = (1,) * ndim if keepdim else ()
    else:
        d = _wrap_dim(int(dim), ndim, "quantile")
        if ndim == 0:
            x, out_shape = input.reshape(1), ()
        else:
            x = input.movedim(d, -1)
            out_shape = tuple(1 if i == d else s for i, s in enumerate(a.shape)
                              if i != d or keepdim)
    s = sort(x, -1).values                      # (*rest, n), NaN last
    n = s.shape[-1]
    rest = tuple(s.shape[:-1])
    qv = pellucid.tensor([q], dtype=input.dtype, device=input.device) if scalar_q else q.reshape(-1)
    qv = qv.reshape((1,) * len(rest) + (qv.shape[0],))
    if ignore_nan:
        # ranks among the non-NaN values; an all-NaN slice gets rank 0 (its value is NaN)
        ranks = qv * (s.isnan().logical_not().sum(-1, keepdim=True) - 1)
        ranks = ranks.masked_fill(ranks < 0, 0)
    else:
        # a slice holding a NaN takes its last (NaN) value
        ranks = (qv * (n - 1)).expand(rest + (qv.shape[-1],))
        ranks = ranks.masked_fill(s.isnan().any(-1, keepdim=True), n - 1)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()           # half to even, as PyTorch rounds
    below = ranks.long()
    values = s.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weights = (pellucid.full_like(ranks, 0.5) if interpolation == "midpoint"
                   else ranks - below)
        above = s.gather(-1, ranks.ceil().long())
        values = values.lerp(above, weights)
    if zero_d_q:
        return values.squeeze(-1).reshape(out_shape)
    return values.movedim(-1, 0).reshape((values.shape[-1],) + out_shape)


@tensor_method("quantile")
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The q-th quantiles along `dim` (of all elements when None); a 1-D q adds a leading dim.
    A slice holding a NaN gives NaN."""
    return _into(out, _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False))


@tensor_method("nanquantile")
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """quantile ignoring NaNs (NaN only where a slice is all NaN)."""
    return _into(out, _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True))


# ---- isin ---------------------------------------------------------------------------------------

class Isin(Op):
    name = "isin"
    promote = "common"
    differentiable = False

    @staticmethod
    def forward(ctx, e, t, invert):
        # dispatch gave tensors the common dtype; a Python number takes the tensor's
        arr = t if isinstance(e, (int, float)) else e
        xp = _xp(arr)
        e, t = xp.asarray(e, dtype=arr.dtype), xp.asarray(t, dtype=arr.dtype)
        return xp.isin(e, t, invert=invert)


def isin(elements, test_elements, *, assume_unique=False, invert=False, out=None):
    """Whether each element of `elements` is in `test_elements` (NaN is in nothing)."""
    e_t, t_t = isinstance(elements, Tensor), isinstance(test_elements, Tensor)
    for x, is_t in ((elements, e_t), (test_elements, t_t)):
        if not is_t and (isinstance(x, bool) or not isinstance(x, (int, float))):
            raise TypeError("isin() received an invalid combination of arguments: expected "
                            "(Tensor, Tensor), (Number, Tensor) or (Tensor, Number), got "
                            f"({type(elements).__name__}, {type(test_elements).__name__})")
    if not e_t and not t_t:
        raise TypeError("isin() received an invalid combination of arguments: expected (Tensor, "
                        "Tensor), (Number, Tensor) or (Tensor, Number), got (Number, Number)")
    for x in (elements, test_elements):
        if isinstance(x, Tensor) and x._data.dtype == np.bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    return _into(out, dispatch(Isin, (elements, test_elements), (bool(invert),)))
