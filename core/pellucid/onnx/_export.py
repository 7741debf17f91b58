"""ONNX export: trace the model (in eval mode), then write each pellucid op as ONNX nodes.

Dynamic axes. A trace is a list of ops with concrete shapes; to learn which numbers follow a
dynamic axis, the model is traced once more per axis name with that axis one larger. Values whose
shapes change are dynamic along those dims, each size an affine function `a * S + b` of the axis
size S (read at run time from a graph input's shape). Reshape targets become -1 / 0 / computed
shapes from that; constants the model made with a dynamic shape (an LSTM's zero initial state)
become ConstantOfShape. An op whose other parameters change with the axis, or a graph that changes
structure, can't be exported with that axis dynamic and raises an error naming the op and module.

Constant folding. Values that don't depend on the graph inputs (a weight transposed in forward, a
bias split in three) are computed once by pellucid and stored as initializers.
"""
import os

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ..jit import _tracer
from ..jit._program import Ref, flatten, encode, EncodeError

__all__ = ["export", "OnnxExporterError", "UnsupportedOperatorError"]

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63


class OnnxExporterError(RuntimeError):
    """The model can't be exported as asked."""


class UnsupportedOperatorError(OnnxExporterError):
    """A pellucid op (named, with its module path) has no ONNX mapping."""


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ImportError("pellucid.onnx.export needs the onnx package: pip install onnx (and onnxruntime to "
                          f"run the exported models) ({e})") from None
    return onnx, helper, numpy_helper


_export_depth = [0]


def is_in_onnx_export():
    return _export_depth[0] > 0


# ---- dynamic axes ---------------------------------------------------------------------------------

class DynamicInfo:
    """Which dims of which values follow which dynamic axis, learnt from traces with each axis
    grown by one. dims[vid][axis] = (symbol, a, b): size = a * S + b."""

    def __init__(self, program):
        self.program = program
        self.dims = {}
        self.param_changes = {}     # op index -> [(symbol, description)]
        self.symbol_sources = {}    # symbol -> (graph input name, axis)

    def add(self, symbol, size0, size1, other):
        base = self.program
        diff = _tracer.compare_programs(base, other)
        if diff is not None and (len(base.ops) != len(other.ops) or any(
                a.op != b.op or a.module != b.module for a, b in zip(base.ops, other.ops))):
            raise OnnxExporterError(
                f"ONNX export: the model runs different ops when dynamic axis '{symbol}' changes size ({diff}): its "
                f"control flow depends on that size (Python loops over a tensor, such as the time steps of "
                f"nn.LSTM/GRU/RNN, are unrolled in the trace), so it can't be exported with '{symbol}' dynamic")
        if len(base.values) != len(other.values):
            raise OnnxExporterError(
                f"ONNX export: the model's trace changes when dynamic axis '{symbol}' changes size; it can't be "
                f"exported with '{symbol}' dynamic")
        step = size1 - size0
        for v0, v1 in zip(base.values, other.values):
            if v0.shape == v1.shape:
                continue
            if len(v0.shape) != len(v1.shape):
                where = self._producer(v0.id)
                raise OnnxExporterError(
                    f"ONNX export: the rank of {where} changes with dynamic axis '{symbol}' ({list(v0.shape)} vs "
                    f"{list(v1.shape)}); it can't be exported with '{symbol}' dynamic (a squeeze of a "
                    "size-1 batch? trace with a batch larger than 1)")
            for axis, (d0, d1) in enumerate(zip(v0.shape, v1.shape)):
                if d0 == d1:
                    continue
                a, rem = divmod(d1 - d0, step)
                b = d0 - a * size0
                if rem or a <= 0:
                    raise OnnxExporterError(
                        f"ONNX export: dim {axis} of {self._producer(v0.id)} is not a multiple of dynamic axis '{symbol}'")
                dims = self.dims.setdefault(v0.id, {})
                if axis in dims and dims[axis][0] != symbol:
                    raise OnnxExporterError(
                        f"ONNX export: dim {axis} of {self._producer(v0.id)} depends on two dynamic axes ('{dims[axis][0]}' "
                        f"and '{symbol}'), which can't be expressed")
                dims[axis] = (symbol, a, b)
        for i, (n0, n1) in enumerate(zip(base.ops, other.ops)):
            s0, s1 = _signature(n0), _signature(n1)
            if s0 != s1:
                self.param_changes.setdefault(i, []).append((symbol, f"{_short(s0)} vs {_short(s1)}"))

    def _producer(self, vid):
        v = self.program.values[vid]
        if v.kind != "op":
            return f"{v.kind} '{self.program.value_name(vid)}'"
        for n in self.program.ops:
            if vid in n.outputs:
                return f"the output of '{n.op}'" + (f" (module '{n.module}')" if n.module else "")
        return f"value {vid}"

    def dim(self, vid, axis):
        return self.dims.get(vid, {}).get(axis)

    def is_dynamic(self, vid):
        return vid in self.dims


