"""pellucid_widgets, kernel side: GraphWidget, Stepper, GradientView, the side-panel feed and
script mode, driven the way the front end drives them (trait updates and custom messages), plus
one notebook executed end to end in a real kernel."""
import json
import os
import re
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the notebook views need the notebook extra (ipywidgets)")

WIDGETS_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "widgets"))
if WIDGETS_DIR not in sys.path:
    sys.path.insert(0, WIDGETS_DIR)

import pellucid as torch  # noqa: E402
import pellucid.nn as nn  # noqa: E402
import pellucid.debug as dbg  # noqa: E402
import pellucid_widgets as pw  # noqa: E402
from pellucid_widgets import panel  # noqa: E402
from pellucid_widgets.graph_widget import restate  # noqa: E402
from pellucid_widgets.inspector import heatmap  # noqa: E402
from pellucid_widgets._common import jsonable  # noqa: E402

HOSTILE = '<img src=x onerror=alert(1)>'


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _x(n=5):
    return torch.tensor(np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32))


def _record(values="full"):
    m = _mlp()
    x = _x()
    with dbg.record(m, values=values) as rec:
        out = m(x)
        loss = out.pow(2).mean()       # LOSS-LINE
        loss.backward()
    return m, x, rec


def _states(graph):
    return ([(n["id"], n["state"], n.get("backward_state")) for n in graph["nodes"]],
            {k: (t["computed"], t["grad_arrived"]) for k, t in graph["tensors"].items()})


