"""Elementwise math: exp/log/trig/hyperbolic, rounding, activations, clamp, maximum/minimum,
where, lerp, the division/remainder family, addcmul/addcdiv and friends, with the gradients
PyTorch defines and the in-place forms."""
import builtins
import math

import numpy as np

from .. import _backend, _cuda_kernels
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._special import erf as _erf_cpu, erfc as _erfc_cpu
from .._tensor import Tensor
from ._F import ArrayNS, TENSOR
from ._arith import (Pow, as_grad_dtype, npcall, quietly, wrap_int_scalars, wrap_out_of_range,
                     write_out)
from ._registry import check_tensor, tensor_method

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_TORCH_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                     "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                     "float64": "Double"}


def _xp(a):
    return np if type(a) is np.ndarray else _backend.xp_of(a)


def _out(ctx, F):
    """The op's output: a tensor attached to the graph under create_graph, else the array."""
    return ctx.output if F is TENSOR else ctx.out_data


def _not_implemented(name, dt):
    return NotImplementedError(
        f'"{name}" not implemented for \'{_TORCH_TYPE_NAMES[dt.name]}\' (got a tensor of dtype {dt})')


def _require_kinds(name, x, kinds):
    """Raise PyTorch's NotImplementedError when x's dtype kind (b, u, i, f) isn't in `kinds`
    (bfloat16, NumPy kind "V", counts as "f")."""
    if isinstance(x, Tensor):
        kind = x._data.dtype.kind
        if kind not in kinds and not (kind == "V" and "f" in kinds):
            raise _not_implemented(name, x.dtype)


def _result_dtype(*operands):
    """PyTorch's result dtype of tensors/numbers, with fast paths for the common cases (one
    tensor dtype, with Python numbers that don't change it)."""
    first = None
    for x in operands:
        if isinstance(x, Tensor):
            dt = x._data.dtype
            if first is None:
                first = dt
            elif dt != first:
                return D.result_type(*(v for v in operands if v is not None))
    if first is not None:
        kind = first.kind
        for x in operands:
            tx = type(x)
            if not (x is None or isinstance(x, Tensor) or (tx is float and kind == "f")
                    or (tx is int and kind in "fiu")):
                return D.result_type(*(v for v in operands if v is not None))
        return D._FROM_NP[first]
    return D.result_type(*(v for v in operands if v is not None))


def _check_inplace_cast(name, self, result_dtype):
    sdt = self.dtype
    if result_dtype.category > sdt.category:
        raise RuntimeError(
            f"{name}_: result type {result_dtype.name} can't be cast to the desired output type "
            f"{sdt.name} of the tensor modified in place")


def _kind(x):
    """The NumPy dtype kind of an array or a Python scalar."""
    if hasattr(x, "dtype"):
        return x.dtype.kind
    return "f" if isinstance(x, float) else "b" if isinstance(x, bool) else "i"


def _int_division_operands(name, a, b):
    """Integer operands as PyTorch uses them (out-of-range Python ints wrapped), after checking
    for a zero divisor: integer division by zero is an error in PyTorch (NumPy gives 0)."""
    if _kind(a) in "iub" and _kind(b) in "iub":
        if type(a) is int or type(b) is int:
            a, b = wrap_out_of_range(a, b)
        has_zero = not _xp(b).all(b) if hasattr(b, "shape") else b == 0
        if has_zero:
            raise RuntimeError(f"{name}: ZeroDivisionError (integer division by zero)")
    return a, b


# ---- unary ops, generated from one table -------------------------------------------------

def _unary(name, fn, grad, *, save=None, promote="float", kinds="buif", aliases=()):
    """Make the Op, the function and the Tensor methods for one unary op.

    fn(a): the forward on an array. grad(F, g, x, out): the input's gradient, given the saved
    input `x` (save="input") or output `out` (save="output"); None if not differentiable."""
    attrs = {"name": name, "promote": promote, "__module__": __name__}
    if save == "input":
        attrs["save_inputs"] = True
    elif save == "output":
        attrs["save_output"] = True

    def forward(ctx, a):
        return npcall(name, fn, a)

    if grad is None:
        def backward(ctx, F, g):
            return F.zeros_like(g)
    elif save == "input":
        def backward(ctx, F, g):
            return grad(F, g, ctx.inputs[0], None)
    elif save == "output":
        def backward(ctx, F, g):
            return grad(F, g, None, _out(ctx, F))
    else:
        def backward(ctx, F, g):
            return grad(F, g, None, None)
    attrs["forward"] = staticmethod(forward)
    attrs["backward"] = staticmethod(quietly(backward))
    op = type("".join(p.capitalize() for p in name.split("_")), (Op,), attrs)

    check = kinds != "buif"

    def function(input, *, out=None):
        if check:
            _require_kinds(name, input, kinds)
        if out is None:
            return dispatch(op, (input,))
        return write_out(name, dispatch(op, (input,)), out)

    def function_(input):
        if kinds != "buif":
            _require_kinds(name, input, kinds)
        return dispatch_inplace(op, input, ())

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name}, as torch.{name}."
    function_.__name__ = function_.__qualname__ = name + "_"
    tensor_method(name, *aliases)(function)
    tensor_method(name + "_", *(a + "_" for a in aliases))(function_)
    return op, function, function_


