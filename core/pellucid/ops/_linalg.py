"""Matrix products and linear algebra: matmul in all its shape cases, mm, bmm, mv, dot, outer,
the add* fused products, einsum, tensordot, kron, cross, trace, diag_embed, and the
decompositions behind `pellucid.linalg` (inv, det, slogdet, solve, cholesky, eigh, svd).

Products require both operands to have the same dtype, as in PyTorch. NumPy multiplies
float16 matrices without BLAS and accumulates in half, so float16 products are computed in
float32 and cast back (PyTorch accumulates in float too).
"""
import collections
import string

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._grad_mode import is_grad_enabled
from .._tensor import Tensor, _wrap_dim
from ._F import TENSOR
from ._reduce import _into
from ._registry import tensor_method


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular or not positive-definite)."""


def _xp(a):
    return _backend.xp_of(a)


def _mm_arrays(a, b):
    if a.dtype == np.float16 and type(a) is np.ndarray:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
    return _xp(a).matmul(a, b)


def _mm(F, a, b):
    """matmul on raw arrays, or differentiable matmul under create_graph."""
    return matmul(a, b) if F is TENSOR else _mm_arrays(a, b)


def _shape_str(shape):
    return "x".join(str(s) for s in shape)


def _check_operands(op, *tensors, same_dtype=True, allow_bool=False):
    first = tensors[0]
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor arguments, got {type(t).__name__}")
        if type(t._data) is not type(first._data):
            devs = ", ".join(str(x.device) for x in tensors)
            raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found at "
                               f"least two devices ({devs})")
        if same_dtype and t._data.dtype != first._data.dtype and not _autocast_unifies(op, tensors):
            raise RuntimeError(f"{op}: expected all inputs to have the same dtype, but got "
                               f"{first.dtype.name} and {t.dtype.name} (shapes "
                               f"{[list(x.shape) for x in tensors]})")
    if not allow_bool and first._data.dtype == np.bool_:
        raise RuntimeError(f"{op}: not implemented for 'Bool' tensors")


def _autocast_unifies(op, tensors):
    """Inside pellucid.autocast the op's inputs get one dtype before it runs: no mismatch then."""
    from ..amp.autocast_mode import allows_mixed
    return allows_mixed(op, *tensors)


# ---- matmul and its shape-specific forms ----------------------------------------------------

def _matmul_grads(F, ctx, g):
    """Gradients of a @ b for every matmul shape case; broadcast batch dims are summed by the
    engine (or folded into one product where that is cheaper)."""
    a, b = ctx.inputs
    na, nb = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    a_nd, b_nd = len(ctx.in_meta[0][0]), len(ctx.in_meta[1][0])
    ga = gb = None
    if a_nd == 1 and b_nd == 1:
        ga = g * b if na else None
        gb = g * a if nb else None
    elif b_nd == 1:                          # (..., n, k) @ (k,)
        if na:
            ga = F.unsqueeze(g, -1) * b
        if nb:
            k = ctx.in_meta[1][0][0]
            gb = _mm(F, F.reshape(g, (-1,)), F.reshape(a, (-1, k)))
    elif a_nd == 1:                          # (k,) @ (..., k, m)
        if na:
            ga = _mm(F, b, g) if b_nd == 2 else _mm(F, F.unsqueeze(g, -2), F.mT(b))
        if nb:
            gb = F.unsqueeze(a, -1) * F.unsqueeze(g, -2)
    else:
        if na:
            ga = _mm(F, g, F.mT(b))
        if nb:
            if b_nd == 2 and a_nd > 2:
                # fold the batch into the rows: one product instead of a batch then a sum
                k, m = ctx.in_meta[1][0]
                gb = _mm(F, F.mT(F.reshape(a, (-1, k))), F.reshape(g, (-1, m)))
            else:
                gb = _mm(F, F.mT(a), g)
    return ga, gb


class Matmul(Op):
    name = "matmul"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return _mm_arrays(a, b)

    @staticmethod
    def backward(ctx, F, g):
        return _matmul_grads(F, ctx, g)


class Mm(Matmul):
    name = "mm"
    backward_name = "MmBackward0"


class Mv(Matmul):
    name = "mv"
    backward_name = "MvBackward0"


class Dot(Matmul):
    name = "dot"
    backward_name = "DotBackward0"


class Bmm(Matmul):
    name = "bmm"
    backward_name = "BmmBackward0"


def _dot_size_error(op, a, b):
    return RuntimeError(
        f"{op}: inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to "
        f"have the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively")


def _mat_error(op, sa, sb):
    return RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied "
                        f"({_shape_str(sa)} and {_shape_str(sb)})")


@tensor_method("matmul")
def matmul(input, other, *, out=None):
    """Matrix product with NumPy/PyTorch semantics: 1-D operands are vectors, batch dims broadcast."""
    if out is None and isinstance(input, Tensor) and isinstance(other, Tensor):
        a, b = input._data, other._data
        if (a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype is b.dtype
                and type(a) is type(b)):
            return dispatch(Mm, (input, other))       # the common case, checked inline
    _check_operands("matmul", input, other)
    a, b = input._data, other._data
    an, bn = a.ndim, b.ndim
    if an == 0 or bn == 0:
        raise RuntimeError(f"matmul: both arguments to matmul need to be at least 1D, but they are "
                           f"{an}D and {bn}D")
    ka = a.shape[-1]
    kb = b.shape[0] if bn == 1 else b.shape[-2]
    if ka != kb:
        if an == 1 and bn == 1:
            raise _dot_size_error("matmul", a, b)
        if bn == 1:
            n = int(np.prod(a.shape[:-1]))
            raise RuntimeError(f"matmul: size mismatch, got input ({n}), mat ({n}x{ka}), vec ({kb}) "
                               f"(shapes {list(a.shape)} and {list(b.shape)})")
        if an <= 2 and bn == 2:
            raise _mat_error("matmul", a.shape if an == 2 else (1, ka), b.shape)
        raise RuntimeError(
            f"matmul: mat1 and mat2 shapes cannot be multiplied ({_shape_str(a.shape[-2:])} and "
            f"{_shape_str(b.shape[-2:])}) in batched operands of shapes {list(a.shape)} and {list(b.shape)}")
    if an > 2 or bn > 2:
        _broadcast_batch("matmul", a.shape[:-2] if an > 1 else (), b.shape[:-2] if bn > 1 else ())
    op = Dot if an == 1 and bn == 1 else Mv if an == 2 and bn == 1 else Mm if an == 2 and bn == 2 else Matmul
    return _into(out, dispatch(op, (input, other)))


