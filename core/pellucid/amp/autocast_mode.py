"""Autocasting: inside `autocast(device_type)` each op runs in the dtype PyTorch's autocast picks for it.

The casts happen at the dispatch point, before the op's forward: `dispatch` reads one module flag,
`_dispatch.autocast_active`, which is True only while some thread is inside an enabled region, and
then asks `autocast_dispatch` here. The casts are ordinary differentiable `to_dtype` ops, so
gradients flow back to the float32 weights in float32 (ToCopyBackward0 steps, as in PyTorch).

Op lists follow PyTorch's, per device type:

* lower precision (the region's dtype: bfloat16 by default on the CPU, float16 on CUDA): matrix
  products, convolutions, linear, prelu;
* float32: reductions and ops whose range or accuracy float16 can't hold (CUDA: exp/log/pow,
  softmax/log_softmax, sum/prod/cumsum, norms, layer/group norm, the losses, ...; CPU: the losses,
  prod, 3-d pooling, reflection/replication padding, linear algebra, ...);
* promote (widest input type): ops that need one dtype (CUDA: addcmul, atan2, bilinear, cross,
  grid_sample, index_put, scatter_add; CPU: cat, stack, index_copy);
* everything else runs in the dtype of its inputs.

Only floating tensors of the region's device type that are not float64 are cast. Normalisations
take a lower-precision input with float32 parameters as PyTorch's do: computed in float32, returned
in the input's dtype. In-place ops are not autocast (as in PyTorch).

As in PyTorch, CPU autocast runs in bfloat16 unless told dtype=float16. pellucid differences: CuPy
has no bfloat16, so CUDA autocast supports float16 only (dtype=bfloat16 is refused); ops PyTorch
builds out of several kernels and pellucid runs as one get one rule (matmul of a matrix and a
vector, and of two vectors, runs in float16 like PyTorch's matmul, so torch.mv and torch.dot
called directly do too); losses pellucid composes from other ops (poisson_nll_loss,
margin_ranking_loss, ...) follow the rules of the ops they are made of.
"""
import functools
import threading
import warnings

import numpy as np

from .. import _dispatch
from .. import _dtype as D
from .._grad_mode import state as _gm

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_available",
           "is_autocast_cache_enabled", "set_autocast_cache_enabled", "clear_autocast_cache",
           "custom_fwd", "custom_bwd"]

LOWER, FP32, PROMOTE, MIXED_NORM, BANNED = "lower", "fp32", "promote", "mixed_norm", "banned"
_F16 = np.dtype(np.float16)
_BF16 = D.BF16
_LOWER = (_F16, _BF16)
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

# ---- the op lists (pellucid op names) --------------------------------------------------------

_MATMULS = ("mm", "matmul", "bmm", "baddbmm", "addmm", "addbmm", "mv", "dot", "einsum", "linear",
            "convolution", "prelu")

_CUDA_FP32 = ("acos", "asin", "cosh", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal",
              "rsqrt", "sinh", "tan", "pow", "softplus", "native_layer_norm", "native_group_norm",
              "linalg_vector_norm", "logsumexp", "prod", "softmax", "log_softmax", "cumprod", "cumsum",
              "sum", "sum_all", "cross_entropy", "cross_entropy_probs", "nll_loss", "mse_loss", "l1_loss",
              "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy_with_logits",
              "multi_margin_loss", "erfinv")
_CUDA_PROMOTE = ("addcdiv", "addcmul", "atan2", "bilinear", "linalg_cross", "grid_sampler_2d", "index_put",
                 "scatter_add")

_CPU_FP32 = ("avg_pool3d", "max_pool3d_with_indices", "adaptive_avg_pool3d", "adaptive_max_pool3d",
             "max_unpool2d", "max_unpool3d", "binary_cross_entropy", "grid_sampler_2d", "prod", "trace",
             "linalg_cholesky", "linalg_inv", "linalg_solve", "linalg_svd", "linalg_svdvals", "linalg_eigh",
             "mse_loss", "nll_loss", "cross_entropy", "cross_entropy_probs", "l1_loss", "huber_loss",
             "smooth_l1_loss", "kl_div", "multi_margin_loss", "binary_cross_entropy_with_logits")
