"""Cost of a live loss plot: the MNIST-shaped MLP training loop logging to a LivePlot every step
against the same loop without it, in one run (ratio; goal at most 1.05).

The plot's figures are attached to a Bokeh Document, as in a notebook, so each throttled
`stream()` produces the document events that jupyter_bokeh sends to the page.

Run: .venv/bin/python bench/bench_liveplot.py
"""
import contextlib
import datetime
import io
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from bokeh.document import Document  # noqa: E402

import pellucid  # noqa: E402
import pellucid.nn as nn  # noqa: E402
import pellucid.nn.functional as F  # noqa: E402
from pellucid_widgets import LivePlot  # noqa: E402
from _timing import machine  # noqa: E402


def make():
    pellucid.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = pellucid.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = pellucid.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = pellucid.tensor(rng.integers(0, 10, 64))
    return model, opt, x, y


def loop(n, plot=None):
    model, opt, x, y = make()
    t0 = time.perf_counter()
    for step in range(n):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if plot is not None:
            plot.log(step, train_loss=loss.item(), lr=opt.param_groups[0]["lr"])
    return (time.perf_counter() - t0) / n


def main(n=400, rounds=7):
    base, with_plot = [], []
    for _ in range(rounds):
        base.append(loop(n))
        plot = LivePlot(series=("train_loss", "lr"), total=n, autosave=False)
        doc = Document()
        doc.add_root(plot.layout)
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            with_plot.append(loop(n, plot))
        assert len(plot.points("train_loss")[0]) == n
    b, p = statistics.median(base), statistics.median(with_plot)
    print(f"# live loss plot overhead, {datetime.date.today()}, {machine()}\n")
    print("| loop | without plot (ms/step) | with LivePlot.log every step (ms/step) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| MLP, batch 64, Adam | {b * 1e3:.3f} | {p * 1e3:.3f} | {p / b:.3f} |")
    print("\nGoal: ratio at most 1.05.")


if __name__ == "__main__":
    main()
