"""IPython magics: ``%register_image``, ``%list_images`` and ``%save_image`` (``%load_ext mai_widgets``
loads them all)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%register_image``, ``%list_images`` and ``%save_image`` (loading twice is harmless)."""
    from .register import load_ipython_extension as _load

    _load(ipython)
