"""`pellucid.jit`: tracing a model into a static program of pellucid ops, and saving it.

    traced = pellucid.jit.trace(model.eval(), example)   # runs the model once, records its ops
    print(traced.graph)                                   # %3 : Float(64, 128) = linear(%x, ...)
    traced.save("model.ptl")                              # program JSON + .npy tensors in a ZIP
    same = pellucid.jit.load("model.ptl")                 # no Python class needed, no code run

A traced program replays its ops through the dispatch point, so it runs on the inputs' device,
under `pellucid.debug.record`, and with autograd. It is specialised to the example's shapes.
"""
from ._tracer import TracerWarning
from ._module import trace, TracedModule, Graph
from ._serialize import save, load, FORMAT, VERSION

ScriptModule = TracedModule

__all__ = ["trace", "TracedModule", "ScriptModule", "Graph", "TracerWarning", "save", "load", "FORMAT",
           "VERSION", "is_tracing"]


def is_tracing():
    """True while `jit.trace` is running the model on this thread."""
    from ._tracer import _active
    return _active() is not None
