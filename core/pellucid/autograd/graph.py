"""`pellucid.autograd.graph`: the node type behind `tensor.grad_fn`."""
from .._dispatch import Node, AccumulateGrad  # noqa: F401
