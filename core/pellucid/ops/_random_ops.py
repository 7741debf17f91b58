"""Random sampling: factories (rand, randn, randint, randperm, normal), samplers over tensors
(bernoulli, multinomial, poisson), the `*_like` forms and the in-place samplers (uniform_,
normal_, ...). Every draw comes from `rng_for(device, generator)`, so a seed reproduces it."""
import math
import warnings

import numpy as np

from .. import _backend
from .. import _dtype as D
from .._dispatch import Op, dispatch, dispatch_inplace
from .._random import rng_for
from .._tensor import Tensor
from ._creation import _shape, _write_out
from ._registry import tensor_method

__all__ = ["bernoulli", "multinomial", "normal", "poisson", "rand", "rand_like", "randint",
           "randint_like", "randn", "randn_like", "randperm"]

# PyTorch's scalar-type names (error messages) and C type names (bound messages)
_SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                 "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
                 "float64": "Double"}
_C_NAMES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short",
            "int32": "int", "int64": "long", "float16": "Half", "bfloat16": "BFloat16", "float32": "float",
            "float64": "double"}
_MANTISSA_BITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _need_float(dt, op, kernel):
    if not dt.is_floating_point:
        raise NotImplementedError(
            f"{op}: \"{kernel}\" not implemented for '{_SCALAR_NAMES[dt.name]}' (it samples real "
            f"numbers, so it needs a floating-point dtype; got {dt})")


# ---- primitive draws on raw arrays (NumPy or CuPy generators) -------------------------------

def _uniform01(xp, rng, shape, np_dtype):
    """Uniform on [0, 1) in `np_dtype`; float16 and bfloat16 use as many random bits as their
    significands hold (11 and 8, as PyTorch does), so 1.0 can't appear."""
    if np_dtype == np.float16 or np_dtype is D.BF16:
        k = _MANTISSA_BITS["float16" if np_dtype == np.float16 else "bfloat16"]
        bits = rng.integers(0, 1 << k, size=shape, dtype=np.int64)
        return (bits.astype(np.float32) * np.float32(1.0 / (1 << k))).astype(np_dtype)
    return xp.asarray(rng.random(size=shape, dtype=np_dtype))


def _std_normal(xp, rng, shape, np_dtype):
    if np_dtype == np.float16 or np_dtype is D.BF16:
        return xp.asarray(rng.standard_normal(size=shape, dtype=np.float32)).astype(np_dtype)
    return xp.asarray(rng.standard_normal(size=shape, dtype=np_dtype))


def _integers(xp, rng, low, high_inclusive, shape, np_dtype):
    out = xp.asarray(rng.integers(low, high_inclusive, size=shape, dtype=np.int64, endpoint=True))
    return out if out.dtype == np_dtype else out.astype(np_dtype)


def _uniform_open(xp, rng, shape):
    """float64 uniform on (0, 1]: safe under log()."""
    return 1.0 - xp.asarray(rng.random(size=shape, dtype=np.float64))


# ---- factories -----------------------------------------------------------------------------

class Rand(Op):
    name = "rand"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    differentiable = False

    @staticmethod
    def forward(ctx, shape, np_dtype, xp, rng):
        return _uniform01(xp, rng, shape, np_dtype)


class Randn(Op):
    name = "randn"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    differentiable = False

    @staticmethod
    def forward(ctx, shape, np_dtype, xp, rng):
        return _std_normal(xp, rng, shape, np_dtype)


class Randint(Op):
    name = "randint"
    differentiable = False

    @staticmethod
    def forward(ctx, low, high, shape, np_dtype, xp, rng):
        return _integers(xp, rng, low, high - 1, shape, np_dtype)


class Randperm(Op):
    name = "randperm"
    differentiable = False

    @staticmethod
    def forward(ctx, n, np_dtype, xp, rng):
        if xp is np:
            perm = rng.permutation(n)
        else:
            perm = xp.argsort(rng.random(size=(n,)))
        return perm.astype(np_dtype)


class NormalFloatFloat(Op):
    name = "normal_float_float"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    differentiable = False

    @staticmethod
    def forward(ctx, mean, std, shape, np_dtype, xp, rng):
        z = _std_normal(xp, rng, shape, np_dtype)
        return z * z.dtype.type(std) + z.dtype.type(mean)


def _size_from(args, size, op):
    if size is not None:
        if args:
            raise TypeError(f"{op}() got the size both positionally and as size=")
        args = (size,)
    return _shape(args, op)


