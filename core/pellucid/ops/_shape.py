"""Views and reshapes: view, reshape, flatten, squeeze, unsqueeze, transpose, permute, expand,
movedim, narrow, select, diagonal, unfold, broadcast_to, meshgrid; and the copying shape ops
repeat, tile, flip, roll, tril, triu, diag, diag_embed.

Ops that return views in PyTorch return views here too (they share memory and the version
counter with their base). Each view also records how to replay itself from its base
(the `_view_fn` attribute, set only on views), so an in-place op on a view can rebase the
base's history (see _view_inplace).
"""
import math

import numpy as np

from .. import _dtype as D
from .._dispatch import NO_CTX, Op, dispatch
from .._tensor import Tensor, _wrap_dim
from ._F import TENSOR
from ._registry import tensor_method


# ---- view bookkeeping -------------------------------------------------------------------
# A view remembers how it was made from its base in `_view_fn`: a link (parent_link, op,
# params, from_multi) per view op, parent_link being None when the input was the base itself.
# `from_multi` marks views descending from a piece of split/chunk/unbind, which PyTorch does
# not let in-place ops modify under autograd. Links are tuples: views are made often and
# replayed rarely.

def _view_steps(link):
    steps = []
    while link is not None:
        steps.append((link[1], link[2]))
        link = link[0]
    steps.reverse()
    return steps


def replay_view(link, base):
    """The view described by `link`, remade (differentiably) from the tensor `base`."""
    t = base
    for op, params in _view_steps(link):
        t = dispatch(op, (t,), params)
    return t


def replay_view_arrays(link, a):
    """The same view of a raw array `a` (shaped like the base)."""
    for op, params in _view_steps(link):
        a = op.forward(NO_CTX, a, *params)
    return a


def record_view(out, input, op, params, multi=False):
    """Remember on `out` (a view of `input`) how to replay it from the common base."""
    if out._base is None:
        return out
    if input._base is None:
        out._view_fn = (None, op, params, multi)
    else:
        parent = getattr(input, "_view_fn", None)
        if parent is not None:
            out._view_fn = (parent, op, params, multi or parent[3])
    return out


def view_op(op, input, params):
    """Dispatch a view op and record how the view is made."""
    out = dispatch(op, (input,), params)
    if out._base is not None:
        if input._base is None:
            out._view_fn = (None, op, params, False)
        else:
            parent = getattr(input, "_view_fn", None)
            if parent is not None:
                out._view_fn = (parent, op, params, parent[3])
    return out


def as_strided_array(a, shape, strides):
    """A writable strided view of `a` (strides in bytes), on NumPy or CuPy."""
    if type(a) is np.ndarray:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=a.flags.writeable)
    import cupy
    return cupy.lib.stride_tricks.as_strided(a, shape, strides)


class ViewScatterZeros(Op):
    """zeros(in_shape) with `g` written through the view `op(params)`: the adjoint of a view.
    With `accumulate`, overlapping view elements (unfold with step < size) add up."""
    name = "view_scatter_zeros"

    @staticmethod
    def forward(ctx, g, op, params, in_shape, accumulate):
        xp = _xp(g)
        z = xp.zeros(in_shape, dtype=g.dtype)
        if accumulate:
            flat_index = op.forward(NO_CTX, xp.arange(z.size).reshape(in_shape), *params)
            _add_at(z.reshape(-1), flat_index, g)
        else:
            op.forward(NO_CTX, z, *params)[...] = g
        return z

    @staticmethod
    def backward(ctx, F, gg):
        op, params = ctx.params[0], ctx.params[1]
        if F is TENSOR:
            return dispatch(op, (gg,), params)
        return op.forward(NO_CTX, gg, *params)


def view_backward(F, op, params, in_shape, g, accumulate=False):
    """The gradient of a view op written once for raw arrays and tensors."""
    if F is TENSOR:
        return dispatch(ViewScatterZeros, (g,), (op, params, in_shape, accumulate))
    return ViewScatterZeros.forward(NO_CTX, g, op, params, in_shape, accumulate)


def _xp(a):
    if type(a) is np.ndarray:
        return np
    import cupy
    return cupy


def _add_at(target, index, values):
    if type(target) is np.ndarray:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)


# ---- argument helpers -------------------------------------------------------------------
def _size_args(size, op="view"):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if type(s) is not int:
            break
    else:
        return tuple(size)
    try:
        return tuple(s.__index__() for s in size)
    except (AttributeError, TypeError):
        raise TypeError(
            f"{op}(): argument 'size' must be a tuple of ints, but found element of type "
            f"{next(type(s).__name__ for s in size if not hasattr(s, '__index__'))}") from None


