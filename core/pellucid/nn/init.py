"""Weight initialisers (PyTorch's `nn.init`): fill a tensor in place, without recording a graph,
from pellucid's random generators (so `pellucid.manual_seed` makes them reproducible)."""
import math
import warnings

import numpy as np

from .. import _backend, _random
from .._grad_mode import no_grad


def _rng(tensor, generator):
    return _random.rng_for(_backend.device_of(tensor._data), generator)


def _write(tensor, values):
    """Copy `values` into the tensor's memory (its identity and Parameter-ness stay)."""
    data = tensor._data
    if not data.flags.writeable:
        raise RuntimeError("nn.init: cannot fill a read-only (broadcast) tensor in place")
    data[...] = values
    if tensor._version is None:
        tensor._version = [1]
    else:
        tensor._version[0] += 1
    return tensor


def _sample_dtype(tensor):
    # the generators draw float32/float64 directly; float16 is drawn in float32 and rounded
    dt = tensor._data.dtype
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float32)


def _uniform(tensor, low, high, generator):
    xp, rng = _rng(tensor, generator)
    u = rng.random(tensor._data.shape, dtype=_sample_dtype(tensor))
    u *= (high - low)
    u += low
    return u


def _normal(tensor, mean, std, generator, shape=None):
    xp, rng = _rng(tensor, generator)
    z = rng.standard_normal(tensor._data.shape if shape is None else shape, dtype=_sample_dtype(tensor))
    if std != 1:
        z *= std
    if mean != 0:
        z += mean
    return z


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (the scale kaiming/xavier multiply the std by)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    with no_grad():
        return _write(tensor, _uniform(tensor, a, b, generator))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    with no_grad():
        return _write(tensor, _normal(tensor, mean, std, generator))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) restricted to [a, b] (out-of-range draws are redrawn)."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
    if p <= 0:
        raise ValueError(f"trunc_normal_: the interval [{a}, {b}] has no mass under N({mean}, {std}^2)")
    xp = _backend.xp_of(tensor._data)
    n = tensor._data.size
    out = xp.empty(n, dtype=_sample_dtype(tensor))
    filled = 0
    while filled < n:
        # draw enough that one round usually completes, even when [a, b] holds little mass
        want = n - filled
        z = _normal(tensor, mean, std, generator, shape=(int(want / p * 1.1) + 16,))
        z = z[(z >= a) & (z <= b)][:want]
        out[filled:filled + z.size] = z
        filled += z.size
    with no_grad():
        return _write(tensor, out.reshape(tensor._data.shape))


def constant_(tensor, val):
    with no_grad():
        return _write(tensor, val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    xp = _backend.xp_of(tensor._data)
    with no_grad():
        return _write(tensor, xp.eye(*tensor._data.shape, dtype=tensor._data.dtype))


def dirac_(tensor, groups=1):
    """Fill a {3,4,5}-D conv weight so the convolution is the identity (per group)."""
    dimensions = tensor.ndim
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor._data.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    xp = _backend.xp_of(tensor._data)
    w = xp.zeros(sizes, dtype=tensor._data.dtype)
    centre = tuple(s // 2 for s in sizes[2:])
    d = xp.arange(min_dim)
    for g in range(groups):
        w[(g * out_chans_per_grp + d, d) + centre] = 1
    with no_grad():
        return _write(tensor, w)


def _calculate_fan_in_and_fan_out(tensor):
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    num_input_fmaps = tensor.size(1)
    num_output_fmaps = tensor.size(0)
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan) (He)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(fan), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix (trailing dims flattened), scaled by gain."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    xp = _backend.xp_of(tensor._data)
    flat = _normal(tensor, 0.0, 1.0, generator, shape=(rows, cols)).astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q *= xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    with no_grad():
        return _write(tensor, (q * gain).reshape(tensor._data.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std^2) with a fraction `sparsity` of each column's entries set to zero."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor._data.shape
    num_zeros = math.ceil(sparsity * rows)
    xp, rng = _rng(tensor, generator)
    w = _normal(tensor, 0.0, std, generator)
    # per column, zero the rows ranked first by a random key (a random permutation per column)
    keys = rng.random((rows, cols))
    order = xp.argsort(keys, axis=0)[:num_zeros]
    w[order, xp.arange(cols)[None, :]] = 0
    with no_grad():
        return _write(tensor, w)


def _make_deprecate(meth):
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.",
                      FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)
    deprecated_init.__name__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
           "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]
