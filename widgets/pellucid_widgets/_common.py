"""Helpers shared by the widgets: protocol constants, JSON cleaning, kernel detection, escaping and
downsampling."""
import html
import json
import threading

import numpy as np

# ipywidgets model/view module of the JupyterLab extension (docs/widgets-protocol.md)
MODULE_NAME = "pellucid-jupyterlab"
MODULE_VERSION = "^0.1.0"


def escape(s):
    """User text made safe for HTML (module, tensor, parameter and series names, titles)."""
    return html.escape(str(s), quote=True)


def jsonable(obj):
    """A copy of `obj` that any JSON encoder accepts: NaN/Inf as the strings "nan"/"inf"/"-inf"
    (as in the graph schema), NumPy scalars as Python numbers, tuples as lists."""
    from pellucid.debug.graph import graph_to_json
    return json.loads(graph_to_json(obj))


def ipython_shell():
    """The running IPython shell, or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def in_kernel():
    """True inside a Jupyter kernel (where widgets can be displayed), False in scripts and in a
    terminal IPython."""
    ip = ipython_shell()
    return ip is not None and getattr(ip, "kernel", None) is not None


def on_cell_thread():
    """True when called from the thread that executes notebook cells: a widget event cannot reach
    the kernel while that thread is busy, so nothing there may wait for one."""
    return in_kernel() and threading.current_thread() is threading.main_thread()


def recorder_of(obj):
    """The pellucid.debug Recorder behind a Recorder, LiveSession or debug Stepper."""
    from pellucid.debug import Recorder, LiveSession, Stepper
    if isinstance(obj, Recorder):
        return obj
    if isinstance(obj, LiveSession):
        return obj.recorder
    if isinstance(obj, Stepper):
        return obj.recorder
    raise TypeError(f"expected a pellucid.debug Recorder, LiveSession or Stepper, got {type(obj).__name__}")


def thin_pairs(pairs, max_points):
    """At most `max_points` of a time series of (x, y) pairs for display: the newest half kept
    exactly, older points thinned evenly (first and last kept)."""
    pairs = list(pairs)
    n = len(pairs)
    if n <= max_points:
        return [list(p) for p in pairs]
    keep = max_points // 2
    old = n - keep
    idx = np.linspace(0, old - 1, max_points - keep).round().astype(np.intp)
    out = [list(pairs[i]) for i in np.unique(idx)]
    out += [list(p) for p in pairs[old:]]
    return out
