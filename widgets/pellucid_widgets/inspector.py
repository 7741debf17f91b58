"""What the inspector panel shows for the node the user clicked: the node, its tensor's metadata,
value and gradient summaries as of the cursor, their histograms, and heatmaps of 1-D/2-D values
when the recording kept a snapshot (record(values="full"))."""
import linecache

import numpy as np

from ._common import jsonable

HEATMAP_SIDE = 64

_NODE_KEYS = ("id", "kind", "label", "op", "module", "source", "step", "backward_step", "state",
              "backward_state", "wall", "nonfinite", "relu_dead")
_TENSOR_KEYS = ("key", "name", "kind", "shape", "dtype", "device", "requires_grad", "produced_by",
                "computed", "grad_arrived", "grad_step")


def heatmap(arr, max_side=HEATMAP_SIDE):
    """A 1-D or 2-D array as {"rows", "cols", "values", "lo", "hi"}, block-averaged down to at
    most max_side x max_side cells (a 1-D array is one row). None for other ranks and non-real
    dtypes. lo/hi span the finite cells; NaN/Inf cells are written as strings."""
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub" or a.ndim not in (1, 2) or a.size == 0:
        return None
    a = a.reshape(1, -1) if a.ndim == 1 else a
    a = a.astype(np.float64, copy=False)
    a = _block_mean(_block_mean(a, 0, max_side), 1, max_side)
    finite = a[np.isfinite(a)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    return jsonable({"rows": int(a.shape[0]), "cols": int(a.shape[1]), "values": a.tolist(),
                     "lo": lo, "hi": hi, "shape": list(np.shape(arr))})


def _block_mean(a, axis, max_side):
    n = a.shape[axis]
    if n <= max_side:
        return a
    starts = (np.arange(max_side) * n) // max_side        # strictly increasing when max_side < n
    counts = np.diff(np.append(starts, n))
    sums = np.add.reduceat(a, starts, axis=axis)
    shape = [1, 1]
    shape[axis] = max_side
    return sums / counts.reshape(shape)


def _iteration(recorder, number):
    if recorder is None:
        return None
    for it in recorder.iterations:
        if it.number == number:
            return it
    return None


def _source_text(source):
    if not source or not source.get("file"):
        return ""
    return linecache.getline(source["file"], int(source["line"])).strip()


def inspect(graph, node_id, recorder=None, max_side=HEATMAP_SIDE):
    """The inspector dict for `node_id` in `graph` (a graph-schema dict). `recorder`, when given,
    supplies snapshots for the heatmaps. An id that names a module cluster gives a summary of the
    module ("mod:<path>", as the view names collapsed modules); an unknown id gives {"node": None}."""
    if not node_id:
        return {}
    nodes = {n["id"]: n for n in graph.get("nodes", ())}
    node = nodes.get(node_id)
    if node is None:
        cluster = next((c for c in graph.get("clusters", ()) if "mod:" + c["id"] == node_id), None)
        if cluster is not None:
            return _inspect_cluster(graph, cluster)
        return {"node": None, "selected": node_id, "note": "no such node in this graph"}
    out = {"node": {k: node[k] for k in _NODE_KEYS if k in node}, "source_text": _source_text(node.get("source"))}
    tensors = graph.get("tensors", {})
    if node["kind"] == "op":
        step = graph["steps"][node["step"]] if node.get("step") is not None else None
        out["inputs"] = [_brief(tensors, k) for k in (step["inputs"] if step else ()) if k is not None]
        out["outputs"] = [_brief(tensors, k) for k in node.get("outputs", ())]
        key = node["outputs"][0] if node.get("outputs") else None
    else:
        key = node.get("tensor")
    info = tensors.get(key) if key is not None else None
    out["tensor"] = {k: info[k] for k in _TENSOR_KEYS if k in info} if info else None
    computed = bool(info and (info.get("computed") or node.get("state") == "computed"))
    arrived = bool(info and info.get("grad_arrived"))
    value = info.get("summary") if info and computed else None
    grad = info.get("grad") if info and arrived else None
    out["summary"] = value
    out["grad"] = grad
    out["histogram"] = value.get("hist") if isinstance(value, dict) else None
    out["grad_histogram"] = grad.get("hist") if isinstance(grad, dict) else None
    out["heatmap"] = None
    out["grad_heatmap"] = None
    it = _iteration(recorder, graph.get("iteration"))
    notes = []
    if info is not None and len(info.get("shape") or ()) in (1, 2):
        if it is not None and computed and key in it.snapshots:
            out["heatmap"] = heatmap(it.snapshots[key], max_side)
        if it is not None and arrived and key in it.grad_snapshots:
            out["grad_heatmap"] = heatmap(it.grad_snapshots[key], max_side)
        if out["heatmap"] is None and computed and (it is None or not it.snapshots):
            notes.append("no value snapshot: record(values='full') keeps them for heatmaps")
    if info is not None and not computed:
        notes.append("not computed yet at this step")
    if node.get("nonfinite"):
        notes.append(f"{node['nonfinite']} NaN/Inf values")
    out["note"] = "; ".join(notes)
    return out


def _brief(tensors, key):
    info = tensors.get(key) or {}
    return {"key": key, "name": info.get("name"), "shape": info.get("shape"), "dtype": info.get("dtype")}


def _inspect_cluster(graph, cluster):
    path = cluster["path"]
    inner = [n for n in graph["nodes"] if (n.get("module") or "") == path
             or (n.get("module") or "").startswith(path + ".")]
    params = []
    for n in inner:
        if n["kind"] == "param":
            info = graph["tensors"].get(n["tensor"], {})
            g = info.get("grad") if info.get("grad_arrived") else None
            params.append({"key": n["tensor"], "shape": info.get("shape"),
                           "grad_norm": g.get("norm") if isinstance(g, dict) else None})
    ops = sum(1 for n in inner if n["kind"] == "op")
    return {"node": None, "cluster": {k: cluster[k] for k in ("id", "path", "label", "depth")},
            "members": [{"id": n["id"], "label": n["label"], "kind": n["kind"]} for n in inner],
            "ops": ops, "params": params, "note": f"{ops} ops, {len(params)} parameters"}
