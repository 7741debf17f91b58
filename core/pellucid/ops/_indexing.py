"""Indexing: tensor[...] reads and writes, gather/scatter, index_select/add/copy/fill/put,
masked_fill/select/scatter, take, take_along_dim, put, nonzero.

An index is parsed once into a `Key`: a basic part (ints, slices, None: a view) applied
first, then an advanced part (integer arrays and bool masks) applied to that view. Applying
ints before the advanced part is what makes `x[0, :, [0, 1]]` come out shaped like PyTorch's,
not NumPy's. The adjoint of reading at a key is adding into zeros at that key, with repeated
integer indices accumulating (`np.add.at`).
"""
import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._tensor import Tensor, _wrap_dim
from ._F import TENSOR
from ._registry import tensor_method
from ._shape import Select, Slice, _add_at, _xp, view_op


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its dimension (an IndexError; also a RuntimeError, which is what
    PyTorch raises for gather/scatter)."""


_ALL = slice(None)


def _empty_index():
    return np.zeros(0, dtype=np.int64)


class Key:
    """A parsed index: `a[basic][adv]`. `basic` is None or a tuple ending in Ellipsis (so the
    result is always an array view); `adv` is None or a NumPy-style advanced index. `unique`
    says no position is selected twice (no integer arrays), so writes need no accumulation."""
    __slots__ = ("basic", "adv", "unique")

    def __init__(self, basic, adv, unique):
        self.basic = basic
        self.adv = adv
        self.unique = unique

    @classmethod
    def from_numpy(cls, index):
        """A key with NumPy's own semantics (as `F.index_add_zeros` receives it)."""
        if isinstance(index, Key):
            return index
        if isinstance(index, tuple):
            index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index._data
        return cls(None, index, False)

    def _target(self, a):
        return a if self.basic is None else a[self.basic]

    def get(self, a):
        t = self._target(a)
        return t if self.adv is None else t[self.adv]

    def set(self, a, v):
        if self.adv is None:
            a[self.basic] = v
        else:
            self._target(a)[self.adv] = v

    def accumulate(self, a, v):
        t = self._target(a)
        if self.adv is None:
            t += v
        elif self.unique:
            t[self.adv] += v
        else:
            _add_at(t, self.adv, v)

    def put_zeros(self, z, v):
        """Fill fresh zeros `z` with `v` at the key (summing repeated positions)."""
        if self.unique:
            self.set(z, v)
        else:
            self.accumulate(z, v)


# ---- parsing ---------------------------------------------------------------------------------
def _sequence_as_tuple(seq):
    # PyTorch's legacy rule: a short list holding slices, None, Ellipsis, tensors or sequences
    # is a tuple of indices, not one integer array
    if len(seq) >= 32:
        return False
    for x in seq:
        if x is None or x is Ellipsis or isinstance(x, (slice, Tensor, list, tuple)):
            return True
    return False


def _bad_index(it):
    return IndexError(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
        f"indices (got {type(it).__name__})")


def _classify_array(arr, from_tensor):
    kind = arr.dtype.kind
    if kind == "b" or (from_tensor and arr.dtype == np.uint8):
        if arr.ndim == 0:
            return "b", bool(arr)
        return "m", arr.astype(bool, copy=False)
    if kind in "iu":
        if arr.ndim == 0:
            return "i", int(arr)
        return "a", arr
    raise IndexError(
        f"tensors used as indices must be long, int, byte or bool tensors (got dtype {arr.dtype})")


def _classify(it):
    t = type(it)
    if t is int:
        return "i", it
    if t is slice:
        return "s", it
    if it is None:
        return "n", None
    if it is Ellipsis:
        return "e", None
    if t is bool or t is np.bool_:
        return "b", bool(it)
    if isinstance(it, Tensor):
        return _classify_array(it._data, True)
    if isinstance(it, (list, tuple)):
        arr = np.asarray(it)
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return _classify_array(arr, False)
    if t is np.ndarray or hasattr(it, "__cuda_array_interface__"):
        return _classify_array(it, False)
    if hasattr(it, "__index__"):
        return "i", it.__index__()
    raise _bad_index(it)


def _on_device(arr, data):
    if type(data) is np.ndarray:
        return _backend.to_numpy(arr) if type(arr) is not np.ndarray else arr
    return _backend.move(arr, _backend.device_of(data))


def _check_bounds(arr, dim, n):
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < -n or hi >= n:
            bad = hi if hi >= n else lo
            raise IndexOutOfRange(f"index {bad} is out of bounds for dimension {dim} with size {n}")


def _normal_slice(s):
    step = s.step
    if step is not None:
        step = step.__index__()
        if step <= 0:
            raise ValueError("step must be greater than zero")
    start, stop = s.start, s.stop
    if start is not None and type(start) is not int:
        start = start.__index__()
    if stop is not None and type(stop) is not int:
        stop = stop.__index__()
    return slice(start, stop, step)


