"""The backward engine: walks the graph iteratively (no recursion, so a 100,000-op chain
works), in reverse creation order, summing gradients per node before running it."""
import heapq
import sys
import threading
import time

import numpy as _np

from .. import _dispatch
from .._dispatch import AccumulateGrad, _NodeHook
from .._grad_mode import state as _gm, enable_grad
from ..ops import _F

_getrefcount = sys.getrefcount
running = threading.local()     # .node: the step whose backward is running (set when listened)
_ndarray = _np.ndarray
_BF16 = _dispatch._BF16
_F32 = _np.dtype(_np.float32)
_NAMESPACES = {}                # array type -> its ArrayNS
_SCALAR_TYPES = frozenset(_np.sctypeDict.values()) - {_np.ndarray}


def _sum(a, b):
    r = a + b
    return _np.asarray(r) if type(r) in _SCALAR_TYPES else r


def _tensor_cls():
    return _dispatch.Tensor


def _describe_saved(node, i, t):
    """`[pellucid.float32 [3]], which is output 0 of MulBackward0,`: the saved tensor and the
    step that produced it when it was saved (its grad_fn may have changed since)."""
    desc = f"[{t.dtype} {list(t._data.shape)}]"
    si = node.op.save_inputs if node.op is not None else None
    arg = i if si is None else (si[i] if si and i < len(si) else None)
    edges = getattr(node, "edges", ())
    edge = edges[arg] if arg is not None and arg < len(edges) else None
    if edge is not None and type(edge[0]) is not AccumulateGrad:
        desc += f", which is output {edge[1]} of {edge[0].name()},"
    return desc


def _version_error(desc, now, expected, user):
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {desc} is at version {now}; expected version {expected} instead. It was saved "
        f"for the backward of {user}. Hint: replace the in-place op (like `x += 1` or `x.add_()`) "
        "with its out-of-place form, or enable anomaly detection "
        "(pellucid.autograd.set_detect_anomaly(True)) to find the operation that created it.")


def _check_versions(node):
    saved = node.saved
    if saved is not None:
        T = _dispatch.Tensor
        for i, t in enumerate(saved):
            if isinstance(t, T) and t._version is not None and t._version[0] != node.versions[i]:
                raise _version_error(_describe_saved(node, i, t), t._version[0], node.versions[i],
                                     node.name())
    ov = node.out_version
    if ov is not None and ov[0][0] != ov[1]:
        shape, dt = node.out_meta[0]
        raise _version_error(f"[{_dispatch._FROM_NP[dt]} {list(shape)}], which is output 0 of "
                             f"{node.name()},", ov[0][0], ov[1], node.name())


def _freed_error(node):
    return RuntimeError(
        f"Trying to backward through the graph a second time (or directly access saved tensors "
        f"after they have already been freed) at {node.name()}. Saved intermediate values of the "
        "graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True "
        "if you need to backward through the graph a second time or if you need to access saved "
        "tensors after calling backward.")


def _run_tensor_hooks(hooks, g, create):
    T = _tensor_cls()
    for fn in list(hooks):
        gt = g if create else T._make(g)
        r = fn(gt)
        if r is not None:
            if not isinstance(r, T):
                raise TypeError(f"hook '{getattr(fn, '__name__', fn)}' returned {type(r).__name__}; "
                                "a tensor hook must return a Tensor or None")
            if r._data.shape != gt._data.shape:
                raise RuntimeError(
                    f"hook '{getattr(fn, '__name__', fn)}' has changed the size of value: expected "
                    f"{list(gt._data.shape)}, got {list(r._data.shape)}")
            g = r if create else r._data
    return g


def _fill_missing(node, grads, create):
    """Zeros for outputs of a multi-output node that received no gradient (PyTorch passes
    materialised zeros unless a Function opted out with set_materialize_grads(False))."""
    if getattr(node, "_fn_materialize", True) is False:
        return grads
    ref = next(g for g in grads if g is not None)
    return [_F.zeros_like_meta(ref, shape, dt, create) if g is None else g
            for g, (shape, dt) in zip(grads, node.out_meta)]


