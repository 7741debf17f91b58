"""bfloat16 end to end against PyTorch on the CPU: creation, rounding, printing helpers, NumPy
conversion, a sweep of pointwise, reduction, linear-algebra, shape and nn ops (values, result
dtypes and gradients), autograd, layers with optimizers, and the CUDA refusal.

pellucid stores bfloat16 as ml_dtypes' NumPy dtype and computes every op in float32, rounding
each result (as PyTorch's CPU kernels do), so values agree to bfloat16's resolution."""
import inspect
import zlib

import ml_dtypes
import numpy as np
import pytest
import torch

import pellucid
from pellucid.debug.summary import summarize

from _parity import assert_close

BF16_RTOL = BF16_ATOL = 1e-2          # a bfloat16 ulp is 2**-7 relative; results round once


def _name(dt):
    return str(dt).split(".")[-1]


def _bits(t):
    """The raw 16 bits of a bfloat16 tensor of either library."""
    if isinstance(t, torch.Tensor):
        return t.view(torch.int16).numpy()
    return t.view(pellucid.int16).numpy()


def _f32(t):
    return t.detach().float().numpy()


def _pair(arr, requires_grad=False):
    """The same bfloat16 tensor in both libraries (both round float32 to nearest even)."""
    p = pellucid.tensor(arr).to(pellucid.bfloat16)
    t = torch.tensor(arr).to(torch.bfloat16)
    if requires_grad:
        p.requires_grad_(True)
        t.requires_grad_(True)
    return p, t


# ---- creation and conversion -----------------------------------------------------------------------

def test_rounding_to_bfloat16_matches_torch_bit_for_bit():
    f32 = np.finfo(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 1.0, 1.00390625, 1.01171875, 1.0078125 + 2 ** -9,
                        f32.tiny, f32.tiny / 3, 3.3895e38, 3.4e38, -3.4e38, f32.max, 2.0 ** -133, 65504.0,
                        255.5, 256.5, 257.0], np.float32)
    r = np.random.default_rng(1)
    arr = np.concatenate([special, r.standard_normal(2000).astype(np.float32) * 10.0 ** r.integers(-30, 30, 2000)])
    p, t = _pair(arr.astype(np.float32))
    np.testing.assert_array_equal(_bits(p), _bits(t))
    nan_p, nan_t = _pair(np.array([np.nan, -np.nan], np.float32))
    assert np.isnan(_f32(nan_p)).all() and np.isnan(_f32(nan_t)).all()
    # back to wider types, and to integers (of values inside their range)
    for name in ("float32", "float64", "float16", "bool"):
        pc, tc = p.to(getattr(pellucid, name)), t.to(getattr(torch, name))
        assert pc.dtype.name == name
        np.testing.assert_array_equal(pc.numpy(), tc.numpy(), err_msg=name)
    small = arr[(np.abs(arr) < 120) & (arr >= 0)]
    p, t = _pair(small)
    for name in ("int64", "int32", "int16", "int8", "uint8"):
        pc, tc = p.to(getattr(pellucid, name)), t.to(getattr(torch, name))
        assert pc.dtype.name == name
        np.testing.assert_array_equal(pc.numpy(), tc.numpy(), err_msg=name)
    np.testing.assert_array_equal(_bits((-p).to(pellucid.int8).bfloat16()), _bits((-t).to(torch.int8).bfloat16()))


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(2, 3, dtype=m.bfloat16),
    lambda m: m.ones((4,), dtype=m.bfloat16),
    lambda m: m.full((2, 2), 1.7, dtype=m.bfloat16),
    lambda m: m.full((3,), 1000001, dtype=m.bfloat16),
    lambda m: m.eye(3, dtype=m.bfloat16),
    lambda m: m.tensor([[1.1, -2.2], [1e-3, 3e38]], dtype=m.bfloat16),
    lambda m: m.tensor([1, 2, 1000001], dtype=m.bfloat16),
    lambda m: m.tensor(2.71828, dtype=m.bfloat16),
    lambda m: m.linspace(-3, 7, 300, dtype=m.bfloat16),
    lambda m: m.linspace(0.3, 2.9, 11, dtype=m.bfloat16),
    lambda m: m.linspace(-100, 5000, 4097, dtype=m.bfloat16),
    lambda m: m.logspace(0, 2, 5, dtype=m.bfloat16),
    lambda m: m.arange(0, 300, dtype=m.bfloat16),
    lambda m: m.zeros_like(m.ones(3), dtype=m.bfloat16),
    lambda m: m.full_like(m.ones(3, dtype=m.bfloat16), 0.1),
    lambda m: m.ones(3).bfloat16(),
    lambda m: m.ones(3).to(m.bfloat16) * 0.1,
    lambda m: m.tensor([1.5, 2.5]).type(m.bfloat16),
    lambda m: m.arange(4.0).type_as(m.ones(1, dtype=m.bfloat16)),
    lambda m: m.as_tensor([0.1, 0.2], dtype=m.bfloat16),
    lambda m: m.empty(2, 5, dtype=m.bfloat16).zero_(),
], ids=lambda f: inspect.getsource(f).split("m: ")[1].strip().rstrip(","))
def test_creation_matches_torch(make):
    p, t = make(pellucid), make(torch)
    assert p.dtype is pellucid.bfloat16 and _name(t.dtype) == "bfloat16"
    assert tuple(p.shape) == tuple(t.shape)
    np.testing.assert_array_equal(_bits(p), _bits(t))


