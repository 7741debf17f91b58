"""LivePlot and TrainingDashboard: streaming, throttling, thinning, stop/pause (in a thread, and from
clicks that reach a busy cell in a real kernel), several axes, script mode (progress line and
standalone HTML)."""
import os
import queue
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("bokeh", reason="the live plot needs bokeh (notebook extra)")
pytest.importorskip("ipywidgets", reason="the plot's buttons need ipywidgets (notebook extra)")

WIDGETS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "widgets"))
if WIDGETS_DIR not in sys.path:
    sys.path.insert(0, WIDGETS_DIR)

import pellucid as torch  # noqa: E402
import pellucid.nn as nn  # noqa: E402
import pellucid.debug as dbg  # noqa: E402
from pellucid_widgets import liveplot as lp  # noqa: E402
from pellucid_widgets.liveplot import LivePlot, TrainingDashboard, compact, envelope  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _plot(tmp_path, **kw):
    kw.setdefault("path", tmp_path / "plot.html")
    kw.setdefault("autosave", False)
    return LivePlot(**kw)


def _count_streams(monkeypatch, plot, name):
    """Lengths of the .stream() calls on series `name`'s source."""
    from bokeh.models import ColumnDataSource
    calls = []
    src = plot.source(name)
    orig = ColumnDataSource.stream

    def stream(self, data, rollover=None):
        if self is src:
            calls.append(len(data["x"]))
        return orig(self, data, rollover)
    monkeypatch.setattr(ColumnDataSource, "stream", stream)
    return calls


def test_points_are_streamed_into_named_sources(tmp_path, monkeypatch):
    clock = Clock()
    plot = _plot(tmp_path, series=("train_loss", "val_loss"), clock=clock)
    calls = _count_streams(monkeypatch, plot, "train_loss")
    for step in range(30):
        clock.t += 0.2                                   # slower than the throttle: one update each
        plot.log(step, train_loss=1.0 / (step + 1), val_loss=torch.tensor(2.0 / (step + 1)) if step % 3 == 0 else None)
    src = plot.source("train_loss")
    assert src.name == "pellucid-train_loss"
    np.testing.assert_array_equal(src.data["x"], np.arange(30))
    np.testing.assert_allclose(src.data["y"], 1.0 / (np.arange(30) + 1))
    assert calls == [1] * 30                             # appended, never replaced
    np.testing.assert_array_equal(plot.source("val_loss").data["x"], np.arange(0, 30, 3))
    np.testing.assert_allclose(plot.source("val_loss").data["y"], 2.0 / (np.arange(0, 30, 3) + 1), rtol=1e-6)
    plot.log(train_loss=0.5)                             # no step: the call count
    plot.flush()
    assert plot.source("train_loss").data["x"][-1] == 30


def test_throttle_limits_stream_calls_and_flush_sends_the_rest(tmp_path, monkeypatch):
    clock = Clock()
    plot = _plot(tmp_path, series=("train_loss",), throttle=0.1, clock=clock)
    calls = _count_streams(monkeypatch, plot, "train_loss")
    for step in range(1000):
        clock.t += 0.001                                 # 1000 steps in one second
        plot.log(step, train_loss=float(step))
    assert 10 <= len(calls) <= 11, calls
    assert sum(calls) + len(plot._series["train_loss"].px) == 1000
    plot.flush()
    assert len(plot.source("train_loss").data["x"]) == 1000
    x, y = plot.points("train_loss")
    np.testing.assert_array_equal(y, np.arange(1000))


def test_thinning_keeps_at_most_max_points_with_even_history(tmp_path):
    clock = Clock()
    plot = _plot(tmp_path, series=("train_loss",), max_points=400, throttle=0.05, clock=clock)
    rng = np.random.default_rng(0)
    sizes = []
    for step in range(20_000):
        clock.t += 0.001
        plot.log(step, train_loss=100.0 if step == 3_333 else float(rng.random()))
        if step % 50 == 0:
            sizes.append(len(plot.source("train_loss").data["x"]))
    plot.flush()
    x = np.asarray(plot.source("train_loss").data["x"])
    y = np.asarray(plot.source("train_loss").data["y"])
    assert max(sizes + [len(x)]) <= 400
    assert x[0] == 0 and x[-1] == 19_999 and np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(x[-200:], np.arange(19_800, 20_000))     # the newest half is exact
    assert 100.0 in y                                                        # spikes survive
    s = plot._series["train_loss"]
    old = x[: s.n_old]
    gaps = np.diff(old)
    assert len(old) > 20 and gaps.max() < 8 * np.median(gaps)              # history evenly covered
    assert s.compactions > 0 and s.streams > s.compactions


