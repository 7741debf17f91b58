"""`pellucid.cuda`: device queries, streams, events and memory statistics, backed by CuPy.

Without CuPy or a GPU, `is_available()` is False and `device_count()` is 0; the memory counters
read 0, `empty_cache`, `reset_peak_memory_stats` and `manual_seed(_all)` do nothing (as in a
CPU-only PyTorch); everything that needs a device raises a RuntimeError that says how to install
CuPy.

Memory statistics: CuPy's memory pool knows what is in use now but keeps no high-water mark, so
once CuPy loads, pellucid routes the pool's allocations through a small allocator that counts the
bytes of live blocks per device and records the peak at every allocation (the peak can only be
reached right after one). The counts are the pool's block sizes (multiples of 512 bytes), which is
what PyTorch's `memory_allocated` reports too. Set PELLUCID_CUDA_MEMORY_TRACKING=0 to leave CuPy's
allocator alone; the peak is then sampled whenever a memory function is called.
"""
import os
import sys
import threading

from . import _backend, _random

__all__ = ["is_available", "device_count", "is_initialized", "init", "current_device", "set_device",
           "get_device_name", "get_device_capability", "get_device_properties", "device", "synchronize",
           "Stream", "Event", "current_stream", "default_stream", "stream", "manual_seed",
           "manual_seed_all", "memory_allocated", "max_memory_allocated", "memory_reserved",
           "max_memory_reserved", "reset_peak_memory_stats", "reset_max_memory_allocated",
           "memory_stats", "mem_get_info", "empty_cache", "OutOfMemoryError", "is_bf16_supported",
           "amp"]


class OutOfMemoryError(RuntimeError):
    """A CUDA allocation failed: the message says how much was asked for and how much is in use."""


def is_available():
    return _backend.cupy_available()


def device_count():
    if not is_available():
        return 0
    return _backend.cupy().cuda.runtime.getDeviceCount()


def is_initialized():
    return _backend._cupy is not None


def init():
    _backend.cupy()


def _index(dev):
    """A CUDA device index from an int, 'cuda:N', a device object or None (the current device)."""
    if dev is None:
        return _backend.cupy().cuda.runtime.getDevice()
    if isinstance(dev, int):
        return dev
    d = _backend.as_device(dev)
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return _backend.cupy().cuda.runtime.getDevice() if d.index is None else d.index


def current_device():
    return _backend.cupy().cuda.runtime.getDevice()


def set_device(device):
    _backend.cupy().cuda.Device(_index(device)).use()


class _CudaDeviceProperties:
    """What `get_device_properties` returns (PyTorch's field names)."""

    def __init__(self, props):
        name = props.get("name", b"")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major = int(props.get("major", 0))
        self.minor = int(props.get("minor", 0))
        self.total_memory = int(props.get("totalGlobalMem", 0))
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))
        self.is_integrated = int(props.get("integrated", 0))
        self.is_multi_gpu_board = int(props.get("isMultiGpuBoard", 0))
        self.L2_cache_size = int(props.get("l2CacheSize", 0))
        self.warp_size = int(props.get("warpSize", 32))
        self.max_threads_per_multi_processor = int(props.get("maxThreadsPerMultiProcessor", 0))

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // 2 ** 20}MB, "
                f"multi_processor_count={self.multi_processor_count}, L2_cache_size="
                f"{self.L2_cache_size // 2 ** 20}MB)")


def get_device_properties(device=None):
    cp = _backend.cupy()
    idx = _index(device)
    n = cp.cuda.runtime.getDeviceCount()
    if not 0 <= idx < n:
        raise AssertionError(f"Invalid device id {idx}: this machine has {n} CUDA device(s)")
    return _CudaDeviceProperties(cp.cuda.runtime.getDeviceProperties(idx))


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    p = get_device_properties(device)
    return (p.major, p.minor)


def is_bf16_supported(including_emulation=True):
    """False: CuPy arrays (and so pellucid tensors) have no bfloat16 dtype."""
    _backend.cupy()
    return False


