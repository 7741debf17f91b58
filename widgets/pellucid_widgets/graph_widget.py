"""GraphWidget: the recorded graph of one iteration, drawn by the JupyterLab extension's GraphView
(module clusters collapsed to `depth`, node colours from `color_by`, the cursor's step outlined);
clicking a node sets `selected` and Python fills `inspector`."""
import ipywidgets as widgets
from traitlets import Dict, Enum, Int, List, Unicode, observe

from ._common import MODULE_NAME, MODULE_VERSION, jsonable, recorder_of
from .inspector import inspect

COLOR_BY = ("grad", "norm", "mean", "std", "none")


def restate(graph, cursor):
    """A copy of a graph-schema dict with node and tensor states as of step `cursor` (None: after the
    last step), derived from its own steps. Gives the same states as Recorder.graph(cursor=...), for
    graphs that arrive as documents without their recording."""
    steps = graph.get("steps") or []
    n = len(steps)
    k = n - 1 if cursor is None else cursor
    if n and not 0 <= k < n:
        raise IndexError(f"cursor {cursor} is out of range: the graph has {n} steps")
    computed, grads = set(), set()
    for key, t in graph["tensors"].items():
        if t.get("produced_by") is None:
            computed.add(key)
    for s in steps[: k + 1]:
        if s["phase"] == "forward":
            computed.update(x for x in s["outputs"] if x is not None)
        else:
            grads.update(gk for gk, _ in s["grads_out"] if gk is not None)
    tensors = {key: dict(t, computed=n > 0 and key in computed, grad_arrived=n > 0 and key in grads)
               for key, t in graph["tensors"].items()}

    def status(step):
        if step is None:
            return None
        if not n:
            return "pending"
        return "current" if step == k else ("done" if step <= k else "pending")

    nodes = []
    for node in graph["nodes"]:
        node = dict(node)
        if node["kind"] == "op":
            node["state"] = status(node["step"])
            node["backward_state"] = status(node.get("backward_step")) if n else None
        elif node["kind"] == "output":
            node["state"] = "computed" if n and node["tensor"] in computed else "pending"
        nodes.append(node)
    return dict(graph, nodes=nodes, tensors=tensors, cursor=k if n else None)


class GraphWidget(widgets.DOMWidget):
    """The graph of a recording (or of a graph-schema dict) in the notebook.

    cursor: step index whose state is drawn (None: after the last step); depth: modules deeper than
    this are collapsed (-1 expands all); color_by: "grad", "norm", "mean", "std" or "none".
    Setting `selected` to a node id fills `inspector`; `update()` redraws from the recording.
    """
    _model_name = Unicode("GraphModel").tag(sync=True)
    _view_name = Unicode("GraphView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    graph = Dict().tag(sync=True)
    cursor = Int(None, allow_none=True).tag(sync=True)
    depth = Int(1).tag(sync=True)
    expanded = List(Unicode()).tag(sync=True)
    color_by = Enum(COLOR_BY, default_value="grad").tag(sync=True)
    selected = Unicode("").tag(sync=True)
    inspector = Dict().tag(sync=True)
    height = Int(420).tag(sync=True)

    def __init__(self, recording_or_graph, cursor=None, depth=1, color_by="grad", iteration=None, **kwargs):
        self._recorder = None
        self._document = None
        self._iteration = iteration
        self._doc = None
        self._doc_key = None
        self._ready = False
        self._set_source(recording_or_graph)
        super().__init__(cursor=cursor, depth=depth, color_by=color_by, **kwargs)
        self._ready = True
        self._initial_build()

    def _initial_build(self):
        self.graph = self._build(self.cursor)
        self._refresh_inspector()

    # ---- data --------------------------------------------------------------------------
    def _set_source(self, source):
        if isinstance(source, dict):
            if source.get("schema") != "pellucid.graph":
                raise ValueError("GraphWidget: a dict must be a pellucid graph document (schema 'pellucid.graph')")
            self._recorder, self._document = None, jsonable(source)
        else:
            self._recorder, self._document = recorder_of(source), None

    @property
    def recorder(self):
        """The Recorder drawn (None when built from a graph document)."""
        return self._recorder

    def _build(self, cursor):
        if self._recorder is None:
            return restate(self._document, cursor)
        rec = self._recorder
        with rec._lock:
            if rec.latest is None or not rec.latest.steps:
                return {}
            it = rec._pick(self._iteration)
            # the document only changes when the iteration does; a cursor move just restates it
            # (0.5 ms instead of ~100 ms for a 600-step recording)
            key = (id(rec), id(it), it.number, len(it.steps), len(rec.dropped))
            if self._doc_key != key:
                self._doc = jsonable(rec.graph(it))
                self._doc_key = key
            return restate(self._doc, cursor)

    @observe("cursor")
    def _cursor_changed(self, change):
        if not self._ready:
            return
        self.graph = self._build(change["new"])
        self._refresh_inspector()

    @observe("selected")
    def _selected_changed(self, change):
        if self._ready:
            self._refresh_inspector()

    def _refresh_inspector(self):
        if not self.selected or not self.graph:
            self.inspector = {}
            return
        self.inspector = inspect(self.graph, self.selected, self._recorder)

    def update(self, recording=None, cursor=None, iteration=None):
        """Redraw from `recording` (default: the one shown), e.g. after more training steps.
        Draws the latest iteration after its last step unless `cursor`/`iteration` say otherwise."""
        if recording is not None:
            self._set_source(recording)
        self._iteration = iteration
        with self.hold_sync():
            if self.cursor != cursor:
                self.cursor = cursor          # the observer rebuilds the graph
            else:
                self.graph = self._build(cursor)
                self._refresh_inspector()
        return self

    def save(self, path, format=None):
        """Write the graph as drawn (cursor, depth, colours) to `path`: .svg/.png/.pdf through
        Graphviz, .dot or .json. Returns the path."""
        from pellucid.debug.dot import render
        depth = None if self.depth < 0 else self.depth
        color_by = None if self.color_by == "none" else self.color_by
        kw = {} if (format or str(path).rsplit(".", 1)[-1]).lower() == "json" else {"depth": depth, "color_by": color_by}
        return render(self.graph, path, format=format, **kw)
