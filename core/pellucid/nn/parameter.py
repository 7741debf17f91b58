"""`Parameter`: a tensor that a Module registers as learnable, and `Buffer`, a marker for state."""
from .. import _dtype as D
from .._tensor import Tensor


def _empty():
    from ..ops._creation import empty
    return empty(0)


class Parameter(Tensor):
    """A leaf tensor that modules register as a parameter when assigned as an attribute.

    `Parameter(data)` shares `data`'s memory (and version counter) and requires grad by default.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty()
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): expected data to be a Tensor, got {type(data).__name__}")
        p = object.__new__(cls)
        p._data = data._data
        if data._version is None:
            data._version = [0]
        p._version = data._version
        if requires_grad:
            if data._data.dtype.kind not in D.FLOAT_KINDS:
                raise RuntimeError(
                    f"Only Tensors of floating point dtype can require gradients (Parameter got "
                    f"{data.dtype})")
            p._requires_grad = True
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(Tensor._make(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        if self.grad is not None:
            result.grad = Tensor._make(self.grad._data.copy())
        return result


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute.

    `persistent=False` keeps it out of the state_dict.
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _empty()
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): expected data to be a Tensor, got {type(data).__name__}")
        b = object.__new__(cls)
        b._data = data._data
        if data._version is None:
            data._version = [0]
        b._version = data._version
        b._requires_grad = data._requires_grad and data.grad_fn is None
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent=True):
        pass


def is_lazy(param):
    return False


__all__ = ["Parameter", "Buffer"]