def _infer_shape(shape, numel, op):
    if -1 not in shape and min(shape, default=0) >= 0 and math.prod(shape) == numel:
        return shape
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (shape {list(shape)})")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"{op}: invalid shape dimension {s} in {list(shape)}")
    if neg:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


def _dims_arg(dims, op):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if not all(isinstance(d, (int, np.integer)) for d in dims):
        raise TypeError(f"{op}(): dims must be ints, got {dims!r}")
    return tuple(int(d) for d in dims)


def _to_int(x, what, op):
    if isinstance(x, Tensor):
        if x._data.size != 1 or x._data.dtype.kind not in "iu":
            raise TypeError(f"{op}(): {what} must be an int or a 1-element integer tensor, got {x.dtype} tensor of shape {list(x.shape)}")
        return int(x.item())
    try:
        return x.__index__()
    except AttributeError:
        raise TypeError(f"{op}(): {what} must be an int, got {type(x).__name__}") from None


# ---- view / reshape -----------------------------------------------------------------------
class View(Op):
    name = "view"
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        if a.flags.c_contiguous:
            return a.reshape(shape)     # always a view
        try:
            return a.reshape(shape, copy=False) if type(a) is np.ndarray else _cupy_view(a, shape)
        except (ValueError, AttributeError):
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (input shape "
                f"{list(a.shape)}, requested {list(shape)}): at least one dimension spans across two "
                "contiguous subspaces. Use .reshape(...) instead.") from None

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, ctx.in_shape)


def _cupy_view(a, shape):
    v = a.view()
    v.shape = shape
    return v


class Reshape(Op):
    name = "reshape"
    backward_name = "ViewBackward0"
    view = "maybe"      # a view when the layout allows, else a copy (like PyTorch)

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, ctx.in_shape)


class ViewDtype(Op):
    """Reinterpret the bytes as another dtype (not differentiable, as in PyTorch)."""
    name = "view_dtype"
    view = True
    differentiable = False

    @staticmethod
    def forward(ctx, a, np_dtype):
        return a.view(np_dtype)


def _view_dtype(input, dt):
    a = input._data
    if dt.itemsize != a.itemsize:
        if a.ndim == 0:
            raise RuntimeError(
                f"view(dtype): self.dim() cannot be 0 to view {input.dtype} as {dt} (different element sizes)")
        if a.strides[-1] != a.itemsize:
            raise RuntimeError(
                f"view(dtype): self.stride(-1) must be 1 to view {input.dtype} as {dt} (different "
                f"element sizes), but got {input.stride(-1)}")
        if (a.shape[-1] * a.itemsize) % dt.itemsize:
            raise RuntimeError(
                f"view(dtype): self.size(-1) must be divisible by {dt.itemsize // a.itemsize if dt.itemsize > a.itemsize else 1} "
                f"to view {input.dtype} as {dt} (different element sizes), but got {a.shape[-1]}")
        if dt.itemsize > a.itemsize and any(s % dt.itemsize for s in a.strides[:-1]):
            raise RuntimeError(
                f"view(dtype): self.stride(d) * {a.itemsize} must be divisible by {dt.itemsize} for all "
                f"leading dims to view {input.dtype} as {dt}")
    return dispatch(ViewDtype, (input,), (dt.np,))


@tensor_method("view")
def view(input, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        return _view_dtype(input, D.as_dtype(shape[0]))
    shape = _infer_shape(_size_args(shape, "view"), input._data.size, "view")
    return view_op(View, input, (shape,))


@tensor_method("reshape")
def reshape(input, *shape):
    shape = _infer_shape(_size_args(shape, "reshape"), input._data.size, "reshape")
    if shape == input._data.shape or input._data.flags.c_contiguous:
        return view_op(View, input, (shape,))      # contiguous: always a view, no aliasing check
    return view_op(Reshape, input, (shape,))


@tensor_method("view_as")
def view_as(input, other):
    return view(input, other._data.shape)


@tensor_method("reshape_as")
def reshape_as(input, other):
    return reshape(input, other._data.shape)


@tensor_method("flatten")
def flatten(input, start_dim=0, end_dim=-1):
    shape = input._data.shape
    if len(shape) == 0:
        return view_op(View, input, ((1,),))
    s = _wrap_dim(start_dim, len(shape), "flatten")
    e = _wrap_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError(
            f"flatten() has invalid args: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    if s == e:
        return input
    n = 1
    for x in shape[s:e + 1]:
        n *= x
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


@tensor_method("unflatten")
def unflatten(input, dim, sizes):
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape), "unflatten")
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) == 0:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = _infer_shape(sizes, shape[d], "unflatten")
    except RuntimeError:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({shape[d]}) in the input tensor") from None
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


