"""Everything about the CUDA backend that can be checked without a GPU.

* pellucid.cuda without CuPy: is_available() is False, device_count() is 0, the counters read 0,
  and every call that needs a device raises the "install CuPy" RuntimeError.
* pellucid.cuda's logic (peak-memory tracking, out-of-memory errors, events, streams, device
  properties) against a stand-in CuPy module whose signatures follow CuPy's documented API.
* The fused kernels of pellucid._cuda_kernels: every CUDA C++ source compiled for the host with
  a C++ compiler, run with CuPy's calling conventions (in/out/raw params, reductions) and checked
  against the NumPy references; the references against pellucid's CPU ops and PyTorch; the
  optimizer/activation/loss hooks reach the kernels only for non-NumPy arrays.
* DataLoader(pin_memory=True) and .to(non_blocking=True) on CPU; bench/bench_gpu.py's models for
  one tiny step on CPU.
"""
import ctypes
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import pellucid
import pellucid.nn.functional as PF
from pellucid import _backend, _cuda_kernels, cuda
from pellucid._dispatch import NO_CTX
from pellucid.ops._F import array_ns

no_gpu = pytest.mark.skipif(pellucid.cuda.is_available(), reason="checks the behaviour without a GPU")


# ---- without CuPy ------------------------------------------------------------------------------------

@no_gpu
def test_not_available_without_cupy():
    assert pellucid.cuda.is_available() is False
    assert pellucid.cuda.device_count() == 0
    assert pellucid.cuda.is_initialized() is False


_NEEDS_DEVICE = {
    "current_device": lambda: cuda.current_device(),
    "set_device": lambda: cuda.set_device(0),
    "get_device_name": lambda: cuda.get_device_name(0),
    "get_device_capability": lambda: cuda.get_device_capability(),
    "get_device_properties": lambda: cuda.get_device_properties(0),
    "synchronize": lambda: cuda.synchronize(),
    "current_stream": lambda: cuda.current_stream(),
    "default_stream": lambda: cuda.default_stream(),
    "Stream": lambda: cuda.Stream(),
    "Event": lambda: cuda.Event(enable_timing=True),
    "mem_get_info": lambda: cuda.mem_get_info(),
    "is_bf16_supported": lambda: cuda.is_bf16_supported(),
    "init": lambda: cuda.init(),
    "device": lambda: cuda.device(0).__enter__(),
    "tensor.cuda": lambda: pellucid.ones(2).cuda(),
    "to('cuda')": lambda: pellucid.ones(2).to("cuda"),
}


@no_gpu
@pytest.mark.parametrize("name", sorted(_NEEDS_DEVICE))
def test_device_calls_say_how_to_install_cupy(name):
    with pytest.raises(RuntimeError, match=r"CUDA is not available.*CuPy.*pip install"):
        _NEEDS_DEVICE[name]()


@no_gpu
def test_counters_and_housekeeping_behave_like_cpu_only_torch():
    names = ["memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"]
    for name in names:
        assert getattr(pellucid.cuda, name)() == getattr(torch.cuda, name)() == 0
    assert pellucid.cuda.memory_stats() == {} == dict(torch.cuda.memory_stats())
    # nothing to do without a GPU, as in PyTorch (seeding helpers call these unconditionally)
    pellucid.cuda.reset_peak_memory_stats()
    pellucid.cuda.reset_max_memory_allocated()
    pellucid.cuda.empty_cache()
    pellucid.cuda.manual_seed(3)
    pellucid.cuda.manual_seed_all(3)


def test_out_of_memory_error_is_a_runtime_error_everywhere():
    assert issubclass(pellucid.cuda.OutOfMemoryError, RuntimeError)
    assert pellucid.OutOfMemoryError is pellucid.cuda.OutOfMemoryError


def test_cuda_amp_module_is_importable():
    import pellucid.cuda.amp as ca
    from pellucid.cuda.amp import GradScaler, autocast  # noqa: F401
    assert ca is pellucid.cuda.amp and issubclass(ca.autocast, pellucid.autocast)


# ---- pellucid.cuda against a stand-in CuPy --------------------------------------------------------

class _FakeOOM(MemoryError):
    def __init__(self, size, total, limit=0):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes).")


class _FakePooled:
    def __init__(self, pool, ptr, size, device_id):
        self.pool, self.ptr, self.size, self.device_id = pool, ptr, size, device_id

    def __del__(self):
        self.pool.in_use.pop(self.ptr, None)


class _FakePointer:
    """cupy.cuda.MemoryPointer(mem, offset)."""

    def __init__(self, mem, offset):
        self.mem, self.ptr, self.device_id = mem, mem.ptr + offset, mem.device_id


class _FakeUnowned:
    """cupy.cuda.UnownedMemory(ptr, size, owner, device_id=-1)."""

    def __init__(self, ptr, size, owner, device_id=-1):
        if device_id < 0:
            raise RuntimeError("UnownedMemory requires explicit device ID for a null pointer.")
        self.ptr, self.size, self._owner, self.device_id = ptr, size, owner, device_id


