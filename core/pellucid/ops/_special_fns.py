"""Special functions and the remaining pointwise math PyTorch has: lgamma, digamma, polygamma,
mvlgamma, erfinv, i0 (and i1 for its gradient), sinc, logit, logaddexp2, copysign, nextafter,
ldexp, frexp, gcd, lcm, angle and isreal, with PyTorch's gradients, dtypes, in-place forms and
out=.

SciPy is not a dependency, so the special functions are evaluated here with NumPy (or CuPy: the
same array code, through the array module of the input), in float64 and rounded to the input's
dtype:

* lgamma: the Stirling series for x >= 10, the recurrence Gamma(x + 1) = x Gamma(x) below, and
  the reflection formula for negative x.
* digamma: the recurrence psi(x + 1) = psi(x) + 1/x up to x >= 10, then the asymptotic series;
  reflection for negative x (as Cephes' psi, which PyTorch uses).
* polygamma (n >= 1): (-1)^(n+1) n! zeta(n + 1, x) with the Hurwitz zeta function summed directly
  and finished with the Euler-Maclaurin formula (as Cephes' zeta); negative x by the reflection
  formula, whose n-th derivative of cot is a polynomial in cot.
* erfinv: PyTorch's rational first guess refined by two Halley steps, on erf for |y| <= 0.5 and
  on erfc near +-1 (so the tails keep full relative accuracy).
* i0 and i1: Cephes' Chebyshev expansions of exp(-x) I(x) on [0, 8] and of exp(-x) sqrt(x) I(x)
  on (8, inf).

Values at poles and infinities follow PyTorch (inf or nan as it gives them), except that
polygamma(1, x) is +inf at every pole (PyTorch's trigamma returns a huge finite number at the
negative integers, from sin(pi * x) not being exactly zero there).
"""
import math

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._special import erf as _erf_cpu, erfc as _erfc_cpu
from .._tensor import Tensor
from ._F import TENSOR
from ._arith import as_grad_dtype, npcall, quietly, write_out
from ._pointwise import (_binary_tensors, _binary_tensors_, _not_implemented, _out,
                         _unary)
from ._reduce import _structseq
from ._registry import check_tensor, tensor_method

