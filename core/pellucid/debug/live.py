"""Live pausing: run the user's code (a forward/backward or a training step) in a worker thread
that blocks at breakpoints until it is resumed, stepped or stopped.

A notebook cell that is busy cannot receive widget events, so the controls must not wait on the
cell: the work runs in the worker, the cell returns, and buttons call resume/step/stop. Stopping
raises `StopRequested` inside the worker at its next op boundary (ops are atomic and optimizer
updates do not pass through the dispatch point, so no parameter is left half-updated), then the
thread is joined: no thread or lock is left behind."""
import threading
import traceback

from .recorder import Recorder
from .breakpoints import Breakpoint

__all__ = ["LiveSession", "StopRequested", "live"]


class StopRequested(BaseException):
    """Raised inside the worker to unwind it when the session is stopped (a BaseException so a
    user's `except Exception` does not swallow it)."""


class LiveSession:
    """Run `fn(*args, **kwargs)` in a worker thread under a recording, pausing at breakpoints."""

    def __init__(self, fn, *args, breakpoints=(), pause_at_start=False, nan_check=True, model=None,
                 values="summary", keep=1, **kwargs):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.breakpoints = list(breakpoints)
        for b in self.breakpoints:
            if not isinstance(b, Breakpoint):
                raise TypeError(f"LiveSession: not a Breakpoint: {b!r}")
        self.recorder = Recorder(model=model, values=values, keep=keep, nan_check=nan_check)
        self.recorder.step_hooks.append(self._after_step)
        self.recorder.on_trip = self._on_trip if nan_check else None
        self.status = "idle"
        self.paused_at = None
        self.pause_reason = None
        self.result = None
        self.error = None
        self.traceback = None
        self.on_pause = []                 # callbacks fn(session), called from the worker thread
        self.on_finish = []
        self._cond = threading.Condition()
        self._steps_left = 0 if pause_at_start else None
        self._stop = False
        self._thread = None

    # ---- control (call from any thread) --------------------------------------------------------
    def start(self):
        if self._thread is not None:
            raise RuntimeError("LiveSession.start(): already started")
        self.status = "running"
        self._thread = threading.Thread(target=self._run, name="pellucid-live", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout=None):
        """Block until the worker pauses or ends; returns the status."""
        with self._cond:
            self._cond.wait_for(lambda: self.status != "running", timeout)
            return self.status

    def resume(self):
        """Run until the next breakpoint (or the end)."""
        with self._cond:
            if self.status != "paused":
                return self.status
            self._steps_left = None
            self.status = "running"
            self._cond.notify_all()
        return self.status

    def step(self, n=1):
        """Run `n` more steps, then pause again."""
        with self._cond:
            if self.status != "paused":
                return self.status
            self._steps_left = n
            self.status = "running"
            self._cond.notify_all()
        return self.status

    def stop(self, timeout=10.0):
        """Stop the worker at its next op and join it."""
        with self._cond:
            self._stop = True
            if self.status in ("paused", "running"):
                self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("LiveSession.stop(): the worker did not reach an op boundary in time "
                                   "(is it blocked outside pellucid?)")
        return self.status

    def add_breakpoint(self, bp):
        self.breakpoints.append(bp)
        return bp

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()

    def stepper(self):
        return self.recorder.stepper()

    # ---- worker side -------------------------------------------------------------------------
    def _run(self):
        try:
            with self.recorder:
                self.result = self.fn(*self.args, **self.kwargs)
            status = "finished"
        except StopRequested:
            status = "stopped"
        except BaseException as e:  # reported to the controlling thread
            self.error = e
            self.traceback = traceback.format_exc()
            status = "error"
        with self._cond:
            self.status = status
            self.paused_at = None
            self._cond.notify_all()
        for cb in list(self.on_finish):
            cb(self)

    def _after_step(self, recorder, step):
        if self._stop:
            raise StopRequested()
        pause = False
        if self._steps_left is not None:
            if self._steps_left <= 0:
                pause = True
            else:
                self._steps_left -= 1
                pause = self._steps_left == 0
            reason = "step"
        if not pause:
            for b in self.breakpoints:
                if b.matches(step, recorder):
                    pause = True
                    reason = repr(b)
                    break
        if pause:
            self._pause(step, reason)

    def _on_trip(self, step, message):
        self._pause(step, message)

    def _pause(self, step, reason):
        with self._cond:
            self.status = "paused"
            self.paused_at = step
            self.pause_reason = reason
            self._cond.notify_all()
        for cb in list(self.on_pause):
            cb(self)
        with self._cond:
            self._cond.wait_for(lambda: self.status != "paused" or self._stop)
            if self._stop:
                raise StopRequested()
            self.paused_at = None


def live(fn, *args, **kwargs):
    """Start a LiveSession for `fn(*args, **kwargs)` and return it."""
    return LiveSession(fn, *args, **kwargs).start()
