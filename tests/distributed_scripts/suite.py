"""Run under `python -m pellucid.distributed.run --nproc N suite.py OUTDIR`: every rank runs the
collectives, samplers and data-parallel trainings below and saves inputs and results to
OUTDIR/rank<R>.npz (+ .json); test_distributed.py checks them against NumPy and
single-process references."""
import json
import os
import sys
from datetime import timedelta

import numpy as np

import pellucid as torch
import pellucid.distributed as dist
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid.nn.parallel import DistributedDataParallel as DDP
from pellucid.utils.data import DataLoader, DistributedSampler, TensorDataset

from convnet import make_model, params_of, rank_batch

out_dir = sys.argv[1]
dist.init_process_group("mpi", timeout=timedelta(seconds=60))
rank, world = dist.get_rank(), dist.get_world_size()
arrays = {}
info = {"env": {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")},
        "rank": rank, "world_size": world, "backend": dist.get_backend(),
        "initialized": dist.is_initialized()}

# ---- collectives ------------------------------------------------------------------------------
rng = np.random.default_rng(rank)
FLOATS = ("float32", "float64", "float16")
INTS = ("int64", "int32", "int16", "int8", "uint8")


def sample(dt, shape):
    if dt in FLOATS:
        return rng.standard_normal(shape).astype(dt)
    if dt == "bool":
        return rng.random(shape) < 0.5
    return rng.integers(0 if dt == "uint8" else -3, 4, shape).astype(dt)


for dt in FLOATS + INTS + ("bool",):
    ops = ["SUM", "PRODUCT", "MAX", "MIN"] + (["AVG"] if dt in FLOATS else [])
    for op in ops:
        a = sample(dt, (3, 5))
        t = torch.from_numpy(a.copy())
        v0 = t._version_count
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        arrays[f"all_reduce/{dt}/{op}/in"] = a
        arrays[f"all_reduce/{dt}/{op}/out"] = t.numpy()
        info.setdefault("version_bumped", []).append(t._version_count > v0)

    a = sample(dt, (2, 3))
    t = torch.from_numpy(a.copy())
    dist.broadcast(t, src=world - 1)
    arrays[f"broadcast/{dt}/in"], arrays[f"broadcast/{dt}/out"] = a, t.numpy()

    a = sample(dt, (4,))
    gathered = [torch.zeros(4, dtype=getattr(torch, dt if dt != "bool" else "bool")) for _ in range(world)]
    dist.all_gather(gathered, torch.from_numpy(a.copy()))
    arrays[f"all_gather/{dt}/in"] = a
    arrays[f"all_gather/{dt}/out"] = np.stack([g.numpy() for g in gathered])

    into = torch.from_numpy(np.zeros((world * 4,), a.dtype))
    dist.all_gather_into_tensor(into, torch.from_numpy(a.copy()))
    arrays[f"all_gather_into_tensor/{dt}/out"] = into.numpy()

    blocks = sample(dt, (world, 3))
    op = dist.ReduceOp.SUM
    res = torch.from_numpy(np.zeros(3, blocks.dtype))
    dist.reduce_scatter(res, [torch.from_numpy(b.copy()) for b in blocks], op=op)
    arrays[f"reduce_scatter/{dt}/in"], arrays[f"reduce_scatter/{dt}/out"] = blocks, res.numpy()
    res = torch.from_numpy(np.zeros(3, blocks.dtype))
    dist.reduce_scatter_tensor(res, torch.from_numpy(blocks.reshape(-1).copy()), op=dist.ReduceOp.MAX)
    arrays[f"reduce_scatter_tensor_max/{dt}/out"] = res.numpy()

# bfloat16 (NumPy files have no type for it: stored as float32, which holds its values exactly)
for op in ("SUM", "AVG", "PRODUCT", "MAX", "MIN"):
    t = torch.from_numpy(sample("float32", (3, 5))).bfloat16()
    arrays[f"bf16/all_reduce/{op}/in"] = t.float().numpy()
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    arrays[f"bf16/all_reduce/{op}/out"] = t.float().numpy()
    info.setdefault("bf16_dtypes", []).append(str(t.dtype))
t = torch.from_numpy(sample("float32", (4,))).bfloat16()
gathered = [torch.zeros(4, dtype=torch.bfloat16) for _ in range(world)]
dist.all_gather(gathered, t)
arrays["bf16/all_gather/in"] = t.float().numpy()
arrays["bf16/all_gather/out"] = np.stack([g.float().numpy() for g in gathered])
dist.broadcast(t, src=world - 1)
arrays["bf16/broadcast/out"] = t.float().numpy()

# asynchronous forms
a = sample("float32", (6,))
t = torch.from_numpy(a.copy())
work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
work.wait()
info["async_completed"] = work.is_completed()
arrays["async_all_reduce/in"], arrays["async_all_reduce/out"] = a, t.numpy()
gathered = [torch.zeros(6) for _ in range(world)]
dist.all_gather(gathered, torch.from_numpy(a.copy()), async_op=True).wait()
arrays["async_all_gather/out"] = np.stack([g.numpy() for g in gathered])
t = torch.from_numpy(a.copy())
dist.broadcast(t, 0, async_op=True).wait()
arrays["async_broadcast/out"] = t.numpy()
dist.barrier()

objs = [None] * world
dist.all_gather_object(objs, {"rank": rank, "square": rank * rank})
info["all_gather_object"] = objs
lst = [f"from {rank}", rank] if rank == 1 % world else [None, None]
dist.broadcast_object_list(lst, src=1 % world)
info["broadcast_object_list"] = lst

# ---- samplers ----------------------------------------------------------------------------------
sampler = DistributedSampler(list(range(23)), shuffle=True, seed=5)
info["sampler_epoch0"] = list(sampler)
sampler.set_epoch(1)
info["sampler_epoch1"] = list(sampler)
info["sampler_len"] = len(sampler)
info["sampler_drop_last"] = list(DistributedSampler(list(range(23)), shuffle=False, drop_last=True))
ds = TensorDataset(torch.arange(10) * 10)
loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, shuffle=False))
info["loader"] = [b[0].tolist() for b in loader]


