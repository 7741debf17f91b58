"""nn.Module and containers against PyTorch: registration, naming and order, state_dict,
load_state_dict, hooks (forward, pre, full backward), modes, conversion, reprs."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as pnn
from pellucid.nn.modules import _call_stack
from _parity import assert_close, copy_params, to_pellucid, to_torch


def make_net(lib):
    """The same nested model written against torch or pellucid."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)])
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 3, bias=False)})
            self.register_buffer("scale", lib.ones(4) * 2)
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            x = x * self.scale
            return self.heads["a"](x), self.heads["b"](x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), Block())
            self.alias = self.features[0]          # shared: reported once, under its first name
            self.gain = nn.Parameter(lib.ones(2))
            self.extra = nn.Sequential(OrderedDict([("proj", nn.Linear(2, 2)), ("act", nn.Tanh())]))

        def forward(self, x):
            a, b = self.features(x)
            return self.extra(a * self.gain), b

    return Net()


@pytest.fixture
def nets():
    t = make_net(torch)
    p = make_net(pellucid)
    copy_params(t, p)
    return t, p


def test_names_and_order_match(nets):
    t, p = nets
    assert [n for n, _ in p.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in p.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in p.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in p.named_children()] == [n for n, _ in t.named_children()]
    assert list(p.state_dict().keys()) == list(t.state_dict().keys())
    assert [n for n, _ in p.named_parameters(prefix="m", recurse=True)] == \
        [n for n, _ in t.named_parameters(prefix="m")]
    assert [n for n, _ in p.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in p.named_modules(remove_duplicate=False)] == \
        [n for n, _ in t.named_modules(remove_duplicate=False)]
    assert [n for n, _ in p.named_parameters(recurse=False)] == ["gain"]
    assert len(list(p.parameters())) == len(list(t.parameters()))
    assert len(list(p.modules())) == len(list(t.modules()))
    assert len(list(p.children())) == len(list(t.children()))


def test_repr_matches(nets):
    t, p = nets
    assert repr(p) == repr(t).replace("torch.", "pellucid.")


def test_forward_and_gradients_match(nets):
    t, p = nets
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    tx, px = to_torch(x, True), to_pellucid(x, True)
    (ta, tb), (pa, pb) = t(tx), p(px)
    assert_close(pa, ta)
    assert_close(pb, tb)
    (ta.sum() + (tb * tb).sum()).backward()
    (pa.sum() + (pb * pb).sum()).backward()
    assert_close(px.grad, tx.grad)
    for (name, pp), (_, tp) in zip(p.named_parameters(), t.named_parameters()):
        assert_close(pp.grad, tp.grad, what=name)


def test_state_dict_values_detached_and_keep_vars(nets):
    _, p = nets
    sd = p.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["gain"]._data, p.gain._data)
    kv = p.state_dict(keep_vars=True)
    assert kv["gain"] is p.gain
    assert "features.2.scratch" not in sd and "features.2.scale" in sd
    pre = p.state_dict(prefix="model.")
    assert list(pre) == ["model." + k for k in sd]


def test_load_state_dict_strict_and_non_strict(nets):
    t, p = nets
    fresh = make_net(pellucid)
    sd = {k: to_pellucid(v) for k, v in t.state_dict().items()}
    res = fresh.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    x = to_pellucid(np.ones((2, 3), np.float32))
    assert_close(fresh(x)[0], t(to_torch(np.ones((2, 3), np.float32)))[0])

    bad = dict(sd)
    del bad["features.0.bias"]
    bad["features.9.weight"] = to_pellucid(np.zeros(1, np.float32))
    bad["stray"] = to_pellucid(np.zeros(1, np.float32))
    tbad = {k: to_torch(v) for k, v in bad.items()}
    t_res = make_net(torch).load_state_dict(tbad, strict=False)
    p_res = make_net(pellucid).load_state_dict(bad, strict=False)
    assert p_res.missing_keys == t_res.missing_keys == ["features.0.bias"]
    assert p_res.unexpected_keys == t_res.unexpected_keys
    with pytest.raises(RuntimeError) as pe:
        make_net(pellucid).load_state_dict(bad)
    with pytest.raises(RuntimeError) as te:
        make_net(torch).load_state_dict(tbad)
    assert str(pe.value) == str(te.value)


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    p, t = pnn.Linear(3, 2), torch.nn.Linear(3, 2)
    sd = {"weight": to_pellucid(np.zeros((4, 3), np.float32)), "bias": to_pellucid(np.zeros(2, np.float32))}
    with pytest.raises(RuntimeError) as pe:
        p.load_state_dict(sd)
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict({k: to_torch(v) for k, v in sd.items()})
    assert str(pe.value) == str(te.value).replace("torch.", "pellucid.")
    assert "size mismatch for weight" in str(pe.value) and "[4, 3]" in str(pe.value)


