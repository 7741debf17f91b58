"""Recording what a computation did, op by op, forward and backward.

`record()` registers a listener on the dispatch point (so it sees every op and every backward
step) for the thread that opened it. Each op becomes a `Step` with its op name, the module
path and user source line that ran it, its input and output tensors (shape, dtype, device),
wall time and, depending on `values`, summaries or full snapshots of the values. Backward steps
say which backward function ran for which forward step and what gradients flowed; every
accumulation into a leaf's `.grad` is a step too.

A training loop under `record()` is split into iterations automatically (a forward op after a
backward pass starts a new one); only the last `keep` iterations are kept, per-iteration scalars
(loss, gradient norms) are kept for all, so memory stays flat however long the loop runs.
"""
from collections import deque, OrderedDict
import functools
import itertools
import threading
import time
import weakref

import numpy as np

from .. import _dispatch
from .._source import source_label, user_frame
from .summary import summarize, nonfinite_count
from . import tripwire

__all__ = ["record", "Recorder", "Step", "TensorInfo", "Iteration"]

_serials = itertools.count()
_last_stopped = None      # weak reference to the most recently stopped recorder (notebook panels read it)
stop_listeners = []       # fn(recorder) called after any recorder stops (the notebook side panel)


def last_recorder():
    """The most recently stopped Recorder that is still alive, or None."""
    ref = _last_stopped
    return ref() if ref is not None else None


def _module_path():
    try:
        from ..nn.modules._call_stack import current_module_path
    except ImportError:  # nn not imported yet
        return ""
    return current_module_path()


def _parse_bytes(b):
    if b is None:
        return None
    if isinstance(b, (int, float)):
        return int(b)
    s = str(b).strip().upper()
    for unit, mult in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)):
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * mult)
    return int(s)


class TensorInfo:
    """What the recording knows of one tensor: a key unique within its iteration, metadata, and
    the summaries of its value and gradient as the recording saw them."""
    __slots__ = ("key", "shape", "dtype", "device", "name", "kind", "requires_grad", "produced_by",
                 "summary", "grad_summary", "grad_step", "scalar")

    def __init__(self, key, t, kind, name):
        d = t._data
        self.key = key
        self.shape = tuple(d.shape)
        self.dtype = d.dtype.name
        self.device = "cpu" if type(d) is np.ndarray else f"cuda:{d.device.id}"
        self.name = name
        self.kind = kind                  # "param", "input" or "intermediate"
        self.requires_grad = bool(t._requires_grad)
        self.produced_by = None           # forward step index
        self.summary = None
        self.grad_summary = None
        self.grad_step = None             # step index at which its gradient arrived
        self.scalar = None

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}


class Step:
    """One forward op, backward function or gradient accumulation."""
    __slots__ = ("index", "phase", "op", "node", "module", "source", "wall", "inputs", "outputs",
                 "params", "forward_step", "grads_in", "grads_out", "nonfinite", "relu_dead")

    def __init__(self, index, phase, op, module, source, wall):
        self.index = index
        self.phase = phase                # "forward", "backward" or "accumulate"
        self.op = op                      # forward op name ("mul"); for backward the forward op's
        self.node = None                  # backward function name ("MulBackward0")
        self.module = module
        self.source = source              # (file, line, function) or None
        self.wall = wall
        self.inputs = ()                  # tensor keys (None for non-tensor arguments)
        self.outputs = ()
        self.params = None
        self.forward_step = None
        self.grads_in = ()                # summaries of gradients flowing into a backward step
        self.grads_out = ()               # [(tensor key, summary)] gradients it produced
        self.nonfinite = 0
        self.relu_dead = None

    def to_dict(self):
        d = {k: getattr(self, k) for k in self.__slots__}
        d["source"] = list(self.source) if self.source else None
        d["inputs"] = list(self.inputs)
        d["outputs"] = list(self.outputs)
        d["grads_out"] = [list(x) for x in self.grads_out]
        d["grads_in"] = list(self.grads_in)
        d["params"] = _jsonable(self.params)
        return d

    def __repr__(self):
        where = f" @ {self.module}" if self.module else ""
        src = f" ({source_label(self.source[0])}:{self.source[1]})" if self.source else ""
        what = self.node if self.phase != "forward" else self.op
        return f"<Step {self.index} {self.phase} {what}{where}{src}>"


