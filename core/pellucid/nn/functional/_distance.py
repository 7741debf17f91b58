"""Distances and similarities between vectors: cosine_similarity and pdist (pairwise_distance,
used by the triplet losses, lives with them)."""
from ..._tensor import Tensor

__all__ = ["cosine_similarity", "pdist"]


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps)) along `dim`, broadcasting x1 against x2."""
    from ... import ops
    for t, name in ((x1, "x1"), (x2, "x2")):
        if not isinstance(t, Tensor):
            raise TypeError(f"cosine_similarity(): argument '{name}' must be Tensor, not {type(t).__name__}")
    n1 = ops.clamp_min(x1.norm(2, dim, keepdim=True), eps)
    n2 = ops.clamp_min(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pdist(input, p=2):
    """The p-norm distance between every pair of rows i < j of a 2-D input, as a flat vector of
    n * (n - 1) / 2 entries in row-major order of the pairs."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    from ... import ops
    n = input.shape[0]
    i, j = ops.triu_indices(n, n, 1, device=input.device)
    rows_i, rows_j = input[i], input[j]
    if not i.numel():                 # no pairs: an empty result (an inf-norm of nothing is undefined)
        return (rows_i - rows_j).sum(1)
    return (rows_i - rows_j).norm(p, dim=1)
