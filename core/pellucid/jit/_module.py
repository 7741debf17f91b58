"""`jit.trace` and `TracedModule`: a traced program with the model's parameters and buffers.

A TracedModule is an `nn.Module`: its parameters and buffers sit in submodules named like the
traced model's (so `state_dict()` keys match and `.to()` works), and calling it replays the
program through the dispatch point. The program is specialised to the shapes and dtypes of the
example inputs (op parameters such as reshape targets were recorded as numbers), so calling it
with other shapes raises an error that says so; `pellucid.onnx.export(..., dynamic_axes=...)`
makes programs whose batch size (or other axes) can change.
"""
import warnings

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..nn.modules.module import Module
from ..nn.parameter import Parameter
from ._program import Ref, RawRef, flatten, type_str, show, param_names
from . import _tracer

__all__ = ["trace", "TracedModule"]


class _TracedSubmodule(Module):
    """A submodule of a traced program: holds parameters and buffers under the original names."""

    def __init__(self, original_name):
        super().__init__()
        self.original_name = original_name

    def _get_name(self):
        return self.original_name

    def extra_repr(self):
        return f"original_name={self.original_name}"

    def forward(self, *args):
        raise RuntimeError(
            f"a submodule ({self.original_name}) of a traced program can't be called on its own: its ops are part "
            "of the TracedModule's program; call the TracedModule")


class _ModuleScope:
    """Puts the module path of each replayed op on the call stack, so the recorder and the graph
    views show ops inside the submodules they were traced in."""

    def __init__(self, root):
        from ..nn.modules import _call_stack
        self.stack = _call_stack._state.stack
        self.base = self.stack[-1][1] if self.stack else ""
        self.root = root
        self.parts = []

    def enter(self, path):
        parts = path.split(".") if path else []
        cur = self.parts
        if parts == cur:
            return
        k = 0
        while k < len(parts) and k < len(cur) and parts[k] == cur[k]:
            k += 1
        for _ in range(len(cur) - k):
            self.stack.pop()
        for i in range(k, len(parts)):
            rel = ".".join(parts[:i + 1])
            holder = self.root._holder(rel)
            self.stack.append((holder, self.base + "." + rel if self.base else rel))
        self.parts = parts

    def exit(self):
        for _ in self.parts:
            self.stack.pop()
        self.parts = []


class Graph:
    """The program as text (`print(traced.graph)`):

        %3 : Float(64, 128) = linear(%x, %fc1.weight, %fc1.bias)  # fc1
    """

    def __init__(self, program):
        self.program = program

    def nodes(self):
        """One dict per op: op, inputs, params, outputs (value names) and module path."""
        p = self.program
        return [{"op": n.op, "inputs": [show(a, p.value_name) for a in n.args],
                 "params": [show(x, p.value_name) for x in n.params],
                 "outputs": [p.value_name(o) for o in n.outputs], "module": n.module, "inplace": n.inplace}
                for n in p.ops]

    def __str__(self):
        p = self.program
        name = p.value_name
        used = set()
        for n in p.ops:
            used.update(n.refs())
        header = [r.id for r in flatten(p.inputs) if type(r) is Ref]
        header += [v.id for v in p.values if v.kind in ("param", "buffer") and v.id in used]
        header += [v.id for v in p.values if v.kind == "const" and v.id in used]
        decl = [f"%{name(i)} : {type_str(p.values[i])}" for i in header]
        lines = ["graph(" + ",\n      ".join(decl) + "):"]
        from .. import _dispatch
        for n in p.ops:
            outs = ", ".join(f"%{name(o)} : {type_str(p.values[o])}" for o in n.outputs)
            args = [show(a, name) for a in n.args]
            cls = _dispatch.OPS.get(n.op)
            pnames = param_names(cls, len(n.args)) if cls is not None else None
            for i, x in enumerate(n.params):
                label = pnames[i] if pnames and i < len(pnames) else f"p{i}"
                args.append(f"{label}={show(x, name)}")
            op = n.op + ("_" if n.inplace else "")
            comment = f"  # {n.module}" if n.module else ""
            lines.append(f"  {outs} = {op}({', '.join(args)}){comment}")
        rets = [show(r, name) if type(r) is Ref else repr(r) for r in flatten(p.outputs)]
        lines.append(f"  return ({', '.join(rets)})")
        return "\n".join(lines)

    __repr__ = __str__


