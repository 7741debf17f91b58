"""Fused CUDA kernels for the hot spots of a training step, with a NumPy reference of each.

On a GPU, an optimizer update or an activation written with array operations launches one kernel
per operation and allocates a temporary for each intermediate; the kernels here do the whole
update in one pass over memory:

    adam / adamw (+ amsgrad)     param, exp_avg, exp_avg_sq updated in place, one kernel
    sgd with momentum            param and momentum buffer, one kernel (four variants)
    relu, sigmoid, gelu          forward one kernel, backward one kernel
    softmax + cross entropy      forward: row max, one sum-of-exp reduction, one per-row kernel;
                                 backward: one kernel that rebuilds softmax from the saved
                                 log-sum-exp (no (N, C) softmax kept between the passes)

Each public function takes raw arrays. For CuPy arrays it runs the kernel; for NumPy arrays it
runs the reference (the same arithmetic in NumPy, used by the tests to check the formulas); for
anything it does not cover (dtypes, shapes) it returns None/False so the caller keeps its own
code. Callers in optim/ops/nn only reach these for non-NumPy arrays, so the CPU path is unchanged.

Kernel sources are kept as specs (`KERNELS`) so the tests can compile the same CUDA C++ bodies
with a host C++ compiler and compare them with the references without a GPU.
"""
import math

import numpy as np

from . import _backend

# ---- kernel sources ------------------------------------------------------------------------------
# Elementwise: in-params are values (read only), out-params are references to the element, `raw`
# params are whole arrays indexed by hand, `i` is the element's index in C order. pl_acc gives
# the arithmetic type: float for float16/float32, double for float64.

PREAMBLE = r"""
// float16 is only declared (not defined) in kernels that don't use it: a template keeps its
// conversion from being compiled there
template <typename V> __device__ __forceinline__ float pl_acc(V v) { return (float)v; }
__device__ __forceinline__ float pl_acc(float v) { return v; }
__device__ __forceinline__ double pl_acc(double v) { return v; }

template <typename A> __device__ __forceinline__ A pl_gelu(A x) {
    return (A)0.5 * x * ((A)1 + erf(x * (A)0.70710678118654752440));
}
template <typename A> __device__ __forceinline__ A pl_gelu_grad(A x) {
    A cdf = (A)0.5 * ((A)1 + erf(x * (A)0.70710678118654752440));
    A pdf = exp((A)-0.5 * x * x) * (A)0.39894228040143267794;
    return cdf + x * pdf;
}
template <typename A> __device__ __forceinline__ A pl_gelu_tanh(A x) {
    A inner = (A)0.79788456080286535588 * (x + (A)0.044715 * x * x * x);
    return (A)0.5 * x * ((A)1 + tanh(inner));
}
template <typename A> __device__ __forceinline__ A pl_gelu_tanh_grad(A x) {
    A x2 = x * x;
    A t = tanh((A)0.79788456080286535588 * (x + (A)0.044715 * x2 * x));
    A d_inner = (A)0.79788456080286535588 * ((A)1 + (A)0.134145 * x2);
    return (A)0.5 * ((A)1 + t) + (A)0.5 * x * ((A)1 - t * t) * d_inner;
}
"""


class Elementwise:
    kind = "elementwise"

    def __init__(self, name, in_params, out_params, body):
        self.name, self.in_params, self.out_params, self.body = name, in_params, out_params, body

    def build(self, cp):
        return cp.ElementwiseKernel(self.in_params, self.out_params, self.body, self.name,
                                    preamble=PREAMBLE)


class Reduction:
    kind = "reduction"

    def __init__(self, name, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 reduce_type):
        self.name, self.in_params, self.out_params = name, in_params, out_params
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.reduce_type = identity, reduce_type

    def build(self, cp):
        return cp.ReductionKernel(self.in_params, self.out_params, self.map_expr, self.reduce_expr,
                                  self.post_map_expr, self.identity, self.name,
                                  reduce_type=self.reduce_type, preamble=PREAMBLE)


