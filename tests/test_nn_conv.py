"""Convolutions, transposed convolutions and unfold/fold against PyTorch: values, input / weight /
bias gradients, double backward, errors, module construction and reprs."""
import math

import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid.autograd import gradcheck, gradgradcheck

from _parity import check_module

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _compare(p_fn, t_fn, arrays, dtype=np.float64, seed=0):
    """Run both functions on the same arrays (all requiring grad), compare the output and every
    gradient after back-propagating the same random upstream gradient."""
    arrays = [None if a is None else a.astype(dtype) for a in arrays]
    p_in = [None if a is None else pellucid.tensor(a.copy(), requires_grad=True) for a in arrays]
    t_in = [None if a is None else torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    p_out, t_out = p_fn(*p_in), t_fn(*t_in)
    tol = TOL[dtype]
    assert tuple(p_out.shape) == tuple(t_out.shape)
    assert p_out.dtype == getattr(pellucid, str(t_out.dtype).split(".")[-1])
    np.testing.assert_allclose(p_out.detach().numpy(), t_out.detach().numpy(), **tol)
    up = np.random.default_rng(seed).standard_normal(tuple(t_out.shape)).astype(dtype)
    p_out.backward(pellucid.tensor(up))
    t_out.backward(torch.tensor(up))
    for i, (p, t) in enumerate(zip(p_in, t_in)):
        if p is None:
            continue
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), err_msg=f"grad of input {i}", **tol)
    return p_out, t_out


def _rand(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


# ---- conv2d -----------------------------------------------------------------------------------

CONV2D_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, dilation, groups, bias
    ((2, 3, 7, 6), (4, 3, 3), 1, 0, 1, 1, True),
    ((2, 3, 7, 6), (4, 3, 2), (2, 1), (1, 2), (1, 2), 1, True),
    ((1, 4, 9, 8), (6, 3, 3), 2, 1, 1, 2, False),
    ((2, 4, 5, 5), (4, 3, 3), 1, 1, 1, 4, True),          # depthwise
    ((2, 3, 6, 7), (6, 3, 2), 2, 1, (1, 2), 3, True),     # depthwise, channel multiplier 2
    ((2, 6, 8, 7), (9, 2, 3), (3, 2), 0, (2, 1), 3, True),
    ((3, 2, 6, 6), (5, 1, 1), 1, 0, 1, 1, True),          # 1x1
    ((2, 3, 7, 6), (4, 4, 3), 1, "same", (1, 2), 1, True),  # even kernel: asymmetric 'same'
    ((2, 3, 7, 6), (4, 3, 3), 1, "valid", 1, 1, False),
    ((1, 2, 4, 4), (3, 4, 4), 3, 2, 1, 1, True),          # padding larger than the leftover
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xshape,wspec,stride,padding,dilation,groups,bias", CONV2D_CASES)
def test_conv2d_matches_torch(xshape, wspec, stride, padding, dilation, groups, bias, dtype):
    O, kh, kw = wspec
    C = xshape[1]
    arrays = [_rand(*xshape), _rand(O, C // groups, kh, kw, seed=1), _rand(O, seed=2) if bias else None]
    kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    p, _ = _compare(lambda x, w, b: F.conv2d(x, w, b, **kw_args),
                    lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw_args), arrays, dtype)
    assert p.grad_fn.name() == "ConvolutionBackward0"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 2, 1, 1), (1, "same", 3, 2),
                                                            (3, 1, 2, 4)])
