"""RNN/LSTM/GRU (and cells), MultiheadAttention, scaled_dot_product_attention and the Transformer
encoder against PyTorch, with weights copied across."""
import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as pnn
import pellucid.nn.functional as PF
from _parity import check_module, to_pellucid, to_torch, assert_close

RNG = np.random.default_rng(0)


def _r(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _flat(out):
    res = []
    for o in (out if isinstance(out, tuple) else (out,)):
        res.extend(_flat(o) if isinstance(o, tuple) else [o])
    return tuple(res)


class Flat:
    """Wraps a module so nested (output, (h, c)) tuples compare as a flat list."""

    def __init__(self, m):
        self.m = m
        self.training = m.training

    def __call__(self, *a):
        return _flat(self.m(*a))

    def __getattr__(self, k):
        return getattr(self.m, k)


RNN_CASES = [
    ("RNN", dict()),
    ("RNN", dict(num_layers=2, nonlinearity="relu")),
    ("RNN", dict(bidirectional=True, batch_first=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True, bias=False)),
    ("LSTM", dict(proj_size=3)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
]


@pytest.mark.parametrize("name,kw", RNN_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RNN_CASES)])
def test_recurrent_layers_match_torch(name, kw):
    t = getattr(torch.nn, name)(5, 6, **kw)
    p = getattr(pnn, name)(5, 6, **kw)
    assert [n for n, _ in p.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(p) == repr(t)
    x = _r(2, 4, 5) if kw.get("batch_first") else _r(4, 2, 5)
    check_module(Flat(t), Flat(p), x, rtol=1e-4, atol=1e-5)


def test_recurrent_with_initial_state_and_unbatched():
    t, p = torch.nn.LSTM(3, 4, num_layers=2), pnn.LSTM(3, 4, num_layers=2)
    h0, c0 = _r(2, 2, 4), _r(2, 2, 4)

    class WithState:
        def __init__(self, m, lib):
            self.m, self.lib, self.training = m, lib, True

        def __call__(self, x, h, c):
            return _flat(self.m(x, (h, c)))

        def __getattr__(self, k):
            return getattr(self.m, k)
    check_module(WithState(t, torch), WithState(p, pellucid), _r(5, 2, 3), h0, c0, rtol=1e-4, atol=1e-5)
    g_t, g_p = torch.nn.GRU(3, 4), pnn.GRU(3, 4)
    check_module(Flat(g_t), Flat(g_p), _r(5, 3), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(name):
    t = getattr(torch.nn, name)(4, 3)
    p = getattr(pnn, name)(4, 3)
    assert repr(p) == repr(t)
    check_module(Flat(t), Flat(p), _r(2, 4), rtol=1e-4, atol=1e-5)
    check_module(Flat(t), Flat(p), _r(4), rtol=1e-4, atol=1e-5, copy=False)


def test_recurrent_errors_are_clear():
    with pytest.raises(RuntimeError, match="input_size"):
        pnn.LSTM(3, 4)(pellucid.zeros(5, 2, 7))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        pnn.GRU(3, 4)(pellucid.zeros(5, 2, 3), pellucid.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="2D or 3D"):
        pnn.RNN(3, 4)(pellucid.zeros(3))


def test_recurrent_default_init_distribution():
    pellucid.manual_seed(0)
    m = pnn.LSTM(16, 100)
    w = m.weight_hh_l0.detach().numpy()
    bound = 1 / np.sqrt(100)
    assert w.min() >= -bound and w.max() <= bound and abs(w.mean()) < 0.01 * bound * 10
    assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.05)


@pytest.mark.parametrize("kw,masks", [
    (dict(), {}),
    (dict(batch_first=True), {"key_padding_mask": True}),
    (dict(bias=False), {"attn_mask": "bool"}),
    (dict(kdim=3, vdim=5), {}),
    (dict(add_bias_kv=True, add_zero_attn=True), {"attn_mask": "float"}),
])
def test_multihead_attention_matches_torch(kw, masks):
    E, H, L, S, N = 8, 2, 4, 5, 3
    t = torch.nn.MultiheadAttention(E, H, **kw)
    p = pnn.MultiheadAttention(E, H, **kw)
    assert [n for n, _ in p.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(p) == repr(t)
    bf = kw.get("batch_first", False)
    q = _r(N, L, E) if bf else _r(L, N, E)
    k = _r(N, S, kw.get("kdim", E)) if bf else _r(S, N, kw.get("kdim", E))
    v = _r(N, S, kw.get("vdim", E)) if bf else _r(S, N, kw.get("vdim", E))
    extra_np = {}
    if masks.get("key_padding_mask"):
        m = np.zeros((N, S), dtype=bool)
        m[:, -1] = True
        extra_np["key_padding_mask"] = m
    if masks.get("attn_mask") == "bool":
        extra_np["attn_mask"] = np.triu(np.ones((L, S), dtype=bool), 1)
    if masks.get("attn_mask") == "float":
        extra_np["attn_mask"] = _r(L, S)

    class Call:
        def __init__(self, m, conv):
            self.m, self.conv, self.training = m, conv, True

        def __call__(self, q, k, v):
            return self.m(q, k, v, **{a: self.conv(b) for a, b in extra_np.items()})

        def __getattr__(self, a):
            return getattr(self.m, a)
    check_module(Call(t, torch.from_numpy), Call(p, pellucid.from_numpy), q, k, v, rtol=1e-4, atol=1e-5)


def test_self_attention_and_unaveraged_weights():
    t, p = torch.nn.MultiheadAttention(6, 3), pnn.MultiheadAttention(6, 3)
    x = _r(4, 2, 6)

    class Self:
        def __init__(self, m):
            self.m, self.training = m, True

        def __call__(self, x):
            return self.m(x, x, x, average_attn_weights=False)

        def __getattr__(self, a):
            return getattr(self.m, a)
    p_out, t_out = check_module(Self(t), Self(p), x, rtol=1e-4, atol=1e-5)
    assert tuple(p_out[1].shape) == (2, 3, 4, 4)


@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_scaled_dot_product_attention(mask):
    q, k, v = _r(2, 3, 4, 8), _r(2, 3, 5, 8), _r(2, 3, 5, 6)
    kw_t, kw_p = {}, {}
    if mask == "bool":
        m = RNG.random((4, 5)) > 0.3
        m[:, 0] = True
        kw_t["attn_mask"], kw_p["attn_mask"] = torch.from_numpy(m), pellucid.from_numpy(m)
    elif mask == "float":
        m = _r(4, 5)
        kw_t["attn_mask"], kw_p["attn_mask"] = torch.from_numpy(m), pellucid.from_numpy(m)
    elif mask == "causal":
        kw_t["is_causal"] = kw_p["is_causal"] = True
    tq, tk, tv = (to_torch(a, True) for a in (q, k, v))
    pq, pk, pv = (to_pellucid(a, True) for a in (q, k, v))
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kw_t)
    po = PF.scaled_dot_product_attention(pq, pk, pv, **kw_p)
    assert_close(po, to, 1e-4, 1e-5)
    w = _r(*to.shape)
    (to * torch.from_numpy(w)).sum().backward()
    (po * pellucid.tensor(w)).sum().backward()
    for a, b in ((pq, tq), (pk, tk), (pv, tv)):
        assert_close(a.grad, b.grad, 1e-4, 1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_encoder_matches_torch(kw):
    torch.manual_seed(0)
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    enc_t = torch.nn.TransformerEncoder(layer_t, num_layers=2, enable_nested_tensor=False)
    layer_p = pnn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
    enc_p = pnn.TransformerEncoder(layer_p, num_layers=2)
    assert [n for n, _ in enc_p.named_parameters()] == [n for n, _ in enc_t.named_parameters()]
    assert repr(enc_p) == repr(enc_t)
    x = _r(3, 4, 8)
    check_module(enc_t, enc_p, x, rtol=1e-4, atol=1e-5)
    # the copies are independent
    assert enc_p.layers[0].linear1.weight is not enc_p.layers[1].linear1.weight


def _masked_transformer(M, transformer, seq_dim):
    class Masked(M.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = transformer

        def forward(self, src, tgt):
            mask = self.t.generate_square_subsequent_mask(tgt.shape[seq_dim])
            return self.t(src, tgt, tgt_mask=mask, tgt_is_causal=True)
    return Masked()


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")     # torch's, about its fast path
@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_encoder_decoder_matches_torch(kw):
    torch.manual_seed(0)
    args = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0, **kw)
    tt, pt = torch.nn.Transformer(**args), pnn.Transformer(**args)
    assert [n for n, _ in pt.named_parameters()] == [n for n, _ in tt.named_parameters()]
    assert repr(pt) == repr(tt)
    seq_dim = 1 if kw.get("batch_first") else 0
    src, tgt = (_r(3, 5, 8), _r(3, 4, 8)) if seq_dim else (_r(5, 3, 8), _r(4, 3, 8))
    check_module(_masked_transformer(torch, tt, seq_dim), _masked_transformer(pellucid, pt, seq_dim), src, tgt,
                 rtol=1e-4, atol=1e-5)
    mask_t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(pnn.Transformer.generate_square_subsequent_mask(4).numpy(), mask_t.numpy())


def test_transformer_decoder_alone_with_padding_masks_matches_torch():
    torch.manual_seed(1)
    layer_t = torch.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    dec_t = torch.nn.TransformerDecoder(layer_t, num_layers=2, norm=torch.nn.LayerNorm(8))
    dec_p = pnn.TransformerDecoder(pnn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True),
                                   num_layers=2, norm=pnn.LayerNorm(8))
    assert repr(dec_p) == repr(dec_t)
    pad = np.array([[False, False, True], [False, False, False]])

    def wrap(M, dec):
        class W(M.nn.Module):
            def __init__(self):
                super().__init__()
                self.d = dec

            def forward(self, tgt, mem):
                return self.d(tgt, mem, memory_key_padding_mask=M.tensor(pad))
        return W()
    check_module(wrap(torch, dec_t), wrap(pellucid, dec_p), _r(2, 4, 8), _r(2, 3, 8), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        pnn.Transformer(d_model=8, nhead=2, dim_feedforward=8)(pellucid.zeros(3, 2, 8), pellucid.zeros(3, 2, 6))
