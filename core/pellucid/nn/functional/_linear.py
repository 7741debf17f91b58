"""linear and bilinear: one fused op each (a single GEMM plus bias forward, GEMMs backward)."""
from ... import _backend
from ..._dispatch import Op, dispatch
from ..._tensor import Tensor
from ...ops._F import ArrayNS


def _einsum(F, eq, *operands):
    if isinstance(F, ArrayNS):
        return F.xp.einsum(eq, *operands, optimize=True)
    return F.einsum(eq, *operands)


class Linear(Op):
    """y = x @ W.T + b over the last dim of x."""
    name = "linear"
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b):
        in_f = w.shape[-1]
        if x.ndim > 2:
            lead = x.shape[:-1]
            out = (x.reshape(-1, in_f) @ w.T).reshape(lead + (w.shape[0],))
        else:
            out = x @ w.T
        if b is not None:
            out += b
        ctx.has_bias = b is not None
        return out

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.inputs
        nx, nw, nb = ctx.needs_input_grad
        gx = gw = gb = None
        out_f, in_f = w.shape
        if nx:
            gx = F.matmul(g, w)
        if nw or nb:
            g2 = F.reshape(g, (-1, out_f))
            if nw:
                gw = F.matmul(F.mT(g2), F.reshape(x, (-1, in_f)))
            if nb:
                gb = F.sum(g2, 0)
        return gx, gw, gb


class Bilinear(Op):
    """y[..., o] = x1[..., i] W[o, i, j] x2[..., j] + b[o]."""
    name = "bilinear"
    save_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        xp = _backend.xp_of(x1)
        out = xp.einsum("...i,oij,...j->...o", x1, w, x2, optimize=True)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, F, g):
        x1, x2, w = ctx.inputs
        n1, n2, nw, nb = ctx.needs_input_grad
        g1 = g2 = gw = gb = None
        if n1:
            g1 = _einsum(F, "...o,oij,...j->...i", g, w, x2)
        if n2:
            g2 = _einsum(F, "...o,oij,...i->...j", g, w, x1)
        if nw:
            gw = _einsum(F, "...o,...i,...j->oij", g, x1, x2)
        if nb:
            gb = F.sum(F.reshape(g, (-1, w.shape[0])), 0)
        return g1, g2, gw, gb


def _autocast_unifies(op, tensors):
    """Inside pellucid.autocast the op's inputs get one dtype before it runs: no mismatch then."""
    from ...amp.autocast_mode import allows_mixed
    return allows_mixed(op, *tensors)


def _check_same_dtype(op, *tensors):
    dts = {t._data.dtype for t in tensors if t is not None}
    if len(dts) > 1 and not _autocast_unifies(op, tensors):
        names = ", ".join(str(t.dtype) for t in tensors if t is not None)
        raise RuntimeError(f"{op}: expected all inputs to have the same dtype, but got {names}")


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"linear(): expected Tensors for input and weight, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    ws = weight._data.shape
    xs = input._data.shape
    if weight._data.ndim != 2 and weight._data.ndim != 1:
        raise RuntimeError(f"linear: weight must be 1-D or 2-D, got shape {list(ws)}")
    if weight._data.ndim == 1:
        out = input.matmul(weight)
        return out + bias if bias is not None else out
    if input._data.ndim == 0 or xs[-1] != ws[1]:
        rows = 1
        for s in xs[:-1]:
            rows *= s
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{xs[-1] if xs else 1} and "
            f"{ws[1]}x{ws[0]}) (input shape {list(xs)}, weight shape {list(ws)})")
    if bias is not None and bias._data.shape not in ((ws[0],), (), (1,)):
        raise RuntimeError(f"linear: bias shape {list(bias._data.shape)} does not match "
                           f"out_features {ws[0]} of weight shape {list(ws)}")
    dt = weight._data.dtype
    if input._data.dtype != dt or (bias is not None and bias._data.dtype != dt):
        _check_same_dtype("linear", input, weight, bias)
    return dispatch(Linear, (input, weight, bias))


def bilinear(input1, input2, weight, bias=None):
    """y = input1^T weight input2 + bias, over the last dim."""
    x1s, x2s, ws = input1._data.shape, input2._data.shape, weight._data.shape
    if weight._data.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got shape {list(ws)}")
    if x1s[:-1] != x2s[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(x1s[:-1])} "
                           f"and {list(x2s[:-1])}")
    if x1s[-1] != ws[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {x1s[-1]} but "
                           f"expected {ws[1]} (input1 shape {list(x1s)}, weight shape {list(ws)})")
    if x2s[-1] != ws[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {x2s[-1]} but "
                           f"expected {ws[2]} (input2 shape {list(x2s)}, weight shape {list(ws)})")
    if bias is not None and bias._data.shape != (ws[0],):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {list(bias._data.shape)}"
                           f" but expected [{ws[0]}]")
    _check_same_dtype("bilinear", input1, input2, weight, bias)
    return dispatch(Bilinear, (input1, input2, weight, bias))


__all__ = ["linear", "bilinear"]
