"""Binary arithmetic: + - * / ** with broadcasting, Python scalars on either side, and the
in-place forms; plus the helpers the elementwise families share (quiet NumPy calls and
PyTorch-style broadcasting errors)."""
import math
import warnings

import numpy as np

from .._dispatch import Op, dispatch, dispatch_inplace
from .._tensor import Tensor
from . import _F
from ._registry import tensor_method

# NumPy warns on overflow, 0/0, log(0)...; PyTorch returns inf/nan silently. Setting NumPy's
# error state through its context variable costs a fraction of `np.errstate`.
try:
    from numpy._core._multiarray_umath import _extobj_contextvar as _errvar, _make_extobj
    _QUIET = _make_extobj(all="ignore")
except ImportError:  # pragma: no cover - NumPy < 2
    _errvar = None

# The hottest ops (+, -, * and their backwards) call NumPy bare: switching the error state costs
# more than the op. NumPy attributes its floating-point warnings to the calling frame, so ignoring
# them for pellucid's modules keeps PyTorch's silence (inf/nan are values, and the NaN tripwire is
# how to find them) without touching what NumPy says to the user's own code.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"pellucid\.",
                        message=r"(overflow|invalid value|divide by zero|underflow) encountered")


def broadcast_error(name, *operands):
    """The RuntimeError PyTorch gives when operands' shapes don't broadcast (None if they do)."""
    shapes = [tuple(getattr(a, "shape", ())) for a in operands]
    labels = "abcdefgh"
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            sa, sb = shapes[i], shapes[j]
            n = max(len(sa), len(sb))
            pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
            for d in range(n - 1, -1, -1):
                if pa[d] != pb[d] and pa[d] != 1 and pb[d] != 1:
                    return RuntimeError(
                        f"{name}: The size of tensor {labels[i]} ({pa[d]}) must match the size of "
                        f"tensor {labels[j]} ({pb[d]}) at non-singleton dimension {d} (shapes "
                        f"{list(sa)} and {list(sb)} don't broadcast)")
    return None


def wrap_int_scalars(args):
    """Python ints cast into the integer array operand's dtype with C wrap-around, as PyTorch
    does (uint8 tensor & -3 uses 253); NumPy refuses out-of-range Python ints instead."""
    arr = next((a for a in args if hasattr(a, "dtype") and a.dtype.kind in "iu"), None)
    if arr is None:
        return args
    return tuple(np.array(a).astype(arr.dtype)[()] if type(a) is int else a for a in args)


def wrap_out_of_range(a, b):
    """(a, b) with a Python int outside the integer array operand's range wrapped into it
    (needed before comparisons and zero-divisor checks, where NumPy would not complain)."""
    arr = a if hasattr(a, "dtype") else b
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        for x in (a, b):
            if type(x) is int and not info.min <= x <= info.max:
                return wrap_int_scalars((a, b))
    return a, b


def _reraise(name, exc, operands):
    err = broadcast_error(name, *operands)
    if err is None:
        raise exc
    raise err from None


_ndarray = np.ndarray
_ufunc = np.ufunc


def _for_device(fn, args):
    """The CuPy twin of NumPy ufunc `fn` when an operand lives on the GPU."""
    for a in args:
        if hasattr(a, "__cuda_array_interface__"):
            from .. import _backend
            return getattr(_backend.xp_of(a), fn.__name__)
    return fn


if _errvar is not None:
    def npcall(name, fn, *args):
        """fn(*args) with NumPy's floating-point warnings off; a broadcasting failure becomes
        PyTorch's RuntimeError naming `name` and the shapes. A NumPy ufunc given for GPU
        operands runs as CuPy's ufunc of the same name."""
        if type(args[0]) is not _ndarray and type(fn) is _ufunc:
            fn = _for_device(fn, args)
        token = _errvar.set(_QUIET)
        try:
            return fn(*args)
        except ValueError as e:
            _reraise(name, e, args)
        except OverflowError:
            return fn(*wrap_int_scalars(args))
        finally:
            _errvar.reset(token)

    def quietly(fn):
        """Decorate a function (a backward formula) to run with NumPy's warnings off."""
        def run(*args):
            token = _errvar.set(_QUIET)
            try:
                return fn(*args)
            finally:
                _errvar.reset(token)
        return run
