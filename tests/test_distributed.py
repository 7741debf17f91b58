"""pellucid.distributed (MPI backend), DistributedDataParallel and DistributedSampler.

Multi-process tests launch real jobs with `python -m pellucid.distributed.run` (mpirun, 2 and
4 ranks on this machine) and check what the ranks saved against NumPy and against
single-process training in this process. They are skipped, saying why, when mpirun or mpi4py
is missing. This process never imports mpi4py itself, so MPI is never initialised inside
pytest."""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import pellucid
import pellucid.distributed as dist
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid.nn.parallel import DistributedDataParallel
from pellucid.utils.data import DistributedSampler

SCRIPTS = os.path.join(os.path.dirname(__file__), "distributed_scripts")
sys.path.insert(0, SCRIPTS)
import convnet  # noqa: E402

_missing = [what for what, ok in (("mpirun", shutil.which("mpirun") is not None),
                                  ("mpi4py", importlib.util.find_spec("mpi4py") is not None)) if not ok]
needs_mpi = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed "
                               "(apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py)")

JOB_TIMEOUT = 120


def launch(nproc, script, *args, timeout=JOB_TIMEOUT, cwd=None):
    """Run a job; returns (exit status, combined output). The job runs in its own session so
    that a stuck one can be killed whole."""
    cmd = [sys.executable, "-m", "pellucid.distributed.run", "--nproc", str(nproc), script,
           *map(str, args)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True, cwd=cwd)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"the job did not end within {timeout} s:\n{out}")
    return p.returncode, out


def _run_suite_once(world, tmp_path_factory):
    """The suite job's directory. Under pytest-xdist the workers share one run (a lock in the
    session's common temporary directory), so the job runs once per world size, not per worker."""
    script = os.path.join(SCRIPTS, "suite.py")
    if "PYTEST_XDIST_WORKER" not in os.environ:
        out_dir = tmp_path_factory.mktemp(f"suite{world}")
        return out_dir, launch(world, script, out_dir)
    import fcntl
    shared = tmp_path_factory.getbasetemp().parent / f"distributed-suite{world}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = shared / "result.json"
        if not result.exists():
            rc, out = launch(world, script, shared)
            result.write_text(json.dumps([rc, out]))
        rc, out = json.loads(result.read_text())
    return shared, (rc, out)


@pytest.fixture(scope="module", params=[2, 4], ids=["2ranks", "4ranks"])
def job(request, tmp_path_factory):
    if _missing:
        pytest.skip(f"{' and '.join(_missing)} not installed")
    world = request.param
    out_dir, (rc, out) = _run_suite_once(world, tmp_path_factory)
    assert rc == 0, out
    arrays = [dict(np.load(out_dir / f"rank{r}.npz")) for r in range(world)]
    infos = [json.load(open(out_dir / f"rank{r}.json")) for r in range(world)]
    return world, arrays, infos


# ---- launcher and collectives ----------------------------------------------------------------------
def test_launcher_publishes_ranks(job):
    world, _, infos = job
    for r, info in enumerate(infos):
        assert info["rank"] == r and info["world_size"] == world and info["backend"] == "mpi"
        assert info["initialized"] is True
        assert info["env"] == {"RANK": str(r), "WORLD_SIZE": str(world), "LOCAL_RANK": str(r),
                               "LOCAL_WORLD_SIZE": str(world)}


_TOL = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-12}


def _close(actual, expected, dt):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if dt in _TOL:
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                                   rtol=_TOL[dt], atol=_TOL[dt])
    else:
        np.testing.assert_array_equal(actual, expected)


def _reduce(stack, op, dt):
    if dt == "bool":
        return {"SUM": stack.any(0), "MAX": stack.any(0), "PRODUCT": stack.all(0), "MIN": stack.all(0)}[op]
    if op == "SUM":
        return stack.sum(0, dtype=stack.dtype)
    if op == "AVG":
        return (stack.astype(np.float64).sum(0) / len(stack)).astype(stack.dtype)
    if op == "PRODUCT":
        return stack.prod(0, dtype=stack.dtype)
    return stack.max(0) if op == "MAX" else stack.min(0)


DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def test_all_reduce_matches_numpy(job):
    world, arrays, infos = job
    checked = 0
    for dt in DTYPES:
        for op in ["SUM", "PRODUCT", "MAX", "MIN"] + (["AVG"] if dt in _TOL else []):
            key = f"all_reduce/{dt}/{op}"
            expected = _reduce(np.stack([a[f"{key}/in"] for a in arrays]), op, dt)
            for a in arrays:
                _close(a[f"{key}/out"], expected, dt)
            checked += 1
    assert checked == 9 * 4 + 3
    assert all(all(info["version_bumped"]) for info in infos)


def test_bfloat16_collectives_reduce_in_float32_and_round_once(job):
    import ml_dtypes
    world, arrays, infos = job
    bf16 = lambda x: x.astype(ml_dtypes.bfloat16).astype(np.float32)   # noqa: E731
    for op in ("SUM", "AVG", "PRODUCT", "MAX", "MIN"):
        key = f"bf16/all_reduce/{op}"
        expected = bf16(_reduce(np.stack([a[f"{key}/in"] for a in arrays]).astype(np.float64), op, "float64"))
        for a in arrays:
            np.testing.assert_allclose(a[f"{key}/out"], expected, rtol=1e-6, atol=1e-30)
    assert all(info["bf16_dtypes"] == ["pellucid.bfloat16"] * 5 for info in infos)
    ins = np.stack([a["bf16/all_gather/in"] for a in arrays])
    for a in arrays:
        np.testing.assert_array_equal(a["bf16/all_gather/out"], ins)
        np.testing.assert_array_equal(a["bf16/broadcast/out"], arrays[world - 1]["bf16/all_gather/in"])


def test_broadcast_all_gather_reduce_scatter_match_numpy(job):
    world, arrays, _ = job
    for dt in DTYPES:
        ins = np.stack([a[f"all_gather/{dt}/in"] for a in arrays])
        blocks = np.stack([a[f"reduce_scatter/{dt}/in"] for a in arrays])     # [sender, block, 3]
        for r, a in enumerate(arrays):
            _close(a[f"broadcast/{dt}/out"], arrays[world - 1][f"broadcast/{dt}/in"], dt)
            _close(a[f"all_gather/{dt}/out"], ins, dt)
            _close(a[f"all_gather_into_tensor/{dt}/out"], ins.reshape(-1), dt)
            _close(a[f"reduce_scatter/{dt}/out"], _reduce(blocks[:, r], "SUM", dt), dt)
            _close(a[f"reduce_scatter_tensor_max/{dt}/out"], _reduce(blocks[:, r], "MAX", dt), dt)


def test_async_collectives_and_object_collectives(job):
    world, arrays, infos = job
    ins = np.stack([a["async_all_reduce/in"] for a in arrays])
    for a, info in zip(arrays, infos):
        np.testing.assert_allclose(a["async_all_reduce/out"], ins.mean(0), rtol=1e-6)
        np.testing.assert_array_equal(a["async_all_gather/out"], ins)
        np.testing.assert_array_equal(a["async_broadcast/out"], ins[0])
        assert info["async_completed"] is True
        assert info["all_gather_object"] == [{"rank": r, "square": r * r} for r in range(world)]
        assert info["broadcast_object_list"] == ["from 1", 1]


