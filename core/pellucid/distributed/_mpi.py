"""The MPI backend (mpi4py): collectives on NumPy arrays in place, without copies for the
dtypes MPI knows. CuPy arrays travel through host memory (CUDA-aware MPI is not assumed);
float16 is reduced in float32 and bool as uint8, since MPI has no operators for them.

Blocking collectives use MPI's blocking calls, which release the GIL; the watchdog thread
bounds how long they may wait."""
import os

import numpy as np

from .._dtype import BF16
from . import _common
from ._common import DistBackendError, ReduceOp, Work, describe

_BOOL_OPS = {"SUM": "MAX", "PRODUCT": "MIN", "MAX": "MAX", "MIN": "MIN"}   # logical or / and


def _mpi():
    # Open MPI's automatic choice for non-blocking all-reduce (used for gradient buckets) reaches
    # half the bandwidth of the blocking call on large buffers; the ring algorithm matches it.
    # Read when MPI starts, so it applies unless MPI is already running or the user chose.
    os.environ.setdefault("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1")
    from mpi4py import MPI
    return MPI


class MPIProcessGroup:
    backend = "mpi"

    def __init__(self, timeout_s):
        MPI = _mpi()
        self.MPI = MPI
        # a private communicator: the user's own MPI traffic cannot interleave with ours
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._ops = {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MAX": MPI.MAX,
                     "MIN": MPI.MIN}
        self.watchdog = _common.Watchdog(self, timeout_s)

    # ---- helpers ---------------------------------------------------------------------------
    def _mpi_op(self, op, dtype):
        name = op.name
        if dtype == np.bool_:
            name = _BOOL_OPS[name]
        return self._ops[name]

    @staticmethod
    def _host(arr, copy_in=True):
        """(contiguous 1-D array MPI can use, write-back callable or None)."""
        if type(arr) is not np.ndarray:          # CuPy
            host = arr.get() if copy_in else np.empty(arr.shape, arr.dtype)
            buf, back = MPIProcessGroup._host(host, copy_in)

            def to_device():
                if back is not None:
                    back()
                arr.set(host)
            return buf, to_device
        if arr.dtype == np.float16 or arr.dtype == BF16:     # MPI has no 16-bit float types
            tmp = arr.astype(np.float32).reshape(-1) if copy_in else np.empty(arr.size, np.float32)
            return tmp, lambda: np.copyto(arr.reshape(-1), tmp, casting="unsafe")
        if arr.dtype == np.bool_:
            return arr.reshape(-1).view(np.uint8), None
        return arr.reshape(-1), None

    def _run(self, what, arr, start, wait, finish, async_op):
        """Blocking: run `start()` (a blocking MPI call) under the watchdog. Async: `start()`
        returns a request, wrapped in a Work handle."""
        if async_op:
            try:
                req = start()
            except self.MPI.Exception as e:
                raise DistBackendError(f"{describe(what, arr)}: MPI error: {e}") from None
            work = Work(self, what, arr, req.Wait, req.Test, finish)
            work.request = req
            return work
        wd = self.watchdog
        token = wd.begin(what, arr)
        try:
            start()
        except self.MPI.Exception as e:
            raise DistBackendError(f"{describe(what, arr)}: MPI error: {e}") from None
        finally:
            wd.end(token)
        if finish is not None:
            finish()
        return None

    @staticmethod
    def _chain(*fns):
        fns = [f for f in fns if f is not None]
        if not fns:
            return None
        if len(fns) == 1:
            return fns[0]

        def run():
            for f in fns:
                f()
        return run

    def _average(self, buf):
        size = self.size
        return lambda: np.divide(buf, size, out=buf, casting="unsafe")

    # ---- collectives on arrays ---------------------------------------------------------------
    def allreduce(self, arr, op=ReduceOp.SUM, async_op=False):
        MPI, comm = self.MPI, self.comm
        buf, back = self._host(arr)
        mop = self._mpi_op(op, arr.dtype)
        finish = self._chain(self._average(buf) if op == ReduceOp.AVG else None, back)
        if async_op:
            return self._run("all_reduce", arr, lambda: comm.Iallreduce(MPI.IN_PLACE, buf, mop),
                             None, finish, True)
        return self._run("all_reduce", arr, lambda: comm.Allreduce(MPI.IN_PLACE, buf, mop),
                         None, finish, False)

    def broadcast(self, arr, src, async_op=False):
        comm = self.comm
        buf, back = self._host(arr, copy_in=self.rank == src)
        if async_op:
            return self._run("broadcast", arr, lambda: comm.Ibcast(buf, root=src), None, back, True)
        return self._run("broadcast", arr, lambda: comm.Bcast(buf, root=src), None, back, False)

    def allgather(self, out, inp, async_op=False):
        """`out` holds world_size blocks of `inp`'s size, rank r's input in block r."""
        comm = self.comm
        send, _ = self._host(inp)
        recv, back = self._host(out, copy_in=False)
        if async_op:
            return self._run("all_gather", inp, lambda: comm.Iallgather(send, recv), None, back, True)
        return self._run("all_gather", inp, lambda: comm.Allgather(send, recv), None, back, False)

    def reduce_scatter(self, out, inp, op=ReduceOp.SUM, async_op=False):
        """Block r of `inp` (world_size blocks of `out`'s size), reduced over ranks, lands in
        rank r's `out`."""
        comm = self.comm
        send, _ = self._host(inp)
        recv, back = self._host(out, copy_in=False)
        mop = self._mpi_op(op, inp.dtype)
        finish = self._chain(self._average(recv) if op == ReduceOp.AVG else None, back)
        if async_op:
            return self._run("reduce_scatter", inp,
                             lambda: comm.Ireduce_scatter_block(send, recv, mop), None, finish, True)
        return self._run("reduce_scatter", inp, lambda: comm.Reduce_scatter_block(send, recv, mop),
                         None, finish, False)

    def barrier(self, async_op=False):
        comm = self.comm
        if async_op:
            return self._run("barrier", None, comm.Ibarrier, None, None, True)
        return self._run("barrier", None, comm.Barrier, None, None, False)

    def allgather_object(self, obj):
        out = []
        self._run("all_gather_object", None, lambda: out.append(self.comm.allgather(obj)),
                  None, None, False)
        return out[0]

    def broadcast_object(self, obj, src):
        out = []
        self._run("broadcast_object_list", None, lambda: out.append(self.comm.bcast(obj, root=src)),
                  None, None, False)
        return out[0]

    def wait_all(self, works):
        """Wait for several async works at once (one MPI call)."""
        pending = [w for w in works if not w._done]
        if not pending:
            return
        wd = self.watchdog
        token = wd.begin("all_reduce of gradient buckets")
        try:
            self.MPI.Request.Waitall([w.request for w in pending])
        finally:
            wd.end(token)
        for w in pending:
            w._complete()

    def progress(self, works):
        """Let MPI advance pending non-blocking collectives (Open MPI moves them only inside MPI
        calls)."""
        reqs = [w.request for w in works if not w._done]
        if reqs:
            self.MPI.Request.Testall(reqs)

    # ---- lifecycle -------------------------------------------------------------------------------
    def abort(self, code=1):
        try:
            self.MPI.COMM_WORLD.Abort(code)
        finally:
            _common.hard_exit(code)

    def destroy(self):
        self.watchdog.stop()
        try:
            self.comm.Free()
        except self.MPI.Exception:
            pass
