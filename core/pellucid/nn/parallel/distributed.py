"""DistributedDataParallel: one model replica per process, gradients averaged over processes.

At construction rank 0's parameters and buffers are broadcast to every rank. During backward
each parameter's post-accumulate-grad hook copies its gradient into a flat bucket; when a
bucket is complete (and every bucket before it has been started, so all ranks start them in the
same order) its all-reduce starts without blocking and runs while backward goes on. The hook
that completes the last bucket waits for all of them, divides by the world size and writes the
averages back into `.grad`, so gradients are final when `backward()` returns.

Buckets hold parameters in reverse registration order (about the order backward produces
their gradients): the first is capped at 1 MiB so communication starts early, the others at
`bucket_cap_mb` (25 MiB by default), as in PyTorch."""
import contextlib
import weakref

import numpy as np

from ... import _backend
from ..._dispatch import AccumulateGrad
from ..._grad_mode import state as _grad_state
from ..._tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1 << 20
_BROADCAST_CHUNK_BYTES = 250 << 20


def _dist():
    from ... import distributed
    return distributed


def _zeros(n, dtype, like):
    if type(like) is np.ndarray:
        return np.zeros(n, dtype)
    cp = _backend.cupy()
    with cp.cuda.Device(like.device.id):
        return cp.zeros(n, dtype)


def _bump(t):
    if t._version is None:
        t._version = [1]
    else:
        t._version[0] += 1


