"""Reductions: sum, mean, prod, max/min, var/std, norms, logsumexp, cumulative sums and
products, softmax, median, all/any, and reducing a broadcast gradient back to a shape.

float16 inputs are reduced in float32 and the result cast back, as PyTorch accumulates.
Backward formulas compute masks and selections on the raw arrays (they have no gradient)
and combine them with gradients through `F.const`, so the same formula is differentiable
again under create_graph.
"""
import collections
import math
import warnings

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch
from .._tensor import Tensor
from ._F import TENSOR
from ._registry import tensor_method, wrap_dims

_builtin_max = max
_builtin_sum = sum


# ---- shared helpers -----------------------------------------------------------------------

def _norm_dims(dim, ndim, op):
    """None (every dim) or a tuple of non-negative dims; a 0-d tensor accepts dim 0 / -1."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None
    d = wrap_dims(dim, ndim, op)
    if ndim == 0:
        return None
    return d if isinstance(d, tuple) else (d,)


def _one_dim(dim, ndim, op):
    if isinstance(dim, (tuple, list)):
        if len(dim) != 1:
            raise TypeError(f"{op}(): argument 'dim' must be an int, not a sequence of {len(dim)} dims")
        dim = dim[0]
    return wrap_dims(int(dim), ndim, op)


def _keep_shape(shape, dims):
    """`shape` with the reduced dims kept as size 1."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _reduced_shape(shape, dims):
    return () if dims is None else tuple(s for i, s in enumerate(shape) if i not in dims)


def _count(shape, dims):
    n = 1
    for d in (range(len(shape)) if dims is None else dims):
        n *= shape[d]
    return n


def _keep(F, g, in_shape, dims, keepdim):
    """A reduced gradient (or output) reshaped so it broadcasts against the input."""
    if keepdim and dims is not None:
        return g
    return F.reshape(g, _keep_shape(in_shape, dims))


def _grad_expand(F, g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    return F.expand(_keep(F, g, in_shape, dims, keepdim), in_shape)


def _acc(a):
    """float16 reduces in float32 (PyTorch accumulates half in float)."""
    return a.astype(np.float32) if a.dtype == np.float16 else a


def _out(ctx, F):
    """The saved forward output: raw array, or a tensor attached to the graph under create_graph."""
    return ctx.output if F is TENSOR else ctx.out_data


def _raw(F, x):
    return F.value(x)


def _xp(a):
    return _backend.xp_of(a)


def _int_result(a, np_dtype):
    """PyTorch sums (and products) of bool and integer tensors in int64 unless dtype= says otherwise."""
    if np_dtype is None and a.dtype.kind in "biu":
        return np.dtype(np.int64)
    return np_dtype


def _check_nonempty(a, dims, op):
    if a.size == 0:
        for d in (range(a.ndim) if dims is None else dims):
            if a.shape[d] == 0:
                raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size "
                                 f"(input shape {list(a.shape)}).")


def _np_dtype(dtype):
    return None if dtype is None else D.as_dtype(dtype).np


def _cast_for_bf16(input, dtype):
    """dtype=bfloat16 of another input: cast first (as PyTorch does), so the reduction runs on
    bfloat16 and accumulates in float32 like every bfloat16 op (NumPy would in bfloat16)."""
    if dtype is not None and input._data.dtype is not D.BF16 and D.as_dtype(dtype) is D.bfloat16:
        return input.to(D.bfloat16), None
    return input, dtype


def _into(out, res):
    """Write a result into a user-given `out=` tensor (PyTorch resizes it when needed)."""
    if out is None:
        return res
    if res._requires_grad:
        raise RuntimeError(
            f"{res.grad_fn.name() if res.grad_fn else 'op'}(): functions with out=... arguments don't "
            "support automatic differentiation, but one of the arguments requires grad.")
    if out._data.shape == res._data.shape:
        out._data[...] = res._data
    else:
        out._data = res._data.astype(out._data.dtype)
    if out._version is None:
        out._version = [1]
    else:
        out._version[0] += 1
    return out


