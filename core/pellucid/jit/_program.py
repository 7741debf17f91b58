"""A traced program: a static list of pellucid ops over numbered values.

Values are the graph inputs, the model's parameters and buffers, constants captured while
tracing (tensors the model made outside any op, and raw arrays passed as op parameters), and op
outputs. Each op records its name (a key of `_dispatch.OPS`), its arguments (value references or
Python scalars), its parameters (with tensors and arrays inside them replaced by references), its
output values and the module path it ran in. Running the program replays each op through
`_dispatch.dispatch`, so listeners (the recorder, anomaly mode) and devices work as in eager code.

Parameters are kept as Python objects in memory and turned into tagged JSON (`encode` /
`decode`) only when a program is saved, so the JSON form never has to name a Python class:
decoding knows a fixed list of tags and rejects anything else.
"""
import math

import numpy as np

from .. import _backend, _dispatch, _random
from .. import _dtype as D

__all__ = []


class Ref:
    """A tensor argument: the value with this id."""
    __slots__ = ("id",)

    def __init__(self, vid):
        self.id = vid

    def __eq__(self, other):
        return type(other) is Ref and other.id == self.id

    def __hash__(self):
        return hash(("ref", self.id))

    def __repr__(self):
        return f"%{self.id}"


class RawRef:
    """A raw array parameter (what the op's forward receives directly): the data of value `id`,
    optionally cast to `dtype` and reshaped to `shape` (how the model derived it)."""
    __slots__ = ("id", "dtype", "shape")

    def __init__(self, vid, dtype=None, shape=None):
        self.id = vid
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)

    def __eq__(self, other):
        return (type(other) is RawRef and other.id == self.id and other.dtype == self.dtype
                and other.shape == self.shape)

    def __hash__(self):
        return hash(("raw", self.id, self.dtype, self.shape))

    def __repr__(self):
        return f"%{self.id}"


class _Placeholder:
    """The array module / random generator of the device the program runs on."""
    __slots__ = ("kind",)

    def __init__(self, kind):
        self.kind = kind

    def __repr__(self):
        return "<" + self.kind + ">"


XP = _Placeholder("xp")
RNG = _Placeholder("rng")

# random ops and dropout (its mask is drawn outside the op): outputs differ between runs
NONDETERMINISTIC = {"bernoulli", "bernoulli_inplace_scalar", "bernoulli_inplace_tensor", "bernoulli_scalar",
                    "cauchy", "exponential", "geometric", "log_normal", "multinomial", "normal",
                    "normal_float_float", "normal_float_tensor", "normal_tensor_float", "normal_tensor_tensor",
                    "poisson", "rand", "randint", "randn", "random", "random_from_to", "random_to",
                    "randperm", "uniform", "rrelu_with_noise", "dropout"}


class Value:
    """One value of the program. kind: input, param, buffer, const or op."""
    __slots__ = ("id", "kind", "name", "shape", "dtype", "dependent", "requires_grad", "persistent")

    def __init__(self, vid, kind, name=None, shape=(), dtype="float32", dependent=False):
        self.id = vid
        self.kind = kind
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype            # NumPy dtype name
        self.dependent = dependent    # computed from the graph inputs
        self.requires_grad = False
        self.persistent = True


class OpNode:
    __slots__ = ("op", "args", "params", "outputs", "module", "inplace", "alias", "has_refs")

    def __init__(self, op, args, params, outputs, module, inplace, alias=False):
        self.op = op                  # op name, a key of _dispatch.OPS
        self.args = tuple(args)       # Ref or Python scalar / None
        self.params = tuple(params)   # with Ref / RawRef / XP / RNG inside
        self.outputs = tuple(outputs)
        self.module = module
        self.inplace = inplace
        self.alias = alias            # the outputs are views of the first argument (share its memory)
        self.has_refs = _has_refs(self.params)

    def refs(self):
        """Value ids read by this op (arguments and parameters)."""
        out = [a.id for a in self.args if type(a) is Ref]
        out += [r.id for r in walk_refs(self.params)]
        return out


