"""pellucid.save / pellucid.load: round trips, the file format, atomic writes, and refusal of
truncated, tampered, foreign and pickled files."""
import collections
import io
import json
import math
import os
import pathlib
import zipfile

import numpy as np
import pytest
import torch

import pellucid
import pellucid.nn as nn
from pellucid import serialization
from pellucid.serialization import LoadError


def np_of(t):
    return np.asarray(t.detach().numpy())


def roundtrip(obj, **load_kw):
    buf = io.BytesIO()
    pellucid.save(obj, buf)
    buf.seek(0)
    return pellucid.load(buf, **load_kw)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"])
def test_tensor_roundtrip_all_dtypes(dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4)) * 50).astype(dtype)
    t = pellucid.from_numpy(arr)
    out = roundtrip(t)
    assert isinstance(out, pellucid.Tensor) and out.dtype == t.dtype and tuple(out.shape) == (3, 4)
    np.testing.assert_array_equal(np_of(out), arr)


def test_shapes_layouts_and_grad_flags():
    scalar = pellucid.tensor(3.5)
    empty = pellucid.zeros(0, 3)
    transposed = pellucid.from_numpy(np.arange(12.0).reshape(3, 4).T)
    leaf = pellucid.ones(2, requires_grad=True)
    out = roundtrip([scalar, empty, transposed, leaf])
    assert out[0].shape == () and out[0].item() == 3.5
    assert tuple(out[1].shape) == (0, 3)
    np.testing.assert_array_equal(np_of(out[2]), np.arange(12.0).reshape(3, 4).T)
    assert out[3].requires_grad and out[3].is_leaf and not out[0].requires_grad


def test_parameters_keep_type_and_requires_grad():
    p = nn.Parameter(pellucid.randn(2, 3))
    frozen = nn.Parameter(pellucid.randn(2), requires_grad=False)
    out = roundtrip({"p": p, "frozen": frozen})
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert isinstance(out["frozen"], nn.Parameter) and not out["frozen"].requires_grad
    np.testing.assert_array_equal(np_of(out["p"]), np_of(p))


def test_nested_structures_and_scalars():
    obj = {
        "ints": [1, -2, 2 ** 70], "floats": (0.1, float("nan"), float("inf"), -float("inf")),
        "flags": {True: None, False: "no"}, "bytes": b"\x00\xff", "text": "héllo",
        "od": collections.OrderedDict([("b", 1), ("a", 2)]), 3: {4: [5, (6,)]},
        "set": {1, 2}, "frozen": frozenset({"x"}),
        "dtype": pellucid.float16, "device": pellucid.device("cpu"), "size": pellucid.Size([2, 3]),
        "np": np.arange(4, dtype=np.int16), "npscalar": np.float32(1.25), "empty": {}, "tuple_key": {(1, "a"): 2},
    }
    out = roundtrip(obj)
    assert list(out) == list(obj)
    assert out["ints"] == [1, -2, 2 ** 70]
    assert out["floats"][0] == 0.1 and math.isnan(out["floats"][1]) and out["floats"][2:] == (math.inf, -math.inf)
    assert type(out["floats"]) is tuple
    assert out["flags"] == {True: None, False: "no"} and out["bytes"] == b"\x00\xff" and out["text"] == "héllo"
    assert type(out["od"]) is collections.OrderedDict and list(out["od"]) == ["b", "a"]
    assert out[3] == {4: [5, (6,)]} and out["set"] == {1, 2} and out["frozen"] == frozenset({"x"})
    assert out["dtype"] is pellucid.float16 and out["device"] == pellucid.device("cpu")
    assert isinstance(out["size"], pellucid.Size) and out["size"] == (2, 3)
    assert isinstance(out["np"], np.ndarray) and out["np"].dtype == np.int16 and out["np"].tolist() == [0, 1, 2, 3]
    assert type(out["npscalar"]) is np.float32 and out["npscalar"] == 1.25
    assert out["empty"] == {} and out["tuple_key"] == {(1, "a"): 2}


