"""Common tensor functions that fit no other family.

Tensor.new_* constructors; repeat_interleave, rot90, diff, diagflat, ravel, narrow_copy,
select_scatter, slice_scatter; index and combinatorial builders (tril_indices, triu_indices,
cartesian_prod, combinations, block_diag, vander); running extremes (cummax, cummin) and
logcumsumexp; counting (bincount, histc, histogram); statistics (cov, corrcoef, dist, renorm,
trapezoid, cumulative_trapezoid); the in-place shape methods (t_, transpose_, squeeze_,
unsqueeze_, swapaxes_, swapdims_), fill_diagonal_, storage_offset and pinned host memory.

Most of these are written with other pellucid ops, so their gradients (of any order) come from
those ops; cummax/cummin, logcumsumexp, the scatters and fill_diagonal_ are ops of their own.
"""
import builtins
import itertools
import math
import warnings

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._grad_mode import state as _gm
from .._tensor import Tensor, _wrap_dim
from . import _creation
from ._F import TENSOR
from ._indexing import IndexPut, Key, index_select, scatter_add
from ._joining import cat, stack
from ._reduce import _out, _structseq, vector_norm
from ._registry import tensor_method
from ._shape import Squeeze, Transpose, Unsqueeze, View, _add_at, _xp, diag, flip, meshgrid, \
    narrow, reshape, transpose

_SCALAR_NAME = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                "float64": "Double"}
_C_NAME = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
           "int32": "int", "int64": "long int", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
           "float32": "float", "float64": "double"}

_ret_cummax = _structseq("cummax", ("values", "indices"))
_ret_cummin = _structseq("cummin", ("values", "indices"))
_ret_histogram = _structseq("histogram", ("hist", "bin_edges"))


def _not_implemented(kernel, t):
    return NotImplementedError(f'"{kernel}" not implemented for \'{_SCALAR_NAME[t.dtype.name]}\'')


def _is_float(t):
    return t._data.dtype.kind in D.FLOAT_KINDS


def _int_arg(x, what, op):
    if isinstance(x, Tensor):
        return int(x.item())
    try:
        return x.__index__()
    except AttributeError:
        raise TypeError(f"{op}(): argument '{what}' must be int, not {type(x).__name__}") from None


def _new_array(xp_like, values):
    """An int64 index array on the device of `xp_like`."""
    xp = _xp(xp_like)
    return xp.asarray(values, dtype=np.int64)


# ---- Tensor.new_* -------------------------------------------------------------------------------

def _opts(self, dtype, device):
    return (self.dtype if dtype is None else D.as_dtype(dtype)), (self.device if device is None else device)


@tensor_method("new_tensor")
def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
            "sourceTensor.detach().clone().requires_grad_(True), rather than tensor.new_tensor(sourceTensor).",
            UserWarning, stacklevel=2)
    dt, dev = _opts(self, dtype, device)
    return _creation.tensor(data, dtype=dt, device=dev, requires_grad=requires_grad)


def _new_filled(kind, self, size, kw, dtype, device, requires_grad):
    dt, dev = _opts(self, dtype, device)
    shape = _creation._size_arg(size, kw, f"new_{kind}")
    return _creation._make_filled(kind, shape, dt, dev, requires_grad)


@tensor_method("new_zeros")
def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _new_filled("zeros", self, size, kw, dtype, device, requires_grad)


@tensor_method("new_ones")
def _new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _new_filled("ones", self, size, kw, dtype, device, requires_grad)


@tensor_method("new_empty")
def _new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False, **kw):
    return _new_filled("empty", self, size, kw, dtype, device, requires_grad)


