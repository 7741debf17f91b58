"""nn.init: every initialiser's distribution (moments and bounds from PyTorch's formulas, over a
large tensor with a fixed seed), gains and fans, reproducibility, in-place and graph-free filling,
and every layer's default initialisation."""
import math

import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as pnn
from pellucid.nn import init


def _big(*shape):
    return pnn.Parameter(pellucid.empty(*shape))


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


def test_calculate_gain_matches_torch():
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                      ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 1), ("selu", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fans():
    for shape in [(5, 3), (8, 4, 3, 3), (6, 2, 5)]:
        assert init._calculate_fan_in_and_fan_out(pellucid.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(pellucid.empty(3))


def test_uniform_normal_constant():
    pellucid.manual_seed(0)
    w = _big(400, 500)
    out = init.uniform_(w, -2.0, 3.0)
    assert out is w and w.requires_grad and w.grad_fn is None
    mean, std, lo, hi = _stats(w)
    assert lo >= -2.0 and hi < 3.0 and abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.01
    init.normal_(w, 1.0, 0.5)
    mean, std, _, _ = _stats(w)
    assert abs(mean - 1.0) < 0.005 and abs(std - 0.5) < 0.005
    init.constant_(w, 0.25)
    assert np.all(w.detach().numpy() == 0.25)
    init.zeros_(w)
    assert not w.detach().numpy().any()
    init.ones_(w)
    assert np.all(w.detach().numpy() == 1)


def _truncnorm_moments(mu, sigma, a, b):
    alpha, beta = (a - mu) / sigma, (b - mu) / sigma

    def pdf(x):
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def cdf(x):
        return (1 + math.erf(x / math.sqrt(2))) / 2

    z = cdf(beta) - cdf(alpha)
    mean = mu + (pdf(alpha) - pdf(beta)) / z * sigma
    var = sigma ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return mean, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 1.0, -0.5, 2.0), (0.0, 1.0, 2.0, 3.0),
                                          (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    pellucid.manual_seed(1)
    w = _big(300, 300)
    assert init.trunc_normal_(w, mean, std, a, b) is w
    m, s, lo, hi = _stats(w)
    em, es = _truncnorm_moments(mean, std, a, b)
    assert lo >= a and hi <= b
    assert abs(m - em) < 0.01 * max(std, es) * 3 and abs(s - es) < 0.01 * es * 3


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain):
    pellucid.manual_seed(2)
    w = _big(300, 200, 3)          # fan_in 600, fan_out 900
    std = gain * math.sqrt(2.0 / (600 + 900))
    init.xavier_uniform_(w, gain)
    m, s, lo, hi = _stats(w)
    bound = math.sqrt(3.0) * std
    assert -bound <= lo and hi <= bound and abs(s - std) < 0.01 * std and abs(m) < 0.01 * std
    init.xavier_normal_(w, gain)
    m, s, _, _ = _stats(w)
    assert abs(s - std) < 0.01 * std and abs(m) < 0.01 * std


@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "relu"), (0.1, "fan_out", "leaky_relu"),
                                                 (math.sqrt(5), "fan_in", "leaky_relu"), (0, "fan_in", "tanh")])
def test_kaiming(a, mode, nonlinearity):
    pellucid.manual_seed(3)
    w = _big(400, 100, 2, 2)        # fan_in 400, fan_out 1600
    fan = 400 if mode == "fan_in" else 1600
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    m, s, lo, hi = _stats(w)
    bound = math.sqrt(3.0) * std
    assert -bound <= lo and hi <= bound and abs(s - std) < 0.01 * std
    init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    m, s, _, _ = _stats(w)
    assert abs(s - std) < 0.01 * std and abs(m) < 0.01 * std
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")


def test_orthogonal_eye_dirac_sparse():
    pellucid.manual_seed(4)
    for shape in [(6, 10), (10, 6), (4, 3, 2)]:
        w = _big(*shape)
        init.orthogonal_(w, gain=2.0)
        flat = w.detach().numpy().reshape(shape[0], -1).astype(np.float64)
        gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
        assert np.allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-4)
    e = init.eye_(_big(3, 5))
    assert np.array_equal(e.detach().numpy(), np.eye(3, 5, dtype=np.float32))
    for shape, groups in [((4, 2, 3, 3), 2), ((3, 3, 5), 1), ((2, 2, 3, 3, 3), 1)]:
        d = init.dirac_(_big(*shape), groups)
        td = torch.nn.init.dirac_(torch.empty(*shape), groups)
        assert np.array_equal(d.detach().numpy(), td.numpy())
    s = init.sparse_(_big(10, 50), sparsity=0.3, std=0.5)
    zeros_per_col = (s.detach().numpy() == 0).sum(axis=0)
    assert np.all(zeros_per_col == 3)


def test_manual_seed_reproducibility_and_generator():
    pellucid.manual_seed(123)
    a = init.normal_(_big(50)).detach().numpy().copy()
    pellucid.manual_seed(123)
    b = init.normal_(_big(50)).detach().numpy().copy()
    assert np.array_equal(a, b)
    g1, g2 = pellucid.Generator().manual_seed(7), pellucid.Generator().manual_seed(7)
    x = init.uniform_(_big(20), generator=g1).detach().numpy().copy()
    y = init.uniform_(_big(20), generator=g2).detach().numpy().copy()
    assert np.array_equal(x, y)
    pellucid.manual_seed(5)
    l1 = pnn.Linear(4, 3)
    pellucid.manual_seed(5)
    l2 = pnn.Linear(4, 3)
    assert np.array_equal(l1.weight.detach().numpy(), l2.weight.detach().numpy())


def test_init_keeps_tensor_and_records_no_graph():
    w = _big(3, 4)
    data = w._data
    v = w._version_count
    init.kaiming_uniform_(w)
    assert w._data is data and w.grad_fn is None and w._version_count > v


def _layer_stats(make, attr, n=30):
    vals = np.concatenate([getattr(make(), attr).detach().numpy().reshape(-1) for _ in range(n)])
    return vals


def test_default_layer_initialisation():
    pellucid.manual_seed(9)
    fan_in = 50
    w = _layer_stats(lambda: pnn.Linear(fan_in, 40), "weight")
    b = _layer_stats(lambda: pnn.Linear(fan_in, 40), "bias", 200)
    bound = 1 / math.sqrt(fan_in)            # kaiming_uniform_(a=sqrt(5)) gives the same bound
    for v in (w, b):
        assert v.min() >= -bound and v.max() <= bound
        assert abs(v.std() - bound / math.sqrt(3)) < 0.03 * bound
    e = _layer_stats(lambda: pnn.Embedding(100, 20), "weight", 5)
    assert abs(e.mean()) < 0.03 and abs(e.std() - 1) < 0.03
    bl = _layer_stats(lambda: pnn.Bilinear(8, 5, 30), "weight", 5)
    assert bl.min() >= -1 / math.sqrt(8) and bl.max() <= 1 / math.sqrt(8)
    assert np.all(pnn.PReLU(3, init=0.3).weight.detach().numpy() == np.float32(0.3))
