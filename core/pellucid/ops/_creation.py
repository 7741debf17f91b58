"""Creating tensors: from data, filled, ranges and the `*_like` forms."""
import math

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._tensor import Tensor

__all__ = ['arange', 'as_tensor', 'empty', 'empty_like', 'eye', 'from_dlpack', 'from_numpy', 'full',
           'full_like', 'linspace', 'logspace', 'ones', 'ones_like', 'scalar_tensor', 'tensor', 'zeros',
           'zeros_like']


def _dev(device):
    return _backend.as_device(device)


def _xp(device, np_dtype, op):
    """The array module for `device`, once the dtype is known to be allowed there."""
    dev = _dev(device)
    _backend.check_dtype_on(np_dtype, dev, op)
    return _backend.xp_for(dev)


def _finish(arr, requires_grad=False, out=None):
    if out is not None:
        return _write_out(out, arr)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _write_out(out, arr):
    """`out=`: write the result into `out`, resizing it when the shape differs (as PyTorch does)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if _backend.device_of(arr) != out.device:
        arr = _backend.move(arr, out.device)
    if out._data.shape == arr.shape:
        out._data[...] = arr
    else:
        out._data = arr.astype(out._data.dtype)
    if out._version is None:
        out._version = [1]
    else:
        out._version[0] += 1
    return out


def _out_dtype(dtype, out):
    return out.dtype if dtype is None and out is not None else dtype


# ---- overflow rules for casting Python numbers (c10::overflows) ------------------------------

def check_overflow(values, dt, what="value"):
    """Raise like PyTorch when numbers (int64 or float64 array) don't fit integral dtype `dt`.

    Unsigned dtypes accept negative integers down to -max (they wrap, as in C); floats must
    lie inside the range and be finite. Floating and bool destinations never overflow here."""
    if dt.category != 1 or values.size == 0:
        return
    info = np.iinfo(dt.np)
    if values.dtype.kind in "iu":
        lo = -int(info.max) if info.min == 0 else int(info.min)
        bad = bool((values < lo).any() or (values > info.max).any())
    elif values.dtype.kind == "f":
        bad = bool((~np.isfinite(values)).any() or (values < info.min).any() or (values > info.max).any())
    else:
        return
    if bad:
        raise RuntimeError(f"{what} cannot be converted to type {dt.name} without overflow")


def scalar_to(value, dt, what="value"):
    """A Python number converted to dtype `dt` the way PyTorch's Scalar.to<T>() does."""
    if isinstance(value, (bool, np.bool_)):
        host = np.array(bool(value))
    elif isinstance(value, (int, np.integer)):
        try:
            host = np.array(int(value), dtype=np.int64)
        except OverflowError:
            raise RuntimeError(f"{what} {value} cannot be converted to type {dt.name} without overflow") \
                from None
    else:
        host = np.array(float(value), dtype=np.float64)
    check_overflow(host, dt, what)
    with np.errstate(over="ignore", invalid="ignore"):
        return host.astype(dt.np)[()]


# ---- tensor() and friends --------------------------------------------------------------------

_LEAF_DTYPES = {bool: D.bool_, int: D.int64}


def _leaf_dtype(x):
    t = type(x)
    d = _LEAF_DTYPES.get(t)
    if d is not None:
        return d
    if t is float:
        return D.get_default_dtype()
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, (np.ndarray, np.generic)):
        # NumPy scalars and arrays keep their dtype
        return D.from_numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return D.bool_
    if isinstance(x, int):
        return D.int64
    if isinstance(x, float):
        return D.get_default_dtype()
    raise TypeError(f"tensor(): invalid data type '{type(x).__name__}'")


def _infer_dtype(obj):
    """PyTorch's inference for nested data: promote over bool < int64 < default float, with
    tensors and NumPy values keeping their own dtypes."""
    best = None
    seen = set()
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple, range)):
            stack.extend(x)
            continue
        key = type(x) if not isinstance(x, (Tensor, np.ndarray, np.generic)) else (type(x), x.dtype)
        if key in seen:
            continue
        seen.add(key)
        d = _leaf_dtype(x)
        best = d if best is None else D.promote_types(best, d)
    return best or D.get_default_dtype()


def _to_plain(obj):
    if isinstance(obj, Tensor):
        return _backend.to_numpy(obj._data)
    if isinstance(obj, (list, tuple)):
        return [_to_plain(o) for o in obj]
    if isinstance(obj, range):
        return list(obj)
    return obj