_PI = math.pi
_LOG_PI = math.log(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LN2 = math.log(2.0)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
_F64 = np.dtype(np.float64)


def _xp(a):
    return np if type(a) is np.ndarray else _backend.xp_of(a)


def _as_f64(a):
    """(array module, a as a float64 array, dtype to round the result back to)."""
    xp = _xp(a)
    a = xp.asarray(a)
    return xp, a.astype(_F64, copy=False), a.dtype


def _erf(xp, a):
    if xp is np:
        return _erf_cpu(a)
    from cupyx.scipy.special import erf as erf_gpu
    return erf_gpu(a)


def _erfc(xp, a):
    if xp is np:
        return _erfc_cpu(a)
    from cupyx.scipy.special import erfc as erfc_gpu
    return erfc_gpu(a)


def _frac_near(xp, x):
    """x - round(x), in [-0.5, 0.5], exactly (x's nearest integer taken away)."""
    return x - xp.rint(x)


def _cotpi(xp, x):
    """cot(pi x), accurate also next to its zeros (the half-integers) and poles (the integers)."""
    r = _frac_near(xp, x)
    ar = xp.abs(r)
    near_pole = 1.0 / xp.tan(_PI * r)
    near_zero = xp.copysign(xp.tan(_PI * (0.5 - ar)), r)      # 0.5 - |r| is exact here
    return xp.where(ar < 0.25, near_pole, near_zero)


def _horner(z, coefs):
    """sum(c * z**k), coefficients highest degree first (Python floats)."""
    acc = coefs[0] * z
    for c in coefs[1:-1]:
        acc += c
        acc *= z
    return acc + coefs[-1]


# ---- lgamma ------------------------------------------------------------------------------

# B_2k / (2k (2k - 1)), k = 8 .. 1: the Stirling series of lgamma in 1/x^2 (times 1/x)
_STIRLING = (-3617.0 / 122400.0, 1.0 / 156.0, -691.0 / 360360.0, 1.0 / 1188.0,
             -1.0 / 1680.0, 1.0 / 1260.0, -1.0 / 360.0, 1.0 / 12.0)
_SHIFT = 10.0


def _lgamma_pos(xp, x):
    """lgamma of x >= 0 (inf at 0): recurrence up to >= 10, then Stirling's series."""
    z = x
    prod = xp.ones_like(x)
    for _ in range(int(_SHIFT)):
        low = z < _SHIFT
        prod = xp.where(low, prod * z, prod)
        z = xp.where(low, z + 1.0, z)
    r = 1.0 / (z * z)
    series = _horner(r, _STIRLING) / z
    out = (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + series - xp.log(prod)
    return xp.where(xp.isinf(x), xp.inf, out)


def _zeta_int(k):
    """The Riemann zeta function at an integer k >= 2, in double precision (Python floats)."""
    n = 1000
    head = math.fsum(j ** -k for j in range(1, n))
    # Euler-Maclaurin tail from n: n^(1-k)/(k-1) + n^-k/2 + k n^(-k-1)/12 - k(k+1)(k+2) n^(-k-3)/720
    tail = (n ** (1 - k) / (k - 1) + 0.5 * n ** -k + k * n ** (-k - 1) / 12.0
            - k * (k + 1) * (k + 2) * n ** (-k - 3) / 720.0)
    return head + tail


# lgamma(1 + z) = -gamma z + sum_k (-1)^k zeta(k) / k z^k, highest degree first (|z| <= 0.5)
_EULER_GAMMA = 0.57721566490153286061
_LGAMMA1P = tuple((-1) ** k * _zeta_int(k) / k for k in range(56, 1, -1)) + (-_EULER_GAMMA, 0.0)
_NEAR_ROOT = 0.5


def _lgamma_near_roots(xp, x, out):
    """lgamma on [0.5, 2.5], around its roots 1 and 2, from the Taylor series at 1 (full
    relative accuracy where the recurrence and Stirling's series would cancel)."""
    near1 = xp.abs(x - 1.0) <= _NEAR_ROOT
    near2 = (xp.abs(x - 2.0) <= _NEAR_ROOT) & ~near1
    z = xp.where(near1, x - 1.0, xp.where(near2, x - 2.0, 0.0))
    series = _horner(z, _LGAMMA1P)
    out = xp.where(near1, series, out)
    return xp.where(near2, series + xp.log1p(z), out)


def _lgamma_array(a):
    xp, x, dt = _as_f64(a)
    neg = x < 0
    pos = _lgamma_near_roots(xp, x, _lgamma_pos(xp, xp.where(neg, 1.0 - x, x)))
    # Gamma(x) Gamma(1 - x) = pi / sin(pi x)
    s = xp.abs(xp.sin(_PI * _frac_near(xp, x)))
    out = xp.where(neg, _LOG_PI - xp.log(s) - pos, pos)
    out = xp.where(neg & (x == xp.floor(x)), xp.inf, out)      # poles (and -inf)
    return out.astype(dt, copy=False)


# ---- digamma -----------------------------------------------------------------------------

# B_2k / 2k, k = 7 .. 1 (Cephes' psi): digamma(x) ~ log x - 1/2x - sum(c_k / x^2k)
_PSI_ASYMP = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
              -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
              8.33333333333333333333E-2)


def _digamma_pos(xp, x):
    z = x
    acc = xp.zeros_like(x)
    for _ in range(int(_SHIFT)):
        low = z < _SHIFT
        acc = xp.where(low, acc + 1.0 / z, acc)
        z = xp.where(low, z + 1.0, z)
    r = 1.0 / (z * z)
    return xp.log(z) - 0.5 / z - r * _horner(r, _PSI_ASYMP) - acc


def _digamma_f64(xp, x):
    neg = x < 0
    pos = _digamma_pos(xp, xp.where(neg, 1.0 - x, x))
    # psi(1 - x) - psi(x) = pi cot(pi x)
    out = xp.where(neg, pos - _PI * _cotpi(xp, x), pos)
    out = xp.where(neg & (x == xp.floor(x)), xp.nan, out)      # poles (and -inf): nan, as torch
    return xp.where(x == 0, xp.copysign(xp.inf, -x), out)       # +-0: -+inf


def _digamma_array(a):
    xp, x, dt = _as_f64(a)
    return _digamma_f64(xp, x).astype(dt, copy=False)


# ---- polygamma ---------------------------------------------------------------------------

# (2k)! / B_2k, k = 1 .. 12: Cephes' Euler-Maclaurin coefficients of the Hurwitz zeta function
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)
_ZETA_SHIFT = 10