def test_load_state_dict_copies_in_place_and_assign():
    lin = pnn.Linear(2, 2)
    w = lin.weight
    new = to_pellucid(np.arange(4, dtype=np.float32).reshape(2, 2))
    lin.load_state_dict({"weight": new, "bias": to_pellucid(np.zeros(2, np.float32))})
    assert lin.weight is w and np.array_equal(w.detach().numpy(), new.numpy())
    assert not np.shares_memory(w._data, new._data)
    lin.load_state_dict({"weight": new, "bias": to_pellucid(np.zeros(2, np.float32))}, assign=True)
    assert isinstance(lin.weight, pnn.Parameter) and lin.weight.requires_grad
    assert np.shares_memory(lin.weight._data, new._data)
    with pytest.raises(TypeError):
        lin.load_state_dict([1, 2])


def test_load_state_dict_post_hook_sees_keys():
    lin = pnn.Linear(2, 2)
    seen = []
    lin.register_load_state_dict_post_hook(lambda m, keys: seen.append(list(keys.missing_keys)))
    lin.load_state_dict({"weight": to_pellucid(np.zeros((2, 2), np.float32))}, strict=False)
    assert seen == [["bias"]]


# ---- registration ---------------------------------------------------------------------------------
def test_attribute_registration_and_deletion():
    m = pnn.Module()
    m.w = pnn.Parameter(pellucid.ones(2))
    m.sub = pnn.Linear(1, 1)
    m.register_buffer("buf", pellucid.zeros(3))
    m.plain = 5
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["buf"]
    assert m.w is m._parameters["w"] and m.sub is m._modules["sub"] and m.buf is m._buffers["buf"]
    m.buf = pellucid.ones(3)                    # assigning a tensor to a buffer name replaces it
    assert m.buf.numpy().tolist() == [1.0, 1.0, 1.0]
    m.sub = pnn.Parameter(pellucid.ones(1))     # a parameter replaces the module of that name
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.w, m.buf, m.sub
    assert not m._parameters and not m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'w'"):
        m.w
    m.b = pnn.Buffer(pellucid.ones(2), persistent=False)
    assert "b" in m._buffers and "b" not in m.state_dict()
    assert type(m.b) is pellucid.Tensor


def test_registration_errors():
    m = pnn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign"):
        m.weight = pellucid.ones(2, 2)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("weight", pellucid.ones(1))
    with pytest.raises(KeyError, match='contain "."'):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError):
        m.register_buffer("x", 3)
    x = pellucid.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("y", _nonleaf(x))

    class NoInit(pnn.Module):
        def __init__(self):
            self.w = pnn.Parameter(pellucid.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


def _nonleaf(x):
    p = pnn.Parameter(pellucid.ones(2))
    p.grad_fn = (x * 2).grad_fn
    return p


def test_register_parameter_none_and_get_submodule():
    lin = pnn.Linear(2, 3, bias=False)
    assert lin.bias is None and "bias" not in lin.state_dict()
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    net = pnn.Sequential(pnn.Sequential(pnn.Linear(1, 1)))
    assert net.get_submodule("0.0") is net[0][0]
    assert net.get_parameter("0.0.weight") is net[0][0].weight
    with pytest.raises(AttributeError, match="has no attribute `x`"):
        net.get_submodule("0.x")
    with pytest.raises(AttributeError, match="is not an nn.Module"):
        net.get_submodule("0.0.weight")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        net.get_parameter("0.0")
    net.register_module("extra", pnn.Identity())
    assert net.extra is net.get_submodule("extra")


def test_parameter_basics():
    t = pellucid.ones(2, 2)
    p = pnn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, pellucid.Tensor)
    assert np.shares_memory(p._data, t._data)
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2, 2))).replace("torch.", "pellucid.")
    assert not pnn.Parameter(t, requires_grad=False).requires_grad
    assert pnn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        pnn.Parameter(pellucid.ones(2, dtype=pellucid.int64))
    q = pnn.Parameter(pellucid.ones(1)) * 2
    assert type(q) is pellucid.Tensor


