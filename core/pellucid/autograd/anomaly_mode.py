"""Anomaly detection: the first op whose output (forward) or gradient (backward) holds NaN or
Inf raises, naming the op and the user's source line that created it.

It is a listener on the dispatch point (the same mechanism the recorder uses), so it costs
nothing when off."""
import math

import numpy as np

from .. import _dispatch
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


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.listener = _AnomalyListener(self.check_nan)
        _active.append(self.listener)
        _dispatch.add_listener(self.listener)
        return self

    def __exit__(self, *exc):
        _dispatch.remove_listener(self.listener)
        _active.remove(self.listener)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with detect_anomaly(self.check_nan):
                return fn(*a, **kw)
        return wrapper


class set_detect_anomaly:
    def __init__(self, mode, check_nan=True):
        self.mode = mode
        self.listener = None
        if mode:
            self.listener = _AnomalyListener(check_nan)
            _active.append(self.listener)
            _dispatch.add_listener(self.listener)
        else:
            for lst in list(_active):
                _dispatch.remove_listener(lst)
                _active.remove(lst)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.listener is not None and self.listener in _active:
            _dispatch.remove_listener(self.listener)
            _active.remove(self.listener)
