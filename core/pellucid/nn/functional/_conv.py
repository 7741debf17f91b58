"""Convolutions (1-d, 2-d, 3-d, transposed) and im2col / col2im (unfold / fold).

One op, `convolution`, covers the plain and the transposed form; its backward needs only
itself (the input gradient of a convolution is a transposed convolution and vice versa)
and `convolution_weight_grad`, whose own backward again needs only these two, so gradients
of any order work.

Layout: the padded input is viewed with `as_strided` as (C, *kernel, N, *out) and copied once
into a (C*K, N*L) matrix, so a whole batch is one GEMM (per group, as one batched matmul)
with the weight seen as (G, O/G, C/G*K). The input gradient goes back through col2im, which
adds one strided slice per kernel offset (K is small) and never loops over pixels or items.
"""
import math

import numpy as np

from ... import _backend
from ..._dispatch import NO_CTX, Op, dispatch
from ..._tensor import Tensor
from ...ops import _F

# im2col matrices up to this size are kept from forward for the weight gradient;
# bigger ones are recomputed (cheaper than holding them for the graph's lifetime)
_CACHE_COLS_BYTES = 64 << 20


def _xp(a):
    return _backend.xp_of(a)


def _as_strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


# ---- array kernels ---------------------------------------------------------------------------

def _pad_zeros(x, pad_lo, pad_hi):
    """`x` (N, C, *S) with zeros added on each spatial side (no copy when there is no padding)."""
    if not any(pad_lo) and not any(pad_hi):
        return x
    xp = _xp(x)
    shape = x.shape[:2] + tuple(s + lo + hi for s, lo, hi in zip(x.shape[2:], pad_lo, pad_hi))
    out = xp.zeros(shape, dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for lo, s in zip(pad_lo, x.shape[2:]))] = x
    return out


def _out_size(padded, kernel, stride, dilation):
    return tuple((p - d * (k - 1) - 1) // s + 1 for p, k, s, d in zip(padded, kernel, stride, dilation))


def windows(xpad, kernel, stride, dilation, out_sp):
    """A (N, C, *kernel, *out) strided view of every window of `xpad` (N, C, *P); no copy."""
    xp = _xp(xpad)
    st = xpad.strides
    sp = st[2:]
    shape = xpad.shape[:2] + tuple(kernel) + tuple(out_sp)
    strides = st[:2] + tuple(s * d for s, d in zip(sp, dilation)) + tuple(s * k for s, k in zip(sp, stride))
    return _as_strided(xp, xpad, shape, strides)


def col2im_add(buf, cols, kernel, stride, dilation, out_sp):
    """Add `cols` (A, K, B, *out) into `buf` (A, B, *P): one strided slice per kernel offset."""
    lead = (slice(None), slice(None))
    for kidx, offs in enumerate(np.ndindex(*kernel)):
        sl = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                   for o, d, s, n in zip(offs, dilation, stride, out_sp))
        buf[lead + sl] += cols[:, kidx]
    return buf


def _im2col(x, kernel, stride, pad_lo, pad_hi, dilation):
    """(C*K, N*L) matrix of the windows of `x` (N, C, *S), and the output spatial size."""
    xpad = _pad_zeros(x, pad_lo, pad_hi)
    out_sp = _out_size(xpad.shape[2:], kernel, stride, dilation)
    w = windows(xpad, kernel, stride, dilation, out_sp)
    nd = len(kernel)
    # (C, *k, N, *out): C*K rows, N*L columns
    order = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
    C = x.shape[1]
    K = math.prod(kernel)
    L = math.prod(out_sp)
    cols = w.transpose(order).reshape(C * K, x.shape[0] * L)
    return cols, out_sp