# ---- data-parallel training ------------------------------------------------------------------
def train(steps=20, momentum=0.0, **ddp_kwargs):
    model = make_model(seed=rank)          # different on each rank: DDP must broadcast rank 0's
    ddp = DDP(model, **ddp_kwargs)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=momentum)
    for step in range(steps):
        x, y = rank_batch(step, world, rank)
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
    return model, ddp


model, ddp = train()
for n, p in params_of(model).items():
    arrays[f"ddp_default/{n}"] = p
info["ddp_default_buckets"] = len(ddp._buckets)
info["state_dict_keys"] = list(ddp.state_dict().keys())
info["module_is_model"] = ddp.module is model

model, ddp = train(momentum=0.9, bucket_cap_mb=0.02, gradient_as_bucket_view=True)
for n, p in params_of(model).items():
    arrays[f"ddp_buckets/{n}"] = p
info["ddp_small_buckets"] = len(ddp._buckets)

# when each bucket's all-reduce starts: (non-blocking?, parameters still waiting for a gradient)
pg = ddp.process_group
launches = []


def recording_allreduce(arr, *args, async_op=False, **kwargs):
    launches.append([async_op, int((~ddp._ready).sum())])
    return type(pg).allreduce(pg, arr, *args, async_op=async_op, **kwargs)


pg.allreduce = recording_allreduce
x, y = rank_batch(0, world, rank)
F.cross_entropy(ddp(x), y).backward()
del pg.allreduce
info["bucket_launches"] = launches
info["grad_is_bucket_view"] = all(
    any(p.grad._data.base is b.flat or p.grad._data is b.flat for b in ddp._buckets)
    for p in model.parameters())

# gradient accumulation: two micro-batches per step, the first under no_sync
model = make_model(seed=rank)
ddp = DDP(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
for step in range(5):
    opt.zero_grad()
    with ddp.no_sync():
        x, y = rank_batch(2 * step, world, rank)
        F.cross_entropy(ddp(x), y).backward()
    if step == 0:
        arrays["no_sync/local_grad"] = model.fc1.weight.grad.numpy().copy()
    x, y = rank_batch(2 * step + 1, world, rank)
    F.cross_entropy(ddp(x), y).backward()
    if step == 0:
        arrays["no_sync/synced_grad"] = model.fc1.weight.grad.numpy().copy()
    opt.step()
for n, p in params_of(model).items():
    arrays[f"no_sync/{n}"] = p


# unused parameters: head `a` on even ranks, head `b` on odd ranks, `never` on none
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x, head):
        return getattr(self, head)(self.body(x))


torch.manual_seed(7)
heads = TwoHeads()
ddp = DDP(heads, find_unused_parameters=True)
x = torch.from_numpy(np.random.default_rng(50 + rank).standard_normal((5, 4)).astype(np.float32))
ddp(x, "a" if rank % 2 == 0 else "b").pow(2).sum().backward()
for n, p in heads.named_parameters():
    arrays[f"unused/{n}"] = p.grad.numpy() if p.grad is not None else np.array([])
info["unused_grad_is_none"] = {n: p.grad is None for n, p in heads.named_parameters()}

torch.manual_seed(7)
heads = TwoHeads()
ddp = DDP(heads)
ddp(x, "a").sum().backward()
try:
    ddp(x, "a")
    info["unfinished_error"] = None
except RuntimeError as e:
    info["unfinished_error"] = str(e)

np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **arrays)
with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
    json.dump(info, f)
dist.destroy_process_group()
info_after = dist.is_initialized()
assert info_after is False
