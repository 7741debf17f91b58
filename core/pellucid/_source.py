"""Finding the user's source line: the first frame outside the pellucid package."""
import os
import sys

_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frame(skip_prefixes=()):
    """(filename, lineno, function) of the innermost frame not inside pellucid, or None."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG) and not any(fn.startswith(p) for p in skip_prefixes):
            return (fn, f.f_lineno, f.f_code.co_name)
        f = f.f_back
    return None