def test_arange_accumulates_in_float32():
    """PyTorch's vectorised arange kernel rounds some steps differently (it depends on the CPU's
    vector width); the values agree to one bfloat16 ulp."""
    p = pellucid.arange(-1.5, 4, 0.01, dtype=pellucid.bfloat16)
    t = torch.arange(-1.5, 4, 0.01, dtype=torch.bfloat16)
    assert p.dtype is pellucid.bfloat16 and p.shape == t.shape
    np.testing.assert_allclose(_f32(p), _f32(t), rtol=2 ** -7, atol=2 ** -9)


def test_random_factories_and_samplers_keep_bfloat16():
    pellucid.manual_seed(0)
    u = pellucid.rand(20000, dtype=pellucid.bfloat16)
    assert u.dtype is pellucid.bfloat16
    vals = _f32(u)
    # as PyTorch: 8 random bits, so values are multiples of 2**-8 in [0, 1) and 1.0 never appears
    assert vals.min() >= 0 and vals.max() < 1 and np.all(vals * 256 == np.round(vals * 256))
    assert len(np.unique(vals)) == 256
    z = pellucid.randn(20000, dtype=pellucid.bfloat16)
    assert z.dtype is pellucid.bfloat16 and abs(float(z.float().mean())) < 0.05
    assert 0.95 < float(z.float().std()) < 1.05
    x = pellucid.empty(1000, dtype=pellucid.bfloat16)
    for fill in (lambda: x.uniform_(-2, 3), lambda: x.normal_(1, 2), lambda: x.bernoulli_(0.3),
                 lambda: x.exponential_(), lambda: x.random_(0, 7)):
        assert fill() is x and x.dtype is pellucid.bfloat16
    assert pellucid.randint(0, 10, (5,), dtype=pellucid.bfloat16).dtype is pellucid.bfloat16
    assert pellucid.randn_like(x).dtype is pellucid.bfloat16
    assert pellucid.normal(pellucid.zeros(3, dtype=pellucid.bfloat16), 1.0).dtype is pellucid.bfloat16
    assert pellucid.poisson(pellucid.ones(3, dtype=pellucid.bfloat16)).dtype is pellucid.bfloat16
    assert pellucid.multinomial(pellucid.tensor([0.2, 0.8], dtype=pellucid.bfloat16), 4, True).dtype is pellucid.int64


def test_fill_refuses_values_beyond_the_bfloat16_range_like_torch():
    big = 3.4e38           # above bfloat16's largest finite value (3.3895e38), below float32's
    for mod in (torch, pellucid):
        x = mod.zeros(2, dtype=mod.bfloat16)
        with pytest.raises(RuntimeError, match="cannot be converted to type c10::BFloat16 without overflow"):
            x.fill_(big)
        x.fill_(float("inf"))
        assert _f32(x)[0] == np.inf
        x.fill_(-3.3895e38)
        assert _f32(x)[0] == -3.3895313892515355e+38


# ---- NumPy, Python numbers -----------------------------------------------------------------------

def test_numpy_refuses_bfloat16_like_torch():
    p, t = _pair(np.array([1.5, 2.25], np.float32))
    for mod_t in (p, t):
        with pytest.raises(TypeError, match="^Got unsupported ScalarType BFloat16"):
            mod_t.numpy()
        with pytest.raises(TypeError, match="^Got unsupported ScalarType BFloat16"):
            np.asarray(mod_t)
        with pytest.raises(TypeError, match="^Got unsupported ScalarType BFloat16"):
            mod_t.numpy(force=True)
        # the requires_grad check comes first
        with pytest.raises(RuntimeError, match="Use tensor.detach"):
            mod_t.clone().requires_grad_().numpy()
    np.testing.assert_array_equal(p.float().numpy(), t.float().numpy())


def test_item_tolist_and_python_numbers_match_torch():
    p, t = _pair(np.array([[1.1, -2.7], [1e-3, 3e4]], np.float32))
    assert p.tolist() == t.tolist()
    assert isinstance(p.tolist()[0][0], float)
    for i in range(2):
        for j in range(2):
            assert p[i, j].item() == t[i, j].item()
            assert float(p[i, j]) == float(t[i, j]) and int(p[i, j]) == int(t[i, j])
            assert f"{p[i, j]:.4f}" == f"{t[i, j]:.4f}"
    assert bool(p[0, 0]) is True and bool(pellucid.zeros((), dtype=pellucid.bfloat16)) is False
    assert p.element_size() == t.element_size() == 2
    assert p.nbytes == t.nbytes


