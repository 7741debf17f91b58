"""Tensor printing: repr/str must equal PyTorch's once 'torch.' is read as 'pellucid.'."""
import numpy as np
import pytest
import torch

import pellucid


@pytest.fixture(autouse=True)
def _default_print_options():
    yield
    pellucid.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


def _expected(t):
    return repr(t).replace("torch.", "pellucid.")


def _check(arr):
    """repr and str of the same data in both libraries."""
    pt = pellucid.tensor(arr)
    tt = torch.from_numpy(np.array(arr, copy=True))
    assert repr(pt) == _expected(tt)
    assert str(pt) == str(tt).replace("torch.", "pellucid.")


_rng = np.random.default_rng(0)

CASES = {
    "float_scalar": np.array(3.5, np.float32),
    "int_scalar": np.array(-7, np.int64),
    "bool_scalar": np.array(True),
    "nan_scalar": np.array(np.nan, np.float32),
    "neg_zero": np.array(-0.0, np.float32),
    "big_scalar": np.array(1e10, np.float32),
    "f32_1d_int_mode": np.arange(10, dtype=np.float32),
    "i64_1d": np.arange(10),
    "i64_3d": np.arange(24).reshape(2, 3, 4),
    "f64_4d": np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5) / 7,
    "f32_random": _rng.standard_normal((5, 7)).astype(np.float32),
    "f16_random": _rng.standard_normal((5, 7)).astype(np.float16),
    "f64_random": _rng.standard_normal(3),
    "sci_small": np.array([1e-5, 1.0, 100.0], np.float32),
    "sci_large": np.array([1e10, 1.0], np.float32),
    "sci_ratio": np.array([123456789.0, 0.1], np.float64),
    "nonfinite": np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),
    "nan_int_mode": np.array([np.nan, 1.0], np.float32),
    "zeros": np.zeros(2, np.float32),
    "negatives": np.array([-1.0, 2, -300], np.float32),
    "summarised_1d": np.arange(2000, dtype=np.float32),
    "summarised_2d_int": np.arange(2000).reshape(40, 50),
    "wrapped_rows": _rng.standard_normal((20, 60)).astype(np.float32),
    "wide_values": (_rng.standard_normal(100) * 1000).astype(np.float32),
    "tiny_values": (_rng.standard_normal((4, 30)) * 1e-6).astype(np.float32),
    "bool_1d": np.array([True, False, True]),
    "int8": np.arange(-50, 50, dtype=np.int8),
    "uint8": np.arange(30, dtype=np.uint8),
    "int32": np.arange(30, dtype=np.int32),
    "int16": np.arange(30, dtype=np.int16),
    "empty_2d": np.zeros((0, 3), np.float32),
    "empty_1d": np.zeros((0,), np.float32),
    "empty_int": np.zeros((0,), np.int64),
    "empty_half_3d": np.zeros((2, 0, 1), np.float16),
    "empty_bool": np.zeros((0,), bool),
    "big_ints": _rng.integers(-1000000, 100000000, size=(10, 10)),
    "cube": _rng.random((11, 11, 11)).astype(np.float32),
    "ones_4d_half": np.ones((1, 1, 1, 1), np.float16),
    "half_exact": np.array([0.5, 0.25], np.float16),
    "summarised_rows": _rng.standard_normal((3, 1000)).astype(np.float32),
    "summarised_f64": _rng.standard_normal(1001),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_matches_torch(name):
    _check(CASES[name])


OPTIONS = [
    dict(precision=2),
    dict(threshold=5),
    dict(edgeitems=1, threshold=10),
    dict(linewidth=40),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short"),
    dict(profile="full"),
    dict(edgeitems=0),
    dict(precision=8, linewidth=120),
]
OPTION_CASES = ["f32_random", "f16_random", "f64_4d", "sci_small", "nonfinite", "summarised_1d",
                "summarised_2d_int", "wrapped_rows", "bool_1d", "empty_2d", "float_scalar", "i64_3d",
                "summarised_f64", "ones_4d_half"]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_print_options_match_torch(options):
    pellucid.set_printoptions(**options)
    torch.set_printoptions(**options)
    for name in OPTION_CASES:
        _check(CASES[name])


