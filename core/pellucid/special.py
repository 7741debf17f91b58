"""`pellucid.special`: PyTorch's `torch.special` names for the special functions pellucid has (most
are the same ops as the top-level functions, under SciPy's names), plus a few defined from them."""
import math

from .ops import _special_fns
from .ops import (digamma, erf, erfc, erfinv, exp2, expm1, i0, lgamma, log1p, log_softmax, logit,  # noqa: F401
                  logsumexp, mvlgamma, polygamma, round, sigmoid, sinc, softmax, xlogy)

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i1", "log1p",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "polygamma", "psi", "round", "sinc",
           "softmax", "xlog1py", "xlogy"]

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma


def i1(input):
    """The modified Bessel function of the first kind of order 1."""
    return _special_fns._i1(input)


def entr(input):
    """-x log x elementwise: 0 at x = 0 and -inf for x < 0."""
    from .ops import where, full_like
    safe = where(input > 0, input, full_like(input, 1.0))
    value = -input * safe.log()
    value = where(input == 0, full_like(value, 0.0), value)
    return where(input < 0, full_like(value, -math.inf), value)


def ndtr(input):
    """The standard normal cumulative distribution function."""
    x = input if input.is_floating_point() else input.float()
    return 0.5 * erfc(-x / math.sqrt(2.0))


def xlog1py(input, other):
    """input * log1p(other), and 0 wherever input is 0 and other is not NaN (even where
    log1p(other) is infinite)."""
    from .ops import isnan, where, zeros_like
    from ._tensor import Tensor
    if not isinstance(other, Tensor):
        from .ops import tensor
        other = tensor(other, dtype=input.dtype if input.is_floating_point() else None)
    value = input * log1p(other)
    return where((input == 0) & ~isnan(other), zeros_like(value), value)
