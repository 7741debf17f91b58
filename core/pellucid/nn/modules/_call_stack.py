"""Which module is running right now, as a qualified name (`"features.0.conv"`).

Module.__call__ pushes the callee here and pops it on return, so anything that watches ops
(the recorder) can ask `current_module_path()` where an op came from. Kept free of pellucid
imports; it only relies on two duck-typed module methods: `_pellucid_names()` (descendant
id -> relative name) and the `_pellucid_path` attribute it writes.
"""
import threading

# Bumped whenever any module's children change, so cached name maps know they are stale.
structure_version = [0]


class _State(threading.local):
    def __init__(self):
        self.stack = []     # [(module, path)]


_state = _State()


def bump():
    structure_version[0] += 1


def _resolve(module, stack):
    """The qualified name of `module`, looked up in the modules currently running."""
    for i in range(len(stack) - 1, -1, -1):
        parent, ppath = stack[i]
        rel = parent._pellucid_names().get(id(module))
        if rel is not None:
            if not rel:
                return ppath
            return ppath + "." + rel if ppath else rel
    # not registered under any running module (e.g. kept in a plain list): name it by class
    ppath = stack[-1][1]
    tag = "<" + type(module).__name__ + ">"
    return ppath + "." + tag if ppath else tag


def enter(module):
    stack = _state.stack
    path = _resolve(module, stack) if stack else ""
    module.__dict__["_pellucid_path"] = path
    stack.append((module, path))
    return stack


def current_module_path():
    """Qualified name of the innermost running module ("" at top level or outside modules)."""
    stack = _state.stack
    return stack[-1][1] if stack else ""


def current_module():
    """The innermost running module, or None."""
    stack = _state.stack
    return stack[-1][0] if stack else None


def module_stack():
    """Qualified names of all running modules, outermost first."""
    return tuple(p for _, p in _state.stack)


__all__ = []
