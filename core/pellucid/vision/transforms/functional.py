"""Image transforms as functions, as in torchvision.transforms.functional (v1).

Every function takes a PIL image or a tensor image of shape (..., C, H, W) and returns the same
kind. PIL images go through Pillow, as torchvision does; tensors are transformed on their arrays
(NumPy or CuPy) with vectorised resampling that follows torch's interpolate / grid_sample maths.
These are data-preparation steps: apart from `normalize`, they work on the data and refuse
inputs that require grad, rather than silently cutting the graph.
"""
import math
import numbers
from enum import Enum

import numpy as np

from ... import _backend
from ... import _dtype as D
from ..._tensor import Tensor

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
           "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize", "resize",
           "pad", "crop", "center_crop", "resized_crop", "hflip", "vflip", "rotate", "rgb_to_grayscale",
           "to_grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue"]


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _interpolation_modes_from_int(i):
    return {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
            4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}[i]


def _as_mode(interpolation):
    if isinstance(interpolation, int) and not isinstance(interpolation, bool):
        return _interpolation_modes_from_int(interpolation)
    if isinstance(interpolation, InterpolationMode):
        return interpolation
    raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
                    f"constant, got {interpolation!r}")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "PIL images need Pillow, which is not installed: pip install 'pellucid[vision]' (or pip install "
            "pillow). Tensor images (C, H, W) work without it.") from None
    return Image


def _is_pil_image(img):
    try:
        from PIL import Image
    except ImportError:
        return False
    return isinstance(img, Image.Image)


def _pil_interp(mode):
    Image = _pil()
    R = Image.Resampling
    return {InterpolationMode.NEAREST: R.NEAREST, InterpolationMode.NEAREST_EXACT: R.NEAREST,
            InterpolationMode.BILINEAR: R.BILINEAR, InterpolationMode.BICUBIC: R.BICUBIC,
            InterpolationMode.BOX: R.BOX, InterpolationMode.HAMMING: R.HAMMING,
            InterpolationMode.LANCZOS: R.LANCZOS}[mode]


def _check_img(img, fn):
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise TypeError(f"{fn}: tensor image should be at least 2-dimensional (..., H, W), got shape "
                            f"{tuple(img.shape)}")
        if img.requires_grad:
            raise RuntimeError(f"{fn}: pellucid's image transforms work on tensor data and don't record "
                               "gradients; call .detach() on the image first")
        return True
    if _is_pil_image(img):
        return False
    raise TypeError(f"{fn}: img should be PIL Image or Tensor. Got {type(img)}")


def _wrap(arr):
    return Tensor._make(arr)


def _max_value(np_dtype):
    if np_dtype.kind == "f":
        return 1.0
    if np_dtype.kind == "b":
        return 1
    return int(np.iinfo(np_dtype).max)


# ---- information ---------------------------------------------------------------------------------

def get_dimensions(img):
    """[channels, height, width]."""
    if _check_img(img, "get_dimensions"):
        shape = img.shape
        return [1 if img.ndim == 2 else shape[-3], shape[-2], shape[-1]]
    w, h = img.size
    return [len(img.getbands()), h, w]


def get_image_size(img):
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


# ---- conversion ----------------------------------------------------------------------------------

