"""Matrix products and linear algebra against PyTorch: values, dtypes, shapes and gradients of
(out * w).sum() for every matmul shape case, the fused add-products, einsum, tensordot, kron,
cross, trace and pellucid.linalg; finite-difference checks of first and second derivatives."""
import math
import warnings

import numpy as np
import pytest
import torch

import pellucid
from pellucid.autograd import gradcheck, gradgradcheck

TOL = {np.float32: dict(rtol=3e-4, atol=3e-5), np.float64: dict(rtol=1e-8, atol=1e-10),
       np.float16: dict(rtol=1e-2, atol=1e-2)}


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach())


def _tol(arr):
    return TOL.get(arr.dtype.type, dict(rtol=0, atol=0))


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _pair(arr, grad, noncontig):
    grad = grad and arr.dtype.kind == "f"
    if noncontig and arr.ndim >= 2:
        rev = tuple(reversed(range(arr.ndim)))
        base = np.ascontiguousarray(arr.transpose(rev))
        pl = pellucid.tensor(base.copy(), requires_grad=grad)
        tl = torch.tensor(base.copy(), requires_grad=grad)
        return pl, tl, pl.permute(*rev), tl.permute(*rev)
    pl = pellucid.tensor(arr.copy(), requires_grad=grad)
    tl = torch.tensor(arr.copy(), requires_grad=grad)
    return pl, tl, pl, tl


def check(fn_p, fn_t, *arrays, grad=True, noncontig=False, tol=None, seed=0):
    """Run both; compare outputs (shape, dtype, values) and gradients of sum(out * w)."""
    rng = np.random.default_rng(seed)
    pairs = [_pair(a, grad, noncontig) for a in arrays]
    out_p = _flat(fn_p(*[p[2] for p in pairs]))
    out_t = _flat(fn_t(*[p[3] for p in pairs]))
    assert len(out_p) == len(out_t)
    loss_p = loss_t = None
    for i, (op, ot) in enumerate(zip(out_p, out_t)):
        assert tuple(op.shape) == tuple(ot.shape), f"output {i}: shape {tuple(op.shape)} != {tuple(ot.shape)}"
        assert op.dtype.name == str(ot.dtype).split(".")[-1], f"output {i}: dtype {op.dtype} != {ot.dtype}"
        np.testing.assert_allclose(_np(op).astype(np.float64), _np(ot).astype(np.float64), equal_nan=True,
                                   err_msg=f"output {i}", **(tol or _tol(_np(ot))))
        if grad and ot.requires_grad:
            w = rng.standard_normal(tuple(ot.shape)).astype(_np(ot).dtype)
            lp, lt = (op * pellucid.tensor(w)).sum(), (ot * torch.tensor(w)).sum()
            loss_p = lp if loss_p is None else loss_p + lp
            loss_t = lt if loss_t is None else loss_t + lt
    if loss_t is None:
        return out_p
    loss_p.backward()
    loss_t.backward()
    for i, (pl, tl, _, _) in enumerate(pairs):
        if tl.grad is None:
            assert pl.grad is None, f"input {i}: unexpected gradient"
            continue
        assert pl.grad is not None, f"input {i}: no gradient"
        assert tuple(pl.grad.shape) == tuple(tl.grad.shape), f"input {i}: gradient shape"
        np.testing.assert_allclose(_np(pl.grad), _np(tl.grad), err_msg=f"gradient of input {i}",
                                   **(tol or _tol(_np(tl.grad))))
    return out_p


