"""The NaN/Inf tripwire shared by `autograd.detect_anomaly` and the recorder: the first op whose
output (forward) or gradient (backward) holds NaN/Inf stops the run, naming the op, the module
path, the source line and the input summaries. In live mode it pauses instead of raising."""
from .. import _dispatch
from .summary import summarize, describe


def _anomaly_error():
    from ..autograd.anomaly_mode import AnomalyError
    return AnomalyError


def _where(src):
    return f"{src[0]}:{src[1]}" if src else "<unknown source>"


def forward_message(op_name, module, src, out_summaries, in_summaries):
    mod = f" in module '{module}'" if module else ""
    return (f"Function '{op_name}'{mod} returned nan or inf values in its output (forward), called at "
            f"{_where(src)}.\n  output: " + "; ".join(describe(s) for s in out_summaries)
            + "\n  inputs: " + "; ".join(in_summaries))


def backward_message(node_name, op_name, module, src, grad_summaries, in_summaries):
    mod = f" in module '{module}'" if module else ""
    return (f"Function '{node_name}' returned nan or inf values in its gradient (backward of '{op_name}'{mod}, "
            f"whose forward was called at {_where(src)}).\n  gradient: "
            + "; ".join(describe(s) for s in grad_summaries) + "\n  incoming gradients: " + "; ".join(in_summaries))


def _input_summaries(args):
    T = _dispatch.Tensor
    return [describe(summarize(a._data)) if isinstance(a, T) else repr(a) for a in args]


def trip_forward(recorder, step, op, args, result):
    T = _dispatch.Tensor
    outs = result if isinstance(result, tuple) else (result,)
    msg = forward_message(op.label, step.module, step.source,
                          [summarize(o._data) for o in outs if isinstance(o, T)], _input_summaries(args))
    _stop(recorder, step, msg, "forward")


def trip_backward(recorder, step, node, grads_in, grads_out):
    T = _dispatch.Tensor
    arr = lambda g: g._data if isinstance(g, T) else g  # noqa: E731
    msg = backward_message(step.node, step.op, step.module, step.source,
                           [summarize(arr(g)) for g in (grads_out or ()) if g is not None],
                           [describe(summarize(arr(g))) if g is not None else "None" for g in (grads_in or ())])
    _stop(recorder, step, msg, "backward")


def _stop(recorder, step, msg, phase):
    handler = getattr(recorder, "on_trip", None)
    if handler is not None:
        handler(step, msg)          # live mode: pause at this step
        return
    err = _anomaly_error()(msg, op=step.op, phase=phase, source=step.source, summaries=[])
    err.step = step
    err.module = step.module
    raise err
