"""`pellucid.distributed`: collective communication between processes, as `torch.distributed`.

Backends: "mpi" (mpi4py; CPU tensors, CUDA tensors through host memory) and "nccl" (CuPy's
NCCL bindings; CUDA tensors). Start the processes with

    python -m pellucid.distributed.run --nproc 4 train.py ARGS...

(a wrapper around `mpirun`), then call `init_process_group("mpi")` in each. Collectives work in
place on tensors, like PyTorch's. A collective that waits longer than `timeout` ends the whole
job with a message naming the rank and the operation, and an uncaught exception on any rank
ends every rank, so a failed rank never leaves the others hanging.
"""
import importlib.util
import os

from .._dtype import FLOAT_KINDS
from .._tensor import Tensor
from . import _common
from ._common import (ReduceOp, DistError, DistBackendError, Work,  # noqa: F401
                      default_pg_timeout)

__all__ = ["Backend", "ReduceOp", "DistError", "DistBackendError", "Work", "group", "GroupMember",
           "default_pg_timeout", "is_available", "is_mpi_available", "is_nccl_available",
           "is_initialized", "init_process_group", "destroy_process_group", "get_rank",
           "get_world_size", "get_backend", "barrier", "all_reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "all_gather_object",
           "broadcast_object_list"]


class Backend:
    MPI = "mpi"
    NCCL = "nccl"


class _WorldGroup:
    def __repr__(self):
        return "<pellucid.distributed world group>"


class group:
    """`group.WORLD`: the default group (the only one; `group=None` means the same)."""
    WORLD = _WorldGroup()


GroupMember = group

_pg = None


def is_mpi_available():
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available():
    from .. import _backend
    if not _backend.cupy_available():
        return False
    try:
        from cupy.cuda import nccl
        return bool(getattr(nccl, "available", True))
    except ImportError:
        return False


def is_available():
    return is_mpi_available() or is_nccl_available()


def is_initialized():
    return _pg is not None


