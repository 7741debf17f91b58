"""Dropout family: element-wise, channel-wise (1d/2d/3d) and alpha dropout.

The random mask is drawn once (from pellucid's generator for the tensor's device) and passed to
a single multiply op, so the backward is the same multiply."""
import warnings

import numpy as np

from ... import _backend, _random
from ..._dispatch import Op, dispatch, dispatch_inplace

_SELU_ALPHA_SCALE = 1.7580993408473766     # -selu_alpha * selu_scale


class Dropout(Op):
    """out = x * mask (+ shift, for alpha dropout); mask and shift are fixed draws."""
    name = "dropout"
    backward_name = "NativeDropoutBackward0"

    @staticmethod
    def forward(ctx, x, mask, shift):
        ctx.mask = mask
        out = x * mask
        if shift is not None:
            out += shift
        return out

    @staticmethod
    def backward(ctx, F, g):
        return g * F.const(ctx.mask)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input, p, mask_shape):
    """Bernoulli(1 - p) draws of the input's dtype, shaped `mask_shape`."""
    _, rng = _random.rng_for(_backend.device_of(input._data))
    dt = input._data.dtype
    draw_dt = dt if dt in (np.float32, np.float64) else np.dtype(np.float32)
    return (rng.random(mask_shape, dtype=draw_dt) >= p).astype(dt)


def _apply(input, p, inplace, mask_shape, alpha):
    if p == 1.0 and not alpha:
        mask = _backend.xp_of(input._data).zeros(mask_shape, dtype=input._data.dtype)
        shift = None
    else:
        keep = _keep_mask(input, p, mask_shape)
        if alpha:
            a = 1.0 / np.sqrt((_SELU_ALPHA_SCALE ** 2 * p + 1) * (1 - p)) if p < 1 else 0.0
            shift = ((keep - 1) * (_SELU_ALPHA_SCALE * a) + _SELU_ALPHA_SCALE * a * p).astype(keep.dtype)
            mask = keep * keep.dtype.type(a)
        else:
            mask = keep * keep.dtype.type(1.0 / (1.0 - p))
            shift = None
    if inplace:
        return dispatch_inplace(Dropout, input, (), (mask, shift))
    return dispatch(Dropout, (input,), (mask, shift))


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (only when training)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply(input, p, inplace, input._data.shape, False)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply(input, p, inplace, input._data.shape, True)


def _feature_mask_shape(shape):
    return shape[:2] + (1,) * (len(shape) - 2)


def _feature(input, p, training, inplace, alpha=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply(input, p, inplace, _feature_mask_shape(input._data.shape), alpha)


def _unbatched(fn, input, p, training, inplace):
    # one channel-wise mask for an input without a batch dim: add the dim, drop, remove it
    out = fn(input.unsqueeze(0), p, training, False)
    out = out.squeeze(0)
    if inplace and out is not input:
        input.copy_(out)
        return input
    return out


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {inp_dim}D input (shape "
            f"{list(input.shape)}). Note that dropout1d exists to provide channel-wise dropout on "
            "inputs with 1 spatial dimension, a channel dimension, and an optional batch dimension "
            "(i.e. 2D or 3D inputs).")
    if inp_dim == 2:
        if not training or p == 0.0:
            return input
        return _unbatched(_feature, input, p, training, inplace)
    return _feature(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {inp_dim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide channel-wise "
            "dropout on inputs with 2 spatial dimensions, a channel dimension, and an optional batch "
            "dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if inp_dim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
            "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
            "dim. This behavior will change in a future release to interpret the input as one "
            "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
            "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {inp_dim}-D input to dropout3d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout3d exists to provide channel-wise "
            "dropout on inputs with 3 spatial dimensions, a channel dimension, and an optional batch "
            "dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    if inp_dim == 4:
        if not training or p == 0.0:
            return input
        return _unbatched(_feature, input, p, training, inplace)
    return _feature(input, p, training, inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels."""
    return _feature(input, p, training, inplace, alpha=True)


__all__ = ["dropout", "alpha_dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"]