def _broadcast_batch(op, sa, sb):
    try:
        return np.broadcast_shapes(tuple(sa), tuple(sb))
    except ValueError:
        la, lb = len(sa), len(sb)
        n = max(la, lb)
        pa = (1,) * (n - la) + tuple(sa)
        pb = (1,) * (n - lb) + tuple(sb)
        for i, (x, y) in enumerate(zip(pa, pb)):
            if x != y and x != 1 and y != 1:
                raise RuntimeError(
                    f"{op}: The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                    f"non-singleton dimension {i} (batch shapes {list(sa)} and {list(sb)})") from None
        raise


@tensor_method("__matmul__")
def _matmul_op(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


@tensor_method("__rmatmul__")
def _rmatmul(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


def _need_nd(op, t, nd, what):
    if t._data.ndim != nd:
        raise RuntimeError(f"{op}: {what} must be a {nd}D tensor, but got a {t._data.ndim}D tensor of "
                           f"shape {list(t.shape)}")


@tensor_method("mm")
def mm(input, mat2, *, out=None):
    _check_operands("mm", input, mat2)
    _need_nd("mm", input, 2, "self")
    _need_nd("mm", mat2, 2, "mat2")
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _mat_error("mm", input._data.shape, mat2._data.shape)
    return _into(out, dispatch(Mm, (input, mat2)))


def _check_bmm(op, b1, b2):
    _need_nd(op, b1, 3, "batch1")
    _need_nd(op, b2, 3, "batch2")
    s1, s2 = b1._data.shape, b2._data.shape
    if s2[0] != s1[0] or s2[1] != s1[2]:
        raise RuntimeError(f"{op}: Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{s1[0]}, {s1[2]}] but got: [{s2[0]}, {s2[1]}] (batch1 {list(s1)}, "
                           f"batch2 {list(s2)}).")


@tensor_method("bmm")
def bmm(input, mat2, *, out=None):
    _check_operands("bmm", input, mat2)
    _check_bmm("bmm", input, mat2)
    return _into(out, dispatch(Bmm, (input, mat2)))


def _check_mv(op, mat, vec):
    if mat._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"{op}: vector + matrix @ vector expected, got {mat._data.ndim}D matrix and "
                           f"{vec._data.ndim}D vector")
    if mat._data.shape[1] != vec._data.shape[0]:
        n, k = mat._data.shape
        raise RuntimeError(f"{op}: size mismatch, got input ({n}), mat ({n}x{k}), vec ({vec._data.shape[0]})")


@tensor_method("mv")
def mv(input, vec, *, out=None):
    _check_operands("mv", input, vec)
    _check_mv("mv", input, vec)
    return _into(out, dispatch(Mv, (input, vec)))


@tensor_method("dot")
def dot(input, tensor, *, out=None):
    _check_operands("dot", input, tensor)
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input._data.ndim}D and "
                           f"{tensor._data.ndim}D tensors")
    if input._data.shape[0] != tensor._data.shape[0]:
        raise _dot_size_error("dot", input._data, tensor._data)
    return _into(out, dispatch(Dot, (input, tensor)))


@tensor_method("vdot")
def vdot(input, other, *, out=None):
    """The dot product, conjugating the first vector (real tensors: the same as dot)."""
    return dot(input, other, out=out)


@tensor_method("outer", "ger")
def outer(input, vec2, *, out=None):
    for name, t in (("self", input), ("vec2", vec2)):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return _into(out, input.reshape(-1, 1) * vec2)


ger = outer


@tensor_method("inner")
def inner(input, other, *, out=None):
    """Sum over the last dims: out shape is input.shape[:-1] + other.shape[:-1]."""
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _into(out, input * other)
    _check_operands("inner", input, other)
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner: inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(input.shape)} and {list(other.shape)}")
    return _into(out, tensordot(input, other, ([input._data.ndim - 1], [other._data.ndim - 1])))


# ---- fused add-and-multiply ----------------------------------------------------------------

def _scaled(F, g, s):
    return g if s == 1 else g * s


class _AddProduct(Op):
    """beta * input + alpha * (mat1 . mat2) for the product kinds below."""
    save_inputs = (1, 2)

    @classmethod
    def forward(cls, ctx, inp, a, b, beta, alpha):
        ctx.beta = beta
        ctx.alpha = alpha
        r = cls.product(a, b)
        if alpha != 1:
            r = r * alpha
        if beta != 0:          # beta == 0 ignores input entirely (nan and inf included)
            r = r + (inp if beta == 1 else inp * beta)
        return r

    @classmethod
    def backward(cls, ctx, F, g):
        a, b = ctx.inputs
        ni, na, nb = ctx.needs_input_grad[:3]
        gi = (g * 0 if ctx.beta == 0 else _scaled(F, g, ctx.beta)) if ni else None
        ga, gb = cls.grads(F, a, b, _scaled(F, g, ctx.alpha), na, nb)
        return gi, ga, gb


class Addmm(_AddProduct):
    name = "addmm"
    product = staticmethod(_mm_arrays)

    @staticmethod
    def grads(F, a, b, g, na, nb):
        return (_mm(F, g, F.mT(b)) if na else None), (_mm(F, F.mT(a), g) if nb else None)


class Baddbmm(Addmm):
    name = "baddbmm"


class Addmv(_AddProduct):
    name = "addmv"
    product = staticmethod(_mm_arrays)

    @staticmethod
    def grads(F, a, b, g, na, nb):
        ga = F.unsqueeze(g, -1) * b if na else None
        gb = _mm(F, F.mT(a), g) if nb else None
        return ga, gb