class Program:
    """values (list indexed by id), ops, the input and output structures (nested Python
    containers with Ref leaves), and the module tree [(path, class name)]."""

    def __init__(self, values, ops, inputs, outputs, modules=(), name="", training=False):
        self.values = values
        self.ops = ops
        self.inputs = inputs          # nested structure of Ref
        self.outputs = outputs        # nested structure of Ref and Python constants
        self.modules = list(modules)
        self.name = name
        self.training = training
        self._prepared = None

    @property
    def input_ids(self):
        return [r.id for r in flatten(self.inputs)]

    def value_name(self, vid):
        v = self.values[vid]
        if v.kind in ("input", "param", "buffer"):
            return v.name
        if v.kind == "const":
            return f"c{vid}"
        return str(vid)

    def nondeterministic_ops(self):
        return [n for n in self.ops if n.op in NONDETERMINISTIC]

    # ---- running -----------------------------------------------------------------------------
    def _prepare(self):
        """Per op: the values whose last reader it is (freed after it runs), and the constants
        that ops modify in place (copied per run so runs don't see each other's writes)."""
        if self._prepared is not None:
            return self._prepared
        keep = {r.id for r in flatten_refs(self.outputs)}
        last = {}
        for i, node in enumerate(self.ops):
            for vid in node.refs():
                last[vid] = i
        frees = [[] for _ in self.ops]
        for vid, i in last.items():
            if vid not in keep and self.values[vid].kind == "op":
                frees[i].append(vid)
        written_consts = {n.args[0].id for n in self.ops if n.inplace and type(n.args[0]) is Ref
                          and self.values[n.args[0].id].kind == "const"}
        ops = []
        for node in self.ops:
            cls = _dispatch.OPS.get(node.op)
            if cls is None:
                raise RuntimeError(f"traced program: op '{node.op}' (module '{node.module}') is not a "
                                   "pellucid op")
            ops.append(cls)
        self._prepared = (ops, frees, written_consts)
        return self._prepared

    def run(self, inputs, state, device, module_scope=None, env_out=None):
        """Replay the ops. `inputs`: flat list of tensors; `state`: value id -> tensor for params,
        buffers and constants (on `device`). Returns the output structure; `env_out`, a list, receives
        every value (none are freed early)."""
        ops, frees, written_consts = self._prepare()
        env = [None] * len(self.values)
        for vid, t in state.items():
            # a copy made outside dispatch: no op of its own shows up in recordings
            env[vid] = _dispatch.Tensor._make(t._data.copy()) if vid in written_consts else t
        for vid, t in zip(self.input_ids, inputs):
            env[vid] = t
        ctx = _RunContext(device)
        before = {}                   # with env_out: what in-place targets held before they were written
        dispatch = _dispatch.dispatch
        dispatch_inplace = _dispatch.dispatch_inplace
        scope = module_scope
        try:
            for i, node in enumerate(self.ops):
                if scope is not None:
                    scope.enter(node.module)
                cls = ops[i]
                args = [env[a.id] if type(a) is Ref else a for a in node.args]
                params = fill(node.params, env, ctx) if node.has_refs else node.params
                if node.inplace:
                    if env_out is not None:
                        before[node.args[0].id] = _dispatch.Tensor._make(args[0]._data.copy())
                    res = dispatch_inplace(cls, args[0], args[1:], params)
                else:
                    res = dispatch(cls, tuple(args), params)
                outs = node.outputs
                if len(outs) == 1 and not cls.multi_output:
                    env[outs[0]] = res
                else:
                    for vid, t in zip(outs, res):
                        env[vid] = t
                if env_out is None:
                    for vid in frees[i]:
                        env[vid] = None
        finally:
            if scope is not None:
                scope.exit()
        if env_out is not None:
            for vid, t in before.items():
                env[vid] = t
            env_out[:] = env
        return rebuild(self.outputs, lambda r: env[r.id])


class _RunContext:
    __slots__ = ("device", "_xp", "_rng")

    def __init__(self, device):
        self.device = device
        self._xp = None
        self._rng = None

    def xp(self):
        if self._xp is None:
            self._xp = _backend.xp_for(self.device)
        return self._xp

    def rng(self):
        if self._rng is None:
            self._rng = _random.rng_for(self.device)[1]
        return self._rng


# ---- walking parameters ---------------------------------------------------------------------------

def _key_cls():
    from ..ops._indexing import Key
    return Key


def _spec_cls():
    from ..nn.functional._normalization import _Spec
    return _Spec


def _has_refs(obj):
    for _ in walk_refs(obj, placeholders=True):
        return True
    return False


def walk_refs(obj, placeholders=False):
    """Every Ref / RawRef (and XP / RNG when asked) inside a parameter structure."""
    t = type(obj)
    if t is Ref or t is RawRef:
        yield obj
    elif t is _Placeholder:
        if placeholders:
            yield obj
    elif t in (tuple, list):
        for x in obj:
            yield from walk_refs(x, placeholders)
    elif t is dict:
        for x in obj.values():
            yield from walk_refs(x, placeholders)
    elif t is slice:
        for x in (obj.start, obj.stop, obj.step):
            yield from walk_refs(x, placeholders)
    elif t is _key_cls():
        yield from walk_refs(obj.basic, placeholders)
        yield from walk_refs(obj.adv, placeholders)


