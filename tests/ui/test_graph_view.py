"""The graph widget in JupyterLab: layout, inspector, theme, untrusted names, a large graph."""
import json
import math
import re

from _cells import MLP_RECORDING, VISIBLE_NODES

NB_GRAPH = ".jp-NotebookPanel .pellucid-graph"

GRAPH_CELL = '''\
model, rec = record_mlp()
w = pellucid_widgets.GraphWidget(rec)
print("EXPECTED_NODES", json.dumps(visible_nodes(w.graph, w.depth, w.expanded)))
W = model.head.weight
print("HEAD_WEIGHT", json.dumps({"mean": W.mean().item(), "norm": W.norm().item(),
                                 "shape": list(W.shape)}))
w
'''

_NUMBER = re.compile(r"[-\u2212]?\d+(?:\.\d+)?(?:e[-+\u2212]?\d+)?", re.I)


def _numbers(text):
    return [float(m.replace("\u2212", "-")) for m in _NUMBER.findall(text)]


def _shows_number(text, value):
    """Whether a number printed in `text` rounds to `value` (to 3 significant digits)."""
    return any(math.isclose(v, value, rel_tol=5e-3, abs_tol=5e-4) for v in _numbers(text))


def _drawn_ids(lab, root=NB_GRAPH):
    return lab.js("""(sel) => [...document.querySelectorAll(sel + ' svg g.node')]
        .map(g => g.getAttribute('data-node-id'))""", root)


def _wait_nodes(lab, count, root=NB_GRAPH, timeout=60):
    return lab.wait_js("""([sel, n]) => {
        const c = document.querySelectorAll(sel + ' svg g.node').length;
        return c === n ? c : 0; }""", [root, count], timeout, f"{count} drawn nodes in {root}")


def _wait_node(lab, node_id, root=NB_GRAPH, timeout=60):
    lab.wait_js("""([sel, id]) => [...document.querySelectorAll(sel + ' svg g.node')]
        .some(g => g.getAttribute('data-node-id') === id)""", [root, node_id], timeout, f"node {node_id!r}")


def _open_graph_notebook(lab, name):
    lab.open(name, [MLP_RECORDING, VISIBLE_NODES, GRAPH_CELL])
    lab.run_all()
    lab.wait_done()
    expected = lab.printed(2, "EXPECTED_NODES")
    _wait_nodes(lab, len(expected))
    return expected


def test_graph_renders_nodes_and_inspector_shows_summaries(lab):
    expected = _open_graph_notebook(lab, "graph.ipynb")
    head_w = lab.printed(2, "HEAD_WEIGHT")
    graph = lab.page.locator(NB_GRAPH).first
    lab.shot("graph", graph)

    drawn = _drawn_ids(lab)
    assert len(drawn) == len(expected)
    # each node outside a collapsed module under its own id, each collapsed module as `mod:<path>`
    assert sorted(drawn) == expected

    node = lab.page.locator(f'{NB_GRAPH} svg g.node[data-node-id="param:head.weight"]')
    node.click()
    inspector = lab.page.locator(".jp-NotebookPanel .pellucid-inspector").first
    lab.wait_js("""() => {
        const el = document.querySelector('.jp-NotebookPanel .pellucid-inspector');
        return !!el && el.textContent.includes('head.weight') && /float32/.test(el.textContent); }""",
                what="the inspector to show head.weight")
    lab.wait_js("() => !!document.querySelector('.jp-NotebookPanel .pellucid-inspector svg.pellucid-hist')",
                what="the inspector's histogram")
    text = inspector.inner_text()
    lab.shot("inspector", inspector)
    assert re.search(r"3\D{1,3}8", text), f"shape [3, 8] not shown: {text!r}"
    assert "cpu" in text
    assert _shows_number(text, head_w["mean"]), f"mean {head_w['mean']} not shown: {text!r}"
    assert _shows_number(text, head_w["norm"]), f"norm {head_w['norm']} not shown: {text!r}"


# ---- theme -------------------------------------------------------------------------------------
_COLOURS = """(sel) => {
    const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number);
    const root = document.querySelector(sel);
    let el = root, bg = null;
    while (el) {                      // the colour shown behind the view: first opaque ancestor
        const c = rgba(getComputedStyle(el).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) { bg = c.slice(0, 3); break; }
        el = el.parentElement;
    }
    const label = root.querySelector('svg g.node text');
    return {background: bg, text: rgba(getComputedStyle(root).color).slice(0, 3),
            label: label ? rgba(getComputedStyle(label).fill).slice(0, 3) : null};
}"""


def _luminance(rgb):
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def test_dark_theme_applies_to_the_graph_view(lab):
    _open_graph_notebook(lab, "theme.ipynb")
    graph = lab.page.locator(NB_GRAPH).first
    light = lab.js(_COLOURS, NB_GRAPH)
    lab.shot("light", graph)
    try:
        lab.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
        lab.wait_js("() => document.body.dataset.jpThemeLight === 'false'", what="the dark theme")
        lab.wait_js(f"""() => {{ const c = ({_COLOURS})('{NB_GRAPH}');
            return JSON.stringify(c.background) !== '{json.dumps(light["background"], separators=(",", ":"))}'; }}""",
                    what="the graph view's background to change")
        lab.page.wait_for_timeout(300)      # let the theme's transitions settle before the picture
        dark = lab.js(_COLOURS, NB_GRAPH)
        lab.shot("dark", graph)
    finally:
        lab.command("apputils:change-theme", {"theme": "JupyterLab Light"})
        lab.wait_js("() => document.body.dataset.jpThemeLight === 'true'", what="the light theme again")
    assert _luminance(light["background"]) > 0.7 and _luminance(dark["background"]) < 0.3, (light, dark)
    assert _luminance(light["text"]) < 0.4 and _luminance(dark["text"]) > 0.6, (light, dark)
    # node labels follow the theme too (black labels on a dark background would be unreadable)
    assert light["label"] and dark["label"], (light, dark)
    assert abs(_luminance(dark["label"]) - _luminance(dark["background"])) > 0.4, dark