class _FakePool:
    """Rounds to 512-byte blocks, keeps freed blocks reserved until free_all_blocks."""

    def __init__(self, limit):
        self.in_use, self.reserved, self.limit, self.next_ptr = {}, 0, limit, 4096

    def malloc(self, size):
        n = -(-size // 512) * 512
        if self.used_bytes() + n > self.limit:
            raise _FakeOOM(n, self.used_bytes(), self.limit)
        self.next_ptr += n
        self.in_use[self.next_ptr] = n
        self.reserved = max(self.reserved, self.used_bytes())
        return _FakePointer(_FakePooled(self, self.next_ptr, n, 0), 0)

    def used_bytes(self):
        return sum(self.in_use.values())

    def total_bytes(self):
        return self.reserved

    def free_all_blocks(self, stream=None):
        self.reserved = self.used_bytes()

    def get_limit(self):
        return self.limit


class _FakeClock:
    now = 0.0


class _FakeEvent:
    """cupy.cuda.Event(block=False, disable_timing=False, interprocess=False)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing, self.t, self.ptr = disable_timing, None, id(self)

    def record(self, stream=None):
        assert stream is None or isinstance(stream, _FakeStream)
        _FakeClock.now += 2.5
        self.t = _FakeClock.now

    def synchronize(self):
        pass

    @property
    def done(self):
        return self.t is not None


class _FakeStream:
    """cupy.cuda.Stream(null=False, non_blocking=False, ptds=False)."""
    stack = []

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.non_blocking, self.ptr, self.waited = non_blocking, 0 if null else id(self), []
        self.synced = 0

    def synchronize(self):
        self.synced += 1

    @property
    def done(self):
        return True

    def wait_event(self, event):
        self.waited.append(event)

    def __enter__(self):
        _FakeStream.stack.append(self)
        return self

    def __exit__(self, *exc):
        _FakeStream.stack.pop()


def _make_fake_cupy(limit=8 * 2 ** 20):
    pool = _FakePool(limit)
    state = {"device": 0, "allocator": None, "synced": []}

    class Device:
        def __init__(self, device=None):
            self.id = state["device"] if device is None else device

        def __enter__(self):
            self.prev = state["device"]
            state["device"] = self.id
            return self

        def __exit__(self, *exc):
            state["device"] = self.prev

        def use(self):
            state["device"] = self.id

        def synchronize(self):
            state["synced"].append(self.id)

    def set_device(i):
        state["device"] = i

    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: 2, getDevice=lambda: state["device"], setDevice=set_device,
        memGetInfo=lambda: (3 * 2 ** 20, 16 * 2 ** 30),
        getDeviceProperties=lambda i: {"name": f"Fake GPU {i}".encode(), "major": 9, "minor": 0,
                                       "totalGlobalMem": 16 * 2 ** 30, "multiProcessorCount": 132,
                                       "integrated": 0, "isMultiGpuBoard": 0, "l2CacheSize": 50 * 2 ** 20,
                                       "warpSize": 32})
    null = _FakeStream(null=True)
    _FakeStream.null = null
    _FakeStream.stack = []

    def set_allocator(fn):
        state["allocator"] = fn

    def get_elapsed_time(start, end):
        if start.disable_timing or end.disable_timing:
            raise RuntimeError("cudaErrorInvalidResourceHandle")
        return end.t - start.t

    memory = types.SimpleNamespace(UnownedMemory=_FakeUnowned, MemoryPointer=_FakePointer, OutOfMemoryError=_FakeOOM)
    cuda_ns = types.SimpleNamespace(
        runtime=runtime, Device=Device, memory=memory, set_allocator=set_allocator, Event=_FakeEvent,
        Stream=_FakeStream, get_elapsed_time=get_elapsed_time,
        get_current_stream=lambda: _FakeStream.stack[-1] if _FakeStream.stack else null)
    fake = types.SimpleNamespace(cuda=cuda_ns, get_default_memory_pool=lambda: pool, ndarray=type("ndarray", (), {}))
    return fake, pool, state


@pytest.fixture
def fake_cupy(monkeypatch):
    fake, pool, state = _make_fake_cupy()
    monkeypatch.setattr(_backend, "_cupy", fake)
    monkeypatch.setattr(_backend, "_cupy_error", None)
    monkeypatch.setattr(cuda, "_tracker", None)
    monkeypatch.setattr(cuda, "_sampled_peak", {})
    monkeypatch.setattr(pellucid._random, "_cuda_generators", {})
    cuda._install_tracking(fake)
    return fake, pool, state


def test_tracking_allocator_counts_live_bytes_and_the_peak(fake_cupy):
    fake, pool, state = fake_cupy
    alloc = state["allocator"]
    assert alloc is not None and cuda._tracker is not None
    assert cuda.is_available() and cuda.device_count() == 2
    a = alloc(1000)                         # one 1024-byte block
    assert isinstance(a, _FakePointer) and isinstance(a.mem, _FakeUnowned) and a.mem.size == 1024
    assert cuda.memory_allocated() == 1024 == cuda.max_memory_allocated()
    b = alloc(3000)                         # 3072
    assert cuda.memory_allocated() == 4096 == cuda.max_memory_allocated()
    del a                                   # the block goes back to the pool, the peak stays
    assert cuda.memory_allocated() == 3072 and cuda._tracker.used[0] == 3072
    assert cuda.max_memory_allocated() == 4096
    c = alloc(512)
    assert cuda.max_memory_allocated() == 4096          # 3584 live: below the peak
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == 3584
    assert cuda.memory_reserved() == 4096 and cuda.max_memory_reserved() == 4096
    del b, c
    cuda.empty_cache()
    assert cuda.memory_allocated() == 0 and cuda.memory_reserved() == 0
    stats = cuda.memory_stats()
    assert stats["allocated_bytes.all.current"] == 0 and stats["allocated_bytes.all.peak"] == 3584
    assert cuda.mem_get_info() == (3 * 2 ** 20, 16 * 2 ** 30)


def test_out_of_memory_is_reraised_with_the_numbers(fake_cupy):
    fake, pool, state = fake_cupy
    keep = state["allocator"](5 * 2 ** 20)
    with pytest.raises(cuda.OutOfMemoryError) as info:
        state["allocator"](int(1.5 * 2 ** 30))
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value.__cause__, _FakeOOM)
    assert "Tried to allocate 1.50 GiB" in msg
    assert "GPU 0 has a total capacity of 16.00 GiB of which 3.00 MiB is free" in msg
    assert "5.00 MiB is allocated by pellucid" in msg
    assert "limited to 8.00 MiB" in msg and "empty_cache" in msg
    assert cuda.memory_allocated() == 5 * 2 ** 20      # the failed request left no trace
    del keep


def test_sampled_peak_without_the_allocator(fake_cupy, monkeypatch):
    fake, pool, state = fake_cupy
    monkeypatch.setattr(cuda, "_tracker", None)
    held = pool.malloc(2048)
    assert cuda.max_memory_allocated() == 2048
    del held
    assert cuda.max_memory_allocated() == 2048 and cuda.memory_allocated() == 0
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == 0


def test_tracking_can_be_switched_off(monkeypatch):
    fake, pool, state = _make_fake_cupy()
    monkeypatch.setattr(cuda, "_tracker", None)
    monkeypatch.setenv("PELLUCID_CUDA_MEMORY_TRACKING", "0")
    cuda._install_tracking(fake)
    assert state["allocator"] is None and cuda._tracker is None


def test_events_time_the_work_between_them(fake_cupy):
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    with pytest.raises(RuntimeError, match="must be recorded"):
        start.elapsed_time(end)
    start.record()
    end.record(cuda.current_stream())
    end.synchronize()
    assert start.query() and end.query()
    assert start.elapsed_time(end) == pytest.approx(2.5)
    plain = cuda.Event()
    plain.record()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        start.elapsed_time(plain)


def test_streams_wrap_cupy_streams(fake_cupy):
    fake, pool, state = fake_cupy
    s = cuda.Stream()
    assert s._stream.non_blocking and s.device == pellucid.device("cuda:0")
    assert cuda.current_stream() == cuda.default_stream()
    with cuda.stream(s):
        assert cuda.current_stream() == s
    assert cuda.current_stream() != s
    with cuda.stream(None):
        pass
    e = s.record_event()
    other = cuda.Stream()
    other.wait_event(e)
    other.wait_stream(s)
    assert other._stream.waited[0] is e._event and len(other._stream.waited) == 2
    assert s.query()
    s.synchronize()
    assert s._stream.synced == 1
    cuda.synchronize(1)
    assert state["synced"] == [1]


def test_device_properties_and_selection(fake_cupy):
    fake, pool, state = fake_cupy
    p = cuda.get_device_properties(1)
    assert (p.name, p.major, p.minor, p.total_memory, p.multi_processor_count) == \
        ("Fake GPU 1", 9, 0, 16 * 2 ** 30, 132)
    assert "total_memory=16384MB" in repr(p) and "multi_processor_count=132" in repr(p)
    assert cuda.get_device_name("cuda:1") == "Fake GPU 1"
    assert cuda.get_device_capability(pellucid.device("cuda", 0)) == (9, 0)
    with pytest.raises(AssertionError, match="Invalid device id 5"):
        cuda.get_device_properties(5)
    with pytest.raises(ValueError, match="Expected a cuda device"):
        cuda.get_device_properties("cpu")
    with cuda.device(1):
        assert cuda.current_device() == 1
    assert cuda.current_device() == 0
    cuda.set_device("cuda:1")
    assert cuda.current_device() == 1
    assert cuda.is_bf16_supported() is False


def test_manual_seed_reaches_the_cuda_generators(fake_cupy):
    cuda.manual_seed_all(1234)
    gens = pellucid._random._cuda_generators
    assert sorted(gens) == [0, 1] and all(g.initial_seed() == 1234 for g in gens.values())
    cuda.manual_seed(99)
    assert gens[0].initial_seed() == 99 and gens[1].initial_seed() == 1234


# ---- the fused kernels, compiled for the host -------------------------------------------------------

CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler to build the kernel sources for the host")

_TYPES = {"float32": ("float", np.float32, ctypes.c_float), "float64": ("double", np.float64, ctypes.c_double),
          "int64": ("long long", np.int64, ctypes.c_longlong), "int32": ("int", np.int32, ctypes.c_int),
          "bool": ("bool", np.bool_, ctypes.c_bool)}
_HOST_PRELUDE = """
#include <cmath>
#include <cstdint>
using namespace std;
#define __device__
#define __forceinline__ inline
"""
# compiled libraries are kept on disk by source hash, so test workers and later runs share them
_CACHE_DIR = os.path.join(tempfile.gettempdir(), f"pellucid-host-kernels-{os.getuid()}")
_LIBS = {}


def _params(text):
    out = []
    for p in text.split(","):
        toks = p.split()
        raw = toks[0] == "raw"
        typ, name = toks[-2], toks[-1]
        out.append((raw, typ, name))
    return out


def _compile(functions):
    """One shared library holding `functions` (kernel function sources) after the preamble."""
    source = _HOST_PRELUDE + _cuda_kernels.PREAMBLE + "\n".join(functions)
    key = hashlib.sha1((CXX + source).encode()).hexdigest()[:20]
    if key not in _LIBS:
        os.makedirs(_CACHE_DIR, exist_ok=True)
        lib = os.path.join(_CACHE_DIR, key + ".so")
        if not os.path.exists(lib):
            fd, src = tempfile.mkstemp(suffix=".cpp", dir=_CACHE_DIR)
            with os.fdopen(fd, "w") as f:
                f.write(source)
            tmp = src[:-4] + ".so"
            res = subprocess.run([CXX, "-O1", "-std=c++14", "-shared", "-fPIC", "-o", tmp, src],
                                 capture_output=True, text=True)
            os.unlink(src)
            assert res.returncode == 0, f"kernel source does not compile:\n{res.stderr}\n{source}"
            os.replace(tmp, lib)
        _LIBS[key] = ctypes.CDLL(lib)
    return _LIBS[key]


class HostKernel:
    """A CuPy ElementwiseKernel/ReductionKernel spec run on the host: the same CUDA C++ body inside
    a loop, called with CuPy's conventions (inputs then optional outputs; raw params indexed by
    hand; type placeholder T fixed by the array arguments, dtype mismatches a TypeError)."""

    def __init__(self, spec):
        self.spec = spec
        self.ins, self.outs = _params(spec.in_params), _params(spec.out_params)

    def _resolve(self, args):
        t = None
        for (raw, typ, name), a in zip(self.ins + self.outs, args):
            if isinstance(a, np.ndarray):
                if typ == "T":
                    if t is not None and a.dtype != t:
                        raise TypeError(f"Type is mismatched. {name} {a.dtype} {t}")
                    t = a.dtype
                elif a.dtype != _TYPES[typ][1]:
                    raise TypeError(f"Type is mismatched. {name} {a.dtype} {typ}")
        return t

    def _ctype(self, typ, t):
        return _TYPES[t.name if typ == "T" else typ]

    def _wrap(self, fname, t, decl, body):
        """The kernel as one host function in its own namespace (its own T)."""
        return (f"namespace ns_{fname} {{\ntypedef {self._ctype('T', t)[0]} T;\n"
                f'extern "C" void {fname}({", ".join(decl)}) {{\n{body}\n}}\n}}\n')

    def prepare(self, args, axis=None):
        """(function name, function source, ctypes arguments, finish()) for a call with `args`."""
        args = list(args)
        if len(args) not in (len(self.ins), len(self.ins) + len(self.outs)):
            raise TypeError(f"{self.spec.name}: wrong number of arguments ({len(args)})")
        t = self._resolve(args)
        if self.spec.kind == "reduction":
            return self._prepare_reduce(args, t, axis)
        arrays = [a for (raw, _, _), a in zip(self.ins + self.outs, args) if isinstance(a, np.ndarray) and not raw]
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
        outs = list(args[len(self.ins):]) or [np.empty(shape, self._ctype(typ, t)[1]) for _, typ, _ in self.outs]
        decl, call, loop, writes = ["long long _n"], [ctypes.c_longlong(int(np.prod(shape)))], [], []
        for k, ((raw, typ, name), a) in enumerate(zip(self.ins + self.outs, args[:len(self.ins)] + outs)):
            ctype, np_t, c_scalar = self._ctype(typ, t)
            is_out = k >= len(self.ins)
            if isinstance(a, np.ndarray):
                buf = np.ascontiguousarray(a if raw else np.broadcast_to(a, shape), dtype=np_t)
                if is_out:
                    buf = buf.copy()
                    writes.append((buf, a))
                decl.append(f"{ctype}* {name if raw else '_raw_' + name}")
                call.append(ctypes.c_void_p(buf.ctypes.data))
                call[-1]._keep = buf
                if not raw:
                    loop.append(f"{'' if is_out else 'const '}{ctype} &{name} = _raw_{name}[i];")
            else:
                decl.append(f"{ctype} {name}")
                call.append(c_scalar(a))
        mask = "".join("a" if isinstance(a, np.ndarray) else "s" for a in args[:len(self.ins)])
        fname = f"{self.spec.name}_{t.name if t is not None else 'none'}_{mask}"
        body = "  for (long long i = 0; i < _n; ++i) {\n    " + "\n    ".join(loop) + "\n" + self.spec.body + "\n  }"

        def finish():
            for buf, target in writes:
                target[...] = buf.reshape(target.shape)
            return outs[0] if len(outs) == 1 else tuple(outs)
        return fname, self._wrap(fname, t, decl, body), call, finish

    def _prepare_reduce(self, args, t, axis):
        assert axis == 1, "the host reduction covers the kernels' case: (N, C) reduced over axis 1"
        shape = np.broadcast_shapes(*[a.shape for a in args])
        assert len(shape) == 2
        rtype = _TYPES[self.spec.reduce_type][0]
        (_, otyp, oname), = self.outs
        octype, onp, _ = self._ctype(otyp, t)
        out = np.empty(shape[0], onp)
        decl = ["long long _rows", "long long _cols"]
        call = [ctypes.c_longlong(shape[0]), ctypes.c_longlong(shape[1])]
        loop = []
        for (raw, typ, name), a in zip(self.ins, args):
            ctype, np_t, _ = self._ctype(typ, t)
            buf = np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np_t)
            decl.append(f"{ctype}* _raw_{name}")
            call.append(ctypes.c_void_p(buf.ctypes.data))
            call[-1]._keep = buf
            loop.append(f"const {ctype} &{name} = _raw_{name}[r * _cols + c];")
        decl.append(f"{octype}* _raw_{oname}")
        call.append(ctypes.c_void_p(out.ctypes.data))
        sp = self.spec
        body = ("  for (long long r = 0; r < _rows; ++r) {\n"
                f"    {rtype} _acc = ({rtype})({sp.identity});\n"
                "    for (long long c = 0; c < _cols; ++c) {\n      " + "\n      ".join(loop) + "\n"
                f"      {rtype} b = ({rtype})({sp.map_expr});\n      {rtype} a = _acc;\n"
                f"      _acc = ({sp.reduce_expr});\n    }}\n"
                f"    {rtype} a = _acc;\n    {octype} &{oname} = _raw_{oname}[r];\n"
                f"    {sp.post_map_expr};\n  }}")
        fname = f"{sp.name}_{t.name}"
        return fname, self._wrap(fname, t, decl, body), call, lambda: out

    def __call__(self, *args, axis=None):
        fname, source, call, finish = self.prepare(args, axis)
        getattr(_compile([source]), fname)(*call)
        return finish()


@pytest.fixture
def host_kernels(monkeypatch):
    """Make _cuda_kernels take its GPU branch for NumPy arrays, with the host-compiled kernels."""
    built = {}

    def kernel(name):
        if name not in built:
            built[name] = HostKernel(_cuda_kernels.KERNELS[name])
        return built[name]
    monkeypatch.setattr(_cuda_kernels, "kernel", kernel)
    monkeypatch.setattr(_cuda_kernels, "_on_gpu", lambda *arrays: True)
    return built


def _rand(shape, dtype, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _sample_args(name, k, dtype):
    """Arguments of the shapes the dispatchers pass: arrays where they pass arrays, else scalars."""
    if k.spec.kind == "reduction":
        return [_rand((2, 3), dtype), _rand((2, 1), dtype)]
    rows = name.startswith("xent_rows")
    args = []
    for raw, typ, pname in k.ins:
        np_t = np.dtype(dtype) if typ == "T" else _TYPES[typ][1]
        if raw:
            args.append(np.zeros(6, np_t))
        elif pname in ("x", "g", "grad", "out") or (rows and pname in ("t", "m", "s")):
            args.append(np.ones((2, 3) if name.startswith("xent_backward") else (2,) if rows else (6,), np_t))
        else:
            args.append(3 if typ == "int64" else 0.5)
    if name.startswith(("adam", "sgd")):
        args += [np.zeros(6, dtype) for _ in k.outs]
    return args


@needs_cxx
def test_every_kernel_source_compiles_for_the_host():
    """All kernels, float32 and float64, built as one library: each body is valid C++ against the
    preamble and the parameter declarations CuPy generates."""
    functions, names = [], []
    for name, spec in sorted(_cuda_kernels.KERNELS.items()):
        k = HostKernel(spec)
        for dtype in (np.float32, np.float64):
            fname, source, _, _ = k.prepare(_sample_args(name, k, dtype), axis=1)
            functions.append(source)
            names.append(fname)
    lib = _compile(functions)
    assert len(names) == 2 * len(_cuda_kernels.KERNELS) >= 40
    for fname in names:
        assert getattr(lib, fname) is not None


@needs_cxx
def test_host_kernel_refuses_mismatched_dtypes_like_cupy():
    k = HostKernel(_cuda_kernels.KERNELS["relu_backward"])
    with pytest.raises(TypeError, match="mismatched"):
        k(np.ones(3, np.float32), np.ones(3, np.float64))


def _adam_case(dtype, amsgrad, seed=0):
    p = _rand((7,), dtype, seed)
    g = _rand((7,), dtype, seed + 1)
    m = _rand((7,), dtype, seed + 2) * 0.1
    v = np.abs(_rand((7,), dtype, seed + 3)) * 0.01
    vmax = v * 1.5 if amsgrad else None
    return p, g, m, v, vmax


@needs_cxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_kernel_matches_reference(host_kernels, monkeypatch, dtype, amsgrad, decoupled):
    args = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=decoupled, step=3.0)
    kp, kg, km, kv, kvmax = _adam_case(dtype, amsgrad)
    assert _cuda_kernels.adam_step_(kp, kg, km, kv, kvmax, **args)
    monkeypatch.setattr(_cuda_kernels, "_on_gpu", lambda *a: False)
    rp, rg, rm, rv, rvmax = _adam_case(dtype, amsgrad)
    assert _cuda_kernels.adam_step_(rp, rg, rm, rv, rvmax, **args)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for a, b in ((kp, rp), (km, rm), (kv, rv)) + (((kvmax, rvmax),) if amsgrad else ()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert not np.array_equal(kp, _adam_case(dtype, amsgrad)[0])      # the parameter moved


@needs_cxx
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_kernels_match_reference(host_kernels, monkeypatch, nesterov):
    kw = dict(lr=0.1, momentum=0.9, dampening=0.0 if nesterov else 0.25, weight_decay=0.01, nesterov=nesterov)
    results = []
    for on_gpu in (True, False):
        monkeypatch.setattr(_cuda_kernels, "_on_gpu", lambda *a, v=on_gpu: v)
        p, buf = _rand((9,), np.float32), None
        for step in range(3):
            buf = _cuda_kernels.sgd_momentum_(p, _rand((9,), np.float32, seed=step + 1), buf, **kw)
        results.append((p, buf))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-7)


_ACTIVATIONS = {
    "relu": (_cuda_kernels.relu_forward, _cuda_kernels.relu_backward, lambda t: TF.relu(t)),
    "sigmoid": (_cuda_kernels.sigmoid_forward, _cuda_kernels.sigmoid_backward, torch.sigmoid),
    "gelu": (_cuda_kernels.gelu_forward, lambda g, x: _cuda_kernels.gelu_backward(g, x), TF.gelu),
    "gelu_tanh": (lambda x: _cuda_kernels.gelu_forward(x, "tanh"),
                  lambda g, x: _cuda_kernels.gelu_backward(g, x, "tanh"), lambda t: TF.gelu(t, approximate="tanh")),
}


def _activation_pair(name, fwd, bwd, x, g):
    y = fwd(x)
    # relu and sigmoid take the forward output in backward, gelu the input
    gi = bwd(g, x if name.startswith("gelu") else y)
    return y, gi


@pytest.mark.parametrize("name", sorted(_ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_references_match_torch(name, dtype):
    fwd, bwd, torch_fn = _ACTIVATIONS[name]
    x = _rand((4, 5), dtype, scale=3.0)
    x[0, 0], x[0, 1] = 0.0, np.nan
    g = _rand((4, 5), dtype, seed=1)
    y, gi = _activation_pair(name, fwd, bwd, x, g)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    ty.backward(torch.tensor(g))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gi, tx.grad.numpy(), rtol=10 * tol, atol=10 * tol)
    assert y.dtype == dtype and gi.dtype == dtype


@needs_cxx
@pytest.mark.parametrize("name", sorted(_ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_kernels_match_references(host_kernels, monkeypatch, name, dtype):
    fwd, bwd, _ = _ACTIVATIONS[name]
    x = _rand((3, 7), dtype, scale=3.0)
    x[0, 0], x[0, 1], x[1, 1] = 0.0, np.nan, -np.inf
    g = _rand((3, 7), dtype, seed=1)
    g[2, 2] = np.inf
    got = _activation_pair(name, fwd, bwd, x, g)
    monkeypatch.setattr(_cuda_kernels, "_on_gpu", lambda *a: False)
    want = _activation_pair(name, fwd, bwd, x, g)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_kernels_decline_what_they_do_not_cover():
    i = np.arange(4)
    assert _cuda_kernels.relu_forward(i) is None
    assert _cuda_kernels.relu_backward(np.ones(3, np.float32), np.ones(3, np.float64)) is None
    h = np.ones(3, np.float16)
    assert _cuda_kernels.adam_step_(h, h, h, h, None, 0.1, 0.9, 0.99, 1e-8, 0, False, 1.0) is False
    assert _cuda_kernels.sgd_momentum_(h, h, None, 0.1, 0.9, 0, 0, False) is None
    ctx = types.SimpleNamespace()
    x, t = np.ones((2, 3), np.float32), np.zeros(2, np.int64)
    assert _cuda_kernels.cross_entropy_forward(ctx, x, None, t, -100, "mean", 0.1) is None      # smoothing
    assert _cuda_kernels.cross_entropy_forward(ctx, np.ones((2, 3, 4), np.float32), None, np.zeros((2, 4), np.int64),
                                               -100, "mean", 0.0) is None                         # (N, C, d)


def _xent_case(dtype, weighted, ignore):
    x = _rand((6, 5), dtype, scale=2.0)
    t = np.array([0, 4, 2, 2, 1, 3], np.int64)
    if ignore:
        t[1] = -100
    w = np.abs(_rand((5,), dtype, seed=3)) + 0.5 if weighted else None
    return x, t, w


def _xent(x, t, w, reduction, g):
    ctx = types.SimpleNamespace()
    loss = _cuda_kernels.cross_entropy_forward(ctx, x, w, t, -100, reduction, 0.0)
    return loss, _cuda_kernels.cross_entropy_backward(ctx, g, x)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_reference_matches_torch(reduction, weighted, ignore):
    x, t, w = _xent_case(np.float64, weighted, ignore)
    g = _rand((6,), np.float64, seed=5) if reduction == "none" else np.array(1.5)
    loss, gx = _xent(x, t, w, reduction, g)
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.cross_entropy(tx, torch.tensor(t), weight=None if w is None else torch.tensor(w), reduction=reduction)
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert loss.dtype == gx.dtype == np.float64


@needs_cxx
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernels_match_reference(host_kernels, monkeypatch, reduction, weighted, dtype):
    x, t, w = _xent_case(dtype, weighted, ignore=True)
    g = _rand((6,), dtype, seed=5) if reduction == "none" else np.array(1.5, dtype)
    got = _xent(x, t, w, reduction, g)
    monkeypatch.setattr(_cuda_kernels, "_on_gpu", lambda *a: False)
    want = _xent(x, t, w, reduction, g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---- the hooks in optim/ops/nn: only non-NumPy arrays reach the kernels ------------------------------

class _Device(np.ndarray):
    """Stands in for a CuPy array at the hooks' `type(x) is not np.ndarray` test."""


