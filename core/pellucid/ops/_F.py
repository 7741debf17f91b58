"""The vocabulary backward formulas are written in.

`array_ns(x)` gives functions over raw NumPy/CuPy arrays (fast, no graph); `TENSOR` gives the
same names over pellucid tensors (differentiable, used when create_graph=True). Arithmetic
operators work on both, so a formula such as `g * b` is written once.
"""
import numpy as np

from .. import _backend


def _T():
    from .. import _dispatch
    return _dispatch.Tensor


class ArrayNS:
    def __init__(self, xp):
        self.xp = xp

    def fit(self, g, shape, dtype):
        """Reduce a broadcast gradient to `shape` and give it `dtype`."""
        if g.shape != shape:
            g = self.sum_to(g, shape)
        if g.dtype != dtype:
            g = g.astype(dtype)
        return g

    def sum_to(self, g, shape):
        if g.shape == shape:
            return g
        nd = g.ndim - len(shape)
        axes = tuple(range(nd)) + tuple(i + nd for i, s in enumerate(shape) if s == 1 and g.shape[i + nd] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        if nd:
            g = g.reshape(g.shape[nd:])
        if g.shape != shape:
            g = g.reshape(shape)
        return g

    def const(self, a):
        return a

    def value(self, a):
        return a

    def __getattr__(self, name):
        return getattr(self.xp, name)

    # names that differ between NumPy and pellucid, spelled the pellucid way
    def expand(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def reshape(self, a, shape):
        return a.reshape(shape)

    def transpose(self, a, d0, d1):
        return self.xp.swapaxes(a, d0, d1)

    def permute(self, a, dims):
        return a.transpose(dims)

    def sum(self, a, dim=None, keepdim=False):
        return a.sum(axis=dim, keepdims=keepdim)

    def mean(self, a, dim=None, keepdim=False):
        return a.mean(axis=dim, keepdims=keepdim)

    def unsqueeze(self, a, dim):
        return self.xp.expand_dims(a, dim)

    def sigmoid(self, a):
        return 1 / (1 + self.xp.exp(-a))

    def erf(self, a):
        if self.xp is np:
            from .._special import erf
            return erf(a)
        import cupyx.scipy.special as sp
        return sp.erf(a)

    def zeros(self, shape, like):
        return self.xp.zeros(shape, dtype=like.dtype)

    def ones(self, shape, like):
        return self.xp.ones(shape, dtype=like.dtype)

    def to_dtype(self, a, dtype):
        return a.astype(dtype)

    def matmul(self, a, b):
        return self.xp.matmul(a, b)

    def mT(self, a):
        return self.xp.swapaxes(a, -1, -2)

    def index_add_zeros(self, shape, index, values, like):
        """zeros(shape) with `values` added at `index` (the adjoint of indexing)."""
        out = self.xp.zeros(shape, dtype=values.dtype)
        if self.xp is np:
            np.add.at(out, index, values)
        else:
            self.xp.add.at(out, index, values)
        return out

    def to_device_of(self, a, ref):
        return _backend.move(a, _backend.device_of(ref))


_NS = {}


def array_ns(x):
    xp = _backend.xp_of(x)
    ns = _NS.get(xp)
    if ns is None:
        ns = _NS[xp] = ArrayNS(xp)
    return ns


class TensorNS:
    """Differentiable tensor functions, named as in ArrayNS."""

    def fit(self, g, shape, dtype):
        if g._data.shape != shape:
            g = self.sum_to(g, shape)
        if g._data.dtype != dtype:
            from .._dtype import from_numpy_dtype
            g = g.to(from_numpy_dtype(dtype))
        return g

    def sum_to(self, g, shape):
        from .. import ops
        return ops.sum_to_size(g, shape)

    def const(self, a):
        return _T()._make(a)

    def value(self, t):
        return t._data

    def __getattr__(self, name):
        import pellucid
        return getattr(pellucid, name)

    def expand(self, a, shape):
        return a.expand(shape)

    def reshape(self, a, shape):
        return a.reshape(shape)

    def transpose(self, a, d0, d1):
        return a.transpose(d0, d1)

    def permute(self, a, dims):
        return a.permute(*dims)

    def sum(self, a, dim=None, keepdim=False):
        if dim is None:
            return a.sum()
        return a.sum(dim, keepdim=keepdim)

    def mean(self, a, dim=None, keepdim=False):
        if dim is None:
            return a.mean()
        return a.mean(dim, keepdim=keepdim)

    def zeros(self, shape, like):
        import pellucid
        return pellucid.zeros(shape, dtype=like.dtype, device=like.device)

    def ones(self, shape, like):
        import pellucid
        return pellucid.ones(shape, dtype=like.dtype, device=like.device)

    def to_dtype(self, a, dtype):
        from .._dtype import as_dtype
        return a.to(as_dtype(dtype))

    def mT(self, a):
        return a.transpose(-1, -2)

    def index_add_zeros(self, shape, index, values, like):
        from . import _indexing
        return _indexing.index_put_zeros(shape, index, values)

    def to_device_of(self, a, ref):
        return a.to(ref.device)

    @property
    def xp(self):
        raise AttributeError("TensorNS has no array module")


TENSOR = TensorNS()


def zeros_like_meta(ref, shape, dtype, create):
    if create:
        import pellucid
        from .._dtype import from_numpy_dtype
        return pellucid.zeros(tuple(shape), dtype=from_numpy_dtype(dtype), device=ref.device)
    xp = _backend.xp_of(ref)
    return xp.zeros(shape, dtype=dtype)


def as_tensors(grads, create):
    if grads is None:
        return None
    T = _T()
    return tuple(None if g is None else (g if create else T._make(g)) for g in grads)


def from_tensors(grads, create):
    if isinstance(grads, _T()):
        grads = (grads,)
    return [None if g is None else (g if create else g._data) for g in grads]
