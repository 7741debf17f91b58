"""Comparisons, logical and bitwise ops, and value tests (isnan, isclose, equal, ...).

Results are bool tensors that never require grad. The comparison and bitwise operators take
Python numbers on either side and broadcast.
"""
import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._tensor import Tensor
from ._arith import npcall, wrap_out_of_range, write_out
from ._registry import check_tensor, tensor_method

_NUMBER = (int, float, bool, np.generic)
_TORCH_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                     "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                     "float64": "Double"}


def _xp(a):
    return np if type(a) is np.ndarray else _backend.xp_of(a)


def _operand_ok(other):
    return isinstance(other, (Tensor,) + _NUMBER)


# ---- comparisons ----------------------------------------------------------------------------

def _comparison(name, ufunc, aliases, operator):
    """The out-of-place op (bool result, no gradient), its in-place form (writes 1/0 into the
    tensor, in the tensor's dtype, like PyTorch) and their functions and methods."""
    title = name.capitalize()

    def forward(ctx, a, b):
        if type(b) is int or type(a) is int:
            a, b = wrap_out_of_range(a, b)
        return npcall(name, ufunc, a, b)

    op = type(title, (Op,), {
        "name": name, "promote": "common", "differentiable": False, "__module__": __name__,
        "forward": staticmethod(forward),
        "backward": staticmethod(lambda ctx, F, g: (None, None)),
    })

    def forward_(ctx, a, b, np_dtype):
        if a.dtype != np_dtype:
            a = a.astype(np_dtype)
        if getattr(b, "dtype", np_dtype) != np_dtype:
            b = b.astype(np_dtype)
        return forward(ctx, a, b)

    op_ = type(title + "Inplace", (Op,), {
        "name": name + "_", "backward_name": title + "Backward1", "__module__": __name__,
        "forward": staticmethod(forward_),
        "backward": staticmethod(lambda ctx, F, g: (F.zeros_like(g), None)),
    })

    def function(input, other, *, out=None):
        check_tensor(input, name)
        if not _operand_ok(other):
            raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
        return write_out(name, dispatch(op, (input, other)), out)

    def function_(input, other):
        if not _operand_ok(other):
            raise TypeError(f"{name}_(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
        return dispatch_inplace(op_, input, (other,), (D.result_type(input, other).np,))

    def dunder(self, other):
        if not _operand_ok(other):
            return NotImplemented
        return dispatch(op, (self, other))

    function.__name__ = function.__qualname__ = name
    function_.__name__ = function_.__qualname__ = name + "_"
    tensor_method(name, *aliases)(function)
    tensor_method(name + "_", *(a + "_" for a in aliases))(function_)
    tensor_method(operator)(dunder)
    return op, function


Eq, eq = _comparison("eq", np.equal, (), "__eq__")
Ne, ne = _comparison("ne", np.not_equal, ("not_equal",), "__ne__")
Lt, lt = _comparison("lt", np.less, ("less",), "__lt__")
Le, le = _comparison("le", np.less_equal, ("less_equal",), "__le__")
Gt, gt = _comparison("gt", np.greater, ("greater",), "__gt__")
Ge, ge = _comparison("ge", np.greater_equal, ("greater_equal",), "__ge__")
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge

# Defining __eq__ must not make tensors unhashable: PyTorch hashes tensors by identity.
Tensor.__hash__ = object.__hash__


# ---- logical ------------------------------------------------------------------------------

def _logical(name, ufunc):
    op = type("".join(p.capitalize() for p in name.split("_")), (Op,), {
        "name": name, "differentiable": False, "__module__": __name__,
        "forward": staticmethod(lambda ctx, a, b: npcall(name, ufunc, a, b)),
        "backward": staticmethod(lambda ctx, F, g: (None, None)),
    })

    def function(input, other, *, out=None):
        check_tensor(input, name)
        check_tensor(other, name, "other")
        return write_out(name, dispatch(op, (input, other)), out)

    def function_(input, other):
        check_tensor(other, name + "_", "other")
        return dispatch_inplace(op, input, (other,))

    function.__name__ = function.__qualname__ = name
    function_.__name__ = function_.__qualname__ = name + "_"
    tensor_method(name)(function)
    tensor_method(name + "_")(function_)
    return op, function


LogicalAnd, logical_and = _logical("logical_and", np.logical_and)
LogicalOr, logical_or = _logical("logical_or", np.logical_or)
LogicalXor, logical_xor = _logical("logical_xor", np.logical_xor)


class LogicalNot(Op):
    name = "logical_not"
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return _xp(a).logical_not(a)


@tensor_method("logical_not")
def logical_not(input, *, out=None):
    check_tensor(input, "logical_not")
    return write_out("logical_not", dispatch(LogicalNot, (input,)), out)


@tensor_method("logical_not_")
def _logical_not_(self):
    return dispatch_inplace(LogicalNot, self, ())


# ---- bitwise ------------------------------------------------------------------------------

def _integral_only(name, *operands):
    for x in operands:
        if isinstance(x, Tensor):
            if x._data.dtype.kind not in "biu":
                raise NotImplementedError(
                    f'"{name}_cpu" not implemented for \'{_TORCH_TYPE_NAMES[x.dtype.name]}\' '
                    f"(bitwise ops need integer or bool tensors, got {x.dtype})")
        elif not isinstance(x, (int, bool, np.integer, np.bool_)):
            raise NotImplementedError(
                f'"{name}_cpu" not implemented for \'Float\' (bitwise ops need integer or bool '
                f"operands, got {x!r})")


def _bitwise(name, ufunc, operator):
    short = operator[2:-2]
    op = type("".join(p.capitalize() for p in name.split("_")), (Op,), {
        "name": name, "promote": "common", "differentiable": False, "__module__": __name__,
        "forward": staticmethod(lambda ctx, a, b: npcall(name, ufunc, a, b)),
        "backward": staticmethod(lambda ctx, F, g: (None, None)),
    })

    def function(input, other, *, out=None):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}(): at least one of 'input' and 'other' must be a Tensor")
        _integral_only(name, input, other)
        return write_out(name, dispatch(op, (input, other)), out)

    def function_(input, other):
        _integral_only(name, input, other)
        return dispatch_inplace(op, input, (other,))

    def dunder(self, other):
        if not _operand_ok(other):
            return NotImplemented
        _integral_only(name, self, other)
        return dispatch(op, (self, other))

    def reflected(self, other):
        if not _operand_ok(other):
            return NotImplemented
        _integral_only(name, other, self)
        return dispatch(op, (other, self))

    function.__name__ = function.__qualname__ = name
    function_.__name__ = function_.__qualname__ = name + "_"
    tensor_method(name)(function)
    tensor_method(name + "_", f"__i{short}__")(function_)
    tensor_method(operator)(dunder)
    tensor_method(f"__r{short}__")(reflected)
    return op, function


