"""Joining and splitting: cat, stack, hstack/vstack/dstack, split, tensor_split, chunk, unbind.

The pieces of split/chunk/unbind are views of the input made by one multi-output op, so
gradients flowing into several pieces are joined in a single backward step.
"""
import functools
import math

import numpy as np

from .. import _dtype as D
from .._dispatch import Op, dispatch
from .._grad_mode import state as _gm
from .._tensor import Tensor, _wrap_dim
from ._registry import tensor_method
from ._shape import Select, Slice, _xp, atleast_1d, atleast_2d, atleast_3d, record_view, view_backward


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, not Tensor")
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 'tensors', but got {type(t).__name__}")
    if not tensors:
        raise ValueError(f"{op}(): expected a non-empty list of Tensors")
    kind = type(tensors[0]._data)
    for t in tensors[1:]:
        if type(t._data) is not kind:
            raise RuntimeError(
                f"{op}(): expected all tensors to be on the same device, but found at least two devices, "
                f"{tensors[0].device} and {t.device}")
    return tensors


def _common_dtype(tensors):
    return functools.reduce(D.promote_types, (t.dtype for t in tensors)).np


def _write_out(out, result, op):
    if out is None:
        return result
    if _gm.grad_enabled and (result._requires_grad or out._requires_grad):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if out._data.shape == result._data.shape:
        out._data[...] = result._data
    else:
        out._data = result._data.astype(out._data.dtype, copy=False)
    if out._version is None:
        out._version = [1]
    else:
        out._version[0] += 1
    return out


# ---- cat / stack ------------------------------------------------------------------------------
class Cat(Op):
    name = "cat"

    @staticmethod
    def forward(ctx, *arrays_and_params):
        *arrays, dim, np_dtype, keep = arrays_and_params
        parts = [a for a, k in zip(arrays, keep) if k]
        ctx.sizes = [a.shape[dim] for a in parts]
        return _xp(parts[0]).concatenate(parts, axis=dim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        dim, _, keep = ctx.params
        sizes = iter(ctx.sizes)
        lead = (slice(None),) * dim
        grads = []
        start = 0
        for k in keep:
            if not k:
                grads.append(None)
                continue
            n = next(sizes)
            grads.append(g[lead + (slice(start, start + n),)])
            start += n
        return tuple(grads)


def cat(tensors, dim=0, *, out=None):
    tensors = _tensor_list(tensors, "cat")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch's legacy rule: 1-D empty tensors are skipped (they still take part in type promotion)
    keep = tuple(not (t._data.ndim == 1 and t._data.shape[0] == 0) for t in tensors)
    if not any(keep):
        keep = (True,) * len(tensors)
    kept = [t for t, k in zip(tensors, keep) if k]
    ref = kept[0]._data.shape
    d = _wrap_dim(dim, len(ref), "cat")
    for i, (t, k) in enumerate(zip(tensors, keep)):
        if not k:
            continue
        s = t._data.shape
        if len(s) != len(ref):
            raise RuntimeError(
                f"cat(): Tensors must have same number of dimensions: got {len(ref)} and {len(s)} "
                f"(shapes {list(ref)} and {list(s)} at position {i})")
        for j in range(len(ref)):
            if j != d and s[j] != ref[j]:
                raise RuntimeError(
                    f"cat(): Sizes of tensors must match except in dimension {d}. Expected size {ref[j]} "
                    f"but got size {s[j]} for tensor number {i} in the list.")
    result = dispatch(Cat, tuple(tensors), (d, _common_dtype(tensors), keep))
    return _write_out(out, result, "cat")


concat = concatenate = cat


class Stack(Op):
    name = "stack"

    @staticmethod
    def forward(ctx, *arrays_and_params):
        *arrays, dim, np_dtype = arrays_and_params
        return _xp(arrays[0]).stack(arrays, axis=dim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        dim = ctx.params[0]
        lead = (slice(None),) * dim
        return tuple(g[lead + (i,)] for i in range(g.shape[dim]))


def stack(tensors, dim=0, *, out=None):
    tensors = _tensor_list(tensors, "stack")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 and "
                f"{list(t._data.shape)} at entry {i}")
    d = _wrap_dim(dim, len(ref) + 1, "stack")
    result = dispatch(Stack, tuple(tensors), (d, _common_dtype(tensors)))
    return _write_out(out, result, "stack")


def hstack(tensors, *, out=None):
    ts = atleast_1d(_tensor_list(tensors, "hstack"))
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat(atleast_2d(_tensor_list(tensors, "vstack")), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return cat(atleast_3d(_tensor_list(tensors, "dstack")), 2, out=out)


def column_stack(tensors, *, out=None):
    ts = _tensor_list(tensors, "column_stack")
    ts = [t.reshape(t._data.size, 1) if t._data.ndim <= 1 else t for t in ts]
    return cat(ts, 1, out=out)


# ---- split / chunk / unbind ---------------------------------------------------------------------
class SplitPieces(Op):
    """Pieces [start, stop) along `dim`, each a view of the input."""
    name = "split_with_sizes"
    view = True
    multi_output = True

    @staticmethod
    def forward(ctx, a, dim, bounds):
        ctx.in_shape = a.shape
        lead = (slice(None),) * dim
        return tuple(a[lead + (slice(s, e), Ellipsis)] for s, e in bounds)

    @staticmethod
    def backward(ctx, F, *grads):
        dim, bounds = ctx.params
        n = ctx.in_shape[dim]
        covering = bool(bounds) and bounds[0][0] == 0 and bounds[-1][1] == n and all(
            bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
        if covering:
            return F.concatenate(list(grads), dim)
        # overlapping or partial pieces (tensor_split with unsorted indices): add each piece's share
        lead = (slice(None),) * dim
        total = None
        for (s, e), g in zip(bounds, grads):
            part = view_backward(F, Slice, (lead + (slice(s, e), Ellipsis),), ctx.in_shape, g)
            total = part if total is None else total + part
        return total


def _split_by_bounds(input, d, bounds):
    pieces = dispatch(SplitPieces, (input,), (d, tuple(bounds)))
    lead = (slice(None),) * d
    for p, (s, e) in zip(pieces, bounds):
        record_view(p, input, Slice, (lead + (slice(s, e), Ellipsis),), multi=True)
    return pieces


def _dim_of(input, dim, op):
    if input._data.ndim == 0:
        raise RuntimeError(f"{op}(): expected a tensor with at least one dimension, but got a 0-dim tensor")
    return _wrap_dim(dim, input._data.ndim, op)


@tensor_method("split")
def split(tensor, split_size_or_sections, dim=0):
    d = _dim_of(tensor, dim, "split")
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)) or (
            isinstance(split_size_or_sections, Tensor) and split_size_or_sections._data.ndim == 0):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split(): split_size must be non-negative, but got split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(
                f"split(): split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        count = max(math.ceil(n / size), 1) if size else 1
        bounds = [(i * size, min((i + 1) * size, n)) for i in range(count)]
        return _split_by_bounds(tensor, d, bounds)
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
            f"dimension {d}), but got split_sizes={sizes}")
    bounds = []
    start = 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    return _split_by_bounds(tensor, d, bounds)


@tensor_method("split_with_sizes")
def split_with_sizes(input, split_sizes, dim=0):
    return split(input, list(split_sizes), dim)


@tensor_method("tensor_split")
def tensor_split(input, indices_or_sections, dim=0):
    d = _dim_of(input, dim, "tensor_split")
    n = input._data.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios._data.dtype.kind not in "iu" or ios._data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or one-dimensional "
                f"tensor with dtype long, but got a tensor with {ios._data.ndim} dims and dtype {ios.dtype}")
        ios = int(ios.item()) if ios._data.ndim == 0 else [int(i) for i in ios.tolist()]
    if isinstance(ios, (int, np.integer)):
        sections = int(ios)
        if sections <= 0:
            raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got {sections}")
        base, extra = divmod(n, sections)
        bounds = []
        start = 0
        for i in range(sections):
            size = base + (1 if i < extra else 0)
            bounds.append((start, start + size))
            start += size
        return _split_by_bounds(input, d, bounds)
    edges = [0] + [int(i) for i in ios] + [n]
    bounds = []
    for s, e in zip(edges[:-1], edges[1:]):
        s, e, _ = slice(s, e).indices(n)
        bounds.append((s, max(s, e)))
    return _split_by_bounds(input, d, bounds)


