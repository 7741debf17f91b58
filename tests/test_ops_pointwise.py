"""Parity of the elementwise math ops with PyTorch: values, dtypes, shapes, gradients,
integer/bool inputs, in-place forms, errors, and finite-difference checks in float64."""
import math

import numpy as np
import pytest
import torch

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(1234)


def _sample(domain, shape):
    if domain == "any":
        a = RNG.uniform(-2.0, 2.0, shape)
    elif domain == "pos":
        a = RNG.uniform(0.2, 3.0, shape)
    elif domain == "unit":
        a = RNG.uniform(-0.9, 0.9, shape)
    elif domain == "gt1":
        a = RNG.uniform(1.2, 3.0, shape)
    elif domain == "nonzero":
        a = RNG.uniform(0.3, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)
    else:
        raise ValueError(domain)
    return np.asarray(a)


def _layout(domain, layout, dtype):
    """A NumPy array (2x3 unless 0-d) with the given memory layout."""
    if layout == "contiguous":
        a = _sample(domain, (2, 3))
    elif layout == "transposed":
        a = _sample(domain, (3, 2)).astype(dtype).T
    elif layout == "sliced":
        a = _sample(domain, (2, 6)).astype(dtype)[:, ::2]
    elif layout == "0d":
        a = _sample(domain, ())
    else:
        raise ValueError(layout)
    return np.asarray(a).astype(dtype, copy=False)


def _pair(arr, requires_grad=False):
    """The same data as a pellucid tensor (sharing the array's layout) and a torch tensor."""
    p = pellucid.from_numpy(arr)
    t = torch.from_numpy(np.array(arr))
    if requires_grad:
        p.requires_grad_()
        t.requires_grad_()
    return p, t


def _np(x):
    return x.detach().numpy(force=True) if isinstance(x, torch.Tensor) else np.asarray(x.detach()._data)


