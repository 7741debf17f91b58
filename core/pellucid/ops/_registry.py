"""Helpers shared by the op families: attaching methods to Tensor and wrapping scalars."""
from .._tensor import Tensor, _wrap_dim  # noqa: F401


def tensor_method(*names):
    """Also expose a function as `Tensor.<name>` for each name."""
    def deco(fn):
        for n in names:
            setattr(Tensor, n, fn)
        return fn
    return deco


def wrap_dims(dims, ndim, op):
    if dims is None:
        return None
    if isinstance(dims, int):
        return _wrap_dim(dims, ndim, op)
    out = tuple(_wrap_dim(d, ndim, op) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {list(dims)} appears multiple times in the list of dims")
    return out


def check_tensor(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")
    return x