def _sigmoid_fwd(a):
    if type(a) is not np.ndarray:
        out = _cuda_kernels.sigmoid_forward(a)      # CuPy: one fused kernel
        if out is not None:
            return out
    xp = _xp(a)
    if a.ndim == 0:
        return 1 / (1 + xp.exp(-a))
    t = xp.negative(a)
    xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


def _sigmoid_grad(F, g, x, o):
    if isinstance(F, ArrayNS) and type(o) is not np.ndarray:
        r = _cuda_kernels.sigmoid_backward(g, o)    # CuPy: one fused kernel
        if r is not None:
            return r
    return g * (1 - o) * o


def _rsqrt_fwd(a):
    return 1 / _xp(a).sqrt(a)


def _erf_fwd(a):
    if type(a) is np.ndarray:
        return _erf_cpu(a)
    from cupyx.scipy.special import erf as erf_gpu
    return erf_gpu(a)


def _erfc_fwd(a):
    if type(a) is np.ndarray:
        return _erfc_cpu(a)
    from cupyx.scipy.special import erfc as erfc_gpu
    return erfc_gpu(a)


def _frac_fwd(a):
    return a - _xp(a).trunc(a)


def _relu_fwd(a):
    if type(a) is not np.ndarray:
        out = _cuda_kernels.relu_forward(a)         # CuPy: one fused kernel
        if out is not None:
            return out
    return _xp(a).maximum(a, 0)


def _keep_or(ufunc_name):
    """A rounding function that leaves integer input as it is (a copy, as PyTorch returns)."""
    def run(a):
        return a.copy() if a.dtype.kind in "iu" else getattr(_xp(a), ufunc_name)(a)
    return run


def _sign_fwd(a):
    kind = a.dtype.kind
    if kind == "b":
        return a.copy()
    if kind == "f":
        # PyTorch's (0 < a) - (a < 0): NaN and -0.0 give 0
        return _xp(a).subtract(a > 0, a < 0, dtype=a.dtype)
    return _xp(a).sign(a)


def _sign_of(F, x):
    """sign with PyTorch's conventions (0 at NaN) on arrays or, under create_graph, tensors."""
    return sign(x) if F is TENSOR else _sign_fwd(x)  # noqa: F821 - made from the table below


def _square_fwd(a):
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    return a * a


def _abs_fwd(a):
    return _xp(a).abs(a)


def _relu_grad(F, g, x, out):
    # PyTorch's threshold_backward: zero where the result is <= 0 (NaN passes the gradient).
    # On arrays a multiply by the mask is ~10x faster than a data-dependent where; it differs only
    # where g holds inf/NaN at a zeroed position, which the finite check below sends to `where`.
    if isinstance(F, ArrayNS) and type(out) is not np.ndarray:
        r = _cuda_kernels.relu_backward(g, out)     # CuPy: one pass, no host sync
        if r is not None:
            return r
    if isinstance(F, ArrayNS) and getattr(g, "ndim", 0):
        keep = ~(out <= 0)
        r = g * keep
        if F.xp.isfinite(r.sum()):
            return r
    return F.where(out <= 0, 0, g)