def _tol(dtype_name):
    return {"float16": (1e-3, 1e-3), "float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}.get(dtype_name, (0, 0))


def assert_same(p, t, what=""):
    """Values, dtype and shape of a pellucid result equal PyTorch's."""
    assert p.dtype.name == str(t.dtype).split(".")[-1], f"{what}: dtype {p.dtype} vs {t.dtype}"
    assert tuple(p.shape) == tuple(t.shape), f"{what}: shape {tuple(p.shape)} vs {tuple(t.shape)}"
    rtol, atol = _tol(p.dtype.name)
    np.testing.assert_allclose(_np(p).astype(np.float64) if p.dtype.name != "bool" else _np(p),
                               _np(t).astype(np.float64) if p.dtype.name != "bool" else _np(t),
                               rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def check_op_or_error(p_fn, t_fn, arrays, grad=True, what=""):
    """check_op, or, where PyTorch raises for these inputs, the same error class from pellucid."""
    try:
        t_fn(*[torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in arrays])
    except (RuntimeError, TypeError) as e:
        with pytest.raises(type(e)):
            p_fn(*[pellucid.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in arrays])
        return
    check_op(p_fn, t_fn, arrays, grad, what)


def check_op(p_fn, t_fn, arrays, grad=True, what=""):
    """Run both frameworks on the same inputs (arrays, or Python scalars kept as they are);
    compare outputs and the gradients of (out * w).sum() for every floating input."""
    pairs = [(_pair(a, grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else (a, a)) for a in arrays]
    p_out = p_fn(*[p for p, _ in pairs])
    t_out = t_fn(*[t for _, t in pairs])
    assert_same(p_out, t_out, what)
    if not grad or not t_out.requires_grad:
        return
    w = RNG.uniform(0.5, 1.5, tuple(t_out.shape)).astype(_np(t_out).dtype)
    (p_out * pellucid.from_numpy(w.copy())).sum().backward()
    (t_out * torch.from_numpy(w.copy())).sum().backward()
    for i, (p, t) in enumerate(pairs):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert p.grad is not None, f"{what}: no gradient for input {i}"
            assert_same(p.grad, t.grad, f"{what}: gradient of input {i}")


# ---- unary ops -------------------------------------------------------------------------------

UNARY = {
    # name: (domain, differentiable)
    "abs": ("nonzero", True), "absolute": ("nonzero", True), "sign": ("any", True), "sgn": ("any", True),
    "exp": ("any", True), "exp2": ("any", True), "expm1": ("any", True), "log": ("pos", True),
    "log2": ("pos", True), "log10": ("pos", True), "log1p": ("pos", True), "sqrt": ("pos", True),
    "rsqrt": ("pos", True), "square": ("any", True), "reciprocal": ("nonzero", True), "sin": ("any", True),
    "cos": ("any", True), "tan": ("unit", True), "asin": ("unit", True), "acos": ("unit", True),
    "atan": ("any", True), "arcsin": ("unit", True), "arccos": ("unit", True), "arctan": ("any", True),
    "sinh": ("any", True), "cosh": ("any", True), "tanh": ("any", True), "asinh": ("any", True),
    "acosh": ("gt1", True), "atanh": ("unit", True), "arcsinh": ("any", True), "arccosh": ("gt1", True),
    "arctanh": ("unit", True), "sigmoid": ("any", True), "relu": ("nonzero", True), "erf": ("any", True),
    "erfc": ("any", True), "floor": ("any", True), "ceil": ("any", True), "round": ("any", True),
    "trunc": ("any", True), "fix": ("any", True), "frac": ("any", True), "deg2rad": ("any", True),
    "rad2deg": ("any", True), "nan_to_num": ("any", True),
    "positive": ("any", False),     # returns its input itself: no op, so nothing to gradcheck
}
LAYOUTS = ["contiguous", "transposed", "sliced", "0d"]


def _torch_fn(name):
    # torch.sgn equals torch.sign on real tensors; its backward takes seconds to load the first time
    return torch.sign if name == "sgn" else getattr(torch, name)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float_values_and_gradients(name, dtype, layout):
    domain, _ = UNARY[name]
    a = _layout(domain, layout, dtype)
    check_op(getattr(pellucid, name), _torch_fn(name), [a], what=name)
    # the Tensor method gives the same
    p = pellucid.from_numpy(a)
    assert_same(getattr(p, name)(), getattr(torch, name)(torch.from_numpy(np.array(a))), name + " method")


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_integer_and_bool_inputs(name, dtype):
    a = np.array([[0, 1, 3], [2, 1, 0]]).astype(dtype)
    t_in = torch.from_numpy(a.copy())
    try:
        expected = getattr(torch, name)(t_in)
    except RuntimeError as e:      # includes NotImplementedError: PyTorch rejects this dtype
        with pytest.raises(type(e)):
            getattr(pellucid, name)(pellucid.from_numpy(a.copy()))
        return
    assert_same(getattr(pellucid, name)(pellucid.from_numpy(a.copy())), expected, name)


@pytest.mark.parametrize("name", sorted(n for n in UNARY if hasattr(torch.Tensor, n + "_")))
def test_unary_inplace(name):
    domain, _ = UNARY[name]
    a = _layout(domain, "contiguous", np.float32)
    p = pellucid.from_numpy(a.copy())
    t = torch.from_numpy(a.copy())
    r = getattr(p, name + "_")()
    getattr(t, name + "_")()
    assert r is p
    assert_same(p, t, name + "_")
    # on a non-leaf in a graph, the gradient flows through the in-place op (the reference is
    # the out-of-place op: PyTorch lacks some in-place derivatives, e.g. acosh_)
    x_p, x_t = _pair(a, True)
    y_p = x_p * 1.5
    getattr(y_p, name + "_")()
    y_p.sum().backward()
    _torch_fn(name)(x_t * 1.5).sum().backward()
    assert_same(x_p.grad, x_t.grad, name + "_ gradient")


@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "sigmoid", "floor"])
def test_unary_inplace_float_result_into_int_tensor_errors(name):
    if name == "floor":
        p = pellucid.tensor([1, 2])
        assert getattr(p, "floor_")() is p          # integer floor is allowed (identity)
        return
    with pytest.raises(RuntimeError, match=f"{name}_.*can't be cast"):
        getattr(pellucid.tensor([1, 2]), name + "_")()


def test_unary_inplace_on_leaf_requiring_grad_errors():
    x = pellucid.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.exp_()


DIFFERENTIABLE_UNARY = sorted(n for n, (_, d) in UNARY.items() if d)


@pytest.mark.parametrize("name", DIFFERENTIABLE_UNARY)
def test_unary_gradcheck(name):
    domain, _ = UNARY[name]
    x = pellucid.from_numpy(_sample(domain, (2, 3))).requires_grad_()
    assert gradcheck(getattr(pellucid, name), (x,))


@pytest.mark.parametrize("name", ["exp", "log", "sin", "cos", "tanh", "sigmoid", "sqrt", "erf", "abs",
                                  "atan", "reciprocal", "relu"])
def test_unary_gradgradcheck(name):
    domain, _ = UNARY.get(name, ("any", True))
    x = pellucid.from_numpy(_sample(domain, (2, 3))).requires_grad_()
    assert gradgradcheck(getattr(pellucid, name), (x,))


# ---- special values and PyTorch's gradient conventions --------------------------------------

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 50.0, -50.0, 100.0, -100.0])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "rsqrt", "reciprocal", "sigmoid", "tanh", "erf",
                                  "erfc", "abs", "sign", "relu", "floor", "round", "frac", "expm1",
                                  "log1p", "asin", "acosh", "atanh", "sinh", "nan_to_num", "square"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_special_values(name, dtype):
    a = SPECIAL.astype(dtype)
    assert_same(getattr(pellucid, name)(pellucid.from_numpy(a.copy())),
                getattr(torch, name)(torch.from_numpy(a.copy())), name)


def test_special_values_raise_no_numpy_warnings():
    import warnings
    x = pellucid.from_numpy(SPECIAL.copy()).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (pellucid.log, pellucid.sqrt, pellucid.reciprocal, pellucid.exp, pellucid.acosh,
                  pellucid.sigmoid, pellucid.erf, pellucid.sin, pellucid.rsqrt, pellucid.log1p,
                  pellucid.atanh, pellucid.expm1, pellucid.tan, pellucid.sinh, pellucid.cosh, pellucid.square):
            f(x).backward(pellucid.ones_like(x))
            x.grad = None
        for f in (pellucid.atan2, pellucid.hypot, pellucid.logaddexp, pellucid.xlogy, pellucid.pow,
                  pellucid.remainder, pellucid.fmod, pellucid.div, pellucid.maximum, pellucid.fmin):
            f(x, x.detach()).backward(pellucid.ones_like(x))
            x.grad = None
        pellucid.tensor([1.0, 0.0]) / 0.0
        pellucid.remainder(pellucid.tensor([1.0]), 0.0)


