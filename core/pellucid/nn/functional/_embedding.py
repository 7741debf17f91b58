"""Index-based functions: embedding (a row gather whose backward sums rows), one_hot,
and normalize; `pad` lives in _padding and is exported from here too."""
import numpy as np

from ... import _backend
from ..._dispatch import Op, dispatch
from ..._grad_mode import no_grad
from ..._tensor import Tensor
from ...ops._F import ArrayNS
from ._padding import pad


def _xp(a):
    return _backend.xp_of(a)


def _sum_rows(xp, idx, rows, num):
    """zeros((num, D)) with rows[i] added at idx[i] (sorted segments: no per-element loop)."""
    out = xp.zeros((num,) + rows.shape[1:], dtype=rows.dtype)
    if idx.size == 0:
        return out
    if xp is np:
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        uniq, starts = np.unique(sorted_idx, return_index=True)
        out[uniq] = np.add.reduceat(rows[order], starts, axis=0)
    else:
        import cupyx
        cupyx.scatter_add(out, idx, rows)
    return out


class Embedding(Op):
    name = "embedding"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.indices = indices
        ctx.num = weight.shape[0]
        return _xp(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, F, g):
        _, padding_idx, scale_grad_by_freq = ctx.params
        idx = ctx.indices.reshape(-1)
        dim = g.shape[-1]
        xp = _xp(idx)
        weights = None
        if padding_idx is not None or scale_grad_by_freq:
            weights = xp.ones(idx.shape, dtype=np.float64)
            if scale_grad_by_freq:
                weights = weights / xp.bincount(idx, minlength=ctx.num)[idx]
            if padding_idx is not None:
                weights = weights * (idx != padding_idx)
        if isinstance(F, ArrayNS):
            rows = g.reshape(-1, dim)
            if weights is not None:
                rows = rows * weights.astype(rows.dtype)[:, None]
            return _sum_rows(F.xp, idx, rows, ctx.num)
        # under create_graph: the same sum, as a (constant one-hot) matmul of the gradient
        onehot = xp.zeros((ctx.num, idx.size), dtype=g._data.dtype)
        onehot[idx, xp.arange(idx.size)] = 1 if weights is None else weights
        return F.matmul(F.const(onehot), F.reshape(g, (-1, dim)))


def _embedding_renorm_(weight, indices, max_norm, norm_type):
    """Rescale (in place) the rows that `indices` looks up whose norm exceeds max_norm."""
    xp = _xp(weight._data)
    rows = xp.unique(indices._data.reshape(-1))
    w = weight._data
    sel = w[rows].astype(np.float64)
    if norm_type == float("inf"):
        norms = xp.abs(sel).max(axis=1)
    else:
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if bool(over.any()):
        scale = max_norm / (norms[over] + 1e-7)
        w[rows[over]] = (sel[over] * scale[:, None]).astype(w.dtype)
        if weight._version is None:
            weight._version = [1]
        else:
            weight._version[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of `weight` at the indices in `input` (output shape input.shape + (dim,))."""
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        got = type(input).__name__ if not isinstance(input, Tensor) else str(input.dtype)
        raise RuntimeError(
            "embedding: Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {got} instead (indices shape "
            f"{list(input.shape) if isinstance(input, Tensor) else '?'})")
    if weight.dim() != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got shape {list(weight.shape)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    idx = input._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"index out of range in self (embedding: index {bad} with "
                             f"num_embeddings={num}, indices shape {list(input.shape)})")
    if max_norm is not None:
        with no_grad():
            _embedding_renorm_(weight, input, max_norm, norm_type)
    if idx.dtype != np.int64:
        idx = idx.astype(np.int64)
    return dispatch(Embedding, (weight,), (idx, padding_idx, bool(scale_grad_by_freq)))


class OneHot(Op):
    name = "one_hot"
    differentiable = False

    @staticmethod
    def forward(ctx, idx, num_classes):
        xp = _xp(idx)
        return (idx[..., None] == xp.arange(num_classes)).astype(np.int64)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding with a trailing class dim (num_classes=-1: max + 1)."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError(
            f"one_hot is only applicable to index tensor of type LongTensor (got {tensor.dtype}).")
    a = tensor._data
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if int(a.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(a.max()) >= num_classes:
            raise RuntimeError(
                f"Class values must be smaller than num_classes (got {int(a.max())} with "
                f"num_classes={num_classes}).")
    return dispatch(OneHot, (tensor,), (int(num_classes),))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


__all__ = ["embedding", "one_hot", "normalize", "pad"]
