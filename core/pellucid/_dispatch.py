"""The one dispatch point every op passes through.

An op is a subclass of `Op` that holds its forward (on raw NumPy/CuPy arrays), its
backward (written once against the `F` namespace, so the same formula runs on raw
arrays when create_graph is off and on differentiable tensors when it is on) and its
metadata, side by side. `dispatch` checks devices, promotes dtypes, runs the forward,
links the graph and, only when something listens (recorder, anomaly mode), tells it.

bfloat16 computes in float32 ("opmath"): NumPy's bfloat16 (ml_dtypes) accumulates sums in
bfloat16, returns float32 from matmul, clip and arithmetic with Python floats, and einsum refuses
it. PyTorch's CPU kernels load bfloat16, compute in float and round each result to bfloat16; so an
op whose floating inputs are all bfloat16 gets them as float32 arrays, and its floating outputs
are rounded to bfloat16. Views (which must share memory) and ops with `opmath = False` (casts)
run on the bfloat16 arrays themselves. Backward steps touching bfloat16 do the same (the engine).
"""
import itertools

import numpy as np

from . import _dtype as D
from ._grad_mode import state as _gm

Tensor = None          # bound by _tensor at import time (avoids an import cycle)
_FROM_NP = D._FROM_NP
_ndarray = np.ndarray
_BF16 = D.BF16
_F32 = np.dtype(np.float32)

# Listeners (the recorder and anomaly mode). `hooked` is the single flag the hot path reads.
hooked = False
# True while some thread is inside an enabled pellucid.autocast region; then every call goes
# through autocast_dispatch first (both set by pellucid.amp)
autocast_active = False
autocast_dispatch = None
_listeners = []
_seq = itertools.count()
OPS = {}


def add_listener(listener):
    """`listener.on_op(op, inputs, outputs, node, params)` and `listener.on_backward(...)`."""
    global hooked
    _listeners.append(listener)
    hooked = True


def remove_listener(listener):
    global hooked
    if listener in _listeners:
        _listeners.remove(listener)
    hooked = bool(_listeners)


def listeners():
    return tuple(_listeners)


class Node:
    """A backward step in the graph (what `tensor.grad_fn` returns).

    One subclass per op is generated (named like PyTorch's: `MulBackward0`), so users can
    recognise steps and the recorder can name them.
    """
    op = None
    saved = None          # saved input tensors (or None when nothing is saved / freed)
    versions = None
    out_data = None       # the saved output array
    out_version = None
    freed = False
    hooks = None          # {output_nr: [fn, ...]}: tensor hooks of the node's outputs
    retains = None        # {output_nr: fn}: retain_grad, run after the tensor hooks
    pre_hooks = None      # fn(grad_outputs) -> new grad_outputs or None (PyTorch's prehook)
    post_hooks = None     # fn(grad_inputs, grad_outputs) -> new grad_inputs or None
    inputs = None         # set while backward runs: saved inputs as arrays or tensors
    params = ()           # the op's non-tensor arguments
    anomaly_trace = None
    lowp = False          # an input or output is bfloat16: backward computes in float32

    def name(self):
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple((e[0], e[1]) if e is not None else (None, 0) for e in self.edges)

    @property
    def metadata(self):
        return self.__dict__.setdefault("_metadata", {})

    def register_hook(self, fn):
        """`fn(grad_inputs, grad_outputs)` runs after this step; it may return new grad_inputs.
        A hook taking three positional arguments gets the node first."""
        return self._add_hook("post_hooks", fn, 3)

    def register_prehook(self, fn):
        """`fn(grad_outputs)` runs before this step; it may return new grad_outputs.
        A hook taking two positional arguments gets the node first."""
        return self._add_hook("pre_hooks", fn, 2)

    def _add_hook(self, attr, fn, n_with_node):
        from .utils.hooks import RemovableHandle
        lst = getattr(self, attr)
        if lst is None:
            lst = []
            setattr(self, attr, lst)
        entry = _NodeHook(fn) if _positional_count(fn) == n_with_node else fn
        lst.append(entry)
        return RemovableHandle(lst, entry)

    @property
    def output(self):
        """The saved forward output as a tensor attached to this node (used under create_graph)."""
        t = Tensor._make(self.out_data)
        t._requires_grad = True
        t.grad_fn = self
        return t

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"


