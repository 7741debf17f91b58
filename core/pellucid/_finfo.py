"""`finfo` / `iinfo`: numeric limits of pellucid dtypes, with PyTorch's attribute names."""
import ml_dtypes
import numpy as np

from . import _dtype as D

__all__ = ["finfo", "iinfo"]


class finfo:
    """Machine limits of a floating-point dtype (default: the default dtype)."""

    def __init__(self, type=None):
        d = D.get_default_dtype() if type is None else D.as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"finfo: expected a floating-point dtype, got {d}")
        f = ml_dtypes.finfo(d.np) if d is D.bfloat16 else np.finfo(d.np)   # NumPy's finfo lacks it
        self.dtype = d.name
        self.bits = int(f.bits)
        self.eps = float(f.eps)
        self.max = float(f.max)
        self.min = float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = 10.0 ** -int(f.precision)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype."""

    def __init__(self, type):
        d = D.as_dtype(type)
        if d.is_floating_point or d is D.bool_:
            raise TypeError(f"iinfo: expected an integer dtype, got {d}")
        i = np.iinfo(d.np)
        self.dtype = d.name
        self.bits = int(i.bits)
        self.max = int(i.max)
        self.min = int(i.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