def test_shared_tensors_are_stored_once():
    t = pellucid.arange(5.0)
    buf = io.BytesIO()
    pellucid.save({"a": t, "b": [t, t]}, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        assert sum(n.endswith(".npy") for n in z.namelist()) == 1
    buf.seek(0)
    out = pellucid.load(buf)
    assert out["a"] is out["b"][0] is out["b"][1]


def test_module_state_dict_roundtrip(tmp_path):
    pellucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    path = tmp_path / "model.pt"
    pellucid.save(model.state_dict(), path)
    loaded = pellucid.load(path)
    assert type(loaded) is collections.OrderedDict and list(loaded) == list(model.state_dict())
    assert getattr(loaded, "_metadata", None) == getattr(model.state_dict(), "_metadata", None)
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    fresh.load_state_dict(loaded)
    x = pellucid.randn(5, 4)
    np.testing.assert_array_equal(np_of(fresh(x)), np_of(model(x)))


def test_optimizer_state_dict_roundtrip(tmp_path):
    pellucid.manual_seed(1)

    def make():
        m = nn.Linear(3, 2)
        return m, pellucid.optim.Adam(m.parameters(), lr=0.1, betas=(0.8, 0.9))
    model, opt = make()
    x, y = pellucid.randn(6, 3), pellucid.randn(6, 2)

    def step(m, o):
        o.zero_grad()
        ((m(x) - y) ** 2).mean().backward()
        o.step()
    step(model, opt)
    pellucid.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 1}, str(tmp_path / "ckpt.pt"))
    ckpt = pellucid.load(str(tmp_path / "ckpt.pt"))
    assert ckpt["epoch"] == 1 and set(ckpt["opt"]["state"]) == {0, 1}
    assert ckpt["opt"]["param_groups"][0]["betas"] == (0.8, 0.9)
    model2, opt2 = make()
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    step(model, opt)
    step(model2, opt2)
    np.testing.assert_array_equal(np_of(model2.weight), np_of(model.weight))


def test_file_objects_and_paths(tmp_path):
    t = pellucid.arange(3)
    with open(tmp_path / "f.pt", "wb") as f:
        pellucid.save(t, f)
    with open(tmp_path / "f.pt", "rb") as f:
        assert np_of(pellucid.load(f)).tolist() == [0, 1, 2]
    pellucid.save(t, pathlib.Path(tmp_path / "p.pt"))
    assert np_of(pellucid.load(pathlib.Path(tmp_path / "p.pt"))).tolist() == [0, 1, 2]
    assert np_of(pellucid.load(str(tmp_path / "p.pt"), weights_only=False)).tolist() == [0, 1, 2]
    assert np_of(pellucid.load(str(tmp_path / "p.pt"), weights_only=True)).tolist() == [0, 1, 2]


def test_format_is_plain_json_and_npy(tmp_path):
    path = tmp_path / "x.pt"
    pellucid.save({"w": pellucid.ones(2, 2)}, path)
    with zipfile.ZipFile(path) as z:
        manifest = json.loads(z.read("manifest.json"))
        assert manifest["format"] == "pellucid" and manifest["version"] == serialization.FORMAT_VERSION
        entry = manifest["tensors"][0]
        assert entry["dtype"] == "float32" and entry["shape"] == [2, 2] and len(entry["sha256"]) == 64
        with z.open(entry["file"]) as f:
            arr = np.lib.format.read_array(f, allow_pickle=False)
    assert arr.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)     # not left with the temp file's mode