def _settled(sw, sess, timeout=10):
    """Wait until the session stopped running and the widget shows where (the pause callback
    runs in the worker thread right after the session reports its status)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sess.status
        at = sess.paused_at
        if status != "running" and sw.status == status and (at is None or sw.cursor == at.index and sw.step):
            return status
        time.sleep(0.005)
    raise AssertionError(f"widget {sw.status!r} / session {sess.status!r}")


def _custom(w, action, k=None):
    msg = {"action": action} if k is None else {"action": action, "k": k}
    w._handle_custom_msg(msg, [])


def _frontend_sets(w, **state):
    """What the front end sends when the user changes a synced trait."""
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


# ---- GraphWidget -------------------------------------------------------------------------------
def test_graph_widget_protocol_traits():
    _, _, rec = _record()
    w = pw.GraphWidget(rec)
    assert (w._model_name, w._view_name) == ("GraphModel", "GraphView")
    assert w._model_module == w._view_module == "pellucid-jupyterlab"
    assert w._model_module_version == w._view_module_version == "^0.1.0"
    state = w.get_state()
    for trait in ("graph", "cursor", "depth", "expanded", "color_by", "selected", "inspector", "height"):
        assert trait in state, trait
    assert state["depth"] == 1 and state["height"] == 420 and state["color_by"] == "grad" and state["cursor"] is None
    g = w.graph
    assert g["schema"] == "pellucid.graph" and g["version"] == 1
    assert g["cursor"] == len(rec.steps) - 1
    assert [n["label"] for n in g["nodes"] if n["kind"] == "op"] == ["linear", "relu", "linear", "pow", "mean"]
    json.dumps(state["graph"], allow_nan=False)         # what the comm sends must be strict JSON
    with pytest.raises(Exception):
        w.color_by = "rainbow"


def test_graph_widget_cursor_gives_the_recorders_states():
    _, _, rec = _record()
    w = pw.GraphWidget(rec, cursor=2)
    assert _states(w.graph) == _states(jsonable(rec.graph(cursor=2)))
    ops = [n for n in w.graph["nodes"] if n["kind"] == "op"]
    assert [n["state"] for n in ops] == ["done", "done", "current", "pending", "pending"]
    _frontend_sets(w, cursor=7)
    assert w.graph["cursor"] == 7 and _states(w.graph) == _states(jsonable(rec.graph(cursor=7)))


def test_graph_document_restates_like_the_recorder_at_every_cursor():
    _, _, rec = _record()
    doc = jsonable(rec.graph())
    w = pw.GraphWidget(doc)
    for k in range(len(rec.steps)):
        w.cursor = k
        assert _states(w.graph) == _states(jsonable(rec.graph(cursor=k))), k
        assert _states(restate(doc, k)) == _states(w.graph)
    with pytest.raises(IndexError):
        restate(doc, len(rec.steps))
    with pytest.raises(ValueError):
        pw.GraphWidget({"nodes": []})


def test_selected_node_fills_the_inspector_with_values_gradients_and_heatmaps():
    m, x, rec = _record(values="full")
    w = pw.GraphWidget(rec)
    _frontend_sets(w, selected="op2")                  # the second Linear
    ins = w.inspector
    assert ins["node"]["id"] == "op2" and ins["node"]["module"] == "2"
    assert ins["tensor"]["shape"] == [5, 2] and ins["tensor"]["dtype"] == "float32"
    assert ins["source_text"] == "out = m(x)"
    assert [i["key"] for i in ins["inputs"]] == ["t4", "param:2.weight", "param:2.bias"]
    expect = m(x).detach().numpy()
    assert ins["summary"]["mean"] == pytest.approx(float(expect.mean()), rel=1e-5)
    assert sum(ins["histogram"]["counts"]) == expect.size
    hm = ins["heatmap"]
    assert (hm["rows"], hm["cols"]) == (5, 2)
    np.testing.assert_allclose(np.array(hm["values"]), expect, rtol=1e-6)
    assert hm["lo"] == pytest.approx(float(expect.min())) and hm["hi"] == pytest.approx(float(expect.max()))
    # d(mean(out^2))/d out = 2 out / out.size
    np.testing.assert_allclose(np.array(ins["grad_heatmap"]["values"]), 2 * expect / expect.size, rtol=1e-5)
    assert ins["grad"]["norm"] == pytest.approx(float(np.linalg.norm(2 * expect / expect.size)), rel=1e-5)
    # the inspector follows the cursor: before op2 ran there is no value, before backward no grad
    w.cursor = 1
    assert w.inspector["summary"] is None and w.inspector["heatmap"] is None
    assert "not computed" in w.inspector["note"]
    w.cursor = 4
    assert w.inspector["summary"] is not None and w.inspector["grad"] is None and w.inspector["grad_heatmap"] is None
    _frontend_sets(w, selected="")
    assert w.inspector == {}


def test_inspector_for_parameters_modules_and_missing_snapshots():
    _, _, rec = _record(values="summary")
    w = pw.GraphWidget(rec)
    w.selected = "param:0.weight"
    ins = w.inspector
    assert ins["tensor"]["kind"] == "param" and ins["tensor"]["shape"] == [3, 4]
    assert ins["grad"]["norm"] > 0 and ins["heatmap"] is None
    assert "values='full'" in ins["note"]
    w.selected = "mod:0"                                # a collapsed module as the view draws it
    assert w.inspector["node"] is None and w.inspector["cluster"]["path"] == "0" and w.inspector["ops"] == 1
    assert {m["id"] for m in w.inspector["members"]} == {"op0", "param:0.weight", "param:0.bias"}
    assert {p["key"] for p in w.inspector["params"]} == {"param:0.weight", "param:0.bias"}
    w.selected = "nope"
    assert w.inspector["node"] is None


def test_heatmap_block_averages_down_to_64_by_64():
    a = np.arange(200 * 130, dtype=np.float64).reshape(200, 130)
    hm = heatmap(a)
    assert (hm["rows"], hm["cols"]) == (64, 64) and hm["shape"] == [200, 130]
    rows = (np.arange(64) * 200) // 64
    cols = (np.arange(64) * 130) // 64
    r0, r1, c0, c1 = rows[5], rows[6], cols[7], cols[8]
    assert hm["values"][5][7] == pytest.approx(a[r0:r1, c0:c1].mean())
    assert hm["lo"] == pytest.approx(np.array(hm["values"]).min())
    v = heatmap(np.linspace(0, 1, 1000))
    assert (v["rows"], v["cols"]) == (1, 64)
    nan = np.ones((3, 3))
    nan[1, 1] = np.nan
    hn = heatmap(nan)
    assert hn["values"][1][1] == "nan" and hn["lo"] == hn["hi"] == 1.0
    assert heatmap(np.zeros((2, 2, 2))) is None and heatmap(np.array(["a"])) is None


def test_update_redraws_the_newest_iteration():
    m = _mlp()
    x = _x()
    rec = dbg.record(m, keep=1)
    with rec:
        m(x).sum().backward()
    w = pw.GraphWidget(rec)
    first = w.graph["iteration"]
    with rec:
        m(x).pow(2).mean().backward()
    w.update()
    assert w.graph["iteration"] == first + 1
    assert [n["label"] for n in w.graph["nodes"] if n["kind"] == "op"][-2:] == ["pow", "mean"]
    _, _, other = _record()
    w.update(other)
    assert w.recorder is other


def test_summaries_of_subnormal_gradients_keep_a_histogram():
    # 100 ReLU layers shrink gradients to subnormal floats: the recording (and the views) must cope
    from pellucid.debug.summary import summarize
    tiny = np.array([0, 1e-45, 2e-45, 3e-45], dtype=np.float32)
    hist = summarize(tiny)["hist"]
    assert sum(hist["counts"]) == 4 and hist["counts"][0] == 1 and hist["counts"][-1] == 1


# ---- Stepper -----------------------------------------------------------------------------------
def test_stepper_messages_move_the_cursor_like_the_debug_stepper():
    _, _, rec = _record()
    sw = pw.Stepper(rec)
    ref = rec.stepper()
    assert (sw._model_name, sw._view_name) == ("StepperModel", "StepperView")
    assert sw.status == "recorded" and sw.n_steps == len(ref) == 14 and sw.cursor == 0
    script = [("next", None, ref.next), ("next", None, ref.next), ("prev", None, ref.prev),
              ("last", None, ref.last), ("first", None, ref.first), ("goto", 9, lambda: ref.goto(9)),
              ("step_over", None, ref.step_over), ("prev", None, ref.prev)]
    for action, k, move in script:
        _custom(sw, action, k)
        move()
        assert sw.cursor == ref.cursor, action
        assert sw.graph["cursor"] == ref.cursor
        assert _states(sw.graph) == _states(jsonable(rec.graph(cursor=ref.cursor)))
        step = ref.step
        assert sw.step["index"] == step.index and sw.step["phase"] == step.phase
        assert sw.step["source_text"] == ref.source_line()[2] if step.source else sw.step["source_text"] == ""
    _custom(sw, "goto", 3)
    assert sw.step["label"] == "step 4 / 14 · forward · pow" and sw.step["source_text"] == "loss = out.pow(2).mean()       # LOSS-LINE"
    current = [n["id"] for n in sw.graph["nodes"] if n.get("state") == "current"]
    assert current == ["op3"]


def test_stepper_runs_to_breakpoints_both_ways_and_lists_them():
    _, _, rec = _record()
    sw = pw.Stepper(rec)
    sw.add_breakpoint(op="linear")
    assert sw.breakpoints == ["op='linear', phase='any'"]
    _custom(sw, "run")
    assert sw.step["op"] == "linear" and sw.cursor == 2
    _custom(sw, "run")                                  # the backward of the second linear
    assert sw.step["phase"] == "backward" and sw.step["node"] == "LinearBackward0"
    _custom(sw, "last")
    _custom(sw, "run_back")
    assert sw.step["node"] == "LinearBackward0" and sw.step["forward_step"] == 0
    sw.clear_breakpoints()
    assert sw.breakpoints == []


def test_stepper_slider_updates_and_bad_messages():
    _, _, rec = _record()
    sw = pw.Stepper(rec)
    _frontend_sets(sw, cursor=5)
    assert sw.step["index"] == 5 and sw.graph["cursor"] == 5
    _frontend_sets(sw, cursor=99)                       # clamped to the last step
    assert sw.cursor == 13 and sw.step["index"] == 13
    _custom(sw, "fly")
    assert "unknown action" in sw.pause_reason and sw.cursor == 13
    _custom(sw, "goto", 99)
    assert "out of range" in sw.pause_reason
    sw._handle_custom_msg({"something": "else"}, [])    # not an action: ignored
    _frontend_sets(sw, selected="op1")
    assert sw.inspector["node"]["label"] == "relu"


def test_live_stepper_returns_while_paused_and_controls_the_run():
    m = _mlp()
    x = _x()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)

    def train_step():
        for _ in range(2):
            loss = m(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return "done"

    sess = dbg.LiveSession(train_step, breakpoints=[dbg.on_op("relu")], model=m)
    sw = pw.Stepper(sess)                               # starts the worker and returns
    assert _settled(sw, sess) == "paused"
    assert sw.status == "paused" and sw.step["op"] == "relu" and sw.cursor == 1 and sw.n_steps == 2
    assert "relu" in sw.pause_reason and sw.breakpoints == ["op='relu', phase='any'"]
    assert [n["state"] for n in sw.graph["nodes"] if n["kind"] == "op"] == ["done", "current"]
    _custom(sw, "prev")                                 # browsing what ran so far
    assert sw.cursor == 0 and sw.status == "paused"
    _custom(sw, "last")
    _custom(sw, "step_live", 1)                         # the front end sends its cursor as k: one step
    assert _settled(sw, sess) == "paused"
    assert sw.step["op"] == "linear" and sw.cursor == 2 and sw.n_steps == 3
    _custom(sw, "next")                                 # at the newest step: steps the run
    assert _settled(sw, sess) == "paused" and sw.step["op"] == "pow"
    _custom(sw, "resume")                               # the breakpoint also matches relu's backward
    assert _settled(sw, sess) == "paused" and sw.step["node"] == "ReluBackward0" and sw.graph["iteration"] == 0
    assert [n["backward_state"] for n in sw.graph["nodes"] if n["kind"] == "op"][1] == "current"
    _custom(sw, "resume")                               # to relu of the second iteration
    assert _settled(sw, sess) == "paused" and sw.step["phase"] == "forward" and sw.step["op"] == "relu"
    assert sw.graph["iteration"] == 1 and sw.cursor == 1 and sw.n_steps == 2
    _custom(sw, "stop")
    assert sw.status == "stopped" and not sess.alive and not [t for t in threading.enumerate() if t.name == 'pellucid-live']
    assert sw.n_steps > 0 and sw.step


def test_live_stepper_shows_the_finished_run_and_errors():
    m = _mlp()
    x = _x()
    sess = dbg.LiveSession(lambda: m(x).sum().backward(), model=m)
    sw = pw.Stepper(sess)
    assert _settled(sw, sess) == "finished"
    assert sw.status == "finished" and sw.cursor == sw.n_steps - 1 and sw.step["phase"] == "accumulate"

    def broken():
        m(x)
        raise ValueError("bad batch")
    sess2 = dbg.LiveSession(broken, model=m)
    sw2 = pw.Stepper(sess2)
    assert _settled(sw2, sess2) == "error"
    assert sw2.status == "error" and "bad batch" in sw2.pause_reason and sw2.step["op"] == "linear"


# ---- GradientView ------------------------------------------------------------------------------
def test_gradient_view_flags_vanishing_sigmoid_stack_dead_relu_and_no_grad():
    torch.manual_seed(0)
    layers = []
    for _ in range(12):
        layers += [nn.Linear(8, 8), nn.Sigmoid()]
    deep = nn.Sequential(*layers, nn.Linear(8, 1))
    dead = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    with torch.no_grad():
        dead[0].bias.fill_(-100.0)                      # every unit of that ReLU is dead

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.deep, self.dead, self.unused = deep, dead, nn.Linear(2, 2)

        def forward(self, x):
            return self.deep(x).pow(2).mean() + self.dead(x).sum()
    model = Net()
    xb = torch.tensor(np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32))
    with dbg.record(model) as rec:
        model(xb).backward()
    gv = pw.GradientView(rec, vanishing_below=1e-4)
    assert (gv._model_name, gv._view_name) == ("GradientModel", "GradientView")
    assert gv.flags["deep.0.weight"] == "vanishing"
    assert gv.flags["unused.weight"] == "no grad" and gv.flags["unused.bias"] == "no grad"
    assert gv.flags["deep.24.weight"] is None and gv.flags["dead.0.weight"] == "vanishing"
    assert gv.dead_relu == {"dead.1": 1.0}
    assert gv.norms["deep.0.weight"][0][0] == rec.latest.number
    assert gv.norms["deep.0.weight"][0][1] == pytest.approx(rec.latest.grad_norms["deep.0.weight"])
    assert sum(gv.hist["deep.24.weight"]["counts"]) == 8
    assert "unused.weight" not in gv.hist
    json.dumps(gv.get_state(), allow_nan=False)
    assert "vanishing" in gv.report()


def test_gradient_view_norm_history_and_update():
    m = nn.Linear(4, 2)
    x = _x()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    rec = dbg.record(m)
    with rec:
        for _ in range(30):
            loss = m(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    gv = pw.GradientView(rec, max_points=10)
    hist = gv.norms["weight"]
    assert len(hist) <= 10 and hist[0][0] == 0 and hist[-1][0] == 29
    with rec:
        for _ in range(3):
            m(x).pow(2).mean().backward()
    gv.update()
    assert gv.norms["weight"][-1][0] == 32


# ---- side panel --------------------------------------------------------------------------------
class FakeComm:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.sent = []
        self.closed = False
        self._on_msg = self._on_close = None

    def send(self, data):
        json.dumps(data, allow_nan=False)
        self.sent.append(data)

    def on_msg(self, cb):
        self._on_msg = cb

    def on_close(self, cb):
        self._on_close = cb

    def close(self):
        self.closed = True


class FakeShell:
    def __init__(self):
        self.hooks = {}
        self.events = self

    def register(self, event, fn):
        self.hooks.setdefault(event, []).append(fn)

    def unregister(self, event, fn):
        self.hooks[event].remove(fn)

    def run_cell(self):
        for fn in self.hooks.get("post_run_cell", []):
            fn(None)


@pytest.fixture
def fake_panel(monkeypatch):
    comms = []

    def create(**kw):
        comms.append(FakeComm(**kw))
        return comms[-1]
    monkeypatch.setattr(panel, "_create_comm", create)
    panel.disable()
    shell = FakeShell()
    yield shell, comms
    panel.disable()


def test_panel_sends_the_latest_recording_after_each_cell(fake_panel):
    shell, comms = fake_panel
    assert panel.enable(shell) and panel.enable(shell)  # idempotent
    assert len(comms) == 1 and comms[0].kwargs["target_name"] == "pellucid.panel"
    assert len(shell.hooks["post_run_cell"]) == 1
    comms[0].sent.clear()                               # whatever earlier tests recorded
    _, _, rec = _record(values="summary")
    shell.run_cell()
    kinds = [m["type"] for m in comms[0].sent]
    assert kinds == ["graph", "gradients"]
    g = comms[0].sent[0]["graph"]
    assert g["schema"] == "pellucid.graph" and len(g["steps"]) == len(rec.steps)
    grads = comms[0].sent[1]
    assert set(grads["norms"]) == {"0.weight", "0.bias", "2.weight", "2.bias"} and "flags" in grads
    shell.run_cell()                                    # nothing new: nothing sent
    assert len(comms[0].sent) == 2
    comms[0]._on_msg({"content": {"data": {"type": "request"}}})
    assert len(comms[0].sent) == 4
    m = _mlp()
    with dbg.record(m) as rec2:                         # forward only: a graph, no gradients yet
        m(_x())
    shell.run_cell()
    assert comms[0].sent[-1]["type"] == "graph" and len(comms[0].sent[-1]["graph"]["steps"]) == len(rec2.steps)
    assert len(comms[0].sent) == 5
    # the front end closed the comm (its panel was not ready): the next new recording reopens it
    comms[0]._on_close({})
    shell.run_cell()
    assert len(comms) == 1
    m = _mlp()
    with dbg.record(m):                                 # no name kept: the panel still gets it
        m(_x()).sum().backward()
    shell.run_cell()
    assert len(comms) == 2 and [m["type"] for m in comms[1].sent] == ["graph", "gradients"]
    panel.disable()
    assert comms[1].closed and shell.hooks["post_run_cell"] == []


def test_panel_accepts_a_comm_opened_by_the_front_end(fake_panel):
    shell, comms = fake_panel
    panel.enable(shell)
    m = _mlp()
    with dbg.record(m):
        m(_x()).sum().backward()
    opened = FakeComm()
    panel._on_frontend_open(opened, {})
    assert [m["type"] for m in opened.sent] == ["graph", "gradients"]


def test_panel_is_off_outside_ipython():
    assert panel.enable() is False or panel.enabled()


# ---- script mode and escaping ------------------------------------------------------------------
def test_show_writes_svg_dot_and_json_in_scripts(tmp_path, monkeypatch):
    _, _, rec = _record()
    import shutil
    path = pw.show(rec, path=tmp_path / "g.svg")
    svg = open(path).read()
    assert path.endswith("g.svg") and svg.lstrip().startswith("<?xml") and "linear" in svg and "<svg" in svg
    js = json.load(open(pw.show(rec, path=tmp_path / "g.json")))
    assert js["schema"] == "pellucid.graph"
    dot = open(pw.show(rec.stepper(), path=tmp_path / "s.dot")).read()
    assert dot.startswith("digraph")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name: None)        # no Graphviz binary
    path = pw.show(rec)
    assert path == "pellucid-graph.dot" and open(path).read().startswith("digraph")
    monkeypatch.setitem(sys.modules, "graphviz", None)             # no graphviz package either
    path = pw.show(rec, path="x.svg")
    assert path == "x.json" and json.load(open(path))["version"] == 1
    w = pw.GraphWidget(rec, cursor=3)
    assert json.load(open(w.save(tmp_path / "w.json")))["cursor"] == 3


def _hostile_recording():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module(HOSTILE, nn.Linear(2, 2))

        def forward(self, x):
            return getattr(self, HOSTILE)(x)
    net = Net()
    x = torch.ones(1, 2, requires_grad=True)
    x.name = HOSTILE
    with dbg.record(net) as rec:
        net(x).sum().backward()
    return rec


def test_hostile_names_stay_text_in_every_output(tmp_path):
    rec = _hostile_recording()
    svg = open(pw.show(rec, path=tmp_path / "h.svg")).read()
    assert "<img" not in svg and "&lt;img" in svg
    w = pw.GraphWidget(rec)
    assert any(n["label"] == HOSTILE for n in w.graph["nodes"])     # data, rendered as text
    w.selected = f"param:{HOSTILE}.weight"
    assert w.inspector["tensor"]["name"] == f"{HOSTILE}.weight"
    from pellucid_widgets.liveplot import LivePlot
    plot = LivePlot(series=(HOSTILE,), title=HOSTILE, path=tmp_path / "p.html", autosave=False)
    plot.log(0, **{HOSTILE: 1.0})
    status = plot.widget.children[0].children[2].value
    assert "<img" not in status and "&lt;img" in status
    assert "<img" not in plot.figure.title.text and plot.source(HOSTILE).name == "pellucid-&lt;img src=x onerror=alert(1)&gt;"
    html = open(plot.save()).read()
    assert "<img src=x" not in html
    # the HTML label of the dashboard's status, the Bokeh legend, tooltips and axis labels too
    legend = [item.label.value for item in plot.figure.legend[0].items]
    assert legend == ["&lt;img src=x onerror=alert(1)&gt;"]


def test_pellucid_widgets_alias_and_missing_extra(monkeypatch):
    import pellucid.widgets as alias
    assert alias.GraphWidget is pw.GraphWidget and alias.show is pw.show
    with pytest.raises(AttributeError):
        alias.nothing_here
    monkeypatch.setitem(sys.modules, "pellucid_widgets", None)
    with pytest.raises(ImportError, match=r"pip install 'pellucid\[notebook\]'"):
        alias.LivePlot


# ---- a notebook, end to end ---------------------------------------------------------------------
NOTEBOOK_CELLS = [
    """import numpy as np