def to_tensor(pic):
    """PIL image or HxW(xC) ndarray -> CxHxW tensor; uint8 data is scaled to [0, 1] in the
    default float dtype, other dtypes are kept as they are."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        arr = np.ascontiguousarray(pic.transpose(2, 0, 1))
    elif _is_pil_image(pic):
        mode_to_nptype = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}
        arr = np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = arr * np.uint8(255)
        arr = np.ascontiguousarray(arr.reshape(pic.size[1], pic.size[0], len(pic.getbands())).transpose(2, 0, 1))
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.dtype == np.uint8:
        dt = D.get_default_dtype().np
        return _wrap(arr.astype(dt) / dt.type(255))
    D.from_numpy_dtype(arr.dtype)
    return _wrap(arr)


def pil_to_tensor(pic):
    """PIL image -> CxHxW tensor of its own dtype, not rescaled."""
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return _wrap(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """CxHxW tensor or HxWxC ndarray -> PIL image. Float data is taken as [0, 1] and scaled to
    uint8 (truncating), unless mode='F'."""
    Image = _pil()
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = _backend.to_numpy(pic._data)
        if arr.ndim == 3:
            arr = arr.transpose(1, 2, 0)
        if arr.dtype.kind == "f" and mode != "F":
            arr = (arr * arr.dtype.type(255)).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        arr = pic
        if arr.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.uint16): "I;16",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {arr.dtype}. Should be {expected}")
        mode = expected
        if arr.dtype == np.int16:
            arr = arr.astype(np.uint16)     # Pillow stores 'I;16' as unsigned 16-bit
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {channels}D inputs")
        if mode is None and arr.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"Input type {arr.dtype} is not supported")
    arr = np.ascontiguousarray(arr)
    if Image.fromarray(arr[:1, :1]).mode == mode:
        return Image.fromarray(arr)     # (newer Pillow deprecates naming a mode it infers itself)
    return Image.fromarray(arr, mode=mode)


def convert_image_dtype(image, dtype=D.float32):
    """Convert a tensor image to `dtype`, rescaling values between integer ranges and [0, 1]."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    _check_img(image, "convert_image_dtype")
    dtype = D.as_dtype(dtype)
    src = image._data
    if image.dtype == dtype:
        return image
    xp = _backend.xp_of(src)
    target = dtype.np
    if src.dtype.kind == "f":
        if dtype.is_floating_point:
            return _wrap(src.astype(target))
        if (src.dtype == np.float32 and target in (np.int32, np.int64)) or \
                (src.dtype == np.float64 and target == np.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        eps = 1e-3
        max_val = float(_max_value(target))
        return _wrap((src * src.dtype.type(max_val + 1.0 - eps)).astype(target))
    input_max = float(_max_value(src.dtype))
    if dtype.is_floating_point:
        return _wrap(src.astype(target) / target.type(input_max))
    output_max = float(_max_value(target))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return _wrap(xp.floor_divide(src, factor).astype(target))
    factor = int((output_max + 1) // (input_max + 1))
    return _wrap(src.astype(target) * target.type(factor))


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel of a float tensor image (..., C, H, W)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                         f"{tuple(tensor.shape)}")
    xp = _backend.xp_of(tensor._data)
    dt = tensor._data.dtype
    mean_a = xp.asarray(_backend.to_numpy(mean._data) if isinstance(mean, Tensor) else mean, dtype=dt)
    std_a = xp.asarray(_backend.to_numpy(std._data) if isinstance(std, Tensor) else std, dtype=dt)
    if bool((std_a == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero.")
    if mean_a.ndim == 1:
        mean_a = mean_a.reshape(-1, 1, 1)
    if std_a.ndim == 1:
        std_a = std_a.reshape(-1, 1, 1)
    if tensor.requires_grad or (inplace and tensor.grad_fn is not None):
        # Keep the graph: go through pellucid's own (differentiable) ops.
        m, s = Tensor._make(mean_a), Tensor._make(std_a)
        return tensor.sub_(m).div_(s) if inplace else (tensor - m) / s
    if inplace:
        # Through the in-place ops so that the version counter moves, as autograd expects.
        return tensor.sub_(Tensor._make(mean_a)).div_(Tensor._make(std_a))
    return _wrap((tensor._data - mean_a) / std_a)


# ---- geometry --------------------------------------------------------------------------------------

def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        new_short, new_long = int(max_size * short / long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    if len(size) == 1:
        requested_new_short = size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None:
            if max_size <= requested_new_short:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the requested size for "
                                 f"the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    if max_size is not None:
        raise ValueError("max_size should only be passed if size specifies the length of the smaller edge, "
                         "i.e. size should be an int or a sequence of length 1 in torchscript mode.")
    return [size[0], size[1]]


def _filter(mode):
    """Resampling kernel and its support radius, as in torch's antialiased interpolation (which
    follows Pillow)."""
    if mode == "bilinear":
        return (lambda x: np.clip(1.0 - np.abs(x), 0.0, None)), 1.0
    a = -0.5

    def cubic(x):
        x = np.abs(x)
        return np.where(x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1,
                        np.where(x < 2.0, (((x - 5.0) * x + 8.0) * x - 4.0) * a, 0.0))
    return cubic, 2.0


def _aa_weights(in_size, out_size, mode):
    """(out, in) matrix of antialiased resampling weights (torch's _upsample_*_aa)."""
    scale = in_size / out_size
    kernel, support = _filter(mode)
    support = support * scale if scale >= 1.0 else support
    invscale = 1.0 / scale if scale >= 1.0 else 1.0
    center = scale * (np.arange(out_size) + 0.5)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum((center + support + 0.5).astype(np.int64), in_size)
    j = np.arange(in_size)
    w = kernel((j[None, :] - center[:, None] + 0.5) * invscale)
    w = np.where((j[None, :] >= xmin[:, None]) & (j[None, :] < xmax[:, None]), w, 0.0)
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total == 0, 1.0, total)


def _plain_weights(in_size, out_size, mode):
    """(out, in) matrix of torch's interpolate(align_corners=False) without antialiasing."""
    scale = in_size / out_size
    dst = np.arange(out_size)
    w = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    if mode == "bilinear":
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
        i1 = np.minimum(i0 + 1, in_size - 1)
        lam = src - i0
        np.add.at(w, (rows, i0), 1.0 - lam)
        np.add.at(w, (rows, i1), lam)
        return w
    a = -0.75           # torch's bicubic coefficient
    src = (dst + 0.5) * scale - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = src - i0

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    coeffs = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    for k, c in zip(range(-1, 3), coeffs):
        np.add.at(w, (rows, np.clip(i0 + k, 0, in_size - 1)), c)
    return w


def _resize_tensor(img, size, mode, antialias):
    arr = img._data
    xp = _backend.xp_of(arr)
    in_h, in_w = arr.shape[-2:]
    out_h, out_w = size
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        rows = np.minimum(np.floor((np.arange(out_h) + offset) * (in_h / out_h)).astype(np.int64), in_h - 1)
        cols = np.minimum(np.floor((np.arange(out_w) + offset) * (in_w / out_w)).astype(np.int64), in_w - 1)
        return _wrap(arr[..., xp.asarray(rows)[:, None], xp.asarray(cols)[None, :]])
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"resize: tensor images support nearest, nearest-exact, bilinear and bicubic "
                         f"interpolation, got {mode}")
    work = arr.dtype if arr.dtype.kind == "f" and arr.dtype != np.float16 else np.dtype(np.float32)
    make = _aa_weights if antialias else _plain_weights
    wh = xp.asarray(make(in_h, out_h, mode).astype(work))
    ww = xp.asarray(make(in_w, out_w, mode).astype(work))
    out = wh @ arr.astype(work, copy=False) @ ww.T
    if arr.dtype.kind != "f":
        if mode == "bicubic":
            out = xp.clip(out, 0, _max_value(arr.dtype))
        out = xp.round(out)
    return _wrap(out.astype(arr.dtype, copy=False))


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to `size`: (h, w), or an int for the smaller edge (keeping the aspect ratio)."""
    interpolation = _as_mode(interpolation)
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of the smaller edge, "
                             "i.e. size should be an int or a sequence of length 1 in torchscript mode.")
    elif size is not None and not isinstance(size, int):
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    is_tensor = _check_img(img, "resize")
    _, h, w = get_dimensions(img)
    if isinstance(size, int):
        size = [size]
    output_size = _compute_resized_output_size((h, w), size, max_size)
    if [h, w] == output_size:
        return img
    if not is_tensor:
        return img.resize(tuple(output_size[::-1]), _pil_interp(interpolation))
    return _resize_tensor(img, output_size, interpolation.value, antialias)


def _parse_padding(padding):
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        return [int(padding)] * 4
    if not isinstance(padding, (list, tuple)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) == 1:
        return [int(padding[0])] * 4
    if len(padding) == 2:
        return [int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])]
    if len(padding) == 4:
        return [int(p) for p in padding]
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")


def _pil_fill(fill, img, name="fill"):
    bands = len(img.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and bands > 1:
        fill = tuple([fill] * bands)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * bands
        if len(fill) != bands:
            raise ValueError(f"The number of elements in 'fill' does not match the number of bands of the image "
                             f"({len(fill)} != {bands})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(f) for f in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: `padding` is an int, (left/right, top/bottom) or (left, top, right,
    bottom); modes constant (with `fill`), edge, reflect and symmetric. Negative padding crops."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    is_tensor = _check_img(img, "pad")
    left, top, right, bottom = _parse_padding(padding)
    if not is_tensor:
        from PIL import ImageOps
        Image = _pil()
        if padding_mode == "constant" and min(left, top, right, bottom) >= 0:
            return ImageOps.expand(img, border=(left, top, right, bottom), **_pil_fill(fill, img))
        cl, ct, cr, cb = (max(-p, 0) for p in (left, top, right, bottom))
        if cl or ct or cr or cb:
            img = img.crop((cl, ct, img.width - cr, img.height - cb))
        left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
        mode = img.mode
        arr = np.asarray(img)
        widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
        if padding_mode == "constant":
            arr = np.pad(arr, widths, "constant", constant_values=0 if fill is None else fill)
        else:
            arr = np.pad(arr, widths, padding_mode)
        if mode == "P":
            out = Image.fromarray(arr, mode="P")
            out.putpalette(img.getpalette())      # np.asarray kept only the palette indices
            return out
        return Image.fromarray(arr)
    arr = img._data
    xp = _backend.xp_of(arr)
    h, w = arr.shape[-2:]
    arr = arr[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        fill = 0 if fill is None else fill
        if isinstance(fill, (list, tuple)) and len(fill) > 1:
            out = xp.empty(arr.shape[:-2] + (arr.shape[-2] + top + bottom, arr.shape[-1] + left + right), arr.dtype)
            out[...] = xp.asarray(fill, dtype=arr.dtype).reshape(-1, 1, 1)
            out[..., top:top + arr.shape[-2], left:left + arr.shape[-1]] = arr
            return _wrap(out)
        if isinstance(fill, (list, tuple)):
            fill = fill[0]
        return _wrap(xp.pad(arr, widths, "constant", constant_values=arr.dtype.type(fill)))
    if padding_mode == "reflect" and (max(top, bottom) >= arr.shape[-2] or max(left, right) >= arr.shape[-1]):
        raise RuntimeError(f"pad: padding size should be less than the corresponding input dimension for "
                           f"reflect padding, got padding {[left, top, right, bottom]} for an image of size "
                           f"{list(arr.shape[-2:])}")
    return _wrap(xp.pad(arr, widths, padding_mode))


def crop(img, top, left, height, width):
    """The region of size (height, width) at (top, left); parts outside the image are zero."""
    if not _check_img(img, "crop"):
        return img.crop((left, top, left + width, top + height))
    arr = img._data
    h, w = arr.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding_ltrb = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                        max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        inner = _wrap(arr[..., max(top, 0):bottom, max(left, 0):right])
        return pad(inner, padding_ltrb, fill=0)
    return _wrap(arr[..., top:bottom, left:right].copy())


def center_crop(img, output_size):
    """The central (h, w) region, zero-padded first if the image is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [(crop_width - image_width) // 2 if crop_width > image_width else 0,
                        (crop_height - image_height) // 2 if crop_height > image_height else 0,
                        (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
                        (crop_height - image_height + 1) // 2 if crop_height > image_height else 0]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


def hflip(img):
    """Mirror left-right."""
    if not _check_img(img, "hflip"):
        return img.transpose(_pil().Transpose.FLIP_LEFT_RIGHT)
    return _wrap(img._data[..., ::-1].copy())


def vflip(img):
    """Mirror top-bottom."""
    if not _check_img(img, "vflip"):
        return img.transpose(_pil().Transpose.FLIP_TOP_BOTTOM)
    return _wrap(img._data[..., ::-1, :].copy())


def _inverse_rotation_matrix(center, angle):
    # torchvision's _get_inverse_affine_matrix without translation, scale or shear.
    rot = math.radians(angle)
    cx, cy = center
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [d, -b, 0.0, -c, a, 0.0]
    m[2] += m[0] * -cx + m[1] * -cy
    m[5] += m[3] * -cx + m[4] * -cy
    m[2] += cx
    m[5] += cy
    return m


def _affine_output_size(matrix, w, h):
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    theta = np.array(matrix, dtype=np.float32).reshape(2, 3)
    new_pts = pts @ theta.T
    halfs = np.array([w * 0.5, h * 0.5], dtype=np.float32)
    min_vals, max_vals = new_pts.min(axis=0) + halfs, new_pts.max(axis=0) + halfs
    tol = 1e-4      # keep 1e-15 noise from rounding a size up
    cmax = np.ceil(np.trunc(max_vals / tol) * tol)
    cmin = np.floor(np.trunc(min_vals / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _grid_sample(arr, ix, iy, mode):
    """Sample (..., C, H, W) at float pixel positions (ix, iy) of shape (oh, ow) with zero
    padding, as grid_sample(align_corners=False) does; also returns the in-bounds mask."""
    xp = _backend.xp_of(arr)
    h, w = arr.shape[-2:]
    if mode == "nearest":
        jx, jy = xp.rint(ix).astype(np.int64), xp.rint(iy).astype(np.int64)
        valid = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)
        out = arr[..., xp.clip(jy, 0, h - 1), xp.clip(jx, 0, w - 1)] * valid.astype(arr.dtype)
        return out, valid.astype(arr.dtype)
    x0, y0 = xp.floor(ix), xp.floor(iy)
    out = 0
    mask = 0
    for dx in (0, 1):
        for dy in (0, 1):
            xs, ys = x0 + dx, y0 + dy
            wgt = ((1 - xp.abs(ix - xs)) * (1 - xp.abs(iy - ys))).astype(arr.dtype)
            valid = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
            wgt = wgt * valid
            xi = xp.clip(xs, 0, w - 1).astype(np.int64)
            yi = xp.clip(ys, 0, h - 1).astype(np.int64)
            out = out + arr[..., yi, xi] * wgt
            mask = mask + wgt
    return out, mask


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by `angle` degrees about `center` (default: the image centre)."""
    interpolation = _as_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    if not _check_img(img, "rotate"):
        return img.rotate(angle, _pil_interp(interpolation), expand, center, **_pil_fill(fill, img, "fillcolor"))
    if interpolation.value not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: tensor images support nearest and bilinear interpolation, got "
                         f"{interpolation.value}")
    arr = img._data
    xp = _backend.xp_of(arr)
    h, w = arr.shape[-2:]
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h])]
    matrix = _inverse_rotation_matrix(center_f, -angle)
    ow, oh = _affine_output_size(matrix, w, h) if expand else (w, h)
    work = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    # Output pixel centres relative to the output centre, mapped back into the input.
    xo = xp.asarray(np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=work))[None, :]
    yo = xp.asarray(np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=work))[:, None]
    m = [work.type(v) for v in matrix]
    ix = m[0] * xo + m[1] * yo + m[2] + work.type(w * 0.5 - 0.5)
    iy = m[3] * xo + m[4] * yo + m[5] + work.type(h * 0.5 - 0.5)
    out, mask = _grid_sample(arr.astype(work, copy=False), ix, iy, interpolation.value)
    if fill is not None:
        fill_list = list(fill) if isinstance(fill, (list, tuple)) else [float(fill)]
        fill_arr = xp.asarray(fill_list, dtype=work).reshape(len(fill_list), 1, 1)
        if interpolation.value == "nearest":
            out = xp.where(mask < 0.5, fill_arr, out)
        else:
            out = out * mask + (1.0 - mask) * fill_arr
    if arr.dtype.kind != "f":
        out = xp.round(out)
    return _wrap(xp.ascontiguousarray(out.astype(arr.dtype, copy=False)))


# ---- colour ------------------------------------------------------------------------------------------

def rgb_to_grayscale(img, num_output_channels=1):
    """ITU-R 601-2 luma (L = 0.2989 R + 0.587 G + 0.114 B), 1 or 3 output channels."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if not _check_img(img, "rgb_to_grayscale"):
        return to_grayscale(img, num_output_channels)
    arr = img._data
    xp = _backend.xp_of(arr)
    c = arr.shape[-3] if arr.ndim >= 3 else 1
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are [1, 3], but found {c}")
    if c == 3:
        work = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        r, g, b = (arr[..., i, :, :].astype(work, copy=False) for i in range(3))
        gray = (work.type(0.2989) * r + work.type(0.587) * g + work.type(0.114) * b).astype(arr.dtype)[..., None, :, :]
    else:
        gray = arr.copy()
    if num_output_channels == 3:
        gray = xp.ascontiguousarray(xp.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:]))
    return _wrap(gray)


def to_grayscale(img, num_output_channels=1):
    """A PIL image in grey levels ('L', or 'RGB' with three equal channels)."""
    Image = _pil()
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        np_img = np.array(img.convert("L"), dtype=np.uint8)
        return Image.fromarray(np.dstack([np_img, np_img, np_img]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def _blend(arr, other, ratio):
    xp = _backend.xp_of(arr)
    bound = _max_value(arr.dtype)
    work = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    out = work.type(ratio) * arr.astype(work, copy=False) + work.type(1.0 - ratio) * other
    return xp.clip(out, 0, bound).astype(arr.dtype)


def _check_factor(name, factor):
    if factor < 0:
        raise ValueError(f"{name}_factor ({factor}) is not non-negative.")


def adjust_brightness(img, brightness_factor):
    _check_factor("brightness", brightness_factor)
    if not _check_img(img, "adjust_brightness"):
        from PIL import ImageEnhance
        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    return _wrap(_blend(img._data, 0, brightness_factor))


def adjust_contrast(img, contrast_factor):
    _check_factor("contrast", contrast_factor)
    if not _check_img(img, "adjust_contrast"):
        from PIL import ImageEnhance
        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    arr = img._data
    work = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    src = rgb_to_grayscale(img)._data if get_dimensions(img)[0] == 3 else arr
    mean = src.astype(work).mean(axis=(-3, -2, -1), keepdims=True)
    return _wrap(_blend(arr, mean, contrast_factor))


def adjust_saturation(img, saturation_factor):
    _check_factor("saturation", saturation_factor)
    if not _check_img(img, "adjust_saturation"):
        from PIL import ImageEnhance
        return ImageEnhance.Color(img).enhance(saturation_factor)
    if get_dimensions(img)[0] == 1:
        return img
    return _wrap(_blend(img._data, rgb_to_grayscale(img)._data, saturation_factor))


def _rgb2hsv(img, xp):
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = xp.ones_like(maxc)
    s = cr / xp.where(eqc, ones, maxc)
    cr_divisor = xp.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / cr_divisor, (maxc - g) / cr_divisor, (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return xp.stack((h, s, maxc), axis=-3)


def _hsv2rgb(img, xp):
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = [xp.zeros_like(v) for _ in range(3)]
    for k, (rr, gg, bb) in enumerate(choices):
        sel = i == k
        out[0] = xp.where(sel, rr, out[0])
        out[1] = xp.where(sel, gg, out[1])
        out[2] = xp.where(sel, bb, out[2])
    return xp.stack(out, axis=-3)


def adjust_hue(img, hue_factor):
    """Shift the hue by `hue_factor` (in [-0.5, 0.5]) of a full turn."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if not _check_img(img, "adjust_hue"):
        Image = _pil()
        input_mode = img.mode
        if input_mode in {"L", "1", "I", "F"}:
            return img
        h, s, v = img.convert("HSV").split()
        np_h = np.array(h, dtype=np.uint8)
        np_h += np.array(hue_factor * 255).astype(np.int32).astype(np.uint8)    # wraps around, as hue should
        return Image.merge("HSV", (Image.fromarray(np_h, "L"), s, v)).convert(input_mode)
    if get_dimensions(img)[0] == 1:
        return img
    orig = img.dtype
    work = convert_image_dtype(img, D.float32)._data
    xp = _backend.xp_of(work)
    hsv = _rgb2hsv(work, xp)
    hsv[..., 0, :, :] = xp.mod(hsv[..., 0, :, :] + np.float32(hue_factor), np.float32(1.0))
    return convert_image_dtype(_wrap(_hsv2rgb(hsv, xp)), orig)
