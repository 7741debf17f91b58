"""Saving and loading traced programs: `pellucid.jit.save` / `pellucid.jit.load`.

The file is a ZIP archive holding

* `manifest.json`: the format name ("pellucid.jit") and version, the SHA-256 of the program and,
  for every tensor, its file, dtype, shape and SHA-256;
* `program.json`: the program (format name and version again, the values, the ops with their
  parameters as tagged JSON, the input and output structures, the module tree, and which
  tensors are parameters, buffers and constants);
* `tensors/<n>.npy`: one raw array per tensor, read back with `allow_pickle=False`.

Loading parses JSON and reads numbers; it never imports or runs code from the file: op names must
name pellucid ops and parameters may only use the tags `_program.decode` knows. The model's Python
class is not needed. Any failure (a truncated, modified or foreign file, a newer format version,
an op this pellucid doesn't have) raises `pellucid.serialization.LoadError` naming the file.
Writes to a path are atomic (a temporary file renamed over the target).
"""
import hashlib
import io
import json
import os
import zipfile

from .. import _backend
from .. import serialization as S
from ._program import Program, Value, OpNode, encode, decode, EncodeError, flatten, Ref

__all__ = ["save", "load", "FORMAT", "VERSION"]

FORMAT = "pellucid.jit"
VERSION = 1
MANIFEST = "manifest.json"
PROGRAM = "program.json"


def _program_json(traced, add_tensor):
    p = traced.program
    state = []
    for vid, owner, attr, kind in traced._slots:
        t = getattr(owner, attr)
        v = p.values[vid]
        entry = {"kind": "parameter" if kind == "param" else "tensor",
                 "requires_grad": bool(t._requires_grad), "device": str(_backend.device_of(t._data))}
        state.append({"value": vid, "name": v.name, "kind": kind, "persistent": bool(v.persistent),
                      "tensor": add_tensor(t._data, entry)})
    consts = []
    for vid, t in traced._consts.items():
        consts.append({"value": vid, "tensor": add_tensor(
            t._data, {"kind": "tensor", "requires_grad": False, "device": str(_backend.device_of(t._data))})})
    ops = []
    for i, n in enumerate(p.ops):
        where = f"op #{i} '{n.op}'" + (f" (module '{n.module}')" if n.module else "")
        try:
            ops.append({"op": n.op, "args": encode(list(n.args), where), "params": encode(list(n.params), where),
                        "outputs": list(n.outputs), "module": n.module, "inplace": bool(n.inplace),
                        "alias": bool(n.alias)})
        except EncodeError as e:
            raise TypeError(f"jit.save: {e}") from None
    try:
        outputs = encode(p.outputs, "the output")
    except EncodeError as e:
        raise TypeError(f"jit.save: {e}") from None
    return {
        "format": FORMAT, "version": VERSION, "name": p.name, "training": bool(p.training),
        "modules": [[path, cls] for path, cls in p.modules],
        "values": [{"kind": v.kind, "name": v.name, "shape": list(v.shape), "dtype": v.dtype,
                    "dependent": bool(v.dependent)} for v in p.values],
        "inputs": encode(p.inputs), "outputs": outputs, "ops": ops, "state": state, "constants": consts,
    }


def save(m, f):
    """Save a TracedModule to `f` (a path or a writable binary file object)."""
    from ._module import TracedModule
    if not isinstance(m, TracedModule):
        raise TypeError(f"jit.save: expected a TracedModule (from pellucid.jit.trace), got {type(m).__name__}")
    arrays, entries = [], []

    def add_tensor(data, entry):
        arr = S.stored_form(_backend.to_numpy(data), entry, f"tensors/{len(arrays)}.npy")
        arrays.append(arr)
        entries.append(entry)
        return len(arrays) - 1

    program = json.dumps(_program_json(m, add_tensor), separators=(",", ":"), allow_nan=False).encode("utf-8")
    manifest = {"format": FORMAT, "version": VERSION, "byteorder": "little",
                "program": {"file": PROGRAM, "sha256": hashlib.sha256(program).hexdigest()}, "tensors": entries}

    def write(fh):
        import numpy as np
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
            z.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":"), allow_nan=False))
            z.writestr(PROGRAM, program)
            for entry, arr in zip(entries, arrays):
                with z.open(entry["file"], "w", force_zip64=arr.nbytes >= 2 ** 31 - 2 ** 20) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)

    if isinstance(f, (str, bytes, os.PathLike)):
        S._atomic_write(f, write)
    elif hasattr(f, "write"):
        write(f)
    else:
        raise TypeError(f"jit.save: f must be a path or a binary file object, got {type(f).__name__}")