def test_conv1d_matches_torch(stride, padding, dilation, groups, dtype):
    arrays = [_rand(3, 4, 11), _rand(8, 4 // groups, 3, seed=1), _rand(8, seed=2)]
    kw_args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _compare(lambda x, w, b: F.conv1d(x, w, b, **kw_args),
             lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw_args), arrays, dtype)


@pytest.mark.parametrize("stride,padding,groups", [(1, 0, 1), ((2, 1, 1), (1, 0, 2), 2), (1, 1, 2)])
def test_conv3d_matches_torch(stride, padding, groups):
    arrays = [_rand(2, 2, 5, 4, 6), _rand(4, 2 // groups, 2, 3, 2, seed=1), _rand(4, seed=2)]
    kw_args = dict(stride=stride, padding=padding, groups=groups)
    _compare(lambda x, w, b: F.conv3d(x, w, b, **kw_args),
             lambda x, w, b: torch.nn.functional.conv3d(x, w, b, **kw_args), arrays)


def test_conv_unbatched_input():
    arrays = [_rand(3, 7, 6), _rand(4, 3, 3, 3, seed=1), _rand(4, seed=2)]
    p, _ = _compare(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                    lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), arrays)
    assert tuple(p.shape) == (4, 7, 6)
    _compare(lambda x, w: F.conv1d(x, w), lambda x, w: torch.nn.functional.conv1d(x, w),
             [_rand(3, 9), _rand(2, 3, 4, seed=1)])


def test_conv_only_some_inputs_need_grad():
    x = pellucid.tensor(_rand(2, 3, 6, 6))
    w = pellucid.tensor(_rand(4, 3, 3, 3, seed=1), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    tw = torch.tensor(_rand(4, 3, 3, 3, seed=1), requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(_rand(2, 3, 6, 6)), tw).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    assert x.grad is None
    # a frozen weight: only the input gradient
    x2 = pellucid.tensor(_rand(2, 3, 6, 6), requires_grad=True)
    w2 = pellucid.tensor(_rand(4, 3, 3, 3, seed=1))
    F.conv2d(x2, w2, stride=2).sum().backward()
    tx2 = torch.tensor(_rand(2, 3, 6, 6), requires_grad=True)
    torch.nn.functional.conv2d(tx2, torch.tensor(_rand(4, 3, 3, 3, seed=1)), stride=2).sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), tx2.grad.numpy(), rtol=1e-10)


def test_conv_backward_twice_with_retain_graph():
    x = pellucid.tensor(_rand(2, 3, 6, 6), requires_grad=True)
    w = pellucid.tensor(_rand(4, 3, 3, 3, seed=1), requires_grad=True)
    y = F.conv2d(x, w).sum()
    y.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)


def test_conv_integer_inputs_match_torch():
    x = np.arange(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) % 7
    w = np.arange(3 * 2 * 2 * 2).reshape(3, 2, 2, 2) % 5 - 2
    p = F.conv2d(pellucid.tensor(x), pellucid.tensor(w))
    t = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w))
    assert p.dtype == pellucid.int64
    np.testing.assert_array_equal(p.numpy(), t.numpy())


# ---- transposed convolutions ---------------------------------------------------------------------

CONVT2D_CASES = [
    # (N, Cin, H, W), (Cout/groups, kh, kw), stride, padding, output_padding, groups, dilation
    ((2, 3, 4, 5), (4, 3, 3), 1, 0, 0, 1, 1),
    ((2, 4, 4, 3), (2, 3, 2), (2, 3), (1, 0), (1, 2), 2, 1),
    ((1, 2, 5, 5), (3, 3, 3), 2, 1, 1, 1, (2, 1)),
    ((2, 4, 3, 3), (1, 2, 2), 3, 0, 0, 4, 1),
    ((1, 4, 3, 3), (1, 3, 3), 2, 1, 1, 2, 1),             # 2 inputs per group onto 1 output: depthwise path
    ((1, 1, 3, 3), (2, 4, 4), 2, 3, 0, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xshape,wspec,stride,padding,output_padding,groups,dilation", CONVT2D_CASES)
def test_conv_transpose2d_matches_torch(xshape, wspec, stride, padding, output_padding, groups, dilation, dtype):
    Cin = xshape[1]
    og, kh, kw = wspec
    arrays = [_rand(*xshape), _rand(Cin, og, kh, kw, seed=1), _rand(og * groups, seed=2)]
    kw_args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    p, _ = _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw_args),
                    lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw_args), arrays, dtype)
    assert p.grad_fn.name() == "ConvolutionBackward0"


@pytest.mark.parametrize("stride,padding,output_padding,groups,dilation", [(1, 0, 0, 1, 1), (3, 1, 2, 2, 1),
                                                                           (2, 2, 1, 1, 3)])
def test_conv_transpose1d_matches_torch(stride, padding, output_padding, groups, dilation):
    arrays = [_rand(2, 4, 6), _rand(4, 3, 3, seed=1), _rand(3 * groups, seed=2)]
    kw_args = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    _compare(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw_args),
             lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kw_args), arrays)


def test_conv_transpose3d_matches_torch():
    arrays = [_rand(1, 2, 3, 2, 3), _rand(2, 3, 2, 2, 2, seed=1), _rand(3, seed=2)]
    kw_args = dict(stride=(2, 1, 2), padding=(0, 1, 0), output_padding=(1, 0, 0))
    _compare(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw_args),
             lambda x, w, b: torch.nn.functional.conv_transpose3d(x, w, b, **kw_args), arrays)


# ---- gradcheck / higher order ------------------------------------------------------------------

def _leaf(shape, seed):
    return pellucid.tensor(_rand(*shape, seed=seed), requires_grad=True)


def test_conv_gradcheck_and_gradgradcheck():
    x, w, b = _leaf((1, 2, 4, 5), 0), _leaf((4, 1, 2, 3), 1), _leaf((4,), 2)

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1), groups=2)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv_transpose_gradcheck_and_gradgradcheck():
    x, w, b = _leaf((1, 2, 3, 3), 0), _leaf((2, 2, 2, 3), 1), _leaf((2,), 2)

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=(1, 0))

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv1d_gradcheck():
    x, w = _leaf((2, 2, 6), 0), _leaf((3, 2, 3), 1)
    assert gradcheck(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (x, w))


