"""Recurrent cells (RNN tanh/relu, LSTM, GRU) composed of pellucid ops; the input projection for
all time steps is one matmul, only the recurrent part loops over time."""

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


def _pl():
    import pellucid
    return pellucid


def _lin(x, w, b):
    from ._linear import linear
    return linear(x, w, b)


def rnn_tanh_cell(x_proj, h, w_hh, b_hh):
    return (x_proj + _lin(h, w_hh, b_hh)).tanh()


def rnn_relu_cell(x_proj, h, w_hh, b_hh):
    return (x_proj + _lin(h, w_hh, b_hh)).relu()


def lstm_cell(x_proj, hc, w_hh, b_hh, w_hr=None):
    h, c = hc
    gates = x_proj + _lin(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    if w_hr is not None:
        h = _lin(h, w_hr, None)
    return h, c


def gru_cell(x_proj, h, w_hh, b_hh):
    xr, xz, xn = x_proj.chunk(3, dim=-1)
    hr, hz, hn = _lin(h, w_hh, b_hh).chunk(3, dim=-1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h
