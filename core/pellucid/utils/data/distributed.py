"""DistributedSampler: each rank's share of a dataset, as torch.utils.data.distributed."""
import math

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Rank `rank` of `num_replicas` gets every num_replicas-th index of the epoch's order.

    shuffle: the order is a permutation seeded with `seed + epoch` (the same on every rank;
    call `set_epoch` at the start of each epoch for a new one). drop_last: drop the tail so
    that every rank gets the same number of indices; otherwise the order is padded by
    repeating its start. num_replicas / rank default to the default process group's."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank default to the process "
                                   "group's, but init_process_group has not been called; pass them "
                                   "explicitly or initialise the process group first")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _index_array(self):
        n = len(self.dataset)
        if self.shuffle:
            from ..._random import Generator
            from ...ops._random_ops import randperm
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            order = randperm(n, generator=g)._data
        else:
            order = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                order = np.concatenate([order, np.resize(order, pad)])    # repeats the start
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the permutation of `epoch` next (seeded with seed + epoch)."""
        self.epoch = epoch
