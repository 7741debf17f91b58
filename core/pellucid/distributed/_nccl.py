"""The NCCL backend (CuPy's `cupy.cuda.nccl`): collectives on CUDA arrays, queued on a
communication stream. As in PyTorch, a collective returns once it is queued and the caller's
stream waits for it; the host never blocks except in `barrier`. The watchdog ends the job when
a queued collective has not finished within the timeout.

The NCCL unique id travels from rank 0 to the others over MPI (under `mpirun`) or through a
file/TCP store (see `_store.py`)."""
import pickle
import time

import numpy as np

from .. import _backend
from . import _common
from ._common import DistBackendError, ReduceOp, Work, describe


class NCCLProcessGroup:
    backend = "nccl"

    def __init__(self, rank, size, exchange_id, timeout_s, abort_job=None):
        cp = _backend.cupy()
        from cupy.cuda import nccl
        self.cp, self.nccl = cp, nccl
        self.rank, self.size = rank, size
        self._abort_job = abort_job
        self.watchdog = _common.Watchdog(self, timeout_s)
        uid = nccl.get_unique_id() if rank == 0 else None
        uid = exchange_id(uid)
        self.device = cp.cuda.Device()
        token = self.watchdog.begin("NCCL communicator set-up")
        try:
            self.comm = nccl.NcclCommunicator(size, uid, rank)
        finally:
            self.watchdog.end(token)
        self.stream = cp.cuda.Stream(non_blocking=True)
        self._types = {np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.float32): nccl.NCCL_FLOAT32,
                       np.dtype(np.float64): nccl.NCCL_FLOAT64, np.dtype(np.int8): nccl.NCCL_INT8,
                       np.dtype(np.uint8): nccl.NCCL_UINT8, np.dtype(np.int32): nccl.NCCL_INT32,
                       np.dtype(np.int64): nccl.NCCL_INT64}
        self._ops = {"SUM": nccl.NCCL_SUM, "AVG": nccl.NCCL_SUM, "PRODUCT": nccl.NCCL_PROD,
                     "MAX": nccl.NCCL_MAX, "MIN": nccl.NCCL_MIN}

    # ---- helpers -------------------------------------------------------------------------------
    def _check(self, what, arr):
        if type(arr) is np.ndarray:
            raise ValueError(f"{what}: the nccl backend needs CUDA tensors, got a CPU tensor "
                             f"({arr.dtype}, shape {list(arr.shape)}); move it with .cuda() or use "
                             "backend='mpi'")

    def _staged(self, arr, copy_in=True):
        """(1-D array NCCL can use, its NCCL type, write-back to run on the stream or None)."""
        cp = self.cp
        if arr.dtype == np.bool_:
            return arr.reshape(-1).view(np.uint8), self._types[np.dtype(np.uint8)], None
        t = self._types.get(arr.dtype)
        if t is not None:
            return arr.reshape(-1), t, None
        if arr.dtype == np.int16:          # NCCL has no 16-bit integer type
            tmp = arr.reshape(-1).astype(np.int32) if copy_in else cp.empty(arr.size, np.int32)
            return tmp, self._types[np.dtype(np.int32)], lambda: cp.copyto(arr.reshape(-1), tmp,
                                                                           casting="unsafe")
        raise TypeError(f"nccl backend: unsupported dtype {arr.dtype}")

    def _op(self, op, dtype):
        name = op.name
        if dtype == np.bool_:
            name = {"SUM": "MAX", "PRODUCT": "MIN"}.get(name, name)
        return self._ops[name]

    def _enqueue(self, what, arr, launch, after, keep, async_op):
        """Queue `launch(stream_ptr)` and then `after()` on the communication stream once the
        caller's stream has reached this point."""
        cp = self.cp
        ready = cp.cuda.Event(disable_timing=True)
        ready.record(cp.cuda.get_current_stream())
        self.stream.wait_event(ready)
        try:
            with self.device:
                launch(self.stream.ptr)
                if after is not None:
                    with self.stream:
                        after()
        except self.nccl.NcclError as e:
            raise DistBackendError(f"{describe(what, arr)}: NCCL error: {e}") from None
        done = cp.cuda.Event(disable_timing=True)
        done.record(self.stream)
        # `keep` holds the buffers until the stream is past them (CuPy's pool could reuse them)
        self.watchdog.begin(what, arr, done=lambda: done.done and keep is not None)
        work = Work(self, what, arr, lambda: cp.cuda.get_current_stream().wait_event(done),
                    lambda: done.done)
        work.event = done
        if not async_op:
            work.wait()
            return None
        return work

    # ---- collectives -------------------------------------------------------------------------
    def allreduce(self, arr, op=ReduceOp.SUM, async_op=False):
        self._check("all_reduce", arr)
        buf, t, back = self._staged(arr)
        nop = self._op(op, arr.dtype)
        comm, size = self.comm, self.size

        def after():
            if op == ReduceOp.AVG:
                self.cp.divide(buf, size, out=buf, casting="unsafe")
            if back is not None:
                back()
        return self._enqueue("all_reduce", arr,
                             lambda s: comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, t, nop, s),
                             after, (arr, buf), async_op)

    def broadcast(self, arr, src, async_op=False):
        self._check("broadcast", arr)
        buf, t, back = self._staged(arr)
        comm = self.comm
        return self._enqueue("broadcast", arr,
                             lambda s: comm.broadcast(buf.data.ptr, buf.data.ptr, buf.size, t, src, s),
                             back, (arr, buf), async_op)

    def allgather(self, out, inp, async_op=False):
        self._check("all_gather", inp)
        self._check("all_gather", out)
        send, t, _ = self._staged(inp)
        recv, _, back = self._staged(out, copy_in=False)
        comm = self.comm
        return self._enqueue("all_gather", inp,
                             lambda s: comm.allGather(send.data.ptr, recv.data.ptr, send.size, t, s),
                             back, (inp, out, send, recv), async_op)

    def reduce_scatter(self, out, inp, op=ReduceOp.SUM, async_op=False):
        self._check("reduce_scatter", inp)
        self._check("reduce_scatter", out)
        send, t, _ = self._staged(inp)
        recv, _, back = self._staged(out, copy_in=False)
        nop = self._op(op, inp.dtype)
        comm, size = self.comm, self.size

        def after():
            if op == ReduceOp.AVG:
                self.cp.divide(recv, size, out=recv, casting="unsafe")
            if back is not None:
                back()
        return self._enqueue("reduce_scatter", inp,
                             lambda s: comm.reduceScatter(send.data.ptr, recv.data.ptr, recv.size, t,
                                                          nop, s),
                             after, (inp, out, send, recv), async_op)

    def barrier(self, async_op=False):
        with self.device:
            one = self.cp.ones(1, np.int32)
        work = self.allreduce(one, ReduceOp.SUM, async_op=True)
        if async_op:
            return work
        self._host_wait(work, "barrier")
        return None

    def _host_wait(self, work, what):
        token = self.watchdog.begin(what)
        try:
            while not work.event.done:
                time.sleep(0.0002)
        finally:
            self.watchdog.end(token)
        work.wait()

    def allgather_object(self, obj):
        cp = self.cp
        data = np.frombuffer(pickle.dumps(obj), np.uint8)
        with self.device:
            sizes = cp.zeros(self.size, np.int64)
            mine = cp.asarray(np.array([data.size], np.int64))
        self.allgather(sizes, mine)
        sizes = cp.asnumpy(sizes)
        longest = int(sizes.max())
        with self.device:
            padded = cp.zeros(longest, np.uint8)
            padded[:data.size] = cp.asarray(data)
            table = cp.empty((self.size, longest), np.uint8)
        self.allgather(table, padded)
        table = cp.asnumpy(table)
        return [pickle.loads(table[r, :sizes[r]].tobytes()) for r in range(self.size)]

    def broadcast_object(self, obj, src):
        return self.allgather_object(obj if self.rank == src else None)[src]

    def wait_all(self, works):
        for w in works:
            w.wait()

    def progress(self, works):
        pass

    # ---- lifecycle --------------------------------------------------------------------------------
    def abort(self, code=1):
        try:
            self.comm.abort()
        except Exception:
            pass
        if self._abort_job is not None:
            self._abort_job(code)
        _common.hard_exit(code)

    def destroy(self):
        self.watchdog.stop()
        self.stream.synchronize()
        self.comm.destroy()