def _signature(node):
    try:
        return encode([list(node.args), list(node.params)])
    except EncodeError:
        return repr((node.args, node.params))


def _short(x):
    s = repr(x)
    return s if len(s) < 120 else s[:117] + "..."


def _grow(args, flat_axes, symbol):
    """The example inputs with every axis named `symbol` one larger (its first slice repeated)."""
    from .. import ops
    counter = iter(range(10 ** 9))

    def walk(x):
        if isinstance(x, Tensor):
            k = next(counter)
            for axis in flat_axes.get(k, {}).get(symbol, ()):
                first = ops.narrow(x, axis, 0, 1)
                x = ops.cat([x, first], axis)
            return x
        if type(x) in (tuple, list):
            return type(x)(walk(y) for y in x)
        if type(x) is dict:
            return {k: walk(v) for k, v in x.items()}
        return x
    return tuple(walk(a) for a in args)


# ---- the graph under construction ----------------------------------------------------------------

class GraphBuilder:
    def __init__(self, program, env, consts, dyn, opset, export_params, fold, runtime):
        self.onnx, self.helper, self.numpy_helper = _onnx()
        self.program = program
        self.env = env                  # value id -> pellucid tensor from a replay of the example
        self.consts = consts            # value id -> array of the constants (as captured, before any write)
        self.dyn = dyn
        self.opset = opset
        self.export_params = export_params
        self.fold = fold
        self.runtime = runtime          # value ids computed from the graph inputs at run time
        self.nodes = []
        self.initializers = []
        self.extra_inputs = []          # parameters as graph inputs (export_params=False)
        self.names = {}                 # value id -> ONNX name
        self.used_names = set()
        self.module = ""
        self._consts = {}
        self._sym_sizes = {}
        self.counter = 0

    # ---- names
    def fresh(self, hint):
        hint = hint.replace(" ", "_")
        name = hint
        k = 1
        while name in self.used_names:
            name = f"{hint}_{k}"
            k += 1
        self.used_names.add(name)
        return name

    def _prefix(self):
        return "/" + self.module.replace(".", "/") + "/" if self.module else "/"

    # ---- nodes and constants
    def node(self, op_type, inputs, n_out=1, **attrs):
        self.counter += 1
        base = f"{self._prefix()}{op_type}_{self.counter}"
        outs = [self.fresh(f"{base}_output_{i}") for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=base, **attrs))
        return outs

    def op(self, op_type, *inputs, **attrs):
        return self.node(op_type, inputs, 1, **attrs)[0]

    def const(self, array, hint="const"):
        arr = np.asarray(array)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            hit = self._consts.get(key)
            if hit is not None:
                return hit
        name = self.fresh(hint)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        if key is not None:
            self._consts[key] = name
        return name

    def scalar(self, value, dtype):
        return self.const(np.array(value, dtype=np.dtype(dtype)), "scalar")

    def ints(self, values):
        return self.const(np.array(list(values), dtype=np.int64), "ints")

    def cast(self, name, from_dtype, to_dtype):
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.op("Cast", name, to=self.tensor_type(to_dtype))

    def tensor_type(self, dtype):
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    # ---- program values
    def value(self, vid):
        name = self.names.get(vid)
        if name is not None:
            return name
        v = self.program.values[vid]
        if v.kind in ("param", "buffer"):
            arr = _backend.to_numpy(self.env[vid]._data)
            if self.export_params:
                name = self.fresh(v.name)
                self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
            else:
                name = self.fresh(v.name)
                self.extra_inputs.append(self.helper.make_tensor_value_info(
                    name, self.tensor_type(arr.dtype), list(arr.shape)))
        elif v.kind == "const" and self.dyn.is_dynamic(vid):
            name = self._dynamic_constant(vid)
        elif v.kind == "const":
            name = self.const(_backend.to_numpy(self.consts[vid]), "const")
        elif v.kind == "op" and vid not in self.runtime:
            name = self.const(_backend.to_numpy(self.env[vid]._data), f"{self._prefix()[1:]}folded")
        else:
            producer = next((n for n in self.program.ops if vid in n.outputs), None)
            what = f"'{producer.op}'" + (f" (module '{producer.module}')" if producer and producer.module else "")
            raise UnsupportedOperatorError(
                f"ONNX export: output {producer.outputs.index(vid) if producer else '?'} of op {what} has no ONNX "
                "mapping")
        self.names[vid] = name
        return name

    def raw(self, ref):
        """The ONNX name for a raw-array parameter (RawRef), cast and reshaped as the model did."""
        name = self.value(ref.id)
        v = self.program.values[ref.id]
        if ref.dtype is not None and ref.dtype != v.dtype:
            name = self.cast(name, v.dtype, ref.dtype)
        if ref.shape is not None and tuple(ref.shape) != v.shape:
            name = self.reshape(name, ref.id, list(ref.shape), None)
        return name

    def _dynamic_constant(self, vid):
        arr = _backend.to_numpy(self.consts[vid])
        flat = arr.reshape(-1)
        if flat.size == 0 or not np.all(flat == flat[0]):
            raise OnnxExporterError(
                f"ONNX export: a constant tensor the model creates with a shape that follows a dynamic axis ({list(arr.shape)}) "
                "holds varying values; only constants of one repeated value (zeros, ones, full) can take a dynamic "
                "shape")
        dims = [self.dyn.dim(vid, i) or d for i, d in enumerate(arr.shape)]
        shape = self.shape_tensor(dims)
        value = self.numpy_helper.from_array(np.array([flat[0]], dtype=arr.dtype), "value")
        return self.op("ConstantOfShape", shape, value=value)

    # ---- dynamic sizes
    def sym_size(self, symbol):
        """A 1-D int64 tensor [S] for the size of dynamic axis `symbol`."""
        hit = self._sym_sizes.get(symbol)
        if hit is None:
            input_name, axis = self.dyn.symbol_sources[symbol]
            shape = self.op("Shape", input_name)
            hit = self.op("Gather", shape, self.ints([axis]), axis=0)
            self._sym_sizes[symbol] = hit
        return hit

    def dim_tensor(self, d):
        if isinstance(d, int):
            return self.ints([d])
        symbol, a, b = d
        out = self.sym_size(symbol)
        if a != 1:
            out = self.op("Mul", out, self.ints([a]))
        if b != 0:
            out = self.op("Add", out, self.ints([b]))
        return out

    def shape_tensor(self, dims):
        if all(isinstance(d, int) for d in dims):
            return self.ints(dims)
        parts, run = [], []
        for d in dims:
            if isinstance(d, int):
                run.append(d)
                continue
            if run:
                parts.append(self.ints(run))
                run = []
            parts.append(self.dim_tensor(d))
        if run:
            parts.append(self.ints(run))
        return parts[0] if len(parts) == 1 else self.op("Concat", *parts, axis=0)

    def dims_of(self, vid, shape=None):
        """Each dim of a value: an int, or (symbol, a, b) where it follows a dynamic axis."""
        shape = self.program.values[vid].shape if shape is None else shape
        return [self.dyn.dim(vid, i) or d for i, d in enumerate(shape)]

    def reshape(self, name, in_vid, out_shape, out_vid):
        """Reshape to `out_shape` (that of `out_vid` where given): dims following a dynamic axis
        become 0 (same as the input's dim), -1 (the one left) or computed sizes."""
        out_dims = self.dims_of(out_vid) if out_vid is not None else list(out_shape)
        dynamic = [i for i, d in enumerate(out_dims) if not isinstance(d, int)]
        if not dynamic:
            return self.op("Reshape", name, self.ints(out_dims))
        in_dims = self.dims_of(in_vid)
        target = []
        left = []
        for i, d in enumerate(out_dims):
            if isinstance(d, int):
                target.append(d)
            elif i < len(in_dims) and in_dims[i] == d:
                target.append(0)
            else:
                target.append(None)
                left.append(i)
        if len(left) <= 1 and 0 not in [d for d in out_dims if isinstance(d, int)]:
            return self.op("Reshape", name, self.ints([-1 if t is None else t for t in target]))
        return self.op("Reshape", name, self.shape_tensor(out_dims))


