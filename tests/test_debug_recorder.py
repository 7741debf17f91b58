"""The recorder, stepper, breakpoints, tripwire, live pausing and graph export (no UI)."""
import gc
import json
import threading
import tracemalloc

import numpy as np
import pytest

import pellucid as torch
import pellucid.nn as nn
import pellucid.debug as dbg
from pellucid.autograd.anomaly_mode import AnomalyError


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _x(n=5):
    return torch.tensor(np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32))


def _record_mlp(values="summary"):
    m = _mlp()
    x = _x()
    with dbg.record(m, values=values) as rec:
        loss = m(x).pow(2).mean()      # LOSS-LINE
        loss.backward()
    return m, rec


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def test_exact_step_sequence_of_mlp_forward_and_backward():
    m, rec = _record_mlp()
    seq = [(s.phase, s.op if s.phase == "forward" else s.node, s.module) for s in rec.steps]
    fwd = [x for x in seq if x[0] == "forward"]
    assert [f[1] for f in fwd] == ["linear", "relu", "linear", "pow", "mean"]
    assert [f[2] for f in fwd] == ["0", "1", "2", "", ""]
    bwd = [x for x in seq if x[0] == "backward"]
    assert [b[1] for b in bwd] == ["MeanBackward0", "PowBackward0", "LinearBackward0", "ReluBackward0",
                                   "LinearBackward0"]
    acc = [s for s in rec.steps if s.phase == "accumulate"]
    assert sorted(s.inputs[0] for s in acc) == sorted("param:" + n for n, _ in m.named_parameters())
    # every backward step points at the forward step it differentiates
    for s in rec.steps:
        if s.phase == "backward":
            assert rec.steps[s.forward_step].op == s.op


def test_module_paths_and_source_lines():
    m, rec = _record_mlp()
    line = _line_of("LOSS-LINE")
    for s in rec.steps:
        if s.phase == "forward":
            assert s.source[0] == __file__ and s.source[1] == line, s
    nested = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Linear(2, 1))
    with dbg.record(nested) as rec2:
        nested(torch.ones(1, 2))
    assert [s.module for s in rec2.steps] == ["0.0", "0.1", "1"]


def test_summaries_and_param_names():
    m, rec = _record_mlp()
    it = rec.latest
    w = it.tensors["param:0.weight"]
    assert w.kind == "param" and w.shape == (3, 4)
    np.testing.assert_allclose(w.summary["mean"], float(m[0].weight.detach().numpy().mean()), rtol=1e-6)
    np.testing.assert_allclose(w.grad_summary["norm"], float(np.linalg.norm(m[0].weight.grad.numpy())), rtol=1e-5)
    assert it.loss == pytest.approx(float(m(_x()).pow(2).mean().item()), rel=1e-6)
    assert set(it.grad_norms) == {n for n, _ in m.named_parameters()}


def test_structure_mode_keeps_no_values_and_full_mode_snapshots_within_budget():
    _, rec = _record_mlp(values="structure")
    assert all(info.summary is None for k, info in rec.latest.tensors.items() if not k.startswith("param"))
    m = _mlp()
    x = _x(64)
    with dbg.record(m, values="full", snapshot_budget=2000) as rec:
        m(x).pow(2).mean().backward()
    total = sum(a.nbytes for a in rec.latest.snapshots.values()) + sum(a.nbytes for a in rec.latest.grad_snapshots.values())
    assert total <= 2000
    assert rec.dropped, "the recording must say what it dropped"
    with dbg.record(m, values="full", snapshot_budget=10**6, drop="largest") as rec2:
        out = m(x)
    key = out.__dict__["_rec_key"][2]
    np.testing.assert_array_equal(rec2.latest.snapshots[key], out.detach().numpy())


def test_stepping_forward_and_back_restores_state():
    _, rec = _record_mlp()
    st = rec.stepper()
    assert st.cursor == 0 and st.step.op == "linear"
    s0 = st.state().to_dict()
    st.next(3)
    assert st.step.op == "pow"
    st.first_backward()
    assert st.phase == "backward" and st.step.node == "MeanBackward0"
    mid = st.state()
    assert len(mid.grads) == 1
    st.last()
    assert st.state().grads.keys() >= {"param:0.weight", "param:2.bias"}
    st.prev(len(st) + 5)
    assert st.cursor == 0 and st.state().to_dict() == s0
    st.goto(-1)
    assert st.cursor == len(st) - 1
    with pytest.raises(IndexError, match="out of range"):
        st.goto(len(st))
    st.goto(0)
    st.step_over()
    assert st.step.module == "1"


