"""Gradient health from a recording: per-parameter gradient norms over iterations, vanishing and
exploding flags, the share of dead ReLU units, and parameters that received no gradient."""
import math

__all__ = ["gradient_health", "GradientHealth"]


class GradientHealth:
    def __init__(self, params, dead_relu, no_grad, vanishing, exploding, thresholds):
        self.params = params              # name -> {"norms": [(iteration, norm)], "latest": float, "flag": str|None}
        self.dead_relu = dead_relu        # module path (or op index) -> share of units dead in the batch
        self.no_grad = no_grad            # parameter names with no gradient in the latest iteration
        self.vanishing = vanishing
        self.exploding = exploding
        self.thresholds = thresholds

    def to_dict(self):
        return {"params": self.params, "dead_relu": self.dead_relu, "no_grad": self.no_grad,
                "vanishing": self.vanishing, "exploding": self.exploding, "thresholds": self.thresholds}

    def report(self):
        lines = [f"{'parameter':<32} {'grad norm':>12}  flag"]
        for name, p in self.params.items():
            v = p["latest"]
            lines.append(f"{name:<32} {('-' if v is None else format(v, '.3e')):>12}  {p['flag'] or ''}")
        if self.dead_relu:
            lines.append("dead ReLU units: " + ", ".join(f"{k or '<top>'}={v:.0%}" for k, v in self.dead_relu.items()))
        if self.no_grad:
            lines.append("no gradient: " + ", ".join(self.no_grad))
        return "\n".join(lines)

    def __repr__(self):
        return self.report()


def gradient_health(recorder, vanishing_below=1e-7, exploding_above=1e3, relative=True):
    """Flags per parameter: 'vanishing' when the gradient norm is below `vanishing_below` (relative to
    the parameter's own norm when `relative`), 'exploding' above `exploding_above` (same), 'no grad'
    when a watched parameter received none in the latest iteration."""
    it = recorder.latest
    params = {}
    vanishing, exploding = [], []
    model = getattr(recorder, "model", None)
    pnorm = {}
    if model is not None:
        for name, p in model.named_parameters():
            d = p._data
            pnorm[name] = float(math.sqrt(float((d.astype("float64") ** 2).sum()))) if d.size else 0.0
    names = list(pnorm) or list(recorder.param_grad_norms)
    for name in names:
        hist = list(recorder.param_grad_norms.get(name, ()))
        latest = it.grad_norms.get(name) if it is not None else None
        flag = None
        if latest is not None:
            scale = pnorm.get(name, 1.0) if relative else 1.0
            scale = scale if scale > 0 else 1.0
            r = latest / scale
            if r < vanishing_below:
                flag = "vanishing"
                vanishing.append(name)
            elif r > exploding_above:
                flag = "exploding"
                exploding.append(name)
        else:
            flag = "no grad"
        params[name] = {"norms": hist, "latest": latest, "flag": flag, "param_norm": pnorm.get(name)}
    no_grad = [n for n, p in params.items() if p["flag"] == "no grad"]
    dead = {}
    if it is not None:
        for s in it.steps:
            if s.relu_dead is not None:
                dead[s.module or f"op{s.index}"] = s.relu_dead
    return GradientHealth(params, dead, no_grad, vanishing, exploding,
                          {"vanishing_below": vanishing_below, "exploding_above": exploding_above,
                           "relative": relative})
