"""DOT output of a recorded graph through the `graphviz` package: module clusters (collapsible
to a depth), shapes on edges, nodes coloured by value or gradient statistics, the current step
highlighted; SVG/PNG/PDF rendering with Graphviz's `dot`.

Every user-controlled string (module, tensor and parameter names) goes through
`graphviz.escape`, which also marks it as not-HTML, so a name like `<img src=x onerror=...>`
stays text in the DOT source and comes out XML-escaped in SVG."""
import math
import os
import tempfile

__all__ = ["to_dot", "to_svg", "render"]


def _gv():
    try:
        import graphviz
    except ImportError:
        raise ImportError("DOT/SVG output needs the graphviz package: pip install 'pellucid[notebook]' "
                          "(or pip install graphviz), and Graphviz's `dot` binary for rendering") from None
    return graphviz


def _esc(s):
    return _gv().escape(str(s))


def _fmt_shape(shape):
    return "x".join(str(d) for d in shape) if shape else "scalar"


_PALETTE = ["#3b4cc0", "#6788ee", "#9abbff", "#c9d7f0", "#edd1c2", "#f7a889", "#e26952", "#b40426"]


def _color(value, lo, hi):
    if value is None or lo is None or hi is None or hi <= lo:
        return "#dddddd"
    t = (value - lo) / (hi - lo)
    return _PALETTE[max(0, min(len(_PALETTE) - 1, int(t * (len(_PALETTE) - 1) + 0.5)))]


def _metric(graph, node, color_by):
    key = None
    if node["kind"] == "op":
        outs = node.get("outputs") or []
        key = outs[0] if outs else None
    else:
        key = node.get("tensor")
    info = graph["tensors"].get(key) if key else None
    if not info:
        return None
    s = info["grad"] if color_by == "grad" else info["summary"]
    if not s:
        return None
    v = s.get("norm") if color_by in ("grad", "norm") else s.get(color_by)
    if v is None or isinstance(v, str):
        return None
    return math.log10(v + 1e-12) if color_by in ("grad", "norm") else v