import pellucid as torch, pellucid.nn as nn, pellucid.debug as dbg
import pellucid_widgets as pw
from pellucid_widgets import panel
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
x = torch.randn(16, 4)
with dbg.record(model, values="full") as rec:
    loss = model(x).pow(2).mean()
    loss.backward()
print("PANEL", panel.enabled(), len(panel._state.comms))""",
    """g = pw.GraphWidget(rec, depth=-1)
g.selected = "op2"
print("INSPECT", g.inspector["tensor"]["shape"], g.inspector["heatmap"]["rows"])
g""",
    """sw = pw.Stepper(rec)
sw._handle_custom_msg({"action": "next"}, [])
print("STEP", sw.step["label"])
sw""",
    """pw.GradientView(rec)""",
    """shown = pw.show(rec)
print("SHOWN", type(shown).__name__, shown.graph["schema"])""",
    """plot = pw.LivePlot(series=("train_loss", "val_loss", "accuracy", "lr"), throttle=0.0)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(20):
    loss = model(x).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    plot.log(step, train_loss=loss, lr=0.05, accuracy=step / 20)
print("POINTS", len(plot.source("train_loss").data["x"]))""",
    """import pellucid.widgets
run = plot.run_in_background(lambda: [plot.log(s, val_loss=1.0 / (s + 1)) for s in range(50)])
print("RUN", run.wait(30), len(plot.source("val_loss").data["x"]))""",
]


def test_notebook_end_to_end(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (test extra)")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (test extra)")
    pytest.importorskip("jupyter_bokeh", reason="the live plot needs jupyter_bokeh (notebook extra)")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [WIDGETS_DIR, os.environ.get("PYTHONPATH")])))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = {}
    mimes = set()
    for cell in nb.cells:
        for out in cell.outputs:
            assert out["output_type"] != "error", "".join(out.get("traceback", []))
            assert out.get("name") != "stderr" or "Traceback" not in out["text"], out["text"]
            if out["output_type"] == "stream":
                for line in out["text"].splitlines():
                    key, _, rest = line.partition(" ")
                    text[key] = rest
            mimes.update(out.get("data", {}))
    assert text["PANEL"] == "True 1"                    # the side-panel comm is open
    assert text["SHOWN"] == "GraphWidget pellucid.graph"
    assert text["INSPECT"] == "[16, 1] 16"
    assert text["STEP"].startswith("step 2 / ")
    assert text["POINTS"] == "20"
    assert text["RUN"] == "finished 50"
    assert "application/vnd.jupyter.widget-view+json" in mimes
    assert "application/vnd.bokehjs_load.v0+json" in mimes
    views = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
             for c in nb.cells for o in c.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 5                              # graph, stepper, gradients, show(), live plot
    assert re.fullmatch(r"[0-9a-f]{32}", views[0])