BitwiseAnd, bitwise_and = _bitwise("bitwise_and", np.bitwise_and, "__and__")
BitwiseOr, bitwise_or = _bitwise("bitwise_or", np.bitwise_or, "__or__")
BitwiseXor, bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor, "__xor__")


class BitwiseNot(Op):
    name = "bitwise_not"
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return _xp(a).invert(a)


@tensor_method("__invert__")
def _invert(self):
    if self._data.dtype.kind not in "biu":
        raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type tensors, "
                        f"not {self.dtype}")
    return dispatch(BitwiseNot, (self,))


@tensor_method("bitwise_not")
def bitwise_not(input, *, out=None):
    check_tensor(input, "bitwise_not")
    _integral_only("bitwise_not", input)
    return write_out("bitwise_not", dispatch(BitwiseNot, (input,)), out)


@tensor_method("bitwise_not_")
def _bitwise_not_(self):
    _integral_only("bitwise_not", self)
    return dispatch_inplace(BitwiseNot, self, ())


# ---- value tests --------------------------------------------------------------------------

def _value_test(name, float_fn, int_fn):
    """A bool-valued test: float_fn on floating tensors, int_fn(xp, a) on integer/bool ones."""
    op = type("".join(p.capitalize() for p in name.split("_")), (Op,), {
        "name": name, "differentiable": False, "__module__": __name__,
        "forward": staticmethod(
            lambda ctx, a: npcall(name, float_fn, a) if a.dtype.kind == "f" else int_fn(_xp(a), a)),
    })

    def function(input):
        check_tensor(input, name)
        return dispatch(op, (input,))

    function.__name__ = function.__qualname__ = name
    tensor_method(name)(function)
    return op, function


def _all_false(xp, a):
    return xp.zeros(a.shape, dtype=bool)


def _all_true(xp, a):
    return xp.ones(a.shape, dtype=bool)


IsNan, isnan = _value_test("isnan", np.isnan, _all_false)
IsInf, isinf = _value_test("isinf", np.isinf, _all_false)
IsPosInf, isposinf = _value_test("isposinf", lambda a: a == np.inf, _all_false)
IsNegInf, isneginf = _value_test("isneginf", lambda a: a == -np.inf, _all_false)
IsFinite, isfinite = _value_test("isfinite", np.isfinite, _all_true)
SignBit, signbit = _value_test(
    "signbit", np.signbit, lambda xp, a: a < 0 if a.dtype.kind == "i" else xp.zeros(a.shape, dtype=bool))


class IsClose(Op):
    name = "isclose"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b, rtol, atol, equal_nan):
        xp = _xp(a)
        close = npcall("isclose", xp.equal, a, b)
        if equal_nan and a.dtype.kind == "f":
            close |= xp.isnan(a) & xp.isnan(b)
        if a.dtype.kind == "b" or (rtol == 0 and atol == 0):
            return close
        if a.dtype.kind != "f":
            a = a.astype(D.get_default_dtype().np)
            b = b.astype(a.dtype)
        with np.errstate(all="ignore"):
            allowed = atol + xp.abs(rtol * b)
            actual = xp.abs(a - b)
            close |= xp.isfinite(actual) & (actual <= allowed)
        return close


@tensor_method("isclose")
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    check_tensor(input, "isclose")
    check_tensor(other, "isclose", "other")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype} (the inputs must have "
                           "the same dtype)")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be greater than or equal to zero, but got "
                           f"rtol={rtol} and atol={atol}")
    return dispatch(IsClose, (input, other), (rtol, atol, bool(equal_nan)))


@tensor_method("allclose")
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of input is close to other's (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@tensor_method("equal")
def equal(input, other):
    """True when both tensors have the same shape and elements."""
    check_tensor(input, "equal")
    check_tensor(other, "equal", "other")
    a, b = input._data, other._data
    if a.shape != b.shape:
        return False
    if type(a) is not type(b):
        raise RuntimeError(f"equal: expected both tensors on the same device, got {input.device} and "
                           f"{other.device}")
    return bool(_xp(a).array_equal(a, b))


__all__ = [
    "allclose", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "eq", "equal", "ge",
    "greater", "greater_equal", "gt", "isclose", "isfinite", "isinf", "isnan", "isneginf", "isposinf",
    "le", "less", "less_equal", "logical_and", "logical_not", "logical_or", "logical_xor", "lt", "ne",
    "not_equal", "signbit",
]