def _gemm_groups(a, b, groups, trans_a=False, trans_b=False):
    """Batched (over groups) product of a (G*M, K) and b (G*K', N) style matrices."""
    xp = _xp(a)
    if groups == 1:
        a2 = a.T if trans_a else a
        b2 = b.T if trans_b else b
        return xp.matmul(a2, b2)
    a3 = a.reshape(groups, a.shape[0] // groups, a.shape[1])
    b3 = b.reshape(groups, b.shape[0] // groups, b.shape[1])
    if trans_a:
        a3 = a3.transpose(0, 2, 1)
    if trans_b:
        b3 = b3.transpose(0, 2, 1)
    r = xp.matmul(a3, b3)
    return r.reshape(r.shape[0] * r.shape[1], r.shape[2])


def _nchw_from_rows(rows, N, out_sp, bias):
    """(O, N*L) GEMM result -> contiguous (N, O, *out), the bias added in the same pass."""
    xp = _xp(rows)
    O = rows.shape[0]
    src = rows.reshape(O, N, -1).transpose(1, 0, 2)
    out = xp.empty((N, O, src.shape[2]), dtype=rows.dtype)
    if bias is not None:
        xp.add(src, bias.reshape(1, O, 1).astype(rows.dtype, copy=False), out=out)
    else:
        out[...] = src
    return out.reshape((N, O) + tuple(out_sp))


def _rows_from_nchw(g):
    """(N, O, *out) -> (O, N*L) contiguous."""
    N, O = g.shape[:2]
    return g.reshape(N, O, -1).transpose(1, 0, 2).reshape(O, -1)


def _depthwise(w, groups):
    """One input channel per group (depthwise): K multiply-adds beat G tiny GEMMs."""
    shape = w if isinstance(w, tuple) else w.shape
    return groups > 1 and shape[1] == 1


def _sp_letters(nd):
    return "xyz"[:nd]


def _dw_forward(x, w, bias, stride, pad_lo, pad_hi, dilation, groups):
    xp = _xp(x)
    kernel = w.shape[2:]
    nd = len(kernel)
    xpad = _pad_zeros(x, pad_lo, pad_hi)
    out_sp = _out_size(xpad.shape[2:], kernel, stride, dilation)
    view = windows(xpad, kernel, stride, dilation, out_sp)
    N, C = x.shape[:2]
    Og = w.shape[0] // C
    wk = w.reshape(C, Og, -1)
    out = xp.empty((N, C, Og) + tuple(out_sp), dtype=x.dtype)
    tmp = xp.empty_like(out)
    wshape = (1, C, Og) + (1,) * nd
    for kidx, offs in enumerate(np.ndindex(*kernel)):
        xk = view[(slice(None), slice(None)) + offs][:, :, None]
        wb = wk[:, :, kidx].reshape(wshape)
        if kidx == 0:
            xp.multiply(xk, wb, out=out)
        else:
            xp.multiply(xk, wb, out=tmp)
            out += tmp
    if bias is not None:
        out += bias.reshape(wshape).astype(out.dtype, copy=False)
    return out.reshape((N, C * Og) + tuple(out_sp))


def _dw_input_grad(g, w, bias, target_sp, stride, pad_lo, pad_hi, dilation, groups):
    xp = _xp(g)
    kernel = w.shape[2:]
    nd = len(kernel)
    N = g.shape[0]
    out_sp = tuple(g.shape[2:])
    C = groups
    Og = w.shape[0] // C
    wk = w.reshape(C, Og, -1)
    g5 = g.reshape((N, C, Og) + out_sp)
    P = tuple(t + lo + hi for t, lo, hi in zip(target_sp, pad_lo, pad_hi))
    buf = xp.zeros((N, C) + P, dtype=g.dtype)
    sp = _sp_letters(nd)
    for kidx, offs in enumerate(np.ndindex(*kernel)):
        sl = (slice(None), slice(None)) + tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                                                for o, d, s, n in zip(offs, dilation, stride, out_sp))
        if Og == 1:
            buf[sl] += g5[:, :, 0] * wk[:, 0, kidx].reshape((1, C) + (1,) * nd)
        else:
            buf[sl] += xp.einsum(f"ncj{sp},cj->nc{sp}", g5, wk[:, :, kidx])
    out = xp.ascontiguousarray(buf[(slice(None), slice(None)) +
                                   tuple(slice(lo, lo + t) for lo, t in zip(pad_lo, target_sp))])
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * nd).astype(out.dtype, copy=False)
    return out