def load(f, map_location=None):
    """Load a TracedModule saved by `TracedModule.save` / `jit.save`. `map_location` moves its
    tensors as in `pellucid.load` (a device, a string, a dict of saved -> new locations, or a
    callable)."""
    name = S._name_of(f)

    def fail(msg):
        raise S.LoadError(f"{name}: {msg}")

    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_from(fh, name, map_location, fail)
    if not hasattr(f, "read"):
        raise TypeError(f"jit.load: f must be a path or a binary file object, got {type(f).__name__}")
    if not (hasattr(f, "seek") and getattr(f, "seekable", lambda: True)()):
        f = io.BytesIO(f.read())
    return _load_from(f, name, map_location, fail)


def _load_from(fh, name, map_location, fail):
    start = fh.tell()
    head = fh.read(4)
    fh.seek(start)
    if isinstance(head, str):
        raise TypeError("jit.load: the file object must be opened in binary mode ('rb')")
    if not head:
        fail("the file is empty")
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        fail("not a saved pellucid program (it is not a ZIP archive)")
    try:
        z = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        fail(f"the file is truncated or corrupted (not a readable ZIP archive: {e})")
    with z:
        names = z.namelist()
        if MANIFEST not in names:
            if any(n.endswith("constants.pkl") or n.endswith("data.pkl") for n in names):
                fail("this is a TorchScript/PyTorch file, which holds pickles and Python code; pellucid loads only "
                     "programs saved by pellucid.jit (which never run code on load)")
            fail(f"not a saved pellucid program (no {MANIFEST} in the archive)")
        try:
            manifest = json.loads(z.read(MANIFEST).decode("utf-8"))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            fail(f"the manifest is truncated or corrupted ({e})")
        if not isinstance(manifest, dict):
            fail("the manifest is malformed")
        if manifest.get("format") != FORMAT:
            if manifest.get("format") == S.FORMAT_NAME:
                fail("this file was written by pellucid.save (a state_dict or other object), not by "
                     "pellucid.jit.save: read it with pellucid.load")
            fail(f"not a saved pellucid program (format {manifest.get('format')!r}, expected {FORMAT!r})")
        _check_version(manifest.get("version"), fail)
        prog_entry = manifest.get("program")
        entries = manifest.get("tensors")
        if not isinstance(prog_entry, dict) or not isinstance(entries, list):
            fail("the manifest is incomplete (no program or tensor list)")
        try:
            raw = z.read(PROGRAM)
        except KeyError:
            fail(f"the program ({PROGRAM}) is missing from the archive")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            fail(f"the program is truncated or corrupted ({e})")
        if hashlib.sha256(raw).hexdigest() != prog_entry.get("sha256"):
            fail("the program fails its SHA-256 check: the file was modified or corrupted")
        try:
            doc = json.loads(raw.decode("utf-8"))
        except ValueError as e:
            fail(f"the program is not valid JSON ({e})")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            fail("the program doesn't name the pellucid.jit format")
        _check_version(doc.get("version"), fail)
        arrays = []
        for tid, entry in enumerate(entries):
            if not isinstance(entry, dict):
                fail(f"the manifest entry of tensor {tid} is malformed")
            arrays.append((S._read_array(z, entry, tid, fail), entry))
    try:
        return _build(doc, arrays, name, map_location, fail)
    except S.LoadError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        fail(f"the program is malformed ({type(e).__name__}: {e})")