def _batch_sum_product(a, b):
    # sum_b a[b] @ b[b] as one product: (n, B*k) @ (B*k, m)
    B, n, k = a.shape
    return _mm_arrays(a.transpose(1, 0, 2).reshape(n, B * k), b.reshape(B * k, b.shape[2]))


class Addbmm(_AddProduct):
    name = "addbmm"
    product = staticmethod(_batch_sum_product)

    @staticmethod
    def grads(F, a, b, g, na, nb):
        g3 = F.unsqueeze(g, 0)
        return (_mm(F, g3, F.mT(b)) if na else None), (_mm(F, F.mT(a), g3) if nb else None)


def _outer_arrays(a, b):
    return a[:, None] * b[None, :]


class Addr(_AddProduct):
    name = "addr"
    product = staticmethod(_outer_arrays)

    @staticmethod
    def grads(F, a, b, g, na, nb):
        return (_mm(F, g, b) if na else None), (_mm(F, F.mT(g), a) if nb else None)


def _check_add_input(op, inp, shape):
    try:
        ok = np.broadcast_shapes(tuple(inp._data.shape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{op}: input of shape {list(inp.shape)} can't be broadcast to the product's "
                           f"shape {list(shape)}")


def _shape_addmm(op, a, b):
    _need_nd(op, a, 2, "mat1")
    _need_nd(op, b, 2, "mat2")
    if a._data.shape[1] != b._data.shape[0]:
        raise _mat_error(op, a._data.shape, b._data.shape)
    return (a._data.shape[0], b._data.shape[1])


def _shape_addmv(op, a, b):
    _check_mv(op, a, b)
    return (a._data.shape[0],)


def _shape_baddbmm(op, a, b):
    _check_bmm(op, a, b)
    return (a._data.shape[0], a._data.shape[1], b._data.shape[2])


def _shape_addbmm(op, a, b):
    _check_bmm(op, a, b)
    return (a._data.shape[1], b._data.shape[2])


def _shape_addr(op, a, b):
    for name, t in (("vec1", a), ("vec2", b)):
        if t._data.ndim != 1:
            raise RuntimeError(f"{op}: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return (a._data.shape[0], b._data.shape[0])


def _add_product_fn(op, name, shape_of, product):
    def fn(input, a, b, *, beta=1, alpha=1, out=None):
        shape = shape_of(name, a, b)
        _check_operands(name, input, a, b)
        _check_add_input(name, input, shape)
        return _into(out, dispatch(op, (input, a, b), (beta, alpha)))

    def fn_(self, a, b, *, beta=1, alpha=1):
        shape = shape_of(name + "_", a, b)
        _check_operands(name + "_", self, a, b)
        if tuple(self._data.shape) != shape:
            raise RuntimeError(f"{name}_: the tensor modified in place has shape {list(self.shape)} "
                               f"but the product has shape {list(shape)}")
        return dispatch_inplace(op, self, (a, b), (beta, alpha))

    fn.__name__, fn_.__name__ = name, name + "_"
    fn.__qualname__, fn_.__qualname__ = name, "Tensor." + name + "_"
    fn.__doc__ = f"beta * input + alpha * ({product})"
    setattr(Tensor, name, fn)
    setattr(Tensor, name + "_", fn_)
    return fn


addmm = _add_product_fn(Addmm, "addmm", _shape_addmm, "mat1 @ mat2")
addmv = _add_product_fn(Addmv, "addmv", _shape_addmv, "mat @ vec")
baddbmm = _add_product_fn(Baddbmm, "baddbmm", _shape_baddbmm, "batch1 @ batch2")
addbmm = _add_product_fn(Addbmm, "addbmm", _shape_addbmm, "the sum over i of batch1[i] @ batch2[i]")
addr = _add_product_fn(Addr, "addr", _shape_addr, "the outer product of vec1 and vec2")


# ---- einsum ---------------------------------------------------------------------------------

_PATHS = collections.OrderedDict()       # (equation, shapes) -> contraction path
_PARSED = collections.OrderedDict()      # (equation, shapes) -> explicit subscripts
_LETTERS = string.ascii_letters


def _einsum_arrays(eq, arrays):
    """numpy/cupy einsum; with two or more operands the contraction path is found once per
    equation and shapes (so pairs run through BLAS) and then reused."""
    a0 = arrays[0]
    if a0.dtype == np.float16 and type(a0) is np.ndarray:
        return _einsum_arrays(eq, [a.astype(np.float32) for a in arrays]).astype(np.float16)
    xp = _xp(a0)
    if len(arrays) == 1:
        r = xp.einsum(eq, a0)
        # a pure diagonal or transpose comes back as a view: the output must own its data
        return r.copy() if r.ndim and xp.may_share_memory(r, a0) else r
    if xp is not np:
        return xp.einsum(eq, *arrays, optimize="greedy")
    key = (eq,) + tuple(a.shape for a in arrays)
    path = _PATHS.get(key)
    if path is None:
        path = np.einsum_path(eq, *arrays, optimize="greedy")[0]
        _PATHS[key] = path
        if len(_PATHS) > 512:
            _PATHS.popitem(last=False)
    return np.einsum(eq, *arrays, optimize=path)


def _einsum_F(F, eq, operands):
    if F is TENSOR:
        return einsum(eq, *operands)
    return _einsum_arrays(eq, operands)


def _parse_einsum(eq, shapes):
    """Expand an equation into explicit subscripts (ellipses become spare letters) and check it.
    Returns (input terms, output term)."""
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        which = "more" if len(shapes) > len(terms) else "fewer"
        raise RuntimeError(f"einsum(): {which} operands were provided than specified in the equation "
                           f"'{eq}' ({len(terms)} subscript groups, {len(shapes)} operands)")
    for t in terms + ([rhs] if rhs is not None else []):
        body = t.replace("...", "", 1)
        if "." in body or "-" in body or ">" in body:
            raise RuntimeError(f"einsum(): invalid ellipsis or arrow in the equation '{eq}'")
        for c in body:
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript '{c}' in the equation '{eq}': subscripts "
                                   "must be letters in [a-zA-Z]")
    used = set(c for c in eq if c in _LETTERS)
    spare = [c for c in _LETTERS if c not in used]
    ranks = []
    for i, (t, s) in enumerate(zip(terms, shapes)):
        if "..." in t:
            r = len(s) - (len(t) - 3)
            if r < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t) - 3}) is "
                                   f"more than the number of dimensions ({len(s)}) for operand {i}")
        else:
            if len(t) != len(s):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) does "
                                   f"not match the number of dimensions ({len(s)}) for operand {i} and no "
                                   "ellipsis was given")
            r = 0
        ranks.append(r)
    n_ell = max(ranks) if ranks else 0
    if n_ell > len(spare):
        raise RuntimeError("einsum(): too many dimensions: no letters left for the ellipsis")
    ell = "".join(spare[:n_ell])
    new_terms = [t.replace("...", ell[n_ell - r:]) for t, r in zip(terms, ranks)]
    if rhs is None:
        counts = collections.Counter("".join(t.replace("...", "") for t in terms))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        if rhs.count("...") > 1:
            raise RuntimeError(f"einsum(): found more than one ellipsis in the output of '{eq}'")
        out = rhs.replace("...", ell)
        seen = set()
        all_in = set("".join(new_terms))
        for c in out:
            if c in seen:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output "
                                   f"of '{eq}'")
            if c not in all_in:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for "
                                   f"any input operand ('{eq}')")
            seen.add(c)
    sizes = {}
    for i, (t, s) in enumerate(zip(new_terms, shapes)):
        for c, n in zip(t, s):
            prev = sizes.get(c)
            if prev is None or prev[0] == 1:
                sizes[c] = (n, i)
            elif n != 1 and n != prev[0]:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast with "
                    f"previously seen size {prev[0]} (operand {prev[1]}); equation '{eq}', shapes "
                    f"{[list(x) for x in shapes]}")
    return tuple(new_terms), out


