"""Parity of the special functions and the remaining pointwise math (lgamma, digamma, polygamma,
mvlgamma, erfinv, i0, sinc, logit, logaddexp2, copysign, nextafter, ldexp, frexp, gcd, lcm, angle,
isreal) with PyTorch: values over wide ranges with poles, infinities and NaN, dtypes (integer
and bool inputs promote to float), gradients (float64 finite differences, and against
PyTorch's), in-place forms, out= and errors. Where PyTorch's own float64 results are less
accurate than ours (its trigamma, its erfinv next to +-1), mpmath is the reference."""
import math

import numpy as np
import pytest
import torch

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck
from pellucid.ops._special_fns import _i1

RNG = np.random.default_rng(2024)
INF, NAN = math.inf, math.nan
EDGES = [0.0, -0.0, 1.0, 2.0, -1.0, -2.0, -7.0, 0.5, -0.5, -2.5, 1e-300, 5e-324, 1e-8, 171.6, 1e15,
         INF, -INF, NAN]


def _wide():
    """Positive, negative non-integer, tiny and huge float64 values plus the edge values."""
    return np.concatenate([RNG.uniform(-30, 30, 600), RNG.uniform(-3, 3, 600), RNG.uniform(0, 1e-3, 50),
                           10.0 ** RNG.uniform(-300, 300, 200), -(10.0 ** RNG.uniform(-6, 6, 100)),
                           np.array(EDGES)])


def _unit():
    """erfinv/logit arguments: (-1, 1), both tails up to 1 ulp from +-1, tiny, and out of range."""
    return np.concatenate([RNG.uniform(-1, 1, 800), 1 - 10.0 ** RNG.uniform(-15.5, -1, 100),
                           -1 + 10.0 ** RNG.uniform(-15.5, -1, 100), 10.0 ** RNG.uniform(-300, -1, 50),
                           np.array([0.0, -0.0, 1.0, -1.0, 1.5, -2.0, 0.5, INF, -INF, NAN])])


def _pair(arr, requires_grad=False):
    p = pellucid.from_numpy(np.array(arr))
    t = torch.from_numpy(np.array(arr))
    if requires_grad:
        p.requires_grad_()
        t.requires_grad_()
    return p, t


def _np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x.detach()._data)


def assert_close(p, t, rtol, atol, what=""):
    assert p.dtype.name == str(t.dtype).split(".")[-1], f"{what}: dtype {p.dtype} vs {t.dtype}"
    assert tuple(p.shape) == tuple(t.shape), what
    pv, tv = _np(p).astype(np.float64), _np(t).astype(np.float64)
    # infinities must agree in sign, NaN with NaN
    np.testing.assert_array_equal(np.isnan(pv), np.isnan(tv), err_msg=f"{what}: NaN positions")
    np.testing.assert_array_equal(np.where(np.isinf(pv), pv, 0), np.where(np.isinf(tv), tv, 0),
                                  err_msg=f"{what}: infinities")
    fin = np.isfinite(pv) & np.isfinite(tv)
    np.testing.assert_allclose(pv[fin], tv[fin], rtol=rtol, atol=atol, err_msg=what)


UNARY = {
    # name: (pellucid fn, torch fn, float64 inputs)
    "lgamma": (pellucid.lgamma, torch.lgamma, _wide),
    "digamma": (pellucid.digamma, torch.digamma, _wide),
    "erfinv": (pellucid.erfinv, torch.erfinv, _unit),
    "i0": (pellucid.i0, torch.i0, _wide),
    "i1": (_i1, torch.special.i1, _wide),
    "sinc": (pellucid.sinc, torch.sinc, _wide),
    "logit": (pellucid.logit, torch.logit, _unit),
    "angle": (pellucid.angle, torch.angle, _wide),
}


# ---- values: float64 ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float64_matches_torch(name):
    pf, tf, make = UNARY[name]
    x = make()
    if name == "erfinv":
        # PyTorch's erfinv refines with erf(x) - y, which loses digits where erf is within a few
        # ulps of 1 (mpmath checks that region below)
        x = x[~(np.abs(x) > 1 - 1e-9) | (np.abs(x) >= 1) | np.isnan(x)]
    p, t = _pair(x)
    # absolute tolerance: the roots of lgamma/digamma and sinc's zeros
    assert_close(pf(p), tf(t), rtol=1e-11, atol=1e-13, what=name)


def test_lgamma_digamma_edges_match_torch():
    p, t = _pair(np.array([0.0, -0.0, -1.0, -2.0, -1e20, 1.0, 2.0, INF, -INF, NAN, 5e-324]))
    for pf, tf in ((pellucid.lgamma, torch.lgamma), (pellucid.digamma, torch.digamma)):
        assert_close(pf(p), tf(t), 1e-14, 0)
    assert pellucid.lgamma(pellucid.tensor([1.0, 2.0])).tolist() == [0.0, 0.0]
    # the signed infinities of digamma at +-0
    assert pellucid.digamma(pellucid.tensor([0.0, -0.0])).tolist() == [-INF, INF]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 12])