def test_sampler_partitions_epoch_across_ranks(job):
    world, _, infos = job
    n, per = 23, -(-23 // world)
    for key in ("sampler_epoch0", "sampler_epoch1"):
        parts = [info[key] for info in infos]
        assert all(len(p) == per for p in parts)
        order = [parts[i % world][i // world] for i in range(per * world)]   # interleave back
        assert sorted(order[:n]) == list(range(n))                         # one permutation...
        assert order[n:] == order[:per * world - n]                        # ...padded with its start
        perm = pellucid.randperm(n, generator=pellucid.Generator().manual_seed(5 + int(key[-1])))
        assert order[:n] == perm.tolist()
    assert infos[0]["sampler_epoch0"] != infos[0]["sampler_epoch1"]
    drop = [info["sampler_drop_last"] for info in infos]
    assert sorted(sum(drop, [])) == list(range(n - n % world))
    loader = sum((sum(info["loader"], []) for info in infos), [])
    assert sorted(loader) == sorted(list(range(0, 100, 10)) + list(range(0, 10 * ((-10) % world), 10)))


# ---- DistributedDataParallel --------------------------------------------------------------------------
def _reference_training(world, steps=20, momentum=0.0):
    model = convnet.make_model(seed=0)
    opt = pellucid.optim.SGD(model.parameters(), lr=0.05, momentum=momentum)
    for step in range(steps):
        x, y = convnet.global_batch(step, world)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return convnet.params_of(model)


def _assert_ranks_equal_reference(arrays, prefix, reference):
    for name, ref in reference.items():
        first = arrays[0][f"{prefix}/{name}"]
        for a in arrays[1:]:
            np.testing.assert_array_equal(a[f"{prefix}/{name}"], first, err_msg=f"{prefix}/{name}")
        np.testing.assert_allclose(first, ref, rtol=1e-4, atol=2e-5, err_msg=f"{prefix}/{name}")


def test_ddp_training_equals_single_process_on_the_whole_batch(job):
    world, arrays, infos = job
    assert infos[0]["ddp_default_buckets"] == 1
    _assert_ranks_equal_reference(arrays, "ddp_default", _reference_training(world))


def test_ddp_small_buckets_and_gradient_views(job):
    world, arrays, infos = job
    assert infos[0]["ddp_small_buckets"] == 3
    # buckets start while backward still has gradients to compute; the last one blocks
    for info in infos:
        (a1, wait1), (a2, wait2), (a3, wait3) = info["bucket_launches"]
        assert (a1, a2, a3) == (True, True, False)
        assert wait1 > wait2 > 0 and wait3 == 0
    assert all(info["grad_is_bucket_view"] for info in infos)
    _assert_ranks_equal_reference(arrays, "ddp_buckets", _reference_training(world, momentum=0.9))


def test_ddp_no_sync_accumulates_locally_then_averages(job):
    world, arrays, _ = job
    # inside no_sync: each rank's own gradient
    for r, a in enumerate(arrays):
        model = convnet.make_model(seed=0)
        x, y = convnet.rank_batch(0, world, r)
        F.cross_entropy(model(x), y).backward()
        np.testing.assert_allclose(a["no_sync/local_grad"], model.fc1.weight.grad.numpy(), rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_array_equal(a["no_sync/synced_grad"], arrays[0]["no_sync/synced_grad"])
    assert not np.array_equal(arrays[0]["no_sync/local_grad"], arrays[1]["no_sync/local_grad"])
    # after the synced backward: the average over ranks of both micro-batches
    model = convnet.make_model(seed=0)
    opt = pellucid.optim.SGD(model.parameters(), lr=0.05)
    for step in range(5):
        opt.zero_grad()
        for micro in (2 * step, 2 * step + 1):
            x, y = convnet.global_batch(micro, world)
            F.cross_entropy(model(x), y).backward()
        if step == 0:
            np.testing.assert_allclose(arrays[0]["no_sync/synced_grad"], model.fc1.weight.grad.numpy(),
                                       rtol=1e-4, atol=1e-7)
        opt.step()
    _assert_ranks_equal_reference(arrays, "no_sync", convnet.params_of(model))


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x, head):
        return getattr(self, head)(self.body(x))


def test_ddp_find_unused_parameters(job):
    world, arrays, infos = job
    pellucid.manual_seed(7)
    model = _TwoHeads()
    total = 0
    for r in range(world):
        x = pellucid.from_numpy(np.random.default_rng(50 + r).standard_normal((5, 4)).astype(np.float32))
        total = total + model(x, "a" if r % 2 == 0 else "b").pow(2).sum() / world
    total.backward()
    for a, info in zip(arrays, infos):
        assert info["unused_grad_is_none"] == {n: n.startswith("never") for n, _ in model.named_parameters()}
        for n, p in model.named_parameters():
            if p.grad is not None:
                np.testing.assert_allclose(a[f"unused/{n}"], p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_ddp_unused_parameter_without_detection_is_reported(job):
    _, _, infos = job
    msg = infos[1]["unfinished_error"]
    assert msg.startswith("Expected to have finished reduction in the prior iteration")
    assert "find_unused_parameters=True" in msg and "b.weight" in msg and "never.bias" in msg


def test_ddp_keeps_the_model_api(job):
    _, _, infos = job
    assert infos[0]["module_is_model"] is True
    assert infos[0]["state_dict_keys"] == ["module." + k for k in convnet.ConvNet().state_dict()]


# ---- failures end the job ----------------------------------------------------------------------------
@needs_mpi
def test_rank_that_raises_ends_the_job_with_its_error():
    rc, out = launch(2, os.path.join(SCRIPTS, "failing_rank.py"), "raise", 60, timeout=60)
    assert rc != 0
    assert "ValueError: rank 1 failed on purpose" in out and "[rank 1] failed" in out
    assert "every rank finished" not in out


@needs_mpi
def test_rank_that_stops_calling_collectives_times_out():
    rc, out = launch(2, os.path.join(SCRIPTS, "failing_rank.py"), "hang", 1.5, timeout=60)
    assert rc != 0
    assert re.search(r"\[rank 0\] pellucid.distributed: all_reduce \(float32, 4 elements\) on rank 0 of 2 "
                     r"\(mpi backend\) did not complete within the timeout of 0:00:01.5", out), out


@needs_mpi
def test_rank_that_exits_with_an_error_status_ends_the_job():
    rc, out = launch(2, os.path.join(SCRIPTS, "failing_rank.py"), "exit", 60, timeout=60)
    assert rc == 3, out
    assert "[rank 1] exited with status 3" in out


# ---- the README's example -----------------------------------------------------------------------------
def _readme_example():
    text = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    section = text.split("## Data-parallel training", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```py\n(.*?)```", section, re.S)[0]


def _small_mnist(root, n=512):
    """The first `n` digits of the bundled sample, in MNIST's layout under `root`."""
    from pellucid.vision.datasets.mnist import MNIST, read_idx
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    sample = MNIST.sample_folder
    for (name, _), ndim in zip(MNIST.resources, (3, 1, 3, 1)):
        arr = read_idx(MNIST._find(sample, name), ndim)[:n]
        header = bytes([0, 0, 0x08, ndim]) + np.array(arr.shape, ">u4").tobytes()
        (raw / MNIST._base(name)).write_bytes(header + arr.astype(np.uint8).tobytes())


@needs_mpi
def test_readme_data_parallel_example_runs(tmp_path):
    (tmp_path / "train_mnist.py").write_text(_readme_example())
    _small_mnist(tmp_path / "data")
    rc, out = launch(2, tmp_path / "train_mnist.py", cwd=tmp_path)
    assert rc == 0, out
    assert re.search(r"epoch 0: loss \d+\.\d+", out), out
    assert (tmp_path / "mnist_ddp.pt").stat().st_size > 0


# ---- in-process checks (no MPI) ---------------------------------------------------------------------
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False),
                                                  (5, 7, False), (1, 2, False), (17, 4, True)])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                              drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == ours.num_samples == theirs.num_samples
        assert ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (5, 7, False)])