def _sublist_equation(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]) -> (operands, equation)."""
    def letters(sub):
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            elif isinstance(v, (int, np.integer)) and 0 <= v < 52:
                s += _LETTERS[v]
            else:
                raise RuntimeError(f"einsum(): subscript in sublist format must be in range [0, 52), got {v}")
        return s
    ops, terms = list(args[0::2]), []
    subs = list(args[1::2])
    out = None
    if len(ops) > len(subs):           # an odd count: the last entry is the output sublist
        out = ops.pop()
    terms = [letters(s) for s in subs]
    eq = ",".join(terms) + ("->" + letters(out) if out is not None else "")
    return ops, eq


class Einsum(Op):
    name = "einsum"
    save_inputs = True

    @staticmethod
    def forward(ctx, *args):
        arrays, terms, out = args[:-2], args[-2], args[-1]
        ctx.terms = terms
        ctx.out_sub = out
        return _einsum_arrays(",".join(terms) + "->" + out, arrays)

    @staticmethod
    def backward(ctx, F, g):
        terms, out = ctx.terms, ctx.out_sub
        ops = ctx.inputs
        spare = [c for c in _LETTERS if c not in set("".join(terms) + out)]
        grads = []
        for i, t in enumerate(terms):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            other_terms = [terms[j] for j in range(len(terms)) if j != i]
            others = [ops[j] for j in range(len(terms)) if j != i]
            uniq = "".join(dict.fromkeys(t))
            avail = set(out).union(*other_terms) if other_terms else set(out)
            kept = "".join(c for c in uniq if c in avail)
            G = _einsum_F(F, ",".join([out] + other_terms) + "->" + kept, [g] + others)
            shape = ctx.in_meta[i][0]
            if len(kept) < len(uniq):
                # letters summed away only in this operand: the gradient is constant along them
                gs = tuple(G.shape)
                G = F.reshape(G, tuple(gs[kept.index(c)] if c in kept else 1 for c in uniq))
                G = F.expand(G, tuple(gs[kept.index(c)] if c in kept else shape[t.index(c)] for c in uniq))
            if len(uniq) < len(t):
                G = _diagonal_embed(F, G, t, uniq, shape, spare, ops[i])
            grads.append(G)
        return tuple(grads)


def _diagonal_embed(F, G, t, uniq, shape, spare, like):
    """Place G (over the distinct letters of `t`) on the diagonals that repeated letters in `t`
    describe, as an einsum with identity matrices (differentiable again under create_graph)."""
    raw_like = F.value(like)
    xp = _xp(raw_like)
    renamed = []
    eyes, eye_terms = [], []
    seen = set()
    k = 0
    for c, n in zip(t, shape):
        if c in seen:
            fresh = spare[k]
            k += 1
            renamed.append(fresh)
            eyes.append(F.const(xp.eye(n, dtype=raw_like.dtype)))
            eye_terms.append(c + fresh)
        else:
            seen.add(c)
            renamed.append(c)
    eq = ",".join([uniq] + eye_terms) + "->" + "".join(renamed)
    return _einsum_F(F, eq, [G] + eyes)


def einsum(*args):
    """Einstein summation: einsum('ij,jk->ik', a, b), einsum(eq, [a, b]) or the sublist form."""
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        eq, ops = args[0], args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
    else:
        ops, eq = _sublist_equation(args)
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    _check_operands("einsum", *ops, allow_bool=True)
    key = (eq,) + tuple(o._data.shape for o in ops)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = _parse_einsum(eq, key[1:])
        _PARSED[key] = parsed
        if len(_PARSED) > 512:
            _PARSED.popitem(last=False)
    return dispatch(Einsum, tuple(ops), parsed)


def tensordot(a, b, dims=2, out=None):
    """Contract dims of `a` with dims of `b`: dims=k (last k of a with first k of b) or
    ([dims of a], [dims of b])."""
    _check_operands("tensordot", a, b)
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot: tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(na, nb):
            raise RuntimeError(f"tensordot: number of contracted dims ({dims}) exceeds the dims of the "
                               f"inputs ({na} and {nb})")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got {len(da)} and "
                           f"{len(db)}")
    da = [_wrap_dim(d, na, "tensordot") for d in da]
    db = [_wrap_dim(d, nb, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a._data.shape[x] != b._data.shape[y]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size "
                               f"{a._data.shape[x]} in dim {x} and second has size {b._data.shape[y]} in "
                               f"dim {y}")
    if na + nb - len(da) > 52:
        raise RuntimeError("tensordot: too many dimensions")
    ta = _LETTERS[:na]
    free = iter(_LETTERS[na:])
    tb = "".join(ta[da[db.index(j)]] if j in db else next(free) for j in range(nb))
    res = "".join(c for i, c in enumerate(ta) if i not in da) + "".join(
        c for j, c in enumerate(tb) if j not in db)
    return _into(out, einsum(f"{ta},{tb}->{res}", a, b))


@tensor_method("kron")
def kron(input, other, *, out=None):
    """Kronecker product: blocks input[i] * other, by broadcasting interleaved shapes."""
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + tuple(input._data.shape)
    sb = (1,) * (nd - other._data.ndim) + tuple(other._data.shape)
    ra = input.reshape(tuple(x for s in sa for x in (s, 1)))
    rb = other.reshape(tuple(x for s in sb for x in (1, s)))
    return _into(out, (ra * rb).reshape(tuple(x * y for x, y in zip(sa, sb))))


# ---- cross, trace, diag_embed ---------------------------------------------------------------

def _cross_F(F, x, y, dim):
    if F is TENSOR:
        return linalg_cross(x, y, dim=dim)
    return _xp(x).cross(x, y, axis=dim)


class LinalgCross(Op):
    name = "linalg_cross"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.dim = dim
        return _xp(a).cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (_cross_F(F, b, g, ctx.dim) if na else None), (_cross_F(F, g, a, ctx.dim) if nb else None)


def linalg_cross(input, other, *, dim=-1, out=None):
    _check_operands("linalg.cross", input, other)
    if input._data.ndim != other._data.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions (shapes "
                           f"{list(input.shape)} and {list(other.shape)})")
    shape = _broadcast_batch("linalg.cross", input._data.shape, other._data.shape)
    nd = len(shape)
    d = _wrap_dim(dim, nd, "linalg.cross") - nd      # negative: valid for both operands
    for name, t in (("input", input), ("other", other)):
        if t._data.ndim < -d or t._data.shape[d] != 3:
            raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                               f"{input._data.shape[d] if input._data.ndim >= -d else 1} and "
                               f"{other._data.shape[d] if other._data.ndim >= -d else 1} (shapes "
                               f"{list(input.shape)} and {list(other.shape)})")
    return _into(out, dispatch(LinalgCross, (input, other), (d,)))


@tensor_method("cross")
def cross(input, other, dim=None, *, out=None):
    """torch.cross: without dim, the first dim of size 3 (deprecated in PyTorch, which warns)."""
    if dim is None:
        import warnings
        shape = _broadcast_batch("cross", input._data.shape, other._data.shape)
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shapes {list(input.shape)} and "
                               f"{list(other.shape)})")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please either "
                      "pass the dim explicitly or simply use torch.linalg.cross.", UserWarning, stacklevel=2)
        dim = dims[0]
    return linalg_cross(input, other, dim=dim, out=out)


class Trace(Op):
    name = "trace"

    @staticmethod
    def forward(ctx, a):
        dt = np.int64 if a.dtype.kind in "biu" else None
        r = a.trace(dtype=dt)
        return r.astype(np.float16) if a.dtype == np.float16 else r

    @staticmethod
    def backward(ctx, F, g):
        shape, dt = ctx.in_meta[0]
        eye = _backend.xp_of(F.value(g)).eye(shape[0], shape[1], dtype=dt)
        return g * F.const(eye)


@tensor_method("trace")
def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return dispatch(Trace, (input,))


class DiagEmbed(Op):
    name = "diag_embed"

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        xp = _xp(a)
        n = a.shape[-1]
        m = n + abs(offset)
        out = xp.zeros(a.shape[:-1] + (m, m), dtype=a.dtype)
        i = xp.arange(n)
        out[..., i + max(-offset, 0), i + max(offset, 0)] = a
        return xp.moveaxis(out, (-2, -1), (d1, d2))

    @staticmethod
    def backward(ctx, F, g):
        offset, d1, d2 = ctx.args
        if F is TENSOR:
            raw = F.value(g)
            xp = _xp(raw)
            nd = raw.ndim
            m = raw.shape[d1]
            n = m - abs(offset)
            rows = F.const((xp.arange(m)[:, None] == xp.arange(n)[None, :] + max(-offset, 0)).astype(raw.dtype))
            cols = F.const((xp.arange(m)[:, None] == xp.arange(n)[None, :] + max(offset, 0)).astype(raw.dtype))
            letters = _LETTERS[:nd]
            k = _LETTERS[nd]
            rest = "".join(c for i, c in enumerate(letters) if i not in (d1, d2))
            eq = f"{letters},{letters[d1]}{k},{letters[d2]}{k}->{rest}{k}"
            return einsum(eq, g, rows, cols)
        return _xp(g).diagonal(g, offset, d1, d2)


@tensor_method("diag_embed")
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Batched diagonal matrices from the last dim of input, placed on (dim1, dim2)."""
    nd = input._data.ndim + 1
    d1 = _wrap_dim(dim1, nd, "diag_embed")
    d2 = _wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return dispatch(DiagEmbed, (input,), (int(offset), d1, d2))


