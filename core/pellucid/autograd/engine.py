"""The backward engine: walks the graph iteratively (no recursion, so a 100,000-op chain
works), in reverse creation order, summing gradients per node before running it."""
import heapq
import sys
import time

import numpy as np

from .. import _dispatch
from .._dispatch import AccumulateGrad
from .._grad_mode import state as _gm, enable_grad, no_grad
from ..ops import _F


def _tensor_cls():
    return _dispatch.Tensor


def _check_versions(node):
    saved = node.saved
    if saved is not None:
        for i, t in enumerate(saved):
            if isinstance(t, _dispatch.Tensor) and t._version is not None and t._version[0] != node.versions[i]:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{type(t).__name__} {list(t._data.shape)}] (input of "
                    f"{node.name()}) is at version {t._version[0]}; expected version "
                    f"{node.versions[i]} instead. Hint: replace the in-place op (like `x += 1` or "
                    "`x.add_()`) with its out-of-place form.")
    ov = node.out_version
    if ov is not None and ov[0][0] != ov[1]:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: the output of {node.name()} is at version {ov[0][0]}; expected version "
            f"{ov[1]} instead. Hint: replace the in-place op with its out-of-place form.")


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
            g = r if create else r._data
    return g


def _apply_node(node, grads, retain, create):
    """Run one node's backward. Returns one gradient per edge (None where none flows)."""
    if node.freed:
        raise _freed_error(node)
    op = node.op
    n_out = node.n_outputs
    if n_out > 1 and any(g is None for g in grads):
        # materialise zeros for outputs that received no gradient
        filled = []
        for g, (shape, dt) in zip(grads, node.out_meta):
            if g is None:
                ref = next(x for x in grads if x is not None)
                g = _F.zeros_like_meta(ref, shape, dt, create)
            filled.append(g)
        grads = filled
    _check_versions(node)
    if create:
        T = _tensor_cls()
        F = _F.TENSOR
        if node.saved is not None:
            node.inputs = node.saved
        grads = [g if isinstance(g, T) else T._make(g) for g in grads]
        with enable_grad():
            res = op.backward(node, F, *grads)
    else:
        F = _F.array_ns(grads[0])
        if node.saved is not None:
            T = _tensor_cls()
            node.inputs = [t._data if isinstance(t, T) else t for t in node.saved]
        res = op.backward(node, F, *grads)
    node.inputs = None
    if type(res) is not tuple and type(res) is not list:
        res = (res,)
    out = []
    for g, e, meta in zip(res, node.edges, node.in_meta):
        if g is None or e is None:
            out.append(None)
            continue
        out.append(F.fit(g, meta[0], meta[1]))
    if not retain and (node.saved is not None or node.out_data is not None):
        node.saved = None
        node.out_data = None
        node.freed = True
    return out


def _accumulate(node, g, create):
    leaf = node.variable
    if leaf is None:
        return
    T = _tensor_cls()
    hooks = leaf._hooks
    if hooks:
        g = _run_tensor_hooks(hooks, g, create)
    if create:
        gt = g if isinstance(g, T) else T._make(g)
        if leaf.grad is None:
            leaf.grad = gt
        else:
            leaf.grad = leaf.grad + gt
        return
    if isinstance(g, T):
        g = g._data
    cur = leaf.grad
    if cur is None:
        # steal the array when only the engine refers to it; otherwise copy (it may alias
        # another tensor's gradient, and users modify .grad in place)
        if sys.getrefcount(g) > 4 or (type(g) is np.ndarray and g.base is not None):
            g = g.copy()
        if g.shape != leaf._data.shape:
            g = np.broadcast_to(g, leaf._data.shape).copy()
        leaf.grad = T._make(g)
    elif cur.grad_fn is not None or cur._requires_grad:
        leaf.grad = T._make(cur._data + g)
    else:
        cd = cur._data
        if cd.shape == g.shape and cd.dtype == g.dtype and cd.flags.writeable:
            cd += g
            if cur._version is not None:
                cur._version[0] += 1
        else:
            leaf.grad = T._make(cd + g)
    post = leaf._post_accumulate_hooks
    if post:
        for fn in list(post):
            fn(leaf)


def execute(roots, retain, create, capture=None):
    """roots: [(node, output_nr, grad)]. capture: {(node, nr): slot} to collect gradients for
    autograd.grad instead of accumulating into leaves (then no leaf's .grad is touched)."""
    deps = {}
    stack = []
    for node, nr, g in roots:
        if node not in deps:
            deps[node] = 0
            stack.append(node)
    while stack:
        n = stack.pop()
        for e in n.edges:
            if e is None:
                continue
            c = e[0]
            d = deps.get(c)
            if d is None:
                deps[c] = 1
                stack.append(c)
            else:
                deps[c] = d + 1
    buffers = {}
    for node, nr, g in roots:
        b = buffers.get(node)
        if b is None:
            buffers[node] = b = [None] * node.n_outputs
        b[nr] = g if b[nr] is None else b[nr] + g
    heap = [(-n.seq, n) for n in {id(r[0]): r[0] for r in roots}.values() if deps[n] == 0]
    heapq.heapify(heap)
    hooked = _dispatch.hooked
    listeners = _dispatch.listeners() if hooked else ()
    grad_mode = _gm.grad_enabled
    _gm.grad_enabled = create
    try:
        while heap:
            _, node = heapq.heappop(heap)
            grads = buffers.pop(node, None)
            edges = node.edges
            if grads is None or all(g is None for g in grads):
                outs = None
            else:
                if node.hooks:
                    grads = [(_run_tensor_hooks(node.hooks[i], g, create)
                              if g is not None and i in node.hooks else g)
                             for i, g in enumerate(grads)]
                if capture is not None:
                    for i, g in enumerate(grads):
                        slot = capture.get((node, i))
                        if slot is not None and g is not None:
                            slot[0] = g if slot[0] is None else slot[0] + g
                if type(node) is AccumulateGrad:
                    if capture is None:
                        t0 = time.perf_counter() if hooked else 0.0
                        _accumulate(node, grads[0], create)
                        if hooked:
                            for lst in listeners:
                                lst.on_backward(node, grads, (), time.perf_counter() - t0)
                    continue
                if node.pre_hooks:
                    for fn in list(node.pre_hooks):
                        r = fn(node, _F.as_tensors(grads, create))
                        if r is not None:
                            grads = _F.from_tensors(r, create)
                t0 = time.perf_counter() if hooked else 0.0
                outs = _apply_node(node, grads, retain, create)
                if hooked:
                    el = time.perf_counter() - t0
                    for lst in listeners:
                        lst.on_backward(node, grads, outs, el)
                if node.post_hooks:
                    for fn in list(node.post_hooks):
                        r = fn(node, _F.as_tensors(outs, create), _F.as_tensors(grads, create))
                        if r is not None:
                            outs = _F.from_tensors(r, create)
            for i, e in enumerate(edges):
                if e is None:
                    continue
                c, nr = e
                g = outs[i] if outs is not None else None
                if g is not None:
                    b = buffers.get(c)
                    if b is None:
                        buffers[c] = b = [None] * c.n_outputs
                    b[nr] = g if b[nr] is None else b[nr] + g
                d = deps[c] - 1
                deps[c] = d
                if d == 0:
                    heapq.heappush(heap, (-c.seq, c))
    finally:
        _gm.grad_enabled = grad_mode
