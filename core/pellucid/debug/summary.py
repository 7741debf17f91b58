"""Cheap value summaries of arrays: min, max, mean, std, norm, NaN/Inf counts and a small
histogram. Exact for small arrays; for large ones the moments and histogram come from a fixed
strided sample (min/max and NaN/Inf counts stay exact), which keeps recording cheap."""
import math

import numpy as np

from .._dtype import BF16, FLOAT_KINDS

HIST_BINS = 16
EXACT_LIMIT = 1 << 16


def _to_host(a):
    return a if type(a) is np.ndarray else a.get()


def summarize(arr, bins=HIST_BINS, exact_limit=EXACT_LIMIT):
    """A JSON-ready dict describing `arr` (a NumPy or CuPy array)."""
    a = _to_host(arr)
    n = int(a.size)
    out = {"count": n}
    if a.dtype is BF16:
        a = a.astype(np.float32)        # summarised through float32
    if n == 0 or a.dtype.kind not in "fiub":
        return out
    if a.dtype.kind == "b":
        t = int(np.count_nonzero(a))
        out.update(min=float(t == n), max=float(t > 0), mean=t / n, true=t)
        return out
    flat = a.reshape(-1)
    if a.dtype.kind != "f":
        flat = flat.astype(np.float64)
    elif flat.dtype != np.float64 and flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    total = float(flat.sum(dtype=np.float64))
    if not math.isfinite(total):
        # rare: count NaN/Inf exactly and summarise the finite part
        finite = np.isfinite(flat)
        nfin = int(np.count_nonzero(finite))
        nan = int(np.count_nonzero(np.isnan(flat)))
        if nan:
            out["nan"] = nan
        if n - nfin - nan:
            out["inf"] = n - nfin - nan
        flat = flat[finite]
        if flat.size == 0:
            return out
        total = float(flat.sum(dtype=np.float64))
    m = flat.size
    lo = float(flat.min())
    hi = float(flat.max())
    mean = total / m
    sq = float(np.dot(flat, flat)) if flat.dtype.kind == "f" else float((flat * flat).sum())
    out["min"] = lo
    out["max"] = hi
    out["mean"] = mean
    out["std"] = math.sqrt(max(sq / m - mean * mean, 0.0))
    out["norm"] = math.sqrt(sq)
    sample = flat if m <= exact_limit else flat[:: int(math.ceil(m / exact_limit))]
    if m != sample.size:
        out["sampled"] = int(sample.size)
    if hi > lo:
        # float64: with a subnormal range (vanishing gradients) bins / (hi - lo) overflows float32
        idx = ((sample.astype(np.float64, copy=False) - lo) * (bins / (hi - lo))).astype(np.intp)
        np.minimum(idx, bins - 1, out=idx)
        out["hist"] = {"counts": np.bincount(idx, minlength=bins).tolist(), "lo": lo, "hi": hi}
    else:
        out["hist"] = {"counts": [int(sample.size)], "lo": lo, "hi": hi}
    return out


def nonfinite_count(arr):
    """Number of NaN/Inf entries (0 for non-float arrays)."""
    if arr is None or getattr(arr, "dtype", None) is None or arr.dtype.kind not in FLOAT_KINDS:
        return 0
    xp = np if type(arr) is np.ndarray else __import__("cupy")
    if arr.size < 4096:
        return int(arr.size - int(xp.isfinite(arr).sum()))
    # one reduction first: a sum is finite exactly when no NaN/Inf is present (overflow aside)
    if bool(xp.isfinite(arr.sum(dtype=np.float64))):
        return 0
    return int(arr.size - int(xp.isfinite(arr).sum()))


def describe(s):
    """One line for messages, from a summary dict."""
    parts = [f"count={s.get('count', 0)}"]
    for k in ("min", "max", "mean", "std"):
        if k in s:
            parts.append(f"{k}={s[k]:.4g}")
    for k in ("nan", "inf"):
        if s.get(k):
            parts.append(f"{k}={s[k]}")
    return " ".join(parts)
