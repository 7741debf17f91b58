"""pellucid.linalg: PyTorch's torch.linalg namespace (norms, inverse, determinants, solve,
decompositions). The ops themselves live in ops/_linalg.py and ops/_reduce.py."""
import math

from . import _dtype as D
from .ops._linalg import (LinAlgError, cholesky as _cholesky, det, eigh, eigvalsh,  # noqa: F401
                          inverse as inv, linalg_cross as cross, linalg_svd as svd, matmul,
                          matrix_power, matrix_rank, multi_dot, pinv, slogdet, solve, svdvals)
from .ops._reduce import vector_norm, amax as _amax, amin as _amin, sum as _sum  # noqa: F401
from .ops._registry import wrap_dims


def cholesky(A, *, upper=False, out=None):
    return _cholesky(A, upper=upper, out=out)


def vecdot(x, y, *, dim=-1):
    """Dot products of vectors along `dim` (with broadcasting)."""
    return _sum(x * y, dim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Matrix norms over the two dims in `dim`: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    if dtype is not None:
        A = A.to(dtype)
    if A._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                           f"Got {A.dtype.name}")
    nd = A._data.ndim
    if nd < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions "
                           f"(got shape {list(A.shape)})")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {list(dim)}")
    d0, d1 = wrap_dims(tuple(dim), nd, "linalg.matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        # singular values of the matrices moved to the last two dims
        rest = [i for i in range(nd) if i not in (d0, d1)]
        s = svdvals(A.permute(*rest, d0, d1))
        if ord == "nuc":
            r = _sum(s, -1)
        else:
            r = _amax(s, -1) if ord == 2 else _amin(s, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        # 1: largest absolute column sum (sum over rows d0); inf: largest absolute row sum
        summed, over = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = vector_norm(A, 1, summed, keepdim=True)
        r = _amax(sums, over, keepdim=True) if ord > 0 else _amin(sums, over, keepdim=True)
        return r if keepdim else r.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """A vector norm (ord a number, 1 dim or a 1-D input) or a matrix norm (ord a string,
    2 dims or a 2-D input); with ord and dim both None, the 2-norm of the flattened input."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if isinstance(ord, str) or A._data.ndim == 2:
        if A._data.ndim != 2:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                               f"2D. Got {A._data.ndim}D.")
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A._data.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                           f"Got {A._data.ndim}D.")
    return vector_norm(A, ord, None, keepdim, dtype=dtype)


__all__ = ['LinAlgError', 'cholesky', 'cross', 'det', 'eigh', 'eigvalsh', 'inv', 'matmul',
           'matrix_norm', 'matrix_power', 'matrix_rank', 'multi_dot', 'norm', 'pinv', 'slogdet',
           'solve', 'svd', 'svdvals', 'vecdot', 'vector_norm']