class device:
    """Context manager selecting the current CUDA device."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)

    def __enter__(self):
        cp = _backend.cupy()
        self.prev_idx = cp.cuda.runtime.getDevice()
        if self.idx >= 0 and self.idx != self.prev_idx:
            cp.cuda.runtime.setDevice(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.idx != self.prev_idx:
            _backend.cupy().cuda.runtime.setDevice(self.prev_idx)
        return False


def synchronize(device=None):
    """Wait until every kernel queued on `device` (default: the current one) has finished."""
    cp = _backend.cupy()
    cp.cuda.Device(_index(device)).synchronize()


# ---- streams and events ----------------------------------------------------------------------

class Stream:
    """A CUDA stream (a CuPy stream that does not synchronise with the default stream)."""

    def __init__(self, device=None, priority=0, **kwargs):
        cp = _backend.cupy()
        with _DeviceScope(device):
            if priority:
                try:
                    self._stream = cp.cuda.Stream(non_blocking=True, priority=priority)
                except TypeError:
                    raise RuntimeError("Stream(priority=...): this CuPy version does not support stream "
                                       "priorities; upgrade CuPy or leave priority at 0") from None
            else:
                self._stream = cp.cuda.Stream(non_blocking=True)
            self._device_index = cp.cuda.runtime.getDevice()
        self.priority = priority

    @classmethod
    def _wrap(cls, cp_stream):
        s = object.__new__(cls)
        s._stream = cp_stream
        s._device_index = getattr(getattr(cp_stream, "device", None), "id", None)
        if s._device_index is None:
            s._device_index = _backend.cupy().cuda.runtime.getDevice()
        s.priority = 0
        return s

    @property
    def device(self):
        return _backend.device("cuda", self._device_index)

    @property
    def cuda_stream(self):
        return self._stream.ptr

    def query(self):
        """True when all work queued on this stream has finished."""
        return bool(self._stream.done)

    def synchronize(self):
        self._stream.synchronize()

    def wait_event(self, event):
        self._stream.wait_event(event._event)

    def wait_stream(self, stream):
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        if event is None:
            event = Event()
        event.record(self)
        return event

    def __enter__(self):
        self._stream.__enter__()
        return self

    def __exit__(self, *exc):
        self._stream.__exit__(*exc)
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and self._stream.ptr == other._stream.ptr

    def __hash__(self):
        return hash(self._stream.ptr)

    def __repr__(self):
        return f"<pellucid.cuda.Stream device=cuda:{self._device_index} cuda_stream={hex(self._stream.ptr)}>"


class _DeviceScope:
    def __init__(self, dev):
        self.dev = dev

    def __enter__(self):
        self.ctx = device(self.dev)
        return self.ctx.__enter__()

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc)


def current_stream(device=None):
    cp = _backend.cupy()
    with _DeviceScope(device):
        return Stream._wrap(cp.cuda.get_current_stream())


def default_stream(device=None):
    cp = _backend.cupy()
    with _DeviceScope(device):
        return Stream._wrap(cp.cuda.Stream.null)


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def stream(stream):
    """Context manager making `stream` current (None: no change)."""
    return _NullContext() if stream is None else stream


class Event:
    """A CUDA event: a marker in a stream to wait on or to time the work between two of them."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        cp = _backend.cupy()
        self.enable_timing = bool(enable_timing)
        self._event = cp.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                    interprocess=interprocess)
        self._recorded = False

    def record(self, stream=None):
        """Mark the current point of `stream` (default: the current stream)."""
        s = current_stream() if stream is None else stream
        self._event.record(s._stream)
        self._recorded = True

    def wait(self, stream=None):
        """Make `stream` (default: the current stream) wait for this event."""
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self):
        return bool(self._event.done)

    def synchronize(self):
        self._event.synchronize()

    def elapsed_time(self, end_event):
        """Milliseconds between this event and `end_event` (both recorded, with enable_timing=True)."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("elapsed_time: both events must be created with enable_timing=True "
                               f"(start has enable_timing={self.enable_timing}, end has "
                               f"enable_timing={end_event.enable_timing})")
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("elapsed_time: both events must be recorded (event.record()) before "
                               "asking for the time between them")
        return float(_backend.cupy().cuda.get_elapsed_time(self._event, end_event._event))

    @property
    def cuda_event(self):
        return self._event.ptr

    def __repr__(self):
        return f"<pellucid.cuda.Event enable_timing={self.enable_timing} recorded={self._recorded}>"


# ---- random seeds ------------------------------------------------------------------------------

def _cuda_generator(i):
    gen = _random._cuda_generators.get(i)
    if gen is None:
        gen = _random._cuda_generators[i] = _random.Generator(f"cuda:{i}")
    return gen


def manual_seed(seed):
    """Seed the current device's generator (nothing to do without a GPU, as in PyTorch)."""
    if is_available():
        _cuda_generator(current_device()).manual_seed(seed)


