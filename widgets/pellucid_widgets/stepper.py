"""Stepper: step through a recorded iteration op by op, forward and backward, on its graph; or
drive a live run (a pellucid.debug.LiveSession) that pauses at breakpoints.

The model carries the graph view's state too (graph, depth, colours, selection, inspector): the
front end embeds a graph view in the stepper, and its states follow the cursor.

Live mode: the training step runs in the LiveSession's worker thread, so the cell that creates the
Stepper returns at once and button clicks reach the kernel while the run is paused. The session's
pause and finish callbacks update the widget from the worker thread."""
import logging
import threading
import types

from traitlets import Dict, Enum, Int, List, Unicode, observe

from .graph_widget import GraphWidget

log = logging.getLogger(__name__)

STATUSES = ("recorded", "running", "paused", "finished", "stopped", "error")
NAVIGATION = ("first", "prev", "next", "last", "step_over", "run", "run_back", "goto")
LIVE = ("resume", "step_live", "stop")


class Stepper(GraphWidget):
    """Step through `source`: a pellucid.debug Recorder (its latest iteration, or `iteration`), a
    pellucid.debug.Stepper, or a LiveSession (started here unless `start=False`).

    The front end sends {"action": ..., "k": int}; `act(action, k)` does the same from Python:
    first, prev, next, last, step_over (k < 0: backwards), run / run_back (to the next breakpoint
    forwards / backwards), goto (step k) move the cursor over the recorded steps; resume, step_live
    and stop control a live run. While a live run is paused at its newest step, next steps it live
    and run resumes it.
    """
    _model_name = Unicode("StepperModel").tag(sync=True)
    _view_name = Unicode("StepperView").tag(sync=True)

    cursor = Int(0).tag(sync=True)
    n_steps = Int(0).tag(sync=True)
    step = Dict().tag(sync=True)
    status = Enum(STATUSES, default_value="recorded").tag(sync=True)
    pause_reason = Unicode("").tag(sync=True)
    breakpoints = List(Unicode()).tag(sync=True)

    def __init__(self, source, iteration=None, breakpoints=(), start=True, **kwargs):
        from pellucid.debug import LiveSession, Stepper as DebugStepper
        self._lock = threading.RLock()
        self._session = source if isinstance(source, LiveSession) else None
        self._dstepper = source if isinstance(source, DebugStepper) else None
        if self._dstepper is not None:
            iteration = self._dstepper.iteration
        super().__init__(source, cursor=0, iteration=iteration, **kwargs)
        self.on_msg(self._on_frontend_msg)
        if self._session is None:
            if self._dstepper is None:
                self._dstepper = self._recorder.stepper(iteration)
            for bp in breakpoints:
                self._dstepper.add_breakpoint(bp)
            self._show(self._dstepper, self._dstepper.cursor, "recorded", "")
        else:
            sess = self._session
            for bp in breakpoints:
                sess.add_breakpoint(bp)
            sess.on_pause.append(self._on_session_pause)
            sess.on_finish.append(self._on_session_finish)
            if start and sess._thread is None:
                self.status = "running"
                sess.start()
            else:
                self._sync_with_session()

    def _initial_build(self):
        pass                                   # _show() / the session callbacks draw the first state

    # ---- showing a position ------------------------------------------------------------
    @property
    def session(self):
        """The LiveSession driven (None for a recording)."""
        return self._session

    @property
    def debug_stepper(self):
        """The pellucid.debug.Stepper over the iteration shown (None before a live run's first step)."""
        return self._dstepper

    def _show(self, dstepper, k, status, reason):
        """Point the widget at step k of dstepper's iteration (any thread)."""
        with self._lock, self.hold_sync():
            self._dstepper = dstepper
            if dstepper is not None:
                dstepper.cursor = k
                self._iteration = dstepper.iteration
            self.status = status
            self.pause_reason = reason
            self._sync_breakpoints()
            self._moved(k if dstepper is not None and len(dstepper) else 0, force=True)

    def _moved(self, k, force=False):
        with self._lock, self.hold_sync():
            ds = self._dstepper
            n = len(ds) if ds is not None else 0
            self.n_steps = n
            if self.cursor != k:
                self._ready = False            # one rebuild below, not one per trait
                self.cursor = k
                self._ready = True
            elif not force:
                return
            self.graph = self._build(k) if n else {}
            self.step = self._step_dict(k) if n else {}
            self._refresh_inspector()

    def _step_dict(self, k):
        steps = self.graph.get("steps") or []
        if not 0 <= k < len(steps):
            return {}
        s = dict(steps[k])
        src = self._dstepper.source_line(k)
        s["source_text"] = src[2] if src else ""
        what = s["node"] if s["phase"] != "forward" else s["op"]
        s["label"] = f"step {k + 1} / {len(steps)} · {s['phase']} · {what}"
        return s

    @observe("cursor")
    def _cursor_changed(self, change):
        if not self._ready:
            return
        ds = self._dstepper
        if ds is None or not len(ds) or self.status == "running":
            return
        k = max(0, min(int(change["new"]), len(ds) - 1))   # the slider may send anything
        ds.cursor = k
        self._moved(k, force=True)

    def _refresh_inspector(self):
        with self._lock:                      # the worker thread may be redrawing
            super()._refresh_inspector()

    def _sync_breakpoints(self):
        bps = self._session.breakpoints if self._session is not None else (
            self._dstepper.breakpoints if self._dstepper is not None else [])
        self.breakpoints = [b.description for b in bps]

    # ---- actions -------------------------------------------------------------------------
    def _on_frontend_msg(self, _widget, content, _buffers):
        if not isinstance(content, dict) or "action" not in content:
            return
        # the front end sends its cursor as k with every action; only goto reads it
        k = content.get("k") if content["action"] == "goto" else None
        try:
            self.act(content["action"], k)
        except Exception as e:  # a bad message must not break the kernel's message loop
            log.warning("pellucid Stepper: action %r failed: %s", content.get("action"), e)
            self.pause_reason = f"{type(e).__name__}: {e}"

    def act(self, action, k=None):
        """Do what a button does; returns the status."""
        if action in LIVE:
            return self._live(action, k)
        if action not in NAVIGATION:
            raise ValueError(f"Stepper: unknown action {action!r}; expected one of {NAVIGATION + LIVE}")
        with self._lock:
            ds = self._dstepper
            if ds is None or not len(ds) or self.status == "running":
                return self.status
            at_live_edge = (self._session is not None and self.status == "paused"
                            and ds.cursor == len(ds) - 1)
            if at_live_edge and action in ("next", "run"):
                live_action = "step_live" if action == "next" else "resume"
            else:
                live_action = None
                if action == "first":
                    ds.first()
                elif action == "prev":
                    ds.prev()
                elif action == "next":
                    ds.next()
                elif action == "last":
                    ds.last()
                elif action == "step_over":
                    ds.step_over(-1 if k is not None and int(k) < 0 else 1)
                elif action == "run":
                    ds.run(1)
                elif action == "run_back":
                    ds.run(-1)
                elif action == "goto":
                    if k is None:
                        raise ValueError("Stepper: goto needs k")
                    ds.goto(int(k))
                self._moved(ds.cursor, force=True)
        if live_action is not None:
            return self._live(live_action, None)
        return self.status

    def _live(self, action, k):
        sess = self._session
        if sess is None:
            return self.status
        # the lock is not held while calling the session: its callbacks take it from the worker
        if action == "stop":
            sess.stop()
            return self.status
        with self._lock:
            if sess.status != "paused":
                return self.status
            self.status = "running"
        result = sess.resume() if action == "resume" else sess.step(max(1, int(k or 1)))
        if result != "running":              # it was not paused after all
            self._sync_with_session()
        return self.status

    def next(self):
        return self.act("next")

    def prev(self):
        return self.act("prev")

    def goto(self, k):
        return self.act("goto", k)

    def resume(self):
        return self.act("resume")

    def step_live(self, n=1):
        return self.act("step_live", n)

    def stop(self):
        return self.act("stop")

    def add_breakpoint(self, bp=None, **kwargs):
        """Add a breakpoint (a pellucid.debug Breakpoint, or the keywords of
        pellucid.debug.Stepper.add_breakpoint: op=, module=, tensor=, nan=True, ...)."""
        from pellucid.debug import Stepper as DebugStepper
        target = self._session.breakpoints if self._session is not None else self._dstepper.breakpoints
        made = DebugStepper.add_breakpoint(types.SimpleNamespace(breakpoints=target), bp, **kwargs)
        self._sync_breakpoints()
        return made

    def clear_breakpoints(self):
        target = self._session.breakpoints if self._session is not None else self._dstepper.breakpoints
        target.clear()
        self._sync_breakpoints()

    # ---- live session callbacks (worker thread) -----------------------------------------------
    def _on_session_pause(self, sess):
        try:
            self._sync_with_session()
        except Exception:  # never let a display problem kill the user's training thread
            log.exception("pellucid Stepper: could not show the paused step")

    def _on_session_finish(self, sess):
        try:
            self._sync_with_session()
        except Exception:
            log.exception("pellucid Stepper: could not show the finished run")

    def _sync_with_session(self):
        from pellucid.debug import Stepper as DebugStepper
        sess = self._session
        rec = sess.recorder
        status = sess.status
        if status == "idle":
            return
        if status == "running":
            with self._lock:
                self.status = "running"
            return
        with self._lock, rec._lock:           # always this order (act() holds ours, then builds)
            if status == "paused" and sess.paused_at is not None:
                step = sess.paused_at
                it = next((i for i in reversed(rec.iterations)
                           if step.index < len(i.steps) and i.steps[step.index] is step), rec.latest)
                ds = DebugStepper(rec, it)
                k = step.index
                reason = sess.pause_reason or ""
            else:
                ds = DebugStepper(rec) if rec.latest is not None and rec.latest.steps else None
                k = len(ds) - 1 if ds is not None else 0
                reason = ""
                if status == "error" and sess.error is not None:
                    reason = f"{type(sess.error).__name__}: {sess.error}"
            if ds is not None:
                ds.breakpoints = sess.breakpoints
            self._show(ds, k, status, reason)

    def close(self):
        if self._session is not None:
            for lst, cb in ((self._session.on_pause, self._on_session_pause),
                            (self._session.on_finish, self._on_session_finish)):
                if cb in lst:
                    lst.remove(cb)
        super().close()
