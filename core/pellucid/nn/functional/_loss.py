"""Loss functions. The common losses are single ops that compute the element-wise loss, reduce
it, and back-propagate the reduced gradient in one step: cross_entropy fuses log_softmax with
the negative log-likelihood (stable, one pass), binary_cross_entropy_with_logits never
overflows. The rarer losses are compositions of pellucid ops."""
import math
import warnings

import numpy as np

from ... import _backend, _cuda_kernels
from ... import _dtype as D
from ..._dispatch import Op, dispatch
from ..._grad_mode import no_grad
from ..._tensor import Tensor
from ...ops._F import ArrayNS
from ._activation import logsigmoid, softplus

_REDUCTIONS = ("none", "mean", "sum")


def _xp(a):
    return _backend.xp_of(a)


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce_array(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    n = loss.size if denom is None else denom
    if n == 0:
        return _xp(loss).asarray(np.nan, dtype=loss.dtype)
    return (total / n).astype(loss.dtype, copy=False)


def _grad_scale(g, reduction, n):
    """Upstream gradient per element of the unreduced loss (it broadcasts against it)."""
    if reduction == "mean":
        return g / n if n else g * float("nan")
    return g


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _warn_size(name, input, target):
    if target.shape != input.shape:
        warnings.warn(
            f"{name}: Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)


def _check_tensors(name, *pairs):
    for arg, t in pairs:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(t).__name__}")


# ---- regression losses ----------------------------------------------------------------------------
class _PointwiseLoss(Op):
    """Element-wise loss of (input, target) with broadcasting, reduced in the same op."""
    save_inputs = True
    promote = "float"

    @classmethod
    def forward(cls, ctx, x, t, reduction, *extra):
        loss = cls.elementwise(x, t, *extra)
        ctx.loss_shape = loss.shape
        return _reduce_array(loss, reduction)

    @classmethod
    def backward(cls, ctx, F, g):
        x, t = ctx.inputs
        reduction = ctx.params[0]
        gs = _grad_scale(g, reduction, _numel(ctx.loss_shape))
        d = cls.derivative(F, x, t, *ctx.params[1:])
        nx, nt = ctx.needs_input_grad
        gx = gs * d if nx else None
        gt = -(gs * d) if nt else None
        if gx is not None and gx.shape != ctx.loss_shape:
            gx = F.expand(gx, ctx.loss_shape)
        if gt is not None and gt.shape != ctx.loss_shape:
            gt = F.expand(gt, ctx.loss_shape)
        return gx, gt


class MseLoss(_PointwiseLoss):
    name = "mse_loss"

    @staticmethod
    def elementwise(x, t):
        d = x - t
        return d * d

    @staticmethod
    def derivative(F, x, t):
        return 2 * (x - t)


class L1Loss(_PointwiseLoss):
    name = "l1_loss"
    backward_name = "L1LossBackward0"

    @staticmethod
    def elementwise(x, t):
        return _xp(x).abs(x - t)

    @staticmethod
    def derivative(F, x, t):
        return F.sign(x - t)


class SmoothL1Loss(_PointwiseLoss):
    name = "smooth_l1_loss"
    backward_name = "SmoothL1LossBackward0"

    @staticmethod
    def elementwise(x, t, beta):
        xp = _xp(x)
        d = xp.abs(x - t)
        if beta == 0:
            return d
        return xp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)

    @staticmethod
    def derivative(F, x, t, beta):
        d = x - t
        if beta == 0:
            return F.sign(d)
        return F.where(F.abs(d) < beta, d / beta, F.sign(d))


class HuberLoss(_PointwiseLoss):
    name = "huber_loss"

    @staticmethod
    def elementwise(x, t, delta):
        xp = _xp(x)
        d = xp.abs(x - t)
        return xp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))

    @staticmethod
    def derivative(F, x, t, delta):
        d = x - t
        return F.where(F.abs(d) < delta, d, F.sign(d) * delta)


