"""Normalisation: batch_norm, instance_norm, layer_norm, group_norm, local_response_norm.

All four normalisations are one op: statistics over some axes of one view of the input
(the "stats view"), then an elementwise affine over another view (the "affine view"):

    batch_norm     stats (N, C, L) over (0, 2)   affine (N, C, L), weight (1, C, 1)
    instance_norm  stats (N, C, L) over (2,)     affine (N, C, L), weight (1, C, 1)
    layer_norm     stats (A, B)    over (1,)     affine (A, B),    weight (1, B)
    group_norm     stats (N, G, R) over (2,)     affine (N, C, L), weight (1, C, 1)

Forward computes mean and 1/std once and keeps only those (and the input); backward is the
closed form  dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
"""
import math

from ... import _backend
from ... import _dtype as D
from ..._dispatch import Op, dispatch
from ..._tensor import Tensor
from ...ops import _F


def _xp(a):
    return _backend.xp_of(a)


class _Spec:
    """Where statistics are taken and where the affine applies (see the module docstring)."""
    __slots__ = ("stats_shape", "red", "affine_shape", "wb_shape", "aligned", "count")

    def __init__(self, stats_shape, red, affine_shape, wb_shape, aligned):
        self.stats_shape = tuple(stats_shape)
        self.red = tuple(red)
        self.affine_shape = tuple(affine_shape)
        self.wb_shape = tuple(wb_shape)
        # weight axes are exactly the non-reduced axes (batch norm): sums can be shared
        self.aligned = aligned
        self.count = math.prod(self.stats_shape[a] for a in self.red)

    @property
    def sum_axes(self):
        """Axes of the affine view a weight gradient is summed over."""
        return tuple(i for i, s in enumerate(self.wb_shape) if s == 1)

    def __repr__(self):
        return (f"NormSpec(stats={self.stats_shape}, over={self.red}, affine={self.affine_shape}, "
                f"weight={self.wb_shape})")


def _sum_kept(a, kept, other=None):
    """Sum of `a` (or of a * other) over every axis not in `kept`, keeping dims. einsum needs no
    temporaries and is several times faster than ndarray.sum over trailing or split axes."""
    xp = _xp(a)
    letters = "abcdefgh"[:a.ndim]
    out = "".join(ch for i, ch in enumerate(letters) if i in kept)
    if other is None:
        r = xp.einsum(f"{letters}->{out}", a)
    else:
        r = xp.einsum(f"{letters},{letters}->{out}", a, other)
    return r.reshape([n if i in kept else 1 for i, n in enumerate(a.shape)])


def _stats(xs, red, eps):
    """Mean, biased variance, 1/sqrt(var + eps) of `xs` over `red` (kept dims), and xs - mean."""
    xp = _xp(xs)
    kept = tuple(i for i in range(xs.ndim) if i not in red)
    count = math.prod(xs.shape[i] for i in red)
    mean = _sum_kept(xs, kept) / xs.dtype.type(count)
    centered = xs - mean
    var = _sum_kept(centered, kept, centered) / xs.dtype.type(count)
    invstd = 1.0 / xp.sqrt(var + eps)
    return mean, var, invstd.astype(xs.dtype, copy=False), centered


class _Normalize(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b, spec, eps, fixed, running):
        xp = _xp(x)
        xs = x.reshape(spec.stats_shape)
        if fixed is None:
            mean, var, invstd, out = _stats(xs, spec.red, eps)
            if running is not None:
                _update_running(running, mean, var, spec.count)
        else:
            # copies: the running buffers may change before backward runs
            mean = fixed[0].astype(x.dtype, copy=True).reshape(spec.wb_shape)
            invstd = (1.0 / xp.sqrt(fixed[1].astype(x.dtype) + eps)).reshape(spec.wb_shape)
            out = xs - mean
        out *= invstd
        out = out.reshape(spec.affine_shape)
        if w is not None:
            out *= w.reshape(spec.wb_shape)
        if b is not None:
            out += b.reshape(spec.wb_shape)
        ctx.mean = mean
        ctx.invstd = invstd
        ctx.param_shape = w.shape if w is not None else (b.shape if b is not None else None)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.inputs
        spec, eps, fixed, _ = ctx.params
        needs = ctx.needs_input_grad
        if F is not _F.TENSOR:
            return _backward_arrays(x, w, g, ctx.mean, ctx.invstd, spec, fixed is not None, needs,
                                    ctx.param_shape)
        return _backward_tensors(F, x, w, g, ctx.mean, ctx.invstd, spec, eps, fixed is not None, needs,
                                 ctx.param_shape)