def _structseq(name, fields):
    """A named tuple printed like PyTorch's torch.return_types (values=..., indices=...)."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"pellucid.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": "pellucid.return_types"})
    return cls


_ret_max = _structseq("max", ("values", "indices"))
_ret_min = _structseq("min", ("values", "indices"))
_ret_median = _structseq("median", ("values", "indices"))
_ret_nanmedian = _structseq("nanmedian", ("values", "indices"))
_ret_aminmax = _structseq("aminmax", ("min", "max"))


# ---- sum, mean, prod --------------------------------------------------------------------

class Sum(Op):
    name = "sum"
    backward_name = "SumBackward1"      # PyTorch's name for a sum over given dims

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        np_dtype = _int_result(a, np_dtype)
        if np_dtype is None and a.dtype == np.float16:
            return a.sum(axis=dims, keepdims=keepdim, dtype=np.float32).astype(np.float16)
        return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        return _grad_expand(F, g, ctx.in_shape, ctx.dims, ctx.keepdim)


class SumAll(Sum):
    name = "sum_all"
    backward_name = "SumBackward0"


class Mean(Op):
    name = "mean"
    backward_name = "MeanBackward1"

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        if np_dtype is not None:
            a = a.astype(np_dtype)
        x = _acc(a)
        out = x.mean(axis=dims, keepdims=keepdim)
        return out.astype(a.dtype) if out.dtype != a.dtype else out

    @staticmethod
    def backward(ctx, F, g):
        n = _count(ctx.in_shape, ctx.dims)
        ge = _grad_expand(F, g, ctx.in_shape, ctx.dims, ctx.keepdim)
        return ge / n if n else ge


class MeanAll(Mean):
    name = "mean_all"
    backward_name = "MeanBackward0"


def _reduce(op, input, dim, keepdim, dtype, name, op_all=None):
    input, dtype = _cast_for_bf16(input, dtype)
    dims = _norm_dims(dim, input._data.ndim, name)
    if dims is None and op_all is not None and not keepdim:
        op = op_all
    return dispatch(op, (input,), (dims, keepdim, _np_dtype(dtype)))


_WHOLE = (None, False, None)


@tensor_method("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dim is None and not keepdim and dtype is None and out is None:
        return dispatch(SumAll, (input,), _WHOLE)
    return _into(out, _reduce(Sum, input, dim, keepdim, dtype, "sum", SumAll))


@tensor_method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if input._data.dtype.kind not in D.FLOAT_KINDS and (dtype is None or not D.as_dtype(dtype).is_floating_point):
        got = (D.as_dtype(dtype) if dtype is not None else input.dtype).name
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {got.capitalize()}")
    return _into(out, _reduce(Mean, input, dim, keepdim, dtype, "mean", MeanAll))


def _replace_by_one(F, a, mask, dt):
    """a with the masked elements set to 1, not depending on them (so second derivatives at
    the zeros are right)."""
    return a * F.const((~mask).astype(dt)) + F.const(mask.astype(dt))


def _prod_keep(F, x, dims):
    if F is TENSOR:
        if dims is None:
            return x.prod().reshape((1,) * x.ndim)
        for d in dims:
            x = x.prod(d, keepdim=True)
        return x
    return x.prod(axis=dims, keepdims=True)


class Prod(Op):
    name = "prod"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.dims = dims
        ctx.keepdim = keepdim
        np_dtype = _int_result(a, np_dtype)
        if np_dtype is None and a.dtype == np.float16:
            return a.prod(axis=dims, keepdims=keepdim, dtype=np.float32).astype(np.float16)
        return a.prod(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        (a,) = ctx.inputs
        shape, dt = ctx.in_meta[0]
        dims, keepdim = ctx.dims, ctx.keepdim
        gk = _keep(F, g, shape, dims, keepdim)
        raw = _raw(F, a)
        zero = raw == 0
        if not zero.any():
            return gk * _keep(F, _out(ctx, F), shape, dims, keepdim) / a
        # With zeros, out / a is undefined: grad_i is the product of the other elements, split
        # into the product of the non-zero ones and of the zero ones, so that it stays right
        # when differentiated again (a product of zeros is 0 but carries d/d(each zero)).
        xp = _xp(raw)
        zc = zero.sum(axis=dims, keepdims=True)
        zf = F.const(zero.astype(dt))
        a_nz = _replace_by_one(F, a, zero, dt)
        prod_nz = _prod_keep(F, a_nz, dims)
        prod_zeros = _prod_keep(F, a * zf + F.const((~zero).astype(dt)), dims)
        elsewhere = F.const(xp.logical_not(zero).astype(dt))
        grad = elsewhere * (prod_nz / a_nz) * prod_zeros
        one_zero = zero & (zc == 1)
        if one_zero.any():
            grad = grad + F.const(one_zero.astype(dt)) * prod_nz
        two_zeros = zero & (zc == 2)
        if two_zeros.any():
            # at one of two zeros: the other zero (the slice's sum over its zeros minus this one)
            zsum = (F.sum(a * zf, dims, keepdim=True) if dims is not None or F is not TENSOR
                    else F.reshape(F.sum(a * zf), (1,) * len(shape)))
            grad = grad + F.const(two_zeros.astype(dt)) * (zsum - a) * prod_nz
        return gk * grad


@tensor_method("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    input, dtype = _cast_for_bf16(input, dtype)
    dims = None if dim is None else (_one_dim(dim, input._data.ndim, "prod"),)
    if input._data.ndim == 0:
        dims = None
    return _into(out, dispatch(Prod, (input,), (dims, keepdim if dim is not None else False,
                                                  _np_dtype(dtype))))


# ---- max / min family ----------------------------------------------------------------------

def _even_grad(F, ctx, g, value, dims, keepdim):
    """Split the gradient evenly between all elements equal to the selected value (PyTorch's
    evenly_distribute_backward / amax backward)."""
    raw = _raw(F, ctx.inputs[0])
    shape, dt = ctx.in_meta[0]
    xp = _xp(raw)
    v = value.reshape(_keep_shape(shape, dims)) if not (keepdim and dims is not None) else value
    mask = raw == v
    if raw.dtype.kind == "f":
        mask |= xp.isnan(raw) & xp.isnan(v)
    count = mask.sum(axis=dims, keepdims=True)
    scale = mask.astype(dt) / xp.maximum(count, 1).astype(dt)
    return _keep(F, g, shape, dims, keepdim) * F.const(scale)


class _Extreme(Op):
    """max / min / amax / amin over dims, gradient split evenly between ties."""
    save_inputs = True
    save_output = True
    fn = None

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        ctx.dims = dims
        ctx.keepdim = keepdim
        return getattr(a, cls.fn)(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, F, g):
        return _even_grad(F, ctx, g, ctx.out_data, ctx.dims, ctx.keepdim)


class MaxAll(_Extreme):
    name = "max_all"
    backward_name = "MaxBackward1"
    fn = "max"


class MinAll(_Extreme):
    name = "min_all"
    backward_name = "MinBackward1"
    fn = "min"


class Amax(_Extreme):
    name = "amax"
    fn = "max"


class Amin(_Extreme):
    name = "amin"
    fn = "min"


def _one_hot(idx, shape, dim, dt):
    """A mask over `shape` that is 1 where `idx` (kept dims) points along `dim`."""
    xp = _xp(idx)
    pos = xp.arange(shape[dim]).reshape((-1,) + (1,) * (len(shape) - dim - 1))
    return (pos == idx).astype(dt)


class _SelectDim(Op):
    """Reductions that pick one element along a dim and return (values, indices)."""
    multi_output = True
    arg = None

    @classmethod
    def forward(cls, ctx, a, dim, keepdim):
        if a.ndim == 0:
            ctx.idx = None
            return a.copy(), _xp(a).zeros((), dtype=np.int64)
        idx = cls.select(a, dim)
        vals = _xp(a).take_along_axis(a, idx, axis=dim)
        ctx.idx = idx
        ctx.dim = dim
        ctx.keepdim = keepdim
        if not keepdim:
            vals = vals.squeeze(dim)
            idx = idx.squeeze(dim)
        return vals, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, F, g, _g_indices):
        shape, dt = ctx.in_meta[0]
        if ctx.idx is None:
            return g
        dims = (ctx.dim,)
        return _keep(F, g, shape, dims, ctx.keepdim) * F.const(_one_hot(ctx.idx, shape, ctx.dim, dt))


class MaxDim(_SelectDim):
    name = "max"

    @staticmethod
    def select(a, dim):
        return a.argmax(axis=dim, keepdims=True)


class MinDim(_SelectDim):
    name = "min"

    @staticmethod
    def select(a, dim):
        return a.argmin(axis=dim, keepdims=True)


def _median_index(a, dim, skip_nan):
    """Index (kept dim) of the lower median along `dim`; NaN propagates unless `skip_nan`."""
    xp = _xp(a)
    n = a.shape[dim]
    if a.dtype.kind != "f":
        k = (n - 1) // 2
        return xp.take(xp.argpartition(a, k, axis=dim), [k], axis=dim)
    nan = xp.isnan(a)
    # NaNs sort last; CuPy's sort is always stable and takes no `kind`
    order = xp.argsort(a, axis=dim, kind="stable") if xp is np else xp.argsort(a, axis=dim)
    if skip_nan:
        valid = n - nan.sum(axis=dim, keepdims=True)
        k = xp.maximum(valid - 1, 0) // 2
        return xp.take_along_axis(order, k, axis=dim)
    idx = xp.take(order, [(n - 1) // 2], axis=dim)
    has_nan = nan.any(axis=dim, keepdims=True)
    first_nan = nan.argmax(axis=dim, keepdims=True)
    return xp.where(has_nan, first_nan, idx)


class MedianDim(_SelectDim):
    name = "median"
    backward_name = "MedianBackward1"

    @staticmethod
    def select(a, dim):
        return _median_index(a, dim, skip_nan=False)


class NanMedianDim(_SelectDim):
    name = "nanmedian"
    backward_name = "NanmedianBackward1"

    @staticmethod
    def select(a, dim):
        return _median_index(a, dim, skip_nan=True)


class _MedianAll(Op):
    save_inputs = True
    save_output = True
    skip_nan = False

    @classmethod
    def forward(cls, ctx, a):
        flat = a.reshape(-1)
        idx = _median_index(flat, 0, cls.skip_nan)
        return flat[idx].reshape(())

    @staticmethod
    def backward(ctx, F, g):
        return _even_grad(F, ctx, g, ctx.out_data, None, False)


class MedianAll(_MedianAll):
    name = "median_all"
    backward_name = "MedianBackward0"


class NanMedianAll(_MedianAll):
    name = "nanmedian_all"
    backward_name = "NanmedianBackward0"
    skip_nan = True


def _binary(name, input, other):
    import pellucid
    return getattr(pellucid, name)(input, other)


def _extreme_dim(op, ret, input, dim, keepdim, name):
    a = input._data
    d = _one_dim(dim, a.ndim, name)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size "
                         f"(input shape {list(a.shape)}).")
    return ret(*dispatch(op, (input,), (d, keepdim)))


def _extreme_all(op, input, name):
    if input._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
            "reduction dim with the 'dim' argument.")
    return dispatch(op, (input,), (None, False))


@tensor_method("max")
def max(input, dim=None, keepdim=False, *, out=None):
    """max(input), max(input, dim, keepdim=False) -> (values, indices), or max(input, other)."""
    if isinstance(dim, Tensor):
        return _binary("maximum", input, dim)
    if dim is None:
        return _extreme_all(MaxAll, input, "max")
    return _extreme_dim(MaxDim, _ret_max, input, dim, keepdim, "max")


@tensor_method("min")
def min(input, dim=None, keepdim=False, *, out=None):
    """min(input), min(input, dim, keepdim=False) -> (values, indices), or min(input, other)."""
    if isinstance(dim, Tensor):
        return _binary("minimum", input, dim)
    if dim is None:
        return _extreme_all(MinAll, input, "min")
    return _extreme_dim(MinDim, _ret_min, input, dim, keepdim, "min")


def _amax_amin(op, input, dim, keepdim, name):
    a = input._data
    dims = _norm_dims(dim, a.ndim, name)
    if a.size == 0:
        _check_nonempty(a, dims, name)
    return dispatch(op, (input,), (dims, keepdim))


@tensor_method("amax")
def amax(input, dim=(), keepdim=False, *, out=None):
    return _into(out, _amax_amin(Amax, input, dim, keepdim, "amax"))


@tensor_method("amin")
def amin(input, dim=(), keepdim=False, *, out=None):
    return _into(out, _amax_amin(Amin, input, dim, keepdim, "amin"))


class AminMax(Op):
    name = "aminmax"
    multi_output = True
    save_inputs = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.dims = dims
        ctx.keepdim = keepdim
        lo = a.min(axis=dims, keepdims=keepdim)
        hi = a.max(axis=dims, keepdims=keepdim)
        ctx.lo, ctx.hi = lo, hi
        return lo, hi

    @staticmethod
    def backward(ctx, F, g_min, g_max):
        return (_even_grad(F, ctx, g_min, ctx.lo, ctx.dims, ctx.keepdim)
                + _even_grad(F, ctx, g_max, ctx.hi, ctx.dims, ctx.keepdim))


@tensor_method("aminmax")
def aminmax(input, *, dim=None, keepdim=False):
    a = input._data
    dims = None if dim is None else (_one_dim(dim, a.ndim, "aminmax"),)
    if a.ndim == 0:
        dims = None
    if a.size == 0:
        if dims is None:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        _check_nonempty(a, dims, "aminmax")
    return _ret_aminmax(*dispatch(AminMax, (input,), (dims, keepdim)))


class _ArgExtreme(Op):
    differentiable = False
    fn = None

    @classmethod
    def forward(cls, ctx, a, dim, keepdim):
        if dim is None:
            r = getattr(a.reshape(-1), cls.fn)()
            if keepdim:
                r = r.reshape((1,) * a.ndim)
        elif a.ndim == 0:
            r = _xp(a).zeros((), dtype=np.int64)
        else:
            r = getattr(a, cls.fn)(axis=dim, keepdims=keepdim)
        return _xp(a).asarray(r, dtype=np.int64)


class Argmax(_ArgExtreme):
    name = "argmax"
    fn = "argmax"


class Argmin(_ArgExtreme):
    name = "argmin"
    fn = "argmin"


def _arg(op, input, dim, keepdim, name):
    a = input._data
    if dim is None:
        if a.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        return dispatch(op, (input,), (None, keepdim))
    d = _one_dim(dim, a.ndim, name)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return dispatch(op, (input,), (d, keepdim))


@tensor_method("argmax")
def argmax(input, dim=None, keepdim=False):
    return _arg(Argmax, input, dim, keepdim, "argmax")


@tensor_method("argmin")
def argmin(input, dim=None, keepdim=False):
    return _arg(Argmin, input, dim, keepdim, "argmin")


@tensor_method("median")
def median(input, dim=None, keepdim=False):
    """The lower median; with `dim`, (values, indices). NaN propagates."""
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError("median() input tensor cannot be empty")
        return dispatch(MedianAll, (input,))
    return _extreme_dim(MedianDim, _ret_median, input, dim, keepdim, "median")


@tensor_method("nanmedian")
def nanmedian(input, dim=None, keepdim=False):
    """The lower median ignoring NaNs; with `dim`, (values, indices)."""
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError("nanmedian() input tensor cannot be empty")
        return dispatch(NanMedianAll, (input,))
    return _extreme_dim(NanMedianDim, _ret_nanmedian, input, dim, keepdim, "nanmedian")


# ---- variance and standard deviation --------------------------------------------------------

def _moments(ctx, a, dims, correction, keepdim, op):
    """(variance, mean) with PyTorch's correction rule; the centred input is kept for backward."""
    x = _acc(a)
    n = _count(a.shape, dims)
    m = x.mean(axis=dims, keepdims=True)
    centred = x - m
    denom = _builtin_max(0, n - correction)
    if denom == 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than "
                      "the reduction factor (input numel divided by output numel).", UserWarning,
                      stacklevel=4)
    ssq = (centred * centred).sum(axis=dims, keepdims=keepdim)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = ssq / denom if denom else ssq / x.dtype.type(0)
    if not keepdim:
        m = m.reshape(var.shape)
    ctx.denom = denom
    return var.astype(a.dtype, copy=False), m.astype(a.dtype, copy=False)


