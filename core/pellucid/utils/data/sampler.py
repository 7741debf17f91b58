"""Samplers: iterables of dataset indices (or of index lists, for BatchSampler).

Random samplers draw from pellucid's RNG, so `pellucid.manual_seed` (or a `generator=`) makes
shuffling reproducible. Each epoch's indices are drawn as one NumPy array, and BatchSampler slices
that array rather than collecting indices one at a time.
"""
import itertools

import numpy as np

from ... import _random
from ..._tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _numpy_rng(generator):
    return _random.rng_for(None, generator)[1]


def _epoch_rng(generator):
    """PyTorch's RandomSampler rule: without a generator, draw a seed from the global RNG and
    shuffle with a fresh generator, so the global stream advances by exactly one draw."""
    if generator is not None:
        return _numpy_rng(generator)
    seed = int(_random.default_generator._np.integers(0, 2 ** 63 - 1))
    return np.random.Generator(np.random.PCG64(seed))


class Sampler:
    """Base class: subclasses implement `__iter__` (and usually `__len__`)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _index_array(self):
        return np.arange(len(self.data_source))


class RandomSampler(Sampler):
    """A random permutation of the indices (or `num_samples` draws, with or without replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _index_array(self):
        n = len(self.data_source)
        rng = _epoch_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        full, rest = divmod(self.num_samples, n)
        perms = [rng.permutation(n) for _ in range(full)]
        if rest:
            perms.append(rng.permutation(n)[:rest])
        return perms[0] if len(perms) == 1 else np.concatenate(perms)

    def __iter__(self):
        yield from self._index_array().tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = _numpy_rng(self.generator).permutation(len(self.indices)).tolist()
        indices = self.indices
        for i in order:
            yield indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights`."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = Tensor._make(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = np.asarray(self.weights._data)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution "
                               "(weights must be finite and non-negative)")
        total = w.sum()
        if total <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (sum of weights <= 0)")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement from "
                f"{np.count_nonzero(w)} categories with non-zero weight")
        idx = _numpy_rng(self.generator).choice(len(w), size=self.num_samples, replace=self.replacement,
                                                p=w / total)
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last one shorter unless
    `drop_last`)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        bs = self.batch_size
        if type(self.sampler) in (SequentialSampler, RandomSampler):
            # The whole epoch is one array: slice it instead of pulling indices one by one.
            indices = self.sampler._index_array().tolist()
            stop = len(indices) - len(indices) % bs if self.drop_last else len(indices)
            for i in range(0, stop, bs):
                yield indices[i:i + bs]
        else:
            yield from self._iter_generic()

    def _iter_generic(self):
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            for batch in zip(*[sampler_iter] * self.batch_size):
                yield list(batch)
        else:
            batch = list(itertools.islice(sampler_iter, self.batch_size))
            while batch:
                yield batch
                batch = list(itertools.islice(sampler_iter, self.batch_size))

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
