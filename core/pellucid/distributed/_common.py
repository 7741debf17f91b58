"""What every backend shares: reduction ops, errors, the timeout watchdog, work handles and the
rule that an uncaught error on one rank ends the whole job."""
import itertools
import os
import sys
import threading
import time
from datetime import timedelta

__all__ = ["ReduceOp", "DistError", "DistBackendError", "Work", "default_pg_timeout"]

default_pg_timeout = timedelta(minutes=30)


class ReduceOp:
    """Reduction operators for `all_reduce` and `reduce_scatter` (`ReduceOp.SUM`, ...)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"

    def __eq__(self, other):
        return isinstance(other, ReduceOp) and other.name == self.name

    def __hash__(self):
        return hash(self.name)


for _name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX"):
    setattr(ReduceOp, _name, ReduceOp(_name))


class DistError(RuntimeError):
    """Base class of pellucid.distributed's errors."""


class DistBackendError(DistError):
    """A collective failed inside the communication backend."""


def timeout_seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, timedelta):
        secs = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        secs = float(timeout)
    else:
        raise TypeError(f"init_process_group: timeout must be a datetime.timedelta (or seconds), "
                        f"got {type(timeout).__name__}")
    if secs <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return secs


def describe(op, arr):
    """`all_reduce (float32, 1024 elements)`: what a rank was doing, for error messages."""
    if arr is None:
        return op
    return f"{op} ({arr.dtype}, {arr.size} elements)"


class Watchdog:
    """A daemon thread that ends the job when a collective has been waiting longer than the
    timeout. Blocking MPI calls release the GIL, so the thread runs while the caller is stuck
    inside one; it cannot raise there, so it reports and aborts every rank (PyTorch's NCCL
    watchdog does the same)."""

    def __init__(self, group, timeout_s):
        self.group = group
        self.timeout_s = timeout_s
        self._active = {}           # token -> [description, start, done-callable or None]
        self._tokens = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pellucid-distributed-watchdog",
                                        daemon=True)
        self._thread.start()

    def begin(self, what, arr=None, done=None):
        token = next(self._tokens)
        self._active[token] = (what, arr, time.monotonic(), done)
        return token

    def end(self, token):
        self._active.pop(token, None)

    def stop(self):
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self):
        interval = min(1.0, max(0.02, self.timeout_s / 20))
        while not self._stop.wait(interval):
            now = time.monotonic()
            for token, (what, arr, start, done) in list(self._active.items()):
                if done is not None and done():
                    self._active.pop(token, None)
                elif now - start > self.timeout_s:
                    self._fire(describe(what, arr), now - start)
                    return

    def _fire(self, what, waited):
        g = self.group
        report(f"[rank {g.rank}] pellucid.distributed: {what} on rank {g.rank} of {g.size} "
               f"({g.backend} backend) did not complete within the timeout of "
               f"{timedelta(seconds=self.timeout_s)} (waited {waited:.1f} s). Another rank has "
               "probably failed, hung, or called a different collective. Ending the job.")
        g.abort(1)


def report(message):
    """Write a line to stderr at once (the job may be killed right after)."""
    try:
        sys.stdout.flush()
    except Exception:
        pass
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()


class Work:
    """Handle of an asynchronous collective (`async_op=True`): `wait()` blocks until it is done
    (bounded by the group's timeout), `is_completed()` asks without blocking."""

    def __init__(self, group, what, arr, wait_fn, test_fn, finish=None):
        self._group = group
        self._what = what
        self._arr = arr
        self._wait_fn = wait_fn
        self._test_fn = test_fn
        self._finish = finish
        self._done = False

    def _complete(self):
        self._done = True
        if self._finish is not None:
            fin, self._finish = self._finish, None
            fin()

    def wait(self, timeout=None):
        if not self._done:
            wd = self._group.watchdog
            token = wd.begin(self._what, self._arr)
            try:
                self._wait_fn()
            finally:
                wd.end(token)
            self._complete()
        return True

    def is_completed(self):
        if not self._done and self._test_fn():
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def __repr__(self):
        return f"<Work {describe(self._what, self._arr)} {'done' if self._done else 'pending'}>"


_installed_hook = None


def install_abort_on_error(group):
    """An uncaught exception on one rank prints its traceback and ends every rank, instead of
    leaving the others blocked in their next collective."""
    global _installed_hook
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            sys.stderr.write(f"[rank {group.rank}] uncaught {exc_type.__name__}; ending the job\n")
            previous(exc_type, exc, tb)
        finally:
            group.abort(1)

    hook.previous = previous
    sys.excepthook = _installed_hook = hook


def remove_abort_on_error():
    global _installed_hook
    if _installed_hook is not None and sys.excepthook is _installed_hook:
        sys.excepthook = _installed_hook.previous
    _installed_hook = None


def hard_exit(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