def _dev(a):
    return np.asarray(a).view(_Device)


def _trap(monkeypatch):
    hits = []
    for name in ("adam_step_", "sgd_momentum_", "relu_forward", "relu_backward", "sigmoid_forward",
                 "sigmoid_backward", "gelu_forward", "gelu_backward", "cross_entropy_forward",
                 "cross_entropy_backward"):
        real = getattr(_cuda_kernels, name)
        monkeypatch.setattr(_cuda_kernels, name, lambda *a, _n=name, _r=real, **k: (hits.append(_n), _r(*a, **k))[1])
    return hits


def _small_training_run(opt_name, act):
    pellucid.manual_seed(0)
    nn = pellucid.nn
    model = nn.Sequential(nn.Linear(4, 6), act(), nn.Linear(6, 3))
    opt = {"adam": lambda p: pellucid.optim.Adam(p, lr=0.01, amsgrad=True),
           "adamw": lambda p: pellucid.optim.AdamW(p, lr=0.01),
           "sgd": lambda p: pellucid.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)}[opt_name](model.parameters())
    x, y = pellucid.randn(5, 4), pellucid.tensor([0, 1, 2, 0, 1])
    for _ in range(2):
        opt.zero_grad()
        PF.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
def test_cpu_path_never_reaches_the_kernels(monkeypatch, opt_name):
    hits = _trap(monkeypatch)
    for act in (pellucid.nn.ReLU, pellucid.nn.Sigmoid, pellucid.nn.GELU):
        _small_training_run(opt_name, act)
    assert hits == []


