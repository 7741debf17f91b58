"""Resampling and patch ops: interpolate / upsample*, unfold / fold, pixel_(un)shuffle.

Every interpolation mode is separable: along each spatial axis an output is a fixed weighted
sum of a few input samples ("taps": 1 for nearest, 2 for linear, 4 for cubic). Forward applies
the taps axis by axis with `take`; backward applies the transposed taps, which are again a
short list of gathers (an input receives from a contiguous run of outputs), so neither
direction scatters or loops over pixels. The source-coordinate arithmetic follows PyTorch's
kernels, in float32 for float32 tensors, so the sampled positions agree.
"""
import math

import numpy as np

from ... import _backend
from ..._dispatch import dispatch
from ..._tensor import Tensor
from ._conv import LinearMap, col2im_add, windows, _pad_zeros

_DIM_NAME = {1: "1D", 2: "2D", 3: "3D"}


def _xp(a):
    return _backend.xp_of(a)


# ---- taps per axis ------------------------------------------------------------------------------

def _scale_value(scale, in_size, out_size, dt):
    """PyTorch's compute_scales_value: 1/scale_factor when one was given, else in/out."""
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(in_size) / dt(out_size)


def _area_scale(in_size, out_size, align_corners, scale, dt):
    if align_corners:
        return dt(in_size - 1) / dt(out_size - 1) if out_size > 1 else dt(0)
    return _scale_value(scale, in_size, out_size, dt)


def _source_index(ratio, out_size, align_corners, cubic, dt):
    o = np.arange(out_size, dtype=dt)
    if align_corners:
        return ratio * o
    src = ratio * (o + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _nearest_taps(in_size, out_size, scale, exact):
    o = np.arange(out_size)
    if not exact and out_size == in_size:
        idx = o
    elif not exact and out_size == 2 * in_size:
        idx = o >> 1
    else:
        s = _scale_value(scale, in_size, out_size, np.float32)
        pos = (o.astype(np.float32) + np.float32(0.5)) * s if exact else o.astype(np.float32) * s
        idx = np.minimum(np.floor(pos).astype(np.int64), in_size - 1)
    return [(idx.astype(np.int64), None)]


def _linear_taps(in_size, out_size, align_corners, scale, dt):
    if out_size == in_size:
        return [(np.arange(out_size), None)]
    ratio = _area_scale(in_size, out_size, align_corners, scale, dt)
    src = _source_index(ratio, out_size, align_corners, False, dt)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam1 = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    i1 = i0 + (i0 < in_size - 1)
    return [(i0, (dt(1) - lam1).astype(dt)), (i1, lam1)]


def _cubic_taps(in_size, out_size, align_corners, scale, dt):
    A = dt(-0.75)
    ratio = _area_scale(in_size, out_size, align_corners, scale, dt)
    src = _source_index(ratio, out_size, align_corners, True, dt)
    i = np.floor(src)
    t = (src - i).astype(dt)
    i = i.astype(np.int64)

    def conv1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def conv2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    one = dt(1)
    coeffs = (conv2(t + one), conv1(t), conv1(one - t), conv2(one - t + one))
    return [(np.clip(i - 1 + k, 0, in_size - 1), c.astype(dt)) for k, c in enumerate(coeffs)]


def _aa_taps(in_size, out_size, align_corners, scale, dt, cubic):
    """Antialiased (downsampling) taps: PyTorch's separable AA filter, normalised per output."""
    ratio = float(_area_scale(in_size, out_size, align_corners, scale, np.float64))
    interp_size = 4 if cubic else 2
    support = (interp_size / 2) * ratio if ratio >= 1.0 else interp_size * 0.5
    o = np.arange(out_size, dtype=np.float64)
    center = ratio * (o + 0.5)
    invscale = 1.0 / ratio if ratio >= 1.0 else 1.0
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xsize = np.minimum((center + support + 0.5).astype(np.int64), in_size) - xmin
    width = int(xsize.max())

    def filt(x):
        x = np.abs(x)
        if cubic:
            a = -0.5
            return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                            np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))
        return np.where(x < 1, 1 - x, 0.0)

    j = np.arange(width)
    pos = xmin[:, None] + j[None, :]
    w = filt((pos - center[:, None] + 0.5) * invscale) * (j[None, :] < xsize[:, None])
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total != 0, w / np.where(total == 0, 1, total), 0)
    idx = np.minimum(pos, in_size - 1)
    return [(idx[:, k], w[:, k].astype(dt)) for k in range(width)]


