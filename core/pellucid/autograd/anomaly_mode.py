"""Anomaly detection: the first op whose output (forward) or gradient (backward) holds NaN or
Inf raises, naming the op and the user's source line that created it.

It is a listener on the dispatch point (the same mechanism the recorder uses), so it costs
nothing when off."""
import math

import numpy as np

from .. import _dispatch
from . import engine
from .._source import user_frame


class AnomalyError(RuntimeError):
    """Raised by anomaly mode; carries `op`, `phase`, `source` (file, line) and `summaries`."""

    def __init__(self, message, op=None, phase=None, source=None, summaries=None):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.source = source
        self.summaries = summaries or []


def _bad_count(arr):
    if arr is None or getattr(arr, "dtype", None) is None or arr.dtype.kind != "f":
        return 0
    xp = np if type(arr) is np.ndarray else __import__("cupy")
    return int(arr.size - xp.isfinite(arr).sum())


def describe(arr):
    """A one-line summary of an array for error messages."""
    if arr is None:
        return "None"
    if not hasattr(arr, "dtype"):
        return repr(arr)
    a = np.asarray(arr.get() if hasattr(arr, "get") else arr)
    s = f"shape={list(a.shape)} dtype={a.dtype}"
    if a.size and a.dtype.kind in "fiub":
        af = a.astype(np.float64)
        fin = af[np.isfinite(af)]
        nan = int(np.isnan(af).sum())
        inf = int(np.isinf(af).sum())
        if fin.size:
            s += f" min={fin.min():.4g} max={fin.max():.4g} mean={fin.mean():.4g}"
        if nan or inf:
            s += f" nan={nan} inf={inf}"
    return s


class _AnomalyListener:
    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def before_op(self, op, args, params):
        pass

    def on_op(self, op, args, params, result, node, elapsed):
        src = user_frame()
        if node is not None:
            node.anomaly_trace = src
        if not self.check_nan:
            return
        outs = result if isinstance(result, tuple) else (result,)
        for o in outs:
            if isinstance(o, _dispatch.Tensor) and _bad_count(o._data):
                ins = [describe(a._data) if isinstance(a, _dispatch.Tensor) else repr(a) for a in args]
                step = getattr(engine.running, "node", None)
                if step is not None:
                    # an op inside a backward formula (create_graph): blame the backward step
                    trace = step.anomaly_trace
                    where = f"{trace[0]}:{trace[1]}" if trace else "<unknown>"
                    fwd = step.op.name if step.op is not None else step.name()
                    raise AnomalyError(
                        f"Function '{step.name()}' returned nan or inf values (in its '{op.name}' "
                        f"step; backward of '{fwd}', whose forward was called at {where}).\n"
                        f"  value: {describe(o._data)}\n  operands: " + "; ".join(ins),
                        op=fwd, phase="backward", source=trace, summaries=ins)
                where = f"{src[0]}:{src[1]}" if src else "<unknown>"
                raise AnomalyError(
                    f"Function '{op.name}' returned nan or inf values in its output (forward), "
                    f"created at {where}.\n  output: {describe(o._data)}\n  inputs: " + "; ".join(ins),
                    op=op.name, phase="forward", source=src, summaries=ins)

    def on_backward(self, node, grads_in, grads_out, elapsed):
        if not self.check_nan or not grads_out:
            return
        for i, g in enumerate(grads_out):
            arr = g._data if isinstance(g, _dispatch.Tensor) else g
            if arr is not None and _bad_count(arr):
                src = node.anomaly_trace
                where = f"{src[0]}:{src[1]}" if src else "<unknown>"
                fwd = node.op.name if node.op is not None else node.name()
                ins = [describe(x._data if isinstance(x, _dispatch.Tensor) else x) for x in grads_in]
                raise AnomalyError(
                    f"Function '{node.name()}' returned nan or inf values in its {i}th output "
                    f"(backward of '{fwd}', whose forward was called at {where}).\n"
                    f"  gradient: {describe(arr)}\n  incoming gradients: " + "; ".join(ins),
                    op=fwd, phase="backward", source=src, summaries=ins)


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
