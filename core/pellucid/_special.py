"""Special functions NumPy lacks. SciPy's are used when installed; otherwise the standard
library's, vectorised (exact to double precision, slower)."""
import math

import numpy as np

try:
    from scipy.special import erf as _erf_scipy
except ImportError:  # pragma: no cover - depends on the environment
    _erf_scipy = None

_erf_py = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    if _erf_scipy is not None:
        return _erf_scipy(x)
    return _erf_py(x).astype(x.dtype)
