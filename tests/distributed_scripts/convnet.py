"""The MNIST-shaped ConvNet and the synthetic batches shared by the data-parallel scripts and
the single-process references in test_distributed.py."""
import numpy as np

import pellucid as torch
import pellucid.nn as nn
import pellucid.nn.functional as F

PER_RANK = 8


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(1600, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def make_model(seed):
    torch.manual_seed(seed)
    return ConvNet()


def global_batch(step, world_size, per_rank=PER_RANK):
    """The batch of one step for all ranks together; rank r trains on rows [r*per_rank, (r+1)*per_rank)."""
    rng = np.random.default_rng(1000 + step)
    n = per_rank * world_size
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    return torch.from_numpy(x), torch.from_numpy(y)


def rank_batch(step, world_size, rank, per_rank=PER_RANK):
    x, y = global_batch(step, world_size, per_rank)
    return x[rank * per_rank:(rank + 1) * per_rank], y[rank * per_rank:(rank + 1) * per_rank]


def params_of(model):
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