def test_ml_dtypes_arrays_are_accepted():
    arr = np.array([1.5, -0.25], dtype=ml_dtypes.bfloat16)
    assert pellucid.tensor(arr).dtype is pellucid.bfloat16
    assert pellucid.from_numpy(arr).dtype is pellucid.bfloat16
    assert pellucid.as_tensor(arr).tolist() == [1.5, -0.25]
    assert (pellucid.ones(2, dtype=pellucid.bfloat16) + ml_dtypes.bfloat16(0.5)).dtype is pellucid.bfloat16


# ---- CUDA: CuPy has no bfloat16 --------------------------------------------------------------------

@pytest.mark.parametrize("op, call", [
    ("to", lambda: pellucid.ones(2, dtype=pellucid.bfloat16).cuda()),
    ("to", lambda: pellucid.ones(2, dtype=pellucid.bfloat16).to("cuda:0")),
    ("to", lambda: pellucid.ones(2).to("cuda", pellucid.bfloat16)),
    ("to", lambda: pellucid.nn.Linear(2, 2).bfloat16().cuda()),
    ("zeros", lambda: pellucid.zeros(2, dtype=pellucid.bfloat16, device="cuda")),
    ("full", lambda: pellucid.full((2,), 1.0, dtype=pellucid.bfloat16, device="cuda")),
    ("arange", lambda: pellucid.arange(3, dtype=pellucid.bfloat16, device="cuda")),
    ("linspace", lambda: pellucid.linspace(0, 1, 3, dtype=pellucid.bfloat16, device="cuda")),
    ("tensor", lambda: pellucid.tensor([1.0], dtype=pellucid.bfloat16, device="cuda")),
    ("randn", lambda: pellucid.randn(2, dtype=pellucid.bfloat16, device="cuda")),
    ("rand", lambda: pellucid.rand(2, dtype=pellucid.bfloat16, device="cuda")),
])
def test_bfloat16_on_cuda_is_refused_before_cupy_is_touched(op, call, monkeypatch):
    from pellucid import _backend

    def no_cupy():
        raise AssertionError("CuPy was reached")
    monkeypatch.setattr(_backend, "cupy", no_cupy)
    with pytest.raises(RuntimeError, match=rf"^{op}: a pellucid\.bfloat16 tensor can't be on cuda(:0)?: "
                                           r"CuPy .* has no bfloat16"):
        call()


def test_bfloat16_tensor_cast_on_the_way_to_cuda_is_cast_first(monkeypatch):
    """`.to('cuda', float32)` of a bfloat16 tensor casts on the CPU, then moves (no bfloat16 error)."""
    from pellucid import _backend
    seen = []
    monkeypatch.setattr(_backend, "cupy", lambda: seen.append(True) or (_ for _ in ()).throw(RuntimeError("no GPU here")))
    with pytest.raises(RuntimeError, match="no GPU here"):
        pellucid.ones(2, dtype=pellucid.bfloat16).to("cuda", pellucid.float32)
    assert seen


# ---- the op sweep --------------------------------------------------------------------------------

rng = np.random.default_rng(0)      # the sweep's inputs, made once at import
X = rng.standard_normal((3, 4)).astype(np.float32)
Y = rng.standard_normal((3, 4)).astype(np.float32)
POS = np.abs(X) + 0.5
UNIT = np.tanh(X) * 0.9
M = rng.standard_normal((4, 5)).astype(np.float32)
N = rng.standard_normal((5, 3)).astype(np.float32)
V = rng.standard_normal(5).astype(np.float32)
IMG = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
W33 = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)


def F(m):
    return m.nn.functional


