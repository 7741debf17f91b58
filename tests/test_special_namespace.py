"""pellucid.special against torch.special: the shared names, the aliases and the functions
defined from other ops (entr, ndtr, xlog1py, i1), with values and gradients."""
import numpy as np
import pytest
import torch

import pellucid
import pellucid.special as ps
import torch.special as ts

X = np.array([-3.0, -0.5, 0.0, 0.25, 1.0, 2.5, 7.0], np.float64)
POS = np.array([0.1, 0.5, 1.0, 2.5, 7.0], np.float64)


@pytest.mark.parametrize("name,data", [
    ("expit", X), ("gammaln", POS), ("psi", POS), ("digamma", POS), ("erf", X), ("erfc", X),
    ("erfinv", np.array([-0.9, -0.1, 0.0, 0.5, 0.99])), ("i0", X), ("i1", X), ("sinc", X), ("logit", POS / 8),
    ("ndtr", X), ("entr", np.array([0.0, 0.2, 1.0, 3.0])), ("expm1", X), ("exp2", X), ("log1p", POS),
])
def test_unary_functions_match_torch(name, data):
    t = torch.tensor(data, requires_grad=True)
    p = pellucid.tensor(data, requires_grad=True)
    to, po = getattr(ts, name)(t), getattr(ps, name)(p)
    np.testing.assert_allclose(po.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)
    keep = data != 0 if name == "entr" else np.ones(len(data), bool)   # entr's slope is infinite at 0
    w = torch.tensor(keep.astype(np.float64))
    (to * w).sum().backward()
    (po * pellucid.tensor(keep.astype(np.float64))).sum().backward()
    np.testing.assert_allclose(p.grad.numpy()[keep], t.grad.numpy()[keep], rtol=1e-8, atol=1e-10)


def test_entr_edges_and_multigammaln_and_polygamma():
    for M, S in ((torch, ts), (pellucid, ps)):
        assert S.entr(M.tensor([-1.0, 0.0])).tolist() == [-float("inf"), 0.0]
    np.testing.assert_allclose(ps.multigammaln(pellucid.tensor(POS + 1), 2).numpy(),
                               ts.multigammaln(torch.tensor(POS + 1), 2).numpy(), rtol=1e-10)
    np.testing.assert_allclose(ps.polygamma(2, pellucid.tensor(POS)).numpy(),
                               ts.polygamma(2, torch.tensor(POS)).numpy(), rtol=1e-9)


def test_xlog1py_and_xlogy_zero_rules_like_torch():
    x = np.array([0.0, 0.0, 2.0, 0.0], np.float64)
    y = np.array([-1.0, np.nan, 0.5, 3.0], np.float64)
    np.testing.assert_array_equal(ps.xlog1py(pellucid.tensor(x), pellucid.tensor(y)).numpy(),
                                  ts.xlog1py(torch.tensor(x), torch.tensor(y)).numpy())
    np.testing.assert_array_equal(ps.xlogy(pellucid.tensor(x), pellucid.tensor(y + 1)).numpy(),
                                  ts.xlogy(torch.tensor(x), torch.tensor(y + 1)).numpy())
    assert ps.xlog1py(pellucid.tensor([1.0]), 1.0).item() == pytest.approx(np.log(2.0))
