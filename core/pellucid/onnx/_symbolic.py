"""How each pellucid op is written in ONNX (PyTorch calls these symbolic functions).

`MAPPINGS[op name](g, n)` emits the nodes for one traced op: `g` is the graph under construction
(`_export.GraphBuilder`), `n` gives the op's inputs as ONNX names, its parameters, and the shapes
and dtypes the trace saw, and binds the op's outputs to ONNX names. A mapping marked
`dynamic_params` reads the sizes it needs from its values' shapes (which know the dynamic axes),
so its parameters may change with a dynamic axis.
"""
import math

import numpy as np

from .. import _dispatch
from .._tensor import Tensor
from ..jit._program import Ref, RawRef
from ._export import UnsupportedOperatorError, INT64_MAX

__all__ = ["MAPPINGS", "Emit"]

MAPPINGS = {}


def mapping(*names, dynamic_params=False):
    def register(fn):
        fn.dynamic_params = dynamic_params
        for name in names:
            MAPPINGS[name] = fn
        return fn
    return register


class Emit:
    """One traced op as the mappings see it."""

    def __init__(self, g, node, index, changes=None):
        self.g = g
        self.changes = changes or []    # [(dynamic axis, what changed)] in this op's parameters
        self.node = node
        self.index = index
        self.op = node.op
        self.args = node.args
        self.params = node.params

    def fail(self, msg):
        where = f" (module '{self.node.module}')" if self.node.module else " (top level)"
        raise UnsupportedOperatorError(f"ONNX export: op '{self.op}'{where}: {msg}")

    # ---- inputs
    def val(self, i):
        a = self.args[i]
        return self.g.program.values[a.id] if type(a) is Ref else None

    def shape(self, i):
        return self.val(i).shape

    def dtype(self, i):
        v = self.val(i)
        return v.dtype if v is not None else None

    def input(self, i, dtype=None):
        """Argument i as an ONNX name, cast to `dtype` (Python numbers become constants of it)."""
        a = self.args[i]
        if type(a) is Ref:
            name = self.g.value(a.id)
            return self.g.cast(name, self.g.program.values[a.id].dtype, dtype) if dtype else name
        if a is None:
            return ""
        return self.g.scalar(a, dtype or self.out_dtype())

    def raw(self, ref, dtype=None):
        if type(ref) is Ref:
            name = self.g.value(ref.id)
            src = self.g.program.values[ref.id].dtype
        else:
            name = self.g.raw(ref)
            src = ref.dtype or self.g.program.values[ref.id].dtype
        return self.g.cast(name, src, dtype) if dtype else name

    def ref_dtype(self, ref):
        if type(ref) is RawRef and ref.dtype:
            return ref.dtype
        return self.g.program.values[ref.id].dtype

    def ref_shape(self, ref):
        if type(ref) is RawRef and ref.shape is not None:
            return ref.shape
        return self.g.program.values[ref.id].shape

    # ---- outputs
    def out(self, k=0):
        return self.g.program.values[self.node.outputs[k]]

    def out_dtype(self, k=0):
        return self.out(k).dtype

    def set(self, k, name):
        self.g.names[self.node.outputs[k]] = name

    def common_dtype(self):
        """The dtype dispatch promoted the arguments to (PyTorch's rules)."""
        args = []
        for a in self.args:
            if type(a) is Ref:
                v = self.g.program.values[a.id]
                args.append(Tensor._make(np.zeros((1,) * len(v.shape), dtype=v.dtype)))
            elif a is not None:
                args.append(a)
        return _dispatch.common_dtype(args).np.name


# ---- shared helpers ---------------------------------------------------------------------------------

def _axes_all(ndim):
    return list(range(ndim))


def reduce(g, op_type, x, axes, keepdims):
    """Reduce* over `axes` (None: all), with the axes as an input where the opset wants it."""
    attrs = {"keepdims": int(bool(keepdims))}
    if axes is None:
        return g.op(op_type, x, **attrs)
    axes = [int(a) for a in axes]
    if op_type == "ReduceSum" or g.opset >= 18:
        return g.op(op_type, x, g.ints(axes), **attrs)
    return g.op(op_type, x, axes=axes, **attrs)


def squeeze(g, x, axes):
    return g.op("Squeeze", x, g.ints(axes)) if axes else x


def unsqueeze(g, x, axes):
    return g.op("Unsqueeze", x, g.ints(axes)) if axes else x


def _wrap(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _dims_tuple(dims, ndim):
    if dims is None:
        return None
    if isinstance(dims, int):
        dims = (dims,)
    return [_wrap(int(d), ndim) for d in dims]


# ---- element-wise -----------------------------------------------------------------------------------

_UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
          "neg": "Neg", "abs": "Abs", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
          "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
          "erf": "Erf", "reciprocal": "Reciprocal", "sign": "Sign", "sgn": "Sign", "softsign": "Softsign"}


@mapping(*_UNARY)
def _unary(g, n):
    n.set(0, g.op(_UNARY[n.op], n.input(0, n.out_dtype())))