def rand(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def leaf(arr):
    return pellucid.tensor(arr, requires_grad=True)


def both(name):
    """The function `name` (dotted allowed) from pellucid and from torch."""
    def get(mod):
        for part in name.split("."):
            mod = getattr(mod, part)
        return mod
    return get(pellucid), get(torch)


FLOATS = [np.float32, np.float64]


# ---- matmul -----------------------------------------------------------------------------------

MATMUL_CASES = [
    ((3,), (3,)),                 # dot
    ((2, 3), (3,)),               # matrix @ vector
    ((3,), (3, 4)),               # vector @ matrix
    ((2, 3), (3, 4)),             # mm
    ((5, 2, 3), (3, 4)),          # batched @ matrix
    ((2, 3), (5, 3, 4)),          # matrix @ batched
    ((5, 2, 3), (5, 3, 4)),       # bmm
    ((5, 1, 2, 3), (4, 3, 2)),    # broadcast batch dims
    ((1, 2, 3), (6, 3, 4)),       # batch 1 against 6
    ((3,), (5, 3, 4)),            # vector @ batched
    ((5, 2, 3), (3,)),            # batched @ vector
    ((2, 1, 2, 3), (3,)),
    ((3,), (2, 1, 3, 4)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_CASES, ids=str)
@pytest.mark.parametrize("dt", FLOATS)
def test_matmul_shape_cases(sa, sb, dt):
    a, b = rand(*sa, dtype=dt, seed=1), rand(*sb, dtype=dt, seed=2)
    for nc in (False, True):
        check(pellucid.matmul, torch.matmul, a, b, noncontig=nc)
    check(lambda x, y: x @ y, lambda x, y: x @ y, a, b)


@pytest.mark.parametrize("sa,sb", MATMUL_CASES, ids=str)
def test_matmul_gradcheck_and_gradgradcheck(sa, sb):
    a, b = leaf(rand(*sa, seed=3)), leaf(rand(*sb, seed=4))
    assert gradcheck(pellucid.matmul, (a, b))
    assert gradgradcheck(pellucid.matmul, (a, b))


def test_matmul_gradient_only_for_inputs_that_need_it():
    a = leaf(rand(4, 2, 3))
    b = pellucid.tensor(rand(3, 5))
    (a @ b).sum().backward()
    assert a.grad is not None and b.grad is None


def test_rmatmul_and_integer_matmul():
    ia = np.arange(6, dtype=np.int64).reshape(2, 3)
    ib = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = check(pellucid.matmul, torch.matmul, ia, ib, grad=False)
    assert out[0].dtype == pellucid.int64 and not out[0].requires_grad
    check(lambda x, y: x @ y, lambda x, y: x @ y, ia[0], ib, grad=False)
    a = pellucid.tensor(rand(2, 3))
    assert a.__rmatmul__(pellucid.tensor(rand(4, 2))).shape == (4, 3)
    assert a.__matmul__(np.ones((3, 2))) is NotImplemented


def test_matmul_float16_matches_torch():
    a, b = rand(4, 8, dtype=np.float16), rand(8, 3, dtype=np.float16, seed=1)
    check(pellucid.matmul, torch.matmul, a, b, grad=False)


@pytest.mark.parametrize("sa,sb,msg", [
    ((2, 3), (4, 5), r"matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((3,), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"),
    ((3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
    ((2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ((2, 2, 3), (2, 4, 5),
     r"matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\).*\[2, 2, 3\].*\[2, 4, 5\]"),
    ((2, 3, 3), (4, 3, 3), r"size of tensor a \(2\) must match the size of tensor b \(4\)"),
    ((), (3,), r"at least 1D"),
])
def test_matmul_shape_errors_name_op_and_shapes(sa, sb, msg):
    with pytest.raises(RuntimeError, match=msg):
        pellucid.matmul(pellucid.ones(sa), pellucid.ones(sb))


def test_matmul_dtype_mismatch():
    with pytest.raises(RuntimeError, match="matmul.*same dtype.*float32.*float64"):
        pellucid.ones(2, 3) @ pellucid.ones(3, 2, dtype=pellucid.float64)


# ---- mm, bmm, mv, dot, outer, inner, add-products ----------------------------------------------

@pytest.mark.parametrize("name,shapes", [
    ("mm", [(2, 3), (3, 4)]), ("bmm", [(5, 2, 3), (5, 3, 4)]), ("mv", [(2, 3), (3,)]),
    ("dot", [(4,), (4,)]), ("vdot", [(4,), (4,)]), ("outer", [(3,), (4,)]), ("ger", [(3,), (4,)]),
    ("inner", [(2, 3), (4, 3)]), ("inner", [(3,), (3,)]), ("inner", [(2, 5, 3), (3,)]),
    ("kron", [(2, 3), (3, 2)]), ("kron", [(2,), (2, 3, 2)]), ("trace", [(3, 4)]),
    ("addmm", [(2, 4), (2, 3), (3, 4)]), ("addmm", [(4,), (2, 3), (3, 4)]),
    ("addmv", [(2,), (2, 3), (3,)]), ("addbmm", [(2, 4), (5, 2, 3), (5, 3, 4)]),
    ("baddbmm", [(5, 2, 4), (5, 2, 3), (5, 3, 4)]), ("baddbmm", [(2, 4), (5, 2, 3), (5, 3, 4)]),
    ("addr", [(3, 4), (3,), (4,)]), ("diag_embed", [(2, 3)]),
], ids=str)
@pytest.mark.parametrize("dt", FLOATS)
def test_products(name, shapes, dt):
    fp, ft = both(name)
    arrays = [rand(*s, dtype=dt, seed=i) for i, s in enumerate(shapes)]
    # torch.kron views its input internally and rejects some permuted layouts
    check(fp, ft, *arrays, noncontig=dt is np.float64 and name != "kron")
    check(getattr(pellucid.Tensor, name), getattr(torch.Tensor, name), *arrays)
    if name == "kron":
        p = pellucid.tensor(np.ascontiguousarray(arrays[1].T)).permute(*reversed(range(arrays[1].ndim)))
        np.testing.assert_allclose(_np(pellucid.kron(pellucid.tensor(arrays[0]), p)),
                                   np.kron(arrays[0], arrays[1]), **_tol(arrays[1]))


@pytest.mark.parametrize("name,shapes", [
    ("addmm", [(2, 4), (2, 3), (3, 4)]), ("addmv", [(2,), (2, 3), (3,)]),
    ("addbmm", [(2, 4), (5, 2, 3), (5, 3, 4)]), ("baddbmm", [(5, 2, 4), (5, 2, 3), (5, 3, 4)]),
    ("addr", [(3, 4), (3,), (4,)]),
])
@pytest.mark.parametrize("beta,alpha", [(0.5, 2.0), (0, 1.5), (1, -1)])
def test_add_products_beta_alpha(name, shapes, beta, alpha):
    fp, ft = both(name)
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    if beta == 0:
        arrays[0][...] = np.nan         # beta=0 ignores input, nan included
    check(lambda *a: fp(*a, beta=beta, alpha=alpha), lambda *a: ft(*a, beta=beta, alpha=alpha), *arrays)
    ins = [leaf(a) for a in arrays]
    assert gradcheck(lambda *a: fp(*a, beta=beta, alpha=alpha), tuple(ins)) if beta != 0 else True


@pytest.mark.parametrize("name,shapes", [
    ("addmm_", [(2, 4), (2, 3), (3, 4)]), ("addmv_", [(2,), (2, 3), (3,)]),
    ("baddbmm_", [(5, 2, 4), (5, 2, 3), (5, 3, 4)]), ("addbmm_", [(2, 4), (5, 2, 3), (5, 3, 4)]),
    ("addr_", [(3, 4), (3,), (4,)]),
])
def test_add_products_in_place(name, shapes):
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]

    def run(mod, T):
        base, a, b = (T(x.copy(), requires_grad=True) for x in arrays)
        x = base * 1.0
        r = getattr(x, name)(a, b, beta=0.5, alpha=2.0)
        assert r is x
        (x * T(np.arange(x.numel(), dtype=np.float64).reshape(tuple(x.shape)))).sum().backward()
        return x, base.grad, a.grad, b.grad
    for p, t in zip(run(pellucid, pellucid.tensor), run(torch, torch.tensor)):
        np.testing.assert_allclose(_np(p), _np(t), rtol=1e-10)


def test_product_errors():
    with pytest.raises(RuntimeError, match="mm: mat1 and mat2 shapes cannot be multiplied \\(2x3 and 4x5\\)"):
        pellucid.mm(pellucid.ones(2, 3), pellucid.ones(4, 5))
    with pytest.raises(RuntimeError, match="mm: self must be a 2D tensor"):
        pellucid.mm(pellucid.ones(3), pellucid.ones(3, 5))
    with pytest.raises(RuntimeError, match=r"bmm: Expected size for first two dimensions of batch2 tensor "
                                           r"to be: \[2, 3\] but got: \[2, 4\]"):
        pellucid.bmm(pellucid.ones(2, 2, 3), pellucid.ones(2, 4, 5))
    with pytest.raises(RuntimeError, match="dot: 1D tensors expected"):
        pellucid.dot(pellucid.ones(2, 3), pellucid.ones(3))
    with pytest.raises(RuntimeError, match="mv: size mismatch"):
        pellucid.mv(pellucid.ones(2, 3), pellucid.ones(4))
    with pytest.raises(RuntimeError, match="addmm: input of shape \\[3\\] can't be broadcast"):
        pellucid.addmm(pellucid.ones(3), pellucid.ones(2, 3), pellucid.ones(3, 4))
    with pytest.raises(RuntimeError, match="outer: Expected 1-D"):
        pellucid.outer(pellucid.ones(2, 2), pellucid.ones(2))
    with pytest.raises(RuntimeError, match="trace: expected a matrix"):
        pellucid.trace(pellucid.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="inner.*last dimension"):
        pellucid.inner(pellucid.ones(2, 3), pellucid.ones(2, 4))


def test_trace_of_integers_is_int64():
    check(pellucid.trace, torch.trace, np.arange(12, dtype=np.int32).reshape(3, 4), grad=False)


@pytest.mark.parametrize("offset,d1,d2", [(0, -2, -1), (1, 0, 2), (-2, 2, 0), (1, -1, 1)])
def test_diag_embed(offset, d1, d2):
    check(lambda a: pellucid.diag_embed(a, offset, d1, d2), lambda a: torch.diag_embed(a, offset, d1, d2),
          rand(2, 3))
    assert gradgradcheck(lambda a: pellucid.diag_embed(a, offset, d1, d2) ** 2, (leaf(rand(2, 3)),))


# ---- einsum and tensordot ------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(3, 3, 2)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("...ij,jk", [(5, 2, 3), (3, 4)]),
    ("i...->...", [(3, 2, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 3)]),
    ("ij,k->", [(2, 3), (4,)]),
    ("ba,ac", [(2, 3), (3, 4)]),
    ("Ab,bC->CA", [(2, 3), (3, 4)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
@pytest.mark.parametrize("dt", FLOATS)
def test_einsum(eq, shapes, dt):
    arrays = [rand(*s, dtype=dt, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: pellucid.einsum(eq, *a), lambda *a: torch.einsum(eq, *a), *arrays,
          noncontig=dt is np.float64)


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_gradcheck(eq, shapes):
    ins = tuple(leaf(rand(*s, seed=i)) for i, s in enumerate(shapes))
    assert gradcheck(lambda *a: pellucid.einsum(eq, *a), ins)


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
                                       ("bi,bi->b", [(2, 3), (2, 3)]), ("ij,k->", [(2, 3), (4,)])])
def test_einsum_gradgradcheck(eq, shapes):
    ins = tuple(leaf(rand(*s, seed=i)) for i, s in enumerate(shapes))
    assert gradgradcheck(lambda *a: pellucid.einsum(eq, *a) ** 2, ins)


def test_einsum_calling_forms():
    a, b = rand(2, 3), rand(3, 4, seed=1)
    check(lambda x, y: pellucid.einsum("ij,jk->ik", [x, y]), lambda x, y: torch.einsum("ij,jk->ik", [x, y]), a, b)
    check(lambda x, y: pellucid.einsum(x, [0, 1], y, [1, 2], [0, 2]),
          lambda x, y: torch.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    check(lambda x, y: pellucid.einsum(x, [Ellipsis, 1], y, [1, 2]),
          lambda x, y: torch.einsum(x, [Ellipsis, 1], y, [1, 2]), a, b)
    ia = np.arange(6, dtype=np.int64).reshape(2, 3)
    check(lambda x: pellucid.einsum("ij->j", x), lambda x: torch.einsum("ij->j", x), ia, grad=False)


def test_einsum_output_owns_its_data():
    x = pellucid.tensor(rand(3, 3))
    d = pellucid.einsum("ii->i", x)
    x._data[0, 0] = 100.0
    assert d.tolist()[0] != 100.0


def test_einsum_same_operand_twice():
    x = leaf(rand(3, 4))
    pellucid.einsum("ij,ij->", x, x).backward()
    np.testing.assert_allclose(_np(x.grad), 2 * _np(x))


@pytest.mark.parametrize("eq,shapes,msg", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "einsum.*subscript j"),
    ("ij,jk->ik", [(2, 3)], "einsum.*fewer operands"),
    ("ij->ik", [(2, 3)], "einsum.*output subscript k"),
    ("ij->ii", [(2, 2)], "einsum.*appears more than once"),
    ("ijk->i", [(2, 3)], "einsum.*number of subscripts"),
    ("i1->i", [(2, 3)], "einsum.*invalid subscript"),
])
def test_einsum_errors(eq, shapes, msg):
    with pytest.raises(RuntimeError, match=msg):
        pellucid.einsum(eq, *[pellucid.ones(*s) for s in shapes])
    with pytest.raises(RuntimeError, match="einsum.*same dtype"):
        pellucid.einsum("i,i->", pellucid.ones(2), pellucid.ones(2, dtype=pellucid.float64))


@pytest.mark.parametrize("dims,sa,sb", [
    (0, (3, 2), (4,)), (1, (3, 4, 2), (2, 5)), (2, (3, 4, 2), (4, 2, 5)), (([1, 0], [0, 2]), (3, 4, 2), (4, 5, 3)),
    (([-1], [0]), (3, 4, 2), (2, 5)), (([1], [0]), (3, 4), (4, 5)),
], ids=str)
def test_tensordot(dims, sa, sb):
    check(lambda a, b: pellucid.tensordot(a, b, dims), lambda a, b: torch.tensordot(a, b, dims),
          rand(*sa), rand(*sb, seed=1), noncontig=True)


# ---- cross ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb,dim", [((4, 3), (4, 3), -1), ((3, 4), (3, 4), 0), ((2, 3), (1, 3), -1),
                                       ((2, 1, 3), (1, 5, 3), 2)])
def test_linalg_cross(sa, sb, dim):
    for dt in FLOATS:
        check(lambda a, b: pellucid.linalg.cross(a, b, dim=dim), lambda a, b: torch.linalg.cross(a, b, dim=dim),
              rand(*sa, dtype=dt), rand(*sb, dtype=dt, seed=1))
    assert gradgradcheck(lambda a, b: pellucid.linalg.cross(a, b, dim=dim),
                         (leaf(rand(*sa)), leaf(rand(*sb, seed=1))))


def test_torch_cross_default_dim_is_first_of_size_3():
    a, b = rand(3, 3, 2), rand(3, 3, 2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(pellucid.cross, torch.cross, a, b)
        check(lambda x, y: x.cross(y, 1), lambda x, y: x.cross(y, 1), a, b)
    with pytest.raises(RuntimeError, match="linalg.cross.*length 3"):
        pellucid.linalg.cross(pellucid.ones(2, 4), pellucid.ones(2, 4))
    with pytest.raises(RuntimeError, match="linalg.cross.*same number of dimensions"):
        pellucid.linalg.cross(pellucid.ones(2, 3), pellucid.ones(3))


# ---- pellucid.linalg -------------------------------------------------------------------------------

def spd(n, batch=(), seed=0):
    a = rand(*batch, n, n, seed=seed)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)], ids=str)
@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
def test_inv_det_slogdet(name, shape):
    fp, ft = both("linalg." + name)
    for dt in FLOATS:
        check(fp, ft, rand(*shape, dtype=dt, seed=3) + 2 * np.eye(shape[-1], dtype=dt), noncontig=True)


def test_legacy_names():
    a = spd(3)
    check(pellucid.inverse, torch.inverse, a)
    check(pellucid.det, torch.det, a)
    check(pellucid.logdet, torch.logdet, a)
    check(lambda x: x.logdet(), lambda x: x.logdet(), np.diag([-1.0, 2.0, 3.0]))
    check(pellucid.slogdet, torch.slogdet, a)
    check(lambda x: x.inverse(), lambda x: x.inverse(), a)
    check(lambda x: x.det(), lambda x: x.det(), a)


def test_det_gradient_of_singular_matrix_is_the_cofactor_matrix():
    # rank n-1: det is 0 but its gradient (the cofactor matrix) is not; finite differences agree
    s = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    t = leaf(s)
    pellucid.linalg.det(t).backward()
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(s, i, 0), j, 1)) for j in range(3)]
                    for i in range(3)])
    np.testing.assert_allclose(_np(t.grad), cof, atol=1e-12)
    assert gradcheck(pellucid.linalg.det, (leaf(s),))
    assert gradcheck(pellucid.linalg.det, (leaf(np.zeros((2, 3, 3))),))