def _var_grad(F, ctx, g_var, x):
    """d var / d x applied to `g_var` (kept-dim shape): 2 (x - mean) g / (n - correction)."""
    shape = ctx.in_meta[0][0]
    dims = ctx.dims
    if F is TENSOR:
        centred = x - F.mean(x, dims, keepdim=True)
    else:
        centred = x - _acc(x).mean(axis=dims, keepdims=True).astype(x.dtype)
    return centred * (g_var * (2.0 / ctx.denom if ctx.denom else math.inf))


class _VarBase(Op):
    save_inputs = True

    @staticmethod
    def setup(ctx, dims, keepdim):
        ctx.dims = dims
        ctx.keepdim = keepdim


def _std_scale(F, ctx, g_std, std):
    """g / (2 std), taken as 0 where std == 0 (PyTorch's std_backward)."""
    shape, dt = ctx.in_meta[0]
    std_k = _keep(F, std, shape, ctx.dims, ctx.keepdim)
    zero = _raw(F, std_k) == 0
    if zero.any():
        return g_std * F.const((~zero).astype(dt)) / (2 * (std_k + F.const(zero.astype(dt))))
    return g_std / (2 * std_k)


class Var(_VarBase):
    name = "var"

    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        Var.setup(ctx, dims, keepdim)
        return _moments(ctx, a, dims, correction, keepdim, "var")[0]

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.inputs
        shape = ctx.in_meta[0][0]
        return _var_grad(F, ctx, _keep(F, g, shape, ctx.dims, ctx.keepdim), x)