@mapping("floor", "ceil", "trunc")
def _rounding(g, n):
    x = n.input(0)
    if np.dtype(n.dtype(0)).kind != "f":
        n.set(0, g.op("Identity", x))
    elif n.op == "trunc":
        n.set(0, g.op("Mul", g.op("Sign", x), g.op("Floor", g.op("Abs", x))))
    else:
        n.set(0, g.op(n.op.capitalize(), x))


@mapping("round")
def _round(g, n):
    x = n.input(0)
    decimals = n.params[0] if n.params else 0
    if np.dtype(n.dtype(0)).kind != "f":
        n.set(0, g.op("Identity", x))
    elif not decimals:
        n.set(0, g.op("Round", x))
    else:
        scale = g.scalar(10.0 ** decimals, n.out_dtype())
        n.set(0, g.op("Div", g.op("Round", g.op("Mul", x, scale)), scale))


@mapping("clone", "contiguous", "to_device")
def _identity(g, n):
    n.set(0, g.op("Identity", n.input(0)))


@mapping("to_dtype")
def _to_dtype(g, n):
    n.set(0, g.op("Cast", n.input(0), to=g.tensor_type(n.out_dtype())))


@mapping("square")
def _square(g, n):
    x = n.input(0, n.out_dtype())
    n.set(0, g.op("Mul", x, x))


@mapping("rsqrt")
def _rsqrt(g, n):
    n.set(0, g.op("Reciprocal", g.op("Sqrt", n.input(0, n.out_dtype()))))


@mapping("log1p", "expm1", "log2", "log10", "exp2")
def _log_exp_variants(g, n):
    dt = n.out_dtype()
    x = n.input(0, dt)
    one = g.scalar(1.0, dt)
    if n.op == "log1p":
        y = g.op("Log", g.op("Add", x, one))
    elif n.op == "expm1":
        y = g.op("Sub", g.op("Exp", x), one)
    elif n.op == "exp2":
        y = g.op("Pow", g.scalar(2.0, dt), x)
    else:
        y = g.op("Div", g.op("Log", x), g.scalar(math.log(2.0 if n.op == "log2" else 10.0), dt))
    n.set(0, y)


@mapping("frac")
def _frac(g, n):
    x = n.input(0)
    n.set(0, g.op("Sub", x, g.op("Mul", g.op("Sign", x), g.op("Floor", g.op("Abs", x)))))


@mapping("logical_not")
def _logical_not(g, n):
    n.set(0, g.op("Not", n.input(0, "bool")))


@mapping("bitwise_not")
def _bitwise_not(g, n):
    if n.dtype(0) == "bool":
        n.set(0, g.op("Not", n.input(0)))
    elif g.opset >= 18:
        n.set(0, g.op("BitwiseNot", n.input(0)))
    else:
        n.fail("bitwise_not of integers needs opset 18 or newer")


@mapping("isnan")
def _isnan(g, n):
    n.set(0, g.op("IsNaN", n.input(0)))


@mapping("isinf", "isposinf", "isneginf")
def _isinf(g, n):
    pos, neg = {"isinf": (1, 1), "isposinf": (1, 0), "isneginf": (0, 1)}[n.op]
    n.set(0, g.op("IsInf", n.input(0), detect_positive=pos, detect_negative=neg))


@mapping("isfinite")
def _isfinite(g, n):
    x = n.input(0)
    n.set(0, g.op("Not", g.op("Or", g.op("IsInf", x), g.op("IsNaN", x))))


_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
           "minimum": "Min", "fmax": "Max", "fmin": "Min"}


@mapping(*_BINARY)
def _binary(g, n):
    dt = n.out_dtype()
    if n.op == "pow":
        base = n.input(0, dt)
        exponent = n.input(1, dt)
        n.set(0, g.op("Pow", base, exponent))
        return
    if dt == "bool" and n.op in ("add", "mul", "maximum", "minimum"):
        kind = "Or" if n.op in ("add", "maximum") else "And"
        n.set(0, g.op(kind, n.input(0, dt), n.input(1, dt)))
        return
    n.set(0, g.op(_BINARY[n.op], n.input(0, dt), n.input(1, dt)))


@mapping("remainder", "fmod")
def _remainder(g, n):
    dt = n.out_dtype()
    a, b = n.input(0, dt), n.input(1, dt)
    if np.dtype(dt).kind == "f":
        if n.op == "fmod":
            n.set(0, g.op("Mod", a, b, fmod=1))
        else:
            n.set(0, g.op("Sub", a, g.op("Mul", g.op("Floor", g.op("Div", a, b)), b)))
    else:
        n.set(0, g.op("Mod", a, b, fmod=int(n.op == "fmod")))


@mapping("floor_divide")
def _floor_divide(g, n):
    dt = n.out_dtype()
    if np.dtype(dt).kind == "f":
        n.set(0, g.op("Floor", g.op("Div", n.input(0, dt), n.input(1, dt))))
    else:
        q = g.op("Floor", g.op("Div", n.input(0, "float64"), n.input(1, "float64")))
        n.set(0, g.op("Cast", q, to=g.tensor_type(dt)))


@mapping("div_rounding")
def _div_rounding(g, n):
    mode = n.params[0]
    dt = n.out_dtype()
    work = dt if np.dtype(dt).kind == "f" else "float64"
    q = g.op("Div", n.input(0, work), n.input(1, work))
    if mode == "floor":
        q = g.op("Floor", q)
    elif mode == "trunc":
        q = g.op("Mul", g.op("Sign", q), g.op("Floor", g.op("Abs", q)))
    n.set(0, g.cast(q, work, dt))