def _code(program):
    """The program as Python-like source."""
    def var(vid):
        v = program.values[vid]
        if v.kind in ("param", "buffer"):
            out = "self"
            for part in v.name.split("."):
                out = f"{out}.{part}" if part.isidentifier() else f'getattr({out}, "{part}")'
            return out
        if v.kind == "input":
            return v.name
        if v.kind == "const":
            return f"CONSTANTS.c{vid}"
        return f"_{vid}"

    def expr(x):
        if type(x) is Ref:
            return var(x.id)
        if type(x) is RawRef:
            s = var(x.id)
            if x.dtype:
                s += f".to({x.dtype})"
            if x.shape:
                s += f".reshape{x.shape}"
            return s
        return show(x, lambda i: var(i)).replace("%", "")

    ins = [var(r.id) for r in flatten(program.inputs) if type(r) is Ref]
    lines = [f"def forward(self, {', '.join(ins)}):"]
    for n in program.ops:
        outs = ", ".join(var(o) for o in n.outputs)
        args = ", ".join([expr(a) for a in n.args] + [expr(x) for x in n.params])
        comment = f"  # {n.module}" if n.module else ""
        lines.append(f"    {outs} = {n.op}{'_' if n.inplace else ''}({args}){comment}")

    def out_expr(s):
        if type(s) is Ref:
            return var(s.id)
        if type(s) is tuple:
            return "(" + ", ".join(out_expr(x) for x in s) + ("," if len(s) == 1 else "") + ")"
        if type(s) is list:
            return "[" + ", ".join(out_expr(x) for x in s) + "]"
        if type(s) is dict:
            return "{" + ", ".join(f"{k!r}: {out_expr(v)}" for k, v in s.items()) + "}"
        return repr(s)
    lines.append(f"    return {out_expr(program.outputs)}")
    return "\n".join(lines)


