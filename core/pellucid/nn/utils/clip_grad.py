"""Gradient clipping: by total norm (any p, inf included) and by value, in place."""
import types
import warnings

import numpy as np

from ... import _backend
from ..._tensor import Tensor


def _as_list(tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    is_generator = isinstance(tensors, types.GeneratorType)
    tensors = list(tensors)
    if is_generator and not tensors:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return tensors


def _bump(t):
    if t._version is None:
        t._version = [1]
    else:
        t._version[0] += 1


def _vector_norm(xp, a, p):
    """The p-norm of an array viewed as a vector (computed in its own dtype, like PyTorch)."""
    a = a.reshape(-1)
    if p == float("inf"):
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if p == float("-inf"):
        return xp.abs(a).min() if a.size else xp.asarray(np.inf, a.dtype)
    if p == 0:
        return (a != 0).sum().astype(a.dtype)
    if p == 1:
        return xp.abs(a).sum()
    if p == 2:
        return xp.sqrt(xp.dot(a, a)) if a.size else xp.zeros((), a.dtype)
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all `tensors` together, as if concatenated into one vector."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        from ...ops._creation import tensor
        return tensor(0.0)
    first_dev = _backend.device_of(tensors[0]._data)
    norms = []
    for t in tensors:
        a = t._data
        n = _vector_norm(_backend.xp_of(a), a, norm_type)
        norms.append(_backend.move(_backend.xp_of(a).asarray(n), first_dev))
    xp = _backend.xp_for(first_dev)
    dtype = np.result_type(*[n.dtype for n in norms])
    total = _vector_norm(xp, xp.stack([n.astype(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`")
    return Tensor._make(xp.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(max_norm / (total_norm + 1e-6), 1), in place."""
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    coef = float(max_norm) / (total_norm._data + 1e-6)
    coef = _backend.xp_of(coef).minimum(coef, 1.0)
    for g in grads:
        a = g._data
        c = _backend.move(_backend.xp_of(coef).asarray(coef), _backend.device_of(a)).astype(a.dtype)
        if not a.flags.writeable:
            g._data = a = a.copy()
        with np.errstate(invalid="ignore"):     # a non-finite norm gives nan gradients, as in PyTorch
            a *= c
        _bump(g)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients so their total p-norm is at most max_norm; returns the total norm
    (before clipping) as a tensor. `foreach` is accepted for compatibility and has no effect."""
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        a = g._data
        if not a.flags.writeable:
            g._data = a = a.copy()
        _backend.xp_of(a).clip(a, -clip_value, clip_value, out=a)
        _bump(g)


__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]
