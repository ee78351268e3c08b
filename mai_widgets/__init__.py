"""mai-widgets: register custom images with Huawei Cloud ModelArts from JupyterLab.

The package is cut by layer, each importing only the ones below it:

- ``errors`` and ``wire``: typed errors and the wire format;
- ``transport``: deadlines, the one HTTP layer, the signer;
- ``auth``: configuration, credentials, IAM sign-in;
- ``services``: images, SWR, preflight checks, generated code;
- ``kernel``: work off the kernel's main thread, the registration controller;
- ``widgets`` and ``magics``: what a notebook shows;
- ``emulator``: the local ModelArts.

Everything a user imports is named here and loaded on first use, so ``import mai_widgets``
stays as fast as the core: no ipywidgets, IPython or requests until a name needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .services import preflight
    from .services.images import ImageClient
    from .services.swr import SwrClient
    from .widgets.browser import ImageBrowser
    from .widgets.panel import RegisterPanel
    from .widgets.status import StatusView
    from .widgets.workbench import Workbench

# name -> (module, attribute); an empty attribute means the module itself
_PUBLIC: dict[str, tuple[str, str]] = {
    "ImageClient": (".services.images", "ImageClient"),
    "SwrClient": (".services.swr", "SwrClient"),
    "preflight": (".services.preflight", ""),
    "RegisterPanel": (".widgets.panel", "RegisterPanel"),
    "StatusView": (".widgets.status", "StatusView"),
    "ImageBrowser": (".widgets.browser", "ImageBrowser"),
    "Workbench": (".widgets.workbench", "Workbench"),
}

__all__ = [
    "ImageBrowser",
    "ImageClient",
    "RegisterPanel",
    "StatusView",
    "SwrClient",
    "Workbench",
    "__version__",
    "load_ipython_extension",
    "preflight",
]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'mai_widgets' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    return getattr(module, attribute) if attribute else module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mai_widgets``: registers ``%register_image``, ``%list_images`` and ``%save_image``."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mai-widgets"}]