# ---- the export --------------------------------------------------------------------------------

def _normalize_dynamic_axes(dynamic_axes, names):
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(
                f"onnx.export: dynamic_axes names '{name}', which is not an input or output name "
                f"(inputs and outputs: {sorted(names)})")
        if isinstance(axes, dict):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        elif isinstance(axes, (list, tuple)):
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        else:
            raise TypeError(f"onnx.export: dynamic_axes['{name}'] must be a dict or a list of axes")
    return out


def _check_aliasing(program):
    """ONNX values never share memory: refuse a trace where an in-place op changed a tensor that
    another value still read later views (a slice written in place, then its base used)."""
    parent = {}

    def find(v):
        while parent.get(v, v) != v:
            v = parent[v]
        return v

    def union(a, b):
        parent[find(a)] = find(b)
    for node in program.ops:
        if (node.alias or node.inplace) and node.args and type(node.args[0]) is Ref:
            for o in node.outputs:
                union(o, node.args[0].id)
    readers = {}
    for i, node in enumerate(program.ops):
        for vid in node.refs():
            readers.setdefault(vid, []).append(i)
    outputs = {r.id for r in flatten(program.outputs) if type(r) is Ref}
    groups = {}
    for v in program.values:
        groups.setdefault(find(v.id), []).append(v.id)
    for i, node in enumerate(program.ops):
        if not node.inplace or type(node.args[0]) is not Ref:
            continue
        target = node.args[0].id
        for other in groups[find(target)]:
            if other == target or other in node.outputs:
                continue
            if other in outputs or any(j > i for j in readers.get(other, ())):
                where = f" (module '{node.module}')" if node.module else ""
                raise OnnxExporterError(
                    f"ONNX export: op '{node.op}_'{where} changes a tensor in place while another tensor that shares "
                    f"its memory ({program.value_name(other)}) is read afterwards; ONNX values can't share memory. "
                    "Write the update out of place (y = x.op(...)) instead.")


