"""Padding layers: constant/zero, reflection, replication and circular, for 1-3 padded dims."""
from .. import functional as F
from .module import Module


def _ntuple(n, value):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"padding must be an int or a tuple of {n} ints, got {tuple(value)}")
        return tuple(value)
    return (value,) * n


def _expected_dims(input, allowed):
    if input.dim() not in allowed:
        raise ValueError(f"expected {allowed[0]}D or {allowed[1]}D input (got {input.dim()}D input)")


class _ConstantPadNd(Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _ntuple(2, padding)


class ConstantPad2d(_ConstantPadNd):
    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _ntuple(4, padding)


class ConstantPad3d(_ConstantPadNd):
    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _ntuple(6, padding)


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ModePadNd(Module):
    mode = None
    n_pad = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * self.n_pad, padding)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_ModePadNd):
    mode, n_pad = "reflect", 1


class ReflectionPad2d(_ModePadNd):
    mode, n_pad = "reflect", 2


class ReflectionPad3d(_ModePadNd):
    mode, n_pad = "reflect", 3


class ReplicationPad1d(_ModePadNd):
    mode, n_pad = "replicate", 1


class ReplicationPad2d(_ModePadNd):
    mode, n_pad = "replicate", 2


class ReplicationPad3d(_ModePadNd):
    mode, n_pad = "replicate", 3


class _CircularPadNd(_ModePadNd):
    mode = "circular"

    def forward(self, input):
        _expected_dims(input, (self.n_pad + 1, self.n_pad + 2))
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    n_pad = 1


class CircularPad2d(_CircularPadNd):
    n_pad = 2


class CircularPad3d(_CircularPadNd):
    n_pad = 3


__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]
