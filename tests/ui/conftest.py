"""Browser tests of the JupyterLab extension and the notebook widgets.

One JupyterLab server (127.0.0.1, a free port, a random token, a temporary root holding the
notebooks the tests write) and one headless Chromium (the Debian build, driven by Playwright) are
shared by the whole session. Each test writes a notebook, opens it, runs it and reads the page;
screenshots go to artifacts/screenshots/. The tests skip, saying why, only when the browser or
the built extension is missing (both are installed by the set-up script)."""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("PELLUCID_CHROMIUM", "/usr/bin/chromium")
LABEXTENSION = "pellucid-jupyterlab"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
UI_DIR = Path(__file__).resolve().parent


# ---- what the suite needs ----------------------------------------------------------------------
def _labextension_dir():
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return None
    for base in jupyter_path("labextensions"):
        if (Path(base) / LABEXTENSION / "package.json").is_file():
            return Path(base) / LABEXTENSION
    return None


def _missing_requirement():
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not installed at {CHROMIUM}: run bash .ci/setup"
    if _labextension_dir() is None:
        return f"the {LABEXTENSION} labextension is not built/installed: run bash .ci/setup"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed: run bash .ci/setup"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing_requirement()
    for item in items:
        if UI_DIR not in Path(str(item.fspath)).resolve().parents:
            continue
        # one worker runs them all under `--dist loadgroup`: one server and one browser
        item.add_marker(pytest.mark.xdist_group("ui"))
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---- the server --------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    def __init__(self, base):
        self.base = Path(base)
        self.root = self.base / "root"
        self.root.mkdir()
        self.token = secrets.token_hex(24)
        self.log_path = self.base / "lab.log"
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _env(self):
        env = dict(os.environ)
        cfg = self.base / "config"
        settings = self.base / "user-settings"
        # the first-run news toast would cover the bottom of the screenshots
        notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notif.parent.mkdir(parents=True, exist_ok=True)
        notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        cfg.mkdir(exist_ok=True)
        env.update(JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
                   JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.base / "workspaces"),
                   PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        env.pop("JUPYTER_TOKEN", None)
        return env

    def start(self, timeout=60):
        for attempt in range(3):
            self.port = _free_port()
            cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--allow-root", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--ServerApp.open_browser=False"]
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                                         cwd=self.base, start_new_session=True)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    self.api("GET", "/api/status")
                    return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.2)
            self.stop()
            if "already in use" not in self.log_tail():
                break
        raise RuntimeError(f"JupyterLab did not start; log:\n{self.log_tail()}")

    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
        return json.loads(text) if text else None

    def log_tail(self, n=6000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self):
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)      # the server shuts its kernels down too
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        # anything the server started and left behind is in its own process group
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("lab"))
    server.start()
    yield server
    server.stop()


# ---- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright
    pw = sync_playwright().start()
    ctx = None
    try:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, viewport={"width": 1400, "height": 1000}, args=CHROMIUM_ARGS)
        yield ctx
    finally:
        if ctx is not None:
            ctx.close()
        pw.stop()


# JS: the notebook panel open on `path`
_FIND = """const __pellucidPanel = (path) => {
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.widgets) return w;
  }
  return null;
};"""


def _js(params, body):
    """An arrow function (for page.evaluate) that can call __pellucidPanel(path)."""
    return f"({params}) => {{ {_FIND}\n{body} }}"