def _hurwitz_zeta_pos(xp, s, q):
    """zeta(s, q) = sum_k (q + k)^-s for an integer s >= 2 and q > 0 (q may be inf)."""
    total = xp.zeros_like(q)
    for k in range(_ZETA_SHIFT):
        total += (q + k) ** -s
    w = q + _ZETA_SHIFT
    b = w ** -s
    total += w ** (1 - s) / (s - 1) + 0.5 * b
    rising = 1.0
    k = 0
    for a_k in _ZETA_A:
        rising *= s + k
        b = b / w
        total += (rising / a_k) * b
        rising *= s + k + 1
        b = b / w
        k += 2
    return total


def _cot_derivative_coefs(n):
    """Coefficients (highest degree first) of P_n with d^n/dz^n cot z = P_n(cot z)."""
    p = [0, 1]                              # P_0(c) = c, lowest degree first
    for _ in range(n):
        # P' * (-(1 + c^2))
        d = [k * p[k] for k in range(1, len(p))] or [0]
        q = [0] * (len(d) + 2)
        for k, c in enumerate(d):
            q[k] -= c
            q[k + 2] -= c
        p = q
    return [float(c) for c in reversed(p)]


def _factorial(n):
    return math.inf if n > 170 else float(math.factorial(n))


def _polygamma_f64(xp, n, x):
    if n == 0:
        return _digamma_f64(xp, x)
    sign = 1.0 if n % 2 else -1.0
    scale = sign * _factorial(n)
    neg = x < 0
    xr = xp.where(neg, 1.0 - x, x)
    pos = scale * _hurwitz_zeta_pos(xp, n + 1, xr)
    # psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x))
    cot = _cotpi(xp, x)
    refl = (-sign) * pos - _PI ** (n + 1) * _horner(cot, _cot_derivative_coefs(n))
    out = xp.where(neg, refl, pos)
    pole = (x <= 0) & (x == xp.floor(x))
    if n == 1:
        out = xp.where(pole, xp.inf, out)
        out = xp.where(x == -xp.inf, xp.nan, out)
    else:
        out = xp.where(pole, sign * xp.inf, out)             # Cephes' zeta is +inf at the poles
        out = xp.where(x == xp.inf, xp.nan, out)
    return out


def _polygamma_array(n, a):
    xp, x, dt = _as_f64(a)
    return _polygamma_f64(xp, n, x).astype(dt, copy=False)


# ---- erfinv ------------------------------------------------------------------------------

# PyTorch's (G. L. Pavlis') rational first guess
_ERFINV_A = (-0.140543331, 0.914624893, -1.645349621, 0.886226899)
_ERFINV_B = (0.012229801, -0.329097515, 1.442710462, -2.118377725, 1.0)
_ERFINV_C = (1.641345311, 3.429567803, -1.624906493, -1.970840454)
_ERFINV_D = (1.637067800, 3.543889200, 1.0)


