"""Custom differentiable functions: subclass `Function`, write `forward` and `backward` on
tensors, call `.apply`. Each application passes through the dispatch point like any op."""
import functools
import inspect
import threading

import numpy as np

from .. import _dispatch
from .. import _dtype as D
from .._dispatch import Op, dispatch
from .._grad_mode import no_grad, state as _gm
from ..ops import _F

_pending = threading.local()


def _T():
    return _dispatch.Tensor


class FunctionCtx:
    """The `ctx` API; mixed into the graph node that a Function application creates."""

    def save_for_backward(self, *tensors):
        T = _T()
        for t in tensors:
            if t is not None and not isinstance(t, T):
                raise TypeError(
                    f"save_for_backward can only save variables, but argument {tensors.index(t)} is "
                    f"of type {type(t).__name__}")
        self._fn_to_save = tensors

    @property
    def saved_tensors(self):
        spec = self.__dict__.get("_fn_spec")
        if spec is None:
            if self.__dict__.get("_fn_to_save") is not None and type(self) is _Ctx:
                return self._fn_to_save
            return ()
        if self.freed:
            from .engine import _freed_error
            raise _freed_error(self)
        return tuple(self._unpack(kind, i) for kind, i in spec)

    # torch spells it both ways
    @property
    def saved_variables(self):
        return self.saved_tensors

    def _unpack(self, kind, i):
        if kind is None:
            return None
        if kind == "s":
            t = self.saved[i]
            v = self.versions[i]
            if t._version is not None and t._version[0] != v:
                raise _saved_version_error(self, t, t._version[0], v)
            return t
        # an output of this very Function: rebuilt on access (storing the output tensor would
        # make a cycle node -> output -> node); under create_graph it is attached to this node
        data, vlist, v, differentiable = self.out_data[i]
        if vlist[0] != v:
            raise _saved_version_error(self, None, vlist[0], v, output_nr=i)
        t = _T()._make(data)
        t._version = vlist
        if differentiable and _gm.grad_enabled:
            t._requires_grad = True
            t.grad_fn = self
            t._output_nr = i
        return t

    def mark_non_differentiable(self, *tensors):
        self._fn_nondiff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._fn_dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._fn_materialize = bool(value)


def _saved_version_error(node, t, now, expected, output_nr=None):
    from .engine import _version_error
    if t is not None:
        desc = f"[{t.dtype} {list(t._data.shape)}]"
    else:
        desc = f"[output {output_nr} of {node.name()}]"
    return _version_error(desc, now, expected, node.name())


class _Ctx(FunctionCtx):
    """ctx used when no graph is built (forward may still call ctx methods)."""
    needs_input_grad = ()
    freed = False


class _Call:
    """State of one `apply` while its forward runs inside dispatch."""
    __slots__ = ("args", "ctx", "outs", "tensor_pos")

    def __init__(self, args):
        self.args = args


def _make_op(fn_cls, name):
    uses_setup_context = _overrides(fn_cls, "setup_context")

    class _FnOp(Op):
        multi_output = True
        uses_saved_inputs = False
        opmath = False          # the user's forward and backward see the dtypes PyTorch gives them

        @staticmethod
        def forward(ctx, *arrays):
            call = _pending.call
            _pending.call = None
            args = call.args
            T = _T()
            if ctx is _dispatch.NO_CTX:
                ctx = _Ctx()
                ctx.needs_input_grad = tuple(False for _ in args)
            else:
                ctx.needs_input_grad = tuple(isinstance(a, T) and a._requires_grad for a in args)
            call.ctx = ctx
            with no_grad():
                if uses_setup_context:
                    out = fn_cls.forward(*args)
                    fn_cls.setup_context(ctx, args, out)
                else:
                    out = fn_cls.forward(ctx, *args)
            outs = out if isinstance(out, tuple) else (out,)
            call.outs = out
            call.tensor_pos = [i for i, o in enumerate(outs) if isinstance(o, T)]
            return tuple(outs[i]._data for i in call.tensor_pos)

        @staticmethod
        def backward(ctx, F, *grads):
            create = F is _F.TENSOR
            T = _T()
            full = [None] * ctx._fn_n_outputs
            for g, i in zip(grads, ctx._fn_tensor_pos):
                full[i] = g if g is None or create else T._make(g)
            res = fn_cls.backward(ctx, *full)
            return _check_grads(fn_cls, ctx, res, create)

    _FnOp.name = name
    _FnOp.__name__ = f"{name}Op"
    _FnOp.__qualname__ = _FnOp.__name__
    _FnOp.node_cls = type(f"{name}Backward", (_dispatch.Node, FunctionCtx), {"op": _FnOp})
    return _FnOp


def _check_grads(fn_cls, ctx, res, create):
    """PyTorch's checks on what a custom backward returned; gradients as the engine wants them."""
    T = _T()
    if not isinstance(res, tuple):
        res = (res,)
    n = len(ctx.edges)
    name = f"{fn_cls.__name__}Backward"
    if len(res) < n:
        raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(res)})")
    for i in range(n, len(res)):
        if res[i] is not None:
            raise RuntimeError(
                f"function {name} returned an incorrect number of gradients (expected {n}, got "
                f"{len(res)}): the gradient at position {i + 1} is not None")
    out = []
    for i in range(n):
        r = res[i]
        meta = ctx.in_meta[i]
        if r is None:
            out.append(None)
            continue
        if meta is None:
            raise RuntimeError(
                f"function {name} returned a gradient different than None at position {i + 1}, but "
                "the corresponding forward input was not a Variable")
        if not isinstance(r, T):
            raise RuntimeError(f"function {name}: expected Tensor or None as gradient {i}, got "
                               f"{type(r).__name__}")
        shape = meta[0]
        if r._data.shape != shape:
            try:
                ok = np.broadcast_shapes(shape, r._data.shape) == r._data.shape
            except ValueError:
                ok = False
            if not ok:
                raise RuntimeError(
                    f"Function {name} returned an invalid gradient at index {i} - got "
                    f"{list(r._data.shape)} but expected shape compatible with {list(shape)}")
        out.append(r if create else r._data)
    return tuple(out)