def _apply_node(node, grads, retain, create):
    """Run one node's backward. Returns one gradient per edge (None where none flows)."""
    if node.freed:
        raise _freed_error(node)
    op = node.op
    if node.n_outputs > 1 and any(g is None for g in grads):
        grads = _fill_missing(node, grads, create)
    saved = node.saved
    if saved is not None or node.out_version is not None:
        _check_versions(node)
    fill_inputs = saved is not None and op.uses_saved_inputs
    if create:
        T = _tensor_cls()
        F = _F.TENSOR
        if fill_inputs:
            node.inputs = saved
        grads = [g if g is None or isinstance(g, T) else T._make(g) for g in grads]
        with enable_grad():
            res = op.backward(node, F, *grads)
    else:
        g0 = grads[0]
        if g0 is None:
            g0 = next(g for g in grads if g is not None)
        F = _NAMESPACES.get(type(g0))
        if F is None:
            F = _NAMESPACES[type(g0)] = _F.array_ns(g0)
        if fill_inputs:
            T = _tensor_cls()
            node.inputs = [t._data if isinstance(t, T) else t for t in saved]
        if node.lowp and op.opmath:
            res = _backward_bf16(node, F, grads)
        else:
            res = op.backward(node, F, *grads)
    if fill_inputs:
        node.inputs = None
    if type(res) is not tuple and type(res) is not list:
        res = (res,)
    out = []
    for g, e, meta in zip(res, node.edges, node.in_meta):
        if g is None or e is None:
            out.append(None)
            continue
        if type(g) is not _ndarray or g.shape != meta[0] or g.dtype != meta[1]:
            g = F.fit(g, meta[0], meta[1])
            if type(g) in _SCALAR_TYPES:
                g = _np.asarray(g)     # NumPy turns 0-d results into scalars; keep arrays
        out.append(g)
    if not retain and (saved is not None or node.out_data is not None):
        node.saved = None
        node.out_data = None
        node.freed = True
    return out


def _f32(a):
    return a.astype(_F32) if getattr(a, "dtype", None) is _BF16 else a


def _backward_bf16(node, F, grads):
    """A backward step with bfloat16 inputs or outputs, computed in float32 as the forward was
    (see _dispatch's notes); the gradients are rounded to the inputs' dtypes by the caller."""
    if node.inputs is not None:
        node.inputs = [_f32(a) for a in node.inputs]
    out = node.out_data
    if out is not None:
        node.out_data = tuple(_f32(o) for o in out) if type(out) is tuple else _f32(out)
    try:
        return node.op.backward(node, F, *[_f32(g) for g in grads])
    finally:
        node.out_data = out


def _accumulate(node, grads, create):
    """Sum the gradient in `grads[0]` into the leaf's `.grad`."""
    leaf = node.variable
    if leaf is None:
        return
    g = grads[0]
    grads[0] = None          # from here on `g` holds the engine's only reference
    T = _tensor_cls()
    hooks = leaf._hooks
    if hooks:
        g = _run_tensor_hooks(hooks, g, create)
    if create:
        gt = g if isinstance(g, T) else T._make(g)
        # a differentiable copy: the same gradient tensor may reach other leaves or the user
        leaf.grad = gt.clone() if leaf.grad is None else leaf.grad + gt
    else:
        if isinstance(g, T):
            g = g._data
        cur = leaf.grad
        if cur is None:
            leaf.grad = T._make(_owned(g, leaf._data.shape))
        elif cur.grad_fn is not None or cur._requires_grad:
            leaf.grad = T._make(_sum(cur._data, g))
        else:
            cd = cur._data
            if cd.shape == g.shape and cd.dtype == g.dtype and getattr(cd.flags, "writeable", True):
                cd += g
                if cur._version is not None:
                    cur._version[0] += 1
            else:
                leaf.grad = T._make(_sum(cd, g))
    post = leaf._post_accumulate_hooks
    if post:
        for fn in list(post):
            fn(leaf)


def _owned(g, shape):
    """`g` itself when nothing else can see it (the common case: a fresh array from the last
    backward step), else a private copy, so that users may modify `.grad` in place.

    The refcount test is exact: `_accumulate` (which took the engine's only reference), this
    function and `getrefcount`'s argument make three; any further reference (another leaf's
    gradient, a buffer, a hook that kept the tensor, a view's `.base`) means it is shared."""
    if (_getrefcount(g) > 3 or g.base is not None or not g.flags.c_contiguous
            or not getattr(g.flags, "writeable", True)):
        g = g.copy()
    if g.shape != shape:
        g = g.reshape(shape) if g.size == _numel(shape) else _F.array_ns(g).broadcast_to(g, shape).copy()
    return g


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _useful_nodes(roots, targets):
    """Nodes from which some target can be reached (the only ones autograd.grad and
    backward(inputs=...) need to run). Iterative post-order walk."""
    useful = {}
    stack = [(r, False) for r in roots]
    while stack:
        n, done = stack.pop()
        if done:
            u = n in targets
            if not u:
                for e in n.edges:
                    if e is not None and useful.get(e[0]):
                        u = True
                        break
            useful[n] = u
            continue
        if n in useful:
            continue
        useful[n] = False
        stack.append((n, True))
        for e in n.edges:
            if e is not None and e[0] not in useful:
                stack.append((e[0], False))
    return useful


