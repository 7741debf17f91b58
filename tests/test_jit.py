"""pellucid.jit: tracing models into programs, replaying them, saving and loading them safely,
TracerWarnings for frozen data-dependent values, and showing traced programs in the graph view."""
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import pellucid as torch
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid import jit
from pellucid.serialization import LoadError


# ---- models ---------------------------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.view(x.size(0), -1))))


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
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout2d(0.2),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 10))

    def forward(self, x):
        return self.head(self.features(x))


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 24, batch_first=True)
        self.fc = nn.Linear(24, 3)

    def forward(self, ids):
        _, (h, _) = self.lstm(self.emb(ids))
        return self.fc(h[-1])


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, dim_feedforward=32), 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, src):
        return self.fc(self.enc(src))


def _models():
    torch.manual_seed(0)
    bn = BNNet()
    with torch.no_grad():       # give the batch norms running statistics of their own
        for _ in range(2):
            bn(torch.randn(8, 1, 12, 12) * 2 + 1)
    return {
        "mlp": (MLP(), (torch.randn(4, 1, 28, 28),)),
        "convnet": (ConvNet(), (torch.randn(2, 1, 28, 28),)),
        "bn_cnn": (bn, (torch.randn(4, 1, 12, 12),)),
        "lstm": (LSTMClassifier(), (torch.randint(0, 50, (3, 6)),)),
        "transformer": (Encoder(), (torch.randn(5, 2, 16),)),
    }


