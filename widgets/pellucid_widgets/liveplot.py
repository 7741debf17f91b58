"""Live training curves with Bokeh: appended with ColumnDataSource.stream (old points are never
redrawn, other outputs never cleared), throttled, several series on their own axes, long runs
kept light by thinning old points.

In a notebook the plot is a jupyter_bokeh BokehModel with Pause and Stop toggle buttons. A busy
cell cannot receive widget events until it ends (ipywidgets#3468), so the buttons work two ways:
- a loop run in the cell: with ipykernel 7 the clicks are read as they arrive (see
  `_early_clicks`); `plot.stop_requested` turns true and a paused `.log()` waits for Resume;
- `plot.run_in_background(train_fn)`: the loop runs in a thread and the cell returns at once;
  `.log()` waits while paused and raises StopTraining once Stop is pressed.
Where neither is possible (a loop in the cell on a kernel without that hook) the buttons are
disabled and their tooltip says why.

In a script `.log()` prints a progress line (tqdm when installed) and `.save()` / `.close()` write
a standalone HTML file."""
import atexit
import itertools
import logging
import math
import os
import sys
import tempfile
import threading
import time
import traceback
import weakref

import numpy as np

from ._common import escape, in_kernel, ipython_shell, on_cell_thread

log = logging.getLogger(__name__)

__all__ = ["LivePlot", "TrainingDashboard", "StopTraining", "BackgroundRun"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
AXES = ("left", "right", "below")
SCRIPT_THROTTLE = 0.1            # seconds between progress lines without tqdm
# jupyter_bokeh's view drops the updates that arrive before it has drawn itself (loading BokehJS
# takes a moment), and draws the state the widget had when it was created: for this long after
# display every update also refreshes that state, and the end of the cell refreshes it once more
RESYNC_AFTER_DISPLAY_S = 2.0
RESYNC_EVERY_S = 0.5             # serialising the whole document costs ~30 ms: not at every update


class StopTraining(Exception):
    """Raised by `LivePlot.log()` inside `run_in_background` once Stop was pressed."""


def default_axis(name):
    """Where a series goes by its name: learning rates in a log-scaled panel below, accuracies
    on a right-hand axis, everything else (losses, ...) on the left axis."""
    n = name.lower()
    if n in ("lr", "learning_rate") or n.endswith("_lr") or "learning_rate" in n:
        return "below"
    if "acc" in n:
        return "right"
    return "left"


def envelope(x, y, lo, hi, n_bins):
    """The points of (x, y) (x sorted, all within [lo, hi]) reduced to the lowest and highest y in
    each of `n_bins` equal steps of x, in x order, so spikes survive thinning. NaN values are
    dropped (the exact part of a series still shows them as gaps)."""
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if len(x) <= 2 * n_bins:
        return x, y
    width = (hi - lo) / n_bins if hi > lo else 1.0
    bins = np.minimum(((x - lo) / width).astype(np.intp), n_bins - 1)
    starts = np.flatnonzero(np.diff(bins, prepend=-1))         # x is sorted: bins come in runs
    seg = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(x))))
    lows = np.minimum.reduceat(y, starts)
    highs = np.maximum.reduceat(y, starts)
    first_low = np.unique(seg[y == lows[seg]], return_index=True)[1]
    first_high = np.unique(seg[y == highs[seg]], return_index=True)[1]
    idx = np.unique(np.concatenate([np.flatnonzero(y == lows[seg])[first_low],
                                    np.flatnonzero(y == highs[seg])[first_high]]))
    return x[idx], y[idx]


