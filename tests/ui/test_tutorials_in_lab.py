"""Tutorials 2, 4 and 6 opened in JupyterLab and run as a learner runs them: cell by cell where the
lesson asks for the buttons (the live graph being built, the stepper mid-backward, the tripwire
pausing at the NaN), all at once where it is a training run (the live loss plot). Screenshots of
each state go to artifacts/screenshots/."""
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"


@pytest.fixture
def tutorial(lab):
    """Copy the tutorials into the server's root (fresh for each test: running saves nothing, but
    a learner's copy must not leak between tests) and return `open(name) -> code cell finder`."""
    target = lab.server.root / "tutorials"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(TUTORIALS, target, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))

    def open_tutorial(name):
        code = [c.source for c in nbformat.read(str(TUTORIALS / name), as_version=4).cells
                if c.cell_type == "code"]
        lab.open(f"tutorials/{name}", timeout=90)

        def cell(marker):
            """The index (among code cells) of the one cell whose source contains `marker`."""
            hits = [i for i, src in enumerate(code) if marker in src]
            assert len(hits) == 1, f"{name}: {len(hits)} code cells contain {marker!r}"
            return hits[0]
        cell.count = len(code)
        return cell
    return open_tutorial


def run_cells(lab, cells, timeout=120):
    """Run code cells one after the other, each once the previous one has finished."""
    for i in cells:
        lab.run_cell(i)
        lab.wait_done(timeout=timeout, cells=[i])


def no_failed_checks(lab, n_cells):
    failed = [(i, line) for i in range(n_cells) for line in lab.stdout(i).splitlines()
              if line.startswith("✗")]
    assert not failed, f"check cells reported failures: {failed}"


def stepper_in(lab, cell):
    return lab.cell_output_node(cell).locator(".pellucid-stepper").first


def label_of(stepper):
    return stepper.locator(".pellucid-step-label").first.inner_text().strip()


def press(lab, stepper, action, until, what, timeout=30):
    """Click a stepper button until the step label matches `until`; returns the label."""
    deadline = time.monotonic() + timeout
    label = label_of(stepper)
    while not re.search(until, label):
        assert time.monotonic() < deadline, f"{what}: the label is still {label!r}"
        before = label
        stepper.locator(f'button[data-action="{action}"]').first.click()
        changed = time.monotonic() + 15
        while label == before and time.monotonic() < changed:
            time.sleep(0.1)
            label = label_of(stepper)
        assert label != before, f"{what}: {action!r} did not move the stepper from {before!r}"
    return label


def drawn(stepper, css=""):
    """How many graph nodes the stepper draws (only those with `css`, e.g. '.pellucid-grad')."""
    return stepper.locator(f"svg g.node{css}").count()


def wait_ops_drawn(stepper, count, what):
    deadline = time.monotonic() + 30
    while drawn(stepper, ".pellucid-kind-op") != count:
        assert time.monotonic() < deadline, \
            f"{what}: {drawn(stepper, '.pellucid-kind-op')} op nodes drawn, expected {count}"
        time.sleep(0.1)