def execute(roots, retain, create, capture=None, targets=None, accumulate=True):
    """Run the backward pass.

    roots: [(node, output_nr, grad)].
    capture: {(node, output_nr): [slot]}: gradients flowing into these node outputs are summed
        into the slots (autograd.grad; backward(inputs=) for non-leaf inputs).
    targets: when given, only nodes from which a target is reachable run.
    accumulate: whether AccumulateGrad nodes write `.grad` (False for autograd.grad).
    """
    root_nodes = list({id(r[0]): r[0] for r in roots}.values())
    useful = _useful_nodes(root_nodes, targets) if targets is not None else None
    deps = {}
    stack = []
    for node in root_nodes:
        if useful is not None and not useful[node]:
            continue
        deps[node] = 0
        stack.append(node)
    while stack:
        n = stack.pop()
        if useful is not None and n in targets and not any(
                e is not None and useful[e[0]] for e in n.edges):
            continue          # a captured endpoint: nothing below it is needed
        for e in n.edges:
            if e is None:
                continue
            c = e[0]
            if useful is not None and not useful[c]:
                continue
            d = deps.get(c)
            if d is None:
                deps[c] = 1
                stack.append(c)
            else:
                deps[c] = d + 1
    hooked = _dispatch.hooked
    listeners = _dispatch.listeners() if hooked else ()
    grad_mode = _gm.grad_enabled
    _gm.grad_enabled = create        # backward formulas build a graph only under create_graph
    try:
        buffers = {}
        for node, nr, g in roots:
            if node not in deps:
                continue
            b = buffers.get(node)
            if b is None:
                buffers[node] = b = [None] * node.n_outputs
            b[nr] = g if b[nr] is None else _sum(b[nr], g)
        heap = [(-n.seq, n) for n in root_nodes if deps.get(n) == 0]
        heapq.heapify(heap)
        while heap:
            _, node = heapq.heappop(heap)
            grads = buffers.pop(node, None)
            edges = node.edges
            outs = None
            if grads is not None and (grads[0] is not None or any(g is not None for g in grads)):
                if node.hooks or node.retains:
                    grads = _pre_node(node, grads, create)
                if capture is not None:
                    _capture(node, grads, capture, create)
                if type(node) is AccumulateGrad:
                    if accumulate:
                        if not hooked:
                            _accumulate(node, grads, create)
                        else:
                            # listeners get the accumulated .grad, so the incoming array keeps
                            # a single owner and is stolen rather than copied (see _owned)
                            t0 = time.perf_counter()
                            _accumulate(node, grads, create)
                            leaf = node.variable
                            total = (leaf.grad,) if leaf is not None else (None,)
                            for lst in listeners:
                                lst.on_backward(node, total, (), time.perf_counter() - t0)
                    continue
                if useful is not None and not any(e is not None and useful[e[0]] for e in edges):
                    pass
                elif hooked or node.pre_hooks or node.post_hooks:
                    outs = _run_node(node, grads, retain, create, hooked, listeners)
                else:
                    outs = _apply_node(node, grads, retain, create)
            grads = None
            for i, e in enumerate(edges):
                if e is None:
                    continue
                c, nr = e
                d = deps.get(c)
                if d is None:
                    continue
                g = outs[i] if outs is not None else None
                if g is not None:
                    b = buffers.get(c)
                    if b is None:
                        buffers[c] = b = [None] * c.n_outputs
                    b[nr] = g if b[nr] is None else _sum(b[nr], g)
                    g = None
                d -= 1
                deps[c] = d
                if d == 0:
                    heapq.heappush(heap, (-c.seq, c))
            outs = None       # drop references so that leaves can take arrays over (see _owned)
    finally:
        _gm.grad_enabled = grad_mode


def _pre_node(node, grads, create):
    """Tensor hooks registered on the node's outputs, then retain_grad (always last)."""
    hooks = node.hooks
    if hooks:
        grads = [(_run_tensor_hooks(hooks[i], g, create) if g is not None and i in hooks else g)
                 for i, g in enumerate(grads)]
    retains = node.retains
    if retains:
        for i, fn in retains.items():
            if grads[i] is not None:
                fn(grads[i])
    return grads


def _capture(node, grads, capture, create):
    leaf_hooks = None
    if type(node) is AccumulateGrad:
        leaf = node.variable
        leaf_hooks = leaf._hooks if leaf is not None else None
    for i, g in enumerate(grads):
        slot = capture.get((node, i))
        if slot is not None and g is not None:
            if leaf_hooks:
                g = _run_tensor_hooks(leaf_hooks, g, create)
            slot[0] = g if slot[0] is None else _sum(slot[0], g)


def _run_node(node, grads, retain, create, hooked, listeners):
    if node.pre_hooks:
        for fn in list(node.pre_hooks):
            gt = _F.as_tensors(grads, create)
            r = fn.fn(node, gt) if type(fn) is _NodeHook else fn(gt)
            if r is not None:
                grads = _F.from_tensors(r, create)
    if not hooked:
        outs = _apply_node(node, grads, retain, create)
    else:
        # listeners (anomaly mode) can tell ops run by a backward step from forward ops
        running.node = node
        t0 = time.perf_counter()
        try:
            outs = _apply_node(node, grads, retain, create)
        finally:
            running.node = None
        el = time.perf_counter() - t0
        for lst in listeners:
            lst.on_backward(node, grads, outs, el)
    if node.post_hooks:
        for fn in list(node.post_hooks):
            gi, go = _F.as_tensors(outs, create), _F.as_tensors(grads, create)
            r = fn.fn(node, gi, go) if type(fn) is _NodeHook else fn(gi, go)
            if r is not None:
                outs = _F.from_tensors(r, create)
    return outs
