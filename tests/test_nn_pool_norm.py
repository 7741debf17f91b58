"""Pooling, normalisation and resampling against PyTorch: values, indices, gradients, running
statistics, higher-order gradients, errors, module reprs."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid.autograd import gradcheck, gradgradcheck

from _parity import check_module

TF = torch.nn.functional
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def _compare(p_fn, t_fn, arrays, dtype=np.float64, seed=0):
    """Same inputs (all requiring grad) through both; compare outputs (and integer outputs such as
    indices exactly) and the gradients of the floating outputs."""
    arrays = [None if a is None else np.asarray(a).astype(dtype) for a in arrays]
    p_in = [None if a is None else pellucid.tensor(a.copy(), requires_grad=True) for a in arrays]
    t_in = [None if a is None else torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    p_out, t_out = p_fn(*p_in), t_fn(*t_in)
    p_outs = list(p_out) if isinstance(p_out, tuple) else [p_out]
    t_outs = list(t_out) if isinstance(t_out, tuple) else [t_out]
    assert len(p_outs) == len(t_outs)
    tol = TOL[dtype]
    rng = np.random.default_rng(seed)
    p_loss = t_loss = None
    for po, to in zip(p_outs, t_outs):
        assert tuple(po.shape) == tuple(to.shape)
        assert str(po.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
        if to.dtype.is_floating_point:
            np.testing.assert_allclose(po.detach().numpy(), to.detach().numpy(), **tol)
            up = rng.standard_normal(tuple(to.shape)).astype(dtype)
            pl, tl = (po * pellucid.tensor(up)).sum(), (to * torch.tensor(up)).sum()
            p_loss = pl if p_loss is None else p_loss + pl
            t_loss = tl if t_loss is None else t_loss + tl
        else:
            np.testing.assert_array_equal(po.numpy(), to.numpy())
    p_loss.backward()
    t_loss.backward()
    for i, (p, t) in enumerate(zip(p_in, t_in)):
        if p is not None:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), err_msg=f"grad of input {i}", **tol)
    return p_outs[0], t_outs[0]


def _leaf(shape, seed=0):
    return pellucid.tensor(_rand(*shape, seed=seed), requires_grad=True)


# ---- max pooling ------------------------------------------------------------------------------------

MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True, dilation=2),
    dict(kernel_size=3, stride=1, padding=1),                # overlapping windows
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", MAX2D)
def test_max_pool2d_values_indices_grads(kw, dtype):
    p, _ = _compare(lambda x: F.max_pool2d(x, return_indices=True, **kw),
                    lambda x: TF.max_pool2d(x, return_indices=True, **kw), [_rand(2, 3, 9, 8)], dtype)
    assert p.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    _compare(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), [_rand(2, 3, 9, 8)], dtype)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, dilation=3, stride=1)])
def test_max_pool1d_and_3d(kw):
    _compare(lambda x: F.max_pool1d(x, return_indices=True, **kw),
             lambda x: TF.max_pool1d(x, return_indices=True, **kw), [_rand(2, 3, 11)])
    _compare(lambda x: F.max_pool3d(x, return_indices=True, **kw),
             lambda x: TF.max_pool3d(x, return_indices=True, **kw), [_rand(1, 2, 6, 7, 6)])


def test_max_pool_ties_nan_and_unbatched():
    # ties: the first maximum of each window wins (PyTorch's order); NaN wins over numbers
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0], [np.nan, 3.0, 5.0, 5.0], [0.0, 3.0, 5.0, 5.0]]]])
    pv, pi = F.max_pool2d(pellucid.tensor(x), 2, return_indices=True)
    tv, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(pv.numpy(), tv.numpy())
    np.testing.assert_array_equal(pi.numpy(), ti.numpy())
    p, _ = _compare(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [_rand(3, 6, 5)])
    assert tuple(p.shape) == (3, 3, 2)


def test_max_pool_windows_of_minus_inf_pick_an_input_position():
    # padding never wins: a window whose values are all -inf points at its first real position
    for shape, args in [((1, 2, 4, 5), (3, 2, 1)), ((2, 1, 5, 5), ((3, 2), 1, (1, 1), (2, 1)))]:
        x = np.full(shape, -np.inf)
        x.reshape(-1)[-1] = 1.0
        px, tx = pellucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (pv, pi), (tv, ti) = F.max_pool2d(px, *args, return_indices=True), TF.max_pool2d(tx, *args,
                                                                                        return_indices=True)
        np.testing.assert_array_equal(pv.detach().numpy(), tv.detach().numpy())
        np.testing.assert_array_equal(pi.numpy(), ti.numpy())
        pv.sum().backward()
        tv.sum().backward()
        np.testing.assert_array_equal(px.grad.numpy(), tx.grad.numpy())


def test_max_pool_integer_input():
    x = np.arange(32).reshape(1, 2, 4, 4) * 7 % 11
    p = F.max_pool2d(pellucid.tensor(x), 2, padding=1)
    t = TF.max_pool2d(torch.tensor(x), 2, padding=1)
    assert p.dtype == pellucid.int64
    np.testing.assert_array_equal(p.numpy(), t.numpy())


def test_max_pool_gradcheck_and_double_backward():
    x = _leaf((1, 2, 5, 6))
    assert gradcheck(lambda x: F.max_pool2d(x, 3, stride=1, padding=1), (x,))
    assert gradgradcheck(lambda x: F.max_pool2d(x, (2, 3), stride=2, ceil_mode=True) ** 2, (x,))
    assert gradcheck(lambda x: F.max_pool1d(x, 2), (_leaf((2, 3, 5)),))


# ---- average pooling ----------------------------------------------------------------------------------

AVG2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=1, padding=1, divisor_override=4),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", AVG2D)
def test_avg_pool2d(kw, dtype):
    p, _ = _compare(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), [_rand(2, 3, 9, 8)], dtype)
    assert p.grad_fn.name() == "AvgPool2DBackward0"


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                          count_include_pad=False)])
def test_avg_pool1d_and_3d(kw):
    _compare(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), [_rand(2, 3, 10)])
    _compare(lambda x: F.avg_pool3d(x, **kw), lambda x: TF.avg_pool3d(x, **kw), [_rand(1, 2, 6, 7, 5)])


def test_avg_pool_gradcheck_and_double_backward():
    x = _leaf((1, 2, 5, 6))
    fn = lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(lambda x: fn(x) ** 2, (x,))


# ---- adaptive pooling ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_hw,out", [((8, 6), (4, 3)), ((7, 9), (3, 4)), ((5, 5), 1), ((4, 3), (6, 5)),
                                       ((6, 7), (None, 3))])
def test_adaptive_pool2d(in_hw, out, dtype):
    x = _rand(2, 3, *in_hw)
    p, _ = _compare(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out), [x], dtype)
    assert p.grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    p, _ = _compare(lambda x: F.adaptive_max_pool2d(x, out, return_indices=True),
                    lambda x: TF.adaptive_max_pool2d(x, out, return_indices=True), [x], dtype)
    assert p.grad_fn.name() == "AdaptiveMaxPool2DBackward0"


def test_adaptive_pool1d_3d_and_gradchecks():
    for out in (3, 4, 9):
        _compare(lambda x: F.adaptive_avg_pool1d(x, out), lambda x: TF.adaptive_avg_pool1d(x, out), [_rand(2, 3, 7)])
        _compare(lambda x: F.adaptive_max_pool1d(x, out, True), lambda x: TF.adaptive_max_pool1d(x, out, True),
                 [_rand(2, 3, 7)])
    _compare(lambda x: F.adaptive_avg_pool3d(x, (2, 3, 4)), lambda x: TF.adaptive_avg_pool3d(x, (2, 3, 4)),
             [_rand(1, 2, 5, 6, 7)])
    _compare(lambda x: F.adaptive_max_pool3d(x, (2, 3, 4), True),
             lambda x: TF.adaptive_max_pool3d(x, (2, 3, 4), True), [_rand(1, 2, 5, 6, 7)])
    x = _leaf((1, 2, 5, 7))
    assert gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)) ** 2, (x,))
    assert gradgradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 4)) ** 2, (x,))


def test_max_unpool_and_lp_pool():
    x = _rand(2, 3, 6, 8)
    tv, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    pv, pi = F.max_pool2d(pellucid.tensor(x), 2, return_indices=True)
    _compare(lambda v: F.max_unpool2d(v, pi, 2), lambda v: TF.max_unpool2d(v, ti, 2), [tv.numpy()])
    _compare(lambda v: F.max_unpool2d(v, pi, 2, output_size=(7, 9)),
             lambda v: TF.max_unpool2d(v, ti, 2, output_size=(7, 9)), [tv.numpy()])
    v = _leaf((1, 3, 3, 4))
    assert gradgradcheck(lambda v: F.max_unpool2d(v, pi[:1], 2) ** 2, (v,))
    x1 = _rand(2, 3, 8)
    tv, ti = TF.max_pool1d(torch.tensor(x1), 2, return_indices=True)
    _, pi = F.max_pool1d(pellucid.tensor(x1), 2, return_indices=True)
    _compare(lambda v: F.max_unpool1d(v, pi, 2), lambda v: TF.max_unpool1d(v, ti, 2), [tv.numpy()])
    pos = np.abs(_rand(2, 3, 7, 6)) + 0.1
    _compare(lambda x: F.lp_pool2d(x, 2.0, 2), lambda x: TF.lp_pool2d(x, 2.0, 2), [pos])
    assert gradcheck(lambda x: F.lp_pool2d(x, 3.0, 2, stride=1), (pellucid.tensor(pos[:1, :1], requires_grad=True),))
    _compare(lambda x: F.lp_pool1d(x, 3.0, 3, stride=2), lambda x: TF.lp_pool1d(x, 3.0, 3, stride=2), [pos[0]])


@pytest.mark.parametrize("call,kind,needle", [
    (lambda: F.max_pool2d(pellucid.zeros(2, 3), 2), RuntimeError, "3D (unbatched) or 4D (batched) input"),
    (lambda: F.max_pool2d(pellucid.zeros(1, 1, 4, 4), 3, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1"),
    (lambda: F.max_pool2d(pellucid.zeros(1, 1, 1, 1), 3), RuntimeError, "Output size is too small"),
    (lambda: F.max_pool2d(pellucid.zeros(1, 1, 4, 4), 2, stride=0), RuntimeError, "stride should be greater"),
    (lambda: F.max_pool2d(pellucid.zeros(1, 1, 4, 4), (2, 2, 2)), RuntimeError, "a tuple of 2 ints"),
    (lambda: F.max_pool2d(pellucid.zeros(1, 1, 4, 4), 2, dilation=0), RuntimeError, "dilation should be greater"),
    (lambda: F.avg_pool2d(pellucid.zeros(1, 1, 4, 4), 2, divisor_override=0), RuntimeError,
     "divisor must be not zero"),
    (lambda: F.adaptive_avg_pool2d(pellucid.zeros(1, 2, 3, 3), (3, 3, 3)), RuntimeError, "output_size must be 2"),
    (lambda: F.adaptive_max_pool2d(pellucid.zeros(1, 2, 0, 3), 2), RuntimeError, "non-zero size"),
    (lambda: F.avg_pool1d(pellucid.zeros(4), 2), RuntimeError, "2D (unbatched) or 3D (batched) input"),
])
def test_pool_errors(call, kind, needle):
    with pytest.raises(kind) as info:
        call()
    assert needle in str(info.value)


POOL_MODULES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1)),
    ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True)),
    ("MaxPool2d", ((2, 3),), dict(dilation=2, return_indices=True)),
    ("MaxPool3d", (2,), {}),
    ("AvgPool1d", (3,), dict(stride=2, count_include_pad=False)),
    ("AvgPool2d", ((3, 2),), dict(padding=1, ceil_mode=True, divisor_override=3)),
    ("AvgPool3d", (2,), {}),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((3, None),), {}),
    ("AdaptiveAvgPool3d", (2,), {}),
    ("AdaptiveMaxPool1d", (3,), dict(return_indices=True)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}),
    ("AdaptiveMaxPool3d", (2,), {}),
    ("LPPool1d", (2, 3), {}),
    ("LPPool2d", (1.5, 2), dict(stride=1, ceil_mode=True)),
]


@pytest.mark.parametrize("name,args,kwargs", POOL_MODULES)
def test_pool_modules_match_torch(name, args, kwargs):
    p = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(p) == repr(t)
    nd = int(name[-2])
    x = np.abs(_rand(2, 3, *([6, 7, 5][:nd]))) + 0.1
    check_module(t, p, x, rtol=1e-10, atol=1e-12)


def test_max_unpool_module():
    p, t = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(p) == repr(t)
    x = _rand(1, 2, 4, 6)
    tv, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    _, pi = F.max_pool2d(pellucid.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(p(pellucid.tensor(tv.numpy()), pi).numpy(), t(tv, ti).numpy())


# ---- normalisation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(shape, affine, dtype):
    C = shape[1]
    arrays = [_rand(*shape) * 2 + 1, _rand(C, seed=1) if affine else None, _rand(C, seed=2) if affine else None]
    p, _ = _compare(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                    lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), arrays, dtype)
    assert p.grad_fn.name() == "NativeBatchNormBackward0"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_eval(dtype):
    rm, rv = _rand(3, seed=3), np.abs(_rand(3, seed=4)) + 0.5
    _compare(lambda x, w, b: F.batch_norm(x, pellucid.tensor(rm.astype(dtype)), pellucid.tensor(rv.astype(dtype)),
                                          w, b, training=False, eps=1e-3),
             lambda x, w, b: TF.batch_norm(x, torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype)),
                                           w, b, training=False, eps=1e-3),
             [_rand(4, 3, 5), _rand(3, seed=1), _rand(3, seed=2)], dtype)


def test_batch_norm_running_stats_update():
    prm, prv = pellucid.zeros(3, dtype=pellucid.float64), pellucid.ones(3, dtype=pellucid.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for i in range(3):
        x = _rand(5, 3, 4, seed=i) * (i + 1) + i
        F.batch_norm(pellucid.tensor(x), prm, prv, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    np.testing.assert_allclose(prm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(prv.numpy(), trv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 2)), ("BatchNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_module_steps_then_eval(cls, shape, momentum):
    t = getattr(torch.nn, cls)(3, momentum=momentum).double()
    p = getattr(nn, cls)(3, momentum=momentum).double()
    assert repr(p) == repr(t)
    for step in range(4):
        check_module(t, p, _rand(*shape, seed=step) * (step + 1) + step, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(p.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(p.running_var.numpy(), t.running_var.numpy(), rtol=1e-10)
    assert p.num_batches_tracked.dtype == pellucid.int64 and p.num_batches_tracked.item() == 4
    t.eval()
    p.eval()
    check_module(t, p, _rand(*shape, seed=9), copy=False, rtol=1e-9, atol=1e-10)
    p.reset_running_stats()
    assert p.num_batches_tracked.item() == 0 and float(p.running_var.sum().item()) == 3.0


def test_batch_norm_module_variants():
    for kw in [dict(affine=False), dict(track_running_stats=False), dict(bias=False), dict(eps=1e-3)]:
        t, p = torch.nn.BatchNorm2d(3, **kw).double(), nn.BatchNorm2d(3, **kw).double()
        assert repr(p) == repr(t)
        assert sorted(p.state_dict()) == sorted(t.state_dict())
        check_module(t, p, _rand(4, 3, 2, 3))
        t.eval()
        p.eval()
        check_module(t, p, _rand(4, 3, 2, 3, seed=1), copy=False)
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        nn.BatchNorm2d(3)(pellucid.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(pellucid.zeros(1, 3))


def test_batch_norm_float32_module_matches_torch():
    t, p = torch.nn.BatchNorm2d(4), nn.BatchNorm2d(4)
    for step in range(3):
        check_module(t, p, (_rand(8, 4, 5, 5, seed=step) * 3 + 2).astype(np.float32), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p.running_var.numpy(), t.running_var.numpy(), rtol=1e-5)


def test_batch_norm_load_old_state_dict_without_counter():
    p = nn.BatchNorm1d(3)
    state = OrderedDict((k, v) for k, v in p.state_dict().items() if k != "num_batches_tracked")
    state._metadata = {"": {"version": 1}}
    p.load_state_dict(state)
    assert p.num_batches_tracked.item() == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm(dtype):
    p, _ = _compare(lambda x, w, b: F.layer_norm(x, (4, 5), w, b), lambda x, w, b: TF.layer_norm(x, (4, 5), w, b),
                    [_rand(2, 3, 4, 5), _rand(4, 5, seed=1), _rand(4, 5, seed=2)], dtype)
    assert p.grad_fn.name() == "NativeLayerNormBackward0"
    _compare(lambda x: F.layer_norm(x, [5], eps=1e-3), lambda x: TF.layer_norm(x, [5], eps=1e-3),
             [_rand(3, 5)], dtype)
    _compare(lambda x, b: F.layer_norm(x, (5,), None, b), lambda x, b: TF.layer_norm(x, (5,), None, b),
             [_rand(3, 5), _rand(5, seed=2)], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("groups,shape", [(2, (2, 6, 4, 3)), (1, (3, 4, 5)), (4, (2, 4, 3)), (3, (2, 6))])
def test_group_norm(groups, shape, dtype):
    C = shape[1]
    p, _ = _compare(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b),
                    [_rand(*shape), _rand(C, seed=1), _rand(C, seed=2)], dtype)
    assert p.grad_fn.name() == "NativeGroupNormBackward0"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_instance_norm(dtype):
    _compare(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
             lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
             [_rand(2, 3, 4, 5), _rand(3, seed=1), _rand(3, seed=2)], dtype)
    rm, rv = _rand(3, seed=3), np.abs(_rand(3, seed=4)) + 0.5
    _compare(lambda x: F.instance_norm(x, pellucid.tensor(rm.astype(dtype)), pellucid.tensor(rv.astype(dtype)),
                                       use_input_stats=False),
             lambda x: TF.instance_norm(x, torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype)),
                                        use_input_stats=False), [_rand(2, 3, 6)], dtype)


def test_norm_gradchecks_and_double_backward():
    x, w, b = _leaf((4, 3, 2)), _leaf((3,), 1), _leaf((3,), 2)
    bn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert gradcheck(bn, (x, w, b))
    assert gradgradcheck(bn, (x, w, b))
    rm, rv = pellucid.tensor(_rand(3, seed=3)), pellucid.tensor(np.abs(_rand(3, seed=4)) + 0.5)
    assert gradgradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b) ** 2, (x, w, b))
    xl, wl, bl = _leaf((3, 4)), _leaf((4,), 1), _leaf((4,), 2)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (xl, wl, bl))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), (xl, wl, bl))
    xg, wg, bg = _leaf((2, 4, 3)), _leaf((4,), 1), _leaf((4,), 2)
    assert gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (xg, wg, bg))
    assert gradgradcheck(lambda x: F.instance_norm(x), (xg,))


def test_norm_double_backward_matches_torch():
    xs, ws = _rand(4, 3, 5), _rand(3, seed=1)
    px, pw = pellucid.tensor(xs, requires_grad=True), pellucid.tensor(ws, requires_grad=True)
    tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    (pg,) = pellucid.autograd.grad((F.batch_norm(px, None, None, pw, training=True) ** 3).sum(), (px,),
                                   create_graph=True)
    (tg,) = torch.autograd.grad((TF.batch_norm(tx, None, None, tw, training=True) ** 3).sum(), (tx,),
                                create_graph=True)
    np.testing.assert_allclose(pg.detach().numpy(), tg.detach().numpy(), rtol=1e-9)
    (pg ** 2).sum().backward()
    (tg ** 2).sum().backward()
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pw.grad.numpy(), tw.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("call,kind,needle", [
    (lambda: F.batch_norm(pellucid.zeros(4, 3), None, None), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    (lambda: F.batch_norm(pellucid.zeros(4, 3), pellucid.zeros(4), pellucid.ones(4), training=True), RuntimeError,
     "running_mean should contain 3 elements not 4"),
    (lambda: F.layer_norm(pellucid.zeros(2, 3), (4,)), RuntimeError,
     "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]"),
    (lambda: F.layer_norm(pellucid.zeros(2, 4), (4,), pellucid.ones(3)), RuntimeError,
     "Expected weight to be of same shape as normalized_shape"),
    (lambda: F.group_norm(pellucid.zeros(2, 6, 4), 4), RuntimeError,
     "Expected number of channels in input to be divisible by num_groups, but got input of shape [2, 6, 4] and "
     "num_groups=4"),
    (lambda: F.instance_norm(pellucid.zeros(2, 3, 1)), ValueError, "Expected more than 1 spatial element"),
    (lambda: F.batch_norm(pellucid.zeros(1, 3), None, None, training=True), ValueError,
     "Expected more than 1 value per channel when training"),
])
def test_norm_errors(call, kind, needle):
    with pytest.raises(kind) as info:
        call()
    assert needle in str(info.value)


NORM_MODULES = [
    ("LayerNorm", ((4, 5),), {}, (2, 3, 4, 5)),
    ("LayerNorm", (5,), dict(elementwise_affine=False), (3, 5)),
    ("LayerNorm", (5,), dict(bias=False, eps=1e-3), (3, 5)),
    ("GroupNorm", (2, 4), {}, (2, 4, 3, 2)),
    ("GroupNorm", (2, 4), dict(affine=False), (2, 4, 3)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm2d", (3,), dict(affine=True), (2, 3, 4, 3)),
    ("InstanceNorm2d", (3,), dict(affine=True), (3, 4, 3)),
    ("InstanceNorm3d", (3,), dict(track_running_stats=True), (2, 3, 2, 3, 2)),
    ("LocalResponseNorm", (3,), {}, (2, 5, 4)),
    ("LocalResponseNorm", (2,), dict(alpha=1e-2, beta=0.5, k=2.0), (2, 5, 3, 4)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", NORM_MODULES)
def test_norm_modules_match_torch(name, args, kwargs, shape):
    t = getattr(torch.nn, name)(*args, **kwargs).double()
    p = getattr(nn, name)(*args, **kwargs).double()
    assert repr(p) == repr(t)
    for step in range(2):
        check_module(t, p, _rand(*shape, seed=step) + step, rtol=1e-9, atol=1e-10)
    if getattr(t, "track_running_stats", False):
        np.testing.assert_allclose(p.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(p.running_var.numpy(), t.running_var.numpy(), rtol=1e-10)
        t.eval()
        p.eval()
        check_module(t, p, _rand(*shape, seed=5), copy=False, rtol=1e-9, atol=1e-10)


# ---- interpolate ------------------------------------------------------------------------------------

INTERP = [
    ((2, 3, 5, 7), dict(size=(9, 4))),
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((2, 3, 5, 7), dict(scale_factor=1.7)),
    ((2, 3, 5, 7), dict(scale_factor=(1.7, 0.6), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(9, 4), mode="bilinear", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=2.3, mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=(0.5, 3), mode="bicubic")),
    ((2, 3, 5, 7), dict(scale_factor=(0.5, 3), mode="bicubic", align_corners=True)),
    ((2, 3, 12, 13), dict(size=(5, 4), mode="bilinear", antialias=True)),
    ((2, 3, 12, 13), dict(size=(5, 17), mode="bicubic", antialias=True, align_corners=True)),
    ((2, 3, 5), dict(scale_factor=2.5, mode="linear")),
    ((2, 3, 5), dict(size=3, mode="linear", align_corners=True)),
    ((2, 3, 5), dict(scale_factor=2.5)),
    ((2, 3, 4, 5, 3), dict(size=(3, 7, 6), mode="trilinear")),
    ((2, 3, 4, 5, 3), dict(size=(3, 7, 6))),
    ((2, 3, 9, 7), dict(size=(4, 3), mode="area")),
    ((2, 3, 9, 7), dict(scale_factor=0.5, mode="area")),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,kw", INTERP)
def test_interpolate_matches_torch(shape, kw, dtype):
    p, t = _compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [_rand(*shape)], dtype)
    assert p.grad_fn.name() == t.grad_fn.name()


def test_interpolate_gradchecks():
    x = _leaf((1, 2, 3, 4))
    assert gradcheck(lambda x: F.interpolate(x, scale_factor=2.5, mode="bicubic"), (x,))
    assert gradgradcheck(lambda x: F.interpolate(x, size=(5, 3), mode="bilinear", align_corners=True) ** 2, (x,))
    assert gradgradcheck(lambda x: F.interpolate(x, scale_factor=1.5) ** 2, (x,))


@pytest.mark.parametrize("call,kind,needle", [
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4), size=3, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4)), ValueError, "either size or scale_factor should be defined"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4), size=(2, 3, 4)), ValueError,
     "Input and output must have the same number of spatial dimensions"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4), scale_factor=2, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4), scale_factor=2, mode="bilinear"), NotImplementedError,
     "Got 3D input, but bilinear mode needs 4D input"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4), size=3, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor is not meaningful with an explicit size"),
    (lambda: F.interpolate(pellucid.zeros(1, 1, 4, 4), scale_factor=0.1), RuntimeError,
     "Input and output sizes should be greater than 0"),
])
def test_interpolate_errors(call, kind, needle):
    with pytest.raises(kind) as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize("name,args,kwargs", [
    ("Upsample", (), dict(scale_factor=2)),
    ("Upsample", (), dict(size=(3, 4), mode="bilinear")),
    ("Upsample", (), dict(scale_factor=(1.5, 2), mode="bicubic", align_corners=True)),
    ("UpsamplingNearest2d", (), dict(size=5)),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2)),
    ("PixelShuffle", (2,), {}),
    ("PixelUnshuffle", (2,), {}),
])
def test_resampling_modules_match_torch(name, args, kwargs):
    p = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(p) == repr(t)
    check_module(t, p, _rand(2, 4, 4, 6), rtol=1e-10, atol=1e-12)


def test_pixel_shuffle_functional():
    _compare(lambda x: F.pixel_shuffle(x, 3), lambda x: TF.pixel_shuffle(x, 3), [_rand(2, 18, 2, 3)])
    _compare(lambda x: F.pixel_unshuffle(x, 2), lambda x: TF.pixel_unshuffle(x, 2), [_rand(3, 4, 6)])
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(pellucid.zeros(1, 5, 2, 2), 2)


# ---- affine_grid / grid_sample ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 6))
    grid = rng.random((2, 4, 7, 2)) * 2.6 - 1.3        # reaches outside [-1, 1] to exercise padding
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    if dtype == np.float32:
        TOL[np.float32] = dict(rtol=1e-4, atol=5e-5)
    p, _ = _compare(lambda x, g: F.grid_sample(x, g, **kw), lambda x, g: TF.grid_sample(x, g, **kw), [x, grid],
                    dtype)
    assert p.grad_fn.name() == "GridSampler2DBackward0"


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(align_corners):
    theta = _rand(2, 2, 3)
    p, _ = _compare(lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners),
                    lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners), [theta])
    _compare(lambda t: F.affine_grid(t, [2, 1, 3, 4, 2], align_corners),
             lambda t: TF.affine_grid(t, [2, 1, 3, 4, 2], align_corners), [_rand(2, 3, 4)])
    # the spatial-transformer pattern: sample an image through a learned affine grid
    x = _rand(2, 3, 6, 5)
    _compare(lambda t, x: F.grid_sample(x, F.affine_grid(t, (2, 3, 4, 4), align_corners), align_corners=align_corners),
             lambda t, x: TF.grid_sample(x, TF.affine_grid(t, (2, 3, 4, 4), align_corners),
                                         align_corners=align_corners),
             [theta * 0.5, x])


def test_grid_sample_gradcheck_errors_and_warning():
    x = _leaf((1, 2, 3, 4))
    g = pellucid.tensor(np.random.default_rng(1).random((1, 2, 3, 2)) * 1.8 - 0.9, requires_grad=True)
    assert gradcheck(lambda x, g: F.grid_sample(x, g, align_corners=False), (x, g))
    assert gradcheck(lambda x, g: F.grid_sample(x, g, mode="bicubic", padding_mode="border", align_corners=True),
                     (x, g))
    out = F.grid_sample(x, g, align_corners=True)
    (plain,) = pellucid.autograd.grad(out.sum(), (x,), retain_graph=True)
    (gx,) = pellucid.autograd.grad(out.sum(), (x,), create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), plain.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="derivative for grid_sampler_2d_backward is not implemented"):
        gx.sum().backward()
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, g)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic'"):
        F.grid_sample(x, g, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3"):
        F.affine_grid(pellucid.zeros(2, 3, 3), (2, 1, 4, 4), align_corners=False)