def _update_running(running, mean, var, count):
    rm, rv, momentum = running
    C = rm._data.size
    xp = _xp(rm._data)
    batch_mean = mean.reshape(-1, C).mean(axis=0)
    batch_var = var.reshape(-1, C).mean(axis=0) * (count / (count - 1))
    for buf, stat in ((rm, batch_mean), (rv, batch_var)):
        d = buf._data
        d *= 1 - momentum
        d += xp.asarray(stat * momentum).astype(d.dtype, copy=False).reshape(d.shape)
        if buf._version is None:
            buf._version = [1]
        else:
            buf._version[0] += 1


def _backward_arrays(x, w, g, mean, invstd, spec, fixed, needs, param_shape):
    xs = x.reshape(spec.stats_shape)
    xhat = xs - mean
    xhat *= invstd
    ga = g.reshape(spec.affine_shape)
    xa = xhat.reshape(spec.affine_shape)
    kept = tuple(i for i, n in enumerate(spec.wb_shape) if n != 1)
    need_w = len(needs) > 1 and needs[1]
    need_b = len(needs) > 2 and needs[2]
    gb = _sum_kept(ga, kept) if (need_b or (spec.aligned and not fixed)) else None
    gw = _sum_kept(ga, kept, xa) if (need_w or (spec.aligned and not fixed and needs[0])) else None
    gx = None
    if needs[0]:
        wb = w.reshape(spec.wb_shape) if w is not None else None
        if fixed:
            # statistics are constants here: dx = dxhat * invstd
            gx = (ga if wb is None else ga * wb).reshape(spec.stats_shape) * invstd
        elif spec.aligned:
            # batch norm: the means of dxhat and dxhat*xhat are the bias and weight sums
            M = spec.count
            xa *= gw / M
            gx = ga - xa
            gx -= gb / M
            gx *= invstd if wb is None else invstd * wb
        else:
            gxhat = (ga if wb is None else ga * wb).reshape(spec.stats_shape)
            red_kept = tuple(i for i in range(gxhat.ndim) if i not in spec.red)
            inv_count = gxhat.dtype.type(1.0 / spec.count)
            m1 = _sum_kept(gxhat, red_kept) * inv_count
            m2 = _sum_kept(gxhat, red_kept, xhat) * inv_count
            # (dxhat - m1 - xhat * m2) * invstd, written into xhat's buffer
            xhat *= m2
            gx = _xp(xhat).subtract(gxhat, xhat, out=xhat)
            gx -= m1
            gx *= invstd
        gx = gx.reshape(x.shape)
    return (gx,
            gw.reshape(param_shape) if need_w else None,
            gb.reshape(param_shape) if need_b else None)


def _backward_tensors(F, x, w, g, mean, invstd, spec, eps, fixed, needs, param_shape):
    """The same formula with differentiable ops, statistics recomputed from `x`."""
    xs = F.reshape(x, spec.stats_shape)
    if fixed:
        invstd_t = F.const(invstd)
        xhat = (xs - F.const(mean)) * invstd_t
    else:
        mu = F.mean(xs, spec.red, True)
        centered = xs - mu
        invstd_t = (F.mean(centered * centered, spec.red, True) + eps) ** -0.5
        xhat = centered * invstd_t
    ga = F.reshape(g, spec.affine_shape)
    xa = F.reshape(xhat, spec.affine_shape)
    axes = spec.sum_axes
    gx = gw = gb = None
    wb = None if w is None else F.reshape(w, spec.wb_shape)
    if needs[0]:
        gxhat = F.reshape(ga if wb is None else ga * wb, spec.stats_shape)
        if fixed:
            gx = gxhat * invstd_t
        else:
            gx = (gxhat - F.mean(gxhat, spec.red, True)
                  - xhat * F.mean(gxhat * xhat, spec.red, True)) * invstd_t
        gx = F.reshape(gx, tuple(x.shape))
    if len(needs) > 1 and needs[1]:
        gw = F.reshape(F.sum(ga * xa, axes), param_shape)
    if len(needs) > 2 and needs[2]:
        gb = F.reshape(F.sum(ga, axes), param_shape)
    return gx, gw, gb


class NativeBatchNorm(_Normalize):
    name = "native_batch_norm"


class NativeLayerNorm(_Normalize):
    name = "native_layer_norm"


class NativeGroupNorm(_Normalize):
    name = "native_group_norm"


class InstanceNorm(_Normalize):
    name = "instance_norm"


# ---- public functions -----------------------------------------------------------------------

def _check_input(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"{op}: expected a floating point input, but got {input.dtype}")


def _check_vec(t, n, what):
    if t is not None and t._data.size != n:
        raise RuntimeError(f"{what} should contain {n} elements not {t._data.size}")


def _autocast_unifies(op, *tensors):
    """Inside pellucid.autocast a float16 input may meet float32 parameters, as in PyTorch."""
    from ...amp.autocast_mode import allows_mixed
    return allows_mixed(op, *tensors)


