"""The NaN/Inf tripwire shared by `autograd.detect_anomaly` and the recorder: the first op whose
output (forward) or gradient (backward) holds NaN/Inf stops the run, naming the op, the module
path, the source line and the input summaries. In the recorder's live mode it pauses instead of
raising. Both callers are dispatch-point listeners and build their errors here."""
from .. import _dispatch
from .._source import describe_location
from .summary import summarize, describe, nonfinite_count

__all__ = ["AnomalyError", "first_nonfinite", "forward_error", "backward_error", "module_path"]


class AnomalyError(RuntimeError):
    """A NaN/Inf stopped the run. Carries `op` (forward op name), `phase` ("forward" or
    "backward"), `module` (qualified module path), `source` ((file, line, function)) and
    `summaries` (one line per input or incoming gradient)."""

    def __init__(self, message, op=None, phase=None, source=None, summaries=None, module=None):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.source = source
        self.summaries = summaries or []
        self.module = module


def module_path():
    try:
        from ..nn.modules._call_stack import current_module_path
    except ImportError:
        return ""
    return current_module_path()


def _arr(x):
    return x._data if isinstance(x, _dispatch.Tensor) else x


def first_nonfinite(values):
    """Index of the first array/tensor in `values` holding NaN/Inf, or None."""
    for i, v in enumerate(values):
        a = _arr(v)
        if a is not None and nonfinite_count(a):
            return i
    return None


def _where(src):
    return describe_location(src)


def _mod(module):
    return f" in module '{module}'" if module else ""


def _summaries(values):
    out = []
    for v in values:
        a = _arr(v)
        out.append("None" if a is None else describe(summarize(a)) if hasattr(a, "dtype") else repr(a))
    return out


def forward_error(op_name, module, src, outputs, inputs):
    ins = _summaries(inputs)
    msg = (f"Function '{op_name}'{_mod(module)} returned nan or inf values in its output (forward), "
           f"called at {_where(src)}.\n  output: " + "; ".join(_summaries(outputs))
           + "\n  inputs: " + "; ".join(ins))
    return AnomalyError(msg, op=op_name, phase="forward", source=src, summaries=ins, module=module)


def backward_error(node_name, op_name, module, src, grads_out, grads_in, inner_op=None):
    ins = _summaries(grads_in)
    inner = f" (in its '{inner_op}' step)" if inner_op else ""
    msg = (f"Function '{node_name}'{inner} returned nan or inf values in its gradient (backward of "
           f"'{op_name}'{_mod(module)}, whose forward was called at {_where(src)}).\n  gradient: "
           + "; ".join(_summaries([g for g in grads_out if g is not None]))
           + "\n  incoming gradients: " + "; ".join(ins))
    return AnomalyError(msg, op=op_name, phase="backward", source=src, summaries=ins, module=module)


def trip_forward(recorder, step, op, args, result):
    outs = result if isinstance(result, tuple) else (result,)
    err = forward_error(op.label, step.module, step.source, [o for o in outs if isinstance(o, _dispatch.Tensor)],
                        list(args))
    _stop(recorder, step, err)


def trip_backward(recorder, step, node, grads_in, grads_out):
    err = backward_error(step.node, step.op, step.module, step.source, list(grads_out or ()), list(grads_in or ()))
    _stop(recorder, step, err)


def _stop(recorder, step, err):
    handler = getattr(recorder, "on_trip", None)
    if handler is not None:
        handler(step, str(err))          # live mode: pause at this step
        return
    err.step = step
    raise err