_CPU_PROMOTE = ("cat", "stack", "index_copy")


def _reflected_div(args, params):
    # __rtruediv__ (number / tensor) runs in float32 on CUDA; tensor / x keeps its type
    return FP32 if not isinstance(args[0], _dispatch.Tensor) else None


def _cpu_pad_rule(args, params):
    # reflection_pad1d/2d and replication_pad1d/2d/3d are float32 ops on CPU; circular isn't
    pairs, mode = params[0], params[1]
    if mode == "replicate" or (mode == "reflect" and len(pairs) <= 2):
        return FP32
    return None


_BCE_MESSAGE = (
    "pellucid.nn.functional.binary_cross_entropy and pellucid.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using pellucid.nn.functional.binary_cross_entropy_with_logits\n"
    "or pellucid.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")


def _build(lower, fp32, promote, mixed, extra):
    table = {}
    for names, rule in ((lower, LOWER), (fp32, FP32), (promote, PROMOTE), (mixed, MIXED_NORM)):
        for n in names:
            table[n] = rule
    table.update(extra)
    return table


_RULES = {
    "cuda": _build(_MATMULS + ("addmv", "addr"), _CUDA_FP32, _CUDA_PROMOTE, ("native_batch_norm", "instance_norm"),
                   {"div": _reflected_div, "binary_cross_entropy": BANNED}),
    "cpu": _build(_MATMULS, _CPU_FP32, _CPU_PROMOTE,
                  ("native_batch_norm", "instance_norm", "native_layer_norm", "native_group_norm"),
                  {"pad": _cpu_pad_rule}),
}


_ANY_RULE = set(_RULES["cuda"]) | set(_RULES["cpu"])

# public function names whose dtype checks run before dispatch, mapped to the op they dispatch
_PUBLIC_TO_OP = {"conv1d": "convolution", "conv2d": "convolution", "conv3d": "convolution",
                 "conv_transpose1d": "convolution", "conv_transpose2d": "convolution",
                 "conv_transpose3d": "convolution", "batch_norm": "native_batch_norm",
                 "layer_norm": "native_layer_norm", "group_norm": "native_group_norm",
                 "linalg.cross": "linalg_cross"}


# ---- per-thread state ------------------------------------------------------------------------------

class _State(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": _BF16, "cuda": _F16}
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}


_state = _State()
_regions_lock = threading.Lock()
_regions = 0          # enabled regions open in any thread; dispatch's flag is _regions > 0


def _count_region(delta):
    global _regions
    with _regions_lock:
        _regions += delta
        _dispatch.autocast_active = _regions > 0


def _device_type(dev):
    if isinstance(dev, str):
        return dev.split(":")[0]
    return getattr(dev, "type", dev)


