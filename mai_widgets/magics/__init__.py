"""IPython magics: ``%register_image``, ``%register_images`` and ``%list_images``
(``%load_ext mai_widgets`` loads them all)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%register_image``, ``%register_images`` and ``%list_images`` (loading twice is
    harmless)."""
    from .register import load_ipython_extension as _load
    from .register_images import load_register_images

    _load(ipython)
    load_register_images(ipython)
