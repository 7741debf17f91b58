"""Parity of comparisons, logical/bitwise ops and value tests with PyTorch."""
import operator

import numpy as np
import pytest
import torch

import pellucid

RNG = np.random.default_rng(99)


def _np(x):
    return x.detach().numpy(force=True) if isinstance(x, torch.Tensor) else np.asarray(x.detach()._data)


def assert_same(p, t, what=""):
    assert p.dtype.name == str(t.dtype).split(".")[-1], f"{what}: dtype {p.dtype} vs {t.dtype}"
    assert tuple(p.shape) == tuple(t.shape), f"{what}: shape {tuple(p.shape)} vs {tuple(t.shape)}"
    np.testing.assert_array_equal(_np(p), _np(t), err_msg=what)


def _pt(a):
    """(pellucid, torch) tensors for an array, or the Python scalar itself twice."""
    if isinstance(a, np.ndarray):
        return pellucid.from_numpy(a), torch.from_numpy(np.array(a))
    return a, a


def check(p_fn, t_fn, *arrays, what=""):
    pairs = [_pt(a) for a in arrays]
    try:
        expected = t_fn(*[t for _, t in pairs])
    except (RuntimeError, TypeError) as e:
        with pytest.raises(type(e)):
            p_fn(*[p for p, _ in pairs])
        return None
    got = p_fn(*[p for p, _ in pairs])
    assert_same(got, expected, what)
    return got


def _values(dtype, shape):
    """Small values with repeats (so == and the orderings all occur), NaN/inf for floats."""
    if dtype == np.bool_:
        return RNG.uniform(size=shape) > 0.5
    a = RNG.integers(-2, 3, shape).astype(dtype) if np.dtype(dtype).kind != "u" else \
        RNG.integers(0, 4, shape).astype(dtype)
    if np.dtype(dtype).kind == "f" and a.size >= 6:
        flat = a.reshape(-1)
        flat[:3] = [np.nan, np.inf, -np.inf]
        flat[3] = 0.5
    return a


COMPARISONS = ["eq", "ne", "lt", "le", "gt", "ge"]
ALIASES = ["greater", "greater_equal", "less", "less_equal", "not_equal"]
OPERATORS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
             "ge": operator.ge}
DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64]


@pytest.mark.parametrize("db", DTYPES)
@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_dtype_pairs_with_broadcasting(name, da, db):
    a, b = _values(da, (2, 3)), _values(db, (3,))
    check(getattr(pellucid, name), getattr(torch, name), a, b, what=name)
    check(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b, what=name + " method")


@pytest.mark.parametrize("name", ALIASES)
def test_comparison_aliases(name):
    a, b = _values(np.float32, (2, 3)), _values(np.int64, (3,))
    check(getattr(pellucid, name), getattr(torch, name), a, b, what=name)
    check(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b, what=name + " method")
    check(lambda x: getattr(x, name)(1), lambda x: getattr(x, name)(1), a, what=name + " scalar")


@pytest.mark.parametrize("scalar", [1, 0.5, -2, True, float("nan"), float("inf")])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_comparison_operators_with_python_scalars_on_both_sides(name, dtype, scalar):
    a = _values(dtype, (2, 3))
    op = OPERATORS[name]
    check(lambda x: op(x, scalar), lambda x: op(x, scalar), a, what=f"t {name} {scalar}")
    check(lambda x: op(scalar, x), lambda x: op(scalar, x), a, what=f"{scalar} {name} t")
    check(lambda x: getattr(pellucid, name)(x, scalar), lambda x: getattr(torch, name)(x, scalar), a)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_comparison_non_contiguous_and_0d(name):
    a = RNG.integers(-2, 3, (3, 2)).astype(np.float32).T
    b = RNG.integers(-2, 3, (2, 6)).astype(np.float64)[:, ::2]
    op = OPERATORS[name]
    check(op, op, a, b)
    check(op, op, a, np.array(1.0))
    check(op, op, np.array(1, dtype=np.int64), b)


def test_comparison_results_never_require_grad():
    x = pellucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x == 2, x < x * 2, pellucid.gt(x, 1.5), x.ne(x), x.isnan(), pellucid.isclose(x, x),
              pellucid.logical_and(x, x), x >= 0):
        assert r.dtype == pellucid.bool and not r.requires_grad and r.grad_fn is None


def test_comparison_with_unsupported_objects():
    x = pellucid.tensor([1, 2])
    assert (x == None) is False  # noqa: E711 - Python's fallback, as with torch
    assert (x != None) is True  # noqa: E711
    assert (x == "a") is False
    with pytest.raises(TypeError):
        x < None  # noqa: B015
    with pytest.raises(TypeError, match="eq"):
        pellucid.eq(x, "a")


