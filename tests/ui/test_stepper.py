"""The stepper widget: buttons move the step label and the source line, forward then backward."""
import re

from _cells import MLP_RECORDING

ROOT = ".jp-NotebookPanel .pellucid-stepper"

STEPPER_CELL = '''\
model, rec = record_mlp()
steps = []
for s in rec.latest.steps:
    text = linecache.getline(s.source[0], s.source[1]).strip() if s.source else ""
    steps.append({"phase": s.phase, "name": s.op if s.phase == "forward" else s.node, "text": text})
print("STEPS", json.dumps(steps))
first_bw = next(i for i, s in enumerate(steps) if s["phase"] == "backward")
g = rec.graph(cursor=first_bw)
arrived = [n["id"] for n in g["nodes"]
           if any(g["tensors"][t]["grad_arrived"] for t in (n.get("outputs") or [n.get("tensor")]) if t)]
print("GRAD_NODES", json.dumps(arrived))
sw = pellucid_widgets.Stepper(rec)
sw
'''


def _label(lab):
    return lab.page.locator(f"{ROOT} .pellucid-step-label").first.inner_text().strip()


def _source(lab):
    return lab.page.locator(f"{ROOT} .pellucid-source").first.inner_text().strip()


def _parse(label):
    m = re.search(r"step\s+(\d+)\s*/\s*(\d+)", label)
    assert m, f"unexpected step label {label!r}"
    return int(m.group(1)), int(m.group(2))


def _click(lab, action, before):
    lab.page.locator(f'{ROOT} button[data-action="{action}"]').first.click()
    return lab.wait_js("""([sel, before]) => {
        const el = document.querySelector(sel + ' .pellucid-step-label');
        return el && el.textContent.trim() !== before ? el.textContent.trim() : null; }""",
                       [ROOT, before], 20, f"the step label to change after {action!r}")


def test_stepper_buttons_move_through_forward_and_backward(lab):
    lab.open("stepper.ipynb", [MLP_RECORDING, STEPPER_CELL])
    lab.run_all()
    lab.wait_done()
    steps = lab.printed(1, "STEPS")
    grad_nodes = set(lab.printed(1, "GRAD_NODES"))
    n = len(steps)
    first_bw = next(i for i, s in enumerate(steps) if s["phase"] == "backward")
    lab.wait_js(f"() => !!document.querySelector('{ROOT} .pellucid-step-label')", what="the stepper")
    stepper = lab.page.locator(ROOT).first

    label = _label(lab)
    shown, total = _parse(label)
    assert total == n
    if shown not in (0, 1):                 # the stepper may open on the last step
        label = _click(lab, "first", label)
        shown, _ = _parse(label)
    base = shown                            # the label counts from 1 (or 0)
    assert base in (0, 1), f"the first step is labelled {shown}"
    lab.shot("first", stepper)

    def check(label, k):
        shown, total = _parse(label)
        assert (shown - base, total) == (k, n), f"label {label!r} is not step {k} of {n}"
        assert steps[k]["phase"] in label and steps[k]["name"] in label, (label, steps[k])
        if steps[k]["text"]:
            lab.wait_js("""([sel, text]) => {
                const el = document.querySelector(sel + ' .pellucid-source');
                return !!el && el.textContent.includes(text); }""", [ROOT, steps[k]["text"]], 10,
                        f"the source line {steps[k]['text']!r}")

    check(label, 0)
    # forward: next, next, then back with prev
    label = _click(lab, "next", label)
    check(label, 1)
    label = _click(lab, "next", label)
    check(label, 2)
    lab.shot("forward-step-2", stepper)
    label = _click(lab, "prev", label)
    check(label, 1)
    assert lab.js(f"() => document.querySelectorAll('{ROOT} .pellucid-graph svg g.node.pellucid-grad').length") == 0

    # on into the backward phase, one step at a time
    for k in range(2, first_bw + 1):
        label = _click(lab, "next", label)
        check(label, k)
    assert "backward" in label
    marked = lab.wait_js(f"""() => [...document.querySelectorAll('{ROOT} .pellucid-graph svg g.node.pellucid-grad')]
        .map(g => g.getAttribute('data-node-id'))""", what="a node marked as having its gradient")
    lab.shot("first-backward-step", stepper)
    drawn = set(lab.js(f"""() => [...document.querySelectorAll('{ROOT} .pellucid-graph svg g.node')]
        .map(g => g.getAttribute('data-node-id'))"""))
    assert set(marked) == grad_nodes & drawn, (marked, grad_nodes)

    # and backward again: prev returns to the last forward step
    label = _click(lab, "prev", label)
    check(label, first_bw - 1)
    label = _click(lab, "last", label)
    check(label, n - 1)
    lab.shot("last", stepper)
    label = _click(lab, "first", label)
    check(label, 0)
