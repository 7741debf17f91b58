"""Pooling: max / average (1-d, 2-d, 3-d), adaptive max / average, max_unpool, lp_pool.

Windows are walked by kernel offset: each offset is one strided slice of the padded input
covering every window at once, so a 2x2 pool is four vectorised passes, never a loop over
pixels. Max pooling keeps, per output, which offset won (first maximum; NaN wins, as in
PyTorch); its backward adds the gradient back through the same slices.
"""
import math

import numpy as np

from ... import _backend
from ..._dispatch import NO_CTX, Op, dispatch
from ..._tensor import Tensor
from ._conv import LinearMap, _sub


def _xp(a):
    return _backend.xp_of(a)


# ---- argument handling ---------------------------------------------------------------------

def _tuple(value, nd, name, op):
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        vals = tuple(int(v) for v in value)
        if len(vals) == 1:
            vals = vals * nd
        if len(vals) != nd:
            what = "a single int" if nd == 1 else f"a single int, or a tuple of {nd} ints"
            raise RuntimeError(f"{op}: {name} must either be {what} (got {name}={list(vals)})")
        return vals
    return (int(value),) * nd


def _batched(input, nd, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    shape = input._data.shape
    if input._data.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}: expected a {nd + 1}D (unbatched) or {nd + 2}D (batched) input, but got input of size "
            f"{list(shape)}")
    if any(s == 0 for s in shape[-nd - 1 if input._data.ndim == nd + 1 else 1:]):
        raise RuntimeError(
            f"{op}: expected input to have non-zero size for non-batch dimensions, but got input of size "
            f"{list(shape)}")
    if input._data.ndim == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _out_size(S, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (ceil mode never starts a window in the right padding)."""
    o = (S + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= S + p:
        o -= 1
    return o


def _geometry(op, nd, x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        _tuple(stride, nd, "stride", op)
    pad = _tuple(padding, nd, "padding", op)
    dil = _tuple(dilation, nd, "dilation", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got kernel_size={list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride should be greater than zero, but got stride={list(stride)}")
    if any(d <= 0 for d in dil):
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation={list(dil)}")
    for k, p, d in zip(kernel, pad, dil):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{op}: pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                f"and dilation={d}")
    in_sp = tuple(x_shape[2:])
    out_sp = tuple(_out_size(S, k, s, p, d, ceil_mode) for S, k, s, p, d in zip(in_sp, kernel, stride, pad, dil))
    if any(o < 1 for o in out_sp):
        raise RuntimeError(
            f"{op}: Given input size: ({'x'.join(map(str, x_shape[1:]))}). Calculated output size: "
            f"({'x'.join(map(str, (x_shape[1],) + out_sp))}). Output size is too small")
    return in_sp, kernel, stride, pad, dil, out_sp


def _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp):
    """Padded extent that holds the input and every (ceil-mode) window."""
    return tuple(max((o - 1) * s + d * (k - 1) + 1, p + S)
                 for S, k, s, p, d, o in zip(in_sp, kernel, stride, pad, dil, out_sp))


def _padded(x, pad, sizes, fill):
    if not any(pad) and tuple(x.shape[2:]) == sizes:
        return x
    xp = _xp(x)
    buf = xp.full(x.shape[:2] + sizes, fill, dtype=x.dtype)
    buf[_interior(pad, x.shape[2:])] = x
    return buf


def _interior(pad, in_sp):
    return (Ellipsis,) + tuple(slice(p, p + S) for p, S in zip(pad, in_sp))


def _crop(buf, pad, in_sp):
    if not any(pad) and tuple(buf.shape[2:]) == tuple(in_sp):
        return buf
    return _xp(buf).ascontiguousarray(buf[_interior(pad, in_sp)])


def _offset_slices(kernel, stride, dil, out_sp):
    """One slice tuple per kernel offset selecting that offset of every window."""
    return [(Ellipsis,) + tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                                for o, d, s, n in zip(offs, dil, stride, out_sp))
            for offs in np.ndindex(*kernel)]


def _disjoint(kernel, stride, dil):
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dil))


def _lowest(dtype):
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _arg_dtype(K):
    return np.uint8 if K <= 255 else np.int32


def _flat_indices(xp, arg, in_sp, kernel, stride, pad, dil, out_sp):
    """PyTorch's max-pool indices: flat positions within each (unpadded) input plane."""
    nd = len(kernel)
    offs = xp.unravel_index(arg.astype(np.int64), kernel)
    flat = None
    for i in range(nd):
        shape = [1] * (2 + nd)
        shape[2 + i] = out_sp[i]
        base = (xp.arange(out_sp[i], dtype=np.int64) * stride[i] - pad[i]).reshape(shape)
        pos = base + offs[i] * dil[i]
        flat = pos if flat is None else flat * in_sp[i] + pos
    return flat


# ---- max pooling --------------------------------------------------------------------------

def _selector(xp, values):
    """mask ? v : 0. Multiplying by the mask is branch-free and much faster than `where` on
    data-dependent masks, but only exact when `values` has no inf/NaN (0 * inf is NaN)."""
    if values.dtype.kind == "f" and not bool(xp.isfinite(values).all()):
        zero = values.dtype.type(0)
        return lambda mask, v: xp.where(mask, v, zero)
    return lambda mask, v: v * mask


def _max_arg(xp, xpad, slices, out, nan_aware):
    """Running maximum over the offset slices into `out`, returning the winning offset per output.

    Branch-free (np.where with data-dependent masks is slow): the winning offset only grows,
    so a running maximum of better * k tracks the first maximum (or, nan_aware, the last NaN)."""
    arg = xp.zeros(out.shape, dtype=_arg_dtype(len(slices)))
    scaled = xp.empty_like(arg)
    for kidx, sl in enumerate(slices[1:], 1):
        v = xpad[sl]
        better = v > out
        if nan_aware:
            better |= xp.isnan(v)
        xp.multiply(better.view(np.uint8) if arg.dtype == np.uint8 else better, arg.dtype.type(kidx), out=scaled)
        xp.maximum(arg, scaled, out=arg)
        xp.maximum(out, v, out=out)
    return arg


def _first_inside_when_padding_wins(xp, arg, in_sp, kernel, stride, pad, dil, out_sp):
    """A window whose real values all equal the padding value (-inf) picks its first in-bounds
    position, as PyTorch's kernel (which starts from there) does, not a padding slot."""
    nd = len(kernel)
    offs = xp.unravel_index(arg.astype(np.int64), kernel)
    inside = None
    first = None
    for i in range(nd):
        shape = [1] * (2 + nd)
        shape[2 + i] = out_sp[i]
        base = (xp.arange(out_sp[i], dtype=np.int64) * stride[i] - pad[i]).reshape(shape)
        pos = base + offs[i] * dil[i]
        ok = (pos >= 0) & (pos < in_sp[i])
        inside = ok if inside is None else inside & ok
        first_i = xp.maximum((-base + dil[i] - 1) // dil[i], 0)
        first = first_i if first is None else first * kernel[i] + first_i
    return xp.where(inside, arg, first.astype(arg.dtype))


class _MaxPoolNd(Op):
    multi_output = True

    @staticmethod
    def forward(ctx, x, kernel, stride, pad, dil, out_sp, with_indices):
        xp = _xp(x)
        in_sp = tuple(x.shape[2:])
        sizes = _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp)
        xpad = _padded(x, pad, sizes, _lowest(x.dtype))
        slices = _offset_slices(kernel, stride, dil, out_sp)
        track = with_indices or ctx is not NO_CTX
        out = xpad[slices[0]].copy()
        if not track:
            for sl in slices[1:]:
                xp.maximum(out, xpad[sl], out=out)
            return (out,)
        arg = _max_arg(xp, xpad, slices, out, nan_aware=False)
        # NaN propagates through maximum (it wins in PyTorch's kernel too); only then is the
        # slower NaN-aware arg-max needed
        if x.dtype.kind == "f" and bool(xp.isnan(out).any()):
            out = xpad[slices[0]].copy()
            arg = _max_arg(xp, xpad, slices, out, nan_aware=True)
        if any(pad) and bool((out == _lowest(x.dtype)).any()):
            arg = _first_inside_when_padding_wins(xp, arg, in_sp, kernel, stride, pad, dil, out_sp)
        ctx.arg = arg
        ctx.in_sp = in_sp
        if with_indices:
            return out, _flat_indices(xp, arg, in_sp, kernel, stride, pad, dil, out_sp)
        return (out,)

    @staticmethod
    def backward(ctx, F, g, *_):
        kernel, stride, pad, dil, _o, _w = ctx.params
        return _sub(F, MaxPoolScatter, (g,), (ctx.arg, ctx.in_sp, kernel, stride, pad, dil))


class MaxPool1d(_MaxPoolNd):
    name = "max_pool1d_with_indices"
    backward_name = "MaxPool1DWithIndicesBackward0"


class MaxPool2d(_MaxPoolNd):
    name = "max_pool2d_with_indices"
    backward_name = "MaxPool2DWithIndicesBackward0"


class MaxPool3d(_MaxPoolNd):
    name = "max_pool3d_with_indices"
    backward_name = "MaxPool3DWithIndicesBackward0"


class MaxPoolScatter(LinearMap):
    """Max-pool backward: each output gradient goes to the input its window's maximum came from."""
    name = "max_pool_backward"

    @staticmethod
    def forward(ctx, g, arg, in_sp, kernel, stride, pad, dil):
        xp = _xp(g)
        out_sp = tuple(g.shape[2:])
        sizes = _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp)
        buf = xp.zeros(g.shape[:2] + sizes, dtype=g.dtype)
        disjoint = _disjoint(kernel, stride, dil)
        select = _selector(xp, g)
        for kidx, sl in enumerate(_offset_slices(kernel, stride, dil, out_sp)):
            part = select(arg == kidx, g)
            if disjoint:
                buf[sl] = part
            else:
                buf[sl] += part
        return _crop(buf, pad, in_sp)


