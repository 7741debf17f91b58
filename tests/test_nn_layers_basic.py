"""Basic layers against PyTorch with copied weights: forward, input gradient and every parameter
gradient (Linear, Bilinear, activations, softmax family, flatten, embedding, padding, dropout)."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import pellucid
import pellucid.nn as pnn
import pellucid.nn.functional as PF
from _parity import assert_close, check_module, to_pellucid, to_torch

rng = np.random.default_rng(0)


def _x(*shape, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _pair(name, *args, **kwargs):
    return getattr(torch.nn, name)(*args, **kwargs), getattr(pnn, name)(*args, **kwargs)


# ---- linear ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 4, 3)])
def test_linear(bias, shape):
    t, p = _pair("Linear", 3, 6, bias=bias)
    check_module(t, p, _x(*shape))
    assert repr(p) == repr(t)


def test_linear_float64_and_errors():
    t, p = torch.nn.Linear(3, 2).double(), pnn.Linear(3, 2, dtype=pellucid.float64)
    check_module(t, p, _x(4, 3).astype(np.float64))
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(4x5 and 3x2\)"):
        p(to_pellucid(_x(4, 5).astype(np.float64)))
    with pytest.raises(RuntimeError, match="same dtype"):
        p(to_pellucid(_x(4, 3)))
    assert p.weight.grad_fn is None and p.weight.dtype == pellucid.float64


def test_linear_grad_fn_and_identity():
    p = pnn.Linear(2, 2)
    out = p(pellucid.ones(1, 2))
    assert out.grad_fn.name() == "LinearBackward0"
    x = pellucid.ones(3)
    assert pnn.Identity(54, unused="x")(x) is x


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(bias):
    t, p = _pair("Bilinear", 3, 4, 5, bias=bias)
    check_module(t, p, _x(6, 3), _x(6, 4), rtol=1e-4, atol=1e-5)
    check_module(t, p, _x(2, 6, 3), _x(2, 6, 4), rtol=1e-4, atol=1e-5)
    assert repr(p) == repr(t)


# ---- activations -----------------------------------------------------------------------------------
ACTIVATIONS = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {"alpha": 0.7}),
    ("SELU", (), {}), ("CELU", (), {"alpha": 1.3}), ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}), ("Hardtanh", (-0.5, 1.5), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("Softplus", (), {"beta": 2.0, "threshold": 3.0}),
    ("Softplus", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}), ("Threshold", (0.3, -2.0), {}),
    ("LogSigmoid", (), {}), ("Hardshrink", (0.4,), {}), ("Softshrink", (0.6,), {}), ("GLU", (), {}),
    ("GLU", (0,), {}), ("Softmax", (), {"dim": 1}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (), {"dim": 1}),
    ("Softmin", (), {"dim": 0}), ("Softmax2d", (), {}), ("RReLU", (0.1, 0.3), {}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS, ids=lambda v: str(v))
def test_activation_layers(name, args, kwargs):
    t, p = _pair(name, *args, **kwargs)
    t.eval()                    # RReLU is deterministic in eval mode
    check_module(t, p, _x(4, 6, 4), rtol=1e-5, atol=1e-6)
    assert repr(p) == repr(t)


@pytest.mark.parametrize("name,kwargs", [("ReLU", {"inplace": True}), ("LeakyReLU", {"inplace": True}),
                                         ("ELU", {"inplace": True}), ("SELU", {"inplace": True}),
                                         ("CELU", {"inplace": True}), ("Hardtanh", {"inplace": True}),
                                         ("ReLU6", {"inplace": True}), ("SiLU", {"inplace": True}),
                                         ("Hardswish", {"inplace": True}), ("Hardsigmoid", {"inplace": True}),
                                         ("Mish", {"inplace": True}), ("Threshold", {"threshold": 0.1,
                                                                                     "value": 5.0,
                                                                                     "inplace": True})])
def test_inplace_activations(name, kwargs):
    t, p = _pair(name, **kwargs)
    x = _x(3, 4)
    tx, px = to_torch(x, True), to_pellucid(x, True)
    ty, py = tx * 1, px * 1
    to, po = t(ty), p(py)
    assert po is py and to is ty
    assert_close(po, to)
    (to * to).sum().backward()
    (po * po).sum().backward()
    assert_close(px.grad, tx.grad)
    assert repr(p) == repr(t)


@pytest.mark.parametrize("fn", ["relu_", "elu_", "leaky_relu_", "selu_", "celu_", "hardtanh_", "rrelu_"])
def test_functional_inplace_forms(fn):
    x = _x(3, 4)
    px, tx = to_pellucid(x), to_torch(x)
    assert getattr(PF, fn)(px) is px
    getattr(TF, fn)(tx)
    assert_close(px, tx)


@pytest.mark.parametrize("num", [1, 3])
def test_prelu(num):
    t, p = _pair("PReLU", num, init=0.1)
    check_module(t, p, _x(4, 3, 5))
    check_module(t, p, _x(4, 3))
    assert repr(p) == repr(t)
    if num == 3:
        with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
            p(to_pellucid(_x(2, 4)))


def test_rrelu_training_slopes_in_range():
    x = to_pellucid(-np.ones(10000, np.float32))
    y = PF.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert y.min() >= -0.3 and y.max() <= -0.1 and abs(y.mean() + 0.2) < 0.01
    assert np.array_equal(PF.rrelu(to_pellucid(np.ones(3, np.float32)), training=True).numpy(), np.ones(3))


# (softsign is left out: PyTorch's own double backward of it loads its decomposition machinery,
# seconds of imports for one test)
@pytest.mark.parametrize("name", ["gelu", "elu", "softplus", "silu", "mish", "logsigmoid", "tanhshrink",
                                  "celu", "selu", "hardswish"])
def test_activation_double_backward(name):
    x = _x(3, 4)
    px, tx = to_pellucid(x, True), to_torch(x, True)
    (pg,) = pellucid.autograd.grad(getattr(PF, name)(px).sum(), px, create_graph=True)
    (tg,) = torch.autograd.grad(getattr(TF, name)(tx).sum(), tx, create_graph=True)
    assert_close(pg, tg)
    (pg * pg).sum().backward()
    (tg * tg).sum().backward()
    assert_close(px.grad, tx.grad, rtol=1e-4, atol=1e-5)


def test_activation_extremes_are_finite():
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], np.float32)
    for name in ["logsigmoid", "softplus", "silu", "mish", "elu", "selu", "gelu"]:
        px, tx = to_pellucid(x, True), to_torch(x, True)
        po, to = getattr(PF, name)(px), getattr(TF, name)(tx)
        assert_close(po, to, what=name)
        po.sum().backward()
        to.sum().backward()
        assert_close(px.grad, tx.grad, what=name)


def test_softmax_implicit_dim_warns():
    x = _x(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = PF.softmax(to_pellucid(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(out, TF.softmax(to_torch(x)))


def test_glu_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        PF.glu(pellucid.ones(2, 3))


# ---- shape layers ---------------------------------------------------------------------------------
def test_flatten_unflatten():
    t, p = _pair("Flatten")
    check_module(t, p, _x(2, 3, 4))
    t, p = _pair("Flatten", 0, 1)
    check_module(t, p, _x(2, 3, 4))
    assert repr(p) == repr(t)
    t, p = _pair("Unflatten", 1, (3, 4))
    check_module(t, p, _x(2, 12))
    assert repr(p) == repr(t)
    with pytest.raises(TypeError):
        pnn.Unflatten(1, 12)


# ---- embedding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding(padding_idx, scale_grad_by_freq):
    t, p = _pair("Embedding", 6, 4, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    idx = np.array([[0, 2, 2, 5], [1, 2, 5, 3]], np.int64)
    check_module(t, p, idx)
    assert repr(p) == repr(t)
    if padding_idx is not None:
        assert float(p.weight.grad[p.padding_idx].abs().sum()) == 0.0
        fresh = pnn.Embedding(6, 4, padding_idx=padding_idx)
        assert float(fresh.weight[fresh.padding_idx].abs().sum()) == 0.0


def test_embedding_max_norm_renormalises_looked_up_rows():
    t, p = _pair("Embedding", 5, 3, max_norm=1.0)
    idx = np.array([0, 2, 2, 4], np.int64)
    check_module(t, p, idx, rtol=1e-5, atol=1e-6)
    assert_close(p.weight.detach(), t.weight.detach())
    assert repr(p) == repr(t)


def test_embedding_from_pretrained_and_errors():
    w = _x(4, 3)
    p = pnn.Embedding.from_pretrained(to_pellucid(w))
    t = torch.nn.Embedding.from_pretrained(to_torch(w))
    assert not p.weight.requires_grad
    idx = np.array([3, 0], np.int64)
    assert_close(p(to_pellucid(idx)), t(to_torch(idx)))
    assert pnn.Embedding.from_pretrained(to_pellucid(w), freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="index out of range"):
        p(pellucid.tensor([4]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        p(pellucid.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx"):
        pnn.Embedding(3, 2, padding_idx=3)
    p.weight.requires_grad_(True)
    out = PF.embedding(pellucid.tensor([1, 1], dtype=pellucid.int32), p.weight)
    out.sum().backward()
    assert p.weight.grad.numpy()[1].tolist() == [2.0, 2.0, 2.0]


def test_one_hot():
    idx = np.array([[0, 3], [2, 1]], np.int64)
    out = PF.one_hot(to_pellucid(idx))
    exp = TF.one_hot(to_torch(idx))
    assert_close(out, exp)
    assert out.dtype == pellucid.int64
    assert_close(PF.one_hot(to_pellucid(idx), 6), TF.one_hot(to_torch(idx), 6))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        PF.one_hot(to_pellucid(idx), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        PF.one_hot(pellucid.tensor([-1]))
    with pytest.raises(RuntimeError, match="empty tensor"):
        PF.one_hot(pellucid.tensor([], dtype=pellucid.int64))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize(p, dim):
    x = _x(3, 4)
    x[0] = 0.0
    px, tx = to_pellucid(x, True), to_torch(x, True)
    po, to = PF.normalize(px, p, dim), TF.normalize(tx, p, dim)
    assert_close(po, to)
    w = _x(3, 4)
    (po * pellucid.tensor(w)).sum().backward()
    (to * torch.from_numpy(w)).sum().backward()
    assert_close(px.grad, tx.grad, rtol=1e-4, atol=1e-5)


# ---- padding --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode,shape,pad", [
    ("constant", (2, 3), (1, 2)), ("constant", (2, 3, 4), (1, 0, 2, 1, 0, 1)), ("constant", (2, 5), (-1, 2)),
    ("reflect", (2, 5), (2, 3)), ("reflect", (1, 2, 4, 5), (1, 2, 3, 1)), ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 1, 2, 0)),
    ("replicate", (2, 3, 4), (3, 1)), ("replicate", (1, 2, 4, 5), (0, 4, -1, 2)),
    ("circular", (1, 2, 4, 5), (2, 1, 3, 4)), ("circular", (2, 5), (2, -3)), ("reflect", (2, 5), (-3, 2)),
])
def test_pad(mode, shape, pad):
    x = _x(*shape)
    px, tx = to_pellucid(x, True), to_torch(x, True)
    kw = {"value": 1.5} if mode == "constant" else {}
    po, to = PF.pad(px, pad, mode, **kw), TF.pad(tx, pad, mode, **kw)
    assert_close(po, to)
    w = _x(*to.shape)
    (po * pellucid.tensor(w)).sum().backward()
    (to * torch.from_numpy(w)).sum().backward()
    assert_close(px.grad, tx.grad)


def test_pad_double_backward():
    x = _x(1, 2, 5)
    for mode in ("reflect", "constant", "circular"):
        px, tx = to_pellucid(x, True), to_torch(x, True)
        (pg,) = pellucid.autograd.grad((PF.pad(px, (2, 1), mode) ** 2).sum(), px, create_graph=True)
        (tg,) = torch.autograd.grad((TF.pad(tx, (2, 1), mode) ** 2).sum(), tx, create_graph=True)
        assert_close(pg, tg)
        (pg * pg).sum().backward()
        (tg * tg).sum().backward()
        assert_close(px.grad, tx.grad, what=mode)


def test_pad_errors_match_pytorch():
    cases = [((1, 1, 3), (3, 3), "reflect"), ((1, 1, 3), (1,), "constant"), ((1, 1, 3), (4, 4), "circular"),
             ((1, 1, 3), (1,) * 8, "constant")]
    for shape, pad, mode in cases:
        with pytest.raises(RuntimeError) as pe:
            PF.pad(pellucid.ones(*shape), pad, mode)
        with pytest.raises(RuntimeError) as te:
            TF.pad(torch.ones(*shape), pad, mode)
        assert str(pe.value) == str(te.value)
    with pytest.raises(NotImplementedError, match="not supported for 1D input"):
        PF.pad(pellucid.ones(3), (1, 1), "reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        PF.pad(pellucid.ones(1, 3), (1, 1), "foo")
    assert PF.pad(pellucid.tensor([[1, 2]]), (1, 1), value=2.5).numpy().tolist() == [[2, 1, 2, 2]]


@pytest.mark.parametrize("name,args,shape", [
    ("ZeroPad1d", ((1, 2),), (2, 3, 4)), ("ZeroPad2d", (1,), (2, 3, 4)), ("ZeroPad3d", (1,), (1, 2, 3, 4)),
    ("ConstantPad1d", (2, 0.5), (2, 3)), ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (2, 3, 4)),
    ("ConstantPad3d", (1, 2.0), (1, 2, 3, 4)), ("ReflectionPad1d", (2,), (2, 3, 4)),
    ("ReflectionPad2d", ((1, 2, 0, 1),), (1, 2, 3, 4)), ("ReflectionPad3d", (1,), (1, 2, 3, 3, 3)),
    ("ReplicationPad1d", ((3, 1),), (2, 3, 4)), ("ReplicationPad2d", (2,), (1, 2, 3, 4)),
    ("ReplicationPad3d", (1,), (1, 1, 2, 3, 4)), ("CircularPad1d", (2,), (2, 3, 4)),
    ("CircularPad2d", ((1, 0, 2, 1),), (1, 2, 3, 4)), ("CircularPad3d", (1,), (1, 1, 2, 3, 4)),
])
def test_padding_layers(name, args, shape):
    t, p = _pair(name, *args)
    check_module(t, p, _x(*shape))
    assert repr(p) == repr(t)


# ---- dropout --------------------------------------------------------------------------------------
def test_dropout_eval_is_identity_and_train_scales():
    p = pnn.Dropout(0.3)
    x = pellucid.ones(200, 100)
    assert p.eval()(x) is x
    p.train()
    pellucid.manual_seed(1)
    xg = pellucid.ones(200, 100, requires_grad=True)
    y = p(xg)
    vals = y.detach().numpy()
    assert np.allclose(vals[vals != 0], 1 / 0.7)
    assert abs((vals == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    assert np.allclose(xg.grad.numpy(), vals)        # the gradient is the same scaled mask
    pellucid.manual_seed(1)
    assert np.array_equal(p(xg).detach().numpy(), vals)
    assert repr(p) == repr(torch.nn.Dropout(0.3))
    with pytest.raises(ValueError, match="between 0 and 1"):
        pnn.Dropout(1.5)
    assert float(PF.dropout(x, 1.0).abs().sum()) == 0.0


def test_dropout_inplace():
    x = pellucid.ones(50, 50)
    out = PF.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}


@pytest.mark.parametrize("name,shape", [("Dropout1d", (8, 16, 10)), ("Dropout1d", (16, 10)),
                                        ("Dropout2d", (8, 16, 4, 5)), ("Dropout3d", (4, 16, 2, 3, 4)),
                                        ("Dropout3d", (16, 2, 3, 4))])
def test_channel_dropout_zeroes_whole_channels(name, shape):
    p = getattr(pnn, name)(0.5)
    y = p(pellucid.ones(*shape)).numpy()
    batched = len(shape) == {"Dropout1d": 3, "Dropout2d": 4, "Dropout3d": 5}[name]
    per_channel = y.reshape(y.shape[:2 if batched else 1] + (-1,))
    assert np.all((per_channel == per_channel[..., :1]))
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    assert repr(p) == repr(getattr(torch.nn, name)(0.5))


def test_alpha_dropout_keeps_moments():
    pellucid.manual_seed(0)
    x = to_pellucid(np.random.default_rng(0).standard_normal(200000).astype(np.float32))
    y = PF.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert pnn.AlphaDropout(0.2).eval()(x) is x


def test_softsign_second_derivative():
    x = _x(5)
    px = to_pellucid(x, True)
    (g,) = pellucid.autograd.grad(PF.softsign(px).sum(), px, create_graph=True)
    g.sum().backward()
    assert np.allclose(px.grad.numpy(), -2 * np.sign(x) / (1 + np.abs(x)) ** 3, rtol=1e-5, atol=1e-6)
