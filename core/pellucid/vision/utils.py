"""make_grid and save_image, as in torchvision.utils."""
import math

import numpy as np

from .. import _backend
from .._tensor import Tensor

__all__ = ["make_grid", "save_image"]


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a batch of images (B, C, H, W) (or a list of (C, H, W) images) into one (C, H', W')
    image with `nrow` images per row, `padding` pixels between them."""
    if isinstance(tensor, (list, tuple)):
        arr = np.stack([_backend.to_numpy(t._data) for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = _backend.to_numpy(tensor.detach()._data)
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = np.concatenate([arr] * 3, 0) if arr.shape[0] == 1 else arr
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = np.concatenate([arr] * 3, 1)
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W), got {arr.shape}")
    if normalize:
        arr = arr.astype(np.float32) if arr.dtype.kind != "f" else arr.copy()

        def norm(a, low, high):
            np.clip(a, low, high, out=a)
            a -= low
            a /= max(high - low, 1e-5)
        if scale_each:
            for a in arr:
                norm(a, *(value_range or (float(a.min()), float(a.max()))))
        else:
            norm(arr, *(value_range or (float(arr.min()), float(arr.max()))))
    if arr.shape[0] == 1:
        return Tensor._make(np.ascontiguousarray(arr[0]))
    nmaps = arr.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = arr.shape[2] + padding, arr.shape[3] + padding
    grid = np.full((arr.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=arr.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = arr[k]
    return Tensor._make(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Write a batch (via make_grid) or a single image to an image file (needs Pillow)."""
    from .transforms.functional import _pil
    Image = _pil()
    grid = make_grid(tensor, **kwargs)._data
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(ndarr).save(fp, format=format)
