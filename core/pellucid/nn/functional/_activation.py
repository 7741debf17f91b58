"""Activation functions. Each nn-specific activation is one element-wise op (forward and its
derivative side by side); relu, sigmoid, tanh, softmax and log_softmax are pellucid's own ops."""
import math
import warnings

import numpy as np

from ... import _backend, _cuda_kernels, _random
from ... import _dtype as D
from ..._dispatch import Op, dispatch, dispatch_inplace
from ..._tensor import Tensor
from ...ops._F import ArrayNS, array_ns

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _xp(a):
    return _backend.xp_of(a)


def _stable_sigmoid(xp, x):
    # exp of a non-positive number only: no overflow for large |x|
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid(F, x):
    if isinstance(F, ArrayNS):
        return _stable_sigmoid(F.xp, x)
    return F.sigmoid(x)


def _check_float(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._data.dtype.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f'"{name}" not implemented for \'{input.dtype}\' (input shape '
                           f"{list(input.shape)}); use a floating point tensor")


def _run(op, input, params, inplace=False):
    if inplace:
        return dispatch_inplace(op, input, (), params)
    return dispatch(op, (input,), params)


# ---- piecewise-linear ---------------------------------------------------------------------------
class Threshold(Op):
    name = "threshold"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, threshold, value):
        return _xp(x).where(x > threshold, x, x.dtype.type(value))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return F.where(x > ctx.params[0], g, F.zeros_like(g))


class Hardtanh(Op):
    name = "hardtanh"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        return _xp(x).clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        lo, hi = ctx.params
        return F.where((x > lo) & (x < hi), g, F.zeros_like(g))


class LeakyRelu(Op):
    name = "leaky_relu"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, slope):
        return _xp(x).where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return F.where(x > 0, g, g * ctx.params[0])


class Rrelu(Op):
    """Leaky ReLU with a random slope per element (training); `noise` holds the slopes."""
    name = "rrelu_with_noise"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, noise):
        return _xp(x).where(x >= 0, x, x * noise)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return F.where(x >= 0, g, g * F.const(ctx.params[0]))


class Prelu(Op):
    name = "prelu"
    backward_name = "PreluKernelBackward0"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, w):
        return _xp(x).where(x > 0, x, x * w)

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.inputs
        nx, nw = ctx.needs_input_grad
        pos = x > 0
        gx = F.where(pos, g, g * w) if nx else None
        gw = F.where(pos, F.zeros_like(g), g * x) if nw else None
        return gx, gw


class Hardshrink(Op):
    name = "hardshrink"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, lambd):
        return _xp(x).where((x > lambd) | (x < -lambd), x, x.dtype.type(0))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        lambd = ctx.params[0]
        return F.where((x > lambd) | (x < -lambd), g, F.zeros_like(g))


class Softshrink(Op):
    name = "softshrink"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, lambd):
        xp = _xp(x)
        return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, x.dtype.type(0)))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        lambd = ctx.params[0]
        return F.where((x > lambd) | (x < -lambd), g, F.zeros_like(g))


class Hardsigmoid(Op):
    name = "hardsigmoid"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return _xp(x).clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return F.where((x > -3) & (x < 3), g / 6, F.zeros_like(g))


class Hardswish(Op):
    name = "hardswish"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return x * _xp(x).clip(x + 3, 0, 6).astype(x.dtype, copy=False) / 6

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return F.where(x < -3, F.zeros_like(g), F.where(x <= 3, g * (x / 3 + 0.5), g))


