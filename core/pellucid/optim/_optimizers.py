"""SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam and RAdam with PyTorch's exact update
formulas."""
import math

import numpy as np

from .. import _cuda_kernels
from .optimizer import Optimizer, required, state_tensor, step_count, xp_of

_ndarray = np.ndarray


def _decay(param, g, lr, wd, decoupled):
    """Weight decay: shrink the parameter itself (decoupled, AdamW-style) or add wd * param to the
    gradient (L2); returns the gradient to use."""
    if wd == 0:
        return g
    if decoupled:
        param *= 1 - lr * wd
        return g
    return g + wd * param


def _check(name, value, cond, what):
    if not cond:
        raise ValueError(f"Invalid {name}: {value} ({what})")


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check("learning rate", lr, lr is not required and lr >= 0.0, "must be >= 0")
        _check("momentum value", momentum, momentum >= 0.0, "must be >= 0")
        _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    @staticmethod
    def _update(p, param, g, group, state):
        wd, mom, damp = group["weight_decay"], group["momentum"], group["dampening"]
        if mom != 0 and type(param) is not _ndarray:     # CuPy: one fused kernel
            buf = state.get("momentum_buffer")
            new_buf = _cuda_kernels.sgd_momentum_(param, g, None if buf is None else buf._data, group["lr"],
                                                   mom, damp, wd, group["nesterov"])
            if new_buf is not None:
                if buf is None:
                    state["momentum_buffer"] = state_tensor(new_buf)
                return
        if wd != 0:
            g = g + wd * param
        if mom != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                b = g.copy()
                state["momentum_buffer"] = state_tensor(b)
            else:
                b = buf._data
                b *= mom
                b += (1 - damp) * g
            g = g + mom * b if group["nesterov"] else b
        param -= group["lr"] * g


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None):
        _check("learning rate", lr, lr >= 0.0, "must be >= 0")
        _check("epsilon value", eps, eps >= 0.0, "must be >= 0")
        _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0, "must be in [0, 1)")
        _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0, "must be in [0, 1)")
        _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def _update(self, p, param, g, group, state):
        xp = xp_of(param)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if "exp_avg" not in state:
            state["exp_avg"] = state_tensor(xp.zeros_like(param))
            state["exp_avg_sq"] = state_tensor(xp.zeros_like(param))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = state_tensor(xp.zeros_like(param))
        step = step_count(state)
        if type(param) is not _ndarray and _cuda_kernels.adam_step_(     # CuPy: one fused kernel
                param, g, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                state["max_exp_avg_sq"]._data if group["amsgrad"] else None, lr, b1, b2, eps, wd,
                self._decoupled, step):
            return
        g = _decay(param, g, lr, wd, self._decoupled)
        m = state["exp_avg"]._data
        v = state["exp_avg_sq"]._data
        m += (g - m) * (1 - b1)                 # lerp(m, g, 1 - beta1)
        v *= b2
        v += (1 - b2) * (g * g)
        bc1 = 1 - b1 ** step
        bc2_sqrt = math.sqrt(1 - b2 ** step)
        step_size = lr / bc1
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]._data
            xp.maximum(vmax, v, out=vmax)
            denom = xp.sqrt(vmax)
        else:
            denom = xp.sqrt(v)
        denom /= bc2_sqrt
        denom += eps
        param -= step_size * (m / denom)


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, foreach=foreach, capturable=capturable,
                         differentiable=differentiable, fused=fused)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check("learning rate", lr, lr >= 0.0, "must be >= 0")
        _check("epsilon value", eps, eps >= 0.0, "must be >= 0")
        _check("momentum value", momentum, momentum >= 0.0, "must be >= 0")
        _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")
        _check("alpha value", alpha, alpha >= 0.0, "must be >= 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    @staticmethod
    def _update(p, param, g, group, state):
        xp = xp_of(param)
        if "square_avg" not in state:
            state["square_avg"] = state_tensor(xp.zeros_like(param))
            if group["momentum"] > 0:
                state["momentum_buffer"] = state_tensor(xp.zeros_like(param))
            if group["centered"]:
                state["grad_avg"] = state_tensor(xp.zeros_like(param))
        step_count(state)
        alpha, eps, lr, wd = group["alpha"], group["eps"], group["lr"], group["weight_decay"]
        if wd != 0:
            g = g + wd * param
        sq = state["square_avg"]._data
        sq *= alpha
        sq += (1 - alpha) * (g * g)
        if group["centered"]:
            ga = state["grad_avg"]._data
            ga += (g - ga) * (1 - alpha)
            avg = xp.sqrt(sq - ga * ga)
        else:
            avg = xp.sqrt(sq)
        avg += eps
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._data
            buf *= group["momentum"]
            buf += g / avg
            param -= lr * buf
        else:
            param -= lr * (g / avg)


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check("learning rate", lr, lr >= 0.0, "must be >= 0")
        _check("lr_decay value", lr_decay, lr_decay >= 0.0, "must be >= 0")
        _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")
        _check("initial_accumulator_value", initial_accumulator_value, initial_accumulator_value >= 0.0, "must be >= 0")
        _check("epsilon value", eps, eps >= 0.0, "must be >= 0")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = state_tensor(xp_of(p._data).zeros((), dtype="float32"))
                st["sum"] = state_tensor(xp_of(p._data).full_like(p._data, initial_accumulator_value))

    @staticmethod
    def _update(p, param, g, group, state):
        xp = xp_of(param)
        step = step_count(state)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]._data
        s += g * g
        std = xp.sqrt(s)
        std += group["eps"]
        param -= clr * (g / std)


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check("learning rate", lr, lr >= 0.0, "must be >= 0")
        _check("rho value", rho, 0.0 <= rho <= 1.0, "must be in [0, 1]")
        _check("epsilon value", eps, eps >= 0.0, "must be >= 0")
        _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    @staticmethod
    def _update(p, param, g, group, state):
        xp = xp_of(param)
        if "square_avg" not in state:
            state["square_avg"] = state_tensor(xp.zeros_like(param))
            state["acc_delta"] = state_tensor(xp.zeros_like(param))
        step_count(state)
        rho, eps, lr, wd = group["rho"], group["eps"], group["lr"], group["weight_decay"]
        if wd != 0:
            g = g + wd * param
        sq = state["square_avg"]._data
        acc = state["acc_delta"]._data
        sq *= rho
        sq += (1 - rho) * (g * g)
        std = xp.sqrt(sq + eps)
        delta = xp.sqrt(acc + eps)
        delta /= std
        delta *= g
        acc *= rho
        acc += (1 - rho) * (delta * delta)
        param -= lr * delta