class TracedModule(Module):
    """A traced program with its parameters, buffers and constants. Call it like the model."""

    def __init__(self, program, state, consts):
        super().__init__()
        self.__dict__["_program"] = program
        self.original_name = program.name
        subs = {"": self}
        for path, cls_name in program.modules:        # named_modules order: parents first
            if not path or path in subs:
                continue
            parent, _, leaf = path.rpartition(".")
            owner = subs.get(parent)
            if owner is None:
                continue
            sub = _TracedSubmodule(cls_name)
            owner.add_module(leaf, sub)
            subs[path] = sub
        self.__dict__["_subs"] = subs
        slots = []
        for vid, t in state.items():
            v = program.values[vid]
            parent, _, attr = v.name.rpartition(".")
            owner = subs.get(parent)
            if owner is None:       # a parameter of a module the tree doesn't list
                owner = self._make_path(parent)
            if v.kind == "param":
                if not isinstance(t, Parameter):
                    t = Parameter(t, requires_grad=v.requires_grad)
                owner.register_parameter(attr, t)
            else:
                owner.register_buffer(attr, t, persistent=v.persistent)
            slots.append((vid, owner, attr, v.kind))
        self.__dict__["_slots"] = slots
        self.__dict__["_consts"] = {vid: Tensor._make(arr) for vid, arr in consts.items()}
        self.__dict__["_moved"] = {}

    def _make_path(self, path):
        owner = self
        built = ""
        for part in path.split("."):
            built = built + "." + part if built else part
            sub = self._subs.get(built)
            if sub is None:
                sub = _TracedSubmodule("Module")
                owner.add_module(part, sub)
                self._subs[built] = sub
            owner = sub
        return owner

    def _holder(self, rel):
        sub = self._subs.get(rel)
        if sub is not None:
            return sub
        parent = rel.rpartition(".")[0]
        while parent and parent not in self._subs:
            parent = parent.rpartition(".")[0]
        return self._subs.get(parent, self)

    def _get_name(self):
        return self.original_name

    def extra_repr(self):
        return f"original_name={self.original_name}"

    # ---- the program ------------------------------------------------------------------------
    @property
    def program(self):
        return self._program

    @property
    def graph(self):
        return Graph(self._program)

    @property
    def inlined_graph(self):
        return self.graph

    @property
    def code(self):
        return _code(self._program)

    def constants(self):
        """{name: tensor} of the constants the trace captured."""
        return {f"c{vid}": t for vid, t in self._consts.items()}

    # ---- running ------------------------------------------------------------------------------
    def _flat_inputs(self, args):
        p = self._program
        template = p.inputs
        if len(args) != len(template):
            raise TypeError(
                f"{self.original_name} (traced): expected {len(template)} input(s) "
                f"({', '.join(self._input_names())}), got {len(args)}")
        flat = []

        def walk(t, x, where):
            if type(t) is Ref:
                if not isinstance(x, Tensor):
                    raise TypeError(f"{self.original_name} (traced): input {where} must be a Tensor, got "
                                    f"{type(x).__name__}")
                flat.append(x)
                return
            if type(t) in (tuple, list):
                if type(x) not in (tuple, list) or len(x) != len(t):
                    raise TypeError(f"{self.original_name} (traced): input {where} must be a sequence of "
                                    f"{len(t)} tensors, as when traced")
                for i, (a, b) in enumerate(zip(t, x)):
                    walk(a, b, f"{where}[{i}]")
                return
            if type(t) is dict:
                if not isinstance(x, dict) or set(x) != set(t):
                    raise TypeError(f"{self.original_name} (traced): input {where} must be a dict with keys "
                                    f"{sorted(t)}, as when traced")
                for k in t:
                    walk(t[k], x[k], f"{where}[{k!r}]")
        for i, (t, x) in enumerate(zip(template, args)):
            walk(t, x, f"'{self._input_names()[i]}'")
        for vid, x in zip(p.input_ids, flat):
            v = p.values[vid]
            shape, dt = tuple(x._data.shape), x._data.dtype.name
            if shape != v.shape or dt != v.dtype:
                raise RuntimeError(
                    f"{self.original_name} (traced): input '{v.name}' is {dt}{list(shape)} but the program was "
                    f"traced with {v.dtype}{list(v.shape)}. A trace records the shapes it saw (reshape targets, "
                    "pooling sizes, ...), so trace again with an example of this shape, or export with "
                    "pellucid.onnx.export(..., dynamic_axes=...) for a batch size that can change.")
        return flat

    def _input_names(self):
        names = []
        for s in self._program.inputs:
            leaves = [r for r in flatten(s) if type(r) is Ref]
            names.append(self._program.values[leaves[0].id].name if len(leaves) == 1 and type(s) is Ref
                         else "(" + ", ".join(self._program.values[r.id].name for r in leaves) + ")")
        return names

    def _state_on(self, device):
        """value id -> tensor on `device` for every parameter, buffer and constant."""
        out = {}
        moved = self._moved
        for vid, owner, attr, kind in self._slots:
            t = getattr(owner, attr)
            out[vid] = t if _backend.device_of(t._data) == device else self._moved_copy(vid, t, device)
        for vid, t in self._consts.items():
            out[vid] = t if _backend.device_of(t._data) == device else self._moved_copy(vid, t, device)
        if len(moved) > 4 * (len(out) + 1):
            moved.clear()
        return out

    def _moved_copy(self, vid, t, device):
        key = (vid, str(device))
        hit = self._moved.get(key)
        if hit is not None and hit[0] is t._data and hit[1] == t._version_count:
            return hit[2]
        copy = Tensor._make(_backend.move(t._data, device))
        self._moved[key] = (t._data, t._version_count, copy)
        return copy

    def forward(self, *args):
        flat = self._flat_inputs(args)
        if flat:
            device = _backend.device_of(flat[0]._data)
        else:
            first = next((getattr(o, a) for _, o, a, _ in self._slots), None)
            device = _backend.device_of(first._data) if first is not None else _backend.CPU
        state = self._state_on(device)
        return self._program.run(flat, state, device, _ModuleScope(self))

    def example_inputs(self, seed=0):
        """Inputs of the traced shapes and dtypes (normal draws for floats, zeros otherwise)."""
        rng = np.random.default_rng(seed)
        p = self._program
        first = next((getattr(o, a) for _, o, a, _ in self._slots), None)
        device = _backend.device_of(first._data) if first is not None else _backend.CPU
        made = {}
        for vid in p.input_ids:
            v = p.values[vid]
            dt = np.dtype(v.dtype)
            arr = rng.standard_normal(v.shape).astype(dt) if dt.kind == "f" else np.zeros(v.shape, dtype=dt)
            made[vid] = Tensor._make(_backend.move(arr, device))
        from ._program import rebuild
        return tuple(rebuild(s, lambda r: made[r.id]) for s in p.inputs)

    # ---- viewing and saving ----------------------------------------------------------------------
    def graph_json(self, *inputs, values="summary", **record_kw):
        """The program as the recorded-graph schema (`pellucid.graph`, docs/graph-schema.md): the
        program is replayed once under `pellucid.debug.record`, on `inputs` or, when none are
        given, on `example_inputs()`, so `pellucid.debug.render` and the widgets can show it."""
        from .. import debug
        args = inputs if inputs else self.example_inputs()
        p = self._program
        names = iter(p.values[vid].name for vid in p.input_ids)

        def named(x):
            if isinstance(x, Tensor):
                t = Tensor._make(x._data)
                t._name = next(names, None)
                return t
            if type(x) in (tuple, list):
                return type(x)(named(y) for y in x)
            if type(x) is dict:
                return {k: named(v) for k, v in x.items()}
            return x
        args = tuple(named(a) for a in args)
        from .._grad_mode import no_grad
        with debug.record(model=self, values=values, **record_kw) as rec:
            with no_grad():
                self(*args)
        return rec.graph()

    def save(self, f):
        """Write the program, parameters, buffers and constants to `f` (see `pellucid.jit.save`)."""
        from ._serialize import save
        save(self, f)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, example_kwarg_inputs=None):
    """Run `func` (a Module or a function) once on `example_inputs` and return a `TracedModule`
    holding the ops it ran, as PyTorch's torch.jit.trace does.

    check_trace re-runs the model and the trace on other inputs (`check_inputs`, or inputs of the
    same shapes with other values) and warns (TracerWarning) when their outputs or graphs differ:
    Python control flow or numbers that depend on tensor values were frozen into the trace.
    """
    if example_kwarg_inputs is not None:
        raise TypeError("jit.trace: example_kwarg_inputs is not supported; pass the inputs positionally")
    if example_inputs is None:
        raise TypeError("jit.trace: example_inputs is required")
    if not callable(func):
        raise TypeError(f"jit.trace: expected a Module or a function, got {type(func).__name__}")
    args = _tracer.as_args(example_inputs)
    program, state, consts, _ = _tracer.trace_program(func, args, strict=strict)
    traced = TracedModule(program, state, consts)
    if check_trace:
        _check(func, traced, args, check_inputs, strict, check_tolerance)
    return traced


