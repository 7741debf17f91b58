"""Learning-rate schedules against PyTorch: the same lr sequence, state_dict round trips."""
import pytest
import torch

import pellucid
import pellucid.optim as poptim
from pellucid.optim import lr_scheduler as P
from torch.optim import lr_scheduler as T


def _opt(lib, optim_mod, cls="SGD", groups=1, **kw):
    params = [[lib.zeros(2, requires_grad=True)] for _ in range(groups)]
    pg = [{"params": p, "lr": 0.1 * (i + 1)} for i, p in enumerate(params)]
    return getattr(optim_mod, cls)(pg, lr=0.1, **kw)


def _seq(lib, optim_mod, sched_mod, name, kwargs, steps=30, cls="SGD", groups=2, opt_kw=None, metrics=None):
    opt = _opt(lib, optim_mod, cls, groups, **(opt_kw or {}))
    if name == "SequentialLR":
        s1 = sched_mod.LinearLR(opt, start_factor=0.25, total_iters=4)
        s2 = sched_mod.ExponentialLR(opt, gamma=0.9)
        s = sched_mod.SequentialLR(opt, [s1, s2], milestones=[5])
    else:
        s = getattr(sched_mod, name)(opt, **kwargs)
    out = []
    for i in range(steps):
        opt.step()
        if name == "ReduceLROnPlateau":
            s.step(metrics[i])
        else:
            s.step()
        out.append(list(s.get_last_lr()))
        if name in ("OneCycleLR", "CyclicLR"):
            out[-1].append(opt.param_groups[0]["momentum"] if "momentum" in opt.param_groups[0] else opt.param_groups[0]["betas"][0])
    return out


CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=6)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e + 0.01 * e)),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97)),
    ("PolynomialLR", dict(total_iters=10, power=2.0)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=30)),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=30, anneal_strategy="linear", three_phase=True)),
    ("SequentialLR", dict()),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=5,
                      mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.97)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, scale_fn=lambda x: 0.9 ** x,
                      scale_mode="iterations", base_momentum=0.7, max_momentum=0.95)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_schedule_matches_torch(name, kwargs):
    opt_kw = {"momentum": 0.9} if name in ("OneCycleLR", "CyclicLR") else None
    p = _seq(pellucid, poptim, P, name, kwargs, opt_kw=opt_kw)
    t = _seq(torch, torch.optim, T, name, kwargs, opt_kw=opt_kw)
    assert len(p) == len(t)
    for a, b in zip(p, t):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def test_one_cycle_cycles_adam_betas_like_torch():
    p = _seq(pellucid, poptim, P, "OneCycleLR", dict(max_lr=0.5, total_steps=20), cls="Adam", steps=20)
    t = _seq(torch, torch.optim, T, "OneCycleLR", dict(max_lr=0.5, total_steps=20), cls="Adam", steps=20)
    for a, b in zip(p, t):
        assert a == pytest.approx(b, rel=1e-12)


def test_cyclic_lr_cycles_adam_betas_and_refuses_bad_modes_like_torch():
    kw = dict(base_lr=0.001, max_lr=0.01, step_size_up=3)
    p = _seq(pellucid, poptim, P, "CyclicLR", kw, cls="Adam", steps=15)
    t = _seq(torch, torch.optim, T, "CyclicLR", kw, cls="Adam", steps=15)
    for a, b in zip(p, t):
        assert a == pytest.approx(b, rel=1e-12)
    for lib, mod, sched in ((torch, torch.optim, T), (pellucid, poptim, P)):
        with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
            sched.CyclicLR(_opt(lib, mod, momentum=0.9), 0.01, 0.1, mode="zigzag")
        with pytest.raises(ValueError, match="optimizer must support momentum"):
            sched.CyclicLR(_opt(lib, mod, "Adagrad"), 0.01, 0.1)
    s = P.CyclicLR(_opt(pellucid, poptim, momentum=0.9), 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert "_scale_fn_custom" not in s.state_dict()         # code is not saved


@pytest.mark.parametrize("kwargs", [dict(patience=2), dict(mode="max", factor=0.5, patience=1, cooldown=2),
                                    dict(threshold_mode="abs", threshold=0.1, patience=0, min_lr=0.02)])
def test_reduce_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.61, 0.62, 0.7, 0.4, 0.4, 0.4, 0.4, 0.4]
    p = _seq(pellucid, poptim, P, "ReduceLROnPlateau", kwargs, steps=len(metrics), metrics=metrics)
    t = _seq(torch, torch.optim, T, "ReduceLROnPlateau", kwargs, steps=len(metrics), metrics=metrics)
    assert len(p) == len(t)
    for a, b in zip(p, t):
        assert a == pytest.approx(b, rel=1e-12)


def test_scheduler_state_dict_round_trip():
    opt = _opt(pellucid, poptim)
    s = P.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(5):
        opt.step()
        s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 5
    opt2 = _opt(pellucid, poptim)
    s2 = P.StepLR(opt2, step_size=2, gamma=0.5)
    s2.load_state_dict(sd)
    assert s2.last_epoch == 5 and s2.get_last_lr() == s.get_last_lr()


def test_initial_lr_is_recorded_and_errors():
    opt = _opt(pellucid, poptim)
    P.ExponentialLR(opt, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    opt2 = _opt(pellucid, poptim)
    with pytest.raises(KeyError, match="initial_lr"):
        P.StepLR(opt2, step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="total_steps"):
        P.OneCycleLR(opt2, max_lr=0.1)
    with pytest.raises(TypeError, match="not an Optimizer"):
        P.StepLR(object(), step_size=1)
