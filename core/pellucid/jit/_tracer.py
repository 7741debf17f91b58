"""Tracing: run a model once under a dispatch listener and keep every op it ran as a program.

The listener numbers every tensor it sees: graph inputs, the model's parameters and buffers
(named as in its state_dict), op outputs, and constants: tensors the model made outside any op
(`torch.zeros(...)` in forward) and raw arrays handed to an op as a parameter (index arrays,
batch-norm running statistics, dropout masks). A raw array is matched to the value it came from
when it is that value's data, a reshape of it, or (for index data) a cast of it; only otherwise
is it frozen as a constant.

While tracing, the conversions that turn tensor data into Python values (`bool()`, `.item()`,
`.tolist()`, `int()`, `float()`, `.numpy()`, using a tensor as an index) warn with a
`TracerWarning` when the tensor was computed from the inputs: the trace keeps the Python value
they produced as a constant, so control flow and arithmetic built on it don't follow new inputs.
"""
import itertools
import threading
import types
import warnings

import numpy as np

from .. import _backend, _dispatch
from .._grad_mode import no_grad
from .._source import describe_location, user_frame
from .._tensor import Tensor
from ._program import Program, Value, OpNode, Ref, RawRef, XP, RNG, flatten_refs, encode, EncodeError

__all__ = ["TracerWarning"]


class TracerWarning(Warning):
    """A trace may not generalise to other inputs (PyTorch's torch.jit.TracerWarning)."""


_serials = itertools.count()
_local = threading.local()


def _active():
    return getattr(_local, "tracer", None)


# ---- data-dependent conversions -------------------------------------------------------------------

_CONVERSIONS = {
    "__bool__": "a Python boolean",
    "item": "a Python number",
    "tolist": "a Python list",
    "__int__": "a Python integer",
    "__float__": "a Python float",
    "__index__": "a Python index",
    "__complex__": "a Python complex number",
    "numpy": "a NumPy array",
    "__array__": "a NumPy array",
}
_patch_lock = threading.Lock()
_patch_users = [0]
_originals = {}


def _make_hook(name, what, original):
    def hook(self, *args, **kwargs):
        tracer = _active()
        if tracer is not None and not getattr(_local, "converting", False):
            tracer.converted(self, what)
            _local.converting = True
            try:
                return original(self, *args, **kwargs)
            finally:
                _local.converting = False
        return original(self, *args, **kwargs)
    hook.__name__ = name
    hook.__qualname__ = "Tensor." + name
    hook.__doc__ = original.__doc__
    return hook


def _make_birth_hook(original):
    make = original.__func__

    def _make(cls, data):
        t = make(cls, data)
        tracer = _active()
        if tracer is not None:
            tracer.born(t, data)
        return t
    return classmethod(_make)


def _install_hooks():
    with _patch_lock:
        _patch_users[0] += 1
        if _patch_users[0] > 1:
            return
        for name, what in _CONVERSIONS.items():
            original = Tensor.__dict__[name]
            _originals[name] = original
            setattr(Tensor, name, _make_hook(name, what, original))
        # every tensor creation (zeros, tensor, from_numpy, ...) ends in Tensor._make: remember what a new
        # tensor held when it was made, in case an in-place op changes it before any op reads it
        _originals["_make"] = Tensor.__dict__["_make"]
        Tensor._make = _make_birth_hook(_originals["_make"])


def _remove_hooks():
    with _patch_lock:
        _patch_users[0] -= 1
        if _patch_users[0] > 0:
            return
        for name, original in _originals.items():
            setattr(Tensor, name, original)
        _originals.clear()


# ---- the listener ---------------------------------------------------------------------------------

def _ptr(arr):
    if type(arr) is np.ndarray:
        return arr.__array_interface__["data"][0]
    return arr.data.ptr


def _is_array(x):
    return type(x) is np.ndarray or (hasattr(x, "__cuda_array_interface__") and not isinstance(x, Tensor))


def _is_rng(x):
    return isinstance(x, np.random.Generator) or type(x).__module__.startswith("cupy.random")


def _module_path():
    from ..nn.modules._call_stack import current_module_path
    return current_module_path()


