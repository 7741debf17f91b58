"""Views and reshapes: view, reshape, flatten, squeeze, unsqueeze, transpose, permute, expand, ..."""
import numpy as np

from .._dispatch import Op, dispatch
from .._tensor import Tensor, _wrap_dim
from ._registry import tensor_method


def _size_args(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _infer_shape(shape, numel, op):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    if neg:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class View(Op):
    name = "view"
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        try:
            return a.reshape(shape, copy=False) if type(a) is np.ndarray else _cupy_view(a, shape)
        except (ValueError, AttributeError):
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (input shape "
                f"{list(a.shape)}, requested {list(shape)}): at least one dimension spans across two "
                "contiguous subspaces. Use .reshape(...) instead.") from None

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, ctx.in_shape)


def _cupy_view(a, shape):
    v = a.view()
    v.shape = shape
    return v


class Reshape(Op):
    name = "reshape"
    backward_name = "ViewBackward0"
    view = "maybe"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, ctx.in_shape)


@tensor_method("view")
def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        from .. import _dtype as D
        dt = D.as_dtype(shape[0])
        if dt.itemsize != input._data.itemsize:
            raise RuntimeError("view(dtype): only dtypes of the same size are supported")
        return Tensor._make(input._data.view(dt.np))
    shape = _infer_shape(_size_args(shape), input._data.size, "view")
    return dispatch(View, (input,), (shape,))


@tensor_method("reshape")
def reshape(input, *shape):
    shape = _infer_shape(_size_args(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return dispatch(View, (input,), (shape,))
    return dispatch(Reshape, (input,), (shape,))


@tensor_method("view_as")
def view_as(input, other):
    return view(input, other._data.shape)


@tensor_method("reshape_as")
def reshape_as(input, other):
    return reshape(input, other._data.shape)


class Expand(Op):
    name = "expand"
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        if type(a) is np.ndarray:
            return np.broadcast_to(a, shape)
        import cupy
        return cupy.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.sum_to(g, ctx.in_shape)


@tensor_method("expand")
def expand(input, *sizes):
    sizes = _size_args(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension ({list(sizes)})")
            out.append(s)
        else:
            cur = shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and s != cur:
                raise RuntimeError(
                    f"expand: the expanded size of the tensor ({s}) must match the existing size "
                    f"({cur}) at non-singleton dimension {i}. Target sizes: {list(sizes)}. Tensor "
                    f"sizes: {list(shape)}")
            out.append(s)
    return dispatch(Expand, (input,), (tuple(out),))


@tensor_method("expand_as")
def expand_as(input, other):
    return expand(input, other._data.shape)


class Transpose(Op):
    name = "transpose"
    view = True

    @staticmethod
    def forward(ctx, a, d0, d1):
        ctx.dims = (d0, d1)
        return a.swapaxes(d0, d1)

    @staticmethod
    def backward(ctx, F, g):
        return F.transpose(g, *ctx.dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    n = input._data.ndim
    return dispatch(Transpose, (input,), (_wrap_dim(dim0, n, "transpose"), _wrap_dim(dim1, n, "transpose")))


swapaxes = swapdims = transpose


class Permute(Op):
    name = "permute"
    view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, F, g):
        return F.permute(g, tuple(np.argsort(ctx.dims)))


@tensor_method("permute")
def permute(input, *dims):
    dims = _size_args(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
            f"of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute(): duplicate dims are not allowed ({list(dims)})")
    return dispatch(Permute, (input,), (dims,))


@tensor_method("unsqueeze")
def unsqueeze(input, dim):
    shape = list(input._data.shape)
    d = _wrap_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(d, 1)
    return dispatch(View, (input,), (tuple(shape),))


@tensor_method("squeeze")
def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {_wrap_dim(d, len(shape), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return dispatch(View, (input,), (new,))


@tensor_method("flatten")
def flatten(input, start_dim=0, end_dim=-1):
    shape = input._data.shape
    if len(shape) == 0:
        return dispatch(View, (input,), ((1,),))
    s = _wrap_dim(start_dim, len(shape), "flatten")
    e = _wrap_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for x in shape[s:e + 1]:
        n *= x
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


@tensor_method("unflatten")
def unflatten(input, dim, sizes):
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape), "unflatten")
    sizes = _infer_shape(tuple(sizes), shape[d], "unflatten")
    return view(input, shape[:d] + tuple(sizes) + shape[d + 1:])


@tensor_method("t")
def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    if input._data.ndim < 2:
        return input
    return transpose(input, 0, 1)


def _T(self):
    n = self._data.ndim
    return self if n < 2 else permute(self, *reversed(range(n)))


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(self, -2, -1)


Tensor.T = property(_T)
Tensor.mT = property(_mT)
Tensor.H = property(_T)
Tensor.mH = property(_mT)


__all__ = ['expand', 'expand_as', 'flatten', 'permute', 'reshape', 'reshape_as', 'squeeze', 'swapaxes', 'swapdims', 't', 'transpose', 'unflatten', 'unsqueeze', 'view', 'view_as']
