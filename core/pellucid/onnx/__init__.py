"""`pellucid.onnx`: export models to ONNX, with PyTorch's `torch.onnx.export` signature.

    pellucid.onnx.export(model, x, "model.onnx", input_names=["x"], output_names=["logits"],
                         dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})

The model is traced in eval mode and each pellucid op is written as ONNX ops (Gemm/MatMul, Conv,
pooling, normalisation layers, activations, softmax, shape ops, reductions, embedding lookups;
LSTM/GRU and attention as the ops they are made of). The file passes `onnx.checker.check_model`
and runs in ONNX Runtime. The `onnx` package is imported only when exporting.
"""
from ._export import export, is_in_onnx_export, OnnxExporterError, UnsupportedOperatorError


def supported_ops():
    """Names of the pellucid ops that have an ONNX mapping."""
    from ._symbolic import MAPPINGS
    return sorted(MAPPINGS)


class TrainingMode:
    """PyTorch's torch.onnx.TrainingMode; pellucid exports in EVAL mode only."""
    EVAL = "EVAL"
    PRESERVE = "PRESERVE"
    TRAINING = "TRAINING"


__all__ = ["export", "is_in_onnx_export", "OnnxExporterError", "UnsupportedOperatorError", "supported_ops",
           "TrainingMode"]