def _erfinv_array(a):
    xp, y, dt = _as_f64(a)
    ay = xp.abs(y)
    with np.errstate(all="ignore"):
        z = ay * ay
        central = ay * _horner(z, _ERFINV_A) / _horner(z, _ERFINV_B)
        t = xp.sqrt(-xp.log((1.0 - xp.minimum(ay, 1.0)) / 2.0))
        tail = _horner(t, _ERFINV_C) / _horner(t, _ERFINV_D)
        x = xp.where(ay <= 0.7, central, tail)
        x = xp.where(ay < 1.0, x, 1.0)                  # keeps the steps finite; fixed below
        upper = ay > 0.5
        comp = 1.0 - ay                                  # exact for ay in [0.5, 1]
        for _ in range(2):
            # Halley's step on erf(x) = ay (erfc(x) = 1 - ay near 1): dx = f / f'
            f = xp.where(upper, comp - _erfc(xp, x), _erf(xp, x) - ay)
            dx = f * _SQRT_PI_OVER_2 * xp.exp(x * x)
            x = x - dx / (1.0 + x * dx)
        x = xp.where(ay == 1.0, xp.inf, x)
        x = xp.where((ay > 1.0) | xp.isnan(ay), xp.nan, x)
        out = xp.copysign(x, y)
    return out.astype(dt, copy=False)


# ---- i0 and i1 ---------------------------------------------------------------------------

# Cephes' Chebyshev coefficients (as in PyTorch): exp(-x) I0(x) on [0, 8]
_I0_A = (-4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
         1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
         -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
         9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
         -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
         1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
         -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
         1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
         -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
         1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1)
# exp(-x) sqrt(x) I0(x) on (8, inf), in 32/x - 2
_I0_B = (-7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
         3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
         1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
         -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
         7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
         -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
         3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
         2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
         8.04490411014108831608E-1)
# exp(-x) I1(x) / x on [0, 8]
_I1_A = (2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16,
         -1.10559694773538630805E-15, 7.60068429473540693410E-15, -5.04218550472791168711E-14,
         3.22379336594557470981E-13, -1.98397439776494371520E-12, 1.17361862988909016308E-11,
         -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
         9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7,
         -8.56872026469545474066E-7, 3.47025130813767847674E-6, -1.32731636560394358279E-5,
         4.78156510755005422638E-5, -1.61760815825896745588E-4, 5.12285956168575772895E-4,
         -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
         2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1,
         -1.76416518357834055153E-1, 2.52587186443633654823E-1)
# exp(-x) sqrt(x) I1(x) on (8, inf), in 32/x - 2
_I1_B = (7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17,
         -3.20952592199342395980E-17, 2.96262899764595013876E-16, 3.30820231092092828324E-16,
         -1.88035477551078244854E-15, -3.81440307243700780478E-15, 1.04202769841288027642E-14,
         4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
         -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11,
         3.25260358301548823856E-11, -1.89749581235054123450E-11, -5.58974346219658380687E-10,
         -3.83538038596423702205E-9, -2.63146884688951950684E-8, -2.51223623787020892529E-7,
         -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
         7.78576235018280120474E-1)
_EXP_LIMIT_F32 = math.log(float(np.finfo(np.float32).max))


def _chbevl(y, coefs):
    """Clenshaw's sum of a Chebyshev series (Cephes' chbevl)."""
    b0 = y * 0.0 + coefs[0]
    b1 = b2 = y * 0.0
    for c in coefs[1:]:
        b2 = b1
        b1 = b0
        b0 = y * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _bessel_i(a, small_coefs, large_coefs, odd):
    xp, x, dt = _as_f64(a)
    ax = xp.abs(x)
    e = xp.exp(ax)
    if dt != _F64:
        # PyTorch evaluates in float (half types too): exp overflows where float's does
        e = xp.where(ax > _EXP_LIMIT_F32, xp.inf, e)
    small = e * _chbevl(ax / 2.0 - 2.0, small_coefs)
    if odd:
        small = small * ax
    large = e * _chbevl(32.0 / ax - 2.0, large_coefs) / xp.sqrt(ax)
    out = xp.where(ax <= 8.0, small, large)
    if odd:
        out = xp.where(x < 0, -out, out)
    return out.astype(dt, copy=False)