@tensor_method("new_full")
def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              pin_memory=False):
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    dt, dev = _opts(self, dtype, device)
    return _creation.full(tuple(size), fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


# ---- repeat_interleave ----------------------------------------------------------------------------

def _check_output_size(total, output_size):
    if output_size is not None and int(output_size) != total:
        raise RuntimeError("allocated size does not match required size")


def _repeats_array(repeats):
    r = repeats._data
    if r.dtype.kind not in "iu":
        raise _not_implemented("repeat_interleave_cpu", repeats)
    if r.size and r.min() < 0:
        raise RuntimeError("repeats can not be negative")
    return r


@tensor_method("repeat_interleave")
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along `dim`) repeated `repeats` times; with one tensor argument,
    `repeat_interleave(r)` is `repeat_interleave(arange(len(r)), r)`."""
    if repeats is None:
        if input._data.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        r = _repeats_array(input)
        xp = _xp(r)
        out = xp.repeat(xp.arange(r.shape[0], dtype=r.dtype), r.astype(np.int64))
        _check_output_size(out.shape[0], output_size)
        return Tensor._make(out)
    if dim is None:
        input = reshape(input, (-1,))
        d = 0
    else:
        if input._data.ndim == 0:
            raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got {dim})")
        d = _wrap_dim(dim, input._data.ndim, "repeat_interleave")
    n = input._data.shape[d]
    xp = _xp(input._data)
    if isinstance(repeats, Tensor):
        if repeats._data.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        r = _backend.move(_repeats_array(repeats), input.device).astype(np.int64)
        if r.size == 1:
            r = r.reshape(())
        elif r.shape[0] != n:
            raise RuntimeError(
                f"repeats must have the same size as input along dim, but got repeats.size(0) = {r.shape[0]} "
                f"and input.size({d}) = {n}")
    else:
        r = _int_arg(repeats, "repeats", "repeat_interleave")
        if r < 0:
            raise RuntimeError("Repeats must be non-negative")
    idx = xp.repeat(xp.arange(n, dtype=np.int64), r)
    _check_output_size(idx.shape[0], output_size)
    return index_select(input, d, Tensor._make(idx))


# ---- rot90, diff, diagflat, ravel, narrow_copy --------------------------------------------------

@tensor_method("rot90")
def rot90(input, k=1, dims=(0, 1)):
    dims = [int(d) for d in dims]
    n = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    d0, d1 = (_wrap_dim(d, n, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, (d0,)), d0, d1)
    return input.clone()


def _check_diff_operand(t, input, d, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"diff(): argument '{what}' must be Tensor, not {type(t).__name__}")
    if t._data.ndim != input._data.ndim:
        raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    for i, (a, b) in enumerate(zip(input._data.shape, t._data.shape)):
        if i != d and a != b:
            raise RuntimeError(
                "diff expects the shape of tensor to prepend or append to match that of input except along "
                f"the differencing dimension; input.size({i}) = {a}, but got tensor.size({i}) = {b}")


@tensor_method("diff")
def diff(input, n=1, dim=-1, prepend=None, append=None):
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    n = _int_arg(n, "n", "diff")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap_dim(dim, input._data.ndim, "diff")
    parts = []
    if prepend is not None:
        _check_diff_operand(prepend, input, d, "prepend")
        parts.append(prepend)
    parts.append(input)
    if append is not None:
        _check_diff_operand(append, input, d, "append")
        parts.append(append)
    x = cat(parts, d) if len(parts) > 1 else input
    if n == 0:
        return x.clone() if x is input else x
    is_bool = x._data.dtype == np.bool_
    for _ in range(n):
        length = x._data.shape[d]
        if length == 0:
            break
        hi, lo = narrow(x, d, 1, length - 1), narrow(x, d, 0, length - 1)
        x = (hi != lo) if is_bool else hi - lo
    return x


@tensor_method("diagflat")
def diagflat(input, offset=0):
    return diag(reshape(input, (-1,)), offset)


@tensor_method("ravel")
def ravel(input):
    return reshape(input, (-1,))


@tensor_method("narrow_copy")
def narrow_copy(input, dim, start, length):
    return narrow(input, dim, start, length).clone()


# ---- select_scatter / slice_scatter ---------------------------------------------------------------

class SliceScatter(IndexPut):
    """`input` with `src` written at a basic-indexing key (select or slice); a new tensor."""
    name = "slice_scatter"


class SelectScatter(SliceScatter):
    name = "select_scatter"


def _scatter_into(op, input, src, key, slice_shape):
    if not isinstance(src, Tensor):
        raise TypeError(f"{op.name}(): argument 'src' must be Tensor, not {type(src).__name__}")
    if tuple(src._data.shape) != tuple(slice_shape):
        raise RuntimeError(
            f"expected src to have a size equal to the slice of self. src size = {list(src._data.shape)}, "
            f"slice size = {list(slice_shape)}")
    return dispatch(op, (input, src), (Key(key + (Ellipsis,), None, True), False, False))


@tensor_method("select_scatter")
def select_scatter(input, src, dim, index):
    shape = input._data.shape
    if len(shape) == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, len(shape), "select_scatter")
    index = _int_arg(index, "index", "select_scatter")
    if not -shape[d] <= index < shape[d]:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(shape)} at dimension {d}")
    index %= shape[d]
    key = (slice(None),) * d + (index,)
    return _scatter_into(SelectScatter, input, src, key, shape[:d] + shape[d + 1:])


@tensor_method("slice_scatter")
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    shape = input._data.shape
    if len(shape) == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, len(shape), "slice_scatter")
    step = _int_arg(step, "step", "slice_scatter")
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    start = None if start is None else _int_arg(start, "start", "slice_scatter")
    end = None if end is None else _int_arg(end, "end", "slice_scatter")
    s = slice(start, end, step)
    length = len(range(*s.indices(shape[d])))
    key = (slice(None),) * d + (s,)
    return _scatter_into(SliceScatter, input, src, key, shape[:d] + (length,) + shape[d + 1:])


# ---- index and combinatorial builders -------------------------------------------------------------

def _tri_indices(name, row, col, offset, dtype, device):
    dt = D.int64 if dtype is None else D.as_dtype(dtype)
    if dt.category != 1:
        raise NotImplementedError(f'"{name}" not implemented for \'{_SCALAR_NAME[dt.name]}\'')
    row, col, offset = (_int_arg(v, w, name) for v, w in ((row, "row"), (col, "col"), (offset, "offset")))
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    r, c = np.indices((row, col)).reshape(2, -1)
    keep = (c - r <= offset) if name == "tril_indices" else (c - r >= offset)
    out = np.stack([r[keep], c[keep]]).astype(dt.np)
    dev = _creation._dev(device)
    if dev is not None:
        out = _backend.move(out, dev, op=name)
    return Tensor._make(out)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix, row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the upper triangle of a row x col matrix, row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device)


def cartesian_prod(*tensors):
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if len(tensors) == 1:
        return tensors[0]
    if len({t._data.dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """All length-r combinations of the elements of a 1-D tensor, as rows (itertools' order)."""
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    r = _int_arg(r, "r", "combinations")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return index_select(input, 0, Tensor._make(_new_array(input._data, [])))
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.fromiter(itertools.chain.from_iterable(gen(range(input._data.shape[0]), r)), dtype=np.int64)
    picked = index_select(input, 0, Tensor._make(_new_array(input._data, idx)))
    return reshape(picked, (-1, r))


def block_diag(*tensors):
    """The tensors (0-, 1- or 2-D) as the blocks of a block-diagonal matrix."""
    if not tensors:
        return _creation.zeros(1, 0)
    blocks = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
        n = t._data.ndim
        if n > 2:
            raise RuntimeError(
                f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has {n} dimensions")
        blocks.append(reshape(t, (1, 1)) if n == 0 else reshape(t, (1, -1)) if n == 1 else t)
    devices = {str(t.device) for t in tensors}
    if len(devices) > 1:
        raise RuntimeError("torch.block_diag: input tensors must all be on the same device. "
                           f"Got devices {sorted(devices)}")
    dt = D.result_type(*tensors)
    dev = tensors[0].device
    width = builtins.sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        h, w = b._data.shape
        parts = []
        if left:
            parts.append(_creation.zeros(h, left, dtype=dt, device=dev))
        parts.append(b if b.dtype is dt else b.to(dt))
        if width - left - w:
            parts.append(_creation.zeros(h, width - left - w, dtype=dt, device=dev))
        rows.append(cat(parts, 1) if len(parts) > 1 else parts[0])
        left += w
    return cat(rows, 0) if len(rows) > 1 else rows[0].clone()


def vander(x, N=None, increasing=False):
    """Columns x**(N-1), ..., x**0 (or increasing powers), computed with a cumulative product."""
    if x._data.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x._data.shape[0] if N is None else _int_arg(N, "N", "vander")
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = D.promote_types(x.dtype, D.int64)
    m = x._data.shape[0]
    if n <= 1:
        out = (_creation.ones if n else _creation.zeros)(m, n, dtype=dt, device=x.device)
    else:
        col = reshape(x if x.dtype is dt else x.to(dt), (m, 1))
        out = cat([_creation.ones(m, 1, dtype=dt, device=x.device), col.expand(m, n - 1)], 1).cumprod(1)
    return out if increasing else flip(out, (1,))


# ---- cummax / cummin / logcumsumexp -----------------------------------------------------------------

def _accumulate(xp, name, a, axis):
    """ufunc.accumulate along `axis` (a loop over the axis where the array module lacks it)."""
    uf = getattr(xp, name)
    try:
        return uf.accumulate(a, axis=axis)
    except (AttributeError, NotImplementedError, TypeError):
        out = a.copy()
        for i in range(1, a.shape[axis]):
            cur = (slice(None),) * axis + (i,)
            prev = (slice(None),) * axis + (i - 1,)
            out[cur] = uf(out[prev], a[cur])
        return out


def _index_grad(F, g, idx, dim, shape):
    """zeros(shape) with g added at `idx` along `dim` (the gradient of a gather along dim)."""
    if F is TENSOR:
        return scatter_add(F.zeros(tuple(shape), like=g), dim, F.const(idx), g)
    xp = F.xp
    out = xp.zeros(shape, dtype=g.dtype)
    key = tuple(idx if k == dim else xp.arange(s).reshape((-1,) + (1,) * (len(shape) - k - 1))
                for k, s in enumerate(shape))
    _add_at(out, key, g)
    return out


class _CumExtreme(Op):
    multi_output = True
    ufunc = None

    @classmethod
    def forward(cls, ctx, a, dim):
        xp = _xp(a)
        if a.ndim == 0:
            ctx.idx = None
            return a.copy(), xp.zeros((), dtype=np.int64)
        vals = _accumulate(xp, cls.ufunc, a, dim)
        event = a == vals
        if a.dtype.kind == "f":
            event |= xp.isnan(a)
        pos = xp.arange(a.shape[dim], dtype=np.int64).reshape((-1,) + (1,) * (a.ndim - dim - 1))
        idx = _accumulate(xp, "maximum", xp.where(event, pos, 0), dim)
        ctx.idx = idx
        ctx.dim = dim
        return vals, idx

    @staticmethod
    def backward(ctx, F, g, _g_indices):
        if ctx.idx is None:
            return g
        return _index_grad(F, g, ctx.idx, ctx.dim, ctx.in_meta[0][0])


class CumMax(_CumExtreme):
    name = "cummax"
    ufunc = "maximum"


class CumMin(_CumExtreme):
    name = "cummin"
    ufunc = "minimum"


def _cum_extreme(op, ret, input, dim):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op.name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    d = _wrap_dim(dim, input._data.ndim, op.name)
    return ret(*dispatch(op, (input,), (d,)))


@tensor_method("cummax")
def cummax(input, dim):
    """(values, indices): the running maximum along `dim` and where it was found (the last
    position on ties; NaN propagates)."""
    return _cum_extreme(CumMax, _ret_cummax, input, dim)


@tensor_method("cummin")
def cummin(input, dim):
    return _cum_extreme(CumMin, _ret_cummin, input, dim)


def _lcse_array(a, dim):
    xp = _xp(a)
    if xp is np:
        with np.errstate(invalid="ignore", over="ignore"):
            return np.logaddexp.accumulate(a, axis=dim)
    return _accumulate(xp, "logaddexp", a, dim)


def _lcse(F, x, dim):
    return logcumsumexp(x, dim) if F is TENSOR else _lcse_array(x, dim)


def _flip(F, x, dim):
    return flip(x, (dim,)) if F is TENSOR else F.xp.flip(x, dim)


class LogCumSumExp(Op):
    name = "logcumsumexp"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.ndim == 0:
            return a.copy()
        return _lcse_array(a, dim)

    @staticmethod
    def backward(ctx, F, g):
        # PyTorch's formula: the positive and negative parts of g in log space, so nothing overflows
        (x,) = ctx.inputs
        if len(ctx.in_meta[0][0]) == 0:
            return g
        dim = ctx.dim
        out = _out(ctx, F)
        lowest = float(np.finfo(np.float32 if F.value(g).dtype == D.BF16 else F.value(g).dtype).min)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_abs = F.log(F.abs(g))
            log_pos = F.where(g > 0, log_abs, lowest)
            log_neg = F.where(g < 0, log_abs, lowest)

            def rev(t):
                return _flip(F, _lcse(F, _flip(F, t, dim), dim), dim)
            return F.exp(rev(log_pos - out) + x) - F.exp(rev(log_neg - out) + x)


@tensor_method("logcumsumexp")
def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(input))) along `dim`, computed without overflow."""
    if not _is_float(input):
        raise _not_implemented("logcumsumexp_out_cpu", input)
    d = _wrap_dim(dim, input._data.ndim, "logcumsumexp")
    from ._reduce import _into
    return _into(out, dispatch(LogCumSumExp, (input,), (d,)))


# ---- counting: bincount, histc, histogram -----------------------------------------------------------

@tensor_method("bincount")
def bincount(input, weights=None, minlength=0):
    """Counts of each non-negative integer (weighted sums with `weights`); not differentiable."""
    a = input._data
    if a.dtype.kind not in "iu":
        raise _not_implemented("bincount_cpu", input)
    minlength = _int_arg(minlength, "minlength", "bincount")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if a.ndim != 1 or (a.size and int(a.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    xp = _xp(a)
    if weights is None:
        return Tensor._make(xp.bincount(a, minlength=minlength).astype(np.int64, copy=False))
    w = weights._data
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    out_dt = w.dtype if w.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    res = xp.bincount(a, weights=w.astype(np.float64), minlength=minlength)
    return Tensor._make(res.astype(out_dt, copy=False))


def _float_compute(a):
    """bfloat16 data counts in float32 (NumPy's bfloat16 arithmetic is not PyTorch's)."""
    return a.astype(np.float32) if a.dtype == D.BF16 else a


@tensor_method("histc")
def histc(input, bins=100, min=0, max=0, *, out=None):
    """A histogram of `bins` equal bins over [min, max] (the data's range when min == max);
    elements outside are ignored. Not differentiable."""
    if not _is_float(input):
        raise _not_implemented("histogram_cpu", input)
    bins = _int_arg(bins, "bins", "histc")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    a = _float_compute(input._data).reshape(-1)
    xp = _xp(a)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    if not lo < hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    # PyTorch's linear interpolation, in the input's dtype: bin = (x - min) * bins / (max - min)
    left, right = a.dtype.type(lo), a.dtype.type(hi)
    v = a[(a >= left) & (a <= right)]
    pos = ((v - left) * a.dtype.type(bins) / (right - left)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    hist = xp.bincount(pos, minlength=bins).astype(input._data.dtype)
    from ._reduce import _into
    return _into(out, Tensor._make(hist))


def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    """(hist, bin_edges): a histogram of the flattened input over `bins` equal bins (an int) or
    the given monotonic edges (a 1-D tensor); the last bin includes its right edge."""
    if not _is_float(input):
        raise _not_implemented("histogramdd", input)
    a = input._data.reshape(-1)
    cname = _C_NAME[input.dtype.name]
    w = None
    if weight is not None:
        if weight.dtype is not input.dtype:
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided, input tensor and weight tensor should have "
                f"the same dtype, but got input({cname}), and weight({_C_NAME[weight.dtype.name]})")
        if weight._data.size != a.size:
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided it should have the same shape as the input "
                "tensor excluding its innermost dimension, but got input with shape "
                f"{[a.size, 1]} and weight with shape {list(weight.shape)}")
        w = weight._data.reshape(-1)
    if isinstance(bins, Tensor):
        if bins._data.ndim != 1:
            raise RuntimeError("torch.histogramdd: bins tensor should have one dimension, but got "
                               f"{bins._data.ndim} dimensions in the bins tensor for dimension 0")
        if bins.dtype is not input.dtype:
            raise RuntimeError(
                "torch.histogramdd: input tensor and bins tensors should have the same dtype, but got input "
                f"with dtype {cname} and bins for dimension 0 with dtype {_C_NAME[bins.dtype.name]}")
        if bins._data.size < 2:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, but got "
                               f"{bins._data.size - 1} elements for dimension 0")
        edges = bins._data.copy()
    else:
        nb = _int_arg(bins, "bins", "histogram")
        if nb <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {nb} for dimension 0")
        if range is not None:
            lo, hi = (float(v) for v in range)
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo:g} max {hi:g} "
                               "for dimension 0")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo:g}, {hi:g}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _creation.linspace(lo, hi, nb + 1, dtype=input.dtype, device=input.device)._data
    xp = _xp(a)
    n_bins = edges.shape[0] - 1
    e, v = _float_compute(edges), _float_compute(a)
    keep = (v >= e[0]) & (v <= e[-1])
    v = v[keep]
    pos = xp.minimum(xp.searchsorted(e, v, side="right") - 1, n_bins - 1)
    if w is None:
        hist = xp.bincount(pos, minlength=n_bins).astype(e.dtype)
    else:
        hist = xp.bincount(pos, weights=_float_compute(w)[keep].astype(np.float64), minlength=n_bins).astype(e.dtype)
    if density:
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = hist / (hist.sum() * (e[1:] - e[:-1]))
    hist = hist.astype(input._data.dtype)
    res = _ret_histogram(Tensor._make(hist), Tensor._make(edges))
    if out is not None:
        from ._reduce import _into
        return _ret_histogram(_into(out[0], res.hist), _into(out[1], res.bin_edges))
    return res


Tensor.histogram = histogram


# ---- statistics: cov, corrcoef, dist, renorm, trapezoid ----------------------------------------------

def _check_weights(w, kind, n_obs):
    if w._data.ndim > 1:
        raise RuntimeError(f"cov(): expected {kind} to have one or fewer dimensions but got {kind} with "
                           f"{w._data.ndim} dimensions")
    integral = w._data.dtype.kind in "iu"
    if kind == "fweights" and not integral:
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                           f"{_SCALAR_NAME[w.dtype.name]} dtype")
    if kind == "aweights" and not _is_float(w):
        raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                           f"{_SCALAR_NAME[w.dtype.name]} dtype")
    if w._data.size != n_obs:
        raise RuntimeError(f"cov(): expected {kind} to have the same numel as there are observations in the "
                           f"input but got {w._data.size} != {n_obs}")
    if n_obs and float(w._data.min()) < 0:
        raise RuntimeError(f"cov(): {kind} cannot be negative")


@tensor_method("cov")
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of `input` (observations in columns)."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with {n} "
                           "dimensions")
    if input._data.dtype == np.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = reshape(input, (1, -1)) if n < 2 else input
    n_obs = x._data.shape[1]
    w = None
    if fweights is not None:
        _check_weights(fweights, "fweights", n_obs)
        w = fweights
    if aweights is not None:
        _check_weights(aweights, "aweights", n_obs)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = n_obs
        avg = x.sum(1) / w_sum
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        if not bool(w_sum != 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (x * w).sum(1) / w_sum
        if correction != 0 and aweights is not None:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
        else:
            norm = w_sum - correction
    if bool(norm <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=2)
        norm = norm * 0
    xc = x - avg.unsqueeze(1)
    c = xc.matmul((xc if w is None else xc * w).t())
    with np.errstate(divide="ignore", invalid="ignore"):
        return (c / norm).squeeze()


@tensor_method("corrcoef")
def corrcoef(input):
    """Pearson correlation coefficients of the variables in the rows of `input`."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                           f"{n} dimensions")
    c = cov(input)
    with np.errstate(divide="ignore", invalid="ignore"):
        if c._data.ndim == 0:
            return c / c
        std = c.diagonal().sqrt()
        c = c / std.reshape(-1, 1)
        c = c / std.reshape(1, -1)
    return c.clamp(-1, 1)


@tensor_method("dist")
def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    if isinstance(p, Tensor):
        p = p.item()
    d = input - other
    if not _is_float(d):
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_SCALAR_NAME[d.dtype.name]} instead.")
    return vector_norm(d, float(p))