@pytest.mark.parametrize("name, x, expected", [
    ("relu", 0.0, 0.0), ("abs", 0.0, 0.0), ("sign", 0.0, 0.0), ("sqrt", 0.0, math.inf),
    ("relu", 2.0, 1.0), ("abs", -2.0, -1.0),
])
def test_gradient_conventions_at_kinks(name, x, expected):
    p = pellucid.tensor([x], dtype=pellucid.float64, requires_grad=True)
    getattr(pellucid, name)(p).sum().backward()
    assert p.grad.tolist() == [expected]
    t = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    getattr(torch, name)(t).sum().backward()
    assert t.grad.tolist() == [expected]


@pytest.mark.parametrize("name", ["relu", "abs", "clamp", "maximum", "fmax", "sigmoid", "sqrt"])
def test_gradients_at_nan_like_pytorch(name):
    a = np.array([np.nan, -1.0, 0.0, 1.0])
    if name in ("maximum", "fmax"):
        check_op(getattr(pellucid, name), getattr(torch, name), [a, a[::-1].copy()], what=name)
    elif name == "clamp":
        check_op(lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), [a])
    else:
        check_op(getattr(pellucid, name), getattr(torch, name), [a], what=name)


def test_bool_relu_and_positive_rejected():
    with pytest.raises(RuntimeError, match="relu"):
        pellucid.relu(pellucid.tensor([True]))
    with pytest.raises(RuntimeError, match="bool"):
        pellucid.positive(pellucid.tensor([True]))
    with pytest.raises(NotImplementedError, match="Bool"):
        pellucid.abs(pellucid.tensor([True]))


def test_positive_returns_input_and_abs_operator():
    x = pellucid.tensor([-1.0, 2.0])
    assert pellucid.positive(x) is x and +x is x
    assert abs(x).tolist() == [1.0, 2.0]