def _native(arr):
    """NumPy data in native byte order (PyTorch has no byte-swapped dtypes)."""
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _from_python(data, dt):
    """Nested Python data -> array of `dt`, parsed wide first so casts follow PyTorch's rules."""
    inferred = _infer_dtype(data)
    wide = {0: np.bool_, 1: np.int64, 2: np.float64}[inferred.category]
    target = inferred if dt is None else dt
    plain = _to_plain(data)
    try:
        arr = np.array(plain, dtype=wide)
    except OverflowError:
        raise ValueError("tensor(): a Python integer is too large for int64 (overflow when "
                         "converting the data)") from None
    except (ValueError, TypeError) as e:
        raise ValueError(f"tensor(): could not build a tensor from the data given: {e}") from None
    if arr.dtype == object:
        raise ValueError("tensor(): the data is ragged (nested sequences of different lengths)")
    if arr.dtype != target.np:
        check_overflow(arr, target)
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(target.np)
    return arr


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (nested lists, scalars, arrays or tensors)."""
    dev = _dev(device)
    dt = None if dtype is None else D.as_dtype(dtype)
    if dt is D.bfloat16:
        on_gpu = (hasattr(data, "__cuda_array_interface__") and not isinstance(data, np.ndarray)) or (
            isinstance(data, Tensor) and not data.is_cpu)
        _backend.check_dtype_on(dt.np, dev if dev is not None else _dev("cuda" if on_gpu else "cpu"), "tensor")
    if isinstance(data, Tensor):
        arr = data._data.copy()
        if dt is not None and dt.np != arr.dtype:
            arr = arr.astype(dt.np)
    elif hasattr(data, "__cuda_array_interface__") and not isinstance(data, np.ndarray):
        arr = data.copy()
        if dt is not None:
            arr = arr.astype(dt.np)
    else:
        if not isinstance(data, (np.ndarray, list, tuple, range, bool, int, float, np.generic)) \
                and hasattr(data, "__array__"):
            data = np.asarray(data)
        if isinstance(data, np.ndarray):
            src = _native(data)
            D.from_numpy_dtype(src.dtype)
            arr = np.array(src, dtype=dt.np if dt is not None else src.dtype, copy=True)
        else:
            arr = _from_python(data, dt)
    if dev is not None:
        arr = _backend.move(arr, dev, op="tensor")
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
        arr = _native(data)
        D.from_numpy_dtype(arr.dtype)
        if dtype is not None and D.as_dtype(dtype).np != arr.dtype:
            arr = arr.astype(D.as_dtype(dtype).np)
        if dev is not None and dev.type != "cpu":
            arr = _backend.move(arr, dev, op="as_tensor")
        return _finish(arr)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(ndarray).__name__})")
    if not ndarray.dtype.isnative:
        raise ValueError("from_numpy(): given numpy array has byte order different from the native "
                         "byte order; memory can't be shared. Use pellucid.tensor (it converts).")
    try:
        D.from_numpy_dtype(ndarray.dtype)
    except TypeError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.") from None
    return _finish(ndarray)


def from_dlpack(ext):
    """Zero-copy import from any object with `__dlpack__` (NumPy, CuPy, PyTorch, ...)."""
    if isinstance(ext, Tensor):
        return ext
    if not hasattr(ext, "__dlpack__"):
        raise TypeError(f"from_dlpack(): expected an object with __dlpack__ (got {type(ext).__name__})")
    dev_type = int(ext.__dlpack_device__()[0]) if hasattr(ext, "__dlpack_device__") else 1
    if dev_type == 1:
        arr = np.from_dlpack(ext)
    else:
        arr = _backend.cupy().from_dlpack(ext)
    D.from_numpy_dtype(arr.dtype)
    return _finish(arr)


# ---- filled ------------------------------------------------------------------------------------

def _shape(size, op):
    if len(size) == 0:
        raise TypeError(f'{op}() missing 1 required positional arguments: "size"')
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _float_or(dtype):
    return D.get_default_dtype().np if dtype is None else D.as_dtype(dtype).np


def _make_filled(kind, shape, dtype, device, requires_grad, out=None):
    np_dt = _float_or(_out_dtype(dtype, out))
    xp = _xp(device, np_dt, kind)
    maker = {"zeros": xp.zeros, "ones": xp.ones, "empty": xp.empty}[kind]
    return _finish(maker(shape, dtype=np_dt), requires_grad, out)


def _size_arg(size, kw, op):
    """Sizes come as `f(2, 3)`, `f((2, 3))` or `f(size=(2, 3))`."""
    if "size" in kw:
        if size:
            raise TypeError(f"{op}() got the size both positionally and as size=")
        size = (kw.pop("size"),)
    if kw:
        raise TypeError(f"{op}() got unexpected keyword arguments {sorted(kw)}")
    return _shape(size, op)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          **kw):
    return _make_filled("zeros", _size_arg(size, kw, "zeros"), dtype, device, requires_grad, out)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
         **kw):
    return _make_filled("ones", _size_arg(size, kw, "ones"), dtype, device, requires_grad, out)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, **kw):
    return _make_filled("empty", _size_arg(size, kw, "empty"), dtype, device, requires_grad, out)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = _out_dtype(dtype, out)
    dt = D.scalar_dtype(fill_value) if dtype is None else D.as_dtype(dtype)
    xp = _xp(device, dt.np, "full")
    arr = xp.full(_shape((size,), "full"), scalar_to(fill_value, dt), dtype=dt.np)
    return _finish(arr, requires_grad, out)


def _like(kind, input, dtype, device, requires_grad, fill=None):
    dt = D.as_dtype(dtype) if dtype is not None else input.dtype
    dev = _dev(device) if device is not None else input.device
    if kind == "full":
        return full(tuple(input.shape), fill, dtype=dt, device=dev, requires_grad=requires_grad)
    return _make_filled(kind, tuple(input.shape), dt, dev, requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("zeros", input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("ones", input, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _like("empty", input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return _like("full", input, dtype, device, requires_grad, fill_value)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    if n < 0:
        raise RuntimeError(f"eye: n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"eye: m must be greater or equal to 0, got {m}")
    np_dt = _float_or(_out_dtype(dtype, out))
    xp = _xp(device, np_dt, "eye")
    return _finish(xp.eye(n, n if m is None else m, dtype=np_dt), requires_grad, out)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return tensor(s, dtype=dtype or D.get_default_dtype(), device=device, requires_grad=requires_grad)


# ---- ranges --------------------------------------------------------------------------------------

def _num(x):
    return x.item() if isinstance(x, Tensor) else x


_SPLIT = 134217729.0     # 2**27 + 1, Dekker's splitting constant for doubles


def _fma(a, b, c):
    """a * b + c in float64 with a single rounding, as the fused multiply-add PyTorch's range
    kernels compile to (error-free product and sum, then one final rounding)."""
    p = a * b
    t = _SPLIT * a
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = _SPLIT * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    p_err = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s = p + c
    bb = s - p
    s_err = (p - (s - bb)) + (c - bb)
    return s + (s_err + p_err)


def _is_int(v):
    return isinstance(v, (int, np.integer, np.bool_))


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """PyTorch's arange: length ceil((end - start) / step); integral dtypes truncate the bounds
    and step first (int64 then counts with integer arithmetic, as PyTorch does)."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    dtype = _out_dtype(dtype, out)
    if dtype is None:
        dtype = D.int64 if all(_is_int(v) for v in (start, end, step)) else D.get_default_dtype()
    dt = D.as_dtype(dtype)
    if dt.is_floating_point:
        xs, xe, xst = float(start), float(end), float(step)
    else:
        xs, xe, xst = (int(v) if math.isfinite(v) else v for v in (start, end, step))
    if xst == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not (math.isfinite(xs) and math.isfinite(xe)):
        raise RuntimeError(f"arange: unsupported range: {xs} -> {xe}")
    if not ((xst > 0 and xe >= xs) or (xst < 0 and xe <= xs)):
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})")
    if dt is D.int64:
        sgn = 1 if xst > 0 else -1
        n = (xe - xs + xst - sgn) // xst
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
    xp = _xp(device, dt.np, "arange")
    if dt is D.float16 or dt is D.bfloat16:
        # PyTorch accumulates half and bfloat16 in float
        arr = (np.float32(xs) + xp.arange(n, dtype=np.float32) * np.float32(xst)).astype(dt.np)
    elif dt.is_floating_point:
        arr = _fma(xp.float64(xst), xp.arange(n, dtype=np.float64), xp.float64(xs)).astype(dt.np)
    else:
        arr = (xs + xp.arange(n, dtype=np.int64) * xst).astype(dt.np)
    return _finish(arr, requires_grad, out)