class Std(_VarBase):
    name = "std"
    save_output = True

    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        Std.setup(ctx, dims, keepdim)
        var = _moments(ctx, a, dims, correction, keepdim, "std")[0]
        return _xp(var).sqrt(var)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.inputs
        shape = ctx.in_meta[0][0]
        gk = _keep(F, g, shape, ctx.dims, ctx.keepdim)
        return _var_grad(F, ctx, _std_scale(F, ctx, gk, _out(ctx, F)), x)


class VarMean(_VarBase):
    name = "var_mean"
    multi_output = True

    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        VarMean.setup(ctx, dims, keepdim)
        return _moments(ctx, a, dims, correction, keepdim, "var_mean")

    @staticmethod
    def backward(ctx, F, g_var, g_mean):
        (x,) = ctx.inputs
        shape = ctx.in_meta[0][0]
        n = _count(shape, ctx.dims)
        gv = _var_grad(F, ctx, _keep(F, g_var, shape, ctx.dims, ctx.keepdim), x)
        return gv + _keep(F, g_mean, shape, ctx.dims, ctx.keepdim) / _builtin_max(n, 1)


class StdMean(_VarBase):
    name = "std_mean"
    multi_output = True

    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        StdMean.setup(ctx, dims, keepdim)
        var, m = _moments(ctx, a, dims, correction, keepdim, "std_mean")
        std = _xp(var).sqrt(var)
        ctx.std = std
        return std, m

    @staticmethod
    def backward(ctx, F, g_std, g_mean):
        (x,) = ctx.inputs
        shape = ctx.in_meta[0][0]
        n = _count(shape, ctx.dims)
        gk = _keep(F, g_std, shape, ctx.dims, ctx.keepdim)
        # under create_graph the std is recomputed so second derivatives see it depend on x
        std = _recompute_std(x, ctx) if F is TENSOR else ctx.std
        gv = _var_grad(F, ctx, _std_scale(F, ctx, gk, std), x)
        return gv + _keep(F, g_mean, shape, ctx.dims, ctx.keepdim) / _builtin_max(n, 1)


