"""Property-based tests (Hypothesis) of broadcasting: for random pairs of shapes, binary ops give
PyTorch's result shape and values, gradients come back in each input's own shape, and
incompatible shapes raise an error naming the op and both shapes."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import pellucid

OPS = ["add", "sub", "mul", "div", "maximum", "atan2"]


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: a common shape, each side dropping leading dims and setting
    some sizes to 1."""
    base = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    shapes = []
    for _ in range(2):
        lead = draw(st.integers(0, len(base)))
        s = [1 if draw(st.booleans()) else d for d in base[lead:]]
        shapes.append(tuple(s))
    return shapes


@settings(max_examples=60, deadline=None)
@given(pair=broadcastable_pair(), op=st.sampled_from(OPS), seed=st.integers(0, 2**16))
def test_binary_ops_broadcast_like_torch(pair, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(pair[0]) + 2.0            # away from 0 for div/atan2
    b = rng.standard_normal(pair[1]) + 2.0
    pa, pb = pellucid.tensor(a, requires_grad=True), pellucid.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    po, to = getattr(pellucid, op)(pa, pb), getattr(torch, op)(ta, tb)
    assert tuple(po.shape) == tuple(to.shape)
    np.testing.assert_allclose(po.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(tuple(to.shape))
    (po * pellucid.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    assert pa.grad.shape == pa.shape and pb.grad.shape == pb.shape
    np.testing.assert_allclose(pa.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), scalar=st.one_of(
    st.integers(-3, 3), st.floats(-2, 2, allow_nan=False)), reflected=st.booleans())
def test_python_scalars_on_either_side(shape, scalar, reflected):
    a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    p, t = pellucid.tensor(a), torch.tensor(a)
    po = (scalar - p) if reflected else (p - scalar)
    to = (scalar - t) if reflected else (t - scalar)
    assert str(po.dtype).split(".")[-1] == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(po.numpy(), to.numpy(), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 5), m=st.integers(2, 5), op=st.sampled_from(["add", "mul", "sub"]))
def test_incompatible_shapes_name_op_and_shapes(n, m, op):
    if n == m:
        m += 1
    with pytest.raises(RuntimeError) as ei:
        getattr(pellucid, op)(pellucid.zeros(3, n), pellucid.zeros(3, m))
    msg = str(ei.value)
    assert op in msg and str(n) in msg and str(m) in msg