def _renorm_checks(input, p, dim, maxnorm):
    n = input._data.ndim
    if n < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {n} dimensions")
    d = _wrap_dim(dim, n, "renorm")
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if not _is_float(input):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_SCALAR_NAME[input.dtype.name]}")
    return d


@tensor_method("renorm")
def renorm(input, p, dim, maxnorm):
    """Each slice along `dim` whose p-norm exceeds maxnorm scaled down to norm maxnorm."""
    d = _renorm_checks(input, p, dim, maxnorm)
    others = tuple(i for i in builtins.range(input._data.ndim) if i != d)
    norm = vector_norm(input, float(p), others, keepdim=True)
    from ._pointwise import where
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return input * factor


@tensor_method("renorm_")
def _renorm_(self, p, dim, maxnorm):
    _renorm_checks(self, p, dim, maxnorm)
    src = self.clone() if (_gm.grad_enabled and self._requires_grad) else self
    return self.copy_(renorm(src, p, dim, maxnorm))


def _trapezoid_dim(y, dim, op):
    if not isinstance(y, Tensor):
        raise TypeError(f"{op}(): argument 'y' must be Tensor, not {type(y).__name__}")
    if y._data.ndim == 0:
        if op == "cumulative_trapezoid":
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return _wrap_dim(dim, y._data.ndim, op)


