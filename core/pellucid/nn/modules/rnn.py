"""RNN, LSTM, GRU (multi-layer, bidirectional, batch_first, dropout) and their cells, with
PyTorch's parameter names, shapes, initialisation and reprs."""
import math

from .module import Module
from ..parameter import Parameter
from .. import functional as F
from .. import init

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _pl():
    import pellucid
    return pellucid


class RNNBase(Module):
    _gate_mult = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers}")
        if not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element being zeroed")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError("proj_size should be a positive integer and is only supported by LSTM")
        if proj_size >= hidden_size and proj_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_dir = 2 if bidirectional else 1
        gate = self._gate_mult[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        pl = _pl()
        for layer in range(num_layers):
            for d in range(num_dir):
                in_sz = input_size if layer == 0 else real_hidden * num_dir
                sfx = "_reverse" if d == 1 else ""
                names = [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
                shapes = [(gate, in_sz), (gate, real_hidden)]
                if bias:
                    names += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
                    shapes += [(gate,), (gate,)]
                if proj_size > 0:
                    names.append(f"weight_hr_l{layer}{sfx}")
                    shapes.append((proj_size, hidden_size))
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(pl.empty(s, dtype=dtype, device=device)))
                self._flat_weights_names.extend(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._flat_weights_names if n.endswith(f"l{layer}{sfx}")]
                for layer in range(self.num_layers) for sfx in (["", "_reverse"] if self.bidirectional else [""])]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _weights(self, layer, d):
        sfx = "_reverse" if d == 1 else ""
        g = lambda n: getattr(self, f"{n}_l{layer}{sfx}", None)  # noqa: E731
        return g("weight_ih"), g("weight_hh"), g("bias_ih"), g("bias_hh"), g("weight_hr")

    def _cell(self):
        return {"RNN_TANH": F.rnn_tanh_cell, "RNN_RELU": F.rnn_relu_cell, "LSTM": F.lstm_cell,
                "GRU": F.gru_cell}[self.mode]

    def forward(self, input, hx=None):
        pl = _pl()
        from ..utils.rnn import PackedSequence
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            # only the real steps: at step t the first sizes[t] sequences (longest first) run
            sizes = [int(v) for v in input.batch_sizes.tolist()]
            packed_input, input = input, input.data
            T, N, feat = len(sizes), sizes[0], input.shape[-1]
            order = packed_input.sorted_indices
            if hx is not None and order is not None:
                hx = ((hx[0].index_select(1, order), hx[1].index_select(1, order)) if is_lstm
                      else hx.index_select(1, order))
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D instead")
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(1)
                if hx is not None:
                    hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1)) if is_lstm else hx.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            T, N, feat = input.shape
            sizes = None
        if feat != self.input_size:
            raise RuntimeError(
                f"{type(self).__name__}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got {feat}")
        num_dir = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = pl.zeros(self.num_layers * num_dir, N, real_hidden, dtype=input.dtype, device=input.device)
            c0 = pl.zeros(self.num_layers * num_dir, N, self.hidden_size, dtype=input.dtype, device=input.device) if is_lstm else None
        elif is_lstm:
            h0, c0 = hx
        else:
            h0, c0 = hx, None
        expected = (self.num_layers * num_dir, N, real_hidden)
        if tuple(h0.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: Expected hidden size {expected}, got {tuple(h0.shape)}")
        cell = self._cell()
        layer_in = input
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
                idx = layer * num_dir + d
                x_proj = F.linear(layer_in, w_ih, b_ih)
                x_proj = x_proj.unbind(0) if sizes is None else pl.split(x_proj, sizes, dim=0)
                steps = range(T - 1, -1, -1) if d == 1 else range(T)
                state = (h0[idx], c0[idx]) if is_lstm else h0[idx]
                seq = [None] * T
                for t in steps:
                    bs = N if sizes is None else sizes[t]
                    if bs == N:
                        state = cell(x_proj[t], state, w_hh, b_hh, w_hr) if is_lstm else cell(x_proj[t], state, w_hh, b_hh)
                        seq[t] = state[0] if is_lstm else state
                    elif is_lstm:            # the shorter sequences keep their last state
                        h, c = cell(x_proj[t], (state[0][:bs], state[1][:bs]), w_hh, b_hh, w_hr)
                        seq[t] = h
                        state = (pl.cat([h, state[0][bs:]]), pl.cat([c, state[1][bs:]]))
                    else:
                        h = cell(x_proj[t], state[:bs], w_hh, b_hh)
                        seq[t] = h
                        state = pl.cat([h, state[bs:]])
                if sizes is not None:
                    outs.append(pl.cat(seq, dim=0))
                else:
                    outs.append(pl.stack(seq) if T else pl.zeros(0, N, real_hidden))
                if is_lstm:
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
            layer_out = outs[0] if num_dir == 1 else pl.cat(outs, dim=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_out = F.dropout(layer_out, self.dropout, training=True)
            layer_in = layer_out
        output = layer_in
        h_n = pl.stack(h_n)
        c_n = pl.stack(c_n) if is_lstm else None
        if packed:
            output = PackedSequence(output, packed_input.batch_sizes, packed_input.sorted_indices,
                                    packed_input.unsorted_indices)
            back = packed_input.unsorted_indices
            if back is not None:
                h_n = h_n.index_select(1, back)
                c_n = c_n.index_select(1, back) if is_lstm else None
        elif unbatched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)


class RNN(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)



class LSTM(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        pl = _pl()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(pl.empty(num_chunks * hidden_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(pl.empty(num_chunks * hidden_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(pl.empty(num_chunks * hidden_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(pl.empty(num_chunks * hidden_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prep(self, input, hx, zeros_n=1):
        pl = _pl()
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{type(self).__name__}: input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = pl.zeros(input.shape[0], self.hidden_size, dtype=input.dtype, device=input.device)
            hx = z if zeros_n == 1 else (z, z)
        elif not batched:
            hx = hx.unsqueeze(0) if zeros_n == 1 else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        return input, hx, batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx)
        cell = F.rnn_tanh_cell if self.nonlinearity == "tanh" else F.rnn_relu_cell
        h = cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx, zeros_n=2)
        h, c = F.lstm_cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        input, hx, batched = self._prep(input, hx)
        h = F.gru_cell(F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