def test_profile_default_restores_and_sci_mode_resets():
    pellucid.set_printoptions(precision=2, sci_mode=True)
    assert repr(pellucid.tensor([1.5])) == "tensor([1.50e+00])"
    pellucid.set_printoptions(profile="default")
    assert repr(pellucid.tensor([1.12345])) == "tensor([1.1235])"
    assert pellucid._tensor_str.get_printoptions()["sci_mode"] is None
    with pellucid._tensor_str.printoptions(precision=1):
        assert repr(pellucid.tensor([1.25])) == "tensor([1.2])"
    assert repr(pellucid.tensor([1.25])) == "tensor([1.2500])"
    with pytest.raises(ValueError, match="profile"):
        pellucid.set_printoptions(profile="nope")


def test_requires_grad_and_grad_fn_suffixes():
    data = [[1.0, -2.5], [3.0, 4.25]]
    p = pellucid.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    assert repr(p) == _expected(t)
    assert repr(p * 2) == _expected(t * 2)
    assert repr(p + 1) == _expected(t + 1)
    assert repr((p * p).sum()) == _expected((t * t).sum())
    assert repr(p.double()) == _expected(t.double())
    assert repr(p.detach()) == _expected(t.detach())
    assert "grad_fn=<MulBackward0>" in repr(p * 2)
    assert "grad_fn=<SumBackward0>" in repr(p.sum())


def test_suffix_wraps_at_linewidth_like_torch():
    # the dtype suffix goes on its own line exactly when PyTorch puts it there
    for n in (5, 6, 7, 8, 9):
        arr = np.linspace(-1, 1, n).astype(np.float64) * 3.3
        _check(arr)
    p = pellucid.tensor(np.arange(12, dtype=np.float16).reshape(3, 4) / 3, requires_grad=True)
    t = torch.tensor(np.arange(12, dtype=np.float16).reshape(3, 4) / 3, requires_grad=True)
    assert repr(p * 2) == _expected(t * 2)


def test_default_dtype_changes_suffix():
    old = pellucid.get_default_dtype()
    pellucid.set_default_dtype(pellucid.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for arr in (np.array([1.5, 2.0]), np.array([1.5, 2.0], np.float32), np.zeros((0,), np.float64),
                    np.zeros((0,), np.float32)):
            _check(arr)
    finally:
        pellucid.set_default_dtype(old)
        torch.set_default_dtype(torch.float32)


def test_format_of_zero_dim_tensor():
    assert f"{pellucid.tensor(2.5):.2f}" == "2.50"
    assert f"{pellucid.tensor(3)}" == "3"


BF16_CASES = ["float_scalar", "nan_scalar", "neg_zero", "big_scalar", "f32_1d_int_mode", "f32_random", "sci_small",
              "sci_large", "nonfinite", "zeros", "negatives", "summarised_1d", "wrapped_rows", "wide_values",
              "tiny_values", "empty_2d", "empty_1d", "cube", "summarised_rows"]


@pytest.mark.parametrize("name", BF16_CASES)
def test_bfloat16_repr_matches_torch(name):
    """bfloat16 tensors print their rounded values with a dtype=bfloat16 suffix, as in PyTorch."""
    arr = CASES[name]
    pt, tt = pellucid.tensor(arr).bfloat16(), torch.from_numpy(np.array(arr, copy=True)).bfloat16()
    assert repr(pt) == _expected(tt)
    assert str(pt) == str(tt).replace("torch.", "pellucid.")


def test_bfloat16_repr_with_options_and_grad_suffix():
    data = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    p = pellucid.tensor(data).bfloat16().requires_grad_()
    t = torch.tensor(data).bfloat16().requires_grad_()
    assert repr(p) == _expected(t)
    assert repr(p * 2) == _expected(t * 2)
    assert repr(p.sum()) == _expected(t.sum())
    for options in OPTIONS:
        pellucid.set_printoptions(**options)
        torch.set_printoptions(**options)
        assert repr(p.detach()) == _expected(t.detach()), options
