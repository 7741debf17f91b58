"""The Optimizer base class: parameter groups, per-parameter state, state_dict round trips.

Updates run on the raw arrays in place (no graph, no dispatch overhead), following PyTorch's
single-tensor formulas operation by operation so results match it to float rounding.
"""
from collections import defaultdict
from copy import deepcopy
import itertools

from .._grad_mode import no_grad
from .._tensor import Tensor


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._step_hooks = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {type(params).__name__}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for g in param_groups:
            self.add_param_group(g)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\n" + f"Parameter Group {i}"
            for key in sorted(group.keys()):
                if key != "params":
                    s += "\n" + f"    {key}: {group[key]}"
        return s + "\n)"

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        seen = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.grad_fn is not None:
                            p.grad = p.grad.detach()
                        p.grad._data[...] = 0

    def state_dict(self):
        index = {}
        counter = itertools.count()
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                if id(p) not in index:
                    index[id(p)] = next(counter)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.clone() if isinstance(v, Tensor) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        state_dict = {"state": state_dict["state"], "param_groups": deepcopy(state_dict["param_groups"])}
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has {len(groups)}")
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group {i} of {len(sg['params'])} parameters "
                    f"that doesn't match the size of optimizer's group ({len(g['params'])})")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for p, sid in zip(g["params"], sg["params"]):
                id_map[sid] = p
        self.state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            k = int(k)
            if k not in id_map:
                continue
            p = id_map[k]
            new = {}
            for name, val in v.items():
                if isinstance(val, Tensor):
                    if name == "step":
                        val = val.clone()
                    else:
                        val = val.to(device=p.device, dtype=p.dtype if val.is_floating_point() else val.dtype).clone()
                new[name] = val
            self.state[p] = new
        for g, sg in zip(groups, saved_groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = v

    def register_step_post_hook(self, hook):
        from ..utils.hooks import RemovableHandle
        self._step_hooks.append(hook)
        return RemovableHandle(self._step_hooks, hook)

    def _run_step(self, closure, update):
        loss = None
        if closure is not None:
            from .._grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad._data
                    if group.get("maximize", False):
                        g = -g
                    update(p, p._data, g, group, self.state[p])
                    if p._version is not None:
                        p._version[0] += 1
        for h in list(self._step_hooks):
            h(self, (), {})
        return loss

    def step(self, closure=None):
        """One update of every parameter with a gradient, through the subclass's
        `_update(p, param_array, grad_array, group, state)`; `closure` re-evaluates the loss."""
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(f"{type(self).__name__} must implement step() or _update()")
        return self._run_step(closure, self._update)

    def _update(self, p, param, g, group, state):
        raise NotImplementedError


def xp_of(a):
    from .._backend import xp_of as _x
    return _x(a)


def state_tensor(arr):
    return Tensor._make(arr)


def step_count(state):
    """Increment and return the step counter, kept as a float32 0-dim tensor like PyTorch."""
    import numpy as np
    s = state.get("step")
    if s is None:
        s = state["step"] = Tensor._make(np.zeros((), dtype=np.float32))
    s._data += 1
    return float(s._data)