# ---- smooth -------------------------------------------------------------------------------------
class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)); also SELU and CELU."""
    name = "elu"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = _xp(x)
        neg = xp.expm1(xp.minimum(x, 0) * input_scale) * (alpha * scale)
        return xp.where(x > 0, x * scale, neg).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        alpha, scale, input_scale = ctx.params
        neg = F.exp(F.minimum(x, x * 0) * input_scale) * (alpha * scale * input_scale)
        return F.where(x > 0, g * scale, g * neg)


class Gelu(Op):
    name = "gelu"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, approximate):
        if type(x) is not np.ndarray:
            out = _cuda_kernels.gelu_forward(x, approximate)     # CuPy: one fused kernel
            if out is not None:
                return out
        xp = _xp(x)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + xp.tanh(inner))
        return 0.5 * x * (1 + array_ns(x).erf(x * _INV_SQRT_2))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        if isinstance(F, ArrayNS) and type(x) is not np.ndarray:
            r = _cuda_kernels.gelu_backward(g, x, ctx.params[0])   # CuPy: one fused kernel
            if r is not None:
                return r
        if ctx.params[0] == "tanh":
            x2 = x * x
            t = F.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x2 * x))
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x2)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + F.erf(x * _INV_SQRT_2))
        pdf = F.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * (cdf + x * pdf)


class LogSigmoid(Op):
    name = "log_sigmoid"
    backward_name = "LogSigmoidBackward0"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        xp = _xp(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        return g * _sigmoid(F, -x)


class Softplus(Op):
    name = "softplus"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = _xp(x)
        bx = x * beta
        # log1p(exp(bx)) written to never overflow; above the threshold the result is x itself
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return xp.where(bx > threshold, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        beta, threshold = ctx.params
        bx = x * beta
        return F.where(bx > threshold, g, g * _sigmoid(F, bx))


class Softsign(Op):
    name = "softsign"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return x / (1 + _xp(x).abs(x))

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        d = 1 + F.abs(x)
        return g / (d * d)


class Tanhshrink(Op):
    name = "tanhshrink"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return x - _xp(x).tanh(x)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        t = F.tanh(x)
        return g * t * t


class Silu(Op):
    name = "silu"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        return x * _stable_sigmoid(_xp(x), x)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        s = _sigmoid(F, x)
        return g * s * (1 + x * (1 - s))


class Mish(Op):
    name = "mish"
    save_inputs = True

    @staticmethod
    def forward(ctx, x):
        xp = _xp(x)
        sp = xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        return x * xp.tanh(sp)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        s = _sigmoid(F, x)
        if isinstance(F, ArrayNS):
            xp = F.xp
            sp = xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        else:
            sp = F.nn.functional.softplus(x)
        t = F.tanh(sp)
        return g * (t + x * s * (1 - t * t))


class Glu(Op):
    name = "glu"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, dim):
        xp = _xp(x)
        a, b = xp.split(x, 2, axis=dim)
        return a * _stable_sigmoid(xp, b)

    @staticmethod
    def backward(ctx, F, g):
        x, = ctx.inputs
        dim = ctx.params[0]
        if isinstance(F, ArrayNS):
            a, b = F.xp.split(x, 2, axis=dim)
            s = _stable_sigmoid(F.xp, b)
            return F.xp.concatenate([g * s, g * a * s * (1 - s)], axis=dim)
        a, b = x.chunk(2, dim)
        s = F.sigmoid(b)
        return F.cat([g * s, g * a * s * (1 - s)], dim)


# ---- public functions -----------------------------------------------------------------------------
def threshold(input, threshold, value, inplace=False):
    """y = x where x > threshold, else value."""
    return _run(Threshold, input, (threshold, value), inplace)


def threshold_(input, threshold, value):
    return _run(Threshold, input, (threshold, value), True)


def relu(input, inplace=False):
    from ... import ops
    return input.relu_() if inplace else ops.relu(input)


def relu_(input):
    return input.relu_()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp to [min_val, max_val] (gradient 1 strictly inside, 0 outside)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run(Hardtanh, input, (min_val, max_val), inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def elu(input, alpha=1.0, inplace=False):
    _check_float(input, "elu")
    return _run(Elu, input, (alpha, 1.0, 1.0), inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    _check_float(input, "selu")
    return _run(Elu, input, (_SELU_ALPHA, _SELU_SCALE, 1.0), inplace)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    _check_float(input, "celu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha must not be 0")
    return _run(Elu, input, (alpha, 1.0, 1.0 / alpha), inplace)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _run(LeakyRelu, input, (float(negative_slope),), inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x); weight has 1 or C (= input.shape[1]) entries."""
    _check_float(input, "prelu")
    n = weight.numel()
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}")
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError(f"prelu: Not allow zero-dim input tensor when weight has {n} parameters")
        channels = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if channels != n:
            raise RuntimeError(
                f"prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                f"numbers = {n} and channel size = {channels} (input shape {list(input.shape)}).")
        if input.dim() >= 2:
            shape = [1] * input.dim()
            shape[1] = n
            weight = weight.reshape(shape)
    elif weight.dim() == 1 and input.dim() == 0:
        weight = weight.reshape(())
    return dispatch(Prelu, (input, weight))


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slope U(lower, upper) per element in training, (lower+upper)/2 otherwise."""
    _check_float(input, "rrelu")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    _, rng = _random.rng_for(_backend.device_of(input._data))
    dt = input._data.dtype
    draw = dt if dt in (np.float32, np.float64) else np.dtype(np.float32)
    noise = (rng.random(input._data.shape, dtype=draw) * (upper - lower) + lower).astype(dt)
    return _run(Rrelu, input, (noise,), inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of input along dim."""
    _check_float(input, "glu")
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.dim()
    if not -n <= dim < n:
        raise IndexError(f"glu: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    d = dim % n
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]} (input shape {list(input.shape)})")
    return dispatch(Glu, (input,), (d,))


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='tanh' uses the tanh formula)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")
    _check_float(input, "gelu")
    return dispatch(Gelu, (input,), (approximate,))


