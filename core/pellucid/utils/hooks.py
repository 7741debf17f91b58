"""Removable handles for hooks on tensors, nodes and modules."""
import itertools

_ids = itertools.count()


class RemovableHandle:
    """Returned by every `register_*hook`; `remove()` unregisters the hook (also as a context manager)."""

    def __init__(self, container, hook=None):
        self.id = next(_ids)
        self._container = container
        self._hook = hook

    def remove(self):
        c = self._container
        if c is None:
            return
        if isinstance(c, dict):
            c.pop(self.id, None)
        else:
            for i, h in enumerate(c):
                if h is self._hook:
                    del c[i]
                    break
        self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