def test_tensors_stay_hashable_by_identity():
    a, b = pellucid.tensor([1.0]), pellucid.tensor([1.0])
    assert hash(a) != hash(b) and hash(a) == hash(a)
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert len({a, b, a}) == 2
    assert pellucid.Tensor.__hash__ is not None


def test_comparison_broadcast_error_names_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"eq: The size of tensor a \(3\) must match the size of tensor b "
                                           r"\(4\) at non-singleton dimension 1.*\[2, 3\].*\[2, 4\]"):
        pellucid.ones(2, 3) == pellucid.ones(2, 4)  # noqa: B015
    with pytest.raises(RuntimeError, match=r"bitwise_and: .*\[3\].*\[2\]"):
        pellucid.ones(3, dtype=pellucid.int64) & pellucid.ones(2, dtype=pellucid.int64)
    with pytest.raises(RuntimeError, match=r"logical_or: "):
        pellucid.logical_or(pellucid.ones(3), pellucid.ones(2))


@pytest.mark.parametrize("other", [2, 2.5, "tensor"])
@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.uint8])
@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "greater_equal", "not_equal"])
def test_comparison_inplace_writes_ones_and_zeros_in_own_dtype(name, dtype, other):
    a = _values(dtype, (2, 3))
    a = np.nan_to_num(a) if a.dtype.kind == "f" else a
    b = _values(np.float64, (3,)) if other == "tensor" else other
    p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
    pb, tb = _pt(b)
    assert getattr(p, name + "_")(pb) is p
    getattr(t, name + "_")(tb)
    assert_same(p, t, name + "_")


def test_comparison_inplace_in_graph_gives_zero_gradient():
    x = pellucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.gt_(3.0)
    assert y.tolist() == [0.0, 1.0, 1.0] and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.eq_(1.0)


# ---- logical ------------------------------------------------------------------------------------

@pytest.mark.parametrize("db", DTYPES)
@pytest.mark.parametrize("da", DTYPES)
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops(name, da, db):
    a, b = _values(da, (2, 3)), _values(db, (2, 1))
    check(getattr(pellucid, name), getattr(torch, name), a, b, what=name)
    check(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b, what=name)
    p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
    getattr(p, name + "_")(pellucid.from_numpy(b))
    getattr(t, name + "_")(torch.from_numpy(b.copy()))
    assert_same(p, t, name + "_")


@pytest.mark.parametrize("dtype", DTYPES)
def test_logical_not(dtype):
    a = _values(dtype, (2, 3))
    check(pellucid.logical_not, torch.logical_not, a)
    check(lambda x: x.logical_not(), lambda x: x.logical_not(), a)
    p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
    p.logical_not_()
    t.logical_not_()
    assert_same(p, t)


def test_logical_ops_reject_numbers():
    with pytest.raises(TypeError, match="logical_and"):
        pellucid.logical_and(pellucid.tensor([True]), True)


# ---- bitwise ------------------------------------------------------------------------------------

BITWISE = {"bitwise_and": operator.and_, "bitwise_or": operator.or_, "bitwise_xor": operator.xor}
BIT_DTYPES = [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float32]


@pytest.mark.parametrize("db", BIT_DTYPES)
@pytest.mark.parametrize("da", BIT_DTYPES)
@pytest.mark.parametrize("name", sorted(BITWISE))
def test_bitwise_dtype_pairs(name, da, db):
    a = RNG.integers(0, 16, (2, 3)).astype(da)
    b = RNG.integers(0, 16, (3,)).astype(db)
    check(getattr(pellucid, name), getattr(torch, name), a, b, what=name)
    check(BITWISE[name], BITWISE[name], a, b, what=name + " operator")


@pytest.mark.parametrize("scalar", [5, True, -3, 2.5])
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("name", sorted(BITWISE))
def test_bitwise_with_scalars_reflected_and_inplace(name, dtype, scalar):
    a = RNG.integers(0, 16, (2, 3)).astype(dtype)
    op = BITWISE[name]
    check(lambda x: op(x, scalar), lambda x: op(x, scalar), a, what=f"t op {scalar}")
    check(lambda x: op(scalar, x), lambda x: op(scalar, x), a, what=f"{scalar} op t")
    check(lambda x: getattr(pellucid, name)(x, scalar), lambda x: getattr(torch, name)(x, scalar), a)

    def inplace(mod_tensor):
        def f(x):
            x = x.clone()
            y = x
            x = {"bitwise_and": operator.iand, "bitwise_or": operator.ior, "bitwise_xor": operator.ixor}[name](x, scalar)
            assert x is y
            return x
        return f
    check(inplace(pellucid), inplace(torch), a, what="in-place operator")
    check(lambda x: getattr(x.clone(), name + "_")(scalar), lambda x: getattr(x.clone(), name + "_")(scalar), a)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int32, np.int64, np.float32])