def manual_seed_all(seed):
    for i in range(device_count()):
        _cuda_generator(i).manual_seed(seed)


# ---- memory ------------------------------------------------------------------------------------

def _fmt_bytes(n):
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bytes"


class _MemoryTracker:
    """CuPy allocator wrapping the default memory pool: live bytes and their peak per device, and
    out-of-memory errors re-raised as OutOfMemoryError with the numbers a user needs.

    Each block handed out is wrapped in an UnownedMemory whose owner returns it to the pool when
    the last array using it goes away; that is where the live count goes down."""

    def __init__(self, cp, pool):
        self.cp = cp
        self.pool = pool
        self.used = {}
        self.peak = {}
        self.peak_reserved = {}
        self._lock = threading.Lock()
        mem = cp.cuda.memory
        self._unowned = mem.UnownedMemory
        self._pointer = mem.MemoryPointer
        self._cupy_oom = mem.OutOfMemoryError

    def malloc(self, size):
        try:
            block = self.pool.malloc(size)
        except self._cupy_oom as e:
            raise self.out_of_memory(size, e) from e
        dev = block.device_id
        n = block.mem.size
        with self._lock:
            used = self.used.get(dev)
            # first block seen on this device: start from the pool's count (blocks made before
            # pellucid loaded CuPy included), which has this block in it already
            used = self.pool.used_bytes() if used is None else used + n
            self.used[dev] = used
            if used > self.peak.get(dev, 0):
                self.peak[dev] = used
            reserved = self.pool.total_bytes()
            if reserved > self.peak_reserved.get(dev, 0):
                self.peak_reserved[dev] = reserved
        owner = _Block(self, dev, n, block)
        return self._pointer(self._unowned(block.ptr, n, owner, dev), 0)

    def release(self, dev, n):
        with self._lock:
            self.used[dev] = self.used.get(dev, 0) - n

    def out_of_memory(self, size, cause):
        dev = self.cp.cuda.runtime.getDevice()
        in_use = self.pool.used_bytes()
        reserved = self.pool.total_bytes()
        try:
            free, total = self.cp.cuda.runtime.memGetInfo()
            device_part = (f"GPU {dev} has a total capacity of {_fmt_bytes(total)} of which "
                           f"{_fmt_bytes(free)} is free. ")
        except Exception:
            device_part = f"GPU {dev}: "
        limit = self.pool.get_limit() if hasattr(self.pool, "get_limit") else 0
        limit_part = (f" The memory pool is limited to {_fmt_bytes(limit)} "
                      "(cupy.get_default_memory_pool().set_limit).") if limit else ""
        return OutOfMemoryError(
            f"CUDA out of memory. Tried to allocate {_fmt_bytes(size)}. {device_part}Of the allocated "
            f"memory {_fmt_bytes(in_use)} is allocated by pellucid, and {_fmt_bytes(reserved - in_use)} is "
            f"reserved by pellucid but unallocated.{limit_part} If the reserved but unallocated memory is "
            "large, pellucid.cuda.empty_cache() gives it back; otherwise use a smaller batch or mixed "
            f"precision (pellucid.autocast). ({type(cause).__name__}: {cause})")


