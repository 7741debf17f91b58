"""Type promotion: pellucid.result_type / promote_types and the dtypes real ops produce, checked
against PyTorch over every dtype pair, 0-dim vs dimensioned tensors, and Python scalars."""
import itertools

import numpy as np
import pytest
import torch

import pellucid
from pellucid import _dtype as D

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))
SCALARS = [True, False, 3, -1, 2.5, 0.0]
DIMS = [(1, 1), (1, 0), (0, 1), (0, 0)]


def _make(lib, name, dim):
    return lib.ones((2,) if dim else (), dtype=getattr(lib, name))


def _name(dt):
    return str(dt).split(".")[-1]


@pytest.fixture
def default_float64():
    pellucid.set_default_dtype(pellucid.float64)
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        pellucid.set_default_dtype(pellucid.float32)
        torch.set_default_dtype(torch.float32)


def test_promote_types_every_pair():
    for a, b in PAIRS:
        expected = _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))
        assert pellucid.promote_types(getattr(pellucid, a), getattr(pellucid, b)).name == expected, (a, b)


@pytest.mark.parametrize("dims", DIMS, ids=lambda d: f"dims{d[0]}{d[1]}")
def test_result_type_tensor_pairs(dims):
    da, db = dims
    for a, b in PAIRS:
        expected = _name(torch.result_type(_make(torch, a, da), _make(torch, b, db)))
        got = pellucid.result_type(_make(pellucid, a, da), _make(pellucid, b, db))
        assert got.name == expected, (a, da, b, db)


@pytest.mark.parametrize("dim", [0, 1])
def test_result_type_with_python_scalars(dim):
    for a in NAMES:
        for s in SCALARS + [np.float64(1.5), np.int32(3), np.float32(0.5), np.int64(-2)]:
            expected = _name(torch.result_type(_make(torch, a, dim), s))
            assert pellucid.result_type(_make(pellucid, a, dim), s).name == expected, (a, dim, s)


def test_result_type_of_two_scalars():
    for s1, s2 in itertools.product(SCALARS, SCALARS):
        assert pellucid.result_type(s1, s2).name == _name(torch.result_type(s1, s2)), (s1, s2)


def test_named_examples():
    i32 = pellucid.ones(3, dtype=pellucid.int32)
    assert (i32 + pellucid.tensor(5)).dtype is pellucid.int32           # 0-dim int64 doesn't win
    assert (pellucid.ones(3, dtype=pellucid.float16) + 1.5).dtype is pellucid.float16
    assert (pellucid.ones(3, dtype=pellucid.bool) + 1).dtype is pellucid.int64
    assert (pellucid.ones(3, dtype=pellucid.uint8) + pellucid.ones(3, dtype=pellucid.int8)).dtype is pellucid.int16
    assert (pellucid.ones(3, dtype=pellucid.int64) * 2.5).dtype is pellucid.float32
    assert (pellucid.ones(3) + pellucid.tensor(1.0, dtype=pellucid.float64)).dtype is pellucid.float32
    assert (i32 + pellucid.tensor(1.5, dtype=pellucid.float64)).dtype is pellucid.float64  # higher category
    assert (pellucid.ones(3, dtype=pellucid.int64) / 2).dtype is pellucid.float32


def _ops():
    return {
        "add": (torch.add, pellucid.add),
        "mul": (torch.mul, pellucid.mul),
        "div": (torch.div, pellucid.div),
        "where": (lambda x, y: torch.where(torch.tensor([True, False]), x, y),
                  lambda x, y: pellucid.where(pellucid.tensor([True, False]), x, y)),
        "lt": (torch.lt, pellucid.lt),
        "eq": (torch.eq, pellucid.eq),
        "ge": (torch.ge, pellucid.ge),
    }


def _assert_same_result(ft, fp, targs, pargs, what):
    expected = ft(*targs)
    got = fp(*pargs)
    assert got.dtype.name == _name(expected.dtype), what
    assert tuple(got.shape) == tuple(expected.shape), what
    # through float64: neither library hands bfloat16 to NumPy
    np.testing.assert_allclose(got.double().numpy(), expected.double().numpy(), err_msg=str(what))


@pytest.mark.parametrize("op", list(_ops()))
@pytest.mark.parametrize("dims", DIMS, ids=lambda d: f"dims{d[0]}{d[1]}")
def test_op_result_dtypes_every_pair(op, dims):
    ft, fp = _ops()[op]
    da, db = dims
    for a, b in PAIRS:
        ta, tb = _make(torch, a, da) * 3, _make(torch, b, db) * 2
        pa, pb = _make(pellucid, a, da) * 3, _make(pellucid, b, db) * 2
        _assert_same_result(ft, fp, (ta, tb), (pa, pb), (op, a, da, b, db))


