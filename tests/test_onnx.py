"""pellucid.onnx.export: the exported models pass onnx.checker and ONNX Runtime (CPU) matches
pellucid's outputs, at the traced batch size and at another one through dynamic_axes."""
import io
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import pellucid as torch  # noqa: E402
import pellucid.nn as nn  # noqa: E402
import pellucid.nn.functional as F  # noqa: E402
from pellucid.onnx import UnsupportedOperatorError, OnnxExporterError  # noqa: E402

from test_jit import MLP, ConvNet, BNNet, LSTMClassifier, Encoder  # noqa: E402


def _export(model, args, **kw):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # clean models export without TracerWarnings
        proto = torch.onnx.export(model, args, buf, **kw)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    return proto, ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _expected(model, args):
    with torch.no_grad():
        out = model(*args)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in out]


def _check(sess, model, names, args, rtol=1e-4, atol=1e-5):
    got = sess.run(None, {n: a.numpy() for n, a in zip(names, args)})
    for g, e in zip(got, _expected(model, args)):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def _trained_bn_net():
    torch.manual_seed(0)
    model = BNNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(2):           # a couple of training steps: running statistics and weights move
        x = torch.randn(8, 1, 12, 12) * 2 + 1
        loss = model(x).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


CASES = {
    # name: (model factory, example batch, batch-size axis, other batch, input maker)
    "mlp": (lambda: MLP(), lambda n: torch.randn(n, 784), 0),
    "convnet": (lambda: ConvNet(), lambda n: torch.randn(n, 1, 28, 28), 0),
    "bn_dropout_cnn": (_trained_bn_net, lambda n: torch.randn(n, 1, 12, 12), 0),
    "embedding_lstm": (lambda: LSTMClassifier(), lambda n: torch.randint(0, 50, (n, 6)), 0),
    "transformer": (lambda: Encoder(), lambda n: torch.randn(5, n, 16), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_models_match_onnx_runtime_with_dynamic_batch(name):
    make, inputs, axis = CASES[name]
    torch.manual_seed(1)
    model = make()
    was_training = model.training
    x = inputs(3)
    proto, sess = _export(model, (x,), input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {axis: "batch"}, "logits": {axis: "batch"}})
    assert model.training == was_training         # export ran it in eval mode and restored the mode
    model.eval()
    _check(sess, model, ["input"], (x,))
    _check(sess, model, ["input"], (inputs(5),))     # another batch size through the dynamic axis
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[axis].dim_param == "batch"
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.output[0].type.tensor_type.shape.dim[axis].dim_param == "batch"


def test_fixed_shapes_without_dynamic_axes():
    torch.manual_seed(0)
    model = ConvNet().eval()
    x = torch.randn(2, 1, 28, 28)
    proto, sess = _export(model, x)
    assert [i.name for i in proto.graph.input] == ["x"]          # named after forward's argument
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 1, 28, 28]
    _check(sess, model, ["x"], (x,))
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "Gemm", "Relu"} <= ops
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    assert conv.name.startswith("/conv1/")                      # nodes named after their module
    assert {i.name for i in proto.graph.initializer} >= {"conv1.weight", "fc2.bias"}


def test_batchnorm_and_dropout_become_inference_ops():
    model = _trained_bn_net().train()
    proto, _ = _export(model, torch.randn(2, 1, 12, 12))
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 2
    assert "Dropout" not in ops and "GlobalAveragePool" in ops
    assert model.training


def test_lstm_and_attention_are_made_of_their_parts():
    torch.manual_seed(0)
    proto, _ = _export(LSTMClassifier().eval(), torch.randint(0, 50, (2, 4)),
                       dynamic_axes={"ids": {0: "batch"}})
    ops = {n.op_type for n in proto.graph.node}
    assert {"Gather", "Sigmoid", "Tanh", "Split", "ConstantOfShape"} <= ops      # zero state follows the batch
    proto, _ = _export(Encoder().eval(), torch.randn(4, 2, 16))
    ops = [n.op_type for n in proto.graph.node]
    assert {"MatMul", "Softmax", "LayerNormalization", "Transpose"} <= set(ops)


class Recurrent(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        if isinstance(self.layer, nn.MultiheadAttention):
            return self.layer(x, x, x)
        out, h = self.layer(x)
        return out, (h[0] if isinstance(h, tuple) else h)


@pytest.mark.parametrize("make", [
    lambda: nn.GRU(5, 7, num_layers=2, bidirectional=True), lambda: nn.RNN(5, 7, nonlinearity="relu"),
    lambda: nn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3), lambda: nn.MultiheadAttention(6, 2)],
    ids=["gru", "rnn", "lstm_proj", "mha"])