# ---- squeeze / unsqueeze ---------------------------------------------------------------------
class Squeeze(Op):
    name = "squeeze"
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)     # only size-1 dims go, so this never copies

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, ctx.in_shape)


class Unsqueeze(Squeeze):
    name = "unsqueeze"


@tensor_method("unsqueeze")
def unsqueeze(input, dim):
    shape = list(input._data.shape)
    d = _wrap_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(d, 1)
    return view_op(Unsqueeze, input, (tuple(shape),))


@tensor_method("squeeze")
def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        dims = {_wrap_dim(int(d), len(shape), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return view_op(Squeeze, input, (new,))


# ---- expand / broadcast -------------------------------------------------------------------------
class Expand(Op):
    name = "expand"
    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return _xp(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.sum_to(g, ctx.in_shape)


def _expand_shape(shape, sizes, op="expand"):
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"{op}: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"{op}: the expanded size of the tensor ({s}) isn't allowed in a leading, "
                    f"non-existing dimension {i} (target sizes {list(sizes)})")
            out.append(s)
        else:
            cur = shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and s != cur:
                raise RuntimeError(
                    f"{op}: the expanded size of the tensor ({s}) must match the existing size "
                    f"({cur}) at non-singleton dimension {i}. Target sizes: {list(sizes)}. Tensor "
                    f"sizes: {list(shape)}")
            out.append(s)
    return tuple(out)


@tensor_method("expand")
def expand(input, *sizes):
    out = _expand_shape(input._data.shape, _size_args(sizes, "expand"))
    return view_op(Expand, input, (out,))


@tensor_method("expand_as")
def expand_as(input, other):
    return expand(input, other._data.shape)


@tensor_method("broadcast_to")
def broadcast_to(input, size):
    out = _expand_shape(input._data.shape, _size_args((size,), "broadcast_to"), "broadcast_to")
    return view_op(Expand, input, (out,))


def broadcast_shapes(*shapes):
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    try:
        from .._size import Size
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(
            f"broadcast_shapes: shapes {[list(s) for s in shapes]} cannot be broadcast together "
            "(sizes must match or be 1 at each dimension, counting from the last)") from None


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError:
        raise RuntimeError(
            "broadcast_tensors: shapes " + ", ".join(str(list(t.shape)) for t in tensors)
            + " cannot be broadcast together (sizes must match or be 1 at each dimension)") from None
    return tuple(t if t._data.shape == shape else view_op(Expand, t, (shape,)) for t in tensors)


# ---- transpose / permute / movedim ------------------------------------------------------------
class Transpose(Op):
    name = "transpose"
    view = True

    @staticmethod
    def forward(ctx, a, d0, d1):
        ctx.dims = (d0, d1)
        return a.swapaxes(d0, d1)

    @staticmethod
    def backward(ctx, F, g):
        return F.transpose(g, *ctx.dims)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0, dim1):
    n = input._data.ndim
    return view_op(Transpose, input, (_wrap_dim(dim0, n, "transpose"), _wrap_dim(dim1, n, "transpose")))


swapaxes = swapdims = transpose


class Permute(Op):
    name = "permute"
    view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, F, g):
        return F.permute(g, tuple(int(i) for i in np.argsort(ctx.dims)))


@tensor_method("permute")
def permute(input, *dims):
    dims = _dims_arg(dims, "permute")
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(
            f"permute(): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError(f"permute(): duplicate dims are not allowed ({list(dims)})")
    return view_op(Permute, input, (dims,))


@tensor_method("movedim", "moveaxis")
def movedim(input, source, destination):
    n = input._data.ndim
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
            f"the same number of dims as destination ({list(dst)} dims)")
    src = tuple(_wrap_dim(int(d), n, "movedim") for d in src)
    dst = tuple(_wrap_dim(int(d), n, "movedim") for d in dst)
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    order = tuple(o if o is not None else next(rest) for o in order)
    if order == tuple(range(n)):
        return view_op(View, input, (input._data.shape,))
    return view_op(Permute, input, (order,))


moveaxis = movedim


@tensor_method("t")
def t(input):
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    if input._data.ndim < 2:
        return view_op(View, input, (input._data.shape,))
    return transpose(input, 0, 1)


