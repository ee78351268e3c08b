"""IPython magics: ``%register_image``, ``%register_images``, ``%list_images`` and ``%save_image``
(``%load_ext mai_widgets`` loads them all)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register the four magics (loading twice is harmless)."""
    from .list_images import load_list_images
    from .register import load_register_image
    from .register_images import load_register_images
    from .save_image import load_save_image

    for load in (load_register_image, load_register_images, load_list_images, load_save_image):
        load(ipython)