# name -> (function of (module, *bfloat16 tensors), inputs); gradients are compared for every input
SWEEP = {
    # pointwise
    **{n: (lambda m, a, n=n: getattr(m, n)(a), [X]) for n in (
        "exp", "exp2", "expm1", "sin", "cos", "tan", "tanh", "sigmoid", "atan", "sinh", "cosh", "asinh", "erf",
        "erfc", "relu", "abs", "neg", "sign", "floor", "ceil", "round", "trunc", "frac", "square", "deg2rad",
        "nan_to_num", "reciprocal", "isnan", "isfinite", "signbit", "logical_not")},
    **{n: (lambda m, a, n=n: getattr(m, n)(a), [POS]) for n in (
        "log", "log2", "log10", "log1p", "sqrt", "rsqrt")},
    **{n: (lambda m, a, n=n: getattr(m, n)(a), [UNIT]) for n in ("asin", "acos", "atanh")},
    **{n: (lambda m, a, b, n=n: getattr(m, n)(a, b), [X, Y]) for n in (
        "add", "sub", "mul", "div", "maximum", "minimum", "atan2", "fmod", "remainder", "hypot", "fmax", "fmin",
        "logaddexp", "lt", "le", "eq", "ne", "gt", "ge")},
    "pow": (lambda m, a, b: m.pow(a, b), [POS, Y]),
    "xlogy": (lambda m, a, b: m.xlogy(a, b), [X, POS]),
    "lerp": (lambda m, a, b: m.lerp(a, b, 0.3), [X, Y]),
    "add_alpha": (lambda m, a, b: m.add(a, b, alpha=0.37), [X, Y]),
    "div_floor": (lambda m, a, b: m.div(a, b, rounding_mode="floor").detach(), [X, Y]),
    **{f"{op}_scalar_{s}": (lambda m, a, op=op, s=s: {"add": a + s, "rsub": s - a, "mul": a * s, "rmul": s * a,
                                                       "div": a / s, "rdiv": s / a, "pow": a.abs() ** s,
                                                       "rpow": abs(s) ** a, "lt": a < s}[op], [X])
       for op in ("add", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow", "lt") for s in (2, 1.37, -0.5)},
    "clamp": (lambda m, a: m.clamp(a, -0.5, 0.5), [X]),
    "clamp_min": (lambda m, a: a.clamp(min=0.1), [X]),
    "clamp_tensor": (lambda m, a, b: m.clamp(a, min=b), [X, Y]),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [X, Y]),
    "where_scalar": (lambda m, a: m.where(a > 0, a, 0.3), [X]),
    "addcmul": (lambda m, a, b: m.addcmul(a, a, b, value=0.5), [X, Y]),
    "addcdiv": (lambda m, a, b: m.addcdiv(a, a, b + 3, value=0.5), [X, Y]),
    "mixed_float32": (lambda m, a: a + m.ones(4), [X]),
    "mixed_float16": (lambda m, a: a * m.full((4,), 1.5, dtype=m.float16), [X]),
    "mixed_int64": (lambda m, a: a + m.arange(4), [X]),
    "mixed_0dim_float64": (lambda m, a: a * m.tensor(1.37, dtype=m.float64), [X]),
    # reductions
    **{n: (lambda m, a, n=n: getattr(m, n)(a), [X]) for n in (
        "sum", "mean", "prod", "amax", "amin", "max", "min", "std", "var", "norm", "median", "nansum",
        "nanmean", "argmax", "argmin", "all", "any", "count_nonzero")},
    **{f"{n}_dim": (lambda m, a, n=n: getattr(m, n)(a, 1), [X]) for n in (
        "sum", "mean", "prod", "amax", "amin", "max", "min", "std", "var", "argmax", "logsumexp", "cumsum",
        "cumprod", "softmax", "log_softmax", "median")},
    "sum_dtype_float32": (lambda m, a: a.sum(1, dtype=m.float32), [X]),
    "mean_dtype_float32": (lambda m, a: a.mean(1, dtype=m.float32), [X]),
    "sum_of_float32_as_bfloat16": (lambda m, a: a.float().sum(1, dtype=m.bfloat16), [X]),
    "std_mean": (lambda m, a: m.std_mean(a, 1), [X]),
    "aminmax": (lambda m, a: tuple(m.aminmax(a, dim=0)), [X]),
    "vector_norm": (lambda m, a: m.linalg.vector_norm(a, 3, dim=1), [X]),
    "matrix_norm": (lambda m, a: m.linalg.matrix_norm(a), [M]),
    "sum_of_ones": (lambda m, a: a.sum(), [np.ones((40, 50), np.float32)]),
    "mean_of_many": (lambda m, a: a.mean(), [np.full(3000, 0.3, np.float32)]),
    "cumsum_long": (lambda m, a: a.cumsum(0)[-5:], [np.ones(1000, np.float32)]),
    # linear algebra
    "matmul": (lambda m, a, b: a @ b, [M, N]),
    "mm": (lambda m, a, b: m.mm(a, b), [M, N]),
    "mv": (lambda m, a, b: m.mv(a, b), [M, V]),
    "dot": (lambda m, a, b: m.dot(a, b), [V, V * 2]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [np.stack([M, M * 2]), np.stack([N, N])]),
    "matmul_batched": (lambda m, a, b: a @ b, [np.stack([M, M * 2]), N]),
    "einsum": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [M, N]),
    "einsum_trace": (lambda m, a: m.einsum("ii->", a), [M[:4, :4]]),
    "addmm": (lambda m, a, b, c: m.addmm(c, a, b, beta=0.5, alpha=2.0), [M, N, M[:, :3]]),
    "outer": (lambda m, a, b: m.outer(a, b), [V, V]),
    "tensordot": (lambda m, a, b: m.tensordot(a, b, dims=1), [M, N]),
    "kron": (lambda m, a, b: m.kron(a, b), [M[:2, :2], N[:2, :2]]),
    "trace": (lambda m, a: m.trace(a), [M]),
    "triu": (lambda m, a: m.triu(a), [M]),
    "diag": (lambda m, a: m.diag(a), [V]),
    "linalg_cross": (lambda m, a, b: m.linalg.cross(a, b), [M[:, :3], M[:, 1:4]]),
    # shape, joining, indexing
    "reshape": (lambda m, a: a.reshape(4, 3), [X]),
    "transpose": (lambda m, a: a.T, [X]),
    "permute_contiguous": (lambda m, a: a.permute(1, 0).contiguous(), [X]),
    "expand": (lambda m, a: a[:1].expand(3, 4), [X]),
    "cat": (lambda m, a, b: m.cat([a, b * 2]), [X, Y]),
    "stack": (lambda m, a, b: m.stack([a, b]), [X, Y]),
    "flip": (lambda m, a: a.flip(0), [X]),
    "roll": (lambda m, a: a.roll(1, 1), [X]),
    "gather": (lambda m, a: a.gather(1, m.tensor([[0, 1], [2, 3], [1, 1]])), [X]),
    "index_select": (lambda m, a: a.index_select(1, m.tensor([0, 2])), [X]),
    "masked_fill": (lambda m, a: a.masked_fill(a > 0, 0.37), [X]),
    "getitem": (lambda m, a: a[1:, ::2] * 1.0, [X]),
    "advanced_getitem": (lambda m, a: a[[0, 2], [1, 3]], [X]),
    "chunk": (lambda m, a: m.chunk(a, 2, 1), [X]),
    "repeat": (lambda m, a: a.repeat(2, 1), [X]),
    "narrow": (lambda m, a: a.narrow(1, 1, 2), [X]),
    "scatter_add": (lambda m, a: m.zeros(3, 5, dtype=a.dtype).scatter_add(1, m.tensor([[0, 1], [2, 2], [1, 4]]),
                                                                          a[:, :2]), [X]),
    "index_add": (lambda m, a: a.index_add(0, m.tensor([0, 0, 1]), a), [X]),
    "index_put": (lambda m, a: a.index_put((m.tensor([0, 1]),), a[:2] * 2), [X]),
    "masked_select": (lambda m, a: a.masked_select(a > 0), [X]),
    "unfold": (lambda m, a: a.unfold(1, 2, 1), [X]),
    "diagonal": (lambda m, a: a.diagonal(), [X]),
    "pad": (lambda m, a: F(m).pad(a, (1, 2)), [X]),
    "inplace_ops": (lambda m, a: a.clone().mul_(2).add_(1.5).clamp_(-1, 2).div_(3), [X]),
    "inplace_on_view": (lambda m, a: (lambda c: (c[:, 0].mul_(3), c)[1])(a * 1), [X]),
    "copy_into_bfloat16": (lambda m, a: m.zeros(3, 4, dtype=m.bfloat16).copy_(a.float() * 1.3), [X]),
    "copy_into_float32": (lambda m, a: m.zeros(3, 4).copy_(a), [X]),
    "to_float16": (lambda m, a: a.half() * 2, [X]),
    "to_float64": (lambda m, a: a.double() / 3, [X]),
    # nn.functional
    **{n: (lambda m, a, n=n: getattr(F(m), n)(a), [X]) for n in (
        "gelu", "silu", "elu", "softplus", "mish", "hardswish", "hardtanh", "relu6", "logsigmoid", "softsign",
        "tanhshrink", "selu", "celu", "normalize", "glu", "hardsigmoid")},
    "gelu_tanh": (lambda m, a: F(m).gelu(a, approximate="tanh"), [X]),
    "leaky_relu": (lambda m, a: F(m).leaky_relu(a, 0.1), [X]),
    "layer_norm": (lambda m, a: F(m).layer_norm(a, (4,)), [X]),
    "prelu": (lambda m, a, w: F(m).prelu(a, w), [X, np.array([0.25], np.float32)]),
    "mse_loss": (lambda m, a, b: F(m).mse_loss(a, b), [X, Y]),
    "l1_loss": (lambda m, a, b: F(m).l1_loss(a, b), [X, Y]),
    "smooth_l1_loss": (lambda m, a, b: F(m).smooth_l1_loss(a, b), [X, Y]),
    "huber_loss": (lambda m, a, b: F(m).huber_loss(a, b), [X, Y]),
    "kl_div": (lambda m, a, b: F(m).kl_div(F(m).log_softmax(a, 1), F(m).softmax(b, 1), reduction="batchmean"), [X, Y]),
    "bce_with_logits": (lambda m, a, b: F(m).binary_cross_entropy_with_logits(a, m.sigmoid(b)), [X, Y]),
    "binary_cross_entropy": (lambda m, a, b: F(m).binary_cross_entropy(m.sigmoid(a), m.sigmoid(b)), [X, Y]),
    "cross_entropy": (lambda m, a: F(m).cross_entropy(a, m.tensor([0, 3, 1])), [X]),
    "cross_entropy_probs": (lambda m, a, b: F(m).cross_entropy(a, F(m).softmax(b, 1)), [X, Y]),
    "nll_loss": (lambda m, a: F(m).nll_loss(F(m).log_softmax(a, 1), m.tensor([0, 3, 1])), [X]),
    "conv2d": (lambda m, a, w: F(m).conv2d(a, w, padding=1), [IMG, W33]),
    "conv_transpose2d": (lambda m, a, w: F(m).conv_transpose2d(a, w), [IMG, W33[:3]]),
    "conv1d": (lambda m, a, w: F(m).conv1d(a, w), [IMG[:, :, 0], W33[:, :, 0]]),
    "avg_pool2d": (lambda m, a: F(m).avg_pool2d(a, 2), [IMG]),
    "max_pool2d": (lambda m, a: F(m).max_pool2d(a, 2), [IMG]),
    "adaptive_avg_pool2d": (lambda m, a: F(m).adaptive_avg_pool2d(a, 1), [IMG]),
    "adaptive_max_pool2d": (lambda m, a: F(m).adaptive_max_pool2d(a, 2), [IMG]),
    "interpolate_nearest": (lambda m, a: F(m).interpolate(a, scale_factor=2), [IMG]),
    "interpolate_bilinear": (lambda m, a: F(m).interpolate(a, scale_factor=2, mode="bilinear"), [IMG]),
    "batch_norm": (lambda m, a: F(m).batch_norm(a, None, None, training=True), [IMG]),
    "group_norm": (lambda m, a: F(m).group_norm(a, 3), [IMG]),
    "pad_reflect": (lambda m, a: F(m).pad(a, (1, 1, 1, 1), mode="reflect"), [IMG]),
    "unfold_im2col": (lambda m, a: F(m).unfold(a, 2), [IMG]),
    "pixel_shuffle": (lambda m, a: F(m).pixel_shuffle(a.repeat(1, 4, 1, 1)[:, :4], 2), [IMG]),
    "sdpa": (lambda m, a, b: F(m).scaled_dot_product_attention(a, b, a), [IMG[0], IMG[1]]),
    "embedding": (lambda m, w: F(m).embedding(m.tensor([[0, 2], [1, 1]]), w), [M]),
}


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name", sorted(SWEEP))
def test_op_values_dtypes_and_gradients_match_torch(name):
    fn, arrays = SWEEP[name]
    weights = np.random.default_rng(zlib.crc32(name.encode()))
    pairs = [_pair(a, requires_grad=True) for a in arrays]
    p_in, t_in = [p for p, _ in pairs], [t for _, t in pairs]
    p_out, t_out = _outputs(fn(pellucid, *p_in)), _outputs(fn(torch, *t_in))
    assert len(p_out) == len(t_out)
    loss_p = loss_t = 0
    for i, (po, to) in enumerate(zip(p_out, t_out)):
        assert_close(po, to, BF16_RTOL, BF16_ATOL, f"{name} output {i}")
        if to.requires_grad:
            w = weights.standard_normal(tuple(to.shape)).astype(np.float32)
            loss_t = loss_t + (to.float() * torch.tensor(w)).sum()
            loss_p = loss_p + (po.float() * pellucid.tensor(w)).sum()
    if not isinstance(loss_t, torch.Tensor):
        return
    loss_t.backward()
    loss_p.backward()
    for i, (pi, ti) in enumerate(zip(p_in, t_in)):
        assert (pi.grad is None) == (ti.grad is None), f"{name}: grad presence of input {i}"
        if ti.grad is not None:
            assert pi.grad.dtype is pellucid.bfloat16
            assert_close(pi.grad, ti.grad, 2e-2, 2e-2, f"{name} grad of input {i}")