def _i0_array(a):
    return _bessel_i(a, _I0_A, _I0_B, False)


def _i1_array(a):
    return _bessel_i(a, _I1_A, _I1_B, True)


# ---- sinc, angle -------------------------------------------------------------------------

def _sinc_array(a):
    xp, x, dt = _as_f64(a)
    px = _PI * x
    out = xp.where(x == 0, 1.0, xp.sin(px) / xp.where(x == 0, 1.0, px))
    return out.astype(dt, copy=False)


def _angle_array(a):
    xp = _xp(a)
    out = xp.where(a < 0, xp.asarray(_PI, dtype=a.dtype), xp.asarray(0, dtype=a.dtype))
    return xp.where(xp.isnan(a), a, out)


# ---- gradients written once for arrays and (create_graph) tensors -------------------------

def _g_digamma(F, x):
    return digamma(x) if F is TENSOR else _digamma_array(x)


def _g_polygamma(F, n, x):
    return polygamma(n, x) if F is TENSOR else _polygamma_array(n, x)


def _g_i1(F, x):
    return _i1(x) if F is TENSOR else _i1_array(x)


def _g_i0(F, x):
    return i0(x) if F is TENSOR else _i0_array(x)


def _sinc_grad(F, g, x, o):
    zero = x == 0
    x = F.where(zero, 1.0, x)            # keeps the unused branch finite (also for create_graph)
    px = x * _PI
    d = (F.cos(px) * px - F.sin(px)) / (px * x)
    return g * F.where(zero, 0.0, d)


_T = [
    # name, forward, gradient(F, g, x, out), save
    ("lgamma", _lgamma_array, lambda F, g, x, o: g * _g_digamma(F, x), "input"),
    ("digamma", _digamma_array, lambda F, g, x, o: g * _g_polygamma(F, 1, x), "input"),
    ("erfinv", _erfinv_array, lambda F, g, x, o: g * _SQRT_PI_OVER_2 * F.exp(o * o), "output"),
    ("i0", _i0_array, lambda F, g, x, o: g * _g_i1(F, x), "input"),
    ("sinc", _sinc_array, _sinc_grad, "input"),
    ("angle", _angle_array, None, None),
]

_FUNCTIONS = {}
for _name, _fn, _grad, _save in _T:
    _FUNCTIONS[_name] = _unary(_name, _fn, _grad, save=_save, promote="float")
    globals()[_name] = _FUNCTIONS[_name][1]
    globals()[_name + "_"] = _FUNCTIONS[_name][2]
del globals()["angle_"]
delattr(Tensor, "angle_")          # PyTorch has no in-place angle


class I1(Op):
    """The modified Bessel function I1 (i0's derivative; torch.special.i1)."""
    name = "i1"
    promote = "float"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return npcall("i1", _i1_array, a)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        x = ctx.inputs[0]
        # I1'(x) = I0(x) - I1(x) / x, 1/2 at 0
        d = _g_i0(F, x) - _out(ctx, F) / F.where(x == 0, 1.0, x)
        return g * F.where(x == 0, 0.5, d)


def _i1(input):
    return dispatch(I1, (input,))


# ---- polygamma, mvlgamma, logit ----------------------------------------------------------

class Polygamma(Op):
    name = "polygamma"
    promote = "float"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, n):
        return npcall("polygamma", _polygamma_array, n, a)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        return g * _g_polygamma(F, ctx.params[0] + 1, ctx.inputs[0])


def _check_polygamma_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return int(n)


def polygamma(n, input, *, out=None):
    """The n-th derivative of the digamma function, as torch.polygamma."""
    check_tensor(input, "polygamma")
    n = _check_polygamma_n(n)
    return write_out("polygamma", dispatch(Polygamma, (input,), (n,)), out)