def _split_like_numpy(input, ios, dim, op):
    if isinstance(ios, (int, np.integer)):
        n = input._data.shape[dim]
        if ios == 0 or n % ios:
            raise RuntimeError(
                f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                f"{n} is not divisible by the split_size {ios}!")
    return tensor_split(input, ios, dim)


@tensor_method("hsplit")
def hsplit(input, indices_or_sections):
    if input._data.ndim < 1:
        raise RuntimeError("torch.hsplit requires a tensor with at least 1 dimension, but got a tensor with 0 dimensions!")
    return _split_like_numpy(input, indices_or_sections, 1 if input._data.ndim > 1 else 0, "hsplit")


@tensor_method("vsplit")
def vsplit(input, indices_or_sections):
    if input._data.ndim < 2:
        raise RuntimeError(
            f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with {input._data.ndim} dimensions!")
    return _split_like_numpy(input, indices_or_sections, 0, "vsplit")


@tensor_method("dsplit")
def dsplit(input, indices_or_sections):
    if input._data.ndim < 3:
        raise RuntimeError(
            f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with {input._data.ndim} dimensions!")
    return _split_like_numpy(input, indices_or_sections, 2, "dsplit")


@tensor_method("chunk")
def chunk(input, chunks, dim=0):
    d = _dim_of(input, dim, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input._data.shape[d]
    if n == 0:
        # PyTorch gives `chunks` empty pieces for an empty dim
        return _split_by_bounds(input, d, [(0, 0)] * chunks)
    return split(input, math.ceil(n / chunks), d)


class Unbind(Op):
    name = "unbind"
    view = True
    multi_output = True

    @staticmethod
    def forward(ctx, a, dim):
        lead = (slice(None),) * dim
        return tuple(a[lead + (i, Ellipsis)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, F, *grads):
        return F.stack(list(grads), ctx.params[0])


@tensor_method("unbind")
def unbind(input, dim=0):
    d = _dim_of(input, dim, "unbind")
    pieces = dispatch(Unbind, (input,), (d,))
    lead = (slice(None),) * d
    for i, p in enumerate(pieces):
        record_view(p, input, Select, (lead + (i, Ellipsis),), multi=True)
    return pieces


__all__ = ['cat', 'chunk', 'column_stack', 'concat', 'concatenate', 'dsplit', 'dstack', 'hsplit', 'hstack',
           'row_stack', 'split', 'split_with_sizes', 'stack', 'tensor_split', 'unbind', 'vsplit', 'vstack']
