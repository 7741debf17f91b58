"""Reductions (sum, mean, ...), reducing a broadcast gradient back to a shape."""
import numpy as np

from .. import _dtype as D
from .._dispatch import Op, dispatch
from ._registry import tensor_method, wrap_dims


def _norm_dims(dim, ndim, op):
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None
    d = wrap_dims(dim, ndim, op)
    return d if isinstance(d, tuple) else (d,)


def _grad_expand(F, g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if dims is not None and not keepdim:
        shape = list(in_shape)
        for d in dims:
            shape[d] = 1
        g = F.reshape(g, tuple(shape))
    return F.expand(g, in_shape)


class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        if np_dtype is None and a.dtype.kind in "biu":
            np_dtype = np.int64
        return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        return _grad_expand(F, g, ctx.in_shape, ctx.dims, ctx.keepdim)


class Mean(Op):
    name = "mean"

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape = a.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        out = a.mean(axis=dims, keepdims=keepdim, dtype=np_dtype)
        return out.astype(a.dtype) if np_dtype is None and out.dtype != a.dtype else out

    @staticmethod
    def backward(ctx, F, g):
        n = 1
        shape = ctx.in_shape
        for d in (ctx.dims if ctx.dims is not None else range(len(shape))):
            n *= shape[d]
        return _grad_expand(F, g, shape, ctx.dims, ctx.keepdim) / n if n else \
            _grad_expand(F, g, shape, ctx.dims, ctx.keepdim)


def _reduce(op, input, dim, keepdim, dtype, name):
    dims = _norm_dims(dim, input._data.ndim, name)
    np_dtype = None if dtype is None else D.as_dtype(dtype).np
    return dispatch(op, (input,), (dims, keepdim, np_dtype))


@tensor_method("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    return _reduce(Sum, input, dim, keepdim, dtype, "sum")


@tensor_method("mean")
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if input._data.dtype.kind not in "f" and dtype is None:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {input.dtype.name.capitalize()}")
    return _reduce(Mean, input, dim, keepdim, dtype, "mean")


def sum_to_size(input, *size):
    """Sum `input` down to `size` (the adjoint of broadcasting)."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    ishape = input._data.shape
    if ishape == shape:
        return input
    nd = len(ishape) - len(shape)
    dims = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape) if s == 1 and ishape[i + nd] != 1)
    out = input.sum(dims, keepdim=True) if dims else input
    return out.reshape(shape)


from .._tensor import Tensor  # noqa: E402
Tensor.sum_to_size = sum_to_size


__all__ = ['mean', 'sum', 'sum_to_size']
