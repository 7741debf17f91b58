"""Variable-length sequences for the recurrent layers: padding a list of sequences into one
tensor, and PackedSequence, which stores only the real steps (time-major, longest sequences
first) so RNN/LSTM/GRU skip the padding."""
from collections import namedtuple

import numpy as np

from ..._tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _pl():
    import pellucid
    return pellucid


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """`data`: the steps of all sequences, time step by time step, each step holding the sequences
    still running (longest first); `batch_sizes[t]`: how many run at step t (int64, on the CPU);
    `sorted_indices` / `unsorted_indices`: the permutation from the caller's batch order to the
    length order and back (None when the batch was already sorted)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        move = (lambda t: None if t is None else t.to(dev))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(dtype=_pl().float64)

    def float(self):
        return self.to(dtype=_pl().float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    pl = _pl()
    out = pl.empty_like(permutation)
    out[permutation] = pl.arange(permutation.numel(), device=permutation.device)
    return out


def _lengths(lengths):
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(f"pack_padded_sequence: 'lengths' should be a 1D tensor, got {lengths.dim()}D")
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T x B x * or, batch_first, B x T x *) whose sequence b has lengths[b] steps."""
    pl = _pl()
    lens = _lengths(lengths)
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if len(lens) != B:
        raise RuntimeError(f"pack_padded_sequence: expected {B} lengths (the batch size), got {len(lens)}")
    if any(n <= 0 for n in lens):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if max(lens) > T:
        raise RuntimeError(f"pack_padded_sequence: a length of {max(lens)} is longer than the padded sequences "
                           f"({T} steps)")
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = list(range(B))
    else:
        order = sorted(range(B), key=lambda b: -lens[b])           # stable: ties keep their order
        sorted_indices = pl.tensor(order, dtype=pl.int64, device=input.device)
        input = input.index_select(1, sorted_indices)
    slens = [lens[b] for b in order]
    batch_sizes = [sum(1 for n in slens if n > t) for t in range(slens[0])]
    data = pl.cat([input[t, :bs] for t, bs in enumerate(batch_sizes)], dim=0)
    return PackedSequence(data, pl.tensor(batch_sizes, dtype=pl.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded tensor, lengths) in the caller's batch order."""
    pl = _pl()
    sizes = [int(v) for v in sequence.batch_sizes.tolist()]
    T = len(sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {T}")
        T_out = total_length
    else:
        T_out = T
    B = sizes[0]
    data = sequence.data
    steps = pl.split(data, sizes, dim=0) if T else []
    feat = tuple(data.shape[1:])
    rows = []
    for t in range(T_out):
        step = steps[t] if t < T else data[:0]
        n = step.shape[0]
        if n < B:
            pad = pl.full((B - n, *feat), padding_value, dtype=data.dtype, device=data.device)
            step = pl.cat([step, pad], dim=0)
        rows.append(step)
    padded = pl.stack(rows, dim=0)
    lengths = np.array([sum(1 for s in sizes if s > b) for b in range(B)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.cpu().numpy()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, pl.tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths (each L_i x *) into one tensor, padded to the longest."""
    pl = _pl()
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in sequences)
    feat = tuple(sequences[0].shape[1:])
    padded = []
    for s in sequences:
        n = T - s.shape[0]
        if n:
            pad = pl.full((n, *feat), padding_value, dtype=s.dtype, device=s.device)
            s = pl.cat([s, pad] if padding_side == "right" else [pad, s], dim=0)
        padded.append(s)
    return pl.stack(padded, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences inside a padded batch, cut to their lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:n] for seq, n in zip(padded_sequences.unbind(0), _lengths(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (each L_i x *) directly."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences inside a PackedSequence, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