def _launched_by_mpi():
    return any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                          "MPI_LOCALNRANKS"))


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group.

    backend: "mpi" (default) or "nccl". With "mpi", rank and world size come from MPI
    (`world_size`/`rank`, if given, must agree). With "nccl", processes started by `mpirun`
    take them from MPI too; otherwise `init_method` ("env://" by default, reading RANK,
    WORLD_SIZE, MASTER_ADDR, MASTER_PORT; or "tcp://host:port" or "file:///path") with
    `rank`/`world_size` or the RANK/WORLD_SIZE variables.
    timeout: a `datetime.timedelta` (or seconds), 30 minutes by default: how long any
    collective may wait before the job is ended.
    """
    global _pg
    if _pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    timeout_s = _common.timeout_seconds(timeout)
    name = (backend or Backend.MPI)
    if not isinstance(name, str):
        raise TypeError(f"init_process_group: backend must be a string, got {type(name).__name__}")
    name = name.lower()
    if name == Backend.MPI:
        pg = _init_mpi(world_size, rank, timeout_s)
    elif name == Backend.NCCL:
        pg = _init_nccl(init_method, world_size, rank, timeout_s)
    else:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; pellucid supports "
                         "'mpi' (CPU and CUDA tensors) and 'nccl' (CUDA tensors)")
    _pg = pg
    _common.install_abort_on_error(pg)


def _need_mpi(what):
    if not is_mpi_available():
        raise RuntimeError(
            f"{what} needs mpi4py and an MPI library: apt-get install openmpi-bin libopenmpi-dev; "
            "pip install mpi4py")


def _init_mpi(world_size, rank, timeout_s):
    _need_mpi("init_process_group(backend='mpi')")
    from ._mpi import MPIProcessGroup
    pg = MPIProcessGroup(timeout_s)
    for given, actual, what in ((world_size, pg.size, "world_size"), (rank, pg.rank, "rank")):
        if given not in (-1, None) and given != actual:
            pg.destroy()
            raise ValueError(f"init_process_group(backend='mpi'): {what}={given} was given but MPI "
                             f"says {actual}; the MPI backend takes both from the launcher (mpirun)")
    return pg


def _init_nccl(init_method, world_size, rank, timeout_s):
    from ._nccl import NCCLProcessGroup
    if init_method is None and _launched_by_mpi() and is_mpi_available():
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        return NCCLProcessGroup(comm.Get_rank(), comm.Get_size(), lambda uid: comm.bcast(uid, root=0),
                                timeout_s, abort_job=comm.Abort)
    from ._store import store_from_init_method
    if rank in (-1, None):
        rank = _env_int("RANK")
    if world_size in (-1, None):
        world_size = _env_int("WORLD_SIZE")
    store = store_from_init_method(init_method or "env://", rank, timeout_s)

    def exchange(uid):
        if rank == 0:
            store.set("nccl_unique_id", _encode_uid(uid))
            return uid
        return _decode_uid(store.get("nccl_unique_id"))
    pg = NCCLProcessGroup(rank, world_size, exchange, timeout_s)
    pg.store = store
    return pg


def _encode_uid(uid):
    # CuPy < 14 returns a tuple of small ints, newer versions bytes
    if isinstance(uid, bytes):
        return b"B" + uid
    return b"T" + bytes(v & 0xFF for v in uid)


def _decode_uid(blob):
    if blob[:1] == b"B":
        return blob[1:]
    return tuple(v - 256 if v > 127 else v for v in blob[1:])


def _env_int(name):
    try:
        return int(os.environ[name])
    except KeyError:
        raise ValueError(f"init_process_group: {name} is not set; pass rank= and world_size= or "
                         "launch with python -m pellucid.distributed.run") from None


def destroy_process_group(group=None):
    global _pg
    pg = _group(group, "destroy_process_group")
    _pg = None
    _common.remove_abort_on_error()
    pg.destroy()
    store = getattr(pg, "store", None)
    if store is not None:
        store.close()


def _group(g, fn):
    if _pg is None:
        raise ValueError(f"{fn}: Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    if g is not None and g is not group.WORLD:
        raise ValueError(f"{fn}: only the default (world) group is supported, got {g!r}")
    return _pg


def _default_group():
    return _group(None, "pellucid.distributed")


def get_rank(group=None):
    return _group(group, "get_rank").rank


def get_world_size(group=None):
    return _group(group, "get_world_size").size


def get_backend(group=None):
    return _group(group, "get_backend").backend


# ---- argument checks ------------------------------------------------------------------------------
def _array(t, param, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: Invalid function argument. Expected parameter `{param}` of type "
                        f"Tensor but got {type(t)} instead.")
    arr = t._data
    if not arr.flags.c_contiguous:
        raise ValueError(f"{fn}: Tensors must be contiguous (`{param}` has shape {list(arr.shape)} "
                         f"and strides {list(t.stride())}); call .contiguous() first")
    return arr


def _tensor_list(ts, param, fn, pg, like):
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(f"{fn}: Invalid function argument. Expected parameter `{param}` of type "
                        f"List[Tensor] but got {type(ts)} instead.")
    if len(ts) != pg.size:
        raise ValueError(f"{fn}: `{param}` must hold world_size={pg.size} tensors, got {len(ts)}")
    for t in ts:
        if t._data.shape != like.shape or t._data.dtype != like.dtype:
            raise ValueError(f"{fn}: every tensor in `{param}` must match the other argument "
                             f"({like.dtype}, shape {list(like.shape)}), got {t._data.dtype}, shape "
                             f"{list(t._data.shape)}")
    return [t._data for t in ts]


def _reduce_op(op, arr, fn):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{fn}: op must be a ReduceOp (ReduceOp.SUM, AVG, PRODUCT, MIN, MAX), "
                        f"got {op!r}")
    if op == ReduceOp.AVG and arr.dtype.kind not in FLOAT_KINDS:
        raise ValueError(f"{fn}: ReduceOp.AVG needs a floating-point tensor, got {arr.dtype}")
    return op


def _bump(*tensors):
    for t in tensors:
        if t._version is None:
            t._version = [1]
        else:
            t._version[0] += 1


def _after(work, fn):
    """Run `fn` when `work` completes (at once when blocking)."""
    if work is None:
        fn()
        return None
    prev = work._finish

    def finish():
        if prev is not None:
            prev()
        fn()
    if work._done:
        fn()
    else:
        work._finish = finish
    return work


def _src(src, pg, fn):
    if not isinstance(src, int) or not 0 <= src < pg.size:
        raise ValueError(f"{fn}: src={src!r} is not a rank of this group (world_size={pg.size})")
    return src


# ---- collectives --------------------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` over all ranks, in place on every rank."""
    pg = _group(group, "all_reduce")
    arr = _array(tensor, "tensor", "all_reduce")
    work = pg.allreduce(arr, _reduce_op(op, arr, "all_reduce"), async_op)
    _bump(tensor)
    return work


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank `src`'s `tensor` into `tensor` on every other rank."""
    pg = _group(group, "broadcast")
    src = _src(group_src if src is None else src, pg, "broadcast")
    arr = _array(tensor, "tensor", "broadcast")
    work = pg.broadcast(arr, src, async_op)
    _bump(tensor)
    return work


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """`tensor_list[r]` receives rank r's `tensor`, on every rank."""
    pg = _group(group, "all_gather")
    arr = _array(tensor, "tensor", "all_gather")
    outs = _tensor_list(tensor_list, "tensor_list", "all_gather", pg, arr)
    xp = _xp(arr)
    stacked = xp.empty((pg.size,) + arr.shape, arr.dtype)
    work = pg.allgather(stacked, arr, async_op)

    def scatter():
        for r, out in enumerate(outs):
            out[...] = stacked[r]
        _bump(*tensor_list)
    return _after(work, scatter)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank r's `input_tensor` lands in block r of `output_tensor` (stacked or concatenated on
    dim 0)."""
    pg = _group(group, "all_gather_into_tensor")
    inp = _array(input_tensor, "input_tensor", "all_gather_into_tensor")
    out = _array(output_tensor, "output_tensor", "all_gather_into_tensor")
    if out.size != inp.size * pg.size or out.dtype != inp.dtype:
        raise ValueError(f"all_gather_into_tensor: output must hold world_size={pg.size} times the "
                         f"input ({inp.dtype}, shape {list(inp.shape)}), got {out.dtype}, shape "
                         f"{list(out.shape)}")
    work = pg.allgather(out, inp, async_op)
    _bump(output_tensor)
    return work


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """`output` on rank r receives the reduction over ranks of `input_list[r]`."""
    pg = _group(group, "reduce_scatter")
    out = _array(output, "output", "reduce_scatter")
    ins = _tensor_list(input_list, "input_list", "reduce_scatter", pg, out)
    op = _reduce_op(op, out, "reduce_scatter")
    xp = _xp(out)
    stacked = xp.stack(ins) if ins else xp.empty((0,) + out.shape, out.dtype)
    work = pg.reduce_scatter(out, stacked, op, async_op)
    _bump(output)
    return work


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Block r of `input` (world_size blocks of `output`'s size), reduced over ranks, lands in
    rank r's `output`."""
    pg = _group(group, "reduce_scatter_tensor")
    out = _array(output, "output", "reduce_scatter_tensor")
    inp = _array(input, "input", "reduce_scatter_tensor")
    if inp.size != out.size * pg.size or out.dtype != inp.dtype:
        raise ValueError(f"reduce_scatter_tensor: input must hold world_size={pg.size} times the "
                         f"output ({out.dtype}, shape {list(out.shape)}), got {inp.dtype}, shape "
                         f"{list(inp.shape)}")
    work = pg.reduce_scatter(out, inp, _reduce_op(op, inp, "reduce_scatter_tensor"), async_op)
    _bump(output)
    return work


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached the barrier."""
    return _group(group, "barrier").barrier(async_op)


def all_gather_object(object_list, obj, group=None):
    """`object_list[r]` receives rank r's picklable `obj`."""
    pg = _group(group, "all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != pg.size:
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={pg.size} "
                         "entries")
    object_list[:] = pg.allgather_object(obj)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace `object_list`'s entries with rank `src`'s (pickled), in place."""
    pg = _group(group, "broadcast_object_list")
    src = _src(0 if src is None and group_src is None else (group_src if src is None else src), pg,
               "broadcast_object_list")
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: object_list must be a list, got "
                        f"{type(object_list).__name__}")
    object_list[:] = pg.broadcast_object(list(object_list) if pg.rank == src else None, src)


def _xp(arr):
    from .._backend import xp_of
    return xp_of(arr)