_ADAM_IN = "T grad, T step_size, T one_minus_beta1, T beta2, T one_minus_beta2, T bc2_sqrt, T eps, T wd, T decay"
_ADAM_HEAD = """
T g = grad;
if (wd != (T)0) g = g + wd * param;
T p = param;
if (decay != (T)1) p = p * decay;
exp_avg = exp_avg + (g - exp_avg) * one_minus_beta1;
exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * (g * g);
"""


def _sgd_body(first, nesterov):
    buf = "buf = g;" if first else "buf = buf * momentum + one_minus_dampening * g;"
    step = "g + momentum * buf" if nesterov else "buf"
    return f"""
T g = grad;
if (wd != (T)0) g = g + wd * param;
{buf}
param = param - lr * ({step});
"""


_ACC_TYPES = {"float": "float32", "double": "float64"}


def _xent_specs(acc):
    """Cross-entropy kernels accumulating in `acc` (float or double)."""
    np_acc = _ACC_TYPES[acc]
    row_body = """
bool valid = t != ignore_index;
long long k = valid ? t : 0;
{A} lse_ = ({A})m + log(s);
{A} w_ = valid ? {W} : ({A})0;
loss = -(({A})x[i * C + k] - lse_) * w_;
wt = w_;
lse = lse_;
"""
    specs = {
        f"xent_sumexp_{acc}": Reduction(
            f"pl_xent_sumexp_{acc}", "T x, T m", f"{np_acc} s", f"exp(({acc})x - ({acc})m)", "a + b",
            "s = a", "0", np_acc),
        f"xent_rows_{acc}": Elementwise(
            f"pl_xent_rows_{acc}", "raw T x, int64 t, T m, {0} s, int64 C, int64 ignore_index".format(np_acc),
            f"{np_acc} loss, {np_acc} wt, {np_acc} lse",
            row_body.format(A=acc, W=f"({acc})1")),
        f"xent_rows_weighted_{acc}": Elementwise(
            f"pl_xent_rows_weighted_{acc}",
            "raw T x, int64 t, T m, {0} s, raw T w, int64 C, int64 ignore_index".format(np_acc),
            f"{np_acc} loss, {np_acc} wt, {np_acc} lse",
            row_body.format(A=acc, W=f"({acc})w[k]")),
    }
    for per_row in (False, True):
        tag = "rows" if per_row else "scalar"
        specs[f"xent_backward_{tag}_{acc}"] = Elementwise(
            f"pl_xent_backward_{tag}_{acc}",
            f"T x, raw {np_acc} lse, raw int64 t, raw {np_acc} wt, raw {np_acc} gs, int64 C",
            "T gx",
            f"""
long long r = i / C;
long long k = i - r * C;
{acc} p = exp(({acc})x - lse[r]);
{acc} scale = wt[r] * gs[{"r" if per_row else "0"}];
gx = (T)((p - (k == t[r] ? ({acc})1 : ({acc})0)) * scale);
""")
    return specs