def _pointwise(op, name, input, target, reduction, extra=(), weight=None, weighted_mean="sum/weights"):
    _check_tensors(name, ("input", input), ("target", target))
    _check_reduction(reduction)
    _warn_size(name, input, target)
    if weight is None:
        return dispatch(op, (input, target), (reduction,) + tuple(extra))
    if weight.shape != input.shape:
        raise ValueError(f"Weights and input must have the same size. ({name}: weight shape "
                         f"{list(weight.shape)}, input shape {list(input.shape)})")
    loss = dispatch(op, (input, target), ("none",) + tuple(extra)) * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if weighted_mean == "sum/weights" else loss.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _pointwise(MseLoss, "mse_loss", input, target, reduction, weight=weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _pointwise(L1Loss, "l1_loss", input, target, reduction, weight=weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta}).")
    return _pointwise(SmoothL1Loss, "smooth_l1_loss", input, target, reduction, (float(beta),))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got {delta}).")
    return _pointwise(HuberLoss, "huber_loss", input, target, reduction, (float(delta),), weight,
                      weighted_mean="mean")


# ---- classification: cross entropy and nll --------------------------------------------------------
def _log_softmax_array(x, axis=1):
    xp = _xp(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    lse = xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    shifted -= lse
    return shifted


def _class_bcast(weight, ndim):
    """weight (C,) shaped to broadcast along dim 1 of an ndim-d (N, C, ...) array."""
    return weight.reshape((1, -1) + (1,) * (ndim - 2))


class _IndexTargetLoss(Op):
    """Shared by cross_entropy and nll_loss with class-index targets (N, C, *) / (N, *)."""

    @staticmethod
    def _targets(x, t, weight, ignore_index):
        valid = t != ignore_index
        ts = _xp(t).where(valid, t, 0)
        if weight is not None:
            wt = weight[ts] * valid
        else:
            wt = valid.astype(x.dtype)
        return valid, ts, wt

    @staticmethod
    def _reduced(loss, wt, reduction):
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):    # all targets ignored: nan
                return (loss.sum() / wt.sum()).astype(loss.dtype, copy=False)
        return loss.sum() if reduction == "sum" else loss


class CrossEntropy(_IndexTargetLoss):
    """log_softmax over dim 1 followed by the (weighted, smoothed) nll of the target classes."""
    name = "cross_entropy"
    backward_name = "NllLossBackward0"
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, x, weight, t, ignore_index, reduction, smoothing):
        if type(x) is not np.ndarray:
            out = _cuda_kernels.cross_entropy_forward(ctx, x, weight, t, ignore_index, reduction, smoothing)
            if out is not None:     # CuPy: fused kernels; backward rebuilds softmax from ctx.xent_rows
                return out
        xp = _xp(x)
        # one exp pass: it gives log-sum-exp now and the softmax that backward needs
        shifted = x - x.max(axis=1, keepdims=True)
        p = xp.exp(shifted)
        total = p.sum(axis=1, keepdims=True)
        lse = xp.log(total)
        valid, ts, wt = CrossEntropy._targets(x, t, weight, ignore_index)
        picked = xp.take_along_axis(shifted, ts[:, None], axis=1)[:, 0] - lse[:, 0]
        loss = -picked * wt
        n_classes = x.shape[1]
        if smoothing > 0:
            if weight is None:
                wl = shifted.sum(axis=1) - n_classes * lse[:, 0]
            else:
                wl = (shifted * _class_bcast(weight, x.ndim)).sum(axis=1) - weight.sum() * lse[:, 0]
            loss = (1 - smoothing) * loss - (smoothing / n_classes) * wl * valid
        p /= total
        ctx.p, ctx.ts, ctx.valid, ctx.wt = p, ts, valid, wt
        ctx.reduction = reduction
        ctx.wt_sum = wt.sum()
        return CrossEntropy._reduced(loss.astype(x.dtype, copy=False), wt, reduction)

    @staticmethod
    def backward(ctx, F, g):
        weight = ctx.params[0]
        smoothing = ctx.params[-1]
        if getattr(ctx, "xent_rows", None) is not None:
            if isinstance(F, ArrayNS):
                return _cuda_kernels.cross_entropy_backward(ctx, g, ctx.inputs[0])
            _fill_from_rows(ctx)
        p, ts, valid, wt = ctx.p, ctx.ts, ctx.valid, ctx.wt
        xp = _xp(p)
        n_classes = p.shape[1]
        # d loss_i / d x_ik = A_i p_ik - B_ik with constant A, B (they depend on targets only)
        wsum = n_classes if weight is None else weight.sum()
        a = (1 - smoothing) * wt + (smoothing / n_classes) * wsum * valid
        hit = ((1 - smoothing) * wt)[:, None]
        smooth_b = None
        if smoothing > 0:
            wb = 1 if weight is None else _class_bcast(weight, p.ndim)
            smooth_b = ((smoothing / n_classes) * valid)[:, None] * wb
        gs = g[:, None] if ctx.reduction == "none" else (g / ctx.wt_sum if ctx.reduction == "mean" else g)
        if isinstance(F, ArrayNS):
            grad = p * a[:, None].astype(p.dtype, copy=False)
            at = xp.take_along_axis(grad, ts[:, None], axis=1) - hit
            xp.put_along_axis(grad, ts[:, None], at, axis=1)
            if smooth_b is not None:
                grad -= smooth_b
            grad *= gs
            return grad
        x, = ctx.inputs
        dt = p.dtype
        b = xp.zeros(p.shape, dtype=dt)
        xp.put_along_axis(b, ts[:, None], hit.astype(dt), axis=1)
        if smooth_b is not None:
            b = b + smooth_b
        grad = F.softmax(x, 1) * F.const(a[:, None].astype(dt)) - F.const(b.astype(dt))
        if ctx.reduction == "none":
            return grad * F.unsqueeze(g, 1)
        return grad * (g / float(ctx.wt_sum) if ctx.reduction == "mean" else g)