def compact(x, y, n_old, max_points):
    """Thin a series that outgrew `max_points`, keeping an even resolution over its history.

    The series is [n_old points of the past, thinned] + [exact points]. The newest max_points/2
    points stay exact; everything older is reduced to the lowest and highest value in each of
    max_points/8 equal steps of x (from the first point on), so the past fills max_points/4 and
    max_points/4 new points can be streamed before the next compaction. The first point is kept.
    Returns (x, y, n_old)."""
    keep = max(1, max_points // 2)
    n_bins = max(1, max_points // 8)
    n = len(x)
    if n - n_old <= keep:
        return x, y, n_old
    cut = n - keep
    ox, oy = envelope(x[:cut], y[:cut], x[0], x[cut], n_bins)
    if not len(ox) or ox[0] != x[0]:
        ox, oy = np.concatenate([x[:1], ox]), np.concatenate([y[:1], oy])
    return np.concatenate([ox, x[cut:]]), np.concatenate([oy, y[cut:]]), len(ox)


_TQDM = []


def _tqdm():
    """tqdm's class when installed, else None (looked up once)."""
    if not _TQDM:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        _TQDM.append(tqdm)
    return _TQDM[0]


def _as_float(v):
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (float, int)):
        v = v.item()
    return float(v)


def _early_clicks(toggle, apply):
    """Make `toggle`'s clicks call apply(value) as soon as they reach the kernel, even while a cell
    is busy running a training loop. Returns whether this is possible here.

    ipykernel 7 receives shell messages in its shell-channel thread and asks each comm message's
    comm which subshell should handle it (`_reply_subshell_for`) before queueing it for the busy
    main thread. Wrapping that question lets us see a toggle's new value at once; the message itself
    still reaches ipywidgets unchanged when the cell ends."""
    c = getattr(toggle, "comm", None)
    route = getattr(c, "_reply_subshell_for", None)
    if route is None or not callable(route):
        return False

    def peek(data, default):
        try:
            if isinstance(data, dict) and data.get("method") == "update":
                state = data.get("state") or {}
                if "value" in state:
                    apply(bool(state["value"]))
        except Exception:
            log.exception("pellucid LivePlot: reading a button click early failed")
        return route(data, default)
    c._reply_subshell_for = peek
    return True


class _Series:
    __slots__ = ("name", "axis", "source", "renderer", "px", "py", "streams", "compactions", "last", "n_old")

    def __init__(self, name, axis, source, renderer):
        self.name = name
        self.axis = axis
        self.source = source
        self.renderer = renderer
        self.px = []
        self.py = []
        self.streams = 0
        self.compactions = 0
        self.last = None
        self.n_old = 0                       # leading points that are thinned history


_live_plots = weakref.WeakSet()       # flushed after every cell
_hooked_shell = None
_bokehjs_loaded_for = None


def _flush_all(*_args):
    for p in list(_live_plots):
        try:
            p.flush()
            p._resync_page()
        except Exception:
            log.exception("pellucid LivePlot: flush after the cell failed")


def _hook_kernel():
    global _hooked_shell
    ip = ipython_shell()
    if ip is None or ip is _hooked_shell:
        return
    ip.events.register("post_run_cell", _flush_all)
    _hooked_shell = ip


def load_bokehjs():
    """Load BokehJS into the notebook page once per kernel, from the installed bokeh package
    (INLINE: works offline); jupyter_bokeh's views need it."""
    global _bokehjs_loaded_for
    ip = ipython_shell()
    if ip is None or ip is _bokehjs_loaded_for:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE
    output_notebook(INLINE, hide_banner=True)
    _bokehjs_loaded_for = ip


class LivePlot:
    """Live curves of training metrics.

        plot = LivePlot(series=("train_loss", "val_loss", "accuracy", "lr"), log_y=True)
        for step in range(n):
            ...
            plot.log(step, train_loss=loss.item(), lr=opt.param_groups[0]["lr"])

    series: names drawn from the start (others appear when first logged); axes: {name: "left" |
    "right" | "below"} overrides where a series goes (default: accuracies right, learning rates in
    a log-scaled panel below, the rest left); log_y: log scale on the left axis; max_points: points
    kept per series (older ones thinned beyond it); throttle: seconds between updates sent to the
    page; total: expected number of steps (progress bar in scripts); path: HTML file written by
    close() in scripts (default "liveplot.html"); autosave: close() at interpreter exit in scripts.
    The ColumnDataSource of each series is named "pellucid-<series>" with columns x and y.
    """

    def __init__(self, series=("train_loss", "val_loss"), log_y=False, max_points=100_000, throttle=0.1,
                 title="training", x_label="step", y_label="loss", axes=None, total=None, path=None,
                 width=760, height=340, autosave=True, clock=time.monotonic):
        try:
            from bokeh.models import ColumnDataSource  # noqa: F401
        except ImportError:
            raise ImportError("LivePlot needs bokeh: pip install 'pellucid[notebook]'") from None
        if max_points < 8:
            raise ValueError(f"LivePlot: max_points must be at least 8, got {max_points}")
        if isinstance(series, str):
            series = (series,)
        self.title = str(title)
        self.log_y = bool(log_y)
        self.max_points = int(max_points)
        self.throttle = float(throttle)
        self.total = total
        self.path = None if path is None else os.fspath(path)
        self._axes = dict(axes or {})
        self._clock = clock
        self._lock = threading.RLock()
        self._series = {}
        self._colors = itertools.cycle(PALETTE)
        self._count = 0
        self._last_flush = -math.inf
        self._last_step = None
        self._stop = False
        self._resumed = threading.Event()
        self._resumed.set()
        self._run = None
        self._foreground = False
        self._early = False                  # button clicks reach log() while a cell runs
        self._closed = False
        self._widget = None
        self._displayed = False
        self._displayed_at = None
        self._page_stale = False             # updates went out that a late-drawn view may have missed
        self.resyncs = 0
        self._resynced_at = -math.inf
        self._show_hook = None               # a dashboard shows itself instead of the bare plot
        self._progress = None
        self._progress_last = -math.inf
        self._t0 = None
        self._notebook = in_kernel()
        self._build_figures(x_label, y_label, width, height)
        for name in series:
            self._add_series(name)
        if self._notebook:
            _hook_kernel()
            _live_plots.add(self)
        elif autosave:
            ref = weakref.ref(self)
            atexit.register(lambda: ref() is not None and not ref()._closed and ref().close())

    # ---- figures ------------------------------------------------------------------------
    def _build_figures(self, x_label, y_label, width, height):
        from bokeh.layouts import column
        from bokeh.models import DataRange1d, HoverTool, Legend, LinearAxis, LinearScale
        from bokeh.plotting import figure
        self.figure = figure(title=escape(self.title), width=width, height=height,
                             y_axis_type="log" if self.log_y else "linear", x_axis_label=escape(x_label),
                             y_axis_label=escape(y_label), tools="pan,wheel_zoom,box_zoom,reset,save")
        self.figure.y_range = DataRange1d(renderers=[])
        self.figure.extra_y_ranges = {"right": DataRange1d(renderers=[])}
        self.figure.extra_y_scales = {"right": LinearScale()}       # accuracies stay linear under log_y
        self._right_axis = LinearAxis(y_range_name="right", axis_label="accuracy", visible=False)
        self.figure.add_layout(self._right_axis, "right")
        self.figure.add_tools(HoverTool(tooltips=[("series", "$name"), ("step", "@x"), ("value", "@y")]))
        self.lower = figure(width=width, height=max(120, height // 2), x_range=self.figure.x_range,
                            y_axis_type="log", y_axis_label="learning rate", x_axis_label=escape(x_label),
                            tools="pan,wheel_zoom,box_zoom,reset", visible=False)
        self.lower.y_range = DataRange1d(renderers=[])
        self.lower.add_tools(HoverTool(tooltips=[("series", "$name"), ("step", "@x"), ("value", "@y")]))
        # legends beside the plots, not over the curves' latest points
        for fig in (self.figure, self.lower):
            fig.add_layout(Legend(items=[], click_policy="hide", location="top_left"), "right")
        self.layout = column(self.figure, self.lower)

    def _add_series(self, name):
        from bokeh.models import ColumnDataSource, LegendItem
        name = str(name)
        axis = self._axes.get(name) or default_axis(name)
        if axis not in AXES:
            raise ValueError(f"LivePlot: axis of {name!r} must be one of {AXES}, got {axis!r}")
        label = escape(name)
        source = ColumnDataSource(data={"x": np.zeros(0), "y": np.zeros(0)}, name=f"pellucid-{label}")
        color = next(self._colors)
        fig = self.lower if axis == "below" else self.figure
        kw = {"y_range_name": "right"} if axis == "right" else {}
        r = fig.line("x", "y", source=source, color=color, line_width=2, name=label, **kw)
        fig.legend[0].items = [*fig.legend[0].items, LegendItem(label=label, renderers=[r])]
        if axis == "right":
            self.figure.extra_y_ranges["right"].renderers = [*self.figure.extra_y_ranges["right"].renderers, r]
            self._right_axis.visible = True
        else:
            fig.y_range.renderers = [*fig.y_range.renderers, r]
        if axis == "below":
            self.lower.visible = True
        s = self._series[name] = _Series(name, axis, source, r)
        return s

    def source(self, name):
        """The ColumnDataSource of series `name`."""
        return self._series[name].source

    @property
    def series(self):
        return tuple(self._series)

    # ---- logging ------------------------------------------------------------------------
    def log(self, step=None, **values):
        """Add one point per keyword (a number, a NumPy scalar or a one-element tensor; None is
        skipped) at x = step (default: the number of earlier calls). Sends to the page at most
        every `throttle` seconds."""
        self._check_controls()
        now = self._clock()
        with self._lock:
            if self._closed:
                raise RuntimeError("LivePlot.log(): the plot is closed")
            x = float(self._count if step is None else step)
            for name, v in values.items():
                v = _as_float(v)
                if v is None:
                    continue
                s = self._series.get(name) or self._add_series(name)
                s.px.append(x)
                s.py.append(v)
                s.last = v
            self._count += 1
            self._last_step = x if step is None else step
            if self._t0 is None:
                self._t0 = now
            due = now - self._last_flush >= self.throttle
        if self._notebook:
            if not self._displayed:
                (self._show_hook or self.show)()
            if on_cell_thread() and not self._foreground:
                self._mark_foreground()
        if due:
            self.flush(now)
        if not self._notebook:
            self._print_progress(now)

    def flush(self, now=None):
        """Send the buffered points now."""
        with self._lock:
            sent = False
            for s in self._series.values():
                if s.px:
                    self._push(s)
                    sent = True
            self._last_flush = self._clock() if now is None else now
            if sent and self._widget is not None and self._displayed:
                self._page_stale = True
                now_c = self._clock()
                if (now_c - self._displayed_at < RESYNC_AFTER_DISPLAY_S
                        and now_c - self._resynced_at >= RESYNC_EVERY_S):
                    self._resync_page()
        self._update_status()

    def _resync_page(self):
        """Make the state a view draws itself from (and redraws existing views from) the current
        one, so that points sent before BokehJS had drawn the plot are not lost."""
        with self._lock:
            if not self._page_stale or self._widget is None:
                return
            self._bokeh.render_bundle = type(self._bokeh)._model_to_traits(self.layout)
            self._page_stale = False
            self._resynced_at = self._clock()
            self.resyncs += 1

    def _push(self, s):
        px = np.asarray(s.px, dtype=np.float64)
        py = np.asarray(s.py, dtype=np.float64)
        s.px.clear()
        s.py.clear()
        data = s.source.data
        if len(data["x"]) + len(px) > self.max_points:
            x, y, s.n_old = compact(np.concatenate([np.asarray(data["x"], np.float64), px]),
                                    np.concatenate([np.asarray(data["y"], np.float64), py]),
                                    s.n_old, self.max_points)
            s.source.data = {"x": x, "y": y}      # the one full redraw, once per max_points/4 points
            s.compactions += 1
        else:
            s.source.stream({"x": px, "y": py})
            s.streams += 1

    def points(self, name):
        """(x, y) arrays of series `name` as plotted plus buffered."""
        with self._lock:
            s = self._series[name]
            d = s.source.data
            return (np.concatenate([np.asarray(d["x"], np.float64), np.asarray(s.px, np.float64)]),
                    np.concatenate([np.asarray(d["y"], np.float64), np.asarray(s.py, np.float64)]))

    # ---- stop / pause --------------------------------------------------------------------
    @property
    def stop_requested(self):
        """True once Stop was pressed (or stop() called)."""
        return self._stop

    @property
    def paused(self):
        return not self._resumed.is_set()

    def stop(self):
        self._set_stop(True)

    def pause(self):
        self._set_pause(True)

    def resume(self):
        self._set_pause(False)

    def _apply_stop(self, value):
        # flags only: also called from the kernel's shell-channel thread (see _early_clicks)
        self._stop = bool(value)
        if self._stop:
            self._resumed.set()              # a paused loop must wake up to stop

    def _apply_pause(self, value):
        if value and not self._stop:
            self._resumed.clear()
        else:
            self._resumed.set()

    def _set_stop(self, value):
        self._apply_stop(value)
        if self._widget is not None and self._stop_button.value != self._stop:
            self._stop_button.value = self._stop
        self._update_status()

    def _set_pause(self, value):
        self._apply_pause(value)
        if self._widget is not None and self._pause_button.value != bool(value):
            self._pause_button.value = bool(value)
        self._update_status()

    def _in_background_run(self):
        run = self._run
        return run is not None and threading.current_thread() is run.thread

    def _can_wait(self):
        """Whether a paused log() may block: only where Resume / Stop can still reach us."""
        if threading.current_thread() is not threading.main_thread():
            return True
        return self._notebook and self._early

    def _check_controls(self):
        if self.paused and not self._stop and self._can_wait():
            self.flush()                     # also shows "paused" in the status line
            self._resumed.wait()
        if self._stop and self._in_background_run():
            raise StopTraining("stopped from the plot's Stop button")

    # ---- background runs ------------------------------------------------------------------
    def run_in_background(self, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)` (a training loop calling `plot.log`) in a thread and return a
        BackgroundRun at once, so the cell ends and Pause / Stop reach the kernel."""
        if self._run is not None and self._run.alive:
            raise RuntimeError("LivePlot.run_in_background(): a run is already going; stop it first")
        self._set_stop(False)
        self._set_pause(False)
        if self._widget is not None:
            for b in (self._pause_button, self._stop_button):
                b.disabled = False
                b.tooltip = ""
        self._foreground = False
        self._run = BackgroundRun(self, fn, args, kwargs)
        if self._notebook and not self._displayed:
            self.show()
        self._run.start()
        return self._run

    # ---- notebook ------------------------------------------------------------------------
    @property
    def widget(self):
        """The notebook view: Pause / Stop buttons, a status line and the Bokeh figures."""
        if self._widget is None:
            import ipywidgets as widgets
            from jupyter_bokeh.widgets import BokehModel
            self._pause_button = widgets.ToggleButton(value=self.paused, description="Pause", icon="pause",
                                                      layout=widgets.Layout(width="90px"))
            self._stop_button = widgets.ToggleButton(value=self._stop, description="Stop", icon="stop",
                                                     button_style="danger", layout=widgets.Layout(width="90px"))
            self._pause_button.observe(lambda ch: self._set_pause(ch["new"]), "value")
            self._stop_button.observe(lambda ch: self._set_stop(ch["new"]), "value")
            self._early = (_early_clicks(self._pause_button, self._apply_pause)
                           and _early_clicks(self._stop_button, self._apply_stop))
            self._status = widgets.HTML(value="")
            self._bokeh = BokehModel(self.layout)
            self._widget = widgets.VBox([widgets.HBox([self._pause_button, self._stop_button, self._status]),
                                         self._bokeh])
            self._widget.add_class("pellucid-liveplot")
            if self._foreground:
                self._mark_foreground()
            self._update_status()
        return self._widget

    def show(self):
        """Display the plot in the notebook (once BokehJS is loaded); nothing in a script."""
        if not self._notebook:
            return
        from IPython.display import display
        load_bokehjs()
        display(self.widget)
        self._displayed = True
        self._displayed_at = self._clock()

    def _ipython_display_(self):
        self.show()

    def _mark_foreground(self):
        self._foreground = True
        if self._widget is not None and not self._early:
            tip = "The loop runs in the cell, which cannot receive clicks: use plot.run_in_background(train_fn)"
            for b in (self._pause_button, self._stop_button):
                b.disabled = True
                b.tooltip = tip

    def status_text(self):
        """One line: the step, the latest value of each series, and the run state."""
        with self._lock:
            parts = [f"step {self._last_step if self._last_step is not None else '-'}"]
            parts += [f"{s.name} {s.last:.4g}" for s in self._series.values() if s.last is not None]
        if self._closed:
            parts.append("closed")
        elif self._stop:
            parts.append("stop requested")
        elif self.paused:
            parts.append("paused")
        run = self._run
        if run is not None and run.status not in ("running",):
            parts.append(run.status + (f": {type(run.error).__name__}: {run.error}" if run.error else ""))
        return " · ".join(parts)

    def _update_status(self):
        if self._widget is not None:
            self._status.value = f"<span class='pellucid-liveplot-status'>{escape(self.status_text())}</span>"

    # ---- scripts ---------------------------------------------------------------------------
    def _print_progress(self, now):
        tqdm = _tqdm()
        with self._lock:
            step = self._last_step
            values = {s.name: s.last for s in self._series.values() if s.last is not None}
        pos = int(step) + 1 if isinstance(step, (int, np.integer)) else self._count
        if tqdm is not None:
            if self._progress is None:
                self._progress = tqdm(total=self.total, desc=self.title, unit="step", dynamic_ncols=True)
            bar = self._progress
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            bar.update(max(0, pos - bar.n))
            return
        if now - self._progress_last < SCRIPT_THROTTLE and (self.total is None or pos < self.total):
            return
        self._progress_last = now
        self._progress = True
        rate = self._count / (now - self._t0) if now > self._t0 else 0.0
        of = f"/{self.total}" if self.total else ""
        vals = " ".join(f"{k}={v:.4g}" for k, v in values.items())
        sys.stderr.write(f"\r{self.title}: {pos}{of} [{rate:.1f} step/s] {vals}\x1b[K")
        sys.stderr.flush()

    def save(self, path=None):
        """Write the plot as a standalone HTML file (BokehJS inlined: opens offline). Written
        atomically; returns the path."""
        from bokeh.embed import file_html
        from bokeh.resources import INLINE
        self.flush()
        path = os.fspath(path or self.path or "liveplot.html")
        from bokeh.core.validation import is_silenced, silence
        from bokeh.core.validation.warnings import MISSING_RENDERERS
        with self._lock:
            # the learning-rate panel is hidden until a series goes there: an empty hidden panel is not
            # the missing plot Bokeh's check warns about (whose silencing is process-wide: put it back)
            quiet = bool(self.figure.renderers) and not self.lower.visible and not is_silenced(MISSING_RENDERERS)
            if quiet:
                silence(MISSING_RENDERERS, True)
            try:
                html = file_html(self.layout, INLINE, title=escape(self.title))
            finally:
                if quiet:
                    silence(MISSING_RENDERERS, False)
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".pellucid-", suffix=".html")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(html)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)        # mkstemp's files are private; this is a report
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def close(self):
        """Send what is buffered; in a script also end the progress line and write the HTML file
        (returns its path)."""
        if self._closed:
            return None
        self.flush()
        self._resync_page()
        self._closed = True
        _live_plots.discard(self)
        if self._notebook:
            if self._widget is not None:     # nothing left for Pause / Stop to act on
                for b in (self._pause_button, self._stop_button):
                    b.disabled = True
                    b.tooltip = "the plot is closed"
                self._update_status()
            return None
        if self._progress is True:
            sys.stderr.write("\n")
        elif self._progress is not None:
            self._progress.close()
        path = self.save()
        print(f"{self.title}: plot written to {path}")
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BackgroundRun:
    """A training function running in a thread for `LivePlot.run_in_background`."""

    def __init__(self, plot, fn, args, kwargs):
        self.plot = plot
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.status = "running"
        self.result = None
        self.error = None
        self.traceback = None
        self.thread = threading.Thread(target=self._main, name="pellucid-liveplot", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _main(self):
        try:
            self.result = self.fn(*self.args, **self.kwargs)
            self.status = "finished"
        except StopTraining:
            self.status = "stopped"
        except BaseException as e:
            self.error = e
            self.traceback = traceback.format_exc()
            self.status = "error"
        try:
            self.plot.flush()
        except Exception:
            log.exception("pellucid LivePlot: final flush failed")

    @property
    def alive(self):
        return self.thread.is_alive()

    def wait(self, timeout=None):
        """Wait for the run to end; returns its status ("running" on timeout)."""
        self.thread.join(timeout)
        return self.status

    def __repr__(self):
        return f"<BackgroundRun {self.status}>"


class TrainingDashboard:
    """Live curves plus gradient health of a recording, in one view.

        rec = pellucid.debug.record(model, keep=1)
        dash = TrainingDashboard(rec, series=("train_loss", "val_loss"))
        ... inside the loop, under `with rec:` ...
        dash.log(step, train_loss=loss.item())

    The gradient view is refreshed from the recording at most every `grad_every` seconds.
    Keywords other than `recording` / `grad_every` go to LivePlot."""

    def __init__(self, recording=None, grad_every=1.0, clock=time.monotonic, **plot_kwargs):
        self.plot = LivePlot(clock=clock, **plot_kwargs)
        self.plot._show_hook = self.show
        self.grad_every = float(grad_every)
        self._clock = clock
        self._recording = recording
        self._gradients = None
        self._last_grad = -math.inf
        self._widget = None

    @property
    def gradients(self):
        """The GradientView, created once the recording has a gradient."""
        if self._gradients is None and self._recording is not None:
            try:
                from .gradients import GradientView
            except ImportError:              # a script without ipywidgets: close() prints a report
                return None
            from ._common import recorder_of
            rec = recorder_of(self._recording)
            if rec.latest is not None and rec.param_grad_norms:
                self._gradients = GradientView(rec)
                if self._widget is not None:
                    self._widget.children = (*self._widget.children, self._gradients)
        return self._gradients

    def watch(self, recording):
        self._recording = recording
        self._last_grad = -math.inf

    def log(self, step=None, **values):
        self.plot.log(step, **values)
        now = self._clock()
        if self._recording is not None and now - self._last_grad >= self.grad_every:
            self._last_grad = now
            self.update_gradients()

    def update_gradients(self):
        g = self.gradients
        if g is not None:
            g.update(self._recording)

    @property
    def widget(self):
        if self._widget is None:
            import ipywidgets as widgets
            children = [self.plot.widget]
            if self.gradients is not None:
                children.append(self._gradients)
            self._widget = widgets.VBox(children)
            self._widget.add_class("pellucid-dashboard")
        return self._widget

    def show(self):
        if not self.plot._notebook:
            return
        from IPython.display import display
        load_bokehjs()
        display(self.widget)
        self.plot._displayed = True

    def _ipython_display_(self):
        self.show()

    def run_in_background(self, fn, *args, **kwargs):
        if self.plot._notebook and not self.plot._displayed:
            self.show()
        return self.plot.run_in_background(fn, *args, **kwargs)

    @property
    def stop_requested(self):
        return self.plot.stop_requested

    @property
    def paused(self):
        return self.plot.paused

    def flush(self):
        self.plot.flush()
        self.update_gradients()

    def save(self, path=None):
        return self.plot.save(path)

    def close(self):
        self.update_gradients()
        path = self.plot.close()
        if path is not None and self._recording is not None:
            from ._common import recorder_of
            rec = recorder_of(self._recording)
            if rec.latest is not None and rec.param_grad_norms:
                print(rec.health().report())
        return path