class _Tracer:
    def __init__(self, quiet=False):
        self.serial = next(_serials)
        self.thread = threading.get_ident()
        self.quiet = quiet
        self.values = []
        self.ops = []
        self.arrays = {}       # id(array) -> value id (the newest value holding it)
        self.by_ptr = {}       # (data pointer, size, dtype) of C-contiguous arrays -> value id
        self.keep = []         # tensors and arrays kept alive so their ids stay unique
        self.data = []         # value id -> the array it was seen with
        self.consts = {}       # value id -> array (a copy taken when first seen)
        self.state = {}        # value id -> the model's parameter / buffer tensor
        self.param_ids = {}    # id(parameter or buffer) -> value id
        self.warned = []
        self.births = {}       # id(tensor) -> (tensor, copy of the data it was made with)

    # ---- values
    def _new(self, kind, data, name=None, dependent=False):
        vid = len(self.values)
        v = Value(vid, kind, name, data.shape, data.dtype.name, dependent)
        self.values.append(v)
        self.data.append(data)
        self._map_array(data, vid)
        return v

    def _map_array(self, data, vid):
        self.keep.append(data)
        self.arrays[id(data)] = vid
        if data.flags.c_contiguous:
            self.by_ptr[(_ptr(data), data.size, data.dtype.str)] = vid

    def _tag(self, t, vid):
        t.__dict__["_jit_value"] = (self.serial, vid)
        self.keep.append(t)

    def add_input(self, t, name):
        v = self._new("input", t._data, name, dependent=True)
        self._tag(t, v.id)
        return v.id

    def add_state(self, t, name, kind, persistent=True):
        v = self._new(kind, t._data, name)
        v.requires_grad = bool(t._requires_grad)
        v.persistent = persistent
        self.state[v.id] = t
        self.param_ids[id(t)] = v.id
        self._tag(t, v.id)
        return v.id

    def born(self, t, data):
        if threading.get_ident() == self.thread and id(data) not in self.arrays:
            self.births[id(t)] = (t, data.copy())

    def value_of(self, t, before_inplace=False):
        tag = t.__dict__.get("_jit_value")
        if tag is not None and tag[0] == self.serial:
            return tag[1]
        vid = self.param_ids.get(id(t))
        if vid is not None and self.state[vid] is t:
            return vid
        vid = self.arrays.get(id(t._data))      # same data under a new tensor (.data, detach())
        if vid is not None:
            self._tag(t, vid)
            return vid
        data = t._data.copy()
        if before_inplace:
            birth = self.births.get(id(t))
            if birth is not None and birth[0] is t and birth[1].shape == t._data.shape:
                data = birth[1]
            else:
                self.unknown_before(t)
        v = self._new("const", t._data)
        self.consts[v.id] = data
        self._tag(t, v.id)
        return v.id

    def unknown_before(self, t):
        if self.quiet:
            return
        module = _module_path()
        msg = ("An in-place op changed a tensor that is not an input, parameter or buffer and was not created "
               f"during the trace{f' (in module {module!r})' if module else ''}: the trace keeps its changed "
               "value as a constant. Register it as a buffer (module.register_buffer) so the trace follows it.")
        src = user_frame()
        if src:
            warnings.warn_explicit(msg, TracerWarning, src[0], src[1])
        else:
            warnings.warn(msg, TracerWarning, stacklevel=3)

    def raw_ref(self, arr):
        vid = self.arrays.get(id(arr))
        if vid is not None:
            return RawRef(vid)
        if arr.flags.c_contiguous:
            vid = self.by_ptr.get((_ptr(arr), arr.size, arr.dtype.str))
            if vid is not None:
                return RawRef(vid, shape=None if tuple(arr.shape) == self.values[vid].shape else arr.shape)
        if arr.dtype.kind in "iub" and arr.size > 1:
            # index data the model cast from an input (an int32 index made int64)
            for v in reversed(self.values):
                if v.dependent and v.dtype != arr.dtype.name and int(np.prod(v.shape)) == arr.size:
                    if _same_values(self.data[v.id], arr):
                        return RawRef(v.id, dtype=arr.dtype.name,
                                      shape=None if tuple(arr.shape) == v.shape else arr.shape)
        v = self._new("const", arr)
        self.consts[v.id] = arr.copy()
        return RawRef(v.id)

    def convert_params(self, obj):
        """Op parameters with tensors and arrays replaced by references."""
        if isinstance(obj, Tensor):
            return Ref(self.value_of(obj))
        t = type(obj)
        if t is tuple or t is list:
            return t(self.convert_params(x) for x in obj)
        if t is dict:
            return {k: self.convert_params(v) for k, v in obj.items()}
        if t is slice:
            return slice(self.convert_params(obj.start), self.convert_params(obj.stop),
                         self.convert_params(obj.step))
        if _is_array(obj):
            return self.raw_ref(obj)
        if isinstance(obj, types.ModuleType) and obj.__name__ in ("numpy", "cupy"):
            return XP
        if _is_rng(obj):
            return RNG
        from ..ops._indexing import Key
        if t is Key:
            return Key(self.convert_params(obj.basic), self.convert_params(obj.adv), obj.unique)
        return obj

    # ---- listener interface
    def on_op(self, op, args, params, result, node, elapsed):
        if threading.get_ident() != self.thread:
            return
        inplace = not op.multi_output and bool(args) and result is args[0]
        enc_args = [Ref(self.value_of(a, before_inplace=inplace and i == 0)) if isinstance(a, Tensor) else a
                    for i, a in enumerate(args)]
        enc_params = self.convert_params(params)
        probe = OpNode(op.name, enc_args, enc_params, (), "", inplace)
        dependent = any(self.values[i].dependent for i in probe.refs())
        outs = result if op.multi_output else (result,)
        out_ids = []
        for o in outs:
            v = self._new("op", o._data, dependent=dependent)
            self._tag(o, v.id)
            out_ids.append(v.id)
        alias = not inplace and any(isinstance(o, Tensor) and o._base is not None for o in outs)
        self.ops.append(OpNode(op.name, enc_args, enc_params, out_ids, _module_path(), inplace, alias))

    def on_backward(self, *args):
        pass

    def converted(self, t, what):
        if self.quiet or threading.get_ident() != self.thread:
            return
        tag = t.__dict__.get("_jit_value")
        if tag is None or tag[0] != self.serial or not self.values[tag[1]].dependent:
            return
        src = user_frame()
        where = f" (at {describe_location(src)}, in {src[2]})" if src else ""
        module = _module_path()
        inside = f" in module '{module}'" if module else ""
        msg = (f"Converting a tensor to {what}{inside} might cause the trace to be incorrect. We can't record "
               "the data flow of Python values, so this value will be treated as a constant in the future. "
               f"This means that the trace might not generalize to other inputs!{where}")
        self.warned.append(msg)
        if src:
            warnings.warn_explicit(msg, TracerWarning, src[0], src[1])
        else:
            warnings.warn(msg, TracerWarning, stacklevel=3)