# ---- tutorial 2: autograd seen live ------------------------------------------------------------
def test_tutorial_2_graph_built_live_and_backward_stepped(lab, tutorial):
    cell = tutorial("02-autograd-seen-live.ipynb")
    live, drive = cell("dbg.LiveSession(build_and_backward"), cell('while session.status == "paused"')
    graph_cell, stepper_cell = cell("GraphWidget(rec)"), cell("Stepper(rec)")
    run_cells(lab, range(live + 1))

    # the run paused after its first op: x**2 is drawn
    lab.wait_js("(sel) => !!document.querySelector(sel)", ".pellucid-stepper[data-status='paused'] svg g.node",
                60, "the live stepper to pause with a graph")
    stepper = stepper_in(lab, live)
    assert re.search(r"forward · pow", label_of(stepper)), label_of(stepper)
    wait_ops_drawn(stepper, 1, "at the first pause")
    # each press runs one more op, and the graph grows by it
    for n_ops, op in enumerate(("mul", "add", "add"), start=2):
        press(lab, stepper, "step_live", rf"step {n_ops} / {n_ops} · forward · {op}\b", f"stepping to {op}")
        wait_ops_drawn(stepper, n_ops, f"after {op}")
        if n_ops == 3:
            lab.shot("graph-being-built", stepper)
    assert stepper.locator("svg g.node.pellucid-grad").count() == 0

    # into the backward pass: paused after MulBackward0, x has received the 2*x path's gradient
    press(lab, stepper, "step_live", r"backward · MulBackward0", "stepping into the backward pass")
    lab.wait_js("(sel) => document.querySelectorAll(sel).length > 0",
                ".pellucid-stepper[data-status='paused'] svg g.node.pellucid-grad", 20, "nodes with gradients")
    assert drawn(stepper, ".pellucid-current") == 1
    assert 0 < drawn(stepper, ".pellucid-grad") < drawn(stepper)
    lab.shot("live-stepper-mid-backward", stepper)

    # the next cell drives the rest of the run from code, and 8.0 arrives in x.grad
    run_cells(lab, [drive])
    out = lab.stdout(drive)
    assert "AccumulateGrad" in out and out.rstrip().endswith("run finished -> x.grad = 8.0"), out
    lab.wait_js("(sel) => !!document.querySelector(sel)", ".pellucid-stepper[data-status='finished']", 20,
                "the live stepper to show the run finished")

    # the recorded graph, drawn whole
    run_cells(lab, range(drive + 1, stepper_cell + 1))
    graph = lab.cell_output_node(graph_cell).locator(".pellucid-graph").first
    graph.locator("svg g.node.pellucid-kind-op").nth(3).wait_for(timeout=30_000)
    assert graph.locator("svg g.node.pellucid-kind-op").count() == 4
    lab.shot("recorded-graph", graph)

    # the recorded stepper, from its first step forwards into the backward pass
    rec_stepper = stepper_in(lab, stepper_cell)
    rec_stepper.locator("svg g.node").first.wait_for(timeout=30_000)
    press(lab, rec_stepper, "first", r"step 1 /", "rewinding")
    label = press(lab, rec_stepper, "next", r"backward · MulBackward0", "stepping forward into backward")
    assert label.startswith("step 7 / 9"), label
    source = rec_stepper.locator(".pellucid-source").first.inner_text()
    assert re.search(r"In\[\d+\]:3", source) and "x**2 + 2*x + 1" in source, source
    lab.shot("stepper-mid-backward", rec_stepper)

    run_cells(lab, range(stepper_cell + 1, cell.count))
    no_failed_checks(lab, cell.count)


# ---- tutorial 4: MNIST with a live loss plot ---------------------------------------------------
# points in the newest Bokeh document's source named `name` (-1 while none is rendered)
_POINTS = """(name) => {
    for (const doc of [...((window.Bokeh && window.Bokeh.documents) || [])].reverse()) {
        const src = doc.get_model_by_name(name);
        if (src) return src.get_length() ?? 0;
    }
    return -1;
}"""

_COLUMN = """([name, column]) => {
    for (const doc of [...((window.Bokeh && window.Bokeh.documents) || [])].reverse()) {
        const src = doc.get_model_by_name(name);
        if (!src) continue;
        const data = src.data instanceof Map ? Object.fromEntries(src.data) : src.data;
        return Array.from(data[column], Number);
    }
    return null;
}"""