def _transpose_taps(taps, in_size, out_size):
    """Taps of the adjoint map (output gradients gathered onto each input position).

    Each tap's source index is non-decreasing in the output position, so the outputs that read
    input i through a tap form one contiguous run, found with searchsorted."""
    result = []
    positions = np.arange(in_size)
    for idx, w in taps:
        lo = np.searchsorted(idx, positions, side="left")
        hi = np.searchsorted(idx, positions, side="right")
        for r in range(int((hi - lo).max()) if in_size else 0):
            src = lo + r
            valid = src < hi
            src = np.minimum(src, out_size - 1)
            weight = valid if w is None else np.where(valid, w[src], 0)
            result.append((src, weight.astype(w.dtype if w is not None else np.float64)))
    return result


def _apply_taps(x, axis, taps):
    xp = _xp(x)
    shape = [1] * x.ndim
    out = None
    for idx, w in taps:
        v = xp.take(x, xp.asarray(idx), axis=axis)
        if w is not None:
            shape[axis] = w.shape[0]
            v *= xp.asarray(w).astype(x.dtype, copy=False).reshape(shape)
        if out is None:
            out = v
        else:
            out += v
    return out


class _Resample(LinearMap):
    """Applies per-axis taps: params = (maps,), maps[i] = (forward taps, adjoint taps) or None."""

    @staticmethod
    def forward(ctx, x, maps):
        for i, m in enumerate(maps):
            if m is not None:
                x = _apply_taps(x, 2 + i, m[0])
        return x


class ResampleGrad(LinearMap):
    name = "upsample_backward"

    @staticmethod
    def forward(ctx, g, maps):
        for i, m in enumerate(maps):
            if m is not None:
                g = _apply_taps(g, 2 + i, m[1])
        return g


_RESAMPLE_OPS = {}


def _resample_op(mode, nd, antialias=False):
    key = (mode, nd, antialias)
    op = _RESAMPLE_OPS.get(key)
    if op is None:
        base = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
                "bilinear": "Bilinear", "trilinear": "Trilinear", "bicubic": "Bicubic"}[mode]
        aa = "Aa" if antialias else ""
        op_name = "upsample_" + mode.replace("-", "_") + f"{nd}d" + ("_aa" if antialias else "")
        op = type(f"Upsample{base}{nd}d", (_Resample,),
                  {"name": op_name, "backward_name": f"Upsample{base}{_DIM_NAME[nd]}{aa}Backward0",
                   "adjoint": ResampleGrad})
        _RESAMPLE_OPS[key] = op
    return op


ResampleGrad.adjoint = _resample_op("nearest", 2)


def _resample(input, mode, out_sp, scales, align_corners, antialias=False):
    x = input._data
    nd = x.ndim - 2
    in_sp = tuple(x.shape[2:])
    if any(o <= 0 for o in out_sp) or any(s <= 0 for s in in_sp):
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input ({', '.join(map(str, in_sp))}) "
            f"output ({', '.join(map(str, out_sp))})")
    dt = np.float64 if x.dtype == np.float64 else np.float32
    maps = []
    for S, O, sc in zip(in_sp, out_sp, scales):
        if mode in ("nearest", "nearest-exact"):
            taps = _nearest_taps(S, O, sc, mode == "nearest-exact")
        elif antialias:
            taps = _aa_taps(S, O, align_corners, sc, dt, mode == "bicubic")
        elif mode == "bicubic":
            taps = _cubic_taps(S, O, align_corners, sc, dt)
        else:
            taps = _linear_taps(S, O, align_corners, sc, dt)
        if len(taps) == 1 and taps[0][1] is None and S == O and np.array_equal(taps[0][0], np.arange(O)):
            maps.append(None)
            continue
        maps.append((taps, _transpose_taps(taps, S, O)))
    return dispatch(_resample_op(mode, nd, antialias), (input,), (tuple(maps),))


_ALIGN_MODES = ("linear", "bilinear", "bicubic", "trilinear")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not {type(input).__name__}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _ALIGN_MODES:
        if align_corners is None:
            align_corners = False
    else:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
            f"nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact (got {mode})")
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(input.shape[2:])} and output size of {size}. Please provide "
                    "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
            output_size = [int(s) for s in size]
        else:
            output_size = [int(size)] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input "
                    f"with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                    f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [math.floor(float(input.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D "
                         "tensor as input")
    if output_size is None:
        output_size = [int(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
    scales = scale_factors if scale_factors is not None else [None] * max(dim, 0)

    needs = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
    if mode in ("nearest", "nearest-exact") and input.dim() in (3, 4, 5):
        return _resample(input, mode, tuple(output_size), scales, None)
    if mode == "area" and input.dim() in (3, 4, 5):
        from ._pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1](input, output_size)
    if mode in needs:
        if input.dim() == needs[mode]:
            return _resample(input, mode, tuple(output_size), scales, bool(align_corners), bool(antialias))
        if input.dim() in (3, 4, 5):
            raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {needs[mode]}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
        f"nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact (got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- unfold / fold (im2col / col2im) -------------------------------------------------------------

def _pair(v, name, op):
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = (v[0], v[0])
        if len(v) != 2:
            raise RuntimeError(f"{op}: {name} must be an int or a tuple of two ints, got {list(v)}")
        return tuple(int(a) for a in v)
    return (int(v), int(v))


class Im2Col(LinearMap):
    """(N, C, H, W) -> (N, C*kh*kw, L): every sliding block as a column."""
    name = "im2col"
    backward_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, in_sp, kernel, dilation, padding, stride):
        xpad = _pad_zeros(x, padding, padding)
        out_sp = _blocks(in_sp, kernel, dilation, padding, stride)
        w = windows(xpad, kernel, stride, dilation, out_sp)
        N, C = x.shape[:2]
        return w.reshape(N, C * math.prod(kernel), math.prod(out_sp))