def test_default_limit_keeps_long_runs_under_100k_points(tmp_path):
    clock = Clock()
    plot = _plot(tmp_path, series=("train_loss",), clock=clock)
    assert plot.max_points == 100_000
    for step in range(130_000):
        clock.t += 0.0005
        plot.log(step, train_loss=1.0)
    plot.flush()
    s = plot._series["train_loss"]
    assert len(plot.source("train_loss").data["x"]) <= 100_000 and s.compactions >= 1
    assert plot.source("train_loss").data["x"][-1] == 129_999


def test_envelope_and_compact_units():
    x = np.arange(12.0)
    y = np.array([0, 5, 1, 2, 3, 3, 3, 3, 9, 8, 7, np.nan])
    ex, ey = envelope(x, y, 0.0, 12.0, 3)                # bins [0,4) [4,8) [8,12)
    assert list(ex) == [0, 1, 4, 8, 10] and list(ey) == [0, 5, 3, 9, 7]
    x = np.arange(1000.0)
    cx, cy, n_old = compact(x, np.sin(x / 50), 0, 400)
    assert len(cx) <= 300 and n_old <= 101 and cx[0] == 0
    np.testing.assert_array_equal(cx[n_old:], np.arange(800, 1000))
    gaps = np.diff(cx[:n_old])
    assert gaps.max() <= 2 * 800 / 50                    # two points per bin of 16 steps
    assert compact(cx, cy, n_old, 400)[2] == n_old       # nothing to do below the limit
def test_series_go_to_their_axes(tmp_path):
    plot = _plot(tmp_path, series=("train_loss", "val_loss"), log_y=True)
    from bokeh.models import LogScale
    assert isinstance(plot.figure.y_scale, LogScale)
    assert not plot.lower.visible
    plot.log(0, accuracy=0.5, lr=0.1, grad_norm=3.0, custom=1.0)
    assert plot._series["accuracy"].renderer.y_range_name == "right" and plot._right_axis.visible
    assert type(plot.figure.extra_y_scales["right"]).__name__ == "LinearScale"
    assert plot._series["lr"].renderer in plot.lower.renderers and plot.lower.visible
    assert plot._series["grad_norm"].renderer in plot.figure.renderers
    assert plot.series == ("train_loss", "val_loss", "accuracy", "lr", "grad_norm", "custom")
    assert set(plot.figure.y_range.renderers) == {plot._series[n].renderer
                                                  for n in ("train_loss", "val_loss", "grad_norm", "custom")}
    forced = _plot(tmp_path, series=("acc_left",), axes={"acc_left": "left"})
    assert forced._series["acc_left"].renderer.y_range_name == "default"
    with pytest.raises(ValueError):
        _plot(tmp_path, series=("a",), axes={"a": "top"})


def test_run_in_background_pause_and_stop(tmp_path):
    plot = _plot(tmp_path, series=("train_loss",), throttle=0.0)
    plot.widget                                         # the toggles, as in a notebook
    progress = []

    def train():
        step = 0
        while True:
            plot.log(step, train_loss=1.0 / (step + 1))
            progress.append(step)
            step += 1
            time.sleep(0.001)

    run = plot.run_in_background(train)
    while len(progress) < 5:
        time.sleep(0.005)
    plot.pause()                                        # what the Pause toggle does
    held, since = len(progress), time.monotonic()
    while time.monotonic() - since < 0.2:               # the step under way may still finish
        if len(progress) != held:
            held, since = len(progress), time.monotonic()
        assert held < 1000, "pause had no effect"
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(progress) == held and run.alive and plot.paused
    plot.resume()
    while len(progress) < held + 5:
        time.sleep(0.005)
    plot._stop_button.value = True                      # the Stop toggle, as the front end sets it
    assert run.wait(10) == "stopped" and plot.stop_requested
    assert not run.alive
    assert len(plot.source("train_loss").data["x"]) == len(progress)        # flushed at the end
    assert "stopped" in plot.status_text()
    release = threading.Event()
    run = plot.run_in_background(release.wait)
    with pytest.raises(RuntimeError, match="already going"):
        plot.run_in_background(train)
    release.set()
    assert run.wait(10) == "finished"


