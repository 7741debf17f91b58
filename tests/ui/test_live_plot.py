"""The live loss plot: points arrive while the training cell is still running, and its stop
button ends the loop early."""
import math
import time

SOURCE = "pellucid-train_loss"

SETUP_CELL = '''\
import json, time
import pellucid as torch
import pellucid.nn as nn
from pellucid.utils.data import DataLoader
from pellucid.vision import datasets, transforms
import pellucid_widgets
torch.manual_seed(0)
train = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())
loader = DataLoader(train, batch_size=32, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
plot = pellucid_widgets.LivePlot(series=("train_loss",), throttle=0.1)
display(plot)
'''

# runs until `max_steps`, Stop, or the test creates the file `enough` (it has seen what it needs)
TRAIN_CELL = '''\
import os
logged = []
for step, (xb, yb) in enumerate(loader):
    if step >= {max_steps} or plot.stop_requested or os.path.exists("enough"):
        break
    loss = nn.functional.cross_entropy(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    plot.log(step, train_loss=loss.item())
    logged.append([step, loss.item()])
    time.sleep({sleep})
print("STEPS", len(logged))
print("LOGGED", json.dumps(logged))
'''

# the number of points in the plot's data source (-1 while BokehJS has not rendered it)
_POINTS = """(name) => {
    for (const doc of (window.Bokeh && window.Bokeh.documents) || []) {
        const src = doc.get_model_by_name(name);
        if (src) return src.get_length() ?? 0;
    }
    return -1;
}"""

_COLUMNS = """(name) => {
    for (const doc of (window.Bokeh && window.Bokeh.documents) || []) {
        const src = doc.get_model_by_name(name);
        if (!src) continue;
        const data = src.data instanceof Map ? Object.fromEntries(src.data) : src.data;
        const out = {};
        for (const [k, v] of Object.entries(data)) out[k] = Array.from(v, x => Number(x));
        return out;
    }
    return null;
}"""


def _start(lab, name, max_steps, sleep):
    (lab.server.root / "enough").unlink(missing_ok=True)
    lab.open(name, [SETUP_CELL, TRAIN_CELL.format(max_steps=max_steps, sleep=sleep)])
    lab.run_all()
    lab.wait_cell_running(1, timeout=90)


def test_loss_points_stream_while_the_cell_runs(lab):
    _start(lab, "live_plot.ipynb", max_steps=300, sleep=0.1)
    seen_running = []
    try:
        while lab.run_state()["prompts"][1] == "[*]:":
            seen_running.append(lab.js(_POINTS, SOURCE))
            if len({n for n in seen_running if n > 0}) == 5:
                lab.shot("running", lab.cell_output_node(0))
                break
            time.sleep(0.3)
    finally:
        (lab.server.root / "enough").touch()
    lab.wait_done()
    growing = sorted({n for n in seen_running if n > 0})
    assert len(growing) >= 5, f"the plot did not gain points while the cell ran: {seen_running}"

    logged = lab.printed(1, "LOGGED")
    assert len(logged) >= growing[-1]
    lab.wait_js("([name, n]) => { " + f"const f = {_POINTS}; " + "return f(name) === n; }",
                [SOURCE, len(logged)], 10, "every logged point in the plot")
    cols = lab.js(_COLUMNS, SOURCE)
    lab.shot("finished", lab.cell_output_node(0))
    assert sorted(cols) == ["x", "y"]
    assert cols["x"] == [s for s, _ in logged]
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(cols["y"], (v for _, v in logged)))


def test_stop_button_ends_the_training_loop(lab):
    max_steps = 1000
    _start(lab, "live_stop.ipynb", max_steps=max_steps, sleep=0.05)
    lab.wait_js("([name]) => { " + f"const f = {_POINTS}; " + "return f(name) >= 5; }", [SOURCE], 60,
                "five points in the plot")
    stop = lab.cell_output_node(0).get_by_role("button", name="Stop", exact=False).first
    lab.shot("before-stop", lab.cell_output_node(0))
    clicked_at = time.monotonic()
    stop.click()
    lab.wait_done(timeout=60)
    took = time.monotonic() - clicked_at
    steps = lab.printed(1, "STEPS")
    lab.shot("stopped", lab.cell_output_node(0))
    assert 5 <= steps < max_steps, f"the loop ran {steps} of {max_steps} steps"
    assert took < 30, f"the loop took {took:.1f}s to stop"