# ---- untrusted names ---------------------------------------------------------------------------
XSS_NAMES = ("<img src=x onerror=alert(1)>", "<img src=y onerror=__pwned=true>")

XSS_CELL = '''\
import json
import pellucid as torch
import pellucid.nn as nn
import pellucid.debug
import pellucid_widgets
NAMES = {names!r}
model = nn.Sequential()
model.add_module(NAMES[0], nn.Linear(2, 2))
model.add_module(NAMES[1], nn.ReLU())
with pellucid.debug.record(model) as rec:
    model(torch.randn(3, 2)).sum().backward()
print("CLUSTERS", json.dumps([c["path"] for c in rec.graph()["clusters"]]))
w = pellucid_widgets.GraphWidget(rec, depth=-1)
w
'''.format(names=XSS_NAMES)


def _no_injection(lab):
    found = lab.js("""() => ({
        pwned: window.__pwned,
        imgs: [...document.querySelectorAll('.pellucid-graph img, .pellucid-inspector img')].map(i => i.outerHTML),
        injected: [...document.querySelectorAll('img[src="x"], img[src="y"]')].length })""")
    assert found == {"pwned": False, "imgs": [], "injected": 0}, found


def test_module_names_are_shown_as_text_and_never_run(lab):
    lab.js("""() => { window.__pwned = false;
        window.__pellucidAlert = window.alert;
        window.alert = () => { window.__pwned = true; }; }""")
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()
    lab.page.on("dialog", on_dialog)
    try:
        lab.open("xss.ipynb", [XSS_CELL, "w.depth = 0\n"])
        lab.run_cell(0)
        lab.wait_done(cells=[0])
        assert lab.printed(0, "CLUSTERS") == list(XSS_NAMES)
        graph = lab.page.locator(NB_GRAPH).first
        weight = f"param:{XSS_NAMES[0]}.weight"
        _wait_node(lab, weight)
        lab.page.wait_for_timeout(500)          # an injected image's onerror would have fired by now
        lab.shot("clusters", graph)
        _no_injection(lab)
        for name in XSS_NAMES:                  # the module clusters' labels
            assert graph.get_by_text(name, exact=True).first.is_visible(), f"{name!r} is not shown as text"

        # the layer's weight shows its name in the inspector, as text too
        lab.page.locator(f'{NB_GRAPH} svg g.node[data-node-id="{weight}"]').first.click()
        lab.wait_js("""(name) => { const el = document.querySelector('.jp-NotebookPanel .pellucid-inspector');
            return !!el && el.textContent.includes(name); }""", XSS_NAMES[0], what="the inspector")
        lab.shot("inspector", lab.page.locator(".jp-NotebookPanel .pellucid-inspector").first)
        _no_injection(lab)

        # collapsed: each module is one node labelled with its name
        lab.run_cell(1)
        lab.wait_done()
        lab.wait_js(f"() => !document.querySelector('{NB_GRAPH} svg g.node[data-node-id^=\"param:\"]')",
                    what="the modules to collapse")
        lab.page.wait_for_timeout(500)
        lab.shot("collapsed", graph)
        _no_injection(lab)
        for name in XSS_NAMES:
            assert graph.locator("svg g.node").get_by_text(name, exact=True).first.is_visible(), \
                f"{name!r} is not shown as a collapsed module's label"
        assert dialogs == []
    finally:
        lab.js("() => { if (window.__pellucidAlert) window.alert = window.__pellucidAlert; }")
        lab.page.remove_listener("dialog", on_dialog)


# ---- a large graph -----------------------------------------------------------------------------
BIG_CELLS = [
    '''\
import json, time
import pellucid as torch
import pellucid.debug
import pellucid_widgets
with pellucid.debug.record(values="structure") as small:
    (torch.randn(3) * 2).sum()
w = pellucid_widgets.GraphWidget(small)
w
''',
    '''\
with pellucid.debug.record(values="structure") as big:
    h = torch.randn(3)
    for _ in range(999):
        h = h * 1.001 + 0.001
big_graph = json.loads(big.to_json())
print("BIG_NODES", len(big_graph["nodes"]))
''',
    '''\
print("T_SET", time.time() * 1000)
w.graph = big_graph
''',
]


def test_large_graph_render_time(lab):
    # watch for the big SVG from the page itself, so the time does not include polling
    lab.js(f"""() => {{
        window.__bigShownAt = null;
        const t = setInterval(() => {{
            if (document.querySelectorAll('{NB_GRAPH} svg g.node').length >= 2000) {{
                window.__bigShownAt = Date.now(); clearInterval(t); }}
        }}, 10);
        window.__bigTimer = t; }}""")
    try:
        lab.open("big.ipynb", BIG_CELLS)
        lab.run_all()
        lab.wait_done()
        n = lab.printed(1, "BIG_NODES")
        assert n == 2000
        shown_at = lab.wait_js("() => window.__bigShownAt", timeout=180, what="the 2,000-node SVG")
        set_at = lab.printed(2, "T_SET")
        assert lab.js(f"() => document.querySelectorAll('{NB_GRAPH} svg g.node').length") == n
        print(f"2,000-node graph: {shown_at - set_at:.0f} ms from setting the trait to the SVG")
        lab.shot("2000-nodes", lab.page.locator(NB_GRAPH).first)
    finally:
        lab.js("() => clearInterval(window.__bigTimer)")