def test_reductions_accumulate_in_float32_like_torch():
    """NumPy adds bfloat16 in bfloat16 (a sum of 1000 ones would stall at 256); PyTorch and
    pellucid accumulate in float32 and round once."""
    ones = np.ones(1000, np.float32)
    p, t = _pair(ones)
    assert p.sum().item() == t.sum().item() == 1000
    assert p.cumsum(0)[-1].item() == t.cumsum(0)[-1].item() == 1000
    assert (p * 0.3).mean().item() == (t * 0.3).mean().item()
    a, b = _pair(np.full((64, 512), 0.01, np.float32))
    c, d = _pair(np.full((512, 8), 0.02, np.float32))
    np.testing.assert_array_equal(_bits(a @ c), _bits(b @ d))


def test_ops_results_stay_bfloat16_where_numpy_would_widen():
    x = pellucid.randn(4, 4).bfloat16()
    for out in (x @ x, x.clamp(-0.5, 0.5), x * 1.5, 2.5 - x, x.mm(x), pellucid.einsum("ij,jk->ik", x, x),
                pellucid.where(x > 0, x, 0.0), x.pow(2.0), x.sum(), x.var(0)):
        assert out.dtype is pellucid.bfloat16


# ---- autograd -----------------------------------------------------------------------------------------

