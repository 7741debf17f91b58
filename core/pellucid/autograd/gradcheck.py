"""Finite-difference checks of analytical gradients (first and second order)."""
import numpy as np

from .. import _backend, _dispatch


def _T():
    return _dispatch.Tensor


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _flat_outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if isinstance(o, _T())]


def _as_f64(t):
    # a copy: an output may be a view of the input that is about to be perturbed again
    return np.array(_backend.to_numpy(t._data), dtype=np.float64).reshape(-1)


def _numerical_jacobian(fn, inputs, idx, eps):
    """d(outputs)/d(inputs[idx]) by central differences: list over outputs of (n_in, n_out).
    Elements are perturbed in place through their index, so strided inputs work too."""
    x = inputs[idx]
    data = x._data
    n = data.size
    # grad mode stays on: `fn` may itself differentiate (gradgradcheck's first derivatives)
    outs0 = _flat_outputs(fn, inputs)
    jac = [np.zeros((n, o._data.size), dtype=np.float64) for o in outs0]
    for i in range(n):
        pos = np.unravel_index(i, data.shape)
        orig = data[pos].item()
        data[pos] = orig + eps
        plus = [_as_f64(o) for o in _flat_outputs(fn, inputs)]
        data[pos] = orig - eps
        minus = [_as_f64(o) for o in _flat_outputs(fn, inputs)]
        data[pos] = orig
        for j in range(len(jac)):
            jac[j][i] = (plus[j] - minus[j]) / (2 * eps)
    return jac


def _analytical_jacobian(fn, inputs, diff_idx):
    from . import grad
    T = _T()
    outs = _flat_outputs(fn, inputs)
    jacs = {i: [np.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in diff_idx}
    for j, o in enumerate(outs):
        if not o._requires_grad:
            continue
        for k in range(o._data.size):
            go = _backend.xp_of(o._data).zeros(o._data.size, dtype=o._data.dtype)
            go[k] = 1
            gs = grad([o], [inputs[i] for i in diff_idx], [T._make(go.reshape(o._data.shape))],
                      retain_graph=True, allow_unused=True)
            for i, g in zip(diff_idx, gs):
                if g is not None:
                    jacs[i][j][:, k] = _as_f64(g)
    return jacs


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **kwargs):
    """True when analytical gradients of `func` match finite differences at `inputs`."""
    T = _T()
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, T) and x._requires_grad]
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            import warnings
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check may fail "
                          "for precision reasons alone.", UserWarning, stacklevel=2)
    analytical = _analytical_jacobian(func, inputs, diff_idx)
    again = _analytical_jacobian(func, inputs, diff_idx)
    for i in diff_idx:
        for a, b in zip(analytical[i], again[i]):
            if not np.allclose(a, b, rtol=0, atol=nondet_tol):
                if raise_exception:
                    raise GradcheckError(
                        "Backward is not reentrant, i.e., running backward with same input and "
                        "grad_output multiple times gives different values, although analytical "
                        f"gradient matches numerical gradient. The tolerance for nondeterminism "
                        f"was {nondet_tol}.")
                return False
    for i in diff_idx:
        numerical = _numerical_jacobian(func, inputs, i, eps)
        for j, (a, n) in enumerate(zip(analytical[i], numerical)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {j} with respect to input {i},\n"
                        f"numerical:{n}\nanalytical:{a}\n")
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **kwargs):
    """Checks second derivatives: gradcheck of the function that returns first derivatives."""
    from . import grad
    T = _T()
    inputs = _as_tuple(inputs)
    outs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(T._make(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_()
                             for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, T) and x._requires_grad]

    def first_grads(*args):
        ins, gos = args[:n_in], args[n_in:]
        o = _flat_outputs(func, ins)
        gs = grad(o, [ins[i] for i in diff_idx], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    pass
