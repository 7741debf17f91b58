"""Fetching samples, and the loop each DataLoader worker process runs.

Batches travel from workers to the main process through multiprocessing queues, which pickle
them. That is acceptable here because both ends are our own processes running our own code: no
data from outside is ever unpickled. pellucid tensors refuse ordinary pickling (so that no one
saves models that way), so a reduction registered only with multiprocessing's pickler sends a
tensor as its NumPy array plus its requires_grad flag and device.
"""
import io
import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ... import _backend
from ..._tensor import Tensor
from .dataset import _gather_plan

__all__ = ["WorkerInfo", "get_worker_info"]

# Seconds between checks that the other side is still alive while waiting on a queue.
STATUS_CHECK_INTERVAL = 1.0
# Workers wake up this often while idle to notice that the loader has shut down.
WORKER_POLL_INTERVAL = 0.1


def _rebuild_tensor(array, requires_grad, device):
    if device != "cpu":
        array = _backend.move(array, _backend.device(device))
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_tensor(t):
    if t._requires_grad and t.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to send a non-leaf tensor that requires grad to another process: "
            "its graph can't travel with it. Call .detach() on it first.")
    return _rebuild_tensor, (_backend.to_numpy(t._data), t._requires_grad, str(t.device))


ForkingPickler.register(Tensor, _reduce_tensor)


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback text."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            # KeyError repr()s its message, which would mangle the traceback's newlines.
            msg = _KeyErrorMessage(msg)
        # Raised without keeping the exception in a local, so that its traceback doesn't form a
        # reference cycle holding the DataLoader iterator (and its worker processes) alive.
        try:
            self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise self.exc_type(msg)


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker knows about itself: `id` (0 to num_workers - 1), `num_workers`, the `seed`
    it was given and its own copy of the `dataset`."""
    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """This worker's `WorkerInfo` inside a DataLoader worker process; None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of each new epoch."""


# ---- fetchers ---------------------------------------------------------------------------------

class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        from ._collate import default_collate
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.gather = _gather_plan(dataset) if auto_collation and collate_fn is default_collate else None

    def fetch(self, possibly_batched_index):
        if self.gather is not None:
            batch = self._gather(possibly_batched_index)
            if batch is not None:
                return batch
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            if getitems is not None:
                data = getitems(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)

    def _gather(self, indices):
        # Same result as default_collate([dataset[i] for i in indices]) on a TensorDataset: a
        # list with one batch tensor per dataset tensor, gathered with one fancy index each.
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            return None
        arrays, index_map = self.gather
        if index_map is not None:
            idx = index_map[idx]
        out = []
        for a in arrays:
            out.append(Tensor._make(a[idx] if type(a) is np.ndarray else a[_backend.xp_of(a).asarray(idx)]))
        return out


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _dumps(obj):
    buf = io.BytesIO()
    ForkingPickler(buf).dump(obj)
    return buf.getvalue()


def _pack(item, where):
    """Pickle a result here, in the worker, so that a result that can't be pickled is reported
    to the main process as an error (a queue's feeder thread would only print it and drop it)."""
    try:
        return _dumps(item)
    except Exception:
        wrapper = ExceptionWrapper(where=where)
        try:
            return _dumps((item[0], wrapper))
        except Exception:
            wrapper.exc_type = RuntimeError     # the exception class itself can't travel
            return _dumps((item[0], wrapper))


def _unpack(payload):
    return ForkingPickler.loads(payload)


# ---- the worker process ------------------------------------------------------------------------

def _seed_worker(base_seed, worker_id):
    import pellucid
    seed = base_seed + worker_id
    random.seed(seed)
    pellucid.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _worker_loop(iterable, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers, parent_pid):
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=where)
        iteration_end = False
        while True:
            if os.getppid() != parent_pid:
                break       # the main process died: nobody will ever read our results
            try:
                r = index_queue.get(timeout=WORKER_POLL_INTERVAL)
            except queue.Empty:
                if done_event.is_set():
                    break       # shut down, even if the final None never reached us
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put(_pack((r, None), where))
                iteration_end = False
                try:
                    fetcher = create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_exception = ExceptionWrapper(where=where)
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=where)
            data_queue.put(_pack((idx, data), where))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # The main process has stopped reading: don't block exit flushing results to it.
        data_queue.cancel_join_thread()
        data_queue.close()
