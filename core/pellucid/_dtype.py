"""Data types and PyTorch's type-promotion rules.

pellucid's dtypes are thin named wrappers over NumPy dtypes (CuPy uses the same
dtype objects), so converting between them is a dict lookup.

NumPy has no bfloat16; `bfloat16` wraps `ml_dtypes.bfloat16`, the NumPy extension dtype the JAX
team maintains. NumPy files extension dtypes under kind "V", so code that asks whether a raw
array is floating tests `dtype.kind in FLOAT_KINDS`. CuPy has no bfloat16: such tensors live on
the CPU only.
"""
import ml_dtypes
import numpy as np

__all__ = ["dtype", "promote_types", "result_type", "get_default_dtype", "set_default_dtype"]

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_KINDS = "fV"      # the NumPy kinds of pellucid's floating dtypes ("V": bfloat16)


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category            # 0 bool, 1 integral, 2 floating
        self.is_floating_point = category == 2
        self.is_complex = False
        self.is_signed = name not in ("uint8", "bool")
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return "pellucid." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return self

    def to_complex(self):
        raise TypeError(f"pellucid has no complex dtype for {self}")


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", BF16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}
_NAMES.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)
# the legacy tensor-type names, as `Tensor.type("torch.DoubleTensor")` takes them
_NAMES.update(HalfTensor=float16, BFloat16Tensor=bfloat16, FloatTensor=float32, DoubleTensor=float64,
              ByteTensor=uint8,
              CharTensor=int8, ShortTensor=int16, IntTensor=int32, LongTensor=int64, BoolTensor=bool_)


def _by_name(name):
    return _NAMES[name]


_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(d):
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        d = np.dtype(np_dtype)
        if d in _FROM_NP:
            return _FROM_NP[d]
        raise TypeError(
            f"pellucid has no dtype for NumPy dtype {d}; supported: "
            + ", ".join(x.name for x in ALL)) from None


def as_dtype(d):
    """Accept a pellucid dtype, a NumPy dtype/type, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str):
        name = d.replace("torch.", "").replace("pellucid.", "")
        if name in _NAMES:
            return _NAMES[name]
    if hasattr(d, "is_floating_point") and hasattr(d, "itemsize") and not isinstance(d, dtype):
        # another framework's dtype object (e.g. torch.float32): go by its name
        return as_dtype(str(d).split(".")[-1])
    return from_numpy_dtype(np.dtype(d))


_PROMOTE = {}


def promote_types(a, b):
    """PyTorch's promotion lattice for two dtypes (not numpy's: int32 + float16 is float16;
    float16 + bfloat16 is float32, the narrowest type holding both)."""
    key = (a, b)
    r = _PROMOTE.get(key)
    if r is None:
        if a is b:
            r = a
        elif a.category != b.category:
            hi, lo = (a, b) if a.category > b.category else (b, a)
            r = hi
        elif a.category == 2:
            if a.itemsize == b.itemsize:        # float16 and bfloat16: neither holds the other
                r = float32
            else:
                r = a if a.itemsize > b.itemsize else b
        else:
            r = _FROM_NP[np.promote_types(a.np, b.np)]
        _PROMOTE[key] = r
    return r


def scalar_dtype(value):
    """The dtype a Python scalar takes when it stands alone. NumPy scalars count as Python
    numbers of their kind (as in PyTorch: `int32_tensor + np.float64(1.5)` is float32)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating, ml_dtypes.bfloat16)):
        return _default_float
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _combine(higher, lower):
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == 2:
        return higher
    if higher is bool_ or lower.category == 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """PyTorch's result_type: dimensioned tensors outrank 0-dim tensors, which outrank Python scalars,
    unless a lower tier belongs to a higher category (bool < integral < floating)."""
    dim_r = zero_r = wrapped_r = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.ndim > 0:
                dim_r = d if dim_r is None else promote_types(dim_r, d)
            else:
                zero_r = d if zero_r is None else promote_types(zero_r, d)
        elif isinstance(x, dtype):
            dim_r = x if dim_r is None else promote_types(dim_r, x)
        else:
            d = scalar_dtype(x)
            wrapped_r = d if wrapped_r is None else promote_types(wrapped_r, d)
    return _combine(dim_r, _combine(zero_r, wrapped_r))
