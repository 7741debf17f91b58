"""`pellucid.cuda`: device queries and control, backed by CuPy when it is installed."""
from . import _backend, _random


def is_available():
    return _backend.cupy_available()


def device_count():
    if not is_available():
        return 0
    return _backend.cupy().cuda.runtime.getDeviceCount()


def current_device():
    return _backend.cupy().cuda.Device().id


def set_device(device):
    idx = device if isinstance(device, int) else (_backend.as_device(device).index or 0)
    _backend.cupy().cuda.Device(idx).use()


def get_device_name(device=None):
    cp = _backend.cupy()
    idx = 0 if device is None else (device if isinstance(device, int) else _backend.as_device(device).index or 0)
    return cp.cuda.runtime.getDeviceProperties(idx)["name"].decode()


def synchronize(device=None):
    if is_available():
        _backend.cupy().cuda.Device(0 if device is None else device).synchronize()


def manual_seed(seed):
    for i in range(device_count()):
        gen = _random._cuda_generators.get(i)
        if gen is None:
            gen = _random._cuda_generators[i] = _random.Generator(f"cuda:{i}")
        gen.manual_seed(seed)


def manual_seed_all(seed):
    manual_seed(seed)


def _pool():
    return _backend.cupy().get_default_memory_pool()


def memory_allocated(device=None):
    return _pool().used_bytes() if is_available() else 0


def memory_reserved(device=None):
    return _pool().total_bytes() if is_available() else 0


_peak = [0]


def max_memory_allocated(device=None):
    _peak[0] = max(_peak[0], memory_allocated(device))
    return _peak[0]


def reset_peak_memory_stats(device=None):
    _peak[0] = memory_allocated(device)


def empty_cache():
    if is_available():
        _pool().free_all_blocks()


class device:
    """Context manager selecting the current CUDA device."""

    def __init__(self, idx):
        self.idx = idx if isinstance(idx, int) else (_backend.as_device(idx).index or 0)

    def __enter__(self):
        self._ctx = _backend.cupy().cuda.Device(self.idx)
        self._ctx.__enter__()

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