def _close(a, b, tol=1e-6):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _trace_quietly(model, args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a clean model traces without any warning
        return jit.trace(model, args, **kw)


# ---- tracing and replaying --------------------------------------------------------------------

def test_trace_replays_ops_and_prints_graph():
    torch.manual_seed(0)
    model = MLP().eval()
    x = torch.randn(4, 1, 28, 28)
    traced = _trace_quietly(model, x)
    assert isinstance(traced, jit.TracedModule) and isinstance(traced, nn.Module)
    _close(traced(x), model(x))
    text = str(traced.graph)
    assert text.startswith("graph(%x : Float(4, 1, 28, 28),")
    assert "%fc1.weight : Float(128, 784)" in text
    assert "  %6 : Float(4, 128) = linear(%5, %fc1.weight, %fc1.bias)  # fc1\n" in text
    assert "%5 : Float(4, 784) = view(%x, shape=(4, 784))\n" in text
    assert "return (%" in text
    code = traced.code
    assert code.startswith("def forward(self, x):") and "self.fc2.weight" in code
    assert [n["op"] for n in traced.graph.nodes()] == ["view", "linear", "relu", "linear"]


@pytest.mark.parametrize("name", ["mlp", "convnet", "bn_cnn", "lstm", "transformer"])
def test_traced_models_round_trip_through_save_and_load(name, tmp_path):
    model, args = _models()[name]
    model.eval()
    traced = _trace_quietly(model, args)
    expected = model(*args)
    _close(traced(*args), expected)
    path = tmp_path / f"{name}.pt"
    traced.save(path)
    loaded = jit.load(path)
    assert isinstance(loaded, jit.TracedModule)
    _close(loaded(*args), expected)
    assert list(loaded.state_dict()) == list(model.state_dict())
    for k, v in model.state_dict().items():
        _close(loaded.state_dict()[k], v, 0)
    assert str(loaded.graph) == str(traced.graph)
    # jit.save / a file object give the same program
    buf = io.BytesIO()
    jit.save(traced, buf)
    buf.seek(0)
    _close(jit.load(buf)(*args), expected)


def test_loaded_program_runs_without_the_model_class(tmp_path):
    torch.manual_seed(0)
    model = ConvNet().eval()
    x = torch.randn(2, 1, 28, 28)
    path = tmp_path / "convnet.pt"
    jit.trace(model, x).save(path)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "expected.npy", model(x).detach().numpy())
    script = (
        "import sys, numpy as np, pellucid\n"
        "d = sys.argv[1]\n"
        "m = pellucid.jit.load(d + '/convnet.pt')\n"
        "y = m(pellucid.from_numpy(np.load(d + '/x.npy'))).detach().numpy()\n"
        "np.testing.assert_allclose(y, np.load(d + '/expected.npy'), rtol=1e-6, atol=1e-6)\n"
        "print(type(m).__name__, m.original_name)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["TracedModule", "ConvNet"]


def test_saved_file_is_json_and_npy_only(tmp_path):
    torch.manual_seed(0)
    traced = jit.trace(MLP().eval(), torch.randn(2, 784))
    path = tmp_path / "mlp.pt"
    traced.save(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        manifest = json.loads(z.read("manifest.json"))
        program = json.loads(z.read("program.json"))
        assert all(n in ("manifest.json", "program.json") or (n.startswith("tensors/") and n.endswith(".npy"))
                   for n in names)
        for entry in manifest["tensors"]:
            with z.open(entry["file"]) as fh:
                np.lib.format.read_array(fh, allow_pickle=False)
    assert manifest["format"] == program["format"] == "pellucid.jit"
    assert manifest["version"] == program["version"] == jit.VERSION
    assert [op["op"] for op in program["ops"]] == ["view", "linear", "relu", "linear"]
    assert program["ops"][1]["module"] == "fc1"
    assert not [n for n in os.listdir(tmp_path) if n != "mlp.pt"]      # the atomic write left no temporary


def test_trace_of_a_function_and_nested_inputs():
    def f(pair, scale):
        a, b = pair
        return {"sum": (a + b) * scale, "prod": a * b}
    a, b, s = torch.randn(3), torch.randn(3), torch.tensor(2.0)
    traced = jit.trace(f, ((a, b), s), strict=False)
    out = traced((b, a), torch.tensor(3.0))
    _close(out["sum"], (a + b) * 3.0)
    _close(out["prod"], a * b)
    with pytest.raises(RuntimeError, match="strict=False"):
        jit.trace(f, ((a, b), s))
    with pytest.raises(TypeError, match="cannot be traced"):
        jit.trace(lambda x, n: x * n, (a, 3))
    traced = jit.trace(lambda x, y: x - y, [a, b])        # a list holds the arguments, as in PyTorch
    _close(traced(b, a), b - a)


def test_tracing_inside_a_trace():
    seen = []

    def inner(x):
        return x * 2

    def outer(x):
        traced_inner = jit.trace(inner, x, check_trace=False)
        seen.append(jit.is_tracing())
        return traced_inner(x) + 1
    traced = jit.trace(outer, torch.randn(3), check_trace=False)
    assert seen == [True] and not jit.is_tracing()
    assert [n.op for n in traced.program.ops] == ["mul", "add"]
    x = torch.randn(3)
    _close(traced(x), x * 2 + 1)


def test_calling_with_other_shapes_says_the_trace_is_specialised():
    torch.manual_seed(0)
    traced = jit.trace(MLP().eval(), torch.randn(4, 784))
    with pytest.raises(RuntimeError, match=r"input 'x' is float32\[2, 784\] but the program was traced with "
                                           r"float32\[4, 784\]"):
        traced(torch.randn(2, 784))
    with pytest.raises(TypeError, match="expected 1 input"):
        traced(torch.randn(4, 784), torch.randn(4, 784))


def test_parameters_and_buffers_are_live_references_not_constants():
    torch.manual_seed(0)
    model = BNNet().eval()
    x = torch.randn(2, 1, 12, 12)
    traced = _trace_quietly(model, x)
    assert not traced.constants()
    # new running statistics and weights change the traced output as they change the model's
    other = BNNet()
    with torch.no_grad():
        other.train()
        other(torch.randn(8, 1, 12, 12) * 3 - 1)
    other.eval()
    traced.load_state_dict(other.state_dict())
    _close(traced(x), other(x))


def test_index_data_cast_from_an_input_follows_the_input():
    torch.manual_seed(0)
    emb = nn.Embedding(10, 3)
    ids = torch.tensor([[1, 2], [3, 9]], dtype=torch.int32)        # embedding casts these to int64
    traced = _trace_quietly(emb, ids)
    other = torch.tensor([[0, 5], [7, 7]], dtype=torch.int32)
    _close(traced(other), emb(other))
    assert not traced.constants()


def test_in_place_ops_and_constants_made_in_forward():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            y = self.lin(x).relu_()
            acc = torch.zeros(x.shape[0], 4)
            acc += y
            acc[:, 0] = 7.0
            return acc * 2, y[torch.tensor([1, 0])]
    torch.manual_seed(0)
    m = M()
    x = torch.randn(3, 4)
    traced = _trace_quietly(m, x)
    assert any(n.inplace for n in traced.program.ops)
    for _ in range(2):          # constants written in place are fresh on every run
        for a, b in zip(traced(x), m(x)):
            _close(a, b)
    x2 = torch.randn(3, 4)
    for a, b in zip(traced(x2), m(x2)):
        _close(a, b)


def test_traced_module_is_differentiable():
    torch.manual_seed(0)
    model = MLP()
    x = torch.randn(3, 784)
    traced = jit.trace(model, x)
    model(x).sum().backward()
    expected = model.fc1.weight.grad.clone()
    model.zero_grad()
    traced(x).sum().backward()
    _close(model.fc1.weight.grad, expected)       # the trace shares the model's parameters


def test_map_location(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "m.pt"
    jit.trace(MLP().eval(), torch.randn(2, 784)).save(path)
    loaded = jit.load(path, map_location="cpu")
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert all(p.requires_grad for p in loaded.parameters())


# ---- tampered and foreign files ------------------------------------------------------------------

def _saved(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "model.pt"
    jit.trace(MLP().eval(), torch.randn(2, 784)).save(path)
    return path


def _rewrite(path, edit):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    edit(members)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)


def test_tampered_tensor_data_fails_cleanly(tmp_path):
    path = _saved(tmp_path)

    def flip(members):
        name = next(n for n in members if n.startswith("tensors/"))
        data = bytearray(members[name])
        data[-1] ^= 0x55
        members[name] = bytes(data)
    _rewrite(path, flip)
    with pytest.raises(LoadError, match=r"model\.pt: tensor 0 .* fails its SHA-256 check"):
        jit.load(path)


def test_tampered_program_fails_its_checksum(tmp_path):
    path = _saved(tmp_path)

    def edit(members):
        members["program.json"] = members["program.json"].replace(b'"relu"', b'"tanh"')
    _rewrite(path, edit)
    with pytest.raises(LoadError, match=r"model\.pt: the program fails its SHA-256 check"):
        jit.load(path)


def _edit_program(members, fn):
    import hashlib
    doc = json.loads(members["program.json"])
    fn(doc)
    raw = json.dumps(doc).encode()
    members["program.json"] = raw
    manifest = json.loads(members["manifest.json"])
    manifest["program"]["sha256"] = hashlib.sha256(raw).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()


def test_unknown_op_name_fails_cleanly(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, lambda m: _edit_program(m, lambda d: d["ops"][2].update(op="frobnicate")))
    with pytest.raises(LoadError, match=r"model\.pt: op #2 .* 'frobnicate', which is not a pellucid op"):
        jit.load(path)


def test_missing_op_name_fails_cleanly(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, lambda m: _edit_program(m, lambda d: d["ops"][1].pop("op")))
    with pytest.raises(LoadError, match=r"model\.pt: op #1 has no op name"):
        jit.load(path)


def test_unknown_parameter_tag_fails_cleanly(tmp_path):
    path = _saved(tmp_path)
    _rewrite(path, lambda m: _edit_program(m, lambda d: d["ops"][0].update(
        params=[{"$": "python_object", "v": "os.system"}])))
    with pytest.raises(LoadError, match="unknown tag 'python_object'"):
        jit.load(path)


def test_unknown_version_fails_cleanly(tmp_path):
    path = _saved(tmp_path)

    def bump(members):
        manifest = json.loads(members["manifest.json"])
        manifest["version"] = jit.VERSION + 1
        members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, bump)
    with pytest.raises(LoadError, match=rf"model\.pt: written by a newer pellucid .*version {jit.VERSION + 1}"):
        jit.load(path)


def test_truncated_and_foreign_files_fail_cleanly(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match=r"cut\.pt: .*(truncated|corrupted)"):
        jit.load(tmp_path / "cut.pt")
    torch.save(MLP().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(LoadError, match=r"weights\.pt: this file was written by pellucid\.save"):
        jit.load(tmp_path / "weights.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(LoadError, match="not a ZIP archive"):
        jit.load(tmp_path / "text.pt")


# ---- warnings ----------------------------------------------------------------------------------

class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class ScaledByMax(nn.Module):
    def forward(self, x):
        return x * x.max().item()


def _messages(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught if w.category is jit.TracerWarning], caught


def test_tracer_warning_on_python_control_flow():
    msgs, caught = _messages(lambda: jit.trace(Branchy(), torch.randn(3, 4) + 1.0))
    assert any(m.startswith("Converting a tensor to a Python boolean might cause the trace to be incorrect")
               for m in msgs)
    w = next(w for w in caught if w.category is jit.TracerWarning)
    assert w.filename == __file__        # points at the line of the model that branched


@pytest.mark.parametrize("convert, what", [
    (lambda t: t.item(), "a Python number"), (lambda t: t.tolist(), "a Python list"),
    (lambda t: int(t), "a Python integer"), (lambda t: float(t), "a Python float"),
    (lambda t: [0, 1, 2][t], "a Python index"), (lambda t: t.numpy(), "a NumPy array")])
def test_tracer_warning_on_each_conversion(convert, what):
    def f(x):
        convert(x.sum().long() % 2)
        return x + 1
    msgs, _ = _messages(lambda: jit.trace(f, torch.randn(3), check_trace=False))
    assert len(msgs) == 1 and msgs[0].startswith(f"Converting a tensor to {what} might")


def test_no_warning_for_values_that_do_not_depend_on_inputs():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            k = int(self.lin.weight.shape[0] + self.lin.bias.detach().abs().argmax())   # parameters only
            return x * k
    msgs, _ = _messages(lambda: jit.trace(M(), torch.randn(2, 3)))
    assert msgs == []


def test_check_trace_reports_output_mismatch():
    msgs, _ = _messages(lambda: jit.trace(ScaledByMax(), torch.randn(3, 4)))
    assert any("Output mismatch between the trace and the Python function" in m for m in msgs)
    assert any("Trace had a different graph" in m and "'mul'" in m for m in msgs)
    msgs, _ = _messages(lambda: jit.trace(ScaledByMax(), torch.randn(3, 4), check_trace=False))
    assert len(msgs) == 1        # only the conversion itself


def test_check_inputs_are_used():
    x = torch.tensor([1.0, 2.0])
    msgs, _ = _messages(lambda: jit.trace(Branchy(), x, check_inputs=[(torch.tensor([-5.0, -6.0]),)]))
    assert any("Output mismatch" in m for m in msgs)
    msgs, _ = _messages(lambda: jit.trace(Branchy(), x, check_inputs=[(torch.tensor([3.0, 1.0]),)]))
    assert not any("Output mismatch" in m for m in msgs)


def test_nondeterministic_trace_warns_and_keeps_running_statistics_live():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    x = torch.randn(6, 4)
    msgs, _ = _messages(lambda: jit.trace(model, x))
    assert any("nondeterministic nodes ('dropout' in '2')" in m and ".eval()" in m for m in msgs)
    traced = jit.trace(model, x, check_trace=False)
    before = model[1].running_mean.clone()
    traced(x)
    assert not np.allclose(model[1].running_mean.numpy(), before.numpy())


def test_in_place_change_of_an_unregistered_tensor_warns():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.count = torch.zeros(2)       # a plain attribute, not a buffer

        def forward(self, x):
            self.count += x
            return self.count * 1
    msgs, _ = _messages(lambda: jit.trace(M(), torch.ones(2), check_trace=False))
    assert any("register_buffer" in m for m in msgs)


# ---- seeing traced programs ----------------------------------------------------------------------

def test_graph_json_shows_the_program_in_the_graph_schema():
    torch.manual_seed(0)
    traced = jit.trace(ConvNet().eval(), torch.randn(2, 1, 28, 28))
    g = traced.graph_json()
    assert g["schema"] == "pellucid.graph" and g["version"] == 1
    ops = [n for n in g["nodes"] if n["kind"] == "op"]
    assert [n["op"] for n in ops] == [n.op for n in traced.program.ops]
    assert {n["module"] for n in ops if n["op"] == "convolution"} == {"conv1", "conv2"}
    params = {n["id"] for n in g["nodes"] if n["kind"] == "param"}
    assert {"param:conv1.weight", "param:fc2.bias"} <= params
    inputs = [n for n in g["nodes"] if n["kind"] == "input"]
    assert [n["label"] for n in inputs] == ["x"]
    assert {c["path"] for c in g["clusters"]} >= {"conv1", "fc1"}
    from pellucid import debug
    json.loads(debug.graph_to_json(g))
    bundle = debug.graph.mimebundle(g)            # what notebooks and the widgets display
    assert bundle[debug.MIME_TYPE]["nodes"] == json.loads(debug.graph_to_json(g))["nodes"]
    assert "10 ops" in bundle["text/plain"]
    x = torch.randn(2, 1, 28, 28)
    g2 = traced.graph_json(x)
    assert g2["tensors"]["t0"]["shape"] == [2, 1, 28, 28]


def test_graph_of_a_traced_program_renders_with_graphviz():
    pytest.importorskip("graphviz")
    from pellucid import debug
    torch.manual_seed(0)
    g = jit.trace(MLP().eval(), torch.randn(2, 784)).graph_json()
    source = debug.to_dot(g).source
    assert "fc1" in source and "linear" in source


def test_recorder_sees_replayed_ops_in_their_modules():
    from pellucid import debug
    torch.manual_seed(0)
    outer = nn.Sequential(nn.Identity(), jit.trace(MLP().eval(), torch.randn(2, 784)))
    x = torch.randn(2, 784)
    with debug.record(model=outer) as rec:
        outer(x)
    modules = [s.module for s in rec.steps if s.phase == "forward"]
    assert modules == ["1", "1.fc1", "1", "1.fc2"]
    named = {k for s in rec.steps for k in s.inputs if k and k.startswith("param:")}
    assert "param:1.fc1.weight" in named