def _dw_weight_grad(x, g, w_shape, stride, pad_lo, pad_hi, dilation, groups):
    xp = _xp(x)
    kernel = tuple(w_shape[2:])
    nd = len(kernel)
    xpad = _pad_zeros(x, pad_lo, pad_hi)
    out_sp = tuple(g.shape[2:])
    view = windows(xpad, kernel, stride, dilation, out_sp)
    N, C = x.shape[:2]
    Og = w_shape[0] // C
    g5 = g.reshape((N, C, Og) + out_sp)
    sp = _sp_letters(nd)
    gw = xp.empty((C, Og, math.prod(kernel)), dtype=g.dtype)
    for kidx, offs in enumerate(np.ndindex(*kernel)):
        xk = view[(slice(None), slice(None)) + offs]
        gw[:, :, kidx] = xp.einsum(f"ncj{sp},nc{sp}->cj", g5, xk)
    return gw.reshape(w_shape)


def conv_forward(x, w, bias, stride, pad_lo, pad_hi, dilation, groups, ctx=NO_CTX):
    if _depthwise(w, groups):
        return _dw_forward(x, w, bias, stride, pad_lo, pad_hi, dilation, groups)
    kernel = w.shape[2:]
    cols, out_sp = _im2col(x, kernel, stride, pad_lo, pad_hi, dilation)
    if ctx is not NO_CTX and cols.nbytes <= _CACHE_COLS_BYTES:
        ctx.cols = cols
    w2 = w.reshape(w.shape[0], -1)
    rows = _gemm_groups(w2, cols, groups)
    return _nchw_from_rows(rows, x.shape[0], out_sp, bias)


def conv_input_grad(g, w, bias, target_sp, stride, pad_lo, pad_hi, dilation, groups):
    """The transposed convolution: `g` (N, O, *out) back onto an input of size `target_sp`."""
    if _depthwise(w, groups):
        return _dw_input_grad(g, w, bias, target_sp, stride, pad_lo, pad_hi, dilation, groups)
    xp = _xp(g)
    kernel = w.shape[2:]
    N = g.shape[0]
    out_sp = g.shape[2:]
    C = w.shape[1] * groups
    K = math.prod(kernel)
    dcols = _gemm_groups(w.reshape(w.shape[0], -1), _rows_from_nchw(g), groups, trans_a=True)
    dcols = dcols.reshape((C, K, N) + tuple(out_sp))
    P = tuple(t + lo + hi for t, lo, hi in zip(target_sp, pad_lo, pad_hi))
    buf = xp.zeros((C, N) + P, dtype=dcols.dtype)
    col2im_add(buf, dcols, kernel, stride, dilation, out_sp)
    crop = buf[(slice(None), slice(None)) + tuple(slice(lo, lo + t) for lo, t in zip(pad_lo, target_sp))]
    nd = len(kernel)
    out = xp.ascontiguousarray(crop.transpose((1, 0) + tuple(range(2, 2 + nd))))
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * nd).astype(out.dtype, copy=False)
    return out


def conv_weight_grad(x, g, w_shape, stride, pad_lo, pad_hi, dilation, groups, cols=None):
    if _depthwise(w_shape, groups):
        return _dw_weight_grad(x, g, w_shape, stride, pad_lo, pad_hi, dilation, groups)
    kernel = w_shape[2:]
    if cols is None:
        cols, _ = _im2col(x, kernel, stride, pad_lo, pad_hi, dilation)
    gw = _gemm_groups(_rows_from_nchw(g), cols, groups, trans_b=True)
    return gw.reshape(w_shape)


# ---- ops ------------------------------------------------------------------------------------

def _sub(F, op, args, params):
    """Run `op` from inside a backward: differentiably under create_graph, else on arrays."""
    if F is _F.TENSOR:
        return dispatch(op, args, params)
    return op.forward(NO_CTX, *args, *params)


def _bias_grad(F, g):
    return F.sum(g, dim=(0,) + tuple(range(2, len(g.shape))))


def _shape(a):
    return tuple(a.shape)


class LinearMap(Op):
    """An op linear in its one tensor input whose backward is the op `adjoint` (its transpose),
    run with the same params; pairs of such ops differentiate each other to any order."""
    adjoint = None

    @staticmethod
    def backward(ctx, F, g):
        return _sub(F, ctx.op.adjoint, (g,), ctx.params)