@pytest.mark.parametrize("op", ["add", "mul", "div", "lt", "eq"])
def test_op_result_dtypes_with_scalars(op):
    ft, fp = _ops()[op]
    for a in NAMES:
        for dim in (0, 1):
            for s in (True, 3, 2.5):
                tx, px = _make(torch, a, dim), _make(pellucid, a, dim)
                _assert_same_result(ft, fp, (tx, s), (px, s), (op, a, dim, s))
                if op in ("add", "mul", "div"):     # these accept the scalar first
                    _assert_same_result(ft, fp, (s, tx), (s, px), (op, "reflected", a, dim, s))


def test_reflected_operators_with_scalars():
    for a in NAMES:
        px, tx = _make(pellucid, a, 1), _make(torch, a, 1)
        for s in (2, 1.5):
            assert (s * px).dtype.name == _name((s * tx).dtype)
            assert (s + px).dtype.name == _name((s + tx).dtype)
            assert (s / px).dtype.name == _name((s / tx).dtype)


def test_default_dtype_drives_float_scalars(default_float64):
    assert pellucid.get_default_dtype() is pellucid.float64
    assert pellucid.tensor(1.0).dtype is pellucid.float64
    assert pellucid.tensor([1, 2.5]).dtype is pellucid.float64
    assert pellucid.ones(2).dtype is pellucid.float64
    assert pellucid.arange(0, 1, 0.5).dtype is pellucid.float64
    assert pellucid.full((2,), 1.5).dtype is pellucid.float64
    assert (pellucid.ones(2, dtype=pellucid.int32) * 2.5).dtype is pellucid.float64
    assert (pellucid.ones(2, dtype=pellucid.float32) * 2.5).dtype is pellucid.float32
    assert (pellucid.ones(2, dtype=pellucid.int64) / 2).dtype is pellucid.float64
    for a in NAMES:
        for s in (2.5, 1, True):
            assert pellucid.result_type(_make(pellucid, a, 1), s).name == \
                _name(torch.result_type(_make(torch, a, 1), s))


def test_set_default_dtype_rejects_non_float():
    with pytest.raises(TypeError, match="floating"):
        pellucid.set_default_dtype(pellucid.int64)
    assert pellucid.get_default_dtype() is pellucid.float32


def test_set_default_dtype_float16():
    pellucid.set_default_dtype(pellucid.float16)
    try:
        assert pellucid.tensor([1.5]).dtype is pellucid.float16
        assert (pellucid.ones(2, dtype=pellucid.int8) * 0.5).dtype is pellucid.float16
    finally:
        pellucid.set_default_dtype(pellucid.float32)


def test_as_dtype_accepts_names_numpy_python_and_torch():
    assert D.as_dtype("float64") is pellucid.float64
    assert D.as_dtype("torch.int32") is pellucid.int32
    assert D.as_dtype(np.float16) is pellucid.float16
    assert D.as_dtype(np.dtype("uint8")) is pellucid.uint8
    assert D.as_dtype(float) is pellucid.float32
    assert D.as_dtype(int) is pellucid.int64
    assert D.as_dtype(bool) is pellucid.bool
    assert D.as_dtype(torch.float16) is pellucid.float16
    assert D.as_dtype("torch.DoubleTensor") is pellucid.float64
    assert pellucid.ones(2).type("pellucid.LongTensor").dtype is pellucid.int64
    with pytest.raises(TypeError, match="no dtype"):
        D.as_dtype(np.complex64)


def test_dtype_attributes_match_torch():
    for n in NAMES:
        p, t = getattr(pellucid, n), getattr(torch, n)
        assert p.is_floating_point == t.is_floating_point, n
        assert p.is_signed == t.is_signed, n
        assert p.itemsize == t.itemsize, n
        assert repr(p) == repr(t).replace("torch.", "pellucid."), n
    assert pellucid.float is pellucid.float32 and pellucid.double is pellucid.float64
    assert pellucid.half is pellucid.float16 and pellucid.long is pellucid.int64