def test_conv_double_backward_matches_torch():
    xs, ws = _rand(2, 3, 5, 5), _rand(4, 3, 3, 3, seed=1)
    px, pw = pellucid.tensor(xs, requires_grad=True), pellucid.tensor(ws, requires_grad=True)
    tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    (pgx,) = pellucid.autograd.grad(F.conv2d(px, pw, padding=1).pow(2).sum(), (px,), create_graph=True)
    (tgx,) = torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, padding=1).pow(2).sum(), (tx,),
                                 create_graph=True)
    np.testing.assert_allclose(pgx.detach().numpy(), tgx.detach().numpy(), rtol=1e-10)
    (pgx * pgx).sum().backward()
    (tgx * tgx).sum().backward()
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(pw.grad.numpy(), tw.grad.numpy(), rtol=1e-9)


# ---- errors ---------------------------------------------------------------------------------------

def _err(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info


def test_conv_channel_mismatch_message():
    info = _err(lambda: F.conv2d(pellucid.zeros(64, 3, 28, 28), pellucid.zeros(32, 1, 3, 3)))
    assert info.type is RuntimeError
    assert str(info.value) == ("Given groups=1, weight of size [32, 1, 3, 3], expected input[64, 3, 28, 28] to "
                               "have 1 channels, but got 3 channels instead")


@pytest.mark.parametrize("call,kind,needle", [
    (lambda: F.conv2d(pellucid.zeros(2, 3), pellucid.zeros(3, 1, 3, 3)), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [2, 3]"),
    (lambda: F.conv1d(pellucid.zeros(1, 4, 5, 5), pellucid.zeros(4, 4, 3)), RuntimeError, "input to conv1d"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 2, 2), pellucid.zeros(3, 1, 3, 3)), RuntimeError,
     "Kernel size can't be greater than actual input size"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), pellucid.zeros(2)), RuntimeError,
     "expected bias to be 1-dimensional with 3 elements, but got bias of size [2]"),
    (lambda: F.conv2d(pellucid.zeros(1, 4, 5, 5), pellucid.zeros(6, 1, 3, 3), groups=4), RuntimeError,
     "expected weight to be divisible by 4 at dimension 0"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), stride=0), RuntimeError,
     "non-positive stride is not supported"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), padding=-1), RuntimeError,
     "negative padding is not supported"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), stride=2, padding="same"),
     RuntimeError, "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), padding="full"), RuntimeError,
     "Invalid padding string: 'full'"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3), stride=(1, 2, 3)), RuntimeError,
     "list of 2 values"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5, dtype=pellucid.float64), pellucid.zeros(3, 1, 3, 3)),
     RuntimeError, "expected scalar type Double but found Float"),
    (lambda: F.conv2d(pellucid.zeros(1, 1, 5, 5), pellucid.zeros(3, 1, 3, 3),
                      pellucid.zeros(3, dtype=pellucid.float64)), RuntimeError,
     "Input type (float) and bias type (double) should be the same"),
    (lambda: F.conv_transpose2d(pellucid.zeros(1, 4, 5, 5), pellucid.zeros(6, 4, 3, 3)), RuntimeError,
     "Given transposed=1, weight of size [6, 4, 3, 3], expected input[1, 4, 5, 5] to have 6 channels"),
    (lambda: F.conv_transpose2d(pellucid.zeros(1, 4, 5, 5), pellucid.zeros(4, 4, 3, 3), output_padding=1),
     RuntimeError, "output padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(pellucid.zeros(1, 4, 5, 5), pellucid.zeros(4, 4, 3, 3), padding="same"),
     TypeError, "must be tuple of ints, not str"),
])
def test_conv_errors(call, kind, needle):
    info = _err(call)
    assert info.type is kind
    assert needle in str(info.value)


# ---- modules ----------------------------------------------------------------------------------------

MODULE_CASES = [
    ("Conv1d", (4, 6, 3), {}),
    ("Conv1d", (4, 6, 4), dict(stride=2, padding=1, dilation=2, groups=2, bias=False)),
    ("Conv1d", (4, 6, 3), dict(padding="same")),
    ("Conv2d", (3, 8, 3), {}),
    ("Conv2d", (4, 8, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=2, groups=4)),
    ("Conv2d", (4, 8, 3), dict(padding=1, padding_mode="reflect")),
    ("Conv2d", (4, 8, 3), dict(padding="valid", bias=False)),
    ("Conv3d", (2, 4, 2), dict(stride=(1, 2, 1), padding_mode="circular", padding=1)),
    ("ConvTranspose1d", (4, 6, 3), dict(stride=2, output_padding=1)),
    ("ConvTranspose2d", (4, 8, (3, 2)), dict(stride=2, padding=1, output_padding=(1, 0), groups=2, dilation=(1, 2))),
    ("ConvTranspose2d", (4, 8, 3), dict(bias=False)),
    ("ConvTranspose3d", (2, 4, 2), dict(stride=2)),
]


