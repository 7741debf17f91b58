"""The one interface to the array library: NumPy for `cpu`, CuPy for `cuda`.

A tensor's device is read off its array's type, so no device field has to be kept
in sync; everything that must pick a library asks `xp_of` or `xp_for`.
"""
import numpy as np

from ._dtype import BF16

_cupy = None
_cupy_error = None
on_load = []       # callables run with the cupy module once it has loaded (memory tracking)


def cupy():
    """The cupy module, or a RuntimeError that says how to get it."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy as cp
            cp.cuda.runtime.getDeviceCount()
            _cupy = cp
        except Exception as e:  # ImportError, or CUDA driver missing
            _cupy_error = e
        if _cupy is not None:
            for hook in on_load:
                hook(_cupy)
    if _cupy is None:
        raise RuntimeError(
            "CUDA is not available: pellucid's GPU backend needs CuPy and an NVIDIA GPU "
            "(pip install 'pellucid[gpu]', or cupy-cuda12x matching your CUDA driver). "
            f"Cause: {type(_cupy_error).__name__}: {_cupy_error}")
    return _cupy


def cupy_available():
    try:
        cupy()
        return True
    except RuntimeError:
        return False


class device:
    """A device: `cpu`, `cuda` or `cuda:N`."""
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string like 'cpu' or 'cuda:0', got {type!r}")
        if ":" in type:
            type, _, idx = type.partition(":")
            if index is not None:
                raise ValueError("device(): index given twice")
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {type}")
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")


def as_device(d):
    if d is None:
        return None
    if isinstance(d, device):
        return d
    if hasattr(d, "type") and hasattr(d, "index") and not isinstance(d, (str, int)):
        return device(d.type, d.index)
    return device(d)


def device_of(arr):
    if type(arr) is np.ndarray:
        return CPU
    dev = getattr(arr, "device", None)
    if dev is not None and _cupy is not None and isinstance(arr, _cupy.ndarray):
        return device("cuda", dev.id)
    return CPU


def check_dtype_on(np_dtype, dev, op):
    """CuPy has no bfloat16: refuse a bfloat16 tensor on a CUDA device, before CuPy is touched."""
    if np_dtype is BF16 and dev is not None and dev.type != "cpu":
        raise RuntimeError(
            f"{op}: a pellucid.bfloat16 tensor can't be on {dev}: CuPy (pellucid's CUDA backend) has no "
            "bfloat16 dtype, so bfloat16 tensors live on the CPU only. Keep it on the CPU, or convert it "
            "first (.float() or .half()).")


def xp_of(arr):
    """The array module that owns `arr`."""
    if type(arr) is np.ndarray:
        return np
    if _cupy is not None and isinstance(arr, _cupy.ndarray):
        return _cupy
    return np


def xp_for(dev):
    if dev is None or dev.type == "cpu":
        return np
    return cupy()


def move(arr, dev, non_blocking=False, op="to"):
    """Copy `arr` to `dev` (no copy when it is already there). `op` names the caller in errors."""
    if dev.type == "cpu":
        if type(arr) is np.ndarray:
            return arr
        return arr.get() if not non_blocking else arr.get(stream=cupy().cuda.get_current_stream())
    check_dtype_on(arr.dtype, dev, op)
    cp = cupy()
    idx = 0 if dev.index is None else dev.index
    if type(arr) is not np.ndarray and arr.device.id == idx:
        return arr
    with cp.cuda.Device(idx):
        return cp.asarray(arr)


def to_numpy(arr):
    return arr if type(arr) is np.ndarray else arr.get()