def _fill_from_rows(ctx):
    """What the create_graph backward reads, rebuilt from the fused forward's per-row results."""
    t, wt, _ = ctx.xent_rows
    x = ctx.inputs[0]._data
    ctx.p = _cuda_kernels.cross_entropy_softmax(ctx, x)
    ctx.valid = t != ctx.params[2]
    ctx.ts = _xp(t).where(ctx.valid, t, 0)
    ctx.wt = wt.astype(x.dtype)


class NllLoss(_IndexTargetLoss):
    name = "nll_loss"

    @staticmethod
    def forward(ctx, x, weight, t, ignore_index, reduction):
        valid, ts, wt = NllLoss._targets(x, t, weight, ignore_index)
        loss = -_xp(x).take_along_axis(x, ts[:, None], axis=1)[:, 0] * wt
        ctx.ts, ctx.wt, ctx.shape = ts, wt, x.shape
        ctx.reduction = reduction
        ctx.wt_sum = wt.sum()
        return NllLoss._reduced(loss.astype(x.dtype, copy=False), wt, reduction)

    @staticmethod
    def backward(ctx, F, g):
        xp = _xp(ctx.ts)
        b = xp.zeros(ctx.shape, dtype=ctx.wt.dtype)
        xp.put_along_axis(b, ctx.ts[:, None], -ctx.wt[:, None], axis=1)
        if ctx.reduction == "none":
            gs = F.unsqueeze(g, 1)
        elif ctx.reduction == "mean":
            gs = g / float(ctx.wt_sum)
        else:
            gs = g
        if isinstance(F, ArrayNS):
            b *= gs
            return b
        return F.const(b) * gs


