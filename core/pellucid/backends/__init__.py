"""`pellucid.backends`: what PyTorch scripts ask of `torch.backends`, answered for pellucid.

pellucid computes on NumPy (CPU) and CuPy (CUDA); it does not use cuDNN, MPS, oneDNN or cuSPARSELt.
The questions therefore get true answers (`mps.is_available()` is False, `cudnn.is_available()` is
False), and the tuning switches scripts set (`cudnn.benchmark`, `cudnn.deterministic`,
`cuda.matmul.allow_tf32`, ...) are kept with PyTorch's defaults so that those scripts run; they
select among cuDNN/cuBLAS algorithms pellucid does not call, so they change nothing here.
"""
import contextlib
import warnings
import sys
import types

from .. import cuda as _cuda

__all__ = ["cpu", "cuda", "cudnn", "mps"]


def _flag_module(name, doc, **attrs):
    """A submodule, importable as `import pellucid.backends.<name>` like PyTorch's."""
    mod = types.ModuleType(f"{__name__}.{name}", doc)
    mod.__dict__.update(attrs)
    sys.modules[mod.__name__] = mod
    return mod


# ---- MPS (Apple GPUs) ---------------------------------------------------------------------------
mps = _flag_module("mps", "Apple's Metal GPUs: pellucid has no MPS backend.",
                   is_available=lambda: False, is_built=lambda: False)


# ---- cuDNN --------------------------------------------------------------------------------------
def _cudnn_flags(enabled=None, benchmark=None, benchmark_limit=None, deterministic=None, allow_tf32=None):
    """Set cuDNN switches for a `with` block, then put them back (as torch.backends.cudnn.flags)."""
    saved = {k: getattr(cudnn, k) for k in ("enabled", "benchmark", "deterministic", "allow_tf32")}
    new = {"enabled": enabled, "benchmark": benchmark, "deterministic": deterministic,
           "allow_tf32": allow_tf32}

    @contextlib.contextmanager
    def scope():
        for k, v in new.items():
            if v is not None:
                setattr(cudnn, k, bool(v))
        try:
            yield
        finally:
            for k, v in saved.items():
                setattr(cudnn, k, v)
    return scope()


cudnn = _flag_module(
    "cudnn", "NVIDIA's cuDNN: pellucid's convolutions on the GPU are CuPy GEMMs, not cuDNN calls.",
    is_available=lambda: False, version=lambda: None, enabled=True, benchmark=False,
    deterministic=False, allow_tf32=True)
cudnn.flags = _cudnn_flags


# ---- CUDA ---------------------------------------------------------------------------------------
cuda = _flag_module(
    "cuda", "CUDA through CuPy.",
    is_built=lambda: _cuda.is_available(),
    matmul=types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                 allow_bf16_reduced_precision_reduction=True))


# ---- CPU ----------------------------------------------------------------------------------------
def get_cpu_capability():
    """The widest vector instruction set NumPy's kernels use here: "AVX512", "AVX2" or "DEFAULT"
    (x86 names, as PyTorch reports them)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    if features.get("AVX512F") and features.get("AVX512_SKX"):
        return "AVX512"
    if features.get("AVX2"):
        return "AVX2"
    return "DEFAULT"


cpu = _flag_module("cpu", "The CPU, through NumPy.", get_cpu_capability=get_cpu_capability)


# ---- global switches kept at the top level in PyTorch ---------------------------------------------
_state = {"matmul_precision": "highest", "deterministic": False, "warn_only": False}


def set_float32_matmul_precision(precision):
    """"highest", "high" or "medium": whether float32 matrix products may use TF32/bfloat16 units.
    NumPy and CuPy's default cuBLAS mode compute them in float32 whatever the setting."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic kernels. pellucid's CPU kernels (NumPy) are deterministic; the flag is
    kept for `are_deterministic_algorithms_enabled()`."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not "
                        f"{type(mode).__name__}")
    _state["deterministic"] = mode
    _state["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]