def test_every_breakpoint_kind_stops_at_the_right_step():
    m, rec = _record_mlp()
    st = rec.stepper()
    st.add_breakpoint(op="pow")
    assert st.run().op == "pow"
    st.clear_breakpoints()
    st.first()
    st.add_breakpoint(module="2")
    assert st.run().index == 2
    assert st.run().phase == "backward" and st.step.module == "2"
    st.clear_breakpoints()
    st.first()
    st.add_breakpoint(tensor="param:2.weight", phase="backward")
    s = st.run()
    assert s.phase in ("backward", "accumulate") and any(k == "param:2.weight" for k, _ in s.grads_out)
    st.clear_breakpoints()
    st.first()
    st.add_breakpoint(predicate=lambda s: s.phase == "accumulate")
    assert st.run().phase == "accumulate"
    st.clear_breakpoints()
    st.first()
    st.add_breakpoint(grad_norm_above=1e9)
    assert st.run() is None and st.cursor == len(st) - 1
    st.first()
    st.clear_breakpoints()
    big = max(gs.get("norm", 0) for s in rec.steps for _, gs in s.grads_out if gs)
    st.add_breakpoint(grad_norm_above=big * 0.999)
    assert st.run() is not None
    # backward in time
    st.last()
    st.clear_breakpoints()
    st.add_breakpoint(op="relu", phase="forward")
    assert st.run(direction=-1).index == 1
    # NaN breakpoint
    x = torch.tensor([1.0, 0.0], requires_grad=True)
    with dbg.record() as rec3:
        y = torch.log(x) * 2
    st3 = rec3.stepper()
    st3.add_breakpoint(nan=True)
    assert st3.run() is None or st3.step.op in ("log", "mul")
    assert rec3.steps[0].nonfinite == 1


def test_tripwire_forward_nan_from_log_zero_names_op_and_line():
    x = torch.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(AnomalyError) as ei:
        with dbg.record(nan_check=True):
            y = torch.log(x - x)   # TRIP-FWD
    line = _line_of("TRIP-FWD")
    assert "'log'" in str(ei.value) and f"{__file__}:{line}" in str(ei.value)
    assert ei.value.phase == "forward" and ei.value.source[1] == line


def test_tripwire_inf_only_in_backward():
    x = torch.zeros(3, requires_grad=True)
    with pytest.raises(AnomalyError) as ei:
        with dbg.record(nan_check=True):
            y = x.sqrt()           # TRIP-BWD
            (y * 1.0).sum().backward()
    line = _line_of("TRIP-BWD")
    msg = str(ei.value)
    assert ei.value.phase == "backward" and "SqrtBackward0" in msg and "'sqrt'" in msg
    assert f"{__file__}:{line}" in msg


def test_detect_anomaly_shares_the_tripwire():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(AnomalyError, match="sqrt"):
        with torch.autograd.detect_anomaly():
            x.sqrt().sum().backward()


def test_live_pausing_resume_step_and_stop():
    m = _mlp()
    x = _x()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)

    def train_step():
        for _ in range(3):
            loss = m(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return "done"

    sess = dbg.LiveSession(train_step, breakpoints=[dbg.on_op("relu")], model=m)
    sess.start()
    assert sess.wait(10) == "paused" and sess.paused_at.op == "relu"
    sess.step(2)
    assert sess.wait(10) == "paused" and sess.paused_at.op == "pow"
    sess.resume()
    assert sess.wait(10) == "paused" and sess.paused_at.op == "relu"
    sess.breakpoints.clear()
    sess.resume()
    assert sess.wait(10) == "finished" and sess.result == "done"
    assert not sess.alive and not [t for t in threading.enumerate() if t.name == 'pellucid-live']

    w_before = m[0].weight.detach().numpy().copy()
    sess2 = dbg.LiveSession(train_step, pause_at_start=True, model=m).start()
    assert sess2.wait(10) == "paused"
    assert sess2.stop() == "stopped"
    assert not sess2.alive and not [t for t in threading.enumerate() if t.name == 'pellucid-live']
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), w_before)   # nothing half-updated


def test_live_tripwire_pauses_instead_of_raising():
    x = torch.zeros(2, requires_grad=True)
    sess = dbg.live(lambda: x.sqrt().sum().backward())
    assert sess.wait(10) == "paused" and "nan or inf" in sess.pause_reason
    sess.resume()
    assert sess.wait(10) == "finished"