_T = [
    # name, forward, gradient(F, g, x, out), save, promote, kinds, aliases
    ("exp", np.exp, lambda F, g, x, o: g * o, "output", "float", "buif", ()),
    ("exp2", np.exp2, lambda F, g, x, o: g * o * _LN2, "output", "float", "buif", ()),
    ("expm1", np.expm1, lambda F, g, x, o: g * (o + 1), "output", "float", "buif", ()),
    ("log", np.log, lambda F, g, x, o: g / x, "input", "float", "buif", ()),
    ("log2", np.log2, lambda F, g, x, o: g / (x * _LN2), "input", "float", "buif", ()),
    ("log10", np.log10, lambda F, g, x, o: g / (x * _LN10), "input", "float", "buif", ()),
    ("log1p", np.log1p, lambda F, g, x, o: g / (x + 1), "input", "float", "buif", ()),
    ("sqrt", np.sqrt, lambda F, g, x, o: g / (o * 2), "output", "float", "buif", ()),
    ("rsqrt", _rsqrt_fwd, lambda F, g, x, o: g * o * o * o * -0.5, "output", "float", "buif", ()),
    ("reciprocal", np.reciprocal, lambda F, g, x, o: -g * (o * o), "output", "float", "buif", ()),
    ("sin", np.sin, lambda F, g, x, o: g * F.cos(x), "input", "float", "buif", ()),
    ("cos", np.cos, lambda F, g, x, o: g * -F.sin(x), "input", "float", "buif", ()),
    ("tan", np.tan, lambda F, g, x, o: g * (o * o + 1), "output", "float", "buif", ()),
    ("asin", np.arcsin, lambda F, g, x, o: g / F.sqrt(-x * x + 1), "input", "float", "buif", ("arcsin",)),
    ("acos", np.arccos, lambda F, g, x, o: -g / F.sqrt(-x * x + 1), "input", "float", "buif", ("arccos",)),
    ("atan", np.arctan, lambda F, g, x, o: g / (x * x + 1), "input", "float", "buif", ("arctan",)),
    ("sinh", np.sinh, lambda F, g, x, o: g * F.cosh(x), "input", "float", "buif", ()),
    ("cosh", np.cosh, lambda F, g, x, o: g * F.sinh(x), "input", "float", "buif", ()),
    ("tanh", np.tanh, lambda F, g, x, o: g * (1 - o * o), "output", "float", "buif", ()),
    ("asinh", np.arcsinh, lambda F, g, x, o: g / F.sqrt(x * x + 1), "input", "float", "buif", ("arcsinh",)),
    ("acosh", np.arccosh, lambda F, g, x, o: g / F.sqrt(x * x - 1), "input", "float", "buif", ("arccosh",)),
    ("atanh", np.arctanh, lambda F, g, x, o: g / (1 - x * x), "input", "float", "buif", ("arctanh",)),
    ("sigmoid", _sigmoid_fwd, _sigmoid_grad, "output", "float", "buif", ()),
    ("erf", _erf_fwd, lambda F, g, x, o: g * _TWO_OVER_SQRT_PI * F.exp(-x * x), "input", "float", "buif", ()),
    ("erfc", _erfc_fwd, lambda F, g, x, o: g * -_TWO_OVER_SQRT_PI * F.exp(-x * x), "input", "float",
     "buif", ()),
    ("deg2rad", np.deg2rad, lambda F, g, x, o: g * (math.pi / 180), None, "float", "buif", ()),
    ("rad2deg", np.rad2deg, lambda F, g, x, o: g * (180 / math.pi), None, "float", "buif", ()),
    ("abs", _abs_fwd, lambda F, g, x, o: g * _sign_of(F, x), "input", None, "uif", ("absolute",)),
    ("sign", _sign_fwd, None, None, None, "buif", ()),
    ("sgn", _sign_fwd, None, None, None, "buif", ()),
    ("square", _square_fwd, lambda F, g, x, o: g * (x * 2), "input", None, "buif", ()),
    ("relu", _relu_fwd, _relu_grad, "output", None, "uif", ()),
    ("floor", _keep_or("floor"), None, None, None, "uif", ()),
    ("ceil", _keep_or("ceil"), None, None, None, "uif", ()),
    ("trunc", _keep_or("trunc"), None, None, None, "uif", ("fix",)),
    ("frac", _frac_fwd, lambda F, g, x, o: g, None, None, "f", ()),
]

_FUNCTIONS = {}
for _name, _fn, _grad, _save, _promote, _kinds, _aliases in _T:
    _FUNCTIONS[_name] = _unary(_name, _fn, _grad, save=_save, promote=_promote, kinds=_kinds,
                               aliases=_aliases)
    for _n in (_name,) + _aliases:
        globals()[_n] = _FUNCTIONS[_name][1]
        globals()[_n + "_"] = _FUNCTIONS[_name][2]
Sigmoid = _FUNCTIONS["sigmoid"][0]
Exp = _FUNCTIONS["exp"][0]
Relu = _FUNCTIONS["relu"][0]
Tanh = _FUNCTIONS["tanh"][0]


@tensor_method("positive", "__pos__")
def positive(input):
    if input._data.dtype.kind == "b":
        raise RuntimeError("positive: The `+` operator, on a bool tensor is not supported.")
    return input


@tensor_method("__abs__")
def _abs_operator(self):
    return abs(self)  # noqa: F821 - defined from the table above


# ---- round --------------------------------------------------------------------------------

class Round(Op):
    name = "round"

    @staticmethod
    def forward(ctx, a, decimals):
        if a.dtype.kind in "iu":
            return a.copy()
        xp = _xp(a)
        if decimals == 0:
            return xp.rint(a)
        return npcall("round", xp.round, a, decimals)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


def _check_round(input, decimals):
    check_tensor(input, "round")
    kind = input._data.dtype.kind
    if kind == "b" or (kind in "iu" and decimals != 0):
        raise _not_implemented("round", input.dtype)


