"""IPython magics: ``%register_image`` and ``%list_images`` (``%load_ext mai_widgets`` loads both)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%register_image`` and ``%list_images`` (loading twice is harmless)."""
    from .register import load_ipython_extension as _load

    _load(ipython)
