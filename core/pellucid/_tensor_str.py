"""Printing tensors exactly the way PyTorch does (same widths, modes, wrapping and suffixes)."""
import contextlib
import math

import numpy as np

from . import _backend
from . import _dtype as D

__all__ = ["set_printoptions", "get_printoptions", "printoptions"]

_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
PRINT_OPTS = dict(_DEFAULTS)
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """PyTorch's `set_printoptions`; `sci_mode` is reset to automatic unless given."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of "
                             f"{sorted(_PROFILES)}")
        PRINT_OPTS.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            PRINT_OPTS[key] = value
    PRINT_OPTS["sci_mode"] = sci_mode


def get_printoptions():
    return dict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses int/fixed/scientific mode and the column width from the (summarised) values."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        self.precision = PRINT_OPTS["precision"]
        flat = values.reshape(-1)
        if not floating:
            if flat.size:
                self.max_width = max(1, max(len(str(v)) for v in flat.tolist()))
            return
        flat = flat.astype(np.float64)
        nonzero = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero.size == 0:
            return
        mags = np.abs(nonzero)
        lo, hi = mags.min(), mags.max()
        self.int_mode = bool(np.all(nonzero == np.ceil(nonzero)))
        auto_sci = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        self.sci_mode = bool(auto_sci if PRINT_OPTS["sci_mode"] is None else PRINT_OPTS["sci_mode"])
        p = self.precision
        vals = nonzero.tolist()
        if self.sci_mode:
            width = max(len(f"{v:.{p}e}") for v in vals)
        elif self.int_mode:
            width = max(len(f"{v:.0f}") for v in vals) + 1
        else:
            width = max(len(f"{v:.{p}f}") for v in vals)
        self.max_width = max(self.max_width, width)

    def format(self, value):
        if self.floating:
            if self.sci_mode:
                s = f"{value:{self.max_width}.{self.precision}e}"
            elif self.int_mode:
                s = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    s += "."
            else:
                s = f"{value:.{self.precision}f}"
        else:
            s = f"{value}"
        return s.rjust(self.max_width)


def _summarized(a, edge):
    """The elements PyTorch shows (and sizes its columns from) when it summarises; taken where
    the data lives, so only they travel to the host."""
    if a.ndim == 0:
        return a
    if a.ndim >= 2 and not edge:
        return a[(slice(0, 0),) * a.ndim]
    xp = _backend.xp_of(a)
    index = []
    for n in a.shape:
        if n > 2 * edge:
            # `a[-0:]` is the whole axis, so edgeitems=0 keeps it all (as in PyTorch)
            index.append(xp.concatenate([xp.arange(edge), xp.arange(n)[-edge:]]))
        else:
            index.append(xp.arange(n))
    return a[xp.ix_(*index)]


def _layout(strings, cut, indent, fmt_width, edge):
    """Nest pre-formatted element strings into PyTorch's bracketed, wrapped layout."""
    ndim = strings.ndim
    if ndim == 1:
        data = strings.tolist()
        if cut[0]:
            data = ["..."] if not edge else data[:edge] + [" ..."] + data[edge:]
        per_line = max(1, math.floor((PRINT_OPTS["linewidth"] - indent) / (fmt_width + 2)))
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if cut[0] and not edge:
        return "[...]"
    slices = [_layout(strings[i], cut[1:], indent + 1, fmt_width, edge) for i in range(strings.shape[0])]
    if cut[0]:
        slices = slices[:edge] + ["..."] + slices[edge:]
    return "[" + ("," + "\n" * (ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(data, indent):
    """The bracketed body of a non-empty array (NumPy or CuPy)."""
    floating = data.dtype.kind in D.FLOAT_KINDS
    summarize = data.size > PRINT_OPTS["threshold"]
    edge = PRINT_OPTS["edgeitems"]
    shown = _backend.to_numpy(_summarized(data, edge) if summarize else data)
    fmt = _Formatter(shown, floating)
    if data.ndim == 0:
        return fmt.format(shown.item())
    if summarize and not edge:
        return "[...]"
    flat = np.array([fmt.format(v) for v in _flatten(shown.tolist(), shown.ndim)], dtype=object)
    cut = [summarize and n > 2 * edge for n in data.shape]
    return _layout(flat.reshape(shown.shape), cut, indent, fmt.max_width, edge)


def _flatten(nested, ndim):
    for _ in range(ndim - 1):
        nested = [x for row in nested for x in row]
    return nested


# Suffixes wrap where PyTorch's do: its "torch." names are shorter than "pellucid.", so they
# are measured as PyTorch would print them.
_NAME_EXTRA = len("pellucid.") - len("torch.")


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        width = len(suffix) - _NAME_EXTRA * suffix.count("pellucid.")
        if last_line_len + width + 2 > PRINT_OPTS["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + width
        else:
            parts.append(", " + suffix)
            last_line_len += width + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t, tensor_contents=None):
    from ._tensor import Tensor
    cls = type(t)
    prefix = "tensor(" if cls is Tensor or cls.__name__ == "Parameter" else f"{cls.__name__}("
    indent = len(prefix)
    a = t._data
    dt = D.from_numpy_dtype(a.dtype)
    default = D.get_default_dtype()
    suffixes = []
    dev = _backend.device_of(t._data)
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if dt is not default:
            suffixes.append(f"dtype={dt}")
        body = "[]"
    else:
        if not PRINT_OPTS["edgeitems"]:
            suffixes.append(f"size={tuple(a.shape)}")
        if dt not in (default, D.int64, D.bool_):
            suffixes.append(f"dtype={dt}")
        body = _tensor_str(a, indent) if tensor_contents is None else tensor_contents
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
