"""Optimizers against PyTorch: 10 steps give the same parameters; state_dict round trips."""
import numpy as np
import pytest
import torch

import pellucid
import pellucid.optim as poptim

RNG = np.random.default_rng(0)
SHAPES = [(4, 3), (5,)]
INIT = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]
TARGET = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]


def _loss(lib, params, step):
    # a quadratic whose gradients change every step
    total = None
    for p, t in zip(params, TARGET):
        tt = lib.tensor(t * (1 + 0.1 * step))
        d = p - tt
        term = (d * d * (1.0 + 0.05 * step)).sum() + (p * tt).sum() * 0.1
        total = term if total is None else total + term
    return total


def _run(lib, opt_cls, kwargs, steps=10, sched=None):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in INIT]
    opt = opt_cls(params, **kwargs)
    s = sched(opt) if sched else None
    for step in range(steps):
        opt.zero_grad()
        loss = _loss(lib, params, step)
        loss.backward()
        opt.step()
        if s is not None:
            s.step()
    return [p.detach().numpy().copy() for p in params], opt


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.01)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.05, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.05)),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), weight_decay=0.05)),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True)),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_optimizer_matches_torch(name, kwargs):
    p_params, _ = _run(pellucid, getattr(poptim, name), kwargs)
    t_params, _ = _run(torch, getattr(torch.optim, name), kwargs)
    for a, b in zip(p_params, t_params):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                          ("Adagrad", dict(lr=0.1)), ("Adadelta", dict()),
                                          ("Adamax", dict()), ("NAdam", dict(lr=0.01)), ("RAdam", dict())])
def test_state_dict_round_trip_continues_identically(name, kwargs):
    cls = getattr(poptim, name)
    full, _ = _run(pellucid, cls, kwargs, steps=8)
    # run 4 steps, save, rebuild a fresh optimizer, load, run 4 more
    params = [pellucid.tensor(a.copy(), requires_grad=True) for a in INIT]
    opt = cls(params, **kwargs)
    for step in range(4):
        opt.zero_grad()
        _loss(pellucid, params, step).backward()
        opt.step()
    sd = opt.state_dict()
    params2 = [pellucid.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    opt2 = cls(params2, **kwargs)
    opt2.load_state_dict(sd)
    for step in range(4, 8):
        opt2.zero_grad()
        _loss(pellucid, params2, step).backward()
        opt2.step()
    for a, b in zip(full, params2):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_state_dict_layout_matches_torch():
    _, popt = _run(pellucid, poptim.Adam, dict(lr=0.01), steps=2)
    _, topt = _run(torch, torch.optim.Adam, dict(lr=0.01), steps=2)
    psd, tsd = popt.state_dict(), topt.state_dict()
    assert sorted(psd["state"]) == sorted(tsd["state"])
    assert sorted(psd["state"][0]) == sorted(tsd["state"][0])
    assert float(psd["state"][0]["step"]) == float(tsd["state"][0]["step"]) == 2.0
    pg, tg = psd["param_groups"][0], tsd["param_groups"][0]
    assert pg["params"] == tg["params"]
    for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
        assert pg[k] == tg[k]


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_state_and_hyperparameters_are_named_as_in_torch(name):
    _, popt = _run(pellucid, getattr(poptim, name), {}, steps=2)
    _, topt = _run(torch, getattr(torch.optim, name), {}, steps=2)
    psd, tsd = popt.state_dict(), topt.state_dict()
    assert sorted(psd["state"][0]) == sorted(tsd["state"][0])
    assert sorted(psd["param_groups"][0]) == sorted(tsd["param_groups"][0])
    for k, v in tsd["param_groups"][0].items():
        assert psd["param_groups"][0][k] == v, k
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        getattr(poptim, name)([pellucid.zeros(1, requires_grad=True)], betas=(1.0, 0.9))


def test_param_groups_and_add_param_group():
    a = pellucid.zeros(2, requires_grad=True)
    b = pellucid.zeros(3, requires_grad=True)
    opt = poptim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    c = pellucid.zeros(1, requires_grad=True)
    opt.add_param_group({"params": c, "lr": 0.01})
    assert opt.param_groups[2]["params"][0] is c
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="empty parameter list"):
        poptim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        poptim.Adam([a], lr=-1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        poptim.SGD(a, lr=0.1)


def test_zero_grad_set_to_none_and_in_place():
    a = pellucid.ones(3, requires_grad=True)
    opt = poptim.SGD([a], lr=0.1)
    (a * 2).sum().backward()
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and np.all(a.grad.numpy() == 0)
    opt.zero_grad()
    assert a.grad is None


def test_step_skips_params_without_grad_and_builds_no_graph():
    a = pellucid.ones(3, requires_grad=True)
    b = pellucid.ones(3, requires_grad=True)
    opt = poptim.Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert np.all(b.detach().numpy() == 1) and a.grad_fn is None and a.is_leaf
    assert not np.all(a.detach().numpy() == 1)
    assert b not in opt.state or not opt.state[b]


def test_closure_is_evaluated_with_grad():
    a = pellucid.tensor([1.0, 2.0], requires_grad=True)
    opt = poptim.SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(a.detach().numpy(), [0.8, 1.6], rtol=1e-6)


def test_repr_matches_torch_layout():
    a = pellucid.zeros(2, requires_grad=True)
    r = repr(poptim.SGD([a], lr=0.1))
    t = repr(torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1))
    assert r.splitlines()[:2] == t.splitlines()[:2]
    assert "    lr: 0.1" in r and "    momentum: 0" in r
