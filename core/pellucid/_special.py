"""Special functions NumPy lacks: erf and erfc on CPU arrays.

W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev approximations for the
error function", Math. Comp. 23, 1969; the coefficients of his CALERF routine), evaluated
vectorised over three ranges of |x|, in double precision (to about one unit in the last place;
float16/float32 input is evaluated in float64 and rounded back, as exact as its dtype allows).
"""
import numpy as np

# erf(x) = x * A(x^2) / B(x^2) for |x| <= 0.46875
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
# erfc(y) = exp(-y^2) * C(y) / D(y) for 0.46875 < y <= 4
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
# erfc(y) = exp(-y^2) / y * (1/sqrt(pi) - z * P(z) / Q(z)), z = 1/y^2, for y > 4
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1   # 1 / sqrt(pi)
_THRESH = 0.46875


def _pair(num, den, n):
    """Horner coefficients, highest degree first, of Cody's numerator and denominator
    (the denominator is monic), stacked as (2, 1) columns to evaluate both in one pass."""
    num_seq = (num[n],) + tuple(num[:n])
    den_seq = (1.0,) + tuple(den[:n])
    return [np.array([[a], [b]]) for a, b in zip(num_seq, den_seq)]


_AB, _CD, _PQ = _pair(_A, _B, 4), _pair(_C, _D, 8), _pair(_P, _Q, 5)


def _rational(t, coefs):
    """numerator(t) / denominator(t), both polynomials evaluated together on a (2, n) array."""
    acc = coefs[0] * t
    for c in coefs[1:-1]:
        acc += c
        acc *= t
    acc += coefs[-1]
    num, den = acc
    num /= den
    return num


def _exp_neg_sq(y):
    """exp(-y*y), with y*y split into an exact part and a small remainder so large y keep
    full relative accuracy (Cody's trick)."""
    ysq = np.trunc(y * 16) / 16
    delta = (y - ysq) * (y + ysq)
    ysq *= -ysq
    np.exp(ysq, out=ysq)
    np.negative(delta, out=delta)
    np.exp(delta, out=delta)
    ysq *= delta
    return ysq


def _erfc_mid(y):
    r = _rational(y, _CD)
    r *= _exp_neg_sq(y)
    return r


def _erfc_tail(y):
    z = 1.0 / (y * y)
    r = _rational(z, _PQ)
    r *= z
    np.subtract(_SQRPI, r, out=r)
    r /= y
    r *= _exp_neg_sq(y)
    r[np.isinf(y)] = 0.0        # exp_neg_sq gives inf - inf there
    return r


_BLOCK = 1 << 14    # elements per pass: keeps a block's temporaries in cache


def _block(x, complement):
    """erf (or erfc) of a 1-d block: each range's formula runs over the whole block where
    that is cheaper than gathering, and the tail (|x| > 4, rare) is gathered."""
    y = np.abs(x)
    small = y <= _THRESH
    out = _rational(x * x, _AB)
    out *= x
    if complement:
        np.subtract(1.0, out, out=out)
    if small.all():
        return out
    mid = y <= 4.0
    mid ^= small
    if mid.any():
        r = _erfc_mid(np.maximum(y, _THRESH))
        if not complement:
            np.subtract(1.0, r, out=r)
            np.copysign(r, x, out=r)
        else:
            np.copyto(r, 2.0 - r, where=x < 0)
        np.copyto(out, r, where=mid)
    tail = ~(small | mid)           # |x| > 4, and NaN
    if tail.any():
        xt = x[tail]
        r = _erfc_tail(np.abs(xt))
        if complement:
            out[tail] = np.where(xt < 0, 2.0 - r, r)
        else:
            out[tail] = np.copysign(1.0 - r, xt)
    return out


def _erf_impl(x, complement):
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    flat = x.reshape(-1)
    with np.errstate(all="ignore"):
        if flat.size <= _BLOCK:
            out = _block(flat.astype(np.float64, copy=False), complement)
            return out.reshape(x.shape).astype(out_dtype, copy=False)
        out = np.empty(flat.shape, out_dtype)
        for start in range(0, flat.size, _BLOCK):
            block = flat[start:start + _BLOCK].astype(np.float64, copy=False)
            out[start:start + _BLOCK] = _block(block, complement)
    return out.reshape(x.shape)


def erf(x):
    """The error function of a NumPy array (float input keeps its dtype)."""
    return _erf_impl(x, False)


def erfc(x):
    """The complementary error function 1 - erf(x), accurate also where it is tiny."""
    return _erf_impl(x, True)
