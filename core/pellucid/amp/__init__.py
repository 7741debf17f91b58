"""`pellucid.amp`: automatic mixed precision, autocast and GradScaler (PyTorch's `torch.amp`)."""
from .autocast_mode import (autocast, custom_bwd, custom_fwd, get_autocast_dtype,  # noqa: F401
                            is_autocast_available, is_autocast_enabled)
from .grad_scaler import GradScaler, OptState  # noqa: F401

__all__ = ["autocast", "custom_fwd", "custom_bwd", "GradScaler", "OptState", "is_autocast_available",
           "is_autocast_enabled", "get_autocast_dtype"]