@tensor_method("polygamma")
def _polygamma_method(self, n):
    return polygamma(n, self)


@tensor_method("polygamma_")
def polygamma_(input, n):
    n = _check_polygamma_n(n)
    return dispatch_inplace(Polygamma, input, (), (n,))


def _mvlgamma_array(a, p):
    xp, x, dt = _as_f64(a)
    out = p * (p - 1) / 4.0 * _LOG_PI
    for j in range(p):
        out = out + _lgamma_array(x - j / 2.0)
    return out.astype(dt, copy=False)


class Mvlgamma(Op):
    name = "mvlgamma"
    promote = "float"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, p):
        return npcall("mvlgamma", _mvlgamma_array, a, p)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        x = ctx.inputs[0]
        p = ctx.params[0]
        total = _g_digamma(F, x)
        for j in range(1, p):
            total = total + _g_digamma(F, x - j / 2.0)
        return g * total


def _check_mvlgamma_p(p):
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        raise TypeError(f"mvlgamma(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return int(p)


@tensor_method("mvlgamma")
def mvlgamma(input, p, *, out=None):
    """The multivariate log-gamma function of dimension p, as torch.mvlgamma."""
    check_tensor(input, "mvlgamma")
    p = _check_mvlgamma_p(p)
    return write_out("mvlgamma", dispatch(Mvlgamma, (input,), (p,)), out)


@tensor_method("mvlgamma_")
def mvlgamma_(input, p):
    p = _check_mvlgamma_p(p)
    return dispatch_inplace(Mvlgamma, input, (), (p,))


def _logit_array(a, eps):
    xp, x, dt = _as_f64(a)
    if eps is not None:
        # PyTorch's x < lo ? lo : (x > hi ? hi : x), with the bounds in the input's dtype
        lo = float(np.asarray(eps, dtype=dt)) if dt.kind == "f" else eps
        hi = float(np.asarray(1.0 - eps, dtype=dt)) if dt.kind == "f" else 1.0 - eps
        x = xp.where(x < lo, lo, xp.where(x > hi, hi, x))
    return xp.log(x / (1.0 - x)).astype(dt, copy=False)


class Logit(Op):
    name = "logit"
    promote = "float"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, eps):
        return npcall("logit", _logit_array, a, eps)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        x = ctx.inputs[0]
        eps = ctx.params[0]
        d = g / (x * (1 - x))
        if eps is None:
            return F.where((x < 0) | (x > 1), float("nan"), d)
        return F.where((x < eps) | (x > 1.0 - eps), 0.0, d)


def _eps(eps):
    return None if eps is None else float(eps)