class CrossEntropyProbs(Op):
    """Cross entropy against class probabilities (soft targets), differentiable in both."""
    name = "cross_entropy_probs"
    backward_name = "CrossEntropyBackward0"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, t, weight, reduction, smoothing):
        n_classes = x.shape[1]
        logp = _log_softmax_array(x)
        tt = t * (1 - smoothing) + smoothing / n_classes if smoothing > 0 else t
        if weight is not None:
            tt = tt * _class_bcast(weight, x.ndim)
        loss = -(logp * tt).sum(axis=1)
        ctx.logp = logp
        ctx.count = x.size // n_classes if n_classes else 0
        return _reduce_array(loss.astype(x.dtype, copy=False), reduction, ctx.count)

    @staticmethod
    def backward(ctx, F, g):
        x, t = ctx.inputs
        weight, reduction, smoothing = ctx.params
        n_classes = ctx.logp.shape[1]
        gs = F.unsqueeze(g, 1) if reduction == "none" else _grad_scale(g, reduction, ctx.count)
        wb = 1 if weight is None else _class_bcast(weight, ctx.logp.ndim)
        if isinstance(F, ArrayNS):
            xp = F.xp
            logp = ctx.logp
            p = xp.exp(logp)
        else:
            logp = F.log_softmax(x, 1)
            p = F.softmax(x, 1)
            if weight is not None:
                wb = F.const(wb)
        tt = t * (1 - smoothing) + smoothing / n_classes if smoothing > 0 else t
        twb = tt * wb
        nx, nt = ctx.needs_input_grad
        gx = (p * F.sum(twb, 1, keepdim=True) - twb) * gs if nx else None
        gt = -(1 - smoothing) * logp * wb * gs if nt else None
        return gx, gt


def _check_index_target(name, input, target, weight, n_classes):
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"{name}: expected target dtype to be Long or Byte, but got {target.dtype} "
                           f"(input shape {list(input.shape)}, target shape {list(target.shape)})")
    if input.dim() == 1:
        if target.numel() != 1 or target.dim() > 1:
            raise RuntimeError(f"{name}: 1D input (shape {list(input.shape)}) expects a 0D target, got "
                               f"target shape {list(target.shape)}")
    elif input.dim() == 2:
        if target.dim() != 1 or target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0] if target.dim() else 0}). ({name}: input shape "
                             f"{list(input.shape)}, target shape {list(target.shape)})")
    else:
        expected = [input.shape[0]] + list(input.shape[2:])
        if list(target.shape) != expected:
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)} ({name}: "
                               f"input shape {list(input.shape)})")
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)} ({name})")


def _index_target_args(name, input, target, weight, ignore_index):
    """(input, raw target array (N, *), weight array or None, squeeze-to-0d flag)."""
    if input.dim() == 0:
        raise RuntimeError(f"{name}: input tensor should be 1D or more (got a 0D input)")
    n_classes = input.shape[1] if input.dim() >= 2 else input.shape[0]
    _check_index_target(name, input, target, weight, n_classes)
    squeeze = input.dim() == 1
    if squeeze:
        input = input.unsqueeze(0)
    t = target._data.reshape(input.shape[:1] + input.shape[2:]).astype(np.int64, copy=False)
    if t.size:
        valid = t[t != ignore_index]
        if valid.size:
            lo, hi = int(valid.min()), int(valid.max())
            if lo < 0 or hi >= n_classes:
                raise IndexError(f"Target {lo if lo < 0 else hi} is out of bounds. ({name}: {n_classes} "
                                 f"classes, input shape {list(input.shape)})")
    w = None
    if weight is not None:
        w = weight._data.astype(input._data.dtype, copy=False)
    return input, t, w, squeeze


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits (N, C, *) against class indices (N, *) or probabilities (N, C, *)."""
    _check_tensors("cross_entropy", ("input", input), ("target", target))
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"cross_entropy: expected a floating point input, got {input.dtype}")
    if target._data.dtype.kind in D.FLOAT_KINDS:
        if target.shape != input.shape:
            raise RuntimeError(
                f"cross_entropy: a floating point target holds class probabilities and must have the "
                f"input's shape, but got input shape {list(input.shape)} and target shape "
                f"{list(target.shape)} (class-index targets must be int64)")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        n_classes = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
            raise RuntimeError(
                f"weight tensor should be defined either for all {n_classes} classes or no classes but "
                f"got weight tensor of shape: {list(weight.shape)} (cross_entropy)")
        squeeze = input.dim() == 1
        if squeeze:
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        w = None if weight is None else weight._data.astype(input._data.dtype, copy=False)
        out = dispatch(CrossEntropyProbs, (input, target), (w, reduction, float(label_smoothing)))
        return out.squeeze(0) if squeeze and reduction == "none" else out
    x, t, w, squeeze = _index_target_args("cross_entropy", input, target, weight, ignore_index)
    out = dispatch(CrossEntropy, (x,), (w, t, ignore_index, reduction, float(label_smoothing)))
    return out.squeeze(0) if squeeze and reduction == "none" else out


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, *) at class indices (N, *)."""
    _check_tensors("nll_loss", ("input", input), ("target", target))
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    x, t, w, squeeze = _index_target_args("nll_loss", input, target, weight, ignore_index)
    out = dispatch(NllLoss, (x,), (w, t, ignore_index, reduction))
    return out.squeeze(0) if squeeze and reduction == "none" else out