def _x_steps(y, x, d, op):
    """x[1:] - x[:-1] along d, laid out to broadcast against y's differences (as PyTorch does)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'x' (position 2) must be Tensor, not {type(x).__name__}")
    if y._data.dtype == np.bool_ or x._data.dtype == np.bool_:
        raise RuntimeError(f"{op}: received a bool input for `x` or `y`, but bool is not supported")
    ny = y._data.ndim
    if x._data.ndim == 1:
        if x._data.shape[0] != y._data.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
        shape = [1] * ny
        shape[d] = x._data.shape[0]
        xv = reshape(x, tuple(shape))
    elif x._data.ndim < ny:
        xv = reshape(x, (1,) * (ny - x._data.ndim) + tuple(x._data.shape))
    else:
        xv = x
    lead = (slice(None),) * d
    return xv[lead + (slice(1, None),)] - xv[lead + (slice(0, -1),)]


def _y_pair(y, d):
    lead = (slice(None),) * d
    return y[lead + (slice(0, -1),)], y[lead + (slice(1, None),)]


def _scalar_dx(dx, op):
    if dx is None:
        return 1
    if isinstance(dx, Tensor):
        return dx.item()
    if not isinstance(dx, (int, float, np.number)):
        raise TypeError(f"{op}(): argument 'dx' must be Number, not {type(dx).__name__}")
    return dx


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along `dim`, with sample points `x` or a constant spacing `dx`."""
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments: give either x or dx, not both")
    d = _trapezoid_dim(y, dim, "trapezoid")
    if x is None:
        dx = _scalar_dx(dx, "trapezoid")
        if y._data.dtype == np.bool_:
            raise RuntimeError("trapezoid: received a bool input for `y`, but bool is not supported")
    if y._data.shape[d] == 0:
        shape = y._data.shape[:d] + y._data.shape[d + 1:]
        return _creation.zeros(shape, dtype=y.dtype, device=y.device)
    if x is None:
        ends = y.select(d, 0) + y.select(d, -1)
        return (y.sum(d) - ends * 0.5) * dx
    steps = _x_steps(y, x, d, "trapezoid")
    left, right = _y_pair(y, d)
    return ((left + right) * steps).sum(d) / 2.0


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along `dim` (one element fewer than y along it)."""
    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received an invalid combination of arguments: give either x or "
                        "dx, not both")
    d = _trapezoid_dim(y, dim, "cumulative_trapezoid")
    left, right = _y_pair(y, d)
    if x is None:
        if y._data.dtype == np.bool_:
            raise RuntimeError("cumulative_trapezoid: received a bool input for `y`, but bool is not supported")
        return (_scalar_dx(dx, "cumulative_trapezoid") / 2.0 * (left + right)).cumsum(d)
    steps = _x_steps(y, x, d, "cumulative_trapezoid")
    return ((left + right) * steps).cumsum(d) / 2.0


# ---- fill_diagonal_ --------------------------------------------------------------------------------

class FillDiagonal(IndexPut):
    name = "fill_diagonal"


@tensor_method("fill_diagonal_")
def _fill_diagonal_(self, fill_value, wrap=False):
    shape = self._data.shape
    n = len(shape)
    if n < 2:
        raise RuntimeError("dimensions must larger than 1")
    if n > 2 and any(s != shape[0] for s in shape):
        raise RuntimeError("all dimensions of input must be of equal length")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    xp = _xp(self._data)
    h, w = shape[0], shape[1]
    if wrap and n == 2 and h > w + 1:
        # past the square, the diagonal starts again one row below it (NumPy's fill_diagonal)
        flat = xp.arange(0, h * w, w + 1)
        key = (flat // w, flat % w)
    else:
        i = xp.arange(builtins.min(shape))
        key = (i,) * n
    return dispatch_inplace(FillDiagonal, self, (fill_value,), (Key(None, key, True), False, True))


# ---- in-place shape methods -------------------------------------------------------------------------

def _inplace_view(self, op, params, name):
    """Replace self's shape by a view of its own data (t_, transpose_, squeeze_, unsqueeze_),
    as PyTorch does: the version counter is bumped and the tensor's history gains the view step."""
    if _gm.grad_enabled:
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        base = self._base
        if base is not None:
            if base._requires_grad and base.grad_fn is None:
                raise RuntimeError(f"{name}: a view of a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            link = getattr(self, "_view_fn", None)
            if self._requires_grad and link is not None and link[3]:
                raise RuntimeError(
                    f"{name}: this view is the output of a function that returns multiple views (split, chunk, "
                    "unbind, ...). Such functions do not allow the output views to be modified inplace. You "
                    "should replace the inplace operation by an out-of-place one.")
    alias = Tensor._make(self._data)
    alias._requires_grad = self._requires_grad
    alias.grad_fn = self.grad_fn
    alias._output_nr = self._output_nr
    res = dispatch(op, (alias,), params)
    self._data = res._data
    if res.grad_fn is not None:
        self.grad_fn = res.grad_fn
        self._output_nr = 0
    link = getattr(self, "_view_fn", None)
    if self._base is not None and link is not None:
        self._view_fn = (link, op, params, link[3])
    if self._version is None:
        self._version = [1]
    else:
        self._version[0] += 1
    return self


@tensor_method("transpose_")
def _transpose_(self, dim0, dim1):
    n = self._data.ndim
    return _inplace_view(self, Transpose, (_wrap_dim(dim0, n, "transpose_"), _wrap_dim(dim1, n, "transpose_")),
                         "transpose_")


@tensor_method("swapaxes_")
def _swapaxes_(self, axis0, axis1):
    return _transpose_(self, axis0, axis1)


@tensor_method("swapdims_")
def _swapdims_(self, dim0, dim1):
    return _transpose_(self, dim0, dim1)


@tensor_method("t_")
def _t_(self):
    n = self._data.ndim
    if n > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {n}D")
    if n < 2:
        return _inplace_view(self, View, (self._data.shape,), "t_")
    return _inplace_view(self, Transpose, (0, 1), "t_")


@tensor_method("squeeze_")
def _squeeze_(self, dim=None):
    shape = self._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        dims = {_wrap_dim(int(d), len(shape), "squeeze_") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _inplace_view(self, Squeeze, (new,), "squeeze_")


@tensor_method("unsqueeze_")
def _unsqueeze_(self, dim):
    shape = list(self._data.shape)
    shape.insert(_wrap_dim(dim, len(shape) + 1, "unsqueeze_"), 1)
    return _inplace_view(self, Unsqueeze, (tuple(shape),), "unsqueeze_")


# ---- storage_offset, pinned memory -----------------------------------------------------------------

def _ptr(a):
    return a.__array_interface__["data"][0] if type(a) is np.ndarray else a.data.ptr


def _root_array(a):
    """The array that owns the memory `a` looks into (through NumPy's strided-view wrappers)."""
    kind = type(a)
    root = a
    while True:
        b = getattr(root, "base", None)
        if isinstance(b, kind):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), kind):
            root = b.base        # np.lib.stride_tricks.as_strided wraps its source in a DummyArray
        else:
            return root