@tensor_method("logit")
def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given, as torch.logit."""
    check_tensor(input, "logit")
    return write_out("logit", dispatch(Logit, (input,), (_eps(eps),)), out)


@tensor_method("logit_")
def logit_(input, eps=None):
    return dispatch_inplace(Logit, input, (), (_eps(eps),))


# ---- binary ops --------------------------------------------------------------------------

class Logaddexp2(Op):
    name = "logaddexp2"
    promote = "common"
    save_inputs = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("logaddexp2", np.logaddexp2, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        return g / (F.exp2(b - a) + 1), g / (F.exp2(a - b) + 1)


@tensor_method("logaddexp2")
def logaddexp2(input, other, *, out=None):
    """log2(2**input + 2**other), as torch.logaddexp2."""
    return write_out("logaddexp2", _binary_tensors(Logaddexp2, "logaddexp2", input, other, True), out)


def _copysign_grad(F, g, x, out):
    return g * F.where(x == 0, 0.0, out / F.where(x == 0, 1.0, x))


class Copysign(Op):
    name = "copysign"
    promote = "float"
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        return npcall("copysign", np.copysign, a, b)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        # d/dx copysign(x, y) = copysign(x, y) / x (0 at x = 0); y gets zeros, as in PyTorch
        nb = ctx.needs_input_grad[1]
        return _copysign_grad(F, g, ctx.inputs[0], _out(ctx, F)), (F.zeros_like(g) if nb else None)


class CopysignScalar(Copysign):
    """copysign with a Python number as `other` (PyTorch's CopysignBackward1)."""
    name = "copysign_scalar"
    label = "copysign"
    backward_name = "CopysignBackward1"


def _copysign_op(input, other):
    if isinstance(other, Tensor):
        return Copysign
    if isinstance(other, (bool, int, float, np.generic)):
        return CopysignScalar
    raise TypeError(f"copysign(): argument 'other' must be Tensor or Number, not {type(other).__name__}")


@tensor_method("copysign")
def copysign(input, other, *, out=None):
    """input's magnitude with other's sign (integer inputs give floats), as torch.copysign."""
    check_tensor(input, "copysign")
    op = _copysign_op(input, other)
    return write_out("copysign", dispatch(op, (input, other)), out)


@tensor_method("copysign_")
def copysign_(input, other):
    op = _copysign_op(input, other)
    return dispatch_inplace(op, input, (other,))


class Nextafter(Op):
    name = "nextafter"
    promote = "common"
    opmath = False          # bfloat16's own next value, not float32's

    @staticmethod
    def forward(ctx, a, b):
        return npcall("nextafter", np.nextafter, a, b)

    @staticmethod
    def backward(ctx, F, g):
        return g, F.zeros_like(g)


@tensor_method("nextafter")
def nextafter(input, other, *, out=None):
    """The next floating-point value after input towards other, as torch.nextafter."""
    return write_out("nextafter", _binary_tensors(Nextafter, "nextafter", input, other, True), out)


@tensor_method("nextafter_")
def nextafter_(input, other):
    return _binary_tensors_(Nextafter, "nextafter", input, other, True)


def _ldexp_array(a, b, np_dtype):
    xp = _xp(a)
    a = a.astype(np_dtype, copy=False)
    if b.dtype.kind in "iub":
        # exact scaling (0.5 * 2**1024 is finite although 2**1024 is not)
        e = b.astype(np.int64, copy=False) if b.dtype.kind != "i" else b
        return xp.ldexp(a, e)
    return a * xp.exp2(b.astype(np_dtype, copy=False))


class Ldexp(Op):
    name = "ldexp"
    save_inputs = True
    save_output = True

    @staticmethod
    def forward(ctx, a, b, np_dtype):
        return npcall("ldexp", _ldexp_array, a, b, np_dtype)

    @staticmethod
    @quietly
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = g * F.exp2(as_grad_dtype(F, b, g))
        if nb:
            gb = g * _out(ctx, F) * _LN2
        return ga, gb


def _ldexp_dtype(input, other):
    check_tensor(input, "ldexp")
    check_tensor(other, "ldexp", "other")
    dt = D.result_type(input, other)
    if dt.category < 2:
        dt = D._default_float
    return dt


@tensor_method("ldexp")
def ldexp(input, other, *, out=None):
    """input * 2**other, as torch.ldexp (integer inputs give floats)."""
    dt = _ldexp_dtype(input, other)
    if out is not None and D._FROM_NP[out._data.dtype].category < 2:
        raise RuntimeError(f"ldexp can't be cast to the desired output type {out.dtype.name}")
    return write_out("ldexp", dispatch(Ldexp, (input, other), (dt.np,)), out)


@tensor_method("ldexp_")
def ldexp_(input, other):
    dt = _ldexp_dtype(input, other)
    sdt = input.dtype
    if dt.category > sdt.category:
        raise RuntimeError(f"ldexp_: result type {dt.name} can't be cast to the desired output type "
                           f"{sdt.name} of the tensor modified in place")
    return dispatch_inplace(Ldexp, input, (other,), (input._data.dtype,))


# ---- gcd, lcm ----------------------------------------------------------------------------

def _integer_pair(name, input, other):
    check_tensor(input, name)
    check_tensor(other, name, "other")
    dt = D.result_type(input, other)
    if dt.category != 1:
        raise _not_implemented(name, dt)


class Gcd(Op):
    name = "gcd"
    promote = "common"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b):
        return npcall("gcd", np.gcd, a, b)

    @staticmethod
    def backward(ctx, F, g):
        raise RuntimeError("the derivative for 'gcd' is not implemented.")