@pytest.mark.parametrize("sa,sb,left", [
    ((3, 3), (3, 2), True), ((3, 3), (3,), True), ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3, 4), True),
    ((3, 3), (2, 3), False), ((2, 3, 3), (1, 4, 3), False),
], ids=str)
def test_solve(sa, sb, left):
    a = rand(*sa, seed=5) + 3 * np.eye(sa[-1])
    for dt in FLOATS:
        check(lambda x, y: pellucid.linalg.solve(x, y, left=left), lambda x, y: torch.linalg.solve(x, y, left=left),
              a.astype(dt), rand(*sb, dtype=dt, seed=6))
    assert gradcheck(lambda x, y: pellucid.linalg.solve(x, y, left=left), (leaf(a), leaf(rand(*sb, seed=6))))


def test_solve_errors():
    with pytest.raises(RuntimeError, match="linalg.solve: A must be batches of square matrices"):
        pellucid.linalg.solve(pellucid.ones(2, 3), pellucid.ones(2))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes.*\(3x3 and 4x2\)"):
        pellucid.linalg.solve(pellucid.eye(3), pellucid.ones(4, 2))
    with pytest.raises(pellucid.linalg.LinAlgError, match="linalg.solve.*singular"):
        pellucid.linalg.solve(pellucid.zeros(3, 3), pellucid.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes.*XA = B \(3x3 and 3x1\)"):
        pellucid.linalg.solve(pellucid.eye(3), pellucid.ones(3), left=False)
    with pytest.raises(RuntimeError, match="linalg.inv.*singular"):
        pellucid.linalg.inv(pellucid.zeros(2, 2))
    with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point"):
        pellucid.linalg.inv(pellucid.tensor([[1, 0], [0, 1]]))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper):
    for dt in FLOATS:
        check(lambda a: pellucid.linalg.cholesky(a, upper=upper), lambda a: torch.linalg.cholesky(a, upper=upper),
              spd(3, (2,)).astype(dt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # torch.cholesky is deprecated in PyTorch
        check(lambda a: pellucid.cholesky(a, upper), lambda a: torch.cholesky(a, upper), spd(3))
    assert gradcheck(lambda a: pellucid.linalg.cholesky(a @ a.mT + 3 * pellucid.eye(3, dtype=pellucid.float64),
                                                        upper=upper), (leaf(rand(3, 3)),))
    with pytest.raises(pellucid.linalg.LinAlgError, match="cholesky.*positive-definite"):
        pellucid.linalg.cholesky(-pellucid.eye(2))


def _sign_free_eigh(mod, a, w):
    vals, vecs = mod.linalg.eigh(a)
    return vals, vecs * vecs * w          # squared eigenvectors do not depend on their signs


def test_eigh():
    w = rand(2, 3, 3, seed=9)
    check(lambda a: _sign_free_eigh(pellucid, a, pellucid.tensor(w)),
          lambda a: _sign_free_eigh(torch, a, torch.tensor(w)), spd(3, (2,), seed=8))
    check(pellucid.linalg.eigvalsh, torch.linalg.eigvalsh, spd(4, seed=1))
    check(lambda a: pellucid.linalg.eigh(a, UPLO="U")[0], lambda a: torch.linalg.eigh(a, UPLO="U")[0], rand(3, 3))
    assert gradcheck(lambda a: _sign_free_eigh(pellucid, a + a.mT, pellucid.tensor(w[0])), (leaf(rand(3, 3)),))
    assert gradgradcheck(lambda a: _sign_free_eigh(pellucid, a + a.mT, pellucid.tensor(w[0])), (leaf(rand(3, 3)),))


def _sign_free_svd(mod, a):
    u, s, vh = mod.linalg.svd(a, full_matrices=False)
    return u @ vh, s, u * u, vh * vh        # all invariant to flipping a singular pair's signs


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 4, 3)], ids=str)
def test_svd(shape):
    for dt in FLOATS:
        check(lambda a: _sign_free_svd(pellucid, a), lambda a: _sign_free_svd(torch, a), rand(*shape, dtype=dt))
        check(pellucid.linalg.svdvals, torch.linalg.svdvals, rand(*shape, dtype=dt), noncontig=True)
    assert gradcheck(lambda a: _sign_free_svd(pellucid, a), (leaf(rand(*shape)),))
    assert gradcheck(pellucid.linalg.svdvals, (leaf(rand(*shape)),))