def _recompute_std(x, ctx):
    n = _count(x._data.shape, ctx.dims)
    return std(x, ctx.dims, correction=n - ctx.denom, keepdim=ctx.keepdim)


def _correction(name, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}(): can't specify both unbiased and correction")
    if correction is not None:
        return correction
    if unbiased is not None:
        return int(bool(unbiased))
    return 1


def _var_family(op, name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):          # legacy var(input, unbiased)
        dim, unbiased = None, dim
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"{name}(): std and var only support floating point and complex dtypes "
                           f"(got {input.dtype.name})")
    dims = _norm_dims(dim, input._data.ndim, name)
    c = _correction(name, unbiased, correction)
    return dispatch(op, (input,), (dims, c, keepdim))


@tensor_method("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return _into(out, _var_family(Var, "var", input, dim, unbiased, keepdim, correction))


@tensor_method("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return _into(out, _var_family(Std, "std", input, dim, unbiased, keepdim, correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_family(VarMean, "var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_family(StdMean, "std_mean", input, dim, unbiased, keepdim, correction)


# ---- norms ----------------------------------------------------------------------------------

class VectorNorm(Op):
    name = "linalg_vector_norm"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, ord, dims, keepdim):
        ctx.ord = ord
        ctx.dims = dims
        ctx.keepdim = keepdim
        x = _acc(a)
        xp = _xp(x)
        if ord == 2:
            r = xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        else:
            ax = xp.abs(x)
            if ord == math.inf:
                r = ax.max(axis=dims, keepdims=keepdim)
            elif ord == -math.inf:
                r = ax.min(axis=dims, keepdims=keepdim)
            elif ord == 0:
                r = (ax != 0).sum(axis=dims, keepdims=keepdim, dtype=x.dtype)
            elif ord == 1:
                r = ax.sum(axis=dims, keepdims=keepdim)
            else:
                r = (ax ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)
        return r.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.inputs
        shape, dt = ctx.in_meta[0]
        dims, p = ctx.dims, ctx.ord
        raw = _raw(F, x)
        xp = _xp(raw)
        gk = _keep(F, g, shape, dims, ctx.keepdim)
        if p == 0:
            return None         # piecewise constant: PyTorch leaves the gradient undefined
        sign = xp.sign(raw)
        if p == 1:
            return gk * F.const(sign)
        norm = _keep(F, _out(ctx, F), shape, dims, ctx.keepdim)
        norm_raw = _raw(F, norm)
        if p in (math.inf, -math.inf):
            mask = xp.abs(raw) == norm_raw
            count = xp.maximum(mask.sum(axis=dims, keepdims=True), 1)
            return gk * F.const(sign * mask / count.astype(dt))
        # the scale g / norm^(p-1) is taken as 0 where the norm is 0 (so no nan at x = 0)
        zero_norm = norm_raw == 0
        if zero_norm.any():
            safe = norm + F.const(zero_norm.astype(dt))
            gk = gk * F.const((~zero_norm).astype(dt))
        else:
            safe = norm
        if p == 2:
            return x * (gk / safe)
        absx = x * F.const(sign)          # |x|, differentiable away from 0
        if p < 1:
            zero = raw == 0
            base = absx + F.const(zero.astype(dt))
            scaled = F.const(sign) * base ** (p - 1) * F.const((~zero).astype(dt))
            return scaled * gk * safe ** (1 - p)
        scaled = F.const(sign) * absx ** (p - 1) if p < 2 else x * absx ** (p - 2)
        return scaled * (gk / safe ** (p - 1))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector p-norm over `dim` (all elements when None); ord may be inf, -inf or 0."""
    if dtype is not None:
        x = x.to(D.as_dtype(dtype))
    if x._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {x.dtype.name}")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got '{ord}' (use matrix_norm "
                           "for 'fro' and 'nuc')")
    ord = float(ord)
    dims = _norm_dims(dim, x._data.ndim, "linalg.vector_norm")
    if x._data.size == 0 and ord < 0 or (x._data.size == 0 and ord == math.inf):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty tensor "
                           "because the operation does not have an identity")
    return _into(out, dispatch(VectorNorm, (x,), (ord, dims, keepdim)))


@tensor_method("norm")
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """torch.norm: 'fro' (default) and numbers are vector norms over `dim`; 'nuc' is the nuclear
    norm of the matrices over the two dims (the last two by default)."""
    if p is None:
        p = 2
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(p, str):
        if p == "fro":
            if dim is not None and len(dim) > 2:
                raise RuntimeError(f"norm(): the 'fro' norm takes at most 2 dims, got {list(dim)}")
            return vector_norm(input, 2, dim, keepdim, dtype=dtype, out=out)
        if p == "nuc":
            from ..linalg import matrix_norm
            if dim is None:
                if input._data.ndim != 2:
                    raise RuntimeError(f"norm(): the 'nuc' norm without dim expects a 2-D input, got "
                                       f"{input._data.ndim}-D")
                dim = (-2, -1)
            return _into(out, matrix_norm(input, "nuc", dim, keepdim, dtype=dtype))
        raise ValueError(f"norm(): p must be 'fro', 'nuc' or a number, got '{p}'")
    return vector_norm(input, p, dim, keepdim, dtype=dtype, out=out)


# ---- logsumexp, softmax ---------------------------------------------------------------------

class LogSumExp(Op):
    name = "logsumexp"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.dims = dims
        ctx.keepdim = keepdim
        x = _acc(a)
        xp = _xp(x)
        if x.size == 0:
            s = x.sum(axis=dims, keepdims=keepdim)
            return xp.log(s).astype(a.dtype) if s.size else s
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)      # all -inf (or an inf) slices: don't shift by inf
        s = xp.exp(x - m).sum(axis=dims, keepdims=True)
        with np.errstate(divide="ignore"):
            out = xp.log(s) + m
        if not keepdim:
            out = out.reshape(_reduced_shape(x.shape, dims))
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.inputs
        shape = ctx.in_meta[0][0]
        out = _keep(F, _out(ctx, F), shape, ctx.dims, ctx.keepdim)
        return _keep(F, g, shape, ctx.dims, ctx.keepdim) * F.exp(x - out)


@tensor_method("logsumexp")
def logsumexp(input, dim, keepdim=False, *, out=None):
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        input = input.to(D.get_default_dtype())
    dims = _norm_dims(dim, input._data.ndim, "logsumexp")
    return _into(out, dispatch(LogSumExp, (input,), (dims, keepdim)))


def _softmax_input(input, dim, dtype, name):
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"{name}(): expected a floating point input, got {input.dtype.name} "
                           "(pass dtype= to compute in a floating point type)")
    if dim is None:
        raise TypeError(f"{name}(): argument 'dim' must be given")
    return input, wrap_dims(int(dim), input._data.ndim, name)


class Softmax(Op):
    name = "softmax"
    save_output = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.ndim == 0 or a.size == 0:
            return _xp(a).ones_like(a)
        x = _acc(a)
        xp = _xp(x)
        e = x - x.max(axis=dim, keepdims=True)
        xp.exp(e, out=e)
        e /= e.sum(axis=dim, keepdims=True)
        return e.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        y = _out(ctx, F)
        if len(ctx.in_meta[0][0]) == 0:
            return g * 0
        gy = g * y
        return gy - y * F.sum(gy, ctx.dim, keepdim=True)


class LogSoftmax(Op):
    name = "log_softmax"
    save_output = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.ndim == 0 or a.size == 0:
            return _xp(a).zeros_like(a)
        x = _acc(a)
        xp = _xp(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        return shifted.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        y = _out(ctx, F)
        if len(ctx.in_meta[0][0]) == 0:
            return g * 0
        return g - F.exp(y) * F.sum(g, ctx.dim, keepdim=True)


@tensor_method("softmax")
def softmax(input, dim, dtype=None, *, _stacklevel=3):
    input, d = _softmax_input(input, dim, dtype, "softmax")
    return dispatch(Softmax, (input,), (d,))


@tensor_method("log_softmax")
def log_softmax(input, dim, dtype=None, *, _stacklevel=3):
    input, d = _softmax_input(input, dim, dtype, "log_softmax")
    return dispatch(LogSoftmax, (input,), (d,))


# ---- cumulative sum and product -------------------------------------------------------------

def _rev_cumsum(F, x, dim):
    """sum_{j >= i} x_j along `dim`."""
    if F is TENSOR:
        return F.sum(x, dim, keepdim=True) - x.cumsum(dim) + x
    xp = F.xp
    return xp.flip(xp.cumsum(xp.flip(x, dim), axis=dim), dim)


def _scan(fn_name, ctx, a, dim, np_dtype):
    """cumsum/cumprod forward: integer inputs scan in int64, float16 accumulates in float32."""
    ctx.dim = dim
    np_dtype = _int_result(a, np_dtype)
    if a.ndim == 0:
        return a.astype(np_dtype or a.dtype, copy=True)
    fn = getattr(_xp(a), fn_name)
    if np_dtype is None and a.dtype == np.float16:
        return fn(a, axis=dim, dtype=np.float32).astype(np.float16)
    return fn(a, axis=dim, dtype=np_dtype)


class CumSum(Op):
    name = "cumsum"

    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        return _scan("cumsum", ctx, a, dim, np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        if len(ctx.in_meta[0][0]) == 0:
            return g
        return _rev_cumsum(F, g, ctx.dim)


class CumProd(Op):
    name = "cumprod"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        return _scan("cumprod", ctx, a, dim, np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        (a,) = ctx.inputs
        shape, dt = ctx.in_meta[0]
        if len(shape) == 0:
            return g
        dim = ctx.dim
        raw = _raw(F, a)
        out = _out(ctx, F)
        zero = raw == 0
        if not zero.any():
            return _rev_cumsum(F, g * out, dim) / a
        if F is TENSOR:
            return _cumprod_grad_quadratic(F, a, g, dim, dt)
        # grad_k = sum_{j >= k} g_j prod_{i <= j, i != k} a_i. Before the first zero of a slice
        # that is revcumsum(g * out) / a_k; at the first zero it is revcumsum(g * c) with c the
        # cumprod that skips that zero; after it every term holds a zero.
        xp = _xp(raw)
        nz_before = xp.cumsum(zero, axis=dim)
        before = F.const((nz_before == 0).astype(dt))
        first = zero & (nz_before == 1)
        at_first = F.const(first.astype(dt))
        a_nz = _replace_by_one(F, a, zero, dt)
        skip_first = _replace_by_one(F, a, first, dt)
        c = skip_first.cumprod(dim) if F is TENSOR else xp.cumprod(skip_first, axis=dim)
        return (before * (_rev_cumsum(F, g * out, dim) / a_nz)
                + at_first * _rev_cumsum(F, g * c, dim))


def _cumprod_grad_quadratic(F, a, g, dim, dt):
    """grad_k = sum_{j >= k} g_j prod_{i <= j, i != k} a_i from an (n, n) table per slice: twice
    differentiable with zeros in the input (used only under create_graph)."""
    a_last = F.transpose(a, dim, -1)
    g_last = F.transpose(g, dim, -1)
    n = a_last.shape[-1]
    xp = _xp(_raw(F, a))
    eye = xp.eye(n, dtype=dt)
    rows = F.unsqueeze(a_last, -2) * F.const(1 - eye) + F.const(eye)     # row k: a with a_k -> 1
    table = rows.cumprod(-1) * F.const(xp.triu(xp.ones((n, n), dtype=dt)))
    grad = F.sum(table * F.unsqueeze(g_last, -2), -1)
    return F.transpose(grad, dim, -1)


def _cumulative(op, input, dim, dtype, name):
    input, dtype = _cast_for_bf16(input, dtype)
    d = wrap_dims(int(dim), input._data.ndim, name)
    return dispatch(op, (input,), (d, _np_dtype(dtype)))


@tensor_method("cumsum")
def cumsum(input, dim, *, dtype=None, out=None):
    return _into(out, _cumulative(CumSum, input, dim, dtype, "cumsum"))


@tensor_method("cumprod")
def cumprod(input, dim, *, dtype=None, out=None):
    return _into(out, _cumulative(CumProd, input, dim, dtype, "cumprod"))


# ---- logical reductions ---------------------------------------------------------------------

class _Logical(Op):
    differentiable = False
    fn = None

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        r = getattr(a, cls.fn)(axis=dims, keepdims=keepdim)
        r = _xp(a).asarray(r)
        return r.astype(np.uint8) if a.dtype == np.uint8 else r


class All(_Logical):
    name = "all"
    fn = "all"


class Any(_Logical):
    name = "any"
    fn = "any"


def _logical_dims(dim, ndim, op):
    # unlike sum, an empty dim list reduces nothing here (as in PyTorch)
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        return ()
    return _norm_dims(dim, ndim, op)


@tensor_method("all")
def all(input, dim=None, keepdim=False, *, out=None):
    return _into(out, dispatch(All, (input,), (_logical_dims(dim, input._data.ndim, "all"), keepdim)))


@tensor_method("any")
def any(input, dim=None, keepdim=False, *, out=None):
    return _into(out, dispatch(Any, (input,), (_logical_dims(dim, input._data.ndim, "any"), keepdim)))


class CountNonzero(Op):
    name = "count_nonzero"
    differentiable = False

    @staticmethod
    def forward(ctx, a, dims):
        return _xp(a).asarray((a != 0).sum(axis=dims), dtype=np.int64)


@tensor_method("count_nonzero")
def count_nonzero(input, dim=None):
    return dispatch(CountNonzero, (input,), (_norm_dims(dim, input._data.ndim, "count_nonzero"),))


# ---- NaN-ignoring reductions ----------------------------------------------------------------

class NanSum(Op):
    name = "nansum"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.dims = dims
        ctx.keepdim = keepdim
        np_dtype = _int_result(a, np_dtype)
        if a.dtype.kind != "f":
            return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)
        xp = _xp(a)
        clean = xp.where(xp.isnan(a), 0, _acc(a))
        return clean.sum(axis=dims, keepdims=keepdim, dtype=np_dtype).astype(np_dtype or a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        shape, dt = ctx.in_meta[0]
        raw = _raw(F, ctx.inputs[0])
        keep = F.const(_xp(raw).logical_not(_xp(raw).isnan(raw)).astype(dt))
        return _keep(F, g, shape, ctx.dims, ctx.keepdim) * keep


class NanMean(Op):
    name = "nanmean"
    save_inputs = True
    backward_name = "NanmeanBackward0"

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.dims = dims
        ctx.keepdim = keepdim
        xp = _xp(a)
        valid = xp.logical_not(xp.isnan(a))
        x = _acc(a)
        total = xp.where(valid, x, 0).sum(axis=dims, keepdims=keepdim)
        n = valid.sum(axis=dims, keepdims=keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (total / n).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        shape, dt = ctx.in_meta[0]
        raw = _raw(F, ctx.inputs[0])
        xp = _xp(raw)
        valid = xp.logical_not(xp.isnan(raw))
        n = xp.maximum(valid.sum(axis=ctx.dims, keepdims=True), 1)
        return _keep(F, g, shape, ctx.dims, ctx.keepdim) * F.const((valid / n).astype(dt))


@tensor_method("nansum")
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    return _into(out, _reduce(NanSum, input, dim, keepdim, dtype, "nansum"))


@tensor_method("nanmean")
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        input = input.to(D.as_dtype(dtype))
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{input.dtype.name}")
    dims = _norm_dims(dim, input._data.ndim, "nanmean")
    return _into(out, dispatch(NanMean, (input,), (dims, keepdim)))


# ---- sum_to_size ---------------------------------------------------------------------------

def sum_to_size(input, *size):
    """Sum `input` down to `size` (the adjoint of broadcasting)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    ishape = input._data.shape
    if ishape == shape:
        return input
    nd = len(ishape) - len(shape)
    if nd < 0 or _builtin_sum(1 for i, s in enumerate(shape) if s not in (1, ishape[i + nd])):
        raise RuntimeError(f"sum_to_size: size {list(shape)} is not expandable to size {list(ishape)}")
    dims = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape) if s == 1 and ishape[i + nd] != 1)
    out = input.sum(dims, keepdim=True) if dims else input
    return out.reshape(shape)


Tensor.sum_to_size = sum_to_size


__all__ = ['all', 'amax', 'amin', 'aminmax', 'any', 'argmax', 'argmin', 'count_nonzero', 'cumprod',
           'cumsum', 'log_softmax', 'logsumexp', 'max', 'mean', 'median', 'min', 'nanmean',
           'nanmedian', 'nansum', 'norm', 'prod', 'softmax', 'std', 'std_mean', 'sum', 'sum_to_size',
           'var', 'var_mean', 'vector_norm']
