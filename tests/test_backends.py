"""pellucid.backends and the global switches: PyTorch's answers on a machine without cuDNN or MPS,
importable submodules, flags that scripts set and read back, and their `with` scopes."""
import importlib

import pytest
import torch

import pellucid


def test_answers_match_a_cpu_pytorch():
    for M in (torch, pellucid):
        assert M.backends.mps.is_available() is False and M.backends.mps.is_built() is False
        assert M.backends.cudnn.is_available() is False and M.backends.cudnn.version() is None
    assert pellucid.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(pellucid.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        assert getattr(pellucid.backends.cuda.matmul, name) == getattr(torch.backends.cuda.matmul, name)


def test_submodules_import_and_flags_stick_and_scope():
    cudnn = importlib.import_module("pellucid.backends.cudnn")
    assert cudnn is pellucid.backends.cudnn
    cudnn.benchmark = True
    try:
        assert pellucid.backends.cudnn.benchmark is True
        with cudnn.flags(enabled=False, deterministic=True):
            assert not cudnn.enabled and cudnn.deterministic
        assert cudnn.enabled and not cudnn.deterministic and cudnn.benchmark
    finally:
        cudnn.benchmark = False


def test_matmul_precision_and_determinism_switches_like_torch():
    for M in (torch, pellucid):
        before = M.get_float32_matmul_precision()
        try:
            M.set_float32_matmul_precision("high")
            assert M.get_float32_matmul_precision() == "high"
            with pytest.warns(UserWarning, match="fast is not one of 'highest', 'high', or 'medium'"):
                M.set_float32_matmul_precision("fast")
            assert M.get_float32_matmul_precision() == "high"
        finally:
            M.set_float32_matmul_precision(before)
    try:
        pellucid.use_deterministic_algorithms(True, warn_only=True)
        assert pellucid.are_deterministic_algorithms_enabled()
        assert pellucid.is_deterministic_algorithms_warn_only_enabled()
    finally:
        pellucid.use_deterministic_algorithms(False)
    assert not pellucid.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="must be bool"):
        pellucid.use_deterministic_algorithms("yes")