class Col2Im(LinearMap):
    """(N, C*kh*kw, L) -> (N, C, H, W): blocks summed back where they overlap."""
    name = "col2im"
    backward_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, in_sp, kernel, dilation, padding, stride):
        xp = _xp(cols)
        N = cols.shape[0]
        K = math.prod(kernel)
        C = cols.shape[1] // K
        out_sp = _blocks(in_sp, kernel, dilation, padding, stride)
        P = tuple(s + 2 * p for s, p in zip(in_sp, padding))
        buf = xp.zeros((N * C, 1) + P, dtype=cols.dtype)
        col2im_add(buf, cols.reshape((N * C, K, 1) + out_sp), kernel, stride, dilation, out_sp)
        crop = buf[(slice(None), 0) + tuple(slice(p, p + s) for p, s in zip(padding, in_sp))]
        return xp.ascontiguousarray(crop).reshape((N, C) + tuple(in_sp))


Im2Col.adjoint = Col2Im
Col2Im.adjoint = Im2Col


def _blocks(in_sp, kernel, dilation, padding, stride):
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, d, p, st in zip(in_sp, kernel, dilation, padding, stride))


def _check_geometry(op, kernel, dilation, padding, stride):
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel size should be greater than zero, but got kernel_size={kernel}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation={dilation}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: padding should be non-negative, but got padding={padding}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride should be greater than zero, but got stride={stride}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold(): argument 'input' must be Tensor, not {type(input).__name__}")
    kernel, dilation = _pair(kernel_size, "kernel_size", "unfold"), _pair(dilation, "dilation", "unfold")
    padding, stride = _pair(padding, "padding", "unfold"), _pair(stride, "stride", "unfold")
    _check_geometry("unfold", kernel, dilation, padding, stride)
    if input.dim() not in (3, 4):
        raise RuntimeError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D); unfold extracts "
            "2-D blocks from (N, C, H, W) or (C, H, W)")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    in_sp = tuple(x._data.shape[2:])
    out_sp = _blocks(in_sp, kernel, dilation, padding, stride)
    if any(o < 1 for o in out_sp):
        raise RuntimeError(
            f"Given input with spatial size {list(in_sp)}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, calculated shape of the array of sliding blocks as {list(out_sp)}, but its "
            "components must be at least one.")
    out = dispatch(Im2Col, (x,), (in_sp, kernel, dilation, padding, stride))
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    if not isinstance(input, Tensor):
        raise TypeError(f"fold(): argument 'input' must be Tensor, not {type(input).__name__}")
    out_size = _pair(output_size, "output_size", "fold")
    kernel, dilation = _pair(kernel_size, "kernel_size", "fold"), _pair(dilation, "dilation", "fold")
    padding, stride = _pair(padding, "padding", "fold"), _pair(stride, "stride", "fold")
    _check_geometry("fold", kernel, dilation, padding, stride)
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.dim()}D)")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    K = math.prod(kernel)
    if x.shape[1] % K:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={x.shape[1]} and kernel_size={kernel}")
    blocks = _blocks(out_size, kernel, dilation, padding, stride)
    if any(b < 1 for b in blocks) or x.shape[2] != math.prod(blocks):
        raise RuntimeError(
            f"Given output_size={out_size}, kernel_size={kernel}, dilation={dilation}, padding={padding}, "
            f"stride={stride}, expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {' * '.join(map(str, blocks))} = {math.prod(blocks)}, but got input.size(2)={x.shape[2]}.")
    out = dispatch(Col2Im, (x,), (out_size, kernel, dilation, padding, stride))
    return out.squeeze(0) if unbatched else out


# ---- pixel shuffle ------------------------------------------------------------------------------

def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} "
            "dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={C} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, C // (r * r), r, r, H, W)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, C // (r * r), H * r, W * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.dim()} "
            "dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, C, H, W = input.shape
    if H % r or W % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but got input of size "
            f"{list(input.shape)} and downscale_factor={r}")
    n = len(lead)
    x = input.reshape(*lead, C, H // r, r, W // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, C * r * r, H // r, W // r)


__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "unfold", "fold",
           "pixel_shuffle", "pixel_unshuffle"]