def test_autograd_chain_and_double_backward_match_torch():
    arr = np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32)
    results = {}
    for mod in (pellucid, torch):
        x = mod.tensor(arr).to(mod.bfloat16).requires_grad_()
        y = (x.tanh() @ x * 1.5).sigmoid().sum()
        (g,) = mod.autograd.grad(y, x, create_graph=True)
        (gg,) = mod.autograd.grad(g.float().pow(2).sum(), x)
        assert _name(g.dtype) == _name(gg.dtype) == "bfloat16"
        results[mod.__name__] = (float(y.detach()), _f32(g), _f32(gg))
    p, t = results["pellucid"], results["torch"]
    assert p[0] == pytest.approx(t[0], rel=1e-2)
    np.testing.assert_allclose(p[1], t[1], rtol=3e-2, atol=3e-2)
    np.testing.assert_allclose(p[2], t[2], rtol=5e-2, atol=5e-2)


def test_gradients_into_mixed_dtype_leaves():
    for mod in (pellucid, torch):
        a = mod.ones(3, dtype=mod.bfloat16, requires_grad=True)
        b = mod.ones(3, requires_grad=True)
        c = mod.ones(3, dtype=mod.float16, requires_grad=True)
        ((a * b).sum() + (a * c).sum() + a.float().sum()).backward()
        assert _name(a.grad.dtype) == "bfloat16" and _name(b.grad.dtype) == "float32"
        assert _name(c.grad.dtype) == "float16"
        np.testing.assert_array_equal(_f32(a.grad), [3, 3, 3])