# ---- inverse, determinants, solve ------------------------------------------------------------

def _check_square(op, t, float_only=True):
    a = t._data
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions (got shape "
                           f"{list(a.shape)})")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")
    if float_only:
        _check_float(op, t)


def _check_float(op, t):
    dt = t._data.dtype
    if dt.kind not in D.FLOAT_KINDS:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {t.dtype.name}")
    if dt == np.float16 or dt is D.BF16:
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {t.dtype.name}")


def _lapack(op, fn, *args, what="the input matrix is singular", **kw):
    try:
        return fn(*args, **kw)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{op}: The computation failed because {what} "
                          f"(input shape {list(args[0].shape)}).") from None


def _inv_F(F, a):
    return inverse(a) if F is TENSOR else _lapack("linalg.inv", _xp(a).linalg.inv, a)


class LinalgInv(Op):
    name = "linalg_inv"
    backward_name = "LinalgInvExBackward0"
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _lapack("linalg.inv", _xp(a).linalg.inv, a)

    @staticmethod
    def backward(ctx, F, g):
        inv_t = F.mT(ctx.output if F is TENSOR else ctx.out_data)
        return -_mm(F, _mm(F, inv_t, g), inv_t)


@tensor_method("inverse")
def inverse(input, *, out=None):
    _check_square("linalg.inv", input)
    return _into(out, dispatch(LinalgInv, (input,)))