KERNELS = {
    "adam": Elementwise("pl_adam", _ADAM_IN, "T param, T exp_avg, T exp_avg_sq", _ADAM_HEAD + """
T denom = sqrt(exp_avg_sq) / bc2_sqrt + eps;
param = p - step_size * (exp_avg / denom);
"""),
    "adam_amsgrad": Elementwise("pl_adam_amsgrad", _ADAM_IN, "T param, T exp_avg, T exp_avg_sq, T max_exp_avg_sq",
                                _ADAM_HEAD + """
if (exp_avg_sq > max_exp_avg_sq || isnan(exp_avg_sq)) max_exp_avg_sq = exp_avg_sq;
T denom = sqrt(max_exp_avg_sq) / bc2_sqrt + eps;
param = p - step_size * (exp_avg / denom);
"""),
    "relu_forward": Elementwise("pl_relu_forward", "T x", "T y",
                                "y = (pl_acc(x) > 0 || isnan(pl_acc(x))) ? x : (T)0;"),
    # PyTorch's threshold_backward: zero where the output is <= 0, the gradient elsewhere (NaN passes)
    "relu_backward": Elementwise("pl_relu_backward", "T g, T out", "T gi", "gi = (pl_acc(out) <= 0) ? (T)0 : g;"),
    "sigmoid_forward": Elementwise("pl_sigmoid_forward", "T x", "T y", "y = (T)(1 / (1 + exp(-pl_acc(x))));"),
    "sigmoid_backward": Elementwise("pl_sigmoid_backward", "T g, T out", "T gi",
                                    "gi = (T)(pl_acc(g) * (1 - pl_acc(out)) * pl_acc(out));"),
    "gelu_forward": Elementwise("pl_gelu_forward", "T x", "T y", "y = (T)pl_gelu(pl_acc(x));"),
    "gelu_backward": Elementwise("pl_gelu_backward", "T g, T x", "T gi",
                                 "gi = (T)(pl_acc(g) * pl_gelu_grad(pl_acc(x)));"),
    "gelu_tanh_forward": Elementwise("pl_gelu_tanh_forward", "T x", "T y", "y = (T)pl_gelu_tanh(pl_acc(x));"),
    "gelu_tanh_backward": Elementwise("pl_gelu_tanh_backward", "T g, T x", "T gi",
                                      "gi = (T)(pl_acc(g) * pl_gelu_tanh_grad(pl_acc(x)));"),
}
for _first in (False, True):
    for _nesterov in (False, True):
        KERNELS[f"sgd_momentum{'_first' if _first else ''}{'_nesterov' if _nesterov else ''}"] = Elementwise(
            f"pl_sgd_momentum{'_first' if _first else ''}{'_nesterov' if _nesterov else ''}",
            "T grad, T lr, T momentum, T one_minus_dampening, T wd", "T param, T buf", _sgd_body(_first, _nesterov))
KERNELS.update(_xent_specs("float"))
KERNELS.update(_xent_specs("double"))

_compiled = {}


def kernel(name):
    """The CuPy kernel object for spec `name` (compiled by CuPy on first launch, then cached)."""
    k = _compiled.get(name)
    if k is None:
        k = _compiled[name] = KERNELS[name].build(_backend.cupy())
    return k


def _on_gpu(*arrays):
    """True when every array is a CuPy array (the kernels' domain)."""
    return all(type(a) is not np.ndarray and _backend.xp_of(a) is not np for a in arrays)


_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_OPTIM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _acc(dtype):
    return "double" if dtype == np.float64 else "float"


# ---- optimizers ------------------------------------------------------------------------------------

def adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
               decoupled, step):
    """One Adam/AdamW update of `param`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` for amsgrad)
    in place, PyTorch's single-tensor formula. `step` is the already incremented step count.
    Returns False (nothing done) for dtypes the kernel does not cover."""
    if param.dtype not in _OPTIM_DTYPES or grad.dtype != param.dtype:
        return False
    lr, beta1, beta2, eps, weight_decay, step = (float(v) for v in (lr, beta1, beta2, eps, weight_decay, step))
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    wd, decay = (0.0, 1 - lr * weight_decay) if decoupled else (weight_decay, 1.0)
    scalars = (step_size, 1 - beta1, beta2, 1 - beta2, bc2_sqrt, eps, wd, decay)
    if not _on_gpu(param):
        _adam_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars)
        return True
    if max_exp_avg_sq is None:
        kernel("adam")(grad, *scalars, param, exp_avg, exp_avg_sq)
    else:
        kernel("adam_amsgrad")(grad, *scalars, param, exp_avg, exp_avg_sq, max_exp_avg_sq)
    return True


def _adam_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, one_minus_beta1, beta2,
                    one_minus_beta2, bc2_sqrt, eps, wd, decay):
    g = grad + wd * param if wd != 0 else grad
    if decay != 1:
        param *= decay
    exp_avg += (g - exp_avg) * one_minus_beta1
    exp_avg_sq *= beta2
    exp_avg_sq += one_minus_beta2 * (g * g)
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq)
    else:
        denom = np.sqrt(exp_avg_sq)
    denom /= bc2_sqrt
    denom += eps
    param -= step_size * (exp_avg / denom)