# ---- modes, conversion, gradients -----------------------------------------------------------------
def test_train_eval_propagates():
    net = make_net(pellucid)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_to_dtype_keeps_parameter_objects():
    net = make_net(pellucid)
    net.register_buffer("steps", pellucid.zeros(1, dtype=pellucid.int64))
    w = net.features[0].weight
    net.features[0].weight.grad = pellucid.ones(4, 3)
    assert net.to(pellucid.float64) is net
    assert net.features[0].weight is w and w.dtype == pellucid.float64
    assert w.grad.dtype == pellucid.float64
    assert net.features[2].scale.dtype == pellucid.float64
    assert net.steps.dtype == pellucid.int64            # only floating point tensors are cast
    assert all(p.dtype == pellucid.float64 for p in net.parameters())
    net.float()
    assert all(p.dtype == pellucid.float32 for p in net.parameters())
    net.half()
    assert w.dtype == pellucid.float16
    net.to(pellucid.ones(1, dtype=pellucid.float64))
    assert w.dtype == pellucid.float64
    net.double().to("cpu")
    assert w.device.type == "cpu"
    with pytest.raises(TypeError, match="floating point"):
        net.to(pellucid.int32)
    net.type(pellucid.float32)
    assert net.steps.dtype == pellucid.float32           # type() casts everything


def test_zero_grad_and_requires_grad():
    lin = pnn.Linear(2, 2)
    lin(pellucid.ones(1, 2)).sum().backward()
    g = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is g and float(g.abs().sum()) == 0.0
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    lin.requires_grad_(False)
    assert not any(p.requires_grad for p in lin.parameters())


def test_apply_visits_children_first():
    net = pnn.Sequential(pnn.Linear(1, 1), pnn.Sequential(pnn.Tanh()))
    order = []
    net.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "Tanh", "Sequential", "Sequential"]


def test_forward_unimplemented_message():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        pnn.Module()(1)


# ---- hooks ----------------------------------------------------------------------------------------
def test_forward_pre_and_post_hooks_modify_and_remove():
    lin = pnn.Identity()
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    h2 = lin.register_forward_hook(lambda m, args, out: out * 10)
    h3 = lin.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    x = pellucid.ones(2)
    assert lin(x).numpy().tolist() == [20.0, 20.0]
    assert calls == ["first"]
    h1.remove()
    h2.remove()
    h3.remove()
    assert lin(x).numpy().tolist() == [1.0, 1.0]
    h = lin.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 3,), kwargs), with_kwargs=True)
    assert lin(x).numpy().tolist() == [3.0, 3.0]
    h.remove()
    with lin.register_forward_hook(lambda m, a, k, out: out + k.get("extra", 0), with_kwargs=True):
        pass                                          # handle as a context manager removes the hook
    assert not lin._forward_hooks


def test_forward_hook_always_call_runs_on_error():
    class Boom(pnn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError):
        m(1)
    assert seen == [None]


def test_global_forward_hook():
    from pellucid.nn.modules.module import register_module_forward_hook
    seen = []
    h = register_module_forward_hook(lambda m, a, out: seen.append(type(m).__name__))
    try:
        pnn.Sequential(pnn.Identity())(pellucid.ones(1))
    finally:
        h.remove()
    assert seen == ["Identity", "Sequential"]
    pnn.Identity()(pellucid.ones(1))
    assert len(seen) == 2


def _record_backward(mod):
    rec = {}

    def hook(m, gin, gout):
        rec["gin"] = [None if g is None else g.detach().clone() for g in gin]
        rec["gout"] = [None if g is None else g.detach().clone() for g in gout]
    mod.register_full_backward_hook(hook)
    return rec


def _compare_records(prec, trec):
    for key in ("gin", "gout"):
        assert len(prec[key]) == len(trec[key]), key
        for a, b in zip(prec[key], trec[key]):
            assert (a is None) == (b is None), key
            if a is not None:
                assert_close(a, b, what=key)