def test_hooks_hand_device_arrays_to_the_kernels(monkeypatch):
    """With arrays that look like device arrays, every hook calls its kernel with the right
    arguments and the result equals the CPU path's."""
    from pellucid.nn.functional._activation import Gelu
    from pellucid.nn.functional._loss import CrossEntropy
    from pellucid.ops import _pointwise
    hits = _trap(monkeypatch)
    F = array_ns(np)
    x = _rand((4, 5), np.float32, scale=2.0)
    g = _rand((4, 5), np.float32, seed=1)
    y = _pointwise._relu_fwd(_dev(x))
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(_pointwise._relu_grad(F, _dev(g), None, _dev(y)), np.where(y <= 0, 0, g))
    s = _pointwise._sigmoid_fwd(_dev(x))
    np.testing.assert_allclose(s, _pointwise._sigmoid_fwd(x), rtol=1e-6)
    np.testing.assert_allclose(_pointwise._sigmoid_grad(F, _dev(g), None, _dev(s)), g * (1 - s) * s, rtol=1e-6)
    for approx in ("none", "tanh"):
        ctx = types.SimpleNamespace(inputs=(_dev(x),), params=(approx,))
        np.testing.assert_allclose(Gelu.forward(NO_CTX, _dev(x), approx), Gelu.forward(NO_CTX, x, approx), rtol=1e-6)
        cpu_ctx = types.SimpleNamespace(inputs=(x,), params=(approx,))
        np.testing.assert_allclose(Gelu.backward(ctx, F, _dev(g)), Gelu.backward(cpu_ctx, F, g), rtol=1e-5, atol=1e-6)
    t = np.array([0, 4, 2, 1], np.int64)
    for reduction in ("mean", "none"):
        params = (None, t, -100, reduction, 0.0)
        gctx, cctx = types.SimpleNamespace(params=params), types.SimpleNamespace(params=params)
        gl = CrossEntropy.forward(gctx, _dev(x), None, t, -100, reduction, 0.0)
        cl = CrossEntropy.forward(cctx, x, None, t, -100, reduction, 0.0)
        np.testing.assert_allclose(gl, cl, rtol=1e-6)
        gctx.inputs, cctx.inputs = (_dev(x),), (x,)
        up = np.ones(4, np.float32) if reduction == "none" else np.array(1.0, np.float32)
        np.testing.assert_allclose(CrossEntropy.backward(gctx, F, up), CrossEntropy.backward(cctx, F, up),
                                   rtol=1e-6, atol=1e-7)
    assert {"relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "gelu_forward",
            "gelu_backward", "cross_entropy_forward", "cross_entropy_backward"} <= set(hits)


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
def test_optimizer_hooks_give_the_cpu_result(monkeypatch, opt_name):
    """Parameters that look like device arrays go through the fused update; same numbers."""
    def run(device_like):
        w = pellucid.tensor(_rand((3, 4), np.float32))
        w.requires_grad_(True)
        if device_like:
            w._data = _dev(w._data)
        opt = {"adam": lambda p: pellucid.optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
               "adamw": lambda p: pellucid.optim.AdamW(p, lr=0.01),
               "sgd": lambda p: pellucid.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1,
                                                   weight_decay=0.01)}[opt_name]([w])
        for step in range(3):
            w.grad = pellucid.tensor(_rand((3, 4), np.float32, seed=step + 1))
            opt.step()
        return np.asarray(w._data).copy(), opt
    hits = _trap(monkeypatch)
    cpu, _ = run(False)
    assert hits == []
    dev, opt = run(True)
    assert hits == ["sgd_momentum_" if opt_name == "sgd" else "adam_step_"] * 3
    np.testing.assert_allclose(dev, cpu, rtol=1e-6, atol=1e-7)
    state = next(iter(opt.state.values()))
    assert ("momentum_buffer" in state) if opt_name == "sgd" else float(state["step"]) == 3.0