def _overrides(cls, attr):
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass is not Function and klass is not FunctionCtx
    return False


class FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        if ns.get("_is_base", False):
            return
        cls._op = _make_op(cls, name)
        cls._signature = None


class Function(metaclass=FunctionMeta):
    """Base class for custom autograd functions (PyTorch's `torch.autograd.Function`).

    Either `forward(ctx, *args)`, or `forward(*args)` plus `setup_context(ctx, inputs, output)`;
    `backward(ctx, *grad_outputs)` returns one gradient (or None) per input of forward."""
    _is_base = True

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use new-"
            "style autograd function with static forward method, and call it with "
            f"{type(self).__name__}.apply(...)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            args = cls._bind(args, kwargs)
        call = _Call(args)
        _pending.call = call
        try:
            res = dispatch(cls._op, args)
        finally:
            _pending.call = None
        return _finish(call, res)

    @classmethod
    def _bind(cls, args, kwargs):
        sig = cls._signature
        if sig is None:
            sig = cls._signature = inspect.signature(cls.forward)
        if _overrides(cls, "setup_context"):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            return tuple(bound.args)
        bound = sig.bind(None, *args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.args[1:])


def _finish(call, res):
    """Outputs as forward returned them: non-differentiable and dirty outputs marked, saved
    tensors recorded against this application's node."""
    ctx = call.ctx
    outs = call.outs
    single = not isinstance(outs, tuple)
    outs = (outs,) if single else outs
    building = type(ctx) is not _Ctx
    nondiff = ctx.__dict__.get("_fn_nondiff", ())
    dirty = ctx.__dict__.get("_fn_dirty", ())
    final = list(outs)
    produced = {}
    T = _T()
    for k, (i, t) in enumerate(zip(call.tensor_pos, res)):
        o = outs[i]
        if id(o) in dirty:
            t = _adopt_dirty(o, t, building, ctx, k)
        else:
            _mark_view(t, call.args, T)
        if id(o) in nondiff:
            t._requires_grad = False
            t.grad_fn = None
        produced[id(o)] = (k, t)
        final[i] = t
    if building:
        ctx._fn_n_outputs = len(outs)
        ctx._fn_tensor_pos = call.tensor_pos
        to_save = ctx.__dict__.pop("_fn_to_save", None)
        if to_save:
            _record_saved(ctx, to_save, produced)
    return final[0] if single else tuple(final)


def _mark_view(t, args, T):
    """An output that aliases an input shares its version counter (and names it as base), so
    in-place changes through either are seen, as for PyTorch's view outputs."""
    for a in args:
        if isinstance(a, T) and _dispatch._shares(t._data, a._data):
            if a._version is None:
                a._version = [0]
            t._version = a._version
            t._base = a._base if a._base is not None else a
            return


def _adopt_dirty(original, wrapped, building, ctx, k):
    """An input modified in place and returned (mark_dirty): the caller keeps the same tensor,
    which now comes out of this Function's node."""
    if building and original._requires_grad and original.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
    if building and wrapped.grad_fn is not None:
        original._requires_grad = True
        original.grad_fn = wrapped.grad_fn
        original._output_nr = k
    return original


def _record_saved(ctx, to_save, produced):
    spec = []
    saved = []
    versions = []
    out_data = {}
    for t in to_save:
        if t is None:
            spec.append((None, 0))
            continue
        hit = produced.get(id(t))
        if hit is not None:
            k, out = hit
            if out._version is None:
                out._version = [0]
            out_data[k] = (out._data, out._version, out._version[0], out.grad_fn is ctx)
            spec.append(("o", k))
            continue
        spec.append(("s", len(saved)))
        saved.append(t)
        versions.append(t._version[0] if t._version is not None else 0)
    ctx._fn_spec = spec
    ctx.saved = saved
    ctx.versions = versions
    ctx.out_data = out_data or None


class _DelayedError(Function):
    """Stands after a once_differentiable backward: differentiating through it raises."""

    @staticmethod
    def forward(ctx, message, *tensors):
        ctx.message = message
        outs = tuple(t.detach() for t in tensors)
        return outs[0] if len(outs) == 1 else outs

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(ctx.message)


def once_differentiable(fn):
    """Marks a backward that cannot itself be differentiated: it runs under no_grad, and
    differentiating its result (create_graph with grads that require grad) raises."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not _gm.grad_enabled:
            return outputs
        T = _T()
        if not any(isinstance(a, T) and a._requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        fake = []
        for o in outs:
            if isinstance(o, T):
                o = o.detach()
                o._requires_grad = o._data.dtype.kind in D.FLOAT_KINDS
            fake.append(o)
        tensors = [o for o in fake if isinstance(o, T)]
        if not tensors:
            return outputs
        wrapped = _DelayedError.apply(
            "trying to differentiate twice a function that was marked with @once_differentiable",
            *tensors)
        wrapped = (wrapped,) if len(tensors) == 1 else wrapped
        it = iter(wrapped)
        res = tuple(next(it) if isinstance(o, T) else o for o in fake)
        return res[0] if single else res
    return wrapper


class InplaceFunction(Function):
    _is_base = True

    def __init__(self, inplace=False):
        self.inplace = inplace