def _adam_family_checks(lr, eps, betas, weight_decay):
    _check("learning rate", lr, lr >= 0.0, "must be >= 0")
    _check("epsilon value", eps, eps >= 0.0, "must be >= 0")
    _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0, "must be in [0, 1)")
    _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0, "must be in [0, 1)")
    _check("weight_decay value", weight_decay, weight_decay >= 0.0, "must be >= 0")


class Adamax(Optimizer):
    """Adam with the infinity norm: the second moment is a decaying running maximum of |grad|."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _adam_family_checks(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, p, param, g, group, state):
        xp = xp_of(param)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if "exp_avg" not in state:
            state["exp_avg"] = state_tensor(xp.zeros_like(param))
            state["exp_inf"] = state_tensor(xp.zeros_like(param))
        step = step_count(state)
        if wd != 0:
            g = g + wd * param
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        m += (g - m) * (1 - b1)
        xp.maximum(u * b2, xp.abs(g) + eps, out=u)
        param -= (lr / (1 - b1 ** step)) * (m / u)


class NAdam(Optimizer):
    """Adam with Nesterov momentum and a momentum schedule (Dozat, 2016)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _adam_family_checks(lr, eps, betas, weight_decay)
        _check("momentum_decay value", momentum_decay, momentum_decay >= 0.0, "must be >= 0")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, p, param, g, group, state):
        xp = xp_of(param)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        psi = group["momentum_decay"]
        if "exp_avg" not in state:
            state["mu_product"] = state_tensor(np.ones((), dtype=np.float32))
            state["exp_avg"] = state_tensor(xp.zeros_like(param))
            state["exp_avg_sq"] = state_tensor(xp.zeros_like(param))
        step = step_count(state)
        g = _decay(param, g, lr, wd, group["decoupled_weight_decay"])
        mu = b1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mp = state["mu_product"]._data
        mp *= np.float32(mu)                     # kept in float32, as PyTorch keeps it
        mu_product = float(mp)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m += (g - m) * (1 - b1)
        v *= b2
        v += (1 - b2) * (g * g)
        denom = xp.sqrt(v / (1 - b2 ** step)) + eps
        param -= (lr * (1 - mu) / (1 - mu_product)) * (g / denom)
        param -= (lr * mu_next / (1 - mu_product * mu_next)) * (m / denom)


class RAdam(Optimizer):
    """Adam whose adaptive step is switched on, and rectified, once the variance of the adaptive
    learning rate is tractable (Liu et al., 2019)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _adam_family_checks(lr, eps, betas, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _update(self, p, param, g, group, state):
        xp = xp_of(param)
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if "exp_avg" not in state:
            state["exp_avg"] = state_tensor(xp.zeros_like(param))
            state["exp_avg_sq"] = state_tensor(xp.zeros_like(param))
        step = step_count(state)
        g = _decay(param, g, lr, wd, group["decoupled_weight_decay"])
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m += (g - m) * (1 - b1)
        v *= b2
        v += (1 - b2) * (g * g)
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        corrected = m / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            param -= corrected * lr * (math.sqrt(bc2) / (xp.sqrt(v) + eps)) * rect
        else:
            param -= corrected * lr