# ---- DataLoader(pin_memory=True) and .to(non_blocking=True) on CPU ---------------------------------------

def test_pin_memory_and_non_blocking_are_no_ops_on_cpu():
    from pellucid.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(pellucid.arange(10.0).reshape(5, 2), pellucid.arange(5))
    plain = [tuple(b) for b in DataLoader(ds, batch_size=2)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pinned = [tuple(b) for b in DataLoader(ds, batch_size=2, pin_memory=True)]
    assert any("pin_memory" in str(w.message) for w in caught) == (not pellucid.cuda.is_available())
    assert len(plain) == len(pinned) == 3
    for (xa, ya), (xb, yb) in zip(plain, pinned):
        assert xb.device.type == "cpu" and xb.dtype == xa.dtype
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    t = pellucid.randn(3)
    assert t.to("cpu", non_blocking=True) is t                   # as torch: no copy when nothing changes
    d = t.to(pellucid.float64, non_blocking=True)
    assert d.dtype == pellucid.float64 and np.allclose(d.numpy(), t.numpy())
    m = pellucid.nn.Linear(2, 2)
    w = m.weight
    assert m.to("cpu", non_blocking=True) is m and m.weight is w


# ---- bench/bench_gpu.py's models, one tiny step on CPU ------------------------------------------------

def _load_bench():
    path = os.path.join(os.path.dirname(__file__), os.pardir, "bench", "bench_gpu.py")
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_gpu_models_run_one_step_on_cpu():
    bench = _load_bench()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # float16 overflow: GradScaler skips that step
        losses = bench.smoke()
    assert len(losses) == 12 and all(np.isfinite(v) for v in losses.values())
    # ResNet-18 at full width has ResNet-18's parameter count in both frameworks
    for lib in (pellucid, torch):
        assert sum(p.numel() for p in bench.build_resnet18(lib).parameters()) == 11173962


@no_gpu
def test_bench_gpu_stops_with_a_clear_message_without_a_gpu(monkeypatch):
    bench = _load_bench()
    with pytest.raises(SystemExit, match="needs a CUDA GPU and CuPy"):
        bench.benchmark(["mlp64"], steps=1, warmup=0)
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py", "--cases", "mlp64"])
    with pytest.raises(SystemExit, match="(?s)needs a CUDA GPU.*pip install"):
        bench.main()
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py", "--cases", "vgg"])
    with pytest.raises(SystemExit, match="unknown case"):
        bench.main()


def test_dispatch_overhead_measurement_runs():
    bench = _load_bench()
    out = bench.dispatch_overhead(rounds=1, number=20)
    assert set(out) == {"add (no grad)", "mul (builds a graph)", "relu"}
    assert all(w > 0 and wo > 0 for w, wo in out.values())


# ---- on every available device (cuda where a GPU is present; see conftest.DEVICES) ------------------

from conftest import requires_cuda  # noqa: E402


def _train(mod, F, device, opt_name, act, steps=3):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in ((8, 4), (8,), (3, 8), (3,))]
    params = [mod.tensor(a).to(device).requires_grad_() for a in arrays]
    x = mod.tensor(rng.standard_normal((6, 4)).astype(np.float32)).to(device)
    y = mod.tensor(np.array([0, 1, 2, 0, 1, 2])).to(device)
    opt = {"adam": lambda p: mod.optim.Adam(p, lr=0.05, weight_decay=0.01, amsgrad=True),
           "adamw": lambda p: mod.optim.AdamW(p, lr=0.05),
           "sgd": lambda p: mod.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)}[opt_name](params)
    for _ in range(steps):
        opt.zero_grad()
        h = getattr(F, act)(F.linear(x, params[0], params[1]))
        F.cross_entropy(F.linear(h, params[2], params[3]), y).backward()
        opt.step()
    return [p.detach().cpu().numpy() for p in params]


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("act", ["relu", "gelu", "sigmoid"])
def test_training_on_device_matches_torch(device, opt_name, act):
    got = _train(pellucid, PF, device, opt_name, act)
    want = _train(torch, TF, "cpu", opt_name, act)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_autocast_and_grad_scaler_on_device(device):
    x = pellucid.randn(4, 3).to(device)
    w = pellucid.randn(5, 3).to(device).requires_grad_()
    opt = pellucid.optim.SGD([w], lr=0.1)
    scaler = pellucid.amp.GradScaler(device, init_scale=2.0 ** 8, growth_interval=1)
    with pellucid.autocast(device):
        h = pellucid.nn.functional.linear(x, w)
        p = pellucid.softmax(h, 1)
        loss = pellucid.nn.functional.cross_entropy(h, pellucid.tensor([0, 1, 2, 3]).to(device))
    # the lower precision is float16 on CUDA and bfloat16 on the CPU (PyTorch's defaults)
    lower = pellucid.float16 if device == "cuda" else pellucid.bfloat16
    assert h.dtype == lower and loss.dtype == pellucid.float32
    # softmax is a float32 op on CUDA and keeps its input type on CPU, as in PyTorch
    assert p.dtype == (pellucid.float32 if device == "cuda" else lower)
    before = w.detach().cpu().numpy().copy()
    scaler.scale(loss).backward()
    assert w.grad.dtype == pellucid.float32 and w.grad.device.type == device
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 2.0 ** 9
    assert not np.array_equal(before, w.detach().cpu().numpy())