@tensor_method("round")
def round(input, *, decimals=0, out=None):
    _check_round(input, decimals)
    return write_out("round", dispatch(Round, (input,), (int(decimals),)), out)


@tensor_method("round_")
def round_(input, *, decimals=0):
    _check_round(input, decimals)
    return dispatch_inplace(Round, input, (), (int(decimals),))


# ---- nan_to_num ---------------------------------------------------------------------------

class NanToNum(Op):
    name = "nan_to_num"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        if a.dtype.kind != "f":
            return a.copy()
        return _xp(a).nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, F, g):
        return g * F.isfinite(ctx.inputs[0])


@tensor_method("nan_to_num")
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    return write_out("nan_to_num", dispatch(NanToNum, (input,), (nan, posinf, neginf)), out)


@tensor_method("nan_to_num_")
def nan_to_num_(input, nan=0.0, posinf=None, neginf=None):
    return dispatch_inplace(NanToNum, input, (), (nan, posinf, neginf))


# ---- clamp --------------------------------------------------------------------------------

class Clamp(Op):
    """min(max(x, lo), hi) where lo/hi are numbers, tensors or None (not both None)."""
    name = "clamp"
    backward_name = "ClampBackward1"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, lo, hi, np_dtype):
        if x.dtype != np_dtype:
            x = x.astype(np_dtype)
        if getattr(lo, "dtype", np_dtype) != np_dtype:
            lo = lo.astype(np_dtype)
        if getattr(hi, "dtype", np_dtype) != np_dtype:
            hi = hi.astype(np_dtype)
        if type(lo) is int or type(hi) is int:
            x, lo, hi = wrap_int_scalars((x, lo, hi))
        xp = _xp(x)
        if lo is None:
            return npcall("clamp", xp.minimum, x, hi)
        out = npcall("clamp", xp.maximum, x, lo)
        if hi is None:
            return out
        if getattr(out, "ndim", 0) and (getattr(hi, "ndim", 0) == 0 or hi.shape == out.shape):
            return npcall("clamp", _minimum_into, out, hi)
        return npcall("clamp", xp.minimum, out, hi)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        x, lo, hi = ctx.inputs
        nx, nlo, nhi = ctx.needs_input_grad
        gx = glo = ghi = None
        if nx:
            if lo is None:
                keep = x <= hi
            elif hi is None:
                keep = x >= lo
            else:
                keep = (x >= lo) & (x <= hi)
            gx = F.where(keep, g, 0)
        if nlo:
            glo = F.where((x < lo) & (lo < hi) if hi is not None else x < lo, g, 0)
        if nhi:
            ghi = F.where((x > hi) | (hi < lo) if lo is not None else x > hi, g, 0)
        return gx, glo, ghi


def _minimum_into(a, b):
    return _xp(a).minimum(a, b, out=a)


class ClampMin(Clamp):
    name = "clamp_min"
    backward_name = "ClampMinBackward0"


class ClampMax(Clamp):
    name = "clamp_max"
    backward_name = "ClampMaxBackward0"


def _clamp_args(name, input, lo, hi):
    check_tensor(input, name)
    if lo is None and hi is None:
        raise RuntimeError(f"{name}: At least one of 'min' or 'max' must not be None")
    if input._data.dtype.kind == "b":
        raise _not_implemented(name, input.dtype)
    dt = _result_dtype(input, lo, hi)
    if dt.category == 1:
        # PyTorch's bound check: unsigned types also take -max..-1 (they wrap, as in C)
        info = np.iinfo(dt.np)
        smallest = -int(info.max) if info.min == 0 else int(info.min)
        for v in (lo, hi):
            if type(v) is int and not smallest <= v <= info.max:
                raise RuntimeError(f"{name}: value {v} cannot be converted to type {dt.name} without overflow")
    return dt


def _clamp(op, name, input, lo, hi, out=None):
    dt = _clamp_args(name, input, lo, hi)
    return write_out(name, dispatch(op, (input, lo, hi), (dt.np,)), out)


def _clamp_(op, name, input, lo, hi):
    dt = _clamp_args(name, input, lo, hi)
    _check_inplace_cast(name, input, dt)
    return dispatch_inplace(op, input, (lo, hi), (input._data.dtype,))


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None, *, out=None):
    return _clamp(Clamp, "clamp", input, min, max, out)


@tensor_method("clamp_", "clip_")
def clamp_(input, min=None, max=None):
    return _clamp_(Clamp, "clamp", input, min, max)


clip, clip_ = clamp, clamp_


@tensor_method("clamp_min")
def clamp_min(input, min):
    return _clamp(ClampMin, "clamp_min", input, min, None)


@tensor_method("clamp_min_")
def clamp_min_(input, min):
    return _clamp_(ClampMin, "clamp_min", input, min, None)