def _runtime_values(program, dyn, export_params):
    """Value ids whose data depend on the graph inputs (or on parameters, when they are inputs)."""
    live = set()
    for v in program.values:
        if v.kind == "input" or (v.kind in ("param", "buffer") and not export_params) or \
                (v.kind == "const" and dyn.is_dynamic(v.id)):
            live.add(v.id)
    for n in program.ops:
        if any(r in live for r in n.refs()):
            live.update(n.outputs)
    return live


def export(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
           output_names=None, operator_export_type=None, opset_version=None, do_constant_folding=True,
           dynamic_axes=None, keep_initializers_as_inputs=None, custom_opsets=None,
           export_modules_as_functions=False, autograd_inlining=True, dynamo=False, **kwargs):
    """Export `model` (a Module or function) run on `args` to the ONNX file `f` (a path or a
    binary file object), with PyTorch's signature. The model runs in eval mode (BatchNorm uses
    its running statistics, Dropout disappears); its ops are written as ONNX ops of
    `opset_version` (default 17) and the result passes `onnx.checker.check_model`. An op with no
    ONNX mapping raises UnsupportedOperatorError naming the op and the module it ran in.
    Returns the ONNX ModelProto."""
    from ..nn.modules.module import Module
    from . import _symbolic
    onnx, helper, numpy_helper = _onnx()
    if kwargs:
        raise TypeError(f"onnx.export: unexpected keyword arguments {sorted(kwargs)}")
    if dynamo:
        raise ValueError("onnx.export: dynamo=True is not supported; pellucid exports from a trace")
    opset = 17 if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not 13 <= opset <= newest:
        raise ValueError(f"onnx.export: opset_version must be between 13 and {newest} (the installed onnx "
                         f"package's newest), got {opset}")
    if training not in (None, False) and str(training).upper().split(".")[-1] not in ("EVAL", "FALSE"):
        raise ValueError("onnx.export: only eval-mode export is supported (training=TrainingMode.EVAL)")
    args = _tracer.as_args(args)
    if args and isinstance(args[-1], dict):
        if args[-1]:
            raise ValueError("onnx.export: keyword inputs (a trailing dict in args) are not supported")
        args = args[:-1]
    was_training = model.training if isinstance(model, Module) else None
    _export_depth[0] += 1
    try:
        if was_training:
            model.eval()
        proto = _export(model, args, opset, export_params, input_names, output_names, do_constant_folding,
                        dynamic_axes, keep_initializers_as_inputs, _symbolic)
    finally:
        _export_depth[0] -= 1
        if was_training:
            model.train(True)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if isinstance(f, (str, bytes, os.PathLike)):
        from ..serialization import _atomic_write
        _atomic_write(f, lambda fh: fh.write(data))
    elif hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"onnx.export: f must be a path or a binary file object, got {type(f).__name__}")
    if verbose:
        print(_describe(proto))
    return proto


