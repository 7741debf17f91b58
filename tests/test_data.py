"""pellucid.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader
(single process and worker processes)."""
import collections
import gc
import multiprocessing
import os
import time
import warnings

import numpy as np
import pytest
import torch

import pellucid
from pellucid.utils import data as pdata
from torch.utils import data as tdata


def to_np(x):
    if isinstance(x, (pellucid.Tensor, torch.Tensor)):
        return np.asarray(x.detach().numpy())
    return x


def assert_same(p, t):
    """Same structure, types (tensor vs not), dtypes and values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(p, pellucid.Tensor), f"expected a tensor, got {type(p)}"
        assert str(p.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        assert tuple(p.shape) == tuple(t.shape)
        np.testing.assert_array_equal(to_np(p), to_np(t))
    elif isinstance(t, dict):
        assert type(p) is type(t) and list(p.keys()) == list(t.keys())
        for k in t:
            assert_same(p[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(p) is type(t), f"{type(p)} vs {type(t)}"
        assert len(p) == len(t)
        for a, b in zip(p, t):
            assert_same(a, b)
    else:
        assert p == t and type(p) is type(t)


def pair(n=10, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, 5, n)
    return (pdata.TensorDataset(pellucid.from_numpy(x), pellucid.from_numpy(y)),
            tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))


def no_children():
    deadline = time.time() + 10
    while multiprocessing.active_children() and time.time() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children() == []


# ---- datasets ---------------------------------------------------------------------------------------

def test_tensor_dataset_items_and_errors():
    pds, tds = pair()
    assert len(pds) == len(tds) == 10
    assert_same(pds[3], tds[3])
    with pytest.raises(ValueError, match="Size mismatch"):
        pdata.TensorDataset(pellucid.zeros(3), pellucid.zeros(4))


def test_concat_subset_stack_chain():
    a, b = pdata.TensorDataset(pellucid.arange(3)), pdata.TensorDataset(pellucid.arange(10, 15))
    cat = a + b
    assert isinstance(cat, pdata.ConcatDataset) and len(cat) == 8
    assert cat[4][0].item() == 11 and cat[-1][0].item() == 14 and cat[2][0].item() == 2
    with pytest.raises(ValueError):
        cat[-9]
    sub = pdata.Subset(cat, [7, 0, 3])
    assert len(sub) == 3 and [s[0].item() for s in sub.__getitems__([0, 2])] == [14, 10]
    st = pdata.StackDataset(x=a, y=pdata.TensorDataset(pellucid.arange(3) * 2))
    assert st[1]["y"][0].item() == 2 and len(st) == 3
    with pytest.raises(ValueError, match="Size mismatch"):
        pdata.StackDataset(a, b)

    class Count(pdata.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n
    chain = Count(2) + Count(3)
    assert isinstance(chain, pdata.ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.3, 0.4], [0.5, 0.5], [0.33, 0.33, 0.34]])
def test_random_split_lengths_match_torch(lengths):
    n = 10 if sum(lengths) == 10 else 11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = pdata.random_split(range(n), lengths, generator=pellucid.Generator().manual_seed(1))
        theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    together = sorted(i for s in ours for i in s)
    assert together == list(range(n))        # a partition of the indices


def test_random_split_reproducible_and_checked():
    a = pdata.random_split(range(20), [5, 15], generator=pellucid.Generator().manual_seed(3))
    b = pdata.random_split(range(20), [5, 15], generator=pellucid.Generator().manual_seed(3))
    assert list(a[0]) == list(b[0])
    pellucid.manual_seed(5)
    c = pdata.random_split(range(20), [5, 15])
    pellucid.manual_seed(5)
    d = pdata.random_split(range(20), [5, 15])
    assert list(c[0]) == list(d[0])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        pdata.random_split(range(5), [2, 2])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        pdata.random_split(range(5), [-0.5, 1.5])


# ---- samplers ---------------------------------------------------------------------------------------

def test_sequential_and_batch_sampler_match_torch():
    for drop_last in (False, True):
        for bs in (1, 3, 4, 10, 12):
            ours = list(pdata.BatchSampler(pdata.SequentialSampler(range(10)), bs, drop_last))
            theirs = list(tdata.BatchSampler(tdata.SequentialSampler(range(10)), bs, drop_last))
            assert ours == theirs
            assert len(pdata.BatchSampler(range(10), bs, drop_last)) == len(theirs)
            assert list(pdata.BatchSampler(range(10), bs, drop_last)) == theirs   # generic path
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        pdata.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        pdata.BatchSampler(range(3), 2, 1)


def test_random_sampler():
    s = pdata.RandomSampler(range(10), generator=pellucid.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == list(range(10)) and out != list(range(10)) and all(type(i) is int for i in out)
    s = pdata.RandomSampler(range(10), num_samples=25, generator=pellucid.Generator().manual_seed(0))
    out = list(s)
    assert len(out) == len(s) == 25
    assert sorted(out[:10]) == list(range(10)) and sorted(out[10:20]) == list(range(10))
    s = pdata.RandomSampler(range(4), replacement=True, num_samples=100, generator=pellucid.Generator().manual_seed(0))
    out = list(s)
    assert len(out) == 100 and set(out) == {0, 1, 2, 3}
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        pdata.RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        pdata.RandomSampler(range(3), num_samples=0)
    # without a generator: one draw from the global RNG per epoch, so manual_seed reproduces it
    pellucid.manual_seed(7)
    a = list(pdata.RandomSampler(range(50)))
    b = list(pdata.RandomSampler(range(50)))
    pellucid.manual_seed(7)
    assert list(pdata.RandomSampler(range(50))) == a and a != b


def test_subset_and_weighted_samplers():
    idx = [5, 9, 2, 7]
    out = list(pdata.SubsetRandomSampler(idx, generator=pellucid.Generator().manual_seed(0)))
    assert sorted(out) == sorted(idx) and len(pdata.SubsetRandomSampler(idx)) == 4
    w = pdata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 200, generator=pellucid.Generator().manual_seed(0))
    out = list(w)
    assert len(out) == 200 and set(out) == {1, 3} and out.count(3) > out.count(1)
    w = pdata.WeightedRandomSampler([1.0, 2.0, 3.0, 0.5], 4, replacement=False)
    assert sorted(w) == [0, 1, 2, 3]
    assert w.weights.dtype == pellucid.float64
    with pytest.raises(RuntimeError, match="without replacement"):
        list(pdata.WeightedRandomSampler([1.0, 0.0], 2, replacement=False))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        pdata.WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        pdata.WeightedRandomSampler([1.0], True)


# ---- collation ----------------------------------------------------------------------------------------

Point = collections.namedtuple("Point", "x y")


def _samples(lib):
    t = (lambda a: pellucid.from_numpy(np.array(a))) if lib == "p" else (lambda a: torch.from_numpy(np.array(a)))
    return [
        [1, 2, 3],
        [1.5, 2.0],
        [True, False],
        ["a", "b"],
        [b"x", b"y"],
        [np.float32(1.0), np.float32(2.0)],
        [np.int32(4), np.int32(5)],
        [np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)],
        [t([1.0, 2.0]), t([3.0, 4.0])],
        [(t([1, 2]), 3, "s"), (t([4, 5]), 6, "t")],
        [Point(1, 2.0), Point(3, 4.0)],
        [{"img": t([[1, 2]]), "label": 1, "meta": {"name": "a"}}, {"img": t([[3, 4]]), "label": 0, "meta": {"name": "b"}}],
        [[1, [2.0, 3]], [4, [5.0, 6]]],
        [collections.OrderedDict(a=1.0), collections.OrderedDict(a=2.0)],
    ]


def test_default_collate_matches_torch():
    for ours, theirs in zip(_samples("p"), _samples("t")):
        assert_same(pdata.default_collate(ours), tdata.default_collate(theirs))


def test_default_convert_matches_torch():
    sample = {"a": np.arange(3), "b": (np.float32(2.0), 3), "c": [np.zeros(2, np.float64)], "d": "s"}
    assert_same(pdata.default_convert(sample), tdata.default_convert(sample))
    assert isinstance(pdata.default_convert(np.array(["a"])), np.ndarray)   # strings stay arrays


def test_default_collate_errors():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        pdata.default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        pdata.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        pdata.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1"):
        pdata.default_collate([pellucid.zeros(2), pellucid.zeros(3)])


def test_default_collate_keeps_graph_and_promotes():
    a = pellucid.ones(2, requires_grad=True)
    out = pdata.default_collate([a, a * 2])
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(to_np(a.grad), [3.0, 3.0])
    mixed = pdata.default_collate([pellucid.zeros(2, dtype=pellucid.int64), pellucid.zeros(2)])
    want = tdata.default_collate([torch.zeros(2, dtype=torch.int64), torch.zeros(2)])
    assert str(mixed.dtype).split(".")[-1] == str(want.dtype).split(".")[-1] == "float32"


# ---- DataLoader, single process ----------------------------------------------------------------------

@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (4, True), (10, False), (16, False)])
def test_loader_matches_torch_unshuffled(batch_size, drop_last):
    pds, tds = pair()
    ours = pdata.DataLoader(pds, batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(tds, batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert_same(a, b)


class DictDataset(pdata.Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.full((2,), i, np.float32), "y": i, "name": f"s{i}", "pair": (i * 0.5, [i, -i])}


class TorchDictDataset(tdata.Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return DictDataset()[i]


def test_loader_nested_samples_match_torch():
    for kw in ({"batch_size": 3}, {"batch_size": None}, {"batch_size": 2, "drop_last": True}):
        got, want = list(pdata.DataLoader(DictDataset(), **kw)), list(tdata.DataLoader(TorchDictDataset(), **kw))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_same(a, b)


def test_loader_batch_sampler_and_collate_fn():
    pds, tds = pair()
    bs = [[0, 5], [9], [1, 2, 3]]
    got = list(pdata.DataLoader(pds, batch_sampler=bs))
    want = list(tdata.DataLoader(tds, batch_sampler=bs))
    for a, b in zip(got, want):
        assert_same(a, b)
    sizes = [len(b) for b in pdata.DataLoader(pds, batch_size=4, collate_fn=lambda batch: batch)]
    assert sizes == [4, 4, 2]
    assert len(pdata.DataLoader(pds, sampler=pdata.SequentialSampler(range(4)), batch_size=3)) == 2


def test_loader_argument_errors_match_torch():
    pds, _ = pair()
    cases = [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True),
             dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
             dict(batch_size=None, drop_last=True), dict(multiprocessing_context="fork")]
    for kw in cases:
        with pytest.raises(ValueError) as ours:
            pdata.DataLoader(pds, **kw)
        with pytest.raises(ValueError):
            tdata.DataLoader(pair()[1], **kw)
        assert str(ours.value)
    loader = pdata.DataLoader(pds, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3


def test_fast_gather_equals_per_sample_path():
    pds, _ = pair(n=37, d=4)
    fast = pdata.DataLoader(pds, batch_size=8, shuffle=True, generator=pellucid.Generator().manual_seed(2))
    slow = pdata.DataLoader(pds, batch_size=8, shuffle=True, generator=pellucid.Generator().manual_seed(2),
                            collate_fn=lambda b: pdata.default_collate(b))
    for a, b in zip(fast, slow):
        assert_same(a, [torch.from_numpy(to_np(t)) for t in b])
        assert type(a) is list
    # through random_split's Subsets, too
    train, _ = pdata.random_split(pds, [30, 7], generator=pellucid.Generator().manual_seed(0))
    for a, b in zip(pdata.DataLoader(train, batch_size=6),
                    pdata.DataLoader(train, batch_size=6, collate_fn=lambda b: pdata.default_collate(b))):
        assert_same(a, [torch.from_numpy(to_np(t)) for t in b])


def test_loader_keeps_graph_of_dataset_tensors():
    x = pellucid.ones(4, 2, requires_grad=True)
    (xb,) = next(iter(pdata.DataLoader(pdata.TensorDataset(x), batch_size=4)))
    assert xb.requires_grad
    xb.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.ones((4, 2)))


def test_shuffle_reproducible_with_manual_seed_and_generator():
    pds, _ = pair(n=20)

    def epoch(**kw):
        return [to_np(b[1]).tolist() for b in pdata.DataLoader(pds, batch_size=5, shuffle=True, **kw)]
    pellucid.manual_seed(11)
    first, second = epoch(), epoch()
    pellucid.manual_seed(11)
    assert epoch() == first and first != second
    assert sorted(sum(first, [])) == sorted(to_np(pds.tensors[1]).tolist())
    assert epoch(generator=pellucid.Generator().manual_seed(4)) == epoch(generator=pellucid.Generator().manual_seed(4))


class Stream(pdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = pdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


class Plain(pdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


class TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_dataset_matches_torch():
    for kw in ({"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None}):
        got = list(pdata.DataLoader(Stream(8), **kw))
        want = list(tdata.DataLoader(TorchStream(8), **kw))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_same(a, b)
    assert len(pdata.DataLoader(Stream(8), batch_size=3)) == 3
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        pdata.DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        pdata.DataLoader(Stream(3), sampler=[0])


def test_pin_memory_is_accepted():
    pds, _ = pair()
    with pytest.warns(UserWarning, match="no accelerator"):
        out = list(pdata.DataLoader(pds, batch_size=5, pin_memory=True))
    assert len(out) == 2


def test_get_worker_info_is_none_in_main_process():
    assert pdata.get_worker_info() is None


# ---- DataLoader with worker processes ---------------------------------------------------------------

class Squares(pdata.Dataset):
    def __init__(self, n, fail_at=None):
        self.n, self.fail_at = n, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"sample {i} is broken")
        return pellucid.tensor([float(i), float(i * i)]), i


class WhoAmI(pdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = pdata.get_worker_info()
        return {"pid": os.getpid(), "worker": info.id, "seed": info.seed, "rand": float(pellucid.rand(1).item()),
                "init": os.environ.get("PELLUCID_TEST_INIT", "")}


def test_workers_give_the_same_batches_as_main_process():
    ds = Squares(23)
    single = list(pdata.DataLoader(ds, batch_size=4))
    multi = list(pdata.DataLoader(ds, batch_size=4, num_workers=2))
    assert len(single) == len(multi) == 6
    for a, b in zip(single, multi):
        np.testing.assert_array_equal(to_np(a[0]), to_np(b[0]))
        np.testing.assert_array_equal(to_np(a[1]), to_np(b[1]))
        assert b[0].dtype == pellucid.float32 and b[1].dtype == pellucid.int64
    pds, _ = pair(n=30)
    for a, b in zip(pdata.DataLoader(pds, batch_size=7), pdata.DataLoader(pds, batch_size=7, num_workers=2, prefetch_factor=1)):
        assert_same(b, [torch.from_numpy(to_np(t)) for t in a])
    assert no_children()


def test_worker_shuffle_reproducible():
    ds = Squares(12)
    pellucid.manual_seed(3)
    a = [to_np(b[1]).tolist() for b in pdata.DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)]
    pellucid.manual_seed(3)
    b = [to_np(b[1]).tolist() for b in pdata.DataLoader(ds, batch_size=4, shuffle=True, num_workers=0)]
    assert a == b


def test_worker_exception_is_reraised_with_traceback():
    loader = pdata.DataLoader(Squares(10, fail_at=5), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process" in msg
    assert "Traceback (most recent call last)" in msg and "sample 5 is broken" in msg
    assert 'raise ValueError(f"sample {i} is broken")' in msg
    del info
    gc.collect()
    assert no_children()


def test_no_leftover_processes_when_stopping_early():
    loader = pdata.DataLoader(Squares(200), batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    assert no_children()
    it = iter(loader)
    next(it)
    assert len(multiprocessing.active_children()) == 2
    del it
    assert no_children()


def worker_init(worker_id):
    os.environ["PELLUCID_TEST_INIT"] = f"init{worker_id}"


def test_worker_info_seeds_and_init_fn():
    pellucid.manual_seed(0)
    rows = list(pdata.DataLoader(WhoAmI(), batch_size=None, num_workers=2, worker_init_fn=worker_init))
    by_worker = {r["worker"]: r for r in rows}
    assert set(by_worker) == {0, 1}
    assert by_worker[0]["pid"] != by_worker[1]["pid"] != os.getpid()
    assert by_worker[1]["seed"] == by_worker[0]["seed"] + 1
    assert {r["init"] for r in rows} == {"init0", "init1"}
    assert rows[0]["worker"] == 0 and rows[1]["worker"] == 1       # round-robin, in order
    pellucid.manual_seed(0)
    again = list(pdata.DataLoader(WhoAmI(), batch_size=None, num_workers=2))
    assert [r["rand"] for r in again] == [r["rand"] for r in rows]
    assert len({r["rand"] for r in rows}) == len(rows)
    assert no_children()


def test_persistent_workers_reuse_processes():
    loader = pdata.DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True)
    first = [set(to_np(b["pid"]).tolist()) for b in loader]
    second = [set(to_np(b["pid"]).tolist()) for b in loader]
    assert len(first) == len(second) == 2 and first == second
    # stopping an epoch early, then running a full one
    next(iter(loader))
    assert len(list(loader)) == 2
    del loader
    gc.collect()
    assert no_children()


def test_iterable_dataset_with_workers():
    got = sorted(int(v) for b in pdata.DataLoader(Stream(11), batch_size=2, num_workers=2) for v in to_np(b))
    assert got == list(range(11))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unsharded = list(pdata.DataLoader(Plain(3), batch_size=None, num_workers=2))
    assert sorted(int(v) for v in unsharded) == [0, 0, 1, 1, 2, 2]   # each worker runs its own copy
    assert no_children()


class Slow(pdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(3)
        return i


class Dies(pdata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


def test_worker_timeout_and_death_are_reported():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(pdata.DataLoader(Slow(), num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(pdata.DataLoader(Dies(), num_workers=1))
    gc.collect()
    assert no_children()


def test_spawn_context_ships_tensors_to_workers():
    pds, _ = pair(n=6)
    got = list(pdata.DataLoader(pds, batch_size=3, num_workers=1, multiprocessing_context="spawn"))
    want = list(pdata.DataLoader(pds, batch_size=3))
    for a, b in zip(got, want):
        assert_same(a, [torch.from_numpy(to_np(t)) for t in b])
    assert no_children()


def test_tensors_still_refuse_plain_pickle():
    import pickle
    with pytest.raises(TypeError, match="pellucid.save"):
        pickle.dumps(pellucid.zeros(2))


def test_iterable_length_warning_and_unordered_workers():
    class Liar(pdata.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 2
    loader = pdata.DataLoader(Liar(), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        assert list(loader) == [0, 1, 2, 3, 4]
    got = list(pdata.DataLoader(Squares(20), batch_size=3, num_workers=2, in_order=False))
    assert sorted(int(v) for b in got for v in to_np(b[1])) == list(range(20))
    assert no_children()
