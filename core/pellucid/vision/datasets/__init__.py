"""Datasets, as in torchvision.datasets."""
from .vision import VisionDataset, StandardTransform  # noqa: F401
from .mnist import MNIST, FashionMNIST  # noqa: F401

__all__ = ["VisionDataset", "StandardTransform", "MNIST", "FashionMNIST"]