def test_bitwise_not_and_invert(dtype):
    a = RNG.integers(0, 16, (2, 3)).astype(dtype)
    check(pellucid.bitwise_not, torch.bitwise_not, a)
    check(operator.invert, operator.invert, a)
    check(lambda x: x.clone().bitwise_not_(), lambda x: x.clone().bitwise_not_(), a)


def test_bitwise_on_float_names_op_and_dtype():
    with pytest.raises(NotImplementedError, match="bitwise_and.*Float"):
        pellucid.tensor([1.0]) & pellucid.tensor([1.0])
    with pytest.raises(NotImplementedError, match="bitwise_or"):
        pellucid.tensor([1]) | 1.5
    with pytest.raises(NotImplementedError, match="bitwise_not.*Double"):
        pellucid.bitwise_not(pellucid.tensor([1.0], dtype=pellucid.float64))
    with pytest.raises(TypeError, match="invert.*float64"):
        ~pellucid.tensor([1.0], dtype=pellucid.float64)


def test_mask_idioms():
    x = pellucid.tensor([[-1.0, 0.5, 2.0], [3.0, -4.0, 0.0]])
    xt = torch.tensor([[-1.0, 0.5, 2.0], [3.0, -4.0, 0.0]])
    assert_same((x > 0) & (x < 2.5), (xt > 0) & (xt < 2.5))
    assert_same((x > 0) | ~(x < -2), (xt > 0) | ~(xt < -2))
    assert_same((x > 0) ^ True, (xt > 0) ^ True)
    m = x > 0
    m &= x < 2.5
    mt = xt > 0
    mt &= xt < 2.5
    assert_same(m, mt)


# ---- value tests -------------------------------------------------------------------------------

SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 1e-40, -1e-45, 3e38])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.bool_, np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite", "signbit"])
def test_value_tests(name, dtype):
    if np.dtype(dtype).kind == "f":
        with np.errstate(over="ignore"):
            a = SPECIAL.astype(dtype)
    else:
        a = np.array([0, 1, -3, 7, 2]).astype(dtype)
    check(getattr(pellucid, name), getattr(torch, name), a, what=name)
    check(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), a.reshape(-1, 1)[::2], what=name)


@pytest.mark.parametrize("kw", [{}, {"rtol": 0.1}, {"atol": 0.5}, {"rtol": 0, "atol": 0}, {"equal_nan": True},
                                {"rtol": 1e-3, "atol": 1e-3, "equal_nan": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_isclose_allclose(dtype, kw):
    if np.dtype(dtype).kind == "f":
        a = np.array([1.0, 1.0, np.nan, np.inf, -np.inf, np.inf, 100.0, 0.0, 1e-9]).astype(dtype)
        b = np.array([1.0, 1.05, np.nan, np.inf, np.inf, 1e30, 100.4, 1e-9, 0.0]).astype(dtype)
    elif dtype == np.bool_:
        a, b = np.array([True, False, True]), np.array([True, True, False])
    else:
        a, b = np.array([1, 2, 100, -5, 0]).astype(dtype), np.array([1, 3, 101, -5, 1]).astype(dtype)
    check(lambda x, y: pellucid.isclose(x, y, **kw), lambda x, y: torch.isclose(x, y, **kw), a, b)
    check(lambda x, y: x.isclose(y[:1], **kw), lambda x, y: x.isclose(y[:1], **kw), a, b)
    pa, ta = _pt(a)
    pb, tb = _pt(b)
    for x, y in ((pa, pb), (pa, pa)):
        tx, ty = (ta if x is pa else tb), (ta if y is pa else tb)
        got = pellucid.allclose(x, y, **kw)
        assert type(got) is bool and got == torch.allclose(tx, ty, **kw)
        assert x.allclose(y, **kw) == got


def test_isclose_errors():
    with pytest.raises(RuntimeError, match="isclose.*float32.*float64"):
        pellucid.isclose(pellucid.ones(2), pellucid.ones(2, dtype=pellucid.float64))
    with pytest.raises(RuntimeError, match="rtol"):
        pellucid.isclose(pellucid.ones(2), pellucid.ones(2), rtol=-1.0)


def test_equal():
    cases = [
        (np.array([1.0, 2.0]), np.array([1.0, 2.0])), (np.array([1.0, 2.0]), np.array([1.0, 2.5])),
        (np.array([1.0, 2.0]), np.array([[1.0, 2.0]])), (np.array([1, 2]), np.array([1.0, 2.0])),
        (np.array([np.nan]), np.array([np.nan])), (np.zeros((0, 3)), np.zeros((0, 3))),
        (np.array([True, False]), np.array([1, 0])),
    ]
    for a, b in cases:
        got = pellucid.equal(pellucid.from_numpy(a), pellucid.from_numpy(b))
        assert type(got) is bool
        assert got == torch.equal(torch.from_numpy(a), torch.from_numpy(b)), (a, b)
        assert pellucid.from_numpy(a).equal(pellucid.from_numpy(b)) == got