# ---- binary classification ----------------------------------------------------------------------
class BinaryCrossEntropy(Op):
    name = "binary_cross_entropy"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        xp = _xp(x)
        with np.errstate(divide="ignore"):
            # PyTorch clamps each log at -100 so that 0 * log(0) stays finite
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight
        ctx.n = loss.size
        return _reduce_array(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, F, g):
        x, t = ctx.inputs
        weight, reduction = ctx.params
        gs = _grad_scale(g, reduction, ctx.n)
        if weight is not None:
            gs = gs * (weight if isinstance(F, ArrayNS) else F.const(weight))
        nx, nt = ctx.needs_input_grad
        gx = gt = None
        if nx:
            denom = F.maximum((1 - x) * x, F.full_like(x, 1e-12)) if not isinstance(F, ArrayNS) \
                else F.xp.maximum((1 - x) * x, 1e-12)
            gx = gs * (x - t) / denom
        if nt:
            gt = gs * (F.log1p(-x) - F.log(x))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w [t log x + (1 - t) log(1 - x)] for probabilities x (each log clamped at -100)."""
    _check_tensors("binary_cross_entropy", ("input", input), ("target", target))
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    x = input._data
    if x.size and (bool((x < 0).any()) or bool((x > 1).any())):
        raise RuntimeError("all elements of input should be between 0 and 1 (binary_cross_entropy "
                           "expects probabilities; use binary_cross_entropy_with_logits for logits)")
    if input.dtype != target.dtype:
        target = target.to(input.dtype)
    w = None
    if weight is not None:
        w = _xp(x).broadcast_to(weight._data, np.broadcast_shapes(weight._data.shape, x.shape))
        w = w.astype(x.dtype, copy=False)
    return dispatch(BinaryCrossEntropy, (input, target), (w, reduction))


class BinaryCrossEntropyWithLogits(Op):
    name = "binary_cross_entropy_with_logits"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        xp = _xp(x)
        # log(1 + exp(-|x|)) + max(-x, 0) = softplus(-x), never overflowing
        sp_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        if pos_weight is not None:
            loss = (1 - t) * x + ((pos_weight - 1) * t + 1) * sp_neg
        else:
            loss = (1 - t) * x + sp_neg
        if weight is not None:
            loss = loss * weight
        ctx.n = loss.size
        ctx.loss_shape = loss.shape
        return _reduce_array(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, F, g):
        x, t = ctx.inputs
        weight, pos_weight, reduction = ctx.params
        array = isinstance(F, ArrayNS)
        gs = _grad_scale(g, reduction, ctx.n)
        if weight is not None:
            gs = gs * (weight if array else F.const(weight))
        pw = None if pos_weight is None else (pos_weight if array else F.const(pos_weight))
        nx, nt = ctx.needs_input_grad
        gx = gt = None
        if nx:
            s = _sigmoid_any(F, x)
            if pw is not None:
                pt = pw * t
                gx = gs * ((pt + 1 - t) * s - pt)
            else:
                gx = gs * (s - t)
            if gx.shape != ctx.loss_shape:
                gx = F.expand(gx, ctx.loss_shape)
        if nt:
            if pw is not None:
                gt = gs * (_logsigmoid_any(F, -x) - pw * _logsigmoid_any(F, x))
            else:
                gt = gs * -x
            if gt.shape != ctx.loss_shape:
                gt = F.expand(gt, ctx.loss_shape)
        return gx, gt


def _sigmoid_any(F, x):
    if isinstance(F, ArrayNS):
        from ._activation import _stable_sigmoid
        return _stable_sigmoid(F.xp, x)
    return F.sigmoid(x)


def _logsigmoid_any(F, x):
    if isinstance(F, ArrayNS):
        xp = F.xp
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
    return logsigmoid(x)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross entropy of sigmoid(input), computed stably from the logits."""
    _check_tensors("binary_cross_entropy_with_logits", ("input", input), ("target", target))
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    if input.dtype != target.dtype:
        target = target.to(input.dtype)
    dt = input._data.dtype
    w = None if weight is None else weight._data.astype(dt, copy=False)
    pw = None if pos_weight is None else pos_weight._data.astype(dt, copy=False)
    return dispatch(BinaryCrossEntropyWithLogits, (input, target), (w, pw, reduction))