_COMPARE = {"eq": "Equal", "lt": "Less", "gt": "Greater", "le": "LessOrEqual", "ge": "GreaterOrEqual"}


@mapping("eq", "ne", "lt", "gt", "le", "ge")
def _compare(g, n):
    dt = n.common_dtype()
    a, b = n.input(0, dt), n.input(1, dt)
    if n.op == "ne":
        n.set(0, g.op("Not", g.op("Equal", a, b)))
    else:
        n.set(0, g.op(_COMPARE[n.op], a, b))


@mapping("logical_and", "logical_or", "logical_xor")
def _logical(g, n):
    kind = {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}[n.op]
    n.set(0, g.op(kind, n.input(0, "bool"), n.input(1, "bool")))


@mapping("bitwise_and", "bitwise_or", "bitwise_xor")
def _bitwise(g, n):
    dt = n.out_dtype()
    if dt == "bool":
        kind = {"bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}[n.op]
    elif g.opset >= 18:
        kind = {"bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr", "bitwise_xor": "BitwiseXor"}[n.op]
    else:
        n.fail("bitwise ops on integers need opset 18 or newer")
    n.set(0, g.op(kind, n.input(0, dt), n.input(1, dt)))


@mapping("where")
def _where(g, n):
    dt = n.out_dtype()
    n.set(0, g.op("Where", n.input(0, "bool"), n.input(1, dt), n.input(2, dt)))


@mapping("masked_fill")
def _masked_fill(g, n):
    dt = n.out_dtype()
    mask = n.raw(n.params[0], "bool")
    n.set(0, g.op("Where", mask, n.input(1, dt), n.input(0, dt)))


@mapping("clamp", "clamp_min", "clamp_max")
def _clamp(g, n):
    dt = n.out_dtype()
    x = n.input(0, dt)
    if n.args[1] is not None:
        x = g.op("Max", x, n.input(1, dt))
    if n.args[2] is not None:
        x = g.op("Min", x, n.input(2, dt))
    n.set(0, x)


@mapping("nan_to_num")
def _nan_to_num(g, n):
    dt = n.out_dtype()
    x = n.input(0)
    info = np.finfo(np.dtype(dt))
    nan, posinf, neginf = n.params
    x = g.op("Where", g.op("IsNaN", x), g.scalar(0.0 if nan is None else nan, dt), x)
    x = g.op("Where", g.op("IsInf", x, detect_positive=1, detect_negative=0),
             g.scalar(info.max if posinf is None else posinf, dt), x)
    x = g.op("Where", g.op("IsInf", x, detect_positive=0, detect_negative=1),
             g.scalar(info.min if neginf is None else neginf, dt), x)
    n.set(0, x)


# ---- activations ----------------------------------------------------------------------------------

@mapping("leaky_relu")
def _leaky_relu(g, n):
    n.set(0, g.op("LeakyRelu", n.input(0), alpha=float(n.params[0])))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@mapping("elu")
def _elu(g, n):
    alpha, scale, input_scale = (float(p) for p in n.params)
    x = n.input(0)
    if scale == 1.0 and input_scale == 1.0:
        n.set(0, g.op("Elu", x, alpha=alpha))
    elif abs(alpha - _SELU_ALPHA) < 1e-12 and abs(scale - _SELU_SCALE) < 1e-12 and input_scale == 1.0:
        n.set(0, g.op("Selu", x, alpha=alpha, gamma=scale))
    elif scale == 1.0 and abs(alpha * input_scale - 1.0) < 1e-12:
        n.set(0, g.op("Celu", x, alpha=alpha))
    else:
        dt = n.out_dtype()
        neg = g.op("Exp", g.op("Mul", g.op("Min", x, g.scalar(0.0, dt)), g.scalar(input_scale, dt)))
        neg = g.op("Mul", g.op("Sub", neg, g.scalar(1.0, dt)), g.scalar(alpha * scale, dt))
        pos = g.op("Mul", x, g.scalar(scale, dt))
        n.set(0, g.op("Where", g.op("Greater", x, g.scalar(0.0, dt)), pos, neg))


@mapping("hardtanh")
def _hardtanh(g, n):
    dt = n.out_dtype()
    lo, hi = n.params
    n.set(0, g.op("Clip", n.input(0), g.scalar(lo, dt), g.scalar(hi, dt)))


@mapping("threshold")
def _threshold(g, n):
    dt = n.out_dtype()
    th, value = n.params
    x = n.input(0)
    n.set(0, g.op("Where", g.op("Greater", x, g.scalar(th, dt)), x, g.scalar(value, dt)))


@mapping("gelu")
def _gelu(g, n):
    approximate = n.params[0]
    x = n.input(0)
    if g.opset >= 20:
        n.set(0, g.op("Gelu", x, approximate=approximate))
        return
    dt = n.out_dtype()
    half = g.scalar(0.5, dt)
    one = g.scalar(1.0, dt)
    if approximate == "tanh":
        cube = g.op("Mul", g.op("Mul", x, x), x)
        inner = g.op("Add", x, g.op("Mul", cube, g.scalar(0.044715, dt)))
        inner = g.op("Mul", inner, g.scalar(math.sqrt(2.0 / math.pi), dt))
        cdf = g.op("Add", one, g.op("Tanh", inner))
    else:
        cdf = g.op("Add", one, g.op("Erf", g.op("Mul", x, g.scalar(1.0 / math.sqrt(2.0), dt))))
    n.set(0, g.op("Mul", g.op("Mul", x, half), cdf))


@mapping("hardsigmoid")
def _hardsigmoid(g, n):
    n.set(0, g.op("HardSigmoid", n.input(0), alpha=1.0 / 6.0, beta=0.5))


@mapping("hardswish")
def _hardswish(g, n):
    x = n.input(0)
    if g.opset >= 14:
        n.set(0, g.op("HardSwish", x))
    else:
        n.set(0, g.op("Mul", x, g.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)))