def map_params(obj, fn):
    """A copy of a parameter structure with every Ref / RawRef / placeholder replaced by fn(it);
    containers without references are returned as they are."""
    t = type(obj)
    if t is Ref or t is RawRef or t is _Placeholder:
        return fn(obj)
    if t is tuple or t is list:
        new = [map_params(x, fn) for x in obj]
        if all(a is b for a, b in zip(new, obj)):
            return obj
        return t(new)
    if t is dict:
        return {k: map_params(v, fn) for k, v in obj.items()}
    if t is slice:
        return slice(map_params(obj.start, fn), map_params(obj.stop, fn), map_params(obj.step, fn))
    Key = _key_cls()
    if t is Key:
        basic, adv = map_params(obj.basic, fn), map_params(obj.adv, fn)
        if basic is obj.basic and adv is obj.adv:
            return obj
        return Key(basic, adv, obj.unique)
    return obj


def fill(params, env, ctx):
    def resolve(r):
        if r is XP:
            return ctx.xp()
        if r is RNG:
            return ctx.rng()
        t = env[r.id]
        if type(r) is Ref:
            return t
        arr = t._data
        if r.dtype is not None and arr.dtype.name != r.dtype:
            arr = arr.astype(r.dtype)
        if r.shape is not None and tuple(arr.shape) != r.shape:
            arr = arr.reshape(r.shape)
        return arr
    return map_params(params, resolve)


# ---- nested input / output structures -------------------------------------------------------------

def flatten(structure):
    """Leaves of a nested tuple/list/dict structure, in order."""
    t = type(structure)
    if t in (tuple, list):
        out = []
        for x in structure:
            out += flatten(x)
        return out
    if t is dict:
        out = []
        for x in structure.values():
            out += flatten(x)
        return out
    return [structure]


def flatten_refs(structure):
    return [x for x in flatten(structure) if type(x) is Ref]


def rebuild(structure, leaf):
    t = type(structure)
    if t in (tuple, list):
        return t(rebuild(x, leaf) for x in structure)
    if t is dict:
        return {k: rebuild(v, leaf) for k, v in structure.items()}
    if t is Ref:
        return leaf(structure)
    return structure


# ---- JSON encoding ----------------------------------------------------------------------------------

class EncodeError(TypeError):
    pass


def _float_json(x):
    if math.isfinite(x):
        return x
    return {"$": "float", "v": "nan" if x != x else ("inf" if x > 0 else "-inf")}


def encode(obj, where="a parameter"):
    """Tagged JSON for a parameter structure."""
    if obj is None or obj is True or obj is False:
        return obj
    t = type(obj)
    if t is int or t is str:
        return obj
    if t is float:
        return _float_json(obj)
    if t is Ref:
        return {"$": "v", "id": obj.id}
    if t is RawRef:
        return {"$": "a", "id": obj.id, "dtype": obj.dtype, "shape": None if obj.shape is None else list(obj.shape)}
    if t is _Placeholder:
        return {"$": obj.kind}
    if t is list:
        return [encode(x, where) for x in obj]
    if t is tuple:
        return {"$": "tuple", "v": [encode(x, where) for x in obj]}
    if t is dict:
        return {"$": "dict", "v": [[encode(k, where), encode(v, where)] for k, v in obj.items()]}
    if t is slice:
        return {"$": "slice", "v": [encode(obj.start, where), encode(obj.stop, where), encode(obj.step, where)]}
    if obj is Ellipsis:
        return {"$": "..."}
    if isinstance(obj, D.dtype):
        return {"$": "dtype", "v": obj.name}
    if isinstance(obj, np.dtype):
        return {"$": "np_dtype", "v": obj.name}
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return {"$": "np_type", "v": np.dtype(obj).name}
    if isinstance(obj, _backend.device):
        return {"$": "device", "v": str(obj)}
    if isinstance(obj, np.generic):
        return {"$": "np_scalar", "dtype": obj.dtype.name, "v": encode(obj.item(), where)}
    if isinstance(obj, type) and issubclass(obj, _dispatch.Op) and obj.name in _dispatch.OPS:
        return {"$": "op", "v": obj.name}
    if t is _key_cls():
        return {"$": "index_key", "basic": encode(obj.basic, where), "adv": encode(obj.adv, where),
                "unique": bool(obj.unique)}
    if t is _spec_cls():
        return {"$": "norm_spec", "stats_shape": list(obj.stats_shape), "red": list(obj.red),
                "affine_shape": list(obj.affine_shape), "wb_shape": list(obj.wb_shape), "aligned": bool(obj.aligned)}
    raise EncodeError(f"{where} holds a {t.__module__}.{t.__qualname__}, which a saved program can't store")


_NP_KINDS = "biuf"


def _np_dtype(name):
    if str(name) == "bfloat16":
        return D.BF16
    dt = np.dtype(str(name))
    if dt.kind not in _NP_KINDS:
        raise ValueError(f"dtype {name!r} is not a numeric dtype")
    return dt


