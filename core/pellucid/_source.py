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


def source_label(filename):
    """A short name for a source file: "In[3]" for a notebook cell (IPython compiles each cell to a
    temporary file whose name means nothing to the reader), otherwise the file's base name."""
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is not None:
        try:
            shell = ipython_mod.get_ipython()
            count = shell.compile._filename_map.get(filename) if shell is not None else None
        except AttributeError:          # an IPython without the cell-name map
            count = None
        if count is not None:
            return f"In[{count}]"
    return os.path.basename(filename)


def describe_location(src):
    """(file, line, function) as a reader finds it: "cell In[3], line 5" or "path/to/file.py:5"."""
    if not src:
        return "<unknown source>"
    label = source_label(src[0])
    return f"cell {label}, line {src[1]}" if label.startswith("In[") else f"{src[0]}:{src[1]}"
