"""MNIST and Fashion-MNIST, read from IDX files in torchvision's layout:
`<root>/<ClassName>/raw/train-images-idx3-ubyte` (or the same name with `.gz`), and so on.

`download=True` fetches missing files from the class's `mirrors` (each file checked against its
MD5 before it is renamed into place). When MNIST can't be downloaded, it falls back to the
10,000-digit sample shipped with pellucid (8,000 training / 2,000 test images) and says so in a
UserWarning, so programs and tests still run offline.

Every file is checked as it is read: gzip CRC, the IDX magic number, and the dimensions against
the file size; a bad file raises an error naming it and is never used.
"""
import gzip
import os
import warnings
import zlib

import numpy as np

from ..._tensor import Tensor
from .utils import download_url
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

_SAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "_data", "mnist-sample")

# IDX type codes -> big-endian NumPy dtypes
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DatasetFileError(RuntimeError):
    """A dataset file that is truncated, corrupted or not what it should be."""


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFileError(f"{path}: the gzip data is truncated or corrupted ({e}). Delete the file and "
                               "download it again.") from None


def read_idx(path, expected_ndim=None):
    """The array in an IDX file (gzipped or not), checked against its header."""
    data = _read_bytes(path)

    def bad(msg):
        return DatasetFileError(f"{path}: {msg}. Delete the file and download it again.")

    if len(data) < 4:
        raise bad(f"too short to be an IDX file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise bad(f"not an IDX file (magic number 0x{data[:4].hex()})")
    ndim = data[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise bad(f"expected an IDX file with {expected_ndim} dimension(s), the header says {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise bad("truncated inside the header")
    dims = [int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]
    dtype = _IDX_TYPES[data[2]]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise bad(f"truncated: the header announces {dims} values ({expected} bytes), the data has {len(data)}")
    if len(data) > expected:
        raise bad(f"{len(data) - expected} unexpected bytes after the {dims} values the header announces")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _batch_pipeline(transform):
    """For ToTensor, optionally followed by Normalize steps, a function taking a uint8 batch
    (B, H, W) to the (B, 1, H, W) tensor the per-image transform would give for each image;
    None for any other transform."""
    from ..transforms import Compose, Normalize, ToTensor
    from ..transforms import functional as F
    steps = transform.transforms if type(transform) is Compose else [transform]
    if not steps or type(steps[0]) is not ToTensor or any(type(t) is not Normalize for t in steps[1:]):
        return None

    def run(batch):
        out = F.to_tensor(batch.transpose(1, 2, 0))         # (H, W, B) -> (B, H, W) in [0, 1]
        out = Tensor._make(out._data[:, None])
        for t in steps[1:]:
            out = F.normalize(out, t.mean, t.std, t.inplace)
        return out
    return run


class MNIST(VisionDataset):
    """The MNIST handwritten digits: samples are (PIL image of mode 'L', int label).

    `data` is a uint8 tensor (N, 28, 28) and `targets` an int64 tensor (N,)."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    image_size = (28, 28)
    download_timeout = 30
    # The folder of the offline sample used when downloading fails (None: no fallback).
    sample_folder = _SAMPLE_DIR

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self.source_folder = self.raw_folder
        if not self._check_exists(self.raw_folder):
            if not download:
                raise RuntimeError(f"Dataset not found in {self.raw_folder}. You can use download=True to "
                                   "download it")
            self.download()
        self.data, self.targets = self._load_data()

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self):
        return {_class: i for i, _class in enumerate(self.classes)}

    @staticmethod
    def _base(filename):
        return filename[:-3] if filename.endswith(".gz") else filename

    @classmethod
    def _find(cls, folder, filename):
        base = os.path.join(folder, cls._base(filename))
        for path in (base, base + ".gz"):
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self, folder):
        return all(self._find(folder, name) is not None for name, _ in self.resources)

    def download(self):
        """Fetch the files missing from `raw_folder`; fall back to the shipped sample if that fails."""
        if self._check_exists(self.raw_folder):
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        errors = []
        dead_mirrors = set()
        try:
            for filename, md5 in self.resources:
                if self._find(self.raw_folder, filename) is not None:
                    continue
                for mirror in self.mirrors:
                    if mirror in dead_mirrors:
                        continue
                    url = f"{mirror}{filename}"
                    try:
                        download_url(url, root=self.raw_folder, filename=filename, md5=md5,
                                     timeout=self.download_timeout)
                        break
                    except OSError as e:        # unreachable: skip this mirror for the other files
                        dead_mirrors.add(mirror)
                        errors.append(f"{url}: {e}")
                    except Exception as e:
                        errors.append(f"{url}: {e}")
                else:
                    raise RuntimeError(f"Error downloading {filename}:\n  " + "\n  ".join(errors))
        except RuntimeError as e:
            self._fall_back(e)

    def _fall_back(self, error):
        if self.sample_folder is None or not self._check_exists(self.sample_folder):
            raise error
        self.source_folder = self.sample_folder
        n_train = int(read_idx(self._find(self.sample_folder, self.resources[1][0]), 1).shape[0])
        n_test = int(read_idx(self._find(self.sample_folder, self.resources[3][0]), 1).shape[0])
        warnings.warn(
            f"{self.__class__.__name__}: could not download the dataset, so the sample shipped with pellucid is "
            f"used instead: {n_train:,} training and {n_test:,} test images (this split: "
            f"{n_train if self.train else n_test:,}), not the full dataset. To use the full dataset, put its "
            f"files in {self.raw_folder}. Cause: {error}", UserWarning, stacklevel=3)

    def _load_data(self):
        folder = self.source_folder
        image_name, label_name = self.resources[0 if self.train else 2][0], self.resources[1 if self.train else 3][0]
        image_path, label_path = self._find(folder, image_name), self._find(folder, label_name)
        images = read_idx(image_path, expected_ndim=3)
        labels = read_idx(label_path, expected_ndim=1)
        if images.dtype != np.uint8 or tuple(images.shape[1:]) != self.image_size:
            raise DatasetFileError(f"{image_path}: expected uint8 images of size {self.image_size}, got "
                                   f"{images.dtype} {tuple(images.shape[1:])}")
        if labels.dtype != np.uint8:
            raise DatasetFileError(f"{label_path}: expected uint8 labels, got {labels.dtype}")
        if images.shape[0] != labels.shape[0]:
            raise DatasetFileError(f"{image_path} holds {images.shape[0]} images but {label_path} holds "
                                   f"{labels.shape[0]} labels")
        return Tensor._make(np.ascontiguousarray(images)), Tensor._make(labels.astype(np.int64))

    def __getitem__(self, index):
        from ..transforms.functional import _pil
        Image = _pil()
        img, target = self.data._data[index], int(self.targets._data[index])
        img = Image.fromarray(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __getitems__(self, indices):
        # The DataLoader fetches whole batches through here. With the usual ToTensor (+ Normalize)
        # pipeline the batch is converted in one vectorised step, giving the same values as the
        # per-image path without making a PIL image per sample.
        pipeline = _batch_pipeline(self.transform)
        if pipeline is None or self.target_transform is not None:
            return [self[i] for i in indices]
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            return [self[i] for i in indices]
        images = pipeline(self.data._data[idx])._data
        return [(Tensor._make(img), t) for img, t in zip(images, self.targets._data[idx].tolist())]

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"

    # Old attribute names, kept as torchvision does.
    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets")
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets")
        return self.targets

    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data")
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data")
        return self.data


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's format."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    sample_folder = None