@requires_cuda
def test_gpu_memory_counters_and_peak():
    pellucid.cuda.synchronize()
    base = pellucid.cuda.memory_allocated()
    pellucid.cuda.reset_peak_memory_stats()
    a = pellucid.empty(2 ** 18, device="cuda")            # 1 MiB
    assert pellucid.cuda.memory_allocated() - base == 2 ** 20
    b = pellucid.empty(2 ** 19, device="cuda")            # 2 MiB
    peak = pellucid.cuda.max_memory_allocated()
    assert peak >= base + 3 * 2 ** 20
    del a, b
    assert pellucid.cuda.memory_allocated() == base
    assert pellucid.cuda.max_memory_allocated() == peak
    pellucid.cuda.reset_peak_memory_stats()
    assert pellucid.cuda.max_memory_allocated() == base
    assert pellucid.cuda.memory_reserved() >= pellucid.cuda.memory_allocated()


@requires_cuda
def test_gpu_out_of_memory_error():
    pool = _backend.cupy().get_default_memory_pool()
    pellucid.cuda.empty_cache()                  # no cached block may serve the request
    limit = pool.get_limit()
    pool.set_limit(size=pellucid.cuda.memory_reserved() + 2 ** 20)
    try:
        with pytest.raises(pellucid.cuda.OutOfMemoryError, match="Tried to allocate 64.00 MiB"):
            pellucid.empty(2 ** 24, device="cuda")
    finally:
        pool.set_limit(size=limit)