def test_svd_second_derivatives_and_full_matrices():
    assert gradgradcheck(lambda a: _sign_free_svd(pellucid, a)[1], (leaf(rand(4, 3)),))
    u, s, vh = pellucid.linalg.svd(pellucid.tensor(rand(4, 3)))
    assert tuple(u.shape) == (4, 4) and tuple(vh.shape) == (3, 3)
    x = leaf(rand(4, 3))
    pellucid.linalg.svd(x).S.sum().backward()          # only S used: allowed with full matrices
    np.testing.assert_allclose(_np(x.grad), _np(pellucid.linalg.svd(x, False)[0] @ pellucid.linalg.svd(x, False)[2]))
    with pytest.raises(RuntimeError, match="full_matrices=False"):
        pellucid.linalg.svd(x).U.sum().backward()
    check(lambda a: (lambda r: (r.U @ r.V.mT, r.S))(pellucid.svd(a)),
          lambda a: (lambda r: (r.U @ r.V.mT, r.S))(torch.svd(a)), rand(4, 3))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf], ids=str)
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((0, 2), True), ((2, 0), False)], ids=str)
def test_matrix_norm(ord, dim, keepdim):
    x = rand(3, 2, 4, seed=10)
    check(lambda a: pellucid.linalg.matrix_norm(a, ord, dim, keepdim),
          lambda a: torch.linalg.matrix_norm(a, ord, dim, keepdim), x)
    assert gradcheck(lambda a: pellucid.linalg.matrix_norm(a, ord, dim, keepdim), (leaf(x),))