def test_unsupported_objects_are_refused_before_writing(tmp_path):
    path = tmp_path / "m.pt"
    pellucid.save({"ok": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"can't save .*Linear at obj\['model'\].*state_dict\(\)"):
        pellucid.save({"model": nn.Linear(2, 2)}, path)
    with pytest.raises(TypeError, match=r"at obj\['x'\]\[1\]"):
        pellucid.save({"x": [1, object()]}, path)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="never pickles"):
        pellucid.save(1, io.BytesIO(), pickle_module=object())


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pellucid.save({"v": pellucid.tensor([1.0])}, path)
    before = path.read_bytes()
    calls = []
    real = np.lib.format.write_array

    def failing(fp, arr, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(fp, arr, **kw)
    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        pellucid.save({"a": pellucid.zeros(100), "b": pellucid.ones(100)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]         # the temporary file is gone
    monkeypatch.undo()
    assert np_of(pellucid.load(path)["v"]).tolist() == [1.0]


def _saved(tmp_path, obj=None):
    path = tmp_path / "good.pt"
    pellucid.save(obj if obj is not None else {"w": pellucid.arange(64.0)}, path)
    return path


def _rewrite(src, dst, change):
    """Copy a ZIP, passing each member's bytes through change(name, data)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, change(name, zin.read(name)))
    return dst


def test_truncated_file_is_refused(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 10):
        bad = tmp_path / f"cut{cut}.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(LoadError, match="truncated or corrupted") as info:
            pellucid.load(bad)
        assert str(bad) in str(info.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(LoadError, match="empty"):
        pellucid.load(empty)


def test_tampered_files_are_refused(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.find(b"\x93NUMPY") + 200] ^= 0xFF         # a byte of array data: the ZIP CRC fails
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(data))
    with pytest.raises(LoadError, match=r"flipped.pt.*(truncated or corrupted|Bad CRC)"):
        pellucid.load(flipped)

    def change_values(name, blob):
        if name.endswith(".npy"):
            return blob[:-8] + np.float64(123.0).tobytes()
        return blob
    resealed = _rewrite(path, tmp_path / "resealed.pt", change_values)    # CRCs recomputed
    with pytest.raises(LoadError, match="fails its SHA-256 check"):
        pellucid.load(resealed)

    def change_manifest(name, blob):
        if name == "manifest.json":
            m = json.loads(blob)
            m["tensors"][0]["shape"] = [8, 8]
            return json.dumps(m).encode()
        return blob
    with pytest.raises(LoadError, match=r"holds float32\[64\] but the manifest says float32\[8, 8\]"):
        pellucid.load(_rewrite(path, tmp_path / "shape.pt", change_manifest))

    def newer(name, blob):
        if name == "manifest.json":
            m = json.loads(blob)
            m["version"] = 99
            return json.dumps(m).encode()
        return blob
    with pytest.raises(LoadError, match="newer pellucid"):
        pellucid.load(_rewrite(path, tmp_path / "newer.pt", newer))

    def pickled(name, blob):
        if name.endswith(".npy"):
            buf = io.BytesIO()
            np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
            return buf.getvalue()
        return blob
    with pytest.raises(LoadError, match="not a plain numeric array.*allow_pickle"):
        pellucid.load(_rewrite(path, tmp_path / "objarray.pt", pickled))


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(LoadError, match="not a pellucid file"):
        pellucid.load(text)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, a=np.arange(3))
    with pytest.raises(LoadError, match="numpy.load"):
        pellucid.load(npz)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(LoadError, match="no manifest.json"):
        pellucid.load(other)
    assert issubclass(LoadError, RuntimeError)


def test_torch_files_are_refused_with_conversion_advice(tmp_path):
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(LoadError, match="written by torch.save") as info:
        pellucid.load(path)
    msg = str(info.value)
    assert "never unpickles" in msg and "pellucid.from_numpy" in msg and str(path) in msg
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(LoadError, match="legacy PyTorch file"):
        pellucid.load(legacy)


def test_map_location(tmp_path):
    path = _saved(tmp_path, {"w": pellucid.arange(3.0)})
    assert pellucid.load(path, map_location="cpu")["w"].device == pellucid.device("cpu")
    assert pellucid.load(path, map_location=pellucid.device("cpu"))["w"].device.type == "cpu"
    seen = []

    def fn(t, location):
        seen.append(location)
        return t * 2
    assert np_of(pellucid.load(path, map_location=fn)["w"]).tolist() == [0.0, 2.0, 4.0] and seen == ["cpu"]

    def on_gpu(name, blob):
        if name == "manifest.json":
            m = json.loads(blob)
            m["tensors"][0]["device"] = "cuda:0"
            return json.dumps(m).encode()
        return blob
    gpu_file = _rewrite(path, tmp_path / "gpu.pt", on_gpu)
    assert pellucid.load(gpu_file, map_location="cpu")["w"].device.type == "cpu"
    assert pellucid.load(gpu_file, map_location={"cuda:0": "cpu"})["w"].device.type == "cpu"
    if not pellucid.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            pellucid.load(gpu_file)


# ---- bfloat16: NumPy has no .npy type for it, so its bits are stored as uint16 --------------------

def _bf16_bits(t):
    return t.view(pellucid.int16).numpy()


def test_bfloat16_roundtrip_is_bit_exact(tmp_path):
    import ml_dtypes
    f32 = np.finfo(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, f32.tiny, 3.3895e38, -1.5, 7.0], np.float32)
    rng = np.random.default_rng(3)
    values = np.concatenate([special, rng.standard_normal(90).astype(np.float32)])
    t = pellucid.tensor(values).bfloat16().reshape(10, 10)
    p = nn.Parameter(pellucid.randn(3, 2).bfloat16())
    frozen = nn.Parameter(pellucid.randn(2).bfloat16(), requires_grad=False)
    raw = np.array([1.5, -2.25], dtype=ml_dtypes.bfloat16)
    out = roundtrip({"t": t, "T": t.T, "p": p, "frozen": frozen, "raw": raw, "scalar": raw[1], "0d": t[0, 9]})
    assert out["t"].dtype is pellucid.bfloat16 and tuple(out["t"].shape) == (10, 10)
    np.testing.assert_array_equal(_bf16_bits(out["t"]), _bf16_bits(t))
    np.testing.assert_array_equal(_bf16_bits(out["T"]), _bf16_bits(t.T))
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad and out["p"].dtype is pellucid.bfloat16
    np.testing.assert_array_equal(_bf16_bits(out["p"].detach()), _bf16_bits(p.detach()))
    assert not out["frozen"].requires_grad and out["frozen"].dtype is pellucid.bfloat16
    assert out["raw"].dtype == raw.dtype and out["raw"].tolist() == [1.5, -2.25]
    assert type(out["scalar"]) is ml_dtypes.bfloat16 and float(out["scalar"]) == -2.25
    assert out["0d"].shape == () and out["0d"].item() == t[0, 9].item()


def test_bfloat16_file_holds_uint16_bits_and_no_pickle(tmp_path):
    t = pellucid.tensor([1.0, -2.5, 3.0e38]).bfloat16()
    path = tmp_path / "bf16.pt"
    pellucid.save({"w": t}, path)
    with zipfile.ZipFile(path) as z:
        entry = json.loads(z.read("manifest.json"))["tensors"][0]
        assert entry["dtype"] == "bfloat16" and entry["storage"] == "uint16" and entry["shape"] == [3]
        head = z.read(entry["file"])[:128]
        with z.open(entry["file"]) as f:
            arr = np.lib.format.read_array(f, allow_pickle=False)
    assert b"'descr': '<u2'" in head and arr.dtype == np.uint16     # a plain dtype, not a void descr
    np.testing.assert_array_equal(arr, _bf16_bits(t).view(np.uint16))
    # any NumPy can read the values back: the high half of a float32
    np.testing.assert_array_equal((arr.astype(np.uint32) << 16).view(np.float32), t.float().numpy())


def test_bfloat16_model_and_optimizer_state_roundtrip(tmp_path):
    pellucid.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).bfloat16()
    opt = pellucid.optim.Adam(model.parameters(), lr=0.01)
    x = pellucid.randn(6, 4).bfloat16()
    model(x).float().pow(2).mean().backward()
    opt.step()
    pellucid.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ckpt.pt")
    ckpt = pellucid.load(tmp_path / "ckpt.pt")
    fresh = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).bfloat16()
    fresh.load_state_dict(ckpt["model"])
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert a.dtype == b.dtype, name
        if a.dtype is pellucid.bfloat16:
            np.testing.assert_array_equal(_bf16_bits(a), _bf16_bits(b), err_msg=name)
    state = ckpt["opt"]["state"][0]
    assert state["exp_avg"].dtype is pellucid.bfloat16
    np.testing.assert_array_equal(_bf16_bits(state["exp_avg"]),
                                  _bf16_bits(opt.state_dict()["state"][0]["exp_avg"]))
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(_bf16_bits(fresh(x).detach()), _bf16_bits(model(x).detach()))


def test_bfloat16_entries_are_checked(tmp_path):
    path = _saved(tmp_path, {"w": pellucid.ones(4).bfloat16()})

    def edit(change):
        def rewrite(name, blob):
            if name == "manifest.json":
                m = json.loads(blob)
                change(m["tensors"][0])
                return json.dumps(m).encode()
            return blob
        return rewrite
    with pytest.raises(LoadError, match="bfloat16 data must be stored as uint16 bits"):
        pellucid.load(_rewrite(path, tmp_path / "nostorage.pt", edit(lambda e: e.pop("storage"))))
    with pytest.raises(LoadError, match=r"holds uint16\[4\] but the manifest says int16\[4\]"):
        pellucid.load(_rewrite(path, tmp_path / "int16.pt", edit(lambda e: e.update(dtype="int16", storage=None))))


def test_bfloat16_traced_module_saves_and_loads(tmp_path):
    pellucid.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).bfloat16()
    x = pellucid.randn(5, 3).bfloat16()
    traced = pellucid.jit.trace(model, x)
    pellucid.jit.save(traced, tmp_path / "m.pt")
    loaded = pellucid.jit.load(tmp_path / "m.pt")
    out = loaded(x)
    assert out.dtype is pellucid.bfloat16
    np.testing.assert_array_equal(_bf16_bits(out.detach()), _bf16_bits(model(x).detach()))