def _factory(op, shape, dtype, device, generator, requires_grad, out, extra=()):
    dev = _backend.as_device(device) if device is not None else (out.device if out is not None else None)
    _backend.check_dtype_on(dtype.np, dev, op.name)
    xp, rng = rng_for(dev, generator)
    t = dispatch(op, (), tuple(extra) + (shape, dtype.np, xp, rng))
    if out is not None:
        return _write_out(out, t._data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype, out):
    if dtype is None:
        dtype = out.dtype if out is not None else D.get_default_dtype()
    return D.as_dtype(dtype)


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False, **kw):
    """Uniform samples on [0, 1)."""
    shape = _size_from(size, kw.pop("size", None), "rand")
    _no_extra(kw, "rand")
    dt = _float_dtype(dtype, out)
    _need_float(dt, "rand", "check_uniform_bounds")
    return _factory(Rand, shape, dt, device, generator, requires_grad, out)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, **kw):
    """Standard normal samples."""
    shape = _size_from(size, kw.pop("size", None), "randn")
    _no_extra(kw, "randn")
    dt = _float_dtype(dtype, out)
    _need_float(dt, "randn", "normal_kernel_cpu")
    return _factory(Randn, shape, dt, device, generator, requires_grad, out)


def _no_extra(kw, op):
    if kw:
        raise TypeError(f"{op}() got unexpected keyword arguments {sorted(kw)}")


def _int_arg(v, op, name, pos):
    if isinstance(v, Tensor):
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")
    return int(v)