def sgd_momentum_(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov):
    """One SGD-with-momentum update of `param` in place. `buf` is the momentum buffer, or None on
    the first step (then a new one is returned). Returns the buffer, or None when not covered."""
    if param.dtype not in _OPTIM_DTYPES or grad.dtype != param.dtype:
        return None
    lr, momentum, dampening, weight_decay = (float(v) for v in (lr, momentum, dampening, weight_decay))
    first = buf is None
    xp = _backend.xp_of(param)
    if first:
        buf = xp.empty_like(param)
    scalars = (lr, momentum, 1 - dampening, weight_decay)
    if not _on_gpu(param):
        g = grad + weight_decay * param if weight_decay != 0 else grad
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += scalars[2] * g
        param -= lr * (g + momentum * buf if nesterov else buf)
        return buf
    name = f"sgd_momentum{'_first' if first else ''}{'_nesterov' if nesterov else ''}"
    kernel(name)(grad, *scalars, param, buf)
    return buf


# ---- activations -----------------------------------------------------------------------------------

def _unary(name, x, reference):
    if x.dtype not in _FLOATS:
        return None
    if not _on_gpu(x):
        return reference(x)
    return kernel(name)(x)


def _binary(name, g, y, reference):
    if y.dtype not in _FLOATS or g.dtype != y.dtype or g.shape != y.shape:
        return None
    if not _on_gpu(g, y):
        return reference(g, y)
    return kernel(name)(g, y)


def relu_forward(x):
    return _unary("relu_forward", x, lambda a: np.where((a > 0) | np.isnan(a), a, a.dtype.type(0)))


def relu_backward(g, out):
    """PyTorch's threshold_backward: 0 where out <= 0, else g (a NaN output passes g)."""
    return _binary("relu_backward", g, out, lambda g_, o: np.where(o <= 0, g_.dtype.type(0), g_))


def sigmoid_forward(x):
    def ref(a):
        with np.errstate(over="ignore"):
            return (1 / (1 + np.exp(-a.astype(_acc_np(a))))).astype(a.dtype)
    return _unary("sigmoid_forward", x, ref)


def sigmoid_backward(g, out):
    def ref(g_, o):
        o = o.astype(_acc_np(o))
        return (g_.astype(o.dtype) * (1 - o) * o).astype(g_.dtype)
    return _binary("sigmoid_backward", g, out, ref)


def _acc_np(a):
    return np.float64 if a.dtype == np.float64 else np.float32


_INV_SQRT_2 = 0.70710678118654752440
_INV_SQRT_2PI = 0.39894228040143267794
_SQRT_2_OVER_PI = 0.79788456080286535588


def _erf(a):
    from ._special import erf
    return erf(a)


@np.errstate(invalid="ignore", over="ignore")      # NaN/inf inputs give NaN/inf, as on the GPU
def _gelu_ref(a, approximate):
    x = a.astype(_acc_np(a))
    if approximate == "tanh":
        y = 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    else:
        y = 0.5 * x * (1 + _erf(x * _INV_SQRT_2))
    return y.astype(a.dtype)


@np.errstate(invalid="ignore", over="ignore")
def _gelu_grad_ref(g, a, approximate):
    x = a.astype(_acc_np(a))
    if approximate == "tanh":
        x2 = x * x
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x2 * x))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (_SQRT_2_OVER_PI * (1 + 0.134145 * x2))
    else:
        d = 0.5 * (1 + _erf(x * _INV_SQRT_2)) + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return (g.astype(x.dtype) * d).astype(g.dtype)


def gelu_forward(x, approximate="none"):
    name = "gelu_tanh_forward" if approximate == "tanh" else "gelu_forward"
    return _unary(name, x, lambda a: _gelu_ref(a, approximate))


def gelu_backward(g, x, approximate="none"):
    name = "gelu_tanh_backward" if approximate == "tanh" else "gelu_backward"
    return _binary(name, g, x, lambda g_, a: _gelu_grad_ref(g_, a, approximate))


# ---- softmax + cross entropy (class-index targets, 2-D logits) --------------------------------------