else:  # pragma: no cover - NumPy < 2
    def npcall(name, fn, *args):
        if type(args[0]) is not _ndarray and type(fn) is _ufunc:
            fn = _for_device(fn, args)
        with np.errstate(all="ignore"):
            try:
                return fn(*args)
            except ValueError as e:
                _reraise(name, e, args)
            except OverflowError:
                return fn(*wrap_int_scalars(args))

    def quietly(fn):
        def run(*args):
            with np.errstate(all="ignore"):
                return fn(*args)
        return run


def write_out(name, result, out):
    """Store `result` in the `out=` tensor (resized when its shape differs), as PyTorch does."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if result._requires_grad or out._requires_grad:
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad.")
    data = result._data
    if data.dtype != out._data.dtype:
        from .. import _dtype as D
        rdt, odt = D._FROM_NP[data.dtype], D._FROM_NP[out._data.dtype]
        if rdt.category > odt.category:
            raise RuntimeError(
                f"{name}(): result type {rdt.name} can't be cast to the desired output type {odt.name}")
    if out._data.shape != data.shape:
        out._data = data.astype(out._data.dtype)
    else:
        out._data[...] = data
    if out._version is None:
        out._version = [1]
    else:
        out._version[0] += 1
    return out


def as_grad_dtype(F, x, g):
    """x in the dtype of the gradient g (the op's result dtype), so backward formulas on
    mixed-precision inputs are evaluated at the precision the forward used."""
    if F is _F.TENSOR:
        if isinstance(x, Tensor) and x._data.dtype != g._data.dtype:
            return x.to(g.dtype)
        return x
    if hasattr(x, "dtype") and x.dtype != g.dtype and g.dtype.kind == "f":
        return x.astype(g.dtype)
    return x


_BOOL = np.dtype(np.bool_)


def _is_bool(x):
    return type(x) is bool or (type(x) is Tensor and x._data.dtype is _BOOL)


def _no_bool_sub(a, b):
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError(
            "sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.")


class Add(Op):
    name = "add"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a + b
        except ValueError as e:
            _reraise("add", e, (a, b))
        except OverflowError:
            a, b = wrap_int_scalars((a, b))
            return a + b

    @staticmethod
    def backward(ctx, F, g):
        return g, g


class Sub(Op):
    name = "sub"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a - b
        except ValueError as e:
            _reraise("sub", e, (a, b))
        except OverflowError:
            a, b = wrap_int_scalars((a, b))
            return a - b

    @staticmethod
    def backward(ctx, F, g):
        return g, -g


class Mul(Op):
    name = "mul"
    promote = "common"
    save_inputs = True
    saved_for = ((1,), (0,))         # d/da reads b, d/db reads a

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a * b
        except ValueError as e:
            _reraise("mul", e, (a, b))
        except OverflowError:
            a, b = wrap_int_scalars((a, b))
            return a * b

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Op):
    name = "div"
    promote = "float"
    save_inputs = True
    saved_for = ((1,), (0, 1))

    @staticmethod
    def forward(ctx, a, b):
        return npcall("div", np.true_divide, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = g / b if na else None
        gb = -g * a / (b * b) if nb else None
        return ga, gb


class Neg(Op):
    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, F, g):
        return -g


class Pow(Op):
    name = "pow"
    promote = "common"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        if type(b) is int and b < 0 and a.dtype.kind in "iu":
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        return npcall("pow", np.power, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = (as_grad_dtype(F, x, g) for x in ctx.inputs)
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, (int, float)):
                ga = g * 2 * a if b == 2 else (F.zeros_like(g) if b == 0 else g * b * a ** (b - 1))
            else:
                # b * a^(b-1), taken as 0 where b == 0 (so 0 ** 0 has gradient 0, like PyTorch)
                ga = F.where(b == 0, F.zeros_like(g), g * b * a ** (b - 1))
        if nb:
            out = ctx.output if F is _F.TENSOR else ctx.out_data
            if isinstance(a, (int, float)):
                log_a = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
                gb = g * out * log_a
                if a == 0:
                    gb = F.where(b >= 0, F.zeros_like(g), gb)
            else:
                gb = F.where((a == 0) & (b >= 0), F.zeros_like(g), g * out * F.log(a))
        return ga, gb


def _alpha(other, alpha):
    return other if alpha == 1 else other * alpha


@tensor_method("add", "__add__")
def add(input, other, *, alpha=1, out=None):
    return write_out("add", dispatch(Add, (input, _alpha(other, alpha))), out)


@tensor_method("__radd__")
def _radd(self, other):
    return dispatch(Add, (other, self))


@tensor_method("sub", "subtract", "__sub__")
def sub(input, other, *, alpha=1, out=None):
    _no_bool_sub(input, other)
    return write_out("sub", dispatch(Sub, (input, _alpha(other, alpha))), out)


subtract = sub


@tensor_method("__rsub__")
def _rsub(self, other):
    _no_bool_sub(other, self)
    return dispatch(Sub, (other, self))


def rsub(input, other, *, alpha=1):
    _no_bool_sub(input, other)
    return dispatch(Sub, (other, _alpha(input, alpha)))


@tensor_method("mul", "multiply", "__mul__")
def mul(input, other, *, out=None):
    return write_out("mul", dispatch(Mul, (input, other)), out)


multiply = mul


@tensor_method("__rmul__")
def _rmul(self, other):
    return dispatch(Mul, (other, self))


@tensor_method("div", "divide", "true_divide", "__truediv__")
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return write_out("div", dispatch(Div, (input, other)), out)
    from . import _pointwise
    return write_out("div", _pointwise.div_rounding(input, other, rounding_mode), out)


divide = true_divide = div


@tensor_method("__rtruediv__")
def _rdiv(self, other):
    return dispatch(Div, (other, self))


def _no_bool_neg(x):
    if x._data.dtype is _BOOL:
        raise RuntimeError(
            "neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead.")


@tensor_method("neg", "negative", "__neg__")
def neg(input, *, out=None):
    _no_bool_neg(input)
    return write_out("neg", dispatch(Neg, (input,)), out)


negative = neg


@tensor_method("pow", "__pow__")
def pow(input, exponent, *, out=None):
    return write_out("pow", dispatch(Pow, (input, exponent)), out)


@tensor_method("__rpow__")
def _rpow(self, other):
    return dispatch(Pow, (other, self))


@tensor_method("add_", "__iadd__")
def _add_(self, other, *, alpha=1):
    return dispatch_inplace(Add, self, (_alpha(other, alpha),))


@tensor_method("sub_", "subtract_", "__isub__")
def _sub_(self, other, *, alpha=1):
    _no_bool_sub(self, other)
    return dispatch_inplace(Sub, self, (_alpha(other, alpha),))


@tensor_method("mul_", "multiply_", "__imul__")
def _mul_(self, other):
    return dispatch_inplace(Mul, self, (other,))


@tensor_method("div_", "divide_", "true_divide_", "__itruediv__")
def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is not None:
        from . import _pointwise
        return _pointwise.div_rounding_(self, other, rounding_mode)
    return dispatch_inplace(Div, self, (other,))


@tensor_method("pow_", "__ipow__")
def _pow_(self, exponent):
    return dispatch_inplace(Pow, self, (exponent,))


@tensor_method("neg_", "negative_")
def _neg_(self):
    _no_bool_neg(self)
    return dispatch_inplace(Neg, self, ())


neg_ = negative_ = _neg_

__all__ = ['add', 'div', 'divide', 'mul', 'multiply', 'neg', 'neg_', 'negative', 'negative_', 'pow', 'rsub', 'sub',
           'subtract', 'true_divide']


# The operators skip the keyword handling of the named functions: `a + b` is the hottest call in
# any model, and PyTorch's operators take no alpha= or out= either.
def _op_add(self, other):
    return dispatch(Add, (self, other))


def _op_mul(self, other):
    return dispatch(Mul, (self, other))


def _op_truediv(self, other):
    return dispatch(Div, (self, other))


def _op_sub(self, other):
    if self._data.dtype is _BOOL or type(other) is bool or isinstance(other, Tensor):
        _no_bool_sub(self, other)
    return dispatch(Sub, (self, other))


Tensor.__add__ = _op_add
Tensor.__mul__ = _op_mul
Tensor.__truediv__ = _op_truediv
Tensor.__sub__ = _op_sub
