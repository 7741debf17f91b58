"""Creating tensors: from data, filled, ranges and the `*_like` forms."""
import math
import numbers

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._tensor import Tensor


def _dev(device):
    return _backend.as_device(device)


def _finish(arr, requires_grad=False):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(obj):
    """PyTorch's inference for nested Python data: bool < int64 < default float."""
    best = None
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        if isinstance(x, Tensor):
            d = x.dtype
        elif isinstance(x, np.ndarray):
            d = D.from_numpy_dtype(x.dtype)
        elif isinstance(x, bool) or isinstance(x, np.bool_):
            d = D.bool_
        elif isinstance(x, numbers.Integral):
            d = D.int64
        elif isinstance(x, numbers.Real):
            d = D.get_default_dtype()
        elif isinstance(x, np.generic):
            d = D.from_numpy_dtype(x.dtype)
        else:
            raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}")
        best = d if best is None else (d if d.category > best.category else
                                       best if best.category > d.category else D.promote_types(best, d))
    return best or D.get_default_dtype()


def _to_plain(obj):
    if isinstance(obj, Tensor):
        return _backend.to_numpy(obj._data)
    if isinstance(obj, (list, tuple)):
        return [_to_plain(o) for o in obj]
    return obj


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors)."""
    dev = _dev(device)
    if isinstance(data, Tensor):
        arr = data._data.copy()
        if dtype is not None:
            arr = arr.astype(D.as_dtype(dtype).np)
        if dev is not None:
            arr = _backend.move(arr, dev)
        return _finish(arr, requires_grad)
    if hasattr(data, "__cuda_array_interface__") and not isinstance(data, np.ndarray):
        arr = data.copy()
        if dtype is not None:
            arr = arr.astype(D.as_dtype(dtype).np)
        return _finish(_backend.move(arr, dev) if dev is not None else arr, requires_grad)
    if isinstance(data, np.ndarray):
        dt = D.as_dtype(dtype) if dtype is not None else D.from_numpy_dtype(data.dtype)
        arr = np.array(data, dtype=dt.np, copy=True)
    else:
        dt = D.as_dtype(dtype) if dtype is not None else _infer_dtype(data)
        try:
            arr = np.array(_to_plain(data), dtype=dt.np)
        except (ValueError, TypeError) as e:
            raise ValueError(f"tensor(): could not build a tensor from the data given ({e})") from None
        if arr.dtype == object:
            raise ValueError("tensor(): the data is ragged (nested sequences of different lengths)")
    if dev is not None and dev.type != "cpu":
        arr = _backend.move(arr, dev)
    return _finish(arr, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like `tensor`, but shares memory with `data` where it can (same dtype and device)."""
    dev = _dev(device)
    if isinstance(data, Tensor):
        out = data
        if dtype is not None or dev is not None:
            out = out.to(device=dev, dtype=dtype)
        return out
    if isinstance(data, np.ndarray):
        arr = data
        if dtype is not None and D.as_dtype(dtype).np != arr.dtype:
            arr = arr.astype(D.as_dtype(dtype).np)
        if dev is not None and dev.type != "cpu":
            arr = _backend.move(arr, dev)
        D.from_numpy_dtype(arr.dtype)
        return _finish(arr)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    return _finish(ndarray)


def from_dlpack(ext):
    """Zero-copy import from any object with `__dlpack__` (NumPy, CuPy, PyTorch, ...)."""
    if isinstance(ext, Tensor):
        return ext
    dev_type = ext.__dlpack_device__()[0] if hasattr(ext, "__dlpack_device__") else 1
    if int(dev_type) == 1:
        arr = np.from_dlpack(ext)
    else:
        arr = _backend.cupy().from_dlpack(ext)
    return _finish(arr)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"size must be a sequence of ints, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _float_or(dtype, default=None):
    if dtype is None:
        return (default or D.get_default_dtype()).np
    return D.as_dtype(dtype).np


def _make_filled(kind, size, dtype, device, requires_grad, fill=None):
    xp = _backend.xp_for(_dev(device))
    shape = _shape(size)
    if kind == "zeros":
        arr = xp.zeros(shape, dtype=_float_or(dtype))
    elif kind == "ones":
        arr = xp.ones(shape, dtype=_float_or(dtype))
    else:
        arr = xp.empty(shape, dtype=_float_or(dtype))
    return _finish(arr, requires_grad)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _make_filled("zeros", size, dtype, device, requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _make_filled("ones", size, dtype, device, requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None):
    return _make_filled("empty", size, dtype, device, requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = D.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    xp = _backend.xp_for(_dev(device))
    arr = xp.full(_shape((size,) if isinstance(size, int) else tuple(size)),
                  fill_value.item() if isinstance(fill_value, Tensor) else fill_value,
                  dtype=D.as_dtype(dtype).np)
    return _finish(arr, requires_grad)


def _like(kind, input, dtype, device, requires_grad, fill=None):
    dt = D.as_dtype(dtype) if dtype is not None else input.dtype
    dev = _dev(device) if device is not None else input.device
    if kind == "full":
        return full(input.shape, fill, dtype=dt, device=dev, requires_grad=requires_grad)
    return _make_filled(kind, input.shape, dt, dev, requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("zeros", input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("ones", input, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("empty", input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return _like("full", input, dtype, device, requires_grad, fill_value)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = D.int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else D.get_default_dtype()
    dt = D.as_dtype(dtype)
    n = int(math.ceil((end - start) / step))
    xp = _backend.xp_for(_dev(device))
    if dt.is_floating_point:
        arr = (start + xp.arange(n, dtype=np.float64) * step).astype(dt.np)
    else:
        arr = xp.arange(start, end, step, dtype=dt.np)
    return _finish(arr, requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated `torch.range`: includes `end`."""
    if dtype is None:
        dtype = D.get_default_dtype()
    n = int(math.floor((end - start) / step)) + 1
    xp = _backend.xp_for(_dev(device))
    return _finish((start + xp.arange(n, dtype=np.float64) * step).astype(D.as_dtype(dtype).np), requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    start, end = _num(start), _num(end)
    xp = _backend.xp_for(_dev(device))
    dt = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    # PyTorch fills the first half from start and the second half from end (symmetric rounding)
    if steps == 1:
        arr = xp.full((1,), start, dtype=np.float64)
    else:
        step = (end - start) / (steps - 1)
        idx = xp.arange(steps, dtype=np.float64)
        half = steps // 2
        arr = xp.where(idx < half, start + step * idx, end - step * (steps - 1 - idx))
    if not dt.is_floating_point:
        arr = xp.trunc(arr)
    return _finish(arr.astype(dt.np), requires_grad)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    lin = linspace(start, end, steps, dtype=D.float64, device=device)
    dt = D.as_dtype(dtype) if dtype is not None else D.get_default_dtype()
    return _finish((base ** lin._data).astype(dt.np), requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    xp = _backend.xp_for(_dev(device))
    return _finish(xp.eye(n, n if m is None else m, dtype=_float_or(dtype)), requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return tensor(s, dtype=dtype or D.get_default_dtype(), device=device, requires_grad=requires_grad)


__all__ = ['arange', 'as_tensor', 'empty', 'empty_like', 'eye', 'from_dlpack', 'from_numpy', 'full', 'full_like', 'linspace', 'logspace', 'ones', 'ones_like', 'scalar_tensor', 'tensor', 'zeros', 'zeros_like']