def test_sampler_shuffle_is_torchs_rule_on_pellucids_permutation(n, replicas, drop_last):
    """PyTorch's RNG (MT19937) is not pellucid's (PCG64), so the permutations differ; the rest of
    the rule (seed + epoch, padding, drop_last, striding) is PyTorch's."""
    for epoch in (0, 3):
        perm = pellucid.randperm(n, generator=pellucid.Generator().manual_seed(11 + epoch)).tolist()
        ref = torch.utils.data.distributed.DistributedSampler(
            perm, num_replicas=replicas, rank=0, shuffle=False, drop_last=drop_last)
        for rank in range(replicas):
            ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=11,
                                      drop_last=drop_last)
            ours.set_epoch(epoch)
            ref.rank = rank
            assert list(ours) == [perm[i] for i in ref]


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="init_process_group has not been called"):
        DistributedSampler(range(4))


def test_api_errors_before_initialisation():
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(pellucid.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.init_process_group("mpi", timeout=0)
    assert dist.ReduceOp.SUM == dist.ReduceOp.SUM and dist.ReduceOp.SUM != dist.ReduceOp.MAX
    assert dist.is_mpi_available() == (importlib.util.find_spec("mpi4py") is not None)


def test_mpirun_command_confines_open_mpi_to_this_machine(monkeypatch):
    from pellucid.distributed import run
    monkeypatch.setattr(run, "_flavour", lambda exe: ("openmpi", 4))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    env = {"OMPI_MCA_btl": "self,tcp"}
    cmd, out_env = run.mpirun_command(4, ["train.py", "--lr", "0.1"], mpirun="/usr/bin/mpirun", env=env)
    assert cmd[:3] == ["/usr/bin/mpirun", "-np", "4"]
    assert "--oversubscribe" in cmd and ("--allow-run-as-root" in cmd) == (os.geteuid() == 0)
    assert cmd[cmd.index(sys.executable):] == [sys.executable, "-m", "pellucid.distributed.run",
                                               "--run-as-rank", "train.py", "--lr", "0.1"]
    assert out_env["OMPI_MCA_btl"] == "self,tcp"                 # the caller's setting wins
    assert out_env["OMPI_MCA_pml"] == "ob1" and out_env["OMPI_MCA_oob_tcp_if_include"] == "lo"
    assert out_env["OMP_NUM_THREADS"] == "1" and out_env["OMPI_MCA_mpi_yield_when_idle"] == "1"
    cmd, out_env = run.mpirun_command(2, ["t.py"], mpirun="/usr/bin/mpirun", env={})
    assert "--oversubscribe" not in cmd and out_env["OMPI_MCA_btl"] == "self,vader"
    with pytest.raises(ValueError, match="--nproc must be at least 1"):
        run.mpirun_command(0, ["t.py"], mpirun="/usr/bin/mpirun", env={})


@pytest.mark.parametrize("kind", ["file", "tcp"])
def test_store_hands_rank_zeros_value_to_the_others(kind, tmp_path):
    from pellucid.distributed._store import store_from_init_method
    if kind == "file":
        url = f"file://{tmp_path / 'rendezvous'}"
    else:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    uid = bytes(range(128))
    got = {}

    def member(rank):
        store = store_from_init_method(url, rank, timeout_s=20)
        if rank == 0:
            store.set("nccl_unique_id", dist._encode_uid(uid))
        got[rank] = dist._decode_uid(store.get("nccl_unique_id"))
        if rank == 0:
            done.wait(20)
        store.close()

    done = threading.Event()
    threads = [threading.Thread(target=member, args=(r,)) for r in (1, 2, 0)]
    for t in threads[:2]:
        t.start()
    threads[2].start()
    threads[0].join(30)
    threads[1].join(30)
    done.set()
    threads[2].join(30)
    assert got == {0: uid, 1: uid, 2: uid}
    assert dist._decode_uid(dist._encode_uid((1, -2, 127))) == (1, -2, 127)


def test_file_store_times_out_with_a_clear_error(tmp_path):
    from pellucid.distributed._store import FileStore
    with pytest.raises(dist.DistError, match="did not appear .* within 0 s"):
        FileStore(str(tmp_path / "nobody"), timeout_s=0.05).get("nccl_unique_id")