def test_polygamma_float64_matches_torch(n):
    x = _wide()
    # PyTorch's Cephes zeta loops up from x one step at a time (hours for x = -1e6) and underflows
    # long before the true value does for huge x: keep to where it answers
    keep = ((x > -40) & (x < 1e12)) | ~np.isfinite(x)
    if n >= 7:
        # and whose sum, for high orders at negative x, loses digits (mpmath checks those below)
        keep &= (x >= 0) | ~np.isfinite(x)
    # PyTorch's trigamma gives huge finite numbers at the negative integers (ours: the pole, inf)
    pole = (x < 0) & (x == np.floor(x))
    if n == 1:
        keep &= ~pole
    x = x[keep]
    p, t = _pair(x)
    # PyTorch's trigamma uses only three terms of the asymptotic series (about 1e-9 relative);
    # its higher orders use Cephes' zeta as we do
    rtol = 1e-8 if n == 1 else 1e-11
    assert_close(pellucid.polygamma(n, p), torch.polygamma(n, t), rtol=rtol, atol=1e-13, what=f"n={n}")


def test_polygamma_poles():
    x = pellucid.tensor([0.0, -1.0, -4.0], dtype=pellucid.float64)
    assert pellucid.polygamma(1, x).tolist() == [INF] * 3
    t = torch.polygamma(1, torch.tensor([-1.0, -4.0], dtype=torch.float64))
    assert (t > 1e30).all()          # PyTorch's rounding of the same pole
    for n in (2, 3, 4):
        got = pellucid.polygamma(n, x)
        want = torch.polygamma(n, torch.tensor(x.tolist(), dtype=torch.float64))
        np.testing.assert_array_equal(_np(got), _np(want))
    for n in (1, 2, 3):
        xs = [INF, -INF, NAN]
        np.testing.assert_array_equal(_np(pellucid.polygamma(n, pellucid.tensor(xs, dtype=pellucid.float64))),
                                      _np(torch.polygamma(n, torch.tensor(xs, dtype=torch.float64))))


def test_erfinv_edges():
    x = [1.0, -1.0, 1.5, -1.5, 0.0, -0.0, NAN, INF, 5e-324]
    got = _np(pellucid.erfinv(pellucid.tensor(x, dtype=pellucid.float64)))
    want = _np(torch.erfinv(torch.tensor(x, dtype=torch.float64)))
    np.testing.assert_array_equal(got, want)
    assert math.copysign(1, got[5]) == -1.0


@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_mvlgamma_matches_torch(p):
    x = np.concatenate([RNG.uniform((p - 1) / 2 + 0.01, 40, 300), RNG.uniform(-8, 8, 200), [1e10, INF, NAN]])
    a, t = _pair(x)
    assert_close(pellucid.mvlgamma(a, p), torch.mvlgamma(t, p), rtol=1e-11, atol=1e-12, what=f"p={p}")
    assert_close(pellucid.mvlgamma(a, p=p), torch.mvlgamma(t, p=p), rtol=1e-11, atol=1e-12)


def test_logit_eps_matches_torch():
    x = np.array([-0.5, 0.0, 0.02, 0.05, 0.3, 0.5, 0.9, 0.97, 1.0, 1.5, NAN])
    a, t = _pair(x)
    for eps in (None, 0.0, 0.05, 1e-6, 0.6, -1.0):
        assert_close(pellucid.logit(a, eps), torch.logit(t, eps), 1e-12, 0, what=f"eps={eps}")
        assert_close(a.logit(eps=eps), t.logit(eps=eps), 1e-12, 0, what=f"eps={eps}")


# ---- values: accuracy against mpmath -----------------------------------------------------

def test_accuracy_against_mpmath():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.concatenate([RNG.uniform(-25, 25, 60), RNG.uniform(0.01, 4, 60), 10.0 ** RNG.uniform(-4, 5, 30)])
    x = x[np.abs(x - np.round(x)) > 1e-3]

    def ref(f, xs):
        return np.array([float(mpmath.re(f(mpmath.mpf(float(v))))) for v in xs])

    cases = [(pellucid.lgamma, mpmath.loggamma, x), (pellucid.digamma, mpmath.digamma, x)]
    cases += [(lambda t, n=n: pellucid.polygamma(n, t), lambda v, n=n: mpmath.polygamma(n, v), x[x < 1e4])
              for n in (1, 2, 3, 6)]
    cases.append((lambda t: pellucid.polygamma(12, t), lambda v: mpmath.polygamma(12, v), x[x < 0]))
    bessel = RNG.uniform(-700, 700, 60)
    cases += [(pellucid.i0, lambda v: mpmath.besseli(0, v), bessel), (_i1, lambda v: mpmath.besseli(1, v), bessel)]
    y = np.concatenate([RNG.uniform(-1, 1, 60), 1 - 10.0 ** RNG.uniform(-15.5, -2, 30)])
    cases.append((pellucid.erfinv, mpmath.erfinv, y))
    for pf, mf, xs in cases:
        got = _np(pf(pellucid.tensor(xs, dtype=pellucid.float64)))
        # relative 1e-13 (near the negative roots of lgamma/digamma only absolute accuracy is kept)
        np.testing.assert_allclose(got, ref(mf, xs), rtol=1e-13, atol=1e-14)


# ---- values: float32, half types, integer and bool inputs --------------------------------