@mapping("silu")
def _silu(g, n):
    x = n.input(0)
    n.set(0, g.op("Mul", x, g.op("Sigmoid", x)))


@mapping("mish")
def _mish(g, n):
    x = n.input(0)
    n.set(0, g.op("Mul", x, g.op("Tanh", g.op("Softplus", x))))


@mapping("log_sigmoid")
def _log_sigmoid(g, n):
    n.set(0, g.op("Neg", g.op("Softplus", g.op("Neg", n.input(0)))))


@mapping("tanhshrink")
def _tanhshrink(g, n):
    x = n.input(0)
    n.set(0, g.op("Sub", x, g.op("Tanh", x)))


@mapping("hardshrink", "softshrink")
def _shrink(g, n):
    lambd = float(n.params[0])
    n.set(0, g.op("Shrink", n.input(0), lambd=lambd, bias=lambd if n.op == "softshrink" else 0.0))


@mapping("softplus")
def _softplus(g, n):
    beta, _threshold_ = n.params
    x = n.input(0)
    if beta == 1:
        n.set(0, g.op("Softplus", x))
    else:
        b = g.scalar(float(beta), n.out_dtype())
        n.set(0, g.op("Div", g.op("Softplus", g.op("Mul", x, b)), b))


@mapping("prelu")
def _prelu(g, n):
    x, w = n.input(0), n.input(1)
    ndim = len(n.shape(0))
    wshape = n.shape(1)
    if ndim >= 2 and int(np.prod(wshape)) > 1:
        w = g.op("Reshape", w, g.ints([int(np.prod(wshape))] + [1] * (ndim - 2)))
    n.set(0, g.op("PRelu", x, w))