def _exclusive_products(s):
    """prod_{j != i} s_j along the last dim, without dividing (so zeros are fine)."""
    xp = _xp(s)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    left = xp.concatenate([ones, xp.cumprod(s, axis=-1)[..., :-1]], axis=-1)
    rs = s[..., ::-1]
    right = xp.concatenate([ones, xp.cumprod(rs, axis=-1)[..., :-1]], axis=-1)[..., ::-1]
    return left * right


def _det_cofactor(a):
    """The cofactor matrix (transposed adjugate) of each matrix, also for singular ones, via SVD:
    cof(A) = det(U) det(Vh) U diag(prod_{j != i} s_j) Vh."""
    xp = _xp(a)
    u, s, vh = xp.linalg.svd(a)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * _mm_arrays(u * _exclusive_products(s)[..., None, :], vh)


class LinalgDet(Op):
    name = "linalg_det"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _xp(a).linalg.det(a)

    @staticmethod
    def backward(ctx, F, g):
        (a,) = ctx.inputs
        det_raw = ctx.out_data
        gk = F.unsqueeze(F.unsqueeze(g, -1), -1)
        singular = (det_raw == 0).any()
        if F is TENSOR:
            if singular:
                return gk * F.const(_det_cofactor(F.value(a)))
            det = F.unsqueeze(F.unsqueeze(ctx.output, -1), -1)
            return gk * det * F.mT(inverse(a))
        if singular:
            return gk * _det_cofactor(a)
        return gk * det_raw[..., None, None] * F.mT(_xp(a).linalg.inv(a))


@tensor_method("det")
def det(input):
    _check_square("linalg.det", input)
    return dispatch(LinalgDet, (input,))


class LinalgSlogdet(Op):
    name = "linalg_slogdet"
    save_inputs = True
    multi_output = True

    @staticmethod
    def forward(ctx, a):
        sign, logabs = _xp(a).linalg.slogdet(a)
        return sign.astype(a.dtype, copy=False), logabs.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g_sign, g_logabs):
        (a,) = ctx.inputs
        return F.unsqueeze(F.unsqueeze(g_logabs, -1), -1) * F.mT(_inv_F(F, a))


def slogdet(input):
    """(sign, log|det|) of square matrices."""
    _check_square("linalg.slogdet", input)
    return _ret_slogdet(*dispatch(LinalgSlogdet, (input,)))


Tensor.slogdet = slogdet


class Logdet(Op):
    name = "logdet"
    save_inputs = True

    @staticmethod
    def forward(ctx, a):
        xp = _xp(a)
        sign, logabs = xp.linalg.slogdet(a)
        ctx.negative = sign < 0
        return xp.where(sign < 0, xp.nan, logabs).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (a,) = ctx.inputs
        if ctx.negative.any():
            # the nan output of a negative determinant passes no gradient (PyTorch's where)
            g = g * F.const(_xp(ctx.negative).logical_not(ctx.negative).astype(ctx.in_meta[0][1]))
        return F.unsqueeze(F.unsqueeze(g, -1), -1) * F.mT(_inv_F(F, a))


@tensor_method("logdet")
def logdet(input):
    """log(det(A)): nan for a negative determinant, -inf for a singular matrix."""
    _check_square("logdet", input)
    return dispatch(Logdet, (input,))


def _solve_arrays(a, b):
    """Solve for matrix right-hand sides; batch dims are broadcast first (CuPy, like older NumPy,
    would read a B with one dim fewer than A as a batch of vectors)."""
    if a.shape[:-2] != b.shape[:-2]:
        xp = _xp(a)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
    return _lapack("linalg.solve", _xp(a).linalg.solve, a, b)


class LinalgSolve(Op):
    name = "linalg_solve"
    backward_name = "LinalgSolveExBackward0"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return _solve_arrays(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        x = ctx.output if F is TENSOR else ctx.out_data
        gb = solve(F.mT(a), g) if F is TENSOR else _solve_arrays(F.mT(a), g)
        ga = -_mm(F, gb, F.mT(x)) if ctx.needs_input_grad[0] else None
        return ga, gb


def solve(A, B, *, left=True, out=None):
    """Solve A X = B (or X A = B with left=False); B may be a (batch of) vector(s)."""
    _check_square("linalg.solve", A)
    _check_operands("linalg.solve", A, B)
    n = A._data.shape[-1]
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    if not left:
        if vector and n != 1:
            # PyTorch reads a vector B as a column here, which XA = B cannot take
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation XA = B "
                               f"({n}x{n} and {B._data.shape[-1]}x1)")
        return _into(out, solve(A.mT, B.mT).mT)
    if vector:
        return _into(out, solve(A, B.unsqueeze(-1)).squeeze(-1))
    if B._data.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({_shape_str(A._data.shape[-2:])} and {_shape_str(B._data.shape[-2:])})")
    _broadcast_batch("linalg.solve", A._data.shape[:-2], B._data.shape[:-2])
    return _into(out, dispatch(LinalgSolve, (A, B)))


def matrix_power(input, n):
    """A^n by repeated squaring; negative n inverts first."""
    _check_square("linalg.matrix_power", input, float_only=False)
    n = int(n)
    if n == 0:
        from . import _creation
        eye = _creation.eye(input._data.shape[-1], dtype=input.dtype, device=input.device)
        # a copy of the input overwritten by the identity: in the graph, with a zero gradient
        return input.clone().copy_(eye.expand(input._data.shape))
    a = inverse(input) if n < 0 else input
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


Tensor.matrix_power = matrix_power


# ---- decompositions -------------------------------------------------------------------------

def _tril_mask(n, xp, dt, k=0):
    return xp.tril(xp.ones((n, n), dtype=dt), k)