@requires_cuda
def test_gpu_events_and_streams():
    start, end = pellucid.cuda.Event(enable_timing=True), pellucid.cuda.Event(enable_timing=True)
    x = pellucid.randn(512, 512, device="cuda")
    start.record()
    for _ in range(5):
        x = x @ x / 512
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) > 0
    s = pellucid.cuda.Stream()
    with pellucid.cuda.stream(s):
        assert pellucid.cuda.current_stream() == s
        y = x + 1
    pellucid.cuda.current_stream().wait_stream(s)
    pellucid.cuda.synchronize()
    np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy() + 1, rtol=1e-6)
    props = pellucid.cuda.get_device_properties(0)
    assert props.total_memory > 0 and props.name == pellucid.cuda.get_device_name(0)


@requires_cuda
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gpu_kernels_match_references(dtype):
    def gpu(a):
        return pellucid.tensor(a).to("cuda")._data

    x = _rand((33, 17), dtype, scale=3.0)
    g = _rand((33, 17), dtype, seed=1)
    tol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    for name, (fwd, bwd, _) in _ACTIVATIONS.items():
        for a, b in zip(_activation_pair(name, fwd, bwd, gpu(x), gpu(g)), _activation_pair(name, fwd, bwd, x, g)):
            np.testing.assert_allclose(_backend.to_numpy(a).astype(np.float64), b.astype(np.float64),
                                       rtol=tol, atol=tol, err_msg=name)
    if dtype == np.float16:
        return
    t = np.arange(33) % 17
    t[3] = -100
    for reduction in ("mean", "sum", "none"):
        up = np.ones(33, dtype) if reduction == "none" else np.array(0.5, dtype)
        got = _xent(gpu(x), gpu(t), None, reduction, gpu(up))
        want = _xent(x, t, None, reduction, up)
        for a, b in zip(got, want):
            np.testing.assert_allclose(_backend.to_numpy(a), b, rtol=tol * 10, atol=tol * 10)
    for amsgrad in (False, True):
        cpu_case = _adam_case(dtype, amsgrad)
        gpu_case = [None if a is None else gpu(a) for a in _adam_case(dtype, amsgrad)]
        for case in (cpu_case, gpu_case):
            assert _cuda_kernels.adam_step_(*case, 1e-2, 0.9, 0.999, 1e-8, 0.1, False, 2.0)
        for a, b in zip(gpu_case, cpu_case):
            if a is not None:
                np.testing.assert_allclose(_backend.to_numpy(a), b, rtol=tol * 10, atol=tol * 10)
