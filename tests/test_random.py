"""Random sampling: reproducibility from seeds and generators, distributions (checked with
generous tolerances under fixed seeds, so the tests are deterministic), and errors."""
import numpy as np
import pytest
import torch

import pellucid
from pellucid import _random


@pytest.fixture(autouse=True)
def _seeded_default_generator():
    # every test starts from the same seed, whatever ran before it (deterministic under xdist)
    state = pellucid.get_rng_state()
    pellucid.manual_seed(0)
    yield
    pellucid.set_rng_state(state)


def _np(t):
    return t.detach().numpy()


# ---- seeds and generators --------------------------------------------------------------------

SAMPLERS = {
    "rand": lambda **g: pellucid.rand(4, 3, **g),
    "randn": lambda **g: pellucid.randn(5, **g),
    "randint": lambda **g: pellucid.randint(0, 100, (6,), **g),
    "randperm": lambda **g: pellucid.randperm(10, **g),
    "normal": lambda **g: pellucid.normal(2.0, 3.0, (4,), **g),
    "normal_tensor": lambda **g: pellucid.normal(pellucid.zeros(3), pellucid.ones(3), **g),
    "bernoulli": lambda **g: pellucid.bernoulli(pellucid.full((8,), 0.5), **g),
    "multinomial": lambda **g: pellucid.multinomial(pellucid.ones(2, 5), 3, **g),
    "multinomial_repl": lambda **g: pellucid.multinomial(pellucid.ones(5), 7, True, **g),
    "poisson": lambda **g: pellucid.poisson(pellucid.full((5,), 4.0), **g),
    "uniform_": lambda **g: pellucid.empty(5).uniform_(-2, 2, **g),
    "normal_": lambda **g: pellucid.empty(5).normal_(1, 2, **g),
    "bernoulli_": lambda **g: pellucid.empty(6).bernoulli_(0.3, **g),
    "random_": lambda **g: pellucid.empty(5, dtype=pellucid.int64).random_(**g),
    "exponential_": lambda **g: pellucid.empty(5).exponential_(2.0, **g),
    "cauchy_": lambda **g: pellucid.empty(5).cauchy_(**g),
    "log_normal_": lambda **g: pellucid.empty(5).log_normal_(**g),
    "geometric_": lambda **g: pellucid.empty(5).geometric_(0.4, **g),
    "rand_like": lambda **g: pellucid.rand_like(pellucid.zeros(3), **g),
    "randn_like": lambda **g: pellucid.randn_like(pellucid.zeros(3), **g),
    "randint_like": lambda **g: pellucid.randint_like(pellucid.zeros(3), 2, 9, **g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_manual_seed_reproduces(name):
    fn = SAMPLERS[name]
    pellucid.manual_seed(0)
    a = fn()
    b = fn()
    pellucid.manual_seed(0)
    c = fn()
    np.testing.assert_array_equal(_np(a), _np(c))
    assert not np.array_equal(_np(a), _np(b)) or name in ("multinomial",)
    pellucid.manual_seed(1)
    if name not in ("multinomial", "bernoulli_", "bernoulli"):
        assert not np.array_equal(_np(fn()), _np(a))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_is_independent_of_default(name):
    fn = SAMPLERS[name]
    g1 = pellucid.Generator().manual_seed(123)
    first = fn(generator=g1)
    pellucid.manual_seed(5)
    default_before = pellucid.get_rng_state()
    g2 = pellucid.Generator()
    g2.manual_seed(123)
    np.testing.assert_array_equal(_np(fn(generator=g2)), _np(first))
    # drawing from a Generator leaves the default one where it was
    np.testing.assert_array_equal(_np(pellucid.get_rng_state()), _np(default_before))


def test_state_round_trip():
    g = pellucid.Generator().manual_seed(7)
    pellucid.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype is pellucid.uint8 and state.dim() == 1
    a = pellucid.randn(4, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(_np(pellucid.randn(4, generator=g)), _np(a))
    other = pellucid.Generator().set_state(state)
    np.testing.assert_array_equal(_np(pellucid.randn(4, generator=other)), _np(a))
    with pytest.raises(RuntimeError, match="get_state"):
        g.set_state(pellucid.tensor([1, 2, 3], dtype=pellucid.uint8))


def test_default_rng_state_round_trip():
    pellucid.manual_seed(3)
    state = pellucid.get_rng_state()
    a = pellucid.rand(5)
    pellucid.set_rng_state(state)
    np.testing.assert_array_equal(_np(pellucid.rand(5)), _np(a))


def test_seed_functions():
    assert isinstance(pellucid.manual_seed(11), pellucid.Generator)
    assert pellucid.initial_seed() == 11
    g = pellucid.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()      # PyTorch's default seed
    assert g.device == pellucid.device("cpu")
    s = pellucid.seed()
    assert isinstance(s, int) and pellucid.initial_seed() == s
    assert pellucid.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1


def test_generator_argument_checked():
    with pytest.raises(TypeError, match="Generator"):
        pellucid.rand(2, generator=np.random.default_rng(0))
    cpu_gen = pellucid.Generator()
    # a CPU generator can't drive sampling on a GPU (checked before any GPU work)
    with pytest.raises(RuntimeError, match="'cuda' device type for generator but found 'cpu'"):
        _random.rng_for(pellucid.device("cuda"), cpu_gen)


# ---- factories -------------------------------------------------------------------------------

def test_rand_distribution():
    pellucid.manual_seed(0)
    x = _np(pellucid.rand(200, 100))
    assert x.dtype == np.float32 and x.shape == (200, 100)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.005
    hist = np.histogram(x, bins=10, range=(0, 1))[0]
    assert hist.min() > 1800 and hist.max() < 2200
    x64 = _np(pellucid.rand(1000, dtype=pellucid.float64))
    assert x64.dtype == np.float64 and 0 <= x64.min() and x64.max() < 1


def test_rand_half_never_reaches_one():
    pellucid.manual_seed(0)
    x = _np(pellucid.rand(100000, dtype=pellucid.float16))
    assert x.dtype == np.float16 and x.max() < 1 and x.min() >= 0
    assert abs(float(x.astype(np.float64).mean()) - 0.5) < 0.01


def test_rand_forms_and_errors():
    assert pellucid.rand(()).shape == ()
    assert pellucid.rand((2, 3)).shape == (2, 3)
    assert pellucid.rand([2, 3]).shape == (2, 3)
    assert pellucid.rand(size=(4,)).shape == (4,)
    assert pellucid.rand(0, 3).shape == (0, 3)
    assert pellucid.rand(2, requires_grad=True).requires_grad
    out = pellucid.empty(7)
    assert pellucid.rand(3, out=out) is out and out.shape == (3,)
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.rand(3, dtype=pellucid.int64)
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.randn(3, dtype=pellucid.int64)
    with pytest.raises(RuntimeError, match="negative dimension"):
        pellucid.rand(-1)
    with pytest.raises(TypeError):
        pellucid.rand()


def test_randn_distribution():
    pellucid.manual_seed(0)
    x = _np(pellucid.randn(100000)).astype(np.float64)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    assert abs(((x - x.mean()) ** 3).mean()) < 0.05                          # symmetric
    assert abs(((x - x.mean()) ** 4).mean() / x.var() ** 2 - 3) < 0.1        # normal kurtosis
    assert abs((np.abs(x) < 1).mean() - 0.6827) < 0.01
    half = _np(pellucid.randn(1000, dtype=pellucid.float16))
    assert half.dtype == np.float16 and abs(float(half.astype(np.float64).std()) - 1) < 0.1


def test_randint_distribution_and_forms():
    pellucid.manual_seed(0)
    x = pellucid.randint(3, 10, (70000,))
    assert x.dtype is pellucid.int64
    v = _np(x)
    assert v.min() == 3 and v.max() == 9
    counts = np.bincount(v - 3)
    assert counts.min() > 9500 and counts.max() < 10500
    assert pellucid.randint(5, (2, 2)).shape == (2, 2)
    assert _np(pellucid.randint(5, (1000,))).max() == 4
    assert pellucid.randint(low=2, high=4, size=(3,)).shape == (3,)
    assert pellucid.randint(high=4, size=(3,)).shape == (3,)
    f = pellucid.randint(0, 3, (100,), dtype=pellucid.float32)
    assert f.dtype is pellucid.float32 and set(_np(f).tolist()) <= {0.0, 1.0, 2.0}
    u = _np(pellucid.randint(0, 256, (5000,), dtype=pellucid.uint8))
    assert u.dtype == np.uint8 and u.max() > 250
    big = _np(pellucid.randint(-2 ** 62, 2 ** 62, (100,)))
    assert big.min() < -2 ** 60 and big.max() > 2 ** 60


def test_randint_errors_like_torch():
    for args, kw in [((5, 5, (3,)), {}), ((0, -3, (2,)), {}), ((0, 300, (2,)), dict(dtype="uint8"))]:
        tkw = {k: getattr(torch, v) for k, v in kw.items()}
        pkw = {k: getattr(pellucid, v) for k, v in kw.items()}
        with pytest.raises(RuntimeError):
            torch.randint(*args, **tkw)
        with pytest.raises(RuntimeError, match="random_ expects|out of bounds"):
            pellucid.randint(*args, **pkw)
    with pytest.raises(TypeError, match="must be int"):
        pellucid.randint(2.5, (3,))
    with pytest.raises(TypeError, match="size"):
        pellucid.randint(3, 4)


def test_randperm():
    pellucid.manual_seed(0)
    p = pellucid.randperm(50)
    assert p.dtype is pellucid.int64
    assert sorted(_np(p).tolist()) == list(range(50))
    firsts = np.array([int(_np(pellucid.randperm(4))[0]) for _ in range(4000)])
    counts = np.bincount(firsts, minlength=4)
    assert counts.min() > 900 and counts.max() < 1100
    f = pellucid.randperm(5, dtype=pellucid.float32)
    assert f.dtype is pellucid.float32 and sorted(_np(f).tolist()) == [0, 1, 2, 3, 4]
    assert pellucid.randperm(0).shape == (0,)
    assert sorted(_np(pellucid.randperm(256, dtype=pellucid.uint8)).tolist()) == list(range(256))
    with pytest.raises(RuntimeError, match="negative"):
        pellucid.randperm(-1)
    with pytest.raises(RuntimeError, match="too large"):
        pellucid.randperm(300, dtype=pellucid.uint8)
    with pytest.raises(RuntimeError, match="2049"):
        pellucid.randperm(3000, dtype=pellucid.float16)


# ---- normal ----------------------------------------------------------------------------------

def test_normal_overloads():
    pellucid.manual_seed(0)
    mean = pellucid.tensor([-10.0, 0.0, 10.0]).reshape(3, 1).expand(3, 20000)
    x = _np(pellucid.normal(mean, 2.0))
    np.testing.assert_allclose(x.mean(axis=1), [-10, 0, 10], atol=0.1)
    np.testing.assert_allclose(x.std(axis=1), [2, 2, 2], rtol=0.03)
    std = pellucid.tensor([0.5, 1.0, 3.0]).reshape(3, 1).expand(3, 20000)
    y = _np(pellucid.normal(4.0, std))
    np.testing.assert_allclose(y.mean(axis=1), [4, 4, 4], atol=0.1)
    np.testing.assert_allclose(y.std(axis=1), [0.5, 1, 3], rtol=0.03)
    z = _np(pellucid.normal(mean, std))
    np.testing.assert_allclose(z.mean(axis=1), [-10, 0, 10], atol=0.1)
    np.testing.assert_allclose(z.std(axis=1), [0.5, 1, 3], rtol=0.03)
    w = pellucid.normal(3.0, 0.5, (50000,))
    assert w.dtype is pellucid.float32
    assert abs(_np(w).mean() - 3) < 0.02 and abs(_np(w).std() - 0.5) < 0.01
    assert pellucid.normal(0.0, 1.0, (2,), dtype=pellucid.float64).dtype is pellucid.float64
    assert pellucid.normal(pellucid.zeros(2, 1), pellucid.ones(3)).shape == (2, 3)
    assert pellucid.normal(pellucid.zeros(3, dtype=pellucid.float16), 1.0).dtype is pellucid.float16
    assert pellucid.normal(1.0, pellucid.ones(2, dtype=pellucid.float64)).dtype is pellucid.float64
    assert pellucid.normal(pellucid.zeros(3), pellucid.ones(3, dtype=pellucid.float64)).dtype is pellucid.float32
    assert pellucid.normal(pellucid.zeros(3), 0.0).tolist() == [0.0, 0.0, 0.0]


def test_normal_errors_like_torch():
    cases = [
        (lambda L: L.normal(L.zeros(3, dtype=L.int64), 1.0), NotImplementedError),
        (lambda L: L.normal(0.0, -1.0, (3,)), RuntimeError),
        (lambda L: L.normal(L.zeros(3), -1.0), RuntimeError),
        (lambda L: L.normal(L.zeros(3), -L.ones(3)), RuntimeError),
        (lambda L: L.normal(0.0, 1.0), TypeError),
        (lambda L: L.normal(0, 1, (2,), dtype=L.int64), NotImplementedError),
        (lambda L: L.normal(L.zeros(2), L.ones(3)), RuntimeError),
    ]
    for fn, exc in cases:
        with pytest.raises(exc):
            fn(torch)
        with pytest.raises(exc):
            fn(pellucid)


def test_normal_gradient_is_zero_like_torch():
    for make in [lambda L, m: L.normal(m, 1.0), lambda L, m: L.normal(m, m + 1),
                 lambda L, m: L.normal(0.5, m + 1)]:
        mt = torch.zeros(3, requires_grad=True)
        mp = pellucid.zeros(3, requires_grad=True)
        rt, rp = make(torch, mt), make(pellucid, mp)
        assert type(rp.grad_fn).__name__ == type(rt.grad_fn).__name__
        rt.sum().backward()
        rp.sum().backward()
        np.testing.assert_array_equal(_np(mp.grad), mt.grad.numpy())


# ---- bernoulli, multinomial, poisson ----------------------------------------------------------

def test_bernoulli():
    pellucid.manual_seed(0)
    p = pellucid.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).reshape(5, 1).expand(5, 20000)
    x = _np(pellucid.bernoulli(p))
    assert set(np.unique(x).tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(x.mean(axis=1), [0, 0.1, 0.5, 0.9, 1], atol=0.015)
    assert pellucid.bernoulli(pellucid.full((3,), 0.5, dtype=pellucid.float64)).dtype is pellucid.float64
    y = _np(pellucid.bernoulli(pellucid.zeros(40000), 0.25))
    assert abs(y.mean() - 0.25) < 0.01
    z = _np(pellucid.ones(40000).bernoulli(0.75))
    assert abs(z.mean() - 0.75) < 0.01
    with pytest.raises(RuntimeError, match="p_in >= 0"):
        pellucid.bernoulli(pellucid.full((3,), 1.5))
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.bernoulli(pellucid.ones(3, dtype=pellucid.int64))
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        pellucid.bernoulli(pellucid.ones(3), 1.5)


def test_bernoulli_gradient_like_torch():
    pellucid.manual_seed(0)
    pt = torch.full((3,), 0.5, requires_grad=True)
    pp = pellucid.full((3,), 0.5, requires_grad=True)
    rt, rp = torch.bernoulli(pt), pellucid.bernoulli(pp)
    assert type(rp.grad_fn).__name__ == type(rt.grad_fn).__name__ == "BernoulliBackward0"
    rp.sum().backward()
    assert pp.grad.tolist() == [0.0, 0.0, 0.0]


def test_multinomial_with_replacement_frequencies():
    pellucid.manual_seed(0)
    probs = pellucid.tensor([[0.1, 0.0, 0.3, 0.6], [4.0, 4.0, 0.0, 0.0]])   # unnormalised rows too
    s = _np(pellucid.multinomial(probs, 20000, replacement=True))
    assert s.shape == (2, 20000) and s.dtype == np.int64
    np.testing.assert_allclose(np.bincount(s[0], minlength=4) / 20000, [0.1, 0, 0.3, 0.6], atol=0.015)
    np.testing.assert_allclose(np.bincount(s[1], minlength=4) / 20000, [0.5, 0.5, 0, 0], atol=0.015)
    one_d = _np(pellucid.multinomial(pellucid.tensor([0.0, 1.0, 0.0, 3.0]), 8000, True))
    assert one_d.shape == (8000,) and set(np.unique(one_d).tolist()) == {1, 3}
    assert abs((one_d == 3).mean() - 0.75) < 0.02


def test_multinomial_without_replacement():
    pellucid.manual_seed(0)
    probs = pellucid.tensor([0.5, 0.2, 0.2, 0.1, 0.0])
    draws = _np(pellucid.multinomial(probs.reshape(1, 5).expand(6000, 5), 3))
    assert draws.shape == (6000, 3)
    assert all(len(set(row)) == 3 for row in draws[:500].tolist())             # no repeats
    assert not (draws == 4).any()                                             # zero weight never
    np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=5) / 6000, [0.5, 0.2, 0.2, 0.1, 0], atol=0.02)
    # second draw follows the renormalised weights: P(second = 1 | first = 0) = 0.2 / 0.5
    first0 = draws[draws[:, 0] == 0]
    assert abs((first0[:, 1] == 1).mean() - 0.4) < 0.04
    full = _np(pellucid.multinomial(pellucid.tensor([1.0, 0.0, 0.0]), 3))
    assert sorted(full.tolist()) == [0, 1, 2] and full[0] == 0
    perm = _np(pellucid.multinomial(pellucid.ones(2, 6), 6))
    assert all(sorted(r) == list(range(6)) for r in perm.tolist())


def test_multinomial_errors_like_torch():
    cases = [
        (lambda L: L.multinomial(L.ones(2, 2, 2), 1), "1 or 2 dim"),
        (lambda L: L.multinomial(L.tensor(1.0), 1), "1 or 2 dim"),
        (lambda L: L.multinomial(L.ones(3), 0), "n_sample <= 0"),
        (lambda L: L.multinomial(L.ones(3), -1), "n_sample <= 0"),
        (lambda L: L.multinomial(L.ones(3), 4), "without replacement"),
        (lambda L: L.multinomial(L.tensor([1.0, -1.0, 1.0]), 1), "element < 0"),
        (lambda L: L.multinomial(L.tensor([1.0, 0.0, float("nan")]), 2), "`nan`"),
        (lambda L: L.multinomial(L.tensor([1.0, 0.0, float("inf")]), 2), "`inf`"),
        (lambda L: L.multinomial(L.zeros(3), 1), "sum of probabilities <= 0"),
        (lambda L: L.multinomial(L.tensor([[1.0, 0.0], [0.0, 0.0]]), 1, True), "sum of probabilities <= 0"),
        (lambda L: L.multinomial(L.ones(3, dtype=L.int64), 1), "floating-point dtypes"),
    ]
    for fn, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            fn(torch)
        with pytest.raises(RuntimeError, match=msg):
            fn(pellucid)


def test_poisson():
    pellucid.manual_seed(0)
    rates = pellucid.tensor([0.5, 4.0, 30.0]).reshape(3, 1).expand(3, 20000)
    x = pellucid.poisson(rates)
    assert x.dtype is pellucid.float32
    v = _np(x)
    np.testing.assert_allclose(v.mean(axis=1), [0.5, 4, 30], rtol=0.03)
    np.testing.assert_allclose(v.var(axis=1), [0.5, 4, 30], rtol=0.05)
    assert (v == np.round(v)).all()
    with pytest.raises(RuntimeError, match="non-negative"):
        pellucid.poisson(pellucid.tensor([-1.0]))
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.poisson(pellucid.tensor([1]))


# ---- *_like --------------------------------------------------------------------------------------

def test_like_samplers():
    pellucid.manual_seed(0)
    src = pellucid.zeros(3, 4, dtype=pellucid.float64)
    for fn in (pellucid.rand_like, pellucid.randn_like):
        out = fn(src)
        assert out.shape == (3, 4) and out.dtype is pellucid.float64 and out.device == src.device
        assert not out.requires_grad
        assert fn(src, dtype=pellucid.float16).dtype is pellucid.float16
        assert fn(src, requires_grad=True).requires_grad
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.rand_like(pellucid.zeros(2, dtype=pellucid.int64))
    r = pellucid.randint_like(pellucid.zeros(1000), 5)
    assert r.dtype is pellucid.float32 and _np(r).min() == 0 and _np(r).max() == 4
    r2 = pellucid.randint_like(pellucid.zeros(1000, dtype=pellucid.int32), 2, 5)
    assert r2.dtype is pellucid.int32 and _np(r2).min() == 2 and _np(r2).max() == 4


# ---- in-place samplers --------------------------------------------------------------------------

def test_uniform_():
    pellucid.manual_seed(0)
    t = pellucid.empty(50000)
    v0 = t._version_count
    assert t.uniform_(-2, 3) is t
    assert t._version_count == v0 + 1
    x = _np(t)
    assert x.min() >= -2 and x.max() < 3 and abs(x.mean() - 0.5) < 0.03
    assert abs(x.var() - 25 / 12) < 0.05
    y = _np(pellucid.empty(1000).uniform_(**{"from": 5, "to": 6}))
    assert y.min() >= 5 and y.max() < 6
    z = _np(pellucid.empty(1000, dtype=pellucid.float16).uniform_())
    assert z.dtype == np.float16 and z.max() < 1
    with pytest.raises(RuntimeError, match="from=2 > to=1"):
        pellucid.empty(3).uniform_(2, 1)
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.empty(3, dtype=pellucid.int64).uniform_()


def test_normal_():
    pellucid.manual_seed(0)
    x = _np(pellucid.empty(50000, dtype=pellucid.float64).normal_(5, 0.5))
    assert abs(x.mean() - 5) < 0.01 and abs(x.std() - 0.5) < 0.01
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        pellucid.empty(3).normal_(0, -1)
    with pytest.raises(NotImplementedError, match="Long"):
        pellucid.empty(3, dtype=pellucid.int64).normal_()


def test_bernoulli_():
    pellucid.manual_seed(0)
    x = _np(pellucid.empty(40000).bernoulli_(0.3))
    assert abs(x.mean() - 0.3) < 0.01 and set(np.unique(x).tolist()) == {0.0, 1.0}
    ints = pellucid.ones(1000, dtype=pellucid.int64).bernoulli_()
    assert ints.dtype is pellucid.int64 and abs(_np(ints).mean() - 0.5) < 0.06
    probs = pellucid.tensor([0.0, 1.0, 0.5]).reshape(3, 1).expand(3, 10000)
    y = _np(pellucid.empty(3, 10000).bernoulli_(probs))
    np.testing.assert_allclose(y.mean(axis=1), [0, 1, 0.5], atol=0.02)
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        pellucid.empty(3).bernoulli_(1.5)


def test_random_ranges():
    pellucid.manual_seed(0)
    u8 = _np(pellucid.empty(5000, dtype=pellucid.uint8).random_())
    assert u8.min() < 5 and u8.max() > 250
    b = _np(pellucid.empty(1000, dtype=pellucid.bool).random_())
    assert set(b.tolist()) == {False, True}
    h = _np(pellucid.empty(20000, dtype=pellucid.float16).random_())
    assert h.min() >= 0 and h.max() <= 2048 and (h == np.round(h)).all() and h.max() > 2000
    f = _np(pellucid.empty(1000).random_())
    assert f.max() <= 2 ** 24 and f.max() > 2 ** 23
    i64 = _np(pellucid.empty(1000, dtype=pellucid.int64).random_())
    assert i64.min() >= 0 and i64.max() > 2 ** 62
    to = _np(pellucid.empty(2000, dtype=pellucid.int64).random_(5))
    assert set(to.tolist()) == {0, 1, 2, 3, 4}
    ft = _np(pellucid.empty(2000, dtype=pellucid.int8).random_(-5, -2))
    assert set(ft.tolist()) == {-5, -4, -3}
    kw = _np(pellucid.empty(2000, dtype=pellucid.int64).random_(**{"from": 10, "to": 12}))
    assert set(kw.tolist()) == {10, 11}
    open_top = _np(pellucid.empty(1000, dtype=pellucid.uint8).random_(250, None))
    assert open_top.min() >= 250 and open_top.max() == 255


def test_random_errors_like_torch():
    cases = [
        (lambda L: L.zeros(3, dtype=L.uint8).random_(300), "out of bounds for unsigned char"),
        (lambda L: L.zeros(3, dtype=L.int8).random_(-200, 0), "from is out of bounds for signed char"),
        (lambda L: L.zeros(3, dtype=L.bool).random_(0, 3), "out of bounds for bool"),
        (lambda L: L.zeros(3).random_(3, 1), "from=3 >= to=1"),
    ]
    for fn, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            fn(torch)
        with pytest.raises(RuntimeError, match=msg):
            fn(pellucid)


def test_continuous_in_place_samplers():
    pellucid.manual_seed(0)
    e = _np(pellucid.empty(50000, dtype=pellucid.float64).exponential_(2.0))
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.01 and abs(e.std() - 0.5) < 0.01
    c = _np(pellucid.empty(50000, dtype=pellucid.float64).cauchy_(1.0, 2.0))
    assert abs(np.median(c) - 1.0) < 0.05
    assert abs(np.percentile(c, 75) - np.percentile(c, 25) - 4.0) < 0.15     # IQR = 2 sigma
    ln = _np(pellucid.empty(50000, dtype=pellucid.float64).log_normal_(1.0, 0.5))
    assert ln.min() > 0
    assert abs(np.log(ln).mean() - 1.0) < 0.01 and abs(np.log(ln).std() - 0.5) < 0.01
    g = _np(pellucid.empty(50000).geometric_(0.25))
    assert g.min() == 1 and (g == np.round(g)).all()
    assert abs(g.mean() - 4.0) < 0.06 and abs((g == 1).mean() - 0.25) < 0.01


def test_continuous_sampler_errors_like_torch():
    cases = [
        (lambda L: L.ones(3).exponential_(-1), "lambda > 0.0"),
        (lambda L: L.ones(3).exponential_(0), "lambda > 0.0"),
        (lambda L: L.ones(3, dtype=L.long).exponential_(), "floating point"),
        (lambda L: L.ones(3).geometric_(0), r"\(0, 1\)"),
        (lambda L: L.ones(3).geometric_(1.5), r"\(0, 1\)"),
        (lambda L: L.ones(3).log_normal_(1, 0), "std > 0.0"),
        (lambda L: L.ones(3).cauchy_(0, -1), "sigma > 0.0"),
    ]
    for fn, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            fn(torch)
        with pytest.raises(RuntimeError, match=msg):
            fn(pellucid)


def test_in_place_samplers_and_autograd():
    leaf = pellucid.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.uniform_()
    with pellucid.no_grad():
        leaf.normal_()
    assert leaf.requires_grad and leaf.grad_fn is None
    names = {
        "uniform_": ("UniformBackward0", lambda x: x.uniform_()),
        "normal_": ("NormalBackward0", lambda x: x.normal_()),
        "bernoulli_": ("BernoulliBackward2", lambda x: x.bernoulli_(0.3)),
        "random_": ("RandomBackward2", lambda x: x.random_()),
        "random_to": ("RandomBackward1", lambda x: x.random_(5)),
        "random_from_to": ("RandomBackward0", lambda x: x.random_(2, 5)),
        "exponential_": ("ExponentialBackward0", lambda x: x.exponential_()),
        "cauchy_": ("CauchyBackward0", lambda x: x.cauchy_()),
        "log_normal_": ("LogNormalBackward0", lambda x: x.log_normal_()),
        "geometric_": ("GeometricBackward0", lambda x: x.geometric_(0.5)),
    }
    for key, (expected, fn) in names.items():
        mt = torch.full((3,), 0.5, requires_grad=True)
        xt = fn(mt * 1)
        assert type(xt.grad_fn).__name__ == expected, key
        m = pellucid.full((3,), 0.5, requires_grad=True)
        x = fn(m * 1)
        assert type(x.grad_fn).__name__ == expected, key
        x.sum().backward()
        assert m.grad.tolist() == [0.0, 0.0, 0.0], key


def test_samplers_keep_shape_and_dtype():
    pellucid.manual_seed(0)
    for dt in (pellucid.float16, pellucid.float32, pellucid.float64):
        t = pellucid.zeros(2, 3, dtype=dt)
        for fn in (lambda x: x.uniform_(), lambda x: x.normal_(), lambda x: x.exponential_(),
                   lambda x: x.cauchy_(), lambda x: x.log_normal_(), lambda x: x.geometric_(0.5),
                   lambda x: x.bernoulli_(0.5), lambda x: x.random_(0, 10)):
            out = fn(t)
            assert out is t and t.dtype is dt and t.shape == (2, 3)
            assert not np.isnan(_np(t).astype(np.float64)).any()


def test_device_stream_follows_host_state():
    # the device (CuPy) stream is seeded from the host state; a stand-in array module checks
    # that restoring a state reproduces the device draws that followed it
    class FakeRandom:
        @staticmethod
        def default_rng(seed):
            return np.random.default_rng(seed)

    class FakeXP:
        random = FakeRandom

    g = pellucid.Generator().manual_seed(4)
    g.xp_rng(FakeXP).random(2)
    state = g.get_state()
    a = g.xp_rng(FakeXP).random(3)
    g.set_state(state)
    b = g.xp_rng(FakeXP).random(3)
    np.testing.assert_array_equal(a, b)
    g.manual_seed(4)
    first = g.xp_rng(FakeXP).random(2)
    g.manual_seed(4)
    np.testing.assert_array_equal(g.xp_rng(FakeXP).random(2), first)
