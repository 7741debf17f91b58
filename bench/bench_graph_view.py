"""Layout and first render of large recorded graphs in the JupyterLab extension, in headless
Chromium: the time from the graph view asking for a layout (Graphviz in the Web Worker) to the
SVG being in the page and laid out by the browser, read from the view's `data-*` timings.

Each case is a saved notebook whose output is a graph document (the MIME renderer draws it, no
kernel involved), opened in a freshly loaded page after a small warm-up graph, so the WebAssembly
module is loaded but nothing is cached. Needs the set-up (`bash .ci/setup`): JupyterLab with the
built extension, Playwright and /usr/bin/chromium.

Run: .venv/bin/python bench/bench_graph_view.py [--repeat 3]
"""
import argparse
import datetime
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _timing import machine  # noqa: E402

CHROMIUM = os.environ.get("PELLUCID_CHROMIUM", "/usr/bin/chromium")
MIME = "application/vnd.pellucid.graph+json"
GOAL_MS = 1500


def chain_graph(n_ops):
    """A recording of n_ops elementwise ops in a chain, no modules: every node is drawn."""
    import pellucid as torch
    import pellucid.debug as dbg
    with dbg.record(values="structure") as rec:
        h = torch.randn(3)
        for _ in range(n_ops // 2):
            h = h * 1.001 + 0.001
    return json.loads(rec.to_json())


def model_graph(stages=12, blocks=10, width=8):
    """A recorded forward and backward of a model with nested modules (stages of residual
    blocks): ~1,300 nodes, collapsible."""
    import pellucid as torch
    import pellucid.debug as dbg
    import pellucid.nn as nn

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.fc1, self.act, self.fc2, self.norm = nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.LayerNorm(d)

        def forward(self, x):
            return self.norm(x + self.fc2(self.act(self.fc1(x))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stages = nn.Sequential(*[nn.Sequential(*[Block(width) for _ in range(blocks)])
                                          for _ in range(stages)])
            self.head = nn.Linear(width, 2)

        def forward(self, x):
            return self.head(self.stages(x))

    torch.manual_seed(0)
    model = Net()
    with dbg.record(model) as rec:
        model(torch.randn(4, width)).pow(2).mean().backward()
    return json.loads(rec.to_json())


def write_notebook(path, graph, depth):
    """A notebook whose one output is the graph document; the output's metadata gives the view's
    depth (the MIME renderer's default is 1)."""
    meta = {MIME: {"depth": depth}} if depth is not None else {}
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "cells": [{"cell_type": "code", "id": "graph", "metadata": {}, "execution_count": 1, "source": "rec",
                     "outputs": [{"output_type": "display_data", "metadata": meta,
                                  "data": {MIME: graph, "text/plain": "graph"}}]}]}
    path.write_text(json.dumps(nb))


class Lab:
    def __init__(self, root):
        self.root = Path(root)
        self.token = secrets.token_hex(16)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        settings = self.root / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(self.root / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.root / "workspaces"),
                   JUPYTER_CONFIG_DIR=str(self.root / "config"), JUPYTER_RUNTIME_DIR=str(self.root / "runtime"))
        (self.root / "nb").mkdir()
        self.log = open(self.root / "lab.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root / 'nb'}", "--allow-root", "--LabApp.expose_app_in_browser=True",
             "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("JupyterLab did not start: see " + str(self.root / "lab.log"))
                time.sleep(0.2)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def open_and_time(page, lab, name, timeout=120):
    """Open notebook `name`; return the timings of its graph view once drawn."""
    page.evaluate("(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", name)
    sel = f'.jp-NotebookPanel[data-pellucid-bench="{name}"] .pellucid-mime .pellucid-graph[data-render-ms]'
    page.wait_for_function("""(p) => {
        for (const w of window.jupyterapp.shell.widgets('main'))
            if (w.context && w.context.path === p) { w.node.dataset.pellucidBench = p; return true; }
        return false; }""", arg=name, timeout=timeout * 1000)
    page.wait_for_selector(sel, state="attached", timeout=timeout * 1000)
    return page.evaluate("(s) => Object.assign({}, document.querySelector(s).dataset)", sel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    cases = [("chain, 2,000 nodes, all drawn", chain_graph(2000), None),
             ("model, 1,327 nodes, expanded (depth -1)", None, -1),
             ("model, 1,327 nodes, collapsed (depth 1)", None, 1)]
    model = model_graph()
    cases = [(name, g if g is not None else model, depth) for name, g, depth in cases]
    tiny = chain_graph(4)

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(tmp)
        try:
            nb_dir = Path(tmp) / "nb"
            write_notebook(nb_dir / "warmup.ipynb", tiny, None)
            for i, (_, graph, depth) in enumerate(cases):
                write_notebook(nb_dir / f"case{i}.ipynb", graph, depth)
            results = {i: [] for i in range(len(cases))}
            with sync_playwright() as pw:
                ctx = pw.chromium.launch_persistent_context(
                    str(Path(tmp) / "profile"), executable_path=CHROMIUM, headless=True,
                    viewport={"width": 1400, "height": 1000},
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
                page = ctx.new_page()
                for _ in range(args.repeat):
                    for i in range(len(cases)):
                        # a fresh page: nothing cached, and a warm-up graph loads the WebAssembly
                        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
                        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
                        page.evaluate("() => window.jupyterapp.started.then(() => null)")
                        warm = open_and_time(page, lab, "warmup.ipynb")
                        t = open_and_time(page, lab, f"case{i}.ipynb")
                        t["wasm_load_ms"] = warm.get("loadMs")
                        results[i].append(t)
                ctx.close()
        finally:
            lab.stop()

    print(f"# graph view: layout + first render, {datetime.date.today()}, {machine()}, "
          f"median of {args.repeat}\n")
    print("| case | drawn nodes | layout in worker (ms) | worker round trip (ms) | "
          "insert + browser layout (ms) | layout + first render (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, (name, _, _) in enumerate(cases):
        rs = results[i]

        def med(key):
            return statistics.median(float(r[key]) for r in rs)
        print(f"| {name} | {rs[0]['drawnNodes']} | {med('layoutMs'):.0f} | {med('workerMs'):.0f} | "
              f"{med('insertMs'):.0f} | {med('renderMs'):.0f} |")
    wasm = statistics.median(float(r["wasm_load_ms"]) for rs in results.values() for r in rs)
    print(f"\nLoading Graphviz's WebAssembly in the worker (first graph of a page only): {wasm:.0f} ms.")
    print(f"Goal: layout + first render of a 2,000-node graph under {GOAL_MS} ms.")


if __name__ == "__main__":
    main()
