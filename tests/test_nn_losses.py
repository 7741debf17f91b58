"""Every loss against PyTorch: functional and module forms, every reduction, the options and their
combinations, gradients of the input (and of float targets where PyTorch differentiates them)."""
import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import pellucid
import pellucid.nn as pnn
import pellucid.nn.functional as PF
from _parity import assert_close, to_pellucid, to_torch

REDUCTIONS = ["none", "mean", "sum"]
rng = np.random.default_rng(0)


def _f32(*shape, low=None, high=None):
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def run_both(name, args, kwargs=None, grad=(0,), rtol=1e-5, atol=1e-6, module=None, module_kwargs=None):
    """Call the pellucid and torch loss on the same data; compare outputs and the gradients of the
    positional args listed in `grad`."""
    kwargs = kwargs or {}
    p_args, t_args = [], []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            p_args.append(to_pellucid(a, i in grad))
            t_args.append(to_torch(a, i in grad))
        else:
            p_args.append(a)
            t_args.append(a)
    p_kw = {k: to_pellucid(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    t_kw = {k: to_torch(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if module is None:
            p_out = getattr(PF, name)(*p_args, **p_kw)
            t_out = getattr(TF, name)(*t_args, **t_kw)
        else:
            mk = module_kwargs or {}
            p_out = getattr(pnn, module)(**{k: to_pellucid(v) if isinstance(v, np.ndarray) else v
                                            for k, v in mk.items()})(*p_args)
            t_out = getattr(torch.nn, module)(**{k: to_torch(v) if isinstance(v, np.ndarray) else v
                                                 for k, v in mk.items()})(*t_args)
    assert_close(p_out, t_out, rtol, atol, f"{name or module} output")
    if grad:
        w = rng.standard_normal(tuple(t_out.shape)).astype(np.float32)
        (t_out * torch.from_numpy(w)).sum().backward()
        (p_out * pellucid.tensor(w)).sum().backward()
        for i in grad:
            assert_close(p_args[i].grad, t_args[i].grad, rtol, atol, f"{name or module} grad of arg {i}")
    return p_out


# ---- regression ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,extra", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                        ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
                                        ("huber_loss", {}), ("huber_loss", {"delta": 0.3})])
def test_regression_losses(name, extra, reduction):
    x, t = _f32(4, 5), _f32(4, 5)
    run_both(name, (x, t), dict(extra, reduction=reduction), grad=(0, 1))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression_losses(name, reduction):
    x, t, w = _f32(3, 4), _f32(3, 4), _f32(3, 4, low=0.1, high=2.0)
    run_both(name, (x, t), {"reduction": reduction, "weight": w}, grad=(0, 1))


def test_regression_broadcast_warns():
    x, t = _f32(3, 4), _f32(4)
    with pytest.warns(UserWarning, match="target size"):
        PF.mse_loss(to_pellucid(x), to_pellucid(t))
    run_both("mse_loss", (x, t), grad=(0, 1))


def test_invalid_reduction():
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        PF.mse_loss(pellucid.ones(2), pellucid.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="not a valid value"):
        PF.cross_entropy(pellucid.ones(2, 3), pellucid.tensor([0, 1]), reduction="avg")


# ---- cross entropy and nll ------------------------------------------------------------------------------
CE_CASES = list(itertools.product(REDUCTIONS, [False, True], [-100, 1], [0.0, 0.2]))


@pytest.mark.parametrize("reduction,use_weight,ignore_index,smoothing", CE_CASES)
def test_cross_entropy_class_indices(reduction, use_weight, ignore_index, smoothing):
    x = _f32(6, 4) * 3
    t = np.array([0, 1, 2, 3, 1, 1], dtype=np.int64)
    kw = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=smoothing)
    if use_weight:
        kw["weight"] = _f32(4, low=0.2, high=2.0)
    run_both("cross_entropy", (x, t), kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_k_dim(reduction, smoothing):
    x = _f32(2, 3, 4, 5)
    t = rng.integers(0, 3, (2, 4, 5)).astype(np.int64)
    t[0, 0, :2] = -100
    run_both("cross_entropy", (x, t), dict(reduction=reduction, label_smoothing=smoothing,
                                           weight=_f32(3, low=0.5, high=1.5)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(reduction, use_weight, smoothing):
    x = _f32(5, 4)
    t = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if use_weight:
        kw["weight"] = _f32(4, low=0.2, high=2.0)
    run_both("cross_entropy", (x, t), kw, grad=(0, 1))
    run_both("cross_entropy", (_f32(2, 4, 3), rng.dirichlet(np.ones(4), (2, 3)).transpose(0, 2, 1)
                               .astype(np.float32)), kw, grad=(0, 1))


def test_cross_entropy_unbatched_and_extreme_logits():
    run_both("cross_entropy", (_f32(5), np.array(2)), {"reduction": "none"})
    run_both("cross_entropy", (_f32(5), np.array(2)))
    x = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]], np.float32)
    out = run_both("cross_entropy", (x, np.array([1, 2], np.int64)), {"reduction": "none"})
    assert np.isfinite(out.detach().numpy()).all()


def test_cross_entropy_all_ignored_is_nan():
    out = PF.cross_entropy(to_pellucid(_f32(3, 4)), pellucid.tensor([-100, -100, -100]))
    assert np.isnan(out.item())


def test_cross_entropy_errors_name_shapes():
    x = pellucid.ones(3, 5)
    with pytest.raises(ValueError, match=r"batch_size \(3\).*batch_size \(4\).*\[3, 5\].*\[4\]"):
        PF.cross_entropy(x, pellucid.tensor([1, 2, 3, 4]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3, 2\], got \[3, 3\]"):
        PF.cross_entropy(pellucid.ones(3, 5, 2), pellucid.zeros(3, 3, dtype=pellucid.int64))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        PF.cross_entropy(x, pellucid.tensor([1, 2, 7]))
    with pytest.raises(RuntimeError, match="Long or Byte.*int32"):
        PF.cross_entropy(x, pellucid.tensor([1, 2, 3], dtype=pellucid.int32))
    with pytest.raises(RuntimeError, match=r"\[3, 5\].*\[3\]"):
        PF.cross_entropy(x, pellucid.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        PF.cross_entropy(x, pellucid.ones(3, 5), ignore_index=1)
    with pytest.raises(RuntimeError, match="all 5 classes"):
        PF.cross_entropy(x, pellucid.tensor([1, 2, 3]), weight=pellucid.ones(4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_loss(reduction, use_weight, ignore_index):
    x = np.log(rng.dirichlet(np.ones(4), 6)).astype(np.float32)
    t = np.array([0, 1, 2, 3, 2, 1], np.int64)
    kw = dict(reduction=reduction, ignore_index=ignore_index)
    if use_weight:
        kw["weight"] = _f32(4, low=0.2, high=2.0)
    run_both("nll_loss", (x, t), kw)
    run_both("nll_loss", (_f32(2, 4, 3, 2), rng.integers(0, 4, (2, 3, 2)).astype(np.int64)), kw)


def test_cross_entropy_equals_log_softmax_then_nll():
    x, t = to_pellucid(_f32(4, 3)), pellucid.tensor([0, 2, 1, 1])
    a = PF.cross_entropy(x, t)
    b = PF.nll_loss(PF.log_softmax(x, 1), t)
    assert_close(a, b.detach().numpy())


# ---- binary -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_binary_cross_entropy(reduction, use_weight):
    x = _f32(4, 3, low=0.02, high=0.98)
    t = _f32(4, 3, low=0.0, high=1.0)
    kw = {"reduction": reduction}
    if use_weight:
        kw["weight"] = _f32(3, low=0.5, high=2.0)           # broadcast over the batch
    run_both("binary_cross_entropy", (x, t), kw, grad=(0, 1), rtol=1e-4)


def test_binary_cross_entropy_clamps_log():
    x = np.array([0.0, 1.0, 0.5], np.float32)
    t = np.array([1.0, 0.0, 1.0], np.float32)
    out = run_both("binary_cross_entropy", (x, t), {"reduction": "none"}, grad=())
    assert out.detach().numpy()[0] == pytest.approx(100.0)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        PF.binary_cross_entropy(pellucid.tensor([1.5]), pellucid.tensor([1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        PF.binary_cross_entropy(pellucid.ones(3), pellucid.ones(3, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight,use_pos", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits(reduction, use_weight, use_pos):
    x = _f32(4, 3) * 4
    t = _f32(4, 3, low=0.0, high=1.0)
    kw = {"reduction": reduction}
    if use_weight:
        kw["weight"] = _f32(4, 3, low=0.5, high=2.0)
    if use_pos:
        kw["pos_weight"] = _f32(3, low=0.5, high=3.0)
    run_both("binary_cross_entropy_with_logits", (x, t), kw, grad=(0, 1), rtol=1e-4, atol=1e-5)


def test_bce_with_logits_is_stable():
    x = np.array([200.0, -200.0, 80.0, -80.0], np.float32)
    t = np.array([0.0, 1.0, 1.0, 0.0], np.float32)
    for kw in ({"reduction": "none"}, {"reduction": "none", "pos_weight": np.array([2.0], np.float32)}):
        out = run_both("binary_cross_entropy_with_logits", (x, t), kw, grad=(0, 1))
        assert np.isfinite(out.detach().numpy()).all()
    with pytest.raises(ValueError, match="must be the same as input size"):
        PF.binary_cross_entropy_with_logits(pellucid.ones(3), pellucid.ones(3, 1))


# ---- distribution ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x = np.log(rng.dirichlet(np.ones(5), 3)).astype(np.float32)
    p = rng.dirichlet(np.ones(5), 3).astype(np.float32)
    p[0, 0] = 0.0
    t = np.log(p + 1e-3).astype(np.float32) if log_target else p
    run_both("kl_div", (x, t), {"reduction": reduction, "log_target": log_target}, grad=(0,))
    if log_target:
        run_both("kl_div", (x, t), {"reduction": reduction, "log_target": True}, grad=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True)])
def test_poisson_nll(reduction, log_input, full):
    x = _f32(3, 4, low=0.1, high=2.0)
    t = rng.poisson(2.0, (3, 4)).astype(np.float32)
    run_both("poisson_nll_loss", (x, t), {"reduction": reduction, "log_input": log_input, "full": full},
             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(reduction, full):
    x, t = _f32(4, 3), _f32(4, 3)
    var = _f32(4, 3, low=0.1, high=2.0)
    run_both("gaussian_nll_loss", (x, t, var), {"reduction": reduction, "full": full}, grad=(0, 2))
    run_both("gaussian_nll_loss", (x, t, _f32(4, low=0.1, high=2.0)), {"reduction": reduction}, grad=(0, 2))


# ---- margin / embedding ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_embedding_losses(reduction):
    y = np.array([1, -1, 1, -1, 1], np.float32)
    a, b = _f32(5), _f32(5)
    run_both("margin_ranking_loss", (a, b, y), {"margin": 0.2, "reduction": reduction}, grad=(0, 1))
    run_both("hinge_embedding_loss", (a, y), {"margin": 0.7, "reduction": reduction})
    run_both("soft_margin_loss", (a, y), {"reduction": reduction})
    e1, e2 = _f32(5, 4), _f32(5, 4)
    run_both("cosine_embedding_loss", (e1, e2, y), {"margin": 0.1, "reduction": reduction}, grad=(0, 1))
    an, po, ne = _f32(5, 4), _f32(5, 4), _f32(5, 4)
    for swap, p in [(False, 2), (True, 2), (False, 1)]:
        run_both("triplet_margin_loss", (an, po, ne), {"swap": swap, "p": p, "reduction": reduction},
                 grad=(0, 1, 2), rtol=1e-4, atol=1e-5)
    lab = (rng.random((5, 4)) > 0.5).astype(np.float32)
    run_both("multilabel_soft_margin_loss", (e1, lab), {"reduction": reduction,
                                                        "weight": _f32(4, low=0.5, high=1.5)})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("use_weight", [False, True])
def test_multi_margin_loss(reduction, p, use_weight):
    x = _f32(6, 4)
    t = rng.integers(0, 4, 6).astype(np.int64)
    kw = {"p": p, "margin": 0.8, "reduction": reduction}
    if use_weight:
        kw["weight"] = _f32(4, low=0.5, high=2.0)
    run_both("multi_margin_loss", (x, t), kw)


# ---- modules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("module,args,module_kwargs,grad", [
    ("MSELoss", (_f32(3, 4), _f32(3, 4)), {"reduction": "sum"}, (0, 1)),
    ("L1Loss", (_f32(3, 4), _f32(3, 4)), {}, (0,)),
    ("SmoothL1Loss", (_f32(3, 4), _f32(3, 4)), {"beta": 0.5}, (0,)),
    ("HuberLoss", (_f32(3, 4), _f32(3, 4)), {"delta": 0.5, "reduction": "none"}, (0,)),
    ("CrossEntropyLoss", (_f32(4, 3), np.array([0, 2, 1, 2], np.int64)),
     {"weight": np.array([1.0, 2.0, 0.5], np.float32), "label_smoothing": 0.1, "ignore_index": 1}, (0,)),
    ("NLLLoss", (_f32(4, 3), np.array([0, 2, 1, 2], np.int64)), {"reduction": "sum"}, (0,)),
    ("BCELoss", (_f32(4, low=0.1, high=0.9), _f32(4, low=0.0, high=1.0)), {}, (0,)),
    ("BCEWithLogitsLoss", (_f32(4, 2), _f32(4, 2, low=0, high=1)),
     {"pos_weight": np.array([2.0, 0.5], np.float32)}, (0,)),
    ("KLDivLoss", (np.log(rng.dirichlet(np.ones(3), 2)).astype(np.float32),
                   rng.dirichlet(np.ones(3), 2).astype(np.float32)), {"reduction": "batchmean"}, (0,)),
    ("PoissonNLLLoss", (_f32(3), _f32(3, low=0, high=3)), {}, (0,)),
    ("GaussianNLLLoss", (_f32(3), _f32(3), _f32(3, low=0.5, high=1.0)), {}, (0,)),
    ("HingeEmbeddingLoss", (_f32(4), np.array([1, -1, 1, -1], np.float32)), {}, (0,)),
    ("SoftMarginLoss", (_f32(4), np.array([1, -1, 1, -1], np.float32)), {}, (0,)),
    ("MarginRankingLoss", (_f32(4), _f32(4), np.array([1, -1, 1, -1], np.float32)), {"margin": 0.1}, (0,)),
    ("CosineEmbeddingLoss", (_f32(4, 3), _f32(4, 3), np.array([1, -1, 1, -1], np.float32)), {}, (0,)),
    ("MultiMarginLoss", (_f32(4, 3), np.array([0, 2, 1, 2], np.int64)), {"p": 2}, (0,)),
    ("MultiLabelSoftMarginLoss", (_f32(4, 3), (rng.random((4, 3)) > 0.5).astype(np.float32)), {}, (0,)),
    ("TripletMarginLoss", (_f32(4, 3), _f32(4, 3), _f32(4, 3)), {"margin": 0.5}, (0,)),
])
def test_loss_modules(module, args, module_kwargs, grad):
    run_both(None, args, grad=grad, module=module, module_kwargs=module_kwargs, rtol=1e-5, atol=1e-5)


def test_loss_module_repr_and_buffers():
    w = np.array([1.0, 2.0], np.float32)
    p = pnn.CrossEntropyLoss(weight=to_pellucid(w))
    t = torch.nn.CrossEntropyLoss(weight=to_torch(w))
    assert repr(p) == repr(t)
    assert list(p.state_dict()) == list(t.state_dict()) == ["weight"]
    assert list(pnn.BCEWithLogitsLoss(pos_weight=pellucid.ones(2)).state_dict()) == \
        list(torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)).state_dict())
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert pnn.MSELoss(size_average=False).reduction == "sum"


def test_loss_double_backward_matches_torch():
    x = _f32(3, 4)
    t = np.array([0, 3, 1], np.int64)
    px, tx = to_pellucid(x, True), to_torch(x, True)
    (pg,) = pellucid.autograd.grad(PF.cross_entropy(px, pellucid.tensor(t), label_smoothing=0.1), px,
                                   create_graph=True)
    (tg,) = torch.autograd.grad(TF.cross_entropy(tx, torch.from_numpy(t), label_smoothing=0.1), tx,
                                create_graph=True)
    assert_close(pg, tg)
    (pg * pg).sum().backward()
    (tg * tg).sum().backward()
    assert_close(px.grad, tx.grad, atol=1e-6)
    y = _f32(3, 4)
    for name in ("mse_loss", "smooth_l1_loss"):
        px, tx = to_pellucid(x, True), to_torch(x, True)
        (pg,) = pellucid.autograd.grad(getattr(PF, name)(px, to_pellucid(y)) * 7, px, create_graph=True)
        (tg,) = torch.autograd.grad(getattr(TF, name)(tx, to_torch(y)) * 7, tx, create_graph=True)
        (pg * pg).sum().backward()
        (tg * tg).sum().backward()
        assert_close(px.grad, tx.grad, what=name)