def _check_same(op, input, *others):
    for t in others:
        if t is None:
            continue
        if type(t._data) is not type(input._data):
            raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found {input.device} "
                               f"and {t.device}")
        if t._data.dtype != input._data.dtype and not _autocast_unifies(op, input, *others):
            raise RuntimeError(f"{op}: mixed dtype: input is {input.dtype} but a parameter is {t.dtype}; "
                               "all inputs must share the same dtype")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    _check_input(input, "batch_norm")
    shape = input._data.shape
    if input._data.ndim < 2:
        raise RuntimeError(f"batch_norm: expected 2D or higher input (N, C, *), but got input of size {list(shape)}")
    N, C = shape[:2]
    L = math.prod(shape[2:])
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_vec(t, C, what)
    _check_same("batch_norm", input, weight, bias)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean must be defined in evaluation mode")
    if training and N * L <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    spec = _Spec((N, C, L), (0, 2), (N, C, L), (1, C, 1), True)
    fixed = None if training else (running_mean._data, running_var._data)
    running = None
    if training and running_mean is not None and running_var is not None:
        running = (running_mean, running_var, 0.0 if momentum is None else float(momentum))
    return dispatch(NativeBatchNorm, (input, weight, bias), (spec, float(eps), fixed, running))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    _check_input(input, "instance_norm")
    shape = input._data.shape
    if input._data.ndim < 2:
        raise RuntimeError(f"instance_norm: expected 2D or higher input (N, C, *), but got input of size "
                           f"{list(shape)}")
    N, C = shape[:2]
    L = math.prod(shape[2:])
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"),
                    (bias, "bias")):
        _check_vec(t, C, what)
    _check_same("instance_norm", input, weight, bias)
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    if use_input_stats and L <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    spec = _Spec((N, C, L), (2,), (N, C, L), (1, C, 1), False)
    fixed = None if use_input_stats else (running_mean._data, running_var._data)
    running = None
    if use_input_stats and running_mean is not None and running_var is not None:
        running = (running_mean, running_var, 0.0 if momentum is None else float(momentum))
    return dispatch(InstanceNorm, (input, weight, bias), (spec, float(eps), fixed, running))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    _check_input(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    shape = input._data.shape
    D = len(normalized_shape)
    if D == 0 or input._data.ndim < D or tuple(shape[input._data.ndim - D:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(shape)}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t._data.shape) != normalized_shape:
            raise RuntimeError(
                f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
                f"{list(t._data.shape)} and normalized_shape = {list(normalized_shape)}")
    _check_same("layer_norm", input, weight, bias)
    B = math.prod(normalized_shape)
    A = input._data.size // B if B else 0
    spec = _Spec((A, B), (1,), (A, B), (1, B), False)
    return dispatch(NativeLayerNorm, (input, weight, bias), (spec, float(eps), None, None))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the trailing `normalized_shape` dims) + eps) * weight; eps=None is the
    dtype's machine epsilon, as in PyTorch."""
    _check_input(input, "rms_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    shape = tuple(input._data.shape)
    D = len(normalized_shape)
    if D == 0 or len(shape) < D or shape[len(shape) - D:] != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*{', '.join(map(str, normalized_shape))}], but got input of size{list(shape)}")
    if weight is not None and tuple(weight._data.shape) != normalized_shape:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list(weight._data.shape)} and normalized_shape = {list(normalized_shape)}")
    _check_same("rms_norm", input, weight)
    if eps is None:
        from ..._finfo import finfo
        eps = finfo(input.dtype).eps
    dims = tuple(range(-D, 0))
    out = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    return out if weight is None else out * weight


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    _check_input(input, "group_norm")
    shape = input._data.shape
    if input._data.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input._data.ndim}")
    N, C = shape[:2]
    G = int(num_groups)
    if G <= 0 or C % G:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(shape)} and num_groups={num_groups}")
    for t in (weight, bias):
        if t is not None and (t._data.ndim != 1 or t._data.size != C):
            raise RuntimeError(
                f"Expected weight to be a vector of size equal to the number of channels in input, but got "
                f"weight of shape {list(t._data.shape)} and input of shape {list(shape)}")
    _check_same("group_norm", input, weight, bias)
    L = math.prod(shape[2:])
    spec = _Spec((N, G, (C // G) * L), (2,), (N, C, L), (1, C, 1), False)
    return dispatch(NativeGroupNorm, (input, weight, bias), (spec, float(eps), None, None))


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """Normalise each value by the summed squares of `size` neighbouring channels."""
    _check_input(input, "local_response_norm")
    dim = input._data.ndim
    if dim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    from ._pooling import avg_pool2d, avg_pool3d
    from . import pad
    div = (input * input).unsqueeze(1)
    if dim == 3:
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = (div * alpha + k) ** beta
    return input / div


__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm", "rms_norm"]