def test_unary_out_argument():
    out = pellucid.empty(3)
    r = pellucid.exp(pellucid.tensor([0.0, 1.0, 2.0]), out=out)
    assert r is out
    np.testing.assert_allclose(out.numpy(), np.exp([0.0, 1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        pellucid.exp(pellucid.tensor([1.0], requires_grad=True), out=pellucid.empty(1))


@pytest.mark.parametrize("decimals", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_decimals(decimals, dtype):
    a = np.array([1.25, 2.5, -0.5, 1234.5678, -17.35, 0.125, 99.95]).astype(dtype)
    check_op(lambda x: pellucid.round(x, decimals=decimals), lambda x: torch.round(x, decimals=decimals), [a])
    p = pellucid.from_numpy(a.copy())
    t = torch.from_numpy(a.copy())
    p.round_(decimals=decimals)
    t.round_(decimals=decimals)
    assert_same(p, t)


def test_round_integer_with_decimals_is_rejected_like_pytorch():
    assert pellucid.round(pellucid.tensor([1, 2])).tolist() == [1, 2]
    with pytest.raises(NotImplementedError):
        pellucid.round(pellucid.tensor([1, 2]), decimals=1)


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered in reduce")
@pytest.mark.parametrize("kw", [{}, {"nan": 1.5}, {"nan": 0.0, "posinf": 9.0, "neginf": -9.0}, {"posinf": 3.0}])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_nan_to_num(kw, dtype):
    a = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0]).astype(dtype)
    check_op(lambda x: pellucid.nan_to_num(x, **kw), lambda x: torch.nan_to_num(x, **kw), [a],
             grad=dtype != np.float16)
    p = pellucid.from_numpy(a.copy())
    t = torch.from_numpy(a.copy())
    p.nan_to_num_(**kw)
    t.nan_to_num_(**kw)
    assert_same(p, t)


# ---- erf on CPU: the NumPy implementation against the standard library ------------------------

def test_erf_erfc_match_math_to_double_precision():
    from pellucid._special import erf, erfc
    x = np.concatenate([np.linspace(-30, 30, 6001), np.geomspace(1e-300, 30, 400), -np.geomspace(1e-300, 30, 400),
                        [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 26.5, 27.0]])
    ref = np.array([math.erf(v) for v in x])
    refc = np.array([math.erfc(v) for v in x])
    got, gotc = erf(x), erfc(x)
    assert got.dtype == np.float64 and got.shape == x.shape
    np.testing.assert_allclose(got, ref, rtol=2e-15, atol=1e-300)
    normal = refc > 1e-300
    np.testing.assert_allclose(gotc[normal], refc[normal], rtol=5e-15)
    np.testing.assert_allclose(gotc[~normal], refc[~normal], atol=1e-300)


def test_erf_special_values_shapes_and_dtypes():
    from pellucid._special import erf, erfc
    v = np.array([np.inf, -np.inf, np.nan, 0.0])
    np.testing.assert_array_equal(erf(v), [1.0, -1.0, np.nan, 0.0])
    np.testing.assert_array_equal(erfc(v), [0.0, 2.0, np.nan, 1.0])
    assert np.signbit(erf(np.array([-0.0])))[0]
    x32 = RNG.standard_normal((3, 4, 5)).astype(np.float32) * 3
    for f, mf in ((erf, math.erf), (erfc, math.erfc)):
        r = f(x32)
        assert r.dtype == np.float32 and r.shape == x32.shape
        np.testing.assert_allclose(r, np.vectorize(mf)(x32.astype(np.float64)), rtol=1e-6, atol=1e-7)
    big = RNG.standard_normal(40000) * 5           # spans several blocks and all three ranges
    np.testing.assert_allclose(erf(big), [math.erf(v) for v in big], rtol=2e-15, atol=1e-300)
    assert erf(np.array(0.5)).shape == ()


# ---- clamp --------------------------------------------------------------------------------------

CLAMP_BOUNDS = [(-0.5, 0.5), (None, 0.3), (-0.3, None), (0.5, -0.5), (0, 1)]


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "0d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lo, hi", CLAMP_BOUNDS)
def test_clamp_scalar_bounds(lo, hi, dtype, layout):
    a = _layout("any", layout, dtype)
    for p_fn, t_fn in ((pellucid.clamp, torch.clamp), (pellucid.clip, torch.clip)):
        check_op(lambda x: p_fn(x, lo, hi), lambda x: t_fn(x, lo, hi), [a], what=f"clamp({lo}, {hi})")
    check_op(lambda x: x.clamp(min=lo, max=hi), lambda x: x.clamp(min=lo, max=hi), [a])


@pytest.mark.parametrize("which", ["both", "min", "max", "crossed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clamp_tensor_bounds_with_broadcasting(which, dtype):
    a = _sample("any", (2, 3)).astype(dtype)
    lo = _sample("any", (3,)).astype(dtype) * 0.5 - 0.5
    hi = lo + RNG.uniform(0.2, 1.5, (2, 1)).astype(dtype)
    if which == "crossed":
        lo, hi = hi, lo
    use_lo = which in ("both", "min", "crossed")
    use_hi = which in ("both", "max", "crossed")
    arrays = [a] + ([lo] if use_lo else []) + ([hi] if use_hi else [])

    def call(mod):
        def f(x, *bounds):
            it = iter(bounds)
            return mod.clamp(x, next(it) if use_lo else None, next(it) if use_hi else None)
        return f
    check_op(call(pellucid), call(torch), arrays, what=which)


def test_clamp_min_max_functions_and_inplace():
    a = _sample("any", (2, 3))
    check_op(lambda x: pellucid.clamp_min(x, 0.2), lambda x: torch.clamp_min(x, 0.2), [a])
    check_op(lambda x: pellucid.clamp_max(x, 0.2), lambda x: torch.clamp_max(x, 0.2), [a])
    b = _sample("any", (3,))
    check_op(lambda x, m: x.clamp_min(m), lambda x, m: x.clamp_min(m), [a, b])
    check_op(lambda x, m: x.clamp_max(m), lambda x, m: x.clamp_max(m), [a, b])
    for name, args in (("clamp_", (-0.5, 0.5)), ("clip_", (None, 0.1)), ("clamp_min_", (0.1,)),
                       ("clamp_max_", (0.1,))):
        p = pellucid.from_numpy(a.copy())
        t = torch.from_numpy(a.copy())
        assert getattr(p, name)(*args) is p
        getattr(t, name)(*args)
        assert_same(p, t, name)


def test_clamp_dtypes_follow_pytorch():
    xi = np.array([1, 5, -3])
    for lo, hi in ((0, 2), (0.5, None), (None, 2.5)):
        check_op(lambda x: pellucid.clamp(x, lo, hi), lambda x: torch.clamp(x, lo, hi), [xi], grad=False)
    check_op(lambda x, m: pellucid.clamp(x, min=m), lambda x, m: torch.clamp(x, min=m),
             [xi, np.array(0.5, dtype=np.float32)], grad=False)
    with pytest.raises(RuntimeError, match="clamp.*can't be cast"):
        pellucid.tensor([1, 2]).clamp_(0.5, 1.5)


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="clamp.*At least one of 'min' or 'max'"):
        pellucid.clamp(pellucid.tensor([1.0]))


def test_clamp_gradient_passes_at_the_bounds():
    p = pellucid.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    pellucid.clamp(p, 0.0, 1.0).sum().backward()
    assert p.grad.tolist() == [0.0, 1.0, 1.0, 0.0]


# ---- binary ops ---------------------------------------------------------------------------------

BINARY = {
    # name: (domain a, domain b, differentiable, accepts a Python scalar as other, as input)
    "maximum": ("any", "any", True, False, False),
    "minimum": ("any", "any", True, False, False),
    "fmax": ("any", "any", True, False, False),
    "fmin": ("any", "any", True, False, False),
    "atan2": ("any", "nonzero", True, False, False),
    "arctan2": ("any", "nonzero", True, False, False),
    "logaddexp": ("any", "any", True, False, False),
    "hypot": ("nonzero", "nonzero", True, False, False),
    "remainder": ("any", "nonzero", True, True, True),
    "fmod": ("any", "nonzero", True, True, False),
    "xlogy": ("any", "pos", True, True, True),
    "float_power": ("pos", "any", True, True, True),
    "pow": ("pos", "any", True, True, True),
    "floor_divide": ("any", "nonzero", False, True, True),
    "div": ("any", "nonzero", True, True, False),
    "mul": ("any", "any", True, True, False),
    "add": ("any", "any", True, True, False),
    "sub": ("any", "any", True, True, False),
}
BIN_SHAPES = {"same": ((2, 3), (2, 3)), "row": ((2, 3), (3,)), "outer": ((2, 1), (1, 3)),
              "0d": ((2, 3), ()), "lhs_small": ((3,), (2, 3))}


@pytest.mark.parametrize("shapes", sorted(BIN_SHAPES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_and_gradients(name, dtype, shapes):
    da, db, diff, _, _ = BINARY[name]
    sa, sb = BIN_SHAPES[shapes]
    a, b = _sample(da, sa).astype(dtype), _sample(db, sb).astype(dtype)
    check_op(getattr(pellucid, name), getattr(torch, name), [a, b], grad=diff, what=name)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_non_contiguous_and_mixed_dtypes(name):
    da, db, diff, _, _ = BINARY[name]
    a = _sample(da, (3, 2)).astype(np.float32).T
    b = _sample(db, (2, 6))[:, ::2]
    check_op(getattr(pellucid, name), getattr(torch, name), [a, b], grad=diff, what=name)


@pytest.mark.parametrize("scalar", [2, 0.5, -1.5, True])
@pytest.mark.parametrize("name", sorted(n for n, v in BINARY.items() if v[3] or v[4]))
def test_binary_python_scalars(name, scalar):
    da, db, diff, other_ok, input_ok = BINARY[name]
    if name in ("remainder", "fmod", "floor_divide", "div") and scalar is True:
        scalar = 3
    a = _sample(da, (2, 3)).astype(np.float32)
    fp, ft = getattr(pellucid, name), getattr(torch, name)
    if other_ok:
        check_op_or_error(lambda x: fp(x, scalar), lambda x: ft(x, scalar), [a], grad=diff, what=f"{name}(t, {scalar})")
    if input_ok:
        b = np.abs(a) + 0.5 if name in ("xlogy", "remainder", "floor_divide", "pow", "float_power") else a
        s = abs(scalar) if name in ("pow", "float_power") else scalar
        if name == "remainder":
            # PyTorch has no derivative for remainder(Scalar, Tensor); pellucid gives the one
            # remainder(Tensor, Tensor) has
            ft = lambda u, v: torch.remainder(torch.tensor(u, dtype=v.dtype), v)  # noqa: E731
        check_op_or_error(lambda x: fp(s, x), lambda x: ft(s, x), [b], grad=diff, what=f"{name}({s}, t)")


INT_DTYPES = [np.bool_, np.uint8, np.int32, np.int64]


@pytest.mark.parametrize("db", INT_DTYPES + [np.float32])
@pytest.mark.parametrize("da", INT_DTYPES)
@pytest.mark.parametrize("name", sorted(set(BINARY) - {"pow"}) + ["heaviside"])
def test_binary_integer_and_bool_dtypes(name, da, db):
    a = np.array([[0, 1, 3], [7, 2, 5]]).astype(da)
    b = np.array([[1, 2, 1], [3, 1, 2]]).astype(db)
    try:
        expected = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
    except (RuntimeError, TypeError) as e:
        with pytest.raises(type(e)):
            getattr(pellucid, name)(pellucid.from_numpy(a.copy()), pellucid.from_numpy(b.copy()))
        return
    assert_same(getattr(pellucid, name)(pellucid.from_numpy(a.copy()), pellucid.from_numpy(b.copy())),
                expected, name)


@pytest.mark.parametrize("scalar", [2, 2.5])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "remainder", "floor_divide", "fmod", "xlogy",
                                  "float_power", "pow"])
def test_integer_tensor_with_scalar_dtypes(name, scalar):
    a = np.array([1, 5, -3, 7])
    expected = getattr(torch, name)(torch.from_numpy(a), scalar)
    assert_same(getattr(pellucid, name)(pellucid.from_numpy(a.copy()), scalar), expected, name)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
@pytest.mark.parametrize("scalar", [300, -3, 2**40])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "remainder", "floor_divide", "maximum_scalar"])
def test_out_of_range_int_scalar_wraps_into_tensor_dtype(name, scalar, dtype):
    a = np.array([1, 7, 100]).astype(dtype)
    if name == "maximum_scalar":     # through clamp, which takes numbers
        fp, ft = (lambda x: pellucid.clamp(x, min=scalar)), (lambda x: torch.clamp(x, min=scalar))
    else:
        fp, ft = (lambda x: getattr(pellucid, name)(x, scalar)), (lambda x: getattr(torch, name)(x, scalar))
    check_op_or_error(fp, ft, [a], grad=False, what=f"{name} {scalar}")


