"""Dtype casts, device moves, clone, contiguous and the writes `copy_`, `fill_`, `zero_`."""
import math

import ml_dtypes
import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._grad_mode import no_grad
from .._tensor import Tensor
from ._registry import tensor_method


class ToDtype(Op):
    name = "to_dtype"
    backward_name = "ToCopyBackward0"
    opmath = False          # its output dtype is its parameter

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
    if dev is not None and dev.type != "cpu":
        # CuPy has no bfloat16: such a tensor may go to the GPU only as another dtype (cast here)
        _backend.check_dtype_on(dt.np if dt is not None else out._data.dtype, dev, "to")
        if dt is not None and out._data.dtype is D.BF16:
            out = dispatch(ToDtype, (out,), (dt.np,))
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


# ---- in-place writes ---------------------------------------------------------------------------

def _move_grad(F, g, dev):
    if dev is None:
        return g
    if F is _tensor_ns():
        return g.to(dev)
    return _backend.move(g, dev)


class Copy(Op):
    name = "copy"
    backward_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, a, src):
        src_dev, dst_dev = _backend.device_of(src), _backend.device_of(a)
        ctx.src_device = None
        if src_dev != dst_dev:
            ctx.src_device = src_dev
            src = _backend.move(src, dst_dev)
        if src.shape != a.shape:
            _check_broadcast(a.shape, src.shape)
            src = _backend.xp_of(src).broadcast_to(src, a.shape)
        return src if src.dtype == a.dtype else src.astype(a.dtype)

    @staticmethod
    def backward(ctx, F, g):
        # `self` is overwritten: nothing flows to its history; the source gets the gradient
        # (the engine sums it back to the source's shape and dtype)
        return F.zeros_like(g), _move_grad(F, g, ctx.src_device)


class Fill(Op):
    name = "fill"
    backward_name = "FillBackward2"
    opmath = False          # checks the value against its bfloat16 destination's range

    @staticmethod
    def forward(ctx, a, value):
        return _scalar_array(a, value, "fill_")

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


class FillTensor(Op):
    name = "fill_tensor"
    backward_name = "FillBackward3"

    @staticmethod
    def forward(ctx, a, value):
        src_dev, dst_dev = _backend.device_of(value), _backend.device_of(a)
        ctx.src_device = None
        if src_dev != dst_dev:
            ctx.src_device = src_dev
            value = _backend.move(value, dst_dev)
        return value if value.dtype == a.dtype else value.astype(a.dtype)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g), _move_grad(F, F.reshape(F.sum(g, None, True), ()), ctx.src_device)


class Zero(Op):
    name = "zero"

    @staticmethod
    def forward(ctx, a):
        if type(a) is np.ndarray:
            return a.dtype.type(0)
        return _backend.xp_of(a).zeros((), dtype=a.dtype)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


def _check_broadcast(dst_shape, src_shape):
    """`src` must broadcast to exactly `dst_shape` (PyTorch's message for the first bad dim)."""
    if len(src_shape) > len(dst_shape):
        raise RuntimeError(
            f"copy_: the source of shape {list(src_shape)} has more dimensions than the destination "
            f"of shape {list(dst_shape)}")
    for i in range(1, len(src_shape) + 1):
        s, d = src_shape[-i], dst_shape[-i]
        if s != d and s != 1:
            raise RuntimeError(
                f"The size of tensor a ({d}) must match the size of tensor b ({s}) at non-singleton "
                f"dimension {len(dst_shape) - i} (copy_ from shape {list(src_shape)} into "
                f"{list(dst_shape)})")


_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
            "int64": "int64_t", "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double"}


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BFLOAT16_MAX = float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
_HALF_ROUNDS_TO_INF = 65519.99999999999          # float16 max (65504) plus half an ulp


def _check_value(value, dt, op):
    """PyTorch refuses scalars that overflow the destination dtype (c10::overflows)."""
    if dt is D.bool_ or dt is D.float16 or dt is D.float64:
        return
    if dt is D.float32 or dt is D.bfloat16:
        fv = float(value)
        bad = abs(fv) > (_FLOAT32_MAX if dt is D.float32 else _BFLOAT16_MAX) and fv - fv == 0  # finite, too large
    else:
        info = np.iinfo(dt.np)
        if isinstance(value, (bool, np.bool_)):
            bad = False
        elif isinstance(value, (int, np.integer)):
            v = int(value)
            # unsigned destinations accept negatives down to -max (two's complement wrap)
            lo = -int(info.max) if info.min == 0 else int(info.min)
            bad = v < lo or v > int(info.max)
        else:
            fv = float(value)
            bad = fv != fv or np.isinf(fv) or fv < info.min or fv > info.max
    if bad:
        raise RuntimeError(f"{op}: value {value!r} cannot be converted to type {_C_NAMES[dt.name]} "
                           "without overflow")


def _float_fill(np_dtype, value, op):
    try:
        fv = float(value)
    except OverflowError:
        raise RuntimeError(f"{op}: value {value} cannot be converted to type {np_dtype} without "
                           "overflow") from None
    if abs(fv) > _HALF_ROUNDS_TO_INF and fv - fv == 0:
        if np_dtype.itemsize == 2:
            return math.copysign(math.inf, fv)      # PyTorch rounds to inf for float16
        if np_dtype.itemsize == 4 and abs(fv) > _FLOAT32_MAX:
            raise RuntimeError(f"{op}: value {value!r} cannot be converted to type float without "
                               "overflow")
    return fv


def _scalar_array(a, value, op):
    """`value` in `a`'s dtype (a 0-dim array on `a`'s device; integers wrap like C casts)."""
    if type(a) is np.ndarray and a.dtype.kind == "f" and type(value) in (float, int):
        return _float_fill(a.dtype, value, op)     # the common case, kept cheap
    dt = D.from_numpy_dtype(a.dtype)
    _check_value(value, dt, op)
    if isinstance(value, (bool, np.bool_)):
        host = np.array(bool(value))
    elif isinstance(value, (int, np.integer)):
        host = np.array(int(value), dtype=np.int64)
    else:
        host = np.array(float(value), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        host = host.astype(a.dtype)
    return host if type(a) is np.ndarray else _backend.move(host, _backend.device_of(a))


def _number(value, op, arg):
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return value
    raise TypeError(f"{op}(): argument '{arg}' must be a Number or a 0-dim Tensor, not "
                    f"{type(value).__name__}")


@tensor_method("copy_")
def copy_(self, src, non_blocking=False):
    """Write `src` (broadcast, cast and moved as needed) into `self`."""
    if not isinstance(src, Tensor):
        return dispatch_inplace(Fill, self, (), (_number(src, "copy_", "src"),))
    if src._requires_grad and self._data.dtype.kind not in D.FLOAT_KINDS:
        # an integer destination cannot carry a gradient
        with no_grad():
            return dispatch_inplace(Copy, self, (src,))
    return dispatch_inplace(Copy, self, (src,))


@tensor_method("fill_")
def fill_(self, value):
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions.")
        if value._requires_grad and self._data.dtype.kind not in D.FLOAT_KINDS:
            with no_grad():
                return dispatch_inplace(FillTensor, self, (value,))
        return dispatch_inplace(FillTensor, self, (value,))
    return dispatch_inplace(Fill, self, (), (_number(value, "fill_", "value"),))


@tensor_method("zero_")
def zero_(self):
    return dispatch_inplace(Zero, self, ())


__all__ = ["clone", "contiguous", "copy_", "fill_", "zero_"]