def test_only_floating_bfloat16_tensors_require_grad():
    x = pellucid.zeros(2, dtype=pellucid.bfloat16, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    p = pellucid.nn.Parameter(pellucid.zeros(2, dtype=pellucid.bfloat16))
    assert p.requires_grad and p.dtype is pellucid.bfloat16


# ---- layers and optimizers -----------------------------------------------------------------------

LAYERS = {
    "linear": (lambda m: m.nn.Linear(5, 3), (4, 5)),
    "conv2d": (lambda m: m.nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 6)),
    # no bias before batch norm (its gradient is zero up to rounding, which Adam would amplify)
    # and a smooth activation (a rounding that moves a value across relu's kink changes gradients)
    "conv_bn_tanh": (lambda m: m.nn.Sequential(m.nn.Conv2d(3, 4, 3, bias=False), m.nn.BatchNorm2d(4), m.nn.Tanh()),
                     (2, 3, 6, 6)),
    "mlp": (lambda m: m.nn.Sequential(m.nn.Linear(5, 8), m.nn.GELU(), m.nn.LayerNorm(8), m.nn.Linear(8, 2)), (4, 5)),
}
# Adam's step is about lr * sign(grad) where a gradient is at rounding-noise level, so such entries
# could move either way in the two libraries; an eps above that level (as bfloat16 training uses)
# keeps the comparison about the optimizer, not the noise
OPTIMIZERS = {
    "sgd_momentum": lambda m, p: m.optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda m, p: m.optim.Adam(p, lr=0.01, eps=1e-3),
    "adamw": lambda m, p: m.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-3),
}


def _scaled_close(actual, expected, rel, what):
    """Close to within `rel` of the expected tensor's largest entry: gradients of a bfloat16
    network carry a few roundings each, so small entries differ by more than their own size."""
    scale = float(np.abs(_f32(expected)).max())
    assert_close(actual, expected, rel, rel * scale, what)