def is_autocast_available(device_type):
    return _device_type(device_type) in ("cpu", "cuda")


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for `device_type` in this thread (no argument: 'cuda', as PyTorch)."""
    return _state.enabled.get("cuda" if device_type is None else _device_type(device_type), False)


def get_autocast_dtype(device_type):
    return D._FROM_NP[_state.dtype[_device_type(device_type)]]


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    _state.cache.clear()


def _is_bfloat16(dtype):
    return getattr(dtype, "name", None) == "bfloat16" or str(dtype).endswith("bfloat16")


def _resolve_dtype(device_type, dtype):
    if dtype is None:
        return _BF16 if device_type == "cpu" else _F16
    if _is_bfloat16(dtype):
        if device_type != "cpu":
            raise RuntimeError(
                f"autocast('{device_type}', dtype=bfloat16): CuPy (pellucid's CUDA backend) has no "
                "bfloat16 dtype, so pellucid's CUDA autocast supports float16 only. Use "
                "dtype=pellucid.float16 (or autocast('cpu'), which runs in bfloat16).")
        return _BF16
    return D.as_dtype(dtype).np


class autocast:
    """Context manager and decorator running the ops inside it in PyTorch's autocast dtypes.

    `autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`: device_type is 'cpu' or
    'cuda'; dtype defaults to bfloat16 on the CPU and float16 on CUDA (which has no bfloat16, see
    the module notes)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}' "
                               "(pellucid supports 'cpu' and 'cuda')")
        self.device = _device_type(device_type)
        self.fast_dtype = D._FROM_NP[_resolve_dtype(self.device, dtype)]
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if enabled and self.device == "cuda":
            from .. import _backend
            if not _backend.cupy_available():
                warnings.warn("CUDA is not available (pellucid's GPU backend needs CuPy and an NVIDIA "
                              "GPU). Disabling autocast.", stacklevel=2)
                enabled = False
        supported = (_BF16, _F16) if self.device == "cpu" else (_F16, _F32)
        if enabled and self.fast_dtype.np not in supported:
            names = ", ".join(str(D._FROM_NP[d]) for d in supported)
            warnings.warn(f"In {self.device.upper()} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\n{self.device.upper()} Autocast only supports dtypes of "
                          f"{names} currently.", stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._saved = []

    def __enter__(self):
        st = _state
        dev = self.device
        self._saved.append((st.enabled[dev], st.dtype[dev], st.cache_enabled))
        st.enabled[dev] = self._enabled
        st.dtype[dev] = self.fast_dtype.np
        st.cache_enabled = self._cache_enabled
        st.nesting += 1
        if self._enabled:
            _count_region(1)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        st = _state
        st.enabled[self.device], st.dtype[self.device], st.cache_enabled = self._saved.pop()
        st.nesting -= 1
        if st.nesting == 0:
            st.cache.clear()
        if self._enabled:
            _count_region(-1)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def autocast_wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return autocast_wrapper

    def __repr__(self):
        return (f"autocast(device_type='{self.device}', dtype={self.fast_dtype}, enabled={self._enabled}, "
                f"cache_enabled={self._cache_enabled})")


# ---- the dispatch hook -----------------------------------------------------------------------------

def _tensor_device(args):
    T = _dispatch.Tensor
    for a in args:
        if isinstance(a, T):
            return "cpu" if type(a._data) is np.ndarray else "cuda"
    return None


def _eligible(a, dev):
    """Autocast casts floating tensors of the region's device type, never float64 ones."""
    if not isinstance(a, _dispatch.Tensor):
        return False
    dt = a._data.dtype
    return dt.kind in D.FLOAT_KINDS and dt != _F64 and (type(a._data) is np.ndarray) == (dev == "cpu")


def _rule_for(op_name, args, params, dev):
    rule = _RULES[dev].get(op_name)
    if rule is None:
        # CUDA runs every upsample_* op in float32 (they are named after their mode, made lazily)
        if dev == "cuda" and op_name.startswith("upsample_") and op_name != "upsample_backward":
            return FP32
        return None
    if not isinstance(rule, str):
        rule = rule(args, params)
    return rule


def _cast(t, np_dtype, st):
    """`t` as np_dtype through a differentiable cast; casts of float32 leaf weights to the lower
    precision are kept for the rest of the region (PyTorch's autocast weight cache)."""
    from ..ops._conversion import ToDtype
    if (st.cache_enabled and np_dtype in _LOWER and t._data.dtype == _F32 and t._requires_grad
            and t.grad_fn is None and t._base is None):
        key = (id(t), _gm.grad_enabled)
        hit = st.cache.get(key)
        if hit is not None and hit[0] is t and hit[1] == t._version[0]:
            return hit[2]
        if t._version is None:
            t._version = [0]
        out = _dispatch.dispatch(ToDtype, (t,), (np_dtype,))
        st.cache[key] = (t, t._version[0], out)
        return out
    return _dispatch.dispatch(ToDtype, (t,), (np_dtype,))


def _targets(rule, args, dev, st):
    """The dtype each eligible argument is cast to (None: left alone)."""
    if rule == LOWER:
        want = st.dtype[dev]
        return [want if _eligible(a, dev) else None for a in args]
    if rule == FP32:
        return [_F32 if _eligible(a, dev) else None for a in args]
    if rule == PROMOTE:
        # PyTorch's at::autocast::prioritize: from the region's dtype, float32 wins, a repeat of
        # the current dtype keeps it, and another lower precision (float16 in a bfloat16 region,
        # or the reverse) is an error
        current, seen = st.dtype[dev], False
        for a in args:
            if _eligible(a, dev):
                d = a._data.dtype
                if current == _F32 or d == _F32:
                    current = _F32
                elif d != current:
                    raise RuntimeError(
                        f"Unexpected floating ScalarType in at::autocast::prioritize: a {D._FROM_NP[d]} "
                        f"input in a {dev.upper()} autocast region of {D._FROM_NP[st.dtype[dev]]} "
                        "(cast it to float32 or to the region's dtype first, as PyTorch requires)")
                seen = True
        if not seen:
            return [None] * len(args)
        return [current if _eligible(a, dev) else None for a in args]
    return [None] * len(args)


def autocast_dispatch(op, args, params):
    """Called by dispatch while an autocast region is open: the op's result computed with autocast's
    casts, or None when nothing is to be cast (dispatch then runs the op as called)."""
    if op.name not in _ANY_RULE and not op.name.startswith("upsample_"):
        return None
    dev = _tensor_device(args)
    st = _state
    if dev is None or not st.enabled[dev]:
        return None
    rule = _rule_for(op.name, args, params, dev)
    if rule is None:
        return None
    if rule == BANNED:
        raise RuntimeError(_BCE_MESSAGE)
    if rule == MIXED_NORM:
        return _mixed_norm(op, args, params, dev, st)
    new = list(args)
    changed = False
    for i, (a, want) in enumerate(zip(args, _targets(rule, args, dev, st))):
        if want is not None and a._data.dtype != want:
            new[i] = _cast(a, want, st)
            changed = True
    if not changed:
        return None
    return _dispatch.dispatch(op, tuple(new), params)


def _mixed_norm(op, args, params, dev, st):
    """A lower-precision input normalised with float32 weights: computed in float32, returned in
    the input's dtype."""
    x = args[0]
    if not _eligible(x, dev) or x._data.dtype == _F32:
        return None
    if not any(_eligible(a, dev) and a._data.dtype == _F32 for a in args[1:]):
        return None
    from ..ops._conversion import ToDtype
    new = [_dispatch.dispatch(ToDtype, (a,), (_F32,)) if _eligible(a, dev) and a._data.dtype != _F32 else a
           for a in args]
    out = _dispatch.dispatch(op, tuple(new), params)
    return _dispatch.dispatch(ToDtype, (out,), (x._data.dtype,))


_dispatch.autocast_dispatch = autocast_dispatch


def allows_mixed(name, *tensors):
    """True when autocast, active in this thread, will give the floating tensors of op `name` (a
    public function's name, as its dtype check reports it) one dtype before the op runs. Dtype
    checks that run before dispatch call this before raising a mixed-dtype error."""
    if not _dispatch.autocast_active:
        return False
    tensors = [t for t in tensors if t is not None]
    dev = _tensor_device(tensors)
    if dev is None or not _state.enabled[dev]:
        return False
    op_name = _PUBLIC_TO_OP.get(name, name)
    rule = _RULES[dev].get(op_name)
    if rule is None or not isinstance(rule, str):
        return False
    if rule == MIXED_NORM:
        x = tensors[0]
        return (_eligible(x, dev) and all(_eligible(t, dev) and t._data.dtype in (_F32, x._data.dtype)
                                          for t in tensors[1:]))
    targets = _targets(rule, tensors, dev, _state)
    final = {want if want is not None else t._data.dtype for t, want in zip(tensors, targets)}
    return len(final) == 1


# ---- custom autograd Functions ---------------------------------------------------------------------

def _cast_inputs(value, device_type, dtype):
    T = _dispatch.Tensor
    if isinstance(value, T):
        if _eligible(value, device_type):
            return value.to(dtype)
        return value
    if isinstance(value, dict):
        return {k: _cast_inputs(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_inputs(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom Function's forward: with cast_inputs, floating inputs are cast to it
    and forward runs with autocast off; backward (with custom_bwd) sees forward's autocast state."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    device_type = _device_type(device_type)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_inputs(args, device_type, cast_inputs),
                           **_cast_inputs(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom Function's backward: runs it with the autocast state forward had."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    device_type = _device_type(device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