def test_tutorial_4_trains_with_a_live_loss_plot(lab, tutorial):
    cell = tutorial("04-mnist-mlp.ipynb")
    train = cell("plot.log(step, **values)")
    lab.run_all()

    # (the points streaming in while a cell runs are tested in test_live_plot.py: these two epochs
    # on the sample take about a second)
    st = lab.wait_done(timeout=300)

    # every step's loss is plotted, the validation curves every 25 steps and at each epoch's end
    epochs = re.findall(r"epoch (\d+): last training loss ([\d.]+), validation loss ([\d.]+), "
                        r"validation accuracy ([\d.]+)", lab.stdout(train))
    assert len(epochs) == 2, lab.stdout(train)
    n_train = lab.wait_js("(f) => { const n = (" + _POINTS + ")(f); return n > 0 ? n : 0; }",
                          "pellucid-train_loss", 20, "the final loss curve")
    steps = lab.js(_COLUMN, ["pellucid-train_loss", "x"])
    assert steps == list(range(1, n_train + 1))
    losses = lab.js(_COLUMN, ["pellucid-train_loss", "y"])
    assert sum(losses[-20:]) / 20 < sum(losses[:20]) / 20 / 3, "the plotted training loss did not fall"
    every_25 = range(25, n_train + 1, 25)
    val_steps = lab.js(_COLUMN, ["pellucid-val_loss", "x"])
    assert set(every_25) <= set(val_steps) and len(val_steps) == len(every_25) + 2, val_steps
    assert val_steps[-1] == n_train
    accuracy = lab.js(_COLUMN, ["pellucid-accuracy", "y"])
    assert accuracy[-1] == pytest.approx(float(epochs[-1][3]), abs=1e-3) and accuracy[-1] > 0.85
    lab.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell").nth(train) \
        .scroll_into_view_if_needed()
    lab.shot("loss-plot", lab.cell_output_node(train))

    test_acc = re.search(r"test accuracy ([\d.]+)", lab.stdout(cell("evaluate(test_loader)")))
    assert test_acc and float(test_acc.group(1)) > 0.85, lab.stdout(cell("evaluate(test_loader)"))
    assert st["errors"] == []
    no_failed_checks(lab, cell.count)


# ---- tutorial 6: debugging a broken model ------------------------------------------------------
def test_tutorial_6_finds_the_bugs_with_the_visual_tools(lab, tutorial):
    cell = tutorial("06-debugging-a-broken-model.ipynb")
    grads = cell("GradientView(rec)")
    trip = cell("dbg.LiveSession(lambda: my_cross_entropy")
    view_stepper = cell("Stepper(stepper)")
    run_cells(lab, range(trip + 1))

    # bug 1: the gradient view flags the first layers of the sigmoid stack as vanishing
    view = lab.cell_output_node(grads).locator(".pellucid-gradients").first
    lab.wait_js("(sel) => document.querySelectorAll(sel).length > 0",
                ".pellucid-gradients .pellucid-grad-row", 30, "the gradient table")
    vanishing = re.findall(r"'([\w.]+)'", lab.stdout(grads).split("vanishing:", 1)[1].splitlines()[0])
    assert vanishing and "0.weight" in vanishing
    flagged = view.locator(".pellucid-grad-row:has(.pellucid-flag)")
    assert sorted(flagged.evaluate_all("rows => rows.map(r => r.dataset.param)")) == sorted(vanishing)
    lab.shot("gradient-view-vanishing", view)

    # bug 2: the tripwire pauses the live run at log(0), naming the op and the cell's line
    stepper = stepper_in(lab, trip)
    lab.wait_js("(sel) => !!document.querySelector(sel)", ".pellucid-stepper[data-status='paused'] svg g.node",
                60, "the run to pause at the tripwire")
    assert re.search(r"forward · log", label_of(stepper)), label_of(stepper)
    status = stepper.locator(".pellucid-status").first.inner_text()
    assert "paused" in status and "Function 'log' returned nan or inf" in status, status
    assert re.search(r"cell In\[\d+\], line 4", status), status
    assert drawn(stepper, ".pellucid-current") == 1
    lab.shot("tripwire-paused-at-log", stepper)

    # looking back: the op before it is the indexing that picked each row's probability
    press(lab, stepper, "prev", r"forward · (?!log)", "stepping back from the tripwire")
    run_cells(lab, [trip + 1])
    assert "after stop(): stopped" in lab.stdout(trip + 1)
    lab.wait_js("(sel) => !!document.querySelector(sel)", ".pellucid-stepper[data-status='stopped']", 20,
                "the stepper to show the run stopped")

    # bug 4: the stepper opens at the `view` breakpoint
    run_cells(lab, range(trip + 2, view_stepper + 1))
    vstep = stepper_in(lab, view_stepper)
    vstep.locator("svg g.node").first.wait_for(timeout=30_000)
    assert "forward · view" in label_of(vstep), label_of(vstep)
    assert "batch.view(n, h, w, c)" in vstep.locator(".pellucid-source").first.inner_text()
    lab.shot("stepper-at-view-breakpoint", vstep)

    run_cells(lab, range(view_stepper + 1, cell.count))
    no_failed_checks(lab, cell.count)