def _tensors_in(obj, out):
    """Every tensor inside nested tuples, lists and dicts."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(_to_device(o, device) for o in obj)
    if isinstance(obj, list):
        return [_to_device(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


class _Bucket:
    __slots__ = ("params", "flat", "views", "pending")

    def __init__(self, params, arrays):
        self.params = params                    # indices into DDP's parameter list
        sizes = [a.size for a in arrays]
        self.flat = _zeros(sum(sizes), arrays[0].dtype, arrays[0])
        self.views = []
        off = 0
        for a, n in zip(arrays, sizes):
            self.views.append(self.flat[off:off + n].reshape(a.shape))
            off += n
        self.pending = len(params)


def _assign_buckets(arrays, first_cap, cap):
    """Lists of indices into `arrays` (taken in reverse order), one list per bucket, split by
    dtype and device; PyTorch's size-capped assignment."""
    open_ = {}
    done = []
    for i in reversed(range(len(arrays))):
        a = arrays[i]
        key = (a.dtype, _backend.device_of(a))
        b = open_.get(key)
        if b is None:
            b = open_[key] = [[], 0, first_cap]
        b[0].append(i)
        b[1] += a.nbytes
        if b[1] >= b[2]:
            done.append(b[0])
            open_[key] = [[], 0, cap]
    done += [b[0] for b in open_.values() if b[0]]
    order = {i: pos for pos, i in enumerate(reversed(range(len(arrays))))}
    done.sort(key=lambda idx: order[idx[0]])
    return done


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model after `init_process_group`, then train
    as usual; each rank's gradients are averaged over all ranks during backward.

    module: the model (all parameters on one device). broadcast_buffers: copy rank 0's buffers
    to all ranks before each forward. bucket_cap_mb: bucket size (MiB). find_unused_parameters:
    find, after each forward, the parameters the output does not depend on so that reduction
    does not wait for them. gradient_as_bucket_view: `.grad` tensors become views into the
    communication buckets (saves a copy per step and the memory of one gradient).

    `ddp.module` is the wrapped model; `state_dict()` keys carry the `module.` prefix."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False):
        super().__init__()
        dist = _dist()
        pg = dist._group(process_group, "DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        devices = {_backend.device_of(p._data) for p in module.parameters()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel: all parameters must be on one device, found "
                             f"{sorted(str(d) for d in devices)}")
        device = next(iter(devices))
        if device_ids is not None and device.type == "cpu":
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device GPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters {{{device!r}}}.")
        if device_ids is not None and len(device_ids) != 1:
            raise ValueError(f"DistributedDataParallel: device_ids must hold one device (this "
                             f"process's GPU), got {device_ids}")
        self.module = module
        d = self.__dict__
        d["process_group"] = pg
        d["device"] = device
        d["device_ids"] = device_ids
        d["output_device"] = output_device
        d["dim"] = dim
        d["broadcast_buffers"] = broadcast_buffers
        d["find_unused_parameters"] = find_unused_parameters
        d["gradient_as_bucket_view"] = gradient_as_bucket_view
        d["require_backward_grad_sync"] = True
        d["require_forward_param_sync"] = True
        d["bucket_bytes_cap"] = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        d["_params"] = params
        d["_param_names"] = {id(p): n for n, p in module.named_parameters()}
        self._verify_same_model(pg, params)
        self._sync_module_states()
        groups = _assign_buckets([p._data for p in params], min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap),
                                 self.bucket_bytes_cap)
        d["_buckets"] = [_Bucket(g, [params[i]._data for i in g]) for g in groups]
        d["_where"] = [None] * len(params)
        for b_idx, g in enumerate(groups):
            for slot, i in enumerate(g):
                self._where[i] = (b_idx, slot)
        d["_ready"] = np.zeros(len(params), np.bool_)
        d["_locally_used"] = np.ones(len(params), np.bool_)
        d["_expect_hooks"] = False
        d["_started"] = False
        d["_next_launch"] = 0
        d["_works"] = []
        ref = weakref.ref(self)
        handles = [p.register_post_accumulate_grad_hook(self._hook(ref, i)) for i, p in enumerate(params)]
        weakref.finalize(self, _remove_handles, handles)

    # ---- construction -------------------------------------------------------------------------------
    @staticmethod
    def _hook(ref, i):
        def on_grad_ready(param):
            ddp = ref()
            if ddp is not None:
                ddp._grad_ready(i, param)
        return on_grad_ready

    def _verify_same_model(self, pg, params):
        mine = [(tuple(p._data.shape), str(p._data.dtype)) for p in params]
        everyone = pg.allgather_object(mine)
        for r, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                names = [self._param_names[id(p)] for p in params]
                detail = next((f"parameter {names[k] if k < len(names) else k}: rank 0 has "
                               f"{everyone[0][k] if k < len(everyone[0]) else 'none'}, rank {r} has "
                               f"{theirs[k] if k < len(theirs) else 'none'}"
                               for k in range(max(len(theirs), len(everyone[0])))
                               if k >= len(theirs) or k >= len(everyone[0]) or theirs[k] != everyone[0][k]),
                              "")
                raise RuntimeError(f"DistributedDataParallel expects the same model on every rank, but "
                                   f"rank {r} has {len(theirs)} trainable parameters and rank 0 has "
                                   f"{len(everyone[0])} ({detail})")

    def _broadcast_coalesced(self, tensors):
        """Rank 0's values of `tensors` to every rank, one broadcast per dtype (per 250 MiB)."""
        pg = self.process_group
        if pg.size == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for group in by_dtype.values():
            chunk, nbytes = [], 0
            for t in group + [None]:
                if t is not None and (not chunk or nbytes + t._data.nbytes <= _BROADCAST_CHUNK_BYTES):
                    chunk.append(t)
                    nbytes += t._data.nbytes
                    continue
                xp = _backend.xp_of(chunk[0]._data)
                flat = xp.concatenate([c._data.reshape(-1) for c in chunk])
                pg.broadcast(flat, 0)
                off = 0
                for c in chunk:
                    n = c._data.size
                    c._data[...] = flat[off:off + n].reshape(c._data.shape)
                    off += n
                    _bump(c)
                chunk, nbytes = ([t], t._data.nbytes) if t is not None else ([], 0)

    def _sync_module_states(self):
        m = self.module
        self._broadcast_coalesced(list(m.parameters()) + list(m.buffers()))

    # ---- gradient reduction ------------------------------------------------------------------------
    def _unfinished_error(self):
        missing = [self._param_names.get(id(p), str(i)) for i, p in enumerate(self._params)
                   if not self._ready[i]]
        return RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. "
            "This error indicates that your module has parameters that were not used in producing "
            "loss. You can enable unused parameter detection by passing the keyword argument "
            "`find_unused_parameters=True` to `DistributedDataParallel`, and by making sure all "
            "`forward` function outputs participate in calculating loss. Parameters that did not "
            f"receive a gradient on rank {self.process_group.rank}: {', '.join(missing)}")

    def _prepare_for_backward(self):
        if self._started and self._expect_hooks:
            raise self._unfinished_error()
        self._ready[:] = False
        for b in self._buckets:
            b.pending = len(b.params)
        d = self.__dict__
        d["_next_launch"] = 0
        d["_works"] = []
        d["_started"] = False
        d["_expect_hooks"] = self.require_backward_grad_sync

    def _grad_ready(self, i, param):
        if not self._expect_hooks:
            return
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once: parameter "
                f"{self._param_names.get(id(param), i)} received a gradient twice in one iteration "
                "(two backward passes without a forward between them, or a reentrant backward).")
        self._ready[i] = True
        self.__dict__["_started"] = True
        b_idx, slot = self._where[i]
        bucket = self._buckets[b_idx]
        view = bucket.views[slot]
        g = param.grad
        if g is None:
            view[...] = 0
        elif g._data is not view:
            view[...] = g._data
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready_buckets()
        elif self._works:
            self.process_group.progress(self._works)

    def _launch_ready_buckets(self):
        pg = self.process_group
        buckets = self._buckets
        start = self._next_launch
        end = start
        while end < len(buckets) and buckets[end].pending == 0:
            end += 1
        self.__dict__["_next_launch"] = end
        if end < len(buckets):
            for b in buckets[start:end]:
                self._works.append(pg.allreduce(b.flat, async_op=True))
            return
        # The last hook of this backward: nothing is left to overlap with, so the remaining
        # buckets use the blocking all-reduce (no polling, the backend's tuned algorithm).
        pg.wait_all(self._works)
        for b in buckets[start:end]:
            pg.allreduce(b.flat)
        self._finalize()

    def _finalize(self):
        pg = self.process_group
        used = None
        if self.find_unused_parameters:
            used = self._locally_used.astype(np.int32)
            from ...distributed import ReduceOp
            pg.allreduce(used, ReduceOp.MAX)
        size = pg.size
        params = self._params
        as_view = self.gradient_as_bucket_view
        for b in self._buckets:
            if size > 1:
                b.flat /= size
            for slot, i in enumerate(b.params):
                if used is not None and not used[i]:
                    continue                     # unused on every rank: .grad is left alone
                p = params[i]
                view = b.views[slot]
                g = p.grad
                if as_view:
                    if g is None or g._data is not view:
                        p.grad = Tensor._make(view)
                elif g is None:
                    p.grad = Tensor._make(view.copy())
                else:
                    g._data[...] = view
                    _bump(g)
        d = self.__dict__
        d["_expect_hooks"] = False
        d["_started"] = False
        d["_works"] = []

    def _mark_unused(self, output):
        """Parameters the output does not depend on are ready at once (PyTorch's
        find_unused_parameters): walk the graph from the outputs to the leaves."""
        used_ids = set()
        seen = set()
        stack = []
        for t in _tensors_in(output, []):
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif t._requires_grad:
                used_ids.add(id(t))
        while stack:
            node = stack.pop()
            for e in node.edges:
                if e is None:
                    continue
                c = e[0]
                if id(c) in seen:
                    continue
                seen.add(id(c))
                if type(c) is AccumulateGrad:
                    v = c.variable
                    if v is not None:
                        used_ids.add(id(v))
                else:
                    stack.append(c)
        used = np.array([id(p) in used_ids for p in self._params], np.bool_)
        self.__dict__["_locally_used"] = used
        for i in np.flatnonzero(~used).tolist():
            self._grad_ready(i, self._params[i])

    # ---- public API ------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        grad_on = _grad_state.grad_enabled
        if grad_on:
            self._prepare_for_backward()
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._broadcast_coalesced(list(self.module.buffers()))
        if self.device_ids is not None:
            dev = _backend.device("cuda", int(str(self.device_ids[0]).split(":")[-1]))
            inputs, kwargs = _to_device(inputs, dev), _to_device(kwargs, dev)
        out = self.module(*inputs, **kwargs)
        if grad_on and self._expect_hooks and self.find_unused_parameters:
            self._mark_unused(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forward and backward only accumulate gradients locally; the first backward
        after the block averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = old

    def extra_repr(self):
        return ""


def _remove_handles(handles):
    for h in handles:
        h.remove()
