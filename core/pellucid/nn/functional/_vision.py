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
from ..._dispatch import Op, dispatch
from ..._tensor import Tensor
from ...ops import _F
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


# ---- affine_grid / grid_sample --------------------------------------------------------------------

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _linspace_from_neg_one(steps, align_corners, dt):
    if steps <= 1:
        return np.zeros(max(steps, 1), dtype=dt)
    r = np.linspace(-1, 1, steps, dtype=np.float64)
    if not align_corners:
        r = r * (steps - 1) / steps
    return r.astype(dt)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid (N, *spatial, nd) of the affine maps `theta` (N, nd, nd+1) over `size`."""
    import warnings
    from ... import ops
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{list(theta.shape)}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{list(theta.shape)}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if not (align_corners and min(spatial) == 1) and min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    dt = theta._data.dtype
    # base[..., i] runs over spatial axis nd-1-i (x first), with a trailing 1 for the translation
    axes = [_linspace_from_neg_one(n, align_corners, dt) for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack(list(reversed(mesh)) + [np.ones(tuple(spatial), dtype=dt)], axis=-1)
    base_t = ops.tensor(base.reshape(1, -1, len(spatial) + 1), device=theta.device)
    grid = ops.matmul(base_t, theta.transpose(1, 2))
    return grid.reshape(size[0], *spatial, len(spatial))


def _unnormalize(coord, size, align_corners):
    """Grid coordinate in [-1, 1] -> pixel coordinate, and d(pixel)/d(grid)."""
    if align_corners:
        return (coord + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _clip_set_grad(xp, coord, size):
    grad = ((coord > 0) & (coord < size - 1)).astype(coord.dtype)
    return xp.clip(coord, 0, size - 1), grad


def _reflect_set_grad(xp, coord, twice_low, twice_high):
    if twice_low == twice_high:
        return xp.zeros_like(coord), xp.zeros_like(coord)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = coord - low
    sign = xp.where(c < 0, -1, 1).astype(coord.dtype)
    c = xp.abs(c)
    extra = xp.fmod(c, span)
    flips = xp.floor(c / span)
    even = (flips % 2) == 0
    out = xp.where(even, extra + low, span - extra + low)
    return out, sign * xp.where(even, 1, -1).astype(coord.dtype)


def _pad_coords(xp, coord, size, padding_mode, align_corners):
    """Apply a padding mode to pixel coordinates; returns coordinates and their derivative factor."""
    if padding_mode == "border":
        return _clip_set_grad(xp, coord, size)
    if padding_mode == "reflection":
        if align_corners:
            c, g1 = _reflect_set_grad(xp, coord, 0, 2 * (size - 1))
        else:
            c, g1 = _reflect_set_grad(xp, coord, -1, 2 * size - 1)
        c, g2 = _clip_set_grad(xp, c, size)
        return c, g1 * g2
    return coord, None


def _cubic_coeffs(t, A=-0.75):
    def cc1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def cc2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    def dcc1(x):
        return (3 * (A + 2) * x - 2 * (A + 3)) * x

    def dcc2(x):
        return (3 * A * x - 10 * A) * x + 8 * A

    coeffs = (cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t))
    grads = (dcc2(t + 1), dcc1(t), -dcc1(1 - t), -dcc2(2 - t))
    return coeffs, grads


def _axis_taps(xp, coord, size, mode, padding_mode, align_corners):
    """Taps along one axis: [(integer position, weight, d weight / d coordinate)] and the factor
    d(pixel coordinate)/d(grid coordinate)."""
    ic, scale = _unnormalize(coord, size, align_corners)
    if mode == "bicubic":
        # padding applies to each tap's integer position, so it carries no gradient
        base = xp.floor(ic)
        coeffs, grads = _cubic_coeffs(ic - base)
        taps = []
        for k in range(4):
            pos = base - 1 + k
            if padding_mode != "zeros":
                pos, _ = _pad_coords(xp, pos, size, padding_mode, align_corners)
            taps.append((pos.astype(np.int64), coeffs[k], grads[k]))
        return taps, scale
    ic, pad_grad = _pad_coords(xp, ic, size, padding_mode, align_corners)
    factor = scale if pad_grad is None else pad_grad * scale
    if mode == "nearest":
        return [(xp.rint(ic).astype(np.int64), None, None)], factor
    base = xp.floor(ic)
    frac = ic - base
    pos = base.astype(np.int64)
    one = ic.dtype.type(1)
    return [(pos, one - frac, -xp.ones_like(frac)), (pos + 1, frac, xp.ones_like(frac))], factor


def _grid_taps(x, grid, mode, padding_mode, align_corners):
    """Every (flat index, weight, d weight/dx, d weight/dy) of the 2-D sampling, plus the factors."""
    xp = _xp(x)
    H, W = x.shape[2:]
    N = grid.shape[0]
    tx, fx = _axis_taps(xp, grid[..., 0], W, mode, padding_mode, align_corners)
    ty, fy = _axis_taps(xp, grid[..., 1], H, mode, padding_mode, align_corners)
    taps = []
    for py, wy, dwy in ty:
        for px, wx, dwx in tx:
            valid = (px >= 0) & (px < W) & (py >= 0) & (py < H)
            idx = (xp.clip(py, 0, H - 1) * W + xp.clip(px, 0, W - 1)).reshape(N, 1, -1)
            mask = valid.astype(x.dtype)
            if wx is None:
                taps.append((idx, mask, None, None))
                continue
            taps.append((idx, wx * wy * mask, dwx * wy * mask, wx * dwy * mask))
    return taps, fx, fy


class GridSampler2d(Op):
    name = "grid_sampler_2d"
    backward_name = "GridSampler2DBackward0"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        xp = _xp(x)
        N, C = x.shape[:2]
        flat = x.reshape(N, C, -1)
        taps, _, _ = _grid_taps(x, grid, mode, padding_mode, align_corners)
        out = None
        for idx, w, _, _ in taps:
            v = xp.take_along_axis(flat, idx, axis=2)
            v *= w.reshape(N, 1, -1)
            out = v if out is None else out + v
        return out.reshape((N, C) + tuple(grid.shape[1:3]))

    @staticmethod
    def backward(ctx, F, g):
        x, grid = ctx.inputs
        mode, padding_mode, align_corners = ctx.params
        needs = tuple(ctx.needs_input_grad[:2])
        if F is _F.TENSOR:
            # differentiable once more only as far as PyTorch is: its own backward raises
            return dispatch(GridSampler2dBackward, (g, x, grid), (mode, padding_mode, align_corners, needs))
        return _grid_sample_backward(g, x, grid, mode, padding_mode, align_corners, needs)


def _grid_sample_backward(g, x, grid, mode, padding_mode, align_corners, needs):
    xp = _xp(x)
    N, C, H, W = x.shape
    L = grid.shape[1] * grid.shape[2]
    taps, fx, fy = _grid_taps(x, grid, mode, padding_mode, align_corners)
    g3 = g.reshape(N, C, L)
    gx = ggrid = None
    if needs[0]:
        planes = (xp.arange(N * C, dtype=np.int64) * (H * W)).reshape(N, C, 1)
        where = xp.concatenate([(planes + idx).ravel() for idx, _, _, _ in taps])
        weights = xp.concatenate([(g3 * w.reshape(N, 1, L)).ravel() for _, w, _, _ in taps])
        gx = xp.bincount(where, weights=weights, minlength=N * C * H * W).astype(x.dtype).reshape(x.shape)
    if needs[1]:
        ggrid = xp.zeros(grid.shape, dtype=grid.dtype)
        if mode != "nearest":
            flat = x.reshape(N, C, -1)
            dx = xp.zeros((N, L), dtype=x.dtype)
            dy = xp.zeros((N, L), dtype=x.dtype)
            for idx, _, dwx, dwy in taps:
                gv = xp.einsum("ncl,ncl->nl", g3, xp.take_along_axis(flat, idx, axis=2))
                dx += gv * dwx.reshape(N, L)
                dy += gv * dwy.reshape(N, L)
            ggrid[..., 0] = dx.reshape(grid.shape[:3]) * fx
            ggrid[..., 1] = dy.reshape(grid.shape[:3]) * fy
    return gx, ggrid


class GridSampler2dBackward(Op):
    """grid_sample's backward as an op of its own, so create_graph=True works for the first
    derivative; differentiating it again raises, as in PyTorch."""
    name = "grid_sampler_2d_backward"
    multi_output = True

    @staticmethod
    def forward(ctx, g, x, grid, mode, padding_mode, align_corners, needs):
        gx, ggrid = _grid_sample_backward(g, x, grid, mode, padding_mode, align_corners, needs)
        xp = _xp(x)
        return (gx if gx is not None else xp.zeros_like(x), ggrid if ggrid is not None else xp.zeros_like(grid))

    @staticmethod
    def backward(ctx, F, *grads):
        raise RuntimeError("derivative for grid_sampler_2d_backward is not implemented: grid_sample supports "
                           "first derivatives only (as in PyTorch)")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample `input` (N, C, H, W) at the normalised positions `grid` (N, Ho, Wo, 2)."""
    import warnings
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if input.dim() != 4:
        raise RuntimeError(f"grid_sample: expected a 4-D input (N, C, H, W) (2-D sampling), but got input of "
                           f"size {list(input.shape)}")
    if grid.dim() != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size 2 in last dimension and the same batch size as input, "
            f"but got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if any(s == 0 for s in input.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                           f"sizes {list(input.shape)}")
    return dispatch(GridSampler2d, (input, grid), (mode, padding_mode, bool(align_corners)))


__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "unfold", "fold",
           "pixel_shuffle", "pixel_unshuffle", "affine_grid", "grid_sample"]
