"""pellucid: a PyTorch-compatible deep-learning framework you can see through.

`import pellucid as torch` runs ordinary PyTorch programs on NumPy (CPU) or CuPy (GPU).
"""
__version__ = "0.1.0"

from ._dtype import (dtype, get_default_dtype, set_default_dtype, promote_types,  # noqa: F401
                     result_type as _result_type)
from ._dtype import (bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16,  # noqa: F401
                     float32, float64)
from ._dtype import float16 as half, float32 as float, float64 as double  # noqa: F401
from ._dtype import int16 as short, int32 as int, int64 as long  # noqa: F401
from ._backend import device  # noqa: F401
from ._size import Size  # noqa: F401
from ._tensor import Tensor  # noqa: F401
from ._grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,  # noqa: F401
                         is_grad_enabled, is_inference_mode_enabled)
from ._random import (Generator, manual_seed, seed, initial_seed, get_rng_state,  # noqa: F401
                      set_rng_state, default_generator)
from ._tensor_str import set_printoptions, get_printoptions, printoptions  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import range_ as range  # noqa: F401
from . import accelerator, autograd, cuda, ops  # noqa: F401
from .ops import _conversion as _conv

FloatTensor = DoubleTensor = LongTensor = None  # replaced below by typed constructors


def _typed(dt):
    def make(*args, **kw):
        if len(args) == 1 and not isinstance(args[0], builtins_int):
            return tensor(args[0], dtype=dt, **kw)  # noqa: F405
        return zeros(*args, dtype=dt, **kw)  # noqa: F405
    return make


import builtins as _builtins  # noqa: E402
builtins_int = _builtins.int
FloatTensor = _typed(float32)
DoubleTensor = _typed(float64)
LongTensor = _typed(int64)
IntTensor = _typed(int32)
BoolTensor = _typed(bool)
ByteTensor = _typed(uint8)
HalfTensor = _typed(float16)
BFloat16Tensor = _typed(bfloat16)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def can_cast(from_, to):
    if from_.category > to.category:
        return False
    return True


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _builtins.bool(input.item() != 0)
from . import optim  # noqa: E402,F401
from . import utils  # noqa: E402,F401
from .serialization import save, load  # noqa: E402,F401
from . import linalg  # noqa: F401,E402
from ._finfo import finfo, iinfo  # noqa: E402,F401
from . import amp  # noqa: E402,F401
from .amp import autocast, is_autocast_enabled, get_autocast_dtype  # noqa: E402,F401
from .cuda import OutOfMemoryError  # noqa: E402,F401
from . import jit, onnx  # noqa: E402,F401
from . import nn, distributed  # noqa: E402,F401
from . import backends, compiler, special  # noqa: E402,F401
from .compiler import compile  # noqa: E402,F401
from .backends import (set_float32_matmul_precision, get_float32_matmul_precision,  # noqa: E402,F401
                       use_deterministic_algorithms, are_deterministic_algorithms_enabled,
                       is_deterministic_algorithms_warn_only_enabled)
from .nn.functional import pdist  # noqa: E402,F401
