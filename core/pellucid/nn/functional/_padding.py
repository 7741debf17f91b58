"""pad: constant, reflect, replicate and circular padding of the last dims.

Constant padding (any number of dims, negative pads crop) copies the input into a filled array.
The other modes are one index map per padded dim (source index of every output position), so
the forward is a gather per dim and the backward adds the gradient back along the same maps.
"""
from ... import _backend
from ..._dispatch import Op, dispatch
from ...ops._F import ArrayNS


def _xp(a):
    return _backend.xp_of(a)


def _pairs(pad, ndim):
    """[(dim, left, right)] from PyTorch's last-dim-first pad tuple."""
    return [(ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]


class ConstantPad(Op):
    name = "constant_pad_nd"
    backward_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x, pairs, value):
        xp = _xp(x)
        shape = list(x.shape)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        for d, left, right in pairs:
            n = shape[d]
            shape[d] = n + left + right
            if shape[d] < 0:
                raise RuntimeError(
                    f"constant_pad_nd: the input size {n} at dimension {d}, plus negative padding "
                    f"{left} and {right}, resulted in a negative output size {shape[d]}")
            src[d] = slice(max(-left, 0), n - max(-right, 0))
            dst[d] = slice(max(left, 0), max(left, 0) + max(n - max(-left, 0) - max(-right, 0), 0))
        out = xp.full(shape, value, dtype=x.dtype) if value != 0 else xp.zeros(shape, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out

    @staticmethod
    def backward(ctx, F, g):
        neg = [(d, -left, -right) for d, left, right in ctx.params[0]]
        if isinstance(F, ArrayNS):
            return ConstantPad.forward(ctx, g, neg, 0)
        return dispatch(ConstantPad, (g,), (neg, 0))


def _index_map(xp, n, left, right, mode):
    """Source index of every output position along one dim."""
    if mode == "circular":
        # PyTorch crops negative pads first, then wraps around what is left
        start = max(-left, 0)
        kept = n - start - max(-right, 0)
        return start + (xp.arange(n + left + right) - max(left, 0)) % kept
    j = xp.arange(-left, n + right)
    if mode == "reflect":
        j = xp.abs(j)
        return xp.where(j > n - 1, 2 * (n - 1) - j, j)
    return xp.clip(j, 0, n - 1)     # replicate


def _scatter_axis(xp, g, idx, n, axis, left):
    """The adjoint of `take(x, idx, axis)` for x of size n along axis: sums g into place."""
    g = xp.moveaxis(g, axis, 0)
    out = xp.zeros((n,) + g.shape[1:], dtype=g.dtype)
    # outputs [lo, hi) map one-to-one onto inputs [lo - left, hi - left); only the pads scatter
    m = g.shape[0]
    lo, hi = min(max(left, 0), m), max(min(left + n, m), 0)
    if hi > lo:
        out[lo - left:hi - left] += g[lo:hi]
    else:
        lo = hi = 0
    rest = xp.concatenate([xp.arange(0, lo), xp.arange(hi, m)])
    if rest.size:
        xp.add.at(out, idx[rest], g[rest])
    return xp.moveaxis(out, 0, axis)


class IndexPad(Op):
    """reflect / replicate / circular padding: a gather along each padded dim."""
    name = "pad"

    @staticmethod
    def forward(ctx, x, pairs, mode):
        xp = _xp(x)
        ctx.in_shape = x.shape
        out = x
        for d, left, right in pairs:
            out = xp.take(out, _index_map(xp, x.shape[d], left, right, mode), axis=d)
        return out

    @staticmethod
    def backward(ctx, F, g):
        pairs, mode = ctx.params
        if isinstance(F, ArrayNS):
            return _unpad(F.xp, g, pairs, mode, ctx.in_shape)
        return dispatch(IndexUnpad, (g,), (pairs, mode, ctx.in_shape))


def _unpad(xp, g, pairs, mode, in_shape):
    for d, left, right in reversed(pairs):
        idx = _index_map(xp, in_shape[d], left, right, mode)
        g = _scatter_axis(xp, g, idx, in_shape[d], d, left)
    return g


class IndexUnpad(Op):
    """The adjoint of IndexPad (its backward, as an op so double backward works)."""
    name = "pad_backward"

    @staticmethod
    def forward(ctx, g, pairs, mode, in_shape):
        return _unpad(_xp(g), g, pairs, mode, in_shape)

    @staticmethod
    def backward(ctx, F, gg):
        pairs, mode, _ = ctx.params
        if isinstance(F, ArrayNS):
            return IndexPad.forward(ctx, gg, pairs, mode)
        return dispatch(IndexPad, (gg,), (pairs, mode))


_NON_CONSTANT_DIMS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad)//2 dims; pad = (left_last, right_last, left_2nd_last, ...)."""
    pad = tuple(int(p) for p in pad)
    ndim = input.dim()
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got "
            f"padding length {len(pad)} and input of dimension {ndim}")
    pairs = _pairs(pad, ndim)
    if mode == "constant":
        return dispatch(ConstantPad, (input,), (pairs, 0 if value is None else value))
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if ndim not in _NON_CONSTANT_DIMS.get(len(pad), ()):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {ndim}D input tensor.\nSupported "
            "combinations for non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last "
            "dimension)\n  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D "
            "input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    for d, left, right in pairs:
        n = shape[d]
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(
                f"Argument #{2 + len(pad)}: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {d} of input {shape}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0:
            raise RuntimeError(f"pad: replicate padding needs a non-empty dimension {d} (input {shape})")
        if n + left + right < 0:
            raise RuntimeError(
                f"pad: input size {n} at dimension {d} plus padding ({left}, {right}) gives a negative "
                "output size")
    return dispatch(IndexPad, (input,), (pairs, mode))


__all__ = ["pad"]
