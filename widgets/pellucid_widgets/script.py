"""`show()`: the right view in a notebook, files in a script."""
import os
import shutil

from ._common import in_kernel, recorder_of

DEFAULT_PATH = "pellucid-graph.svg"


def _graphviz_formats():
    """Formats render() can write here: SVG needs the graphviz package and its `dot` binary, DOT
    only the package, JSON nothing."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return ("json",)
    return ("svg", "dot", "json") if shutil.which("dot") else ("dot", "json")


def show(obj, path=None, cursor=None, depth=1, color_by="grad", **kwargs):
    """Show a recording (Recorder), a LiveSession, a pellucid.debug Stepper, a graph document, a
    LivePlot or a TrainingDashboard.

    In a notebook (unless `path` is given) this displays the widget: a GraphWidget for a recording
    or graph, a Stepper for a LiveSession or debug Stepper; and returns it. In a script it writes
    the graph to `path` (default pellucid-graph.svg) through pellucid.debug.render: .svg / .png /
    .pdf with Graphviz, .dot, or .json; where Graphviz is missing it falls back to DOT, then JSON,
    and says so. Returns the path written. A LivePlot or dashboard is saved as HTML."""
    from pellucid.debug import LiveSession, Stepper as DebugStepper
    from .liveplot import LivePlot, TrainingDashboard
    if isinstance(obj, (LivePlot, TrainingDashboard)):
        if in_kernel() and path is None:
            obj.show()
            return obj
        return obj.save(path)
    if in_kernel() and path is None:
        from IPython.display import display
        if isinstance(obj, (LiveSession, DebugStepper)):
            from .stepper import Stepper
            w = Stepper(obj, depth=depth, color_by=color_by, **kwargs)
        else:
            from .graph_widget import GraphWidget
            w = GraphWidget(obj, cursor=cursor, depth=depth, color_by=color_by, **kwargs)
        display(w)
        return w
    if isinstance(obj, dict):
        graph = obj
    else:
        rec = recorder_of(obj)
        iteration = obj.iteration if isinstance(obj, DebugStepper) else None
        if cursor is None and isinstance(obj, DebugStepper):
            cursor = obj.cursor
        graph = rec.graph(iteration, cursor)
    return write_graph(graph, path or DEFAULT_PATH, depth=depth, color_by=color_by)


def write_graph(graph, path, depth=1, color_by="grad"):
    """Write `graph` with pellucid.debug.render, falling back to a format this machine can write."""
    from pellucid.debug import render
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    fmt = ext.lstrip(".").lower() or "svg"
    available = _graphviz_formats()
    if fmt not in ("dot", "gv", "json") and "svg" not in available:
        fallback = available[0]
        print(f"pellucid: Graphviz's `dot` {'binary' if fallback == 'dot' else 'package'} is missing, "
              f"writing {fallback.upper()} instead of {fmt.upper()}")
        fmt, path = fallback, f"{root}.{fallback}"
    elif fmt in ("dot", "gv") and "dot" not in available:
        print("pellucid: the graphviz package is missing, writing JSON instead of DOT")
        fmt, path = "json", f"{root}.json"
    kw = {} if fmt == "json" else {"depth": None if depth is None or depth < 0 else depth,
                                   "color_by": None if color_by == "none" else color_by}
    return render(graph, path, format=fmt, **kw)