def test_full_backward_hook_grads_match_torch():
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    p = pnn.Sequential(pnn.Linear(3, 4), pnn.Tanh(), pnn.Linear(4, 2))
    copy_params(t, p)
    recs = [(_record_backward(pm), _record_backward(tm)) for pm, tm in [(p, t), (p[0], t[0]), (p[2], t[2])]]
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    tx, px = to_torch(x, True), to_pellucid(x, True)
    (t(tx) ** 2).sum().backward()
    (p(px) ** 2).sum().backward()
    for prec, trec in recs:
        _compare_records(prec, trec)
    assert_close(px.grad, tx.grad)


def test_backward_hook_replaces_grad_input_and_pre_hook_scales_grad_output():
    def build(lib):
        nn = lib.nn
        net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
        net[1].register_full_backward_pre_hook(lambda m, gout: (gout[0] * 3,))
        net[1].register_full_backward_hook(lambda m, gin, gout: (gin[0] * 0.5,))
        return net
    t, p = build(torch), build(pellucid)
    copy_params(t, p)
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    tx, px = to_torch(x, True), to_pellucid(x, True)
    t(tx).sum().backward()
    p(px).sum().backward()
    assert_close(px.grad, tx.grad)
    for (name, pp), (_, tp) in zip(p.named_parameters(), t.named_parameters()):
        assert_close(pp.grad, tp.grad, what=name)


def test_backward_hook_fires_at_outputs_when_no_input_needs_grad():
    t, p = torch.nn.Linear(3, 2), pnn.Linear(3, 2)
    copy_params(t, p)
    trec, prec = _record_backward(t), _record_backward(p)
    x = np.ones((2, 3), np.float32)
    with pytest.warns(UserWarning):
        t(to_torch(x)).sum().backward()
    p(to_pellucid(x)).sum().backward()
    _compare_records(prec, trec)
    assert prec["gin"] == [None]


def test_backward_hook_handle_remove():
    lin = pnn.Linear(2, 2)
    seen = []
    h = lin.register_full_backward_hook(lambda m, gi, go: seen.append(1))
    lin(pellucid.ones(1, 2, requires_grad=True)).sum().backward()
    h.remove()
    lin(pellucid.ones(1, 2, requires_grad=True)).sum().backward()
    assert seen == [1]


def test_backward_hook_multiple_inputs_and_outputs():
    def build(lib):
        class Two(lib.nn.Module):
            def forward(self, a, scale, b):
                return a * b * scale, a + b
        return Two()
    t, p = build(torch), build(pellucid)
    trec, prec = _record_backward(t), _record_backward(p)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    to1, to2 = t(to_torch(a, True), 2.0, to_torch(b))
    (to1.sum() + (to2 * to2).sum()).backward()
    po1, po2 = p(to_pellucid(a, True), 2.0, to_pellucid(b))
    (po1.sum() + (po2 * po2).sum()).backward()
    _compare_records(prec, trec)
    assert prec["gin"][1] is None and float(prec["gin"][2].abs().sum()) == 0.0