@mapping("glu")
def _glu(g, n):
    dim = n.params[0]
    a, b = g.node("Split", [n.input(0), g.ints([n.shape(0)[dim] // 2] * 2)], 2, axis=dim)
    n.set(0, g.op("Mul", a, g.op("Sigmoid", b)))


@mapping("softmax", "log_softmax")
def _softmax(g, n):
    n.set(0, g.op("Softmax" if n.op == "softmax" else "LogSoftmax", n.input(0), axis=int(n.params[0])))


# ---- linear algebra ---------------------------------------------------------------------------------

@mapping("linear")
def _linear(g, n):
    x, w = n.input(0), n.input(1)
    has_bias = n.args[2] is not None
    if len(n.shape(0)) == 2 and len(n.shape(1)) == 2:
        inputs = [x, w] + ([n.input(2)] if has_bias else [])
        n.set(0, g.op("Gemm", *inputs, transB=1))
        return
    y = g.op("MatMul", x, g.op("Transpose", w, perm=[1, 0]) if len(n.shape(1)) == 2 else w)
    if has_bias:
        y = g.op("Add", y, n.input(2))
    n.set(0, y)


@mapping("matmul", "mm", "bmm", "mv")
def _matmul(g, n):
    n.set(0, g.op("MatMul", n.input(0), n.input(1)))


@mapping("dot")
def _dot(g, n):
    n.set(0, reduce(g, "ReduceSum", g.op("Mul", n.input(0), n.input(1)), None, False))


@mapping("addmm")
def _addmm(g, n):
    beta, alpha = n.params
    n.set(0, g.op("Gemm", n.input(1), n.input(2), n.input(0), alpha=float(alpha), beta=float(beta)))


@mapping("baddbmm", "addmv")
def _baddbmm(g, n):
    beta, alpha = n.params
    dt = n.out_dtype()
    prod = g.op("MatMul", n.input(1), n.input(2))
    if alpha != 1:
        prod = g.op("Mul", prod, g.scalar(alpha, dt))
    if beta == 0:
        n.set(0, prod)
        return
    inp = n.input(0)
    if beta != 1:
        inp = g.op("Mul", inp, g.scalar(beta, dt))
    n.set(0, g.op("Add", inp, prod))


@mapping("einsum")
def _einsum(g, n):
    terms, out = n.params
    eq = ",".join(terms) + "->" + out
    n.set(0, g.op("Einsum", *[n.input(i) for i in range(len(n.args))], equation=eq))


# ---- shapes -----------------------------------------------------------------------------------------

@mapping("view", "reshape", dynamic_params=True)
def _reshape(g, n):
    n.set(0, g.reshape(n.input(0), n.args[0].id, None, n.node.outputs[0]))


def _squeezed_axes(big, small):
    """Axes of `big` that are dropped to give `small` (each of size 1)."""
    out, j = [], 0
    for i, d in enumerate(big):
        if j < len(small) and d == small[j]:
            j += 1
        else:
            out.append(i)
    return out


@mapping("squeeze", dynamic_params=True)
def _squeeze(g, n):
    n.set(0, squeeze(g, n.input(0), _squeezed_axes(n.shape(0), n.out().shape)))


@mapping("unsqueeze", dynamic_params=True)
def _unsqueeze(g, n):
    n.set(0, unsqueeze(g, n.input(0), _squeezed_axes(n.out().shape, n.shape(0))))


@mapping("transpose")
def _transpose(g, n):
    d0, d1 = n.params
    perm = list(range(len(n.shape(0))))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    n.set(0, g.op("Transpose", n.input(0), perm=perm))


@mapping("permute")
def _permute(g, n):
    ndim = len(n.shape(0))
    n.set(0, g.op("Transpose", n.input(0), perm=[_wrap(int(d), ndim) for d in n.params[0]]))


@mapping("expand", dynamic_params=True)
def _expand(g, n):
    in_shape = n.shape(0)
    out_vid = n.node.outputs[0]
    out_dims = g.dims_of(out_vid)
    lead = len(out_dims) - len(in_shape)
    target = []
    for i, d in enumerate(out_dims):
        k = i - lead
        if k >= 0 and in_shape[k] == n.out().shape[i]:
            target.append(1)        # broadcasting keeps the input's own (maybe dynamic) size
        else:
            target.append(d)
    n.set(0, g.op("Expand", n.input(0), g.shape_tensor(target)))


def basic_index(g, n, x, shape, basic):
    """x[basic] for a tuple of ints, slices, None and one Ellipsis: Slice, then Squeeze the int
    axes, then Unsqueeze the None positions."""
    items = list(basic)
    consumed = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in items:
        k = items.index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (len(shape) - consumed)
    else:
        items += [slice(None)] * (len(shape) - consumed)
    starts, ends, axes, steps = [], [], [], []
    drop, insert = [], []
    axis = out_axis = 0
    for it in items:
        if it is None:
            insert.append(out_axis)
            out_axis += 1
        elif type(it) is int or isinstance(it, (np.integer,)):
            i = int(it)
            starts.append(i)
            ends.append(i + 1 if i != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            drop.append(axis)
            axis += 1
        elif type(it) is slice:
            if not (it.start in (None, 0) and it.stop is None and it.step in (None, 1)):
                if any(type(v) not in (int, type(None)) for v in (it.start, it.stop, it.step)):
                    n.fail(f"slice {it} has non-integer bounds")
                step = 1 if it.step is None else it.step
                starts.append(0 if it.start is None else it.start)
                ends.append(INT64_MAX if it.stop is None else it.stop)
                axes.append(axis)
                steps.append(step)
            axis += 1
            out_axis += 1
        else:
            n.fail(f"index {it!r} has no ONNX mapping")
    if axes:
        x = g.op("Slice", x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps))
    x = squeeze(g, x, drop)
    return unsqueeze(g, x, insert)


@mapping("slice", "select", "narrow")
def _slice(g, n):
    n.set(0, basic_index(g, n, n.input(0), n.shape(0), n.params[0]))


@mapping("index", "index_select")
def _index(g, n):
    key = n.params[0]
    x = n.input(0)
    shape = n.shape(0)
    if key.basic is not None:
        x = basic_index(g, n, x, shape, key.basic)
        shape = _basic_shape(shape, key.basic)
    adv = key.adv if type(key.adv) is tuple else (key.adv,)
    arrays = [(i, a) for i, a in enumerate(adv) if not (type(a) is slice and a == slice(None))]
    if len(arrays) != 1 or type(arrays[0][1]) not in (Ref, RawRef):
        n.fail("only indexing with one integer index tensor (x[idx], x[:, idx]) has an ONNX mapping")
    axis, ref = arrays[0]
    if n.ref_dtype(ref) == "bool":
        n.fail("indexing with a boolean mask has no ONNX mapping (its output shape depends on the data)")
    idx = n.raw(ref, "int64")
    n.set(0, g.op("Gather", x, idx, axis=axis))


def _basic_shape(shape, basic):
    import numpy as _np
    probe = _np.empty(shape, dtype=_np.bool_)
    return probe[tuple(basic)].shape


@mapping("gather")
def _gather(g, n):
    key = n.params[0]
    adv = key.adv
    own = [i for i, a in enumerate(adv) if type(a) in (Ref, RawRef)]
    if key.basic is not None or len(own) != 1:
        n.fail("this gather has no ONNX mapping")
    dim = own[0]
    n.set(0, g.op("GatherElements", n.input(0), n.raw(adv[dim], "int64"), axis=dim))


@mapping("embedding")
def _embedding(g, n):
    idx = n.params[0]
    n.set(0, g.op("Gather", n.input(0), n.raw(idx, "int64"), axis=0))


@mapping("one_hot")
def _one_hot(g, n):
    depth = int(n.params[0])
    values = g.const(np.array([0, 1], dtype=np.int64))
    n.set(0, g.op("OneHot", n.input(0, "int64"), g.ints([depth]), values, axis=-1))


@mapping("split_with_sizes")
def _split(g, n):
    dim, bounds = n.params
    x = n.input(0)
    size = n.shape(0)[dim]
    covering = bool(bounds) and bounds[0][0] == 0 and bounds[-1][1] == size and all(
        bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
    if covering and len(bounds) > 1:
        outs = g.node("Split", [x, g.ints([e - s for s, e in bounds])], len(bounds), axis=dim)
    else:
        outs = [g.op("Slice", x, g.ints([s]), g.ints([e]), g.ints([dim])) for s, e in bounds]
    for k, name in enumerate(outs):
        n.set(k, name)


@mapping("unbind")
def _unbind(g, n):
    dim = n.params[0]
    count = n.shape(0)[dim]
    if count == 1:
        n.set(0, squeeze(g, n.input(0), [dim]))
        return
    pieces = g.node("Split", [n.input(0), g.ints([1] * count)], count, axis=dim)
    for k, p in enumerate(pieces):
        n.set(k, squeeze(g, p, [dim]))


@mapping("cat")
def _cat(g, n):
    dim, np_dtype, keep = n.params
    dt = np.dtype(np_dtype).name
    parts = [n.input(i, dt) for i, k in enumerate(keep) if k]
    n.set(0, g.op("Concat", *parts, axis=int(dim)) if len(parts) > 1 else g.op("Identity", parts[0]))


@mapping("stack")
def _stack(g, n):
    dim, np_dtype = n.params
    dt = np.dtype(np_dtype).name
    parts = [unsqueeze(g, n.input(i, dt), [dim]) for i in range(len(n.args))]
    n.set(0, g.op("Concat", *parts, axis=int(dim)) if len(parts) > 1 else g.op("Identity", parts[0]))


@mapping("repeat")
def _repeat(g, n):
    reps = list(n.params[0])
    x = n.input(0)
    extra = len(reps) - len(n.shape(0))
    if extra > 0:
        x = unsqueeze(g, x, list(range(extra)))
    n.set(0, g.op("Tile", x, g.ints(reps)))


@mapping("flip")
def _flip(g, n):
    dims = _dims_tuple(n.params[0], len(n.shape(0)))
    k = len(dims)
    n.set(0, g.op("Slice", n.input(0), g.ints([-1] * k), g.ints([-INT64_MAX] * k), g.ints(dims),
                  g.ints([-1] * k)))


@mapping("tril", "triu")
def _trilu(g, n):
    if g.opset < 14:
        n.fail("tril/triu need opset 14 or newer")
    n.set(0, g.op("Trilu", n.input(0), g.ints([int(n.params[0])]), upper=int(n.op == "triu")))


@mapping("constant_pad_nd")
def _constant_pad(g, n):
    pairs, value = n.params
    ndim = len(n.shape(0))
    begin, end = [0] * ndim, [0] * ndim
    for d, lo, hi in pairs:
        begin[d], end[d] = lo, hi
    dt = n.out_dtype()
    n.set(0, g.op("Pad", n.input(0), g.ints(begin + end), g.scalar(value, dt), mode="constant"))


@mapping("pad")
def _pad(g, n):
    pairs, mode = n.params
    ndim = len(n.shape(0))
    begin, end = [0] * ndim, [0] * ndim
    for d, lo, hi in pairs:
        begin[d], end[d] = lo, hi
    onnx_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if onnx_mode is None or (onnx_mode == "wrap" and g.opset < 19):
        n.fail(f"padding mode '{mode}' has no ONNX mapping at opset {g.opset}")
    n.set(0, g.op("Pad", n.input(0), g.ints(begin + end), mode=onnx_mode))


@mapping("cumsum")
def _cumsum(g, n):
    dim, np_dtype = n.params
    dt = n.out_dtype()
    n.set(0, g.op("CumSum", n.input(0, dt), g.const(np.array(int(dim), dtype=np.int64))))


# ---- reductions ----------------------------------------------------------------------------------

_REDUCE = {"sum": "ReduceSum", "sum_all": "ReduceSum", "mean": "ReduceMean", "mean_all": "ReduceMean",
           "prod": "ReduceProd", "amax": "ReduceMax", "amin": "ReduceMin", "max_all": "ReduceMax",
           "min_all": "ReduceMin", "logsumexp": "ReduceLogSumExp"}


@mapping(*_REDUCE)
def _reduce(g, n):
    dims, keepdim = n.params[0], n.params[1]
    ndim = len(n.shape(0))
    x = n.input(0, n.out_dtype() if n.op in ("sum", "sum_all", "mean", "mean_all", "prod", "logsumexp") else None)
    axes = _dims_tuple(dims, ndim)
    if axes is not None and len(axes) == 0:
        axes = None
    n.set(0, reduce(g, _REDUCE[n.op], x, axes, keepdim))


@mapping("max", "min")
def _max_dim(g, n):
    dim, keepdim = n.params
    x = n.input(0)
    dim = _wrap(int(dim), len(n.shape(0)))
    n.set(0, reduce(g, "ReduceMax" if n.op == "max" else "ReduceMin", x, [dim], keepdim))
    n.set(1, g.op("ArgMax" if n.op == "max" else "ArgMin", x, axis=dim, keepdims=int(bool(keepdim))))


@mapping("argmax", "argmin")
def _argmax(g, n):
    dim, keepdim = n.params
    x = n.input(0)
    kind = "ArgMax" if n.op == "argmax" else "ArgMin"
    if dim is None:
        flat = g.op(kind, g.op("Reshape", x, g.ints([-1])), axis=0, keepdims=0)
        n.set(0, g.op("Reshape", flat, g.ints([1] * len(n.shape(0)))) if keepdim else flat)
    else:
        n.set(0, g.op(kind, x, axis=_wrap(int(dim), len(n.shape(0))), keepdims=int(bool(keepdim))))


@mapping("var", "std", "var_mean", "std_mean")
def _var(g, n):
    dims, correction, keepdim = n.params
    shape = n.shape(0)
    axes = _dims_tuple(dims, len(shape)) if dims is not None else _axes_all(len(shape))
    if any(g.dyn.dim(n.args[0].id, a) for a in axes):
        n.fail("variance over a dynamic axis has no ONNX mapping")
    count = int(np.prod([shape[a] for a in axes])) if axes else 1
    x = n.input(0)
    dt = n.out_dtype()
    mean = reduce(g, "ReduceMean", x, axes, True)
    d = g.op("Sub", x, mean)
    s = reduce(g, "ReduceSum", g.op("Mul", d, d), axes, keepdim)
    var = g.op("Div", s, g.scalar(float(max(count - correction, 0)), dt))
    out = g.op("Sqrt", var) if n.op.startswith("std") else var
    n.set(0, out)
    if n.op.endswith("_mean"):
        n.set(1, mean if keepdim else squeeze(g, mean, axes))


@mapping("linalg_vector_norm")
def _vector_norm(g, n):
    ord_, dims, keepdim = n.params
    shape = n.shape(0)
    axes = _dims_tuple(dims, len(shape))
    x = n.input(0)
    if ord_ == 2:
        y = reduce(g, "ReduceL2", x, axes, keepdim)
    elif ord_ == 1:
        y = reduce(g, "ReduceL1", x, axes, keepdim)
    elif ord_ == float("inf"):
        y = reduce(g, "ReduceMax", g.op("Abs", x), axes, keepdim)
    elif ord_ == float("-inf"):
        y = reduce(g, "ReduceMin", g.op("Abs", x), axes, keepdim)
    else:
        dt = n.out_dtype()
        p = g.scalar(float(ord_), dt)
        y = g.op("Pow", reduce(g, "ReduceSum", g.op("Pow", g.op("Abs", x), p), axes, keepdim),
                 g.scalar(1.0 / float(ord_), dt))
    n.set(0, y)


@mapping("all", "any")
def _all_any(g, n):
    dims, keepdim = n.params
    axes = _dims_tuple(dims, len(n.shape(0)))
    x = g.op("Cast", n.input(0, "bool"), to=g.tensor_type("int32"))
    y = reduce(g, "ReduceMin" if n.op == "all" else "ReduceMax", x, axes, keepdim)
    n.set(0, g.op("Cast", y, to=g.tensor_type("bool")))


# ---- layers -------------------------------------------------------------------------------------

@mapping("convolution", dynamic_params=True)
def _convolution(g, n):
    stride, pad_lo, pad_hi, dilation, groups, transposed, target = n.params
    x, w = n.input(0), n.input(1)
    inputs = [x, w] + ([n.input(2)] if n.args[2] is not None else [])
    wshape = n.shape(1)
    kernel = list(wshape[2:])
    attrs = dict(strides=list(stride), pads=list(pad_lo) + list(pad_hi), dilations=list(dilation),
                 group=int(groups), kernel_shape=kernel)
    if not transposed:
        n.set(0, g.op("Conv", *inputs, **attrs))
        return
    in_sp = n.shape(0)[2:]
    natural = [(L - 1) * s - 2 * p + d * (k - 1) + 1
               for L, s, p, d, k in zip(in_sp, stride, pad_lo, dilation, kernel)]
    attrs["output_padding"] = [t - nat for t, nat in zip(target, natural)]
    n.set(0, g.op("ConvTranspose", *inputs, **attrs))


def _ceil_mode(in_sp, kernel, stride, pad, dil, out_sp):
    floor = [(S + 2 * p - d * (k - 1) - 1) // s + 1 for S, k, s, p, d in zip(in_sp, kernel, stride, pad, dil)]
    return int(list(floor) != list(out_sp))


@mapping("max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices", dynamic_params=True)
def _max_pool(g, n):
    kernel, stride, pad, dil, out_sp, _ = n.params
    in_sp = n.shape(0)[2:]
    n.set(0, g.op("MaxPool", n.input(0), kernel_shape=list(kernel), strides=list(stride),
                  pads=list(pad) * 2, dilations=list(dil),
                  ceil_mode=_ceil_mode(in_sp, kernel, stride, pad, dil, out_sp)))


@mapping("avg_pool1d", "avg_pool2d", "avg_pool3d", dynamic_params=True)
def _avg_pool(g, n):
    in_sp, kernel, stride, pad, out_sp, count_include_pad, divisor_override = n.params
    if divisor_override is not None:
        n.fail("avg_pool with divisor_override has no ONNX mapping")
    n.set(0, g.op("AveragePool", n.input(0), kernel_shape=list(kernel), strides=list(stride),
                  pads=list(pad) * 2, count_include_pad=int(bool(count_include_pad)),
                  ceil_mode=_ceil_mode(in_sp, kernel, stride, pad, (1,) * len(kernel), out_sp)))


@mapping("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
         "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", dynamic_params=True)
def _adaptive_pool(g, n):
    in_sp, out_sp = n.params
    is_max = "max" in n.op
    x = n.input(0)
    if all(o == 1 for o in out_sp):
        n.set(0, g.op("GlobalMaxPool" if is_max else "GlobalAveragePool", x))
    elif n.changes:
        n.fail("adaptive pooling to a size other than 1 has no ONNX mapping when its input's spatial size is "
               "a dynamic axis")
    elif all(o and i % o == 0 for i, o in zip(in_sp, out_sp)):
        k = [i // o for i, o in zip(in_sp, out_sp)]
        n.set(0, g.op("MaxPool" if is_max else "AveragePool", x, kernel_shape=k, strides=k))
    else:
        n.fail(f"adaptive pooling from {list(in_sp)} to {list(out_sp)} (not a whole multiple) has no ONNX mapping")


def _affine_inputs(g, n, channels, dt):
    w = n.input(1) if n.args[1] is not None else g.const(np.ones(channels, dtype=dt), "ones")
    b = n.input(2) if n.args[2] is not None else g.const(np.zeros(channels, dtype=dt), "zeros")
    return w, b


@mapping("native_batch_norm", "instance_norm", dynamic_params=True)
def _batch_norm(g, n):
    spec, eps, fixed, running = n.params
    dt = n.out_dtype()
    channels = n.shape(0)[1]
    w, b = _affine_inputs(g, n, channels, dt)
    x = n.input(0)
    if fixed is not None:
        mean, var = n.raw(fixed[0], dt), n.raw(fixed[1], dt)
        n.set(0, g.op("BatchNormalization", x, w, b, mean, var, epsilon=float(eps)))
    elif n.op == "instance_norm":
        n.set(0, g.op("InstanceNormalization", x, w, b, epsilon=float(eps)))
    else:
        n.fail("batch_norm with batch statistics (training mode) has no ONNX mapping; export runs the model "
               "in eval mode, so call it with training=False or use the module's running statistics")


@mapping("native_layer_norm", dynamic_params=True)
def _layer_norm(g, n):
    spec, eps = n.params[0], n.params[1]
    shape = n.shape(0)
    count = spec.stats_shape[1]
    if n.args[1] is not None:
        k = len(n.shape(1))
    else:
        k, prod = 0, 1
        while prod != count and k < len(shape):
            k += 1
            prod *= shape[-k]
    axis = len(shape) - k
    dt = n.out_dtype()
    norm_shape = list(shape[axis:])
    w = n.input(1) if n.args[1] is not None else g.const(np.ones(norm_shape, dtype=dt), "ones")
    b = n.input(2) if n.args[2] is not None else g.const(np.zeros(norm_shape, dtype=dt), "zeros")
    x = n.input(0)
    if g.opset >= 17:
        n.set(0, g.op("LayerNormalization", x, w, b, axis=axis, epsilon=float(eps)))
        return
    axes = list(range(axis, len(shape)))
    mean = reduce(g, "ReduceMean", x, axes, True)
    d = g.op("Sub", x, mean)
    var = reduce(g, "ReduceMean", g.op("Mul", d, d), axes, True)
    y = g.op("Div", d, g.op("Sqrt", g.op("Add", var, g.scalar(float(eps), dt))))
    n.set(0, g.op("Add", g.op("Mul", y, w), b))


@mapping("native_group_norm", dynamic_params=True)
def _group_norm(g, n):
    spec, eps = n.params[0], n.params[1]
    groups = spec.stats_shape[1]
    shape = n.shape(0)
    dt = n.out_dtype()
    x = n.input(0)
    grouped = g.op("Reshape", x, g.ints([0, groups, -1]))
    mean = reduce(g, "ReduceMean", grouped, [2], True)
    d = g.op("Sub", grouped, mean)
    var = reduce(g, "ReduceMean", g.op("Mul", d, d), [2], True)
    y = g.op("Div", d, g.op("Sqrt", g.op("Add", var, g.scalar(float(eps), dt))))
    y = g.op("Reshape", y, g.op("Shape", x))
    affine = [shape[1]] + [1] * (len(shape) - 2)
    if n.args[1] is not None:
        y = g.op("Mul", y, g.op("Reshape", n.input(1), g.ints(affine)))
    if n.args[2] is not None:
        y = g.op("Add", y, g.op("Reshape", n.input(2), g.ints(affine)))
    n.set(0, y)


@mapping("dropout")
def _dropout(g, n):
    n.fail("dropout with a random mask (training=True) has no ONNX mapping; export runs the model in eval "
           "mode, where nn.Dropout does nothing; F.dropout(x, p, training=True) in forward always drops")
