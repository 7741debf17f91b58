"""GradientView: gradient health of a recording (per-parameter gradient norms over iterations,
vanishing / exploding / no-grad flags, dead ReLU shares, histograms of the latest gradients)."""
import ipywidgets as widgets
from traitlets import Dict, Unicode

from ._common import MODULE_NAME, MODULE_VERSION, jsonable, recorder_of, thin_pairs

MAX_NORM_POINTS = 2000          # per parameter; older iterations are thinned for display


def gradient_payload(recorder, max_points=MAX_NORM_POINTS, **thresholds):
    """norms, flags, dead_relu, hist, latest and thresholds (JSON-ready) from `recorder.health()`;
    shared by GradientView and the side panel."""
    with recorder._lock:
        h = recorder.health(**thresholds)
        it = recorder.latest
        hist = {}
        for name in h.params:
            info = it.tensors.get("param:" + name) if it is not None else None
            gs = info.grad_summary if info is not None else None
            if gs and gs.get("hist"):
                hist[name] = gs["hist"]
        return jsonable({
            "norms": {name: thin_pairs(p["norms"], max_points) for name, p in h.params.items()},
            "flags": {name: p["flag"] for name, p in h.params.items()},
            "latest": {name: p["latest"] for name, p in h.params.items()},
            "dead_relu": h.dead_relu,
            "hist": hist,
            "thresholds": h.thresholds,
        })


class GradientView(widgets.DOMWidget):
    """Gradient health of `recording` (a Recorder or LiveSession); `update()` refreshes it.
    Threshold keywords (vanishing_below=, exploding_above=, relative=) go to `health()`."""
    _model_name = Unicode("GradientModel").tag(sync=True)
    _view_name = Unicode("GradientView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    norms = Dict().tag(sync=True)
    flags = Dict().tag(sync=True)
    dead_relu = Dict().tag(sync=True)
    hist = Dict().tag(sync=True)
    latest = Dict().tag(sync=True)
    thresholds = Dict().tag(sync=True)

    def __init__(self, recording, max_points=MAX_NORM_POINTS, vanishing_below=1e-7, exploding_above=1e3,
                 relative=True, **kwargs):
        super().__init__(**kwargs)
        self._recorder = recorder_of(recording)
        self._max_points = max_points
        self._thresholds = {"vanishing_below": vanishing_below, "exploding_above": exploding_above,
                            "relative": relative}
        self.update()

    def update(self, recording=None):
        """Recompute from `recording` (default: the one shown)."""
        if recording is not None:
            self._recorder = recorder_of(recording)
        rec = self._recorder
        if rec.latest is None:
            return self
        data = gradient_payload(rec, self._max_points, **self._thresholds)
        with self.hold_sync():
            for name in ("norms", "flags", "dead_relu", "hist", "latest", "thresholds"):
                setattr(self, name, data[name])
        return self

    def report(self):
        """The text report of pellucid.debug's GradientHealth."""
        return self._recorder.health(**self._thresholds).report()
