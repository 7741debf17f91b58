"""What a tensor is: shape and metadata, grad flags, Python conversions, NumPy/DLPack interop,
dtype and device conversions, the legacy constructors and the in-place writes."""
import types

import numpy as np
import pytest
import torch

import pellucid
from pellucid import _dispatch


def _same_values(p, t):
    assert p.dtype.name == str(t.dtype).split(".")[-1]
    assert tuple(p.shape) == tuple(t.shape)
    np.testing.assert_array_equal(p.detach().numpy(), t.detach().numpy())


# ---- identity ----------------------------------------------------------------------------------

def test_shape_size_dim_numel():
    t = pellucid.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, pellucid.Size)
    assert repr(t.shape) == "pellucid.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(0) == 2 and t.size(-1) == 4
    assert t.dim() == t.ndim == t.ndimension() == 3
    assert t.numel() == t.nelement() == 24 == pellucid.numel(t)
    assert t.dtype is pellucid.float32 and t.device == pellucid.device("cpu")
    assert t.device.type == "cpu" and not t.is_cuda and t.is_cpu
    assert t.element_size() == 4 and t.nbytes == 96 and t.itemsize == 4
    assert t.stride() == (12, 4, 1) and t.stride(1) == 4
    assert t.is_contiguous() and t.is_floating_point() and pellucid.is_tensor(t)
    assert pellucid.tensor(3).shape == () and pellucid.tensor(3).dim() == 0
    for dim in (3, -4):
        with pytest.raises(IndexError, match="Dimension out of range"):
            t.size(dim)
        with pytest.raises(IndexError):
            torch.zeros(2, 3, 4).size(dim)