def _check(func, traced, args, check_inputs, strict, tolerance):
    import pellucid
    program = traced.program
    note = _tracer.nondeterministic_note(program)
    if note:
        _tracer.warn(note)
        return
    snap = _tracer.snapshot_buffers({i: t for i, t in enumerate(
        [getattr(o, a) for _, o, a, _ in traced._slots])})
    rng_state = pellucid.get_rng_state()
    try:
        cases = [_tracer.as_args(c) for c in check_inputs] if check_inputs else [_tracer.perturbed(args)]
        for case in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _tracer.TracerWarning)
                program2, _, _, expected = _tracer.trace_program(func, case, strict=strict, quiet=True)
            diff = _tracer.compare_programs(program, program2)
            if diff:
                _tracer.warn(
                    "Trace had a different graph when the Python function ran on other input values: "
                    f"{diff}. Python control flow or values that depend on tensor data were frozen into the "
                    "trace, so it might not generalize to other inputs!")
            try:
                with pellucid.no_grad():
                    got = traced(*case)
            except Exception as e:      # the other inputs took a path the trace can't replay
                _tracer.warn(f"The trace failed on other input values ({type(e).__name__}: {e}); it might not "
                             "generalize to other inputs!")
                continue
            odiff = _tracer.compare_outputs(expected, got, rtol=max(tolerance, 1e-5) * 10, atol=tolerance)
            if odiff:
                _tracer.warn(
                    f"Output mismatch between the trace and the Python function on other input values: {odiff}. "
                    "A Python value or control flow that depends on the inputs was frozen into the trace, so it "
                    "does not generalize to other inputs!")
    finally:
        _tracer.restore_buffers(snap)
        pellucid.set_rng_state(rng_state)
