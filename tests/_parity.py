"""Parity helpers: run a pellucid module (or function) and its PyTorch twin on the same data and
compare outputs, input gradients and parameter gradients.

    check_module(torch_module, pellucid_module, *inputs)    # the main entry point
    copy_params(torch_module, pellucid_module)               # weights and buffers, by name
    to_pellucid(x, requires_grad=False) / to_torch(x, ...)   # same values and dtype
    assert_close(actual, expected, rtol, atol, what)          # values, shape and dtype

`inputs` may be NumPy arrays, torch tensors or Python scalars; floating-point inputs get
`requires_grad` so their gradients are compared too. bfloat16 tensors are compared through
float32 (their dtype names are still checked); to_pellucid/to_torch of one give float32.
"""
import numpy as np
import torch

import pellucid

# PyTorch's intra-op thread pool costs far more than it saves on test-sized tensors
torch.set_num_threads(1)


def _np(x):
    """x as a NumPy array; bfloat16 tensors (which neither library hands to NumPy) as float32."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    if isinstance(x, pellucid.Tensor):
        x = x.detach()
        return np.asarray(x.float() if x.dtype == pellucid.bfloat16 else x)
    return np.asarray(x)


def to_pellucid(x, requires_grad=False):
    t = pellucid.tensor(_np(x).copy())
    if requires_grad:
        t.requires_grad_(True)
    return t


def to_torch(x, requires_grad=False):
    t = torch.from_numpy(_np(x).copy())
    if requires_grad:
        t.requires_grad_(True)
    return t


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what="value"):
    """actual (pellucid) against expected (torch): same shape, same dtype name, close values."""
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if isinstance(actual, pellucid.Tensor) and isinstance(expected, torch.Tensor):
        assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], \
            f"{what}: dtype {actual.dtype} != expected {expected.dtype}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def copy_params(torch_module, pellucid_module):
    """Copy every parameter and buffer of the torch module into the pellucid one (by name)."""
    src = torch_module.state_dict()
    dst = dict(pellucid_module.named_parameters(remove_duplicate=False))
    dst.update(dict(pellucid_module.named_buffers(remove_duplicate=False)))
    missing = set(src) - set(dst)
    assert not missing, f"pellucid module lacks {sorted(missing)}"
    for name, value in src.items():
        target = dst[name]
        arr = value.detach().cpu().numpy()
        assert tuple(target.shape) == arr.shape, f"{name}: shape {tuple(target.shape)} != {arr.shape}"
        target._data[...] = arr


def _flatten(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _prepare(inputs, grad_inputs):
    p_in, t_in = [], []
    for x in inputs:
        if isinstance(x, (np.ndarray, torch.Tensor)):
            floating = _np(x).dtype.kind == "f"
            p_in.append(to_pellucid(x, grad_inputs and floating))
            t_in.append(to_torch(x, grad_inputs and floating))
        else:
            p_in.append(x)
            t_in.append(x)
    return p_in, t_in


def check_module(torch_module, pellucid_module, *inputs, rtol=1e-5, atol=1e-6, grad_inputs=True,
                 copy=True, seed=0):
    """Copy the weights, run both modules, compare the outputs, then back-propagate the same
    random upstream gradient through both and compare every input and parameter gradient.
    Returns (pellucid outputs, torch outputs) as lists."""
    if copy:
        copy_params(torch_module, pellucid_module)
    pellucid_module.train(torch_module.training)
    p_in, t_in = _prepare(inputs, grad_inputs)
    t_out = _flatten(torch_module(*t_in))
    p_out = _flatten(pellucid_module(*p_in))
    assert len(p_out) == len(t_out), f"{len(p_out)} outputs, expected {len(t_out)}"
    rng = np.random.default_rng(seed)
    t_loss, p_loss = 0, 0
    for i, (po, to) in enumerate(zip(p_out, t_out)):
        assert_close(po, to, rtol, atol, f"output {i}")
        if to.requires_grad:
            w = rng.standard_normal(tuple(to.shape)).astype(_np(to).dtype)
            t_loss = t_loss + (to * torch.from_numpy(w)).sum()
            p_loss = p_loss + (po * pellucid.tensor(w)).sum()
    if isinstance(t_loss, torch.Tensor):
        t_loss.backward()
        p_loss.backward()
        for i, (pi, ti) in enumerate(zip(p_in, t_in)):
            if isinstance(ti, torch.Tensor) and ti.requires_grad:
                assert (pi.grad is None) == (ti.grad is None), f"input {i}: grad presence differs"
                if ti.grad is not None:
                    assert_close(pi.grad, ti.grad, rtol, atol, f"grad of input {i}")
        p_params = dict(pellucid_module.named_parameters())
        for name, tp in torch_module.named_parameters():
            pp = p_params[name]
            assert (pp.grad is None) == (tp.grad is None), f"{name}: grad presence differs"
            if tp.grad is not None:
                assert_close(pp.grad, tp.grad, rtol, atol, f"grad of {name}")
    return p_out, t_out
