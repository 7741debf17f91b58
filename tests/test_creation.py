"""Creation functions against PyTorch: values, dtypes, shapes and errors."""
import numpy as np
import pytest
import torch

import pellucid

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _same(p, t, exact=True, rtol=0.0, atol=0.0):
    assert isinstance(p, pellucid.Tensor)
    assert p.dtype.name == str(t.dtype).split(".")[-1]
    assert tuple(p.shape) == tuple(t.shape)
    if exact:
        np.testing.assert_array_equal(p.numpy(), t.numpy())
    else:
        np.testing.assert_allclose(p.numpy().astype(np.float64), t.numpy().astype(np.float64), rtol=rtol,
                                   atol=atol)


def _dt(lib, name):
    return None if name is None else getattr(lib, name)


def _both(fn_name, *args, dtype=None, **kw):
    t = getattr(torch, fn_name)(*args, dtype=_dt(torch, dtype), **kw)
    p = getattr(pellucid, fn_name)(*args, dtype=_dt(pellucid, dtype), **kw)
    return p, t


def _same_error(fn_t, fn_p, exc):
    with pytest.raises(exc):
        fn_t()
    with pytest.raises(exc):
        fn_p()


# ---- zeros / ones / empty / full / eye -------------------------------------------------------

SIZES = [(2, 3), ((2, 3),), ([2, 3],), ((),), (0,), (1, 0, 2), (4,)]


@pytest.mark.parametrize("fn", ["zeros", "ones"])
@pytest.mark.parametrize("dtype", [None, "int64", "bool", "float64", "float16", "uint8"])
def test_zeros_ones(fn, dtype):
    for size in SIZES:
        p, t = _both(fn, *size, dtype=dtype)
        _same(p, t)


def test_size_forms():
    assert pellucid.zeros(pellucid.Size([2, 3])).shape == (2, 3)
    assert pellucid.ones(size=(2,)).shape == (2,)
    assert pellucid.empty(size=[1, 2]).shape == (1, 2)
    assert pellucid.zeros(2, pellucid.tensor(3)).shape == (2, 3)
    assert pellucid.empty(3, 2).shape == (3, 2)
    assert pellucid.empty(3, dtype=pellucid.int32).dtype is pellucid.int32


def test_size_errors():
    with pytest.raises(RuntimeError, match="negative dimension"):
        pellucid.zeros(2, -1)
    with pytest.raises(TypeError, match="size"):
        pellucid.zeros()
    with pytest.raises(TypeError, match="tuple of ints"):
        pellucid.ones(2, 3.0)
    _same_error(lambda: torch.zeros(2, -1), lambda: pellucid.zeros(2, -1), RuntimeError)


def test_requires_grad_on_creation():
    assert pellucid.zeros(2, requires_grad=True).requires_grad
    assert pellucid.ones(2, requires_grad=True).is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        pellucid.ones(2, dtype=pellucid.int64, requires_grad=True)


@pytest.mark.parametrize("value", [1, 1.5, True, -1, np.float64(2.5), np.int32(4), 0])
@pytest.mark.parametrize("dtype", [None, "int64", "float16", "bool", "uint8", "float64"])
def test_full_matches_torch(value, dtype):
    p, t = _both("full", (2, 3), value, dtype=dtype)
    _same(p, t)


def test_full_forms_and_errors():
    _same(pellucid.full([2], pellucid.tensor(1.5)), torch.full([2], torch.tensor(1.5)))
    _same(pellucid.full((), 7), torch.full((), 7))
    with pytest.raises(TypeError, match="tuple of ints"):
        pellucid.full(3, 1.0)
    _same_error(lambda: torch.full((2,), 300, dtype=torch.uint8),
                lambda: pellucid.full((2,), 300, dtype=pellucid.uint8), RuntimeError)
    _same_error(lambda: torch.full((2,), float("nan"), dtype=torch.int32),
                lambda: pellucid.full((2,), float("nan"), dtype=pellucid.int32), RuntimeError)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (3, 0)])
@pytest.mark.parametrize("dtype", [None, "int64", "bool", "float64"])
def test_eye(args, dtype):
    p, t = _both("eye", *args, dtype=dtype)
    _same(p, t)


