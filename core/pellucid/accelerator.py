"""`pellucid.accelerator`: PyTorch's device-generic API (`torch.accelerator`) over the one
accelerator pellucid drives, CUDA through CuPy (`pellucid.cuda`).

As in PyTorch, `is_available()` and `device_count()` answer on any machine and
`current_accelerator()` returns None where there is none; everything that touches a device
raises "Cannot access accelerator device when none is available." there.
"""
import collections
import importlib.util
import warnings

from . import _backend, cuda

__all__ = ["current_accelerator", "current_device_idx", "current_device_index",
           "get_device_capability", "current_stream", "device_count", "device_index", "empty_cache",
           "empty_host_cache", "get_memory_info", "is_available", "max_memory_allocated",
           "max_memory_reserved", "memory_allocated", "memory_reserved", "memory_stats",
           "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "set_stream", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def _require():
    if not cuda.is_available():
        raise RuntimeError(_NONE)


def _index(device):
    """A device index from None (the current device), an int, "cuda:N" or a device; refuses
    devices that are not the accelerator."""
    if device is None or isinstance(device, int):
        _require()
        return cuda.current_device() if device is None else device
    d = _backend.as_device(device)
    if d.type != "cuda":
        raise RuntimeError(f"Accelerator expected, got a {d.type} device ({d}): the accelerator here "
                           "is cuda")
    _require()
    return cuda.current_device() if d.index is None else d.index


def is_available():
    """Whether an accelerator (a CUDA GPU through CuPy) can be used now."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """device("cuda") where CuPy is installed (and, with check_available, a GPU is usable);
    None otherwise."""
    if check_available:
        return _backend.device("cuda") if cuda.is_available() else None
    return _backend.device("cuda") if importlib.util.find_spec("cupy") is not None else None


def device_count():
    return cuda.device_count()


def current_device_index():
    _require()
    return cuda.current_device()


def current_device_idx():
    warnings.warn("Use `current_device_index` instead.", FutureWarning, stacklevel=2)
    return current_device_index()


def set_device_index(device):
    cuda.set_device(_index(device))


def set_device_idx(device):
    warnings.warn("Use `set_device_index` instead.", FutureWarning, stacklevel=2)
    set_device_index(device)


class device_index:
    """Context manager making device `device` (an index; None: no change) current."""

    def __init__(self, device):
        self.idx = device
        self._scope = None

    def __enter__(self):
        if self.idx is not None:
            self._scope = cuda.device(_index(self.idx))
            self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        if self._scope is not None:
            self._scope.__exit__(*exc)
            self._scope = None
        return False


def synchronize(device=None):
    """Wait until everything queued on `device` (default: the current one) has finished."""
    cuda.synchronize(_index(device))


def current_stream(device=None):
    return cuda.current_stream(_index(device))


def set_stream(stream):
    """Make `stream` (a pellucid.cuda.Stream) the current stream of its device."""
    _require()
    if not isinstance(stream, cuda.Stream):
        raise TypeError(f"set_stream: expected a pellucid.cuda.Stream, got {type(stream).__name__}")
    with cuda.device(stream.device.index):
        stream._stream.use()                  # CuPy's current stream for this thread, until changed


def get_device_capability(device=None):
    """What the device supports, as PyTorch's accelerator API reports it: its dtypes."""
    idx = _index(device)
    major, minor = cuda.get_device_capability(idx)
    from . import _dtype
    dtypes = {d for d in _dtype.ALL if d is not _dtype.bfloat16}      # CuPy has no bfloat16
    return {"supported_dtypes": dtypes, "compute_capability": major * 10 + minor}


def empty_cache():
    _require()
    cuda.empty_cache()


def empty_host_cache():
    """Give CuPy's cached pinned host memory back."""
    _require()
    _backend.cupy().get_default_pinned_memory_pool().free_all_blocks()


def get_memory_info(device_index=None):
    """(free, total) bytes on the device."""
    return cuda.mem_get_info(_index(device_index))


def memory_allocated(device_index=None):
    return cuda.memory_allocated(_index(device_index))


def max_memory_allocated(device_index=None):
    return cuda.max_memory_allocated(_index(device_index))


def memory_reserved(device_index=None):
    return cuda.memory_reserved(_index(device_index))


def max_memory_reserved(device_index=None):
    return cuda.max_memory_reserved(_index(device_index))


def memory_stats(device_index=None):
    return collections.OrderedDict(sorted(cuda.memory_stats(_index(device_index)).items()))


def reset_peak_memory_stats(device_index=None):
    cuda.reset_peak_memory_stats(_index(device_index))


def reset_accumulated_memory_stats(device_index=None):
    """pellucid keeps no accumulated counters beyond the peaks: resets those."""
    cuda.reset_peak_memory_stats(_index(device_index))