class Lcm(Gcd):
    name = "lcm"

    @staticmethod
    def forward(ctx, a, b):
        return npcall("lcm", np.lcm, a, b)


@tensor_method("gcd")
def gcd(input, other, *, out=None):
    """The elementwise greatest common divisor of two integer tensors (gcd(0, 0) = 0)."""
    _integer_pair("gcd", input, other)
    return write_out("gcd", dispatch(Gcd, (input, other)), out)


@tensor_method("gcd_")
def gcd_(input, other):
    _integer_pair("gcd", input, other)
    return dispatch_inplace(Gcd, input, (other,))


@tensor_method("lcm")
def lcm(input, other, *, out=None):
    """The elementwise least common multiple of two integer tensors."""
    _integer_pair("lcm", input, other)
    return write_out("lcm", dispatch(Lcm, (input, other)), out)


@tensor_method("lcm_")
def lcm_(input, other):
    _integer_pair("lcm", input, other)
    return dispatch_inplace(Lcm, input, (other,))


# ---- frexp, isreal -----------------------------------------------------------------------

_ret_frexp = _structseq("frexp", ("mantissa", "exponent"))
# C++ type names, as PyTorch's frexp error spells them
_C_NAMES = {"int64": "long int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool", "float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16"}


class Frexp(Op):
    name = "frexp"
    multi_output = True

    @staticmethod
    def forward(ctx, a):
        mantissa, exponent = _xp(a).frexp(a)
        ctx.exponent = exponent
        return mantissa, exponent.astype(np.int32, copy=False)

    @staticmethod
    @quietly
    def backward(ctx, F, g, _g_exponent):
        return g / F.const(_xp(ctx.exponent).exp2(ctx.exponent.astype(np.float64)))


@tensor_method("frexp")
def frexp(input, *, out=None):
    """(mantissa, exponent) with input = mantissa * 2**exponent and 0.5 <= |mantissa| < 1."""
    check_tensor(input, "frexp")
    if input._data.dtype.kind not in "fV":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = dispatch(Frexp, (input,))
    if out is None:
        return _ret_frexp(mantissa, exponent)
    m_out, e_out = out
    if e_out._data.dtype != np.int32:
        got = _C_NAMES.get(e_out.dtype.name, e_out.dtype.name)
        raise RuntimeError(f"torch.frexp() expects exponent to have int dtype but got {got}")
    if m_out._data.dtype != input._data.dtype:
        raise RuntimeError(f"torch.frexp() expects mantissa to have dtype {input.dtype.name} but got "
                           f"{m_out.dtype.name}")
    return _ret_frexp(write_out("frexp", mantissa, m_out), write_out("frexp", exponent, e_out))



@tensor_method("isreal")
def isreal(input):
    """True for every element of a real tensor (pellucid has no complex dtypes)."""
    check_tensor(input, "isreal")
    xp = _xp(input._data)
    return Tensor._make(xp.ones(input._data.shape, dtype=np.bool_))


__all__ = [
    # module-level in-place forms only where torch has them (torch.i0_, not torch.lgamma_)
    "angle", "copysign", "digamma", "erfinv", "frexp", "gcd", "gcd_", "i0", "i0_", "isreal", "lcm",
    "lcm_", "ldexp", "ldexp_", "lgamma", "logaddexp2", "logit", "logit_", "mvlgamma", "nextafter",
    "polygamma", "sinc", "sinc_",
]