def _export(model, args, opset, export_params, input_names, output_names, fold, dynamic_axes,
            keep_initializers_as_inputs, symbolic):
    onnx, helper, numpy_helper = _onnx()
    program, state, consts, _ = _tracer.trace_program(model, args, strict=False)
    _check_aliasing(program)
    in_ids = program.input_ids
    default_in = [program.values[i].name for i in in_ids]
    input_names = list(input_names or [])
    if len(input_names) > len(in_ids):
        raise ValueError(f"onnx.export: {len(input_names)} input_names given for {len(in_ids)} tensor inputs")
    in_names = input_names + default_in[len(input_names):]
    out_refs = [r for r in flatten(program.outputs) if type(r) is Ref]
    if not out_refs:
        raise OnnxExporterError("onnx.export: the model returned no tensors")
    output_names = list(output_names or [])
    if len(output_names) > len(out_refs):
        raise ValueError(f"onnx.export: {len(output_names)} output_names given for {len(out_refs)} tensor outputs")
    default_out = ["output"] if len(out_refs) == 1 else [f"output_{i}" for i in range(len(out_refs))]
    out_names = output_names + default_out[len(output_names):]
    if len(set(in_names) | set(out_names)) != len(in_names) + len(out_names):
        raise ValueError(f"onnx.export: input and output names must be unique, got {in_names} and {out_names}")
    axes = _normalize_dynamic_axes(dynamic_axes, set(in_names) | set(out_names))

    if axes and getattr(model, "_program", None) is not None:
        raise OnnxExporterError(
            "ONNX export: a traced program (TracedModule) is specialised to the shapes it was traced with, so it "
            "can't be exported with dynamic_axes; export the original model, or trace it with the shapes you need")
    dyn = DynamicInfo(program)
    symbols = {}
    for k, name in enumerate(in_names):
        for axis, sym in axes.get(name, {}).items():
            shape = program.values[in_ids[k]].shape
            if not -len(shape) <= axis < len(shape):
                raise ValueError(f"onnx.export: dynamic axis {axis} of input '{name}' is out of range for its "
                                 f"shape {list(shape)}")
            axis %= len(shape)
            symbols.setdefault(sym, []).append((k, axis))
            dyn.symbol_sources.setdefault(sym, (name, axis))
    for sym, where in symbols.items():
        sizes = {program.values[in_ids[k]].shape[a] for k, a in where}
        if len(sizes) != 1:
            raise ValueError(f"onnx.export: the inputs' axes named '{sym}' have different sizes {sorted(sizes)}")
        size0 = sizes.pop()
        flat_axes = {}
        for k, a in where:
            flat_axes.setdefault(k, {}).setdefault(sym, []).append(a)
        grown = _grow(args, flat_axes, sym)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _tracer.TracerWarning)
            other, _, _, _ = _tracer.trace_program(model, grown, strict=False, quiet=True)
        dyn.add(sym, size0, size0 + 1, other)

    # replay once to have every intermediate value (for folding and dynamic constants)
    from .._tensor import Tensor as T
    flat_args = list(_flat_tensors(args))
    first = flat_args[0] if flat_args else next(iter(state.values()), None)
    device = _backend.device_of(first._data) if first is not None else _backend.CPU
    full_state = dict(state)
    full_state.update({vid: T._make(arr) for vid, arr in consts.items()})
    env = []
    from .._grad_mode import no_grad
    with no_grad():
        program.run(flat_args, full_state, device, env_out=env)
    runtime = _runtime_values(program, dyn, export_params)
    g = GraphBuilder(program, env, consts, dyn, opset, export_params, fold, runtime)
    graph_inputs = []
    for k, (vid, name) in enumerate(zip(in_ids, in_names)):
        g.used_names.add(name)
        g.names[vid] = name
        v = program.values[vid]
        dims = [axes.get(name, {}).get(a, d) for a, d in enumerate(v.shape)]
        graph_inputs.append(helper.make_tensor_value_info(name, g.tensor_type(v.dtype), dims))
    for name in out_names:
        g.used_names.add(name)

    for i, node in enumerate(program.ops):
        if fold and not any(o in runtime for o in node.outputs):
            continue
        changes = dyn.param_changes.get(i)
        handler = symbolic.MAPPINGS.get(node.op)
        if handler is None:
            raise UnsupportedOperatorError(
                f"ONNX export: op '{node.op}'" + (f" (module '{node.module}')" if node.module else " (top level)")
                + " has no ONNX mapping")
        if changes and not getattr(handler, "dynamic_params", False):
            sym, what = changes[0]
            raise OnnxExporterError(
                f"ONNX export: op '{node.op}'" + (f" (module '{node.module}')" if node.module else "")
                + f" has arguments that change with dynamic axis '{sym}' ({what}); it can't be exported with "
                "that axis dynamic")
        g.module = node.module
        handler(g, symbolic.Emit(g, node, i, changes))
    g.module = ""

    graph_outputs = []
    for k, (ref, name) in enumerate(zip(out_refs, out_names)):
        src = g.value(ref.id)
        produced = any(src in n.output for n in g.nodes)
        if produced and not _used_as_output_twice(out_refs, ref):
            _rename(g.nodes, src, name)
            for vid, nm in list(g.names.items()):
                if nm == src:
                    g.names[vid] = name
        else:
            g.nodes.append(helper.make_node("Identity", [src], [name], name=f"/Identity_{name}"))
        v = program.values[ref.id]
        declared = axes.get(name, {})
        dims = []
        for a, d in enumerate(v.shape):
            dd = dyn.dim(ref.id, a)
            if a in declared:
                dims.append(declared[a])
            elif dd is not None:
                dims.append(dd[0] if dd[1:] == (1, 0) else f"{name}_dim_{a}")
            else:
                dims.append(d)
        graph_outputs.append(helper.make_tensor_value_info(name, g.tensor_type(v.dtype), dims))
    inputs = graph_inputs + g.extra_inputs
    if keep_initializers_as_inputs:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in g.initializers]
    graph = helper.make_graph(g.nodes, program.name or "main_graph", inputs, graph_outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="pellucid", producer_version=_version())
    proto.ir_version = min(proto.ir_version, _max_ir_version(opset))
    return proto