@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32(name):
    pf, tf, make = UNARY[name]
    x = make()
    x = x[np.abs(x) < 3e38]
    if name in ("lgamma", "digamma", "sinc", "i0", "i1"):
        x = x[(np.abs(x) < 1e6) & ((x > 0) | (np.abs(x - np.round(x)) > 1e-2))]
    x32 = x.astype(np.float32)
    p, t = _pair(x32)
    # the same float32 inputs: our float32 results are the float64 values rounded ...
    ref = tf(torch.from_numpy(x32.astype(np.float64))).to(torch.float32)
    assert_close(pf(p), ref, rtol=2e-7, atol=1e-30, what=name)
    # ... and PyTorch's own float32 kernels (which round in between) agree to float32 tolerance
    scale = np.maximum(1.0, np.abs(_np(ref).astype(np.float64)))
    got, want = _np(pf(p)).astype(np.float64), _np(tf(t)).astype(np.float64)
    fin = np.isfinite(want) & np.isfinite(got)
    assert (np.abs(got[fin] - want[fin]) <= 1e-4 * scale[fin]).all(), name


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16", "bfloat16"])
def test_unary_dtypes(name, dtype):
    pf, tf, _ = UNARY[name]
    vals = [0, 1, 2, 3, 5] if dtype in ("uint8", "bool") else [-3, -1, 0, 1, 2, 7]
    if dtype == "bool":
        vals = [True, False, True]
    elif dtype in ("float16", "bfloat16"):
        vals = [-2.5, -0.75, -0.3, 0.0, 0.25, 0.5, 0.9, 1.5, 3.25]
    p = pellucid.tensor(vals, dtype=getattr(pellucid, dtype))
    t = torch.tensor(vals, dtype=getattr(torch, dtype))
    tol = {"float16": 2e-3, "bfloat16": 1e-2}.get(dtype, 2e-6)
    assert_close(pf(p), tf(t), rtol=tol, atol=tol, what=f"{name} {dtype}")


def test_polygamma_mvlgamma_integer_inputs():
    i = torch.tensor([1, 2, 3, 4])
    p = pellucid.tensor([1, 2, 3, 4])
    for n in (0, 1, 2):
        assert_close(pellucid.polygamma(n, p), torch.polygamma(n, i), 2e-6, 1e-7, what=str(n))
    assert_close(pellucid.mvlgamma(p, 2), torch.mvlgamma(i, 2), 2e-6, 1e-7)
    assert_close(pellucid.polygamma(2, p.to(pellucid.float16)), torch.polygamma(2, i.half()), 2e-3, 2e-3)


def test_zero_dim_and_empty():
    for pf, tf in ((pellucid.lgamma, torch.lgamma), (pellucid.erfinv, torch.erfinv),
                   (lambda x: pellucid.polygamma(2, x), lambda x: torch.polygamma(2, x))):
        assert_close(pf(pellucid.tensor(0.3)), tf(torch.tensor(0.3)), 2e-6, 0)
        assert pf(pellucid.zeros(0, 3)).shape == (0, 3)


def test_noncontiguous_input():
    x = RNG.uniform(0.1, 5, (4, 6))
    p = pellucid.from_numpy(x).t()[:, ::2]
    t = torch.from_numpy(x).t()[:, ::2]
    assert_close(pellucid.lgamma(p), torch.lgamma(t), 1e-12, 1e-14)
    assert_close(pellucid.i0(p), torch.i0(t), 1e-12, 0)


# ---- binary ops --------------------------------------------------------------------------

def _binary_data():
    a = np.concatenate([RNG.uniform(-20, 20, 200), [0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 5e-324, 1e308]])
    b = np.concatenate([RNG.uniform(-20, 20, 200), [-0.0, 0.0, INF, 1.0, -INF, NAN, 2.0, -1.0, 3.0]])
    return a, b


