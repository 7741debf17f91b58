"""Automatic differentiation: `backward`, `grad`, custom `Function`s, gradcheck and anomaly mode."""
from .. import _backend, _dispatch
from .._grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                          is_grad_enabled)
from . import engine
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401

__all__ = ["backward", "grad", "Function", "Variable", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "gradcheck", "gradgradcheck", "detect_anomaly", "set_detect_anomaly",
           "functional"]


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _dispatch.Tensor)


class Variable(metaclass=_VariableMeta):
    """The legacy wrapper: `Variable(t, requires_grad=True)` gives a tensor sharing `t`'s data;
    every tensor is an instance of Variable."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, _dispatch.Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()
        if requires_grad:
            t.requires_grad_()
        return t


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
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{op}: got {len(grad_outputs)} gradients for {len(outputs)} outputs "
                           "(grad_tensors/grad_outputs must match tensors/outputs in length)")
    roots = []
    for i, out in enumerate(outputs):
        if not isinstance(out, T):
            raise TypeError(f"{op}: expected a sequence of Tensors, but element {i} is "
                            f"{type(out).__name__}")
        g = grad_outputs[i] if grad_outputs is not None else None
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        data = out._data
        if g is None:
            if data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (got a tensor of shape "
                    f"{list(data.shape)} at index {i}); pass gradient= to {op}")
            g = _backend.xp_of(data).ones(data.shape, dtype=data.dtype)
            if create_graph:
                g = T._make(g)
        else:
            if not isinstance(g, T):
                raise TypeError(f"{op}: gradients must be Tensors or None, but element {i} is "
                                f"{type(g).__name__}")
            if g._data.shape != data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                    f"has a shape of {out.shape}.")
            if type(g._data) is not type(data):
                raise RuntimeError(
                    f"Mismatch in device: grad_output[{i}] is on {g.device} and output[{i}] is on "
                    f"{out.device}")
            if g._data.dtype != data.dtype:
                g = g.to(out.dtype)
            if not create_graph:
                g = g._data
        node = out.grad_fn if out.grad_fn is not None else out._accumulator()
        roots.append((node, out._output_nr, g))
    return roots


def _endpoint(t):
    """The (node, output_nr) whose incoming gradient is the gradient w.r.t. `t`."""
    return (t.grad_fn, t._output_nr) if t.grad_fn is not None else (t._accumulator(), 0)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute the sum of gradients of `tensors` w.r.t. graph leaves, into their `.grad`.

    With `inputs`, only those tensors (leaves or not) receive gradients."""
    T = _T()
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _make_root_grads(tensors, grad_tensors, create_graph, "backward()")
    if inputs is None:
        engine.execute(roots, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("backward(): 'inputs' argument to backward() cannot be empty.")
    targets = set()
    for i, t in enumerate(inputs):
        if not isinstance(t, T) or not t._requires_grad:
            raise RuntimeError(f"backward(): input {i} passed in 'inputs' does not require grad")
        if t.grad_fn is not None:
            t.retain_grad()       # as PyTorch does: a non-leaf input keeps retaining its grad
        targets.add(_endpoint(t)[0])
    engine.execute(roots, retain_graph, create_graph, targets=targets)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned (not accumulated into `.grad`).

    Only the part of the graph between them runs."""
    T = _T()
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    if retain_graph is None:
        retain_graph = create_graph
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    for i, t in enumerate(inputs):
        if not isinstance(t, T):
            raise TypeError(f"grad(): inputs must be Tensors, but element {i} is {type(t).__name__}")
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}, shape {list(t.shape)}) "
                               "does not require grad")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    roots = _make_root_grads(outputs, grad_outputs, create_graph, "grad()")
    capture = {}
    slots = []
    for t in inputs:
        key = _endpoint(t)
        slot = capture.get(key)
        if slot is None:
            slot = capture[key] = [None]
        slots.append(slot)
    engine.execute(roots, retain_graph, create_graph, capture=capture,
                   targets={k[0] for k in capture}, accumulate=False)
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
                    f"The differentiated Tensor at index {i} (shape {list(t.shape)}) appears to not "
                    "have been used in the graph. Set allow_unused=True if this is the desired "
                    "behavior.")
            result.append(None)
        else:
            result.append(g if isinstance(g, T) else T._make(g))
    return tuple(result)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """is_grads_batched: the first dim of every grad_output indexes independent backward passes."""
    import pellucid
    if grad_outputs is None:
        raise RuntimeError("grad(): is_grads_batched=True needs grad_outputs")
    n = grad_outputs[0].shape[0]
    per_input = [[] for _ in inputs]
    for k in range(n):
        gs = grad(outputs, inputs, tuple(g[k] for g in grad_outputs),
                  retain_graph=retain_graph if k == n - 1 else True, create_graph=create_graph,
                  allow_unused=True)
        for lst, g in zip(per_input, gs):
            lst.append(g)
    result = []
    for i, (t, lst) in enumerate(zip(inputs, per_input)):
        if all(g is None for g in lst):
            if materialize_grads:
                result.append(pellucid.zeros((n,) + tuple(t.shape), dtype=t.dtype, device=t.device))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
            continue
        result.append(pellucid.stack([pellucid.zeros_like(t) if g is None else g for g in lst]))
    return tuple(result)


from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly, is_anomaly_enabled  # noqa: E402,F401
from . import graph, functional  # noqa: E402,F401
