"""Notebook cell sources shared by the browser tests."""

# A small MLP (nested: body.* is collapsed at depth 1) recorded over one forward and backward.
# Prints the recording's facts the tests compare the page with, one `KEY json` line each.
MLP_RECORDING = '''\
import json, linecache
import pellucid as torch
import pellucid.nn as nn
import pellucid.debug
import pellucid_widgets
torch.manual_seed(0)

class MLP(nn.Module):
    def __init__(self, hidden=8, layers=1):
        super().__init__()
        blocks = [nn.Linear(4, hidden), nn.ReLU()]
        for _ in range(layers):
            blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(hidden, 3)

    def forward(self, x):
        return self.head(self.body(x))

def record_mlp(layers=1):
    model = MLP(layers=layers)
    x = torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 1, 0])
    with pellucid.debug.record(model) as rec:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
    return model, rec
'''

# The node ids the graph view should draw at a collapse depth: nodes inside a collapsed module
# are drawn as one node (`mod:<path>`) per outermost collapsed module.
VISIBLE_NODES = '''\
def visible_nodes(graph, depth, expanded=()):
    collapsed = set()
    for c in graph["clusters"]:
        deep = depth >= 0 and c["depth"] > depth
        if c["path"] not in expanded and (c.get("collapsed") or deep):
            collapsed.add(c["path"])
    drawn = set()
    for n in graph["nodes"]:
        parts = n["module"].split(".") if n.get("module") else []
        outer = next((".".join(parts[:i]) for i in range(1, len(parts) + 1)
                      if ".".join(parts[:i]) in collapsed), None)
        drawn.add("mod:" + outer if outer is not None else n["id"])
    return sorted(drawn)
'''