def _jsonable(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, (tuple, list)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, np.generic):
        return x.item()
    if hasattr(x, "name") and hasattr(x, "itemsize"):
        return str(getattr(x, "name"))
    return repr(x)


class Iteration:
    """The steps and tensors of one forward/backward pass."""

    def __init__(self, number):
        self.number = number
        self.steps = []
        self.tensors = OrderedDict()       # key -> TensorInfo
        self.snapshots = OrderedDict()     # tensor key -> host array copy (values="full")
        self.grad_snapshots = OrderedDict()
        self.loss = None
        self.grad_norms = {}               # parameter name -> gradient norm
        self.fingerprint = None
        self.n_forward = 0

    def fingerprint_of(self):
        parts = []
        for s in self.steps:
            parts.append((s.phase, s.op, s.node, s.module, s.inputs, s.outputs,
                          tuple(self.tensors[k].shape for k in s.outputs if k is not None)))
        return hash(tuple(parts))

    @property
    def forward_steps(self):
        return [s for s in self.steps if s.phase == "forward"]

    @property
    def backward_steps(self):
        return [s for s in self.steps if s.phase != "forward"]


class Recorder:
    """Listener and store. Use through `pellucid.debug.record(...)`."""

    def __init__(self, model=None, values="summary", snapshot_budget="64MB", drop="oldest", keep=1,
                 nan_check=False, max_scalars=1_000_000, all_threads=False, source_lines=True):
        if values not in ("structure", "summary", "full"):
            raise ValueError(f"record(): values must be 'structure', 'summary' or 'full', got {values!r}")
        if drop not in ("oldest", "largest"):
            raise ValueError(f"record(): drop must be 'oldest' or 'largest', got {drop!r}")
        if keep < 1:
            raise ValueError(f"record(): keep must be >= 1, got {keep}")
        self.values = values
        self.budget = _parse_bytes(snapshot_budget)
        self.drop = drop
        self.keep = keep
        self.nan_check = nan_check
        self.source_lines = source_lines
        self.all_threads = all_threads
        self.iterations = deque(maxlen=keep)
        self.scalars = {"loss": deque(maxlen=max_scalars), "grad_norm": deque(maxlen=max_scalars)}
        self.param_grad_norms = {}         # name -> deque of norms per iteration
        self.max_scalars = max_scalars
        self.dropped = []                  # (iteration, tensor key, nbytes, reason)
        self.fingerprints = {}
        self.structure_changes = 0
        self.iteration_count = 0
        self._snap_bytes = 0
        self._param_names = {}
        self._thread = None
        self._active = False
        self._lock = threading.RLock()
        self._serial = next(_serials)
        self._tripped = None
        self._module_names = {}
        self.step_hooks = []               # fn(recorder, step) called after each step (live mode)
        if model is not None:
            self.watch(model)
        self._cur = None

    # ---- configuration ------------------------------------------------------------------
    def watch(self, model, prefix=""):
        """Name parameters and buffers of `model` by their qualified names."""
        for name, p in model.named_parameters():
            self._param_names[id(p)] = (prefix + name, p)
        for name, b in model.named_buffers():
            self._param_names[id(b)] = (prefix + name, b)
        self._module_names = {id(m): prefix + name for name, m in model.named_modules() if name}
        self.model = model
        return self

    def _module_path(self):
        path = _module_path()
        names = self._module_names
        if names:
            # a submodule of the watched model called directly: name it from the model's root
            from ..nn.modules._call_stack import _state
            stack = _state.stack
            if stack:
                prefix = names.get(id(stack[0][0]))
                if prefix:
                    return prefix + "." + path if path else prefix
        return path

    # ---- context manager / decorator -------------------------------------------------------
    def start(self):
        if self._active:
            raise RuntimeError("record(): this recorder is already active")
        self._thread = None if self.all_threads else threading.get_ident()
        self._active = True
        if self._cur is None:
            self._new_iteration()
        _dispatch.add_listener(self)
        return self

    def stop(self):
        global _last_stopped
        if self._active:
            _dispatch.remove_listener(self)
            self._active = False
            self._close_iteration()
            _last_stopped = weakref.ref(self)
            for fn in list(stop_listeners):
                fn(self)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with self:
                return fn(*a, **kw)
        return wrapper

    # ---- iterations ---------------------------------------------------------------------
    def _new_iteration(self):
        self._close_iteration()
        it = Iteration(self.iteration_count)
        self.iteration_count += 1
        self._cur = it
        self._saw_backward = False
        self.iterations.append(it)

    def _close_iteration(self):
        it = self._cur
        if it is None or not it.steps:
            return
        if it.fingerprint is None:
            fp = it.fingerprint_of()
            it.fingerprint = fp
            if fp not in self.fingerprints:
                self.fingerprints[fp] = it.number
                self.structure_changes += 1
        if it.backward_steps and not getattr(it, "_scalars_done", False):
            it._scalars_done = True
            self.scalars["loss"].append(it.loss)
            norms = it.grad_norms
            self.scalars["grad_norm"].append(float(np.sqrt(sum(v * v for v in norms.values()))) if norms else None)
            for name, v in norms.items():
                dq = self.param_grad_norms.get(name)
                if dq is None:
                    dq = self.param_grad_norms[name] = deque(maxlen=self.max_scalars)
                dq.append((it.number, v))

    def next_iteration(self):
        """Mark an iteration boundary explicitly (one is also detected automatically)."""
        with self._lock:
            self._new_iteration()

    @property
    def latest(self):
        """The most recent iteration with steps."""
        for it in reversed(self.iterations):
            if it.steps:
                return it
        return self._cur

    @property
    def steps(self):
        return self.latest.steps if self.latest is not None else []

    # ---- tensors ------------------------------------------------------------------------
    def _key(self, t, kind_hint="input"):
        # tensors are tagged with (recorder serial, iteration, key), so no tensor is kept alive
        # by the recording and a reused id() can't be confused with an earlier tensor
        it = self._cur
        tag = t.__dict__.get("_rec_key")
        if tag is not None and tag[0] == self._serial and tag[1] == it.number:
            return tag[2]
        pn = self._param_names.get(id(t))
        if pn is not None and pn[1] is t:
            k = "param:" + pn[0]
            kind, name = "param", pn[0]
        else:
            k = f"t{len(it.tensors)}"
            kind = kind_hint
            name = t._name
            if kind == "input" and t._requires_grad and t.grad_fn is None and name is None:
                kind = "leaf"
        t.__dict__["_rec_key"] = (self._serial, it.number, k)
        if k not in it.tensors:
            it.tensors[k] = TensorInfo(k, t, kind, name)
            if kind != "intermediate" and self.values != "structure":
                it.tensors[k].summary = summarize(t._data)
        return k

    def _snapshot(self, store, key, arr):
        if self.values != "full" or self.budget is None:
            return
        host = arr.get() if type(arr) is not np.ndarray else arr
        nb = host.nbytes
        if nb > self.budget:
            self.dropped.append((self._cur.number, key, nb, "larger than the whole budget"))
            return
        store[key] = host.copy()
        self._snap_bytes += nb
        while self._snap_bytes > self.budget:
            self._evict()

    def _evict(self):
        stores = []
        for it in self.iterations:
            stores += [(it, it.snapshots), (it, it.grad_snapshots)]
        if self.drop == "oldest":
            for it, st in stores:
                if st:
                    key, arr = next(iter(st.items()))
                    break
            else:
                return
        else:
            it, st, key, arr = max(((it, st, k, a) for it, st in stores for k, a in st.items()),
                                   key=lambda x: x[3].nbytes)
        del st[key]
        self._snap_bytes -= arr.nbytes
        self.dropped.append((it.number, key, arr.nbytes, f"snapshot budget ({self.drop} dropped first)"))

    # ---- listener interface -----------------------------------------------------------------
    def before_op(self, op, args, params):
        pass

    def on_op(self, op, args, params, result, node, elapsed):
        if self._thread is not None and threading.get_ident() != self._thread:
            return
        with self._lock:
            if self._saw_backward:
                self._new_iteration()
            it = self._cur
            T = _dispatch.Tensor
            src = user_frame() if self.source_lines else None
            step = Step(len(it.steps), "forward", op.label, self._module_path(), src, elapsed)
            step.inputs = tuple(self._key(a) if isinstance(a, T) else None for a in args)
            outs = result if isinstance(result, tuple) else (result,)
            keys = []
            for o in outs:
                if not isinstance(o, T):
                    keys.append(None)
                    continue
                k = self._key(o, "intermediate")
                info = it.tensors[k]
                info.produced_by = step.index
                info.kind = "intermediate" if info.kind not in ("param",) else info.kind
                info.shape = tuple(o._data.shape)
                info.requires_grad = bool(o._requires_grad)
                d = o._data
                if d.size == 1 and d.dtype.kind in "fiubV":        # "V": bfloat16
                    info.scalar = float(d.reshape(()).item()) if type(d) is np.ndarray else float(d.item())
                if self.values != "structure":
                    info.summary = summarize(d)
                    step.nonfinite += info.summary.get("nan", 0) + info.summary.get("inf", 0)
                    self._snapshot(it.snapshots, k, d)
                elif self.nan_check:
                    step.nonfinite += nonfinite_count(d)
                keys.append(k)
            step.outputs = tuple(keys)
            if params:
                step.params = params
            if op.label in ("relu", "relu_") and self.values != "structure" and isinstance(outs[0], T):
                d = outs[0]._data
                if d.ndim >= 2 and d.shape[0] > 0:
                    step.relu_dead = float((d.reshape(d.shape[0], -1) <= 0).all(axis=0).mean())
            if node is not None:
                node.__dict__["_rec_step"] = (self._serial, it.number, step.index)
            it.steps.append(step)
            it.n_forward += 1
        if self.nan_check and step.nonfinite and self._tripped != it.number:
            self._tripped = it.number       # only the first NaN/Inf of an iteration stops the run
            tripwire.trip_forward(self, step, op, args, result)
        for h in self.step_hooks:
            h(self, step)

    def on_backward(self, node, grads_in, grads_out, elapsed):
        if self._thread is not None and threading.get_ident() != self._thread:
            return
        with self._lock:
            it = self._cur
            self._saw_backward = True
            T = _dispatch.Tensor
            if type(node) is _dispatch.AccumulateGrad:
                leaf = node.variable
                step = Step(len(it.steps), "accumulate", "accumulate_grad", "", None, elapsed)
                step.node = "AccumulateGrad"
                if leaf is None:
                    it.steps.append(step)
                    return
                k = self._key(leaf)
                step.inputs = (k,)
                info = it.tensors[k]
                g = leaf.grad._data if leaf.grad is not None else None
                if g is not None:
                    gs = summarize(g) if self.values != "structure" else {}
                    gh = _host(g).astype(np.float32) if g.dtype.kind == "V" else _host(g)   # "V": bfloat16
                    norm = float(np.sqrt(np.vdot(gh, gh).real)) if gh.dtype.kind == "f" else 0.0
                    gs["norm"] = norm
                    info.grad_summary = gs
                    info.grad_step = step.index
                    step.grads_out = ((k, gs),)
                    step.nonfinite = gs.get("nan", 0) + gs.get("inf", 0)
                    if info.kind == "param":
                        it.grad_norms[info.name] = norm
                    self._snapshot(it.grad_snapshots, k, g)
                it.steps.append(step)
            else:
                tag = node.__dict__.get("_rec_step")
                fstep_idx = tag[2] if tag is not None and tag[0] == self._serial and tag[1] == it.number else None
                fstep = it.steps[fstep_idx] if fstep_idx is not None else None
                op_name = node.op.label if node.op is not None else node.name()
                step = Step(len(it.steps), "backward", op_name, fstep.module if fstep else "",
                            fstep.source if fstep else None, elapsed)
                step.node = node.name()
                step.forward_step = fstep_idx
                if it.loss is None and fstep is not None and fstep.outputs and fstep.outputs[0] is not None:
                    info0 = it.tensors[fstep.outputs[0]]
                    if info0.scalar is not None:
                        it.loss = info0.scalar
                # incoming gradients are the grads_out of the steps that ran before (recorded there)
                step.grads_in = tuple(None if g is None else {"shape": list(_arr(g).shape)} for g in grads_in)
                outs = []
                for i, g in enumerate(grads_out or ()):
                    if g is None:
                        continue
                    key = fstep.inputs[i] if fstep is not None and i < len(fstep.inputs) else None
                    ga = _arr(g)
                    if self.values != "structure":
                        gs = summarize(ga)
                        step.nonfinite += gs.get("nan", 0) + gs.get("inf", 0)
                    else:
                        gs = {}
                        if self.nan_check:
                            step.nonfinite += nonfinite_count(ga)
                    outs.append((key, gs))
                    if key is not None and key in it.tensors:
                        info = it.tensors[key]
                        if info.kind == "intermediate" or info.grad_summary is None:
                            info.grad_summary = gs
                            info.grad_step = step.index
                    if key is not None:
                        self._snapshot(it.grad_snapshots, key, ga)
                step.grads_out = tuple(outs)
                it.steps.append(step)
        if self.nan_check and step.nonfinite and self._tripped != it.number:
            self._tripped = it.number
            tripwire.trip_backward(self, step, node, grads_in, grads_out)
        for h in self.step_hooks:
            h(self, step)

    # ---- views --------------------------------------------------------------------------
    def stepper(self, iteration=None):
        from .stepper import Stepper
        return Stepper(self, iteration)

    def graph(self, iteration=None, cursor=None, **kw):
        from .graph import build_graph
        return build_graph(self, iteration, cursor, **kw)

    def to_json(self, iteration=None, cursor=None, html_safe=False, **kw):
        from .graph import graph_to_json
        return graph_to_json(self.graph(iteration, cursor, **kw), html_safe=html_safe)

    def to_dot(self, iteration=None, cursor=None, **kw):
        from .dot import to_dot
        return to_dot(self.graph(iteration, cursor), **kw)

    def render(self, path, iteration=None, cursor=None, format=None, **kw):
        from .dot import render
        return render(self.graph(iteration, cursor), path, format=format, **kw)

    def health(self, **kw):
        from .health import gradient_health
        return gradient_health(self, **kw)

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .graph import mimebundle
        return mimebundle(self.graph())

    def summary_table(self, iteration=None):
        it = self._pick(iteration)
        lines = [f"{'step':>5}  {'phase':<10} {'op':<22} {'module':<24} {'source'}"]
        for s in it.steps:
            src = f"{source_label(s.source[0])}:{s.source[1]}" if s.source else ""
            what = s.op if s.phase == "forward" else s.node
            if s.phase == "accumulate" and s.inputs:
                info = it.tensors.get(s.inputs[0])
                src = f"-> {info.name or info.key}.grad" if info is not None else src
            lines.append(f"{s.index:>5}  {s.phase:<10} {what:<22} {s.module:<24} {src}")
        return "\n".join(lines)

    def _pick(self, iteration):
        if iteration is None:
            it = self.latest
        elif isinstance(iteration, Iteration):
            it = iteration
        else:
            matches = [i for i in self.iterations if i.number == iteration]
            if not matches:
                raise IndexError(f"iteration {iteration} is not kept (kept: {[i.number for i in self.iterations]})")
            it = matches[0]
        if it is None:
            raise RuntimeError("the recording is empty: run some ops inside `with pellucid.debug.record():`")
        return it


def _arr(g):
    return g._data if isinstance(g, _dispatch.Tensor) else g


def _host(a):
    return a if type(a) is np.ndarray else a.get()


def record(model=None, *, values="summary", snapshot_budget="64MB", drop="oldest", keep=1, nan_check=False,
           all_threads=False, source_lines=True):
    """Record every op (forward and backward) run inside the block or decorated function.

    values: "structure" (ops, shapes, modules, sources), "summary" (plus value and gradient
    summaries; the default) or "full" (plus value snapshots within `snapshot_budget`, dropping the
    oldest or largest first). keep: how many iterations of a training loop to keep.
    nan_check: stop at the first op whose output or gradient holds NaN/Inf (raises
    `pellucid.autograd.anomaly_mode.AnomalyError`, naming the op, module and source line).
    """
    return Recorder(model=model, values=values, snapshot_budget=snapshot_budget, drop=drop, keep=keep,
                    nan_check=nan_check, all_threads=all_threads, source_lines=source_lines)
