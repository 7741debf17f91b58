"""`pellucid.compiler` (and `pellucid.compile`): the entry points of PyTorch's `torch.compile`, so
that lessons and scripts written for it run unchanged.

pellucid has no graph compiler to hand the model to: every op already runs one NumPy/CuPy kernel
through the dispatch point, and a traced program (pellucid.jit) replays those same kernels, so
there is nothing to fuse or specialise. `compile` therefore runs the model eagerly, which is what
PyTorch does with `backend="eager"`, and keeps what a user can observe of torch.compile: a module
comes back wrapped in an `OptimizedModule` (its state_dict keys start with `_orig_mod.`), a
function comes back wrapped, and the arguments are checked with PyTorch's messages.
"""
import functools

from .nn.modules.module import Module

__all__ = ["compile", "is_compiling", "is_dynamo_compiling", "disable", "reset", "OptimizedModule",
           "InvalidBackend"]

BACKENDS = ("cudagraphs", "inductor", "eager", "aot_eager", "aot_eager_decomp_partition")
MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


class InvalidBackend(RuntimeError):
    """`backend` names no known compiler back end."""


class OptimizedModule(Module):
    """What `compile(module)` returns: calls the original module (kept as `_orig_mod`, so its
    hooks run and its state_dict keys gain the `_orig_mod.` prefix, as in PyTorch) and forwards
    attribute reads to it."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules") or {}
            if "_orig_mod" not in modules:
                raise
            return getattr(modules["_orig_mod"], name)


def _check(backend, mode, options):
    if backend is not None and not callable(backend) and backend not in BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see `torch._dynamo.list_backends()` for "
                             f"available backends (pellucid accepts {', '.join(BACKENDS)}, or a callable)")
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the "
                           "same time.")
    if mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None,
            name=None, disable=False, **kwargs):
    """Return `model` ready to run as `torch.compile(model)` would return it; in pellucid it runs
    eagerly (see the module notes). Without `model`, a decorator."""
    _check(backend, mode, options)
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                                  options=options, name=name, disable=disable, **kwargs)
    if not callable(model):
        raise RuntimeError(f"compile(): expected a Module or a callable, got {type(model).__name__}")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kw):
        return model(*args, **kw)
    return compiled


def is_compiling():
    """False: pellucid code always runs eagerly."""
    return False


is_dynamo_compiling = is_compiling


def disable(fn=None, recursive=True, *, reason=None):
    """Mark `fn` as not to be compiled (it runs eagerly here anyway); usable as a decorator."""
    if fn is None:
        return lambda f: f
    return fn


def reset():
    """Forget compiled code and caches: pellucid keeps none, so there is nothing to clear."""
