"""Binary arithmetic: + - * / ** with broadcasting, Python scalars on either side, and the
in-place forms."""
from .._dispatch import Op, dispatch, dispatch_inplace
from .._tensor import Tensor
from ._registry import tensor_method


class Add(Op):
    name = "add"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, F, g):
        return g, g


class Sub(Op):
    name = "sub"
    promote = "common"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, F, g):
        return g, -g


class Mul(Op):
    name = "mul"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
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

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
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
        return a ** b

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, (int, float)):
                ga = g * 2 * a if b == 2 else (g * 0 if b == 0 else g * b * a ** (b - 1))
            else:
                # b * a^(b-1), taken as 0 where b == 0 (so 0 ** 0 has gradient 0, like PyTorch)
                ga = F.where(b == 0, F.zeros_like(g), g * b * a ** (b - 1))
        if nb:
            out = ctx.output if F.__class__.__name__ == "TensorNS" else ctx.out_data
            if isinstance(a, (int, float)):
                import math
                gb = g * out * math.log(a) if a > 0 else F.where((a == 0) & (b >= 0), g * 0, g * out * math.log(a) if a > 0 else g * float("nan"))
            else:
                gb = F.where((a == 0) & (b >= 0), F.zeros_like(g), g * out * F.log(a))
        return ga, gb


def _alpha(other, alpha):
    return other if alpha == 1 else other * alpha


@tensor_method("add", "__add__")
def add(input, other, *, alpha=1, out=None):
    return dispatch(Add, (input, _alpha(other, alpha)))


@tensor_method("__radd__")
def _radd(self, other):
    return dispatch(Add, (other, self))


@tensor_method("sub", "subtract", "__sub__")
def sub(input, other, *, alpha=1, out=None):
    return dispatch(Sub, (input, _alpha(other, alpha)))


subtract = sub


@tensor_method("__rsub__")
def _rsub(self, other):
    return dispatch(Sub, (other, self))


def rsub(input, other, *, alpha=1):
    return dispatch(Sub, (other, _alpha(input, alpha)))


@tensor_method("mul", "multiply", "__mul__")
def mul(input, other, *, out=None):
    return dispatch(Mul, (input, other))


multiply = mul


@tensor_method("__rmul__")
def _rmul(self, other):
    return dispatch(Mul, (other, self))


@tensor_method("div", "divide", "true_divide", "__truediv__")
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        return dispatch(Div, (input, other))
    from . import _pointwise
    if rounding_mode == "floor":
        return _pointwise.floor_divide(input, other)
    if rounding_mode == "trunc":
        return _pointwise.trunc_divide(input, other)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


divide = true_divide = div


@tensor_method("__rtruediv__")
def _rdiv(self, other):
    return dispatch(Div, (other, self))


@tensor_method("neg", "negative", "__neg__")
def neg(input, *, out=None):
    return dispatch(Neg, (input,))


negative = neg


@tensor_method("__pos__")
def _pos(self):
    return self


@tensor_method("pow", "__pow__")
def pow(input, exponent, *, out=None):
    if not isinstance(input, Tensor):
        return dispatch(Pow, (input, exponent))
    return dispatch(Pow, (input, exponent))


@tensor_method("__rpow__")
def _rpow(self, other):
    return dispatch(Pow, (other, self))





@tensor_method("add_", "__iadd__")
def _add_(self, other, *, alpha=1):
    return dispatch_inplace(Add, self, (_alpha(other, alpha),))


@tensor_method("sub_", "subtract_", "__isub__")
def _sub_(self, other, *, alpha=1):
    return dispatch_inplace(Sub, self, (_alpha(other, alpha),))


@tensor_method("mul_", "multiply_", "__imul__")
def _mul_(self, other):
    return dispatch_inplace(Mul, self, (other,))


@tensor_method("div_", "divide_", "true_divide_", "__itruediv__")
def _div_(self, other, *, rounding_mode=None):
    if rounding_mode is not None:
        from . import _pointwise
        res = div(self.detach() if not self._requires_grad else self, other, rounding_mode=rounding_mode)
        return self.copy_(res)
    return dispatch_inplace(Div, self, (other,))


@tensor_method("pow_", "__ipow__")
def _pow_(self, exponent):
    return dispatch_inplace(Pow, self, (exponent,))


@tensor_method("neg_", "negative_")
def _neg_(self):
    return dispatch_inplace(Neg, self, ())


__all__ = ['add', 'div', 'divide', 'mul', 'multiply', 'neg', 'negative', 'pow', 'rsub', 'sub', 'subtract', 'true_divide']
