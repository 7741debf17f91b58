"""Saving and loading: `pellucid.save(obj, f)` and `pellucid.load(f)`.

What can be saved: tensors, nn.Parameters, NumPy arrays and scalars, and nested dicts,
OrderedDicts, lists, tuples and sets of them and of Python scalars (None, bool, int, float, str,
bytes), dtypes, devices and Sizes: everything a module's or an optimizer's `state_dict()` holds.

The file is a ZIP archive (like NumPy's .npz) with

* `manifest.json`: the format name and version, the structure of the saved object as tagged
  JSON, and for every tensor its dtype, shape, device, requires_grad, whether it is a
  Parameter, and the SHA-256 of its bytes;
* `tensors/<n>.npy`: one raw .npy array per tensor, read back with `allow_pickle=False`.
  bfloat16 has no .npy type (NumPy lacks it; an ml_dtypes array would be written as opaque
  void data), so a bfloat16 tensor's file holds its bits as uint16 and its manifest entry says
  `"dtype": "bfloat16", "storage": "uint16"`; loading views the bits as bfloat16 again, exactly.

Why not pickle (what torch.save uses): unpickling runs whatever code the file names, so loading
a file from someone else would be running their program. Here loading parses JSON and reads raw
numbers; it can never execute code, so `weights_only` has nothing left to restrict. Files written
by torch.save are refused with a note on how to convert them.

Why not safetensors: it stores a flat map from names to tensors, so an optimizer's state
(integer keys, nested dicts, per-group hyper-parameters in lists and tuples, Python scalars)
would need a second, home-made encoding on the side. A JSON manifest holds the structure
directly, and .npy keeps the arrays readable by any NumPy.

Writes to a path are atomic: the archive is written to a temporary file in the same directory,
flushed to disk and renamed over the target, so a crash mid-save leaves the old file intact.
Reads check the ZIP's CRCs, the manifest and every tensor's dtype, shape and SHA-256, and any
failure raises `LoadError` (a RuntimeError) naming the file.
"""
import collections
import hashlib
import io
import json
import math
import os
import tempfile
import zipfile

import numpy as np

from . import _backend
from . import _dtype as D
from ._size import Size
from ._tensor import Tensor

__all__ = ["save", "load", "LoadError", "FORMAT_VERSION"]

FORMAT_NAME = "pellucid"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

_CONVERT_HINT = (
    "To convert a PyTorch checkpoint, load it once in PyTorch and save the arrays with pellucid "
    "(both installed): `sd = torch.load(path, weights_only=True); "
    "pellucid.save({k: pellucid.from_numpy(v.numpy()) for k, v in sd.items()}, 'model.pt')`; "
    "or, without pellucid there, `numpy.savez('weights.npz', **{k: v.numpy() for k, v in sd.items()})` "
    "and then `{k: pellucid.from_numpy(v) for k, v in numpy.load('weights.npz').items()}`.")


class LoadError(RuntimeError):
    """A file that pellucid.load can't read: truncated, modified, or not a pellucid file."""


def _sha256(arr):
    return hashlib.sha256(arr.reshape(-1).view(np.uint8)).hexdigest()


def _is_parameter(t):
    if type(t) is Tensor:
        return False
    from .nn.parameter import Parameter
    return isinstance(t, Parameter)


# ---- encoding -----------------------------------------------------------------------------------

def stored_form(arr, entry, file):
    """The array to write for host array `arr`, with its manifest fields added to `entry`
    (bfloat16 goes as its uint16 bits; see the module notes). Also used by jit.save."""
    dtype_name = arr.dtype.name
    if arr.dtype is D.BF16:
        arr = arr.view(np.uint16)      # the bits, stored as a type every .npy reader knows
        entry["storage"] = "uint16"
    if arr.dtype.hasobject or arr.dtype.kind not in "biuf":
        raise TypeError(f"pellucid.save: arrays of dtype {arr.dtype} can't be saved")
    if not arr.flags.c_contiguous:
        arr = arr.copy(order="C")      # (np.ascontiguousarray would make 0-d arrays 1-d)
    entry.update(file=file, dtype=dtype_name, shape=list(arr.shape), sha256=_sha256(arr))
    return arr


