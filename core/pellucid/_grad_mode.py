"""Grad mode: thread-local like PyTorch's, so a worker thread has its own."""
import functools
import inspect
import sys
import threading


class _State(threading.local):
    grad_enabled = True
    inference = False


state = _State()


def is_grad_enabled():
    return state.grad_enabled


def is_inference_mode_enabled():
    return state.inference


def _wrap_generator(ctx_factory, gen_fn):
    """Run every step of a generator (not just its creation) under a fresh context."""
    @functools.wraps(gen_fn)
    def generator_context(*args, **kwargs):
        gen = gen_fn(*args, **kwargs)
        try:
            with ctx_factory():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with ctx_factory():
                        gen.close()
                    raise
                except BaseException:
                    with ctx_factory():
                        response = gen.throw(*sys.exc_info())
                else:
                    with ctx_factory():
                        response = gen.send(request)
        except StopIteration as e:
            return e.value
    return generator_context


class _DecoratorContextManager:
    """Usable as `with ctx():` and as a decorator `@ctx()`; each call of the decorated
    function enters a fresh copy (`clone`), so decorated functions are re-entrant."""

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(self.clone, fn)

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with self.clone():
                return fn(*a, **kw)
        return wrapper

    def clone(self):
        return self.__class__()


class _NoParamDecoratorContextManager(_DecoratorContextManager):
    """Also usable bare: `@no_grad` as well as `@no_grad()`."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecoratorContextManager):
    """Ops inside build no graph: outputs have requires_grad=False and no grad_fn."""

    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = False

    def __exit__(self, *exc):
        state.grad_enabled = self.prev


class enable_grad(_NoParamDecoratorContextManager):
    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = True

    def __exit__(self, *exc):
        state.grad_enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """`set_grad_enabled(False)` takes effect at once (function form); used with `with` or as
    a decorator, the previous mode comes back afterwards."""

    def __init__(self, mode):
        self.prev = state.grad_enabled
        self.mode = bool(mode)
        state.grad_enabled = self.mode

    def __call__(self, fn):
        # as a decorator, the constructor must not change the mode of the defining scope
        state.grad_enabled = self.prev
        return super().__call__(fn)

    def __enter__(self):
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state.grad_enabled = self.prev

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like no_grad; `inference_mode(False)` switches inference mode off and grad mode on."""

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)

    def __init__(self, mode=True):
        if isinstance(mode, bool):
            self.mode = mode

    def __enter__(self):
        self.prev = (state.grad_enabled, state.inference)
        state.grad_enabled = not self.mode
        state.inference = self.mode

    def __exit__(self, *exc):
        state.grad_enabled, state.inference = self.prev

    def clone(self):
        return self.__class__(self.mode)