_RUN_STATE = _js("path", """
  const nb = __pellucidPanel(path);
  if (!nb) return {missing: true};
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const cells = nb.content.widgets.filter(c => c.model.type === 'code');
  const prompts = cells.map(c => {
    const p = c.node.querySelector('.jp-InputPrompt');
    return p ? p.textContent.trim() : '';
  });
  const errors = [];
  cells.forEach((c, i) => {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error')
        errors.push({cell: i, ename: o.ename, evalue: o.evalue, traceback: (o.traceback || []).join('\\n')});
    }
  });
  // a folded (input-hidden) cell draws no prompt: its model's execution count says it ran
  const counts = cells.map(c => c.model.executionCount);
  return {prompts, counts, errors, status: kernel ? kernel.status : 'none',
          connection: kernel ? kernel.connectionStatus : 'none'};
""")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Lab:
    """The JupyterLab page, and helpers over the notebook a test opened."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.path = None
        self.test_name = "lab"
        self.console = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    # ---- page ----
    def load(self):
        self.page.goto(f"{self.server.url}/lab?reset&token={self.server.token}")
        self.page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        self.page.evaluate("() => window.jupyterapp.started.then(() => null)")
        self.page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)

    def command(self, name, args=None):
        """Run a JupyterLab command without waiting for it (a returned Promise would block)."""
        self.page.evaluate("([n, a]) => { window.jupyterapp.commands.execute(n, a || {}); }", [name, args])

    def wait_js(self, expression, arg=None, timeout=30, what="condition"):
        """Poll a JS predicate until it returns a truthy value; returns that value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.page.evaluate(expression, arg)
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {last!r})")

    def shot(self, state, locator=None):
        """Save a screenshot of the page (or of one element) as <test>-<state>.png."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.test_name}-{state}.png"
        if locator is not None:
            locator.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        return path

    # ---- notebooks ----
    def write_notebook(self, name, cells):
        import nbformat
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        path = self.server.root / name
        nbformat.write(nb, str(path))
        return name

    def open(self, name, cells=None, timeout=60):
        """Write (when cells are given) and open a notebook; return once its kernel is idle and
        connected (running a cell before that can be dropped silently)."""
        if cells is not None:
            self.write_notebook(name, cells)
        self.path = name
        self.command("docmanager:open", {"path": name, "factory": "Notebook"})
        self.wait_js(_js("p", "return __pellucidPanel(p) !== null;"), name, timeout, f"{name} to open")
        self.page.evaluate(_js("p", "return __pellucidPanel(p).sessionContext.ready.then(() => null);"), name)
        self.wait_kernel_idle(timeout)
        self.js(_js("p", "window.jupyterapp.shell.activateById(__pellucidPanel(p).id);"), name)

    def wait_kernel_idle(self, timeout=60):
        self.wait_js(_js("p", """
            const k = __pellucidPanel(p).sessionContext.session?.kernel;
            return !!k && k.status === 'idle' && k.connectionStatus === 'connected';"""), self.path, timeout, "the kernel to be idle and connected")

    def _clear(self, cell=None):
        # so that wait_done cannot mistake the prompts of an earlier run for this one's
        self.js(_js("[p, i]", """
            const code = __pellucidPanel(p).content.widgets.filter(c => c.model.type === 'code');
            for (const c of (i === null ? code : [code[i]])) {
                c.model.outputs.clear();
                c.model.executionCount = null;
            }"""), [self.path, cell])

    def run_all(self):
        self._clear()
        self.command("notebook:run-all-cells")

    def run_cell(self, cell):
        """Run code cell `cell` (0-based among code cells) without waiting for it."""
        self._clear(cell)
        self.js(_js("[p, i]", """
            const nb = __pellucidPanel(p);
            const code = nb.content.widgets.filter(c => c.model.type === 'code');
            nb.content.activeCellIndex = nb.content.widgets.indexOf(code[i]);
            window.jupyterapp.commands.execute('notebook:run-cell');"""), [self.path, cell])

    def run_state(self):
        return self.page.evaluate(_RUN_STATE, self.path)

    def prompt(self, cell):
        return self.run_state()["prompts"][cell]

    def wait_done(self, timeout=120, cells=None):
        """Wait until every code cell (or those listed) has run and the kernel is idle; fail on an
        error output."""
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.run_state()
            if st.get("errors"):
                e = st["errors"][0]
                raise AssertionError(f"cell {e['cell']} raised {e['ename']}: {e['evalue']}\n"
                                     + _ANSI.sub("", e["traceback"]))
            if (not st.get("missing") and st["status"] == "idle"
                    and all(isinstance(n, int) and p != "[*]:"
                            for i, (p, n) in enumerate(zip(st["prompts"], st["counts"]))
                            if cells is None or i in cells)):
                return st
            time.sleep(0.25)
        raise AssertionError(f"notebook did not finish in {timeout}s: {st!r}")

    def wait_cell_running(self, cell, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.run_state()
            if st.get("errors"):
                e = st["errors"][0]
                raise AssertionError(f"cell {e['cell']} raised {e['ename']}: {e['evalue']}\n"
                                     + _ANSI.sub("", e["traceback"]))
            if st["prompts"][cell] == "[*]:":
                return
            time.sleep(0.1)
        raise AssertionError(f"cell {cell} never started running")

    def outputs(self, cell):
        """The nbformat outputs of code cell `cell` (0-based among code cells)."""
        return self.page.evaluate(_js("[p, i]", """
            const cells = __pellucidPanel(p).content.widgets.filter(c => c.model.type === 'code');
            return cells[i].model.outputs.toJSON();"""), [self.path, cell])

    def stdout(self, cell):
        text = ""
        for o in self.outputs(cell):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                t = o.get("text", "")
                text += "".join(t) if isinstance(t, list) else t
        return text

    def printed(self, cell, key):
        """The value printed by `print(key, value)` in a cell, parsed as JSON."""
        for line in self.stdout(cell).splitlines():
            if line.startswith(key + " "):
                return json.loads(line[len(key) + 1:])
        raise AssertionError(f"cell {cell} printed no {key!r}; stdout:\n{self.stdout(cell)}")

    def cell_output_node(self, cell):
        """A locator for the output area of code cell `cell`."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell").nth(cell) \
            .locator(".jp-Cell-outputArea")

    def restart_kernel(self, timeout=60):
        self.js(_js("p", "__pellucidPanel(p).sessionContext.restartKernel();"), self.path)
        time.sleep(0.5)
        self.wait_kernel_idle(timeout)

    def close_all(self):
        """Close every document without a save prompt and shut every kernel down."""
        self.page.evaluate("""() => {
            const app = window.jupyterapp;
            for (const w of [...app.shell.widgets('main')]) {
                if (w.context && w.context.model) w.context.model.dirty = false;
                w.dispose();
            }
            return app.serviceManager.sessions.refreshRunning()
                .then(() => Promise.all([...app.serviceManager.sessions.running()].map(
                    s => app.serviceManager.sessions.shutdown(s.id))))
                .then(() => null);
        }""")
        self.path = None


@pytest.fixture(scope="session")
def lab_page(browser_context, lab_server):
    page = browser_context.new_page()
    lab = Lab(page, lab_server)
    lab.load()
    yield lab
    page.close()


@pytest.fixture
def lab(lab_page, request):
    lab_page.test_name = request.node.name.replace("/", "_")
    lab_page.console.clear()
    yield lab_page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        try:
            print("saved", lab_page.shot("FAILED"))
        except Exception as exc:  # the page itself may be what broke
            print("no failure screenshot:", exc)
        print("browser console:\n" + "\n".join(lab_page.console[-40:]))
        print("server log tail:\n" + lab_page.server.log_tail(3000))
    try:
        lab_page.close_all()
    except Exception as exc:
        print("could not close the notebooks:", exc)
        lab_page.load()   # start the next test from a clean page