class _Block:
    """Owns one pool block for as long as an array uses it; gives it back and updates the count."""
    __slots__ = ("tracker", "dev", "n", "block")

    def __init__(self, tracker, dev, n, block):
        self.tracker = tracker
        self.dev = dev
        self.n = n
        self.block = block

    def __del__(self):
        try:
            self.tracker.release(self.dev, self.n)
        except Exception:   # interpreter shutdown
            pass


_tracker = None
_sampled_peak = {}


def _install_tracking(cp):
    """Route CuPy's default pool through the tracking allocator (runs when CuPy loads)."""
    global _tracker
    if _tracker is not None or os.environ.get("PELLUCID_CUDA_MEMORY_TRACKING", "1") == "0":
        return
    tracker = _MemoryTracker(cp, cp.get_default_memory_pool())
    cp.cuda.set_allocator(tracker.malloc)
    _tracker = tracker


_backend.on_load.append(_install_tracking)
if _backend._cupy is not None:
    _install_tracking(_backend._cupy)


def _pool_stat(device, fn):
    cp = _backend._cupy
    with cp.cuda.Device(_index(device)):
        return fn(cp.get_default_memory_pool())


def memory_allocated(device=None):
    """Bytes held by live tensors on `device` (0 without a GPU)."""
    if not is_available():
        return 0
    return _pool_stat(device, lambda p: p.used_bytes())


def memory_reserved(device=None):
    """Bytes the memory pool holds on `device`, in use or cached (0 without a GPU)."""
    if not is_available():
        return 0
    return _pool_stat(device, lambda p: p.total_bytes())


def max_memory_allocated(device=None):
    """The most bytes live at once since the start or the last reset_peak_memory_stats()."""
    if not is_available():
        return 0
    idx = _index(device)
    now = memory_allocated(idx)
    if _tracker is not None:
        return max(_tracker.peak.get(idx, 0), now)
    peak = max(_sampled_peak.get(idx, 0), now)
    _sampled_peak[idx] = peak
    return peak


def max_memory_reserved(device=None):
    if not is_available():
        return 0
    idx = _index(device)
    now = memory_reserved(idx)
    if _tracker is not None:
        return max(_tracker.peak_reserved.get(idx, 0), now)
    return now


def reset_peak_memory_stats(device=None):
    if not is_available():
        return
    idx = _index(device)
    now = memory_allocated(idx)
    if _tracker is not None:
        with _tracker._lock:
            _tracker.used[idx] = now
            _tracker.peak[idx] = now
            _tracker.peak_reserved[idx] = memory_reserved(idx)
    _sampled_peak[idx] = now


def reset_max_memory_allocated(device=None):
    reset_peak_memory_stats(device)


def memory_stats(device=None):
    """The allocated/reserved byte counts, current and peak, under PyTorch's key names."""
    if not is_available():
        return {}
    return {"allocated_bytes.all.current": memory_allocated(device),
            "allocated_bytes.all.peak": max_memory_allocated(device),
            "reserved_bytes.all.current": memory_reserved(device),
            "reserved_bytes.all.peak": max_memory_reserved(device)}


def mem_get_info(device=None):
    """(free, total) bytes on the device, as the driver reports them."""
    cp = _backend.cupy()
    with cp.cuda.Device(_index(device)):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


def empty_cache():
    """Give the pool's cached, unused blocks back to the device."""
    if is_available():
        _backend._cupy.get_default_memory_pool().free_all_blocks()


from .amp import _cuda_amp as amp  # noqa: E402  (pellucid.cuda.amp: autocast, GradScaler)
sys.modules[__name__ + ".amp"] = amp
