"""Printing tensors the way PyTorch does."""
import numpy as np

from . import _backend
from . import _dtype as D

PRINT_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    if profile == "default":
        PRINT_OPTS.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        PRINT_OPTS.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        PRINT_OPTS.update(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                     linewidth=linewidth).items():
        if v is not None:
            PRINT_OPTS[k] = v
    PRINT_OPTS["sci_mode"] = sci_mode


class _Formatter:
    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        prec = PRINT_OPTS["precision"]
        if not floating:
            for v in values.reshape(-1):
                self.max_width = max(self.max_width, len(str(v)))
            return
        finite = values[np.isfinite(values)]
        nonzero = np.abs(finite[finite != 0]).astype(np.float64)
        if finite.size == 0 or nonzero.size == 0:
            for v in values.reshape(-1):
                self.max_width = max(self.max_width, len(self._plain(v)))
            return
        if np.all(finite == np.ceil(finite)):
            self.int_mode = True
            if nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8:
                self.sci_mode = True
                self.int_mode = False
        else:
            self.int_mode = False
            if nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8 or nonzero.min() < 1e-4:
                self.sci_mode = True
        if PRINT_OPTS["sci_mode"] is not None:
            self.sci_mode = PRINT_OPTS["sci_mode"]
        self.prec = prec
        for v in values.reshape(-1):
            self.max_width = max(self.max_width, len(self._fmt(v)))

    def _plain(self, v):
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return "0."

    def _fmt(self, v):
        if not self.floating:
            return str(v)
        prec = PRINT_OPTS["precision"]
        if not np.isfinite(v):
            return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        if self.sci_mode:
            return f"{float(v):.{prec}e}"
        if self.int_mode:
            s = f"{float(v):.0f}"
            return s + "."
        return f"{float(v):.{prec}f}"

    def format(self, v):
        return self._fmt(v).rjust(self.max_width)


def _summarize(a, edge):
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * edge:
        parts = [a[:edge], a[-edge:]]
        return np.concatenate([_summarize(p, edge) for p in parts])
    return np.stack([_summarize(x, edge) for x in a]) if a.ndim > 1 else a


def _tensor_str(a, indent, fmt, summarize):
    edge = PRINT_OPTS["edgeitems"]
    if a.ndim == 0:
        return fmt.format(a.item() if hasattr(a, "item") else a)
    if a.ndim == 1:
        items = [fmt.format(v) for v in a]
        if summarize and a.shape[0] > 2 * edge:
            items = [fmt.format(v) for v in a[:edge]] + ["..."] + [fmt.format(v) for v in a[-edge:]]
        width = fmt.max_width + 2
        per_line = max(1, (PRINT_OPTS["linewidth"] - indent) // width)
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 2 * edge:
        rows = ([_tensor_str(a[i], indent + 1, fmt, summarize) for i in range(edge)] + ["..."]
                + [_tensor_str(a[i], indent + 1, fmt, summarize) for i in range(a.shape[0] - edge, a.shape[0])])
    else:
        rows = [_tensor_str(a[i], indent + 1, fmt, summarize) for i in range(a.shape[0])]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t, prefix="tensor("):
    a = _backend.to_numpy(t._data)
    dt = D.from_numpy_dtype(a.dtype)
    floating = dt.is_floating_point
    summarize = a.size > PRINT_OPTS["threshold"]
    vals = _summarize(a, PRINT_OPTS["edgeitems"]) if summarize else a
    if a.dtype == np.bool_:
        fmt = _Formatter(np.array(["False" if not v else "True" for v in vals.reshape(-1)]), False)
        body = _tensor_str(np.where(vals, "True", "False") if vals.ndim else np.array("True" if vals else "False"),
                           len(prefix), fmt, summarize)
    elif a.size == 0:
        body = "[]"
    else:
        fmt = _Formatter(vals.astype(np.float64) if floating else vals, floating)
        body = _tensor_str(a, len(prefix), fmt, summarize)
    suffixes = []
    if a.size == 0 and a.shape != (0,):
        suffixes.append(f"size={tuple(a.shape)}")
    dev = _backend.device_of(t._data)
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    default = {D.get_default_dtype(), D.int64, D.bool_}
    if dt not in default or (a.size == 0 and dt is not D.get_default_dtype()):
        suffixes.append(f"dtype={dt}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    s = prefix + body
    for suf in suffixes:
        s += ", " + suf
    return s + ")"
