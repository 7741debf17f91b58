"""Anomaly detection: the first op whose output (forward) or gradient (backward) holds NaN or
Inf raises, naming the op and the user's source line that created it.

It is a listener on the dispatch point (the same mechanism the recorder uses), so it costs
nothing when off."""
from .. import _dispatch
from . import engine
from .._source import user_frame
from ..debug import tripwire
from ..debug.tripwire import AnomalyError  # noqa: F401  (re-exported: pellucid.autograd.anomaly_mode.AnomalyError)


class _AnomalyListener:
    """Remembers where each op was called (source line and module path) and trips on the first
    NaN/Inf, through the same tripwire the recorder uses."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def before_op(self, op, args, params):
        pass

    def on_op(self, op, args, params, result, node, elapsed):
        src = user_frame()
        module = tripwire.module_path()
        if node is not None:
            node.anomaly_trace = src
            node.anomaly_module = module
        if not self.check_nan:
            return
        outs = result if isinstance(result, tuple) else (result,)
        if tripwire.first_nonfinite(outs) is None:
            return
        step = getattr(engine.running, "node", None)
        if step is not None:
            # an op inside a backward formula (create_graph): blame the backward step
            fwd = step.op.label if step.op is not None else step.name()
            raise tripwire.backward_error(step.name(), fwd, getattr(step, "anomaly_module", ""),
                                          step.anomaly_trace, list(outs), list(args), inner_op=op.label)
        raise tripwire.forward_error(op.label, module, src, list(outs), list(args))

    def on_backward(self, node, grads_in, grads_out, elapsed):
        if not self.check_nan or not grads_out:
            return
        if tripwire.first_nonfinite(grads_out) is None:
            return
        fwd = node.op.label if node.op is not None else node.name()
        raise tripwire.backward_error(node.name(), fwd, getattr(node, "anomaly_module", ""),
                                      node.anomaly_trace, list(grads_out), list(grads_in or ()))


_active = []


def is_anomaly_enabled():
    return bool(_active)


def is_anomaly_check_nan_enabled():
    return bool(_active) and _active[-1].check_nan


def _enable(check_nan):
    listener = _AnomalyListener(check_nan)
    _active.append(listener)
    _dispatch.add_listener(listener)
    return listener


def _disable(listener):
    if listener in _active:
        _active.remove(listener)
        _dispatch.remove_listener(listener)


class detect_anomaly:
    """Context manager and decorator (`@detect_anomaly()` or `@detect_anomaly`) that raises at
    the first NaN/Inf produced in forward or in backward, naming the op and the source line.

    Off, it costs nothing: ops read a single flag that is only set while a listener exists."""

    def __new__(cls, check_nan=True):
        if callable(check_nan):
            return cls()(check_nan)
        return super().__new__(cls)

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.listener = None

    def __enter__(self):
        self.listener = _enable(self.check_nan)
        return self

    def __exit__(self, *exc):
        _disable(self.listener)
        self.listener = None

    def __call__(self, fn):
        import functools
        check_nan = self.check_nan

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with detect_anomaly(check_nan):
                return fn(*a, **kw)
        return wrapper


class set_detect_anomaly:
    """`set_detect_anomaly(True)` turns anomaly detection on at once (`False` turns it off);
    used as a context manager, the previous state comes back on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = list(_active)
        for lst in list(_active):
            _disable(lst)
        if mode:
            _enable(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for lst in list(_active):
            _disable(lst)
        for lst in self.prev:
            _active.append(lst)
            _dispatch.add_listener(lst)