def _describe(proto):
    """The graph as text, with initializers listed by name and shape instead of their values."""
    onnx, helper, _ = _onnx()
    graph = onnx.GraphProto()
    graph.CopyFrom(proto.graph)
    del graph.initializer[:]
    printer = getattr(onnx, "printer", None)
    text = printer.to_text(graph) if printer is not None else helper.printable_graph(graph)
    inits = [f"  {t.name}: {helper.tensor_dtype_to_np_dtype(t.data_type).name}{list(t.dims)}"
             for t in proto.graph.initializer]
    return text + ("\ninitializers:\n" + "\n".join(inits) if inits else "")


def _used_as_output_twice(out_refs, ref):
    return sum(1 for r in out_refs if r.id == ref.id) > 1


def _rename(nodes, old, new):
    for n in nodes:
        for i, x in enumerate(n.input):
            if x == old:
                n.input[i] = new
        for i, x in enumerate(n.output):
            if x == old:
                n.output[i] = new


def _flat_tensors(args):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif type(a) in (tuple, list):
            yield from _flat_tensors(a)
        elif type(a) is dict:
            yield from _flat_tensors(tuple(a.values()))


def _version():
    import pellucid
    return pellucid.__version__


def _max_ir_version(opset):
    """The newest IR version runtimes that know `opset` accept (ONNX's published table)."""
    table = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, 24: 11}
    return table.get(opset, 11)

