"""Padded and packed variable-length sequences (pellucid.nn.utils.rnn) and the recurrent layers
run on PackedSequence, against PyTorch: layouts, values, final states and gradients."""
import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import pellucid
from pellucid.nn.utils import rnn as prnn
from _parity import copy_params

RNG = np.random.default_rng(0)
LENGTHS = [3, 5, 1, 4]                  # unsorted on purpose


def _seqs(lib, feat=3, lengths=LENGTHS, grad=False):
    arrays = [RNG.standard_normal((n, feat)).astype(np.float32) for n in lengths]
    return arrays, [lib.tensor(a, requires_grad=grad) for a in arrays]


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    arrays, ps = _seqs(pellucid)
    ts = [torch.tensor(a) for a in arrays]
    np.testing.assert_array_equal(
        _np(prnn.pad_sequence(ps, batch_first=batch_first, padding_value=-1.0, padding_side=side)),
        _np(trnn.pad_sequence(ts, batch_first=batch_first, padding_value=-1.0, padding_side=side)))


@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_unpack_layouts_match_torch(enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    arrays, ps = _seqs(pellucid, lengths=lengths)
    ts = [torch.tensor(a) for a in arrays]
    pp = prnn.pack_sequence(ps, enforce_sorted=enforce_sorted)
    tp = trnn.pack_sequence(ts, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(_np(pp.data), _np(tp.data))
    assert pp.batch_sizes.tolist() == tp.batch_sizes.tolist() and pp.batch_sizes.dtype == pellucid.int64
    for a, b in ((pp.sorted_indices, tp.sorted_indices), (pp.unsorted_indices, tp.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    for bf in (False, True):
        (pad_p, len_p), (pad_t, len_t) = (prnn.pad_packed_sequence(pp, batch_first=bf, total_length=7),
                                          trnn.pad_packed_sequence(tp, batch_first=bf, total_length=7))
        np.testing.assert_array_equal(_np(pad_p), _np(pad_t))
        assert len_p.tolist() == len_t.tolist()
    back = prnn.unpack_sequence(pp)
    assert [tuple(s.shape) for s in back] == [(n, 3) for n in lengths]
    for s, a in zip(back, arrays):
        np.testing.assert_array_equal(_np(s), a)


def test_pack_padded_errors_as_in_torch():
    x = pellucid.zeros(5, 2, 3)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        prnn.pack_padded_sequence(x, [2, 4])
    with pytest.raises(RuntimeError, match="has to be greater than 0"):
        prnn.pack_padded_sequence(x, [3, 0], enforce_sorted=False)
    with pytest.raises(ValueError, match="total_length to be at least"):
        prnn.pad_packed_sequence(prnn.pack_padded_sequence(x, [4, 2]), total_length=3)


@pytest.mark.parametrize("mode,kw", [("LSTM", dict(num_layers=2, bidirectional=True)),
                                     ("GRU", dict(num_layers=1, bidirectional=True)),
                                     ("RNN", dict(num_layers=2)),
                                     ("LSTM", dict(proj_size=2))])
def test_recurrent_layers_on_packed_sequences_match_torch(mode, kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, mode)(3, 4, **kw)
    pm = getattr(pellucid.nn, mode)(3, 4, **kw)
    copy_params(tm, pm)
    arrays, ps = _seqs(pellucid, grad=True)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    p_out, p_state = pm(prnn.pack_sequence(ps, enforce_sorted=False))
    t_out, t_state = tm(trnn.pack_sequence(ts, enforce_sorted=False))
    assert isinstance(p_out, prnn.PackedSequence)
    np.testing.assert_allclose(_np(p_out.data), _np(t_out.data), rtol=1e-5, atol=1e-6)
    p_states = p_state if isinstance(p_state, tuple) else (p_state,)
    t_states = t_state if isinstance(t_state, tuple) else (t_state,)
    for a, b in zip(p_states, t_states):       # final states in the caller's batch order
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
    w = RNG.standard_normal(tuple(t_out.data.shape)).astype(np.float32)
    wh = RNG.standard_normal(tuple(t_states[0].shape)).astype(np.float32)
    ((t_out.data * torch.tensor(w)).sum() + (t_states[0] * torch.tensor(wh)).sum()).backward()
    ((p_out.data * pellucid.tensor(w)).sum() + (p_states[0] * pellucid.tensor(wh)).sum()).backward()
    for a, b in zip(ps, ts):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-4, atol=1e-5)
    tp = dict(tm.named_parameters())
    for name, p in pm.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[name].grad), rtol=1e-4, atol=1e-5, err_msg=name)
    # padded back: the steps past each sequence's end are the padding value
    padded, lengths = prnn.pad_packed_sequence(p_out, batch_first=True, padding_value=0.5)
    assert lengths.tolist() == LENGTHS and (padded[2, 1:] == 0.5).all()


def test_initial_state_is_taken_in_the_callers_batch_order():
    torch.manual_seed(1)
    tm, pm = torch.nn.GRU(3, 4), pellucid.nn.GRU(3, 4)
    copy_params(tm, pm)
    arrays, ps = _seqs(pellucid)
    h0 = RNG.standard_normal((1, len(LENGTHS), 4)).astype(np.float32)
    p_out, p_h = pm(prnn.pack_sequence(ps, enforce_sorted=False), pellucid.tensor(h0))
    t_out, t_h = tm(trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False), torch.tensor(h0))
    np.testing.assert_allclose(_np(p_out.data), _np(t_out.data), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(p_h), _np(t_h), rtol=1e-5, atol=1e-6)