class MaxPoolGather(LinearMap):
    """The adjoint of MaxPoolScatter: read each window's arg-max position."""
    name = "max_pool_backward_backward"

    @staticmethod
    def forward(ctx, h, arg, in_sp, kernel, stride, pad, dil):
        xp = _xp(h)
        out_sp = tuple(arg.shape[2:])
        sizes = _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp)
        hpad = _padded(h, pad, sizes, 0)
        out = xp.zeros(arg.shape, dtype=h.dtype)
        select = _selector(xp, hpad)
        for kidx, sl in enumerate(_offset_slices(kernel, stride, dil, out_sp)):
            out += select(arg == kidx, hpad[sl])
        return out


MaxPoolScatter.adjoint = MaxPoolGather
MaxPoolGather.adjoint = MaxPoolScatter

_MAX_OPS = {1: MaxPool1d, 2: MaxPool2d, 3: MaxPool3d}


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    op = f"max_pool{nd}d"
    x, unbatched = _batched(input, nd, op)
    in_sp, kernel, stride, pad, dil, out_sp = _geometry(op, nd, x._data.shape, kernel_size, stride, padding,
                                                        dilation, ceil_mode)
    res = dispatch(_MAX_OPS[nd], (x,), (kernel, stride, pad, dil, out_sp, bool(return_indices)))
    if unbatched:
        res = tuple(r.squeeze(0) for r in res)
    return res if return_indices else res[0]


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- average pooling ----------------------------------------------------------------------