@pytest.mark.parametrize("name,args,kwargs", MODULE_CASES)
def test_conv_module_repr_and_shapes(name, args, kwargs):
    p = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(p) == repr(t)
    assert [(n, tuple(v.shape)) for n, v in p.named_parameters()] == \
        [(n, tuple(v.shape)) for n, v in t.named_parameters()]


@pytest.mark.parametrize("name,args,kwargs", MODULE_CASES)
def test_conv_module_matches_torch(name, args, kwargs):
    t = getattr(torch.nn, name)(*args, **kwargs).double()
    p = getattr(nn, name)(*args, **kwargs).double()
    nd = int(name[-2])
    x = _rand(2, args[0], *([7, 6, 5][:nd]))
    check_module(t, p, x, rtol=1e-10, atol=1e-12)


def test_conv_default_init_bounds():
    pellucid.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
    # U(-bound, bound) has standard deviation bound / sqrt(3)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    mt = nn.ConvTranspose2d(16, 8, 3, groups=2)
    bound_t = 1 / math.sqrt(4 * 9)     # fan_in of the transposed weight: (out/groups) * k * k
    assert np.abs(mt.weight.detach().numpy()).max() <= bound_t
    assert np.abs(mt.weight.detach().numpy()).max() > 0.9 * bound_t


def test_conv_transpose_module_output_size():
    t = torch.nn.ConvTranspose2d(3, 2, 3, stride=2).double()
    p = nn.ConvTranspose2d(3, 2, 3, stride=2).double()
    check_module(t, p, _rand(1, 3, 4, 4))
    x = _rand(1, 3, 4, 4)
    p_out = p(pellucid.tensor(x), output_size=[10, 9])
    t_out = t(torch.tensor(x), output_size=[10, 9])
    assert tuple(p_out.shape) == (1, 2, 10, 9)
    np.testing.assert_allclose(p_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="requested an output size of"):
        p(pellucid.tensor(x), output_size=[12, 9])


def test_conv_module_argument_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect")


# ---- unfold / fold ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel,dilation,padding,stride", [(2, 1, 0, 1), ((2, 3), (1, 2), 1, (2, 1)),
                                                            (3, 1, 1, 3)])
def test_unfold_fold_match_torch(kernel, dilation, padding, stride, dtype):
    kw = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    p, _ = _compare(lambda x: F.unfold(x, **kw), lambda x: torch.nn.functional.unfold(x, **kw),
                    [_rand(2, 3, 7, 8)], dtype)
    assert p.grad_fn.name() == "Im2ColBackward0"
    cols = torch.nn.functional.unfold(torch.zeros(2, 3, 7, 8), **kw).shape
    p, _ = _compare(lambda c: F.fold(c, (7, 8), **kw), lambda c: torch.nn.functional.fold(c, (7, 8), **kw),
                    [_rand(*cols)], dtype)
    assert p.grad_fn.name() == "Col2ImBackward0"


def test_unfold_fold_unbatched_gradcheck_and_modules():
    x = _leaf((2, 4, 5), 0)
    assert gradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (x,))
    c = _leaf((8, 8), 1)
    assert gradgradcheck(lambda c: F.fold(c, (4, 5), 2, stride=(2, 1)) ** 2, (c,))
    for pm, tm in [(nn.Unfold(2, padding=1), torch.nn.Unfold(2, padding=1)),
                   (nn.Fold((4, 5), (2, 2), stride=(1, 1)), torch.nn.Fold((4, 5), (2, 2), stride=(1, 1)))]:
        assert repr(pm) == repr(tm)
    check_module(torch.nn.Unfold((2, 3), dilation=2), nn.Unfold((2, 3), dilation=2), _rand(2, 2, 6, 7))
    check_module(torch.nn.Fold((5, 6), 3, padding=1), nn.Fold((5, 6), 3, padding=1), _rand(2, 18, 30))


def test_fold_errors():
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(pellucid.zeros(1, 7, 12), (4, 5), (2, 2))
    with pytest.raises(RuntimeError, match="match the calculated number of sliding blocks 3 \\* 4 = 12"):
        F.fold(pellucid.zeros(1, 8, 10), (4, 5), (2, 2))
    with pytest.raises(RuntimeError, match="Only 3D or 4D input"):
        F.unfold(pellucid.zeros(2, 3), 2)