def test_is_leaf_and_requires_grad_rules():
    a = pellucid.ones(2)
    assert a.is_leaf and not a.requires_grad
    b = pellucid.ones(2, requires_grad=True)
    assert b.is_leaf and b.requires_grad and b.grad_fn is None
    c = b * 2
    assert not c.is_leaf and c.requires_grad and type(c.grad_fn).__name__ == "MulBackward0"
    assert (a * 2).is_leaf                           # nothing tracked: still a leaf
    with pytest.raises(RuntimeError, match="floating point"):
        pellucid.ones(2, dtype=pellucid.int64).requires_grad_()
    with pytest.raises(RuntimeError):
        torch.ones(2, dtype=torch.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        pellucid.tensor([True]).requires_grad = True
    with pytest.raises(RuntimeError, match="leaf variables"):
        c.requires_grad = False
    c.requires_grad = True                            # allowed: it already requires grad
    assert a.requires_grad_() is a and a.requires_grad
    a.requires_grad_(False)
    assert not a.requires_grad


def test_data_is_detached_and_shares_memory():
    a = pellucid.tensor([1.0, 2.0], requires_grad=True)
    d = a.data
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d.numpy()[0] = 5.0
    assert a.detach().tolist() == [5.0, 2.0]
    a.data = pellucid.tensor([7.0, 8.0])
    assert a.requires_grad and a.detach().tolist() == [7.0, 8.0]
    with pytest.raises(TypeError):
        a.data = [1.0]
    det = a.detach()
    assert not det.requires_grad
    det.numpy()[1] = -1
    assert a.detach().tolist() == [7.0, -1.0]


# ---- Python conversions --------------------------------------------------------------------------

def test_item_and_tolist():
    assert pellucid.tensor(2.5).item() == 2.5 and isinstance(pellucid.tensor(2.5).item(), float)
    assert pellucid.tensor([[7]]).item() == 7 and isinstance(pellucid.tensor([7]).item(), int)
    assert pellucid.tensor(True).item() is True
    with pytest.raises(RuntimeError, match="2 elements"):
        pellucid.ones(2).item()
    with pytest.raises(RuntimeError):
        torch.ones(2).item()
    data = [[1, 2], [3, 4]]
    assert pellucid.tensor(data).tolist() == torch.tensor(data).tolist()
    assert pellucid.tensor(3.5).tolist() == 3.5
    assert pellucid.tensor([1.5, 2.0], dtype=pellucid.float16).tolist() == [1.5, 2.0]
    assert pellucid.tensor([True, False]).tolist() == [True, False]


def test_len_iter():
    t = pellucid.arange(6).reshape(3, 2)
    assert len(t) == 3 == len(torch.arange(6).reshape(3, 2))
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, pellucid.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert [x.item() for x in pellucid.tensor([4, 5])] == [4, 5]
    with pytest.raises(TypeError, match="0-d"):
        len(pellucid.tensor(1))
    with pytest.raises(TypeError, match="0-d"):
        iter(pellucid.tensor(1))


def test_bool_int_float_of_one_element():
    assert bool(pellucid.tensor([1.5])) and not bool(pellucid.tensor(0.0))
    assert int(pellucid.tensor([2.7])) == 2 == int(torch.tensor([2.7]))
    assert int(pellucid.tensor(-2.7)) == -2
    assert float(pellucid.tensor([[3]])) == 3.0
    assert complex(pellucid.tensor(1.5)) == 1.5 + 0j
    assert [10, 20, 30][pellucid.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(pellucid.ones(2))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(torch.ones(2))
    for fn in (int, float):
        with pytest.raises((RuntimeError, ValueError), match="element"):
            fn(pellucid.ones(2))
    with pytest.raises(TypeError, match="integer"):
        [1, 2][pellucid.tensor(1.0)]


# ---- NumPy interop ----------------------------------------------------------------------------------

def test_numpy_shares_memory_on_cpu():
    t = pellucid.zeros(3)
    arr = t.numpy()
    arr[1] = 4.0
    assert t.tolist() == [0.0, 4.0, 0.0]
    t.fill_(2.0)
    assert arr.tolist() == [2.0, 2.0, 2.0]
    assert np.shares_memory(arr, t.numpy())


def test_numpy_refuses_when_grad_tracked():
    t = pellucid.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        t.numpy()
    with pytest.raises(RuntimeError) as theirs:
        torch.ones(2, requires_grad=True).numpy()
    assert str(ours.value) == str(theirs.value)
    forced = t.numpy(force=True)
    assert forced.tolist() == [1.0, 1.0]
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_from_numpy_and_array_protocol():
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = pellucid.from_numpy(arr)
    assert t.dtype is pellucid.float64 and t.shape == (2, 3)
    arr[0, 0] = -1
    assert t.tolist()[0][0] == -1
    back = np.asarray(t)
    assert np.shares_memory(back, arr)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.array(pellucid.tensor([1, 2])).tolist() == [1, 2]
    assert (np.ones(3) + np.asarray(pellucid.ones(3))).tolist() == [2.0, 2.0, 2.0]


# ---- DLPack -----------------------------------------------------------------------------------------------

def test_dlpack_with_numpy():
    t = pellucid.arange(6.0).reshape(2, 3)
    arr = np.from_dlpack(t)
    arr[0, 0] = 100
    assert t.tolist()[0][0] == 100.0
    assert t.__dlpack_device__()[0] == 1                # kDLCPU
    src = np.arange(4, dtype=np.int32)
    p = pellucid.from_dlpack(src)
    src[1] = 50
    assert p.dtype is pellucid.int32 and p.tolist() == [0, 50, 2, 3]


def test_dlpack_with_torch_both_ways():
    t = pellucid.arange(6.0).reshape(2, 3)
    tt = torch.from_dlpack(t)
    assert tt.dtype == torch.float32 and tuple(tt.shape) == (2, 3)
    tt[0, 1] = 200
    assert t.tolist()[0][1] == 200.0
    src = torch.arange(4, dtype=torch.int64)
    p = pellucid.from_dlpack(src)
    p.numpy()[0] = -7
    assert src.tolist() == [-7, 1, 2, 3] and p.dtype is pellucid.int64
    strided = torch.arange(6.0).reshape(2, 3).t()
    ps = pellucid.from_dlpack(strided)
    assert ps.tolist() == strided.tolist() and ps.stride() == strided.stride()
    assert pellucid.from_dlpack(torch.tensor(True)).item() is True
    with pytest.raises(RuntimeError, match="require"):
        torch.from_dlpack(pellucid.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="__dlpack__"):
        pellucid.from_dlpack([1, 2])
    assert pellucid.from_dlpack(t) is t


# ---- conversions -----------------------------------------------------------------------------------------

def test_to_dtype_device_other():
    t = pellucid.tensor([1.5, -2.5])
    assert t.to(pellucid.float64).dtype is pellucid.float64
    assert t.to("cpu") is t                               # no-op returns the same tensor
    assert t.to(device="cpu") is t and t.to(pellucid.device("cpu")) is t
    assert t.to(pellucid.float32) is t
    assert t.to(torch.float16).dtype is pellucid.float16
    assert t.to(pellucid.ones(1, dtype=pellucid.int32)).dtype is pellucid.int32
    assert t.to("cpu", pellucid.float16).dtype is pellucid.float16
    assert t.to(dtype=pellucid.int8, device="cpu").tolist() == [1, -2]
    c = t.to(pellucid.float32, copy=True)
    assert c is not t and c.tolist() == t.tolist()
    c.fill_(0)
    assert t.tolist() == [1.5, -2.5]
    with pytest.raises(TypeError):
        t.to(pellucid.float32, bogus=1)


def test_shorthand_casts_match_torch():
    data = [1.7, -2.2, 0.0]
    for name in ("float", "double", "half", "long", "int", "bool", "short", "char", "byte", "cpu"):
        if name in ("byte",):
            src = [1.7, 2.2, 0.0]
        else:
            src = data
        _same_values(getattr(pellucid.tensor(src), name)(), getattr(torch.tensor(src), name)())
    ints = pellucid.tensor([1, 2])
    assert ints.float().dtype is pellucid.float32
    assert ints.type_as(pellucid.ones(1, dtype=pellucid.float64)).dtype is pellucid.float64
    assert ints.type() == "pellucid.LongTensor" and pellucid.ones(1).type() == "pellucid.FloatTensor"
    assert ints.type(pellucid.float16).dtype is pellucid.float16


def test_casts_carry_gradients():
    a = pellucid.tensor([1.0, 2.0], requires_grad=True)
    b = a.double() * 3
    assert type(a.double().grad_fn).__name__ == "ToCopyBackward0"
    b.sum().backward()
    assert a.grad.dtype is pellucid.float32 and a.grad.tolist() == [3.0, 3.0]
    assert not a.long().requires_grad


def test_cuda_without_gpu_says_how_to_install():
    assert pellucid.cuda.is_available() is False
    assert pellucid.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CuPy") as err:
        pellucid.ones(2).cuda()
    assert "pip install" in str(err.value)
    with pytest.raises(RuntimeError, match="CuPy"):
        pellucid.ones(2).to("cuda:0")
    with pytest.raises(RuntimeError, match="CuPy"):
        pellucid.zeros(2, device="cuda")


def test_mixed_device_error_names_both_devices():
    class FakeOp:
        name = "add"
    cpu = types.SimpleNamespace(device=pellucid.device("cpu"))
    gpu = types.SimpleNamespace(device=pellucid.device("cuda", 0))
    err = _dispatch._device_error(FakeOp, [cpu, gpu])
    assert isinstance(err, RuntimeError)
    msg = str(err)
    assert "add" in msg and "cpu" in msg and "cuda:0" in msg and "same device" in msg


def test_device_objects():
    d = pellucid.device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert repr(d) == repr(torch.device("cuda:1"))
    assert pellucid.device("cpu") == "cpu"
    with pytest.raises(RuntimeError):
        pellucid.device("tpu")


# ---- legacy constructors -----------------------------------------------------------------------------------

def test_legacy_constructors():
    _same_values(pellucid.Tensor([1, 2]), torch.Tensor([1, 2]))
    _same_values(pellucid.Tensor((2, 3)), torch.Tensor((2, 3)))
    _same_values(pellucid.Tensor(np.array([1, 2])), torch.Tensor(np.array([1, 2])))
    u = pellucid.Tensor(2, 3)
    assert u.shape == (2, 3) and u.dtype is pellucid.float32
    assert pellucid.FloatTensor([1, 2]).dtype is pellucid.float32
    assert pellucid.LongTensor([1, 2]).dtype is pellucid.int64
    assert pellucid.LongTensor(3).shape == (3,)
    assert pellucid.DoubleTensor([1]).dtype is pellucid.float64
    assert isinstance(pellucid.tensor([1.0]), pellucid.Tensor)


# ---- clone / copy_ / fill_ / zero_ and version counters -------------------------------------------------------

def test_clone_is_a_fresh_copy():
    a = pellucid.tensor([1.0, 2.0], requires_grad=True)
    c = a.clone()
    assert type(c.grad_fn).__name__ == "CloneBackward0" and c._version_count == 0
    c.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    d = a.detach().clone()
    d.fill_(9)
    assert a.detach().tolist() == [1.0, 2.0]


def test_copy_fill_zero_bump_versions():
    t = pellucid.zeros(2, 3)
    assert t._version_count == 0
    t.fill_(1.5)
    assert t._version_count == 1 and t.tolist() == [[1.5] * 3] * 2
    t.zero_()
    assert t._version_count == 2 and t.tolist() == [[0.0] * 3] * 2
    t.copy_(pellucid.tensor([1, 2, 3]))
    assert t._version_count == 3 and t.tolist() == [[1.0, 2.0, 3.0]] * 2
    view = t.view(6)
    view.fill_(4)
    assert t._version_count == 4 and view._version_count == 4
    assert t.tolist() == [[4.0] * 3] * 2


def test_copy_matches_torch():
    cases = [
        (lambda L: L.zeros(2, 3), lambda L: L.arange(3)),                        # broadcast, int -> float
        (lambda L: L.zeros(3, dtype=L.int64), lambda L: L.tensor([1.7, -1.7, 2.5])),   # truncation
        (lambda L: L.zeros(2, dtype=L.bool), lambda L: L.tensor([0.0, 0.3])),
        (lambda L: L.zeros(2, 2, dtype=L.float16), lambda L: L.tensor([[1.0], [2.0]], dtype=L.float64)),
    ]
    for dst, src in cases:
        _same_values(dst(pellucid).copy_(src(pellucid)), dst(torch).copy_(src(torch)))
    _same_values(pellucid.zeros(3).copy_(1), torch.zeros(3).copy_(1))
    for dst, src in [((3,), (2,)), ((2, 3), (3, 2))]:
        with pytest.raises(RuntimeError, match="must match the size"):
            pellucid.zeros(*dst).copy_(pellucid.ones(*src))
        with pytest.raises(RuntimeError, match="must match the size"):
            torch.zeros(*dst).copy_(torch.ones(*src))


def test_copy_gradients_like_torch():
    results = []
    for L in (torch, pellucid):
        m = L.zeros(3, requires_grad=True)
        s = L.ones(1, requires_grad=True)
        x = m * 2
        x.copy_(s.double() * 3)
        results.append(type(x.grad_fn).__name__)
        x.sum().backward()
        results.append((m.grad.tolist(), s.grad.tolist()))
    assert results[0] == results[2] == "CopyBackwards"
    assert results[1] == results[3] == ([0.0, 0.0, 0.0], [9.0])
    y = pellucid.zeros(3, dtype=pellucid.int64).copy_(pellucid.ones(3, requires_grad=True))
    assert not y.requires_grad and y.tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        pellucid.zeros(2, requires_grad=True).copy_(pellucid.ones(2))


def test_fill_matches_torch():
    for name in ("uint8", "int8", "int32", "int64", "float16", "float32", "bool"):
        for value in (-255, -256, 255, 256, 127, 128, -129, 2 ** 31, 1e10, 65504.0, 65520.0, 1e39,
                      float("inf"), float("nan"), 2.5, -0.5, 300.5, True):
            got = expected = None
            try:
                expected = torch.zeros(1, dtype=getattr(torch, name)).fill_(value)
            except RuntimeError:
                pass
            try:
                got = pellucid.zeros(1, dtype=getattr(pellucid, name)).fill_(value)
            except RuntimeError:
                pass
            assert (got is None) == (expected is None), (name, value)
            if got is not None:
                np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=f"{name} {value}")


def test_fill_with_tensor_and_gradients():
    t = pellucid.zeros(3).fill_(pellucid.tensor(2.5, dtype=pellucid.float64))
    assert t.tolist() == [2.5, 2.5, 2.5] and t.dtype is pellucid.float32
    with pytest.raises(RuntimeError, match="0-dimension"):
        pellucid.zeros(3).fill_(pellucid.ones(2))
    with pytest.raises(TypeError, match="Number"):
        pellucid.zeros(3).fill_("a")
    m = pellucid.zeros(3, requires_grad=True)
    v = pellucid.tensor(2.0, requires_grad=True)
    x = m * 2
    x.fill_(v)
    assert type(x.grad_fn).__name__ == "FillBackward3"
    (x * pellucid.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.item() == 6.0 and m.grad.tolist() == [0.0, 0.0, 0.0]
    z = pellucid.ones(3, requires_grad=True) * 1
    z.zero_()
    assert type(z.grad_fn).__name__ == "ZeroBackward0"
    f = pellucid.ones(3, requires_grad=True) * 1
    assert type(f.fill_(1).grad_fn).__name__ == "FillBackward2"
    with pytest.raises(RuntimeError, match="leaf Variable"):
        pellucid.zeros(2, requires_grad=True).zero_()
    with pellucid.no_grad():
        leaf = pellucid.zeros(2, requires_grad=True)
        leaf.fill_(3)
    assert leaf.tolist() == [3.0, 3.0] and leaf.requires_grad


def test_saved_tensor_modified_in_place_is_detected():
    a = pellucid.ones(3, requires_grad=True)
    b = a * 1
    c = b * b
    b.fill_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()