def _check_version(version, fail):
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        fail(f"the file has an invalid format version {version!r}")
    if version > VERSION:
        fail(f"written by a newer pellucid (pellucid.jit format version {version}); this one reads up to "
             f"version {VERSION}")


def _build(doc, arrays, name, map_location, fail):
    from .. import _dispatch
    from ._module import TracedModule
    values = []
    for i, d in enumerate(doc["values"]):
        kind = d["kind"]
        if kind not in ("input", "param", "buffer", "const", "op"):
            fail(f"value {i} has an unknown kind {kind!r}")
        shape = d["shape"]
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            fail(f"value {i} has a malformed shape {shape!r}")
        v = Value(i, kind, d.get("name"), shape, str(d["dtype"]), bool(d.get("dependent", False)))
        values.append(v)
    n = len(values)

    def dec(node, where):
        try:
            return decode(node, n)
        except ValueError as e:
            fail(f"{where}: {e}")

    ops = []
    for i, d in enumerate(doc["ops"]):
        if not isinstance(d, dict) or "op" not in d:
            fail(f"op #{i} has no op name")
        op = d["op"]
        module = str(d.get("module", ""))
        where = f"op #{i} '{op}'" + (f" (module '{module}')" if module else "")
        if not isinstance(op, str) or op not in _dispatch.OPS:
            fail(f"op #{i} (module '{module}') is {op!r}, which is not a pellucid op (saved by a newer or "
                 "modified pellucid?)")
        outs = d["outputs"]
        if not isinstance(outs, list) or not outs or not all(type(o) is int and 0 <= o < n for o in outs):
            fail(f"{where} has malformed outputs {outs!r}")
        args = dec(d["args"], where)
        params = dec(d["params"], where)
        if not isinstance(args, list) or not isinstance(params, list):
            fail(f"{where} has malformed arguments")
        ops.append(OpNode(op, args, params, outs, module, bool(d.get("inplace", False)), bool(d.get("alias", False))))
    inputs = dec(doc["inputs"], "the inputs")
    outputs = dec(doc["outputs"], "the outputs")
    if not isinstance(inputs, tuple) or any(type(r) is not Ref for r in flatten(inputs)):
        fail("the input structure is malformed")
    modules = [(str(p), str(c)) for p, c in doc.get("modules", [])]
    program = Program(values, ops, inputs, outputs, modules, name=str(doc.get("name", "")),
                      training=bool(doc.get("training", False)))
    decoder = S._Decoder(name, [], map_location)

    def tensor(tid, entry_extra=None):
        if type(tid) is not int or not 0 <= tid < len(arrays):
            fail(f"the program refers to tensor {tid!r}, which the file doesn't hold")
        arr, entry = arrays[tid]
        return decoder._make_tensor(arr, entry)

    state = {}
    for s in doc["state"]:
        vid = s["value"]
        if type(vid) is not int or not 0 <= vid < n or values[vid].kind not in ("param", "buffer"):
            fail(f"state entry {s.get('name')!r} refers to value {vid!r}, which is not a parameter or buffer")
        values[vid].persistent = bool(s.get("persistent", True))
        t = tensor(s["tensor"])
        values[vid].requires_grad = bool(t._requires_grad)
        state[vid] = t
    consts = {}
    for c in doc["constants"]:
        vid = c["value"]
        if type(vid) is not int or not 0 <= vid < n or values[vid].kind != "const":
            fail(f"constant entry refers to value {vid!r}, which is not a constant")
        consts[vid] = tensor(c["tensor"])._data
    for v in values:
        if v.kind in ("param", "buffer") and v.id not in state:
            fail(f"{v.kind} '{v.name}' has no data in the file")
    for i, node in enumerate(ops):
        for vid in node.refs():
            if values[vid].kind == "const" and vid not in consts:
                fail(f"op #{i} '{node.op}' reads constant {vid}, which has no data in the file")
    return TracedModule(program, state, consts)