def test_background_errors_are_kept(tmp_path):
    plot = _plot(tmp_path, series=("train_loss",))

    def bad():
        plot.log(0, train_loss=1.0)
        raise ValueError("diverged")
    run = plot.run_in_background(bad)
    assert run.wait(10) == "error" and isinstance(run.error, ValueError) and "diverged" in run.traceback
    assert "ValueError: diverged" in plot.status_text()
    ok = plot.run_in_background(lambda: 42)
    assert ok.wait(10) == "finished" and ok.result == 42 and not plot.stop_requested


def test_buttons_drive_the_flags(tmp_path):
    plot = _plot(tmp_path)
    w = plot.widget
    assert "pellucid-liveplot" in w._dom_classes
    plot._pause_button.value = True
    assert plot.paused
    plot._pause_button.value = False
    assert not plot.paused
    plot._stop_button.value = True
    assert plot.stop_requested and not plot.paused
    plot.stop()
    assert plot._stop_button.value is True


def test_buttons_are_disabled_where_a_busy_cell_cannot_hear_them(tmp_path):
    plot = _plot(tmp_path)
    plot.widget
    assert not plot._early                              # no kernel here: no early clicks
    plot._mark_foreground()                             # what log() does on the cell's thread
    assert plot._pause_button.disabled and plot._stop_button.disabled
    assert "run_in_background" in plot._stop_button.tooltip
    run = plot.run_in_background(lambda: plot.log(0, train_loss=1.0))
    assert run.wait(10) == "finished"
    assert not plot._pause_button.disabled and plot._stop_button.tooltip == ""


def test_early_clicks_read_toggle_updates_before_the_busy_cell_ends():
    import ipywidgets as widgets
    routed = []
    b = widgets.ToggleButton()
    assert not hasattr(b.comm, "_reply_subshell_for")  # no kernel here: a plain comm
    seen = []
    assert not lp._early_clicks(b, seen.append)
    b.comm._reply_subshell_for = lambda data, default: routed.append(data) or default   # as ipykernel 7 has
    assert lp._early_clicks(b, seen.append)
    assert b.comm._reply_subshell_for({"method": "update", "state": {"value": True}}, "sub") == "sub"
    assert b.comm._reply_subshell_for({"method": "custom", "content": {}}, None) is None
    assert seen == [True] and len(routed) == 2          # the message still goes on unchanged


