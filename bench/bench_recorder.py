"""Cost of recording: the MLP and ConvNet training loops with the recorder off, structure-only
and with summaries, against the same loop unrecorded, in one run (ratios to unrecorded).

Run: .venv/bin/python bench/bench_recorder.py
"""
import datetime
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

import pellucid  # noqa: E402
import pellucid.debug as dbg  # noqa: E402
import pellucid.nn as nn  # noqa: E402
import pellucid.nn.functional as F  # noqa: E402
from _timing import machine  # noqa: E402


def make(kind):
    pellucid.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = pellucid.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = pellucid.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = pellucid.tensor(rng.integers(0, 10, 64))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, step


def timed(step, n, ctx=None):
    if ctx is not None:
        ctx.start()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    dt = (time.perf_counter() - t0) / n
    if ctx is not None:
        ctx.stop()
    return dt


def main():
    print(f"# recorder overhead, {datetime.date.today()}, {machine()}\n")
    print("| loop | unrecorded (ms/step) | off | structure-only | summaries |")
    print("|---|---:|---:|---:|---:|")
    for kind, n in (("mlp", 60), ("conv", 12)):
        model, step = make(kind)
        step()
        res = {k: [] for k in ("base", "off", "structure", "summary")}
        for _ in range(5):
            res["base"].append(timed(step, n))
            # "off": the recorder module imported and a recorder constructed but not active
            dbg.record(model)
            res["off"].append(timed(step, n))
            res["structure"].append(timed(step, n, dbg.record(model, values="structure")))
            res["summary"].append(timed(step, n, dbg.record(model, values="summary")))
        med = {k: statistics.median(v) for k, v in res.items()}
        b = med["base"]
        print(f"| {kind} | {b * 1e3:.2f} | {med['off'] / b:.3f} | {med['structure'] / b:.3f} | "
              f"{med['summary'] / b:.3f} |")
    print("\nGoals: off <= 1.01 (within noise), structure-only <= 1.15, summaries <= 1.50.")


if __name__ == "__main__":
    main()