def test_eye_errors():
    with pytest.raises(RuntimeError, match="n must be greater or equal to 0"):
        pellucid.eye(-1)
    with pytest.raises(RuntimeError, match="m must be greater or equal to 0"):
        pellucid.eye(2, -1)


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like"])
def test_like_functions(fn):
    for name in ["int32", "float16", "float64", "bool"]:
        src_t = torch.ones(2, 3, dtype=getattr(torch, name))
        src_p = pellucid.ones(2, 3, dtype=getattr(pellucid, name))
        p, t = getattr(pellucid, fn)(src_p), getattr(torch, fn)(src_t)
        assert p.dtype.name == name and tuple(p.shape) == (2, 3)
        if fn != "empty_like":
            _same(p, t)
        p2, t2 = getattr(pellucid, fn)(src_p, dtype=pellucid.float64), getattr(torch, fn)(src_t, dtype=torch.float64)
        assert p2.dtype is pellucid.float64 and t2.dtype is torch.float64
    src = pellucid.ones(2, requires_grad=True)
    out = getattr(pellucid, fn)(src)
    assert not out.requires_grad and out.device == src.device
    assert getattr(pellucid, fn)(src, requires_grad=True).requires_grad


def test_full_like_keeps_input_dtype():
    _same(pellucid.full_like(pellucid.ones(2, dtype=pellucid.int64), 2.7),
          torch.full_like(torch.ones(2, dtype=torch.int64), 2.7))
    _same(pellucid.full_like(pellucid.ones(2, 2), 3), torch.full_like(torch.ones(2, 2), 3))
    _same(pellucid.full_like(pellucid.ones(2), 1, dtype=pellucid.bool),
          torch.full_like(torch.ones(2), 1, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="overflow"):
        pellucid.full_like(pellucid.ones(2, dtype=pellucid.uint8), 300)


# ---- arange / linspace / logspace ------------------------------------------------------------

ARANGE_ARGS = [(5,), (0, 5), (1, 10, 3), (0, 1, 0.1), (0, 1, 0.3), (-3, 4.5, 0.7), (10, 0, -1),
               (0.0, 5.0), (2.5,), (0, 1e-3, 1e-5), (1, 2, 0.1), (-1, 1, 0.01), (0, 100, 7), (5, 5),
               (10, 0, -3), (-5, 5, 2), (0.5, 4.7, 1.5)]


@pytest.mark.parametrize("args", ARANGE_ARGS, ids=str)
def test_arange_float(args):
    for dtype in [None, "float32", "float64", "float16"]:
        p, t = _both("arange", *args, dtype=dtype)
        # same length rule; values differ from PyTorch's vectorised kernel by at most rounding
        step = abs(args[2]) if len(args) == 3 else 1
        half = dtype == "float16"
        _same(p, t, exact=False, rtol=2e-3 if half else 1e-6, atol=(1e-3 if half else 1e-6) * step)


INT_ARANGE_ARGS = [(5,), (0, 5), (1, 10, 3), (10, 0, -1), (5, 5), (10, 0, -3), (-5, 5, 2), (0, 100, 7),
                   (2.5,), (0.5, 4.7, 1.5), (0, 4.7, 1.5), (0.5, 4.7, 1), (-3, 4.5, 1)]


@pytest.mark.parametrize("args", INT_ARANGE_ARGS, ids=str)
def test_arange_integer_length_rule(args):
    # integral dtypes truncate the bounds; int64 counts with integer arithmetic, others with doubles
    for dtype in ["int64", "int32", "int16", "uint8"] if min(a for a in args) >= 0 else ["int64", "int32", "int8"]:
        p, t = _both("arange", *args, dtype=dtype)
        _same(p, t)


def test_arange_dtype_inference():
    assert pellucid.arange(5).dtype is pellucid.int64
    assert pellucid.arange(5.0).dtype is pellucid.float32
    assert pellucid.arange(0, 5, 0.5).dtype is pellucid.float32
    assert pellucid.arange(pellucid.tensor(4)).dtype is pellucid.int64
    _same(pellucid.arange(pellucid.tensor(4)), torch.arange(torch.tensor(4)))


def test_arange_errors():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        pellucid.arange(0, 10, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        pellucid.arange(1, 0)
    with pytest.raises(RuntimeError, match="unsupported range"):
        pellucid.arange(0, float("inf"))
    _same_error(lambda: torch.arange(1, 0), lambda: pellucid.arange(1, 0), RuntimeError)
    _same_error(lambda: torch.arange(0, 5, -1), lambda: pellucid.arange(0, 5, -1), RuntimeError)


def test_arange_out_and_requires_grad():
    out = pellucid.empty(0)
    res = pellucid.arange(5, out=out)
    assert res is out and out.dtype is pellucid.float32
    np.testing.assert_array_equal(out.numpy(), np.arange(5, dtype=np.float32))
    assert out._version_count == 1
    assert pellucid.arange(3.0, requires_grad=True).requires_grad


LIN_ARGS = [(0, 1, 5), (0, 1, 1), (0, 1, 0), (-3.3, 7.1, 6), (0, 10, 4), (10, 0, 7), (0, 1, 2), (2, 2, 3),
            (-1.7, 2.9, 7)]


@pytest.mark.parametrize("args", LIN_ARGS, ids=str)
def test_linspace_exact_small(args):
    # few points: PyTorch's scalar kernel runs, and pellucid reproduces its arithmetic exactly
    for dtype in [None, "float32", "float64", "float16"]:
        p, t = _both("linspace", *args, dtype=dtype)
        _same(p, t)


@pytest.mark.parametrize("args", [(1, 10, 100), (-1, 1, 101), (1e-3, 2.7, 1000), (-3.3, 7.1, 13)], ids=str)
def test_linspace_many_points(args):
    # PyTorch's vectorised kernel rounds a little differently from its scalar one
    scale = abs(args[0]) + abs(args[1])
    for dtype, rtol in [(None, 1e-6), ("float64", 1e-13), ("float16", 1e-3)]:
        p, t = _both("linspace", *args, dtype=dtype)
        _same(p, t, exact=False, rtol=rtol, atol=rtol * 1e-1 * scale)
        assert p.numpy()[0] == t.numpy()[0] and p.numpy()[-1] == t.numpy()[-1]


@pytest.mark.parametrize("args", [(0, 10, 4), (10, 0, 3), (0, 1, 1), (-1, 1, 5), (0, 255, 6)], ids=str)
def test_linspace_integer(args):
    for dtype in ["int64", "int32", "uint8"] if args[0] >= 0 and args[1] >= 0 else ["int64", "int16"]:
        p, t = _both("linspace", *args, dtype=dtype)
        _same(p, t)
    _same(pellucid.linspace(-1, 1, 5, dtype=pellucid.uint8), torch.linspace(-1, 1, 5, dtype=torch.uint8))


def test_linspace_errors():
    with pytest.raises(RuntimeError, match="non-negative"):
        pellucid.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="steps"):
        pellucid.linspace(0, 1, 2.5)
    _same_error(lambda: torch.linspace(-3.3, 1, 4, dtype=torch.uint8),
                lambda: pellucid.linspace(-3.3, 1, 4, dtype=pellucid.uint8), RuntimeError)


@pytest.mark.parametrize("args", [(0, 1, 5), (-3.3, 7.1, 13), (0, 10, 4), (-1, 1, 101), (1, 10, 100), (2, 2, 1)],
                         ids=str)
@pytest.mark.parametrize("base", [10.0, 2.0, 3.7])
def test_logspace(args, base):
    # PyTorch's logspace is a scalar loop: float32 matches bit for bit; double pow may differ
    # from the C library's in the last bit
    p, t = _both("logspace", *args, base=base)
    _same(p, t)
    p, t = _both("logspace", *args, base=base, dtype="float64")
    _same(p, t, exact=False, rtol=4e-16)
    p, t = _both("logspace", *args, base=base, dtype="float16")
    _same(p, t, exact=False, rtol=1e-3)


def test_logspace_integer():
    for args in [(0, 3, 4), (-3.3, 7.1, 13), (0, 10, 4)]:
        for dtype in ["int64", "int32"]:
            p, t = _both("logspace", *args, dtype=dtype)
            _same(p, t)
    _same(pellucid.logspace(0, 4, 5, base=2, dtype=pellucid.int64), torch.logspace(0, 4, 5, base=2, dtype=torch.int64))


def test_range_includes_end():
    with pytest.warns(UserWarning):
        expected = torch.range(0, 2, 0.5)
    _same(pellucid.range(0, 2, 0.5), expected)


# ---- tensor(), as_tensor, from_numpy ----------------------------------------------------------

INFER = [[1, 2], [1.0, 2], [True, False], [[1, 2], [3, 4.5]], [True, 2], [], [[], []], 3, 3.5, True,
         np.float64(1.5), [np.float64(1.5)], [np.int32(3)], [1, np.float16(3)], [np.int32(3), np.int8(3)],
         np.arange(3, dtype=np.int16), np.zeros((2, 2), np.float16), (1, 2, 3), [(1, 2), (3, 4)],
         float("nan"), -1, np.arange(6).reshape(2, 3).T, range(4)]


@pytest.mark.parametrize("data", INFER, ids=lambda d: repr(d)[:30])
def test_tensor_inference_matches_torch(data):
    _same(pellucid.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_with_dtype(dtype):
    for data in [[0, 1, 2], [0.0, 1.5, -0.0], [True, False], 7, [[1, 0], [0, 1]]]:
        p, t = pellucid.tensor(data, dtype=getattr(pellucid, dtype)), torch.tensor(data, dtype=getattr(torch, dtype))
        _same(p, t)


def test_tensor_cast_overflow_like_torch():
    _same(pellucid.tensor([-1], dtype=pellucid.uint8), torch.tensor([-1], dtype=torch.uint8))
    _same(pellucid.tensor([1e300], dtype=pellucid.float32), torch.tensor([1e300], dtype=torch.float32))
    _same(pellucid.tensor([70000.0], dtype=pellucid.float16), torch.tensor([70000.0], dtype=torch.float16))
    _same(pellucid.tensor([2.7, -2.7], dtype=pellucid.int64), torch.tensor([2.7, -2.7], dtype=torch.int64))
    for data, name in [([300], "uint8"), ([-300], "uint8"), ([-0.5], "uint8"), ([1e20], "int64"),
                       ([float("inf")], "int32"), ([128], "int8"), ([float("nan")], "int64")]:
        _same_error(lambda: torch.tensor(data, dtype=getattr(torch, name)),
                    lambda: pellucid.tensor(data, dtype=getattr(pellucid, name)), RuntimeError)


def test_tensor_errors():
    with pytest.raises(ValueError):
        pellucid.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="str"):
        pellucid.tensor("a")
    with pytest.raises(TypeError, match="str"):
        pellucid.tensor(["a"], dtype=pellucid.int64)
    with pytest.raises(ValueError, match="too large"):
        pellucid.tensor([1, 2 ** 63])


def test_tensor_from_tensors_and_arrays():
    a = pellucid.tensor([1.0, 2.0], requires_grad=True)
    b = pellucid.tensor(a)
    assert not b.requires_grad and b.dtype is pellucid.float32
    b.numpy()[0] = 9
    assert a.detach().numpy()[0] == 1.0                         # a copy
    zero_dims = [pellucid.tensor(1.0), pellucid.tensor(2.0)]
    _same(pellucid.tensor(zero_dims), torch.tensor([torch.tensor(1.0), torch.tensor(2.0)]))
    mixed = pellucid.tensor([pellucid.tensor(1, dtype=pellucid.int32), 2.5])
    _same(mixed, torch.tensor([torch.tensor(1, dtype=torch.int32), 2.5]))
    stacked = pellucid.tensor([pellucid.tensor([1, 2]), pellucid.tensor([3, 4])])
    np.testing.assert_array_equal(stacked.numpy(), [[1, 2], [3, 4]])
    arr = np.arange(4, dtype=np.int32)
    t = pellucid.tensor(arr)
    arr[0] = 100
    assert t.dtype is pellucid.int32 and t.numpy()[0] == 0       # tensor() copies
    big_endian = np.array([1, 2], dtype=">i4")
    np.testing.assert_array_equal(pellucid.tensor(big_endian).numpy(), [1, 2])
    assert pellucid.tensor(torch.tensor([1.5, 2.5], dtype=torch.float64)).dtype is pellucid.float64
    assert pellucid.tensor([1.0], dtype=float).dtype is pellucid.float32
    assert pellucid.tensor(3.0, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        pellucid.tensor([1, 2], requires_grad=True)


def test_as_tensor_shares_when_it_can():
    arr = np.arange(4, dtype=np.float32)
    t = pellucid.as_tensor(arr)
    arr[0] = 7
    assert t.numpy()[0] == 7
    t64 = pellucid.as_tensor(arr, dtype=pellucid.float64)
    arr[1] = 8
    assert t64.numpy()[1] == 1.0
    src = pellucid.ones(2)
    assert pellucid.as_tensor(src) is src
    assert pellucid.as_tensor([1, 2]).dtype is pellucid.int64


def test_from_numpy_shares_memory_and_rejects():
    arr = np.zeros(3, dtype=np.int16)
    t = pellucid.from_numpy(arr)
    t.numpy()[1] = 5
    assert arr[1] == 5 and t.dtype is pellucid.int16
    arr[2] = 9
    assert t.tolist() == [0, 5, 9]
    with pytest.raises(TypeError, match="np.ndarray"):
        pellucid.from_numpy([1, 2])
    with pytest.raises(TypeError, match="supported"):
        pellucid.from_numpy(np.zeros(2, dtype=np.complex64))
    with pytest.raises(ValueError, match="byte order"):
        pellucid.from_numpy(np.zeros(2, dtype=">f4"))


def test_scalar_tensor():
    _same(pellucid.scalar_tensor(3), torch.scalar_tensor(3))
    _same(pellucid.scalar_tensor(1.5, dtype=pellucid.float64), torch.scalar_tensor(1.5, dtype=torch.float64))


def test_out_argument_resizes_and_writes():
    out = pellucid.empty(2, 2)
    res = pellucid.zeros(2, 2, out=out)
    assert res is out and out.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    out2 = pellucid.ones(5)
    pellucid.linspace(0, 1, 3, out=out2)
    assert out2.tolist() == [0.0, 0.5, 1.0]
    out3 = pellucid.empty(3, dtype=pellucid.float64)
    pellucid.full((3,), 2, out=out3)
    assert out3.dtype is pellucid.float64 and out3.tolist() == [2.0, 2.0, 2.0]