def test_script_mode_progress_line_and_html(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(lp, "_TQDM", [None])
    clock = Clock()
    plot = _plot(tmp_path, series=("train_loss",), total=50, clock=clock, title="mnist")
    for step in range(50):
        clock.t += 0.05
        plot.log(step, train_loss=1.0 / (step + 1))
    err = capsys.readouterr().err
    assert "\rmnist: 50/50" in err and "train_loss=0.02" in err
    assert err.count("\r") < 50                          # throttled
    path = plot.close()
    assert path == str(tmp_path / "plot.html") and "plot written to" in capsys.readouterr().out
    html = open(path).read()
    assert "pellucid-train_loss" in html and "cdn.bokeh.org" not in html and "Bokeh.embed" in html
    assert oct(os.stat(path).st_mode & 0o777) != "0o600"
    assert sorted(os.listdir(tmp_path)) == ["plot.html"]    # no temporary file left
    assert plot.close() is None
    with pytest.raises(RuntimeError):
        plot.log(0, train_loss=1.0)


def test_html_of_a_plot_without_learning_rates_has_no_bokeh_warning(tmp_path, caplog):
    """The learning-rate panel stays hidden and empty until a series goes there; saving must not make
    Bokeh warn about a plot without renderers, nor undo a silencing the user set up."""
    from bokeh.core.validation import is_silenced, silence
    from bokeh.core.validation.warnings import MISSING_RENDERERS
    plot = _plot(tmp_path, series=("train_loss",), clock=Clock())
    plot.log(0, train_loss=1.0)
    caplog.set_level("WARNING", logger="bokeh")
    plot.save(tmp_path / "a.html")
    assert not [r for r in caplog.records if "MISSING_RENDERERS" in r.getMessage()]
    assert not is_silenced(MISSING_RENDERERS)          # silenced only while saving
    silence(MISSING_RENDERERS, True)
    try:
        plot.save(tmp_path / "b.html")
        assert is_silenced(MISSING_RENDERERS)          # the user's own setting is kept
    finally:
        silence(MISSING_RENDERERS, False)
    plot.log(1, train_loss=0.5, lr=0.1)                 # now the panel shows: nothing to silence
    plot.save(tmp_path / "c.html")
    assert not [r for r in caplog.records if "MISSING_RENDERERS" in r.getMessage()]


def test_script_mode_uses_tqdm_when_installed(tmp_path, monkeypatch):
    made = []

    class FakeTqdm:
        def __init__(self, **kw):
            self.kw, self.n, self.postfix, self.closed = kw, 0, None, False
            made.append(self)

        def set_postfix(self, d, refresh=True):
            self.postfix = d

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True
    monkeypatch.setattr(lp, "_TQDM", [FakeTqdm])
    plot = _plot(tmp_path, series=("loss",), total=10)
    for step in range(10):
        plot.log(step, loss=0.5)
    bar = made[0]
    assert bar.kw["total"] == 10 and bar.n == 10 and bar.postfix == {"loss": "0.5"}
    plot.close()
    assert bar.closed


def test_dashboard_updates_gradients_from_the_recording(tmp_path):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 1))
    x = torch.randn(8, 4)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    rec = dbg.record(m)
    clock = Clock()
    dash = TrainingDashboard(rec, grad_every=0.5, series=("train_loss",), clock=clock,
                             path=tmp_path / "d.html", autosave=False)
    assert dash.gradients is None                        # nothing recorded yet
    for step in range(10):
        clock.t += 0.2
        with rec:
            loss = m(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        dash.log(step, train_loss=loss)
    g = dash.gradients
    assert g is not None and len(g.norms["0.weight"]) >= 8
    assert g.norms["0.weight"][-1][0] >= 8
    dash.flush()
    assert g.norms["0.weight"][-1][0] == 9
    assert len(dash.plot.source("train_loss").data["x"]) == 10
    assert g in dash.widget.children
    assert dash.close() == str(tmp_path / "d.html")


KERNEL_CELL = r'''
import sys, time, threading
sys.path.insert(0, {widgets!r})
import pellucid_widgets as pw
plot = pw.LivePlot(series=("train_loss",), throttle=0.05)
plot.show()
print("IDS", plot._pause_button.model_id, plot._stop_button.model_id, plot._early, flush=True)
step = 0
while not plot.stop_requested and step < 4000:
    plot.log(step, train_loss=1.0 / (step + 1))
    print("STEP", step, flush=True)
    step += 1
    time.sleep(0.01)
print("END", step, plot.stop_requested, flush=True)
'''


def test_buttons_reach_a_loop_running_in_the_cell():
    """A real kernel runs a training loop in the cell; the test sends the comm messages JupyterLab
    sends for clicks on Pause, Pause again and Stop, while the cell is still busy."""
    jupyter_client = pytest.importorskip("jupyter_client", reason="needs jupyter_client (test extra)")
    pytest.importorskip("ipykernel", reason="needs ipykernel (test extra)")
    pytest.importorskip("jupyter_bokeh", reason="the live plot needs jupyter_bokeh (notebook extra)")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        kc.execute(KERNEL_CELL.format(widgets=WIDGETS_DIR))
        ids = None
        steps = []
        events = []
        deadline = time.monotonic() + 90

        def click(model_id, value):
            kc.shell_channel.send(kc.session.msg("comm_msg", {
                "comm_id": model_id, "data": {"method": "update", "state": {"value": value}, "buffer_paths": []}}))

        phase = "start"
        quiet_since = None
        pending = ""
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                msg = None
            if msg is not None and msg["msg_type"] == "error":
                pytest.fail("\n".join(msg["content"]["traceback"]))
            if msg is not None and msg["msg_type"] == "stream":
                # the kernel may flush a printed line in pieces: parse whole lines only
                pending += msg["content"]["text"]
                *lines, pending = pending.split("\n")
                for line in lines:
                    key, _, rest = line.partition(" ")
                    if key == "IDS":
                        ids = rest.split()
                    elif key == "STEP":
                        steps.append(int(rest))
                        quiet_since = time.monotonic()
                    elif key == "END":
                        events.append(("end", rest))
            if events:
                break
            if phase == "start" and len(steps) >= 5:
                assert ids[2] == "True", "clicks cannot reach a busy cell on this kernel"
                click(ids[0], True)                      # Pause
                phase, paused_at = "pausing", time.monotonic()
            elif phase == "pausing" and quiet_since and time.monotonic() - quiet_since > 0.5:
                held = len(steps)
                phase = "paused"
            elif phase == "paused" and time.monotonic() - quiet_since > 1.0:
                assert len(steps) == held                # no step while paused
                click(ids[0], False)                     # Resume
                phase = "resumed"
            elif phase == "resumed" and len(steps) >= held + 5:
                click(ids[1], True)                      # Stop
                phase = "stopping"
            assert not (phase == "pausing" and time.monotonic() - paused_at > 10), "Pause had no effect"
        assert events, f"the loop did not end (phase {phase}, {len(steps)} steps)"
        last, stopped = events[0][1].split()
        assert phase == "stopping" and stopped == "True" and int(last) < 4000
    finally:
        km.shutdown_kernel(now=True)


def _drawn_from_bundle(plot, name):
    """The x values a view created now would draw: jupyter_bokeh views draw the widget's
    render_bundle and miss the updates sent before they existed."""
    from bokeh.document import Document
    (doc_json,) = plot._bokeh.render_bundle["docs_json"].values()
    return list(np.asarray(Document.from_json(doc_json).get_model_by_name(f"pellucid-{name}").data["x"]))


def test_a_plot_drawn_late_in_the_page_still_gets_every_point(tmp_path, monkeypatch):
    import IPython.display
    clock = Clock()
    monkeypatch.setattr(lp, "in_kernel", lambda: True)   # as in a kernel, without one
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    plot = _plot(tmp_path, series=("train_loss",), clock=clock)
    plot.show()
    for step in range(10):                               # BokehJS may still be loading
        clock.t += 0.15
        plot.log(step, train_loss=1.0 / (step + 1))
    # refreshed from time to time (each costs a full serialisation), not at every update
    assert 2 <= plot.resyncs <= 4
    assert _drawn_from_bundle(plot, "train_loss")[:7] == list(range(7))
    for step in range(10, 30):                           # later: appended by streaming only
        clock.t += 0.15
        plot.log(step, train_loss=1.0 / (step + 1))
    assert len(_drawn_from_bundle(plot, "train_loss")) < 30
    lp._flush_all()                                      # what the end of the cell runs
    assert _drawn_from_bundle(plot, "train_loss") == list(range(30))
    before = plot.resyncs
    lp._flush_all()                                      # nothing new: no refresh
    assert plot.resyncs == before
    plot.close()


def test_closing_a_notebook_plot_disables_its_buttons(tmp_path, monkeypatch):
    import IPython.display
    monkeypatch.setattr(lp, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    plot = _plot(tmp_path, series=("train_loss",))
    plot.show()
    plot.log(0, train_loss=1.0)
    assert not plot._stop_button.disabled
    assert plot.close() is None                          # a notebook plot writes no file
    assert plot._pause_button.disabled and plot._stop_button.disabled
    assert plot.status_text().endswith("closed") and "closed" in plot._status.value
    with pytest.raises(RuntimeError, match="closed"):
        plot.log(1, train_loss=0.5)