def to_dot(graph, depth=None, color_by="grad", rankdir="TB", show_values=True):
    """A graphviz.Digraph for `graph` (from Recorder.graph()). depth: collapse modules deeper than
    this into one node each. color_by: "grad" (log gradient norm), "norm", "mean", "std" or None."""
    gv = _gv()
    dot = gv.Digraph("pellucid", graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "10"},
                     node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled,rounded",
                                "shape": "box"},
                     edge_attr={"fontname": "Helvetica", "fontsize": "8", "color": "#777777"})
    nodes = graph["nodes"]
    collapse = {}
    if depth is not None:
        for n in nodes:
            parts = (n.get("module") or "").split(".") if n.get("module") else []
            if len(parts) > depth:
                collapse[n["id"]] = ".".join(parts[:depth])
    metrics = [_metric(graph, n, color_by) for n in nodes] if color_by else [None] * len(nodes)
    vals = [m for m in metrics if m is not None]
    lo, hi = (min(vals), max(vals)) if vals else (None, None)
    cursor = graph.get("cursor")
    steps = graph.get("steps") or []
    cur = steps[cursor] if cursor is not None and 0 <= cursor < len(steps) else None
    cur_node = None
    if cur is not None:
        cur_node = f"op{cur['index']}" if cur["phase"] == "forward" else (
            f"op{cur['forward_step']}" if cur.get("forward_step") is not None else None)
    by_module = {}
    collapsed_nodes = {}
    for n, m in zip(nodes, metrics):
        nid = n["id"]
        if nid in collapse:
            cm = collapse[nid]
            collapsed_nodes.setdefault(cm, []).append(n)
            continue
        label = _node_label(graph, n, show_values)
        attrs = {"fillcolor": _color(m, lo, hi) if color_by else "#eeeeee"}
        if n["kind"] != "op":
            attrs.update(shape="ellipse", style="filled")
        if n.get("state") == "pending":
            attrs.update(fontcolor="#999999", color="#bbbbbb")
        if n.get("nonfinite"):
            attrs.update(color="#d62728", penwidth="2")
        if nid == cur_node:
            attrs.update(color="#ff7f0e", penwidth="3")
        by_module.setdefault(n.get("module") or "", []).append((nid, label, attrs))
    for cm, members in collapsed_nodes.items():
        cid = "mod:" + cm
        label = _esc(cm) + "\\n" + _esc(f"{sum(1 for x in members if x['kind'] == 'op')} ops (collapsed)")
        attrs = {"fillcolor": "#f3f3f3", "shape": "box3d"}
        if any(x["id"] == cur_node for x in members):
            attrs.update(color="#ff7f0e", penwidth="3")
        parent = cm.rsplit(".", 1)[0] if "." in cm else ""
        by_module.setdefault(parent, []).append((cid, label, attrs))

    clusters = {c["path"]: c for c in graph["clusters"]}

    # DOT ids are generated, never user text (a ':' in an edge endpoint would read as a port)
    ids = {}

    def gid(nid):
        g = ids.get(nid)
        if g is None:
            g = ids[nid] = f"n{len(ids)}"
        return g

    def emit(container, path):
        for nid, label, attrs in by_module.get(path, []):
            container.node(gid(nid), label=label, **attrs)
        for child in sorted(p for p, c in clusters.items() if c["parent"] == path):
            if child in collapsed_nodes or (depth is not None and clusters[child]["depth"] > depth):
                continue
            with container.subgraph(name=f"cluster_{gid('cluster:' + child)}") as sub:
                sub.attr(label=_esc(child), style="rounded,dashed", color="#999999", fontsize="9")
                emit(sub, child)
    emit(dot, "")
    seen = set()
    for e in graph["edges"]:
        s = collapse.get(e["source"], None)
        t = collapse.get(e["target"], None)
        src = "mod:" + s if s else e["source"]
        dst = "mod:" + t if t else e["target"]
        if src == dst:
            continue
        key = (src, dst, e["tensor"])
        if key in seen:
            continue
        seen.add(key)
        info = graph["tensors"].get(e["tensor"], {})
        attrs = {"label": _esc(_fmt_shape(e["shape"]))}
        if info.get("grad_arrived"):
            attrs["color"] = "#2ca02c"
        dot.edge(gid(src), gid(dst), **attrs)
    return dot


def _node_label(graph, n, show_values):
    lines = []
    if n["kind"] == "op":
        lines.append(n["label"])
        if n.get("module"):
            lines.append(n["module"].rsplit(".", 1)[-1])
        if show_values:
            outs = n.get("outputs") or []
            info = graph["tensors"].get(outs[0]) if outs else None
            if info and info.get("summary") and "mean" in info["summary"]:
                s = info["summary"]
                lines.append(f"mean {s['mean']:.3g} std {s.get('std', 0):.3g}")
            if info and info.get("grad") and "norm" in info["grad"] and not isinstance(info["grad"]["norm"], str):
                lines.append(f"grad norm {info['grad']['norm']:.3g}")
    else:
        info = graph["tensors"].get(n.get("tensor"), {})
        lines.append(n["label"])
        lines.append(_fmt_shape(info.get("shape")))
        if show_values and info.get("grad") and "norm" in info["grad"] and not isinstance(info["grad"]["norm"], str):
            lines.append(f"grad norm {info['grad']['norm']:.3g}")
    return "\\n".join(_esc(x) for x in lines)


def to_svg(graph, **kw):
    """SVG text (needs Graphviz's `dot` binary)."""
    return to_dot(graph, **kw).pipe(format="svg").decode("utf-8")


def render(graph, path, format=None, **kw):
    """Write the graph to `path`: .dot/.gv (DOT text), .json (the graph schema), or any format
    Graphviz renders (.svg, .png, .pdf). Written atomically; returns the path."""
    from .graph import graph_to_json
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt in ("dot", "gv"):
        data = to_dot(graph, **kw).source.encode("utf-8")
    elif fmt == "json":
        data = graph_to_json(graph, indent=1).encode("utf-8")
    else:
        data = to_dot(graph, **kw).pipe(format=fmt)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".pellucid-", suffix="." + fmt)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes it owner-only; give it normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
