"""Custom differentiable functions: subclass `Function`, write `forward` and `backward` on
tensors, call `.apply`. Each application passes through the dispatch point like any op."""
import threading

from .. import _dispatch
from .._dispatch import Op, dispatch
from .._grad_mode import no_grad, enable_grad

_pending = threading.local()


class FunctionCtx:
    """The `ctx` API; mixed into the graph node that a Function application creates."""

    def save_for_backward(self, *tensors):
        T = _dispatch.Tensor
        for t in tensors:
            if t is not None and not isinstance(t, T):
                raise TypeError(f"save_for_backward can only save tensors or None, got {type(t).__name__}")
        self._fn_saved = tensors
        self._fn_versions = [t._version[0] if t is not None and t._version is not None else 0 for t in tensors]

    @property
    def saved_tensors(self):
        if getattr(self, "freed", False):
            from .engine import _freed_error
            raise _freed_error(self)
        saved = getattr(self, "_fn_saved", ())
        for t, v in zip(saved, getattr(self, "_fn_versions", ())):
            if t is not None and t._version is not None and t._version[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor saved by {type(self).__name__} is at version "
                    f"{t._version[0]}; expected version {v} instead.")
        return saved

    def mark_non_differentiable(self, *tensors):
        self._fn_nondiff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._fn_dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._fn_materialize = bool(value)


class _Ctx(FunctionCtx):
    """ctx used when no graph is built (forward still may call save_for_backward)."""
    needs_input_grad = ()


class FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        if name in ("Function", "InplaceFunction"):
            return
        fn_cls = cls

        class _FnOp(Op):
            multi_output = True

            @staticmethod
            def forward(ctx, *arrays):
                args = _pending.args
                c = ctx if ctx is not _dispatch.NO_CTX else _Ctx()
                if c is not ctx:
                    c.needs_input_grad = tuple(False for _ in args)
                else:
                    T = _dispatch.Tensor
                    c.needs_input_grad = tuple(isinstance(a, T) and a._requires_grad for a in args)
                with no_grad():
                    out = fn_cls.forward(c, *args)
                single = not isinstance(out, tuple)
                outs = (out,) if single else out
                _pending.single = single
                nondiff = getattr(c, "_fn_nondiff", ())
                _pending.nondiff = [id(o) in nondiff for o in outs]
                return tuple(o._data for o in outs)

            @staticmethod
            def backward(ctx, F, *grads):
                T = _dispatch.Tensor
                create = F.__class__.__name__ == "TensorNS"
                if getattr(ctx, "_fn_materialize", True) is False:
                    pass
                gt = [g if create else T._make(g) for g in grads]
                if create:
                    with enable_grad():
                        res = fn_cls.backward(ctx, *gt)
                else:
                    with no_grad():
                        res = fn_cls.backward(ctx, *gt)
                if not isinstance(res, tuple):
                    res = (res,)
                n = len(ctx.edges)
                if len(res) < n:
                    raise RuntimeError(
                        f"function {fn_cls.__name__}Backward returned an incorrect number of gradients "
                        f"(expected {n}, got {len(res)})")
                return tuple(None if r is None else (r if create else r._data) for r in res[:n])

        _FnOp.name = f"{name}"
        _FnOp.__name__ = f"{name}Op"
        _FnOp.node_cls = type(f"{name}Backward", (_dispatch.Node, FunctionCtx), {"op": _FnOp})
        cls._op = _FnOp


class Function(metaclass=FunctionMeta):
    """Base class for custom autograd functions (PyTorch's `torch.autograd.Function`)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply() takes positional arguments only")
        _pending.args = args
        try:
            out = dispatch(cls._op, args)
        finally:
            nondiff = getattr(_pending, "nondiff", ())
            single = getattr(_pending, "single", True)
            _pending.args = None
        for t, nd in zip(out, nondiff):
            if nd:
                t._requires_grad = False
                t.grad_fn = None
        return out[0] if single else out


def once_differentiable(fn):
    """Marks a backward that cannot itself be differentiated (it runs under no_grad)."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper


InplaceFunction = Function
