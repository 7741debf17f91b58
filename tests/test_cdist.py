import numpy as np
import pytest
import torch

import pellucid


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")])
def test_cdist_values_and_gradients_match_torch(p):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4, 3))
    b = rng.standard_normal((2, 5, 3))
    b[0, 0] = a[0, 0]                       # a zero distance: gradient must stay finite
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    pa, pb = pellucid.tensor(a, requires_grad=True), pellucid.tensor(b, requires_grad=True)
    to, po = torch.cdist(ta, tb, p=p), pellucid.cdist(pa, pb, p=p)
    np.testing.assert_allclose(po.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = rng.standard_normal(to.shape)
    (to * torch.tensor(w)).sum().backward()
    (po * pellucid.tensor(w)).sum().backward()
    np.testing.assert_allclose(pa.grad.numpy(), ta.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pb.grad.numpy(), tb.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_cdist_errors():
    with pytest.raises(RuntimeError, match="same number of columns"):
        pellucid.cdist(pellucid.zeros(2, 3), pellucid.zeros(2, 4))