def logsigmoid(input):
    _check_float(input, "log_sigmoid")
    return dispatch(LogSigmoid, (input,))


def hardshrink(input, lambd=0.5):
    return dispatch(Hardshrink, (input,), (lambd,))


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return dispatch(Softshrink, (input,), (lambd,))


def tanhshrink(input):
    _check_float(input, "tanhshrink")
    return dispatch(Tanhshrink, (input,))


def softsign(input):
    _check_float(input, "softsign")
    return dispatch(Softsign, (input,))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    _check_float(input, "softplus")
    return dispatch(Softplus, (input,), (beta, threshold))


def hardsigmoid(input, inplace=False):
    _check_float(input, "hardsigmoid")
    return _run(Hardsigmoid, input, (), inplace)


def hardswish(input, inplace=False):
    _check_float(input, "hardswish")
    return _run(Hardswish, input, (), inplace)


def silu(input, inplace=False):
    _check_float(input, "silu")
    return _run(Silu, input, (), inplace)


def mish(input, inplace=False):
    _check_float(input, "mish")
    return _run(Mish, input, (), inplace)


def sigmoid(input):
    from ... import ops
    return ops.sigmoid(input)


def tanh(input):
    from ... import ops
    return ops.tanh(input)


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    from ... import ops
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return ops.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    from ... import ops
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return ops.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    from ... import ops
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return ops.softmax(-input, dim)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Softmax of (logits + Gumbel noise) / tau; `hard` returns one-hot samples with the soft
    sample's gradient (straight-through)."""
    from ... import ops
    _, rng = _random.rng_for(_backend.device_of(logits._data))
    gumbels = -_xp(logits._data).log(rng.standard_exponential(logits._data.shape)).astype(logits._data.dtype)
    y_soft = ops.softmax((logits + Tensor._make(gumbels)) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft._data.argmax(axis=dim)
    hard_arr = _xp(y_soft._data).zeros_like(y_soft._data)
    _xp(hard_arr).put_along_axis(hard_arr, _xp(hard_arr).expand_dims(index, dim), 1, axis=dim)
    return Tensor._make(hard_arr) - y_soft.detach() + y_soft


__all__ = ["threshold", "threshold_", "relu", "relu_", "hardtanh", "hardtanh_", "relu6", "elu", "elu_",
           "selu", "selu_", "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_",
           "glu", "gelu", "logsigmoid", "hardshrink", "softshrink", "tanhshrink", "softsign", "softplus",
           "hardsigmoid", "hardswish", "silu", "mish", "sigmoid", "tanh", "softmax", "log_softmax",
           "softmin", "gumbel_softmax"]
