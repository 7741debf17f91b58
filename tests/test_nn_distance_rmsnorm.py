"""cosine_similarity / CosineSimilarity, pdist, PairwiseDistance, rms_norm / RMSNorm against
PyTorch: values, gradients, reprs, parameters and errors."""
import numpy as np
import pytest
import torch

import pellucid
from pellucid.autograd import gradcheck

RNG = np.random.default_rng(0)


def _both(*arrays, grad=True):
    ts = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ps = [pellucid.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return ts, ps


def _compare(fn, *arrays, rtol=1e-5, atol=1e-6):
    ts, ps = _both(*arrays)
    to, po = fn(torch, *ts), fn(pellucid, *ps)
    assert tuple(po.shape) == tuple(to.shape) and str(po.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(po.detach().numpy(), to.detach().numpy(), rtol=rtol, atol=atol)
    w = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    (to * torch.tensor(w)).sum().backward()
    (po * pellucid.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        if t.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=rtol * 10, atol=atol * 10)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cosine_similarity(dim):
    _compare(lambda M, a, b: M.nn.functional.cosine_similarity(a, b, dim=dim), rand(4, 5), rand(4, 5))
    _compare(lambda M, a, b: M.nn.CosineSimilarity(dim=dim, eps=1e-6)(a, b), rand(3, 4, 5), rand(3, 4, 5))


def test_cosine_similarity_broadcasts_and_guards_zero_vectors():
    _compare(lambda M, a, b: M.nn.functional.cosine_similarity(a, b, dim=-1), rand(6, 1, 8), rand(5, 8))
    zero = np.zeros((2, 3), np.float32)
    _compare(lambda M, a, b: M.nn.functional.cosine_similarity(a, b), zero, rand(2, 3))
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            M.nn.functional.cosine_similarity(M.ones(2, 3), M.ones(2, 4))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_pdist(p):
    _compare(lambda M, a: M.pdist(a, p), rand(6, 3))
    _compare(lambda M, a: M.nn.functional.pdist(a, p), rand(1, 3))        # no pairs: empty
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
            M.pdist(M.ones(2, 2, 2))


def test_pairwise_distance_module():
    _compare(lambda M, a, b: M.nn.PairwiseDistance(p=1.5, keepdim=True)(a, b), rand(4, 6), rand(4, 6))
    assert repr(pellucid.nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance()) == "PairwiseDistance()"
    assert repr(pellucid.nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())


@pytest.mark.parametrize("shape,norm", [((4, 6), (6,)), ((2, 3, 4), (3, 4))])
def test_rms_norm_functional(shape, norm):
    w = rand(*norm)
    _compare(lambda M, x, w: M.nn.functional.rms_norm(x, norm, w), rand(*shape), w)
    _compare(lambda M, x: M.nn.functional.rms_norm(x, norm, eps=1e-3), rand(*shape))
    x = pellucid.tensor(RNG.standard_normal(shape), requires_grad=True)
    wt = pellucid.tensor(RNG.standard_normal(norm), requires_grad=True)
    assert gradcheck(lambda x, w: pellucid.nn.functional.rms_norm(x, norm, w), (x, wt))


def test_rms_norm_module_matches_torch():
    tm, pm = torch.nn.RMSNorm([3, 4]), pellucid.nn.RMSNorm([3, 4])
    assert repr(pm) == repr(tm) and list(pm.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert repr(pellucid.nn.RMSNorm(4, eps=1e-5, elementwise_affine=False)) == \
        repr(torch.nn.RMSNorm(4, eps=1e-5, elementwise_affine=False))
    assert pellucid.nn.RMSNorm(4, elementwise_affine=False).weight is None
    _compare(lambda M, x: (tm if M is torch else pm)(x), rand(2, 3, 4))
    np.testing.assert_allclose(pm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    for M in (torch, pellucid):
        with pytest.raises(RuntimeError, match=r"expected input with shape \[\*4\], but got input of size\[2, 3\]"):
            M.nn.functional.rms_norm(M.ones(2, 3), [4])