class LinalgCholesky(Op):
    name = "linalg_cholesky"
    backward_name = "LinalgCholeskyExBackward0"
    save_output = True

    @staticmethod
    def forward(ctx, a, upper):
        ctx.upper = upper
        low = _lapack("linalg.cholesky", _xp(a).linalg.cholesky, a,
                      what="the input is not positive-definite")
        return _xp(a).swapaxes(low, -1, -2).copy() if upper else low

    @staticmethod
    def backward(ctx, F, g):
        # gA = L^{-H} Phi(L^H gL) L^{-1}, Phi = lower triangle with the diagonal halved, symmetrised
        low = ctx.output if F is TENSOR else ctx.out_data
        if ctx.upper:
            low, g = F.mT(low), F.mT(g)
        shape, dt = ctx.in_meta[0]
        xp = _xp(F.value(g))
        n = shape[-1]
        p = _mm(F, F.mT(low), g) * F.const(_tril_mask(n, xp, dt))
        p = 0.5 * (p + F.mT(p * F.const(_tril_mask(n, xp, dt, -1))))
        low_inv = _inv_F(F, low)
        return _mm(F, _mm(F, F.mT(low_inv), p), low_inv)


def cholesky(input, upper=False, *, out=None):
    _check_square("linalg.cholesky", input)
    return _into(out, dispatch(LinalgCholesky, (input,), (bool(upper),)))


def _node_output(ctx, F, arrays, i):
    """Output `i` of a multi-output node: the raw array, or under create_graph a tensor attached
    to the node so second derivatives flow through it."""
    if F is not TENSOR:
        return arrays[i]
    t = Tensor._make(arrays[i])
    t._requires_grad = True
    t.grad_fn = ctx
    t._output_nr = i
    return t


class LinalgEigh(Op):
    name = "linalg_eigh"
    multi_output = True

    @staticmethod
    def forward(ctx, a, uplo):
        vals, vecs = _lapack("linalg.eigh", _xp(a).linalg.eigh, a, UPLO=uplo,
                             what="the algorithm failed to converge")
        ctx.factors = (vals, vecs)
        return vals, vecs

    @staticmethod
    def backward(ctx, F, g_vals, g_vecs):
        # gA = V (diag(gL) + skew(V^T gV) / E) V^T, E_ij = L_j - L_i off the diagonal; the skew
        # part makes gA symmetric, as A is taken to be
        vals = _node_output(ctx, F, ctx.factors, 0)
        vecs = _node_output(ctx, F, ctx.factors, 1)
        raw = ctx.factors[0]
        xp = _xp(raw)
        eye = xp.eye(raw.shape[-1], dtype=raw.dtype)
        e = F.unsqueeze(vals, -2) - F.unsqueeze(vals, -1) + F.const(eye)
        vtgv = _mm(F, F.mT(vecs), g_vecs)
        skew = (vtgv - F.mT(vtgv)) * 0.5
        inner = skew / e * F.const(1 - eye) + F.unsqueeze(g_vals, -1) * F.const(eye)
        return _mm(F, _mm(F, vecs, inner), F.mT(vecs))


def eigh(input, UPLO="L"):
    _check_square("linalg.eigh", input)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got '{UPLO}'")
    return _ret_eigh(*dispatch(LinalgEigh, (input,), (UPLO,)))


def eigvalsh(input, UPLO="L"):
    return eigh(input, UPLO).eigenvalues


def _first_cols(F, x, k):
    """x[..., :k] (differentiable under create_graph as a product with a selection matrix)."""
    if F is not TENSOR:
        return x[..., :k]
    raw = F.value(x)
    return _mm(F, x, F.const(_xp(raw).eye(raw.shape[-1], k, dtype=raw.dtype)))


def _svd_grad(F, g_u, g_s, g_vh, u, s, vh, need_vectors):
    """PyTorch's svd_backward for real inputs (distinct singular values assumed)."""
    m, n = u.shape[-2], vh.shape[-1]
    if not need_vectors:
        return _mm(F, u * F.unsqueeze(g_s, -2), vh)
    raw = F.value(s)
    eye = _xp(raw).eye(raw.shape[-1], dtype=raw.dtype)
    s2 = s * s
    e = F.unsqueeze(s2, -2) - F.unsqueeze(s2, -1) + F.const(eye)
    uhgu = _mm(F, F.mT(u), g_u)
    uhgu = uhgu - F.mT(uhgu)
    vhgv = _mm(F, vh, F.mT(g_vh))
    vhgv = vhgv - F.mT(vhgv)
    ga = (uhgu * F.unsqueeze(s, -2) + F.unsqueeze(s, -1) * vhgv) / e
    ga = ga + F.unsqueeze(g_s, -1) * F.const(eye)
    if m > n:
        ga = _mm(F, u, ga)
        gus = g_u / F.unsqueeze(s, -2)
        ga = ga + gus - _mm(F, u, _mm(F, F.mT(u), gus))
        return _mm(F, ga, vh)
    if m < n:
        ga = _mm(F, ga, vh)
        sgv = g_vh / F.unsqueeze(s, -1)
        ga = ga + sgv - _mm(F, _mm(F, sgv, F.mT(vh)), vh)
        return _mm(F, u, ga)
    return _mm(F, u, _mm(F, ga, vh))


class LinalgSvd(Op):
    name = "linalg_svd"
    multi_output = True

    @staticmethod
    def forward(ctx, a, full_matrices):
        usv = _lapack("linalg.svd", _xp(a).linalg.svd, a, full_matrices=full_matrices,
                      what="the algorithm failed to converge")
        ctx.factors = usv
        return usv

    @staticmethod
    def backward(ctx, F, g_u, g_s, g_vh):
        u_raw, s_raw, vh_raw = ctx.factors
        k = s_raw.shape[-1]
        m, n = u_raw.shape[-2], vh_raw.shape[-1]
        raw_gu, raw_gvh = F.value(g_u), F.value(g_vh)
        need = bool(raw_gu.any() or raw_gvh.any())
        u, s, vh = (_node_output(ctx, F, ctx.factors, i) for i in range(3))
        if u_raw.shape[-1] != k:
            if need and raw_gu[..., k:].any():
                raise _full_svd_error(m, n)
            u, g_u = _first_cols(F, u, k), _first_cols(F, g_u, k)
        if vh_raw.shape[-2] != k:
            if need and raw_gvh[..., k:, :].any():
                raise _full_svd_error(m, n)
            vh, g_vh = F.mT(_first_cols(F, F.mT(vh), k)), F.mT(_first_cols(F, F.mT(g_vh), k))
        return _svd_grad(F, g_u, g_s, g_vh, u, s, vh, need)