def _train_both(layer, opt, seed, steps=3):
    make, shape = LAYERS[layer]
    torch.manual_seed(seed)
    data = np.random.default_rng(seed)
    tm, pm = make(torch), make(pellucid)
    pm.load_state_dict({k: pellucid.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    tm, pm = tm.to(torch.bfloat16), pm.to(pellucid.bfloat16)
    assert all(p.dtype is pellucid.bfloat16 for p in pm.parameters())
    to, po = OPTIMIZERS[opt](torch, tm.parameters()), OPTIMIZERS[opt](pellucid, pm.parameters())
    x = data.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        target = data.standard_normal(tuple(tm(torch.tensor(x).bfloat16()).shape)).astype(np.float32)
    for step in range(steps):
        px, tx = _pair(x, requires_grad=True)
        py, ty = pm(px), tm(tx)
        _scaled_close(py, ty, 5e-2, f"step {step} output")
        F(torch).mse_loss(ty.float(), torch.tensor(target)).backward()
        F(pellucid).mse_loss(py.float(), pellucid.tensor(target)).backward()
        _scaled_close(px.grad, tx.grad, 8e-2, f"step {step} input grad")
        for (name, tp), (_, pp) in zip(tm.named_parameters(), pm.named_parameters()):
            assert pp.grad.dtype is pellucid.bfloat16
            _scaled_close(pp.grad, tp.grad, 8e-2, f"step {step} grad of {name}")
        to.step()
        po.step()
        to.zero_grad()
        po.zero_grad()
        for (name, tp), (_, pp) in zip(tm.named_parameters(), pm.named_parameters()):
            assert pp.dtype is pellucid.bfloat16
            assert_close(pp, tp, 2e-2, 2e-2, f"step {step} {name} after the update")


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_in_bfloat16_train_like_torch(layer, opt):
    _train_both(layer, opt, seed=0)


def test_module_bfloat16_and_state_dict_round_trip():
    m = pellucid.nn.Sequential(pellucid.nn.Linear(3, 4), pellucid.nn.BatchNorm1d(4)).bfloat16()
    assert {v.dtype for v in m.state_dict().values()} == {pellucid.bfloat16, pellucid.int64}
    m.load_state_dict(pellucid.nn.Sequential(pellucid.nn.Linear(3, 4), pellucid.nn.BatchNorm1d(4)).state_dict())
    assert m[0].weight.dtype is pellucid.bfloat16          # loading keeps the parameter's dtype
    pellucid.nn.init.kaiming_uniform_(m[0].weight)
    pellucid.nn.init.normal_(m[0].bias)
    assert m[0].weight.dtype is m[0].bias.dtype is pellucid.bfloat16
    out = m(pellucid.randn(5, 3).bfloat16())
    assert out.dtype is pellucid.bfloat16
    (out.float() * pellucid.randn(5, 4)).sum().backward()
    norm = pellucid.nn.utils.clip_grad_norm_(m.parameters(), 0.01)
    assert norm.dtype is pellucid.bfloat16 and float(norm) > 0.01
    clipped = sum(float(p.grad.float().pow(2).sum()) for p in m.parameters()) ** 0.5
    assert clipped == pytest.approx(0.01, rel=2e-2)


def test_debugger_summaries_read_bfloat16():
    x = pellucid.tensor([1.0, 2.0, float("nan"), 4.0]).bfloat16()
    s = summarize(x._data)
    assert s["nan"] == 1 and s["min"] == 1.0 and s["max"] == 4.0 and s["count"] == 4


def test_views_share_memory_with_their_bfloat16_base():
    """Views run on the bfloat16 data itself (never through float32 copies), so writes through a
    view reach the base, and the base's version counter sees them, as in PyTorch."""
    for mod in (pellucid, torch):
        base = mod.zeros(3, 4, dtype=mod.bfloat16)
        row, col, flat = base[1], base[:, 2], base.view(-1)
        row.add_(1.5)
        col.mul_(0).add_(2.25)
        flat[0] = 7
        assert base.tolist() == [[7, 0, 2.25, 0], [1.5, 1.5, 2.25, 1.5], [0, 0, 2.25, 0]]
        assert base.t().reshape(-1)[1].item() == 1.5 and base.unsqueeze(0).squeeze(0)[2, 2].item() == 2.25
        assert base._version == row._version


def test_custom_function_sees_the_dtypes_torch_gives_it():
    """A custom Function's own forward and backward are not computed in float32 for it: a float32
    result stays float32 and its backward gets the gradient in its output's dtype."""
    seen = {}
    for mod in (pellucid, torch):
        class Widen(mod.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.float() * 2

            @staticmethod
            def backward(ctx, g):
                seen[mod.__name__, "widen"] = _name(g.dtype)
                return (g * 2).to(mod.bfloat16)

        class Triple(mod.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 3

            @staticmethod
            def backward(ctx, g):
                seen[mod.__name__, "triple"] = _name(g.dtype)
                return g * 3

        x = mod.ones(3, dtype=mod.bfloat16, requires_grad=True)
        y = Widen.apply(x)
        assert _name(y.dtype) == "float32"
        (y.sum() + Triple.apply(x).float().sum()).backward()
        assert _name(x.grad.dtype) == "bfloat16" and x.grad.tolist() == [5.0, 5.0, 5.0]
    assert seen == {("pellucid", "widen"): "float32", ("pellucid", "triple"): "bfloat16",
                    ("torch", "widen"): "float32", ("torch", "triple"): "bfloat16"}


@pytest.mark.parametrize("fn", ["inv", "det", "cholesky", "svdvals", "solve"])
def test_decompositions_refuse_bfloat16_like_torch(fn):
    """PyTorch's LAPACK-backed linear algebra has no bfloat16 kernels; pellucid refuses it too."""
    for mod in (torch, pellucid):
        a = mod.eye(3, dtype=mod.bfloat16) * 2
        call = getattr(mod.linalg, fn)
        with pytest.raises((RuntimeError, NotImplementedError), match="BFloat16|bfloat16"):
            call(a, a) if fn == "solve" else call(a)
    with pytest.raises(RuntimeError, match="^linalg.inv: Low precision dtypes not supported. Got bfloat16"):
        pellucid.linalg.inv(pellucid.eye(3, dtype=pellucid.bfloat16))
    assert pellucid.linalg.inv(pellucid.eye(3, dtype=pellucid.bfloat16).float()).dtype is pellucid.float32