def parse_index(x, item):
    """The Key for `x[item]`, with PyTorch's semantics and errors."""
    data = x._data
    shape = data.shape
    ndim = len(shape)
    if type(item) is int:               # fast path: x[i]
        n = shape[0] if ndim else 0
        if ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` to convert a 0-dim tensor to a number")
        if not -n <= item < n:
            raise IndexError(f"index {item} is out of bounds for dimension 0 with size {n}")
        return Key((item, Ellipsis), None, True)
    if type(item) is not tuple:
        item = tuple(item) if type(item) is list and _sequence_as_tuple(item) else (item,)
    parts = []
    consumed = 0
    ellipsis_at = -1
    for it in item:
        kind, v = _classify(it)
        if kind == "e":
            if ellipsis_at >= 0:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis_at = len(parts)
        elif kind in "isa":
            consumed += 1
        elif kind == "m":
            consumed += v.ndim
        parts.append((kind, v))
    if consumed > ndim:
        if ndim == 0 and consumed == 1 and parts[0][0] == "i":
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim} (got {consumed})")
    if ellipsis_at >= 0:
        parts[ellipsis_at:ellipsis_at + 1] = [("s", _ALL)] * (ndim - consumed)
    basic = []
    adv = []
    has_adv = False
    unique = True
    din = 0
    for kind, v in parts:
        if kind == "i":
            n = shape[din]
            if not -n <= v < n:
                raise IndexOutOfRange(f"index {v} is out of bounds for dimension {din} with size {n}")
            basic.append(v)
            din += 1
        elif kind == "s":
            basic.append(v if v is _ALL else _normal_slice(v))
            adv.append(_ALL)
            din += 1
        elif kind == "n":
            basic.append(None)
            adv.append(_ALL)
        elif kind == "b":
            basic.append(None)
            if v:
                adv.append(_ALL)
            else:
                adv.append(_on_device(_empty_index(), data))
                has_adv = True
        elif kind == "a":
            v = _on_device(v, data)
            _check_bounds(v, din, shape[din])
            basic.append(_ALL)
            adv.append(v)
            has_adv = True
            unique = False
            din += 1
        else:   # bool mask over v.ndim dims
            k = v.ndim
            if v.shape != shape[din:din + k]:
                j = next(i for i in range(k) if v.shape[i] != shape[din + i])
                raise IndexError(
                    f"The shape of the mask {list(v.shape)} at index {j} does not match the shape of "
                    f"the indexed tensor {list(shape)} at index {din + j}")
            basic.extend([_ALL] * k)
            adv.append(_on_device(v, data))
            has_adv = True
            din += k
    if all(b is _ALL for b in basic):
        basic = None
    else:
        basic.append(Ellipsis)
        basic = tuple(basic)
    if has_adv:
        while adv and adv[-1] is _ALL:
            adv.pop()
        adv = tuple(adv)
    else:
        adv = None
        if basic is None:
            basic = (Ellipsis,)
    return Key(basic, adv, unique)


# ---- the ops -------------------------------------------------------------------------------------
class Index(Op):
    """Advanced indexing (a copy)."""
    name = "index"

    @staticmethod
    def forward(ctx, a, key):
        ctx.in_shape = a.shape
        return key.get(a)

    @staticmethod
    def backward(ctx, F, g):
        return zeros_put(F, ctx.in_shape, ctx.params[0], g)


def _strip_leading_ones(v):
    """Values may carry extra leading size-1 dims (PyTorch and NumPy accept them)."""
    if type(v) is np.ndarray or hasattr(v, "__cuda_array_interface__"):
        k = 0
        while k < v.ndim and v.shape[k] == 1:
            k += 1
        if k:
            v = v.reshape(v.shape[k:])
    return v


class IndexPut(Op):
    """`out[key] = v` (or `+= v` with accumulate); in place when `inplace`."""
    name = "index_put"

    @staticmethod
    def forward(ctx, a, v, key, accumulate, inplace):
        out = a if inplace else a.copy()
        v_shape = ctx.v_shape = getattr(v, "shape", ())
        v = _strip_leading_ones(v)
        if hasattr(v, "dtype") and v.dtype != out.dtype:
            v = v.astype(out.dtype)
        try:
            if accumulate:
                key.accumulate(out, v)
            else:
                key.set(out, v)
        except ValueError:
            if not out.flags.writeable:
                raise RuntimeError(
                    "unsupported operation: more than one element of the written-to tensor refers to a "
                    "single memory location (it is an expanded view). Please clone() the tensor before "
                    "performing the operation.") from None
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(v_shape)} cannot be broadcast to "
                f"indexing result of shape {list(key.get(out).shape)}") from None
        return out

    @staticmethod
    def backward(ctx, F, g):
        key, accumulate = ctx.params[0], ctx.params[1]
        need_a, need_v = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ga = gv = None
        if need_a:
            ga = g if accumulate else zero_at(F, g, key)
        if need_v:
            gv = gather_at(F, g, key)
            extra = len(ctx.v_shape) - gv.ndim
            if extra > 0:
                gv = F.reshape(gv, (1,) * extra + tuple(gv.shape))
        return ga, gv


class IndexPutZeros(Op):
    """zeros(shape) with `values` added at `key`: the adjoint of indexing, itself differentiable."""
    name = "index_put_zeros"

    @staticmethod
    def forward(ctx, v, shape, key):
        ctx.v_shape = v.shape
        z = _xp(v).zeros(shape, dtype=v.dtype)
        key.put_zeros(z, _strip_leading_ones(v))
        return z

    @staticmethod
    def backward(ctx, F, g):
        gv = gather_at(F, g, ctx.params[1])
        extra = len(ctx.v_shape) - gv.ndim
        if extra > 0:
            gv = F.reshape(gv, (1,) * extra + tuple(gv.shape))
        return gv


def index_put_zeros(shape, index, values):
    """zeros(shape) with `values` added at `index` (a Key or a NumPy-style index), differentiable
    in `values`: what `F.index_add_zeros` gives under create_graph."""
    return dispatch(IndexPutZeros, (values,), (tuple(shape), Key.from_numpy(index)))


def gather_at(F, g, key):
    """`g[key]`, on raw arrays or differentiably on tensors."""
    if F is TENSOR:
        if key.adv is None:
            return dispatch(Slice, (g,), (key.basic,))
        return dispatch(Index, (g,), (key,))
    return key.get(g)


def zeros_put(F, shape, key, g):
    if F is TENSOR:
        return index_put_zeros(shape, key, g)
    z = _xp(g).zeros(shape, dtype=g.dtype)
    key.put_zeros(z, g)
    return z


def zero_at(F, g, key):
    """`g` with zeros written at `key`."""
    if F is TENSOR:
        return dispatch(IndexPut, (g, 0), (key, False, False))
    out = g.copy()
    key.set(out, 0)
    return out


# ---- __getitem__ / __setitem__ ---------------------------------------------------------------------
def _getitem(self, item):
    if type(item) is int:
        shape = self._data.shape
        if shape and -shape[0] <= item < shape[0]:
            return view_op(Select, self, ((item, Ellipsis),))
    key = parse_index(self, item)
    if key.adv is None:
        return view_op(Select if type(item) is int else Slice, self, (key.basic,))
    return dispatch(Index, (self,), (key,))


def _value_for(self, value, op):
    """A value to write into `self`: Python scalars stay scalars, the rest become tensors."""
    if isinstance(value, Tensor):
        if type(value._data) is not type(self._data):
            raise RuntimeError(
                f"{op}: expected the value on the same device as the tensor written to, but got "
                f"{value.device} and {self.device}")
        if value._requires_grad and self._data.dtype.kind not in D.FLOAT_KINDS:
            value = value.detach()
        return value
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    arr = np.asarray(value, dtype=self._data.dtype)
    return Tensor._make(_on_device(arr, self._data))


def _setitem(self, item, value):
    key = parse_index(self, item)
    dispatch_inplace(IndexPut, self, (_value_for(self, value, "index_put_"),), (key, False, True))


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


@tensor_method("index_put")
def index_put(input, indices, values, accumulate=False):
    key = parse_index(input, tuple(_ALL if i is None else i for i in indices))
    return dispatch(IndexPut, (input, _value_for(input, values, "index_put")), (key, bool(accumulate), False))


@tensor_method("index_put_")
def _index_put_(self, indices, values, accumulate=False):
    key = parse_index(self, tuple(_ALL if i is None else i for i in indices))
    return dispatch_inplace(IndexPut, self, (_value_for(self, values, "index_put_"),), (key, bool(accumulate), True))


# ---- gather / scatter ----------------------------------------------------------------------------
def _index_array(index, op, dtypes="l"):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    a = index._data
    if a.dtype.kind not in "iu" or (dtypes == "l" and a.dtype != np.int64):
        want = "int64" if dtypes == "l" else "int32 or int64"
        raise RuntimeError(f"{op}(): Expected dtype {want} for index, but got {index.dtype}")
    return a


def _along_dim_key(input, dim, idx, op):
    """The advanced index picking input[..., idx[i, j, k], ...] along `dim` (gather/scatter)."""
    shape = input._data.shape
    n = len(shape)
    if idx.ndim != n:
        raise RuntimeError(
            f"{op}(): Index tensor must have the same number of dimensions as input tensor "
            f"(index shape {list(idx.shape)}, input shape {list(shape)})")
    for d in range(n):
        if d != dim and idx.shape[d] > shape[d]:
            raise RuntimeError(
                f"{op}(): Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                f"no larger than self {list(shape)} apart from dimension {dim}")
    size = shape[dim]
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            raise IndexOutOfRange(f"{op}(): index {hi if hi >= size else lo} is out of bounds for dimension {dim} with size {size}")
    xp = _xp(idx)
    key = []
    for d in range(n):
        if d == dim:
            key.append(idx)
        else:
            key.append(xp.arange(idx.shape[d]).reshape(tuple(-1 if j == d else 1 for j in range(n))))
    return Key(None, tuple(key), False)


def _as_1d(t):
    return t.reshape(1) if t._data.ndim == 0 else t


class Gather(Index):
    name = "gather"


@tensor_method("gather")
def gather(input, dim, index, *, sparse_grad=False, out=None):
    idx = _index_array(index, "gather")
    if input._data.ndim == 0 or idx.ndim == 0:
        res = gather(_as_1d(input), dim if dim in (0, -1) else _wrap_dim(dim, 1, "gather"), _as_1d(index))
        return res.reshape(idx.shape)
    d = _wrap_dim(dim, input._data.ndim, "gather")
    idx = _on_device(idx, input._data)
    return dispatch(Gather, (input,), (_along_dim_key(input, d, idx, "gather"),))


class Scatter(IndexPut):
    name = "scatter"


class ScatterAdd(IndexPut):
    name = "scatter_add"


def _ufunc_at(name, target, index, values):
    """`np.<name>.at(target, index, values)` (unbuffered, repeated indices all apply)."""
    if type(target) is np.ndarray:
        getattr(np, name).at(target, index, values)
        return
    import cupyx
    scatter = {"add": cupyx.scatter_add, "maximum": cupyx.scatter_max, "minimum": cupyx.scatter_min}.get(name)
    if scatter is not None:
        scatter(target, index, values)
        return
    # CuPy has no unbuffered multiply: apply it on the host
    host = _backend.to_numpy(target)
    host_index = tuple(_backend.to_numpy(i) if hasattr(i, "__cuda_array_interface__") else i for i in index)
    vals = _backend.to_numpy(values) if hasattr(values, "__cuda_array_interface__") else values
    getattr(np, name).at(host, host_index, vals)
    target[...] = _backend.move(host, _backend.device_of(target))


class ScatterLegacyReduce(Op):
    """scatter(..., reduce='add'|'multiply'): no derivative, as in PyTorch."""
    name = "scatter_reduce_legacy"
    backward_name = "ScatterBackward1"

    @staticmethod
    def forward(ctx, a, v, key, reduce, inplace):
        out = a if inplace else a.copy()
        if hasattr(v, "dtype") and v.dtype != out.dtype:
            v = v.astype(out.dtype)
        _ufunc_at("add" if reduce == "add" else "multiply", out, key.adv, v)
        return out

    @staticmethod
    def backward(ctx, F, g):
        raise RuntimeError(
            "the derivative for scatter with reduce='add'/'multiply' is not implemented (as in PyTorch); "
            "use scatter_add or scatter_reduce, which are differentiable")


def _scatter_src(src, idx, op):
    """`src` cut to the index's shape (a differentiable view)."""
    s = src._data.shape
    if len(s) != idx.ndim:
        raise RuntimeError(
            f"{op}(): Index tensor must have the same number of dimensions as src tensor "
            f"(index shape {list(idx.shape)}, src shape {list(s)})")
    for d in range(idx.ndim):
        if idx.shape[d] > s[d]:
            raise RuntimeError(
                f"{op}(): Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                f"no larger than src {list(s)}")
    if s == idx.shape:
        return src
    return view_op(Slice, src, (tuple(slice(0, k) for k in idx.shape) + (Ellipsis,),))


def _as_vectors(scatter_fn):
    """PyTorch counts a 0-dim tensor as 1-dim in the scatter family (`zeros(10).scatter_(0,
    tensor(3), value=1)`, a one-hot in its tutorials): with every operand at most 1-dim and one of
    them 0-dim, run on 1-dim views and give the result the input's shape."""
    def run(input, dim, index, src, *rest, inplace, op):
        dims = [t._data.ndim for t in (input, index, src) if isinstance(t, Tensor)]
        if not isinstance(index, Tensor) or max(dims) > 1 or min(dims) == 1:
            return scatter_fn(input, dim, index, src, *rest, inplace=inplace, op=op)
        d = _wrap_dim(dim, 1, op)
        target = input.view(1) if input._data.ndim == 0 else input
        src = _as_1d(src) if isinstance(src, Tensor) else src
        res = scatter_fn(target, d, _as_1d(index), src, *rest, inplace=inplace, op=op)
        return input if inplace else res.reshape(input.shape)
    return run


@_as_vectors
def _scatter(input, dim, index, src, value, reduce, *, inplace, op):
    idx = _index_array(index, op)
    d = _wrap_dim(dim, input._data.ndim, op)
    idx = _on_device(idx, input._data)
    key = _along_dim_key(input, d, idx, op)
    if src is None:
        src = value
    if isinstance(src, Tensor):
        v = _scatter_src(src, idx, op)
    elif isinstance(src, (bool, int, float, np.generic)):
        v = src.item() if isinstance(src, np.generic) else src
    else:
        raise TypeError(f"{op}(): expected src to be a Tensor or value to be a number, got {type(src).__name__}")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"{op}(): reduce argument must be either add or multiply, got {reduce!r}")
        if inplace:
            return dispatch_inplace(ScatterLegacyReduce, input, (v,), (key, reduce, True))
        return dispatch(ScatterLegacyReduce, (input, v), (key, reduce, False))
    if inplace:
        return dispatch_inplace(Scatter, input, (v,), (key, False, True))
    return dispatch(Scatter, (input, v), (key, False, False))


@tensor_method("scatter")
def scatter(input, dim, index, src=None, *, value=None, reduce=None, out=None):
    return _scatter(input, dim, index, src, value, reduce, inplace=False, op="scatter")


@tensor_method("scatter_")
def _scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    return _scatter(self, dim, index, src, value, reduce, inplace=True, op="scatter_")


@_as_vectors
def _scatter_add(input, dim, index, src, *, inplace, op):
    idx = _index_array(index, op)
    d = _wrap_dim(dim, input._data.ndim, op)
    idx = _on_device(idx, input._data)
    key = _along_dim_key(input, d, idx, op)
    v = _scatter_src(src, idx, op)
    if inplace:
        return dispatch_inplace(ScatterAdd, input, (v,), (key, True, True))
    return dispatch(ScatterAdd, (input, v), (key, True, False))


@tensor_method("scatter_add")
def scatter_add(input, dim, index, src):
    return _scatter_add(input, dim, index, src, inplace=False, op="scatter_add")


@tensor_method("scatter_add_")
def _scatter_add_(self, dim, index, src):
    return _scatter_add(self, dim, index, src, inplace=True, op="scatter_add_")


_REDUCE_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return reduce == "amin"
    return info.min if reduce == "amax" else info.max


class ScatterReduce(Op):
    name = "scatter_reduce"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, src, key, reduce, include_self, inplace):
        xp = _xp(a)
        out = a if inplace else a.copy()
        if src.dtype != out.dtype:
            src = src.astype(out.dtype)
        if not include_self:
            key.set(out, _identity(reduce, out.dtype))
        _ufunc_at(_REDUCE_UFUNC[reduce], out, key.adv, src)
        if reduce == "mean":
            count = xp.zeros(out.shape, dtype=np.int64)
            _add_at(count, key.adv, 1)
            if include_self:
                count += 1
            scattered = count > 0
            if out.dtype.kind == "f":
                out[scattered] /= count[scattered]
            else:
                out[scattered] //= count[scattered]
            ctx.count = count
        return out

    @staticmethod
    def backward(ctx, F, g):
        key, reduce, include_self = ctx.params[0], ctx.params[1], ctx.params[2]
        need_a, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        a, src = (F.value(x) for x in ctx.inputs)
        out = ctx.out_data
        xp = _xp(out)
        src = src.astype(out.dtype, copy=False)
        self_w = None
        if not include_self:
            self_w = xp.ones(out.shape, dtype=out.dtype)
            key.set(self_w, 0)
        if reduce == "sum":
            a_scale, src_scale = self_w, None
        elif reduce == "mean":
            count = ctx.count
            inv = (1 / xp.maximum(count, 1)).astype(out.dtype)
            a_scale = inv if self_w is None else inv * self_w
            src_scale = key.get(inv)
        elif reduce in ("amax", "amin"):
            # the gradient is shared evenly among the contributors that reach the extremum
            a_hit = (a == out).astype(out.dtype)
            if self_w is not None:
                a_hit = a_hit * self_w
            src_hit = (src == key.get(out)).astype(out.dtype)
            ties = a_hit.copy()
            _add_at(ties, key.adv, src_hit)
            ties = xp.maximum(ties, 1)
            a_scale = a_hit / ties
            src_scale = src_hit / key.get(ties)
        else:
            a_scale, src_scale = _prod_scales(xp, key, a, src, out, self_w)
        ga = gs = None
        if need_a:
            ga = g if a_scale is None else g * F.const(a_scale)
        if need_src:
            gs = gather_at(F, g, key)
            if src_scale is not None:
                gs = gs * F.const(src_scale)
        return ga, gs


def _prod_scales(xp, key, a, src, out, self_w):
    """d out / d contributor for a product: the product of the other contributors at the same
    target, computed from zero counts and non-zero products (no division by zero)."""
    n_zero = xp.zeros(out.shape, dtype=np.int64)
    if self_w is None:
        n_zero += (a == 0)
        nz_prod = xp.where(a == 0, 1, a).astype(out.dtype)
    else:
        nz_prod = xp.ones(out.shape, dtype=out.dtype)
    _add_at(n_zero, key.adv, (src == 0).astype(np.int64))
    _ufunc_at("multiply", nz_prod, key.adv, xp.where(src == 0, 1, src).astype(out.dtype))

    def others(vals, zeros_here, prod_here):
        safe = xp.where(vals == 0, 1, vals)
        return xp.where(vals == 0, xp.where(zeros_here == 1, prod_here, 0),
                        xp.where(zeros_here == 0, prod_here / safe, 0)).astype(out.dtype)
    # without include_self the input only survives where nothing was scattered
    a_scale = others(a, n_zero, nz_prod) if self_w is None else self_w
    return a_scale, others(src, key.get(n_zero), key.get(nz_prod))


@_as_vectors
def _scatter_reduce(input, dim, index, src, reduce, include_self, *, inplace, op):
    if reduce not in _REDUCE_UFUNC:
        raise RuntimeError(f"{op}(): reduce argument must be one of sum, prod, mean, amax, amin, got {reduce!r}")
    idx = _index_array(index, op)
    d = _wrap_dim(dim, input._data.ndim, op)
    idx = _on_device(idx, input._data)
    key = _along_dim_key(input, d, idx, op)
    v = _scatter_src(src, idx, op)
    params = (key, reduce, bool(include_self), inplace)
    if inplace:
        return dispatch_inplace(ScatterReduce, input, (v,), params)
    return dispatch(ScatterReduce, (input, v), params)


@tensor_method("scatter_reduce")
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    return _scatter_reduce(input, dim, index, src, reduce, include_self, inplace=False, op="scatter_reduce")


@tensor_method("scatter_reduce_")
def _scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return _scatter_reduce(self, dim, index, src, reduce, include_self, inplace=True, op="scatter_reduce_")


# ---- index_select / index_add / index_copy / index_fill ------------------------------------------------
class IndexSelect(Index):
    name = "index_select"

    @staticmethod
    def forward(ctx, a, key):
        ctx.in_shape = a.shape
        dim = len(key.adv) - 1
        return _xp(a).take(a, key.adv[dim], axis=dim)


def _dim_key(input, dim, index, op):
    """(dim, Key) selecting `index` along `dim`; index checked against the dim's size."""
    idx = _index_array(index, op, "il")
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got a {idx.ndim}-D index")
    idx = _on_device(idx.reshape(-1), input._data)
    n = input._data.ndim
    d = _wrap_dim(dim, n, op)
    size = input._data.shape[d] if n else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -size or hi >= size:
            raise IndexOutOfRange(
                f"{op}(): index {hi if hi >= size else lo} is out of range for dimension {d} with size {size}")
    return d, Key(None, (_ALL,) * d + (idx,), False)


@tensor_method("index_select")
def index_select(input, dim, index, *, out=None):
    if input._data.ndim == 0:
        return index_select(input.reshape(1), dim, index).reshape(())
    d, key = _dim_key(input, dim, index, "index_select")
    return dispatch(IndexSelect, (input,), (key,))


class IndexAdd(IndexPut):
    name = "index_add"


class IndexCopy(IndexPut):
    name = "index_copy"


class IndexFill(IndexPut):
    name = "index_fill"


def _check_source(input, d, key, source, op):
    want = list(input._data.shape)
    if want:
        want[d] = key.adv[-1].size
    if list(source._data.shape) != want and not (source._data.ndim == 0 and want == [1]):
        raise RuntimeError(
            f"{op}(): source/destination slices must have the same shape: expected source of shape "
            f"{want}, got {list(source._data.shape)}")


def _index_add(input, dim, index, source, alpha, inplace, op):
    d, key = _dim_key(input, dim, index, op)
    _check_source(input, d, key, source, op)
    v = source if alpha == 1 else source * alpha
    if inplace:
        return dispatch_inplace(IndexAdd, input, (v,), (key, True, True))
    return dispatch(IndexAdd, (input, v), (key, True, False))


@tensor_method("index_add")
def index_add(input, dim, index, source, *, alpha=1, out=None):
    return _index_add(input, dim, index, source, alpha, False, "index_add")


@tensor_method("index_add_")
def _index_add_(self, dim, index, source, *, alpha=1):
    return _index_add(self, dim, index, source, alpha, True, "index_add_")


def _index_copy(input, dim, index, source, inplace, op):
    d, key = _dim_key(input, dim, index, op)
    _check_source(input, d, key, source, op)
    if inplace:
        return dispatch_inplace(IndexCopy, input, (source,), (key, False, True))
    return dispatch(IndexCopy, (input, source), (key, False, False))


@tensor_method("index_copy")
def index_copy(input, dim, index, source, *, out=None):
    return _index_copy(input, dim, index, source, False, "index_copy")


@tensor_method("index_copy_")
def _index_copy_(self, dim, index, source):
    return _index_copy(self, dim, index, source, True, "index_copy_")


def _fill_value(value, op):
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"{op} only supports a 0-dimensional value tensor, but got tensor with {value._data.ndim} dimension(s).")
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"{op}(): value must be a number or a 0-dim Tensor, got {type(value).__name__}")


def _index_fill(input, dim, index, value, inplace, op):
    d, key = _dim_key(input, dim, index, op)
    v = _fill_value(value, op)
    if inplace:
        return dispatch_inplace(IndexFill, input, (v,), (key, False, True))
    return dispatch(IndexFill, (input, v), (key, False, False))


@tensor_method("index_fill")
def index_fill(input, dim, index, value):
    return _index_fill(input, dim, index, value, False, "index_fill")


@tensor_method("index_fill_")
def _index_fill_(self, dim, index, value):
    return _index_fill(self, dim, index, value, True, "index_fill_")


# ---- masked ops -----------------------------------------------------------------------------------------
def _mask_array(input, mask, op):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    m = mask._data
    if m.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {mask.dtype}")
    if type(m) is not type(input._data):
        raise RuntimeError(
            f"{op}: expected mask and input on the same device, but got {mask.device} and {input.device}")
    return m


def _broadcast_shape(a, b, op, what="mask"):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise RuntimeError(
            f"{op}: the size of the {what} {list(b)} must be broadcastable with the input of shape {list(a)}") from None


class MaskedFill(Op):
    name = "masked_fill"

    @staticmethod
    def forward(ctx, a, value, mask, inplace):
        xp = _xp(a)
        if inplace:
            xp.copyto(a, value, casting="unsafe", where=mask)
            return a
        fill = xp.asarray(value, dtype=a.dtype) if hasattr(value, "dtype") else xp.asarray(value).astype(a.dtype)
        return xp.where(mask, fill, a)

    @staticmethod
    def backward(ctx, F, g):
        mask = ctx.params[0]
        need_a, need_v = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ga = gv = None
        if F is TENSOR:
            if need_a:
                ga = masked_fill(g, Tensor._make(mask), 0)
            if need_v:
                gv = masked_fill(g, Tensor._make(~mask), 0).sum()
        else:
            xp = _xp(g)
            if need_a:
                ga = xp.where(mask, 0, g)
            if need_v:
                gv = xp.where(mask, g, 0).sum()
        return ga, gv


@tensor_method("masked_fill")
def masked_fill(input, mask, value):
    m = _mask_array(input, mask, "masked_fill")
    _broadcast_shape(input._data.shape, m.shape, "masked_fill")
    return dispatch(MaskedFill, (input, _fill_value(value, "masked_fill")), (m, False))


@tensor_method("masked_fill_")
def _masked_fill_(self, mask, value):
    m = _mask_array(self, mask, "masked_fill_")
    if _broadcast_shape(self._data.shape, m.shape, "masked_fill_") != self._data.shape:
        raise RuntimeError(
            f"masked_fill_: the mask of shape {list(m.shape)} must be broadcastable to the tensor of "
            f"shape {list(self._data.shape)} modified in place")
    return dispatch_inplace(MaskedFill, self, (_fill_value(value, "masked_fill_"),), (m, True))


class MaskedSelect(Op):
    name = "masked_select"

    @staticmethod
    def forward(ctx, a, mask):
        xp = _xp(a)
        shape = np.broadcast_shapes(a.shape, mask.shape)
        m = xp.broadcast_to(mask, shape)
        ctx.key = Key(None, (m,), True)
        ctx.shape = shape
        return xp.broadcast_to(a, shape)[m]

    @staticmethod
    def backward(ctx, F, g):
        return zeros_put(F, ctx.shape, ctx.key, g)


@tensor_method("masked_select")
def masked_select(input, mask, *, out=None):
    m = _mask_array(input, mask, "masked_select")
    _broadcast_shape(input._data.shape, m.shape, "masked_select")
    return dispatch(MaskedSelect, (input,), (m,))


class MaskedScatter(Op):
    name = "masked_scatter"

    @staticmethod
    def forward(ctx, a, source, mask, inplace):
        xp = _xp(a)
        if inplace:
            out = a
        else:
            out = xp.broadcast_to(a, np.broadcast_shapes(a.shape, mask.shape)).copy()
        m = xp.broadcast_to(mask, out.shape)
        count = int(m.sum())
        if source.size < count:
            raise RuntimeError(
                f"masked_scatter: expected source to have at least {count} elements (the number of "
                f"True entries in the mask), but it has {source.size}")
        out[m] = source.reshape(-1)[:count].astype(out.dtype, copy=False)
        ctx.key = Key(None, (m,), True)
        ctx.count = count
        ctx.src_shape = source.shape
        return out

    @staticmethod
    def backward(ctx, F, g):
        need_a, need_s = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ga = gs = None
        if need_a:
            ga = zero_at(F, g, ctx.key)
        if need_s:
            n = 1
            for s in ctx.src_shape:
                n *= s
            picked = gather_at(F, g, ctx.key)
            gs = F.reshape(zeros_put(F, (n,), Key((slice(0, ctx.count), Ellipsis), None, True), picked), ctx.src_shape)
        return ga, gs


@tensor_method("masked_scatter")
def masked_scatter(input, mask, source):
    m = _mask_array(input, mask, "masked_scatter")
    _broadcast_shape(input._data.shape, m.shape, "masked_scatter")
    return dispatch(MaskedScatter, (input, source), (m, False))


@tensor_method("masked_scatter_")
def _masked_scatter_(self, mask, source):
    m = _mask_array(self, mask, "masked_scatter_")
    if _broadcast_shape(self._data.shape, m.shape, "masked_scatter_") != self._data.shape:
        raise RuntimeError(
            f"masked_scatter_: the mask of shape {list(m.shape)} must be broadcastable to the tensor "
            f"of shape {list(self._data.shape)} modified in place")
    return dispatch_inplace(MaskedScatter, self, (source,), (m, True))


# ---- take / take_along_dim / put ------------------------------------------------------------------------
def _flat_index(input, index, op):
    idx = _index_array(index, op)
    idx = _on_device(idx, input._data)
    n = input._data.size
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexOutOfRange(
                f"{op}(): out of range: tried to access index {hi if hi >= n else lo} on a tensor of {n} elements.")
    return idx


class Take(Op):
    name = "take"

    @staticmethod
    def forward(ctx, a, key):
        ctx.in_shape = a.shape
        return a.reshape(-1)[key.adv]

    @staticmethod
    def backward(ctx, F, g):
        n = 1
        for s in ctx.in_shape:
            n *= s
        return F.reshape(zeros_put(F, (n,), ctx.params[0], g), ctx.in_shape)


@tensor_method("take")
def take(input, index):
    idx = _flat_index(input, index, "take")
    return dispatch(Take, (input,), (Key(None, idx, False),))


@tensor_method("take_along_dim")
def take_along_dim(input, indices, dim=None, *, out=None):
    if dim is None:
        return take(input, indices.reshape(-1))
    n = input._data.ndim
    if indices._data.ndim != n:
        raise RuntimeError(
            f"torch.take_along_dim(): input and indices should have the same number of dimensions, but "
            f"got {n} dimensions for input, and {indices._data.ndim} dimensions for indices")
    d = _wrap_dim(dim, n, "take_along_dim")
    ishape, xshape = list(indices._data.shape), list(input._data.shape)
    ishape[d] = xshape[d] = 1
    try:
        b = list(np.broadcast_shapes(tuple(ishape), tuple(xshape)))
    except ValueError:
        raise RuntimeError(
            f"take_along_dim(): input of shape {list(input.shape)} and indices of shape "
            f"{list(indices.shape)} can't be broadcast apart from dimension {d}") from None
    xs = list(b)
    xs[d] = input._data.shape[d]
    ins = list(b)
    ins[d] = indices._data.shape[d]
    from ._shape import expand
    x = input if tuple(xs) == input._data.shape else expand(input, xs)
    i = indices if tuple(ins) == indices._data.shape else expand(indices, ins)
    return gather(x, d, i)


class Put(Op):
    """Writes (or adds) `source` at flat positions of the input."""
    name = "put"

    @staticmethod
    def forward(ctx, a, source, key, accumulate, inplace):
        out = a if inplace else a.copy()
        target = out if out.ndim else out.reshape(1)     # a 0-dim tensor has one position
        v = source.reshape(-1)
        if v.dtype != out.dtype:
            v = v.astype(out.dtype)
        ctx.src_shape = source.shape
        if accumulate:
            key.accumulate(target, v)
        else:
            key.set(target, v)
        return out

    @staticmethod
    def backward(ctx, F, g):
        key, accumulate = ctx.params[0], ctx.params[1]
        need_a, need_s = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        shape = tuple(g.shape)
        if not shape:
            g = F.reshape(g, (1,))
        ga = gs = None
        if need_a:
            ga = g if accumulate else zero_at(F, g, key)
            if not shape:
                ga = F.reshape(ga, ())
        if need_s:
            gs = F.reshape(gather_at(F, g, key), ctx.src_shape)
        return ga, gs


def _put(input, index, source, accumulate, inplace, op):
    idx = _flat_index(input, index, op)
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if source._data.size != idx.size:
        raise RuntimeError(
            f"{op}(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source._data.size}, index.numel() = {idx.size}")
    shape = input._data.shape or (1,)
    n = input._data.size
    # per-dim positions, so a non-contiguous input is written in place
    flat = idx.reshape(-1) % n if n else idx.reshape(-1)
    key = Key(None, tuple(_xp(flat).unravel_index(flat, shape)), False)
    if inplace:
        return dispatch_inplace(Put, input, (source,), (key, bool(accumulate), True))
    return dispatch(Put, (input, source), (key, bool(accumulate), False))


@tensor_method("put")
def put(input, index, source, accumulate=False):
    return _put(input, index, source, accumulate, False, "put")


@tensor_method("put_")
def _put_(self, index, source, accumulate=False):
    return _put(self, index, source, accumulate, True, "put_")


# ---- nonzero / argwhere / where(cond) -------------------------------------------------------------------
class Nonzero(Op):
    name = "nonzero"
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return _xp(a).argwhere(a).astype(np.int64, copy=False)


class NonzeroTuple(Op):
    name = "nonzero_numpy"
    differentiable = False
    multi_output = True

    @staticmethod
    def forward(ctx, a):
        if a.ndim == 0:
            a = a.reshape(1)
        return tuple(i.astype(np.int64, copy=False) for i in _xp(a).nonzero(a))


@tensor_method("nonzero")
def nonzero(input, *, out=None, as_tuple=False):
    if as_tuple:
        return dispatch(NonzeroTuple, (input,))
    return dispatch(Nonzero, (input,))


@tensor_method("argwhere")
def argwhere(input):
    return dispatch(Nonzero, (input,))


__all__ = ['argwhere', 'gather', 'index_add', 'index_copy', 'index_fill', 'index_put', 'index_put_zeros',
           'index_select', 'masked_fill', 'masked_scatter', 'masked_select', 'nonzero', 'put', 'scatter',
           'scatter_add', 'scatter_reduce', 'take', 'take_along_dim']
