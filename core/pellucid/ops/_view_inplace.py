"""In-place ops on views whose base is part of the graph (PyTorch's CopySlices).

`b[:, 0].mul_(2)` changes `b`, so `b`'s history must change too: the result is written into
the view's memory, `b` gets a CopySlices step (gradient w.r.t. the old `b` is zero at the
view's positions, and the result's gradient is read from there), and the view becomes a
fresh view of the new `b`. Views are replayed from their base with the `_view_fn` their view
op recorded; the positions they cover are found by replaying them on `arange(b.numel())`.
"""

from .. import _dtype as D
from .._dispatch import Op, common_dtype, dispatch, _write_into
from .._tensor import Tensor
from ._indexing import Key, gather_at, zero_at
from ._shape import _xp, replay_view, replay_view_arrays


class CopySlices(Op):
    """The base after writing `result` into one of its views (the write itself is already done)."""
    name = "copy_slices"
    backward_name = "CopySlices"
    opmath = False          # returns its input as it is

    @staticmethod
    def forward(ctx, base, result, flat_index):
        return base

    @staticmethod
    def backward(ctx, F, g):
        key = Key(None, (ctx.params[0],), True)
        need_base, need_result = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        shape = tuple(g.shape)
        flat = F.reshape(g, (-1,))
        g_base = g_result = None
        if need_base:
            g_base = F.reshape(zero_at(F, flat, key), shape)
        if need_result:
            g_result = gather_at(F, flat, key)
        return g_base, g_result


def _may_overlap(a):
    """False when the strides prove no two elements share memory (cheap, by sorted strides)."""
    extent = a.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride < extent:
            return True
        extent += stride * (n - 1)
    return False


def _graph_alias(t, data):
    """A tensor holding `data` with `t`'s place in the graph."""
    a = Tensor._make(data)
    a._requires_grad = t._requires_grad
    a.grad_fn = t.grad_fn
    a._output_nr = t._output_nr
    return a


def rebase_view_inplace(op, view, args, params):
    base = view._base
    name = f"{op.name}_"
    if base._requires_grad and base.grad_fn is None:
        raise RuntimeError(
            f"{name}: a view of a leaf Variable that requires grad is being used in an in-place "
            f"operation (view of shape {list(view.shape)} of a leaf of shape {list(base.shape)}). "
            "Wrap the update in `with pellucid.no_grad():` or operate on a clone of the leaf.")
    link = getattr(view, "_view_fn", None)
    if link is None:
        raise RuntimeError(
            f"{name}: this view (shape {list(view.shape)}) was not made by a view op that can be "
            "replayed from its base, so its base's history can't be updated; clone() it first.")
    if link[3]:
        raise RuntimeError(
            f"{name}: this view (shape {list(view.shape)}) is one of the outputs of a function that "
            "returns multiple views (split, chunk, unbind, ...). Such functions do not allow the output "
            "views to be modified inplace. You should replace the inplace operation by an out-of-place one.")
    if op.promote is not None:
        rdt = common_dtype((view,) + tuple(args))
        if op.promote == "float" and rdt.category < 2:
            rdt = D._default_float
        if rdt.category > view.dtype.category:
            raise RuntimeError(
                f"{name}: result type {rdt.name} can't be cast to the desired output type "
                f"{view.dtype.name} of the tensor modified in place")
    xp = _xp(base._data)
    flat_index = replay_view_arrays(link, xp.arange(base._data.size).reshape(base._data.shape))
    if _may_overlap(view._data) and xp.unique(flat_index).size != flat_index.size:
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor (a view of "
            f"shape {list(view.shape)}) refers to a single memory location. Please clone() the tensor "
            "before performing the operation.")

    # The op runs out of place on a private copy of the view that carries the view's current
    # history (replayed from the base, so earlier in-place changes of the base are included).
    current = replay_view(link, base)
    result = dispatch(op, (_graph_alias(current, view._data.copy()),) + tuple(args), params)
    _write_into(view, result._data)

    rebased = dispatch(CopySlices, (_graph_alias(base, base._data), result), (flat_index,))
    base.grad_fn = rebased.grad_fn
    base._requires_grad = rebased._requires_grad
    base._output_nr = 0

    fresh = replay_view(link, base)
    view.grad_fn = fresh.grad_fn
    view._requires_grad = fresh._requires_grad
    view._output_nr = fresh._output_nr
    return view


__all__ = []