@tensor_method("clamp_max")
def clamp_max(input, max):
    return _clamp(ClampMax, "clamp_max", input, None, max)


@tensor_method("clamp_max_")
def clamp_max_(input, max):
    return _clamp_(ClampMax, "clamp_max", input, None, max)


# ---- binary ops on two tensors ------------------------------------------------------------

class Maximum(Op):
    name = "maximum"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("maximum", np.maximum, a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        # ties split the gradient equally
        shared = F.where(a == b, g / 2, g)
        return (F.where(a < b, 0, shared) if na else None), (F.where(a > b, 0, shared) if nb else None)


class Minimum(Op):
    name = "minimum"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("minimum", np.minimum, a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        shared = F.where(a == b, g / 2, g)
        return (F.where(a > b, 0, shared) if na else None), (F.where(a < b, 0, shared) if nb else None)


class Fmax(Op):
    name = "fmax"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("fmax", np.fmax, a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        to_a = (a >= b) | F.isnan(b)
        return F.where(to_a, g, 0), F.where(to_a, 0, g)


class Fmin(Op):
    name = "fmin"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("fmin", np.fmin, a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        to_a = (a <= b) | F.isnan(b)
        return F.where(to_a, g, 0), F.where(to_a, 0, g)


class Atan2(Op):
    name = "atan2"
    promote = "float"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("atan2", np.arctan2, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        scale = g / (a * a + b * b)
        return scale * b, -scale * a


class Logaddexp(Op):
    name = "logaddexp"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("logaddexp", np.logaddexp, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        return g / (F.exp(b - a) + 1), g / (F.exp(a - b) + 1)


class Hypot(Op):
    name = "hypot"
    promote = "common"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("hypot", np.hypot, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        scale = g / _out(ctx, F)
        return scale * a, scale * b


class Heaviside(Op):
    name = "heaviside"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        # PyTorch's definition: `values` where a == 0, else (a > 0); NaN input gives 0
        out = npcall("heaviside", _xp(a).where, a == 0, b, a > 0)
        return out if out.dtype == a.dtype else out.astype(a.dtype)

    @staticmethod
    def backward(ctx, F, g):
        raise RuntimeError("the derivative for 'heaviside' is not implemented.")


def _float_result_only(name, input, other):
    """Ops PyTorch implements for floating results only (integer/bool pairs raise)."""
    dt = D.result_type(input, other)
    if dt.category < 2:
        raise _not_implemented(name, dt)


def _binary_tensors(op, name, input, other, float_only=False):
    check_tensor(input, name)
    check_tensor(other, name, "other")
    if float_only:
        _float_result_only(name, input, other)
    return dispatch(op, (input, other))


def _binary_tensors_(op, name, input, other, float_only=False):
    check_tensor(other, name + "_", "other")
    if float_only:
        _float_result_only(name, input, other)
    return dispatch_inplace(op, input, (other,))


@tensor_method("maximum")
def maximum(input, other, *, out=None):
    return write_out("maximum", _binary_tensors(Maximum, "maximum", input, other), out)


@tensor_method("minimum")
def minimum(input, other, *, out=None):
    return write_out("minimum", _binary_tensors(Minimum, "minimum", input, other), out)


@tensor_method("fmax")
def fmax(input, other, *, out=None):
    return write_out("fmax", _binary_tensors(Fmax, "fmax", input, other), out)


@tensor_method("fmin")
def fmin(input, other, *, out=None):
    return write_out("fmin", _binary_tensors(Fmin, "fmin", input, other), out)


@tensor_method("atan2", "arctan2")
def atan2(input, other, *, out=None):
    return write_out("atan2", _binary_tensors(Atan2, "atan2", input, other), out)


arctan2 = atan2


@tensor_method("atan2_", "arctan2_")
def atan2_(input, other):
    return _binary_tensors_(Atan2, "atan2", input, other)


@tensor_method("logaddexp")
def logaddexp(input, other, *, out=None):
    return write_out("logaddexp", _binary_tensors(Logaddexp, "logaddexp", input, other, True), out)


@tensor_method("hypot")
def hypot(input, other, *, out=None):
    return write_out("hypot", _binary_tensors(Hypot, "hypot", input, other, True), out)


@tensor_method("hypot_")
def hypot_(input, other):
    return _binary_tensors_(Hypot, "hypot", input, other, True)


def _check_heaviside(input, values):
    check_tensor(input, "heaviside")
    check_tensor(values, "heaviside", "values")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError(
            f"heaviside is not yet implemented for tensors with different dtypes (input {input.dtype}, "
            f"values {values.dtype})")


@tensor_method("heaviside")
def heaviside(input, values, *, out=None):
    _check_heaviside(input, values)
    return write_out("heaviside", dispatch(Heaviside, (input, values)), out)


@tensor_method("heaviside_")
def heaviside_(input, values):
    _check_heaviside(input, values)
    return dispatch_inplace(Heaviside, input, (values,))


# ---- division with rounding, remainder, fmod --------------------------------------------

def _trunc_div_array(a, b):
    xp = _xp(a) if hasattr(a, "dtype") else _xp(b)
    if _kind(a) in "iub" and _kind(b) in "iub":
        q = xp.floor_divide(a, b)
        # floor and trunc differ where the quotient is negative and inexact
        return q + ((q < 0) & (q * b != a))
    return xp.trunc(xp.true_divide(a, b))


def _floor_div_array(a, b):
    xp = _xp(a) if hasattr(a, "dtype") else _xp(b)
    return xp.floor_divide(a, b)


_DIV_BY_MODE = {"floor": _floor_div_array, "trunc": _trunc_div_array}


class FloorDivide(Op):
    name = "floor_divide"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        a, b = _int_division_operands("floor_divide", a, b)
        return npcall("floor_divide", _floor_div_array, a, b)

    @staticmethod
    def backward(ctx, F, g):
        raise RuntimeError("the derivative for 'floor_divide' is not implemented.")


class DivRounding(Op):
    """div(a, b, rounding_mode='floor'|'trunc'): piecewise constant, so zero gradients."""
    name = "div_rounding"
    backward_name = "DivBackward2"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b, mode):
        a, b = _int_division_operands("div", a, b)
        return npcall("div", _DIV_BY_MODE[mode], a, b)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g), F.zeros_like(g)


def _check_rounding_mode(mode):
    if mode not in _DIV_BY_MODE:
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode}'")


def _no_bool_pair(name, a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype.kind == "b" == b._data.dtype.kind:
        raise _not_implemented(name, a.dtype)


def div_rounding(input, other, rounding_mode):
    """div with rounding_mode 'floor' or 'trunc' (result in the inputs' common dtype)."""
    _check_rounding_mode(rounding_mode)
    _no_bool_pair("div", input, other)
    return dispatch(DivRounding, (input, other), (rounding_mode,))


def div_rounding_(self, other, rounding_mode):
    _check_rounding_mode(rounding_mode)
    _no_bool_pair("div", self, other)
    return dispatch_inplace(DivRounding, self, (other,), (rounding_mode,))


def trunc_divide(input, other):
    """a / b rounded toward zero (div(..., rounding_mode='trunc'))."""
    return div_rounding(input, other, "trunc")


@tensor_method("floor_divide", "__floordiv__")
def floor_divide(input, other, *, out=None):
    _no_bool_pair("floor_divide", input, other)
    return write_out("floor_divide", dispatch(FloorDivide, (input, other)), out)


@tensor_method("__rfloordiv__")
def _rfloordiv(self, other):
    return dispatch(FloorDivide, (other, self))


@tensor_method("floor_divide_", "__ifloordiv__")
def _floor_divide_(self, other):
    _no_bool_pair("floor_divide", self, other)
    return dispatch_inplace(FloorDivide, self, (other,))


def _div_for_grad(F, a, b, mode):
    """a / b rounded (gradients of remainder and fmod): differentiable under create_graph."""
    if F is TENSOR:
        return dispatch(DivRounding, (a, b), (mode,))
    return _DIV_BY_MODE[mode](a, b)


class Remainder(Op):
    name = "remainder"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = _int_division_operands("remainder", a, b)
        return npcall("remainder", np.remainder, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        nb = ctx.needs_input_grad[1]
        return g, (-g * _div_for_grad(F, a, b, "floor") if nb else None)


class Fmod(Op):
    name = "fmod"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        a, b = _int_division_operands("fmod", a, b)
        return npcall("fmod", np.fmod, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        nb = ctx.needs_input_grad[1]
        return g, (-g * _div_for_grad(F, a, b, "trunc") if nb else None)


@tensor_method("remainder", "__mod__")
def remainder(input, other, *, out=None):
    _no_bool_pair("remainder", input, other)
    return write_out("remainder", dispatch(Remainder, (input, other)), out)


@tensor_method("__rmod__")
def _rmod(self, other):
    return dispatch(Remainder, (other, self))


@tensor_method("remainder_", "__imod__")
def remainder_(input, other):
    _no_bool_pair("remainder", input, other)
    return dispatch_inplace(Remainder, input, (other,))


@tensor_method("fmod")
def fmod(input, other, *, out=None):
    check_tensor(input, "fmod")
    _no_bool_pair("fmod", input, other)
    return write_out("fmod", dispatch(Fmod, (input, other)), out)


@tensor_method("fmod_")
def fmod_(input, other):
    _no_bool_pair("fmod", input, other)
    return dispatch_inplace(Fmod, input, (other,))


# ---- float_power, xlogy -----------------------------------------------------------------

def _as_double(x):
    if isinstance(x, Tensor):
        return x if x._data.dtype == np.float64 else x.to(D.float64)
    return float(x)


@tensor_method("float_power")
def float_power(input, exponent, *, out=None):
    """input ** exponent computed in float64, whatever the inputs' dtypes."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): at least one of 'input' and 'exponent' must be a Tensor")
    return write_out("float_power", dispatch(Pow, (_as_double(input), _as_double(exponent))), out)


@tensor_method("float_power_")
def float_power_(input, exponent):
    if input._data.dtype != np.float64:
        raise RuntimeError(
            f"float_power_: the base given to float_power_ has dtype {input.dtype.name} but the "
            "operation's result requires dtype float64")
    return dispatch_inplace(Pow, input, (_as_double(exponent),))


def _xlogy_array(a, b):
    xp = _xp(a) if hasattr(a, "dtype") else _xp(b)
    out = a * xp.log(b)
    # 0 * log(y) is 0 unless y is NaN
    return xp.where((a == 0) & ~xp.isnan(b), 0, out)


class Xlogy(Op):
    name = "xlogy"
    promote = "float"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        out = npcall("xlogy", _xlogy_array, a, b)
        dt = a.dtype if hasattr(a, "dtype") else b.dtype
        return out if out.dtype == dt else out.astype(dt)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = (as_grad_dtype(F, x, g) for x in ctx.inputs)
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = g * (xlogy(a != 0, b) if F is TENSOR else _xlogy_array(a != 0, b))
        if nb:
            gb = g * a / b
        return ga, gb


@tensor_method("xlogy")
def xlogy(input, other, *, out=None):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): at least one of 'input' and 'other' must be a Tensor")
    return write_out("xlogy", dispatch(Xlogy, (input, other)), out)


@tensor_method("xlogy_")
def xlogy_(input, other):
    return dispatch_inplace(Xlogy, input, (other,))


# ---- where -------------------------------------------------------------------------------

class Where(Op):
    name = "where"
    backward_name = "WhereBackward0"
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, cond, a, b, np_dtype):
        if getattr(a, "dtype", np_dtype) != np_dtype:
            a = a.astype(np_dtype)
        if getattr(b, "dtype", np_dtype) != np_dtype:
            b = b.astype(np_dtype)
        out = npcall("where", _xp(cond).where, cond, a, b)
        return out if out.dtype == np_dtype else out.astype(np_dtype)

    @staticmethod
    def backward(ctx, F, g):
        cond = ctx.inputs[0]
        na, nb = ctx.needs_input_grad[1:]
        return None, (F.where(cond, g, 0) if na else None), (F.where(cond, 0, g) if nb else None)


@tensor_method("where")
def _where_method(self, condition, other):
    return where(condition, self, other)


def where(condition, input=None, other=None, *, out=None):
    """Elements of `input` where `condition` holds, else of `other` (either may be a number).
    With only `condition`: the indices of its nonzero elements, one tensor per dimension."""
    check_tensor(condition, "where", "condition")
    if input is None and other is None:
        from ._indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected both 'input' and 'other' (or neither)")
    if condition._data.dtype.kind != "b":
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_TORCH_TYPE_NAMES[condition.dtype.name]}")
    dt = _result_dtype(input, other)
    return write_out("where", dispatch(Where, (condition, input, other), (dt.np,)), out)


# ---- lerp, addcmul, addcdiv --------------------------------------------------------------

class Lerp(Op):
    name = "lerp"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b, w):
        return npcall("lerp", _lerp_array, a, b, w)

    @staticmethod
    def backward(ctx, F, g):
        a, b, w = ctx.inputs
        na, nb, nw = ctx.needs_input_grad
        return ((g * (1 - w) if na else None), (g * w if nb else None),
                (g * (b - a) if nw else None))


def _lerp_array(a, b, w):
    # PyTorch's formula: from whichever end is nearer, so both ends come out exact
    if isinstance(w, (int, float)):
        if builtins.abs(w) < 0.5:
            return a + w * (b - a)
        return b - (b - a) * (1 - w)
    xp = _xp(a)
    diff = b - a
    return xp.where(xp.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))


def _check_lerp(input, end, weight):
    check_tensor(input, "lerp")
    check_tensor(end, "lerp", "end")
    if end._data.dtype != input._data.dtype:
        raise RuntimeError(f"lerp: expected dtype {input.dtype.name} for `end` but got dtype {end.dtype.name}")
    if isinstance(weight, Tensor) and weight._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"lerp: expected dtype {input.dtype.name} for `weight` but got dtype {weight.dtype.name}")
    _require_kinds("lerp", input, "f")


@tensor_method("lerp")
def lerp(input, end, weight, *, out=None):
    _check_lerp(input, end, weight)
    return write_out("lerp", dispatch(Lerp, (input, end, weight)), out)


@tensor_method("lerp_")
def lerp_(input, end, weight):
    _check_lerp(input, end, weight)
    return dispatch_inplace(Lerp, input, (end, weight))


def _addcmul_array(a, t1, t2, value):
    return a + value * t1 * t2


def _addcdiv_array(a, t1, t2, value):
    return a + value * t1 / t2


class Addcmul(Op):
    name = "addcmul"
    promote = "common"
    save_inputs = (1, 2)

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        return npcall("addcmul", _addcmul_array, a, t1, t2, value)

    @staticmethod
    def backward(ctx, F, g):
        t1, t2 = ctx.inputs
        n1, n2 = ctx.needs_input_grad[1:]
        v = ctx.params[0]
        return g, (g * t2 * v if n1 else None), (g * t1 * v if n2 else None)


class Addcdiv(Op):
    name = "addcdiv"
    promote = "common"
    save_inputs = (1, 2)

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        return npcall("addcdiv", _addcdiv_array, a, t1, t2, value)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        t1, t2 = ctx.inputs
        n1, n2 = ctx.needs_input_grad[1:]
        v = ctx.params[0]
        return g, (g * v / t2 if n1 else None), (-g * v * t1 / (t2 * t2) if n2 else None)


def _check_addc(name, input, tensor1, tensor2, value):
    check_tensor(input, name)
    check_tensor(tensor1, name, "tensor1")
    check_tensor(tensor2, name, "tensor2")
    dt = D.result_type(input, tensor1, tensor2)
    if name == "addcdiv" and tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError(
            "addcdiv: integer division with addcdiv is no longer supported (tensor1 and tensor2 are "
            f"{tensor1.dtype} and {tensor2.dtype}); use a floating-point tensor or "
            "torch.floor_divide for integer division.")
    if dt.category < 2 and isinstance(value, float):
        raise RuntimeError(f"{name}: for integral input tensors, argument value must not be a floating "
                           f"point number (got {value})")


@tensor_method("addcmul")
def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    _check_addc("addcmul", input, tensor1, tensor2, value)
    return write_out("addcmul", dispatch(Addcmul, (input, tensor1, tensor2), (value,)), out)


@tensor_method("addcmul_")
def addcmul_(input, tensor1, tensor2, *, value=1):
    _check_addc("addcmul", input, tensor1, tensor2, value)
    return dispatch_inplace(Addcmul, input, (tensor1, tensor2), (value,))


@tensor_method("addcdiv")
def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    _check_addc("addcdiv", input, tensor1, tensor2, value)
    return write_out("addcdiv", dispatch(Addcdiv, (input, tensor1, tensor2), (value,)), out)


@tensor_method("addcdiv_")
def addcdiv_(input, tensor1, tensor2, *, value=1):
    _check_addc("addcdiv", input, tensor1, tensor2, value)
    return dispatch_inplace(Addcdiv, input, (tensor1, tensor2), (value,))


__all__ = [
    "abs", "abs_", "absolute", "acos", "acos_", "acosh", "acosh_", "addcdiv", "addcmul", "arccos",
    "arccos_", "arccosh", "arccosh_", "arcsin", "arcsin_", "arcsinh", "arcsinh_", "arctan", "arctan2",
    "arctan_", "arctanh", "arctanh_", "asin", "asin_", "asinh", "asinh_", "atan", "atan2", "atan_",
    "atanh", "atanh_", "ceil", "ceil_", "clamp", "clamp_", "clamp_max", "clamp_max_", "clamp_min",
    "clamp_min_", "clip", "clip_", "cos", "cos_", "cosh", "cosh_", "deg2rad", "deg2rad_", "erf", "erf_",
    "erfc", "erfc_", "exp", "exp2", "exp2_", "exp_", "expm1", "expm1_", "fix", "fix_", "float_power",
    "floor", "floor_", "floor_divide", "fmax", "fmin", "fmod", "frac", "frac_", "heaviside", "hypot",
    "lerp", "log", "log10", "log10_", "log1p", "log1p_", "log2", "log2_", "log_", "logaddexp",
    "maximum", "minimum", "nan_to_num", "nan_to_num_", "positive", "rad2deg", "rad2deg_",
    "reciprocal", "reciprocal_", "relu", "relu_", "remainder", "round", "round_", "rsqrt", "rsqrt_",
    "sgn", "sigmoid", "sigmoid_", "sign", "sin", "sin_", "sinh", "sinh_", "sqrt", "sqrt_", "square",
    "square_", "tan", "tan_", "tanh", "tanh_", "trunc", "trunc_", "where", "xlogy", "xlogy_",
]
