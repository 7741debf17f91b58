"""pellucid.Tensor: a NumPy or CuPy array with autograd metadata.

Ops live in `ops/` (one family per file) and are attached to Tensor there; this file holds
what a tensor *is*: its data, its place in the graph, conversions and autograd entry points.
"""
import numpy as np

from . import _backend, _dispatch
from . import _dtype as D
from ._grad_mode import state as _gm
from ._size import Size

_FROM_NP = D._FROM_NP


class Tensor:
    # Class-level defaults keep tensor creation to one or two attribute stores.
    _requires_grad = False
    grad = None
    grad_fn = None
    _output_nr = 0
    _version = None          # [int], shared by views; created lazily
    _base = None
    _accum = None
    _hooks = None
    _post_accumulate_hooks = None
    _retains_grad = False
    _name = None
    __array_priority__ = 1000     # make NumPy defer to our reflected operators

    def __init__(self, *args, device=None):
        """Legacy constructor: `Tensor([1, 2])` (float32 data) or `Tensor(2, 3)` (uninitialised)."""
        from .ops import _creation
        if len(args) == 1 and not isinstance(args[0], int):
            src = args[0]
            t = _creation.tensor(src, dtype=D.get_default_dtype() if not isinstance(src, Tensor) else None,
                                 device=device)
            self._data = t._data
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            dev, np_dtype = _backend.as_device(device), D.get_default_dtype().np
            _backend.check_dtype_on(np_dtype, dev, "Tensor")
            self._data = _backend.xp_for(dev).empty(tuple(shape), dtype=np_dtype)

    @classmethod
    def _make(cls, data):
        t = object.__new__(Tensor)
        t._data = data
        return t

    # ---- identity -----------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return _FROM_NP[self._data.dtype]

    @property
    def device(self):
        return _backend.device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return type(self._data) is np.ndarray

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self):
        if type(self._data) is np.ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def untyped_storage(self):
        return self._data.base if self._data.base is not None else self._data

    def is_floating_point(self):
        return self._data.dtype.kind in D.FLOAT_KINDS

    def is_complex(self):
        return False

    @property
    def is_leaf(self):
        return self.grad_fn is None or not self._requires_grad

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in D.FLOAT_KINDS:
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def is_inference(self):
        # tensors are not marked by inference_mode (that would cost every op a check)
        return False

    @property
    def names(self):
        return (None,) * self._data.ndim

    @property
    def name(self):
        """An optional label shown by pellucid's graph views."""
        return self._name

    @name.setter
    def name(self, value):
        self._name = None if value is None else str(value)

    def __hash__(self):
        return id(self)

    # ---- data access ----------------------------------------------------------------------
    @property
    def data(self):
        t = Tensor._make(self._data)
        if self._version is None:
            self._version = [0]
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data

    def numpy(self, *, force=False):
        if force:
            _no_numpy_bfloat16(self._data)
            return _backend.to_numpy(self._data.copy() if self._requires_grad else self._data)
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        _no_numpy_bfloat16(self._data)
        if type(self._data) is not np.ndarray:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                "the tensor to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        _no_numpy_bfloat16(self._data)
        a = _backend.to_numpy(self._data)
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item() if type(self._data) is np.ndarray else self._data.item()

    def tolist(self):
        return _backend.to_numpy(self._data).tolist()

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {list(self._data.shape)})")
        return bool(self._data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __dlpack__(self, stream=None, **kw):
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        if stream is None:
            return self._data.__dlpack__(**kw)
        return self._data.__dlpack__(stream=stream, **kw)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment. If you were attempting to deepcopy a module, "
                               "this may be because of a torch.nn.utils.weight_norm usage.")
        done = memo.get(id(self))
        if done is not None:
            return done
        import copy
        new = Tensor._make(self._data.copy())
        new._requires_grad = self._requires_grad
        new._name = self._name
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        return new

    def __reduce_ex__(self, protocol):
        raise TypeError(
            "pellucid tensors are not pickled (unpickling can run code). Use pellucid.save / "
            "pellucid.load, which store arrays and JSON only.")

    # ---- conversion -------------------------------------------------------------------
    def to(self, *args, **kwargs):
        from .ops import _conversion
        return _conversion.to(self, *args, **kwargs)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        dev = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
        return self.to(dev, non_blocking=non_blocking)

    def float(self):
        return self.to(D.float32)

    def double(self):
        return self.to(D.float64)

    def half(self):
        return self.to(D.float16)

    def bfloat16(self):
        return self.to(D.bfloat16)

    def long(self):
        return self.to(D.int64)

    def int(self):
        return self.to(D.int32)

    def short(self):
        return self.to(D.int16)

    def char(self):
        return self.to(D.int8)

    def byte(self):
        return self.to(D.uint8)

    def bool(self):
        return self.to(D.bool_)

    def type(self, dtype=None):
        if dtype is None:
            return "pellucid." + {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                                  "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                                  "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
                                  "bool": "BoolTensor"}[self.dtype.name]
        return self.to(D.as_dtype(dtype))

    def type_as(self, other):
        return self.to(other.dtype)

    # ---- autograd -------------------------------------------------------------------------
    def _accumulator(self):
        acc = self._accum
        if acc is None:
            acc = self._accum = _dispatch.AccumulateGrad(self)
        return acc

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def detach(self):
        t = Tensor._make(self._data)
        if self._version is None:
            self._version = [0]
        t._version = self._version
        return t

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep `.grad` of a non-leaf tensor (a no-op on leaves). The gradient is stored after
        every hook registered on the tensor has run, as in PyTorch."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)      # the node must not keep its output alive

        def _retain(g):
            t = ref()
            if t is None:
                return
            if not isinstance(g, Tensor):
                g = Tensor._make(g)
            if t.grad is None:
                # under create_graph the stored gradient stays differentiable, like PyTorch's
                t.grad = g.clone() if g._requires_grad else Tensor._make(g._data.copy())
            else:
                t.grad = t.grad + g
        self._retains_grad = True
        node = self.grad_fn
        if node.retains is None:
            node.retains = {}
        node.retains[self._output_nr] = _retain

    @property
    def retains_grad(self):
        return self._retains_grad

    def _add_node_hook(self, fn):
        node = self.grad_fn
        if node.hooks is None:
            node.hooks = {}
        lst = node.hooks.setdefault(self._output_nr, [])
        lst.append(fn)
        return lst

    def register_hook(self, hook):
        """`hook(grad)` runs when the gradient w.r.t. this tensor is computed (once, with the
        summed gradient); it may return a replacement. Returns a removable handle."""
        from .utils.hooks import RemovableHandle
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return RemovableHandle(self._hooks, hook)
        lst = self._add_node_hook(hook)
        return RemovableHandle(lst, hook)

    def register_post_accumulate_grad_hook(self, hook):
        from .utils.hooks import RemovableHandle
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return RemovableHandle(self._post_accumulate_hooks, hook)

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def _version_count(self):
        return 0 if self._version is None else self._version[0]

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __str__(self):
        return self.__repr__()


def _no_numpy_bfloat16(data):
    """PyTorch refuses to hand bfloat16 data to NumPy (which has no bfloat16): so does pellucid,
    whose NumPy arrays would carry ml_dtypes' extension dtype that most NumPy code can't use."""
    if data.dtype is D.BF16:
        raise TypeError("Got unsupported ScalarType BFloat16 (NumPy has no bfloat16: convert with "
                        ".float() first, e.g. tensor.float().numpy())")


def _wrap_dim(dim, ndim, op="op"):
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


_dispatch.Tensor = Tensor
