"""pellucid.compile runs eagerly but keeps what torch.compile's users see: the OptimizedModule
wrapper (state_dict keys under `_orig_mod.`), wrapped functions, argument checks with PyTorch's
messages, and `disable`."""
import numpy as np
import pytest
import torch

import pellucid


def _pair():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    p = pellucid.nn.Sequential(pellucid.nn.Linear(4, 3), pellucid.nn.ReLU(), pellucid.nn.Linear(3, 2))
    p.load_state_dict({k: pellucid.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, p


def test_compiled_module_matches_torch_compile_from_outside():
    t, p = _pair()
    tc, pc = torch.compile(t, backend="eager"), pellucid.compile(p)
    assert type(pc).__name__ == type(tc).__name__ == "OptimizedModule"
    assert repr(pc) == repr(tc)
    assert list(pc.state_dict()) == list(tc.state_dict())
    assert pc._orig_mod is p and pc.training
    np.testing.assert_array_equal(pc.state_dict()["_orig_mod.0.weight"].numpy(), p[0].weight.detach().numpy())
    lin = pellucid.compile(p[0])                  # attribute reads reach the original module
    assert lin.in_features == 4 and lin.weight is p[0].weight
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    tx, px = torch.tensor(x), pellucid.tensor(x)
    np.testing.assert_allclose(pc(px).detach().numpy(), tc(tx).detach().numpy(), rtol=1e-6)
    tc(tx).sum().backward()
    pc(px).sum().backward()
    np.testing.assert_allclose(p[0].weight.grad.numpy(), t[0].weight.grad.numpy(), rtol=1e-5)
    # loading a checkpoint of the compiled model needs the prefix, in both
    pc.load_state_dict(pc.state_dict())
    with pytest.raises(RuntimeError, match="_orig_mod"):
        pc.load_state_dict(p.state_dict())
    pc.eval()
    assert not p.training


def test_functions_decorators_and_disable():
    @pellucid.compile(mode="reduce-overhead")
    def f(x):
        """doubles"""
        return x * 2
    assert f.__name__ == "f" and f.__doc__ == "doubles"
    assert f(pellucid.ones(2)).tolist() == [2.0, 2.0]
    m = pellucid.nn.Linear(2, 2)
    assert pellucid.compile(m, disable=True) is m
    assert pellucid.compiler.is_compiling() is torch.compiler.is_compiling() is False
    assert pellucid.compiler.disable(f) is f


def test_bad_arguments_are_refused_with_torchs_messages():
    m = pellucid.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="Invalid backend: 'nope'"):
        pellucid.compile(m, backend="nope")
    for M, mod in ((torch, torch.nn.Linear(2, 2)), (pellucid, m)):
        with pytest.raises(RuntimeError, match="Unrecognized mode=fast, should be one of: default"):
            M.compile(mod, mode="fast")
        with pytest.raises(RuntimeError, match="Either mode or options can be specified"):
            M.compile(mod, mode="default", options={})
