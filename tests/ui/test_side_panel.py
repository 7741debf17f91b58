"""The side panel shows the latest recording after each cell, also after a kernel restart."""

PANEL = "#pellucid-panel"

SIZE_CELL = "N_OPS = 3\n"

RECORD_CELL = '''\
import json
import pellucid as torch
import pellucid.debug
import pellucid_widgets
x = torch.randn(4, requires_grad=True)
with pellucid.debug.record() as rec:
    y = x
    for _ in range(N_OPS):
        y = y * 1.5
    y.sum().backward()
print("NODES", json.dumps(sorted(n["id"] for n in rec.graph()["nodes"])))
'''


def _panel_nodes(lab):
    return sorted(lab.js(f"""() => [...document.querySelectorAll('{PANEL} .pellucid-graph svg g.node')]
        .map(g => g.getAttribute('data-node-id'))"""))


def _wait_panel_nodes(lab, ids, what):
    lab.wait_js(f"""(ids) => {{
        const got = [...document.querySelectorAll('{PANEL} .pellucid-graph svg g.node')]
            .map(g => g.getAttribute('data-node-id')).sort();
        return JSON.stringify(got) === JSON.stringify(ids); }}""", sorted(ids), 60, what)


def test_side_panel_follows_recordings_across_a_restart(lab):
    lab.open("panel.ipynb", [SIZE_CELL, RECORD_CELL])
    lab.js("() => { window.jupyterapp.shell.activateById('pellucid-panel'); }")
    panel = lab.page.locator(PANEL)
    try:
        lab.wait_js(f"""() => {{ const p = document.querySelector('{PANEL}');
            return !!p && p.classList.contains('pellucid-panel') && p.offsetWidth > 0; }}""",
                    what="the side panel to show")
        lab.wait_js(f"() => document.querySelector('{PANEL}').textContent.includes('No recording yet')",
                    what="the empty panel's message")
        lab.shot("empty", panel)

        lab.run_all()
        lab.wait_done()
        first = lab.printed(1, "NODES")
        _wait_panel_nodes(lab, first, "the panel to draw the first recording")
        assert sum(i.startswith("op") for i in first) == 3 + 1     # the muls and the sum
        lab.shot("after-run", panel)

        lab.restart_kernel()
        # a bigger graph this time, so the panel can only show it if the new kernel reached it
        lab.js("""(p) => {
            const nb = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === p);
            nb.content.widgets[0].model.sharedModel.setSource('N_OPS = 5\\n'); }""", lab.path)
        lab.run_all()
        lab.wait_done()
        second = lab.printed(1, "NODES")
        assert sum(i.startswith("op") for i in second) == 5 + 1
        _wait_panel_nodes(lab, second, "the panel to draw the recording made after the restart")
        lab.shot("after-restart-run", panel)
        assert _panel_nodes(lab) == sorted(second)
    finally:
        lab.js("() => { window.jupyterapp.shell.collapseLeft(); }")