def test_integer_division_by_zero_is_an_error():
    for f in (pellucid.floor_divide, pellucid.remainder, pellucid.fmod):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(pellucid.tensor([1, 2]), pellucid.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        pellucid.div(pellucid.tensor([1, 2]), 0, rounding_mode="trunc")


@pytest.mark.parametrize("mode", ["floor", "trunc"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
def test_div_rounding_modes(mode, dtype):
    a = np.array([[7, -7, 6, -6, 0, 5]]).astype(dtype) + (0.5 if dtype in (np.float32, np.float64) else 0)
    b = np.array([[2], [-2], [3]]).astype(dtype)
    check_op(lambda x, y: pellucid.div(x, y, rounding_mode=mode), lambda x, y: torch.div(x, y, rounding_mode=mode),
             [a, b], what=mode)
    check_op(lambda x: x.div(-3, rounding_mode=mode), lambda x: x.div(-3, rounding_mode=mode), [a], what=mode)
    p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
    p.div_(2, rounding_mode=mode)
    t.div_(2, rounding_mode=mode)
    assert_same(p, t)
    with pytest.raises(ValueError, match="rounding_mode"):
        pellucid.div(pellucid.from_numpy(a), 2, rounding_mode="round")


def test_floor_divide_and_heaviside_have_no_derivative():
    x = pellucid.tensor([1.5, -2.5], requires_grad=True)
    y = pellucid.floor_divide(x, 2.0)
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="floor_divide.*not implemented"):
        y.sum().backward()
    y = pellucid.heaviside(x, pellucid.tensor([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="heaviside.*not implemented"):
        y.sum().backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_heaviside(dtype):
    a = np.array([-1.5, 0.0, 2.0, -0.0, 3.0]).astype(dtype)
    v = np.array([0.5, 0.25, 0.5, 0.75, 0.5]).astype(dtype)
    check_op(pellucid.heaviside, torch.heaviside, [a, v], grad=False)
    check_op(pellucid.heaviside, torch.heaviside, [a, v[:1]], grad=False)
    with pytest.raises(RuntimeError, match="heaviside.*different dtypes"):
        pellucid.heaviside(pellucid.tensor([1.0]), pellucid.tensor([1.0], dtype=pellucid.float64))


def test_maximum_minimum_split_gradient_on_ties_and_nan():
    a = np.array([1.0, 2.0, 3.0, np.nan, 1.0])
    b = np.array([1.0, 3.0, 2.0, 1.0, np.nan])
    for name in ("maximum", "minimum", "fmax", "fmin"):
        check_op(getattr(pellucid, name), getattr(torch, name), [a, b], what=name)


def test_binary_tensor_only_ops_reject_numbers():
    for name in ("maximum", "minimum", "fmax", "fmin", "atan2", "logaddexp", "hypot"):
        with pytest.raises(TypeError, match=name):
            getattr(pellucid, name)(pellucid.tensor([1.0]), 2.0)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmax", "atan2",
                                  "remainder", "fmod", "hypot", "logaddexp", "xlogy", "floor_divide"])
def test_broadcast_mismatch_error_names_op_and_shapes(name):
    a, b = pellucid.ones(2, 3), pellucid.ones(2, 4)
    with pytest.raises(RuntimeError) as info:
        getattr(pellucid, name)(a, b)
    msg = str(info.value)
    assert msg.startswith(name + ":") or msg.startswith("div:")
    assert "size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1" in msg
    assert "[2, 3]" in msg and "[2, 4]" in msg


def test_broadcast_mismatch_error_for_ternary_and_operator_forms():
    with pytest.raises(RuntimeError, match=r"where: .*\[3\] and \[4\]"):
        pellucid.where(pellucid.ones(3) > 0, pellucid.ones(3), pellucid.ones(4))
    with pytest.raises(RuntimeError, match=r"lerp: .*\[2, 3\] and \[3, 3\]"):
        pellucid.lerp(pellucid.ones(2, 3), pellucid.ones(3, 3), 0.5)
    with pytest.raises(RuntimeError, match=r"add: .*dimension 0"):
        pellucid.ones(2) + pellucid.ones(3)
    with pytest.raises(RuntimeError, match=r"remainder: "):
        pellucid.ones(2) % pellucid.ones(3)


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin", "atan2", "logaddexp", "hypot",
                                  "remainder", "fmod", "xlogy", "float_power", "pow", "div", "mul"])
