"""Automatic differentiation: `backward`, `grad`, custom `Function`s, gradcheck and anomaly mode."""
import numpy as np

from .. import _dispatch
from .._grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                          is_grad_enabled)
from . import engine
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401

__all__ = ["backward", "grad", "Function", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "gradcheck", "gradgradcheck", "detect_anomaly", "set_detect_anomaly"]


def _T():
    return _dispatch.Tensor


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, _T()):
        return (x,)
    return tuple(x)


def _make_root_grads(outputs, grad_outputs, create_graph, op):
    T = _T()
    roots = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (got a tensor of shape "
                    f"{list(out._data.shape)}); pass gradient= to {op}")
            xp = np if type(out._data) is np.ndarray else __import__("cupy")
            g = xp.ones(out._data.shape, dtype=out._data.dtype)
            if create_graph:
                g = T._make(g)
        else:
            if not isinstance(g, T):
                g = T._make(np.asarray(g, dtype=out._data.dtype))
            if g._data.shape != out._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                    f"has a shape of {out.shape}.")
            if not create_graph:
                g = g._data
        node = out.grad_fn if out.grad_fn is not None else out._accumulator()
        roots.append((node, out._output_nr, g))
    return roots


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the sum of gradients of `tensors` w.r.t. graph leaves, into their `.grad`."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _make_root_grads(tensors, grad_tensors, create_graph, "backward()")
    if inputs is not None:
        inputs = _as_tuple(inputs)
        grads = grad(tensors, inputs, grad_tensors, retain_graph=retain_graph,
                      create_graph=create_graph, allow_unused=True)
        for t, g in zip(inputs, grads):
            if g is None:
                continue
            g = g if create_graph else g.detach()
            t.grad = g if t.grad is None else t.grad + g
        return
    engine.execute(roots, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned (not accumulated into `.grad`)."""
    T = _T()
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    roots = _make_root_grads(outputs, grad_outputs, create_graph, "grad()")
    capture = {}
    slots = []
    for t in inputs:
        key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)
        slot = capture.get(key)
        if slot is None:
            slot = capture[key] = [None]
        slots.append(slot)
    engine.execute(roots, retain_graph, create_graph, capture=capture)
    result = []
    for i, (t, slot) in enumerate(zip(inputs, slots)):
        g = slot[0]
        if g is None:
            if materialize_grads:
                import pellucid
                result.append(pellucid.zeros_like(t))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}, shape {list(t.shape)}) appears to "
                    "not have been used in the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        else:
            result.append(g if isinstance(g, T) else T._make(g))
    return tuple(result)


from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly, is_anomaly_enabled  # noqa: E402,F401
from . import graph  # noqa: E402,F401