class Convolution(Op):
    """y = conv(x, w) + b, or with `transposed` its adjoint onto an output of size `target_sp`."""
    name = "convolution"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b, stride, pad_lo, pad_hi, dilation, groups, transposed, target_sp):
        if transposed:
            return conv_input_grad(x, w, b, target_sp, stride, pad_lo, pad_hi, dilation, groups)
        return conv_forward(x, w, b, stride, pad_lo, pad_hi, dilation, groups, ctx)

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.inputs
        stride, pad_lo, pad_hi, dilation, groups, transposed, _ = ctx.params
        needs = ctx.needs_input_grad
        geo = (stride, pad_lo, pad_hi, dilation, groups)
        gx = gw = gb = None
        cols = getattr(ctx, "cols", None)
        ctx.cols = None
        if not transposed:
            if needs[0]:
                gx = _sub(F, Convolution, (g, w, None), geo + (True, _shape(x)[2:]))
            if needs[1]:
                if cols is not None and F is not _F.TENSOR:
                    gw = conv_weight_grad(x, g, _shape(w), *geo, cols=cols)
                else:
                    gw = _sub(F, ConvolutionWeightGrad, (x, g), (_shape(w),) + geo)
        else:
            if needs[0]:
                gx = _sub(F, Convolution, (g, w, None), geo + (False, None))
            if needs[1]:
                gw = _sub(F, ConvolutionWeightGrad, (g, x), (_shape(w),) + geo)
        if len(needs) > 2 and needs[2]:
            gb = _bias_grad(F, g)
        return gx, gw, gb


class ConvolutionWeightGrad(Op):
    """The weight gradient of a convolution: correlate the input `x` with the output gradient."""
    name = "convolution_weight_grad"
    backward_name = "ConvolutionBackwardBackward0"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, g, w_shape, stride, pad_lo, pad_hi, dilation, groups):
        return conv_weight_grad(x, g, w_shape, stride, pad_lo, pad_hi, dilation, groups)

    @staticmethod
    def backward(ctx, F, h):
        x, g = ctx.inputs
        _, stride, pad_lo, pad_hi, dilation, groups = ctx.params
        geo = (stride, pad_lo, pad_hi, dilation, groups)
        needs = ctx.needs_input_grad
        gx = gg = None
        if needs[0]:
            gx = _sub(F, Convolution, (g, h, None), geo + (True, _shape(x)[2:]))
        if needs[1]:
            gg = _sub(F, Convolution, (x, h, None), geo + (False, None))
        return gx, gg


# ---- argument checking --------------------------------------------------------------------

def _ntuple(value, n, what):
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        vals = tuple(int(v) for v in value)
        if len(vals) == 1:
            vals = vals * n
        if len(vals) != n:
            raise RuntimeError(
                f"expected {what} to be a single integer value or a list of {n} values to match the "
                f"convolution dimensions, but got {what}={list(vals)}")
        return vals
    return (int(value),) * n


def _check_tensor(x, op, arg):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position {1 if arg == 'input' else 2}) must be "
                        f"Tensor, not {type(x).__name__}")