def test_binary_gradcheck(name):
    da, db, diff, _, _ = BINARY[name]
    a = pellucid.from_numpy(_sample(da, (2, 3))).requires_grad_()
    b = pellucid.from_numpy(_sample(db, (3,))).requires_grad_()
    assert gradcheck(getattr(pellucid, name), (a, b))


@pytest.mark.parametrize("name", ["pow", "div", "mul", "maximum", "atan2", "xlogy", "hypot", "logaddexp"])
def test_binary_gradgradcheck(name):
    da, db, _, _, _ = BINARY[name]
    a = pellucid.from_numpy(_sample(da, (2, 3))).requires_grad_()
    b = pellucid.from_numpy(_sample(db, (3,))).requires_grad_()
    assert gradgradcheck(getattr(pellucid, name), (a, b))


@pytest.mark.parametrize("name, args", [
    ("atan2_", ("nonzero",)), ("hypot_", ("nonzero",)), ("remainder_", ("nonzero",)), ("fmod_", ("nonzero",)),
    ("xlogy_", ("pos",)), ("floor_divide_", ("nonzero",)), ("float_power_", ("any",)),
])
def test_binary_inplace(name, args):
    a = _sample("pos" if name == "float_power_" else "any", (2, 3))
    b = _sample(args[0], (3,))
    p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
    assert getattr(p, name)(pellucid.from_numpy(b.copy())) is p
    getattr(t, name)(torch.from_numpy(b.copy()))
    assert_same(p, t, name)
    if name == "float_power_":
        with pytest.raises(RuntimeError, match="float_power_"):
            pellucid.ones(2).float_power_(2)