@pytest.mark.parametrize("args", [
    dict(), dict(ord=math.inf), dict(dim=1), dict(dim=(0, 1)), dict(ord="nuc"),
    dict(ord=-2), dict(ord=1, dim=0, keepdim=True), dict(ord=0.5, dim=(1,)),
], ids=str)
def test_linalg_norm(args):
    x = rand(3, 4, seed=11)
    check(lambda a: pellucid.linalg.norm(a, **args), lambda a: torch.linalg.norm(a, **args), x)


def test_matrix_norm_rejects_other_orders():
    for mod in (torch, pellucid):
        with pytest.raises(RuntimeError, match="matrix_norm: Order 3 not supported"):
            mod.linalg.norm(mod.ones(3, 4), ord=3)


@pytest.mark.parametrize("ord", [None, 2, 1, 0, -1, 0.5, math.inf], ids=str)
def test_linalg_norm_of_vectors(ord):
    check(lambda a: pellucid.linalg.norm(a, ord), lambda a: torch.linalg.norm(a, ord), rand(5, seed=2))
    with pytest.raises(RuntimeError, match="linalg.norm.*1D or 2D"):
        pellucid.linalg.norm(pellucid.ones(2, 2, 2), 2 if ord is None else ord)


@pytest.mark.parametrize("ord", [2, 1, 0, 3.5, math.inf, -math.inf], ids=str)
def test_vector_norm(ord):
    for dt in FLOATS:
        check(lambda a: pellucid.linalg.vector_norm(a, ord, (0, 2)), lambda a: torch.linalg.vector_norm(a, ord, (0, 2)),
              rand(2, 3, 4, dtype=dt), noncontig=True)