def test_recurrent_layers_and_attention_with_dynamic_batch(make):
    torch.manual_seed(0)
    model = Recurrent(make()).eval()
    features = 6 if isinstance(model.layer, nn.MultiheadAttention) else 5
    x = torch.randn(4, 3, features)
    _, sess = _export(model, x, dynamic_axes={"x": {1: "batch"}})
    _check(sess, model, ["x"], (x,))
    _check(sess, model, ["x"], (torch.randn(4, 2, features),))


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.prelu = nn.PReLU(8)
        self.gn = nn.GroupNorm(2, 8)

    def forward(self, x):
        outs = [F.elu(x), F.selu(x), F.celu(x, 0.7), F.leaky_relu(x, 0.2), F.gelu(x), F.gelu(x, approximate="tanh"),
                F.hardsigmoid(x), F.hardswish(x), F.softplus(x), F.softplus(x, beta=2.0), F.silu(x), F.mish(x),
                torch.sigmoid(x), torch.tanh(x), F.softmax(x, -1), F.log_softmax(x, 1), self.ln(x), F.relu6(x),
                F.hardtanh(x, -0.5, 0.5), F.logsigmoid(x), F.softsign(x), F.tanhshrink(x), F.hardshrink(x, 0.3),
                F.softshrink(x, 0.3), F.threshold(x, 0.1, 20.0), self.prelu(x), F.glu(x, -1).repeat(1, 2),
                self.gn(x.unsqueeze(-1)).squeeze(-1)]
        return torch.stack(outs, 1)


@pytest.mark.parametrize("opset", [17, 20])
def test_activations_and_normalisations(opset):
    torch.manual_seed(0)
    model = Activations().eval()
    x = torch.randn(4, 8) * 2
    proto, sess = _export(model, x, opset_version=opset, dynamic_axes={"x": {0: "n"}})
    _check(sess, model, ["x"], (x,))
    _check(sess, model, ["x"], (torch.randn(2, 8),))
    assert ("Gelu" in {n.op_type for n in proto.graph.node}) == (opset >= 20)
    assert proto.opset_import[0].version == opset