def test_numpy_scalars_promote_like_python_numbers():
    assert pellucid.result_type(pellucid.ones(2, dtype=pellucid.float16), np.float64(1.5)) is pellucid.float16
    assert pellucid.result_type(pellucid.ones(2, dtype=pellucid.int32), np.float64(1.5)) is pellucid.float32
    assert pellucid.result_type(pellucid.ones(2, dtype=pellucid.int8), np.int64(7)) is pellucid.int8


def test_bfloat16_named_examples_match_torch():
    """bfloat16 and float16 hold different ranges and precisions, so neither wins: float32."""
    cases = [
        (lambda m: m.ones(3, dtype=m.bfloat16) + m.ones(3, dtype=m.float16), "float32"),
        (lambda m: m.ones(3, dtype=m.float16) * m.ones(3, dtype=m.bfloat16), "float32"),
        (lambda m: m.ones(3, dtype=m.bfloat16) + m.ones(3, dtype=m.float32), "float32"),
        (lambda m: m.ones(3, dtype=m.bfloat16) - m.ones(3, dtype=m.float64), "float64"),
        (lambda m: m.ones(3, dtype=m.bfloat16) * m.arange(3), "bfloat16"),
        (lambda m: m.ones(3, dtype=m.uint8) + m.ones(3, dtype=m.bfloat16), "bfloat16"),
        (lambda m: m.ones(3, dtype=m.bool) * m.ones(3, dtype=m.bfloat16), "bfloat16"),
        (lambda m: m.ones(3, dtype=m.bfloat16) * 2.5, "bfloat16"),
        (lambda m: 1.5 / m.ones(3, dtype=m.bfloat16), "bfloat16"),
        (lambda m: m.ones(3, dtype=m.bfloat16) + 2, "bfloat16"),
        (lambda m: m.ones(3, dtype=m.int32) * m.tensor(1.5, dtype=m.bfloat16), "bfloat16"),
        (lambda m: m.ones(3, dtype=m.int32) / 2, "float32"),
        (lambda m: m.ones(3, dtype=m.float16) + m.tensor(1.5, dtype=m.bfloat16), "float16"),
        (lambda m: m.ones(3, dtype=m.bfloat16) + m.tensor(1.5, dtype=m.float64), "bfloat16"),
        (lambda m: m.tensor(1.5, dtype=m.bfloat16) + m.tensor(1.5, dtype=m.float16), "float32"),
        (lambda m: m.ones(3, dtype=m.bfloat16) + np.float64(0.25), "bfloat16"),
    ]
    for i, (f, name) in enumerate(cases):
        assert _name(f(torch).dtype) == name, i
        assert f(pellucid).dtype.name == name, i
    assert pellucid.promote_types(pellucid.bfloat16, pellucid.float16) is pellucid.float32
    assert pellucid.promote_types(pellucid.float16, pellucid.bfloat16) is pellucid.float32
    assert pellucid.promote_types(pellucid.bfloat16, pellucid.int64) is pellucid.bfloat16


def test_bfloat16_names_and_legacy_type():
    assert D.as_dtype("bfloat16") is pellucid.bfloat16
    assert D.as_dtype("torch.bfloat16") is pellucid.bfloat16
    assert D.as_dtype(torch.bfloat16) is pellucid.bfloat16
    assert D.as_dtype("torch.BFloat16Tensor") is pellucid.bfloat16
    x = pellucid.ones(2).type("torch.BFloat16Tensor")
    assert x.dtype is pellucid.bfloat16
    assert x.type() == "pellucid.BFloat16Tensor" and torch.ones(2).bfloat16().type() == "torch.BFloat16Tensor"
    assert pellucid.BFloat16Tensor([1, 2]).dtype is pellucid.bfloat16
    assert pellucid.BFloat16Tensor(2, 3).shape == (2, 3)
    assert x.is_floating_point() and not x.is_complex()
    assert pellucid.ones(2).bfloat16().dtype is pellucid.bfloat16


def test_set_default_dtype_bfloat16():
    pellucid.set_default_dtype(pellucid.bfloat16)
    torch.set_default_dtype(torch.bfloat16)
    try:
        for mod in (pellucid, torch):
            assert _name(mod.tensor([1.5]).dtype) == "bfloat16"
            assert _name((mod.ones(2, dtype=mod.int8) * 0.5).dtype) == "bfloat16"
            assert _name(mod.ones(2).dtype) == "bfloat16"
        assert repr(pellucid.tensor([1.5])) == repr(torch.tensor([1.5]))
    finally:
        pellucid.set_default_dtype(pellucid.float32)
        torch.set_default_dtype(torch.float32)
