"""Random number generators. A `Generator` wraps NumPy's PCG64 (on cuda, a CuPy generator seeded
from it), so a seed gives a reproducible stream; `manual_seed` reseeds the default one."""
import json

import numpy as np

from . import _backend

DEFAULT_SEED = 67280421310721


class Generator:
    def __init__(self, device="cpu"):
        self.device = _backend.as_device(device)
        self._seed = DEFAULT_SEED
        self._np = np.random.Generator(np.random.PCG64(self._seed))
        self._cp = None

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed = seed & 0xFFFFFFFFFFFFFFFF
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        self._cp = None
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor. On cuda the device stream is reseeded from the host
        state at the next draw, so restoring this state reproduces what follows."""
        from ._tensor import Tensor
        self._cp = None
        blob = json.dumps({"seed": self._seed, "state": self._np.bit_generator.state}).encode()
        return Tensor._make(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, state):
        blob = bytes(np.asarray(state._data if hasattr(state, "_data") else state, dtype=np.uint8))
        try:
            d = json.loads(blob.decode())
            self._seed = d["seed"]
            bg = np.random.PCG64()
            bg.state = d["state"]
        except Exception as e:
            raise RuntimeError(f"Generator.set_state: not a state produced by get_state ({e})") from None
        self._np = np.random.Generator(bg)
        self._cp = None
        return self

    def xp_rng(self, xp):
        """The underlying generator for an array module (NumPy or CuPy)."""
        if xp is np:
            return self._np
        if self._cp is None:
            # seeded from the host stream, so the host state determines the device stream
            self._cp = xp.random.default_rng(int(self._np.integers(0, 1 << 63)))
        return self._cp


default_generator = Generator()
_cuda_generators = {}


def manual_seed(seed):
    default_generator.manual_seed(seed)
    for g in _cuda_generators.values():
        g.manual_seed(seed)
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def rng_for(device, generator=None):
    """(array module, random generator) for sampling on `device`."""
    if generator is not None:
        if not isinstance(generator, Generator):
            raise TypeError(f"generator must be a pellucid.Generator, not {type(generator).__name__}")
        want = "cpu" if device is None else device.type
        if generator.device.type != want:
            raise RuntimeError(f"Expected a '{want}' device type for generator but found "
                               f"'{generator.device.type}'")
    if device is None or device.type == "cpu":
        g = generator or default_generator
        return np, g._np
    xp = _backend.cupy()
    if generator is None:
        idx = device.index or 0
        generator = _cuda_generators.get(idx)
        if generator is None:
            generator = _cuda_generators[idx] = Generator(f"cuda:{idx}")
            generator.manual_seed(default_generator.initial_seed())
    return xp, generator.xp_rng(xp)
