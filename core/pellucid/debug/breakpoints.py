"""Breakpoints for stepping through a recording (after the fact) or a live run."""

__all__ = ["Breakpoint", "on_op", "on_module", "on_tensor", "on_predicate", "on_nan", "on_grad_norm"]


class Breakpoint:
    """A condition on a recorded `Step`. Build with the `on_*` helpers."""

    def __init__(self, kind, test, description, phase="any"):
        self.kind = kind
        self._test = test
        self.description = description
        self.phase = phase
        self.enabled = True
        self.hits = 0

    def matches(self, step, recorder=None):
        if not self.enabled:
            return False
        if self.phase == "forward" and step.phase != "forward":
            return False
        if self.phase == "backward" and step.phase == "forward":
            return False
        ok = bool(self._test(step, recorder))
        if ok:
            self.hits += 1
        return ok

    def __repr__(self):
        return f"Breakpoint({self.description}{'' if self.enabled else ', disabled'})"


def on_op(name, phase="any"):
    """Stop at forward steps of op `name` (e.g. "matmul") and/or their backward steps."""
    return Breakpoint("op", lambda s, r: s.op == name, f"op={name!r}, phase={phase!r}", phase)


def on_module(path, phase="any"):
    """Stop at steps run by the module at `path` or any of its submodules."""
    def test(s, r):
        m = s.module or ""
        return m == path or m.startswith(path + ".")
    return Breakpoint("module", test, f"module={path!r}, phase={phase!r}", phase)


def _tensor_key(t):
    if isinstance(t, str):
        return t
    tag = t.__dict__.get("_rec_key")
    if tag is None:
        raise ValueError("on_tensor(): this tensor was not seen by a recording; pass its key instead")
    return tag[2]


def on_tensor(tensor, phase="any"):
    """Stop where `tensor` (or a tensor key such as "param:fc1.weight") is read, written, or gets
    its gradient."""
    key = tensor if isinstance(tensor, str) else None
    holder = [key, tensor]

    def test(s, r):
        k = holder[0]
        if k is None:
            k = holder[0] = _tensor_key(holder[1])
        if s.phase == "forward":
            return k in s.inputs or k in s.outputs
        return any(gk == k for gk, _ in s.grads_out)
    return Breakpoint("tensor", test, f"tensor={key or 'object'}, phase={phase!r}", phase)


def on_predicate(fn, description="predicate", phase="any"):
    """Stop where `fn(step)` is true."""
    return Breakpoint("predicate", lambda s, r: fn(s), description, phase)


def on_nan(phase="any"):
    """Stop at the first step whose output or gradient holds NaN or Inf."""
    return Breakpoint("nan", lambda s, r: s.nonfinite > 0, f"nan/inf, phase={phase!r}", phase)


def on_grad_norm(above=None, below=None):
    """Stop at backward steps producing a gradient whose norm is above `above` or below `below`."""
    if above is None and below is None:
        raise ValueError("on_grad_norm(): give above= or below=")

    def test(s, r):
        for _, gs in s.grads_out:
            n = (gs or {}).get("norm")
            if n is None:
                continue
            if above is not None and n > above:
                return True
            if below is not None and n < below:
                return True
        return False
    return Breakpoint("grad_norm", test, f"grad norm above={above}, below={below}", "backward")