def _same_values(src, arr):
    a = _backend.to_numpy(src).reshape(-1)
    b = _backend.to_numpy(arr).reshape(-1)
    with np.errstate(all="ignore"):
        return bool(np.array_equal(a.astype(b.dtype), b)) and bool(np.array_equal(a, b.astype(a.dtype)))


# ---- tracing a callable -------------------------------------------------------------------------

def input_names(fn, n):
    """Argument names of `fn` for n positional inputs (PyTorch names graph inputs after them)."""
    import inspect
    program_names = getattr(fn, "_input_names", None)      # a TracedModule: the names it was traced with
    if program_names is not None:
        names = program_names()
        return [names[i] if i < len(names) else f"input_{i}" for i in range(n)]
    target = fn.forward if hasattr(fn, "forward") and not isinstance(fn, types.FunctionType) else fn
    names = []
    try:
        for p in inspect.signature(target).parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                names.append(p.name)
            elif p.kind is p.VAR_POSITIONAL:
                break
    except (TypeError, ValueError):
        pass
    return [names[i] if i < len(names) else f"input_{i}" for i in range(n)]


def as_args(example_inputs):
    """Positional arguments, as torch.jit.trace reads `example_inputs`: a tensor or dict is the one
    argument; a tuple (or list) holds the arguments."""
    if isinstance(example_inputs, (Tensor, dict)):
        return (example_inputs,)
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs)
    return (example_inputs,)


def _input_structure(tracer, arg, name, seen):
    if isinstance(arg, Tensor):
        if id(arg) in seen:
            return Ref(seen[id(arg)])
        vid = tracer.add_input(arg, name)
        seen[id(arg)] = vid
        return Ref(vid)
    t = type(arg)
    if t in (tuple, list):
        return t(_input_structure(tracer, x, f"{name}_{i}", seen) for i, x in enumerate(arg))
    if t is dict:
        return {k: _input_structure(tracer, v, f"{name}_{k}", seen) for k, v in arg.items()}
    raise TypeError(
        f"jit.trace: type '{type(arg).__name__}' cannot be traced (input '{name}'). Only tensors and (possibly "
        "nested) lists, dicts and tuples of tensors can be inputs of a trace; bind other arguments with a "
        "wrapper function or module.")