@pytest.mark.parametrize("name", ["logaddexp2", "copysign", "nextafter"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_float_binary_match_torch(name, dtype):
    a, b = _binary_data()
    if name == "copysign":
        b = np.nan_to_num(b, nan=5.0)      # the sign bit of a NaN is not preserved by every cast
    with np.errstate(over="ignore"):         # 1e308 becomes inf in the narrower types
        pa = pellucid.from_numpy(a).to(getattr(pellucid, dtype))
        pb = pellucid.from_numpy(b).to(getattr(pellucid, dtype))
    ta = torch.from_numpy(a).to(getattr(torch, dtype))
    tb = torch.from_numpy(b).to(getattr(torch, dtype))
    got, want = getattr(pellucid, name)(pa, pb), getattr(torch, name)(ta, tb)
    if name == "nextafter":      # exact, bit for bit
        np.testing.assert_array_equal(_np(got.to(pellucid.float64)), _np(want.to(torch.float64)))
        assert got.dtype.name == dtype
    else:
        tol = {"float64": 1e-14, "float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
        assert_close(got, want, tol, tol, what=f"{name} {dtype}")


def test_binary_promotion_and_scalars():
    f32 = torch.tensor([0.5, -1.5, 0.0])
    f64 = torch.tensor([-1.0, 2.0, -0.0], dtype=torch.float64)
    i64 = torch.tensor([3, -2, 0])
    bl = torch.tensor([True, False, True])
    P = {id(f32): pellucid.tensor(f32.tolist()), id(f64): pellucid.tensor(f64.tolist(), dtype=pellucid.float64),
         id(i64): pellucid.tensor(i64.tolist()), id(bl): pellucid.tensor(bl.tolist())}
    pairs = [(f32, f64), (f64, f32), (f32, i64), (i64, f32), (i64, i64), (bl, bl), (i64, f64), (bl, f32)]
    for name in ("copysign", "ldexp", "logaddexp2", "nextafter"):
        for x, y in pairs:
            try:
                want = getattr(torch, name)(x, y)
            except (RuntimeError, NotImplementedError) as e:
                with pytest.raises(type(e)):
                    getattr(pellucid, name)(P[id(x)], P[id(y)])
                continue
            assert_close(getattr(pellucid, name)(P[id(x)], P[id(y)]), want, 1e-6, 1e-6,
                         what=f"{name} {x.dtype} {y.dtype}")
    # copysign takes numbers as `other`; the others want tensors
    for other in (-0.0, 2, -3.5, True):
        assert_close(pellucid.copysign(P[id(f32)], other), torch.copysign(f32, other), 0, 0, what=str(other))
        assert_close(pellucid.copysign(P[id(i64)], other), torch.copysign(i64, other), 0, 0, what=str(other))
    for name in ("ldexp", "logaddexp2", "nextafter", "gcd", "lcm"):
        with pytest.raises(TypeError):
            getattr(pellucid, name)(P[id(f32)], 2)


def test_ldexp_values():
    x = torch.tensor([1.0, 0.5, 3.0, -2.0, 0.0, INF], dtype=torch.float64)
    e = torch.tensor([200, 1024, -1080, 3, 5, -2])
    p = pellucid.tensor(x.tolist(), dtype=pellucid.float64)
    q = pellucid.tensor(e.tolist())
    assert_close(pellucid.ldexp(p, q), torch.ldexp(x, e), 0, 0)             # exact scaling
    assert_close(pellucid.ldexp(p.float(), q), torch.ldexp(x.float(), e), 0, 0)
    assert_close(pellucid.ldexp(p.half(), q), torch.ldexp(x.half(), e), 0, 0)
    ef = torch.tensor([2.5, -0.5, 1.0, 0.0, -3.25, 1.0], dtype=torch.float64)
    assert_close(pellucid.ldexp(p, pellucid.tensor(ef.tolist(), dtype=pellucid.float64)), torch.ldexp(x, ef),
                 1e-15, 0)
    assert_close(p.ldexp(q), x.ldexp(e), 0, 0)


def test_gcd_lcm():
    a = np.array([0, -4, 12, -9, 0, 7, 100, -36, 2 ** 40])
    b = np.array([0, 6, -18, 0, -5, 13, 75, -48, 2 ** 20 * 3])
    for dtype in ("int64", "int32", "int16"):
        pa = pellucid.tensor(a.tolist()).to(getattr(pellucid, dtype))
        pb = pellucid.tensor(b.tolist()).to(getattr(pellucid, dtype))
        ta = torch.tensor(a.tolist()).to(getattr(torch, dtype))
        tb = torch.tensor(b.tolist()).to(getattr(torch, dtype))
        for name in ("gcd", "lcm"):
            got, want = getattr(pellucid, name)(pa, pb), getattr(torch, name)(ta, tb)
            assert got.dtype.name == dtype
            assert got.tolist() == want.tolist(), (name, dtype)
    # mixed integer dtypes promote; small types wrap like PyTorch's
    i8 = pellucid.tensor([100, -128, 6], dtype=pellucid.int8)
    t8 = torch.tensor([100, -128, 6], dtype=torch.int8)
    for dt in ("int8", "uint8", "int64"):
        other_p = pellucid.tensor([3, 0, 4], dtype=getattr(pellucid, dt))
        other_t = torch.tensor([3, 0, 4], dtype=getattr(torch, dt))
        for name in ("gcd", "lcm"):
            got, want = getattr(pellucid, name)(i8, other_p), getattr(torch, name)(t8, other_t)
            assert got.dtype.name == str(want.dtype).split(".")[-1]
            assert got.tolist() == want.tolist(), name
    # broadcasting
    assert pellucid.gcd(pellucid.tensor([[12], [18]]), pellucid.tensor([8, 27])).tolist() == \
        torch.gcd(torch.tensor([[12], [18]]), torch.tensor([8, 27])).tolist()
    for name in ("gcd", "lcm"):
        for x, y in ((pellucid.tensor([1.0]), pellucid.tensor([2.0])),
                     (pellucid.tensor([True]), pellucid.tensor([False])),
                     (pellucid.tensor([4]), pellucid.tensor([2.0]))):
            with pytest.raises(NotImplementedError):
                getattr(pellucid, name)(x, y)


def test_frexp():
    x = np.array([0.0, -0.0, 1.0, -0.75, 3.0, 1e-310, 1e308, 5e-324, INF, -INF, NAN, 1024.0, -0.1])
    for dtype in ("float64", "float32", "float16", "bfloat16"):
        with np.errstate(over="ignore", under="ignore"):
            p = pellucid.tensor(x.tolist(), dtype=pellucid.float64).to(getattr(pellucid, dtype))
        t = torch.tensor(x.tolist(), dtype=torch.float64).to(getattr(torch, dtype))
        got, want = pellucid.frexp(p), torch.frexp(t)
        assert got.mantissa.dtype.name == dtype and got.exponent.dtype == pellucid.int32
        np.testing.assert_array_equal(_np(got.mantissa.to(pellucid.float64)), _np(want.mantissa.double()))
        np.testing.assert_array_equal(_np(got.exponent), _np(want.exponent))
        m, e = p.frexp()
        np.testing.assert_array_equal(_np(m.to(pellucid.float64)), _np(got.mantissa.to(pellucid.float64)))
        np.testing.assert_array_equal(_np(e), _np(got.exponent))
    assert type(got).__name__ == "frexp" and got._fields == ("mantissa", "exponent")
    assert "mantissa=" in repr(got) and "exponent=" in repr(got)
    with pytest.raises(RuntimeError, match="floating-point"):
        pellucid.frexp(pellucid.tensor([1, 2]))


def test_angle_isreal():
    x = [-2.0, -0.0, 0.0, 3.0, INF, -INF, NAN]
    for dtype in ("float64", "float32"):
        assert_close(pellucid.angle(pellucid.tensor(x, dtype=getattr(pellucid, dtype))),
                     torch.angle(torch.tensor(x, dtype=getattr(torch, dtype))), 0, 0)
    assert_close(pellucid.angle(pellucid.tensor([-3, 0, 4])), torch.angle(torch.tensor([-3, 0, 4])), 0, 0)
    p = pellucid.tensor([[1.0, NAN], [INF, -2.0]])
    r = pellucid.isreal(p)
    assert r.dtype == pellucid.bool and r.tolist() == torch.isreal(torch.tensor([[1.0, NAN], [INF, -2.0]])).tolist()
    assert p.isreal().shape == (2, 2)
    assert pellucid.isreal(pellucid.tensor([1, 2], dtype=pellucid.int8)).tolist() == [True, True]
    assert not hasattr(pellucid.Tensor, "angle_") and not hasattr(torch.Tensor, "angle_")


# ---- gradients ---------------------------------------------------------------------------

def _x64(vals):
    return pellucid.tensor(vals, dtype=pellucid.float64, requires_grad=True)


GRADCHECK_UNARY = {
    "lgamma": (pellucid.lgamma, [0.3, 1.7, 4.2, -0.4, -2.6, 12.0]),
    "digamma": (pellucid.digamma, [0.3, 1.7, 4.2, -0.4, -2.6, 12.0]),
    "polygamma0": (lambda x: pellucid.polygamma(0, x), [0.3, 1.7, -2.6]),
    "polygamma1": (lambda x: pellucid.polygamma(1, x), [0.3, 1.7, -2.6, 8.0]),
    "polygamma3": (lambda x: pellucid.polygamma(3, x), [0.6, 1.7, -2.6, 8.0]),
    "mvlgamma": (lambda x: pellucid.mvlgamma(x, 3), [1.2, 2.5, 6.0]),
    "erfinv": (pellucid.erfinv, [-0.9, -0.3, 0.0, 0.4, 0.95]),
    "i0": (pellucid.i0, [-9.0, -1.5, 0.0, 0.7, 3.0, 10.0]),
    "i1": (_i1, [-9.0, -1.5, 0.0, 0.7, 3.0, 10.0]),
    "sinc": (pellucid.sinc, [-2.3, -0.5, 0.0, 0.3, 1.0, 4.6]),
    "logit": (pellucid.logit, [0.1, 0.3, 0.5, 0.8, 0.95]),
    "logit_eps": (lambda x: pellucid.logit(x, 0.2), [0.05, 0.3, 0.5, 0.7, 0.95]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_UNARY))
def test_unary_gradcheck(name):
    fn, vals = GRADCHECK_UNARY[name]
    assert gradcheck(fn, (_x64(vals),))


@pytest.mark.parametrize("name", ["lgamma", "digamma", "polygamma1", "erfinv", "i0", "sinc", "logit",
                                  "mvlgamma"])
def test_unary_gradgradcheck(name):
    fn, vals = GRADCHECK_UNARY[name]
    if name == "sinc":
        # sinc'(x) cancels catastrophically next to 0, so finite differences of it are noise there
        vals = [v for v in vals if v != 0.0]
    assert gradgradcheck(fn, (_x64(vals),))


def test_binary_gradcheck():
    a = _x64([0.3, -1.2, 2.5, -0.7])
    b = _x64([1.1, 0.4, -2.0, 3.0])
    assert gradcheck(pellucid.logaddexp2, (a, b))
    assert gradcheck(pellucid.ldexp, (a, b))
    assert gradcheck(lambda x: pellucid.copysign(x, b.detach()), (a,))
    assert gradcheck(lambda x: pellucid.frexp(x).mantissa, (a,))
    assert gradgradcheck(pellucid.logaddexp2, (a, b))


TORCH_GRADS = [
    # (pellucid fn, torch fn, inputs): edge points included (sinc at 0, logit at and beyond the
    # ends, copysign at +-0, nextafter, frexp)
    (pellucid.lgamma, torch.lgamma, [[0.3, -2.6, 5.0]]),
    (pellucid.digamma, torch.digamma, [[0.3, -2.6, 5.0]]),
    (lambda x: pellucid.polygamma(2, x), lambda x: torch.polygamma(2, x), [[0.3, -2.6, 5.0]]),
    (lambda x: pellucid.mvlgamma(x, 2), lambda x: torch.mvlgamma(x, 2), [[1.3, 2.6, 5.0]]),
    (pellucid.erfinv, torch.erfinv, [[-0.99, 0.0, 0.5]]),
    (pellucid.i0, torch.i0, [[-3.0, 0.0, 12.0]]),
    (pellucid.sinc, torch.sinc, [[-1.5, 0.0, 2.0, 0.25]]),
    (pellucid.logit, torch.logit, [[-0.1, 0.0, 0.3, 1.0, 1.2]]),
    (lambda x: pellucid.logit(x, 0.1), lambda x: torch.logit(x, 0.1), [[0.05, 0.1, 0.3, 0.9, 0.95]]),
    (pellucid.angle, torch.angle, [[-1.0, 0.0, 2.0]]),
    (pellucid.copysign, torch.copysign, [[0.0, -0.0, 1.5, -2.0], [-1.0, 2.0, -0.0, 3.0]]),
    (lambda x: pellucid.copysign(x, -1.0), lambda x: torch.copysign(x, -1.0), [[0.0, 1.5, -2.0]]),
    (pellucid.logaddexp2, torch.logaddexp2, [[0.5, -30.0, 2.0], [1.0, 4.0, 2.0]]),
    (pellucid.ldexp, torch.ldexp, [[0.5, -3.0, 2.0], [1.0, -2.5, 0.0]]),
    (pellucid.nextafter, torch.nextafter, [[0.5, -3.0], [1.0, -4.0]]),
    (lambda x: pellucid.frexp(x).mantissa, lambda x: torch.frexp(x).mantissa, [[0.3, -6.0, 1024.0]]),
]


@pytest.mark.parametrize("case", range(len(TORCH_GRADS)))
def test_gradients_match_torch(case):
    pf, tf, inputs = TORCH_GRADS[case]
    ps = [_x64(v) for v in inputs]
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    pout, tout = pf(*ps), tf(*ts)
    assert type(pout.grad_fn).__name__ == type(tout.grad_fn).__name__
    w = [1.0, -2.0, 0.5, 3.0, 1.5][:len(inputs[0])]
    pout.backward(pellucid.tensor(w, dtype=pellucid.float64))
    tout.backward(torch.tensor(w, dtype=torch.float64))
    for p, t in zip(ps, ts):
        assert_close(p.grad, t.grad, 1e-10, 1e-12)


def test_ldexp_integer_exponent_gradient():
    x = _x64([0.5, -3.0, 1.5])
    e = pellucid.tensor([3, 0, 2])
    tx = torch.tensor([0.5, -3.0, 1.5], dtype=torch.float64, requires_grad=True)
    pellucid.ldexp(x, e).sum().backward()
    torch.ldexp(tx, torch.tensor([3, 0, 2])).sum().backward()
    assert_close(x.grad, tx.grad, 0, 0)
    # a negative integer exponent: d/dx x * 2**e = 2**e (PyTorch computes 2**e in integers there
    # and returns 0; we keep the derivative)
    y = _x64([-3.0])
    pellucid.ldexp(y, pellucid.tensor([-2])).backward()
    assert y.grad.tolist() == [0.25]


def test_second_derivatives_through_the_chain():
    """lgamma'' = polygamma(1), digamma'' = polygamma(2), i0'' = i0 - i1/x, under create_graph
    (lgamma'' is PyTorch's trigamma, good to about 1e-9)."""
    for pf, tf in ((pellucid.lgamma, torch.lgamma), (pellucid.digamma, torch.digamma),
                   (pellucid.i0, torch.i0), (pellucid.erfinv, torch.erfinv)):
        x = _x64([0.4, 0.7, 0.2])
        t = torch.tensor([0.4, 0.7, 0.2], dtype=torch.float64, requires_grad=True)
        (g,) = pellucid.autograd.grad(pf(x).sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad(tf(t).sum(), t, create_graph=True)
        (gg,) = pellucid.autograd.grad(g.sum(), x)
        (tgg,) = torch.autograd.grad(tg.sum(), t)
        assert_close(gg, tgg, 1e-8, 1e-12)


def test_integer_ops_have_no_gradient():
    assert not pellucid.gcd(pellucid.tensor([4]), pellucid.tensor([6])).requires_grad
    f = pellucid.frexp(_x64([3.0]))
    assert f.mantissa.requires_grad and not f.exponent.requires_grad
    assert not pellucid.isreal(_x64([1.0])).requires_grad


# ---- in-place forms, methods, out= -------------------------------------------------------

INPLACE = [
    # (name, args after self, float64 input values)
    ("lgamma_", (), [0.3, -2.5, 4.0]),
    ("digamma_", (), [0.3, -2.5, 4.0]),
    ("polygamma_", (2,), [0.3, -2.5, 4.0]),
    ("mvlgamma_", (2,), [1.3, 2.5, 4.0]),
    ("erfinv_", (), [0.3, -0.9, 0.0]),
    ("i0_", (), [0.3, -2.5, 9.0]),
    ("sinc_", (), [0.3, -2.5, 0.0]),
    ("logit_", (), [0.3, 0.9, 0.5]),
    ("logit_", (0.35,), [0.3, 0.9, 0.5]),
    ("copysign_", ("other",), [0.3, -2.5, 4.0]),
    ("copysign_", (-1.0,), [0.3, -2.5, 4.0]),
    ("nextafter_", ("other",), [0.3, -2.5, 4.0]),
    ("ldexp_", ("other",), [0.3, -2.5, 4.0]),
]


@pytest.mark.parametrize("case", range(len(INPLACE)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inplace_matches_torch(case, dtype):
    name, extra, vals = INPLACE[case]
    other = [1.0, -2.0, 3.0]
    p = pellucid.tensor(vals, dtype=getattr(pellucid, dtype))
    t = torch.tensor(vals, dtype=getattr(torch, dtype))
    pargs = [pellucid.tensor(other, dtype=getattr(pellucid, dtype)) if a == "other" else a for a in extra]
    targs = [torch.tensor(other, dtype=getattr(torch, dtype)) if a == "other" else a for a in extra]
    before = p._version[0] if p._version is not None else 0
    r = getattr(p, name)(*pargs)
    getattr(t, name)(*targs)
    assert r is p and p._version[0] == before + 1
    assert_close(p, t, 1e-6, 1e-7, what=name)
    if hasattr(torch, name):           # torch.i0_, torch.sinc_, ... exist; torch.lgamma_ does not
        q = pellucid.tensor(vals, dtype=getattr(pellucid, dtype))
        assert getattr(pellucid, name)(q, *pargs) is q
        assert_close(q, t, 1e-6, 1e-7, what=name)
    else:
        assert not hasattr(pellucid, name)


@pytest.mark.parametrize("name", ["lgamma_", "digamma_", "erfinv_", "i0_", "sinc_", "logit_"])
def test_inplace_on_integer_tensor_raises(name):
    with pytest.raises(RuntimeError):
        getattr(torch.tensor([1, 2]), name)()
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(pellucid.tensor([1, 2]), name)()


def test_inplace_gcd_lcm_and_integer_errors():
    for name in ("gcd_", "lcm_"):
        p, t = pellucid.tensor([12, -8, 0]), torch.tensor([12, -8, 0])
        getattr(p, name)(pellucid.tensor([18, 6, 5]))
        getattr(t, name)(torch.tensor([18, 6, 5]))
        assert p.tolist() == t.tolist()
        q = pellucid.tensor([12, -8, 0])
        assert getattr(pellucid, name)(q, pellucid.tensor([18, 6, 5])) is q
    with pytest.raises(RuntimeError):
        pellucid.tensor([1, 2]).copysign_(pellucid.tensor([1.0, -1.0]))
    with pytest.raises(RuntimeError):
        pellucid.tensor([1, 2]).ldexp_(pellucid.tensor([1, 2]))


def test_inplace_gradient():
    x = _x64([0.3, 1.4, 2.2])
    t = torch.tensor([0.3, 1.4, 2.2], dtype=torch.float64, requires_grad=True)
    y = x * 1.0
    y.lgamma_()
    y.polygamma_(1)
    (y * 2).sum().backward()
    u = t * 1.0
    u.lgamma_()
    u.polygamma_(1)
    (u * 2).sum().backward()
    assert_close(x.grad, t.grad, 1e-10, 1e-12)


def test_methods():
    vals = [0.3, 0.6, 2.5]
    p = pellucid.tensor(vals, dtype=pellucid.float64)
    t = torch.tensor(vals, dtype=torch.float64)
    for name, args in (("lgamma", ()), ("digamma", ()), ("polygamma", (3,)), ("mvlgamma", (2,)),
                       ("erfinv", ()), ("i0", ()), ("sinc", ()), ("logit", ()), ("logit", (0.4,)),
                       ("angle", ())):
        if name == "erfinv":
            p2, t2 = p / 3, t / 3
        else:
            p2, t2 = p, t
        assert_close(getattr(p2, name)(*args), getattr(t2, name)(*args), 1e-11, 1e-13, what=name)
    o = pellucid.tensor([-1.0, 2.0, -3.0], dtype=pellucid.float64)
    to = torch.tensor([-1.0, 2.0, -3.0], dtype=torch.float64)
    for name in ("copysign", "nextafter", "ldexp", "logaddexp2"):
        assert_close(getattr(p, name)(o), getattr(t, name)(to), 1e-14, 0, what=name)


OUT_CASES = [
    ("lgamma", lambda m, x, out: m.lgamma(x, out=out)),
    ("digamma", lambda m, x, out: m.digamma(x, out=out)),
    ("polygamma", lambda m, x, out: m.polygamma(2, x, out=out)),
    ("mvlgamma", lambda m, x, out: m.mvlgamma(x + 1, p=2, out=out)),
    ("erfinv", lambda m, x, out: m.erfinv(x / 4, out=out)),
    ("i0", lambda m, x, out: m.i0(x, out=out)),
    ("sinc", lambda m, x, out: m.sinc(x, out=out)),
    ("logit", lambda m, x, out: m.logit(x / 4, 0.1, out=out)),
    ("angle", lambda m, x, out: m.angle(x - 1, out=out)),
    ("logaddexp2", lambda m, x, out: m.logaddexp2(x, x * 2, out=out)),
    ("copysign", lambda m, x, out: m.copysign(x, -x, out=out)),
    ("nextafter", lambda m, x, out: m.nextafter(x, x * 0, out=out)),
    ("ldexp", lambda m, x, out: m.ldexp(x, x, out=out)),
]


@pytest.mark.parametrize("case", range(len(OUT_CASES)))
@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
def test_out(case, out_dtype):
    name, call = OUT_CASES[case]
    vals = [0.3, 1.7, 3.0]
    x, tx = pellucid.tensor(vals), torch.tensor(vals)
    out = pellucid.empty(0, dtype=getattr(pellucid, out_dtype))      # resized as in PyTorch
    tout = torch.empty(0, dtype=getattr(torch, out_dtype))
    r = call(pellucid, x, out)
    call(torch, tx, tout)
    assert r is out
    assert_close(out, tout, 1e-6, 1e-7, what=name)


def test_out_errors_and_integer_out():
    x = pellucid.tensor([0.3, 0.6])
    with pytest.raises(RuntimeError):
        torch.lgamma(torch.tensor([0.3, 0.6]), out=torch.empty(2, dtype=torch.int64))
    with pytest.raises(RuntimeError):
        pellucid.lgamma(x, out=pellucid.empty(2, dtype=pellucid.int64))
    with pytest.raises(RuntimeError):
        pellucid.ldexp(pellucid.tensor([1, 2]), pellucid.tensor([1, 2]), out=pellucid.empty(2, dtype=pellucid.int64))
    out = pellucid.empty(2, dtype=pellucid.int64)
    pellucid.gcd(pellucid.tensor([4, 9]), pellucid.tensor([6, 6]), out=out)
    assert out.tolist() == [2, 3]
    pellucid.lcm(pellucid.tensor([4, 9]), pellucid.tensor([6, 6]), out=out)
    assert out.tolist() == [12, 18]
    m, e = pellucid.empty(0), pellucid.empty(0, dtype=pellucid.int32)
    r = pellucid.frexp(pellucid.tensor([3.0, -0.25]), out=(m, e))
    assert r.mantissa is m and r.exponent is e
    assert m.tolist() == [0.75, -0.5] and e.tolist() == [2, -1]
    with pytest.raises(RuntimeError, match="int dtype"):
        pellucid.frexp(pellucid.tensor([3.0]), out=(pellucid.empty(1), pellucid.empty(1, dtype=pellucid.int64)))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        pellucid.lgamma(_x64([0.5]), out=pellucid.empty(1, dtype=pellucid.float64))


# ---- argument errors ---------------------------------------------------------------------

def test_argument_errors_match_torch():
    x, t = pellucid.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    for p_call, t_call in (
            (lambda: pellucid.polygamma(-1, x), lambda: torch.polygamma(-1, t)),
            (lambda: pellucid.polygamma(1.0, x), lambda: torch.polygamma(1.0, t)),
            (lambda: pellucid.mvlgamma(x, 0), lambda: torch.mvlgamma(t, 0)),
            (lambda: pellucid.logaddexp2(pellucid.tensor([1, 2]), pellucid.tensor([1, 2])),
             lambda: torch.logaddexp2(torch.tensor([1, 2]), torch.tensor([1, 2]))),
            (lambda: pellucid.nextafter(pellucid.tensor([True]), pellucid.tensor([False])),
             lambda: torch.nextafter(torch.tensor([True]), torch.tensor([False]))),
            (lambda: pellucid.lgamma([1.0]), lambda: torch.lgamma([1.0])),
            (lambda: pellucid.copysign(x, "a"), lambda: torch.copysign(t, "a")),
            (lambda: pellucid.logaddexp2(x, pellucid.ones(3)), lambda: torch.logaddexp2(t, torch.ones(3))),
    ):
        with pytest.raises(Exception) as te:
            t_call()
        with pytest.raises(te.type):
            p_call()
    with pytest.raises(RuntimeError, match="negative n"):
        pellucid.polygamma(-2, x)
    with pytest.raises(RuntimeError, match="greater than or equal to 1"):
        pellucid.mvlgamma(x, 0)


def test_torch_names_exist():
    for name in ("lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0", "sinc", "logit",
                 "logaddexp2", "copysign", "nextafter", "ldexp", "frexp", "gcd", "lcm", "angle", "isreal"):
        assert callable(getattr(pellucid, name)), name
        assert hasattr(pellucid.Tensor, name), name
        for suffix in ("_",):
            assert hasattr(pellucid.Tensor, name + suffix) == hasattr(torch.Tensor, name + suffix), name
            assert hasattr(pellucid, name + suffix) == hasattr(torch, name + suffix), name