class Assorted(nn.Module):
    """Arithmetic, reductions, shape ops, indexing, padding and a transposed convolution."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
        self.w = nn.Parameter(torch.randn(4, 5))

    def forward(self, x, ids, img):
        a = (x ** 2 + x.exp() - x.abs().sqrt() * 2) / (1 + x.abs())
        b = a.mean(1, keepdim=True) + a.sum(-1, keepdim=True) - a.amax(1, keepdim=True)
        c = torch.cat([a, b.expand(-1, 4)], 1).transpose(0, 1).reshape(-1)
        e = self.emb(ids).sum(1) @ self.w
        f = torch.where(x > 0, x, torch.zeros_like(x)).cumsum(1)
        g = F.avg_pool2d(self.up(img), 2)
        h = x[:, 1:3] * x[:, None, 0].squeeze(1).unsqueeze(-1)
        i = x.max(1)[1].float() + x.argmin(1).float() + x.std(1) + x.var(1, unbiased=False) + \
            torch.linalg.vector_norm(x, dim=1)
        j = F.pad(img, (1, 2, 0, 1), value=0.5).flatten(1)[:, ::7] + \
            F.pad(img, (1, 1, 1, 1), mode="reflect").mean((2, 3)).sum(1, keepdim=True)
        k = x.clamp(-0.5, 0.5) + x.clamp(min=0.1) + torch.maximum(x, x.flip(1)) + (x % 0.3) + x.floor() + x.round()
        m = x.masked_fill(x < 0, 3.0).log1p() + (x > 0.2).float() + ((x > 0) & (x < 1)).float() + \
            x.tril() @ x.t().triu()[:, :4] + x[:, torch.tensor([3, 0, 1, 1])]
        return c, e, f, g, h, i, j, k, m


def test_assorted_ops_with_several_inputs_and_outputs():
    torch.manual_seed(0)
    model = Assorted().eval()
    names = ["x", "ids", "img"]

    def inputs(n):
        return torch.randn(n, 4), torch.randint(0, 10, (n, 3)), torch.randn(n, 3, 5, 5)
    proto, sess = _export(model, inputs(4), input_names=names, dynamic_axes={k: {0: "batch"} for k in names})
    assert len(proto.graph.output) == 9
    _check(sess, model, names, inputs(4))
    _check(sess, model, names, inputs(6))


class Folded(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 3))

    def forward(self, x):
        return x @ self.w.t().relu()


def test_constant_folding_and_export_params():
    torch.manual_seed(0)
    model = Folded()
    x = torch.randn(2, 3)
    proto, sess = _export(model, x)
    assert [n.op_type for n in proto.graph.node] == ["MatMul"]     # w.t().relu() computed once
    _check(sess, model, ["x"], (x,))
    proto, sess = _export(model, x, do_constant_folding=False)
    assert [n.op_type for n in proto.graph.node] == ["Transpose", "Relu", "MatMul"]
    _check(sess, model, ["x"], (x,))
    proto, sess = _export(model, x, export_params=False)
    assert [i.name for i in proto.graph.input] == ["x", "w"] and not proto.graph.initializer
    got = sess.run(None, {"x": x.numpy(), "w": model.w.detach().numpy()})[0]
    np.testing.assert_allclose(got, _expected(model, (x,))[0], rtol=1e-5, atol=1e-6)


def test_in_place_ops_export_as_values():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            w = self.w * 2
            a = x * w            # reads w before it changes
            w.add_(1)            # in place on a value computed from parameters (folded)
            y = (x * a).view(-1)
            y.relu_()            # in place on a view whose base is not read again
            return a + x * w, y
    torch.manual_seed(0)
    model = M()
    x = torch.randn(2, 3)
    for fold in (True, False):
        _, sess = _export(model, x, do_constant_folding=fold)
        _check(sess, model, ["x"], (x,))


def test_in_place_write_through_a_view_is_refused():
    class M(nn.Module):
        def forward(self, x):
            y = x * 2
            y[:, 0].add_(1)       # changes y through a view; y is read afterwards
            return y.sum(1)
    x = torch.ones(2, 3)
    np.testing.assert_allclose(torch.jit.trace(M(), x)(x).numpy(), [7.0, 7.0])    # the replay keeps the aliasing
    with pytest.raises(OnnxExporterError, match=r"op 'add_' changes a tensor in place while another tensor"):
        torch.onnx.export(M(), x, io.BytesIO())


def test_export_to_a_path_and_verbose(tmp_path, capsys):
    torch.manual_seed(0)
    path = tmp_path / "mlp.onnx"
    torch.onnx.export(MLP().eval(), torch.randn(2, 784), path, verbose=True)
    printed = capsys.readouterr().out
    assert "Gemm" in printed and "fc1.weight: float32[128, 784]" in printed
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.producer_name == "pellucid"


def test_loaded_traced_program_exports_to_onnx(tmp_path):
    torch.manual_seed(0)
    model = ConvNet().eval()
    x = torch.randn(2, 1, 28, 28)
    torch.jit.trace(model, x).save(tmp_path / "convnet.pt")
    loaded = torch.jit.load(tmp_path / "convnet.pt")      # no model class needed from here on
    proto, sess = _export(loaded, x)
    assert [i.name for i in proto.graph.input] == ["x"]
    _check(sess, model, ["x"], (x,))
    with pytest.raises(OnnxExporterError, match="specialised to the shapes"):
        torch.onnx.export(loaded, x, io.BytesIO(), dynamic_axes={"x": {0: "batch"}})


class Head(nn.Module):
    def forward(self, x):
        return x.cumprod(1)


def test_unmapped_op_names_the_op_and_module():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), Head()))
    with pytest.raises(UnsupportedOperatorError, match=r"op 'cumprod' \(module '1\.1'\) has no ONNX mapping"):
        torch.onnx.export(model, torch.randn(2, 3), io.BytesIO())


def test_unsupported_op_variant_names_the_op_and_module():
    class Masked(nn.Module):
        def forward(self, x):
            return x[x > 0]
    with pytest.raises(UnsupportedOperatorError, match=r"op 'index' \(top level\): .*boolean mask"):
        torch.onnx.export(Masked(), torch.randn(2, 3), io.BytesIO())


def test_dynamic_axis_that_changes_the_graph_is_refused():
    class PerRow(nn.Module):
        def forward(self, x):
            return torch.stack([row * 2 for row in x])       # one op per row: unrolled over the batch
    with pytest.raises(OnnxExporterError, match="runs different ops when dynamic axis 'batch' changes size"):
        torch.onnx.export(PerRow(), torch.randn(3, 2), io.BytesIO(), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(OnnxExporterError, match="dynamic axis 'seq'.*unrolled"):
        torch.onnx.export(Recurrent(nn.GRU(3, 4)), torch.randn(5, 2, 3), io.BytesIO(), dynamic_axes={"x": {0: "seq"}})
    proto, sess = _export(PerRow(), torch.randn(3, 2))       # fine without the dynamic axis
    x = torch.randn(3, 2)
    _check(sess, PerRow(), ["x"], (x,))


def test_argument_checks():
    model = MLP()
    x = torch.randn(2, 784)
    with pytest.raises(ValueError, match="dynamic_axes names 'nope'"):
        torch.onnx.export(model, x, io.BytesIO(), dynamic_axes={"nope": {0: "b"}})
    with pytest.raises(ValueError, match="opset_version"):
        torch.onnx.export(model, x, io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="2 input_names given for 1 tensor inputs"):
        torch.onnx.export(model, x, io.BytesIO(), input_names=["a", "b"])
    assert not torch.onnx.is_in_onnx_export()
    assert "linear" in torch.onnx.supported_ops()