def _avg_divisor(xp, dtype, in_sp, kernel, stride, pad, out_sp, count_include_pad, divisor_override):
    """Per-output divisor with PyTorch's rules (windows clipped to the padded input, and to the
    input itself unless count_include_pad)."""
    if divisor_override:
        return float(divisor_override)
    div = np.ones((), dtype=np.float64)
    for S, k, s, p, o in zip(in_sp, kernel, stride, pad, out_sp):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, S + p)
        if count_include_pad:
            size = end - start
        else:
            size = np.minimum(end, S) - np.maximum(start, 0)
        div = np.multiply.outer(div, size.astype(np.float64))
    return xp.asarray(div.astype(dtype if dtype.kind == "f" else np.float64))


class _AvgPoolNd(LinearMap):

    @staticmethod
    def forward(ctx, x, in_sp, kernel, stride, pad, out_sp, count_include_pad, divisor_override):
        xp = _xp(x)
        dil = (1,) * len(kernel)
        sizes = _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp)
        acc_dtype = x.dtype if x.dtype.kind == "f" else np.int64
        xpad = _padded(x, pad, sizes, 0)
        slices = _offset_slices(kernel, stride, dil, out_sp)
        total = xpad[slices[0]].astype(acc_dtype, copy=True)
        for sl in slices[1:]:
            total += xpad[sl]
        div = _avg_divisor(xp, x.dtype, in_sp, kernel, stride, pad, out_sp, count_include_pad, divisor_override)
        if x.dtype.kind != "f":
            return xp.trunc(total / div).astype(x.dtype)
        total /= div
        return total