def _full_svd_error(m, n):
    return RuntimeError(
        "linalg.svd: Computing the gradients of U or Vh with full_matrices=True is not supported for "
        f"non-square inputs ({m}x{n}). Please use full_matrices=False.")


def _check_matrix(op, A):
    _check_float(op, A)
    if A._data.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions (got shape "
                           f"{list(A.shape)})")


def linalg_svd(A, full_matrices=True, *, driver=None):
    _check_matrix("linalg.svd", A)
    return _ret_svd(*dispatch(LinalgSvd, (A,), (bool(full_matrices),)))


class LinalgSvdvals(Op):
    """Singular values alone (no vectors), for when no gradient is needed."""
    name = "linalg_svdvals"
    differentiable = False

    @staticmethod
    def forward(ctx, a):
        return _lapack("linalg.svdvals", _xp(a).linalg.svd, a, compute_uv=False,
                       what="the algorithm failed to converge")


def svdvals(A):
    _check_matrix("linalg.svdvals", A)
    if A._requires_grad and is_grad_enabled():
        # the gradient needs the singular vectors: go through the full (reduced) SVD
        return linalg_svd(A, full_matrices=False).S
    return dispatch(LinalgSvdvals, (A,))


def svd(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V not transposed; `some` gives the reduced factorisation."""
    if not compute_uv:
        s = svdvals(input)
        m, n = input._data.shape[-2:]
        xp = _xp(input._data)
        batch = input._data.shape[:-2]
        zu = Tensor._make(xp.zeros(batch + (m, m), dtype=input._data.dtype))
        zv = Tensor._make(xp.zeros(batch + (n, n), dtype=input._data.dtype))
        return _ret_svd_legacy(zu, s, zv)
    u, s, vh = linalg_svd(input, full_matrices=not some)
    return _ret_svd_legacy(u, s, vh.mT)


def pinv(input, *, atol=None, rtol=None, hermitian=False):
    """Pseudo-inverse from the reduced SVD; singular values at or below the cutoff count as 0."""
    u, s, vh = linalg_svd(input, full_matrices=False)
    keep = _above_cutoff(input, s._data, atol, rtol)
    k = keep.astype(s._data.dtype)
    s_inv = Tensor._make(k) / (s + Tensor._make(1 - k))
    return matmul(vh.mT * s_inv.unsqueeze(-2), u.mT)


def _above_cutoff(A, s, atol, rtol):
    xp = _xp(s)
    if s.shape[-1]:
        smax = s.max(axis=-1, keepdims=True)
    else:
        smax = xp.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
    if rtol is None:
        rtol = 0.0 if atol not in (None, 0) else max(A._data.shape[-2:]) * np.finfo(s.dtype).eps
    tol = xp.maximum(0.0 if atol is None else float(atol), rtol * smax)
    return s > tol


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    s = dispatch(LinalgSvdvals, (A,))._data
    return Tensor._make(_xp(s).asarray(_above_cutoff(A, s, atol, rtol).sum(axis=-1), dtype=np.int64))


@tensor_method("pinverse")
def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


Tensor.cholesky = cholesky
Tensor.svd = svd


def chain_matmul(*matrices):
    return multi_dot(matrices)


def multi_dot(tensors, *, out=None):
    """Product of a chain of matrices (first and last may be vectors), in the cheapest order."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if nd != 2 and not (nd == 1 and i in (0, len(tensors) - 1)):
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D{' or 1D' if i in (0, len(tensors) - 1) else ''} "
                               f"but got {nd}D")
    first_vec = tensors[0]._data.ndim == 1
    last_vec = tensors[-1]._data.ndim == 1
    if first_vec:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_vec:
        tensors[-1] = tensors[-1].unsqueeze(-1)
    dims = [t._data.shape[0] for t in tensors] + [tensors[-1]._data.shape[1]]
    for i in range(len(tensors) - 1):
        if tensors[i]._data.shape[1] != tensors[i + 1]._data.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} cannot be multiplied")
    res = _chain(tensors, _chain_order(dims), 0, len(tensors) - 1)
    if first_vec:
        res = res.squeeze(0)
    if last_vec:
        res = res.squeeze(-1)
    return _into(out, res)


def _chain_order(dims):
    """The classic O(n^3) dynamic programme for the cheapest parenthesisation."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(tensors, split, i, j):
    if i == j:
        return tensors[i]
    k = split[i][j]
    return mm(_chain(tensors, split, i, k), _chain(tensors, split, k + 1, j))


def _ret_type(name, fields):
    from ._reduce import _structseq
    return _structseq(name, fields)


_ret_eigh = _ret_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
_ret_svd = _ret_type("linalg_svd", ("U", "S", "Vh"))
_ret_svd_legacy = _ret_type("svd", ("U", "S", "V"))
_ret_slogdet = _ret_type("linalg_slogdet", ("sign", "logabsdet"))


__all__ = ['addbmm', 'addmm', 'addmv', 'addr', 'baddbmm', 'bmm', 'chain_matmul', 'cholesky', 'cross',
           'det', 'diag_embed', 'dot', 'einsum', 'ger', 'inner', 'inverse', 'kron', 'logdet', 'matmul',
           'matrix_power', 'mm', 'mv', 'outer', 'pinverse', 'slogdet', 'svd', 'tensordot', 'trace',
           'vdot']


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D, X2 got: {x2.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    from .. import linalg
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    # vector_norm's gradient is 0 (not NaN) at a zero distance, as cdist's is in PyTorch
    return linalg.vector_norm(diff, ord=p, dim=-1)


__all__ = __all__ + ["cdist"]