_SCALAR_NAME = {"float64": "Double", "float32": "Float", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_C_NAME = {"float64": "double", "float32": "float", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}


def _autocast_unifies(op, *tensors):
    """Inside pellucid.autocast the op's inputs get one dtype before it runs: no mismatch then."""
    from ...amp.autocast_mode import allows_mixed
    return allows_mixed(op, *tensors)


def _check_dtypes(op, input, weight, bias):
    xd, wd = input._data.dtype, weight._data.dtype
    mixed = xd != wd or (bias is not None and bias._data.dtype != xd)
    if mixed and not _autocast_unifies(op, input, weight, bias):
        if xd != wd:
            raise RuntimeError(
                f"expected scalar type {_SCALAR_NAME[input.dtype.name]} but found "
                f"{_SCALAR_NAME[weight.dtype.name]} ({op}: input is {input.dtype.name}, weight is "
                f"{weight.dtype.name}; use .to() to make them match)")
        raise RuntimeError(
            f"Input type ({_C_NAME.get(input.dtype.name, input.dtype.name)}) and bias type "
            f"({_C_NAME.get(bias.dtype.name, bias.dtype.name)}) should be the same")
    if type(input._data) is not type(weight._data) or (
            bias is not None and type(bias._data) is not type(input._data)):
        devs = [str(t.device) for t in (input, weight, bias) if t is not None]
        raise RuntimeError(
            f"{op}: expected all tensors to be on the same device, but found {', '.join(devs)} "
            "(input, weight, bias)")


def _unbatched(input, nd, op):
    r = input._data.ndim
    if r == nd + 1:
        return True
    if r == nd + 2:
        return False
    raise RuntimeError(
        f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input of size: "
        f"{list(input._data.shape)}")


def _conv_nd(nd, op, input, weight, bias, stride, padding, dilation, groups):
    _check_tensor(input, op, "input")
    _check_tensor(weight, op, "weight")
    unbatched = _unbatched(input, nd, op)
    if unbatched:
        input = input.unsqueeze(0)
    x, w = input._data, weight._data
    if w.ndim != nd + 2:
        raise RuntimeError(
            f"{op}: expected weight to be {nd + 2}-dimensional (out_channels, in_channels/groups, "
            f"*kernel_size), but got weight of size {list(w.shape)}")
    _check_dtypes(op, input, weight, bias)
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    kernel = w.shape[2:]
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if isinstance(padding, str):
        if padding == "valid":
            pad_lo = pad_hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = tuple(d * (k - 1) for d, k in zip(dilation, kernel))
            pad_lo = tuple(t // 2 for t in total)
            pad_hi = tuple(t - t // 2 for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pad_lo = pad_hi = _ntuple(padding, nd, "padding")
        if any(p < 0 for p in pad_lo):
            raise RuntimeError("negative padding is not supported")
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got "
            f"weight of size [{list(w.shape)}] instead")
    C = x.shape[1]
    if C != w.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
            f"{w.shape[1] * groups} channels, but got {C} channels instead")
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != w.shape[0]):
        raise RuntimeError(
            f"Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with {w.shape[0]} "
            f"elements, but got bias of size {list(bias._data.shape)} instead")
    padded = tuple(s + lo + hi for s, lo, hi in zip(x.shape[2:], pad_lo, pad_hi))
    span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(p < k for p, k in zip(padded, span)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
            f"({' x '.join(map(str, span))}). Kernel size can't be greater than actual input size")
    out = dispatch(Convolution, (input, weight, bias),
                   (stride, pad_lo, pad_hi, dilation, groups, False, None))
    return out.squeeze(0) if unbatched else out


def _conv_transpose_nd(nd, op, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_tensor(input, op, "input")
    _check_tensor(weight, op, "weight")
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    unbatched = _unbatched(input, nd, op)
    if unbatched:
        input = input.unsqueeze(0)
    x, w = input._data, weight._data
    if w.ndim != nd + 2:
        raise RuntimeError(
            f"{op}: expected weight to be {nd + 2}-dimensional (in_channels, out_channels/groups, "
            f"*kernel_size), but got weight of size {list(w.shape)}")
    _check_dtypes(op, input, weight, bias)
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    padding = _ntuple(padding, nd, "padding")
    output_padding = _ntuple(output_padding, nd, "output_padding")
    kernel = w.shape[2:]
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)) or \
            any(o < 0 for o in output_padding):
        raise RuntimeError(
            f"output padding must be smaller than either stride or dilation, but got output_padding="
            f"{list(output_padding)}, stride={list(stride)}, dilation={list(dilation)}")
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got "
            f"weight of size [{list(w.shape)}] instead")
    if x.shape[1] != w.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(w.shape)}, expected input{list(x.shape)} to have "
            f"{w.shape[0]} channels, but got {x.shape[1]} channels instead")
    out_channels = w.shape[1] * groups
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != out_channels):
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(w.shape)}, expected bias to be 1-dimensional with "
            f"{out_channels} elements, but got bias of size {list(bias._data.shape)} instead")
    target = tuple((L - 1) * s - 2 * p + d * (k - 1) + o + 1
                   for L, s, p, d, k, o in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding))
    if any(t <= 0 for t in target):
        raise RuntimeError(
            f"{op}: given input size per channel {list(x.shape[2:])}, kernel {list(kernel)}, stride "
            f"{list(stride)}, padding {list(padding)} and dilation {list(dilation)}, the calculated output "
            f"size {list(target)} is too small")
    out = dispatch(Convolution, (input, weight, bias),
                   (stride, padding, padding, dilation, groups, True, target))
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_nd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_nd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv_nd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose_nd(1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose_nd(2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose_nd(3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
