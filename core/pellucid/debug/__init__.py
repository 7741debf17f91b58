"""`pellucid.debug`: see inside a computation. Record every op (forward and backward), step through
the recording in both directions with breakpoints, pause a live run, trip on NaN/Inf at the op and
source line that produced it, check gradient health, and export the graph (JSON, DOT, SVG).

Nothing here imports Jupyter: the notebook widgets and the JupyterLab extension render what this
package produces, and plain scripts use it directly."""
from .recorder import record, Recorder, Step, TensorInfo, Iteration  # noqa: F401
from .stepper import Stepper, GraphState  # noqa: F401
from .breakpoints import (Breakpoint, on_op, on_module, on_tensor, on_predicate, on_nan,  # noqa: F401
                          on_grad_norm)
from .live import LiveSession, StopRequested, live  # noqa: F401
from .health import gradient_health, GradientHealth  # noqa: F401
from .graph import build_graph, graph_to_json, SCHEMA, VERSION, MIME_TYPE  # noqa: F401
from .summary import summarize  # noqa: F401
from .dot import to_dot, to_svg, render  # noqa: F401
