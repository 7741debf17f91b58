"""Test-session settings. BLAS threads are pinned to one per process: the suite runs one pytest
worker per core, and OpenBLAS threads competing for the same cores slow GEMMs down by 100x or more."""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))     # shared helpers such as _parity

try:  # numpy may already be loaded by a plugin; then limit its BLAS pool at run time
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:
    pass

import torch  # noqa: E402

torch.set_num_threads(1)

import pytest  # noqa: E402


def _cuda_available():
    import pellucid
    return pellucid.cuda.is_available()


CUDA_AVAILABLE = _cuda_available()
requires_cuda = pytest.mark.skipif(not CUDA_AVAILABLE, reason="no GPU available")
# parametrize a test over devices: "cpu" always, "cuda" only where pellucid.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=requires_cuda)]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device name a test runs on: "cpu", and "cuda" when a GPU is available (else skipped)."""
    return request.param
