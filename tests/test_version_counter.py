"""Version counters: in-place changes to tensors saved for backward are caught at backward
time; in-place rules for leaves; freed graphs. Compared with PyTorch."""
import numpy as np
import pytest
import torch

import pellucid


def leaf(M, values):
    return M.tensor(values, dtype=M.float64, requires_grad=True)


def raises_like(fn, exc=RuntimeError, match=None):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match) as info:
        fn(pellucid)
    return str(info.value)


def same(fn):
    expected = fn(torch)
    got = fn(pellucid)
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        if isinstance(e, torch.Tensor):
            np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-12)
        else:
            assert e == g, (expected, got)
    return got


def version(t):
    return t._version if isinstance(t, torch.Tensor) else t._version_count


def test_modified_saved_output_raises_naming_the_op():
    def run(M):
        x = leaf(M, [1.0, 2.0])
        y = x.exp()
        y.add_(1)
        y.sum().backward()
    msg = raises_like(run, match="modified by an inplace operation")
    assert "ExpBackward0" in msg
    assert "is at version 1; expected version 0" in msg


def test_modified_saved_input_raises_naming_the_op():
    def run(M):
        x = leaf(M, [1.0, 2.0])
        a = x * 2
        b = a * a
        a.mul_(3)
        b.sum().backward()
    msg = raises_like(run, match="modified by an inplace operation")
    assert "MulBackward0" in msg


def test_in_place_on_tensor_nobody_saved_is_fine():
    def f(M):
        x = leaf(M, [1.0, 2.0])
        a = x * 2
        b = a + a
        a.mul_(3)
        b.sum().backward()
        return (x.grad,)
    same(f)


def test_in_place_through_a_view_is_caught():
    def run(M):
        x = leaf(M, [1.0, 2.0, 3.0])
        a = x * 1
        v = a.view(3)
        b = v * v
        a.add_(1)
        b.sum().backward()
    raises_like(run, match="modified by an inplace operation")


def test_in_place_through_detach_is_caught():
    def run(M):
        x = leaf(M, [1.0, 2.0])
        a = x * 1
        b = a * a
        a.detach().add_(1)
        b.sum().backward()
    raises_like(run, match="modified by an inplace operation")


def test_in_place_through_data_is_not_tracked():
    def f(M):
        x = leaf(M, [1.0, 2.0])
        a = x * 1
        b = a * a
        a.data.add_(1)
        b.sum().backward()
        return (x.grad,)
    same(f)


def test_in_place_on_leaf_requiring_grad_raises():
    raises_like(lambda M: leaf(M, [1.0]).add_(1),
                match="a leaf Variable that requires grad is being used in an in-place operation")
    raises_like(lambda M: leaf(M, [1.0]).mul_(2), match="leaf Variable")


def test_in_place_on_leaf_under_no_grad_is_an_optimizer_step():
    def f(M):
        p = leaf(M, [1.0, 2.0])
        (p * p).sum().backward()
        v0 = version(p)
        with M.no_grad():
            p.sub_(p.grad * 0.1)
        return p.detach(), p.requires_grad, p.is_leaf, p.grad_fn is None, version(p) - v0
    same(f)


def test_leaf_modified_after_being_saved_raises():
    def run(M):
        p = leaf(M, [1.0, 2.0])
        y = p * p
        with M.no_grad():
            p.add_(1)
        y.sum().backward()
    raises_like(run, match="modified by an inplace operation")


def test_version_counts():
    def f(M):
        t = M.ones(3)
        v = [version(t)]
        t.add_(1)
        t.mul_(2)
        v.append(version(t))
        view = t.view(3)
        view.add_(1)
        v.append(version(t))
        v.append(version(view))
        t.detach().add_(1)
        v.append(version(t))
        out = t + 1                    # out-of-place leaves the counter alone
        v.append(version(t))
        v.append(version(out))
        return tuple(v)
    same(f)


def test_in_place_op_recorded_in_graph():
    def f(M):
        x = leaf(M, [1.0, 2.0])
        y = x * 3
        y.mul_(2)
        y.add_(1)
        (y * y).sum().backward()
        return x.grad, y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
    same(f)


def test_in_place_with_itself_then_again_raises():
    def run(M):
        x = leaf(M, [1.0, 2.0])
        y = x * 3
        y.mul_(y)          # saves y for its backward
        y.add_(1)          # ... which this changes
        y.sum().backward()
    raises_like(run, match="modified by an inplace operation")


def test_second_backward_raises_and_retain_graph_allows_it():
    def run(M):
        x = leaf(M, [1.0, 2.0])
        y = (x.exp() * x).sum()
        y.backward()
        y.backward()
    raises_like(run, match=r"backward through the graph a second time.*Specify retain_graph=True")

    def f(M):
        x = leaf(M, [1.0, 2.0])
        y = (x.exp() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return (x.grad,)
    same(f)


def test_create_graph_retains_by_default():
    def f(M):
        x = leaf(M, [1.0, 2.0])
        y = (x * x * x).sum()
        (g,) = M.autograd.grad(y, x, create_graph=True)
        (g2,) = M.autograd.grad(y, x)         # the graph was kept by create_graph
        return g, g2
    same(f)


def test_retain_grad_follows_the_tensor_through_in_place_ops():
    def f(M):
        x = leaf(M, [1.0, 2.0])
        y = x * 2
        y.retain_grad()
        y.mul_(2)
        (y * 3).sum().backward()
        return x.grad, y.grad
    same(f)


class _ScaleBy(pellucid._dispatch.Op):
    """a * b that declares which input each gradient reads (only those are saved)."""
    name = "test_version_counter_scale_by"
    promote = "common"
    save_inputs = True
    saved_for = ((1,), (0,))

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


def test_inputs_no_gradient_reads_are_not_saved():
    # like PyTorch's mul: w's gradient reads x, x needs no gradient, so w is not kept;
    # changing w in place afterwards is fine, changing x is not
    w = pellucid.tensor([1.0, 2.0], requires_grad=True)
    x = pellucid.tensor([3.0, 4.0])
    y = pellucid._dispatch.dispatch(_ScaleBy, (w, x))
    assert y.grad_fn.saved[0] is None and y.grad_fn.saved[1] is x
    with pellucid.no_grad():
        w.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 4.0])

    y = pellucid._dispatch.dispatch(_ScaleBy, (w, x))
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
