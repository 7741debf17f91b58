"""pellucid.vision: MNIST/FashionMNIST (reading, checks, download, offline fallback) and the
transforms, checked against Pillow, NumPy and torch's interpolate / grid_sample. No test touches
the network: downloads are served by a local http.server on 127.0.0.1."""
import functools
import gzip
import http.server
import math
import os
import shutil
import sys
import threading
import warnings

import numpy as np
import pytest
import torch

import pellucid
import pellucid.vision
from pellucid.utils.data import DataLoader, random_split
from pellucid.vision import datasets, transforms as T
from pellucid.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image", reason="Pillow is the optional 'vision' dependency")

SAMPLE = os.path.join(os.path.dirname(pellucid.__file__), "_data", "mnist-sample")
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]
SAMPLE_MD5 = ["cf7bc6a1bd495f021b5c169cd251c35f", "237fb733356208dd399bab04fd0fde91",
              "006f0e87e213df68a57656e667a848bb", "bd91ecb5bc47cf4cd106d46ef14d1e73"]


def np_of(t):
    return np.asarray(t.detach().numpy())


def raw_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        shutil.copy(os.path.join(SAMPLE, name), raw / name)
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """Mirrors that refuse connections at once (a closed port on the loopback interface)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    monkeypatch.setattr(datasets.FashionMNIST, "mirrors", [f"http://127.0.0.1:{port}/"])


# ---- MNIST --------------------------------------------------------------------------------------------

def test_mnist_reads_the_sample_layout(mnist_root):
    train = datasets.MNIST(mnist_root, train=True)
    test = datasets.MNIST(str(mnist_root), train=False)
    assert len(train) == 8000 and len(test) == 2000
    assert train.data.dtype == pellucid.uint8 and tuple(train.data.shape) == (8000, 28, 28)
    assert train.targets.dtype == pellucid.int64 and tuple(train.targets.shape) == (8000,)
    np.testing.assert_array_equal(np_of(train.data).reshape(-1), raw_idx(os.path.join(SAMPLE, FILES[0]), 16))
    np.testing.assert_array_equal(np_of(test.targets), raw_idx(os.path.join(SAMPLE, FILES[3]), 8))
    img, target = train[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    assert type(target) is int and target == int(np_of(train.targets)[3])
    np.testing.assert_array_equal(np.array(img), np_of(train.data)[3])
    assert train.classes[0] == "0 - zero" and train.class_to_idx["9 - nine"] == 9
    assert train.raw_folder == os.path.join(str(mnist_root), "MNIST", "raw")


def test_mnist_reads_uncompressed_files(mnist_root):
    raw = mnist_root / "MNIST" / "raw"
    for name in FILES:
        with gzip.open(raw / name) as src:
            (raw / name[:-3]).write_bytes(src.read())
        (raw / name).unlink()
    ds = datasets.MNIST(mnist_root, train=False)
    assert len(ds) == 2000
    np.testing.assert_array_equal(np_of(ds.targets), raw_idx(os.path.join(SAMPLE, FILES[3]), 8))


def test_mnist_transforms_and_repr(mnist_root):
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(mnist_root, train=False, transform=tf, target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == pellucid.float32
    want = (np_of(ds.data)[0].astype(np.float32) / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(np_of(x)[0], want)
    assert y == int(np_of(ds.targets)[0]) + 100
    r = repr(ds)
    assert r.startswith("Dataset MNIST\n    Number of datapoints: 2000\n    Root location: ")
    assert "    Split: Test\n    StandardTransform\nTransform: Compose(\n               ToTensor()\n" \
           "               Normalize(mean=(0.1307,), std=(0.3081,))\n           )" in r
    assert "Target transform: " in r


def test_mnist_batched_fetch_equals_per_image_path(mnist_root):
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,))])
    ds = datasets.MNIST(mnist_root, train=False, transform=tf)
    idx = [5, 0, 1999, 42]
    batched = ds.__getitems__(idx)
    for (a, ya), i in zip(batched, idx):
        b, yb = ds[i]
        np.testing.assert_array_equal(np_of(a), np_of(b))
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and ya == yb and type(ya) is int
    part, _ = random_split(ds, [100, 1900], generator=pellucid.Generator().manual_seed(0))
    x, y = next(iter(DataLoader(part, batch_size=10)))
    assert tuple(x.shape) == (10, 1, 28, 28) and y.dtype == pellucid.int64
    np.testing.assert_array_equal(np_of(x[3]), np_of(part[3][0]))
    plain = datasets.MNIST(mnist_root, train=False)        # no transform: PIL images, one by one
    assert isinstance(plain.__getitems__([1, 2])[0][0], Image.Image)


def test_mnist_missing_without_download(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found.*download=True"):
        datasets.MNIST(tmp_path)


def test_mnist_falls_back_to_the_sample_offline(tmp_path, no_network):
    with pytest.warns(UserWarning, match=r"sample shipped with pellucid.*8,000 training and 2,000 test"):
        ds = datasets.MNIST(tmp_path, train=True, download=True)
    assert len(ds) == 8000
    assert not any(name.endswith(".gz") for name in os.listdir(tmp_path / "MNIST" / "raw"))
    with pytest.warns(UserWarning, match="this split: 2,000"):
        assert len(datasets.MNIST(tmp_path, train=False, download=True)) == 2000


def test_fashion_mnist_has_no_fallback(tmp_path, no_network):
    with pytest.raises(RuntimeError, match="Error downloading train-images-idx3-ubyte.gz"):
        datasets.FashionMNIST(tmp_path, download=True)
    assert datasets.FashionMNIST.classes[9] == "Ankle boot"


def test_download_true_with_files_present_uses_no_network(mnist_root, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://203.0.113.1/never/"])     # would fail if used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(datasets.MNIST(mnist_root, download=True)) == 8000


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local server for two mirrors: /good/ with the sample files, /bad/ with corrupted ones."""
    site = tmp_path / "site"
    (site / "good").mkdir(parents=True)
    (site / "bad").mkdir()
    for name in FILES:
        shutil.copy(os.path.join(SAMPLE, name), site / "good" / name)
        data = bytearray(open(os.path.join(SAMPLE, name), "rb").read())
        data[len(data) // 2] ^= 0xFF
        (site / "bad" / name).write_bytes(bytes(data))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class SampleMNIST(datasets.MNIST):
    resources = list(zip(FILES, SAMPLE_MD5))


def test_download_from_mirror_with_md5_check(tmp_path, server, monkeypatch):
    monkeypatch.setattr(SampleMNIST, "mirrors", [f"{server}/bad/", f"{server}/good/"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no fallback: the second mirror has good files
        ds = SampleMNIST(tmp_path / "data", train=True, download=True)
    assert len(ds) == 8000
    raw = tmp_path / "data" / "SampleMNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(FILES)     # no temporary files left behind
    for name in FILES:
        assert (raw / name).read_bytes() == open(os.path.join(SAMPLE, name), "rb").read()


def test_download_rejects_corrupted_files(tmp_path, server, monkeypatch):
    monkeypatch.setattr(SampleMNIST, "mirrors", [f"{server}/bad/"])
    monkeypatch.setattr(SampleMNIST, "sample_folder", None)
    with pytest.raises(RuntimeError, match="MD5 is .* expected cf7bc6a1bd495f021b5c169cd251c35f"):
        SampleMNIST(tmp_path, download=True)
    assert os.listdir(tmp_path / "SampleMNIST" / "raw") == []


def _corrupt(mnist_root, name, mutate):
    path = mnist_root / "MNIST" / "raw" / name
    path.write_bytes(mutate(path.read_bytes()))
    return str(path)


@pytest.mark.parametrize("what", ["truncated_gz", "crc", "magic", "short_data", "extra_data", "label_count"])
def test_corrupted_files_are_rejected(mnist_root, what):
    name = FILES[2]
    if what == "truncated_gz":
        path = _corrupt(mnist_root, name, lambda b: b[: len(b) // 2])
        match = "truncated or corrupted"
    elif what == "crc":
        path = _corrupt(mnist_root, name, lambda b: b[:-8] + bytes([b[-8] ^ 1]) + b[-7:])
        match = "gzip data is truncated or corrupted"
    elif what == "magic":
        raw = gzip.decompress(open(os.path.join(SAMPLE, name), "rb").read())
        path = _corrupt(mnist_root, name, lambda b: gzip.compress(b"\x00\x00\x07\x03" + raw[4:], compresslevel=1))
        match = "not an IDX file"
    elif what == "short_data":
        raw = gzip.decompress(open(os.path.join(SAMPLE, name), "rb").read())
        path = _corrupt(mnist_root, name, lambda b: gzip.compress(raw[:-100], compresslevel=1))
        match = "truncated: the header announces"
    elif what == "extra_data":
        raw = gzip.decompress(open(os.path.join(SAMPLE, name), "rb").read())
        path = _corrupt(mnist_root, name, lambda b: gzip.compress(raw + b"\x00" * 7, compresslevel=1))
        match = "7 unexpected bytes"
    else:
        name = FILES[3]
        raw = gzip.decompress(open(os.path.join(SAMPLE, name), "rb").read())
        path = _corrupt(mnist_root, name, lambda b: gzip.compress(b"\x00\x00\x08\x01\x00\x00\x07\xcf" + raw[8:-1], compresslevel=1))
        match = "holds 2000 images but .* holds 1999 labels"
    with pytest.raises(RuntimeError, match=match) as info:
        datasets.MNIST(mnist_root, train=False)
    assert path in str(info.value)


def test_missing_pillow_gives_a_clear_error(mnist_root, monkeypatch):
    ds = datasets.MNIST(mnist_root, train=False)
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=r"pip install 'pellucid\[vision\]'"):
        ds[0]


# ---- transforms: conversion ------------------------------------------------------------------------

def rgb(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_to_tensor():
    arr = rgb()
    x = T.ToTensor()(Image.fromarray(arr))
    assert x.dtype == pellucid.float32 and tuple(x.shape) == (3, 5, 7)
    np.testing.assert_array_equal(np_of(x), arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    g = T.ToTensor()(Image.fromarray(arr[..., 0]))
    assert tuple(g.shape) == (1, 5, 7)
    np.testing.assert_array_equal(np_of(T.ToTensor()(arr)), np_of(x))
    f = np.random.default_rng(1).random((4, 3, 2))
    xf = T.ToTensor()(f)
    assert xf.dtype == pellucid.float64 and np.array_equal(np_of(xf), f.transpose(2, 0, 1))
    xi = T.ToTensor()(Image.fromarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
    assert xi.dtype == pellucid.int32 and np_of(xi).tolist() == [[[0, 1, 2], [3, 4, 5]]]
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([1, 2])


def test_pil_to_tensor_and_to_pil_image():
    arr = rgb()
    x = T.PILToTensor()(Image.fromarray(arr))
    assert x.dtype == pellucid.uint8 and np.array_equal(np_of(x), arr.transpose(2, 0, 1))
    img = T.ToPILImage()(x)
    assert img.mode == "RGB" and np.array_equal(np.array(img), arr)
    f = pellucid.from_numpy(np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32))
    g = T.ToPILImage()(f)
    assert g.mode == "L" and np.array(g).tolist() == [[0, 127, 255]]
    assert T.ToPILImage(mode="F")(f).mode == "F"
    assert T.ToPILImage()(np.zeros((2, 2, 4), np.uint8)).mode == "RGBA"
    with pytest.raises(ValueError, match="Incorrect mode"):
        T.ToPILImage(mode="RGB")(pellucid.zeros(1, 2, 2, dtype=pellucid.uint8))
    with pytest.raises(ValueError, match="should not have > 4 channels"):
        T.ToPILImage()(np.zeros((2, 2, 5), np.uint8))


def test_convert_image_dtype():
    u8 = pellucid.from_numpy(np.array([[[0, 128, 255]]], np.uint8))
    f = T.ConvertImageDtype(pellucid.float32)(u8)
    np.testing.assert_array_equal(np_of(f), np.array([[[0, 128, 255]]], np.float32) / np.float32(255))
    back = F.convert_image_dtype(f, pellucid.uint8)
    assert np_of(back).tolist() == [[[0, 128, 255]]]
    assert np_of(F.convert_image_dtype(u8, pellucid.int16)).tolist() == [[[0, 128 * 128, 255 * 128]]]
    assert np_of(F.convert_image_dtype(pellucid.tensor([[[32767]]], dtype=pellucid.int16), pellucid.uint8)).tolist() == [[[255]]]
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(pellucid.zeros(1, 1, 1), pellucid.int32)


def test_normalize():
    x = pellucid.from_numpy(np.random.default_rng(0).random((3, 4, 4)).astype(np.float32))
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    want = (np_of(x) - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_array_equal(np_of(T.Normalize(mean, std)(x)), want)
    batch = pellucid.from_numpy(np.stack([np_of(x)] * 2))
    np.testing.assert_array_equal(np_of(F.normalize(batch, mean, std))[1], want)
    y = x.clone()
    out = T.Normalize(mean, std, inplace=True)(y)
    assert out is y and np.array_equal(np_of(y), want)
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(pellucid.zeros(1, 2, 2, dtype=pellucid.uint8), (0,), (1,))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(x, mean, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="Expected tensor to be a tensor image"):
        F.normalize(pellucid.zeros(2, 2), (0,), (1,))
    g = x.clone().requires_grad_()
    F.normalize(g, mean, std).sum().backward()
    np.testing.assert_allclose(np_of(g.grad), np.broadcast_to(1 / np.array(std, np.float32)[:, None, None], (3, 4, 4)))


def test_compose_lambda_and_reprs():
    tf = T.Compose([T.Lambda(lambda v: v * 2), T.Lambda(lambda v: v + 1)])
    assert tf(3) == 7
    assert repr(tf) == "Compose(\n    Lambda()\n    Lambda()\n)"
    assert repr(T.ToTensor()) == "ToTensor()"
    assert repr(T.Normalize((0.5,), (0.5,))) == "Normalize(mean=(0.5,), std=(0.5,))"
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.Resize(8)) == "Resize(size=8, interpolation=bilinear, max_size=None, antialias=True)"
    assert repr(T.CenterCrop(10)) == "CenterCrop(size=(10, 10))"
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"
    assert repr(T.RandomRotation(10)) == "RandomRotation(degrees=[-10.0, 10.0], interpolation=nearest, expand=False, fill=0)"
    assert repr(T.RandomResizedCrop(8)) == ("RandomResizedCrop(size=(8, 8), scale=(0.08, 1.0), ratio=(0.75, 1.3333), "
                                           "interpolation=bilinear, antialias=True)")
    assert repr(T.ColorJitter(brightness=0.5)) == "ColorJitter(brightness=(0.5, 1.5), contrast=None, saturation=None, hue=None)"
    assert repr(T.Grayscale()) == "Grayscale(num_output_channels=1)"
    assert repr(T.ToPILImage()) == "ToPILImage()"
    with pytest.raises(TypeError, match="Argument lambd should be callable"):
        T.Lambda(3)


# ---- transforms: geometry --------------------------------------------------------------------------

def chw(c=3, h=6, w=8, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    a = rng.random((c, h, w)).astype(dtype) if dtype != np.uint8 else rng.integers(0, 256, (c, h, w), dtype=np.uint8)
    return pellucid.from_numpy(a)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(3, 5), (11, 13), (6, 3), (4, 8)])
def test_resize_tensor_matches_torch_interpolate(mode, antialias, size):
    x = chw(h=6, w=8, seed=1)
    got = F.resize(x, list(size), T.InterpolationMode(mode), antialias=antialias)
    want = torch.nn.functional.interpolate(torch.from_numpy(np_of(x))[None], size=size, mode=mode,
                                           align_corners=False, antialias=antialias)[0]
    np.testing.assert_allclose(np_of(got), want.numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_resize_tensor_nearest_matches_torch(mode):
    x = chw(h=7, w=5, seed=2)
    for size in [(3, 4), (14, 9)]:
        got = F.resize(x, list(size), T.InterpolationMode(mode))
        want = torch.nn.functional.interpolate(torch.from_numpy(np_of(x))[None], size=size, mode=mode)[0]
        np.testing.assert_array_equal(np_of(got), want.numpy())


def test_resize_sizes_uint8_and_pil():
    x = chw(h=6, w=12, dtype=np.uint8)
    out = T.Resize(3)(x)                      # smaller edge -> 3, aspect kept
    assert tuple(out.shape) == (3, 3, 6) and out.dtype == pellucid.uint8
    want = torch.nn.functional.interpolate(torch.from_numpy(np_of(x)).float()[None], size=(3, 6), mode="bilinear",
                                           antialias=True)[0].round().to(torch.uint8)
    assert np.abs(np_of(out).astype(int) - want.numpy().astype(int)).max() <= 1
    assert tuple(T.Resize((4, 5))(x).shape) == (3, 4, 5)
    assert tuple(T.Resize(4, max_size=6)(x).shape) == (3, 3, 6)
    assert T.Resize(6)(x) is x
    img = Image.fromarray(rgb(10, 20))
    got = T.Resize(5)(img)
    assert got.size == (10, 5)
    assert np.array_equal(np.array(got), np.array(img.resize((10, 5), Image.Resampling.BILINEAR)))
    near = T.Resize((4, 4), interpolation=T.InterpolationMode.NEAREST)(img)
    assert np.array_equal(np.array(near), np.array(img.resize((4, 4), Image.Resampling.NEAREST)))


def test_crop_center_crop_and_pad():
    x = chw(h=6, w=8)
    a = np_of(x)
    np.testing.assert_array_equal(np_of(F.crop(x, 1, 2, 3, 4)), a[:, 1:4, 2:6])
    outside = np_of(F.crop(x, -1, 6, 3, 4))          # zero outside the image
    want = np.zeros((3, 3, 4), np.float32)
    want[:, 1:, :2] = a[:, 0:2, 6:8]
    np.testing.assert_array_equal(outside, want)
    np.testing.assert_array_equal(np_of(T.CenterCrop(4)(x)), a[:, 1:5, 2:6])
    big = np_of(T.CenterCrop((8, 9))(x))
    assert big.shape == (3, 8, 9)
    np.testing.assert_array_equal(big[:, 1:7, 0:8], a)
    assert big[:, 0].sum() == 0 and big[:, :, 8].sum() == 0
    img = Image.fromarray(rgb(6, 8))
    np.testing.assert_array_equal(np.array(T.CenterCrop(4)(img)), np.array(img)[1:5, 2:6])
    for mode in ("constant", "edge", "reflect", "symmetric"):
        got = np_of(T.Pad((1, 2, 3, 0), fill=0, padding_mode=mode)(x))
        np.testing.assert_array_equal(got, np.pad(a, ((0, 0), (2, 0), (1, 3)), mode))
        pil = np.array(T.Pad((1, 2), padding_mode=mode)(img))
        np.testing.assert_array_equal(pil, np.pad(np.array(img), ((2, 2), (1, 1), (0, 0)), mode))
    np.testing.assert_array_equal(np_of(F.pad(x, [-1, 0, 0, -2])), a[:, :-2, 1:])
    filled = np_of(F.pad(x, 1, fill=0.5))
    assert filled.shape == (3, 8, 10) and np.all(filled[:, 0] == 0.5)
    pil_filled = np.array(T.Pad(1, fill=(10, 20, 30))(img))
    assert pil_filled[0, 0].tolist() == [10, 20, 30]


def test_flips():
    x = chw()
    img = Image.fromarray(rgb())
    np.testing.assert_array_equal(np_of(T.RandomHorizontalFlip(p=1.0)(x)), np_of(x)[:, :, ::-1])
    np.testing.assert_array_equal(np_of(T.RandomVerticalFlip(p=1.0)(x)), np_of(x)[:, ::-1, :])
    assert T.RandomHorizontalFlip(p=0.0)(x) is x
    np.testing.assert_array_equal(np.array(T.RandomHorizontalFlip(p=1.0)(img)), np.array(img)[:, ::-1])
    np.testing.assert_array_equal(np.array(T.RandomVerticalFlip(p=1.0)(img)), np.array(img)[::-1])


def test_random_crop_reproducible_and_padded():
    x = chw(h=8, w=8)
    tf = T.RandomCrop(5, padding=2)
    pellucid.manual_seed(0)
    a = [np_of(tf(x)) for _ in range(4)]
    pellucid.manual_seed(0)
    b = [np_of(tf(x)) for _ in range(4)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    padded = np.pad(np_of(x), ((0, 0), (2, 2), (2, 2)))
    windows = [padded[:, i:i + 5, j:j + 5] for i in range(8) for j in range(8)]
    assert all(any(np.array_equal(u, w) for w in windows) for u in a)
    assert len({u.tobytes() for u in a}) > 1
    grown = T.RandomCrop((10, 12), pad_if_needed=True)(x)
    assert tuple(grown.shape) == (3, 10, 12)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(9)(x)
    img = Image.fromarray(rgb(8, 8))
    assert T.RandomCrop(4, padding=1)(img).size == (4, 4)


def test_random_resized_crop():
    x = chw(h=20, w=30)
    pellucid.manual_seed(3)
    a = T.RandomResizedCrop((8, 6))(x)
    pellucid.manual_seed(3)
    b = T.RandomResizedCrop((8, 6))(x)
    assert tuple(a.shape) == (3, 8, 6) and np.array_equal(np_of(a), np_of(b))
    i, j, h, w = T.RandomResizedCrop.get_params(x, (0.08, 1.0), (3 / 4, 4 / 3))
    assert 0 <= i and i + h <= 20 and 0 <= j and j + w <= 30
    assert T.RandomResizedCrop(5)(Image.fromarray(rgb(20, 30))).size == (5, 5)


def test_rotate_tensor_and_pil():
    x = chw(h=6, w=6, seed=4)
    np.testing.assert_array_equal(np_of(F.rotate(x, 90.0)), np.rot90(np_of(x), 1, axes=(1, 2)))
    img = Image.fromarray(rgb(6, 6))
    np.testing.assert_array_equal(np.array(F.rotate(img, 90.0)), np.rot90(np.array(img), 1))
    u8 = pellucid.from_numpy(np.array(img).transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(np_of(F.rotate(u8, 90.0)), np.array(img.rotate(90)).transpose(2, 0, 1))


def _torch_rotate(x, angle, mode, fill):
    """torchvision's tensor rotation, written out with torch's grid_sample."""
    c, h, w = x.shape
    rot = math.radians(-angle)
    m = [math.cos(rot), math.sin(rot), 0.0, -math.sin(rot), math.cos(rot), 0.0]
    xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w)
    ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    sx = (m[0] * gx + m[1] * gy + m[2]) / (0.5 * w)
    sy = (m[3] * gx + m[4] * gy + m[5]) / (0.5 * h)
    grid = torch.stack([sx, sy], -1)[None]
    img = torch.cat([x, torch.ones(1, h, w)])[None]
    out = torch.nn.functional.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)[0]
    out, mask = out[:-1], out[-1:].expand(c, h, w)
    fill_img = torch.tensor(fill).view(-1, 1, 1).expand(c, h, w)
    if mode == "nearest":
        return torch.where(mask < 0.5, fill_img, out)
    return out * mask + (1.0 - mask) * fill_img


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotate_tensor_matches_grid_sample(mode):
    x = chw(h=7, w=9, seed=5)
    for angle in (17.0, -33.5):
        got = F.rotate(x, angle, T.InterpolationMode(mode), fill=[0.2, 0.3, 0.4])
        want = _torch_rotate(torch.from_numpy(np_of(x)), angle, mode, [0.2, 0.3, 0.4])
        np.testing.assert_allclose(np_of(got), want.numpy(), atol=1e-5)


def test_rotate_expand_matches_pil_size():
    for angle in (30.0, 90.0, 45.0):
        pil = Image.fromarray(rgb(6, 10)).rotate(angle, expand=True)
        out = F.rotate(chw(h=6, w=10), angle, expand=True)
        assert tuple(out.shape[1:]) == (pil.size[1], pil.size[0])


def test_random_rotation_reproducible():
    x = chw(h=8, w=8)
    tf = T.RandomRotation(30, interpolation=T.InterpolationMode.BILINEAR)
    pellucid.manual_seed(1)
    a = np_of(tf(x))
    pellucid.manual_seed(1)
    assert np.array_equal(np_of(tf(x)), a)
    assert T.RandomRotation((10, 20))(Image.fromarray(rgb(8, 8))).size == (8, 8)


# ---- transforms: colour ---------------------------------------------------------------------------

def test_grayscale():
    x = chw(dtype=np.uint8)
    g = np_of(T.Grayscale()(x))
    a = np_of(x).astype(np.float32)
    want = (np.float32(0.2989) * a[0] + np.float32(0.587) * a[1] + np.float32(0.114) * a[2]).astype(np.uint8)
    np.testing.assert_array_equal(g[0], want)
    assert np_of(T.Grayscale(3)(x)).shape == (3, 6, 8)
    img = Image.fromarray(rgb())
    assert np.array_equal(np.array(T.Grayscale()(img)), np.array(img.convert("L")))
    assert T.Grayscale(3)(img).mode == "RGB"


def test_color_jitter():
    x = chw(seed=3)
    np.testing.assert_allclose(np_of(F.adjust_brightness(x, 0.5)), np.clip(np_of(x) * 0.5, 0, 1), rtol=1e-6)
    gray_mean = np_of(F.rgb_to_grayscale(x)).mean()
    np.testing.assert_allclose(np_of(F.adjust_contrast(x, 2.0)), np.clip(2 * np_of(x) - gray_mean, 0, 1), atol=1e-6)
    red = pellucid.from_numpy(np.array([1.0, 0.0, 0.0], np.float32).reshape(3, 1, 1))
    np.testing.assert_allclose(np_of(F.adjust_hue(red, 1 / 3)).ravel(), [0.0, 1.0, 0.0], atol=1e-5)
    np.testing.assert_array_equal(np_of(F.adjust_saturation(x, 1.0)), np_of(x))
    pellucid.manual_seed(0)
    a = T.ColorJitter(0.4, 0.4, 0.4, 0.1)(x)
    pellucid.manual_seed(0)
    assert np.array_equal(np_of(T.ColorJitter(0.4, 0.4, 0.4, 0.1)(x)), np_of(a))
    img = Image.fromarray(rgb())
    out = T.ColorJitter(0.4, 0.4, 0.4, 0.1)(img)
    assert out.size == img.size and out.mode == "RGB"
    from PIL import ImageEnhance
    assert np.array_equal(np.array(F.adjust_brightness(img, 1.3)), np.array(ImageEnhance.Brightness(img).enhance(1.3)))


def test_tensor_transforms_refuse_graph_inputs():
    x = chw().requires_grad_()
    with pytest.raises(RuntimeError, match="don't record gradients"):
        F.hflip(x)


def test_make_grid():
    batch = pellucid.from_numpy(np.ones((5, 1, 4, 4), np.float32))
    grid = pellucid.vision.utils.make_grid(batch, nrow=3, padding=1)
    assert tuple(grid.shape) == (3, 2 * 5 + 1, 3 * 5 + 1)
    g = np_of(grid)
    assert g[:, 1:5, 1:5].min() == 1 and g[:, 0].max() == 0 and g[:, 6:10, 11:15].max() == 0


def test_pil_modes_beyond_uint8():
    im = T.ToPILImage()(pellucid.tensor([[[1, 2], [3, 400]]], dtype=pellucid.int16))
    assert im.mode == "I;16" and np.array(im).tolist() == [[1, 2], [3, 400]]
    assert T.ToPILImage()(pellucid.tensor([[[1, 2]]], dtype=pellucid.int32)).mode == "I"
    assert T.ToPILImage(mode="HSV")(np.zeros((2, 2, 3), np.uint8)).mode == "HSV"
    pal = Image.fromarray(rgb(4, 4)).convert("P")
    padded = T.Pad(1, padding_mode="reflect")(pal)
    assert padded.mode == "P" and padded.getpalette() == pal.getpalette()
    np.testing.assert_array_equal(np.array(padded), np.pad(np.array(pal), 1, "reflect"))
