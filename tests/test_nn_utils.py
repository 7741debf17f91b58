"""nn.utils against PyTorch: clip_grad_norm_ (every norm type, the returned total norm, the clipped
gradients, non-finite handling), clip_grad_value_, parameters_to_vector / vector_to_parameters."""
import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as pnn
from _parity import assert_close, copy_params, to_pellucid


def _models_with_grads(scale=1.0):
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3, bias=False))
    p = pnn.Sequential(pnn.Linear(4, 5), pnn.Tanh(), pnn.Linear(5, 3, bias=False))
    copy_params(t, p)
    rng = np.random.default_rng(0)
    for (_, tp), (_, pp) in zip(t.named_parameters(), p.named_parameters()):
        g = (rng.standard_normal(tuple(tp.shape)) * scale).astype(np.float32)
        tp.grad = torch.from_numpy(g.copy())
        pp.grad = to_pellucid(g)
    return t, p


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf"), 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    t, p = _models_with_grads()
    tn = torch.nn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    pn = pnn.utils.clip_grad_norm_(p.parameters(), max_norm, norm_type)
    assert isinstance(pn, pellucid.Tensor) and pn.dim() == 0
    assert_close(pn, tn, rtol=1e-5)
    for (name, pp), (_, tp) in zip(p.named_parameters(), t.named_parameters()):
        assert_close(pp.grad, tp.grad, rtol=1e-5, what=name)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_empty():
    t, p = _models_with_grads()
    p[0].bias.grad = None
    t[0].bias.grad = None
    grad_obj = p[0].weight.grad
    assert_close(pnn.utils.clip_grad_norm_(p.parameters(), 0.1), torch.nn.utils.clip_grad_norm_(t.parameters(), 0.1))
    assert p[0].weight.grad is grad_obj           # clipped in place
    single = pnn.utils.clip_grad_norm_(p[0].weight, 0.01)
    assert_close(single, torch.nn.utils.clip_grad_norm_(t[0].weight, 0.01))
    assert float(pnn.utils.clip_grad_norm_([], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        pnn.utils.clip_grad_norm_((q for q in []), 1.0)


def test_clip_grad_norm_nonfinite():
    _, p = _models_with_grads()
    p[0].weight.grad._data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        pnn.utils.clip_grad_norm_(p.parameters(), 1.0, error_if_nonfinite=True)
    total = pnn.utils.clip_grad_norm_(p.parameters(), 1.0, foreach=True)
    assert np.isinf(total.item())


def test_get_total_norm_and_clip_with_norm():
    t, p = _models_with_grads()
    grads = [q.grad for q in p.parameters()]
    total = pnn.utils.get_total_norm(grads, 2.0)
    assert_close(total, torch.nn.utils.get_total_norm([q.grad for q in t.parameters()], 2.0))
    pnn.utils.clip_grads_with_norm_(p.parameters(), 0.3, total)
    torch.nn.utils.clip_grad_norm_(t.parameters(), 0.3)
    for pp, tp in zip(p.parameters(), t.parameters()):
        assert_close(pp.grad, tp.grad)


def test_clip_grad_value():
    t, p = _models_with_grads(scale=3.0)
    torch.nn.utils.clip_grad_value_(t.parameters(), 1.5)
    pnn.utils.clip_grad_value_(p.parameters(), 1.5)
    for pp, tp in zip(p.parameters(), t.parameters()):
        assert_close(pp.grad, tp.grad)
        assert float(pp.grad.abs().max()) <= 1.5


def test_parameters_to_vector_and_back():
    t, p = _models_with_grads()
    vec = pnn.utils.parameters_to_vector(p.parameters())
    assert_close(vec, torch.nn.utils.parameters_to_vector(t.parameters()))
    assert vec.requires_grad                      # built from the parameters: differentiable
    vec.sum().backward()
    new = to_pellucid(np.arange(vec.numel(), dtype=np.float32))
    weight = p[0].weight
    pnn.utils.vector_to_parameters(new, p.parameters())
    assert p[0].weight is weight
    assert p[0].weight.detach().numpy().reshape(-1).tolist() == list(range(20))
    assert p[2].weight.detach().numpy().reshape(-1)[0] == 25.0
    with pytest.raises(TypeError, match="expected pellucid.Tensor"):
        pnn.utils.vector_to_parameters([1.0], p.parameters())