# ---- call stack -----------------------------------------------------------------------------------
def test_current_module_path_during_forward():
    paths = []

    class Probe(pnn.Module):
        def forward(self, x):
            paths.append(_call_stack.current_module_path())
            return x

    class Inner(pnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = Probe()

        def forward(self, x):
            return self.conv(x)

    net = pnn.Sequential(OrderedDict(features=pnn.Sequential(Probe(), Inner()), head=Probe()))
    net(pellucid.ones(1))
    assert paths == ["features.0", "features.1.conv", "head"]
    assert _call_stack.current_module_path() == ""
    net.features.append(Probe())                  # the tree changed: names are recomputed
    paths.clear()
    net(pellucid.ones(1))
    assert paths == ["features.0", "features.1.conv", "features.2", "head"]
    assert net.features[1].conv._pellucid_path == "features.1.conv"
    paths.clear()
    Probe()(pellucid.ones(1))
    assert paths == [""]


# ---- containers -----------------------------------------------------------------------------------
def test_sequential_indexing_and_mutation():
    def build(nn):
        return nn.Sequential(nn.Linear(1, 2), nn.Tanh(), nn.Linear(2, 3), nn.ReLU())
    t, p = build(torch.nn), build(pnn)
    assert len(p) == 4 and isinstance(p[-1], pnn.ReLU) and isinstance(p[0], pnn.Linear)
    assert isinstance(p[1:3], pnn.Sequential) and len(p[1:3]) == 2
    assert repr(p[1:3]) == repr(t[1:3])
    assert [type(m).__name__ for m in p] == [type(m).__name__ for m in t]
    with pytest.raises(IndexError):
        p[4]
    for s in (p, t):
        s.append(type(s[1])())
        s.insert(1, type(s[3])())
        s.extend([type(s[1])()])
        del s[0]
        s.pop(2)
        s[0] = type(s[0])()
    assert repr(p) == repr(t)
    assert [n for n, _ in p.named_children()] == [n for n, _ in t.named_children()]
    assert repr(p + p[:1]) == repr(t + t[:1])
    q = pnn.Sequential(OrderedDict([("a", pnn.Identity()), ("b", pnn.Tanh())]))
    assert list(q._modules) == ["a", "b"] and isinstance(q.b, pnn.Tanh)
    assert repr(q * 2) == repr(torch.nn.Sequential(OrderedDict([("a", torch.nn.Identity()),
                                                                 ("b", torch.nn.Tanh())])) * 2)


def test_module_list_and_dict():
    def build(nn):
        lst = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Tanh()])
        dct = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.Tanh()})
        return lst, dct
    (tl, td), (pl, pd) = build(torch.nn), build(pnn)
    assert repr(pl) == repr(tl)            # repeated layers fold into "(0-2): 3 x Linear(...)"
    assert "3 x Linear" in repr(pl)
    assert isinstance(pl[-1], pnn.Tanh) and len(pl[1:]) == 3 and isinstance(pl[1:], pnn.ModuleList)
    pl.insert(1, pnn.ReLU())
    tl.insert(1, torch.nn.ReLU())
    del pl[0], tl[0]
    pl += [pnn.Identity()]
    tl += [torch.nn.Identity()]
    assert repr(pl) == repr(tl)
    assert list(pd.keys()) == list(td.keys()) == ["b", "a"]
    assert "a" in pd and len(pd) == 2
    pd.update([("c", pnn.ReLU())])
    td.update([("c", torch.nn.ReLU())])
    assert repr(pd) == repr(td)
    assert isinstance(pd.pop("b"), pnn.Linear) and list(pd) == ["a", "c"]
    pd.clear()
    assert len(pd) == 0
    with pytest.raises(TypeError, match="iterable"):
        pl.extend(3)


def test_parameter_list_and_dict():
    def build(lib):
        nn = lib.nn
        pl = nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(4)])
        pd = nn.ParameterDict({"w": nn.Parameter(lib.ones(2)), "b": lib.zeros(1, dtype=lib.float64)})
        return pl, pd
    (tl, td), (pl, pd) = build(torch), build(pellucid)
    assert repr(pl) == repr(tl).replace("torch.", "pellucid.")
    assert repr(pd) == repr(td).replace("torch.", "pellucid.")
    assert all(isinstance(x, pnn.Parameter) for x in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]
    assert [n for n, _ in pd.named_parameters()] == [n for n, _ in td.named_parameters()]
    pl.append(pellucid.ones(1))
    assert len(pl) == 3 and isinstance(pl[-1], pnn.Parameter)
    assert list(pd.keys()) == ["b", "w"]                # a plain dict is added in sorted key order
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(1)


def test_deep_copy_of_parameters():
    import copy
    p = pnn.Parameter(pellucid.ones(2))
    q = copy.deepcopy(p)
    assert isinstance(q, pnn.Parameter) and q.requires_grad
    assert not np.shares_memory(p._data, q._data)


def test_legacy_backward_hook_sees_last_op_and_cannot_mix():
    def build(lib):
        class Mul(lib.nn.Module):
            def forward(self, a, b):
                return (a + 1) * b
        return Mul()
    t, p = build(torch), build(pellucid)
    recs = []
    for m in (t, p):
        rec = {}
        m.register_backward_hook(lambda mod, gi, go, rec=rec: rec.update(
            gin=[g.detach().clone() for g in gi], gout=[g.detach().clone() for g in go]))
        recs.append(rec)
    a, b = np.ones((2, 3), np.float32) * 2, np.arange(6, dtype=np.float32).reshape(2, 3)
    with pytest.warns(FutureWarning):
        t(to_torch(a, True), to_torch(b, True)).sum().backward()
    p(to_pellucid(a, True), to_pellucid(b, True)).sum().backward()
    _compare_records(recs[1], recs[0])
    with pytest.raises(RuntimeError, match="Cannot use both"):
        p.register_full_backward_hook(lambda *args: None)
