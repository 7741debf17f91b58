"""`autograd.functional`: Jacobians, Hessians and vector products of functions of tensors,
built on `autograd.grad` (reverse mode; forward products use the double-backward trick)."""
from .. import _dispatch
from .. import _dtype as D
from .._grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _T():
    return _dispatch.Tensor


def _as_tuple(x, arg_name, fn_name):
    T = _T()
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, T):
            where = f"element {i} of " if is_tuple else ""
            raise TypeError(f"The {where}{arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the value at index {i} has type {type(t).__name__}.")
    return is_tuple, xs


def _unpack(values, is_tuple):
    return tuple(values) if is_tuple else values[0]


def _prepare_inputs(inputs, create_graph):
    """Inputs the function is differentiated at: fresh leaves, or (create_graph) aliases that
    keep their history so the result stays differentiable w.r.t. the originals."""
    out = []
    for t in inputs:
        if create_graph and t._requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(t._data.dtype.kind in D.FLOAT_KINDS))
    return tuple(out)


def _finish(values, create_graph):
    """Results detached unless create_graph (then they keep their graph)."""
    if create_graph:
        return tuple(values)
    return tuple(None if v is None else v.detach() for v in values)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    from . import grad
    import pellucid
    needs = [o for o in outputs if o._requires_grad]
    if not needs:
        if strict:
            raise RuntimeError(f"The output of the user-provided function is independent of input 0. "
                               f"This is not allowed in strict mode when computing {what}.")
        return tuple(pellucid.zeros_like(t) for t in inputs)
    idx = [i for i, o in enumerate(outputs) if o._requires_grad]
    gos = None if grad_outputs is None else [grad_outputs[i] for i in idx]
    res = grad([outputs[i] for i in idx], inputs, gos, retain_graph=True, create_graph=create_graph,
               allow_unused=True)
    out = []
    for i, (g, t) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"The output of the user-provided function is independent of input {i}. This is "
                    f"not allowed in strict mode when computing {what}.")
            g = pellucid.zeros_like(t)
        out.append(g)
    return tuple(out)


def _check_v(v, outputs, fn_name, what="output"):
    if v is None:
        if len(outputs) != 1 or outputs[0]._data.size != 1:
            raise RuntimeError(f"The vector v can only be None if the user-provided function returns "
                               f"a single Tensor with a single element ({fn_name}).")
        import pellucid
        return (pellucid.ones_like(outputs[0]),)
    _, vs = _as_tuple(v, "v", fn_name)
    if len(vs) != len(outputs):
        raise RuntimeError(f"v has invalid size: should be {len(outputs)} but got {len(vs)} ({fn_name}).")
    for i, (a, b) in enumerate(zip(vs, outputs)):
        if a._data.shape != b._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: shape of v[{i}] {list(a._data.shape)} should match the shape of "
                f"the {what}[{i}] {list(b._data.shape)} ({fn_name}).")
    return vs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J)."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        vs = _check_v(v, outputs, "vjp")
        res = _grads(outputs, inputs, vs, create_graph, strict, "vjp")
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(res, create_graph), is_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v), by differentiating v^T J with respect to v."""
    import pellucid
    from . import grad
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph)
        if v is None:
            if len(inputs) != 1 or inputs[0]._data.size != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided "
                                   "function is a single Tensor with a single element (jvp).")
            vs = (pellucid.ones_like(inputs[0]),)
        else:
            vs = _check_v(v, inputs, "jvp", what="input")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        dummies = tuple(pellucid.zeros_like(o).requires_grad_() for o in outputs)
        vjps = _grads(outputs, inputs, dummies, True, strict, "jvp")
        live = [(g, v_) for g, v_ in zip(vjps, vs) if g._requires_grad]
        if live:
            res = grad([g for g, _ in live], dummies, [v_ for _, v_ in live], retain_graph=True,
                       create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(outputs)
        if strict and any(r is None for r in res):
            raise RuntimeError("The output of the user-provided function is independent of the inputs. "
                               "This is not allowed in strict mode (jvp).")
        res = tuple(pellucid.zeros_like(o) if r is None else r for r, o in zip(res, outputs))
    return _unpack(_finish(outputs, create_graph), out_tuple), _unpack(_finish(res, create_graph), out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """Jacobian of `func` at `inputs`: shape output.shape + input.shape (tuples of those for
    several outputs/inputs), one backward pass per output element."""
    import pellucid
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        result = []
        for out in outputs:
            n = out._data.size
            rows = [[] for _ in inputs]
            xp = _xp(out._data)
            for k in range(n):
                onehot = xp.zeros(n, dtype=out._data.dtype)
                onehot[k] = 1
                go = _T()._make(onehot.reshape(out._data.shape))
                gs = _grads((out,), inputs, (go,), create_graph, strict, "jacobian")
                for r, g in zip(rows, gs):
                    r.append(g)
            per_input = []
            for r, t in zip(rows, inputs):
                shape = tuple(out._data.shape) + tuple(t._data.shape)
                if n == 0:
                    per_input.append(pellucid.zeros(shape, dtype=t.dtype, device=t.device))
                else:
                    per_input.append(pellucid.stack(r).reshape(shape))
            result.append(_finish(per_input, create_graph))
    if not out_tuple and not is_tuple:
        return result[0][0]
    if not out_tuple:
        return result[0]
    if not is_tuple:
        return tuple(r[0] for r in result)
    return tuple(result)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Hessian of a scalar function: the Jacobian of its gradient."""
    from . import grad
    is_tuple, inputs_t = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*inp):
        out_tuple, out = _as_tuple(func(*inp), "outputs of the user-provided function", "hessian")
        if out_tuple or len(out) != 1 or out[0]._data.size != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a "
                               "single element")
        out = out[0].reshape(())
        if not out._requires_grad:
            if strict:
                raise RuntimeError("The output of the user-provided function is independent of the "
                                   "inputs. This is not allowed in strict mode (hessian).")
            import pellucid
            return tuple(pellucid.zeros_like(t) for t in inp)
        gs = grad(out, inp, create_graph=True, allow_unused=True)
        import pellucid
        return tuple(pellucid.zeros_like(t) if g is None else g for g, t in zip(gs, inp))

    res = jacobian(gradient, inputs_t, create_graph=create_graph, strict=strict)
    if not is_tuple:
        return res[0][0]
    return res


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    from . import grad
    import pellucid
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _prepare_inputs(inputs, create_graph)
        if v is None:
            if len(inputs) != 1 or inputs[0]._data.size != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided "
                                   "function is a single Tensor with a single element (vhp).")
            vs = (pellucid.ones_like(inputs[0]),)
        else:
            vs = _check_v(v, inputs, "vhp", what="input")
        out_tuple, out = _as_tuple(func(*inputs), "outputs of the user-provided function", "vhp")
        if out_tuple or len(out) != 1 or out[0]._data.size != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a "
                               "single element")
        out = out[0]
        gs = _grads((out,), inputs, None, True, strict, "vhp")
        live = [(g, v_, i) for i, (g, v_) in enumerate(zip(gs, vs)) if g._requires_grad]
        res = [pellucid.zeros_like(t) for t in inputs]
        if live:
            hs = grad([g for g, _, _ in live], inputs, [v_ for _, v_, _ in live], retain_graph=True,
                      create_graph=create_graph, allow_unused=True)
            res = [r if h is None else h for r, h in zip(res, hs)]
    return _finish((out,), create_graph)[0], _unpack(_finish(res, create_graph), is_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar function (H is symmetric, so this is v^T H)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)


def _xp(arr):
    from .. import _backend
    return _backend.xp_of(arr)