def _ints(v):
    if not isinstance(v, list) or not all(type(x) is int for x in v):
        raise ValueError(f"expected a list of ints, got {v!r}")
    return tuple(v)


def decode(node, n_values):
    """The parameter structure for tagged JSON; raises ValueError on anything unknown."""
    if node is None or node is True or node is False:
        return node
    t = type(node)
    if t in (int, float, str):
        return node
    if t is list:
        return [decode(x, n_values) for x in node]
    if t is not dict or "$" not in node:
        raise ValueError(f"malformed entry {str(node)[:80]!r}")
    tag = node["$"]
    if tag == "float":
        return float(node["v"])
    if tag == "v" or tag == "a":
        vid = node["id"]
        if type(vid) is not int or not 0 <= vid < n_values:
            raise ValueError(f"reference to value {vid!r}, which the program doesn't have")
        if tag == "v":
            return Ref(vid)
        dt = node.get("dtype")
        shape = node.get("shape")
        return RawRef(vid, None if dt is None else _np_dtype(dt).name, None if shape is None else _ints(shape))
    if tag == "xp":
        return XP
    if tag == "rng":
        return RNG
    if tag == "tuple":
        return tuple(decode(x, n_values) for x in node["v"])
    if tag == "dict":
        return {decode(k, n_values): decode(v, n_values) for k, v in node["v"]}
    if tag == "slice":
        start, stop, step = (decode(x, n_values) for x in node["v"])
        return slice(start, stop, step)
    if tag == "...":
        return Ellipsis
    if tag == "dtype":
        return D.as_dtype(str(node["v"]))
    if tag == "np_dtype":
        return _np_dtype(node["v"])
    if tag == "np_type":
        return _np_dtype(node["v"]).type
    if tag == "device":
        return _backend.device(str(node["v"]))
    if tag == "np_scalar":
        return _np_dtype(node["dtype"]).type(decode(node["v"], n_values))
    if tag == "op":
        name = node["v"]
        if name not in _dispatch.OPS:
            raise ValueError(f"unknown op {name!r}")
        return _dispatch.OPS[name]
    if tag == "index_key":
        return _key_cls()(decode(node["basic"], n_values), decode(node["adv"], n_values), bool(node["unique"]))
    if tag == "norm_spec":
        return _spec_cls()(_ints(node["stats_shape"]), _ints(node["red"]), _ints(node["affine_shape"]),
                           _ints(node["wb_shape"]), bool(node["aligned"]))
    raise ValueError(f"unknown tag {tag!r}")


# ---- display -----------------------------------------------------------------------------------------

_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def type_str(value):
    name = _SCALAR_NAMES.get(value.dtype, value.dtype)
    return f"{name}({', '.join(map(str, value.shape))})"


def show(obj, name_of):
    """A compact, readable form of an argument or parameter."""
    t = type(obj)
    if t is Ref or t is RawRef:
        s = "%" + name_of(obj.id)
        if t is RawRef and (obj.dtype or obj.shape):
            s += "." + ".".join(x for x in ((f"to({obj.dtype})" if obj.dtype else ""),
                                            (f"reshape{obj.shape}" if obj.shape else "")) if x)
        return s
    if t is tuple:
        inner = ", ".join(show(x, name_of) for x in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if t is list:
        return "[" + ", ".join(show(x, name_of) for x in obj) + "]"
    if t is slice:
        def part(x):
            return "" if x is None else show(x, name_of)
        s = f"{part(obj.start)}:{part(obj.stop)}"
        return s + (f":{part(obj.step)}" if obj.step is not None else "")
    if obj is Ellipsis:
        return "..."
    if t is float:
        return repr(obj)
    if isinstance(obj, (D.dtype, np.dtype)):
        return str(getattr(obj, "name", obj))
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return np.dtype(obj).name
    if isinstance(obj, type) and issubclass(obj, _dispatch.Op):
        return obj.name
    if t is _key_cls():
        parts = []
        if obj.basic is not None:
            parts.append("[" + ", ".join(show(x, name_of) for x in obj.basic) + "]")
        if obj.adv is not None:
            adv = obj.adv if type(obj.adv) is tuple else (obj.adv,)
            parts.append("[" + ", ".join(show(x, name_of) for x in adv) + "]")
        return "".join(parts) or "[...]"
    if t is _spec_cls():
        return (f"spec(stats={obj.stats_shape}, over={obj.red}, affine={obj.affine_shape}, "
                f"weight={obj.wb_shape})")
    if isinstance(obj, np.ndarray):
        return f"array{list(obj.shape)}"
    return repr(obj)


def param_names(op_cls, n_args):
    """Names of an op's parameters, from its forward's signature."""
    import inspect
    try:
        ps = list(inspect.signature(op_cls.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in ps):
        return None
    return [p.name for p in ps[n_args:]]