class AvgPoolGrad(LinearMap):
    """Average-pool backward: each output gradient spread evenly over its window."""
    name = "avg_pool_backward"

    @staticmethod
    def forward(ctx, g, in_sp, kernel, stride, pad, out_sp, count_include_pad, divisor_override):
        xp = _xp(g)
        dil = (1,) * len(kernel)
        sizes = _buffer_sizes(in_sp, kernel, stride, pad, dil, out_sp)
        share = g / _avg_divisor(xp, g.dtype, in_sp, kernel, stride, pad, out_sp, count_include_pad,
                                 divisor_override)
        buf = xp.zeros(g.shape[:2] + sizes, dtype=g.dtype)
        disjoint = _disjoint(kernel, stride, dil)
        for sl in _offset_slices(kernel, stride, dil, out_sp):
            if disjoint:
                buf[sl] = share
            else:
                buf[sl] += share
        return _crop(buf, pad, in_sp)


class AvgPool1d(_AvgPoolNd):
    name = "avg_pool1d"
    backward_name = "AvgPool1DBackward0"


class AvgPool2d(_AvgPoolNd):
    name = "avg_pool2d"
    backward_name = "AvgPool2DBackward0"


class AvgPool3d(_AvgPoolNd):
    name = "avg_pool3d"
    backward_name = "AvgPool3DBackward0"


_AVG_OPS = {1: AvgPool1d, 2: AvgPool2d, 3: AvgPool3d}
for _op in _AVG_OPS.values():
    _op.adjoint = AvgPoolGrad
