"""Computer-vision helpers, as in torchvision: `datasets` (MNIST, FashionMNIST), `transforms` and
`utils` (make_grid, save_image). PIL images need the optional Pillow dependency
(pip install 'pellucid[vision]')."""
from . import datasets, transforms, utils  # noqa: F401

__all__ = ["datasets", "transforms", "utils"]
