import pytest
import torch

import pellucid


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_matches_torch(name):
    p, t = pellucid.finfo(getattr(pellucid, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(p, attr) == getattr(t, attr), attr
    assert repr(p) == repr(t)
    assert pellucid.finfo().eps == torch.finfo().eps


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    p, t = pellucid.iinfo(getattr(pellucid, name)), torch.iinfo(getattr(torch, name))
    assert (p.bits, p.min, p.max) == (t.bits, t.min, t.max)


def test_wrong_kinds_are_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        pellucid.finfo(pellucid.int32)
    with pytest.raises(TypeError, match="integer"):
        pellucid.iinfo(pellucid.float32)
