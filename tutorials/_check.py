"""Check cells for the tutorials.

    from _check import check
    check("broadcasting", got, expected, hint="Line the shapes up from the right.")

prints "✓ broadcasting: correct" or "✗ broadcasting: <what differs>" followed by the hint.
Tensors must match in shape, dtype and device, and in value (to a small tolerance for floats);
lists, tuples and dicts are compared item by item; anything else with ==.
"""
import math

import numpy as np

import pellucid

__all__ = ["check"]


def _difference(got, expected, rtol, atol, where=""):
    """A sentence saying how `got` differs from `expected`, or None when they match."""
    at = f"{where}: " if where else ""
    if isinstance(expected, pellucid.Tensor):
        if not isinstance(got, pellucid.Tensor):
            return f"{at}expected a tensor, got {type(got).__name__} {got!r}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"{at}shape is {list(got.shape)}, expected {list(expected.shape)}"
        if got.dtype != expected.dtype:
            return f"{at}dtype is {got.dtype}, expected {expected.dtype}"
        if got.device != expected.device:
            return f"{at}device is {got.device}, expected {expected.device}"
        a = got.detach().cpu().numpy()
        b = expected.detach().cpu().numpy()
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            wrong = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            first = tuple(int(i) for i in np.argwhere(wrong)[0])
            return (f"{at}{int(wrong.sum())} of {a.size} values differ; first at index {list(first)}: "
                    f"got {a[first]}, expected {b[first]}")
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{at}expected a dict, got {type(got).__name__}"
        if set(got) != set(expected):
            missing, extra = set(expected) - set(got), set(got) - set(expected)
            parts = ([f"missing keys {sorted(map(str, missing))}"] if missing else []) + \
                    ([f"unexpected keys {sorted(map(str, extra))}"] if extra else [])
            return at + ", ".join(parts)
        for key in expected:
            diff = _difference(got[key], expected[key], rtol, atol, f"{where}[{key!r}]")
            if diff:
                return diff
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"{at}expected a sequence of {len(expected)} items, got {type(got).__name__} {got!r}"
        if len(got) != len(expected):
            return f"{at}{len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            diff = _difference(g, e, rtol, atol, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return None
        return f"{at}got {got!r}, expected {expected!r}"
    if type(got) is not type(expected) and isinstance(got, pellucid.Tensor):
        return f"{at}expected {type(expected).__name__} {expected!r}, got a tensor (try .item())"
    try:
        same = bool(got == expected)
    except (TypeError, ValueError, RuntimeError):    # e.g. an array compared with a number
        same = False
    return None if same else f"{at}got {got!r}, expected {expected!r}"


def check(name, got, expected, hint="", rtol=1e-5, atol=1e-6):
    """Print whether `got` matches `expected` for the exercise `name`, and a hint if it doesn't."""
    diff = _difference(got, expected, rtol, atol)
    if diff is None:
        print(f"✓ {name}: correct")
        return
    print(f"✗ {name}: {diff}")
    if hint:
        print(f"  hint: {hint}")
