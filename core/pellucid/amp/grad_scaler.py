"""GradScaler: PyTorch's dynamic loss scaling for float16 training.

`scale(loss)` multiplies the loss by the scale so small float16 gradients don't flush to zero;
`step(optimizer)` divides the gradients by it again (`unscale_`, once per optimizer and
iteration), and skips `optimizer.step()` when any gradient holds an inf or NaN; `update()`
multiplies the scale by `backoff_factor` after a skipped step and by `growth_factor` after
`growth_interval` steps in a row without one.

The scale, the growth tracker and the inf flags are 0-d arrays on the gradients' device and
`update` computes on them there (no host round trip on a GPU); only `step` reads the inf flag, as
PyTorch's does. The update arithmetic is PyTorch's `_amp_update_scale_`: the scale is float32,
multiplied by the factors in float64, and grown only when the grown value is finite.
"""
import warnings
from collections import abc, defaultdict
from enum import Enum

import numpy as np

from .. import _backend
from .._grad_mode import no_grad
from .._tensor import Tensor

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _full(value, dtype, dev):
    return Tensor._make(_backend.xp_for(dev).full((), value, dtype=dtype))


class _PerDevice:
    """Copies of a 0-d tensor on the devices that ask for it, made once each."""

    def __init__(self, master):
        self.master = master
        self.copies = {}

    def get(self, dev):
        t = self.copies.get(dev)
        if t is None:
            t = self.copies[dev] = Tensor._make(_backend.move(self.master._data, dev).copy())
        return t


class GradScaler:
    """Dynamic loss scaling (see the module notes). `device` is 'cuda' (default) or 'cpu'."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if device == "cuda" and enabled and not _backend.cupy_available():
            warnings.warn("pellucid.amp.GradScaler is enabled, but CUDA is not available (pellucid's GPU "
                          "backend needs CuPy and an NVIDIA GPU).  Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    def _check_scale_growth_tracker(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        self._scale = _full(self._init_scale, np.float32, dev)
        self._growth_tracker = _full(self._init_growth_tracker, np.int32, dev)

    # ---- scale -------------------------------------------------------------------------------------
    def scale(self, outputs):
        """outputs * scale (a tensor, or tensors nested in lists/tuples/iterables)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(device=outputs.device, non_blocking=True)
        copies = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if not copies:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    copies.append(_PerDevice(self._scale))
                return val * copies[0].get(val.device)
            if isinstance(val, abc.Iterable):
                scaled = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(scaled)
                return scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    # ---- unscale_ ----------------------------------------------------------------------------------
    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        """Multiply every gradient by inv_scale in place; per device, a 0-d float32 flag that is 1
        when some gradient held an inf or NaN before unscaling."""
        per_device_inv = _PerDevice(inv_scale)
        per_device_found = _PerDevice(found_inf)
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    grad = param.grad
                    if grad is None:
                        continue
                    arr = grad._data
                    if not allow_fp16 and arr.dtype == np.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    dev = grad.device
                    flag = per_device_found.get(dev)._data
                    xp = _backend.xp_of(arr)
                    # the check reads the gradient as it was scaled, as PyTorch's kernel does
                    bad = ~xp.isfinite(arr).all()
                    xp.maximum(flag, bad.astype(flag.dtype), out=flag)
                    arr *= per_device_inv.get(dev)._data.astype(arr.dtype, copy=False)
                    if grad._version is not None:
                        grad._version[0] += 1
        return per_device_found.copies

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale (once per optimizer between updates)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # the reciprocal in float64, then float32: exact for every power-of-two scale
        scale_arr = self._scale._data
        xp = _backend.xp_of(scale_arr)
        inv = Tensor._make(xp.asarray((1.0 / scale_arr.astype(np.float64)).astype(np.float32)))
        found_inf = _full(0.0, np.float32, self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv, found_inf, False)
        state["stage"] = OptState.UNSCALED

    # ---- step --------------------------------------------------------------------------------------
    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless done already) and run optimizer.step(), unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not sum(float(v._data) for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    # ---- update ------------------------------------------------------------------------------------
    def update(self, new_scale=None):
        """Back off after a skipped step, grow after growth_interval good ones (or set new_scale)."""
        if not self._enabled:
            return
        scale, tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                scale._data[...] = new_scale
            else:
                reason = ("new_scale should be a float or a 1-element pellucid.cuda.FloatTensor or "
                          "pellucid.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != self._device:
                    raise AssertionError(reason)
                if new_scale.numel() != 1:
                    raise AssertionError(reason)
                if new_scale.requires_grad is True:
                    raise AssertionError(reason)
                scale._data[...] = _backend.move(new_scale._data, scale.device).reshape(())
        else:
            found = [f._data for st in self._per_optimizer_states.values()
                     for f in st["found_inf_per_device"].values()]
            if len(found) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            dev = scale.device
            combined = _backend.move(found[0], dev)
            for f in found[1:]:
                combined = combined + _backend.move(f, dev)
            _update_scale_(scale._data, tracker._data, combined, self._growth_factor,
                           self._backoff_factor, self._growth_interval)
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    # ---- accessors and state -----------------------------------------------------------------------
    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if self._enabled:
            return self._init_scale if self._scale is None else float(self._scale._data)
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker._data)
        return 0

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker ({} if disabled)."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale._data[...] = state_dict["scale"]
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker._data[...] = state_dict["_growth_tracker"]

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning of an "
                                     "iteration, or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        if not self._enabled:
            return f"GradScaler(device='{self._device}', enabled=False)"
        return (f"GradScaler(device='{self._device}', scale={self.get_scale()}, growth_factor="
                f"{self._growth_factor}, backoff_factor={self._backoff_factor}, growth_interval="
                f"{self._growth_interval})")


def _update_scale_(scale, tracker, found_inf, growth_factor, backoff_factor, growth_interval):
    """PyTorch's _amp_update_scale_ on 0-d arrays, in place and without leaving the device."""
    xp = _backend.xp_of(scale)
    found = found_inf > 0
    successful = tracker + 1
    grow = ~found & (successful == growth_interval)
    scale64 = scale.astype(np.float64)
    with np.errstate(over="ignore"):        # a grown scale past float32's range is not used
        grown = (scale64 * growth_factor).astype(np.float32)
    backed_off = (scale64 * backoff_factor).astype(np.float32)
    new_scale = xp.where(found, backed_off, xp.where(grow & xp.isfinite(grown), grown, scale))
    new_tracker = xp.where(found | grow, 0, successful)
    scale[...] = new_scale
    tracker[...] = new_tracker
