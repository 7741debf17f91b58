"""Dtype casts, device moves, clone and contiguous."""
import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch
from .._tensor import Tensor
from ._registry import tensor_method


class ToDtype(Op):
    name = "to_dtype"
    backward_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, np_dtype):
        return a.astype(np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        return g           # the engine casts it back to the input's dtype


class ToDevice(Op):
    name = "to_device"
    backward_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dev, non_blocking):
        ctx.src = _backend.device_of(a)
        return _backend.move(a, dev, non_blocking)

    @staticmethod
    def backward(ctx, F, g):
        if F is _tensor_ns():
            return g.to(ctx.src)
        return _backend.move(g, ctx.src)


def _tensor_ns():
    from ._F import TENSOR
    return TENSOR


class Clone(Op):
    name = "clone"

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, F, g):
        return g


class Contiguous(Op):
    name = "contiguous"
    backward_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return np.ascontiguousarray(a) if type(a) is np.ndarray else a.copy() if not a.flags.c_contiguous else a

    @staticmethod
    def backward(ctx, F, g):
        return g


def _parse_to(args, kwargs):
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, (D.dtype, type)) or (hasattr(a, "is_floating_point") and not isinstance(a, str)):
            dt = a
        elif isinstance(a, bool):
            non_blocking = a
        elif isinstance(a, (str, int, _backend.device)) or hasattr(a, "index"):
            dev = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    return (_backend.as_device(dev), None if dt is None else D.as_dtype(dt), non_blocking, copy)


def to(self, *args, **kwargs):
    dev, dt, non_blocking, copy = _parse_to(args, dict(kwargs))
    out = self
    if dev is not None and dev != out.device:
        if dev.type == "cuda" and dev.index is None and out.device.type == "cuda":
            pass
        else:
            out = dispatch(ToDevice, (out,), (dev, non_blocking))
    if dt is not None and dt.np != out._data.dtype:
        out = dispatch(ToDtype, (out,), (dt.np,))
    if copy and out is self:
        out = dispatch(Clone, (self,))
    return out


@tensor_method("clone")
def clone(input, *, memory_format=None):
    return dispatch(Clone, (input,))


@tensor_method("contiguous")
def contiguous(input, memory_format=None):
    if input._data.flags.c_contiguous:
        return input
    return dispatch(Contiguous, (input,))


def cast(x, dtype):
    return dispatch(ToDtype, (x,), (D.as_dtype(dtype).np,))