def _check_int_range(low, high, dt, op):
    """[low, high) must be non-empty and representable in `dt` (PyTorch's random_ checks)."""
    if low >= high:
        raise RuntimeError(f"{op}: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    if dt.is_floating_point:
        lim = 1 << _MANTISSA_BITS[dt.name]
        if low < -lim or high - 1 > lim:
            warnings.warn(f"{op}: [from, to - 1] = [{low}, {high - 1}] is out of bounds "
                          f"[-(2^{_MANTISSA_BITS[dt.name]}), 2^{_MANTISSA_BITS[dt.name]}]: {dt} can't "
                          "represent every integer there", stacklevel=3)
        return
    if dt is D.bool_:
        lo_ok, hi_ok = 0, 1
    else:
        info = np.iinfo(dt.np)
        lo_ok, hi_ok = int(info.min), int(info.max)
    if low < lo_ok:
        raise RuntimeError(f"{op}: from is out of bounds for {_C_NAMES[dt.name]} (from={low})")
    if high - 1 > hi_ok:
        raise RuntimeError(f"{op}: to - 1 is out of bounds for {_C_NAMES[dt.name]} (to={high})")


def _parse_randint(args, kw, op):
    """randint(high, size) / randint(low, high, size), or the same names as keywords."""
    args = list(args)
    size = kw.pop("size", None)
    if size is None:
        if not args:
            raise TypeError(f"{op}() missing required argument 'size'")
        size = args.pop()
    low, high = kw.pop("low", None), kw.pop("high", None)
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif len(args) > 2:
        raise TypeError(f"{op}() takes at most 3 positional arguments (low, high, size)")
    if high is None:
        raise TypeError(f"{op}() missing required argument 'high'")
    low = 0 if low is None else _int_arg(low, op, "low", 0)
    high = _int_arg(high, op, "high", 1)
    if isinstance(size, int):
        raise TypeError(f"{op}(): argument 'size' must be tuple of ints, not int")
    return low, high, _shape((size,), op)


def randint(*args, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
            pin_memory=False, **kw):
    """Integers uniform on [low, high): randint(high, size) or randint(low, high, size)."""
    low, high, shape = _parse_randint(args, kw, "randint")
    _no_extra(kw, "randint")
    dt = D.as_dtype(dtype if dtype is not None else (out.dtype if out is not None else D.int64))
    _check_int_range(low, high, dt, "randint")
    return _factory(Randint, shape, dt, device, generator, requires_grad, out, (low, high))


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """A random permutation of 0..n-1."""
    n = _int_arg(n, "randperm", "n", 0)
    if n < 0:
        raise RuntimeError(f"randperm: Trying to create tensor with negative dimension {n}: [{n}]")
    dt = D.as_dtype(dtype if dtype is not None else (out.dtype if out is not None else D.int64))
    if dt.is_floating_point:
        lim = (1 << _MANTISSA_BITS[dt.name]) + 1
        if n > lim:
            raise RuntimeError(f"randperm: n cannot be greater than {lim} for {_SCALAR_NAMES[dt.name]} type.")
    elif n > 0 and n - 1 > (1 if dt is D.bool_ else int(np.iinfo(dt.np).max)):
        raise RuntimeError(f"randperm: n={n} is too large for result tensor type: '{_SCALAR_NAMES[dt.name]}'")
    dev = _backend.as_device(device) if device is not None else (out.device if out is not None else None)
    _backend.check_dtype_on(dt.np, dev, "randperm")
    xp, rng = rng_for(dev, generator)
    t = dispatch(Randperm, (), (n, dt.np, xp, rng))
    if out is not None:
        return _write_out(out, t._data)
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---- normal ----------------------------------------------------------------------------------

class NormalTensorFloat(Op):
    name = "normal_tensor_float"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    backward_name = "NormalBackward1"

    @staticmethod
    def forward(ctx, mean, std, xp, rng):
        z = _std_normal(xp, rng, mean.shape, mean.dtype)
        return mean + z * z.dtype.type(std)

    @staticmethod
    def backward(ctx, F, g):
        # PyTorch does not reparametrise: the sample's gradient w.r.t. mean is zero
        return F.zeros_like(g)


class NormalFloatTensor(Op):
    name = "normal_float_tensor"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    backward_name = "NormalBackward2"

    @staticmethod
    def forward(ctx, std, mean, xp, rng):
        z = _std_normal(xp, rng, std.shape, std.dtype)
        return z * std + std.dtype.type(mean)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


class NormalTensorTensor(Op):
    name = "normal_tensor_tensor"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    backward_name = "NormalBackward3"

    @staticmethod
    def forward(ctx, mean, std, xp, rng):
        shape = np.broadcast_shapes(mean.shape, std.shape)
        z = _std_normal(xp, rng, shape, mean.dtype)
        return (mean + z * std).astype(mean.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g), F.zeros_like(g)


def _check_std_tensor(std):
    if bool((std._data < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")


def _check_std(std, op="normal"):
    if std < 0:
        raise RuntimeError(f"{op} expects std >= 0.0, but found std {std:g}")


def _broadcast_or_raise(a, b):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        for i in range(1, min(len(a), len(b)) + 1):
            if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
                raise RuntimeError(
                    f"normal: The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) "
                    f"at non-singleton dimension {max(len(a), len(b)) - i} (mean {list(a)}, "
                    f"std {list(b)})") from None
        raise


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory=False, requires_grad=False):
    """Normal samples. Overloads as in PyTorch: (Tensor mean, Tensor std), (Tensor mean, float std),
    (float mean, Tensor std), (float mean, float std, size)."""
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if mean_t or std_t:
        if size is not None:
            raise TypeError("normal(): size can only be given with float mean and float std "
                            "(the shape comes from the tensor arguments)")
        ref = mean if mean_t else std
        _need_float(ref.dtype, "normal", "normal_kernel_cpu")
        xp, rng = rng_for(ref.device, generator)
        if mean_t and std_t:
            _need_float(std.dtype, "normal", "normal_kernel_cpu")
            _check_std_tensor(std)
            _broadcast_or_raise(mean._data.shape, std._data.shape)
            res = dispatch(NormalTensorTensor, (mean, std), (xp, rng))
        elif mean_t:
            std = float(std)
            _check_std(std)
            res = dispatch(NormalTensorFloat, (mean,), (std, xp, rng))
        else:
            _check_std_tensor(std)
            res = dispatch(NormalFloatTensor, (std,), (float(mean), xp, rng))
        return _write_out(out, res._data) if out is not None else res
    if size is None:
        raise TypeError(
            "normal() received an invalid combination of arguments - got (float, float): with "
            "float mean and std pass a size, normal(mean, std, size), or give a Tensor mean or std")
    mean, std = float(mean), float(std)
    _check_std(std)
    shape = _shape((size,), "normal")
    dt = _float_dtype(dtype, out)
    _need_float(dt, "normal", "normal_kernel_cpu")
    return _factory(NormalFloatFloat, shape, dt, device, generator, requires_grad, out, (mean, std))


# ---- samplers over a tensor ------------------------------------------------------------------

class Bernoulli(Op):
    name = "bernoulli"

    @staticmethod
    def forward(ctx, p, xp, rng):
        return (_uniform01(xp, rng, p.shape, np.float64) < p).astype(p.dtype)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


class BernoulliScalar(Op):
    name = "bernoulli_scalar"
    differentiable = False

    @staticmethod
    def forward(ctx, a, p, xp, rng):
        return (_uniform01(xp, rng, a.shape, np.float64) < p).astype(a.dtype)


def _check_probs(p, op):
    if p._data.size and bool(((p._data < 0) | (p._data > 1) | (p._data != p._data)).any()):
        raise RuntimeError(f"{op}: Expected p_in >= 0 && p_in <= 1 to be true, but got false "
                           "(every probability must lie in [0, 1]).")


def _check_p(p, op):
    if not 0 <= p <= 1:
        raise RuntimeError(f"{op} expects p to be in [0, 1], but got p={p:g}")


@tensor_method("bernoulli")
def bernoulli(input, p=None, *, generator=None, out=None):
    """Samples 0/1 with probability `input` (or with a fixed probability `p`, shaped like input)."""
    xp, rng = rng_for(input.device, generator)
    if p is None:
        _need_float(input.dtype, "bernoulli", "bernoulli_tensor_cpu_p_")
        _check_probs(input, "bernoulli")
        res = dispatch(Bernoulli, (input,), (xp, rng))
    else:
        p = float(p)
        _check_p(p, "bernoulli")
        res = dispatch(BernoulliScalar, (input,), (p, xp, rng))
    return _write_out(out, res._data) if out is not None else res


class Poisson(Op):
    name = "poisson"

    @staticmethod
    def forward(ctx, rates, xp, rng):
        return xp.asarray(rng.poisson(rates)).astype(rates.dtype)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


def poisson(input, generator=None):
    """Poisson samples with rates `input`."""
    _need_float(input.dtype, "poisson", "poisson_cpu")
    if input._data.size and bool((input._data < 0).any()):
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    xp, rng = rng_for(input.device, generator)
    return dispatch(Poisson, (input,), (xp, rng))


class Multinomial(Op):
    name = "multinomial"
    differentiable = False

    @staticmethod
    def forward(ctx, probs, num_samples, replacement, xp, rng):
        p = probs.reshape(-1, probs.shape[-1]).astype(np.float64)
        rows, n = p.shape
        if replacement:
            # inverse CDF; dividing by the last entry makes it exactly 1, so every draw u < 1
            # lands before it, and a zero-probability category (cdf equal to its left
            # neighbour's) is never chosen: the index is the count of cdf entries <= u
            cdf = xp.cumsum(p, axis=1)
            cdf = cdf / cdf[:, -1:]
            u = xp.asarray(rng.random(size=(rows, num_samples)))
            if rows == 1:
                out = xp.searchsorted(cdf[0], u[0], side="right")[None, :]
            else:
                # batched searchsorted: sort each row's cdf together with its draws (cdf first,
                # so ties count as <= u) and count the cdf entries ahead of each draw
                keys = xp.concatenate([cdf, u], axis=1)
                order = xp.argsort(keys, axis=1, kind="stable")
                before = xp.cumsum(order < n, axis=1)
                rank = xp.empty_like(order)
                width = n + num_samples
                rank[xp.arange(rows)[:, None], order] = xp.arange(width)[None, :]
                out = xp.take_along_axis(before, rank[:, n:], axis=1)
        else:
            # exponential race (as PyTorch): the k smallest E_i / p_i are k draws without
            # replacement, in the order they would be drawn one by one
            e = -xp.log(_uniform_open(xp, rng, (rows, n)))
            with np.errstate(divide="ignore", invalid="ignore"):
                keys = e / p
            if num_samples < n:
                part = xp.argpartition(keys, num_samples - 1, axis=1)[:, :num_samples]
                order = xp.argsort(xp.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
                out = xp.take_along_axis(part, order, axis=1)
            else:
                out = xp.argsort(keys, axis=1, kind="stable")
        out = out.astype(np.int64)
        return out.reshape(num_samples) if probs.ndim == 1 else out


@tensor_method("multinomial")
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Category indices drawn from the rows of `input` (unnormalised, non-negative weights)."""
    nd = input._data.ndim
    if nd not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim (got {nd} dims, shape "
                           f"{list(input._data.shape)})")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_SCALAR_NAMES[input.dtype.name]}")
    num_samples = _int_arg(num_samples, "multinomial", "num_samples", 1)
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    n = input._data.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                           f"replacement (n_sample={num_samples}, categories={n})")
    if n > (1 << 24):
        raise RuntimeError("multinomial: number of categories cannot exceed 2^24")
    data = input._data
    if bool(((data < 0) | ~_backend.xp_of(data).isfinite(data)).any()):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    if n == 0 or bool((data.reshape(-1, n).sum(axis=1) <= 0).any()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    xp, rng = rng_for(input.device, generator)
    res = dispatch(Multinomial, (input,), (num_samples, bool(replacement), xp, rng))
    return _write_out(out, res._data) if out is not None else res


# ---- *_like -----------------------------------------------------------------------------------

def _like_args(input, dtype, device):
    dt = D.as_dtype(dtype) if dtype is not None else input.dtype
    dev = device if device is not None else input.device
    return dt, dev


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
              generator=None):
    dt, dev = _like_args(input, dtype, device)
    return rand(tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad, generator=generator)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None,
               generator=None):
    dt, dev = _like_args(input, dtype, device)
    return randn(tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad, generator=generator)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None, generator=None):
    """randint_like(input, high) or randint_like(input, low, high)."""
    if high is None:
        low, high = 0, low
    dt, dev = _like_args(input, dtype, device)
    return randint(low, high, tuple(input.shape), dtype=dt, device=dev, requires_grad=requires_grad,
                   generator=generator)


# ---- in-place samplers --------------------------------------------------------------------------
# Each one overwrites `self`; nothing flows back to what `self` held before (zero gradient).

class _Sampler(Op):
    opmath = False          # draws in the tensor's dtype, bfloat16 too (see _uniform01)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g)


class Uniform_(_Sampler):
    name = "uniform"

    @staticmethod
    def forward(ctx, a, low, high, xp, rng):
        u = _uniform01(xp, rng, a.shape, a.dtype)
        t = a.dtype.type
        return u * t(high - low) + t(low)


class Normal_(_Sampler):
    name = "normal"

    @staticmethod
    def forward(ctx, a, mean, std, xp, rng):
        z = _std_normal(xp, rng, a.shape, a.dtype)
        t = a.dtype.type
        return z * t(std) + t(mean)


class Bernoulli_(_Sampler):
    name = "bernoulli_inplace_scalar"
    backward_name = "BernoulliBackward2"

    @staticmethod
    def forward(ctx, a, p, xp, rng):
        return (_uniform01(xp, rng, a.shape, np.float64) < p).astype(a.dtype)


class BernoulliTensor_(Op):
    name = "bernoulli_inplace_tensor"
    opmath = False          # draws in its dtype, bfloat16 too (see _uniform01)
    backward_name = "BernoulliBackward1"

    @staticmethod
    def forward(ctx, a, p, xp, rng):
        return (_uniform01(xp, rng, a.shape, np.float64) < p).astype(a.dtype)

    @staticmethod
    def backward(ctx, F, g):
        return F.zeros_like(g), F.zeros_like(g)


class Random_(_Sampler):
    name = "random_from_to"
    backward_name = "RandomBackward0"

    @staticmethod
    def forward(ctx, a, low, high_inclusive, xp, rng):
        return _integers(xp, rng, low, high_inclusive, a.shape, a.dtype)


class RandomTo_(Random_):
    name = "random_to"
    backward_name = "RandomBackward1"


class RandomFull_(Random_):
    name = "random"
    backward_name = "RandomBackward2"


class Exponential_(_Sampler):
    name = "exponential"

    @staticmethod
    def forward(ctx, a, lambd, xp, rng):
        return (-xp.log(_uniform_open(xp, rng, a.shape)) / lambd).astype(a.dtype)


class Cauchy_(_Sampler):
    name = "cauchy"

    @staticmethod
    def forward(ctx, a, median, sigma, xp, rng):
        u = xp.asarray(rng.random(size=a.shape))
        return (median + sigma * xp.tan(math.pi * (u - 0.5))).astype(a.dtype)


class LogNormal_(_Sampler):
    name = "log_normal"

    @staticmethod
    def forward(ctx, a, mean, std, xp, rng):
        z = _std_normal(xp, rng, a.shape, np.float64)
        return xp.exp(z * std + mean).astype(a.dtype)


class Geometric_(_Sampler):
    name = "geometric"

    @staticmethod
    def forward(ctx, a, p, xp, rng):
        # number of Bernoulli(p) trials up to the first success: support {1, 2, ...}
        trials = xp.ceil(xp.log(_uniform_open(xp, rng, a.shape)) / math.log1p(-p))
        return xp.maximum(trials, 1.0).astype(a.dtype)


def _sample_(op, self, params, generator, others=()):
    xp, rng = rng_for(self.device, generator)
    return dispatch_inplace(op, self, others, tuple(params) + (xp, rng))


def _from_to(args, kw, op, defaults):
    """`from`/`to` are Python keywords, so they arrive positionally or through **kw."""
    vals = list(defaults)
    for i, a in enumerate(args):
        vals[i] = a
    for i, key in enumerate(("from", "to")):
        if key in kw:
            vals[i] = kw.pop(key)
    _no_extra(kw, op)
    return vals


@tensor_method("uniform_")
def _uniform_(self, *args, generator=None, **kw):
    low, high = (float(v) for v in _from_to(args, kw, "uniform_", (0.0, 1.0)))
    _need_float(self.dtype, "uniform_", "check_uniform_bounds")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low:g} > to={high:g}")
    return _sample_(Uniform_, self, (low, high), generator)


@tensor_method("normal_")
def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    _need_float(self.dtype, "normal_", "normal_kernel_cpu")
    _check_std(float(std), "normal_")
    return _sample_(Normal_, self, (float(mean), float(std)), generator)


@tensor_method("bernoulli_")
def _bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        _need_float(p.dtype, "bernoulli_", "bernoulli_tensor_cpu_p_")
        _check_probs(p, "bernoulli_")
        try:
            np.broadcast_shapes(p._data.shape, self._data.shape)
        except ValueError:
            raise RuntimeError(f"bernoulli_: probabilities of shape {list(p._data.shape)} don't broadcast "
                               f"to the tensor's shape {list(self._data.shape)}") from None
        return _sample_(BernoulliTensor_, self, (), generator, (p.to(self.device),))
    p = float(p)
    _check_p(p, "bernoulli_")
    return _sample_(Bernoulli_, self, (p,), generator)


@tensor_method("random_")
def _random_(self, *args, generator=None, **kw):
    """random_() fills with integers over the dtype's range ([0, 2^mantissa] for floats),
    random_(to) with [0, to), random_(from, to) with [from, to) (to=None: up to the maximum)."""
    n_given = len(args) + sum(k in kw for k in ("from", "to"))
    low, high = _from_to(args, kw, "random_", (0, None))
    dt = self.dtype
    if n_given == 1 and len(args) == 1:
        low, high = 0, low                       # random_(to)
    if high is None:
        if dt.is_floating_point:
            top = 1 << _MANTISSA_BITS[dt.name]
        elif dt is D.bool_:
            top = 1
        else:
            top = int(np.iinfo(dt.np).max)
        low = _int_arg(low, "random_", "from", 1)
        op = RandomFull_ if n_given == 0 else Random_
        if low > top:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={top}")
        return _sample_(op, self, (low, top), generator)
    low, high = _int_arg(low, "random_", "from", 1), _int_arg(high, "random_", "to", 2)
    _check_int_range(low, high, dt, "random_")
    op = RandomTo_ if n_given == 1 else Random_
    return _sample_(op, self, (low, high - 1), generator)


@tensor_method("exponential_")
def _exponential_(self, lambd=1.0, *, generator=None):
    if not self.dtype.is_floating_point:
        raise RuntimeError(f"exponential_: Exponential distribution is a continuous probability "
                           f"distribution. dtype must be a floating point but you specified "
                           f"{_SCALAR_NAMES[self.dtype.name]}")
    lambd = float(lambd)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd:g}")
    return _sample_(Exponential_, self, (lambd,), generator)


@tensor_method("cauchy_")
def _cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _need_float(self.dtype, "cauchy_", "cauchy_cpu")
    sigma = float(sigma)
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    return _sample_(Cauchy_, self, (float(median), sigma), generator)


@tensor_method("log_normal_")
def _log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _need_float(self.dtype, "log_normal_", "log_normal_cpu")
    std = float(std)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    return _sample_(LogNormal_, self, (float(mean), std), generator)


@tensor_method("geometric_")
def _geometric_(self, p, *, generator=None):
    p = float(p)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    return _sample_(Geometric_, self, (p,), generator)
