"""Custom autograd.Function compared with PyTorch: ctx API, multiple outputs, None gradients,
materialisation, once_differentiable, double backward, error reporting; gradcheck."""
import numpy as np
import pytest
import torch

import pellucid


def to_np(x):
    return x.detach().numpy()


def assert_same(a, b, rtol=1e-7, atol=1e-9):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            assert_same(x, y, rtol, atol)
        return
    if a is None or b is None:
        assert a is None and b is None, (a, b)
        return
    if isinstance(a, torch.Tensor):
        assert isinstance(b, pellucid.Tensor), type(b)
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
        np.testing.assert_allclose(to_np(b), to_np(a), rtol=rtol, atol=atol)
        return
    assert a == b, (a, b)


def parity(fn, **tol):
    expected = fn(torch)
    got = fn(pellucid)
    assert_same(expected, got, **tol)
    return got


def raises_like(fn, exc=RuntimeError, match=None):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(pellucid)


def leaf(M, values):
    return M.tensor(values, dtype=M.float64, requires_grad=True)


def functions(M):
    """The same custom Functions written against torch or pellucid."""
    Function = M.autograd.Function

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x          # differentiable ops: double backward works

    class ScaleShift(Function):
        @staticmethod
        def forward(ctx, x, scale, shift, tag):
            ctx.scale = scale
            ctx.tag = tag
            ctx.save_for_backward(shift)
            ctx.needs = tuple(ctx.needs_input_grad)
            return x * scale + shift

        @staticmethod
        def backward(ctx, g):
            gx = g * ctx.scale if ctx.needs_input_grad[0] else None
            gs = g if ctx.needs_input_grad[2] else None
            return gx, None, gs, None

    class SplitTwo(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            ctx.seen = (ga, gb)
            return ga * 2 + gb * 3

    class SplitLazy(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            ctx.seen = (ga is None, gb is None)
            g = 0
            if ga is not None:
                g = g + ga * 2
            if gb is not None:
                g = g + gb * 3
            return g

    class WithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = (x > 0).to(x.dtype)
            out = x * idx
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return out, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            ctx.g_idx = g_idx
            return g * idx

    class MyExp(Function):
        # saves its own output: double backward must flow through it
        @staticmethod
        def forward(ctx, x):
            r = M.exp(x)
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    class OnceCube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        @M.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    class ExtraNone(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum().reshape(1) * M.ones(2, dtype=g.dtype)

    class WrongBackward(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x           # should be 2 * x

    class WrongSecondOrder(Function):
        # right first derivative, its backward is not differentiated correctly
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * (x * x).detach() + g * 0 * x

    class Scaled(Function):
        @staticmethod
        def forward(ctx, x, scale=2.0):
            ctx.scale = scale
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None

    class SetupStyle(Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            ctx.k = k
            ctx.save_for_backward(x, output)

        @staticmethod
        def backward(ctx, g):
            x, out = ctx.saved_tensors
            return g * ctx.k, None

    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class WithConstant(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, 7

        @staticmethod
        def backward(ctx, g, g_const):
            ctx.g_const = g_const
            return g * 2

    return {k: v for k, v in locals().items() if isinstance(v, type)}


def test_save_for_backward_and_double_backward():
    def f(M):
        F = functions(M)
        x = leaf(M, [0.5, -1.0, 2.0])
        y = F["Cube"].apply(x)
        (g1,) = M.autograd.grad(y.sum(), x, create_graph=True)
        (g2,) = M.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = M.autograd.grad(g2.sum(), x)
        return y, g1, g2, g3, y.grad_fn.name()
    parity(f)


def test_non_tensor_arguments_and_needs_input_grad():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        shift = M.tensor([0.5, 0.5], dtype=M.float64)
        y = F["ScaleShift"].apply(x, 3.0, shift, "tag")
        y.sum().backward()
        node = y.grad_fn
        return y, x.grad, shift.grad, node.needs, node.tag, node.scale
    parity(f)


def test_needs_input_grad_all_inputs():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        shift = leaf(M, [0.5, 0.5])
        y = F["ScaleShift"].apply(x, 3.0, shift, None)
        (y * y).sum().backward()
        return x.grad, shift.grad, y.grad_fn.needs
    parity(f)


def test_multiple_outputs_with_materialised_zero_grads():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        a, b = F["SplitTwo"].apply(x)
        a.sum().backward()
        seen = a.grad_fn.seen
        both = F["SplitTwo"].apply(x)
        (both[0] * both[1]).sum().backward()
        return seen, x.grad, a.grad_fn is b.grad_fn, a.output_nr, b.output_nr
    parity(f)


def test_set_materialize_grads_false_passes_none():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        a, b = F["SplitLazy"].apply(x)
        b.sum().backward()
        return a.grad_fn.seen, x.grad
    parity(f)


def test_mark_non_differentiable():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, -2.0, 3.0])
        out, idx = F["WithIndex"].apply(x)
        out.sum().backward()
        return out.requires_grad, idx.requires_grad, idx.grad_fn is None, out.grad_fn.g_idx, x.grad
    parity(f)


def test_returning_none_grads_and_non_tensor_outputs():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y, const = F["WithConstant"].apply(x)
        y.sum().backward()
        return const, y.grad_fn.g_const, x.grad
    parity(f)


def test_double_backward_through_saved_output():
    def f(M):
        F = functions(M)
        x = leaf(M, [0.5, 1.0])
        (g1,) = M.autograd.grad(F["MyExp"].apply(x).sum(), x, create_graph=True)
        (g2,) = M.autograd.grad(g1.sum(), x)
        return g1, g2
    parity(f)


def test_once_differentiable_first_order_and_error_on_second():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["OnceCube"].apply(x)
        y.sum().backward()
        return x.grad
    parity(f)

    def second(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["OnceCube"].apply(x)
        go = M.ones(2, dtype=M.float64, requires_grad=True)
        (g,) = M.autograd.grad(y, x, go, create_graph=True)
        g.sum().backward()
    raises_like(second, match="marked with @once_differentiable")


def test_wrong_number_of_gradients():
    raises_like(lambda M: functions(M)["TooFew"].apply(leaf(M, [1.0]), leaf(M, [2.0])).sum().backward(),
                match=r"returned an incorrect number of gradients \(expected 2, got 1\)")
    raises_like(lambda M: functions(M)["TooMany"].apply(leaf(M, [1.0])).sum().backward(),
                match="incorrect number of gradients")

    def extra_none(M):
        x = leaf(M, [1.0])
        functions(M)["ExtraNone"].apply(x).sum().backward()
        return x.grad
    parity(extra_none)


def test_gradient_of_wrong_shape():
    raises_like(lambda M: functions(M)["BadShape"].apply(leaf(M, [1.0, 2.0, 3.0])).sum().backward(),
                match=r"returned an invalid gradient at index 0 - got \[2\] but expected shape "
                      r"compatible with \[3\]")


def test_keyword_arguments_and_defaults():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        a = F["Scaled"].apply(x, scale=3.0)
        b = F["Scaled"].apply(x)
        (a + b).sum().backward()
        return a, b, x.grad, a.grad_fn.name()
    parity(f)


def test_setup_context_style():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["SetupStyle"].apply(x, 4.0)
        y.sum().backward()
        return y, x.grad, y.grad_fn.name()
    parity(f)


def test_mark_dirty_in_place_function():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = x * 1
        z = F["AddOneInPlace"].apply(y)
        (z * z).sum().backward()
        return z is y, z.grad_fn.name(), y, x.grad
    parity(f)


def test_no_graph_when_inputs_do_not_require_grad():
    def f(M):
        F = functions(M)
        x = M.tensor([1.0, 2.0], dtype=M.float64)
        y = F["Cube"].apply(x)
        with M.no_grad():
            z = F["Cube"].apply(leaf(M, [1.0]))
        return y, y.requires_grad, y.grad_fn is None, z.requires_grad
    parity(f)


def test_saved_tensors_freed_after_backward():
    def run(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["Cube"].apply(x).sum()
        y.backward()
        y.backward()
    raises_like(run, match="retain_graph=True")

    def retained(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["Cube"].apply(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad
    parity(retained)


def test_saved_tensor_modified_in_place_raises():
    def run(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        h = x * 1
        y = F["Cube"].apply(h)
        with M.no_grad():
            h.add_(1)
        y.sum().backward()
    raises_like(run, match="modified by an inplace operation")


def test_hooks_and_graph_links_through_functions():
    def f(M):
        F = functions(M)
        x = leaf(M, [1.0, 2.0])
        h = x * 2
        y = F["Cube"].apply(h)
        y.register_hook(lambda g: g * 10)
        y.sum().backward()
        nf = y.grad_fn.next_functions
        return x.grad, [n.name() for n, _ in nf]
    parity(f)


# ---- gradcheck ---------------------------------------------------------------------------

@pytest.mark.parametrize("M", [torch, pellucid], ids=["torch", "pellucid"])
def test_gradcheck_passes_on_correct_functions(M):
    F = functions(M)
    x = M.tensor([0.3, -0.7, 1.2], dtype=M.float64, requires_grad=True)
    w = M.tensor([[0.5, 2.0, -1.0]], dtype=M.float64, requires_grad=True)
    assert M.autograd.gradcheck(F["Cube"].apply, (x,))
    assert M.autograd.gradcheck(lambda a, b: (a * b / (a * a + 1)).sum(0), (x, w))
    assert M.autograd.gradcheck(lambda a: F["SplitTwo"].apply(a), (x,))
    assert M.autograd.gradgradcheck(F["Cube"].apply, (x,))
    assert M.autograd.gradgradcheck(lambda a, b: (a * b) ** 3, (x, w))


@pytest.mark.parametrize("M", [torch, pellucid], ids=["torch", "pellucid"])
def test_gradcheck_fails_on_wrong_backward(M):
    F = functions(M)
    x = M.tensor([0.3, -0.7, 1.2], dtype=M.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        M.autograd.gradcheck(F["WrongBackward"].apply, (x,))
    assert M.autograd.gradcheck(F["WrongBackward"].apply, (x,), raise_exception=False) is False
    assert M.autograd.gradcheck(F["WrongSecondOrder"].apply, (x,))
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        M.autograd.gradgradcheck(F["WrongSecondOrder"].apply, (x,))


def test_gradcheck_on_strided_input():
    base = pellucid.tensor([[0.3, -0.7], [1.2, 0.4]], dtype=pellucid.float64)
    xt = base.t().detach().requires_grad_()
    assert not xt.is_contiguous()
    assert pellucid.autograd.gradcheck(lambda a: a * a * a, (xt,))


def test_gradcheck_error_type():
    from pellucid.autograd.gradcheck import GradcheckError
    F = functions(pellucid)
    x = pellucid.tensor([0.3], dtype=pellucid.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        pellucid.autograd.gradcheck(F["WrongBackward"].apply, (x,))


def more_functions(M):
    Function = M.autograd.Function

    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Inner(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Outer(Function):
        @staticmethod
        def forward(ctx, x):
            inner = Inner.apply(x)
            ctx.inner_tracked = inner.requires_grad      # forward runs without a graph
            return inner * 3

        @staticmethod
        def backward(ctx, g):
            return g * 6

    class Product(Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

    class AsColumn(Function):
        @staticmethod
        def forward(ctx, x):
            return x.view(-1, 1)

        @staticmethod
        def backward(ctx, g):
            return g.reshape(-1)

    class ReturnsList(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return [g * 2]

    return {k: v for k, v in locals().items() if isinstance(v, type)}


def test_identity_nested_and_repeated_inputs():
    def f(M):
        F = more_functions(M)
        x = leaf(M, [1.0, 2.0])
        y = F["Identity"].apply(x)
        (y * 3).sum().backward()
        g_ident = x.grad.clone()
        x.grad = None
        z = F["Outer"].apply(x)
        z.sum().backward()
        g_outer = x.grad.clone()
        x.grad = None
        F["Product"].apply(x, x).sum().backward()
        return y is x, y.grad_fn.name(), g_ident, z.grad_fn.inner_tracked, g_outer, x.grad
    parity(f)


def test_output_aliasing_an_input_shares_its_version_counter():
    def version(t):
        return t._version if isinstance(t, torch.Tensor) else t._version_count

    def f(M):
        F = more_functions(M)
        x = leaf(M, [1.0, 2.0])
        h = x * 1
        col = F["AsColumn"].apply(h)
        before = version(col)
        with M.no_grad():
            h.add_(1)
        return col._base is h, version(col) - before, col
    parity(f)


def test_backward_returning_a_list_is_an_error():
    raises_like(lambda M: more_functions(M)["ReturnsList"].apply(leaf(M, [1.0])).sum().backward(),
                match="got list")
