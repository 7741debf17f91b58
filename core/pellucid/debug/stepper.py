"""Walking a recording step by step, forward or backward in time, with breakpoints, and the state
of the graph at any cursor position (what the UI draws)."""
from .breakpoints import Breakpoint, on_op, on_module, on_tensor, on_predicate, on_nan, on_grad_norm

__all__ = ["Stepper", "GraphState"]


class GraphState:
    """The graph as of one cursor position.

    computed: tensor keys whose values exist (inputs, parameters, and outputs of forward steps
    up to the cursor); values: key -> value summary for those; grads: key -> gradient summary
    for gradients that have arrived by the cursor; done: step indices executed so far.
    """

    def __init__(self, cursor, step, computed, values, grads, done, phase):
        self.cursor = cursor
        self.step = step
        self.computed = computed
        self.values = values
        self.grads = grads
        self.done = done
        self.phase = phase

    def to_dict(self):
        return {"cursor": self.cursor, "phase": self.phase, "step": self.step.to_dict() if self.step else None,
                "computed": sorted(self.computed), "grads": self.grads, "done": sorted(self.done)}


class Stepper:
    """A cursor over the steps of one recorded iteration (the forward ops, then the backward)."""

    def __init__(self, recorder, iteration=None):
        self.recorder = recorder
        self.iteration = recorder._pick(iteration)
        self.steps = self.iteration.steps
        self.cursor = 0 if self.steps else -1
        self.breakpoints = []

    def __len__(self):
        return len(self.steps)

    @property
    def step(self):
        return self.steps[self.cursor] if 0 <= self.cursor < len(self.steps) else None

    @property
    def phase(self):
        s = self.step
        return s.phase if s else None

    def goto(self, k):
        n = len(self.steps)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"step {k} is out of range: the recording has {n} steps")
        self.cursor = k
        return self.step

    def first(self):
        return self.goto(0)

    def last(self):
        return self.goto(len(self.steps) - 1)

    def next(self, n=1):
        self.cursor = min(self.cursor + n, len(self.steps) - 1)
        return self.step

    def prev(self, n=1):
        self.cursor = max(self.cursor - n, 0)
        return self.step

    def first_backward(self):
        for s in self.steps:
            if s.phase != "forward":
                return self.goto(s.index)
        return self.step

    def step_over(self, direction=1):
        """Move past every step of the current step's module (and its submodules) at once."""
        s = self.step
        if s is None:
            return None
        mod = s.module
        if not mod:
            return self.next() if direction > 0 else self.prev()
        k = self.cursor
        n = len(self.steps)
        while 0 <= k + direction < n:
            k += direction
            m = self.steps[k].module or ""
            if not (m == mod or m.startswith(mod + ".")) or self.steps[k].phase != s.phase:
                break
        self.cursor = k
        return self.step

    def add_breakpoint(self, bp=None, *, op=None, module=None, tensor=None, predicate=None, nan=False,
                       grad_norm_above=None, grad_norm_below=None, phase="any"):
        """Add a Breakpoint, or build one from the keyword arguments. Returns it."""
        made = [] if bp is None else [bp]
        if op is not None:
            made.append(on_op(op, phase))
        if module is not None:
            made.append(on_module(module, phase))
        if tensor is not None:
            made.append(on_tensor(tensor, phase))
        if predicate is not None:
            made.append(on_predicate(predicate, phase=phase))
        if nan:
            made.append(on_nan(phase))
        if grad_norm_above is not None or grad_norm_below is not None:
            made.append(on_grad_norm(grad_norm_above, grad_norm_below))
        if not made:
            raise ValueError("add_breakpoint(): give a Breakpoint or one of op=, module=, tensor=, predicate=, "
                             "nan=True, grad_norm_above=, grad_norm_below=")
        for b in made:
            if not isinstance(b, Breakpoint):
                raise TypeError(f"not a Breakpoint: {b!r}")
        self.breakpoints.extend(made)
        return made[0] if len(made) == 1 else made

    def clear_breakpoints(self):
        self.breakpoints.clear()

    def run(self, direction=1):
        """Move until a step matches a breakpoint (the current step is not re-tested).
        Returns that step, or None after reaching the end (or the start, going back)."""
        k = self.cursor
        n = len(self.steps)
        while 0 <= k + direction < n:
            k += direction
            s = self.steps[k]
            if any(b.matches(s, self.recorder) for b in self.breakpoints):
                self.cursor = k
                return s
        self.cursor = k
        return None

    def state(self, k=None):
        """GraphState at step k (default: the cursor)."""
        k = self.cursor if k is None else k
        it = self.iteration
        computed = set()
        values = {}
        for key, info in it.tensors.items():
            if info.produced_by is None:
                computed.add(key)
                values[key] = info.summary
        grads = {}
        done = set()
        for s in self.steps[: k + 1]:
            done.add(s.index)
            if s.phase == "forward":
                for key in s.outputs:
                    if key is not None:
                        computed.add(key)
                        values[key] = it.tensors[key].summary
            else:
                for key, gs in s.grads_out:
                    if key is not None:
                        grads[key] = gs
        step = self.steps[k] if 0 <= k < len(self.steps) else None
        return GraphState(k, step, computed, values, grads, done, step.phase if step else None)

    def source_line(self, k=None):
        """(file, line, text) of the user code that ran step k."""
        import linecache
        s = self.steps[self.cursor if k is None else k]
        if not s.source:
            return None
        return s.source[0], s.source[1], linecache.getline(s.source[0], s.source[1]).strip()

    def __repr__(self):
        return f"<Stepper {self.cursor + 1}/{len(self.steps)} {self.step!r}>"