def test_iterations_keep_last_n_and_memory_stays_flat():
    m = nn.Linear(4, 2)
    x = _x()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)

    def loop(n, rec):
        for _ in range(n):
            loss = m(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    rec = dbg.record(m, keep=2)
    with rec:
        loop(200, rec)
    assert rec.iteration_count == 200 and len(rec.iterations) == 2
    assert len(rec.scalars["loss"]) == 200 and rec.structure_changes == 1
    assert rec.scalars["loss"][-1] < rec.scalars["loss"][0]
    with rec:
        loop(9500, rec)                       # untraced: tracemalloc would slow this 20x
    gc.collect()
    tracemalloc.start()
    with rec:
        loop(100, rec)
    gc.collect()
    mid = tracemalloc.get_traced_memory()[0]
    with rec:
        loop(400, rec)
    gc.collect()
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # past 10,000 iterations each one adds only its scalars (a few floats), not its graph
    assert end - mid < 400 * 400, (mid, end)
    assert rec.iteration_count == 10200 and len(rec.iterations) == 2
    assert len(rec.scalars["loss"]) == 10200


HOSTILE = '<img src=x onerror=alert(1)>"\n\\l'


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


def test_dot_and_json_escape_hostile_names():
    rec = _hostile_recording()
    src = rec.to_dot().source
    # user text appears only inside quoted strings: never as an HTML-like <...> label or an id
    import re
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', src, flags=re.S)
    assert "img" not in outside and "label=<" not in src
    for m in re.finditer(r'^\s*(\S+) (?:->|\[)', src, re.M):
        assert re.fullmatch(r'n\d+|graph|node|edge', m.group(1)), m.group(1)
    js = rec.to_json(html_safe=True)
    assert "<" not in js and ">" not in js
    g = json.loads(js)
    assert any(n.get("label") == HOSTILE for n in g["nodes"])
    assert any(c["path"] == HOSTILE for c in g["clusters"])


def test_svg_render_escapes_and_files_are_written(tmp_path):
    rec = _hostile_recording()
    svg = dbg.to_svg(rec.graph())
    assert "<img" not in svg and "&lt;img" in svg
    for ext in ("svg", "dot", "json", "png"):
        p = rec.render(tmp_path / f"g.{ext}")
        assert (tmp_path / f"g.{ext}").stat().st_size > 0 and p.endswith(ext)
    assert open(tmp_path / "g.svg").read().lstrip().startswith("<?xml")


def test_graph_schema_is_versioned_and_consistent():
    m, rec = _record_mlp()
    g = rec.graph(cursor=2)
    assert g["schema"] == dbg.SCHEMA and g["version"] == dbg.VERSION == 1
    ids = {n["id"] for n in g["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in g["edges"])
    ops = [n for n in g["nodes"] if n["kind"] == "op"]
    assert [n["state"] for n in ops] == ["done", "done", "current", "pending", "pending"]
    assert {c["path"] for c in g["clusters"]} == {"0", "1", "2"}
    bundle = rec._repr_mimebundle_()
    assert dbg.MIME_TYPE in bundle and "image/svg+xml" in bundle and "text/plain" in bundle


def test_gradient_health_flags_vanishing_dead_relu_and_missing_grads():
    torch.manual_seed(0)
    layers = []
    for _ in range(12):
        layers += [nn.Linear(8, 8), nn.Sigmoid()]
    deep = nn.Sequential(*layers, nn.Linear(8, 1))
    unused = nn.Linear(2, 2)
    model = nn.ModuleDict({"deep": deep, "unused": unused})
    x = torch.tensor(np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32))
    with dbg.record(model) as rec:
        deep(x).pow(2).mean().backward()
    h = rec.health(vanishing_below=1e-4)
    assert "deep.0.weight" in h.vanishing
    assert "unused.weight" in h.no_grad and "unused.bias" in h.no_grad
    relu_net = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    with torch.no_grad():
        relu_net[0].bias.fill_(-100.0)
    with dbg.record(relu_net) as rec2:
        relu_net(x)
    assert rec2.health().dead_relu["1"] == 1.0
    assert "flag" in h.report() or "vanishing" in h.report()


def test_submodule_called_directly_is_named_from_the_watched_model():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    with dbg.record(m) as rec:
        m[1](torch.ones(1, 2))
    assert [s.module for s in rec.steps] == ["1.0", "1.1"]


_IN_A_NOTEBOOK_CELL = r'''
import json
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("import pellucid as torch, pellucid.debug as dbg", store_history=True)
shell.run_cell("""x = torch.tensor(3.0, requires_grad=True)
with dbg.record() as rec:
    y = x * 2
    y.backward()""", store_history=True)
shell.run_cell("""try:
    with dbg.record(nan_check=True):
        torch.log(torch.zeros(1))
except Exception as e:
    err = e""", store_history=True)
shell.run_cell("""import warnings
def f(x):
    return x * 2 if bool(x.sum() > 0) else x
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    torch.jit.trace(f, torch.ones(2))""", store_history=True)
ns = shell.user_ns
g = ns["rec"].graph()
print(json.dumps({"table": ns["rec"].summary_table(), "step": repr(ns["rec"].steps[0]),
                  "label": g["nodes"][[n["kind"] for n in g["nodes"]].index("op")]["source"]["label"],
                  "error": str(ns["err"]), "tracer": [str(w.message) for w in ns["caught"]]}))
'''


def test_sources_in_notebook_cells_are_named_by_their_cell():
    # IPython compiles each cell to a temporary file; readers know the cell as In[n]
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _IN_A_NOTEBOOK_CELL], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts["label"] == "In[2]"
    assert "In[2]:3" in facts["table"] and "In[2]:3" in facts["step"]
    assert "called at cell In[3], line 3" in facts["error"], facts["error"]
    assert any("(at cell In[4], line 3, in f)" in w for w in facts["tracer"]), facts["tracer"]


def test_sources_in_files_are_named_by_their_base_name():
    x = torch.tensor(3.0, requires_grad=True)
    with dbg.record() as rec:
        (x * 2).backward()
    src = next(n["source"] for n in rec.graph()["nodes"] if n["kind"] == "op")
    assert src["label"] == "test_debug_recorder.py" and src["file"] == __file__