def _output_structure(tracer, out, strict, where="output"):
    if isinstance(out, Tensor):
        return Ref(tracer.value_of(out))
    t = type(out)
    if t in (tuple, list, dict) and strict and t is not tuple:
        raise RuntimeError(
            f"jit.trace: encountering a {t.__name__} at the {where} of the tracer might cause the trace to "
            "be incorrect, this is only valid if the container structure does not change based on the "
            "module's inputs. Consider using a constant container instead (e.g. for `list`, use a `tuple` "
            "instead; for `dict`, use a `NamedTuple` instead). If you absolutely need this and know the side "
            "effects, pass strict=False to trace() to allow this behavior.")
    if t in (tuple, list):
        return t(_output_structure(tracer, x, strict, f"{where}[{i}]") for i, x in enumerate(out))
    if t is dict:
        return {k: _output_structure(tracer, v, strict, f"{where}[{k!r}]") for k, v in out.items()}
    if hasattr(out, "_fields") and isinstance(out, tuple):
        return tuple(_output_structure(tracer, x, strict, f"{where}[{i}]") for i, x in enumerate(out))
    if out is None or type(out) in (bool, int, float, str):
        return out
    raise RuntimeError(
        f"jit.trace: the traced function returned a {type(out).__name__} at {where}; only tensors, Python "
        "scalars, None and tuples/lists/dicts of them can be outputs of a trace")


def _buffer_persistence(module):
    """{qualified buffer name: persistent}."""
    out = {}
    for prefix, m in module.named_modules():
        for name in m._buffers:
            if m._buffers[name] is not None:
                out[(prefix + "." if prefix else "") + name] = name not in m._non_persistent_buffers_set
    return out


def _eliminate_dead_ops(ops, outputs):
    used = {r.id for r in flatten_refs(outputs)}
    kept = []
    for node in reversed(ops):
        if node.inplace or any(o in used for o in node.outputs):
            kept.append(node)
            used.update(node.refs())
    kept.reverse()
    return kept, used


def trace_program(fn, args, strict=True, quiet=False):
    """Run fn(*args) once, recording every op. Returns (program, state, consts, eager output)."""
    from ..nn.modules.module import Module
    tracer = _Tracer(quiet=quiet)
    names = input_names(fn, len(args))
    seen = {}
    inputs = tuple(_input_structure(tracer, a, n, seen) for a, n in zip(args, names))
    modules = []
    if isinstance(fn, Module):
        persistent = _buffer_persistence(fn)
        for name, p in fn.named_parameters():
            tracer.add_state(p, name, "param")
        for name, b in fn.named_buffers():
            tracer.add_state(b, name, "buffer", persistent.get(name, True))
        modules = [(path, type(m).__name__) for path, m in fn.named_modules()]
    else:
        modules = [("", getattr(fn, "__name__", type(fn).__name__))]
    outer = _active()
    _local.tracer = tracer
    _install_hooks()
    _dispatch.add_listener(tracer)
    try:
        with no_grad():
            out = fn(*args)
    finally:
        _dispatch.remove_listener(tracer)
        _remove_hooks()
        _local.tracer = outer
    outputs = _output_structure(tracer, out, strict)
    ops, used = _eliminate_dead_ops(tracer.ops, outputs)
    consts = {vid: arr for vid, arr in tracer.consts.items() if vid in used}
    program = Program(tracer.values, ops, inputs, outputs, modules,
                      name=modules[0][1] if modules else "", training=bool(getattr(fn, "training", False)))
    tracer.keep.clear()
    tracer.data.clear()
    tracer.births.clear()
    return program, tracer.state, consts, out


# ---- checking a trace -----------------------------------------------------------------------------

