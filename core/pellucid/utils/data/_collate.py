"""Collation: turning a list of samples into a batch, with PyTorch's rules.

Tensors stack along a new dim 0; NumPy arrays and scalars become tensors of their dtype; Python
floats become float64, ints int64 (bools bool); strings and bytes stay as a list; mappings,
namedtuples and sequences are collated field by field (tuples come back as lists, as in PyTorch).

Stacking is done once on the raw arrays (one `np.stack`, one tensor) rather than through the op
layer, unless a sample needs its autograd graph or the dtypes differ (then `pellucid.stack`
applies PyTorch's promotion and records the graph).
"""
import collections.abc
import copy
import re

import numpy as np

from ... import _backend
from ... import _dtype as D
from ..._tensor import Tensor

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def _stack_arrays(arrays, what="stack"):
    """np.stack / cupy.stack with PyTorch's error for unequal shapes."""
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise RuntimeError(
                f"{what} expects each tensor to be equal size, but got {list(first)} at entry 0 and "
                f"{list(a.shape)} at entry {i}")
    return _backend.xp_of(arrays[0]).stack(arrays)


def default_convert(data):
    """Convert NumPy arrays and scalars (also inside mappings, namedtuples and sequences) to
    tensors; anything else is returned unchanged. The collate_fn when auto-batching is off."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if elem_type.__name__ == "ndarray" and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        arr = np.asarray(data)
        D.from_numpy_dtype(arr.dtype)
        return Tensor._make(arr)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch, *, collate_fn_map=None):
    """Collate `batch` (a list of samples), dispatching on the first sample's type through
    `collate_fn_map` (exact type first, then isinstance in insertion order) and recursing into
    mappings, namedtuples and sequences."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = collate_fn_map.get(elem_type)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                              for key in elem})
                return clone
            return elem_type({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                              for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    dt = elem._data.dtype
    kind = type(elem._data)
    if all(not t._requires_grad and t._data.dtype == dt and type(t._data) is kind for t in batch):
        return Tensor._make(_stack_arrays([t._data for t in batch]))
    import pellucid
    return pellucid.stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    if (collate_fn_map is None or collate_fn_map.get(Tensor) is collate_tensor_fn) and \
            all(isinstance(b, np.ndarray) and b.dtype == elem.dtype for b in batch):
        D.from_numpy_dtype(elem.dtype)      # a clear error for dtypes pellucid lacks
        return Tensor._make(_stack_arrays(list(batch)))
    return collate([Tensor._make(np.asarray(b)) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    arr = np.asarray(batch)
    D.from_numpy_dtype(arr.dtype)
    return Tensor._make(arr)


def collate_float_fn(batch, *, collate_fn_map=None):
    return Tensor._make(np.array(batch, dtype=np.float64))


def collate_int_fn(batch, *, collate_fn_map=None):
    if all(type(x) is int for x in batch):
        return Tensor._make(np.array(batch, dtype=np.int64))
    from ...ops._creation import tensor
    return tensor(list(batch))      # bools -> bool, mixed -> PyTorch's inference


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Stack a list of samples into a batch (see the module docstring for the rules); for
    example `[(1, 2.0), (3, 4.0)]` becomes `[tensor([1, 3]), tensor([2., 4.], dtype=float64)]`."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