def _T(self):
    n = self._data.ndim
    return view_op(View, self, (self._data.shape,)) if n < 2 else permute(self, *reversed(range(n)))


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {self._data.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _H(self):
    if self._data.ndim not in (0, 2):
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {self._data.ndim}-D tensor.")
    return _T(self)


Tensor.T = property(_T)
Tensor.mT = property(_mT)
Tensor.H = property(_H)
Tensor.mH = property(_mT)
Tensor.adjoint = _mT


def adjoint(input):
    return _mT(input)


# ---- narrow / select -----------------------------------------------------------------------------
class Slice(Op):
    """Basic indexing (ints, slices with steps, None, Ellipsis): always a view."""
    name = "slice"
    view = True

    @staticmethod
    def forward(ctx, a, key):
        ctx.in_shape = a.shape
        return a[key]

    @staticmethod
    def backward(ctx, F, g):
        return view_backward(F, type(ctx).op, ctx.params, ctx.in_shape, g)


class Select(Slice):
    name = "select"


class Narrow(Slice):
    name = "narrow"
    backward_name = "SliceBackward0"


@tensor_method("narrow")
def narrow(input, dim, start, length):
    shape = input._data.shape
    if len(shape) == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, len(shape), "narrow")
    start = _to_int(start, "start", "narrow")
    length = _to_int(length, "length", "narrow")
    n = shape[d]
    if not -n <= start <= n:
        raise IndexError(
            f"narrow(): start ({start}) out of range for dimension {d} of size {n} "
            f"(expected to be in range of [{-n}, {n}])")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}).")
    key = (slice(None),) * d + (slice(start, start + length), Ellipsis)
    return view_op(Narrow, input, (key,))


@tensor_method("select")
def select(input, dim, index):
    shape = input._data.shape
    if len(shape) == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, len(shape), "select")
    index = _to_int(index, "index", "select")
    n = shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(shape)} at dimension {d}")
    key = (slice(None),) * d + (index if index >= 0 else index + n, Ellipsis)
    return view_op(Select, input, (key,))


# ---- diagonal / unfold: strided views -----------------------------------------------------------
def _diag_len(n1, n2, offset):
    return max(min(n1, n2 - offset), 0) if offset >= 0 else max(min(n1 + offset, n2), 0)


class Diagonal(Op):
    name = "diagonal"
    view = True

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.in_shape = a.shape
        shape, st = a.shape, a.strides
        length = _diag_len(shape[d1], shape[d2], offset)
        if length and offset:
            # move the start onto the first diagonal element with a (view-preserving) slice
            dim, k = (d2, offset) if offset > 0 else (d1, -offset)
            a = a[(slice(None),) * dim + (slice(k, None), Ellipsis)]
            st = a.strides
        rest = [i for i in range(a.ndim) if i != d1 and i != d2]
        return as_strided_array(a, tuple(shape[i] for i in rest) + (length,),
                                tuple(st[i] for i in rest) + (st[d1] + st[d2],))

    @staticmethod
    def backward(ctx, F, g):
        return view_backward(F, Diagonal, ctx.params, ctx.in_shape, g)


@tensor_method("diagonal")
def diagonal(input, offset=0, dim1=0, dim2=1):
    n = input._data.ndim
    if n < 2:
        raise RuntimeError(f"diagonal(): input must have at least 2 dimensions, got {n}-D tensor")
    d1, d2 = _wrap_dim(dim1, n, "diagonal"), _wrap_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return view_op(Diagonal, input, (int(offset), d1, d2))


class Unfold(Op):
    name = "unfold"
    view = True

    @staticmethod
    def forward(ctx, a, dim, size, step):
        ctx.in_shape = a.shape
        if a.ndim == 0:
            return a.reshape((1,))
        shape, st = a.shape, a.strides
        count = (shape[dim] - size) // step + 1
        new_shape = shape[:dim] + (count,) + shape[dim + 1:] + (size,)
        new_strides = st[:dim] + (st[dim] * step,) + st[dim + 1:] + (st[dim],)
        return as_strided_array(a, new_shape, new_strides)

    @staticmethod
    def backward(ctx, F, g):
        dim, size, step = ctx.params
        return view_backward(F, Unfold, ctx.params, ctx.in_shape, g, accumulate=step < size)