# ---- distribution losses --------------------------------------------------------------------------
class KlDiv(Op):
    name = "kl_div"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, t, reduction, log_target):
        xp = _xp(x)
        if log_target:
            loss = xp.exp(t) * (t - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                xlogx = xp.where(t > 0, t * xp.log(xp.where(t > 0, t, 1)), 0)
            loss = xlogx - t * x
        ctx.loss_shape = loss.shape
        ctx.batch = batch = x.shape[0] if x.ndim else 1     # ctx stores nothing without a graph
        if reduction == "batchmean":
            total = loss.sum()
            return (total / batch).astype(loss.dtype, copy=False) if x.ndim else total
        return _reduce_array(loss.astype(np.result_type(x, t), copy=False), reduction)

    @staticmethod
    def backward(ctx, F, g):
        x, t = ctx.inputs
        reduction, log_target = ctx.params
        n = _numel(ctx.loss_shape)
        gs = g / ctx.batch if reduction == "batchmean" else _grad_scale(g, reduction, n)
        nx, nt = ctx.needs_input_grad
        gx = gt = None
        if log_target:
            et = F.exp(t)
            if nx:
                gx = -gs * et
            if nt:
                gt = gs * et * (t - x + 1)
        else:
            if nx:
                gx = -gs * t
            if nt:
                gt = gs * (F.log(t) + 1 - x)
        if gx is not None and gx.shape != ctx.loss_shape:
            gx = F.expand(gx, ctx.loss_shape)
        if gt is not None and gt.shape != ctx.loss_shape:
            gt = F.expand(gt, ctx.loss_shape)
        return gx, gt


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target (log target - input); input holds log-probabilities."""
    _check_tensors("kl_div", ("input", input), ("target", target))
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2)
    return dispatch(KlDiv, (input, target), (reduction, bool(log_target)))


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Poisson negative log-likelihood (input is the log-rate when log_input)."""
    from ... import ops
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        t = target.detach()
        stirling = t * ops.log(t) - t + 0.5 * ops.log(2 * math.pi * t)
        loss = loss + ops.where(t > 1, stirling, ops.zeros_like(t))
    return _apply_reduction(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood with (possibly per-sample) variance `var`."""
    from ... import ops
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = ops.ones_like(input) * var
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError(f"var is of incorrect size (gaussian_nll_loss: input shape {list(input.shape)}, "
                             f"var shape {list(var.shape)})")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (ops.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply_reduction(loss, reduction)


def _apply_reduction(loss, reduction):
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


# ---- margin and embedding losses ------------------------------------------------------------------
def _same_dims(name, *tensors):
    dims = [t.dim() for t in tensors]
    if len(set(dims)) != 1:
        shapes = ", ".join(f"{list(t.shape)}" for t in tensors)
        raise RuntimeError(f"{name}: All input tensors should have same dimension but got sizes: {shapes}")


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y (x1 - x2) + margin)."""
    from ... import ops
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _same_dims("margin_ranking_loss", input1, input2, target)
    return _apply_reduction(ops.clamp_min(-target * (input1 - input2) + margin, 0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y == 1, max(0, margin - x) where y == -1."""
    from ... import ops
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    zeros = ops.zeros_like(input)
    margin_part = ops.where(target != 1, ops.clamp_min(margin - input, 0), zeros)
    self_part = ops.where(target != -1, input, zeros)
    return _apply_reduction(margin_part + self_part, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x))."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    return _apply_reduction(softplus(-target * input), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where y == 1, max(0, cos(x1, x2) - margin) where y == -1."""
    from ... import ops
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: input1 and input2 must have the same shape, got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if input1.dim() not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: 1D target tensor expects 2D input tensors, but found "
                           f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = input1.dim() - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / ops.sqrt(mag1 * mag2)
    zeros = ops.zeros_like(cos)
    pos = ops.where(target == 1, 1 - cos, zeros)
    neg = ops.where(target == -1, ops.clamp_min(cos - margin, 0), zeros)
    return _apply_reduction(pos + neg, reduction)


class MultiMargin(Op):
    """sum_{j != y} max(0, margin - x_y + x_j)^p * w_y / C per sample."""
    name = "multi_margin_loss"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, t, p, margin, weight, reduction):
        xp = _xp(x)
        n, c = x.shape
        xy = xp.take_along_axis(x, t[:, None], axis=1)
        z = margin - xy + x
        mask = z > 0
        mask[xp.arange(n), t] = False
        h = xp.where(mask, z if p == 1 else z * z, 0)
        if weight is not None:
            h = h * weight[t][:, None]
        ctx.mask = mask
        ctx.z = z
        loss = (h.sum(axis=1) / c).astype(x.dtype, copy=False)
        return _reduce_array(loss, reduction)

    @staticmethod
    def backward(ctx, F, g):
        t, p, margin, weight, reduction = ctx.params
        x, = ctx.inputs
        n, c = x.shape
        xp = _xp(ctx.mask)
        gs = g[:, None] if reduction == "none" else _grad_scale(g, reduction, n)
        d = (1.0 if p == 1 else 2 * ctx.z) * ctx.mask / c
        if weight is not None:
            d = d * weight[t][:, None]
        d = xp.asarray(d, dtype=x.dtype if isinstance(F, ArrayNS) else x._data.dtype)
        d[xp.arange(n), t] = -d.sum(axis=1)
        if isinstance(F, ArrayNS):
            return d * gs
        return F.const(d) * gs


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss (p = 1 or 2) of scores (N, C) or (C,) against class indices."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.dim() not in (1, 2):
        raise RuntimeError(f"multi_margin_loss: Expected non-empty vector or matrix with optional 0-dim "
                           f"batch size, but got: {list(input.shape)}")
    squeeze = input.dim() == 1
    x = input.unsqueeze(0) if squeeze else input
    t = target._data.reshape(-1).astype(np.int64, copy=False)
    if t.shape[0] != x.shape[0]:
        raise RuntimeError(f"multi_margin_loss: inconsistent target size: {list(target.shape)} for input "
                           f"of size: {list(input.shape)}")
    if t.size and (int(t.min()) < 0 or int(t.max()) >= x.shape[1]):
        raise RuntimeError(f"multi_margin_loss: target out of range (targets must be in [0, {x.shape[1]}))")
    w = None if weight is None else weight._data.astype(x._data.dtype, copy=False)
    out = dispatch(MultiMargin, (x,), (t, p, margin, w, reduction))
    return out.squeeze(0) if squeeze and reduction == "none" else out


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per-class binary cross entropy of logits, averaged over classes."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(dim=input.dim() - 1) / input.shape[-1]
    return _apply_reduction(loss, reduction)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    from ... import ops
    diff = x1 - x2 + eps
    dim = max(x1.dim(), x2.dim()) - 1
    if p == float("inf"):
        return ops.amax(ops.abs(diff), dim, keepdim=keepdim)
    return diff.norm(p, dim, keepdim=keepdim)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with p-norm distances (swap: use min(d(a,n), d(p,n)))."""
    from ... import ops
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not (anchor.dim() == positive.dim() == negative.dim()):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
            f"{negative.dim()}D inputs")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: expected margin to be greater than 0, got {margin} instead")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _apply_reduction(ops.clamp_min(margin + d_pos - d_neg, 0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    from ... import ops
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got "
                         f"{margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = ops.minimum(d_neg, dist(positive, negative))
    return _apply_reduction(ops.clamp_min(margin + d_pos - d_neg, 0), reduction)


__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
           "gaussian_nll_loss", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "cosine_embedding_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "pairwise_distance"]