class _Encoder:
    def __init__(self):
        self.arrays = []        # raw arrays to write, by tensor id
        self.entries = []       # their manifest entries
        self._ids = {}          # id(tensor) -> tensor id, so a tensor saved twice is stored once
        self._keep = []         # keeps encoded objects alive so their ids stay unique

    def _add_array(self, obj, arr, entry):
        key = id(obj)
        if key in self._ids:
            return self._ids[key]
        self._keep.append(obj)
        arr = stored_form(_backend.to_numpy(arr), entry, f"tensors/{len(self.arrays)}.npy")
        tid = self._ids[key] = len(self.arrays)
        self.arrays.append(arr)
        self.entries.append(entry)
        return tid

    def encode(self, obj, where="obj"):
        if obj is None:
            return {"type": "none"}
        if obj is True or obj is False:
            return {"type": "bool", "value": obj}
        if isinstance(obj, Tensor):
            entry = {"kind": "parameter" if _is_parameter(obj) else "tensor",
                     "requires_grad": bool(obj.requires_grad), "device": str(obj.device)}
            return {"type": "tensor", "id": self._add_array(obj, obj._data, entry)}
        if isinstance(obj, np.ndarray):
            return {"type": "tensor", "id": self._add_array(obj, obj, {"kind": "ndarray"})}
        if isinstance(obj, np.generic):
            if isinstance(obj, (np.str_, np.bytes_)):
                return self.encode(obj.item(), where)
            return {"type": "tensor", "id": self._add_array(obj, np.asarray(obj), {"kind": "npscalar"})}
        if type(obj) is int:
            return {"type": "int", "value": obj}
        if type(obj) is float:
            return {"type": "float", "value": obj if math.isfinite(obj) else repr(obj)}
        if type(obj) is str:
            return {"type": "str", "value": obj}
        if type(obj) is bytes:
            return {"type": "bytes", "value": obj.hex()}
        if isinstance(obj, D.dtype):
            return {"type": "dtype", "value": obj.name}
        if isinstance(obj, _backend.device):
            return {"type": "device", "value": str(obj)}
        if isinstance(obj, Size):
            return {"type": "Size", "value": [int(s) for s in obj]}
        if type(obj) in (dict, collections.OrderedDict):
            node = {"type": "dict" if type(obj) is dict else "OrderedDict",
                    "items": [[self.encode(k, f"{where} key {k!r}"), self.encode(v, f"{where}[{k!r}]")]
                              for k, v in obj.items()]}
            metadata = getattr(obj, "_metadata", None)      # Module.state_dict()'s version info
            if metadata is not None:
                node["metadata"] = self.encode(metadata, f"{where}._metadata")
            return node
        if type(obj) in (list, tuple, set, frozenset):
            return {"type": type(obj).__name__,
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        hint = ""
        if hasattr(obj, "state_dict") and callable(obj.state_dict):
            hint = " Save its state_dict() instead, and load it into a new instance with load_state_dict()."
        elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
            hint = " Save it as a plain tuple or as a dict (its _asdict())."
        raise TypeError(
            f"pellucid.save: can't save {type(obj).__module__}.{type(obj).__qualname__} at {where}: only "
            "tensors, NumPy arrays, Python scalars, strings, bytes, dtypes, devices and "
            "dicts/lists/tuples/sets of them are stored (objects would need pickle, which pellucid "
            f"never uses).{hint}")


def _write_archive(fh, manifest, arrays):
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":"), allow_nan=False))
        for entry, arr in zip(manifest["tensors"], arrays):
            with z.open(entry["file"], "w", force_zip64=arr.nbytes >= 2 ** 31 - 2 ** 20) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def _umask():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path, write):
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"pellucid.save: parent directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())   # mkstemp's 0600 would hide the file from others
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:        # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save `obj` to `f` (a path or a writable binary file object).

    `pickle_protocol` and `_use_new_zipfile_serialization` are accepted so PyTorch programs run
    unchanged; they have no effect, since nothing is pickled."""
    if pickle_module is not None:
        raise ValueError("pellucid.save never pickles, so pickle_module can't be used")
    enc = _Encoder()
    root = enc.encode(obj)      # fails before anything is written if obj holds something unsaveable
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "byteorder": "little",
                "root": root, "tensors": enc.entries}
    if isinstance(f, (str, bytes, os.PathLike)):
        _atomic_write(f, lambda fh: _write_archive(fh, manifest, enc.arrays))
    elif hasattr(f, "write"):
        _write_archive(f, manifest, enc.arrays)
    else:
        raise TypeError(f"pellucid.save: f must be a path or a binary file object, got {type(f).__name__}")


# ---- decoding ------------------------------------------------------------------------------------

def _target_device(map_location, saved):
    if map_location is None:
        return saved
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    return map_location


class _Decoder:
    def __init__(self, name, tensors, map_location):
        self.name = name
        self.tensors = tensors          # tensor id -> (array, manifest entry)
        self.map_location = map_location
        self.built = {}

    def fail(self, msg):
        raise LoadError(f"{self.name}: {msg}")

    def tensor(self, tid):
        if not isinstance(tid, int) or not 0 <= tid < len(self.tensors):
            self.fail(f"the manifest refers to tensor {tid!r}, which the file doesn't hold")
        if tid in self.built:
            return self.built[tid]
        arr, entry = self.tensors[tid]
        kind = entry.get("kind")
        if kind == "ndarray":
            out = arr
        elif kind == "npscalar":
            out = arr[()]
        elif kind in ("tensor", "parameter"):
            out = self._make_tensor(arr, entry)
        else:
            self.fail(f"tensor {tid} has an unknown kind {kind!r}")
        self.built[tid] = out
        return out

    def _make_tensor(self, arr, entry):
        saved = str(entry.get("device", "cpu"))
        t = Tensor._make(arr)
        if callable(self.map_location) and not isinstance(self.map_location, (str, _backend.device)):
            mapped = self.map_location(t, saved)
            if mapped is not None:
                t = mapped if isinstance(mapped, Tensor) else Tensor._make(mapped)
            else:
                t = self._to_device(t, saved)
        else:
            t = self._to_device(t, _target_device(self.map_location, saved))
        if entry.get("kind") == "parameter":
            from .nn.parameter import Parameter
            return Parameter(t, requires_grad=bool(entry.get("requires_grad", True)))
        if entry.get("requires_grad"):
            t.requires_grad_(True)
        return t

    @staticmethod
    def _to_device(t, location):
        dev = _backend.as_device(location)
        if dev.type == "cpu":
            return t
        if not _backend.cupy_available():
            raise RuntimeError(
                f"Attempting to deserialize a tensor on {dev} but CUDA is not available (pellucid's "
                "GPU backend needs CuPy and an NVIDIA GPU). If you are running on a CPU-only machine, "
                "use pellucid.load(..., map_location='cpu') to load the tensors to the CPU.")
        return t.to(dev)

    def decode(self, node):
        if not isinstance(node, dict) or "type" not in node:
            self.fail(f"malformed manifest entry {str(node)[:80]!r}")
        kind = node["type"]
        try:
            if kind == "none":
                return None
            if kind in ("bool", "int", "str"):
                value = node["value"]
                if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
                    raise ValueError(kind)
                return value
            if kind == "float":
                return float(node["value"])
            if kind == "bytes":
                return bytes.fromhex(node["value"])
            if kind == "tensor":
                return self.tensor(node["id"])
            if kind == "dtype":
                return D.as_dtype(node["value"])
            if kind == "device":
                return _backend.device(node["value"])
            if kind == "Size":
                return Size(int(s) for s in node["value"])
            if kind in ("dict", "OrderedDict"):
                cls = dict if kind == "dict" else collections.OrderedDict
                out = cls((self.decode(k), self.decode(v)) for k, v in node["items"])
                if "metadata" in node and kind == "OrderedDict":
                    out._metadata = self.decode(node["metadata"])
                return out
            if kind in ("list", "tuple", "set", "frozenset"):
                cls = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind]
                return cls(self.decode(v) for v in node["items"])
        except LoadError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            self.fail(f"malformed manifest entry of type {kind!r} ({type(e).__name__}: {e})")
        self.fail(f"unknown entry type {kind!r} in the manifest (saved by a newer pellucid?)")


def _name_of(f):
    if isinstance(f, (str, bytes, os.PathLike)):
        return os.fsdecode(f)
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


def _read_array(z, entry, tid, fail):
    for key in ("file", "dtype", "shape", "sha256"):
        if key not in entry:
            fail(f"the manifest entry of tensor {tid} lacks {key!r}")
    try:
        with z.open(entry["file"]) as member:
            arr = np.lib.format.read_array(member, allow_pickle=False)
    except KeyError:
        fail(f"tensor {tid}'s data ({entry['file']}) is missing from the archive")
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        fail(f"tensor {tid}'s data ({entry['file']}) is truncated or corrupted, or not a plain numeric "
             f"array ({e})")
    stored = entry["dtype"] if entry.get("storage") is None else entry["storage"]
    if entry["dtype"] == "bfloat16" and stored != "uint16":
        fail(f"tensor {tid} ({entry['file']}): bfloat16 data must be stored as uint16 bits, the "
             f"manifest says {stored!r}")
    if arr.dtype.name != stored or list(arr.shape) != list(entry["shape"]):
        fail(f"tensor {tid} ({entry['file']}) holds {arr.dtype.name}{list(arr.shape)} but the manifest "
             f"says {stored}{list(entry['shape'])}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not arr.flags.c_contiguous or _sha256(arr) != entry["sha256"]:
        fail(f"tensor {tid} ({entry['file']}) fails its SHA-256 check: the file was modified or corrupted")
    if entry["dtype"] == "bfloat16":
        arr = arr.view(D.BF16)
    try:
        D.from_numpy_dtype(arr.dtype)
    except TypeError as e:
        fail(str(e))
    return arr


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None):
    """Load an object saved by `pellucid.save` from `f` (a path or a readable binary file object).

    `map_location` moves tensors: None keeps the device they were saved from; a device or string
    ('cpu', 'cuda:0') sends all there; a dict maps saved locations ('cuda:0') to new ones; a
    callable `fn(tensor, saved_location)` gets each tensor (on the CPU) and returns it moved, or
    None for the default. `weights_only` is accepted for compatibility: loading never runs code,
    whatever its value. `mmap` is not supported (the arrays are read into memory)."""
    if pickle_module is not None:
        raise ValueError("pellucid.load never unpickles, so pickle_module can't be used")
    if mmap:
        raise ValueError("pellucid.load: mmap=True is not supported; the arrays are read into memory")
    name = _name_of(f)

    def fail(msg):
        raise LoadError(f"{name}: {msg}")

    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_from(fh, name, map_location, fail)
    if not hasattr(f, "read"):
        raise TypeError(f"pellucid.load: f must be a path or a binary file object, got {type(f).__name__}")
    if not (hasattr(f, "seek") and getattr(f, "seekable", lambda: True)()):
        f = io.BytesIO(f.read())
    return _load_from(f, name, map_location, fail)


def _load_from(fh, name, map_location, fail):
    start = fh.tell()
    head = fh.read(4)
    fh.seek(start)
    if isinstance(head, str):
        raise TypeError("pellucid.load: the file object must be opened in binary mode ('rb')")
    if len(head) == 0:
        fail("the file is empty")
    if head[:1] == b"\x80":
        fail("this looks like a legacy PyTorch file (a bare pickle stream). pellucid never unpickles: "
             "unpickling can run arbitrary code. " + _CONVERT_HINT)
    if head != b"PK\x03\x04" and head != b"PK\x05\x06":
        fail("not a pellucid file (it is not a ZIP archive)")
    try:
        z = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        fail(f"the file is truncated or corrupted (not a readable ZIP archive: {e})")
    with z:
        names = z.namelist()
        if MANIFEST not in names:
            if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
                fail("this file was written by torch.save and holds a pickle. pellucid never unpickles: "
                     "unpickling can run arbitrary code. " + _CONVERT_HINT)
            if names and all(n.endswith(".npy") for n in names):
                fail("this is a NumPy .npz archive, not a pellucid file: read it with numpy.load "
                     "and wrap the arrays with pellucid.from_numpy")
            fail(f"not a pellucid file (no {MANIFEST} in the archive)")
        try:
            manifest = json.loads(z.read(MANIFEST).decode("utf-8"))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            fail(f"the manifest is truncated or corrupted ({e})")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            fail("not a pellucid file (its manifest doesn't name the pellucid format)")
        version = manifest.get("version")
        if not isinstance(version, int) or version < 1:
            fail(f"the manifest has an invalid format version {version!r}")
        if version > FORMAT_VERSION:
            fail(f"written by a newer pellucid (format version {version}); this one reads up to "
                 f"version {FORMAT_VERSION}")
        entries = manifest.get("tensors")
        if not isinstance(entries, list) or "root" not in manifest:
            fail("the manifest is incomplete (no tensor list or no root object)")
        tensors = []
        for tid, entry in enumerate(entries):
            if not isinstance(entry, dict):
                fail(f"the manifest entry of tensor {tid} is malformed")
            tensors.append((_read_array(z, entry, tid, fail), entry))
    return _Decoder(name, tensors, map_location).decode(manifest["root"])