@tensor_method("unfold")
def _tensor_unfold(input, dimension, size, step):
    shape = input._data.shape
    n = len(shape)
    d = _wrap_dim(dimension, n, "unfold")
    dim_size = shape[d] if n else 1
    if size < 0 or size > dim_size:
        raise RuntimeError(
            f"unfold: maximum size for tensor at dimension {d} is {dim_size} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    return view_op(Unfold, input, (d, int(size), int(step)))


# ---- atleast_nd / meshgrid ---------------------------------------------------------------------
def _atleast(tensors, n, name):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for x in tensors:
        s = x._data.shape
        if len(s) >= n:
            out.append(x)
            continue
        if n == 1:
            new = (1,)
        elif n == 2:
            new = (1,) * (2 - len(s)) + s
        else:
            new = {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
        out.append(view_op(View, x, (new,)))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    return _atleast(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    return _atleast(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    return _atleast(tensors, 3, "atleast_3d")


def meshgrid(*tensors, indexing=None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    if not tensors:
        raise RuntimeError("torch.meshgrid: expects a non-empty TensorList")
    for x in tensors:
        if x._data.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a {x._data.ndim}-D tensor")
    swap = indexing == "xy" and len(tensors) >= 2
    ts = list(tensors)
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(x._data.size for x in ts)
    out = []
    for i, x in enumerate(ts):
        v = view_op(View, x, (tuple(shape[j] if j == i else 1 for j in range(len(ts))),))
        out.append(view_op(Expand, v, (shape,)))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


# ---- copying shape ops: repeat, tile, flip, roll ----------------------------------------------------
class Repeat(Op):
    name = "repeat"

    @staticmethod
    def forward(ctx, a, reps):
        lead = len(reps) - a.ndim
        ctx.in_shape = a.shape
        shaped = a.reshape((1,) * lead + a.shape)
        return _xp(a).tile(shaped, reps)

    @staticmethod
    def backward(ctx, F, g):
        reps = ctx.params[0]
        in_shape = ctx.in_shape
        padded = (1,) * (len(reps) - len(in_shape)) + tuple(in_shape)
        split = []
        for r, s in zip(reps, padded):
            split += [r, s]
        g = F.reshape(g, tuple(split))
        g = F.sum(g, tuple(range(0, 2 * len(reps), 2)))
        return F.reshape(g, tuple(in_shape))


@tensor_method("repeat")
def repeat(input, *sizes):
    reps = _size_args(sizes, "repeat")
    if len(reps) < input._data.ndim:
        raise RuntimeError(
            "repeat(): Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor (got {len(reps)} repeat dims for a {input._data.ndim}-D tensor)")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat(): repeats can not be negative, got {list(reps)}")
    return dispatch(Repeat, (input,), (reps,))


@tensor_method("tile")
def tile(input, dims):
    reps = _size_args((dims,), "tile") if not isinstance(dims, (int, np.integer)) else (int(dims),)
    n = input._data.ndim
    if len(reps) < n:
        reps = (1,) * (n - len(reps)) + reps
    return repeat(input, reps)


class Flip(Op):
    name = "flip"

    @staticmethod
    def forward(ctx, a, dims):
        return _xp(a).flip(a, dims).copy()

    @staticmethod
    def backward(ctx, F, g):
        return F.flip(g, ctx.params[0])


@tensor_method("flip")
def flip(input, *dims):
    dims = _dims_arg(dims, "flip")
    n = input._data.ndim
    dims = tuple(_wrap_dim(d, n, "flip") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"flip: dims has duplicates, original flip dims size={len(dims)}, but unique flip dims size={len(set(dims))}")
    return dispatch(Flip, (input,), (dims,))


@tensor_method("fliplr")
def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError(f"fliplr: Input must be >= 2-d, got {input._data.ndim}-d")
    return flip(input, (1,))


@tensor_method("flipud")
def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("flipud: Input must be >= 1-d, got 0-d")
    return flip(input, (0,))


class Roll(Op):
    name = "roll"

    @staticmethod
    def forward(ctx, a, shifts, dims):
        return _xp(a).roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, F, g):
        shifts, dims = ctx.params
        neg = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
        return F.roll(g, neg, dims)


@tensor_method("roll")
def roll(input, shifts, dims=None):
    n = input._data.ndim
    if isinstance(shifts, (int, np.integer)):
        shifts = (int(shifts),)
    else:
        shifts = tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts must be a single int when dims is not given, got {list(shifts)}")
        return dispatch(Roll, (input,), (shifts[0], None))
    dims = (int(dims),) if isinstance(dims, (int, np.integer)) else tuple(int(d) for d in dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    dims = tuple(_wrap_dim(d, n, "roll") for d in dims)
    return dispatch(Roll, (input,), (shifts, dims))


# ---- triangles and diagonals (copies) ----------------------------------------------------------------
class Tril(Op):
    name = "tril"

    @staticmethod
    def forward(ctx, a, k):
        return _xp(a).tril(a, k)

    @staticmethod
    def backward(ctx, F, g):
        return F.tril(g, ctx.params[0])


class Triu(Op):
    name = "triu"

    @staticmethod
    def forward(ctx, a, k):
        return _xp(a).triu(a, k)

    @staticmethod
    def backward(ctx, F, g):
        return F.triu(g, ctx.params[0])


def _check_2d(input, op):
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got {input._data.ndim}-D")


@tensor_method("tril")
def tril(input, diagonal=0, *, out=None):
    _check_2d(input, "tril")
    return dispatch(Tril, (input,), (int(diagonal),))


@tensor_method("triu")
def triu(input, diagonal=0, *, out=None):
    _check_2d(input, "triu")
    return dispatch(Triu, (input,), (int(diagonal),))


@tensor_method("tril_")
def _tril_(self, diagonal=0):
    from .._dispatch import dispatch_inplace
    _check_2d(self, "tril_")
    return dispatch_inplace(Tril, self, (), (int(diagonal),))


@tensor_method("triu_")
def _triu_(self, diagonal=0):
    from .._dispatch import dispatch_inplace
    _check_2d(self, "triu_")
    return dispatch_inplace(Triu, self, (), (int(diagonal),))


class DiagEmbed(Op):
    name = "diag_embed"

    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        n = a.shape[-1] + abs(offset)
        out_shape = list(a.shape[:-1])
        for d in sorted((d1, d2)):
            out_shape.insert(d, n)
        out = _xp(a).zeros(tuple(out_shape), dtype=a.dtype)
        Diagonal.forward(NO_CTX, out, offset, d1, d2)[...] = a
        return out

    @staticmethod
    def backward(ctx, F, g):
        offset, d1, d2 = ctx.params
        if F is TENSOR:
            return diagonal(g, offset, d1, d2)
        return Diagonal.forward(NO_CTX, g, offset, d1, d2)


@tensor_method("diag_embed")
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input._data.ndim + 1
    d1, d2 = _wrap_dim(dim1, n, "diag_embed"), _wrap_dim(dim2, n, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    if input._data.ndim == 0:
        input = view_op(View, input, ((1,),))
    return dispatch(DiagEmbed, (input,), (int(offset), d1, d2))


class DiagOf(Op):
    """The k-th diagonal of a matrix, as a new tensor (torch.diag on a 2-D input)."""
    name = "diag"

    @staticmethod
    def forward(ctx, a, k):
        ctx.in_shape = a.shape
        return Diagonal.forward(NO_CTX, a, k, 0, 1).copy()

    @staticmethod
    def backward(ctx, F, g):
        return view_backward(F, Diagonal, (ctx.params[0], 0, 1), ctx.in_shape, g)


class DiagFrom(Op):
    """A square matrix with `a` on its k-th diagonal (torch.diag on a 1-D input)."""
    name = "diag_from"
    backward_name = "DiagBackward0"

    @staticmethod
    def forward(ctx, a, k):
        return DiagEmbed.forward(NO_CTX, a, k, 0, 1)

    @staticmethod
    def backward(ctx, F, g):
        if F is TENSOR:
            return diagonal(g, ctx.params[0], 0, 1)
        return Diagonal.forward(NO_CTX, g, ctx.params[0], 0, 1)


@tensor_method("diag")
def diag(input, diagonal=0, *, out=None):
    n = input._data.ndim
    if n == 1:
        return dispatch(DiagFrom, (input,), (int(diagonal),))
    if n == 2:
        return dispatch(DiagOf, (input,), (int(diagonal),))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")


__all__ = ['adjoint', 'atleast_1d', 'atleast_2d', 'atleast_3d', 'broadcast_shapes', 'broadcast_tensors',
           'broadcast_to', 'diag', 'diag_embed', 'diagonal', 'expand', 'expand_as', 'flatten', 'flip',
           'fliplr', 'flipud', 'meshgrid', 'moveaxis', 'movedim', 'narrow', 'permute', 'repeat',
           'reshape', 'reshape_as', 'roll', 'select', 'squeeze', 'swapaxes', 'swapdims', 't', 'tile',
           'transpose', 'tril', 'triu', 'unflatten', 'unsqueeze', 'view', 'view_as']