def cross_entropy_forward(ctx, x, weight, t, ignore_index, reduction, smoothing):
    """Loss of logits x (N, C) against int64 targets t (N,), PyTorch's cross_entropy without label
    smoothing. Keeps (targets, per-row weights, per-row log-sum-exp) on ctx.xent_rows for
    cross_entropy_backward. None when not covered (smoothing, other ranks or dtypes)."""
    if smoothing > 0 or x.ndim != 2 or x.dtype not in _FLOATS or t.ndim != 1:
        return None
    n, c = x.shape
    if n == 0 or c == 0:
        return None
    ignore_index = int(ignore_index)
    acc = _acc(x.dtype)
    if _on_gpu(x):
        xp = _backend.xp_of(x)
        m = x.max(axis=1)
        s = kernel(f"xent_sumexp_{acc}")(x, m[:, None], axis=1)
        w = None if weight is None else weight.astype(x.dtype, copy=False)
        if w is None:
            loss, wt, lse = kernel(f"xent_rows_{acc}")(x, t, m, s, c, ignore_index)
        else:
            loss, wt, lse = kernel(f"xent_rows_weighted_{acc}")(x, t, m, s, w, c, ignore_index)
    else:
        xp = np
        loss, wt, lse = _xent_rows_reference(x, t, weight, ignore_index, acc)
    ctx.xent_rows = (t, wt, lse)
    ctx.reduction = reduction
    wt_sum = wt.sum()
    ctx.wt_sum = wt_sum
    if reduction == "none":
        return loss.astype(x.dtype)
    total = loss.sum()
    if reduction == "sum":
        return total.astype(x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):    # every target ignored: nan, as in PyTorch
        return xp.asarray(total / wt_sum).astype(x.dtype)


def _xent_rows_reference(x, t, weight, ignore_index, acc):
    a = np.float64 if acc == "double" else np.float32
    m = x.max(axis=1)
    s = np.exp(x.astype(a) - m[:, None].astype(a)).sum(axis=1)
    valid = t != ignore_index
    k = np.where(valid, t, 0)
    w = np.ones(x.shape[1], a) if weight is None else weight.astype(a)
    wt = np.where(valid, w[k], a(0)).astype(a)
    lse = m.astype(a) + np.log(s)
    loss = -(x[np.arange(x.shape[0]), k].astype(a) - lse) * wt
    return loss, wt, lse


def cross_entropy_backward(ctx, g, x):
    """Gradient of cross_entropy_forward's loss wrt x, from the saved rows: (softmax - onehot) * wt
    * upstream gradient, in one pass."""
    t, wt, lse = ctx.xent_rows
    acc_np = wt.dtype
    if ctx.reduction == "none":
        gs, per_row = g.astype(acc_np, copy=False).reshape(-1), True
    elif ctx.reduction == "mean":
        gs, per_row = (g.astype(acc_np) / ctx.wt_sum).reshape(1), False
    else:
        gs, per_row = g.astype(acc_np, copy=False).reshape(1), False
    if _on_gpu(x):
        name = f"xent_backward_{'rows' if per_row else 'scalar'}_{_acc(x.dtype)}"
        return kernel(name)(x, lse, t, wt, gs, x.shape[1])
    p = np.exp(x.astype(acc_np) - lse[:, None])
    p[np.arange(x.shape[0]), t.clip(0, x.shape[1] - 1)] -= (t >= 0) & (t < x.shape[1])
    scale = wt * (gs if per_row else gs[0])
    return (p * scale[:, None]).astype(x.dtype)


def cross_entropy_softmax(ctx, x):
    """softmax(x) over dim 1 from the saved log-sum-exp (the op's create_graph path needs it)."""
    _, _, lse = ctx.xent_rows
    xp = _backend.xp_of(x)
    return xp.exp(x.astype(lse.dtype) - lse[:, None]).astype(x.dtype)


__all__ = ["KERNELS", "PREAMBLE", "kernel", "adam_step_", "sgd_momentum_", "relu_forward", "relu_backward",
           "sigmoid_forward", "sigmoid_backward", "gelu_forward", "gelu_backward", "cross_entropy_forward",
           "cross_entropy_backward", "cross_entropy_softmax"]
