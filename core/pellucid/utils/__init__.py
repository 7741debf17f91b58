"""Utilities: hooks' handles and data loading (`pellucid.utils.data`)."""
from . import hooks, data  # noqa: F401

__all__ = ["hooks", "data"]