def test_norm_gradgradcheck():
    for f in (lambda a: pellucid.linalg.vector_norm(a), lambda a: pellucid.linalg.matrix_norm(a),
              lambda a: pellucid.linalg.norm(a, 3, 1)):
        assert gradgradcheck(f, (leaf(rand(3, 4)),))


def test_pinv_matrix_rank_power_multi_dot_vecdot():
    x = rand(4, 3, seed=12)
    check(pellucid.linalg.pinv, torch.linalg.pinv, x)
    check(lambda a: a.pinverse(), lambda a: a.pinverse(), x)
    low_rank = rand(4, 2) @ rand(2, 5, seed=1)
    check(pellucid.linalg.matrix_rank, torch.linalg.matrix_rank, low_rank, grad=False)
    sq = rand(2, 3, 3, seed=13) + 2 * np.eye(3)
    for n in (0, 1, 2, 5, -1, -3):
        check(lambda a: pellucid.linalg.matrix_power(a, n), lambda a: torch.linalg.matrix_power(a, n), sq)
    check(lambda a: a.matrix_power(3), lambda a: a.matrix_power(3), sq[0])
    mats = [rand(3,), rand(3, 5, seed=1), rand(5, 2, seed=2), rand(2, 4, seed=3), rand(4, seed=4)]
    check(lambda *m: pellucid.linalg.multi_dot(m), lambda *m: torch.linalg.multi_dot(m), *mats)
    check(lambda *m: pellucid.linalg.multi_dot(m), lambda *m: torch.linalg.multi_dot(m), *mats[1:4])
    check(lambda a, b: pellucid.linalg.vecdot(a, b, dim=0), lambda a, b: torch.linalg.vecdot(a, b, dim=0),
          rand(3, 4), rand(3, 1, seed=1))