class _NodeHook:
    """A node hook that wants the node as its first argument."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def _positional_count(fn):
    import inspect
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    n = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            n += 1
    return n


class AccumulateGrad(Node):
    """The sink for a leaf tensor: sums gradients into `.grad`."""
    edges = ()
    n_outputs = 1

    def __init__(self, leaf):
        import weakref
        self.variable_ref = weakref.ref(leaf)
        self.seq = next(_seq)

    @property
    def variable(self):
        return self.variable_ref()

    def name(self):
        return "torch::autograd::AccumulateGrad"


class _NoCtx:
    """The ctx forward receives when no graph is being built: stores nothing."""
    __slots__ = ()
    needs_grad = False
    needs_input_grad = ()

    def __setattr__(self, key, value):
        pass


NO_CTX = _NoCtx()


class Op:
    """Base class of every op. Subclasses set:

    name          the op's name (`"mul"`)
    forward       staticmethod(ctx, *arrays, *params) -> array or tuple of arrays
    backward      staticmethod(ctx, F, *grads) -> one gradient per tensor input (or None)
    save_inputs   indices of tensor inputs kept for backward (`ctx.inputs`), or True for all
    saved_for     optional, with save_inputs=True: per input, the inputs its gradient reads;
                  only those are kept (others are None in ctx.inputs), like PyTorch
    save_output   keep the output for backward (`ctx.out`)
    promote       None, "common" (PyTorch's result_type) or "float" (common, ints become float)
    differentiable
    view          the output is a view of input 0 (shares its version counter)
    multi_output  forward returns a tuple
    opmath        bfloat16 inputs are computed in float32 (see the module notes); False for ops
                  whose output dtype is not the computation's (casts)
    """
    name = None
    label = None
    save_inputs = ()
    save_output = False
    promote = None
    differentiable = True
    view = False
    multi_output = False
    inplace_ok = True
    uses_saved_inputs = True   # the engine fills ctx.inputs from the saved tensors
    saved_for = None           # with save_inputs=True: saved_for[i] = inputs the grad of input i reads
    opmath = True
    node_cls = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name is None:
            return
        if "label" not in cls.__dict__:
            # what the recorder and graph views show; whole-tensor variants ("mean_all") read as the op
            cls.label = cls.name[:-4] if cls.name.endswith("_all") else cls.name
        if cls.save_inputs is True:
            cls.save_inputs = None   # None means "all", resolved per call
        backward_name = getattr(cls, "backward_name", None) or (
            "".join(p.capitalize() for p in cls.name.split("_")) + "Backward0")
        cls.node_cls = type(backward_name, (Node,), {"op": cls})
        OPS[cls.name] = cls


def _device_error(op, tensors):
    devs = ", ".join(f"{t.device}" for t in tensors)
    return RuntimeError(
        f"{op.name}: expected all tensors to be on the same device, but found at least two devices "
        f"({devs}). Move them with .to(device) first.")


def common_dtype(args):
    """The dtype an op over `args` (tensors and Python scalars) computes in."""
    a = args[0]
    if len(args) == 2:
        b = args[1]
        if isinstance(a, Tensor):
            da = _FROM_NP[a._data.dtype]
            tb = type(b)
            if isinstance(b, Tensor):
                db = _FROM_NP[b._data.dtype]
                if da is db:
                    return da
            elif tb is float:
                if da.category == 2:
                    return da
            elif tb is int:
                if da.category >= 1:
                    return da
    return D.result_type(*args)


def _prepare(op, args):
    """Arrays (or scalars) for forward, with dtypes promoted; devices checked."""
    promote = op.promote
    if promote is None:
        return [a._data if isinstance(a, Tensor) else a for a in args]
    dt = common_dtype(args)
    if promote == "float" and dt.category < 2:
        dt = D._default_float
    np_dt = dt.np
    arrays = []
    kind = None
    for a in args:
        if isinstance(a, Tensor):
            x = a._data
            tx = type(x)
            if kind is None:
                kind = tx
            elif tx is not kind:
                raise _device_error(op, [t for t in args if isinstance(t, Tensor)])
            if x.dtype != np_dt:
                x = x.astype(np_dt)
            arrays.append(x)
        elif promote == "float" and type(a) is int and dt.category == 2:
            arrays.append(float(a))
        elif isinstance(a, np.generic):
            arrays.append(a.item())      # a NumPy scalar promotes like a Python number, as in PyTorch
        else:
            arrays.append(a)
    return arrays


def _bf16_op(op, arrays, params):
    """Whether `op` computes in float32 for bfloat16: its dtype parameter (the output dtype of
    reductions with dtype=, clamp, where, random draws) is bfloat16, or, with none, some array is
    bfloat16 and every floating array is (an op handed mixed floating dtypes, or told another
    output dtype, deals with them itself)."""
    if not op.opmath or op.view:
        return False
    for p in params:
        if isinstance(p, np.dtype):
            return p is _BF16
    found = False
    for x in arrays:
        dt = getattr(x, "dtype", None)
        if dt is _BF16:
            found = True
        elif dt is not None and dt.kind == "f":
            return False
    return found


def _forward_bf16(op, ctx, arrays, params):
    """Run op's forward on bfloat16 arrays as float32; round its floating outputs to bfloat16."""
    ins = [x.astype(_F32) if getattr(x, "dtype", None) is _BF16 else x for x in arrays]
    params = [_F32 if p is _BF16 else p for p in params]
    out = op.forward(ctx, *ins, *params)
    if op.multi_output:
        return tuple(_to_bf16(o) for o in out)
    return _to_bf16(out)


def _to_bf16(out):
    dt = getattr(out, "dtype", None)
    if dt is not None and dt.kind == "f":
        return np.asarray(out).astype(_BF16) if type(out) is not _ndarray else out.astype(_BF16)
    if type(out) is float:
        return np.asarray(out, dtype=_BF16)
    return out


def _forward(op, ctx, arrays, params, bf16):
    if bf16:
        return _forward_bf16(op, ctx, arrays, params)
    return op.forward(ctx, *arrays, *params)


def dispatch(op, args, params=()):
    """Run `op` on `args` (tensors, or Python scalars where the op allows) with extra `params`.

    Returns the output tensor (or a tuple for multi-output ops).
    """
    if autocast_active:
        out = autocast_dispatch(op, args, params)
        if out is not None:
            return out
    # Fast path: one or two tensors of one dtype on one device (most calls). Anything else, and
    # every case that needs casting or a device check, goes through _prepare.
    # bfloat16 tensors always take the slow path (see _bf16_op).
    arrays = None
    needs_grad = False
    bf16 = False
    n = len(args)
    if n == 2:
        a, b = args
        if isinstance(a, Tensor):
            x = a._data
            if isinstance(b, Tensor):
                y = b._data
                if (x.dtype is y.dtype and type(x) is type(y) and x.dtype is not _BF16
                        and (op.promote != "float" or x.dtype.kind == "f")):
                    arrays = (x, y)
                    needs_grad = a._requires_grad or b._requires_grad
            elif type(b) is float:
                if x.dtype.kind == "f" or (op.promote is None and x.dtype is not _BF16):
                    arrays = (x, b)
                    needs_grad = a._requires_grad
    elif n == 1:
        a = args[0]
        if isinstance(a, Tensor):
            x = a._data
            if (op.promote != "float" or x.dtype.kind == "f") and x.dtype is not _BF16:
                arrays = (x,)
                needs_grad = a._requires_grad
    if arrays is None:
        arrays = _prepare(op, args)
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                needs_grad = True
                break
        bf16 = _bf16_op(op, arrays, params)
    if needs_grad and not (_gm.grad_enabled and op.differentiable):
        needs_grad = False
    if hooked:
        return _dispatch_hooked(op, args, arrays, params, needs_grad, bf16)
    if not needs_grad:
        out = op.forward(NO_CTX, *arrays, *params) if not bf16 else _forward_bf16(op, NO_CTX, arrays, params)
        if op.multi_output:
            return tuple(_wrap(o, args, op) for o in out)
        if type(out) is _ndarray and not op.view:
            t = _new(Tensor)
            t._data = out
            return t
        return _wrap(out, args, op)
    node = op.node_cls()
    node.params = params
    out = op.forward(node, *arrays, *params) if not bf16 else _forward_bf16(op, node, arrays, params)
    return _link(op, node, args, out)


_new = object.__new__


def _wrap(out, args, op):
    t = _new(Tensor)
    if type(out) is not _ndarray:
        if isinstance(out, np.generic) or not hasattr(out, "__cuda_array_interface__"):
            out = np.asarray(out)
    t._data = out
    if op.view and (op.view is True or _shares(out, args[0]._data)):
        base = args[0]
        if base._version is None:
            base._version = [0]
        t._version = base._version
        t._base = base._base if base._base is not None else base
    return t


def _shares(out, src):
    return np.may_share_memory(out, src) if type(out) is _ndarray else out.data.ptr == src.data.ptr


def _link(op, node, args, out):
    """Attach `node` to the graph: its edges to the inputs and the saved tensors."""
    edges = []
    in_meta = []
    needs = []
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            if d.dtype is _BF16:
                node.lowp = True
            in_meta.append((d.shape, d.dtype))
            if a._requires_grad:
                fn = a.grad_fn
                if fn is None:
                    edges.append((a._accumulator(), 0))
                else:
                    edges.append((fn, a._output_nr))
                needs.append(True)
            else:
                edges.append(None)
                needs.append(False)
        else:
            edges.append(None)
            needs.append(False)
            in_meta.append(None)
    node.edges = edges
    node.in_meta = in_meta
    node.needs_input_grad = needs
    node.seq = next(_seq)
    si = op.save_inputs
    if si is None:
        saved = list(args) if op.saved_for is None else _needed_inputs(op.saved_for, args, needs)
    elif si:
        saved = [args[i] for i in si]
    else:
        saved = None
    if saved is not None:
        # Python scalars are saved as they are; tensors with the version they had now
        node.saved = saved
        node.versions = [t._version[0] if isinstance(t, Tensor) and t._version is not None else 0
                         for t in saved]
    if op.multi_output:
        outs = []
        for i, o in enumerate(out):
            t = _wrap(o, args, op)
            dk = t._data.dtype.kind
            if dk == "f" or dk == "V":
                if dk == "V":
                    node.lowp = True
                t._requires_grad = True
                t.grad_fn = node
                t._output_nr = i
            outs.append(t)
        node.n_outputs = len(outs)
        node.out_meta = [(t._data.shape, t._data.dtype) for t in outs]
        if op.save_output:
            node.out_data = tuple(out)
        return tuple(outs)
    t = _wrap(out, args, op)
    node.n_outputs = 1
    node.out_meta = ((t._data.shape, t._data.dtype),)
    dk = t._data.dtype.kind
    if dk == "f" or dk == "V":
        if dk == "V":
            node.lowp = True
        t._requires_grad = True
        t.grad_fn = node
    if op.save_output:
        node.out_data = t._data
        if t._version is None:
            t._version = [0]
        node.out_version = (t._version, t._version[0])
    return t


def _needed_inputs(saved_for, args, needs):
    """Keep only the inputs read by the gradients that will be computed (None elsewhere), so an
    input nobody needs may later change in place, as in PyTorch."""
    want = set()
    for i, n in enumerate(needs):
        if n:
            want.update(saved_for[i])
    return [a if i in want else None for i, a in enumerate(args)]


def _dispatch_hooked(op, args, arrays, params, needs_grad, bf16=False):
    import time
    for lst in _listeners:
        pre = getattr(lst, "before_op", None)
        if pre is not None:
            pre(op, args, params)
    t0 = time.perf_counter()
    if needs_grad:
        node = op.node_cls()
        node.params = params
        out = _forward(op, node, arrays, params, bf16)
        result = _link(op, node, args, out)
    else:
        node = None
        out = _forward(op, NO_CTX, arrays, params, bf16)
        result = tuple(_wrap(o, args, op) for o in out) if op.multi_output else _wrap(out, args, op)
    elapsed = time.perf_counter() - t0
    for lst in list(_listeners):
        lst.on_op(op, args, params, result, node, elapsed)
    return result


def dispatch_inplace(op, self, args, params=()):
    """Run `op(self, *args)` and write the result into `self` (PyTorch's `add_` and friends)."""
    grad_on = _gm.grad_enabled and op.differentiable
    needs_grad = grad_on and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if needs_grad and self._requires_grad and self.grad_fn is None:
        raise RuntimeError(
            f"{op.name}_: a leaf Variable that requires grad is being used in an in-place operation. "
            "Wrap the update in `with pellucid.no_grad():` or operate on a clone.")
    if needs_grad and self._base is not None:
        return _inplace_on_view(op, self, args, params)
    all_args = (self,) + tuple(args)
    arrays = _prepare(op, all_args)
    bf16 = _bf16_op(op, arrays, params)
    if op.promote is not None:
        rdt = common_dtype(all_args)
        if op.promote == "float" and rdt.category < 2:
            rdt = D._default_float
        sdt = _FROM_NP[self._data.dtype]
        if rdt.category > sdt.category:
            raise RuntimeError(
                f"{op.name}_: result type {rdt.name} can't be cast to the desired output type "
                f"{sdt.name} of the tensor modified in place")
    if not needs_grad:
        out = _forward(op, NO_CTX, arrays, params, bf16)
        _write_into(self, out)
        if hooked:
            for lst in list(_listeners):
                lst.on_op(op, all_args, params, self, None, 0.0)
        return self
    # Build the graph as for the out-of-place op, then move the result into `self`.
    node = op.node_cls()
    node.params = params
    saved_self = self
    si = op.save_inputs
    if si is None or (si and 0 in si):
        saved_self = Tensor._make(self._data.copy())
        saved_self._requires_grad = self._requires_grad
        saved_self.grad_fn = self.grad_fn
        saved_self._output_nr = self._output_nr
    link_args = (saved_self,) + tuple(args)
    out = _forward(op, node, arrays, params, bf16)
    res = _link(op, node, link_args, out)
    _write_into(self, res._data)
    if self._retains_grad:
        _move_retain(self, node)
    self._requires_grad = True
    self.grad_fn = node
    self._output_nr = 0
    if op.save_output:
        node.out_version = (self._version, self._version[0])
        node.out_data = res._data
    if hooked:
        for lst in list(_listeners):
            lst.on_op(op, all_args, params, self, node, 0.0)
    return self


def _move_retain(t, node):
    """retain_grad follows the tensor to its new step after an in-place op, as in PyTorch."""
    old = t.grad_fn
    fn = old.retains.pop(t._output_nr, None) if old is not None and old.retains else None
    if fn is not None:
        if node.retains is None:
            node.retains = {}
        node.retains[0] = fn


def _write_into(self, out):
    data = self._data
    if out is not data:
        oshape = getattr(out, "shape", ())
        if oshape and data.shape != oshape:
            try:
                ok = np.broadcast_shapes(oshape, data.shape) == data.shape
            except ValueError:
                ok = False
            if not ok:
                raise RuntimeError(
                    f"output with shape {list(data.shape)} doesn't match the broadcast shape "
                    f"{list(getattr(out, 'shape', ()))}")
        try:
            data[...] = out
        except ValueError:
            if getattr(data.flags, "writeable", True):
                raise
            # a broadcast (expanded) array: PyTorch's error, not NumPy's
            raise RuntimeError(
                f"unsupported operation: more than one element of the written-to tensor (shape "
                f"{list(data.shape)}) refers to a single memory location. Please clone() the tensor "
                "before performing the operation.") from None
    if self._version is None:
        self._version = [1]
    else:
        self._version[0] += 1


def _inplace_on_view(op, view, args, params):
    """In-place op on a view whose base is part of the graph: rebase the base's history
    (PyTorch's CopySlices), so gradients of the base see the modification."""
    from .ops._view_inplace import rebase_view_inplace
    return rebase_view_inplace(op, view, args, params)
