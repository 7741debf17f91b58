"""pellucid's notebook views. They only draw what `pellucid.debug` records:

- GraphWidget(recording): the recorded graph, module clusters, node inspector.
- Stepper(recording | LiveSession): op-by-op stepping, forward and backward, or a live run
  paused at breakpoints.
- GradientView(recording): per-parameter gradient norms and vanishing/exploding flags.
- LivePlot / TrainingDashboard: live training curves (Bokeh) with Pause / Stop.
- show(obj, path=None): the right view in a notebook, SVG/DOT/JSON/HTML files in a script.

Importing this inside a Jupyter kernel also starts the side panel's feed (`panel.enable()`).
Names load on first use, so scripts that only write files need neither ipywidgets nor a kernel.
"""
import importlib

__version__ = "0.1.0"

_LAZY = {
    "GraphWidget": ".graph_widget",
    "Stepper": ".stepper",
    "GradientView": ".gradients",
    "LivePlot": ".liveplot",
    "TrainingDashboard": ".liveplot",
    "StopTraining": ".liveplot",
    "BackgroundRun": ".liveplot",
    "show": ".script",
    "panel": ".panel",
}

__all__ = ["GraphWidget", "Stepper", "GradientView", "LivePlot", "TrainingDashboard", "StopTraining",
           "BackgroundRun", "show", "panel"]


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'pellucid_widgets' has no attribute {name!r}")
    m = importlib.import_module(mod, __name__)
    value = m if name == "panel" else getattr(m, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "pellucid-jupyterlab"}]


def _enable_panel():
    from ._common import in_kernel
    if in_kernel():
        from . import panel as _panel
        try:
            _panel.enable()
        except Exception:  # the panel feed is a convenience: importing must still work
            import logging
            logging.getLogger(__name__).exception("pellucid: could not start the side panel feed")


_enable_panel()