def range_(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Deprecated `torch.range`: includes `end`."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError("range: upper bound and larger bound inconsistent with step sign")
    dt = D.as_dtype(_out_dtype(dtype, out) or D.get_default_dtype())
    n = int(math.floor((end - start) / step)) + 1
    xp = _xp(device, dt.np, "range")
    return _finish((start + xp.arange(n, dtype=np.float64) * step).astype(dt.np), requires_grad, out)


def _check_steps(steps, op):
    if isinstance(steps, Tensor):
        steps = steps.item()
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"{op}(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative")
    return int(steps)


def _lin_points(start, end, steps, dt, xp):
    """PyTorch's symmetric linspace kernel, in the arithmetic it uses: the output dtype for
    floats, and double steps from truncated bounds for integers. The first half counts up from
    `start`, the second half down from `end`, so both ends are exact."""
    if dt is D.bfloat16:
        # NumPy's arange in bfloat16 drifts past 256; the indices are rounded one by one as
        # c10::BFloat16 rounds them
        t = dt.np.type
        lo, hi = t(scalar_to(start, dt)), t(scalar_to(end, dt))
        idx = xp.arange(steps).astype(dt.np)
        rev = xp.arange(steps - 1, -1, -1).astype(dt.np)
    elif dt.is_floating_point:
        t = dt.np.type
        lo, hi = t(scalar_to(start, dt)), t(scalar_to(end, dt))
        idx = xp.arange(steps, dtype=dt.np)
        rev = xp.arange(steps - 1, -1, -1, dtype=dt.np)
    else:
        lo, hi = float(scalar_to(start, dt)), float(scalar_to(end, dt))
        idx = xp.arange(steps, dtype=np.float64)
        rev = idx[::-1]
    if steps == 1:
        return xp.full((1,), lo, dtype=idx.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        step = (hi - lo) / idx.dtype.type(steps - 1)
        first_half = idx < steps // 2
        if dt is D.float16 or dt is D.bfloat16:
            # c10::Half and c10::BFloat16 round after every operation, so nothing fuses
            return xp.where(first_half, lo + step * idx, hi - step * rev)
        # float and double fuse the multiply-add; a float32 product is exact in float64, so
        # one rounding from float64 gives the fused result
        lo64, hi64, step64 = np.float64(lo), np.float64(hi), np.float64(step)
        if dt is D.float32:
            up, down = lo64 + step64 * idx.astype(np.float64), hi64 - step64 * rev.astype(np.float64)
        else:
            up, down = _fma(step64, idx, lo64), _fma(-step64, rev, hi64)
        return xp.where(first_half, up, down).astype(idx.dtype)


def _cast_points(values, dt):
    if dt.is_floating_point or values.dtype == dt.np:
        return values
    # C's double -> integer conversion truncates; types up to 32 bits convert through int32 (so
    # out-of-range values come out as PyTorch's kernels give them on x86)
    via = np.int64 if dt is D.int64 else np.int32
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(via).astype(dt.np)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    start, end = _num(start), _num(end)
    steps = _check_steps(steps, "linspace")
    dt = D.as_dtype(_out_dtype(dtype, out) or D.get_default_dtype())
    xp = _xp(device, dt.np, "linspace")
    if steps == 0:
        return _finish(xp.empty((0,), dtype=dt.np), requires_grad, out)
    return _finish(_cast_points(_lin_points(start, end, steps, dt, xp), dt), requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """PyTorch's logspace: bounds converted to the output dtype, their difference taken in it,
    exponents stepped in double from both ends (as linspace), then double pow and a cast."""
    start, end = _num(start), _num(end)
    steps = _check_steps(steps, "logspace")
    dt = D.as_dtype(_out_dtype(dtype, out) or D.get_default_dtype())
    xp = _xp(device, dt.np, "logspace")
    base = float(base)
    if steps == 0:
        return _finish(xp.empty((0,), dtype=dt.np), requires_grad, out)
    if steps == 1:
        vals = xp.full((1,), base ** float(start), dtype=np.float64)
        return _finish(vals.astype(dt.np) if dt.is_floating_point else _cast_points(vals, dt),
                       requires_grad, out)
    lo, hi = scalar_to(start, dt), scalar_to(end, dt)
    if dt.is_floating_point:
        with np.errstate(over="ignore", invalid="ignore"):
            diff = float(np.asarray(hi) - np.asarray(lo))      # rounded in the output dtype
    else:
        diff = float(int(hi) - int(lo))                        # C promotes to int: no wrap
    step = diff / (steps - 1)
    idx = xp.arange(steps, dtype=np.float64)
    exps = xp.where(idx < steps // 2, float(lo) + step * idx, float(hi) - step * idx[::-1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if xp is np and dt is D.float64:
            # NumPy's vectorised double pow can be 1 ulp off libm's; extended precision then
            # one rounding nearly always agrees with it
            vals = np.power(np.longdouble(base), exps.astype(np.longdouble)).astype(np.float64)
        else:
            vals = xp.power(np.float64(base), exps)
        return _finish(vals.astype(dt.np) if dt.is_floating_point else _cast_points(vals, dt),
                       requires_grad, out)
