"""The graph model of a recording: a documented, versioned JSON schema (see docs/graph-schema.md)
that the notebook widgets, the JupyterLab extension and saved notebooks read."""
import html
import json

from .._source import source_label

SCHEMA = "pellucid.graph"
VERSION = 1

__all__ = ["build_graph", "graph_to_json", "SCHEMA", "VERSION", "mimebundle", "MIME_TYPE"]

MIME_TYPE = "application/vnd.pellucid.graph+json"


def _src(s):
    return {"file": s[0], "line": s[1], "function": s[2], "label": source_label(s[0])} if s else None


def build_graph(recorder, iteration=None, cursor=None, max_depth=None):
    """A JSON-ready dict of ops, source tensors, data edges, module clusters and steps.

    cursor: a step index; node and tensor states ("computed", "grad_arrived", "current") are given as
    of that step (default: after the last step).
    """
    from .stepper import Stepper
    it = recorder._pick(iteration)
    st = Stepper(recorder, it)
    k = len(it.steps) - 1 if cursor is None else cursor
    state = st.state(k) if it.steps else None
    nodes, edges, tensors = [], [], {}
    consumers = {}
    backward_of = {}
    for s in it.steps:
        if s.phase == "backward" and s.forward_step is not None:
            backward_of[s.forward_step] = s.index
    accum_of = {}
    for s in it.steps:
        if s.phase == "accumulate" and s.inputs:
            accum_of[s.inputs[0]] = s.index
    for key, info in it.tensors.items():
        tensors[key] = {
            "key": key, "name": info.name, "kind": info.kind, "shape": list(info.shape), "dtype": info.dtype,
            "device": info.device, "requires_grad": info.requires_grad, "produced_by": info.produced_by,
            "summary": info.summary, "grad": info.grad_summary, "grad_step": info.grad_step,
            "computed": bool(state and key in state.computed),
            "grad_arrived": bool(state and key in state.grads),
        }
    for s in it.steps:
        if s.phase != "forward":
            continue
        for key in s.inputs:
            if key is not None:
                consumers.setdefault(key, []).append(s.index)
    for key, info in it.tensors.items():
        if info.produced_by is None:
            nodes.append({"id": key, "kind": info.kind, "label": info.name or key, "tensor": key,
                          "module": _owner_module(info.name) if info.kind == "param" else "",
                          "step": None, "backward_step": accum_of.get(key), "state": "computed"})
    for s in it.steps:
        if s.phase != "forward":
            continue
        nid = f"op{s.index}"
        bstep = backward_of.get(s.index)
        if state is None:
            status = "pending"
        elif s.index == k:
            status = "current"
        elif s.index in state.done:
            status = "done"
        else:
            status = "pending"
        bstatus = None
        if bstep is not None and state is not None:
            bstatus = "current" if bstep == k else ("done" if bstep in state.done else "pending")
        nodes.append({"id": nid, "kind": "op", "label": s.op, "op": s.op, "module": s.module or "",
                      "source": _src(s.source), "step": s.index, "backward_step": bstep, "state": status,
                      "backward_state": bstatus, "wall": s.wall, "outputs": [o for o in s.outputs if o],
                      "nonfinite": s.nonfinite, "relu_dead": s.relu_dead})
        for key in s.inputs:
            if key is None:
                continue
            info = it.tensors[key]
            src = f"op{info.produced_by}" if info.produced_by is not None else key
            edges.append({"source": src, "target": nid, "tensor": key, "shape": list(info.shape)})
    for s in it.steps:
        if s.phase != "forward":
            continue
        for key in s.outputs:
            if key is not None and key not in consumers:
                info = it.tensors[key]
                nodes.append({"id": "out:" + key, "kind": "output", "label": info.name or ("loss" if info.scalar is not None and info.requires_grad else "output"),
                              "tensor": key, "module": "", "step": None, "backward_step": None,
                              "state": "computed" if state and key in state.computed else "pending"})
                edges.append({"source": f"op{s.index}", "target": "out:" + key, "tensor": key, "shape": list(info.shape)})
    clusters = _clusters(nodes, max_depth)
    steps = [{"index": s.index, "phase": s.phase, "op": s.op, "node": s.node, "module": s.module or "",
              "source": _src(s.source), "forward_step": s.forward_step, "nonfinite": s.nonfinite,
              "grads_out": [[gk, gs] for gk, gs in s.grads_out], "inputs": list(s.inputs), "outputs": list(s.outputs)}
             for s in it.steps]
    return {"schema": SCHEMA, "version": VERSION, "iteration": it.number, "cursor": k if it.steps else None,
            "nodes": nodes, "edges": edges, "tensors": tensors, "clusters": clusters, "steps": steps,
            "loss": it.loss, "dropped": [list(d) for d in recorder.dropped if d[0] == it.number]}


def _owner_module(param_name):
    return param_name.rsplit(".", 1)[0] if param_name and "." in param_name else ""


def _clusters(nodes, max_depth):
    paths = set()
    for n in nodes:
        m = n.get("module") or ""
        parts = m.split(".") if m else []
        for i in range(1, len(parts) + 1):
            paths.add(".".join(parts[:i]))
    out = []
    for p in sorted(paths, key=lambda x: (x.count("."), x)):
        depth = p.count(".") + 1
        parent = p.rsplit(".", 1)[0] if "." in p else ""
        members = [n["id"] for n in nodes if (n.get("module") or "") == p]
        out.append({"id": p, "label": p.rsplit(".", 1)[-1], "path": p, "parent": parent, "depth": depth,
                    "nodes": members, "collapsed": max_depth is not None and depth > max_depth})
    return out


_HTML_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def graph_to_json(graph, html_safe=False, indent=None):
    """Serialise a graph dict. html_safe escapes <, >, & so the text can sit inside HTML/<script>."""
    s = json.dumps(_clean_floats(graph), indent=indent, allow_nan=False, default=_default)
    if html_safe:
        for a, b in _HTML_SAFE.items():
            s = s.replace(a, b)
    return s


def _default(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _clean_floats(x):
    """JSON has no NaN/Inf: replace them with strings so the schema stays valid JSON."""
    if isinstance(x, float):
        if x != x:
            return "nan"
        if x in (float("inf"), float("-inf")):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {k: _clean_floats(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean_floats(v) for v in x]
    return x


def mimebundle(graph):
    """Notebook representation: the graph JSON for pellucid's renderer, an SVG where Graphviz's
    `dot` is installed, and a text summary elsewhere."""
    g = _clean_floats(graph)
    bundle = {MIME_TYPE: g, "text/plain": text_summary(graph)}
    try:
        from .dot import to_svg
        bundle["image/svg+xml"] = to_svg(graph)
    except Exception:  # no graphviz package or binary: the JSON and text still render
        pass
    return bundle


def text_summary(graph):
    ops = [n for n in graph["nodes"] if n["kind"] == "op"]
    return (f"<pellucid graph: iteration {graph['iteration']}, {len(ops)} ops, {len(graph['edges'])} edges, "
            f"{len(graph['steps'])} steps, {len(graph['clusters'])} modules>")


def escape_html(s):
    return html.escape(str(s), quote=True)
