"""`pellucid.cuda.amp`: the CUDA spellings of autocast and GradScaler, deprecated in PyTorch in
favour of `pellucid.autocast("cuda")` and `pellucid.amp.GradScaler("cuda")`, and kept for old code."""
import functools
import warnings

from .. import _dtype as D
from . import autocast_mode, grad_scaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


class autocast(autocast_mode.autocast):
    def __init__(self, enabled=True, dtype=D.float16, cache_enabled=True):
        warnings.warn("`pellucid.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`pellucid.amp.autocast('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(grad_scaler.GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`pellucid.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`pellucid.amp.GradScaler('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


custom_fwd = functools.partial(autocast_mode.custom_fwd, device_type="cuda")
custom_bwd = functools.partial(autocast_mode.custom_bwd, device_type="cuda")