def test_operator_forms_mod_floordiv():
    a = np.array([[5.5, -3.25, 7.0]])
    b = np.array([[2.0], [-3.0]])
    check_op(lambda x, y: x % y, lambda x, y: x % y, [a, b])
    check_op(lambda x: x % 2.5, lambda x: x % 2.5, [a])
    check_op(lambda x: 7 % x, lambda x: torch.tensor(7.0, dtype=x.dtype) % x, [b])
    check_op(lambda x, y: x // y, lambda x, y: x // y, [a, b], grad=False)
    check_op(lambda x: 7 // x, lambda x: 7 // x, [b], grad=False)
    ai = np.array([7, -7, 9])
    for op in (lambda x: x % 4, lambda x: x // 4, lambda x: -17 % x, lambda x: -17 // x):
        check_op(op, op, [ai], grad=False)
    p, t = pellucid.from_numpy(ai.copy()), torch.from_numpy(ai.copy())
    p %= 4
    t %= 4
    assert_same(p, t)
    p //= 3
    t //= 3
    assert_same(p, t)


# ---- where --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (2, 1)), ((3,), (2, 3), ())])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_tensors(shapes, dtype):
    sc, sa, sb = shapes
    c = RNG.uniform(size=sc) > 0.5
    a, b = _sample("any", sa).astype(dtype), _sample("any", sb).astype(dtype)
    check_op(pellucid.where, torch.where, [c, a, b])
    check_op(lambda c_, x, y: x.where(c_, y), lambda c_, x, y: x.where(c_, y), [c, a, b])


@pytest.mark.parametrize("a_kind, b_kind", [("f32", "scalar_f"), ("scalar_f", "f32"), ("scalar_i", "scalar_f"),
                                            ("scalar_i", "scalar_i"), ("i64", "scalar_f"), ("i32", "scalar_i"),
                                            ("f16", "f64_0d"), ("f32", "f64"), ("i64", "f32"), ("bool", "scalar_i")])
def test_where_dtype_promotion(a_kind, b_kind):
    def make(kind):
        return {"f32": np.array([1.5, -2.0], np.float32), "f64": np.array([0.5, 3.0]),
                "f16": np.array([1.0, 2.0], np.float16), "f64_0d": np.array(2.0), "i64": np.array([1, 2]),
                "i32": np.array([1, 2], np.int32), "bool": np.array([True, False]), "scalar_f": 2.5,
                "scalar_i": 3}[kind]
    c = np.array([True, False])
    check_op(pellucid.where, torch.where, [c, make(a_kind), make(b_kind)],
             grad="f16" not in (a_kind, b_kind))


def test_where_condition_has_no_grad_and_must_be_bool():
    c = pellucid.tensor([1, 0])
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor.*Long"):
        pellucid.where(c, 1.0, 2.0)
    x = pellucid.tensor([1.0, -1.0], requires_grad=True)
    y = pellucid.where(x > 0, x, x * 3)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 3.0]


def test_where_single_argument_gives_indices():
    a = np.array([[0, 1, 2], [3, 0, 0]])
    got = pellucid.where(pellucid.from_numpy(a) > 0)
    expected = torch.where(torch.from_numpy(a) > 0)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_same(g, e)


def test_where_gradcheck():
    c = pellucid.from_numpy(RNG.uniform(size=(2, 3)) > 0.5)
    a = pellucid.from_numpy(_sample("any", (2, 3))).requires_grad_()
    b = pellucid.from_numpy(_sample("any", (3,))).requires_grad_()
    assert gradcheck(lambda x, y: pellucid.where(c, x, y), (a, b))
    assert gradgradcheck(lambda x, y: pellucid.where(c, x * x, y), (a, b))


# ---- lerp, addcmul, addcdiv ---------------------------------------------------------------------

@pytest.mark.parametrize("weight", [0.25, 0.75, -0.3, 1.5, "tensor", "tensor_bcast"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lerp(weight, dtype):
    a, b = _sample("any", (2, 3)).astype(dtype), _sample("any", (3,)).astype(dtype)
    if isinstance(weight, str):
        w = RNG.uniform(-0.5, 1.5, (2, 3) if weight == "tensor" else (2, 1)).astype(dtype)
        check_op(pellucid.lerp, torch.lerp, [a, b, w])
        p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
        p.lerp_(pellucid.from_numpy(b.copy()), pellucid.from_numpy(w.copy()))
        t.lerp_(torch.from_numpy(b.copy()), torch.from_numpy(w.copy()))
    else:
        check_op(lambda x, y: pellucid.lerp(x, y, weight), lambda x, y: torch.lerp(x, y, weight), [a, b])
        p, t = pellucid.from_numpy(a.copy()), torch.from_numpy(a.copy())
        p.lerp_(pellucid.from_numpy(b.copy()), weight)
        t.lerp_(torch.from_numpy(b.copy()), weight)
    assert_same(p, t)


def test_lerp_errors_and_gradcheck():
    with pytest.raises(RuntimeError, match="lerp.*dtype"):
        pellucid.lerp(pellucid.ones(2), pellucid.ones(2, dtype=pellucid.float64), 0.5)
    with pytest.raises(NotImplementedError, match="lerp"):
        pellucid.lerp(pellucid.tensor([1, 2]), pellucid.tensor([3, 4]), 0.5)
    a, b, w = (pellucid.from_numpy(_sample("any", s)).requires_grad_() for s in ((2, 3), (3,), (2, 1)))
    assert gradcheck(pellucid.lerp, (a, b, w))
    assert gradcheck(lambda x, y: pellucid.lerp(x, y, 0.7), (a, b))


@pytest.mark.parametrize("value", [1, 0.5, -2])
@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv(name, value):
    a, t1 = _sample("any", (2, 3)), _sample("any", (3,))
    t2 = _sample("nonzero", (2, 1))
    for dtype in (np.float32, np.float64):
        arrays = [x.astype(dtype) for x in (a, t1, t2)]
        check_op(lambda x, y, z: getattr(pellucid, name)(x, y, z, value=value),
                 lambda x, y, z: getattr(torch, name)(x, y, z, value=value), arrays, what=name)
    p, t = pellucid.from_numpy(np.zeros((2, 3))), torch.zeros(2, 3, dtype=torch.float64)
    getattr(p, name + "_")(pellucid.from_numpy(t1.copy()), pellucid.from_numpy(t2.copy()), value=value)
    getattr(t, name + "_")(torch.from_numpy(t1.copy()), torch.from_numpy(t2.copy()), value=value)
    assert_same(p, t)
    ins = tuple(pellucid.from_numpy(x.copy()).requires_grad_() for x in (a, t1, t2))
    assert gradcheck(lambda x, y, z: getattr(pellucid, name)(x, y, z, value=value), ins)


def test_addcmul_integer_and_addcdiv_integer_division():
    i = [np.array([1, 2, 3]), np.array([2, 2, 2]), np.array([3, 1, 2])]
    check_op(lambda x, y, z: pellucid.addcmul(x, y, z, value=2), lambda x, y, z: torch.addcmul(x, y, z, value=2),
             i, grad=False)
    with pytest.raises(RuntimeError, match="addcdiv"):
        pellucid.addcdiv(*(pellucid.from_numpy(x) for x in i))
    with pytest.raises(RuntimeError, match="addcmul.*floating point"):
        pellucid.addcmul(*(pellucid.from_numpy(x) for x in i), value=0.5)


# ---- double backward through formulas that use the output -----------------------------------------

@pytest.mark.parametrize("name", ["tanh", "exp", "sigmoid", "sqrt", "rsqrt", "tan", "reciprocal", "expm1"])
def test_second_derivative_matches_torch(name):
    a = _sample("pos" if name in ("sqrt", "rsqrt") else "unit", (4,))
    p, t = _pair(a, True)
    (gp,) = pellucid.autograd.grad(getattr(pellucid, name)(p).sum(), [p], create_graph=True)
    (gt,) = torch.autograd.grad(getattr(torch, name)(t).sum(), [t], create_graph=True)
    gp.sum().backward()
    gt.sum().backward()
    assert_same(p.grad, t.grad, name)


# ---- binary arithmetic details (ops/_arith) --------------------------------------------------------

def test_bool_subtraction_and_negation_are_rejected_like_pytorch():
    b = pellucid.tensor([True, False])
    for f in (lambda: b - b, lambda: b - 1, lambda: 1 - b, lambda: pellucid.tensor([1.0, 2.0]) - True,
              lambda: pellucid.sub(b, b), lambda: pellucid.rsub(b, 1), lambda: b.sub_(b)):
        with pytest.raises(RuntimeError, match="Subtraction.*bool"):
            f()
    with pytest.raises(RuntimeError, match="Negation.*bool"):
        -b
    with pytest.raises(RuntimeError, match="Negation.*bool"):
        b.neg_()


def test_arithmetic_out_argument():
    a, b = pellucid.tensor([1.0, 2.0]), pellucid.tensor([3.0, 4.0])
    for f, expected in ((pellucid.add, [4.0, 6.0]), (pellucid.sub, [-2.0, -2.0]), (pellucid.mul, [3.0, 8.0]),
                        (pellucid.div, [1 / 3, 0.5]), (pellucid.pow, [1.0, 16.0]), (pellucid.maximum, [3.0, 4.0])):
        out = pellucid.empty(2)
        assert f(a, b, out=out) is out
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    out = pellucid.empty(5)              # resized to the result's shape, as PyTorch does
    pellucid.add(a, b, out=out)
    assert tuple(out.shape) == (2,)
    with pytest.raises(RuntimeError, match="can't be cast"):
        pellucid.add(a, b, out=pellucid.empty(2, dtype=pellucid.int64))
    out = pellucid.empty(2, dtype=pellucid.int64)
    pellucid.div(pellucid.tensor([7, -7]), 2, rounding_mode="floor", out=out)
    assert out.tolist() == [3, -4]


def test_neg_inplace_function_and_pow_scalar_base_gradients():
    x = pellucid.tensor([1.0, -2.0])
    assert pellucid.neg_(x) is x and x.tolist() == [-1.0, 2.0]
    for base in (0.0, 2.0, -2.0):
        e = np.array([-1.0, 0.0, 0.5, 2.0])
        check_op(lambda t: pellucid.pow(base, t), lambda t: torch.pow(base, t), [e], what=f"pow({base}, t)")


def test_pow_gradient_in_the_promoted_dtype():
    a = np.array([0.7, 1.3, 2.9], dtype=np.float32)
    b = np.array([1.1, -0.4, 2.2])
    check_op(pellucid.pow, torch.pow, [a, b])
    check_op(pellucid.xlogy, torch.xlogy, [b, a])


def test_overflow_and_nan_are_silent_as_in_torch_while_users_numpy_still_warns():
    # run with RuntimeWarnings as errors: pellucid's inf/nan results must not raise, the user's
    # own NumPy overflow must
    import subprocess
    import sys
    code = """
import numpy as np
import pellucid as torch
x = torch.tensor([1e38, 0.0, -1.0], requires_grad=True)
y = x * 10 * torch.tensor([1e38, 1.0, 1.0]) + x / 0.0 - torch.log(x) - torch.sqrt(x)
y.sum().backward()
print(y.tolist(), x.grad.tolist())
try:
    np.float32(1e38) * np.float32(10)
except RuntimeWarning as e:
    print("user warning:", e)
"""
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "user warning: overflow encountered" in out.stdout
    values = out.stdout.splitlines()[0]
    assert "inf" in values and "nan" in values