AvgPoolGrad.adjoint = AvgPool2d


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    op = f"avg_pool{nd}d"
    x, unbatched = _batched(input, nd, op)
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    in_sp, kernel, stride, pad, _, out_sp = _geometry(op, nd, x._data.shape, kernel_size, stride, padding, 1,
                                                      ceil_mode)
    out = dispatch(_AVG_OPS[nd], (x,), (in_sp, kernel, stride, pad, out_sp, bool(count_include_pad),
                                        None if divisor_override is None else int(divisor_override)))
    return out.squeeze(0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


# ---- adaptive pooling ----------------------------------------------------------------------

def _adaptive_bounds(S, O):
    o = np.arange(O)
    return (o * S) // O, -((-(o + 1) * S) // O)


def _adaptive_matrix(xp, S, O, dtype):
    """(O, S) averaging matrix of PyTorch's adaptive windows."""
    start, end = _adaptive_bounds(S, O)
    i = np.arange(S)
    inside = (i[None, :] >= start[:, None]) & (i[None, :] < end[:, None])
    return xp.asarray((inside / (end - start)[:, None]).astype(dtype))


def _apply_per_axis(xp, x, mats):
    """Apply mats[i] (Out_i, In_i) along spatial axis i of x (N, C, *S)."""
    for i, m in enumerate(mats):
        if m is None:
            continue
        x = xp.moveaxis(xp.tensordot(m, x, axes=([1], [2 + i])), 0, 2 + i)
    return xp.ascontiguousarray(x)


def _divisible(in_sp, out_sp):
    return all(S % O == 0 for S, O in zip(in_sp, out_sp))


def _split_shape(lead, in_sp, out_sp):
    shape = list(lead)
    for S, O in zip(in_sp, out_sp):
        shape += [O, S // O]
    return shape


class _AdaptiveAvgPoolNd(LinearMap):

    @staticmethod
    def forward(ctx, x, in_sp, out_sp):
        xp = _xp(x)
        nd = len(in_sp)
        if _divisible(in_sp, out_sp):
            # equal windows: sum each over its own axes of a reshaped view (einsum is much
            # faster than mean over several split axes)
            split = x.reshape(_split_shape(x.shape[:2], in_sp, out_sp))
            letters = "abcdefghij"[:split.ndim]
            kept = letters[:2] + "".join(letters[2 + 2 * i] for i in range(nd))
            k = math.prod(S // O for S, O in zip(in_sp, out_sp))
            if x.dtype.kind != "f":
                return split.mean(axis=tuple(3 + 2 * i for i in range(nd))).astype(x.dtype)
            return xp.einsum(f"{letters}->{kept}", split) / x.dtype.type(k)
        mats = [None if S == O else _adaptive_matrix(xp, S, O, x.dtype) for S, O in zip(in_sp, out_sp)]
        return _apply_per_axis(xp, x, mats)


class AdaptiveAvgPoolGrad(LinearMap):
    name = "adaptive_avg_pool_backward"

    @staticmethod
    def forward(ctx, g, in_sp, out_sp):
        xp = _xp(g)
        nd = len(in_sp)
        if _divisible(in_sp, out_sp):
            k = math.prod(S // O for S, O in zip(in_sp, out_sp))
            shape = _split_shape(g.shape[:2], in_sp, out_sp)
            unit = list(shape)
            for i in range(nd):
                unit[3 + 2 * i] = 1
            return (xp.broadcast_to(g.reshape(unit), shape) / g.dtype.type(k)).reshape(g.shape[:2] + tuple(in_sp))
        mats = [None if S == O else _adaptive_matrix(xp, S, O, g.dtype).T for S, O in zip(in_sp, out_sp)]
        return _apply_per_axis(xp, g, mats)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    name = "adaptive_avg_pool1d"
    backward_name = "AdaptiveAvgPool1DBackward0"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    name = "adaptive_avg_pool2d"
    backward_name = "AdaptiveAvgPool2DBackward0"


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    name = "adaptive_avg_pool3d"
    backward_name = "AdaptiveAvgPool3DBackward0"


_ADAPTIVE_AVG_OPS = {1: AdaptiveAvgPool1d, 2: AdaptiveAvgPool2d, 3: AdaptiveAvgPool3d}
for _op in _ADAPTIVE_AVG_OPS.values():
    _op.adjoint = AdaptiveAvgPoolGrad
AdaptiveAvgPoolGrad.adjoint = AdaptiveAvgPool2d


def _adaptive_out(op, nd, input, output_size):
    x, unbatched = _batched(input, nd, op)
    in_sp = tuple(x._data.shape[2:])
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise RuntimeError(f"{op}: output_size must be {nd}, but got output_size={list(output_size)}")
        out_sp = tuple(S if o is None else int(o) for S, o in zip(in_sp, output_size))
    else:
        out_sp = (int(output_size),) * nd
    if any(o < 0 for o in out_sp):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0, but got "
                           f"{list(out_sp)}")
    return x, unbatched, in_sp, out_sp


def _adaptive_avg(nd, input, output_size):
    op = f"adaptive_avg_pool{nd}d"
    x, unbatched, in_sp, out_sp = _adaptive_out(op, nd, input, output_size)
    out = dispatch(_ADAPTIVE_AVG_OPS[nd], (x,), (in_sp, out_sp))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


class IndexScatterAdd(LinearMap):
    """(N, C, *out) values added into zeros (N, C, *in) at flat per-plane indices."""
    name = "index_scatter_add"

    @staticmethod
    def forward(ctx, g, idx, in_sp):
        xp = _xp(g)
        N, C = g.shape[:2]
        L = math.prod(in_sp)
        planes = xp.arange(N * C, dtype=np.int64).reshape(N * C, 1) * L
        where = (planes + idx.reshape(N * C, -1)).ravel()
        summed = xp.bincount(where, weights=g.ravel(), minlength=N * C * L)
        return summed.astype(g.dtype, copy=False).reshape((N, C) + tuple(in_sp))


class IndexGather(LinearMap):
    """Values of (N, C, *in) at flat per-plane indices (N, C, *out)."""
    name = "index_gather"

    @staticmethod
    def forward(ctx, h, idx, in_sp):
        xp = _xp(h)
        N, C = h.shape[:2]
        flat = h.reshape(N, C, -1)
        return xp.take_along_axis(flat, idx.reshape(N, C, -1), axis=2).reshape(idx.shape)


IndexScatterAdd.adjoint = IndexGather
IndexGather.adjoint = IndexScatterAdd


class _AdaptiveMaxPoolNd(Op):
    multi_output = True

    @staticmethod
    def forward(ctx, x, in_sp, out_sp):
        xp = _xp(x)
        nd = len(in_sp)
        N, C = x.shape[:2]
        bounds = [_adaptive_bounds(S, O) for S, O in zip(in_sp, out_sp)]
        kmax = tuple(int((e - s).max()) for s, e in bounds)
        low = _lowest(x.dtype)
        out = xp.full((N, C) + tuple(out_sp), low, dtype=x.dtype)
        idx = xp.zeros(out.shape, dtype=np.int64)
        first = True
        is_float = x.dtype.kind == "f"
        for offs in np.ndindex(*kmax):
            v = x
            valid = np.ones((), dtype=bool)
            flat = np.zeros((), dtype=np.int64)
            for i, (o, (s, e)) in enumerate(zip(offs, bounds)):
                pos = s + o
                ok = pos < e
                v = xp.take(v, xp.asarray(np.minimum(pos, in_sp[i] - 1)), axis=2 + i)
                valid = np.logical_and.outer(valid, ok)
                flat = np.add.outer(flat * in_sp[i], np.minimum(pos, in_sp[i] - 1))
            valid_x = xp.asarray(valid)
            if not valid.all():
                v = xp.where(valid_x, v, x.dtype.type(low))
            flat_x = xp.asarray(flat)
            if first:
                out[...] = v
                idx[...] = flat_x
                first = False
                continue
            # invalid slots hold the lowest value, so they never win; a later offset has a
            # larger flat index, so a running maximum of better*flat tracks the arg-max
            better = v > out
            if is_float:
                better |= xp.isnan(v)
            xp.maximum(idx, better * flat_x, out=idx)
            xp.maximum(out, v, out=out)
        ctx.idx = idx
        ctx.in_sp = tuple(in_sp)
        return out, idx

    @staticmethod
    def backward(ctx, F, g, *_):
        return _sub(F, IndexScatterAdd, (g,), (ctx.idx, ctx.in_sp))


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    name = "adaptive_max_pool1d"
    backward_name = "AdaptiveMaxPool1DBackward0"


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    name = "adaptive_max_pool2d"
    backward_name = "AdaptiveMaxPool2DBackward0"


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    name = "adaptive_max_pool3d"
    backward_name = "AdaptiveMaxPool3DBackward0"


_ADAPTIVE_MAX_OPS = {1: AdaptiveMaxPool1d, 2: AdaptiveMaxPool2d, 3: AdaptiveMaxPool3d}


def _adaptive_max(nd, input, output_size, return_indices):
    op = f"adaptive_max_pool{nd}d"
    x, unbatched, in_sp, out_sp = _adaptive_out(op, nd, input, output_size)
    if any(o == 0 for o in out_sp):
        raise RuntimeError(f"{op}: output_size must be greater than 0, but got {list(out_sp)}")
    out, idx = dispatch(_ADAPTIVE_MAX_OPS[nd], (x,), (in_sp, out_sp))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(2, input, output_size, True)


# ---- max_unpool -----------------------------------------------------------------------------

class _MaxUnpoolNd(Op):
    """Place each value at its index in a zero plane (the last write wins on repeated indices)."""

    @staticmethod
    def forward(ctx, x, idx, out_sp):
        xp = _xp(x)
        N, C = x.shape[:2]
        L = math.prod(out_sp)
        out = xp.zeros((N * C, L), dtype=x.dtype)
        rows = xp.arange(N * C, dtype=np.int64).reshape(N * C, 1)
        out[rows, idx.reshape(N * C, -1)] = x.reshape(N * C, -1)
        ctx.idx = idx
        return out.reshape((N, C) + tuple(out_sp))

    @staticmethod
    def backward(ctx, F, g):
        return _sub(F, IndexGather, (g,), (ctx.idx, ctx.params[0])), None


class MaxUnpool1d(_MaxUnpoolNd):
    name = "max_unpool1d"
    backward_name = "MaxUnpool1DBackward0"


class MaxUnpool2d(_MaxUnpoolNd):
    name = "max_unpool2d"
    backward_name = "MaxUnpool2DBackward0"


class MaxUnpool3d(_MaxUnpoolNd):
    name = "max_unpool3d"
    backward_name = "MaxUnpool3DBackward0"


_UNPOOL_OPS = {1: MaxUnpool1d, 2: MaxUnpool2d, 3: MaxUnpool3d}


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    op = f"max_unpool{nd}d"
    x, unbatched = _batched(input, nd, op)
    if not isinstance(indices, Tensor) or indices._data.dtype != np.int64:
        raise RuntimeError(f"{op}: expected 'indices' to be an int64 tensor (as returned by max_pool{nd}d "
                           "with return_indices=True)")
    idx = indices.unsqueeze(0) if unbatched else indices
    if tuple(idx._data.shape) != tuple(x._data.shape):
        raise RuntimeError(f"{op}: expected indices of the same shape as input {list(input.shape)}, but got "
                           f"{list(indices.shape)}")
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", op)
    pad = _tuple(padding, nd, "padding", op)
    in_sp = tuple(x._data.shape[2:])
    default = tuple((S - 1) * s - 2 * p + k for S, s, p, k in zip(in_sp, stride, pad, kernel))
    if output_size is None:
        out_sp = default
    else:
        out_sp = tuple(int(o) for o in output_size)
        if len(out_sp) == nd + 2:
            out_sp = out_sp[2:]
        elif len(out_sp) == nd + 1:
            out_sp = out_sp[1:]
        if len(out_sp) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or {nd + 2} elements, but "
                             f"it has a length of '{len(output_size)}'")
        for o, d, s in zip(out_sp, default, stride):
            if not d - s < o < d + s:
                raise ValueError(f"{op}: invalid output_size {list(output_size)} (dim should be between "
                                 f"{[d - s for d in default]} and {[d + s for d in default]})")
    L = math.prod(out_sp)
    iv = idx._data
    if iv.size and (int(iv.min()) < 0 or int(iv.max()) >= L):
        raise RuntimeError(f"{op}: found an invalid max index {int(iv.max()) if int(iv.max()) >= L else int(iv.min())}"
                           f" (output volumes are of size {'x'.join(map(str, out_sp))})")
    out = dispatch(_UNPOOL_OPS[nd], (x, idx), (out_sp,))
    return out.squeeze(0) if unbatched else out


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ---- power-average pooling ------------------------------------------------------------------

def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    kernel = _tuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d")
    pooled = _avg_pool(nd, input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None)
    return (pooled.sign() * pooled.abs().relu()).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
]