def perturbed(args, seed=0):
    """Inputs of the same shapes and dtypes with other values: floats redrawn with the same mean
    and spread, integers and booleans shuffled (so indices stay in range)."""
    rng = np.random.default_rng(seed)

    def one(t):
        a = _backend.to_numpy(t._data)
        if a.dtype.kind == "f":
            spread = float(a.std()) if a.size > 1 else 0.0
            spread = spread if spread > 0 else 1.0
            centre = float(a.mean()) if a.size else 0.0
            new = np.asarray(rng.standard_normal(a.shape) * spread + centre).astype(a.dtype)
        else:
            new = rng.permutation(a.reshape(-1)).reshape(a.shape) if a.size else a.copy()
        out = Tensor._make(_backend.move(new, _backend.device_of(t._data)))
        return out

    def walk(x):
        if isinstance(x, Tensor):
            return one(x)
        if type(x) in (tuple, list):
            return type(x)(walk(y) for y in x)
        if type(x) is dict:
            return {k: walk(v) for k, v in x.items()}
        return x
    return tuple(walk(a) for a in args)


def _op_signature(program, node):
    try:
        return (node.op, node.module, encode(list(node.args)), encode(list(node.params)))
    except EncodeError:
        return (node.op, node.module, repr(node.args), repr(node.params))


def _readable(program, node):
    """The op's arguments and parameters as the graph view prints them."""
    from ._program import show
    parts = [show(a, program.value_name) for a in node.args] + [show(p, program.value_name) for p in node.params]
    return "(" + ", ".join(parts) + ")"


def compare_programs(first, second):
    """A sentence on the first difference between two traces, or None."""
    if len(first.ops) != len(second.ops):
        return (f"the first trace has {len(first.ops)} ops and the second {len(second.ops)}")
    for i, (a, b) in enumerate(zip(first.ops, second.ops)):
        sa, sb = _op_signature(first, a), _op_signature(second, b)
        if sa != sb:
            where = f" (module '{a.module}')" if a.module else ""
            if sa[0] != sb[0] or sa[1] != sb[1]:
                return f"op #{i} is '{a.op}'{where} in one trace and '{b.op}' (module '{b.module}') in the other"
            return (f"op #{i} '{a.op}'{where} got different constant arguments or parameters: "
                    f"{_short(_readable(first, a))} and then {_short(_readable(second, b))}")
    return None


def _short(x):
    s = x if isinstance(x, str) else repr(x)
    return s if len(s) < 160 else s[:157] + "..."


def compare_outputs(expected, got, rtol=1e-4, atol=1e-5):
    """A sentence on the first output that differs, or None."""
    e = _tensors_in(expected)
    g = _tensors_in(got)
    if len(e) != len(g):
        return f"the Python function returned {len(e)} tensors and the trace {len(g)}"
    for i, (a, b) in enumerate(zip(e, g)):
        x, y = _backend.to_numpy(a._data), _backend.to_numpy(b._data)
        if x.shape != y.shape:
            return f"output {i} has shape {list(x.shape)} from the Python function and {list(y.shape)} from the trace"
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            tol = max(rtol, 1e-2) if x.dtype == np.float16 else rtol
            ok = np.allclose(x.astype(np.float64), y.astype(np.float64), rtol=tol, atol=atol, equal_nan=True)
        else:
            ok = np.array_equal(x, y)
        if not ok:
            with np.errstate(all="ignore"):
                diff = np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64))) if x.size else 0.0
            return f"output {i} differs (largest absolute difference {diff:.3g})"
    return None


def _tensors_in(x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for y in x for t in _tensors_in(y)]
    if isinstance(x, dict):
        return [t for y in x.values() for t in _tensors_in(y)]
    return []


def warn(msg):
    """A TracerWarning attributed to the user's line that called trace()."""
    src = user_frame()
    if src:
        warnings.warn_explicit(msg, TracerWarning, src[0], src[1])
    else:
        warnings.warn(msg, TracerWarning, stacklevel=3)


def nondeterministic_note(program):
    nodes = program.nondeterministic_ops()
    if not nodes:
        return None
    names = ", ".join(sorted({f"'{n.op}'" + (f" in '{n.module}'" if n.module else "") for n in nodes}))
    extra = " Did you forget to call .eval() on your model?" if any(n.op == "dropout" for n in nodes) else ""
    return (f"Trace had nondeterministic nodes ({names}): dropout masks drawn while tracing are frozen into "
            f"the trace and random ops give new values on every run, so the trace's outputs were not checked "
            f"against the Python function.{extra}")


def snapshot_buffers(state):
    return [(t, t._data.copy()) for t in state.values() if not t._requires_grad]


def restore_buffers(snap):
    for t, data in snap:
        if t._data.shape == data.shape:
            t._data[...] = data
        else:
            t._data = data