LINALG_GRADGRAD = {
    "inv": lambda a: pellucid.linalg.inv(a),
    "det": lambda a: pellucid.linalg.det(a),
    "slogdet": lambda a: pellucid.linalg.slogdet(a).logabsdet,
    "solve": lambda a: pellucid.linalg.solve(a, a * a),
    "cholesky": lambda a: pellucid.linalg.cholesky(a @ a.mT + 3 * pellucid.eye(3, dtype=pellucid.float64)),
    "trace": lambda a: pellucid.trace(a @ a),
    "kron": lambda a: pellucid.kron(a, a),
    "tensordot": lambda a: pellucid.tensordot(a, a, 1),
}


@pytest.mark.parametrize("name", sorted(LINALG_GRADGRAD))
def test_linalg_gradcheck_and_gradgradcheck(name):
    a = leaf(rand(3, 3, seed=14) + 3 * np.eye(3))
    assert gradcheck(LINALG_GRADGRAD[name], (a,))
    assert gradgradcheck(LINALG_GRADGRAD[name], (a,))


SECOND_ORDER = {
    "svd": (lambda a: (lambda u, s, vh: (u @ vh, s))(*pellucid.linalg.svd(a, full_matrices=False)), [(4, 3)]),
    "svd_wide": (lambda a: (lambda u, s, vh: (u @ vh, s))(*pellucid.linalg.svd(a, full_matrices=False)), [(3, 4)]),
    "svdvals": (pellucid.linalg.svdvals, [(3, 4)]),
    "pinv": (pellucid.linalg.pinv, [(4, 3)]),
    "logdet": (lambda a: pellucid.logdet(a @ a.mT), [(3, 3)]),
    "matrix_norm_nuc": (lambda a: pellucid.linalg.matrix_norm(a, "nuc"), [(3, 4)]),
    "solve_right": (lambda a, b: pellucid.linalg.solve(a, b, left=False), [(3, 3), (2, 3)]),
    "addmm": (lambda a, b, c: pellucid.addmm(a, b, c, beta=0.5, alpha=2) ** 2, [(2, 4), (2, 3), (3, 4)]),
    "addbmm": (lambda a, b, c: pellucid.addbmm(a, b, c) ** 2, [(2, 4), (2, 2, 3), (2, 3, 4)]),
    "addmv": (lambda a, b, c: pellucid.addmv(a, b, c) ** 2, [(2,), (2, 3), (3,)]),
    "addr": (lambda a, b, c: pellucid.addr(a, b, c) ** 2, [(2, 4), (2,), (4,)]),
    "einsum_diag": (lambda a: pellucid.einsum("iij->ij", a) ** 2, [(3, 3, 2)]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_more_second_derivatives(name):
    f, shapes = SECOND_ORDER[name]
    ins = tuple(leaf(rand(*s, seed=20 + i)) for i, s in enumerate(shapes))
    if name == "solve_right":
        ins[0]._data += 3 * np.eye(3)
    assert gradgradcheck(f, ins)


def test_tensor_methods_exist():
    names = ["matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner",
             "addmm", "addmv", "addbmm", "baddbmm", "addr", "addmm_", "kron", "cross", "trace", "diag_embed",
             "inverse", "det", "logdet", "slogdet", "matrix_power", "cholesky", "pinverse", "svd"]
    for n in names:
        assert callable(getattr(pellucid.Tensor, n)), n


def test_grad_fn_names_match_pytorch():
    a, b = leaf(rand(2, 3)), leaf(rand(3, 4))
    assert (a @ b).grad_fn.name() == "MmBackward0"
    assert pellucid.dot(a.sum(0), a.sum(0)).grad_fn.name() == "DotBackward0"
    assert pellucid.mv(a, b.sum(1)).grad_fn.name() == "MvBackward0"
    assert pellucid.addmm(b.sum(0), a, b).grad_fn.name() == "AddmmBackward0"
    assert pellucid.trace(a).grad_fn.name() == "TraceBackward0"