@tensor_method("storage_offset")
def _storage_offset(self):
    """The element offset of this tensor's first element in the memory it shares with its base."""
    a = self._data
    return (_ptr(a) - _ptr(_root_array(a))) // a.itemsize


def _pinned(a):
    if type(a) is not np.ndarray or _backend._cupy is None:
        return False
    pinned_type = _backend._cupy.cuda.PinnedMemoryPointer
    b = a
    while b is not None:
        if isinstance(b, pinned_type):
            return True
        b = getattr(b, "base", None)
    return False


@tensor_method("is_pinned")
def _is_pinned(self, device=None):
    """Whether the tensor lives in page-locked host memory (made by pin_memory)."""
    if device is not None:
        warnings.warn("The argument 'device' of Tensor.is_pinned() is deprecated. Please do not pass this "
                      "argument.", DeprecationWarning, stacklevel=2)
    return _pinned(self._data)


class PinMemory(Op):
    """A copy in CuPy's page-locked host memory (the gradient passes through unchanged)."""
    name = "pin_memory"
    backward_name = "ToCopyBackward0"
    opmath = False

    @staticmethod
    def forward(ctx, a):
        mem = _backend.cupy().cuda.alloc_pinned_memory(builtins.max(a.nbytes, 1))
        out = np.frombuffer(mem, a.dtype, a.size).reshape(a.shape)
        out[...] = a
        return out

    @staticmethod
    def backward(ctx, F, g):
        return g


@tensor_method("pin_memory")
def _pin_memory(self, device=None):
    if device is not None:
        warnings.warn("The argument 'device' of Tensor.pin_memory() is deprecated. Please do not pass this "
                      "argument.", DeprecationWarning, stacklevel=2)
    if device is not None and _backend.as_device(device).type == "cpu":
        raise RuntimeError("CPU device type not an accelerator.")
    from .. import cuda
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if type(self._data) is not np.ndarray:
        raise RuntimeError(f"cannot pin 'pellucid.cuda.{self.type().split('.')[-1]}' only dense CPU tensors "
                           "can be pinned")
    if _pinned(self._data):
        return self
    return dispatch(PinMemory, (self,))


__all__ = ["block_diag", "bincount", "cartesian_prod", "combinations", "corrcoef", "cov", "cummax", "cummin",
           "cumulative_trapezoid", "diagflat", "diff", "dist", "histc", "histogram", "logcumsumexp",
           "narrow_copy", "ravel", "renorm", "repeat_interleave", "rot90", "select_scatter", "slice_scatter",
           "trapezoid", "trapz", "tril_indices", "triu_indices", "vander"]
