"""`pellucid.nn.parallel`: data parallelism across processes."""
from .distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
